#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace opalebot::bot {

/// Answers one message with Markdown, or with nothing.
using MessageHandler = std::function<std::optional<std::string>(std::string_view text)>;

/// The console transport: one message per line of `in`, given to `handle` (the same router as
/// the Matrix bot); each reply printed as plain text followed by a blank line. Returns at the
/// end of the input.
void run_console(std::istream& in, std::ostream& out, const MessageHandler& handle);

} // namespace opalebot::bot
