#include "opalebot/state_database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

using opalebot::Schema;
using opalebot::StateDatabase;
using opalebot::testing::TempDir;

namespace {

constexpr std::array<const char*, 2> notes_steps = {
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
    "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT ''"};
constexpr Schema notes{"notes", notes_steps, "notes_schema"};

int rows(SQLite::Database& db, const std::string& table)
{
    return db.execAndGet("SELECT count(*) FROM " + table).getInt();
}

std::string contents(const std::string& path)
{
    std::ifstream in{path, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// The message with which opening `path` is refused; empty when it opens.
std::string refusal(const std::string& path)
{
    try {
        const StateDatabase state{path};
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("state database runs each step once and records the version")
    {
        StateDatabase state{":memory:"};
        state.migrate(notes);
        auto& db = state.connection();
        CHECK(opalebot::schema_version(db, "notes") == 2);
        db.exec("INSERT INTO notes (text, author) VALUES ('a', 'b')");
        state.migrate(notes); // nothing left to run: a second CREATE TABLE would throw
        CHECK(rows(db, "notes") == 1);
        CHECK(opalebot::schema_version(db, "other") == 0);
    }

    TEST_CASE("state database runs only the steps a file has not been through")
    {
        StateDatabase state{":memory:"};
        auto& db = state.connection();
        const std::array<const char*, 1> first_release = {notes_steps[0]};
        state.migrate(Schema{"notes", first_release, "notes_schema"});
        db.exec("INSERT INTO notes (text) VALUES ('kept')");
        state.migrate(notes);
        CHECK(opalebot::schema_version(db, "notes") == 2);
        CHECK(db.execAndGet("SELECT text || '/' || author FROM notes").getString() == "kept/");
    }

    TEST_CASE("state database takes the version of an old schema table and drops it")
    {
        StateDatabase state{":memory:"};
        auto& db = state.connection();
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
        db.exec("INSERT INTO notes (text) VALUES ('old')");
        db.exec("CREATE TABLE notes_schema (version INTEGER NOT NULL)");
        db.exec("INSERT INTO notes_schema (version) VALUES (1)");
        state.migrate(notes);
        CHECK(opalebot::schema_version(db, "notes") == 2);
        CHECK_FALSE(db.tableExists("notes_schema"));
        CHECK(rows(db, "notes") == 1);
    }

    TEST_CASE("state database takes the version kept in user_version and resets it")
    {
        StateDatabase state{":memory:"};
        auto& db = state.connection();
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
        db.exec("PRAGMA user_version = 1");
        state.migrate(Schema{"notes", notes_steps, {}, true});
        CHECK(opalebot::schema_version(db, "notes") == 2);
        CHECK(db.execAndGet("PRAGMA user_version").getInt() == 0);
    }

    TEST_CASE("state database refuses a newer schema and changes nothing")
    {
        StateDatabase state{":memory:"};
        auto& db = state.connection();
        db.exec("CREATE TABLE notes_schema (version INTEGER NOT NULL)");
        db.exec("INSERT INTO notes_schema (version) VALUES (3)"); // a build with three steps
        CHECK_THROWS_AS(state.migrate(notes), std::runtime_error);
        CHECK(db.tableExists("notes_schema")); // left as it was, for the newer build
        CHECK_FALSE(db.tableExists("notes"));
        CHECK(opalebot::schema_version(db, "notes") == 0);
        db.exec("DROP TABLE notes_schema");
        state.migrate(Schema{"other", {}}); // creates schema_versions
        db.exec("INSERT INTO schema_versions (component, version) VALUES ('notes', 5)");
        CHECK_THROWS_AS(state.migrate(notes), std::runtime_error);
        CHECK(opalebot::schema_version(db, "notes") == 5);
    }

    TEST_CASE("state database leaves nothing of a failed step")
    {
        StateDatabase state{":memory:"};
        const std::array<const char*, 2> broken = {notes_steps[0], "ALTER TABLE absent ADD x"};
        CHECK_THROWS_AS(state.migrate(Schema{"notes", broken}), SQLite::Exception);
        auto& db = state.connection();
        CHECK_FALSE(db.tableExists("notes"));
        CHECK(opalebot::schema_version(db, "notes") == 0);
    }

    TEST_CASE("state database migrates inside a caller's transaction")
    {
        StateDatabase state{":memory:"};
        auto& db = state.connection();
        {
            SQLite::Transaction transaction{db};
            opalebot::migrate(db, notes);
        } // rolled back, with the caller's transaction
        CHECK_FALSE(db.tableExists("notes"));
        CHECK(opalebot::schema_version(db, "notes") == 0);
    }

    TEST_CASE("state database shares one connection between components")
    {
        const TempDir dir;
        StateDatabase state{dir.file("state.db")};
        CHECK(state.connection().execAndGet("PRAGMA journal_mode").getString() == "wal");
        CHECK(state.connection().execAndGet("PRAGMA foreign_keys").getInt() == 1);
        const std::array<const char*, 1> other_steps = {"CREATE TABLE other (x INTEGER)"};
        state.migrate(notes);
        state.migrate(Schema{"other", other_steps});
        CHECK(rows(state.connection(), "schema_versions") == 2);
    }

    TEST_CASE("storage errors say what failed and why")
    {
        const std::runtime_error cause{"disk I/O error"};
        const auto plain = opalebot::storage_error(cause);
        CHECK(plain.kind == opalebot::Error::Kind::storage);
        CHECK(plain.message == "disk I/O error");
        const auto described = opalebot::storage_error(cause, "lecture des tickets", "commands");
        CHECK(described.message == "lecture des tickets : disk I/O error");
    }

    TEST_CASE("the state file is private to its owner and a readable one is refused")
    {
        namespace fs = std::filesystem;
        const TempDir dir;
        const auto path = dir.file("state.db");
        {
            opalebot::StateDatabase state{path};
            state.connection().exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
            const auto others = fs::perms::group_all | fs::perms::others_all;
            CHECK((fs::status(path).permissions() & others) == fs::perms::none);
            CHECK((fs::status(path + "-wal").permissions() & others) == fs::perms::none);
        }
        fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
        try {
            opalebot::StateDatabase readable{path};
            FAIL("a state file others can read was opened");
        } catch (const std::runtime_error& e) {
            const std::string message = e.what();
            CHECK(message.find("chmod 600") != std::string::npos);
            CHECK(message.find("604") != std::string::npos);
        }
        fs::permissions(path, fs::perms::others_read, fs::perm_options::remove);
        opalebot::StateDatabase again{path}; // nothing was changed or lost
        CHECK(again.connection().execAndGet("SELECT x FROM t").getInt() == 1);
    }

    TEST_CASE("an empty or garbled state file is refused by name and left untouched")
    {
        // issue 15, item 3: a file truncated to 0 bytes was silently started over.
        namespace fs = std::filesystem;
        const TempDir dir;
        const auto empty = dir.file("vide.db");
        std::ofstream{empty}.close();
        fs::permissions(empty, fs::perms::owner_read | fs::perms::owner_write);
        const auto empty_refusal = refusal(empty);
        CHECK(empty_refusal.find(empty + " : ") == 0);
        CHECK(empty_refusal.find("vide") != std::string::npos);
        CHECK(empty_refusal.find("Restaurez une sauvegarde") != std::string::npos);
        CHECK(fs::file_size(empty) == 0);
        CHECK_FALSE(fs::exists(empty + "-wal"));

        const auto garbled = dir.file("abime.db");
        const std::string garbage(8192, 'x');
        std::ofstream{garbled, std::ios::binary} << garbage;
        fs::permissions(garbled, fs::perms::owner_read | fs::perms::owner_write);
        const auto garbled_refusal = refusal(garbled);
        CHECK(garbled_refusal.find(garbled + " : ") == 0);
        CHECK(garbled_refusal.find("not a database") != std::string::npos);
        CHECK(garbled_refusal.find("Restaurez une sauvegarde") != std::string::npos);
        CHECK(contents(garbled) == garbage);

        CHECK(refusal(dir.file("neuf.db")).empty()); // an absent file is still created
    }

    TEST_CASE("a failed migration of a state file names the file")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        StateDatabase state{path};
        const std::array<const char*, 1> broken = {"ALTER TABLE absent ADD x"};
        try {
            state.migrate(Schema{"notes", broken});
            FAIL("a broken step migrated");
        } catch (const SQLite::Exception& e) {
            CHECK(std::string{e.what()}.find(path + " : ") == 0);
        }
    }
}
