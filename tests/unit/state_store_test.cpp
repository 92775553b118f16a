#include "bot/state_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"
#include "token_seal.hpp"

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
        CHECK(state_version(path) == 6);
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
        CHECK(state_version(path) == 6);
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
            db.exec("DROP TABLE batch_attempt"); // and version 5
            db.exec("DROP TABLE set_aside_events");
            db.exec("DROP TABLE direct_chats"); // and version 6
            db.exec("DELETE FROM schema_versions WHERE component = 'state'");
            db.exec("PRAGMA user_version = 2");
        }
        StateStore migrated{path};
        CHECK(state_version(path) == 6);
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

    TEST_CASE("the access token is sealed with the crypto secret and opened only with it")
    {
        const std::string token = "syt_b3BhbGU_secretsecret_0aBcD";
        const std::string secret(32, 'k');
        const auto sealed = seal_token(token, secret);
        CHECK(is_sealed_token(sealed));
        CHECK(sealed.find("syt_") == std::string::npos);
        CHECK(seal_token(token, secret) != sealed); // a fresh nonce each time
        CHECK(open_token(sealed, secret).value() == token);
        CHECK_FALSE(static_cast<bool>(open_token(sealed, std::string(32, 'j'))));
        auto altered = sealed;
        altered[altered.size() - 3] = altered[altered.size() - 3] == 'A' ? 'B' : 'A';
        CHECK_FALSE(static_cast<bool>(open_token(altered, secret)));
        CHECK_FALSE(static_cast<bool>(open_token("sealed-v1:!!", secret)));
        CHECK_FALSE(is_sealed_token(token));
    }

    TEST_CASE("state store keeps the access token sealed when a secret is configured")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        const auto raw_token = [&path] {
            SQLite::Database db{path, SQLite::OPEN_READONLY};
            return db.execAndGet("SELECT access_token FROM session").getString();
        };
        const StoredSession session{"https://hs.test", "@bot:hs.test", "DEV", "syt_secret_token"};
        {
            StateStore clear{path}; // a release without sealing wrote it in clear
            REQUIRE(static_cast<bool>(clear.save_session(session)));
        }
        CHECK(raw_token() == "syt_secret_token");
        {
            StateStore store{path};
            store.seal_tokens_with("pickle-secret");
            const auto read = store.session(); // read in clear, sealed from now on
            REQUIRE(static_cast<bool>(read));
            CHECK(read.value()->access_token == "syt_secret_token");
        }
        CHECK(is_sealed_token(raw_token()));
        CHECK(raw_token().find("syt_secret_token") == std::string::npos);
        {
            StateStore store{path};
            store.seal_tokens_with("pickle-secret");
            CHECK(store.session().value()->access_token == "syt_secret_token");
            REQUIRE(static_cast<bool>(store.save_session(session)));
            CHECK(is_sealed_token(raw_token()));
        }
        StateStore without{path}; // the secret left out of the config
        const auto refused = without.session();
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().message.find("encryption.pickle_key_file") != std::string::npos);
        StateStore wrong{path};
        wrong.seal_tokens_with("another-secret");
        CHECK_FALSE(static_cast<bool>(wrong.session()));
    }
}
