#pragma once

#include <string>
#include <string_view>

namespace opalebot::bot {

/// Markdown as plain text for a terminal or a Matrix `body`: markup removed, list items kept
/// as "- " or "1. ", links as "text (address)".
std::string markdown_to_text(std::string_view markdown);

/// Markdown as Matrix `formatted_body` HTML: raw HTML is never passed through (cmark's safe
/// mode), images become links (the spec only allows mxc: images), and only the tags the spec
/// allows are produced. Text is escaped by cmark.
std::string markdown_to_html(std::string_view markdown);

/// Text escaped for HTML: & < > " '.
std::string escape_html(std::string_view text);

} // namespace opalebot::bot
