#include "commands/ticket_dialogue.hpp"

#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>

#include "support/checks.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

/// The built-in store, made to fail on demand, and failing *after* creating when asked: the
/// case where the backend did the work but the answer was lost.
struct FlakyBackend final : TicketBackend {
    StateDatabase state{":memory:"};
    TicketStore store;
    int failures_before = 0; ///< calls that fail without creating
    int failures_after = 0;  ///< calls that create, then fail
    int calls = 0;
    std::string user_message; ///< when set, failures carry this French message for the user
    std::string_view errcode = user_facing_error; ///< or user_facing_refusal
    std::string triage;                           ///< triage_text()
    std::string note;                             ///< Ticket::note of what it creates
    explicit FlakyBackend(TicketStore::Clock clock) : store(state, std::move(clock)) {}

    opalebot::Result<Ticket> create(const NewTicket& ticket) override
    {
        ++calls;
        if (failures_before > 0) {
            --failures_before;
            if (!user_message.empty())
                return opalebot::Error{opalebot::Error::Kind::transport,
                                       28,
                                       std::string{errcode},
                                       user_message,
                                       {},
                                       false};
            return opalebot::Error{opalebot::Error::Kind::transport, 28, {}, "timeout", {}, false};
        }
        auto created = store.create(ticket);
        if (created)
            created.value().note = note;
        if (failures_after > 0) {
            --failures_after;
            return opalebot::Error{opalebot::Error::Kind::transport, 28, {}, "timeout", {}, false};
        }
        return created;
    }
    opalebot::Result<std::optional<Ticket>> find(std::string_view ref) override
    {
        return store.find(ref);
    }
    opalebot::Result<std::vector<Ticket>> open_tickets_of(std::string_view r) override
    {
        return store.open_tickets_of(r);
    }
    opalebot::Result<Ticket> update(std::string_view ref, std::optional<TicketStatus> s,
                                    std::string_view t, std::string_view a) override
    {
        return store.update(ref, s, t, a);
    }
    opalebot::Result<std::vector<Ticket>> filed_between(TimePoint f, TimePoint t) override
    {
        return store.filed_between(f, t);
    }
    std::string triage_text(Service /*service*/) const override { return triage; }
};

struct Fixture {
    TimePoint now = TimePoint{} + 1000h;
    int keys = 0;
    FlakyBackend backend{[this] { return now; }};

    DialogueOptions options()
    {
        DialogueOptions o;
        o.idle_timeout = 30min;
        o.clock = [this] { return now; };
        o.new_key = [this] { return "key-" + std::to_string(++keys); };
        o.find_eple = [](std::string_view name) -> std::optional<EpleMatch> {
            if (name == "Collège Jean Macé" || name == "0020013D")
                return EpleMatch{"0020013D", "Collège Jean Macé"};
            return std::nullopt;
        };
        return o;
    }
};

constexpr std::string_view user = "@marie.dupont-ac-lille.fr:agent.tchap.gouv.fr";
constexpr std::string_view room = "!salon:tchap|$thread";

constexpr std::string_view full_form =
    R"(service=DRASI titre="Écran blanc à l'ouverture des mandats" uai=0020013D env=production )"
    R"(sphere=ordonnateur profil=gestionnaire nom=Dupont prenom=Marie fonction="SG" )"
    R"(description="Depuis ce matin l'écran reste blanc" operations=aucune erreurs=aucun)";

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE_FIXTURE(Fixture, "ticket dialogue asks each missing field in turn")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        CHECK_FALSE(dialogues.answer(user, room, "bonjour")); // no dialogue: not for us
        auto reply = dialogues.start(user, room, "");
        CHECK(contains(reply, "titre"));
        CHECK(dialogues.is_open(user, room));
        CHECK_FALSE(dialogues.is_open(user, "!autre"));
        CHECK_FALSE(dialogues.is_open("@paul:tchap", room));

        reply = *dialogues.answer(user, room, "Bug urgent aide svp merci");
        CHECK(contains(reply, "généraux")); // refused, asked again
        CHECK(contains(reply, "titre"));
        reply = *dialogues.answer(user, room, "Écran blanc à l'ouverture des mandats");
        CHECK(contains(reply, "EPLE"));
        reply = *dialogues.answer(user, room, "0020013E");
        CHECK(contains(reply, "« D »"));
        reply = *dialogues.answer(user, room, "Collège Jean Macé");
        CHECK(contains(reply, "environnement"));
        reply = *dialogues.answer(user, room, "bac à sable");
        CHECK(contains(reply, "sphère"));
        reply = *dialogues.answer(user, room, "ordonnateur");
        CHECK(contains(reply, "profil"));
        reply = *dialogues.answer(user, room, "gestionnaire");
        CHECK(contains(reply, "nom"));
        reply = *dialogues.answer(user, room, "Dupont");
        CHECK(contains(reply, "prénom"));
        reply = *dialogues.answer(user, room, "Marie");
        CHECK(contains(reply, "fonction"));
        reply = *dialogues.answer(user, room, "secrétaire générale");
        CHECK(contains(reply, "écrivez"));
        reply =
            *dialogues.answer(user, room, "Après connexion le navigateur affiche une page blanche");
        CHECK(contains(reply, "opérations"));
        reply = *dialogues.answer(user, room, "aucune");
        CHECK(contains(reply, "messages d'erreur"));
        reply = *dialogues.answer(user, room, "aucun");
        CHECK(contains(reply, "**DRASI**")); // proposed from the technical words
        CHECK(contains(reply, "technique"));
        reply = *dialogues.answer(user, room, "SI2C"); // the user changes it
        CHECK(contains(reply, "Récapitulatif"));
        CHECK(contains(reply, "SI2C \\- Écran blanc"));
        CHECK(contains(reply, "Collège Jean Macé"));
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "R-000001"));
        CHECK_FALSE(dialogues.is_open(user, room));
        const auto ticket = backend.store.find("R-000001");
        REQUIRE(ticket);
        REQUIRE(ticket.value());
        CHECK(ticket.value()->title == "SI2C - Écran blanc à l'ouverture des mandats");
        CHECK(ticket.value()->fields.env == Environment::bac_a_sable);
        CHECK(ticket.value()->requester == user);
        CHECK(ticket.value()->room == room);
    }

    TEST_CASE_FIXTURE(Fixture,
                      "ticket dialogue from the complete one-line form goes to the summary")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        auto reply = dialogues.start(user, room, full_form);
        CHECK(contains(reply, "Récapitulatif"));
        CHECK(contains(reply, "DRASI \\- Écran blanc"));
        reply = *dialogues.answer(user, room, "peut-être");
        CHECK(contains(reply, "oui"));
        reply = *dialogues.answer(user, room, R"(titre="Page blanche sur la liste des mandats")");
        CHECK(contains(reply, "Page blanche sur la liste des mandats"));
        reply = *dialogues.answer(user, room, "titre=bug");
        CHECK(contains(reply, "Correction refusée"));
        reply = *dialogues.answer(user, room, "✅ Oui !");
        CHECK(contains(reply, "R-000001"));
        CHECK(backend.store.find("R-000001").value()->title ==
              "DRASI - Page blanche sur la liste des mandats");
    }

    TEST_CASE_FIXTURE(Fixture,
                      "ticket dialogue with a partial one-line form asks only what is missing")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        auto reply = dialogues.start(
            user, room,
            R"(titre="Mandat rejeté au visa comptable" uai=0020013D env=fm1 sphere=comptable )"
            R"(profil=gestionnaire nom=Dupont prenom=Marie fonction=SG couleur=bleu)");
        CHECK(contains(reply, "couleur"));  // unknown key reported
        CHECK(contains(reply, "Décrivez")); // first missing field
        reply = *dialogues.answer(user, room, "Le paiement du fournisseur est rejeté au visa");
        reply = *dialogues.answer(user, room, "Liquidation puis mandatement");
        reply = *dialogues.answer(user, room, "aucun");
        CHECK(contains(reply, "**SI2C**"));
        CHECK(contains(reply, "métier"));
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "Récapitulatif"));
        reply = *dialogues.answer(user, room, "non");
        CHECK(contains(reply, "non créé"));
        CHECK_FALSE(dialogues.is_open(user, room));
        CHECK(backend.calls == 0);
    }

    TEST_CASE_FIXTURE(Fixture, "ticket dialogue allows one per user and room and can be cancelled")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        dialogues.start(user, room, "");
        REQUIRE(dialogues.answer(user, room, "Écran blanc à l'ouverture des mandats"));
        const auto again = dialogues.start(user, room, "");
        CHECK(contains(again, "déjà un ticket"));
        CHECK(contains(again, "EPLE")); // resumes where it was
        CHECK(dialogues.get(user, room)->idempotency_key == "key-1");
        dialogues.start(user, "!autre-salon", ""); // another room: another dialogue
        CHECK(dialogues.is_open(user, "!autre-salon"));
        CHECK(contains(*dialogues.answer(user, room, "Annuler"), "abandonné"));
        CHECK_FALSE(dialogues.is_open(user, room));
        CHECK(dialogues.is_open(user, "!autre-salon"));
    }

    TEST_CASE_FIXTURE(Fixture, "ticket dialogue survives a restart")
    {
        const opalebot::testing::TempDir dir;
        const auto path = dir.file("state.db");
        {
            StateDatabase state{path};
            TicketDialogues dialogues{state, backend, options()};
            dialogues.start(user, room, "");
            REQUIRE(dialogues.answer(user, room, "Écran blanc à l'ouverture des mandats"));
            REQUIRE(dialogues.answer(user, room, "0020013D"));
        }
        StateDatabase state{path};
        TicketDialogues restarted{state, backend, options()};
        REQUIRE(restarted.is_open(user, room));
        const auto d = restarted.get(user, room);
        CHECK(d->fields.titre == "Écran blanc à l'ouverture des mandats");
        CHECK(d->fields.uai == "0020013D");
        CHECK(d->asking == Field::env);
        CHECK(d->idempotency_key == "key-1");
        CHECK(contains(*restarted.answer(user, room, "production"), "sphère"));
    }

    TEST_CASE_FIXTURE(Fixture, "ticket dialogue expires after the idle time")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        dialogues.start(user, room, "");
        now += 29min;
        REQUIRE(dialogues.answer(user, room, "Écran blanc à l'ouverture des mandats"));
        now += 29min; // activity renewed the timer
        CHECK(dialogues.is_open(user, room));
        now += 2min;
        CHECK_FALSE(dialogues.is_open(user, room));
        const auto reply = dialogues.answer(user, room, "0020013D");
        REQUIRE(reply);
        CHECK(contains(*reply, "expiré"));
        CHECK_FALSE(dialogues.answer(user, room, "0020013D")); // gone

        dialogues.start(user, room, "");
        dialogues.start("@paul:tchap", room, "");
        now += 10min;
        dialogues.start(user, "!autre", "");
        now += 25min;
        const auto expired = dialogues.expire_idle();
        REQUIRE(expired.size() == 2);
        CHECK(contains(expired[0].markdown, "30 minutes"));
        CHECK(dialogues.is_open(user, "!autre"));
        CHECK_FALSE(dialogues.get(user, room));
    }

    TEST_CASE_FIXTURE(Fixture, "ticket dialogue joins the files sent during it")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        CHECK_FALSE(dialogues.add_attachment(user, room, Attachment{"avant.png", "x"}));
        dialogues.start(user, room, full_form);
        CHECK(contains(*dialogues.add_attachment(user, room, Attachment{"ecran.png", "PNG\0a"}),
                       "ajoutée"));
        CHECK(contains(*dialogues.add_attachment(
                           user, room, Attachment{"gros.png", std::string(11 * 1024 * 1024, 'x')}),
                       "dépasse"));
        REQUIRE(dialogues.attachments(user, room).size() == 1);
        CHECK(contains(*dialogues.answer(user, room, "oui"), "R-000001"));
        CHECK(dialogues.attachments(user, room).empty());
        const auto ticket = backend.store.find("R-000001");
        REQUIRE(ticket.value());
        REQUIRE(ticket.value()->attachment_names.size() == 1);
        CHECK(ticket.value()->attachment_names[0] == "ecran.png");
    }

    TEST_CASE_FIXTURE(Fixture, "ticket dialogue keeps its key across backend failures")
    {
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, options()};
        dialogues.start(user, room, full_form);
        backend.failures_before = 1;
        auto reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "réessayer"));
        CHECK(dialogues.is_open(user, room));
        backend.failures_after = 1; // created, but the answer was lost
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "réessayer"));
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "R-000001"));
        CHECK(backend.calls == 3);
        const auto second = backend.store.find("R-000002");
        REQUIRE(second);
        CHECK_FALSE(second.value()); // never a second ticket
    }

    TEST_CASE_FIXTURE(Fixture,
                      "ticket dialogue shows the backend's French reason and reports creation")
    {
        auto o = options();
        std::vector<std::string> watched;
        o.on_created = [&watched](const Ticket& t) { watched.push_back(t.ref); };
        StateDatabase state{":memory:"};
        TicketDialogues dialogues{state, backend, o};
        dialogues.start(user, room, full_form);
        backend.failures_before = 1;
        backend.user_message = "iTop n'a pas répondu à temps.";
        auto reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "iTop n\\'a pas répondu à temps"));
        CHECK(contains(reply, "réessayer"));
        CHECK(watched.empty());
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "R-000001"));
        REQUIRE(watched.size() == 1);
        CHECK(watched[0] == "R-000001");
    }

    TEST_CASE_FIXTURE(Fixture,
                      "ticket dialogue never offers a plain retry after a refusal and shows triage")
    {
        StateDatabase state{":memory:"};
        backend.triage = "service op@le, équipe DRASI, type incident";
        backend.note = "Demandeur enregistré dans iTop : Anne Martin (Collège Test).";
        TicketDialogues dialogues{state, backend, options()};
        const auto card = dialogues.start(user, room, full_form);
        CHECK(contains(card, "**Enregistré comme** : service op@le, équipe DRASI, type incident"));
        backend.failures_before = 1;
        backend.errcode = user_facing_refusal;
        backend.user_message = "L'établissement 0020013D n'est pas connu d'iTop.";
        auto reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "a refusé"));
        CHECK(contains(reply, "corrigez ce qui est indiqué"));
        CHECK_FALSE(contains(reply, "réessayer"));
        CHECK(dialogues.is_open(user, room)); // nothing lost: corrected, it can go through
        reply = *dialogues.answer(user, room, "oui");
        CHECK(contains(reply, "R-000001"));
        CHECK(contains(reply, "Anne Martin \\(Collège Test\\)")); // escaped Markdown
    }
}
