// DOCX (Office Open XML): word/document.xml, with the heading and list styles of word/styles.xml
// and the list formats of word/numbering.xml.
#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "extractors.hpp"
#include "xml_part.hpp"
#include "zip_archive.hpp"

namespace opalebot::knowledge::documents {
namespace {

using namespace std::string_view_literals;

constexpr int list_levels = 9;

struct Numbering {
    std::string num_id;
    int level = 0; ///< w:ilvl, from 0
};

struct ParagraphStyle {
    int heading = 0; ///< 1…9, 0 when not a heading
    std::optional<Numbering> numbering;
    std::string based_on;
};

struct ListLevel {
    bool numbered = false;
    bool shown = true; ///< w:numFmt "none": no number and no bullet
    int start = 1;
};

using Levels = std::array<ListLevel, list_levels>;

std::string lowered(std::string_view text)
{
    std::string out{text};
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

int digit_after(std::string_view name, std::string_view prefix)
{
    if (!name.starts_with(prefix) || name.size() != prefix.size() + 1)
        return 0;
    const char digit = name.back();
    return digit >= '1' && digit <= '9' ? digit - '0' : 0;
}

/// "heading 2" (Word's built-in name, in every language), "Titre 2", "Heading2": 2.
int heading_of_name(std::string_view raw_name)
{
    const auto name = lowered(raw_name);
    for (const auto prefix : {"heading "sv, "titre "sv, "heading"sv, "titre"sv})
        if (const int level = digit_after(name, prefix); level > 0)
            return level;
    return name == "title" || name == "titre" ? 1 : 0;
}

int outline_level(const pugi::xml_node& paragraph_properties)
{
    const auto outline = paragraph_properties.child("w:outlineLvl");
    if (!outline)
        return 0;
    const int level = outline.attribute("w:val").as_int(9);
    return level >= 0 && level < 9 ? level + 1 : 0; // 9 means body text
}

std::optional<Numbering> numbering_of(const pugi::xml_node& paragraph_properties)
{
    const auto properties = paragraph_properties.child("w:numPr");
    if (!properties)
        return std::nullopt;
    Numbering numbering;
    numbering.num_id = properties.child("w:numId").attribute("w:val").value();
    numbering.level = properties.child("w:ilvl").attribute("w:val").as_int(0);
    if (numbering.level < 0 || numbering.level >= list_levels)
        numbering.level = 0;
    return numbering;
}

class DocxReader {
public:
    explicit DocxReader(DocumentBuilder& builder) : builder_(builder) {}

    void read_styles(const pugi::xml_node& root)
    {
        for (const auto& style : root.children("w:style")) {
            if (style.attribute("w:type").value() != "paragraph"sv)
                continue;
            ParagraphStyle& entry = styles_[style.attribute("w:styleId").value()];
            const auto properties = style.child("w:pPr");
            entry.heading = heading_of_name(style.child("w:name").attribute("w:val").value());
            if (entry.heading == 0)
                entry.heading = heading_of_name(style.attribute("w:styleId").value());
            if (entry.heading == 0)
                entry.heading = outline_level(properties);
            entry.numbering = numbering_of(properties);
            entry.based_on = style.child("w:basedOn").attribute("w:val").value();
        }
    }

    void read_numbering(const pugi::xml_node& root)
    {
        std::map<std::string, Levels, std::less<>> abstract;
        for (const auto& definition : root.children("w:abstractNum")) {
            Levels& levels = abstract[definition.attribute("w:abstractNumId").value()];
            for (const auto& level : definition.children("w:lvl"))
                read_level(level, levels);
        }
        for (const auto& num : root.children("w:num")) {
            const auto it = abstract.find(num.child("w:abstractNumId").attribute("w:val").value());
            if (it == abstract.end())
                continue;
            Levels levels = it->second;
            for (const auto& override_ : num.children("w:lvlOverride")) {
                const int index = override_.attribute("w:ilvl").as_int(-1);
                if (index < 0 || index >= list_levels)
                    continue;
                if (const auto start = override_.child("w:startOverride"))
                    levels[static_cast<std::size_t>(index)].start =
                        start.attribute("w:val").as_int(1);
                if (const auto level = override_.child("w:lvl"))
                    read_level(level, levels);
            }
            lists_[num.attribute("w:numId").value()] = levels;
        }
    }

    void blocks(const pugi::xml_node& parent)
    {
        for (const auto& node : parent.children()) {
            if (builder_.failed())
                return;
            const std::string_view name = node.name();
            if (name == "w:p")
                paragraph(node);
            else if (name == "w:tbl")
                table(node);
            else if (name == "w:sdt")
                blocks(node.child("w:sdtContent"));
            else if (name == "w:customXml" || name == "w:ins" || name == "w:moveTo")
                blocks(node);
        }
    }

private:
    static void read_level(const pugi::xml_node& level, Levels& levels)
    {
        const int index = level.attribute("w:ilvl").as_int(-1);
        if (index < 0 || index >= list_levels)
            return;
        ListLevel& entry = levels[static_cast<std::size_t>(index)];
        const std::string_view format = level.child("w:numFmt").attribute("w:val").value();
        entry.numbered = !format.empty() && format != "bullet" && format != "none";
        entry.shown = format != "none";
        entry.start = level.child("w:start").attribute("w:val").as_int(1);
    }

    /// A style's heading level and numbering, inherited through w:basedOn.
    ParagraphStyle resolved_style(std::string_view id) const
    {
        ParagraphStyle resolved;
        for (int hops = 0; hops < 10 && !id.empty(); ++hops) { // a loop of basedOn stops here
            const auto it = styles_.find(id);
            if (it == styles_.end())
                break;
            if (resolved.heading == 0)
                resolved.heading = it->second.heading;
            if (!resolved.numbering)
                resolved.numbering = it->second.numbering;
            id = it->second.based_on;
        }
        return resolved;
    }

    void paragraph(const pugi::xml_node& node)
    {
        text_.clear();
        runs(node);
        const auto properties = node.child("w:pPr");
        auto style = resolved_style(properties.child("w:pStyle").attribute("w:val").value());
        if (const int level = outline_level(properties); level > 0)
            style.heading = level;
        if (style.heading > 0) {
            builder_.heading(text_, style.heading);
            return;
        }
        if (auto direct = numbering_of(properties)) {
            // a paragraph's own w:numPr may give only w:ilvl and keep its style's list
            if (direct->num_id.empty() && style.numbering)
                direct->num_id = style.numbering->num_id;
            style.numbering = direct;
        }
        const auto list = style.numbering ? lists_.find(style.numbering->num_id) : lists_.end();
        if (list == lists_.end()) { // no numbering, or w:numId 0: "not in a list"
            builder_.paragraph(text_);
            return;
        }
        const auto index = static_cast<std::size_t>(style.numbering->level);
        const ListLevel& level = list->second[index];
        if (!level.shown) {
            builder_.paragraph(text_);
            return;
        }
        auto& counters = counters_[list->first];
        if (counters.empty())
            counters.assign(list_levels, 0);
        counters[index] = counters[index] == 0 ? level.start : counters[index] + 1;
        for (std::size_t deeper = index + 1; deeper < counters.size(); ++deeper)
            counters[deeper] = 0; // a new item restarts the levels under it
        builder_.list_item(text_, static_cast<int>(index) + 1, level.numbered,
                           level.numbered ? counters[index] : 0);
    }

    void runs(const pugi::xml_node& parent)
    {
        for (const auto& node : parent.children()) {
            const std::string_view name = node.name();
            if (name == "w:t") {
                text_ += node.child_value();
            } else if (name == "w:tab" || name == "w:br" || name == "w:cr") {
                text_ += ' ';
            } else if (name == "w:noBreakHyphen") {
                text_ += '-';
            } else if (name == "w:r" || name == "w:hyperlink" || name == "w:ins" ||
                       name == "w:smartTag" || name == "w:fldSimple" || name == "w:customXml" ||
                       name == "w:moveTo" || name == "w:sdtContent") {
                runs(node);
            } else if (name == "w:sdt") {
                runs(node.child("w:sdtContent"));
            }
            // w:del, w:instrText, drawings and text boxes carry no reading text of this paragraph
        }
    }

    void table(const pugi::xml_node& node)
    {
        builder_.begin_table();
        std::vector<std::string> cells;
        for (const auto& row : node.children("w:tr")) {
            if (builder_.failed())
                return;
            cells.clear();
            for (const auto& cell : row.children("w:tc")) {
                text_.clear();
                cell_text(cell);
                cells.push_back(text_);
            }
            builder_.table_row(cells);
        }
    }

    /// A cell's paragraphs (and nested tables) as one line.
    void cell_text(const pugi::xml_node& parent)
    {
        for (const auto& node : parent.children()) {
            const std::string_view name = node.name();
            if (name == "w:p") {
                runs(node);
                text_ += ' ';
            } else if (name == "w:tbl" || name == "w:tr" || name == "w:tc" || name == "w:sdt" ||
                       name == "w:sdtContent" || name == "w:customXml") {
                cell_text(node);
            }
        }
    }

    DocumentBuilder& builder_;
    std::map<std::string, ParagraphStyle, std::less<>> styles_;
    std::map<std::string, Levels, std::less<>> lists_;
    std::map<std::string, std::vector<int>, std::less<>> counters_;
    std::string text_;
};

} // namespace

Result<Document> extract_docx(ZipArchive& archive, const DocumentLimits& limits)
{
    DocumentBuilder builder{DocumentFormat::docx, limits};
    DocxReader reader{builder};
    // Optional parts: a document without styles or lists is still a document.
    for (const auto part : {"word/styles.xml"sv, "word/numbering.xml"sv}) {
        auto text = archive.read(part);
        if (!text) {
            if (text.error().kind == Error::Kind::not_found)
                continue;
            return text.error();
        }
        pugi::xml_document xml;
        if (auto loaded = load_xml(xml, text.value(), part, limits); !loaded)
            return loaded.error();
        if (part == "word/styles.xml")
            reader.read_styles(xml.child("w:styles"));
        else
            reader.read_numbering(xml.child("w:numbering"));
    }
    auto text = archive.read("word/document.xml");
    if (!text)
        return text.error();
    pugi::xml_document xml;
    if (auto loaded = load_xml(xml, text.value(), "word/document.xml", limits); !loaded)
        return loaded.error();
    reader.blocks(xml.child("w:document").child("w:body"));
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
