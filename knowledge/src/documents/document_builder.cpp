#include "document_builder.hpp"

#include <algorithm>
#include <utility>

#include "document_text.hpp"

namespace opalebot::knowledge::documents {

Error document_error(std::string_view code, std::string message)
{
    Error error;
    error.kind = Error::Kind::invalid;
    error.errcode = std::string{code};
    error.message = std::move(message);
    return error;
}

std::string size_in_words(std::uint64_t bytes)
{
    if (bytes >= (1U << 20U))
        return std::to_string(bytes >> 20U) + " Mo";
    if (bytes >= (1U << 10U))
        return std::to_string(bytes >> 10U) + " Ko";
    return std::to_string(bytes) + " octets";
}

Error too_much_text(const DocumentLimits& limits)
{
    return document_error(document_errors::too_much_text,
                          "document trop long : plus de " + size_in_words(limits.max_text_bytes) +
                              " de texte ; découpez-le en plusieurs fichiers");
}

ListItemMark ListNumbering::next(std::optional<int> value)
{
    if (lists_.empty())
        return {}; // an item outside any list: a bullet
    List& list = lists_.back();
    list.counter = value.value_or(list.counter + 1);
    return {static_cast<int>(lists_.size()), list.numbered, list.numbered ? list.counter : 0};
}

DocumentBuilder::DocumentBuilder(DocumentFormat format, const DocumentLimits& limits)
    : limits_(limits)
{
    document_.format = format;
}

void DocumentBuilder::start_page(int page)
{
    page_ = page;
    document_.page_count = std::max(document_.page_count, page);
}

void DocumentBuilder::start_slide(int slide)
{
    start_page(slide);
    section_.clear(); // a slide without a title does not take the previous one's
    in_notes_ = false;
}

bool DocumentBuilder::accept(std::size_t bytes)
{
    if (failed_)
        return false;
    text_bytes_ += bytes;
    if (text_bytes_ > limits_.max_text_bytes)
        failed_ = true;
    return !failed_;
}

Block& DocumentBuilder::add(Block::Kind kind, std::string text)
{
    Block& block = document_.blocks.emplace_back();
    block.kind = kind;
    block.text = std::move(text);
    block.page = page_;
    block.in_notes = in_notes_;
    block.section = section_;
    return block;
}

void DocumentBuilder::heading(std::string_view raw, int level)
{
    auto text = clean_line(raw);
    if (text.empty() || !accept(text.size()))
        return;
    section_ = text;
    if (document_.title.empty())
        document_.title = text;
    add(Block::Kind::heading, std::move(text)).level = std::clamp(level, 1, 6);
}

void DocumentBuilder::paragraph(std::string_view raw)
{
    auto text = clean_line(raw);
    if (!text.empty() && accept(text.size()))
        add(Block::Kind::paragraph, std::move(text));
}

void DocumentBuilder::list_item(std::string_view raw, int depth, bool numbered, int number)
{
    auto text = clean_line(raw);
    if (text.empty() || !accept(text.size()))
        return;
    Block& block = add(Block::Kind::list_item, std::move(text));
    block.level = std::max(depth, 1);
    block.numbered = numbered;
    block.number = numbered ? number : 0;
}

void DocumentBuilder::begin_table()
{
    table_rows_ = 0;
    table_warned_ = false;
}

void DocumentBuilder::table_row(const std::vector<std::string>& raw_cells)
{
    if (failed_)
        return;
    if (table_rows_ >= limits_.max_table_rows || raw_cells.size() > limits_.max_row_cells) {
        if (!table_warned_)
            warn("tableau trop grand : seules les " + std::to_string(limits_.max_table_rows) +
                 " premières lignes et les " + std::to_string(limits_.max_row_cells) +
                 " premières colonnes sont lues");
        table_warned_ = true;
        if (table_rows_ >= limits_.max_table_rows)
            return;
    }
    std::vector<std::string> cells;
    const std::size_t kept = std::min(raw_cells.size(), limits_.max_row_cells);
    cells.reserve(kept);
    std::string text;
    bool any = false;
    for (std::size_t i = 0; i < kept; ++i) {
        cells.push_back(clean_line(raw_cells[i]));
        if (cells.back().empty())
            continue; // kept in `cells` for the columns, left out of the line
        if (any)
            text += " | ";
        text += cells.back();
        any = true;
    }
    if (!any || !accept(text.size() * 2))
        return;
    ++table_rows_;
    add(Block::Kind::table_row, std::move(text)).cells = std::move(cells);
}

void DocumentBuilder::warn(std::string message)
{
    if (document_.warnings.size() < 100) // a warning per table of a huge file would be a flood
        document_.warnings.push_back(std::move(message));
}

void DocumentBuilder::set_title(std::string_view raw)
{
    if (auto title = clean_line(raw); !title.empty())
        document_.title = std::move(title);
}

Result<Document> DocumentBuilder::finish() &&
{
    if (failed_)
        return too_much_text(limits_);
    return std::move(document_);
}

} // namespace opalebot::knowledge::documents
