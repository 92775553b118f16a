#pragma once

// The académie's own pas-à-pas documents (issue 18): a PDF, an ODF or OOXML file, an HTML,
// Markdown or text file read into an ordered list of blocks, in-process and within limits.
#include "opalebot/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// The formats extract_document reads.
enum class DocumentFormat { pdf, odt, odp, docx, pptx, html, markdown, text };

/// What extract_document accepts; past a limit it returns a French error, never a crash or an
/// unbounded allocation (issue 18: zip bombs, deep XML, huge tables).
struct DocumentLimits {
    std::size_t max_file_bytes = 64U << 20U;
    int max_pages = 2'000; ///< PDF pages, or slides
    std::size_t max_zip_entries = 10'000;
    std::uint64_t max_unzipped_bytes = 256U << 20U; ///< the zip entries read, all together
    std::uint64_t max_compression_ratio = 200;      ///< for an entry of more than 1 MiB
    std::size_t max_xml_depth = 256;
    std::size_t max_table_rows = 2'000; ///< per table; the rows past it are dropped, with a warning
    std::size_t max_row_cells = 64;     ///< per row; same
    std::size_t max_text_bytes = 32U << 20U; ///< text extracted, all blocks together
};

/// One block of a document, in reading order.
struct Block {
    enum class Kind { heading, paragraph, list_item, table_row };
    Kind kind = Kind::paragraph;
    std::string text;               ///< one line, spaces collapsed; a row's cells joined by " | "
    std::vector<std::string> cells; ///< table_row only
    int level = 0;         ///< heading: 1 (top) to 6; list_item: its depth, 1 for an outer list
    bool numbered = false; ///< list_item of a numbered list (steps) rather than bullets
    int number = 0;        ///< list_item: its number when numbered, else 0
    int page = 0;          ///< PDF page or slide, from 1; 0 for formats without pages
    bool in_notes = false; ///< from a slide's speaker notes
    std::string section;   ///< the heading in force (a slide's title); empty before the first
};

/// A document as extract_document reads it.
struct Document {
    DocumentFormat format = DocumentFormat::text;
    std::string title;  ///< the file's own title (PDF) or its first heading; may be empty
    int page_count = 0; ///< PDF pages or slides; 0 for other formats
    std::vector<Block> blocks;
    std::vector<std::string> warnings; ///< French: what was left out (rows past the limit, …)
};

/// Error::errcode values of extract_document, for callers that react to a kind of failure.
namespace document_errors {
inline constexpr std::string_view too_large = "document_too_large";
inline constexpr std::string_view too_many_pages = "document_too_many_pages";
inline constexpr std::string_view unsupported = "document_unsupported";
inline constexpr std::string_view malformed = "document_malformed";
inline constexpr std::string_view encrypted = "document_encrypted";
inline constexpr std::string_view pdf_without_text = "document_pdf_without_text";
inline constexpr std::string_view zip_bomb = "document_zip_bomb";
inline constexpr std::string_view too_deep = "document_too_deep";
inline constexpr std::string_view too_much_text = "document_too_much_text";
} // namespace document_errors

/// The format named by a file name's extension (case-insensitive), or nullopt.
std::optional<DocumentFormat> format_from_name(std::string_view file_name);

/// Reads a document whose format is taken from its content (PDF, zip) and its file name's
/// extension. Errors are French sentences (Error::message) with an errcode of document_errors.
[[nodiscard]] Result<Document> extract_document(std::string_view bytes, std::string_view file_name,
                                                const DocumentLimits& limits = {});

} // namespace opalebot::knowledge
