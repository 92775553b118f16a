#include "store_support.hpp"

#include "commands/shared_database.hpp"

#include <SQLiteCpp/Statement.h>

#include <map>
#include <stdexcept>

namespace opalebot::commands {

SQLite::Database open_shared_database(const std::string& path)
{
    SQLite::Database db{path,
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX};
    if (path != ":memory:")
        db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    db.setBusyTimeout(5000);
    return db;
}

std::shared_ptr<SharedDatabase> share_database(const std::string& path)
{
    if (path == ":memory:")
        return std::make_shared<SharedDatabase>(open_shared_database(path));
    // Keyed by the path as configured: every store of the bot gets the same string.
    static std::mutex registry_mutex;
    static std::map<std::string, std::weak_ptr<SharedDatabase>, std::less<>> open;
    const std::lock_guard lock{registry_mutex};
    auto& slot = open[path];
    if (auto shared = slot.lock())
        return shared;
    auto shared = std::make_shared<SharedDatabase>(open_shared_database(path));
    slot = shared;
    return shared;
}

int table_schema_version(SQLite::Database& db, const std::string& table, int known,
                         const std::string& tables_name)
{
    // `table` is a constant of the calling store, never user input.
    db.exec("CREATE TABLE IF NOT EXISTS " + table + " (version INTEGER NOT NULL)");
    int version = 0;
    SQLite::Statement query{db, "SELECT max(version) FROM " + table};
    if (query.executeStep() && !query.getColumn(0).isNull())
        version = query.getColumn(0).getInt();
    if (version > known)
        throw std::runtime_error(tables_name + " come from a newer opale-bot (schema " +
                                 std::to_string(version) + ")");
    return version;
}

} // namespace opalebot::commands
