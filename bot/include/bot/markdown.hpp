#pragma once

#include <cstddef>
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

/// What fit_in_event leaves for a reply's body and formatted_body together, as JSON strings:
/// Synapse refuses an event over 64 KiB (413), and the rest of the event needs room too.
inline constexpr std::size_t max_reply_bytes = 48 * 1024;

/// `markdown` as it is when its text and HTML forms fit in `max_bytes` once escaped in JSON;
/// otherwise cut at the last paragraph (or line) boundary that fits, followed by
/// "… (suite tronquée : n caractères de plus)", so that a long reply is never lost (issue 15).
std::string fit_in_event(std::string_view markdown, std::size_t max_bytes = max_reply_bytes);

/// Text escaped for HTML: & < > " '.
std::string escape_html(std::string_view text);

} // namespace opalebot::bot
