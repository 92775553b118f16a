#include "commands/reminder_commands.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "support/checks.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono;
using opalebot::testing::contains;

namespace {

/// A registry with the reminder commands, a store and a clock the test moves.
struct Bot {
    StateDatabase state{":memory:"};
    ReminderStore store{state};
    Instant now = sys_days{year{2026} / 11 / 23} + hours{9}; // Monday 10:00 in Paris
    Registry registry;

    explicit Bot(ReminderOptions options = {})
    {
        options.clock = [this] { return now; };
        add_reminder_commands(registry, store, options);
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
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("reminder command sets a reminder and lists it")
    {
        Bot bot;
        const auto reply = bot.say("!rappel demain 9h mettre à jour le kit");
        CHECK(contains(reply, "mardi 24/11/2026 à 9h00"));
        CHECK(contains(reply, "Rappel n° 1"));
        CHECK(contains(reply, "mettre à jour le kit"));
        CHECK(contains(bot.say("!rappel chaque jour ouvré 8h30 point du matin"), "jours ouvrés"));
        const auto list = bot.say("!rappels");
        CHECK(contains(list, "**1** · mardi 24/11/2026 à 9h00"));
        CHECK(contains(list, "**2** · mardi 24/11/2026 à 8h30"));
        CHECK(contains(bot.say("!rappels", Role::member, "@paul:x"), "aucun rappel"));
    }

    TEST_CASE("reminder command answers an unknown phrase with an example")
    {
        Bot bot;
        CHECK(contains(bot.say("!rappel un de ces jours appeler"), "`demain 9h`"));
        CHECK(contains(bot.say("!rappel"), "Usage"));
        CHECK(contains(bot.say("!rappel demain 9h"), "Que dois-je"));
        CHECK(bot.store.list_by_owner("@marie:x").value().empty());
    }

    TEST_CASE("reminder command escapes the user's text")
    {
        Bot bot;
        CHECK(contains(bot.say("!rappel demain 9h **gras** [lien](x)"), "\\*\\*gras\\*\\*"));
    }

    TEST_CASE("reminder command for the salon is for admins")
    {
        Bot bot;
        CHECK(contains(bot.say("!rappel salon demain 9h réunion"), "administrateurs"));
        const auto reply = bot.say("!rappel salon demain 9h réunion", Role::admin);
        CHECK(contains(reply, "au salon"));
        const auto stored = bot.store.find(1).value();
        REQUIRE(stored.has_value());
        CHECK(stored->target == ReminderTarget::salon);
        CHECK(stored->room == "!salon:x");
    }

    TEST_CASE("reminder command cancels and snoozes")
    {
        Bot bot;
        bot.say("!rappel demain 9h kit");
        CHECK(contains(bot.say("!rappel reporter 1 2 heures"), "lundi 23/11/2026 à 12h00"));
        CHECK(contains(bot.say("!rappel reporter 1"), "rappel reporter 12 1h"));
        CHECK(contains(bot.say("!rappel annuler 1", Role::member, "@paul:x"), "pas de rappel"));
        CHECK(contains(bot.say("!rappel annuler #1"), "annulé"));
        CHECK(contains(bot.say("!rappel annuler 1"), "pas de rappel"));
        CHECK(contains(bot.say("!rappel annuler x"), "Quel rappel"));
        CHECK(contains(bot.say("!rappels"), "aucun rappel"));
    }

    TEST_CASE("reminder delivery text pings nobody")
    {
        Bot bot;
        bot.say("!rappel dans 10 minutes @room et @ROOM kit_de_bascule");
        const auto batch = bot.store.claim_due(bot.now + minutes{10});
        REQUIRE(batch.value().to_send.size() == 1);
        const auto text = format_delivery(batch.value().to_send[0]);
        CHECK(contains(text, "**Rappel**"));
        CHECK(contains(text, "@\u2060room"));
        CHECK_FALSE(contains(text, "@room"));
        CHECK_FALSE(contains(text, "@ROOM"));
        CHECK_FALSE(contains(text, "✅"));
    }

    TEST_CASE("a member's reminder repeats at most hourly and others are not limited")
    {
        // issue 15, item 6: `!rappel * * * * * x` fired every minute for ever.
        Bot bot;
        const auto every_minute = bot.say("!rappel * * * * * x");
        CHECK(contains(every_minute, "toutes les 60 minutes"));
        CHECK(contains(every_minute, "après 1 minute"));
        CHECK(contains(bot.say("!rappel cron */30 * * * * x"), "après 30 minutes"));
        CHECK(contains(bot.say("!rappel 0 9,10 * * * x"), "Rappel n° 1")); // an hour apart
        CHECK(contains(bot.say("!rappel chaque jour 18h x"), "Rappel n° 2"));
        CHECK(contains(bot.say("!rappel dans 10 minutes x"), "Rappel n° 3")); // not repeating
        CHECK(contains(bot.say("!rappel * * * * * x", Role::admin, "@admin:x"), "Rappel n° 4"));
        CHECK(contains(bot.say("!rappel * * * * * x", Role::support, "@aide:x"), "Rappel n° 5"));

        ReminderOptions stricter;
        stricter.member_min_interval = minutes{24 * 60};
        Bot daily{stricter};
        CHECK(contains(daily.say("!rappel 0 9,10 * * * x"), "toutes les 1440 minutes"));
        CHECK(contains(daily.say("!rappel chaque lundi 9h x"), "Rappel n° 1"));
    }

    TEST_CASE("a member has at most 20 active reminders")
    {
        Bot bot;
        for (int i = 1; i <= 20; ++i)
            REQUIRE(contains(bot.say("!rappel dans " + std::to_string(i * 10) + " minutes x"),
                             "Rappel n° " + std::to_string(i)));
        const auto refused = bot.say("!rappel dans 30 heures x");
        CHECK(contains(refused, "déjà 20 rappels actifs"));
        CHECK(contains(refused, "maximum est de 20"));
        CHECK(contains(bot.say("!rappel dans 30 heures x", Role::member, "@paul:x"), "n° 21"));
        CHECK(contains(bot.say("!rappel annuler 3"), "annulé"));
        CHECK(contains(bot.say("!rappel dans 30 heures x"), "Rappel n° 22"));
        CHECK(contains(bot.say("!rappel dans 31 heures x", Role::admin), "Rappel n° 23"));

        ReminderOptions fewer;
        fewer.member_max_reminders = 1;
        Bot small{fewer};
        CHECK(contains(small.say("!rappel demain 9h x"), "Rappel n° 1"));
        CHECK(contains(small.say("!rappel demain 10h x"), "maximum est de 1 "));
    }

    TEST_CASE("a cron line with more than five fields is refused")
    {
        Bot bot;
        std::string thousand{"!rappel"};
        for (int i = 0; i < 1000; ++i)
            thousand += " *";
        CHECK(contains(bot.say(thousand), "cinq champs exactement"));
        CHECK(contains(bot.say("!rappel cron 0 0 9 * * 1 x"), "cinq champs exactement"));
        CHECK(contains(bot.say("!rappel 0 9 * * 1 2 x"), "cinq champs exactement"));
        CHECK(contains(bot.say("!rappel cron 0 9 * * 1 penser aux 3 factures"), "Rappel n° 1"));
        CHECK(contains(bot.say("!rappels"), "penser aux 3 factures"));
    }
}
