#include "bot/console.hpp"
#include "commands/eple_csv.hpp"
#include "commands/eple_import.hpp"
#include "commands/registry.hpp"
#include "commands/ticket_fields.hpp"
#include "opalebot/text_hygiene.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

// issue 15, item 8: bidi controls, invalid UTF-8, NUL and CR-only files from users.

using namespace opalebot::commands;
using namespace std::string_literals;
using opalebot::clean_name;
using opalebot::StateDatabase;
using opalebot::valid_utf8;

namespace {

const std::string rlo = "\u202E"; // RIGHT-TO-LEFT OVERRIDE
const std::string fffd = "\uFFFD";

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("valid_utf8 replaces every invalid byte and keeps valid text")
    {
        const std::string french = "Lycée Fictif – 😀 €";
        CHECK(valid_utf8(french) == french);
        CHECK(valid_utf8("a\xff"
                         "b") == "a" + fffd + "b");
        CHECK(valid_utf8("\xC3") == fffd);                                  // cut short
        CHECK(valid_utf8("\xC0\xAF") == fffd + fffd);                       // overlong /
        CHECK(valid_utf8("\xED\xA0\x80") == fffd + fffd + fffd);            // a surrogate
        CHECK(valid_utf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd); // above U+10FFFF
        CHECK(valid_utf8("E\0J"s) == "E\0J"s); // NUL is valid UTF-8: commands refuse it
    }

    TEST_CASE("clean_name drops the bidi controls and replaces invalid UTF-8")
    {
        const std::string all_controls =
            "\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069";
        CHECK(clean_name("Lycée " + all_controls + "Fictif") == "Lycée Fictif");
        CHECK(clean_name(rlo + "fdp.exe") == "fdp.exe");
        CHECK(clean_name("\u200D\u2060x") == "\u200D\u2060x"); // other format characters stay
        CHECK(clean_name("a\xff") == "a" + fffd);
    }

    TEST_CASE("a command with a NUL byte is refused instead of read without it")
    {
        Registry registry;
        std::string seen;
        Command sigle;
        sigle.name = "sigle";
        sigle.handler = [&](const Context& context) {
            seen = std::string{context.args};
            return Reply{"réponse pour " + seen, {}};
        };
        REQUIRE(registry.add(std::move(sigle)));
        Message message;
        message.sender = "@marie:x";
        message.body = "!sigle E\0J"s;
        const auto reply = registry.dispatch(message);
        REQUIRE(reply.has_value());
        CHECK(reply->markdown.find("caractère nul") != std::string::npos);
        CHECK(seen.empty());
        message.body = "!sigle EJ";
        CHECK(registry.dispatch(message)->markdown == "réponse pour EJ");
    }

    TEST_CASE("a ticket title is stored without bidi controls")
    {
        TicketFields fields;
        CHECK_FALSE(
            set_field(fields, Field::titre, "Paiement " + rlo + "bloqué au lycée Fictif de Laon"));
        CHECK(fields.titre == "Paiement bloqué au lycée Fictif de Laon");
    }

    TEST_CASE("imported EPLE names are stored without bidi controls")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto report = import_etablissements(
            store, "uai;nom;commune;vague\n0750655E;Lycée " + rlo + "Fictif;" + rlo + "Paris;6\n",
            "e.csv");
        REQUIRE(report.ok);
        const auto all = store.etablissements();
        REQUIRE(all);
        REQUIRE(all.value().size() == 1);
        CHECK(all.value()[0].nom == "Lycée Fictif");
        CHECK(all.value()[0].commune == "Paris");
    }

    TEST_CASE("a CSV with CR-only line ends is read line by line")
    {
        const auto table = parse_csv("uai;nom;vague\r0750655E;Lycée A;6\r\r0020013D;B;6\r");
        CHECK(table.header == std::vector<std::string>{"uai", "nom", "vague"});
        REQUIRE(table.records.size() == 2);
        CHECK(table.records[0].fields == std::vector<std::string>{"0750655E", "Lycée A", "6"});
        CHECK(table.records[1].line == 4);
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto report = import_etablissements(
            store, "uai;nom;vague\r0750655E;Lycée A;6\r0020013D;Collège B;7\r", "mac.csv");
        CHECK(report.ok);
        CHECK(report.rows == 2);
    }

    TEST_CASE("the console hands on invalid UTF-8 replaced so that nothing echoes raw bytes")
    {
        std::istringstream in{"!sigle E\xff\xfeJ\n"};
        std::ostringstream out;
        std::string seen;
        opalebot::bot::run_console(in, out, [&](std::string_view text) {
            seen = std::string{text};
            return std::optional<std::string>{"Sigle inconnu : " + seen};
        });
        CHECK(seen == "!sigle E" + fffd + fffd + "J");
        CHECK(out.str().find('\xff') == std::string::npos);
    }
}
