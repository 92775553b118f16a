#include "opalebot/state_backup.hpp"

#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace opalebot {
namespace {

namespace fs = std::filesystem;

Error failure(Error::Kind kind, std::string message)
{
    return Error{kind, 0, {}, std::move(message), {}, false};
}

std::string cause_of(int error_number)
{
    return std::strerror(error_number);
}

/// The temporary copy and the files SQLite may leave beside it, removed unless kept.
class TempCopy {
public:
    explicit TempCopy(std::string path) : path_(std::move(path)) {}
    ~TempCopy()
    {
        if (kept_)
            return;
        for (const char* suffix : {"", "-journal", "-wal", "-shm"})
            ::unlink((path_ + suffix).c_str());
    }
    TempCopy(const TempCopy&) = delete;
    TempCopy& operator=(const TempCopy&) = delete;

    const std::string& path() const noexcept { return path_; }
    void keep() noexcept { kept_ = true; }

private:
    std::string path_;
    bool kept_ = false;
};

/// Flushes `path` (a file or a folder) to the disk; false with errno set on failure.
bool sync_to_disk(const std::string& path, int flags)
{
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool synced = ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return synced;
}

/// The source, opened read-only: a wrong path must never become a new empty database.
Result<std::unique_ptr<SQLite::Database>> open_source(const std::string& source)
{
    struct stat status {};
    if (::stat(source.c_str(), &status) != 0)
        return failure(Error::Kind::not_found,
                       source + " : fichier d'état introuvable" +
                           (errno == ENOENT ? std::string{} : " (" + cause_of(errno) + ")") +
                           " ; vérifiez state.database dans la configuration, ou --db");
    if (!S_ISREG(status.st_mode))
        return failure(Error::Kind::invalid, source + " : ce n'est pas un fichier");
    try {
        auto db = std::make_unique<SQLite::Database>(source, SQLite::OPEN_READONLY);
        db->setBusyTimeout(5000);
        if (schema_version(*db, "state") == 0)
            return failure(Error::Kind::invalid,
                           source + " : ce n'est pas un fichier d'état d'opale-bot (pas de "
                                    "version « state » dans schema_versions)");
        return db;
    } catch (const SQLite::Exception& e) {
        return failure(Error::Kind::storage,
                       source + " : lecture impossible du fichier d'état (" + e.what() + ")");
    }
}

/// Copies every page of `source` into `copy` inside one read transaction of `source`, so that
/// the pages all come from the same snapshot even when the bot commits between two steps.
void copy_pages(SQLite::Database& source, SQLite::Database& copy, int pages_per_step)
{
    SQLite::Transaction snapshot{source, SQLite::TransactionBehavior::DEFERRED};
    source.execAndGet("SELECT count(*) FROM sqlite_master"); // takes the read lock now
    SQLite::Backup backup{copy, source};
    int busy_waits = 0;
    for (;;) {
        const int rc = backup.executeStep(pages_per_step);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            if (++busy_waits > 500) // 5 s, the busy timeout of the bot's own connections
                throw SQLite::Exception("base occupée trop longtemps", rc);
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        }
    }
} // the read transaction ends here (rolled back: it wrote nothing)

} // namespace

Result<StateCopyReport> copy_state_file(const std::string& source, const std::string& destination,
                                        const StateCopyOptions& options)
{
    const auto started = std::chrono::steady_clock::now();
    auto opened = open_source(source);
    if (!opened)
        return opened.error();
    auto& source_db = *opened.value();

    const fs::path target{destination};
    if (target.filename().empty())
        return failure(Error::Kind::invalid, destination + " : il manque le nom du fichier");
    const fs::path folder = target.parent_path().empty() ? fs::path{"."} : target.parent_path();
    std::error_code error;
    if (!fs::is_directory(folder, error))
        return failure(Error::Kind::not_found,
                       folder.string() + " : dossier de destination introuvable");
    if (fs::exists(target, error)) {
        if (fs::equivalent(target, source, error))
            return failure(Error::Kind::invalid,
                           destination + " : c'est le fichier d'état lui-même, pas une copie");
        if (!options.replace)
            return failure(Error::Kind::invalid, destination +
                                                     " : le fichier existe déjà ; ajoutez "
                                                     "--remplacer pour l'écraser");
        if (fs::is_directory(target, error))
            return failure(Error::Kind::invalid, destination + " : c'est un dossier");
    }

    // A hidden name in the destination's folder: the rename is atomic, on the same file system.
    std::string pattern = (folder / ("." + target.filename().string() + ".XXXXXX")).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkostemp(name.data(), O_CLOEXEC); // mode 0600
    if (fd < 0)
        return failure(Error::Kind::storage, folder.string() +
                                                 " : impossible d'y écrire la sauvegarde (" +
                                                 cause_of(errno) + ")");
    ::close(fd);
    TempCopy temp{name.data()};

    try {
        SQLite::Database copy{temp.path(), SQLite::OPEN_READWRITE};
        copy_pages(source_db, copy, options.pages_per_step);
        // The copy's header says WAL, as the source's; one self-contained file is easier to move
        // and restore, and the bot puts WAL back when it opens it.
        copy.exec("PRAGMA journal_mode = DELETE");
        if (options.prepare_copy) {
            SQLite::Transaction transaction{copy};
            options.prepare_copy(copy);
            transaction.commit();
        }
        const auto check = copy.execAndGet("PRAGMA quick_check").getString();
        if (check != "ok")
            return failure(Error::Kind::storage,
                           destination + " : la copie est incohérente (" + check + ")");
    } catch (const std::exception& e) {
        return failure(Error::Kind::storage,
                       destination + " : copie impossible (" + e.what() + ")");
    }
    opened.value().reset(); // the source is closed before the copy takes its name
    if (!sync_to_disk(temp.path(), O_RDONLY))
        return failure(Error::Kind::storage, destination +
                                                 " : écriture sur le disque impossible (" +
                                                 cause_of(errno) + ")");
    if (options.replace) {
        if (::rename(temp.path().c_str(), destination.c_str()) != 0)
            return failure(Error::Kind::storage,
                           destination + " : renommage impossible (" + cause_of(errno) + ")");
    } else if (::link(temp.path().c_str(), destination.c_str()) == 0) {
        ::unlink(temp.path().c_str()); // link() refuses an existing name, even one made just now
    } else if (errno == EEXIST) {
        return failure(Error::Kind::invalid, destination + " : le fichier existe déjà ; ajoutez "
                                                           "--remplacer pour l'écraser");
    } else if ((errno == EPERM || errno == EOPNOTSUPP) && !fs::exists(target, error)) {
        // a file system without hard links (vfat, some network shares): checked just above
        if (::rename(temp.path().c_str(), destination.c_str()) != 0)
            return failure(Error::Kind::storage,
                           destination + " : renommage impossible (" + cause_of(errno) + ")");
    } else {
        return failure(Error::Kind::storage,
                       destination + " : renommage impossible (" + cause_of(errno) + ")");
    }
    temp.keep();
    sync_to_disk(folder.string(), O_RDONLY | O_DIRECTORY); // the new name survives a power cut

    StateCopyReport report;
    report.bytes = fs::file_size(target, error);
    report.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return report;
}

} // namespace opalebot
