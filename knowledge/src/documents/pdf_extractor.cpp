// PDF, through poppler's own classes (PDFDoc, TextOutputDev): the words of each page in reading
// order (poppler's text flows, so a two-column page reads column by column), gathered into
// lines, then into headings (by font size), list items (by their marker) and paragraphs (by the
// space between lines). Not poppler-cpp: it converts every word to UTF-16 through iconv and
// builds a box for every character, a third of a page's time.
#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "document_text.hpp"
#include "extractors.hpp"
#include <Annot.h>
#include <ErrorCodes.h>
#include <Gfx.h>
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <PDFDocEncoding.h>
#include <Page.h>
#include <Stream.h>
#include <TextOutputDev.h>
#include <goo/GooString.h>

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

struct PageText {
    int number = 0;
    std::vector<Line> lines;
};

/// poppler's global parameters (glyph names to Unicode…), set up once for the process. poppler
/// writes its complaints about a damaged file to stderr: dropped, the caller gets an Error.
void start_poppler()
{
    static const GlobalParamsIniter params{[](ErrorCategory, Goffset, const char*) {}};
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

/// A PDF text string (the title…): UTF-16 after its byte order mark, else PDFDocEncoding.
std::string text_string_utf8(const GooString& text)
{
    const std::string& bytes = text.toStr();
    std::string out;
    const bool big_endian = text.hasUnicodeMarker();
    if (big_endian || text.hasUnicodeMarkerLE()) {
        const auto unit = [&](std::size_t i) -> char32_t {
            const auto first = static_cast<unsigned char>(bytes[i]);
            const auto second = static_cast<unsigned char>(bytes[i + 1]);
            return big_endian ? (first << 8U) | second : (second << 8U) | first;
        };
        for (std::size_t i = 2; i + 1 < bytes.size(); i += 2) {
            char32_t c = unit(i);
            if (c >= 0xD800 && c <= 0xDBFF && i + 3 < bytes.size()) {
                if (const char32_t low = unit(i + 2); low >= 0xDC00 && low <= 0xDFFF) {
                    c = 0x10000 + ((c - 0xD800) << 10U) + (low - 0xDC00);
                    i += 2;
                }
            }
            append_utf8(out, c);
        }
        return out;
    }
    for (const char byte : bytes) {
        const auto c = static_cast<unsigned char>(byte);
        append_utf8(out, pdfDocEncoding[c] != 0 ? pdfDocEncoding[c] : c);
    }
    return out;
}

/// The lines of the page `text` has just read.
std::vector<Line> page_lines(TextOutputDev& text, const Page& page)
{
    std::vector<Line> lines;
    const auto words = text.makeWordList();
    Line line;
    bool open = false;
    bool space_after = false;
    for (int i = 0; i < words->getLength(); ++i) {
        const TextWord* word = words->get(i);
        if (word->getLength() == 0)
            continue;
        double left = 0;
        double top = 0;
        double right = 0;
        double bottom = 0;
        word->getBBox(&left, &top, &right, &bottom);
        const double middle = (top + bottom) / 2;
        const double height = std::max(bottom - top, 1.0);
        // Same line: the word sits at the line's height and to the right of its end.
        const bool same_line =
            open && middle > line.top && middle < line.bottom && left >= line.right - height;
        if (!same_line) {
            if (open)
                lines.push_back(std::move(line));
            line = Line{};
            line.left = left;
            line.top = top;
            line.bottom = bottom;
            open = true;
        } else if (space_after) {
            line.text += ' ';
        }
        for (int k = 0; k < word->getLength(); ++k)
            append_utf8(line.text, *word->getChar(k));
        line.right = right;
        line.top = std::min(line.top, top);
        line.bottom = std::max(line.bottom, bottom);
        // The word's height says its size as well as its font would, for telling headings
        // from body text.
        line.size = std::max(line.size, height);
        space_after = word->hasSpaceAfter();
    }
    if (open)
        lines.push_back(std::move(line));
    // Page numbers at the top or the bottom of the page are furniture, not text.
    const PDFRectangle& frame = *page.getCropBox();
    const double band = (frame.y2 - frame.y1) * 0.1;
    std::erase_if(lines, [&](const Line& l) {
        return (l.bottom < frame.y1 + band || l.top > frame.y2 - band) && is_page_number(l.text);
    });
    return lines;
}

/// Whether two resource values name the same objects: the same references, names, or
/// dictionaries of those (/Font << /F1 5 0 R >>), to `depth` levels.
bool same_resource(const Object& a, const Object& b, int depth)
{
    if (a.isRef())
        return b.isRef() && a.getRef() == b.getRef();
    if (a.isName())
        return b.isName(a.getName());
    if (a.isNull())
        return b.isNull();
    if (!a.isDict() || !b.isDict() || depth == 0 || a.dictGetLength() != b.dictGetLength())
        return false;
    for (int i = 0; i < a.getDict()->getLength(); ++i) {
        const char* key = a.getDict()->getKey(i);
        if (std::string_view{key} != "ProcSet" && // an old hint for printers: draws nothing
            !same_resource(a.getDict()->getValNF(i), b.getDict()->lookupNF(key), depth - 1))
            return false;
    }
    return true;
}

/// Whether `b` is drawn as `a` is set up: the same frame, rotation and resources.
bool same_setup(Page& a, Page& b)
{
    return a.getRotate() == b.getRotate() && *a.getMediaBox() == *b.getMediaBox() &&
           *a.getCropBox() == *b.getCropBox() &&
           same_resource(*a.getResourceDictObject(), *b.getResourceDictObject(), 2);
}

/// Reads the text of a file's pages in turn, as Page::display would, but keeps poppler's
/// drawing context (Gfx) from one page to the next while pages share their frame and their
/// resources (as most generators write them): poppler builds every font of the resources when
/// it sets a context up, the embedded font files read again, a third of a page's time when done
/// at every page. Not in a file with optional content: an unclosed hidden block would hide the
/// next pages.
class PageTextReader {
public:
    explicit PageTextReader(PDFDoc& pdf)
        : pdf_(pdf), may_share_(pdf.getOptContentConfig() == nullptr)
    {}

    PageTextReader(const PageTextReader&) = delete;
    PageTextReader& operator=(const PageTextReader&) = delete;

    ~PageTextReader() { close_gfx(); }

    std::vector<Line> read(int number)
    {
        Page* page = pdf_.getPage(number);
        if (page == nullptr)
            return {};
        if (!may_share_) {
            pdf_.displayPage(&text_, number, 72, 72, 0, false, false, false);
            return page_lines(text_, *page);
        }
        if (gfx_ && same_setup(*gfx_page_, *page)) {
            text_.startPage(number, gfx_->getState(), pdf_.getXRef());
            text_.updateAll(gfx_->getState());
        } else {
            close_gfx();
            // createGfx starts the page on the device, as Page::displaySlice has it
            gfx_.reset(page->createGfx(&text_, 72, 72, 0, false, false, -1, -1, -1, -1, false,
                                       nullptr, nullptr));
            gfx_page_ = page;
        }
        draw(*page);
        text_.endPage();
        return page_lines(text_, *page);
    }

private:
    /// Page::displaySlice's drawing, on the shared context: the state guard undoes what the page
    /// left saved, so the next page starts from the context's first state.
    void draw(Page& page)
    {
        Object contents = page.getContents();
        gfx_->pushStateGuard();
        if (contents.isNull()) {
            text_.dump();
        } else {
            gfx_->saveState();
            gfx_->display(&contents);
        }
        gfx_->popStateGuard();
        const auto& annotations = page.getAnnots()->getAnnots();
        for (Annot* annotation : annotations)
            annotation->draw(gfx_.get(), false);
        if (!annotations.empty())
            text_.dump();
    }

    /// The context ends its page on the device when destroyed: an empty one, the last page
    /// having been read already.
    void close_gfx()
    {
        if (!gfx_)
            return;
        text_.startPage(0, gfx_->getState(), pdf_.getXRef());
        gfx_.reset();
        gfx_page_ = nullptr;
    }

    PDFDoc& pdf_;
    const bool may_share_;
    // The settings poppler-cpp gave: reading order, no physical layout.
    TextOutputDev text_{nullptr, false, 0, false, false};
    std::unique_ptr<Gfx> gfx_;
    Page* gfx_page_ = nullptr; ///< the page gfx_ was set up for
};

/// Heading levels by size: the body's size is the one most text is set in; each larger
/// size, from the largest, is a level.
class HeadingSizes {
public:
    explicit HeadingSizes(const std::vector<PageText>& pages)
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
    start_poppler();
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return document_error(document_errors::too_large, "PDF trop volumineux");
    auto stream = std::make_unique<MemStream>(bytes.data(), 0, static_cast<Goffset>(bytes.size()),
                                              Object(objNull));
    const auto pdf = std::make_unique<PDFDoc>(stream.release()); // the PDFDoc owns its stream
    if (pdf->getErrorCode() == errEncrypted)
        return document_error(document_errors::encrypted,
                              "PDF protégé par un mot de passe : fournissez-le sans mot de passe");
    if (!pdf->isOk())
        return document_error(document_errors::malformed,
                              "fichier endommagé : PDF illisible ; enregistrez-le à nouveau "
                              "depuis le logiciel qui l'a produit");
    const int page_count = pdf->getNumPages();
    if (page_count > limits.max_pages)
        return document_error(document_errors::too_many_pages,
                              "PDF trop long : " + std::to_string(page_count) + " pages (au plus " +
                                  std::to_string(limits.max_pages) + ")");

    PageTextReader page_text{*pdf};
    std::vector<PageText> pages;
    pages.reserve(static_cast<std::size_t>(std::max(page_count, 0)));
    std::size_t text_bytes = 0;
    std::vector<int> without_text;
    for (int number = 1; number <= page_count; ++number) {
        PageText& read = pages.emplace_back();
        read.number = number;
        read.lines = page_text.read(number);
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
    if (builder.document().title.empty())
        if (const auto title = pdf->getDocInfoTitle())
            builder.set_title(text_string_utf8(*title));
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
