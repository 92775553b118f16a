#include "commands/ticket_commands.hpp"

#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>

#include "support/checks.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

struct Salon {
    TimePoint now = TimePoint{std::chrono::sys_days{std::chrono::year{2024} / 2 / 1}} + 12h;
    StateDatabase state{":memory:"};
    TicketStore store{state, [this] { return now; }};
    TicketDialogues dialogues{state, store, options()};
    Registry registry;

    Salon()
    {
        TicketCommandOptions o;
        o.clock = [this] { return now; };
        add_ticket_commands(registry, store, dialogues, o);
    }

    DialogueOptions options()
    {
        DialogueOptions o;
        o.clock = [this] { return now; };
        return o;
    }

    std::string say(std::string_view sender, std::string_view body, Role role = Role::member)
    {
        Message m;
        m.sender = sender;
        m.room = "!salon";
        m.body = body;
        m.role = role;
        if (auto reply = registry.dispatch(m))
            return reply->markdown;
        if (auto reply = answer_ticket_dialogue(dialogues, m))
            return reply->markdown;
        return {};
    }
};

constexpr std::string_view marie = "@marie:tchap";
constexpr std::string_view paul = "@paul:tchap";
constexpr std::string_view agent = "@agent:tchap";

constexpr std::string_view full_form =
    R"(!ticket nouveau service=DRASI titre="Écran blanc à l'ouverture des mandats" )"
    R"(uai=0020013D env=production sphere=ordonnateur profil=gestionnaire nom=Dupont )"
    R"(prenom=Marie fonction=SG description="Depuis ce matin l'écran reste blanc" )"
    R"(operations=aucune erreurs=aucun)";

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE_FIXTURE(Salon, "ticket commands create with the one-line form and a check mark")
    {
        CHECK(contains(say(marie, full_form), "Récapitulatif"));
        CHECK(say(paul, "✅").empty()); // not Paul's dialogue: ordinary chat
        CHECK(contains(say(marie, "✅"), "R-000001"));
        CHECK(say(marie, "✅").empty()); // the dialogue is over
    }

    TEST_CASE_FIXTURE(Salon, "ticket commands take an image sent during the dialogue")
    {
        say(marie, full_form);
        Message image;
        image.sender = marie;
        image.room = "!salon";
        image.body = "capture.png";
        image.attachment = Attachment{"capture.png", "PNG"};
        const auto reply = answer_ticket_dialogue(dialogues, image);
        REQUIRE(reply);
        CHECK(contains(reply->markdown, "ajoutée"));
        image.sender = paul; // no dialogue: an ordinary message
        CHECK_FALSE(answer_ticket_dialogue(dialogues, image));
        CHECK(contains(say(marie, "oui"), "R-000001"));
        const auto card = say(marie, "!ticket R-000001");
        CHECK_MESSAGE(contains(card, "**Pièces jointes** : capture"), card);
    }

    TEST_CASE_FIXTURE(Salon, "ticket commands take a cross mark as non")
    {
        say(marie, full_form);
        CHECK(contains(say(marie, "❌"), "non créé"));
        CHECK(contains(say(marie, "!tickets"), "aucun ticket en cours"));
    }

    TEST_CASE_FIXTURE(Salon, "ticket commands show a ticket to its requester and support only")
    {
        say(marie, full_form);
        say(marie, "oui");
        now += 48h;
        const auto own = say(marie, "!ticket R-000001");
        CHECK(contains(own, "nouveau"));
        CHECK(contains(own, "DRASI"));
        CHECK(contains(own, "depuis 2 jours"));
        CHECK(contains(say(paul, "!ticket R-000001"), "Je ne trouve pas"));
        CHECK(contains(say(agent, "!ticket R-000001", Role::support), "Écran blanc"));
        CHECK(contains(say(marie, "!ticket R-000042"), "Je ne trouve pas"));
    }

    TEST_CASE_FIXTURE(Salon, "ticket commands let support change the status with a public note")
    {
        say(marie, full_form);
        say(marie, "oui");
        CHECK(contains(say(marie, R"(!ticket R-000001 statut résolu "fait")"), "Seul le support"));
        CHECK(contains(
            say(agent, R"(!ticket R-000001 statut en attente "RIB demandé")", Role::support),
            "« en attente »"));
        CHECK(
            contains(say(agent, "!ticket R-000001 statut perdu", Role::support), "Statut inconnu"));
        CHECK(contains(say(marie, "!tickets"), "R-000001"));
        CHECK(contains(
            say(agent, R"(!ticket R-000001 statut résolu "Vider le cache")", Role::support),
            "« résolu »"));
        const auto card = say(marie, "!ticket R-000001");
        CHECK(contains(card, "résolu"));
        CHECK(contains(card, "Vider le cache"));
        CHECK(contains(say(marie, "!tickets"), "aucun ticket en cours"));
    }

    TEST_CASE_FIXTURE(Salon, "ticket commands give statistics to support")
    {
        say(marie, full_form);
        say(marie, "oui");
        now += 24h * 20;
        CHECK(contains(say(marie, "!tickets stats"), "réservées au support"));
        const auto all = say(agent, "!tickets stats", Role::support);
        CHECK(contains(all, "| Déposés | 1 | 0 | 1 | 0 |"));
        CHECK(contains(all, "| En cours depuis plus de 15 jours | 1 |"));
        const auto february =
            say(agent, "!tickets stats du 01/02/2024 au 01/02/2024", Role::support);
        CHECK(contains(february, "du 01/02/2024 au 01/02/2024"));
        CHECK(contains(february, "| Déposés | 1 |"));
        CHECK(
            contains(say(agent, "!tickets stats du 02/02/2024", Role::support), "| Déposés | 0 |"));
        CHECK(contains(say(agent, "!tickets stats du 31/02/2024", Role::support), "JJ/MM/AAAA"));
        CHECK(contains(say(agent, "!tickets stats du 02/02/2024 au 01/02/2024", Role::support),
                       "précède"));
    }

    TEST_CASE_FIXTURE(Salon, "tickets stats graphique draws the weeks for support only")
    {
        const auto ask = [this](std::string_view body, Role role) {
            Message m;
            m.sender = agent;
            m.room = "!salon";
            m.body = body;
            m.role = role;
            auto reply = registry.dispatch(m);
            REQUIRE(reply);
            return std::move(*reply);
        };
        CHECK(contains(ask("!tickets stats graphique", Role::support).markdown,
                       "Aucun ticket déposé depuis le début : pas de graphique."));
        say(marie, full_form);
        say(marie, "oui");
        now += 24h * 20;
        const auto member = ask("!tickets stats graphique", Role::member);
        CHECK(contains(member.markdown, "réservées au support"));
        CHECK(member.files.empty());
        const auto reply = ask("!tickets stats du 01/02/2024 graphique", Role::support);
        CHECK(contains(reply.markdown, "**Tickets du 01/02/2024** : 1 déposé en 4 semaines"));
        REQUIRE(reply.files.size() == 1);
        const auto& file = reply.files.front();
        CHECK(file.name == "tickets.png");
        CHECK(file.mime_type == "image/png");
        REQUIRE(file.image);
        CHECK(file.image->width >= 1000);
        CHECK(file.content.starts_with("\x89PNG"));
        CHECK(contains(file.description, "- 29/01/2024 : déposés : 1\n"));
        CHECK(contains(ask("!tickets stats du 31/02/2024 graphique", Role::support).markdown,
                       "[graphique]"));
        CHECK(ask("!tickets stats", Role::support).files.empty());
    }
}
