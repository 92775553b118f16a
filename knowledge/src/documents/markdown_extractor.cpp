// Markdown (CommonMark, through cmark) and plain text.
#include <cmark.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "document_builder.hpp"
#include "document_text.hpp"
#include "extractors.hpp"

namespace opalebot::knowledge::documents {
namespace {

struct NodeFree {
    void operator()(cmark_node* node) const noexcept { cmark_node_free(node); }
};

struct IterFree {
    void operator()(cmark_iter* iter) const noexcept { cmark_iter_free(iter); }
};

/// The words of an inline subtree: text and code, breaks as spaces, raw HTML left out.
void inline_text(cmark_node* node, std::string& out)
{
    const std::unique_ptr<cmark_iter, IterFree> iter{cmark_iter_new(node)};
    for (auto event = cmark_iter_next(iter.get()); event != CMARK_EVENT_DONE;
         event = cmark_iter_next(iter.get())) {
        if (event != CMARK_EVENT_ENTER)
            continue;
        cmark_node* current = cmark_iter_get_node(iter.get());
        switch (cmark_node_get_type(current)) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE:
            if (const char* literal = cmark_node_get_literal(current))
                out += literal;
            break;
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK:
            out += ' ';
            break;
        default:
            break;
        }
    }
}

/// Text that is not UTF-8 is taken as Windows-1252; a byte-order mark is dropped.
std::string as_utf8(std::string_view bytes)
{
    if (bytes.starts_with("\xEF\xBB\xBF"))
        bytes.remove_prefix(3);
    return is_utf8(bytes) ? std::string{bytes} : windows_1252_to_utf8(bytes);
}

} // namespace

Result<Document> extract_markdown(std::string_view bytes, const DocumentLimits& limits)
{
    const auto text = as_utf8(bytes);
    const std::unique_ptr<cmark_node, NodeFree> root{
        cmark_parse_document(text.data(), text.size(), CMARK_OPT_DEFAULT)};
    DocumentBuilder builder{DocumentFormat::markdown, limits};
    if (!root)
        return std::move(builder).finish();
    ListNumbering lists;
    std::optional<ListItemMark> pending;
    std::string block;
    const std::unique_ptr<cmark_iter, IterFree> iter{cmark_iter_new(root.get())};
    for (auto event = cmark_iter_next(iter.get()); event != CMARK_EVENT_DONE && !builder.failed();
         event = cmark_iter_next(iter.get())) {
        cmark_node* node = cmark_iter_get_node(iter.get());
        const auto type = cmark_node_get_type(node);
        if (event == CMARK_EVENT_EXIT) {
            if (type == CMARK_NODE_LIST)
                lists.close();
            else if (type == CMARK_NODE_ITEM)
                pending.reset();
            continue;
        }
        switch (type) {
        case CMARK_NODE_HEADING:
            block.clear();
            inline_text(node, block);
            builder.heading(block, cmark_node_get_heading_level(node));
            cmark_iter_reset(iter.get(), node, CMARK_EVENT_EXIT); // its inlines are read
            break;
        case CMARK_NODE_LIST:
            lists.open(cmark_node_get_list_type(node) == CMARK_ORDERED_LIST,
                       cmark_node_get_list_start(node));
            break;
        case CMARK_NODE_ITEM:
            pending = lists.next();
            break;
        case CMARK_NODE_PARAGRAPH:
            block.clear();
            inline_text(node, block);
            if (pending && cmark_node_get_type(cmark_node_parent(node)) == CMARK_NODE_ITEM) {
                builder.list_item(block, *pending);
                pending.reset(); // the item's next paragraphs are paragraphs
            } else {
                builder.paragraph(block);
            }
            cmark_iter_reset(iter.get(), node, CMARK_EVENT_EXIT);
            break;
        case CMARK_NODE_CODE_BLOCK:
            if (const char* literal = cmark_node_get_literal(node))
                builder.paragraph(literal);
            break;
        default:
            break; // block quotes are walked into; raw HTML and rules carry no text
        }
    }
    return std::move(builder).finish();
}

Result<Document> extract_text(std::string_view bytes, const DocumentLimits& limits)
{
    const auto text = as_utf8(bytes);
    DocumentBuilder builder{DocumentFormat::text, limits};
    // Paragraphs end at a blank line; an item at the next marker, a blank line or a line that
    // is not indented under it. Indentation gives an item's depth.
    std::string block;
    std::optional<LineMarker> item;
    int depth = 1;
    std::vector<std::size_t> indents;
    const auto flush = [&] {
        if (item)
            builder.list_item(block, depth, item->numbered, item->number);
        else
            builder.paragraph(block);
        block.clear();
        item.reset();
    };
    std::string_view rest{text};
    while (!rest.empty() && !builder.failed()) {
        const auto end = rest.find('\n');
        auto line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        const auto indent = line.find_first_not_of(" \t");
        if (indent == std::string_view::npos) {
            flush();
            continue;
        }
        if (const auto marker = line_marker(line)) {
            flush();
            while (!indents.empty() && indents.back() > indent)
                indents.pop_back();
            if (indents.empty() || indents.back() < indent)
                indents.push_back(indent);
            depth = static_cast<int>(indents.size());
            item = marker;
            block.assign(line.substr(marker->text_start));
            continue;
        }
        if (item && indent == 0)
            flush();
        if (!item && indent == 0)
            indents.clear();
        if (!block.empty())
            block += ' ';
        block.append(line);
    }
    flush();
    return std::move(builder).finish();
}

} // namespace opalebot::knowledge::documents
