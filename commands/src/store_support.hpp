#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace opalebot::commands {

// Helpers of the stores that share the bot's state file.

/// A connection to the bot's state file (or ":memory:"): WAL, foreign keys, and a busy timeout,
/// since the state store, the other stores and a CLI import may be writing through their own.
SQLite::Database open_shared_database(const std::string& path);

/// The schema version a store recorded in its own `table` (created empty when absent), 0 for a
/// new database. Stores that share the bot's state file keep their version there, never in
/// user_version, which belongs to the state store. Throws when a newer opale-bot wrote it.
int table_schema_version(SQLite::Database& db, const std::string& table, int known,
                         const std::string& tables_name);

/// Instants stored as Unix milliseconds.
inline std::int64_t to_millis(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline std::chrono::system_clock::time_point from_millis(std::int64_t ms)
{
    return std::chrono::system_clock::time_point{
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::milliseconds{ms})};
}

} // namespace opalebot::commands
