// HTML, parsed by libxml2's forgiving HTML parser: headings, paragraphs, lists and tables.
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "extractors.hpp"
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

namespace opalebot::knowledge::documents {
namespace {

using namespace std::string_view_literals;

struct DocFree {
    void operator()(xmlDoc* document) const noexcept { xmlFreeDoc(document); }
};

struct XmlFree {
    void operator()(xmlChar* text) const noexcept { xmlFree(text); }
};

std::string_view name_of(const xmlNode* node)
{
    return node->name ? std::string_view{reinterpret_cast<const char*>(node->name)} : ""sv;
}

std::string_view attribute(const xmlNode* node, const char* name)
{
    for (const xmlAttr* attr = node->properties; attr; attr = attr->next)
        if (attr->name && std::strcmp(reinterpret_cast<const char*>(attr->name), name) == 0 &&
            attr->children && attr->children->content)
            return reinterpret_cast<const char*>(attr->children->content);
    return {};
}

int number_attribute(const xmlNode* node, const char* name, int fallback)
{
    const auto text = attribute(node, name);
    if (text.empty() || text.size() > 6)
        return fallback;
    int value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9')
            return fallback;
        value = value * 10 + (c - '0');
    }
    return value;
}

bool is_skipped(std::string_view name)
{
    return name == "script" || name == "style" || name == "noscript" || name == "template" ||
           name == "head" || name == "iframe" || name == "svg" || name == "object" ||
           name == "select" || name == "textarea" || name == "math";
}

bool is_block(std::string_view name)
{
    for (const auto block :
         {"p"sv,        "div"sv,     "section"sv, "article"sv,    "main"sv,       "aside"sv,
          "header"sv,   "footer"sv,  "nav"sv,     "blockquote"sv, "pre"sv,        "address"sv,
          "dl"sv,       "dt"sv,      "dd"sv,      "figure"sv,     "figcaption"sv, "form"sv,
          "fieldset"sv, "details"sv, "summary"sv, "hr"sv,         "center"sv,     "body"sv,
          "html"sv,     "caption"sv, "legend"sv})
        if (name == block)
            return true;
    return false;
}

int heading_level(std::string_view name)
{
    return name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6' ? name[1] - '0'
                                                                                  : 0;
}

/// The depth of the deepest element, walked without recursion; stops past `limit`.
std::size_t tree_depth(const xmlNode* root, std::size_t limit)
{
    std::size_t depth = 1;
    std::size_t deepest = 1;
    const xmlNode* node = root;
    while (node && deepest <= limit) {
        if (node->children) {
            node = node->children;
            deepest = std::max(deepest, ++depth);
            continue;
        }
        while (node && !node->next && node != root) {
            node = node->parent;
            --depth;
        }
        if (!node || node == root)
            break;
        node = node->next;
    }
    return deepest;
}

class HtmlReader {
public:
    explicit HtmlReader(DocumentBuilder& builder) : builder_(builder) {}

    void walk(const xmlNode* parent)
    {
        for (const xmlNode* node = parent->children; node; node = node->next) {
            if (builder_.failed())
                return;
            if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
                if (node->content)
                    text_ += reinterpret_cast<const char*>(node->content);
                continue;
            }
            if (node->type != XML_ELEMENT_NODE)
                continue;
            const auto name = name_of(node);
            if (is_skipped(name))
                continue;
            if (const int level = heading_level(name); level > 0) {
                flush();
                all_text(node);
                builder_.heading(text_, level);
                text_.clear();
            } else if (name == "br") {
                text_ += ' ';
            } else if (name == "ul" || name == "ol" || name == "menu") {
                flush();
                lists_.open(name == "ol", number_attribute(node, "start", 1));
                walk(node);
                flush();
                lists_.close();
            } else if (name == "li") {
                flush();
                item(node);
            } else if (name == "table") {
                flush();
                table(node);
            } else if (is_block(name)) {
                flush();
                walk(node);
                flush();
            } else {
                walk(node); // inline: a, span, strong, em, code…
            }
        }
    }

    void finish() { flush(); }

private:
    void item(const xmlNode* node)
    {
        const int value = number_attribute(node, "value", -1);
        pending_ = lists_.next(value < 0 ? std::nullopt : std::optional{value});
        walk(node);
        flush();
        pending_.reset();
    }

    /// Emits the text gathered so far: the pending list item's, or a paragraph.
    void flush()
    {
        if (text_.find_first_not_of(" \t\r\n") == std::string::npos) {
            text_.clear(); // an item whose text comes in a <p> waits for it
            return;
        }
        if (pending_) {
            builder_.list_item(text_, *pending_);
            pending_.reset();
        } else {
            builder_.paragraph(text_);
        }
        text_.clear();
    }

    void table(const xmlNode* node)
    {
        builder_.begin_table();
        rows(node);
    }

    void rows(const xmlNode* parent)
    {
        std::vector<std::string> cells;
        for (const xmlNode* row = parent->children; row; row = row->next) {
            if (row->type != XML_ELEMENT_NODE || builder_.failed())
                continue;
            const auto name = name_of(row);
            if (name == "thead" || name == "tbody" || name == "tfoot") {
                rows(row);
            } else if (name == "caption") {
                all_text(row);
                builder_.paragraph(text_);
                text_.clear();
            } else if (name == "tr") {
                cells.clear();
                for (const xmlNode* cell = row->children; cell; cell = cell->next) {
                    const auto cell_name = name_of(cell);
                    if (cell->type != XML_ELEMENT_NODE || (cell_name != "td" && cell_name != "th"))
                        continue;
                    all_text(cell);
                    cells.push_back(text_);
                }
                text_.clear();
                builder_.table_row(cells);
            }
        }
    }

    /// Every word under `node` into text_ (a heading's or a cell's), blocks apart by a space.
    void all_text(const xmlNode* node)
    {
        text_.clear();
        collect(node);
    }

    void collect(const xmlNode* parent)
    {
        for (const xmlNode* node = parent->children; node; node = node->next) {
            if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
                node->content) {
                text_ += reinterpret_cast<const char*>(node->content);
            } else if (node->type == XML_ELEMENT_NODE && !is_skipped(name_of(node))) {
                collect(node);
                text_ += ' ';
            }
        }
    }

    DocumentBuilder& builder_;
    std::string text_;
    ListNumbering lists_;
    std::optional<ListItemMark> pending_;
};

/// The text of <title>, for a page without headings.
std::string page_title(const xmlNode* root)
{
    for (const xmlNode* node = root ? root->children : nullptr; node; node = node->next)
        if (node->type == XML_ELEMENT_NODE && name_of(node) == "head")
            for (const xmlNode* child = node->children; child; child = child->next)
                if (child->type == XML_ELEMENT_NODE && name_of(child) == "title") {
                    const std::unique_ptr<xmlChar, XmlFree> text{xmlNodeGetContent(child)};
                    return text ? reinterpret_cast<const char*>(text.get()) : "";
                }
    return {};
}

bool declares_charset(std::string_view bytes)
{
    const auto head = bytes.substr(0, 4096);
    for (const auto spelling : {"charset"sv, "CHARSET"sv, "Charset"sv, "encoding="sv})
        if (head.find(spelling) != std::string_view::npos)
            return true;
    return false;
}

} // namespace

Result<Document> extract_html(std::string_view bytes, const DocumentLimits& limits)
{
    static std::once_flag once;
    std::call_once(once, [] { xmlInitParser(); });
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return document_error(document_errors::too_large, "page HTML trop volumineuse");
    // Without a declared charset the file is taken as UTF-8 (libxml2 would guess Latin-1).
    const std::unique_ptr<xmlDoc, DocFree> html{
        htmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr,
                       declares_charset(bytes) ? nullptr : "UTF-8",
                       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                           HTML_PARSE_NONET | HTML_PARSE_COMPACT)};
    DocumentBuilder builder{DocumentFormat::html, limits};
    const xmlNode* root = html ? xmlDocGetRootElement(html.get()) : nullptr;
    if (root == nullptr)
        return std::move(builder).finish(); // an empty page reads as an empty document
    if (tree_depth(root, limits.max_xml_depth) > limits.max_xml_depth)
        return document_error(document_errors::too_deep,
                              "page HTML refusée : balises imbriquées sur plus de " +
                                  std::to_string(limits.max_xml_depth) + " niveaux");
    HtmlReader reader{builder};
    reader.walk(root);
    reader.finish();
    if (builder.document().title.empty())
        builder.set_title(page_title(root));
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
