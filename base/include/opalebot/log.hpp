#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::log {

/// Creates the named loggers (to stderr) before any thread starts: spdlog throws on a duplicate
/// name, so lazy creation would race (notes/style.md §6.4). Honours SPDLOG_LEVEL.
void init(std::initializer_list<std::string_view> names);

/// The logger called `name`; a logger that init() did not create falls back to the default one.
std::shared_ptr<spdlog::logger> get(std::string_view name);

/// A warning or error logged lately, for the admins' `!statut`. Logs never hold a secret or a
/// message text (at info level and above), so neither does this.
struct Problem {
    std::chrono::system_clock::time_point at;
    std::string source; ///< the logger: "bot.sync", "main"…
    std::string text;   ///< cut to about 160 bytes
    bool error = false; ///< error or critical; otherwise a warning
};

/// The last `count` warnings and errors of the loggers init() made, oldest first.
std::vector<Problem> recent_problems(std::size_t count = 5);

} // namespace opalebot::log
