// Issue 6, command side: "hors fériés", "jusqu'à confirmation", reactions, per-user zones,
// `!moi`, `!rappels off`, salon broadcasts that ping only when asked.
#include "commands/profile_commands.hpp"
#include "commands/reminder_commands.hpp"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "support/checks.hpp"
#include "support/temp_dir.hpp"
#include <date/tz.h>

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono;
using opalebot::testing::contains;
using opalebot::testing::utc;

namespace {

const date::time_zone& paris()
{
    return *find_zone(default_zone).value();
}

ParsedWhen parsed(std::string_view text, Instant now)
{
    auto result = parse_when(text, now, paris());
    REQUIRE_MESSAGE(result, text);
    return result.value();
}

/// Reminder and profile commands over one clock the test moves.
struct Bot {
    StateDatabase state{":memory:"};
    ReminderStore store{state};
    UserProfileStore profiles{state};
    EpleStore eple{state};
    Instant now = utc(2026, 11, 23, 9); // Monday 10:00 in Paris
    ReminderOptions options;
    Registry registry;

    Bot()
    {
        options.clock = [this] { return now; };
        options.profiles = &profiles;
        add_reminder_commands(registry, store, options);
        add_profile_commands(registry, profiles, &eple);
        Etablissement college;
        college.uai = "0020013D";
        college.nom = "Collège Jean Moulin";
        college.vague = 6;
        REQUIRE(eple.save_etablissements({college}));
    }

    std::string say(const std::string& body, Role role = Role::member,
                    const std::string& sender = "@marie:x")
    {
        Message message;
        message.sender = sender;
        message.room = "!salon:x";
        message.body = body;
        message.role = role;
        const auto reply = registry.dispatch(message);
        REQUIRE(reply.has_value());
        return reply->markdown;
    }

    /// Claims what is due at `at` and returns the one delivery to send.
    Delivery fire(Instant at)
    {
        const auto batch = store.claim_due(at);
        REQUIRE(batch);
        REQUIRE(batch.value().to_send.size() == 1);
        return batch.value().to_send.front();
    }

    std::optional<std::string> react(const Delivery& d, const std::string& emoji,
                                     const std::string& sender = "@marie:x",
                                     Role role = Role::member)
    {
        return on_reminder_reaction(store, options, d.txn_id, sender, role, emoji, now);
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("reminder option hors feries skips weekends and Easter-based holidays")
    {
        const auto friday = utc(2026, 4, 3, 10); // Vendredi saint; Easter Monday is 06/04/2026
        const auto weekly = parsed("chaque lundi 9h hors fériés point kit", friday);
        CHECK(weekly.skip_holidays);
        CHECK(weekly.rest == "point kit");
        const auto next = next_occurrence(weekly.schedule, friday, paris(), weekly.skip_holidays);
        CHECK(next == utc(2026, 4, 13, 7)); // not lundi de Pâques, 9h CEST
        // Ascension 14/05/2026 and the weekend are skipped by a daily rule.
        const auto daily = parsed("chaque jour 8h30 hors week-ends et jours fériés x", friday);
        CHECK(daily.skip_holidays);
        CHECK(next_occurrence(daily.schedule, utc(2026, 5, 13, 12), paris(), true) ==
              utc(2026, 5, 15, 6, 30));
        CHECK(next_occurrence(daily.schedule, utc(2026, 5, 15, 12), paris(), true) ==
              utc(2026, 5, 18, 6, 30));
        CHECK(parsed("tous les lundis à 9h sauf fériés x", friday).skip_holidays);
    }

    TEST_CASE("reminder option hors feries across the DST changes")
    {
        // Last Sunday of March 2026: 29/03. Monday 30/03 9h is CEST (07:00 UTC).
        const auto before = utc(2026, 3, 27, 12);
        const auto weekly = parsed("chaque lundi 9h hors fériés x", before);
        CHECK(next_occurrence(weekly.schedule, before, paris(), true) == utc(2026, 3, 30, 7));
        // Last Sunday of October 2026: 25/10. Monday 26/10 9h is CET again (08:00 UTC).
        const auto autumn = utc(2026, 10, 23, 12);
        CHECK(next_occurrence(weekly.schedule, autumn, paris(), true) == utc(2026, 10, 26, 8));
        // 1er et 11 novembre 2027 fall on a Monday and a Thursday: the Monday is skipped.
        CHECK(next_occurrence(weekly.schedule, utc(2027, 10, 29, 12), paris(), true) ==
              utc(2027, 11, 8, 8));
    }

    TEST_CASE("reminder option jusqu'a confirmation and its errors")
    {
        const auto now = utc(2026, 11, 23, 9);
        const auto both = parsed("chaque jour 9h jusqu'à confirmation hors fériés kit", now);
        CHECK(both.until_acknowledged);
        CHECK(both.skip_holidays);
        CHECK(both.rest == "kit");
        CHECK(parsed("demain 9h jusqu\u2019à confirmation x", now).until_acknowledged);
        const auto once = parse_when("demain 9h hors fériés x", now, paris());
        REQUIRE_FALSE(once);
        CHECK(contains(once.error().message, "récurrent"));
        const auto empty = parse_when("chaque lundi 9h hors fériés", now, paris());
        REQUIRE_FALSE(empty);
        CHECK(contains(empty.error().message, "hors fériés jusqu'à confirmation"));
        // The examples of an unknown phrase show the options.
        const auto unknown = parse_when("bientôt x", now, paris());
        CHECK(contains(unknown.error().message, "`chaque lundi 9h hors fériés"));
        // "hors" not followed by an option belongs to the text.
        CHECK(parsed("chaque lundi 9h hors service x", now).rest == "hors service x");
    }

    TEST_CASE("reminder acknowledged with a check mark stops repeating")
    {
        Bot bot;
        CHECK(contains(bot.say("!rappel chaque jour 9h jusqu'à confirmation kit de bascule"),
                       "jusqu'à confirmation"));
        bot.now = utc(2026, 11, 24, 8); // Tuesday 9:00
        const auto first = bot.fire(bot.now);
        CHECK(first.reminder.until_acknowledged);
        CHECK(contains(format_delivery(first), "✅"));
        // Not acknowledged: it comes back an hour later, with a new key.
        bot.now += hours{1};
        const auto again = bot.fire(bot.now);
        CHECK(again.txn_id != first.txn_id);
        // Another user's ✅ does nothing and says nothing; other emoji are ignored.
        CHECK_FALSE(bot.react(again, "✅", "@paul:x").has_value());
        CHECK_FALSE(bot.react(again, "👍").has_value());
        CHECK_FALSE(on_reminder_reaction(bot.store, bot.options, "rappel-99-1", "@marie:x",
                                         Role::member, "✅", bot.now)
                        .has_value());
        const auto ack = bot.react(again, "✔️"); // the variant with U+FE0F
        REQUIRE(ack.has_value());
        CHECK(contains(*ack, "confirmé"));
        // Next delivery is tomorrow 9h, not in an hour.
        CHECK(bot.store.find(1).value()->due_at == utc(2026, 11, 25, 8));
        CHECK(bot.store.claim_due(bot.now + hours{1}).value().to_send.empty());
    }

    TEST_CASE("reminder snoozed with an alarm clock reaction")
    {
        Bot bot;
        bot.say("!rappel demain 9h envoyer le RIB");
        bot.now = utc(2026, 11, 24, 8);
        const auto delivery = bot.fire(bot.now);
        const auto snoozed = bot.react(delivery, "⏰");
        REQUIRE(snoozed.has_value());
        CHECK(contains(*snoozed, "mardi 24/11/2026 à 10h00"));
        CHECK(bot.store.claim_due(bot.now + minutes{59}).value().to_send.empty());
        const auto later = bot.fire(bot.now + hours{1});
        CHECK(later.reminder.id == 1);
        CHECK(bot.react(later, "💤").has_value());
        CHECK(bot.react(later, "✅").has_value()); // a one-off: a thank-you
    }

    TEST_CASE("reminder of the salon acknowledged by an admin only")
    {
        Bot bot;
        bot.say("!rappel salon demain 9h jusqu'à confirmation réunion", Role::admin, "@chef:x");
        bot.now = utc(2026, 11, 24, 8);
        const auto delivery = bot.fire(bot.now);
        CHECK_FALSE(bot.react(delivery, "✅", "@marie:x").has_value());
        CHECK(bot.react(delivery, "✅", "@adjointe:x", Role::admin).has_value());
        CHECK_FALSE(bot.store.find(1).value()->due_at.has_value());
    }

    TEST_CASE("reminder broadcast in the salon pings the room only when asked")
    {
        Bot bot;
        bot.say("!rappel salon demain 9h réunion @room", Role::admin);
        CHECK(contains(bot.say("!rappel salon @room demain 9h réunion", Role::admin), "au salon"));
        bot.say("!rappel salon @SALON demain 9h réunion", Role::admin);
        const auto batch = bot.store.claim_due(utc(2026, 11, 24, 8)).value().to_send;
        REQUIRE(batch.size() == 3);
        CHECK_FALSE(batch[0].reminder.ping_room);
        CHECK_FALSE(contains(format_delivery(batch[0]), "@room"));
        CHECK(batch[1].reminder.ping_room);
        CHECK(format_delivery(batch[1]).starts_with("@room "));
        CHECK(batch[1].reminder.text == "réunion");
        CHECK(batch[2].reminder.ping_room);
        // A member's own reminder never pings the room, whatever its text.
        bot.say("!rappel demain 10h @room");
        CHECK_FALSE(bot.store.find(4).value()->ping_room);
    }

    TEST_CASE("reminder uses the time zone of the sender")
    {
        Bot bot;
        CHECK(contains(bot.say("!moi fuseau America/Cayenne"), "America/Cayenne"));
        CHECK(contains(bot.say("!moi fuseau Mars/Olympus"), "inconnu"));
        const auto reply = bot.say("!rappel demain 9h caisse");
        CHECK(contains(reply, "mardi 24/11/2026 à 9h00"));
        CHECK(contains(reply, "America/Cayenne"));
        const auto stored = bot.store.find(1).value();
        CHECK(stored->zone == "America/Cayenne");
        CHECK(stored->due_at == utc(2026, 11, 24, 12)); // 9h at UTC-3
        CHECK(contains(bot.say("!rappels"), "(America/Cayenne)"));
        // Paul keeps Paris; "!moi fuseau" alone resets Marie's.
        bot.say("!rappel demain 9h caisse", Role::member, "@paul:x");
        CHECK(bot.store.find(2).value()->due_at == utc(2026, 11, 24, 8));
        CHECK(contains(bot.say("!moi fuseau"), "Europe/Paris"));
        bot.say("!rappel demain 9h caisse");
        CHECK(bot.store.find(3).value()->due_at == utc(2026, 11, 24, 8));
    }

    TEST_CASE("profile commands link EPLE and opt out of kit reminders")
    {
        Bot bot;
        CHECK(contains(bot.say("!moi"), "aucun"));
        CHECK(contains(bot.say("!moi eple 0020013A"), "lettre clé"));
        CHECK(contains(bot.say("!moi eple 12"), "7 chiffres"));
        CHECK(contains(bot.say("!moi eple 0020013d"), "Collège Jean Moulin"));
        CHECK(contains(bot.say("!moi eple 0020013D"), "déjà"));
        const auto unknown = bot.say("!moi eple 0590001F");
        CHECK(contains(unknown, "rattaché"));
        CHECK(contains(unknown, "pas (encore) dans le référentiel"));
        auto profile = bot.say("!moi");
        CHECK(contains(profile, "`0020013D` (Collège Jean Moulin, vague 6)"));
        CHECK(contains(profile, "`0590001F` (absent du référentiel)"));
        CHECK(contains(profile, "Relances du kit de bascule : oui"));
        CHECK(contains(bot.say("!rappels off"), "ne recevrez plus"));
        CHECK(bot.profiles.get("@marie:x").value().kit_opt_out);
        CHECK(contains(bot.say("!moi"), "Relances du kit de bascule : non"));
        CHECK(contains(bot.say("!rappels on"), "recevrez"));
        CHECK_FALSE(bot.profiles.get("@marie:x").value().kit_opt_out);
        CHECK(contains(bot.say("!moi eple retirer 0590001F"), "plus rattaché"));
        CHECK(contains(bot.say("!moi eple retirer 0590001F"), "n'étiez pas"));
        CHECK(bot.profiles.get("@marie:x").value().uais == std::vector<std::string>{"0020013D"});
        CHECK(contains(bot.say("!rappels peut-être"), "Usage"));
        const auto help = bot.registry.help(Role::member);
        CHECK(contains(help, "moi"));
        CHECK(contains(help, "rappels | off | on"));
    }
}

#include <SQLiteCpp/Database.h>

#include "support/temp_dir.hpp"

TEST_SUITE("unit")
{
    TEST_CASE("reminder store migrates a version 1 file and keys its past deliveries")
    {
        const opalebot::testing::TempDir dir;
        const auto path = dir.file("state.db");
        {
            SQLite::Database db{path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
            db.exec(R"sql(
CREATE TABLE reminder_schema (version INTEGER NOT NULL);
INSERT INTO reminder_schema (version) VALUES (1);
CREATE TABLE reminder_reminders (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, room TEXT NOT NULL,
    target TEXT NOT NULL, text TEXT NOT NULL, schedule TEXT NOT NULL, zone TEXT NOT NULL,
    skip_holidays INTEGER NOT NULL DEFAULT 0, until_acknowledged INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER, snoozed_until INTEGER, cancelled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL);
CREATE TABLE reminder_occurrences (reminder_id INTEGER NOT NULL, occurrence INTEGER NOT NULL,
    status TEXT NOT NULL, event_id TEXT, PRIMARY KEY (reminder_id, occurrence));
INSERT INTO reminder_reminders (owner, room, target, text, schedule, zone, until_acknowledged,
    due_at, created_at) VALUES ('@marie:x', '!s:x', 'user', 'kit', 'cron:0 9 * * *',
    'Europe/Paris', 1, 1795510800, 0);
INSERT INTO reminder_occurrences VALUES (1, 1795424400, 'sent', '');
)sql");
        }
        // Owner only, as the message for an older, readable file asks (chmod 600).
        std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                               std::filesystem::perms::owner_write);
        StateDatabase state{path};
        ReminderStore store{state};
        const auto reminder = store.find(1).value();
        REQUIRE(reminder.has_value());
        CHECK_FALSE(reminder->ping_room);
        const auto delivery = store.find_delivery("rappel-1-1795424400").value();
        REQUIRE(delivery.has_value());
        CHECK(delivery->reminder.id == 1);
        ReminderOptions options;
        CHECK(on_reminder_reaction(store, options, "rappel-1-1795424400", "@marie:x", Role::member,
                                   "✅", utc(2026, 11, 24, 9))
                  .has_value());
    }
}
