// Issue 6: the kit de bascule campaign, its phrase, its ledger and its commands.
#include "commands/kit_campaign.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "support/checks.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot::commands;
using namespace std::chrono;
using opalebot::testing::contains;
using opalebot::testing::utc;

namespace {

Etablissement etablissement(std::string uai, std::string nom)
{
    Etablissement e;
    e.uai = std::move(uai);
    e.nom = std::move(nom);
    e.vague = 6;
    return e;
}

Snapshot snapshot(std::string uai, year_month_day date, double kit)
{
    Snapshot s;
    s.uai = std::move(uai);
    s.date = date;
    s.kit_taux = kit;
    return s;
}

/// The three stores on one state file, as in the bot; reopened to simulate a restart.
struct World {
    opalebot::testing::TempDir dir;
    std::string path = dir.file("state.db");
    std::unique_ptr<opalebot::StateDatabase> state;
    std::unique_ptr<EpleStore> eple;
    std::unique_ptr<UserProfileStore> profiles;
    std::unique_ptr<KitCampaign> campaign;

    World()
    {
        open();
        // Moulin: 12 %, low. Curie: 90 % but unchanged since 01/09. Hugo: 95 % and moving.
        // Zola: 20 %, nobody linked. Sand: no indicators.
        REQUIRE(eple->save_etablissements({etablissement("0020013D", "Collège Jean Moulin"),
                                           etablissement("0590001F", "Lycée Marie Curie"),
                                           etablissement("0020001M", "Collège Victor Hugo"),
                                           etablissement("0020002N", "Collège Émile Zola"),
                                           etablissement("0020003P", "Collège George Sand")}));
        REQUIRE(eple->save_snapshots({snapshot("0020013D", year{2026} / 11 / 20, 12),
                                      snapshot("0590001F", year{2026} / 9 / 1, 90),
                                      snapshot("0590001F", year{2026} / 11 / 20, 90),
                                      snapshot("0020001M", year{2026} / 11 / 1, 80),
                                      snapshot("0020001M", year{2026} / 11 / 20, 95),
                                      snapshot("0020002N", year{2026} / 11 / 20, 20)}));
        REQUIRE(profiles->link("@marie:x", "0020013D"));
        REQUIRE(profiles->link("@paul:x", "0020013D"));
        REQUIRE(profiles->link("@paul:x", "0590001F"));
        REQUIRE(profiles->link("@luc:x", "0020001M"));
        REQUIRE(profiles->set_kit_opt_out("@paul:x", true));
    }

    void open()
    {
        campaign.reset();
        profiles.reset();
        eple.reset();
        state.reset();
        state = std::make_unique<opalebot::StateDatabase>(path);
        eple = std::make_unique<EpleStore>(*state);
        profiles = std::make_unique<UserProfileStore>(*state);
        campaign = std::make_unique<KitCampaign>(*state, *eple, *profiles);
    }

    CampaignSpec spec(std::string_view phrase)
    {
        auto parsed = parse_campaign(phrase);
        REQUIRE_MESSAGE(parsed, phrase);
        return parsed.value();
    }
};

const Instant sunday = utc(2026, 11, 22, 12); // the Monday after: 23/11/2026 9h CET = 8h UTC

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("kit campaign phrase gives schedule threshold and staleness")
    {
        const auto spec = parse_campaign("chaque lundi 9h seuil 80 % retard 15 jours");
        REQUIRE(spec);
        CHECK(spec.value().schedule.cron.text == "0 9 * * 1");
        CHECK(spec.value().threshold == 80);
        CHECK(spec.value().stale_days == 15);
        CHECK_FALSE(spec.value().skip_holidays);
        const auto other = parse_campaign("  chaque jour ouvré 8h30 hors fériés seuil 75,5% ");
        REQUIRE(other);
        CHECK(other.value().threshold == 75.5);
        CHECK_FALSE(other.value().stale_days);
        CHECK(other.value().skip_holidays);
        CHECK(other.value().phrase == "chaque jour ouvré 8h30 hors fériés seuil 75,5%");
        CHECK(parse_campaign("chaque lundi 9h retard 10 j"));
    }

    TEST_CASE("kit campaign phrase errors are French with an example")
    {
        const auto reason = [](std::string_view phrase) {
            const auto spec = parse_campaign(phrase);
            REQUIRE_FALSE_MESSAGE(spec, phrase);
            return spec.error().message;
        };
        CHECK(contains(reason("chaque lundi 9h"), "Il manque le seuil"));
        CHECK(contains(reason("demain 9h seuil 80 %"), "intervalle régulier"));
        CHECK(contains(reason("chaque lundi 9h seuil 180 %"), "1 à 100"));
        CHECK(contains(reason("chaque lundi 9h retard 15 semaines"), "en jours"));
        CHECK(contains(reason("chaque lundi 9h seuil 80 % vite"), "« vite »"));
        CHECK(contains(reason("un jour seuil 80 %"), "Exemples"));
        CHECK(contains(reason("chaque lundi 9h jusqu'à confirmation seuil 80"), "campagne"));
    }

    TEST_CASE("kit campaign reminds linked users of late EPLE once and reports to admins")
    {
        World world;
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h seuil 80 % retard 15 jours"),
                                      "!salon:x|$fil", "@chef:x", sunday));
        CHECK(world.campaign->due(sunday).value().empty());
        const auto monday = utc(2026, 11, 23, 8);
        const auto sent = world.campaign->due(monday + minutes{1});
        REQUIRE(sent);
        // Moulin (low rate) for Marie only (Paul opted out), Curie (stale) for nobody: Paul opted
        // out; Hugo is fine; Zola has nobody; Sand has no indicators. Then the report.
        REQUIRE(sent.value().size() == 2);
        const auto& moulin = sent.value()[0];
        CHECK(moulin.kind == CampaignMessage::Kind::eple);
        CHECK(moulin.uai == "0020013D");
        // By direct message to Marie, nothing in the salon but the report.
        CHECK(moulin.direct_to == "@marie:x");
        CHECK(moulin.room.empty());
        CHECK(moulin.mentions.empty());
        CHECK(moulin.occurrence == monday);
        CHECK(moulin.delivery_key.starts_with("campagne-kit-1795420800-0020013D-"));
        CHECK(moulin.delivery_key.size() ==
              std::string{"campagne-kit-1795420800-0020013D-"}.size() + 16);
        CHECK(contains(moulin.markdown, "**12 %** au relevé du 20/11/2026"));
        CHECK(contains(moulin.markdown, "Évolution : premier relevé"));
        CHECK(contains(moulin.markdown, "Réagissez avec ✅"));
        CHECK(contains(moulin.markdown, "seuil de 80 %"));
        CHECK(contains(moulin.markdown, "fiches 1 à 17"));
        CHECK(contains(moulin.markdown, "31/12"));
        CHECK(contains(moulin.markdown,
                       "https://kit-bascule-opale.in.forge.education.gouv.fr/login_page.php"));
        CHECK(contains(moulin.markdown, "!rappels off"));
        const auto& report = sent.value()[1];
        CHECK(report.kind == CampaignMessage::Kind::report);
        CHECK(report.mentions.empty());
        CHECK(report.direct_to.empty());
        CHECK(report.room == "!salon:x|$fil");
        CHECK(contains(report.markdown, "Relancés par message direct (1)"));
        CHECK(contains(report.markdown, "lundi 23/11/2026 à 9h00"));
        CHECK(contains(report.markdown, "Collège Jean Moulin (`0020013D`)"));
        CHECK(contains(report.markdown, "@marie:x"));
        CHECK(contains(report.markdown, "Lycée Marie Curie (`0590001F`) : 90 %, sans progression "
                                        "depuis 83 jours — utilisateurs liés désinscrits"));
        CHECK(contains(report.markdown, "Collège Émile Zola (`0020002N`) : 20 % (seuil 80 %) — "
                                        "aucun utilisateur lié"));
        CHECK_FALSE(contains(report.markdown, "Victor Hugo"));
        CHECK(contains(report.markdown, "1 EPLE sans indicateur"));
        // Claimed: not again, and the campaign moved to next Monday.
        CHECK(world.campaign->due(monday + minutes{2}).value().empty());
        CHECK(world.campaign->current().value()->next_run == utc(2026, 11, 30, 8));
    }

    TEST_CASE("kit campaign dates a standing kit rate from its whole history")
    {
        World world;
        // Curie: 90 % on 01/08, 01/09 and 20/11: no progress since 01/08, not 01/09.
        REQUIRE(world.eple->save_snapshots({snapshot("0590001F", year{2026} / 8 / 1, 90),
                                            snapshot("0590001F", year{2026} / 7 / 1, 60)}));
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h retard 15 jours"), "!salon:x",
                                      "@chef:x", sunday));
        const auto sent = world.campaign->due(utc(2026, 11, 23, 8) + minutes{1});
        REQUIRE(sent);
        REQUIRE_FALSE(sent.value().empty());
        const auto& report = sent.value().back();
        CHECK(report.kind == CampaignMessage::Kind::report);
        CHECK(contains(report.markdown,
                       "Lycée Marie Curie (`0590001F`) : 90 %, sans progression depuis 114 jours"));
    }

    TEST_CASE("kit campaign ledger survives a restart between claim and send")
    {
        World world;
        const auto spec = world.spec("chaque lundi 9h seuil 80 %");
        REQUIRE(world.campaign->start(spec, "!salon:x", "@chef:x", sunday));
        const auto monday = utc(2026, 11, 23, 8);
        const auto claimed = world.campaign->due(monday).value();
        REQUIRE(claimed.size() == 2);
        REQUIRE(world.campaign->mark_sent(claimed[0].delivery_key));
        // The bot dies before sending the report; at start, unsent() gives it back.
        world.open();
        const auto unsent = world.campaign->unsent().value();
        REQUIRE(unsent.size() == 1);
        CHECK(unsent[0].kind == CampaignMessage::Kind::report);
        CHECK(unsent[0].delivery_key == claimed[1].delivery_key);
        CHECK(unsent[0].markdown == claimed[1].markdown);
        REQUIRE(world.campaign->mark_sent(unsent[0].delivery_key));
        CHECK(world.campaign->unsent().value().empty());
        // An admin restarts the same campaign, which puts the same Monday back: the ledger
        // still refuses the EPLE and the report of that occurrence.
        REQUIRE(world.campaign->start(spec, "!salon:x", "@chef:x", sunday));
        world.open();
        CHECK(world.campaign->due(monday + minutes{5}).value().empty());
        // The next Monday is a new occurrence.
        const auto next = world.campaign->due(utc(2026, 11, 30, 8)).value();
        CHECK(next.size() == 2);
    }

    TEST_CASE("kit campaign direct message says the trend and the date of the data")
    {
        World world;
        // Hugo went from 95 % down to 70 % on 01/12; Luc is linked to it.
        REQUIRE(world.eple->save_snapshots({snapshot("0020001M", year{2026} / 12 / 1, 70.5)}));
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", utc(2026, 12, 6, 12)));
        const auto sent = world.campaign->due(utc(2026, 12, 7, 8)).value();
        const auto hugo = std::find_if(sent.begin(), sent.end(),
                                       [](const auto& m) { return m.uai == "0020001M"; });
        REQUIRE(hugo != sent.end());
        CHECK(hugo->direct_to == "@luc:x");
        CHECK(contains(hugo->markdown, "**70,5 %** au relevé du 01/12/2026"));
        CHECK(contains(hugo->markdown, "en baisse de 24,5 points depuis le relevé du 20/11/2026"));
    }

    TEST_CASE("kit campaign repeats a direct message until its user acknowledges it")
    {
        World world;
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", sunday));
        const auto monday = utc(2026, 11, 23, 8);
        const auto first = world.campaign->due(monday).value();
        REQUIRE(first.size() == 2);
        const auto key = first[0].delivery_key;
        REQUIRE(first[0].direct_to == "@marie:x");
        // Not sent yet: no repeat of a message still pending.
        CHECK(world.campaign->due(monday + hours{25}).value().empty());
        for (const auto& m : first)
            REQUIRE(world.campaign->mark_sent(m.delivery_key));
        // Less than a day: nothing; a day later: the repeat, with its own txn id.
        CHECK(world.campaign->due(monday + hours{23}).value().empty());
        const auto tuesday = world.campaign->due(monday + hours{24}).value();
        REQUIRE(tuesday.size() == 1);
        CHECK(tuesday[0].delivery_key == key + "-r1");
        CHECK(tuesday[0].direct_to == "@marie:x");
        CHECK(contains(tuesday[0].markdown, "Rappel"));
        CHECK(contains(tuesday[0].markdown, "**12 %**"));
        // A crash before it was queued: given back, same key and text.
        world.open();
        const auto unsent = world.campaign->unsent().value();
        REQUIRE(unsent.size() == 1);
        CHECK(unsent[0].delivery_key == key + "-r1");
        CHECK(unsent[0].markdown == tuesday[0].markdown);
        REQUIRE(world.campaign->mark_sent(unsent[0].delivery_key));
        CHECK(world.campaign->unsent().value().empty());
        // Someone else's ✅ does nothing; Marie's on the repeat stops the repeats.
        CHECK_FALSE(world.campaign->acknowledge(key + "-r1", "@paul:x", monday).value());
        CHECK_FALSE(world.campaign->acknowledge("rappel-12", "@marie:x", monday).value());
        CHECK(world.campaign->acknowledge(key + "-r1", "@marie:x", monday + hours{30}).value() ==
              CampaignAcknowledgement::noted);
        CHECK(world.campaign->acknowledge(key, "@marie:x", monday + hours{31}).value() ==
              CampaignAcknowledgement::already_noted);
        CHECK(world.campaign->due(monday + hours{48}).value().empty());
        // The next Monday's report says how many confirmed.
        const auto next = world.campaign->due(utc(2026, 11, 30, 8)).value();
        REQUIRE_FALSE(next.empty());
        CHECK(contains(next.back().markdown,
                       "Relance précédente (lundi 23/11/2026 à 9h00) : 1 message direct sur 1 "
                       "confirmé par ✅."));
    }

    TEST_CASE("kit campaign repeats stop at two and skip the weekend and caught up EPLE")
    {
        World world;
        REQUIRE(world.campaign->start(world.spec("chaque jeudi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", sunday));
        const auto thursday = utc(2026, 11, 26, 8);
        const auto first = world.campaign->due(thursday).value();
        REQUIRE(first.size() == 2);
        for (const auto& m : first)
            REQUIRE(world.campaign->mark_sent(m.delivery_key));
        const auto send = [&](Instant at) {
            auto due = world.campaign->due(at).value();
            for (const auto& m : due)
                REQUIRE(world.campaign->mark_sent(m.delivery_key));
            return due.size();
        };
        CHECK(send(thursday + days{1}) == 1); // Friday
        CHECK(send(thursday + days{2}) == 0); // Saturday
        CHECK(send(thursday + days{3}) == 0); // Sunday
        CHECK(send(thursday + days{4}) == 1); // Monday: the second repeat
        CHECK(send(thursday + days{5}) == 0); // no third
        // Another campaign: Moulin catches up before its first repeat.
        World other;
        REQUIRE(other.campaign->start(other.spec("chaque lundi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", sunday));
        const auto monday = utc(2026, 11, 23, 8);
        const auto claimed = other.campaign->due(monday).value();
        for (const auto& m : claimed)
            REQUIRE(other.campaign->mark_sent(m.delivery_key));
        REQUIRE(other.eple->save_snapshots({snapshot("0020013D", year{2026} / 11 / 23, 85)}));
        CHECK(other.campaign->due(monday + days{1}).value().empty());
        REQUIRE(other.eple->save_snapshots({snapshot("0020013D", year{2026} / 11 / 24, 12)}));
        CHECK(other.campaign->due(monday + days{2}).value().empty()); // settled for good
    }

    TEST_CASE("kit campaign gives up a direct message that could not be sent for a day")
    {
        World world;
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", sunday));
        const auto monday = utc(2026, 11, 23, 8);
        const auto claimed = world.campaign->due(monday).value();
        REQUIRE(claimed.size() == 2);
        REQUIRE(world.campaign->mark_sent(claimed[1].delivery_key)); // the report went
        CHECK(world.campaign->give_up_undelivered(monday + hours{23}).value() == 0);
        CHECK(world.campaign->unsent().value().size() == 1);
        CHECK(world.campaign->give_up_undelivered(monday + hours{24}).value() == 1);
        CHECK(world.campaign->unsent().value().empty());
        CHECK(world.campaign->due(monday + hours{48}).value().empty()); // never repeated
    }

    TEST_CASE("kit campaign skips an occurrence missed during a long downtime")
    {
        World world;
        REQUIRE(world.campaign->start(world.spec("chaque lundi 9h seuil 80 %"), "!salon:x",
                                      "@chef:x", sunday));
        CHECK(world.campaign->due(utc(2026, 11, 23, 12)).value().empty()); // 4 h late
        CHECK(world.campaign->current().value()->next_run == utc(2026, 11, 30, 8));
    }

    TEST_CASE("kit campaign from the config unless an admin decided otherwise")
    {
        World world;
        CHECK(world.campaign->load_from_config("chaque lundi 9h seuil 80 %", "!salon:x", sunday)
                  .value());
        CHECK(world.campaign->current().value()->from_config);
        // Same file, same phrase: kept as is.
        CHECK_FALSE(
            world.campaign
                ->load_from_config("chaque lundi 9h seuil 80 %", "!salon:x", sunday + days{1})
                .value());
        CHECK(world.campaign->current().value()->next_run == utc(2026, 11, 23, 8));
        const auto bad = world.campaign->load_from_config("chaque lundi seuil 80", "!s:x", sunday);
        REQUIRE_FALSE(bad);
        CHECK(contains(bad.error().message, "l'heure"));
        // An admin stops it: the config does not restart it.
        CHECK(world.campaign->stop().value());
        world.open();
        CHECK_FALSE(
            world.campaign->load_from_config("chaque lundi 9h seuil 80 %", "!salon:x", sunday)
                .value());
        CHECK_FALSE(world.campaign->current().value().has_value());
    }

    TEST_CASE("kit campaign commands are for admins with a dry run")
    {
        World world;
        Registry registry;
        Instant now = sunday;
        add_campaign_commands(registry, *world.campaign, [&now] { return now; });
        const auto say = [&](const std::string& body, Role role = Role::admin) {
            Message message;
            message.sender = "@chef:x";
            message.room = "!salon:x";
            message.body = body;
            message.role = role;
            const auto reply = registry.dispatch(message);
            REQUIRE(reply.has_value());
            return reply->markdown;
        };
        CHECK(contains(say("!campagne kit", Role::member), "administrateur"));
        CHECK(contains(say("!campagne kit"), "Aucune campagne"));
        CHECK(contains(say("!campagne kit essai"), "Aucune campagne"));
        CHECK(contains(say("!campagne kit chaque lundi 9h"), "Il manque le seuil"));
        CHECK(contains(say("!campagne"), "Usage"));
        const auto started = say("!campagne kit chaque lundi 9h seuil 80 % retard 15 jours");
        CHECK(contains(started, "lundi 23/11/2026 à 9h00"));
        const auto shown = say("!campagne kit");
        CHECK(contains(shown, "`chaque lundi 9h seuil 80 % retard 15 jours`"));
        CHECK(contains(shown, "depuis ce salon"));
        CHECK(contains(shown, "lundi 23/11/2026 à 9h00"));
        const auto trial = say("!campagne kit essai");
        CHECK(contains(trial, "Essai"));
        CHECK(contains(trial, "Collège Jean Moulin"));
        CHECK(contains(trial, "Message direct que recevrait_ `@marie:x`"));
        CHECK(contains(trial, "Réagissez avec ✅"));
        CHECK(world.campaign->unsent().value().empty()); // a dry run claims nothing
        CHECK(contains(say("!campagne kit arrêter"), "arrêtée"));
        CHECK(contains(say("!campagne kit arreter"), "Aucune campagne"));
        CHECK(contains(registry.help(Role::admin), "campagne"));
        CHECK_FALSE(contains(registry.help(Role::member), "campagne"));
    }
}
