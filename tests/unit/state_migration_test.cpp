// A state file written by release c96ed71, the last one with three ways of keeping schema
// versions (PRAGMA user_version, crypto_schema, one <x>_schema table per store): every store
// finds its data after the move to one schema_versions table.

#include "bot/crypto/engine.hpp"
#include "bot/itop_client.hpp"
#include "bot/state_store.hpp"
#include "commands/eple_store.hpp"
#include "commands/kit_campaign.hpp"
#include "commands/reminder_store.hpp"
#include "commands/ticket_dialogue.hpp"
#include "commands/ticket_follow_up.hpp"
#include "commands/ticket_store.hpp"
#include "commands/user_profile_store.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "itop_ticket_backend.hpp"
#include "support/checks.hpp"
#include "support/fake_http_client.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot;
using opalebot::testing::value;

namespace {

const std::string marie = "@marie.dupont-ac-lille.fr:tchap.example";
const std::string paul = "@paul.martin-ac-lille.fr:tchap.example";
const std::string salon = "!salon:tchap.example";

/// tests/fixtures/state/c96ed71.sql loaded into a new file (see the README next to it).
std::string old_state_file(const testing::TempDir& dir)
{
    std::ifstream in{OPALEBOT_SOURCE_DIR "/tests/fixtures/state/c96ed71.sql"};
    REQUIRE(in);
    std::ostringstream dump;
    dump << in.rdbuf();
    const auto path = dir.file("state.db");
    SQLite::Database db{path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
    db.exec(dump.str());
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write); // as deployed
    return path;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("a state file of release c96ed71 keeps every store's data")
    {
        const testing::TempDir dir;
        const auto path = old_state_file(dir);
        {
            SQLite::Database before{path, SQLite::OPEN_READONLY};
            REQUIRE(before.execAndGet("PRAGMA user_version").getInt() == 3);
            REQUIRE(before.tableExists("crypto_schema"));
            REQUIRE(before.tableExists("reminder_schema"));
        }
        StateDatabase state{path};

        bot::StateStore store{state};
        const auto session = value(store.session());
        REQUIRE(session.has_value());
        CHECK(session->user_id == "@opale-bot:tchap.example");
        CHECK(session->device_id == "BOTDEV");
        CHECK(value(store.sync_token()) == "s42_fixture");
        CHECK(value(store.filter_id()) == "filter-7");
        CHECK(value(store.is_handled("$question1")));
        CHECK(value(store.sent_message("$reply1")) == std::optional<std::string>{"creer-tiers"});
        CHECK(value(store.sent_txn_id("$reply1")) == std::optional<std::string>{"txn-reply-1"});
        const auto room = value(store.room(salon));
        REQUIRE(room.has_value());
        CHECK(room->inviter == "@admin:tchap.example");
        CHECK(room->joined_members == std::optional<int>{12});
        CHECK(room->encrypted);
        const auto queued = value(store.next_outgoing());
        REQUIRE(queued.has_value());
        CHECK(queued->txn_id == "txn-queued-2");
        const auto waiting = value(store.awaiting_encryption());
        REQUIRE(waiting.size() == 1);
        CHECK(waiting[0].attempts == 2);
        CHECK(value(store.question_count()) == 1);
        const auto stats = value(store.kb_stats(0, 0.5));
        REQUIRE(stats.entries.size() == 1);
        CHECK(stats.entries[0].entry_id == "creer-tiers");
        CHECK(stats.entries[0].up == 1);

        // The account is unpickled, not created again: the same identity key as in the old file.
        auto engine =
            value(bot::crypto::Engine::open(state.connection(), "@opale-bot:tchap.example",
                                            "BOTDEV", "a pickle key of the fixture", {}));
        CHECK(engine->curve25519_key() == "ccUOpRnZXEk3RmHNT9lfg64wGb2s8aHj0kkj0DLHgwY");

        commands::EpleStore eple{state};
        CHECK(value(eple.etablissements()).size() == 2);
        const auto moulin = value(eple.status("0590001A"));
        REQUIRE(moulin.has_value());
        REQUIRE(moulin->latest.has_value());
        CHECK(moulin->latest->kit_taux == doctest::Approx(45.5));
        CHECK(moulin->latest->budget_saisie == commands::BudgetSaisie::opale);
        CHECK_FALSE(moulin->latest->prelevements.has_value());

        commands::TicketStore tickets{state};
        const auto ticket = value(tickets.find("R-000001"));
        REQUIRE(ticket.has_value());
        CHECK(ticket->fields.uai == "0590001A");
        CHECK(ticket->status == commands::TicketStatus::pending);
        REQUIRE(ticket->log.size() == 1);
        CHECK(ticket->attachment_names == std::vector<std::string>{"capture.png"});

        commands::TicketFollowUp follow_up{state, tickets};
        const auto watched = follow_up.watched();
        REQUIRE(watched.size() == 1);
        CHECK(watched[0].ref == "R-000001");

        commands::TicketDialogues dialogues{state, tickets};
        const auto dialogue = dialogues.get(paul, salon);
        REQUIRE(dialogue.has_value());
        CHECK(dialogue->fields.uai == "0620003S");
        CHECK(dialogue->idempotency_key == "key-dialogue-2");
        const auto files = dialogues.attachments(paul, salon);
        REQUIRE(files.size() == 1);
        CHECK(files[0].content == "HTTP 500");

        commands::ReminderStore reminders{state};
        const auto mine = value(reminders.list_by_owner(marie));
        REQUIRE(mine.size() == 1);
        CHECK(mine[0].text == "Relever les indicateurs du kit");
        CHECK(mine[0].ping_room);
        CHECK(value(reminders.reminder_for_event("$rappel1")) ==
              std::optional<std::int64_t>{mine[0].id});

        commands::UserProfileStore profiles{state};
        const auto profile = value(profiles.get(marie));
        CHECK(profile.uais == std::vector<std::string>{"0590001A"});
        CHECK(profile.zone == std::optional<std::string>{"Europe/Paris"});
        CHECK(value(profiles.get(paul)).kit_opt_out);

        commands::KitCampaign campaign{state, eple, profiles};
        const auto current = value(campaign.current());
        REQUIRE(current.has_value());
        CHECK(current->room == salon);
        CHECK(current->spec.threshold == std::optional<double>{80});

        testing::FakeHttpClient http;
        bot::ItopClient itop{http, {"https://itop.example", "bot", "secret", {}, "c"}};
        const app::ItopTicketBackend itop_tickets{itop, state, {}};
        auto& db = state.connection();
        CHECK(db.execAndGet("SELECT ref FROM itop_tickets WHERE idempotency_key = 'key-itop-3'")
                  .getString() == "R-000123");

        // One record of every version, none of the old ones left.
        for (const auto& [component, version] :
             std::vector<std::pair<std::string, int>>{{"state", 6},
                                                      {"crypto", 1},
                                                      {"eple", 1},
                                                      {"tickets", 1},
                                                      {"ticket_follow_up", 1},
                                                      {"ticket_dialogues", 1},
                                                      {"reminders", 2},
                                                      {"profiles", 1},
                                                      {"campaign", 2},
                                                      {"itop_tickets", 1}})
            CHECK_MESSAGE(schema_version(db, component) == version, component);
        CHECK(db.execAndGet("PRAGMA user_version").getInt() == 0);
        CHECK(db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name "
                            "LIKE '%\\_schema' ESCAPE '\\'")
                  .getInt() == 0);
    }
}
