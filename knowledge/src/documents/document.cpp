#include "knowledge/document.hpp"

#include <algorithm>
#include <string>

#include "document_builder.hpp"
#include "extractors.hpp"
#include "zip_archive.hpp"

namespace opalebot::knowledge {
namespace {

using namespace std::string_view_literals;
using documents::document_error;

std::string lowered_extension(std::string_view file_name)
{
    const auto dot = file_name.rfind('.');
    const auto slash = file_name.find_last_of("/\\");
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return {};
    std::string extension{file_name.substr(dot + 1)};
    std::transform(extension.begin(), extension.end(), extension.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return extension;
}

Error unsupported(std::string what)
{
    return document_error(document_errors::unsupported,
                          "format non pris en charge : " + what +
                              " (formats lus : PDF, ODT, ODP, DOCX, PPTX, HTML, Markdown, texte)");
}

Error not_what_it_says(std::string_view file_name, std::string_view format)
{
    return document_error(document_errors::malformed,
                          "fichier endommagé : « " + std::string{file_name} + " » n'est pas un " +
                              std::string{format} + " lisible");
}

/// An ODF or OOXML document, told apart by its entries rather than by its name.
Result<Document> extract_zip(std::string_view bytes, std::string_view file_name,
                             const DocumentLimits& limits)
{
    auto opened = documents::ZipArchive::open(bytes, limits);
    if (!opened)
        return opened.error();
    auto& archive = opened.value();
    if (auto mimetype = archive.read("mimetype"); mimetype) {
        const std::string_view type = mimetype.value();
        if (type.starts_with("application/vnd.oasis.opendocument.text"))
            return documents::extract_odf(archive, DocumentFormat::odt, limits);
        if (type.starts_with("application/vnd.oasis.opendocument.presentation"))
            return documents::extract_odf(archive, DocumentFormat::odp, limits);
        return unsupported("document OpenDocument « " + std::string{type.substr(0, 80)} +
                           " » (un tableur ou un dessin ?)");
    } else if (mimetype.error().kind != Error::Kind::not_found) {
        return mimetype.error();
    }
    if (archive.contains("word/document.xml"))
        return documents::extract_docx(archive, limits);
    if (archive.contains("ppt/presentation.xml"))
        return documents::extract_pptx(archive, limits);
    if (archive.contains("xl/workbook.xml"))
        return unsupported("classeur Excel");
    const auto extension = lowered_extension(file_name);
    if (extension == "odt" || extension == "odp" || extension == "docx" || extension == "pptx")
        return not_what_it_says(file_name, extension);
    return unsupported("archive zip");
}

bool has_nul(std::string_view bytes)
{
    return bytes.substr(0, 8192).find('\0') != std::string_view::npos;
}

} // namespace

std::optional<DocumentFormat> format_from_name(std::string_view file_name)
{
    const auto extension = lowered_extension(file_name);
    if (extension == "pdf")
        return DocumentFormat::pdf;
    if (extension == "odt")
        return DocumentFormat::odt;
    if (extension == "odp")
        return DocumentFormat::odp;
    if (extension == "docx")
        return DocumentFormat::docx;
    if (extension == "pptx")
        return DocumentFormat::pptx;
    if (extension == "html" || extension == "htm" || extension == "xhtml")
        return DocumentFormat::html;
    if (extension == "md" || extension == "markdown")
        return DocumentFormat::markdown;
    if (extension == "txt" || extension == "text")
        return DocumentFormat::text;
    return std::nullopt;
}

Result<Document> extract_document(std::string_view bytes, std::string_view file_name,
                                  const DocumentLimits& limits)
{
    if (bytes.size() > limits.max_file_bytes)
        return document_error(
            document_errors::too_large,
            "fichier trop volumineux : " + documents::size_in_words(bytes.size()) + " (au plus " +
                documents::size_in_words(limits.max_file_bytes) + ")");
    // The content decides when it can: a PDF or a zip named .txt is still one.
    if (bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos)
        return documents::extract_pdf(bytes, limits);
    if (bytes.starts_with("PK\x03\x04"sv))
        return extract_zip(bytes, file_name, limits);
    const auto format = format_from_name(file_name);
    if (bytes.starts_with("\xD0\xCF\x11\xE0"sv)) { // OLE: legacy Office, or encrypted OOXML
        if (format == DocumentFormat::docx || format == DocumentFormat::pptx)
            return document_error(document_errors::encrypted,
                                  "document Office chiffré ou protégé par un mot de passe : "
                                  "enregistrez-le sans mot de passe");
        return unsupported("ancien format Office (.doc, .ppt, .xls) ; enregistrez-le en .docx, "
                           ".pptx ou PDF");
    }
    if (!format)
        return unsupported("extension de « " + std::string{file_name} + " » inconnue");
    switch (*format) {
    case DocumentFormat::pdf:
        return not_what_it_says(file_name, "PDF");
    case DocumentFormat::odt:
    case DocumentFormat::odp:
    case DocumentFormat::docx:
    case DocumentFormat::pptx:
        return not_what_it_says(file_name, lowered_extension(file_name));
    case DocumentFormat::html:
    case DocumentFormat::markdown:
    case DocumentFormat::text:
        break;
    }
    if (has_nul(bytes))
        return unsupported("fichier binaire nommé « " + std::string{file_name} + " »");
    if (bytes.starts_with("{\\rtf"))
        return unsupported("RTF ; enregistrez-le en .docx ou PDF");
    if (*format == DocumentFormat::html)
        return documents::extract_html(bytes, limits);
    if (*format == DocumentFormat::markdown)
        return documents::extract_markdown(bytes, limits);
    return documents::extract_text(bytes, limits);
}

} // namespace opalebot::knowledge
