// PPTX (Office Open XML): the slides of ppt/presentation.xml in their order, each with its title,
// its text and tables, then its notes slide.
#include <array>
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

struct Relationship {
    std::string target; ///< resolved: a part name of the archive
    std::string type;
};

using Relationships = std::map<std::string, Relationship, std::less<>>;

/// The relationships of `part` (from its _rels/<name>.rels), by id; empty when it has none.
Result<Relationships> read_relationships(ZipArchive& archive, std::string_view part,
                                         const DocumentLimits& limits)
{
    const auto slash = part.rfind('/');
    const std::string folder{slash == std::string_view::npos ? ""sv : part.substr(0, slash + 1)};
    const std::string rels_name =
        folder + "_rels/" +
        std::string{slash == std::string_view::npos ? part : part.substr(slash + 1)} + ".rels";
    Relationships relationships;
    auto text = archive.read(rels_name);
    if (!text)
        return text.error().kind == Error::Kind::not_found ? Result<Relationships>{relationships}
                                                           : Result<Relationships>{text.error()};
    pugi::xml_document xml;
    if (auto loaded = load_xml(xml, text.value(), rels_name, limits); !loaded)
        return loaded.error();
    for (const auto& relationship : xml.child("Relationships").children("Relationship")) {
        if (relationship.attribute("TargetMode").value() == "External"sv)
            continue;
        relationships[relationship.attribute("Id").value()] = {
            resolve_part(part, relationship.attribute("Target").value()),
            relationship.attribute("Type").value()};
    }
    return relationships;
}

bool is_title(std::string_view placeholder)
{
    return placeholder == "title" || placeholder == "ctrTitle";
}

/// Placeholders that repeat on every slide (date, footer, number) or show the slide in notes.
bool is_furniture(std::string_view placeholder)
{
    return placeholder == "dt" || placeholder == "ftr" || placeholder == "sldNum" ||
           placeholder == "hdr" || placeholder == "sldImg";
}

class PptxReader {
public:
    explicit PptxReader(DocumentBuilder& builder) : builder_(builder) {}

    void slide(const pugi::xml_node& tree)
    {
        if (const auto title = find_title(tree)) {
            text_.clear();
            body_text(title.child("p:txBody"));
            builder_.heading(text_, 1);
        }
        shapes(tree, false);
    }

    void notes(const pugi::xml_node& tree)
    {
        builder_.set_in_notes(true);
        shapes(tree, true);
        builder_.set_in_notes(false);
    }

private:
    static std::string_view placeholder_of(const pugi::xml_node& shape)
    {
        const auto placeholder = shape.child("p:nvSpPr").child("p:nvPr").child("p:ph");
        if (!placeholder)
            return {};
        const std::string_view type = placeholder.attribute("type").value();
        return type.empty() ? "obj"sv : type; // a placeholder without a type holds content
    }

    pugi::xml_node find_title(const pugi::xml_node& tree) const
    {
        for (const auto& node : tree.children()) {
            const std::string_view name = node.name();
            if (name == "p:sp" && is_title(placeholder_of(node)))
                return node;
            if (name == "p:grpSp")
                if (const auto found = find_title(node))
                    return found;
        }
        return {};
    }

    void shapes(const pugi::xml_node& tree, bool notes)
    {
        for (const auto& node : tree.children()) {
            if (builder_.failed())
                return;
            const std::string_view name = node.name();
            if (name == "p:sp") {
                const auto placeholder = placeholder_of(node);
                if (is_title(placeholder) || is_furniture(placeholder))
                    continue;
                const bool content = placeholder == "obj" || placeholder == "body";
                paragraphs(node.child("p:txBody"), content && !notes);
            } else if (name == "p:grpSp") {
                shapes(node, notes);
            } else if (name == "mc:AlternateContent") {
                shapes(node.child("mc:Choice"), notes);
            } else if (name == "p:graphicFrame") {
                table(node.child("a:graphic").child("a:graphicData").child("a:tbl"));
            }
        }
    }

    /// The paragraphs of a text body; a content placeholder's are bullets unless told otherwise
    /// (the slide master's default).
    void paragraphs(const pugi::xml_node& body, bool bullets_by_default)
    {
        std::array<int, 9> counters{};
        for (const auto& paragraph : body.children("a:p")) {
            text_.clear();
            runs(paragraph);
            const auto properties = paragraph.child("a:pPr");
            int level = properties.attribute("lvl").as_int(0);
            if (level < 0 || level > 8)
                level = 0;
            const auto index = static_cast<std::size_t>(level);
            for (std::size_t deeper = index + 1; deeper < counters.size(); ++deeper)
                counters[deeper] = 0;
            if (const auto numbered = properties.child("a:buAutoNum")) {
                counters[index] = counters[index] == 0 ? numbered.attribute("startAt").as_int(1)
                                                       : counters[index] + 1;
                builder_.list_item(text_, level + 1, true, counters[index]);
                continue;
            }
            counters[index] = 0;
            const bool bullet = properties.child("a:buChar") || properties.child("a:buBlip") ||
                                (bullets_by_default && !properties.child("a:buNone"));
            if (bullet)
                builder_.list_item(text_, level + 1, false, 0);
            else
                builder_.paragraph(text_);
        }
    }

    void runs(const pugi::xml_node& paragraph)
    {
        for (const auto& node : paragraph.children()) {
            const std::string_view name = node.name();
            if (name == "a:r" || name == "a:fld")
                text_ += node.child("a:t").child_value();
            else if (name == "a:br")
                text_ += ' ';
        }
    }

    void body_text(const pugi::xml_node& body)
    {
        for (const auto& paragraph : body.children("a:p")) {
            runs(paragraph);
            text_ += ' ';
        }
    }

    void table(const pugi::xml_node& node)
    {
        if (!node)
            return;
        builder_.begin_table();
        std::vector<std::string> cells;
        for (const auto& row : node.children("a:tr")) {
            cells.clear();
            for (const auto& cell : row.children("a:tc")) {
                text_.clear();
                body_text(cell.child("a:txBody"));
                cells.push_back(text_);
            }
            builder_.table_row(cells);
        }
    }

    DocumentBuilder& builder_;
    std::string text_;
};

Result<pugi::xml_node> load_part(ZipArchive& archive, const std::string& part,
                                 pugi::xml_document& xml, std::string& text,
                                 const DocumentLimits& limits)
{
    auto read = archive.read(part);
    if (!read)
        return read.error();
    text = std::move(read).value();
    if (auto loaded = load_xml(xml, text, part, limits); !loaded)
        return loaded.error();
    return xml.document_element();
}

} // namespace

Result<Document> extract_pptx(ZipArchive& archive, const DocumentLimits& limits)
{
    constexpr auto presentation_part = "ppt/presentation.xml"sv;
    std::string text;
    pugi::xml_document xml;
    const auto presentation = load_part(archive, std::string{presentation_part}, xml, text, limits);
    if (!presentation)
        return presentation.error();
    const auto relationships = read_relationships(archive, presentation_part, limits);
    if (!relationships)
        return relationships.error();
    std::vector<std::string> slides;
    for (const auto& id : presentation.value().child("p:sldIdLst").children("p:sldId")) {
        const auto it = relationships.value().find(id.attribute("r:id").value());
        if (it != relationships.value().end())
            slides.push_back(it->second.target);
    }
    if (slides.size() > static_cast<std::size_t>(limits.max_pages))
        return document_error(document_errors::too_many_pages,
                              "présentation trop longue : " + std::to_string(slides.size()) +
                                  " diapositives (au plus " + std::to_string(limits.max_pages) +
                                  ")");

    DocumentBuilder builder{DocumentFormat::pptx, limits};
    PptxReader reader{builder};
    int number = 0;
    for (const auto& slide_part : slides) {
        builder.start_slide(++number);
        pugi::xml_document slide_xml;
        std::string slide_text;
        const auto slide = load_part(archive, slide_part, slide_xml, slide_text, limits);
        if (!slide)
            return slide.error();
        reader.slide(slide.value().child("p:cSld").child("p:spTree"));

        const auto slide_relationships = read_relationships(archive, slide_part, limits);
        if (!slide_relationships)
            return slide_relationships.error();
        for (const auto& [id, relationship] : slide_relationships.value()) {
            if (!relationship.type.ends_with("/notesSlide"))
                continue;
            pugi::xml_document notes_xml;
            std::string notes_text;
            const auto notes =
                load_part(archive, relationship.target, notes_xml, notes_text, limits);
            if (!notes)
                return notes.error();
            reader.notes(notes.value().child("p:cSld").child("p:spTree"));
        }
        if (builder.failed())
            break;
    }
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
