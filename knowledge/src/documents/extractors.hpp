#pragma once

// One reader per family of formats; extract_document (document.cpp) picks one.
#include "knowledge/document.hpp"

#include <string_view>

namespace opalebot::knowledge::documents {

class ZipArchive;

Result<Document> extract_pdf(std::string_view bytes, const DocumentLimits& limits);
/// ODT or ODP (format says which), from content.xml and the list styles of styles.xml.
Result<Document> extract_odf(ZipArchive& archive, DocumentFormat format,
                             const DocumentLimits& limits);
Result<Document> extract_docx(ZipArchive& archive, const DocumentLimits& limits);
Result<Document> extract_pptx(ZipArchive& archive, const DocumentLimits& limits);
Result<Document> extract_html(std::string_view bytes, const DocumentLimits& limits);
Result<Document> extract_markdown(std::string_view bytes, const DocumentLimits& limits);
Result<Document> extract_text(std::string_view bytes, const DocumentLimits& limits);

} // namespace opalebot::knowledge::documents
