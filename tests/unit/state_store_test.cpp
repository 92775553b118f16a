#include "bot/state_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

using namespace opalebot::bot;
namespace fs = std::filesystem;

namespace {

using opalebot::testing::TempDir;

QuestionRecord question(std::int64_t asked_at, std::string text, std::string entry_id = {})
{
    QuestionRecord record;
    record.asked_at = asked_at;
    record.room = "!salon:tchap.gouv.fr";
    record.sender = "@marie.dupont:agent.education.tchap.gouv.fr";
    record.question = std::move(text);
    record.kind = entry_id.empty() ? "inconnu" : "entree";
    record.entry_id = std::move(entry_id);
    record.score = 0.75;
    return record;
}

std::int64_t count(StateStore& store)
{
    const auto result = store.question_count();
    REQUIRE(static_cast<bool>(result));
    return result.value();
}

int user_version(const std::string& path)
{
    SQLite::Database db{path, SQLite::OPEN_READONLY};
    return db.execAndGet("PRAGMA user_version").getInt();
}

/// The state store's version in the state file's schema_versions.
int state_version(const std::string& path)
{
    SQLite::Database db{path, SQLite::OPEN_READONLY};
    return opalebot::schema_version(db, "state");
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("state store migrates an in-memory database")
    {
        StateStore store{":memory:"};
        CHECK(count(store) == 0);
    }

    TEST_CASE("state store counts recorded questions")
    {
        StateStore store{":memory:"};
        CHECK(static_cast<bool>(store.record_question(
            question(1'700'000'000, "comment créer le tiers ?", "tiers-ddfip"))));
        CHECK(count(store) == 1);
        CHECK(static_cast<bool>(
            store.record_question(question(1'700'000'100, "tarte aux pommes ?"))));
        CHECK(static_cast<bool>(store.record_question(question(1'700'000'200, ""))));
        CHECK(count(store) == 3);
    }

    TEST_CASE("state store sets the schema version of a new file")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        {
            const StateStore store{path};
        }
        CHECK(state_version(path) == 4);
    }

    TEST_CASE("state store purges question texts before a date and keeps later ones")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        StateStore store{path};
        REQUIRE(static_cast<bool>(
            store.record_question(question(100, "ancienne question", "tiers-ddfip"))));
        REQUIRE(static_cast<bool>(store.record_question(question(149, "presque ancienne"))));
        REQUIRE(static_cast<bool>(store.record_question(question(150, "à la limite"))));
        REQUIRE(static_cast<bool>(store.record_question(question(200, "récente"))));

        const auto purged = store.purge_questions(150);
        REQUIRE(static_cast<bool>(purged));
        CHECK(purged.value() == 2);
        CHECK(count(store) == 4); // the outcome stays for statistics

        const SQLite::Database db{path, SQLite::OPEN_READONLY};
        SQLite::Statement rows{
            db, "SELECT asked_at, question, kind, entry_id FROM questions ORDER BY asked_at"};
        REQUIRE(rows.executeStep());
        CHECK(rows.getColumn(0).getInt64() == 100);
        CHECK(rows.getColumn(1).isNull());
        CHECK(rows.getColumn(2).getString() == "entree");
        CHECK(rows.getColumn(3).getString() == "tiers-ddfip");
        REQUIRE(rows.executeStep());
        CHECK(rows.getColumn(1).isNull());
        REQUIRE(rows.executeStep());
        CHECK(rows.getColumn(1).getString() == "à la limite");
        REQUIRE(rows.executeStep());
        CHECK(rows.getColumn(1).getString() == "récente");
        CHECK(rows.getColumn(3).isNull()); // no entry answered
        CHECK_FALSE(rows.executeStep());

        const auto again = store.purge_questions(150);
        REQUIRE(static_cast<bool>(again));
        CHECK(again.value() == 0);
    }

    TEST_CASE("state store keeps its rows when reopened")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        {
            StateStore store{path};
            REQUIRE(static_cast<bool>(store.record_question(question(100, "première"))));
            REQUIRE(static_cast<bool>(store.record_question(question(200, "seconde"))));
        }
        StateStore reopened{path};
        CHECK(count(reopened) == 2);
        REQUIRE(static_cast<bool>(reopened.record_question(question(300, "troisième"))));
        CHECK(count(reopened) == 3);
        CHECK(state_version(path) == 4);
    }

    TEST_CASE("state store migrates a version 2 file and keeps its rows")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        {
            StateStore store{path};
            REQUIRE(static_cast<bool>(store.record_question(question(100, "avant"))));
        }
        {
            SQLite::Database db{path, SQLite::OPEN_READWRITE};
            // as a session-2 build left it, its version in user_version
            db.exec("DROP TABLE awaiting_encryption");
            db.exec("DROP TABLE linked_questions"); // and what version 4 added
            db.exec("DROP INDEX questions_event");
            db.exec("ALTER TABLE questions DROP COLUMN event_id");
            db.exec("DELETE FROM schema_versions WHERE component = 'state'");
            db.exec("PRAGMA user_version = 2");
        }
        StateStore migrated{path};
        CHECK(state_version(path) == 4);
        CHECK(user_version(path) == 0); // schema_versions is the only record left
        CHECK(count(migrated) == 1);
        const auto waiting = migrated.awaiting_encryption();
        REQUIRE(static_cast<bool>(waiting));
        CHECK(waiting.value().empty());
    }

    TEST_CASE("state store refuses a database from a newer build")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        {
            SQLite::Database db{path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
            db.exec("CREATE TABLE futur (x INTEGER)");
            db.exec("PRAGMA user_version = 99");
        }
        CHECK_THROWS_AS(StateStore{path}, std::runtime_error);
        CHECK(user_version(path) == 99); // left as it was
    }

    TEST_CASE("state store refuses a path it cannot open")
    {
        const TempDir dir;
        CHECK_THROWS(StateStore{dir.file("absent/state.db")});
    }
}
