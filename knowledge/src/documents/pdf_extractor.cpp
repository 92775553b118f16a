// PDF, through poppler-cpp: the words of each page in reading order (poppler's text flows, so a
// two-column page reads column by column), gathered into lines, then into headings (by font
// size), list items (by their marker) and paragraphs (by the space between lines).
#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "document_text.hpp"
#include "extractors.hpp"
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

namespace opalebot::knowledge::documents {
namespace {

struct Line {
    std::string text;
    double size = 0; ///< the height of its tallest word: the font size, give or take a ratio
    double left = 0;
    double top = 0;
    double bottom = 0;
    double right = 0;
};

struct Page {
    int number = 0;
    std::vector<Line> lines;
};

/// poppler writes its complaints about a damaged file to stderr; the caller gets an Error.
void silence_poppler()
{
    static std::once_flag once;
    std::call_once(
        once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

bool is_digits(std::string_view s)
{
    return !s.empty() && s.size() <= 4 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// "12", "Page 3", "page 3 sur 12", "3 / 12", "- 4 -": a page number, not content.
bool is_page_number(std::string_view text)
{
    if (text.starts_with("- ") && text.ends_with(" -") && text.size() > 4)
        text = text.substr(2, text.size() - 4);
    if (text.starts_with("Page ") || text.starts_with("page "))
        text.remove_prefix(5);
    for (const std::string_view separator : {" sur ", " / ", "/"})
        if (const auto at = text.find(separator); at != std::string_view::npos)
            return is_digits(text.substr(0, at)) && is_digits(text.substr(at + separator.size()));
    return is_digits(text);
}

/// Appends a word's UTF-16 as UTF-8. poppler's own ustring::to_utf8 opens an iconv converter
/// for every call: a tenth of a page's time when done for every word.
void append_utf8(std::string& out, const poppler::ustring& text)
{
    for (std::size_t i = 0; i < text.size(); ++i) {
        char32_t c = text[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 &&
            text[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10U) + (text[i + 1] - 0xDC00U);
            ++i;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD; // a lone surrogate: no character
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6U));
            out += static_cast<char>(0x80 | (c & 0x3FU));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12U));
            out += static_cast<char>(0x80 | ((c >> 6U) & 0x3FU));
            out += static_cast<char>(0x80 | (c & 0x3FU));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18U));
            out += static_cast<char>(0x80 | ((c >> 12U) & 0x3FU));
            out += static_cast<char>(0x80 | ((c >> 6U) & 0x3FU));
            out += static_cast<char>(0x80 | (c & 0x3FU));
        }
    }
}

std::vector<Line> page_lines(const poppler::page& page)
{
    std::vector<Line> lines;
    // Without text_list_include_font: looking the fonts up costs a third of the page's time,
    // and a word's height says its size as well for telling headings from body text.
    const auto boxes = page.text_list();
    Line line;
    bool open = false;
    bool space_after = false;
    for (const auto& box : boxes) {
        const auto word = box.text();
        if (word.empty())
            continue;
        const auto bounds = box.bbox();
        const double middle = (bounds.top() + bounds.bottom()) / 2;
        const double height = std::max(bounds.height(), 1.0);
        // Same line: the word sits at the line's height and to the right of its end.
        const bool same_line = open && middle > line.top && middle < line.bottom &&
                               bounds.left() >= line.right - height;
        if (!same_line) {
            if (open)
                lines.push_back(std::move(line));
            line = Line{};
            line.left = bounds.left();
            line.top = bounds.top();
            line.bottom = bounds.bottom();
            open = true;
        } else if (space_after) {
            line.text += ' ';
        }
        append_utf8(line.text, word);
        line.right = bounds.right();
        line.top = std::min(line.top, bounds.top());
        line.bottom = std::max(line.bottom, bounds.bottom());
        line.size = std::max(line.size, height);
        space_after = box.has_space_after();
    }
    if (open)
        lines.push_back(std::move(line));
    // Page numbers at the top or the bottom of the page are furniture, not text.
    const auto frame = page.page_rect();
    const double band = frame.height() * 0.1;
    std::erase_if(lines, [&](const Line& l) {
        return (l.bottom < frame.top() + band || l.top > frame.bottom() - band) &&
               is_page_number(l.text);
    });
    return lines;
}

/// Heading levels by size: the body's size is the one most text is set in; each larger
/// size, from the largest, is a level.
class HeadingSizes {
public:
    explicit HeadingSizes(const std::vector<Page>& pages)
    {
        std::map<long, std::size_t> characters_by_size;
        for (const auto& page : pages)
            for (const auto& line : page.lines)
                characters_by_size[key(line.size)] += line.text.size();
        long body = 0;
        std::size_t most = 0;
        for (const auto& [size, characters] : characters_by_size)
            if (characters > most) {
                most = characters;
                body = size;
            }
        for (auto it = characters_by_size.rbegin(); it != characters_by_size.rend(); ++it)
            if (static_cast<double>(it->first) >= static_cast<double>(body) * 1.15 + 1)
                larger_.push_back(it->first);
    }

    /// 0 for body text.
    int level(const Line& line) const
    {
        if (line.text.size() > 200)
            return 0;
        const auto it = std::find(larger_.begin(), larger_.end(), key(line.size));
        return it == larger_.end() ? 0 : std::min(static_cast<int>(it - larger_.begin()) + 1, 6);
    }

private:
    static long key(double size) { return std::lround(size * 2); } // half points

    std::vector<long> larger_;
};

/// Gathers a page's lines into blocks.
class PageReader {
public:
    PageReader(DocumentBuilder& builder, const HeadingSizes& headings)
        : builder_(builder), headings_(headings)
    {}

    void read(const std::vector<Line>& lines)
    {
        list_lefts_.clear();
        const Line* previous = nullptr;
        for (const auto& line : lines) {
            add(line, previous);
            previous = &line;
        }
        flush();
    }

private:
    enum class Open { nothing, heading, paragraph, item };

    void add(const Line& line, const Line* previous)
    {
        const double height = previous ? std::max(previous->bottom - previous->top, 1.0) : 1.0;
        // a column or a frame read after another starts higher up the page
        const bool apart = previous == nullptr || line.top - previous->bottom > height * 0.5 ||
                           line.top < previous->top - 1;
        if (const int level = headings_.level(line); level > 0) {
            if (open_ == Open::heading && level == level_ && !apart) {
                append(line.text);
                return;
            }
            flush();
            open_ = Open::heading;
            level_ = level;
            text_ = line.text;
            list_lefts_.clear();
            return;
        }
        if (const auto marker = line_marker(line.text)) {
            flush();
            open_ = Open::item;
            numbered_ = marker->numbered;
            number_ = marker->number;
            item_left_ = line.left;
            depth_ = depth_at(line.left);
            text_.assign(line.text, marker->text_start);
            return;
        }
        // A wrapped item's lines are indented past its marker; a paragraph after it is not.
        const bool continues = !apart && (open_ == Open::paragraph ||
                                          (open_ == Open::item && line.left > item_left_ + 2));
        if (continues) {
            append(line.text);
            return;
        }
        flush();
        if (line.left <= item_left_ + 2)
            list_lefts_.clear();
        open_ = Open::paragraph;
        text_ = line.text;
    }

    int depth_at(double left)
    {
        while (!list_lefts_.empty() && list_lefts_.back() > left + 3)
            list_lefts_.pop_back();
        if (list_lefts_.empty() || list_lefts_.back() < left - 3)
            list_lefts_.push_back(left);
        return static_cast<int>(list_lefts_.size());
    }

    void append(const std::string& text)
    {
        text_ += ' ';
        text_ += text;
    }

    void flush()
    {
        switch (open_) {
        case Open::heading:
            builder_.heading(text_, level_);
            break;
        case Open::paragraph:
            builder_.paragraph(text_);
            break;
        case Open::item:
            builder_.list_item(text_, depth_, numbered_, number_);
            break;
        case Open::nothing:
            break;
        }
        open_ = Open::nothing;
        text_.clear();
    }

    DocumentBuilder& builder_;
    const HeadingSizes& headings_;
    Open open_ = Open::nothing;
    std::string text_;
    int level_ = 0;
    bool numbered_ = false;
    int number_ = 0;
    int depth_ = 1;
    double item_left_ = -1e9;
    std::vector<double> list_lefts_;
};

} // namespace

Result<Document> extract_pdf(std::string_view bytes, const DocumentLimits& limits)
{
    silence_poppler();
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return document_error(document_errors::too_large, "PDF trop volumineux");
    const std::unique_ptr<poppler::document> pdf{
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size()))};
    if (!pdf)
        return document_error(document_errors::malformed,
                              "fichier endommagé : PDF illisible ; enregistrez-le à nouveau "
                              "depuis le logiciel qui l'a produit");
    if (pdf->is_locked())
        return document_error(document_errors::encrypted,
                              "PDF protégé par un mot de passe : fournissez-le sans mot de passe");
    const int page_count = pdf->pages();
    if (page_count > limits.max_pages)
        return document_error(document_errors::too_many_pages,
                              "PDF trop long : " + std::to_string(page_count) + " pages (au plus " +
                                  std::to_string(limits.max_pages) + ")");

    std::vector<Page> pages;
    pages.reserve(static_cast<std::size_t>(std::max(page_count, 0)));
    std::size_t text_bytes = 0;
    std::vector<int> without_text;
    for (int index = 0; index < page_count; ++index) {
        const std::unique_ptr<poppler::page> page{pdf->create_page(index)};
        Page& read = pages.emplace_back();
        read.number = index + 1;
        if (page)
            read.lines = page_lines(*page);
        if (read.lines.empty())
            without_text.push_back(read.number);
        for (const auto& line : read.lines)
            text_bytes += line.text.size();
        if (text_bytes > limits.max_text_bytes)
            return too_much_text(limits);
    }
    if (text_bytes == 0)
        return document_error(document_errors::pdf_without_text,
                              "PDF sans texte (numérisé) : fournissez le PDF d'origine");

    DocumentBuilder builder{DocumentFormat::pdf, limits};
    builder.start_page(page_count); // page_count counts the pages without text too
    const HeadingSizes headings{pages};
    PageReader reader{builder, headings};
    for (const auto& page : pages) {
        builder.start_page(page.number);
        reader.read(page.lines);
        if (builder.failed())
            break;
    }
    if (!without_text.empty()) {
        std::string list;
        for (const int number : without_text)
            list += (list.empty() ? "" : ", ") + std::to_string(number);
        builder.warn("pages sans texte (numérisées ?) : " + list);
    }
    if (builder.document().title.empty()) {
        const auto title = pdf->get_title().to_utf8();
        builder.set_title({title.data(), title.size()});
    }
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
