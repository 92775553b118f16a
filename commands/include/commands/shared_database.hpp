#pragma once

#include <SQLiteCpp/Database.h>

#include <memory>
#include <mutex>
#include <string>

namespace opalebot::commands {

/// The connection to the bot's state file that the stores of a process share. One connection
/// per store kept its own copy of the schema and of the pages it had read: 0.5 MiB for eight.
/// A store holds `mutex` for the whole of a method (statements and its transaction), so that no
/// other thread's statement lands inside that transaction; it is recursive because a store may
/// read another one inside its own transaction (the kit campaign reads the EPLE statuses).
struct SharedDatabase {
    explicit SharedDatabase(SQLite::Database connection) : db(std::move(connection)) {}

    SQLite::Database db;
    std::recursive_mutex mutex;
};

/// The shared connection to the state file at `path` (WAL, foreign keys, busy timeout), opened by
/// the first store and closed with the last one. ":memory:" is never shared: each is a database
/// of its own, as before.
std::shared_ptr<SharedDatabase> share_database(const std::string& path);

} // namespace opalebot::commands
