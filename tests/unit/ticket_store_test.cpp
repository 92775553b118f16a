#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>

#include "support/temp_dir.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;

namespace {

TicketFields complete_fields(Service service = Service::drasi)
{
    TicketFields f;
    f.service = service;
    f.titre = "Écran blanc à l'ouverture des mandats";
    f.uai = "0020013D";
    f.env = Environment::production;
    f.sphere = "ordonnateur";
    f.profil = "gestionnaire";
    f.nom = "Dupont";
    f.prenom = "Marie";
    f.fonction = "secrétaire générale";
    f.description = "Depuis ce matin l'écran reste blanc";
    f.operations = "aucune";
    f.erreurs = "aucun";
    return f;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("ticket references are R and six digits")
    {
        CHECK(format_reference(1) == "R-000001");
        CHECK(format_reference(1234567) == "R-1234567");
        CHECK(parse_reference("R-000123") == 123);
        CHECK(parse_reference("r-42") == 42);
        CHECK_FALSE(parse_reference("R-"));
        CHECK_FALSE(parse_reference("R-12a"));
        CHECK_FALSE(parse_reference("R-000000"));
        CHECK_FALSE(parse_reference("123"));
    }

    TEST_CASE("ticket statuses have codes and French labels")
    {
        CHECK(status_label(TicketStatus::created) == "nouveau");
        CHECK(status_label(TicketStatus::pending) == "en attente");
        CHECK(parse_status("résolu") == TicketStatus::resolved);
        CHECK(parse_status("Resolu") == TicketStatus::resolved);
        CHECK(parse_status("new") == TicketStatus::created);
        CHECK(parse_status("clos") == TicketStatus::closed);
        CHECK(parse_status("fermé") == TicketStatus::closed);
        CHECK(parse_status("assigné") == TicketStatus::assigned);
        CHECK_FALSE(parse_status("perdu"));
        CHECK(is_open(TicketStatus::pending));
        CHECK_FALSE(is_open(TicketStatus::closed));
    }

    TEST_CASE("ticket store creates numbered tickets once per idempotency key")
    {
        auto now = std::chrono::system_clock::time_point{} + 1000h;
        StateDatabase state{":memory:"};
        TicketStore store{state, [&now] { return now; }};
        const auto first =
            store.create(NewTicket{"key-1", "@marie:tchap", "!room", complete_fields(), {}});
        REQUIRE(first);
        CHECK(first.value().ref == "R-000001");
        CHECK(first.value().title == "DRASI - Écran blanc à l'ouverture des mandats");
        CHECK(first.value().team == Team::drasi);
        CHECK(first.value().status == TicketStatus::created);
        CHECK(first.value().created_at == now);
        CHECK(first.value().fields.uai == "0020013D");

        now += 1h;
        const auto retry =
            store.create(NewTicket{"key-1", "@marie:tchap", "!room", complete_fields(), {}});
        REQUIRE(retry);
        CHECK(retry.value().ref == "R-000001"); // the retry did not create a second ticket
        CHECK(retry.value().created_at == now - 1h);

        const auto second = store.create(
            NewTicket{"key-2", "@marie:tchap", "!room", complete_fields(Service::si2c), {}});
        REQUIRE(second);
        CHECK(second.value().ref == "R-000002");
        CHECK(second.value().team == Team::si2c);
    }

    TEST_CASE("ticket store updates status and public log")
    {
        auto now = std::chrono::system_clock::time_point{} + 1000h;
        StateDatabase state{":memory:"};
        TicketStore store{state, [&now] { return now; }};
        REQUIRE(store.create(NewTicket{"k", "@marie:tchap", "!room", complete_fields(), {}}));
        now += 2h;
        const auto assigned = store.assign("R-000001", Team::national, "@agent:tchap");
        REQUIRE(assigned);
        CHECK(assigned.value().team == Team::national);
        CHECK(assigned.value().agent == "@agent:tchap");
        CHECK(assigned.value().status == TicketStatus::assigned);
        now += 1h;
        const auto resolved = store.update("R-000001", TicketStatus::resolved,
                                           "Vider le cache du navigateur", "@agent:tchap");
        REQUIRE(resolved);
        CHECK(resolved.value().status == TicketStatus::resolved);
        REQUIRE(resolved.value().resolved_at);
        CHECK(*resolved.value().resolved_at == now);
        REQUIRE(resolved.value().log.size() == 2);
        CHECK(resolved.value().log.back().text == "Vider le cache du navigateur");
        now += 1h;
        const auto closed = store.update("R-000001", TicketStatus::closed, "", "@agent:tchap");
        REQUIRE(closed);
        CHECK(*closed.value().resolved_at == now - 1h); // the first resolution counts

        CHECK(store.update("R-000009", TicketStatus::closed, "", "x").error().kind ==
              opalebot::Error::Kind::not_found);
        CHECK(store.update("nimporte", TicketStatus::closed, "", "x").error().kind ==
              opalebot::Error::Kind::invalid);
        const auto missing = store.find("R-000009");
        REQUIRE(missing);
        CHECK_FALSE(missing.value());
    }

    TEST_CASE("ticket store lists open tickets of a requester and filed ones by period")
    {
        auto now = std::chrono::system_clock::time_point{} + 1000h;
        StateDatabase state{":memory:"};
        TicketStore store{state, [&now] { return now; }};
        REQUIRE(store.create(NewTicket{"a", "@marie:tchap", "!r", complete_fields(), {}}));
        now += 24h;
        REQUIRE(store.create(NewTicket{"b", "@marie:tchap", "!r", complete_fields(), {}}));
        REQUIRE(store.create(NewTicket{"c", "@paul:tchap", "!r", complete_fields(), {}}));
        REQUIRE(store.update("R-000001", TicketStatus::resolved, "fait", "@agent"));
        const auto open = store.open_tickets_of("@marie:tchap");
        REQUIRE(open);
        REQUIRE(open.value().size() == 1);
        CHECK(open.value()[0].ref == "R-000002");
        const auto day_two = store.filed_between(now, now + 24h);
        REQUIRE(day_two);
        CHECK(day_two.value().size() == 2);
    }

    TEST_CASE("ticket store keeps tickets across a reopening")
    {
        const opalebot::testing::TempDir dir;
        const auto path = dir.file("state.db");
        {
            StateDatabase state{path};
            TicketStore store{state};
            REQUIRE(store.create(NewTicket{"k", "@marie:tchap", "!r", complete_fields(), {}}));
        }
        StateDatabase state{path};
        TicketStore reopened{state};
        const auto found = reopened.find("R-000001");
        REQUIRE(found);
        REQUIRE(found.value());
        CHECK(found.value()->fields.nom == "Dupont");
    }
}
