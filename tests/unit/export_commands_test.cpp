#include "commands/export_commands.hpp"

#include "commands/eple_import.hpp"
#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/checks.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;
using opalebot::testing::read_file;

namespace {

const std::string fixtures = std::string{OPALEBOT_SOURCE_DIR} + "/tests/fixtures/eple/";

/// The lines of a CSV without its BOM, split on CRLF (the fixture's cells hold no line break).
std::vector<std::string> lines_of(std::string_view csv)
{
    REQUIRE(csv.starts_with("\xEF\xBB\xBF"));
    csv.remove_prefix(3);
    std::vector<std::string> lines;
    for (auto end = csv.find("\r\n"); end != std::string_view::npos; end = csv.find("\r\n")) {
        lines.emplace_back(csv.substr(0, end));
        csv.remove_prefix(end + 2);
    }
    CHECK(csv.empty());
    return lines;
}

/// The wave-6 fixture and a few tickets, behind the export commands.
struct Exports {
    TimePoint now = TimePoint{std::chrono::sys_days{2024y / 1 / 22}} + 12h;
    StateDatabase state{":memory:"};
    EpleStore eple{state};
    TicketStore tickets{state, [this] { return now; }};
    Registry registry;

    Exports()
    {
        REQUIRE(
            import_etablissements(eple, read_file(fixtures + "vague6_etablissements.csv"), "e.csv")
                .ok);
        REQUIRE(import_indicateurs(eple, read_file(fixtures + "vague6_indicateurs_2024-01-19.csv"),
                                   "i.csv")
                    .ok);
        EpleOptions options;
        options.clock = [this] { return now; };
        add_export_commands(registry, eple, tickets, options);
    }

    void file_ticket(std::string title, std::string key)
    {
        NewTicket t;
        t.idempotency_key = std::move(key);
        t.requester = "@marie:tchap";
        t.room = "!salon";
        t.fields.service = Service::drasi;
        t.fields.titre = std::move(title);
        t.fields.uai = "0809001Z";
        t.fields.env = Environment::production;
        REQUIRE(tickets.create(t));
    }

    Reply ask(std::string body, Role role = Role::member)
    {
        auto reply =
            registry.dispatch(Message{"@agent:tchap", "!salon", std::move(body), role, {}});
        REQUIRE(reply);
        return *reply;
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE_FIXTURE(Exports, "export vague sends the wave as a CSV file")
    {
        const auto reply = ask("!export vague 6");
        CHECK(contains(reply.markdown, "61 EPLE"));
        REQUIRE(reply.files.size() == 1);
        const auto& file = reply.files[0];
        CHECK(file.name == "vague-6-2024-01-22.csv");
        CHECK(file.mime_type == "text/csv");
        CHECK_FALSE(file.image);
        const auto lines = lines_of(file.content);
        REQUIRE(lines.size() == 62); // the header and 61 EPLE
        CHECK(lines[0].starts_with("UAI;Établissement;Commune;Type;Académie;Vague;"));
        // 0609003K: kit 10 %, two payments: not to accompany (fixture of 19/01/2024)
        bool found = false;
        for (const auto& line : lines)
            if (line.starts_with("0609003K;")) {
                found = true;
                CHECK(line == "0609003K;Collège Noël Exemple 03;Val-d'Exemple;Collège;Amiens;6;"
                              "0809001Z;19/01/2024;10;oui;op@le;2;8;3;non;non");
            }
        CHECK(found);
    }

    TEST_CASE_FIXTURE(Exports, "export vague writes decimals with a comma")
    {
        const auto reply = ask("!export vague V6");
        REQUIRE(reply.files.size() == 1);
        const auto& csv = reply.files[0].content;
        CHECK(contains(csv, "0609048J;"));
        CHECK(contains(csv, ";19/01/2024;15,5;oui;GFC;")); // 0609048J's kit rate
        CHECK_FALSE(contains(csv, "15.5"));
    }

    TEST_CASE_FIXTURE(Exports, "export vague refuses a wave out of the calendar or without EPLE")
    {
        for (const auto* bad :
             {"!export vague 12", "!export vague", "!export vague six", "!export vague -1"}) {
            const auto reply = ask(bad);
            CHECK(reply.files.empty());
            CHECK(contains(reply.markdown, "vague de 1 à 9"));
        }
        const auto empty = ask("!export vague 3");
        CHECK(empty.files.empty());
        CHECK(contains(empty.markdown, "Aucun EPLE de la vague 3"));
        CHECK(contains(ask("!export").markdown, "Que faut-il exporter"));
    }

    TEST_CASE_FIXTURE(Exports, "export tickets is for the support and honours the period")
    {
        file_ticket("=cmd|' /C calc'!A0", "k1");
        now += 48h;
        file_ticket("Écran blanc; \"mandats\"", "k2");
        CHECK(ask("!export tickets").files.empty());
        CHECK(contains(ask("!export tickets").markdown, "réservé au support"));

        const auto all = ask("!export tickets", Role::support);
        CHECK(contains(all.markdown, "2 tickets"));
        REQUIRE(all.files.size() == 1);
        CHECK(all.files[0].name == "tickets-2024-01-24.csv");
        const auto lines = lines_of(all.files[0].content);
        REQUIRE(lines.size() == 3);
        CHECK(lines[0].starts_with("Référence;Titre;Statut;"));
        CHECK(lines[1].starts_with("R-000001;DRASI - =cmd|' /C calc'!A0;"));
        CHECK(contains(lines[1], ";22/01/2024 13:00;")); // noon UTC, Paris time
        CHECK(contains(lines[2], "\"DRASI - Écran blanc; \"\"mandats\"\"\""));

        const auto second_day = ask("!export tickets du 23/01/2024 au 24/01/2024", Role::support);
        CHECK(contains(second_day.markdown, "du 23/01/2024 au 24/01/2024 : 1 ticket "));
        REQUIRE(second_day.files.size() == 1);
        CHECK(lines_of(second_day.files[0].content).size() == 2);

        const auto none = ask("!export tickets au 01/01/2024", Role::support);
        CHECK(none.files.empty());
        CHECK(contains(none.markdown, "rien à exporter"));
    }

    TEST_CASE_FIXTURE(Exports, "export tickets explains bad dates in French")
    {
        for (const auto* bad : {"!export tickets du 31/02/2024", "!export tickets depuis hier",
                                "!export tickets du 01/13/2024", "!export tickets au"}) {
            const auto reply = ask(bad, Role::admin);
            CHECK(reply.files.empty());
            CHECK(contains(reply.markdown, "Je n'ai pas compris les dates"));
        }
        const auto reversed = ask("!export tickets du 02/01/2024 au 01/01/2024", Role::admin);
        CHECK(contains(reversed.markdown, "La date de fin précède la date de début"));
    }

    TEST_CASE("tickets csv makes a title that starts a formula inert")
    {
        Ticket t;
        t.ref = "R-000009";
        t.title = "=HYPERLINK(\"http://evil\")";
        t.created_at = TimePoint{std::chrono::sys_days{2024y / 7 / 1}} + 8h;
        t.updated_at = t.created_at;
        const auto csv = tickets_csv({t});
        CHECK(contains(csv, "R-000009;\"'=HYPERLINK(\"\"http://evil\"\")\";"));
        CHECK(contains(csv, ";01/07/2024 10:00;")); // summer time
    }
}
