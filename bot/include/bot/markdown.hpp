#pragma once

#include <string>
#include <string_view>

namespace opalebot::bot {

/// Markdown as plain text for a terminal or a Matrix `body`: markup removed, list items kept
/// as "- " or "1. ", links as "text (address)".
std::string markdown_to_text(std::string_view markdown);

} // namespace opalebot::bot
