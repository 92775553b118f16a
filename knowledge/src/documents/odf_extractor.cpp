// ODT and ODP (OpenDocument): content.xml holds the text, styles.xml the named list styles.
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "extractors.hpp"
#include "xml_part.hpp"
#include "zip_archive.hpp"

namespace opalebot::knowledge::documents {
namespace {

using namespace std::string_view_literals;

/// One level of a list style: numbered (a number style with a format) or bullets.
struct ListLevel {
    bool numbered = false;
    int start = 1;
};

using ListStyles = std::map<std::string, std::vector<ListLevel>, std::less<>>;

int int_attribute(const pugi::xml_node& node, const char* name, int fallback)
{
    const auto attribute = node.attribute(name);
    if (!attribute)
        return fallback;
    const int value = attribute.as_int(fallback);
    return value > 0 && value < 100'000 ? value : fallback;
}

/// The text:list-style elements of an office:styles or office:automatic-styles element.
void read_list_styles(const pugi::xml_node& styles, ListStyles& into)
{
    for (const auto& style : styles.children("text:list-style")) {
        auto& levels = into[style.attribute("style:name").value()];
        for (const auto& level : style.children()) {
            const int index = int_attribute(level, "text:level", 1);
            if (index > 10)
                continue;
            if (levels.size() < static_cast<std::size_t>(index))
                levels.resize(static_cast<std::size_t>(index));
            auto& entry = levels[static_cast<std::size_t>(index - 1)];
            if (level.name() == "text:list-level-style-number"sv) {
                // an empty format shows no number: such a list reads as bullets
                const auto format = level.attribute("style:num-format");
                entry.numbered = !format || format.value()[0] != '\0';
                entry.start = int_attribute(level, "text:start-value", 1);
            }
        }
    }
}

/// Paragraph styles whose parent is the "Title" style: LibreOffice writes a title as a text:p.
void read_title_styles(const pugi::xml_node& styles, std::map<std::string, bool, std::less<>>& into)
{
    for (const auto& style : styles.children("style:style")) {
        const std::string_view name = style.attribute("style:name").value();
        const std::string_view parent = style.attribute("style:parent-style-name").value();
        if (name == "Title" || parent == "Title")
            into[std::string{name}] = true;
    }
}

bool is_index(std::string_view name)
{
    return name == "text:table-of-content" || name == "text:alphabetical-index" ||
           name == "text:illustration-index" || name == "text:table-index" ||
           name == "text:object-index" || name == "text:user-index" || name == "text:bibliography";
}

/// Everything that carries no reading text, or text read elsewhere (notes, indexes).
bool is_skipped(std::string_view name)
{
    return name == "text:note" || name == "office:annotation" || name == "text:tracked-changes" ||
           name == "office:forms" || name == "text:sequence-decls" || name == "svg:title" ||
           name == "svg:desc" || name == "draw:image" || name == "text:bookmark" || is_index(name);
}

class OdfReader {
public:
    OdfReader(DocumentBuilder& builder, const ListStyles& lists,
              const std::map<std::string, bool, std::less<>>& titles)
        : builder_(builder), lists_(lists), titles_(titles)
    {}

    void blocks(const pugi::xml_node& parent)
    {
        for (const auto& node : parent.children()) {
            if (builder_.failed())
                return;
            const std::string_view name = node.name();
            if (name == "text:h") {
                paragraph_text(node);
                builder_.heading(text_, int_attribute(node, "text:outline-level", 1));
                frames_after_paragraph();
            } else if (name == "text:p") {
                paragraph_text(node);
                if (titles_.contains(node.attribute("text:style-name").value()))
                    builder_.heading(text_, 1);
                else
                    builder_.paragraph(text_);
                frames_after_paragraph();
            } else if (name == "text:list") {
                list(node, 1, {});
            } else if (name == "table:table") {
                table(node);
            } else if (node.type() == pugi::node_element && !is_skipped(name)) {
                blocks(node); // sections, frames, text boxes, shapes, groups
            }
        }
    }

    /// A slide: its title first, then its frames in order, then its notes.
    void slide(const pugi::xml_node& page)
    {
        for (const auto& frame : page.children("draw:frame"))
            if (frame.attribute("presentation:class").value() == "title"sv) {
                all_text(frame);
                builder_.heading(text_, 1);
                break;
            }
        for (const auto& node : page.children()) {
            const std::string_view name = node.name();
            if (name == "presentation:notes") {
                builder_.set_in_notes(true);
                blocks(node);
                builder_.set_in_notes(false);
            } else if (name == "draw:frame") {
                const std::string_view kind = node.attribute("presentation:class").value();
                if (kind != "title" && kind != "page") // page: the slide's thumbnail in notes
                    blocks(node);
            } else if (node.type() == pugi::node_element && !is_skipped(name)) {
                blocks(node);
            }
        }
    }

private:
    void list(const pugi::xml_node& node, int depth, std::string_view inherited_style)
    {
        std::string_view style = node.attribute("text:style-name").value();
        if (style.empty())
            style = inherited_style; // a nested list takes its outer list's style
        ListLevel level;
        if (const auto it = lists_.find(style);
            it != lists_.end() && static_cast<std::size_t>(depth) <= it->second.size())
            level = it->second[static_cast<std::size_t>(depth - 1)];
        int number = level.start - 1;
        for (const auto& item : node.children()) {
            const std::string_view name = item.name();
            if (name != "text:list-item" && name != "text:list-header")
                continue;
            const bool header = name == "text:list-header"; // an item without a number
            if (!header)
                number = item.attribute("text:start-value")
                             ? int_attribute(item, "text:start-value", 1)
                             : number + 1;
            // The item's paragraphs make one item; nested lists and tables follow it.
            std::string item_text;
            bool emitted = false;
            const auto emit = [&] {
                if (emitted)
                    return;
                emitted = true;
                if (header)
                    builder_.paragraph(item_text);
                else
                    builder_.list_item(item_text, depth, level.numbered, number);
            };
            for (const auto& child : item.children()) {
                const std::string_view child_name = child.name();
                if (child_name == "text:p" || child_name == "text:h") {
                    paragraph_text(child);
                    if (emitted) {
                        builder_.paragraph(text_);
                    } else {
                        item_text += text_;
                        item_text += ' ';
                    }
                } else if (child_name == "text:list") {
                    emit();
                    list(child, depth + 1, style);
                } else if (child_name == "table:table") {
                    emit();
                    table(child);
                }
            }
            emit();
            frames_after_paragraph();
        }
    }

    void table(const pugi::xml_node& node)
    {
        builder_.begin_table();
        rows(node);
    }

    void rows(const pugi::xml_node& parent)
    {
        std::vector<std::string> cells;
        for (const auto& row : parent.children()) {
            if (builder_.failed())
                return;
            const std::string_view name = row.name();
            if (name == "table:table-header-rows" || name == "table:table-rows" ||
                name == "table:table-row-group") {
                rows(row);
                continue;
            }
            if (name != "table:table-row")
                continue;
            cells.clear();
            for (const auto& cell : row.children()) {
                const std::string_view cell_name = cell.name();
                if (cell_name != "table:table-cell" && cell_name != "table:covered-table-cell")
                    continue;
                all_text(cell);
                cells.push_back(text_);
            }
            while (!cells.empty() && cells.back().empty())
                cells.pop_back(); // a spreadsheet-like row repeats empty cells to its edge
            builder_.table_row(cells);
        }
    }

    /// The inline text of a text:p or text:h into text_; its frames are kept for later.
    void paragraph_text(const pugi::xml_node& paragraph)
    {
        text_.clear();
        gather(paragraph, true);
    }

    void frames_after_paragraph()
    {
        auto frames = std::move(frames_);
        frames_.clear();
        for (const auto& frame : frames)
            blocks(frame);
    }

    /// Every word under `node` into text_, paragraphs apart by a space (table cells, titles).
    void all_text(const pugi::xml_node& node)
    {
        text_.clear();
        gather(node, false);
    }

    /// Text under `parent` into text_; frames anchored in a paragraph are read after it when
    /// `defer_frames`, in place otherwise.
    void gather(const pugi::xml_node& parent, bool defer_frames)
    {
        for (const auto& node : parent.children()) {
            if (node.type() == pugi::node_pcdata || node.type() == pugi::node_cdata) {
                text_ += node.value();
                continue;
            }
            const std::string_view name = node.name();
            if (name == "text:s" || name == "text:tab" || name == "text:line-break") {
                text_ += ' ';
            } else if (defer_frames && (name == "draw:frame" || name == "draw:custom-shape")) {
                frames_.push_back(node);
            } else if (!is_skipped(name)) {
                gather(node, defer_frames);
                if (name == "text:p" || name == "text:h")
                    text_ += ' ';
            }
        }
    }

    DocumentBuilder& builder_;
    const ListStyles& lists_;
    const std::map<std::string, bool, std::less<>>& titles_;
    std::string text_;
    std::vector<pugi::xml_node> frames_;
};

} // namespace

Result<Document> extract_odf(ZipArchive& archive, DocumentFormat format,
                             const DocumentLimits& limits)
{
    if (auto manifest = archive.read("META-INF/manifest.xml");
        manifest && manifest.value().find("encryption-data") != std::string::npos)
        return document_error(document_errors::encrypted,
                              "document chiffré ou protégé par un mot de passe : enregistrez-le "
                              "sans mot de passe");
    auto content_text = archive.read("content.xml");
    if (!content_text)
        return content_text.error();
    pugi::xml_document content;
    if (auto loaded = load_xml(content, content_text.value(), "content.xml", limits); !loaded)
        return loaded.error();

    ListStyles lists;
    std::map<std::string, bool, std::less<>> titles;
    std::string styles_text;
    pugi::xml_document styles;
    if (auto read = archive.read("styles.xml");
        !read && read.error().kind != Error::Kind::not_found) {
        return read.error();
    } else if (read) {
        styles_text = std::move(read).value();
        if (auto loaded = load_xml(styles, styles_text, "styles.xml", limits); !loaded)
            return loaded.error();
        const auto root = styles.child("office:document-styles");
        read_list_styles(root.child("office:styles"), lists);
        read_title_styles(root.child("office:styles"), titles);
    }
    const auto root = content.child("office:document-content");
    read_list_styles(root.child("office:automatic-styles"), lists);
    read_title_styles(root.child("office:automatic-styles"), titles);

    DocumentBuilder builder{format, limits};
    OdfReader reader{builder, lists, titles};
    const auto body = root.child("office:body");
    if (format == DocumentFormat::odp) {
        const auto presentation = body.child("office:presentation");
        int slides = 0;
        for (const auto& page : presentation.children("draw:page")) {
            (void)page;
            ++slides;
        }
        if (slides > limits.max_pages)
            return document_error(document_errors::too_many_pages,
                                  "présentation trop longue : " + std::to_string(slides) +
                                      " diapositives (au plus " + std::to_string(limits.max_pages) +
                                      ")");
        int slide = 0;
        for (const auto& page : presentation.children("draw:page")) {
            builder.start_slide(++slide);
            reader.slide(page);
        }
    } else {
        reader.blocks(body.child("office:text"));
    }
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
