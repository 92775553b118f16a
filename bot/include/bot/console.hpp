#pragma once

#include "opalebot/result.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::bot {

/// Answers one message with Markdown, or with nothing.
using MessageHandler = std::function<std::optional<std::string>(std::string_view text)>;

/// Work done while the console waits for a line (due reminders…): the messages it returns, in
/// Markdown, are printed as the bot's messages.
using ConsoleTick = std::function<std::vector<std::string>()>;

/// The console transport: one message per line of `in`, given to `handle` (the same router as
/// the Matrix bot); each reply printed as plain text followed by a blank line. With `tick`, it
/// runs at start and then every `every` until the input ends, on the caller's thread as
/// `handle` (a helper thread only reads the lines). Returns at the end of the input.
void run_console(std::istream& in, std::ostream& out, const MessageHandler& handle,
                 const ConsoleTick& tick = {},
                 std::chrono::milliseconds every = std::chrono::seconds{1});

/// Writes a file the bot sent (a chart, an export) as `name` in `folder`, created if need be,
/// never over an existing file ("export.csv", then "export-2.csv"…); only the last part of
/// `name` counts. Returns the path written, or an error in French.
Result<std::filesystem::path> save_console_file(const std::filesystem::path& folder,
                                                std::string_view name, std::string_view content);

} // namespace opalebot::bot
