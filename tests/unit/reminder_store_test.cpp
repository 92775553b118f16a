#include "commands/reminder_store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "support/checks.hpp"
#include <unistd.h>

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono;
using opalebot::testing::utc;

namespace {

const Instant monday_morning = utc(2026, 11, 23, 9); // 10:00 in Paris

NewReminder reminder_for(const std::string& owner, std::string_view when,
                         Instant now = monday_morning)
{
    auto parsed = parse_when(when, now, *find_zone(default_zone).value());
    REQUIRE_MESSAGE(parsed, when);
    NewReminder r;
    r.owner = owner;
    r.room = "!salon:example.org";
    r.text = parsed.value().rest;
    r.schedule = parsed.value().schedule;
    return r;
}

Reminder added(ReminderStore& store, const NewReminder& r, Instant now = monday_morning)
{
    auto stored = store.add(r, now);
    REQUIRE(stored);
    return stored.value();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("reminder store adds and lists by owner soonest first")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        const auto later = added(store, reminder_for("@marie:x", "demain 9h kit"));
        const auto sooner = added(store, reminder_for("@marie:x", "dans 30 minutes café"));
        added(store, reminder_for("@paul:x", "demain 9h autre"));
        CHECK(later.due_at == utc(2026, 11, 24, 8));
        const auto mine = store.list_by_owner("@marie:x");
        REQUIRE(mine);
        REQUIRE(mine.value().size() == 2);
        CHECK(mine.value()[0].id == sooner.id);
        CHECK(mine.value()[0].text == "café");
        CHECK(mine.value()[1].id == later.id);
    }

    TEST_CASE("reminder store delivers a due occurrence once")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        const auto r = added(store, reminder_for("@marie:x", "dans 30 minutes café"));
        CHECK(store.claim_due(monday_morning + minutes{29}).value().to_send.empty());
        const auto at = monday_morning + minutes{31};
        CHECK(store.due(at, 10).value().size() == 1);
        const auto batch = store.claim_due(at);
        REQUIRE(batch);
        REQUIRE(batch.value().to_send.size() == 1);
        const auto& delivery = batch.value().to_send[0];
        CHECK(delivery.reminder.id == r.id);
        CHECK(delivery.occurrence == monday_morning + minutes{30});
        CHECK(delivery.txn_id == reminder_txn_id(r.id, delivery.occurrence));
        CHECK(store.claim_due(at).value().to_send.empty()); // finished: no second delivery
        CHECK(store.due(at, 10).value().empty());
        CHECK_FALSE(store.record_occurrence(r.id, delivery.occurrence, false).value());
        CHECK(store.list_by_owner("@marie:x").value().empty());
    }

    TEST_CASE("reminder store ledger refuses an occurrence already delivered")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        const auto r = added(store, reminder_for("@marie:x", "dans 30 minutes café"));
        const auto occurrence = monday_morning + minutes{30};
        CHECK(store.claim_due(occurrence).value().to_send.size() == 1);
        // Something puts the reminder back on the same instant (a snooze, a restored backup).
        CHECK(store.snooze(r.id, "@marie:x", occurrence).value());
        const auto again = store.claim_due(occurrence);
        REQUIRE(again);
        CHECK(again.value().to_send.empty());
        CHECK(again.value().missed.empty());
    }

    TEST_CASE("reminder store recurring reminder moves to its next occurrence")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        const auto r = added(store, reminder_for("@marie:x", "chaque jour 18h point"));
        const auto batch = store.claim_due(utc(2026, 11, 23, 17, 1));
        REQUIRE(batch.value().to_send.size() == 1);
        CHECK(store.find(r.id).value()->due_at == utc(2026, 11, 24, 17));
    }

    TEST_CASE("reminder store grace window after a simulated downtime")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state, ReminderStoreOptions{hours{1}, hours{1}}};
        const auto within = added(store, reminder_for("@a:x", "dans 30 minutes dans la grâce"));
        const auto beyond = added(store, reminder_for("@b:x", "dans 10 minutes trop tard"));
        const auto daily = added(store, reminder_for("@c:x", "chaque jour 10h30 quotidien"));
        // The bot was down from 10:00 to 11:15 Paris time (10:15 UTC).
        const auto back = monday_morning + minutes{75};
        const auto batch = store.claim_due(back);
        REQUIRE(batch);
        REQUIRE(batch.value().to_send.size() == 2);
        CHECK(batch.value().to_send[0].reminder.id == within.id); // 45 min late
        CHECK(batch.value().to_send[1].reminder.id == daily.id);  // 45 min late
        REQUIRE(batch.value().missed.size() == 1);
        CHECK(batch.value().missed[0].reminder.id == beyond.id); // 65 min late: recorded, not sent
        CHECK(store.claim_due(back).value().missed.empty());     // recorded once
        CHECK(store.find(daily.id).value()->due_at == utc(2026, 11, 24, 9, 30));

        // Three days down: the daily occurrences are missed, only today's (within grace) is sent.
        const auto after_three_days = utc(2026, 11, 26, 9, 45);
        const auto late = store.claim_due(after_three_days);
        REQUIRE(late.value().to_send.size() == 1);
        CHECK(late.value().to_send[0].occurrence == utc(2026, 11, 26, 9, 30));
        CHECK(late.value().missed.size() == 2);
    }

    TEST_CASE("reminder store resends after a crash between claim and send with the same txn id")
    {
        const auto path = std::filesystem::temp_directory_path() /
                          ("reminder_store_test_" + std::to_string(::getpid()) + ".db");
        std::filesystem::remove(path);
        std::string txn_id;
        std::int64_t id = 0;
        Instant occurrence{};
        {
            StateDatabase state{path.string()};
            ReminderStore store{state};
            id = added(store, reminder_for("@marie:x", "dans 30 minutes kit")).id;
            const auto batch = store.claim_due(monday_morning + hours{1});
            REQUIRE(batch.value().to_send.size() == 1);
            txn_id = batch.value().to_send[0].txn_id;
            occurrence = batch.value().to_send[0].occurrence;
            // The bot dies here: the message may or may not have reached the homeserver.
        }
        {
            StateDatabase state{path.string()};
            ReminderStore store{state};
            CHECK(store.claim_due(monday_morning + hours{1}).value().to_send.empty());
            const auto pending = store.unsent();
            REQUIRE(pending);
            REQUIRE(pending.value().size() == 1);
            CHECK(pending.value()[0].txn_id == txn_id); // the homeserver drops a duplicate
            CHECK(pending.value()[0].reminder.text == "kit");
            REQUIRE(store.mark_sent(id, occurrence, "$event"));
            CHECK(store.unsent().value().empty());
        }
        std::filesystem::remove(path);
        std::filesystem::remove(path.string() + "-wal");
        std::filesystem::remove(path.string() + "-shm");
    }

    TEST_CASE("reminder store cancel and snooze only for the owner")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        const auto r = added(store, reminder_for("@marie:x", "demain 9h kit"));
        CHECK_FALSE(store.cancel(r.id, "@paul:x").value());
        CHECK_FALSE(store.snooze(r.id, "@paul:x", monday_morning).value());
        const auto until = utc(2026, 11, 24, 10);
        CHECK(store.snooze(r.id, "@marie:x", until).value());
        CHECK(store.find(r.id).value()->due_at == until);
        CHECK(store.claim_due(utc(2026, 11, 24, 9)).value().to_send.empty());
        CHECK(store.claim_due(until).value().to_send.size() == 1);

        const auto other = added(store, reminder_for("@marie:x", "demain 9h autre"));
        CHECK(store.cancel(other.id, "@marie:x").value());
        CHECK_FALSE(store.cancel(other.id, "@marie:x").value());
        CHECK(store.claim_due(utc(2026, 11, 25, 9)).value().to_send.empty());
        CHECK(store.find(other.id).value()->cancelled);
        CHECK_FALSE(store.find(999).value().has_value());
    }

    TEST_CASE("reminder store repeats until acknowledged")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state, ReminderStoreOptions{hours{1}, minutes{30}}};
        auto request = reminder_for("@marie:x", "dans 10 minutes kit");
        request.until_acknowledged = true;
        const auto r = added(store, request);
        const auto first = monday_morning + minutes{10};
        CHECK(store.claim_due(first).value().to_send.size() == 1);
        CHECK(store.find(r.id).value()->due_at == first + minutes{30});
        CHECK(store.claim_due(first + minutes{30}).value().to_send.size() == 1);
        CHECK(store.acknowledge(r.id, first + minutes{35}).value());
        CHECK_FALSE(store.find(r.id).value()->due_at.has_value());
        CHECK(store.claim_due(first + hours{5}).value().to_send.empty());
        CHECK_FALSE(store.acknowledge(4242, first).value());
    }

    TEST_CASE("reminder store refuses a reminder that never fires")
    {
        StateDatabase state{":memory:"};
        ReminderStore store{state};
        NewReminder r = reminder_for("@marie:x", "demain 9h kit");
        CHECK_FALSE(store.add(r, utc(2027, 1, 1, 0)));
        r.zone = "Nowhere/Atlantis";
        CHECK_FALSE(store.add(r, monday_morning));
    }
}
