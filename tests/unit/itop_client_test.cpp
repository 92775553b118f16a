#include "bot/itop_client.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "support/checks.hpp"
#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using nlohmann::json;
using opalebot::testing::contains;
using opalebot::testing::FakeHttpClient;

namespace {

/// The form fields of a request body ("a=1&b=%22x%22"), decoded.
std::map<std::string, std::string> form_fields(const std::string& body)
{
    std::map<std::string, std::string> fields;
    std::size_t start = 0;
    while (start <= body.size()) {
        const auto end = std::min(body.find('&', start), body.size());
        const auto pair = body.substr(start, end - start);
        const auto equal = pair.find('=');
        std::string value;
        const auto raw = pair.substr(equal + 1);
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '%' && i + 2 < raw.size()) {
                value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else {
                value += raw[i] == '+' ? ' ' : raw[i];
            }
        }
        fields[pair.substr(0, equal)] = value;
        start = end + 1;
    }
    return fields;
}

struct Harness {
    FakeHttpClient http;
    ItopClient itop{
        http, ItopSettings{"https://itop.test/", "matrix-bot", "s3cret&=", {}, "Créé par le bot"}};

    json sent(std::size_t n = 0)
    {
        REQUIRE(http.request_count() > n);
        const auto request = http.request(n);
        CHECK(request.method == "POST");
        CHECK(request.url == "https://itop.test/webservices/rest.php?version=1.3");
        CHECK(request.headers.at("Content-Type") == "application/x-www-form-urlencoded");
        const auto fields = form_fields(request.body);
        CHECK(fields.at("auth_user") == "matrix-bot");
        CHECK(fields.at("auth_pwd") == "s3cret&=");
        CHECK_FALSE(contains(request.url, "s3cret")); // never in the URL
        return json::parse(fields.at("json_data"));
    }
};

// The recorded exchanges of notes/itop.md §11.
const std::string created =
    R"({"code":0,"message":null,"objects":{"UserRequest::1":{"code":0,"message":"created","class":"UserRequest",)"
    R"("key":"1","fields":{"id":"1","ref":"R-000001","status":"new","priority":"3","start_date":"2026-11-23 11:27:58"}}}})";
const std::string found =
    R"({"code":0,"message":"Found: 1","objects":{"UserRequest::1":{"code":0,"message":"","class":"UserRequest","key":"1",)"
    R"("fields":{"ref":"R-000001","title":"…","status":"new","team_id_friendlyname":"","agent_id_friendlyname":" "}}}})";
const std::string no_match = R"({"code":0,"message":"Found: 0","objects":null})";
const std::string bad_login = R"({"code":1,"message":"Error: Invalid login"})";
const std::string no_comment = R"({"code":100,"message":"Error: Missing parameter 'comment'"})";

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("itop create sends a chat UserRequest with criteria keys and reads the ref")
    {
        Harness h;
        h.http.reply(200, created);
        ItopNewRequest request;
        request.organisation_uai = "0020013D";
        request.caller_id = "5";
        request.title = "SI2C - rejet facture pré-sas";
        request.description_html = "<p>Bonjour &lt;b&gt;</p>";
        const auto ticket = h.itop.create(request);
        REQUIRE(static_cast<bool>(ticket));
        CHECK(ticket.value().ref == "R-000001");
        CHECK(ticket.value().id == "1");
        CHECK(ticket.value().status == "new");
        const auto data = h.sent();
        CHECK(data["operation"] == "core/create");
        CHECK(data["class"] == "UserRequest");
        CHECK(data["comment"] == "Créé par le bot"); // mandatory on every write
        CHECK(data["fields"]["org_id"] == json{{"code", "0020013D"}});
        CHECK(data["fields"]["caller_id"] ==
              "5"); // found first: one Person per EPLE may share an email
        CHECK(data["fields"]["service_id"] == json{{"name", "op@le"}});
        CHECK(data["fields"]["origin"] == "chat");
        CHECK_FALSE(data["fields"].contains("priority")); // computed by iTop
        CHECK(data["fields"]["urgency"].is_string());
    }

    TEST_CASE("itop find by ref reads all-string values and a blank agent")
    {
        Harness h;
        h.http.reply(200, found);
        const auto ticket = h.itop.find("R-000001");
        REQUIRE(static_cast<bool>(ticket));
        REQUIRE(ticket.value().has_value());
        CHECK(ticket.value()->ref == "R-000001");
        CHECK(ticket.value()->agent.empty()); // " " is an empty person name
        CHECK(ticket.value()->team.empty());
        const auto data = h.sent();
        CHECK(data["operation"] == "core/get");
        CHECK(data["key"] == json{{"ref", "R-000001"}}); // never by id, never concatenated
    }

    TEST_CASE("itop find of an unknown ref is nothing when objects is null")
    {
        Harness h;
        h.http.reply(200, no_match);
        const auto ticket = h.itop.find("R-999999");
        REQUIRE(static_cast<bool>(ticket));
        CHECK_FALSE(ticket.value().has_value());
    }

    TEST_CASE("itop errors come back with their code and message")
    {
        Harness h;
        h.http.reply(200, bad_login);
        const auto login = h.itop.find("R-000001");
        REQUIRE_FALSE(static_cast<bool>(login));
        CHECK(login.error().code == 1);
        CHECK(login.error().message == "Error: Invalid login");

        h.http.reply(200, no_comment);
        const auto update = h.itop.add_public_log("R-000001", "voici la capture");
        REQUIRE_FALSE(static_cast<bool>(update));
        CHECK(update.error().code == 100);

        h.http.reply(500, "<html>oops</html>");
        const auto http = h.itop.find("R-000001");
        REQUIRE_FALSE(static_cast<bool>(http));
        CHECK(http.error().kind == opalebot::Error::Kind::http);

        h.http.reply(200, "<html>maintenance</html>");
        const auto garbled = h.itop.find("R-000001");
        REQUIRE_FALSE(static_cast<bool>(garbled));
        CHECK(garbled.error().kind == opalebot::Error::Kind::parse);

        h.http.fail("connection refused");
        const auto down = h.itop.find("R-000001");
        REQUIRE_FALSE(static_cast<bool>(down));
        CHECK(down.error().kind == opalebot::Error::Kind::transport);
    }

    TEST_CASE("itop open tickets escape the email inside OQL")
    {
        Harness h;
        h.http.reply(200, no_match);
        const auto tickets = h.itop.open_tickets_of(R"(a"b\c'd@example.invalid)");
        REQUIRE(static_cast<bool>(tickets));
        CHECK(tickets.value().empty());
        const auto key = h.sent()["key"].get<std::string>();
        CHECK(contains(key, R"(p.email = "a\"b\\c'd@example.invalid")"));
        CHECK(contains(key, R"(NOT IN ("closed","rejected"))"));
    }

    TEST_CASE("itop OQL literals escape exactly what iTop 3.2 parses inside double quotes")
    {
        CHECK(oql_quote("") == R"("")");
        CHECK(oql_quote(R"(a"b)") == R"("a\"b")");
        CHECK(oql_quote(R"(a\b)") == R"("a\\b")");
        CHECK(oql_quote("o'brien") == R"("o'brien")"); // \' is "Unexpected input" there
        CHECK(oql_quote("100%_x") == R"("100%_x")");   // LIKE wildcards stay the caller's
        CHECK(oql_quote("é\n€") == "\"é\n€\"");
        CHECK(oql_quote(R"(\")") == R"("\\\"")");
    }

    TEST_CASE("itop persons are found by email within the EPLE's organisation")
    {
        Harness h;
        h.http.reply(
            200,
            R"({"code":0,"message":"Found: 2","objects":{"Person::7":{"code":0,"message":"","class":"Person","key":"7","fields":{"id":"7","friendlyname":"Paul Martin","org_id":"4","org_id_friendlyname":"Collège Test","status":"inactive"}},"Person::10":{"code":0,"message":"","class":"Person","key":"10","fields":{"id":"10","friendlyname":"Paul Martin","org_id":"3","org_id_friendlyname":"Lycée","status":"active"}}}})");
        const auto persons = h.itop.persons_with_email("o'brien@x.fr", "0590001A");
        REQUIRE(static_cast<bool>(persons));
        REQUIRE(persons.value().size() == 2);
        CHECK(persons.value()[0].id == "7"); // by id, whatever the database's order
        CHECK_FALSE(persons.value()[0].active);
        CHECK(persons.value()[1].org_name == "Lycée");
        const auto data = h.sent();
        CHECK(data["class"] == "Person");
        CHECK(data["key"] == R"(SELECT Person AS p JOIN Organization AS o ON p.org_id = o.id )"
                             R"(WHERE p.email = "o'brien@x.fr" AND o.code = "0590001A")");
    }

    TEST_CASE("itop public log entries are added as text and read back")
    {
        Harness h;
        h.http.reply(
            200,
            R"({"code":0,"message":null,"objects":{"UserRequest::1":{"code":0,"message":"updated","class":"UserRequest","key":"1","fields":{"id":"1"}}}})");
        REQUIRE(
            static_cast<bool>(h.itop.add_public_log("R-000001", "Bonjour,\nvoici la capture.")));
        const auto data = h.sent();
        CHECK(data["operation"] == "core/update");
        CHECK(data["fields"]["public_log"]["add_item"]["format"] == "text");
        CHECK(data["fields"]["public_log"]["add_item"]["message"] == "Bonjour,\nvoici la capture.");
        CHECK_FALSE(data["fields"]["public_log"].contains("items")); // would replace the log

        h.http.reply(
            200,
            R"({"code":0,"message":"Found: 1","objects":{"UserRequest::1":{"code":0,"message":"","class":"UserRequest","key":"1","fields":{"ref":"R-000001","status":"assigned","public_log":{"entries":[{"date":"2026-11-23 12:00:00","user_login":"Agent SI2C","user_id":"2","message":"Pris en charge","message_html":"<p>Pris en charge</p>"}]}}}}})");
        const auto ticket = h.itop.find("R-000001");
        REQUIRE(static_cast<bool>(ticket));
        REQUIRE(ticket.value().has_value());
        REQUIRE(ticket.value()->public_log.size() == 1);
        CHECK(ticket.value()->public_log[0].author == "Agent SI2C");
        CHECK(ticket.value()->public_log[0].message == "Pris en charge");
        CHECK(itop_status_label(ticket.value()->status) == "Assignée");
    }

    TEST_CASE("itop attachments are base64 with the ticket's organisation")
    {
        Harness h;
        h.http.reply(
            200,
            R"({"code":0,"message":null,"objects":{"Attachment::7":{"code":0,"message":"created","class":"Attachment","key":"7","fields":{"id":"7"}}}})");
        ItopTicket ticket;
        ticket.id = "1";
        ticket.org_id = "4";
        REQUIRE(static_cast<bool>(h.itop.attach(ticket, "capture.png", "image/png", "Man")));
        const auto data = h.sent();
        CHECK(data["class"] == "Attachment");
        CHECK(data["fields"]["item_id"] == "1");
        CHECK(data["fields"]["item_org_id"] == "4");
        CHECK(data["fields"]["contents"]["data"] == "TWFu");
        h.http.reply(200, R"({"code":0,"message":null,"objects":null})");
        REQUIRE(static_cast<bool>(h.itop.attach(ticket, "a.txt", "text/plain", "Ma")));
        CHECK(h.sent(1)["fields"]["contents"]["data"] == "TWE=");
    }

    TEST_CASE("itop token authentication uses the Auth-Token header and no password")
    {
        FakeHttpClient http;
        ItopClient itop{http, ItopSettings{"https://itop.test", "", "", "tok-123", "c"}};
        http.reply(200, R"({"code":0,"message":null,"authorized":true})");
        const auto authorized = itop.check_credentials();
        REQUIRE(static_cast<bool>(authorized));
        CHECK(authorized.value());
        const auto request = http.request(0);
        CHECK(request.headers.at("Auth-Token") == "tok-123");
        CHECK_FALSE(contains(request.body, "auth_pwd"));
    }

    TEST_CASE("itop HTML from its editor becomes text")
    {
        CHECK(text_of_html("<p>Facture re-d&eacute;pos&eacute;e.\nProbl&egrave;me</p>") ==
              "Facture re-d&eacute;pos&eacute;e.\nProbl&egrave;me"); // unknown entity kept
        CHECK(text_of_html("<p>Un</p><p>Deux &amp; trois</p>") == "Un\nDeux & trois");
        CHECK(text_of_html("a<br/>b<BR>c") == "a\nb\nc");
        CHECK(text_of_html("<ul><li>un</li><li>deux</li></ul>") == "- un\n- deux");
        CHECK(text_of_html("<a href=\"https://x\">lien</a> &lt;b&gt;") == "lien (https://x) <b>");
        // what iTop's editor sends back: the address stays readable, and clickable in clients
        CHECK(text_of_html("<p>Voir <a href=\"https://tribu.Ac/Guide\">le guide</a></p>") ==
              "Voir le guide (https://tribu.Ac/Guide)");
        CHECK(text_of_html("<a href=\"https://x.fr\">https://x.fr</a>") == "https://x.fr");
        CHECK(text_of_html("<p>coupé <b") == "coupé"); // an unclosed tag ends the text
        CHECK(text_of_html("") == "");
    }
}

TEST_SUITE("unit")
{
    TEST_CASE("itop calls that cannot reach it are counted and told once in the alerts")
    {
        Harness h;
        opalebot::bot::Alerts alerts;
        opalebot::bot::ServiceHealth health{"itop", 3};
        health.report_to(&alerts);
        h.itop.set_health(&health);
        h.http.reply(200, bad_login); // iTop answered: a refusal is not an outage
        CHECK_FALSE(static_cast<bool>(h.itop.find("R-000001")));
        CHECK(health.snapshot().failures_in_a_row == 0);
        h.http.reply(502, "<html>bad gateway</html>");
        h.http.fail("connection refused");
        h.http.fail("connection refused");
        for (int n = 0; n < 3; ++n)
            CHECK_FALSE(static_cast<bool>(h.itop.find("R-000001")));
        const auto snapshot = health.snapshot();
        CHECK(snapshot.failures_in_a_row == 3);
        CHECK(snapshot.last_cause == "connection refused");
        const auto now = std::chrono::system_clock::now() + std::chrono::hours{1};
        auto due = alerts.take_due(now);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "itop");
        CHECK_FALSE(contains(due[0].details.at(0), "s3cret"));

        h.http.reply(200, found);
        CHECK(static_cast<bool>(h.itop.find("R-000001")));
        due = alerts.take_due(now);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "itop-ok");
    }
}
