#pragma once

#include "opalebot/result.hpp"

#include <SQLiteCpp/Database.h>

#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace opalebot {

/// The schema of one component of the state file (the state store, the crypto tables, each
/// store of commands/…): its name in table `schema_versions`, and its migration ladder.
struct Schema {
    std::string_view component; ///< "state", "crypto", "eple"…: the key in schema_versions
    /// Step i takes the component from version i to i + 1, in one savepoint with the new version.
    /// Append new steps; never edit or reorder old ones, which files already went through.
    std::span<const char* const> steps;
    /// Where releases up to c96ed71 kept the version: their own `<x>_schema` table, or (the state
    /// store) `PRAGMA user_version`. Read once, moved into schema_versions, then dropped or reset.
    std::string_view legacy_table = {};
    bool legacy_user_version = false;
};

/// Brings `schema` up to date on `db`, creating schema_versions when needed, in a savepoint (so it
/// nests inside a caller's transaction, and a failed step changes nothing). Throws, which stops
/// start-up, for a failed step or a version newer than this build. For the crypto engine, which
/// opens on a bare connection; stores go through StateDatabase::migrate.
void migrate(SQLite::Database& db, const Schema& schema);

/// The version of `component` recorded in schema_versions; 0 when it has none.
int schema_version(SQLite::Database& db, std::string_view component);

/// The bot's state file, opened once by the composition root and handed to every store: one
/// connection (each connection kept its own copy of the schema and of the pages it read) and the
/// mutex a store holds for the whole of a method, statements and transaction, so that no other
/// thread's statement lands inside its transaction. The mutex is recursive because a store may
/// read another one inside its own transaction (the kit campaign reads the EPLE statuses). Stores
/// never hold it across a network call: the sender thread waits on it.
class StateDatabase {
public:
    /// Opens (creating it if needed) `path`, or ":memory:" for tests: WAL, foreign keys, a busy
    /// timeout (a CLI import may write from another process). Throws on failure, with a French
    /// message that names the file: an existing file that is empty or not a database is refused,
    /// left as it is, never started over.
    explicit StateDatabase(const std::string& path);

    SQLite::Database& connection() noexcept { return db_; }
    std::recursive_mutex& mutex() noexcept { return mutex_; }

    /// migrate(connection(), schema) under the mutex; a failure names the file.
    void migrate(const Schema& schema);

private:
    SQLite::Database db_;
    std::string path_;
    std::recursive_mutex mutex_;
};

/// A failed read or write of the state file, as the Error a store returns (Kind::storage). With
/// `what` (what the store was doing) the message is "what : cause"; with a `log_name` too, the
/// failure is logged at error level there for admins, since callers often show users a generic
/// message instead.
Error storage_error(const std::exception& cause, std::string_view what = {},
                    std::string_view log_name = {});

} // namespace opalebot
