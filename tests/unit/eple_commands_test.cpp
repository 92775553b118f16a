#include "commands/eple_commands.hpp"

#include "commands/eple_import.hpp"

#include <doctest/doctest.h>

#include <string>

#include "support/checks.hpp"
#include "support/eple_fixture.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

/// 22/01/2024 at noon, the day of the comité: the same date in UTC and in Paris.
std::chrono::system_clock::time_point comite_day()
{
    return std::chrono::sys_days{2024y / 1 / 22} + 12h;
}

Snapshot snapshot(double kit, int paiements, int ej, int titres)
{
    Snapshot s;
    s.uai = "0750655E";
    s.date = 2024y / 1 / 19;
    s.kit_taux = kit;
    s.paiements = paiements;
    s.ej = ej;
    s.titres_recettes = titres;
    return s;
}

struct FixedTickets final : TicketSource {
    std::optional<int> open_tickets(std::string_view uai) override
    {
        if (uai == "0809001Z")
            return 4;
        return std::nullopt;
    }
};

/// A registry with the EPLE commands over the wave-6 fixture (two snapshots).
struct WaveSix {
    StateDatabase state{":memory:"};
    EpleStore store{state};
    FixedTickets tickets;
    Registry registry;

    explicit WaveSix(bool with_tickets = false)
    {
        opalebot::testing::import_wave_six(store);
        EpleOptions options;
        options.clock = comite_day;
        options.tickets = with_tickets ? &tickets : nullptr;
        add_eple_commands(registry, store, options);
    }

    std::string ask(std::string body, Role role = Role::member)
    {
        const auto reply = registry.dispatch(Message{"@agent:tchap.gouv.fr", "!salon:tchap.gouv.fr",
                                                     std::move(body), role, std::nullopt});
        REQUIRE(reply);
        return reply->markdown;
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("kit buckets put 10 and 30 in the middle")
    {
        CHECK(kit_bucket(0) == KitBucket::less_than_10);
        CHECK(kit_bucket(9.99) == KitBucket::less_than_10);
        CHECK(kit_bucket(10) == KitBucket::from_10_to_30);
        CHECK(kit_bucket(20.6) == KitBucket::from_10_to_30);
        CHECK(kit_bucket(30) == KitBucket::from_10_to_30);
        CHECK(kit_bucket(30.01) == KitBucket::more_than_30);
        CHECK(kit_bucket(100) == KitBucket::more_than_30);
    }

    TEST_CASE("difficulty rule needs two of its four signals")
    {
        const DifficultyRule rule;
        CHECK_FALSE(to_accompany(snapshot(50, 3, 4, 5), rule));
        CHECK_FALSE(to_accompany(snapshot(5, 3, 4, 5), rule)); // one signal
        CHECK(difficulty_signals(snapshot(5, 3, 4, 5), rule) ==
              std::vector{DifficultySignal::kit_low});
        CHECK(to_accompany(snapshot(5, 0, 4, 5), rule));
        CHECK(to_accompany(snapshot(50, 0, 0, 5), rule));
        CHECK(to_accompany(snapshot(50, 3, 0, 0), rule));
        CHECK_FALSE(to_accompany(snapshot(10, 0, 4, 5), rule)); // 10 % is not under 10 %
        CHECK(difficulty_signals(snapshot(0, 0, 0, 0), rule) ==
              std::vector{DifficultySignal::kit_low, DifficultySignal::no_paiement,
                          DifficultySignal::no_ej, DifficultySignal::no_titre});
    }

    TEST_CASE("difficulty rule thresholds are configurable")
    {
        DifficultyRule rule;
        rule.kit_below = 25;
        rule.paiements_below = 3;
        rule.signals_needed = 3;
        CHECK(difficulty_signals(snapshot(20, 2, 0, 5), rule) ==
              std::vector{DifficultySignal::kit_low, DifficultySignal::no_paiement,
                          DifficultySignal::no_ej});
        CHECK(to_accompany(snapshot(20, 2, 0, 5), rule));
        CHECK_FALSE(to_accompany(snapshot(20, 3, 0, 5), rule));
    }

    TEST_CASE("french figures truncate to two decimals with a space before the percent sign")
    {
        CHECK(format_percent(50, 61) == "81,96 %"); // 81.967…: the comité truncated
        CHECK(format_percent(61, 61) == "100 %");
        CHECK(format_percent(1, 2) == "50 %");
        CHECK(format_percent(1, 8) == "12,5 %");
        CHECK(format_percent(9999, 10000) == "99,99 %");
        CHECK(format_percent(0, 0) == "–");
        CHECK(format_rate(20.6) == "20,6 %");
        CHECK(format_rate(1256.6 / 61) == "20,6 %"); // 20.599999… in binary
        CHECK(format_rate(5.4) == "5,4 %");
        CHECK(format_rate(9.999) == "9,99 %"); // never shown as 10 % while under 10 %
        CHECK(format_date(2024y / 1 / 9) == "09/01/2024");
    }

    TEST_CASE("calendar gives every wave its published date")
    {
        const auto& calendar = deployment_calendar();
        CHECK(calendar[0].start == "01/2021");
        CHECK(calendar[2].start == "09/2022");
        CHECK(calendar[5].start == "01/2024");
        CHECK(calendar[8].start == "09/2025");
    }

    TEST_CASE("wave six fixture reproduces the comite of 22 January 2024")
    {
        WaveSix six;
        const auto text = six.ask("!vague 6");
        CHECK(contains(text, "**Vague 6** (bascule 01/2024) : 61 EPLE"));
        CHECK(contains(text, "50 budgets intégrés sur 61 (81,96 %)"));
        CHECK(contains(text, "  - plus de 30 % : 15 EPLE\n"));
        CHECK(contains(text, "  - de 10 à 30 % : 30 EPLE\n"));
        CHECK(contains(text, "  - moins de 10 % : 16 EPLE\n"));
        CHECK(contains(text, "taux moyen 20,6 %"));
        CHECK(contains(text, "Budget saisi dans GFC : 25 (47,16 %) · dans op@le : 28 (52,83 %)"));
        CHECK(contains(text, "Paiements effectués : 33 EPLE sur 61 (54,09 %)"));
        CHECK(contains(text, "Prélèvements mis en œuvre : 5 EPLE sur 61 (8,19 %)"));
        CHECK(contains(text, "**EPLE à accompagner : 22**"));
        CHECK_FALSE(contains(text, "Sans indicateur"));
        CHECK(contains(text, "Relevés du 19/01/2024 (il y a 3 jours)."));
        MESSAGE(text);
    }

    TEST_CASE("wave command accepts V6 and refuses other waves")
    {
        WaveSix six;
        CHECK(contains(six.ask("!vague V6"), "61 EPLE"));
        CHECK(contains(six.ask("!Vague vague 6"), "61 EPLE"));
        CHECK(contains(six.ask("!vague 7"), "Aucun EPLE de cette vague n'est connu du bot."));
        CHECK(contains(six.ask("!vague 12"), "Indiquez une vague de 1 à 9"));
        // issue 15, item 8: "-1" read as wave 1
        for (const auto* refused :
             {"!vague -1", "!vague 0", "!vague 10", "!vague +6", "!vague 6.5"})
            CHECK(contains(six.ask(refused), "Indiquez une vague de 1 à 9"));
        CHECK(contains(six.ask("!vague"), "Indiquez une vague de 1 à 9"));
    }

    TEST_CASE("difficultes lists the most urgent first with their reasons")
    {
        WaveSix six;
        const auto text = six.ask("!difficultés 6");
        CHECK(contains(text, "**EPLE à accompagner (vague 6) : 22**, les plus urgents d'abord"));
        CHECK(contains(text, "Règle : au moins 2 signaux parmi kit de bascule sous 10 %, aucun "
                             "paiement, aucun EJ, aucun titre de recettes."));
        // Four signals, lowest kit first, then by name: the fixture's Collège 0609033T and
        // Lycée 0609021E (0 %), then 0809001Z (1 %).
        const auto first = text.find("1. **");
        const auto second = text.find("2. **");
        const auto third = text.find("3. **");
        REQUIRE(third != std::string::npos);
        CHECK(contains(text.substr(first, second - first), "0609033T"));
        CHECK(contains(text.substr(second, third - second), "0609021E"));
        CHECK(contains(text.substr(third, 200), "0809001Z"));
        CHECK(contains(text.substr(third, 200),
                       "kit de bascule à 1 % (sous 10 %), aucun paiement, aucun EJ, aucun titre "
                       "de recettes"));
        CHECK(contains(six.ask("!difficultes"), "vague 6)")); // the wave shown without a filter
        CHECK(contains(six.ask("!difficultes 3"), "Aucun EPLE à accompagner (vague 3)"));
        CHECK(contains(six.ask("!difficultes demain"), "Usage"));
    }

    TEST_CASE("eple shows one card with trend age and reasons")
    {
        WaveSix six{true};
        const auto text = six.ask("!eple 0809001z");
        CHECK(contains(text, "**Collège Émile Exemple 01** (0809001Z)"));
        CHECK(contains(text, "Commune : Bourg\\-sur\\-Essai · Type : Collège · Académie : Amiens"));
        CHECK(contains(text, "- Vague 6 : bascule 01/2024"));
        CHECK(contains(text, "Agence comptable : siège"));
        CHECK(contains(text, "**Indicateurs du 19/01/2024** (il y a 3 jours)"));
        CHECK(contains(text, "- Kit de bascule : 1 % (+1 point depuis le 12/01/2024)"));
        CHECK(contains(text, "- Budget intégré : non, saisi dans GFC"));
        CHECK(contains(text, "- Paiements : 0"));
        CHECK(contains(text, "- Prélèvements : non"));
        CHECK(contains(text, "- Tickets ouverts : 4"));
        CHECK(contains(text, "**À accompagner** : kit de bascule à 1 % (sous 10 %), aucun "
                             "paiement, aucun EJ, aucun titre de recettes."));
        const auto member = six.ask("!eple 0029002");
        CHECK(contains(member, "Agence comptable : Collège Émile Exemple 01 (0809001Z)"));
        CHECK(contains(member, "Kit de bascule : 27 % (+6 points depuis le 12/01/2024)"));
        CHECK_FALSE(contains(member, "Tickets ouverts")); // the backend does not know
    }

    TEST_CASE("eple without a ticket backend says nothing about tickets")
    {
        WaveSix six;
        CHECK_FALSE(contains(six.ask("!eple 0809001Z"), "icket"));
    }

    TEST_CASE("eple finds by name whatever the accents and case")
    {
        WaveSix six;
        CHECK(contains(six.ask("!eple emile exemple 01"), "(0809001Z)\n\n- Commune"));
        CHECK(contains(six.ask("!eple ÉMILE EXEMPLE 01"), "**Indicateurs du"));
        const auto several = six.ask("!eple helene");
        CHECK(contains(several, "EPLE correspondent à « helene »"));
        CHECK(contains(several, "Hélène Exemple 02** (0029002Z), Saint\\-Fictif, vague 6"));
        const auto many = six.ask("!eple exemple");
        CHECK(contains(many, "61 EPLE correspondent"));
        CHECK(contains(many, "… et 51 autres"));
        CHECK(contains(six.ask("!eple montessai"), "correspondent")); // by commune too
        CHECK(contains(six.ask("!eple Lycée Descartes"), "Aucun EPLE ne correspond"));
    }

    TEST_CASE("eple checks the key of an UAI")
    {
        WaveSix six;
        CHECK(contains(six.ask("!eple 0809001A"), "la lettre de 0809001 est Z"));
        CHECK(contains(six.ask("!eple 0750655E"), "Aucun EPLE d'UAI 0750655E"));
        CHECK(contains(six.ask("!eple"), "Indiquez un UAI"));
    }

    TEST_CASE("vagues shows the calendar with the EPLE known per wave")
    {
        WaveSix six;
        const auto text = six.ask("!vagues");
        CHECK(contains(text, "- Vague 1 : 01/2021 · aucun EPLE connu\n"));
        CHECK(contains(text, "- Vague 3 : 09/2022 · aucun EPLE connu\n"));
        CHECK(contains(text, "- Vague 6 : 01/2024 · 61 EPLE connus\n"));
        CHECK(contains(text, "- Vague 9 : 09/2025 · aucun EPLE connu\n"));
        CHECK(contains(text, "Fin du déploiement : 01/09/2025."));
    }

    TEST_CASE("eple commands are for members of the salon")
    {
        WaveSix six;
        const auto help = six.registry.help(Role::member);
        for (const auto* name : {"!eple", "!vague <N>", "!difficultes", "!vagues"})
            CHECK(contains(help, name));
    }

    TEST_CASE("eple and vague name the EPLE without indicators")
    {
        WaveSix six{true};
        REQUIRE(import_etablissements(six.store, "uai;nom;vague\n0750655E;Lycée Sans Relevé;6\n",
                                      "e.csv")
                    .ok);
        CHECK(contains(six.ask("!eple 0750655E"), "Aucun indicateur importé pour cet EPLE."));
        const auto wave = six.ask("!vague 6");
        CHECK(contains(wave, "50 budgets intégrés sur 62 (80,64 %)"));
        CHECK(contains(wave, "- Sans indicateur : 1 EPLE"));
        CHECK(contains(six.ask("!difficultes 6"), "1 EPLE n'a encore aucun indicateur"));
    }

    TEST_CASE("eple commands work on an empty referential")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        Registry registry;
        add_eple_commands(registry, store);
        const auto ask = [&](std::string body) {
            return registry
                .dispatch(Message{"@a:b", "", std::move(body), Role::member, std::nullopt})
                ->markdown;
        };
        CHECK(contains(ask("!vague 6"), "0 EPLE"));
        CHECK(contains(ask("!difficultes"), "Aucun EPLE à accompagner"));
        CHECK(contains(ask("!vagues"), "EPLE connus du bot : 0."));
        CHECK(contains(ask("!eple matisse"), "Aucun EPLE ne correspond"));
    }

    TEST_CASE("import command reads the attached CSV for admins only")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        Registry registry;
        add_eple_import_command(registry, store);
        Message message{"@chef:hs.test", "!salon:hs.test", "!import etablissements", Role::admin,
                        Attachment{"ref.csv", "uai;nom;vague\n0020013D;Collège Test;6\n"}};
        const auto imported = registry.dispatch(message);
        REQUIRE(imported.has_value());
        CHECK(imported->markdown.find("1 établissement") != std::string::npos);

        message.attachment = Attachment{"ref.csv", "uai;nom;vague\n0020013A;Collège Test;12\n"};
        const auto refused = registry.dispatch(message);
        REQUIRE(refused.has_value());
        CHECK(refused->markdown.find("ligne 2") != std::string::npos);

        message.attachment.reset();
        const auto no_file = registry.dispatch(message);
        REQUIRE(no_file.has_value());
        CHECK(no_file->markdown.find("Je ne vois pas de fichier") != std::string::npos);

        message.role = Role::member;
        message.attachment = Attachment{"ref.csv", "uai;nom;vague\n0020013D;Autre;6\n"};
        const auto member = registry.dispatch(message);
        REQUIRE(member.has_value());
        CHECK(member->markdown.find("réservée") != std::string::npos);
    }
}
