#include "opalebot/state_database.hpp"

#include "opalebot/log.hpp"

#include <SQLiteCpp/Savepoint.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace opalebot {
namespace {

/// The version releases up to c96ed71 kept for `schema`, if any; forgotten there once read, so
/// that schema_versions is the only record left (inside the caller's savepoint).
int take_legacy_version(SQLite::Database& db, const Schema& schema)
{
    if (schema.legacy_user_version) {
        const int version = db.execAndGet("PRAGMA user_version").getInt();
        db.exec("PRAGMA user_version = 0");
        return version;
    }
    if (schema.legacy_table.empty() || !db.tableExists(std::string{schema.legacy_table}))
        return 0;
    // The name is a constant of the calling store, never user input.
    const std::string table{schema.legacy_table};
    int version = 0;
    {
        SQLite::Statement query{db, "SELECT max(version) FROM " + table};
        if (query.executeStep() && !query.getColumn(0).isNull())
            version = query.getColumn(0).getInt();
    } // finalised: a table being read cannot be dropped
    db.exec("DROP TABLE " + table);
    return version;
}

} // namespace

void migrate(SQLite::Database& db, const Schema& schema)
{
    SQLite::Savepoint savepoint{db, "schema_migrate"}; // nests inside a caller's transaction
    db.exec("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY,"
            " version INTEGER NOT NULL)");
    const std::string component{schema.component};
    SQLite::Statement query{db, "SELECT version FROM schema_versions WHERE component = ?"};
    SQLite::bind(query, component);
    const int version =
        query.executeStep() ? query.getColumn(0).getInt() : take_legacy_version(db, schema);
    query.reset();
    const auto known = static_cast<int>(schema.steps.size());
    if (version > known)
        throw std::runtime_error("the " + component + " tables of the state file come from a " +
                                 "newer opale-bot (schema " + std::to_string(version) + ")");
    for (auto step = static_cast<std::size_t>(version); step < schema.steps.size(); ++step)
        db.exec(schema.steps[step]);
    SQLite::Statement save{db, "INSERT OR REPLACE INTO schema_versions (component, version)"
                               " VALUES (?, ?)"};
    SQLite::bind(save, component, known);
    save.exec();
    savepoint.release();
}

int schema_version(SQLite::Database& db, std::string_view component)
{
    if (!db.tableExists("schema_versions"))
        return 0;
    SQLite::Statement query{db, "SELECT version FROM schema_versions WHERE component = ?"};
    SQLite::bind(query, std::string{component});
    return query.executeStep() ? query.getColumn(0).getInt() : 0;
}

namespace {

constexpr const char* what_to_do =
    "Restaurez une sauvegarde de ce fichier ; ou, pour repartir de zéro en connaissance de cause "
    "(nouvel appareil, dialogues, rappels et identité de chiffrement perdus), supprimez-le.";

/// `cause`, a failure of SQLite on the state file, with the file's name and what to do.
std::string unusable(const std::string& path, const std::exception& cause)
{
    return path + " : fichier d'état inutilisable (" + cause.what() +
           ") ; vérifiez le disque et les droits. " + what_to_do;
}

/// The state file holds the access token and the crypto keys: it is created 0600 (SQLite gives
/// its -wal and -shm files the same mode), and a file others can read is refused (issue 14).
const std::string& private_file(const std::string& path)
{
    if (path.empty() || path == ":memory:" || path.starts_with("file:"))
        return path;
    // SQLite reads an empty file as a new database: a truncated state file would silently become
    // a new device, with every dialogue, reminder and the encryption identity gone (issue 15).
    if (struct stat existing{};
        ::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) && existing.st_size == 0)
        throw std::runtime_error(
            path + " : le fichier d'état existe mais est vide (0 octet), sans doute tronqué ; " +
            "opale-bot refuse d'en repartir de zéro. " + what_to_do);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0)
        throw std::runtime_error(path + " : ouverture impossible (" + std::strerror(errno) + ")");
    struct stat status {};
    const int stat_result = ::fstat(fd, &status);
    ::close(fd);
    if (stat_result != 0)
        throw std::runtime_error(path + " : " + std::strerror(errno));
    if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(status.st_mode & 0777U));
        throw std::runtime_error(path + " : lisible par d'autres comptes (droits " + mode +
                                 ") alors qu'il contient le jeton d'accès et les clés de "
                                 "chiffrement ; corrigez avec « chmod 600 " +
                                 path + " »");
    }
    return path;
}

} // namespace

// Every SQLite failure here names the file ("file is not a database" alone says not which).
StateDatabase::StateDatabase(const std::string& path)
try : db_(private_file(path),
          SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_FULLMUTEX),
    path_(path) {
    db_.setBusyTimeout(5000);
    // Reads the header: a file that is not a database stops here, untouched.
    db_.execAndGet("SELECT count(*) FROM sqlite_master");
    if (path != ":memory:")
        db_.exec("PRAGMA journal_mode = WAL");
    // WAL + NORMAL, as the state store always had: a commit survives a crash of the bot, and a
    // power cut may only lose the last commits, never corrupt the file; a sync batch lost that way
    // is synced again and resent with the same txn ids, which the server de-duplicates.
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec("PRAGMA foreign_keys = ON");
} catch (const SQLite::Exception& e) {
    throw std::runtime_error(unusable(path, e));
}

void StateDatabase::migrate(const Schema& schema)
{
    const std::lock_guard lock{mutex_};
    try {
        opalebot::migrate(db_, schema);
    } catch (const SQLite::Exception& e) { // kept a SQLite::Exception, with the file's name
        if (path_ == ":memory:")
            throw;
        throw SQLite::Exception(unusable(path_, e), e.getErrorCode());
    } catch (const std::runtime_error& e) {
        if (path_ == ":memory:")
            throw;
        throw std::runtime_error(path_ + " : " + e.what());
    }
}

Error storage_error(const std::exception& cause, std::string_view what, std::string_view log_name)
{
    if (!log_name.empty())
        log::get(log_name)->error("{} failed: {}", what, cause.what());
    std::string message = what.empty() ? std::string{} : std::string{what} + " : ";
    return Error{Error::Kind::storage, 0, {}, message + cause.what(), {}, false};
}

} // namespace opalebot
