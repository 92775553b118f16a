#include "bot/markdown.hpp"

#include <cmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace opalebot::bot {
namespace {

struct NodeDeleter {
    void operator()(cmark_node* node) const noexcept { cmark_node_free(node); }
};
struct MallocDeleter { // cmark's rendered strings come from malloc
    void operator()(char* text) const noexcept { std::free(text); }
};
struct IterDeleter {
    void operator()(cmark_iter* iter) const noexcept { cmark_iter_free(iter); }
};

void end_line(std::string& out)
{
    if (!out.empty() && out.back() != '\n')
        out += '\n';
}

void end_block(std::string& out)
{
    end_line(out);
    if (out.size() >= 2 && out[out.size() - 2] != '\n')
        out += '\n';
}

} // namespace

std::string markdown_to_text(std::string_view markdown)
{
    const std::unique_ptr<cmark_node, NodeDeleter> document{
        cmark_parse_document(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT)};
    if (!document)
        return std::string{markdown};
    const std::unique_ptr<cmark_iter, IterDeleter> iter{cmark_iter_new(document.get())};
    std::string out;
    int list_depth = 0;
    for (auto event = cmark_iter_next(iter.get()); event != CMARK_EVENT_DONE;
         event = cmark_iter_next(iter.get())) {
        cmark_node* node = cmark_iter_get_node(iter.get());
        const bool enter = event == CMARK_EVENT_ENTER;
        switch (cmark_node_get_type(node)) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE:
        case CMARK_NODE_HTML_INLINE:
            if (const char* literal = cmark_node_get_literal(node))
                out += literal;
            break;
        case CMARK_NODE_CODE_BLOCK:
        case CMARK_NODE_HTML_BLOCK:
            if (const char* literal = cmark_node_get_literal(node))
                out += literal;
            end_block(out);
            break;
        case CMARK_NODE_SOFTBREAK:
            out += ' ';
            break;
        case CMARK_NODE_LINEBREAK:
            out += '\n';
            break;
        case CMARK_NODE_LIST:
            list_depth += enter ? 1 : -1;
            if (!enter && list_depth == 0)
                end_block(out);
            break;
        case CMARK_NODE_ITEM:
            if (enter) {
                end_line(out);
                out += std::string(static_cast<std::size_t>(2 * (list_depth - 1)), ' ');
                cmark_node* list = cmark_node_parent(node);
                if (cmark_node_get_list_type(list) == CMARK_ORDERED_LIST) {
                    int number = cmark_node_get_list_start(list);
                    for (cmark_node* n = cmark_node_first_child(list); n != nullptr && n != node;
                         n = cmark_node_next(n))
                        ++number;
                    out += std::to_string(number) + ". ";
                } else {
                    out += "- ";
                }
            }
            break;
        case CMARK_NODE_PARAGRAPH:
            if (!enter)
                list_depth > 0 ? end_line(out) : end_block(out);
            break;
        case CMARK_NODE_HEADING:
            if (!enter)
                end_block(out);
            break;
        case CMARK_NODE_THEMATIC_BREAK:
            end_block(out);
            break;
        case CMARK_NODE_LINK:
            if (!enter) {
                const char* url = cmark_node_get_url(node);
                if (url != nullptr && *url != '\0' &&
                    std::string_view{url}.find("://") != std::string_view::npos)
                    out += std::string{" ("} + url + ")";
            }
            break;
        default:
            break;
        }
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    return out;
}

std::string markdown_to_html(std::string_view markdown)
{
    const std::unique_ptr<cmark_node, NodeDeleter> document{
        cmark_parse_document(markdown.data(), markdown.size(), CMARK_OPT_SAFE)};
    if (!document)
        return escape_html(markdown);
    // Images: Matrix clients only show mxc: images, so a link is what the reader can use.
    std::vector<cmark_node*> images;
    {
        const std::unique_ptr<cmark_iter, IterDeleter> iter{cmark_iter_new(document.get())};
        for (auto event = cmark_iter_next(iter.get()); event != CMARK_EVENT_DONE;
             event = cmark_iter_next(iter.get()))
            if (event == CMARK_EVENT_ENTER &&
                cmark_node_get_type(cmark_iter_get_node(iter.get())) == CMARK_NODE_IMAGE)
                images.push_back(cmark_iter_get_node(iter.get()));
    }
    for (cmark_node* image : images) {
        cmark_node* link = cmark_node_new(CMARK_NODE_LINK);
        if (link == nullptr)
            continue;
        const char* url = cmark_node_get_url(image);
        cmark_node_set_url(link, url != nullptr ? url : "");
        while (cmark_node* child = cmark_node_first_child(image))
            cmark_node_append_child(link, child); // moves it
        cmark_node_insert_before(image, link);
        cmark_node_free(image); // unlinks it
    }
    const std::unique_ptr<char, MallocDeleter> html{
        cmark_render_html(document.get(), CMARK_OPT_SAFE)};
    std::string out = html ? html.get() : "";
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

namespace {

/// The size of `text` as a JSON string, without its quotes (dump() keeps UTF-8 as it is).
std::size_t json_size(std::string_view text)
{
    std::size_t size = 0;
    for (const char c : text) {
        if (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f')
            size += 2;
        else if (static_cast<unsigned char>(c) < 0x20)
            size += 6; // \u00XX
        else
            size += 1;
    }
    return size;
}

std::size_t event_size(std::string_view markdown)
{
    return json_size(markdown_to_text(markdown)) + json_size(markdown_to_html(markdown));
}

/// Where to cut `markdown` to keep at most `limit` bytes: a paragraph boundary, else a line
/// boundary, in the second half; else the start of a UTF-8 character.
std::size_t cut_point(std::string_view markdown, std::size_t limit)
{
    if (const auto paragraph = markdown.rfind("\n\n", limit);
        paragraph != std::string_view::npos && paragraph >= limit / 2)
        return paragraph;
    if (const auto line = markdown.rfind('\n', limit);
        line != std::string_view::npos && line >= limit / 2)
        return line;
    while (limit > 0 && (static_cast<unsigned char>(markdown[limit]) & 0xC0U) == 0x80U)
        --limit;
    return limit;
}

/// The kept part, its code fence closed if the cut fell inside one, and the note.
std::string cut_reply(std::string_view markdown, std::size_t cut)
{
    std::string out{markdown.substr(0, cut)};
    bool in_fence = false;
    for (std::size_t at = 0; at < out.size();) {
        if (out.compare(at, 3, "```") == 0)
            in_fence = !in_fence;
        const auto end = out.find('\n', at);
        if (end == std::string::npos)
            break;
        at = end + 1;
    }
    if (in_fence)
        out += "\n```";
    std::size_t dropped = 0; // characters, not bytes
    for (const char c : markdown.substr(cut))
        dropped += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U ? 1 : 0;
    out += "\n\n… (suite tronquée : " + std::to_string(dropped) + " caractères de plus)";
    return out;
}

} // namespace

std::string fit_in_event(std::string_view markdown, std::size_t max_bytes)
{
    std::size_t size = event_size(markdown);
    if (size <= max_bytes)
        return std::string{markdown};
    std::size_t kept = markdown.size();
    for (;;) {
        // Both forms grow about linearly with the Markdown: aim a tenth under the bound.
        const auto limit = std::min(kept - 1, kept / 10 * 9 * max_bytes / size);
        kept = cut_point(markdown, limit);
        auto candidate = cut_reply(markdown, kept);
        size = event_size(candidate);
        if (size <= max_bytes || kept == 0)
            return candidate;
    }
}

std::string escape_html(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace opalebot::bot
