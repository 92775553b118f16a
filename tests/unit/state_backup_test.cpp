#include "bot/state_backup.hpp"

#include "bot/state_store.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto_store.hpp"
#include "support/temp_dir.hpp"
#include <date/date.h>
#include <sys/stat.h>

using namespace opalebot;
using opalebot::testing::TempDir;
namespace fs = std::filesystem;

namespace {

/// An opale-bot state file (the state store's tables) with `rows` rows of 400 bytes in `notes`:
/// a few hundred pages, so that a copy in steps of a page interleaves with a writer.
void make_state_file(const std::string& path, int rows)
{
    StateDatabase state{path};
    const bot::StateStore store{state};
    auto& db = state.connection();
    db.exec("CREATE TABLE notes (batch INTEGER NOT NULL, text TEXT NOT NULL)");
    SQLite::Transaction transaction{db};
    for (int i = 0; i < rows; ++i)
        db.exec("INSERT INTO notes VALUES (" + std::to_string(i / 2) + ", hex(randomblob(200)))");
    transaction.commit();
}

int count(SQLite::Database& db, const std::string& sql)
{
    return db.execAndGet(sql).getInt();
}

/// Files of `folder`, by name, but the -wal and -shm files SQLite keeps beside a database.
std::vector<std::string> names_in(const fs::path& folder)
{
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator{folder})
        if (const auto name = entry.path().filename().string();
            !name.ends_with("-wal") && !name.ends_with("-shm"))
            names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

/// The error of a failed result, for a test's message; evaluated on success too.
template <class T>
std::string why(const Result<T>& result)
{
    return result ? std::string{} : result.error().message;
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

/// 2026-03-10 at `hours`:`minutes` UTC (Paris is UTC+1 then).
std::chrono::system_clock::time_point utc(int day, int hours, int minutes)
{
    using namespace date;
    return sys_days{year{2026} / March / day} + std::chrono::hours{hours} +
           std::chrono::minutes{minutes};
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("a backup taken while another connection writes is consistent")
    {
        const TempDir dir;
        const auto source = dir.file("state.db");
        make_state_file(source, 4000);
        // The bot's writes, from a connection of their own: each transaction adds a whole batch
        // of two rows, so a copy that mixed two moments would show a batch of one.
        std::atomic<bool> done{false};
        std::atomic<int> batches{0};
        std::jthread writer{[&] {
            SQLite::Database db{source, SQLite::OPEN_READWRITE};
            db.setBusyTimeout(5000);
            db.exec("PRAGMA synchronous = OFF"); // many commits during the copy
            for (int batch = 10'000; !done; ++batch) {
                SQLite::Transaction transaction{db};
                for (int row = 0; row < 2; ++row)
                    db.exec("INSERT INTO notes VALUES (" + std::to_string(batch) +
                            ", hex(randomblob(200)))");
                transaction.commit();
                ++batches;
            }
        }};
        while (batches < 5) // the writer is going
            std::this_thread::yield();
        StateCopyOptions options;
        options.pages_per_step = 1; // as many chances as possible for a write between two steps
        const int before = batches;
        const auto copied = copy_state_file(source, dir.file("copie.db"), options);
        const int after = batches;
        done = true;
        writer.join();
        REQUIRE_MESSAGE(copied, why(copied));
        MESSAGE("batches committed by the writer during the copy: ", (after - before));
        CHECK(copied.value().bytes == fs::file_size(dir.file("copie.db")));

        SQLite::Database copy{dir.file("copie.db"), SQLite::OPEN_READONLY};
        CHECK(copy.execAndGet("PRAGMA integrity_check").getString() == "ok");
        CHECK(count(copy, "SELECT count(*) FROM notes WHERE batch < 10000") == 4000);
        CHECK(count(copy, "SELECT count(*) FROM (SELECT batch FROM notes GROUP BY batch "
                          "HAVING count(*) <> 2)") == 0);
        CHECK(schema_version(copy, "state") > 0);
        // One self-contained file: no -wal needed beside it.
        CHECK(copy.execAndGet("PRAGMA journal_mode").getString() == "delete");
    }

    TEST_CASE("a backup is private and its source opens again as a state file")
    {
        const TempDir dir;
        const auto source = dir.file("state.db");
        {
            StateDatabase state{source};
            bot::StateStore store{state};
            REQUIRE(store.save_filter_id("filtre-42"));
        }
        const auto backup = dir.file("sauvegarde.db");
        const auto copied = bot::back_up_state(source, backup);
        REQUIRE_MESSAGE(copied, why(copied));
        struct stat status {};
        REQUIRE(::stat(backup.c_str(), &status) == 0);
        CHECK((status.st_mode & 0777U) == 0600U);
        // Restored: the state store reads it as the original.
        StateDatabase restored{backup};
        bot::StateStore store{restored};
        const auto filter = store.filter_id();
        REQUIRE(filter);
        CHECK(filter.value() == "filtre-42");
    }

    TEST_CASE("a backup forgets the outbound room sessions and the source keeps them")
    {
        const TempDir dir;
        const auto source = dir.file("state.db");
        {
            StateDatabase state{source};
            const bot::StateStore store{state};
            bot::crypto::store::migrate(state.connection());
            state.connection().exec(
                "INSERT INTO crypto_outbound_group_sessions VALUES ('!salon:hs', 'S', 'pickle', "
                "0, 12, '{}')");
        }
        REQUIRE(bot::back_up_state(source, dir.file("copie.db")));
        SQLite::Database copy{dir.file("copie.db"), SQLite::OPEN_READONLY};
        CHECK(count(copy, "SELECT count(*) FROM crypto_outbound_group_sessions") == 0);
        SQLite::Database original{source, SQLite::OPEN_READONLY};
        CHECK(count(original, "SELECT count(*) FROM crypto_outbound_group_sessions") == 1);
    }

    TEST_CASE("a backup of a wrong path says why in French and creates nothing")
    {
        const TempDir dir;
        const auto missing = dir.file("absent.db");
        const auto result = bot::back_up_state(missing, dir.file("copie.db"));
        REQUIRE_FALSE(result);
        CHECK(contains(result.error().message, missing));
        CHECK(contains(result.error().message, "fichier d'état introuvable"));
        CHECK(names_in(dir.path()).empty()); // neither the source nor the copy appeared

        // A database of something else, and an empty file: refused, left as they are.
        {
            SQLite::Database other{dir.file("autre.db"),
                                   SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
            other.exec("CREATE TABLE t (x)");
        }
        dir.write("vide.db", "");
        for (const auto* name : {"autre.db", "vide.db"}) {
            const auto refused = bot::back_up_state(dir.file(name), dir.file("copie.db"));
            REQUIRE_FALSE(refused);
            CHECK(contains(refused.error().message, "pas un fichier d'état d'opale-bot"));
        }
        CHECK(fs::file_size(dir.file("vide.db")) == 0);
        CHECK(names_in(dir.path()) == std::vector<std::string>{"autre.db", "vide.db"});

        // A destination folder that does not exist.
        make_state_file(dir.file("state.db"), 2);
        const auto nowhere = bot::back_up_state(dir.file("state.db"), dir.file("non/copie.db"));
        REQUIRE_FALSE(nowhere);
        CHECK(contains(nowhere.error().message, "dossier de destination introuvable"));
        CHECK_FALSE(fs::exists(dir.file("non")));
    }

    TEST_CASE("a backup refuses to overwrite a file unless told to replace it")
    {
        const TempDir dir;
        const auto source = dir.file("state.db");
        make_state_file(source, 10);
        dir.write("copie.db", "précieux");
        const auto refused = bot::back_up_state(source, dir.file("copie.db"));
        REQUIRE_FALSE(refused);
        CHECK(contains(refused.error().message, "existe déjà"));
        CHECK(contains(refused.error().message, "--remplacer"));
        CHECK(fs::file_size(dir.file("copie.db")) == std::string{"précieux"}.size());
        CHECK(names_in(dir.path()) == std::vector<std::string>{"copie.db", "state.db"});

        const auto replaced = bot::back_up_state(source, dir.file("copie.db"), true);
        REQUIRE_MESSAGE(replaced, why(replaced));
        SQLite::Database copy{dir.file("copie.db"), SQLite::OPEN_READONLY};
        CHECK(count(copy, "SELECT count(*) FROM notes") == 10);

        const auto itself = bot::back_up_state(source, source, true);
        REQUIRE_FALSE(itself);
        CHECK(contains(itself.error().message, "fichier d'état lui-même"));
    }

    TEST_CASE("rotation keeps exactly the newest daily backups and touches nothing else")
    {
        const TempDir dir;
        for (int day = 1; day <= 10; ++day)
            dir.write(bot::daily_backup_name(2026, 3, static_cast<unsigned>(day)), "x");
        for (const auto* other : {"notes.txt", "opale-bot-2026-03-1.db", "opale-bot-latest.db",
                                  ".opale-bot-2026-03-11.db.Ab12Cd", "opale-bot-2026-03-01.db.gz"})
            dir.write(other, "y");
        const auto deleted = bot::rotate_daily_backups(dir.path(), 7);
        CHECK(deleted.size() == 3);
        const auto left = names_in(dir.path());
        CHECK(left ==
              std::vector<std::string>{
                  ".opale-bot-2026-03-11.db.Ab12Cd", "notes.txt", "opale-bot-2026-03-01.db.gz",
                  "opale-bot-2026-03-04.db", "opale-bot-2026-03-05.db", "opale-bot-2026-03-06.db",
                  "opale-bot-2026-03-07.db", "opale-bot-2026-03-08.db", "opale-bot-2026-03-09.db",
                  "opale-bot-2026-03-1.db", "opale-bot-2026-03-10.db", "opale-bot-latest.db"});
        CHECK(bot::rotate_daily_backups(dir.path(), 7).empty());
    }

    TEST_CASE("daily backups run once a day after their time and keep the newest")
    {
        const TempDir dir;
        const auto source = dir.file("state.db");
        make_state_file(source, 4);
        bot::Config::DailyBackup settings;
        settings.folder = dir.file("sauvegardes"); // made by the first backup
        settings.keep = 2;
        bot::DailyBackups backups{source, settings};
        CHECK_FALSE(backups.due(utc(10, 1, 29))); // 02:29 in Paris
        CHECK_FALSE(backups.tick(utc(10, 1, 29)));
        CHECK(backups.due(utc(10, 1, 30)));
        const auto first = backups.tick(utc(10, 1, 30));
        REQUIRE(first);
        CHECK(first->ok);
        CHECK(first->file == dir.file("sauvegardes/opale-bot-2026-03-10.db"));
        CHECK_FALSE(backups.due(utc(10, 22, 0))); // one a day
        CHECK_FALSE(backups.tick(utc(10, 23, 30)));
        REQUIRE(backups.tick(utc(11, 12, 0)));
        CHECK_FALSE(backups.tick(utc(11, 23, 30))); // 00:30 on the 12th in Paris: not yet
        REQUIRE(backups.tick(utc(12, 12, 0)));
        CHECK(names_in(settings.folder) ==
              std::vector<std::string>{"opale-bot-2026-03-11.db", "opale-bot-2026-03-12.db"});
        // Another object (a restart) the same day does not take a second one.
        const bot::DailyBackups after_restart{source, settings};
        CHECK_FALSE(after_restart.due(utc(12, 18, 0)));
        CHECK_FALSE(backups.last_failure());
        REQUIRE(backups.last_outcome());
        CHECK(backups.last_outcome()->ok);
    }

    TEST_CASE("a failed daily backup is remembered and tried again later")
    {
        const TempDir dir;
        bot::Config::DailyBackup settings;
        settings.folder = dir.file("sauvegardes");
        bot::DailyBackups backups{dir.file("absent.db"), settings, std::chrono::minutes{30}};
        bot::Alerts alerts;
        backups.report_to(&alerts);
        const auto failed = backups.tick(utc(10, 2, 0));
        REQUIRE(failed);
        CHECK_FALSE(failed->ok);
        CHECK(contains(failed->message, "introuvable"));
        const auto due = alerts.take_due(utc(10, 2, 0));
        REQUIRE(due.size() == 1); // the admins hear of it
        CHECK(due[0].kind == "backup");
        CHECK(contains(bot::alert_message(due[0]), "Sauvegarde quotidienne"));
        REQUIRE(backups.last_failure());
        CHECK(backups.last_failure()->file == dir.file("sauvegardes/opale-bot-2026-03-10.db"));
        CHECK_FALSE(backups.due(utc(10, 2, 29))); // not every minute
        CHECK(backups.due(utc(10, 2, 30)));

        make_state_file(dir.file("absent.db"), 2); // the cause is fixed
        const auto retried = backups.tick(utc(10, 2, 30));
        REQUIRE(retried);
        CHECK(retried->ok);
        CHECK_FALSE(backups.last_failure());
    }
}
