#pragma once

// Collects the blocks of a document as an extractor finds them, and keeps the limits on text.
#include "knowledge/document.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge::documents {

/// An Error of extract_document: kind invalid, errcode one of document_errors.
Error document_error(std::string_view code, std::string message);

/// "32 Mo", "12 Ko", "500 octets": a limit as the messages give it.
std::string size_in_words(std::uint64_t bytes);

/// The error of a document with more text than limits.max_text_bytes.
Error too_much_text(const DocumentLimits& limits);

/// Where a list item stands: its depth, and its number when its list is numbered.
struct ListItemMark {
    int depth = 1;
    bool numbered = false;
    int number = 0;
};

/// Numbers the items of nested lists as a tree walk meets them (HTML, Markdown).
class ListNumbering {
public:
    void open(bool numbered, int start) { lists_.push_back({numbered, start - 1}); }
    void close()
    {
        if (!lists_.empty())
            lists_.pop_back();
    }
    /// The next item of the innermost list; `value` renumbers it (HTML's <li value>).
    ListItemMark next(std::optional<int> value = std::nullopt);

private:
    struct List {
        bool numbered = false;
        int counter = 0;
    };
    std::vector<List> lists_;
};

/// Builds a Document block by block: cleans each text, drops empty blocks, records the page and
/// the section in force, caps tables and stops at the text budget (failed() then says so).
class DocumentBuilder {
public:
    DocumentBuilder(DocumentFormat format, const DocumentLimits& limits);

    /// A PDF page: the section in force carries over.
    void start_page(int page);
    /// A slide: its title, given as a heading, becomes the section.
    void start_slide(int slide);
    void set_in_notes(bool in_notes) { in_notes_ = in_notes; }

    void heading(std::string_view raw, int level);
    void paragraph(std::string_view raw);
    void list_item(std::string_view raw, int depth, bool numbered, int number);
    void list_item(std::string_view raw, const ListItemMark& mark)
    {
        list_item(raw, mark.depth, mark.numbered, mark.number);
    }
    /// Resets the row count that max_table_rows caps.
    void begin_table();
    /// A row of raw cell texts; dropped past the limits (with one warning per table).
    void table_row(const std::vector<std::string>& raw_cells);
    void warn(std::string message);

    /// Past the text budget: the extractor stops, and finish() returns the error.
    bool failed() const { return failed_; }
    const Document& document() const { return document_; }
    void set_title(std::string_view raw);

    Result<Document> finish() &&;

private:
    bool accept(std::size_t bytes);
    Block& add(Block::Kind kind, std::string text);

    Document document_;
    const DocumentLimits& limits_;
    std::string section_;
    int page_ = 0;
    bool in_notes_ = false;
    bool failed_ = false;
    std::size_t text_bytes_ = 0;
    std::size_t table_rows_ = 0;
    bool table_warned_ = false;
};

} // namespace opalebot::knowledge::documents
