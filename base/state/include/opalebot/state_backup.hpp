#pragma once

#include "opalebot/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace SQLite {
class Database;
} // namespace SQLite

namespace opalebot {

struct StateCopyOptions {
    bool replace = false; ///< overwrite an existing destination (`sauvegarde --remplacer`)
    /// Pages copied per step of SQLite's backup API; the bot's writes go on between steps (WAL).
    int pages_per_step = 256;
    /// Run on the copy, in a transaction, before it takes its final name: what a bot restored
    /// from it must not reuse is forgotten there, never in the source.
    std::function<void(SQLite::Database&)> prepare_copy;
};

struct StateCopyReport {
    std::uintmax_t bytes = 0; ///< size of the copy
    std::chrono::milliseconds took{0};
};

/// Copies the state file `source` to `destination` while the bot may be writing it: a snapshot
/// read with SQLite's online backup API (one read transaction, so the copy is consistent), into a
/// temporary file of the destination's folder, mode 0600, checked (quick_check), synced, then
/// renamed: the destination's name never holds a half-written copy. `source` is opened read-only
/// and must already be an opale-bot state file; nothing is created when it is not. Errors are in
/// French and name the file.
[[nodiscard]] Result<StateCopyReport> copy_state_file(const std::string& source,
                                                      const std::string& destination,
                                                      const StateCopyOptions& options = {});

} // namespace opalebot
