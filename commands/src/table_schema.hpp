#pragma once

#include <SQLiteCpp/Database.h>

#include <string>

namespace opalebot::commands {

/// The schema version a store recorded in its own `table` (created empty when absent), 0 for a
/// new database. Stores that share the bot's state file keep their version there, never in
/// user_version, which belongs to the state store. Throws when a newer opale-bot wrote it.
int table_schema_version(SQLite::Database& db, const std::string& table, int known,
                         const std::string& tables_name);

} // namespace opalebot::commands
