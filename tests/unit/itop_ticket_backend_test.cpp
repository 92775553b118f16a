#include "itop_ticket_backend.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <string>

#include "support/checks.hpp"
#include "support/fake_http_client.hpp"
#include <date/tz.h>

using namespace opalebot;
using namespace opalebot::app;
using commands::TicketStatus;
using nlohmann::json;
using opalebot::testing::contains;
using testing::FakeHttpClient;

namespace {

constexpr std::string_view claire = "@claire.durand-ac-lille.fr:agent.education.tchap.gouv.fr";

std::string url_decode(const std::string& raw)
{
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size()) {
            value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            value += raw[i] == '+' ? ' ' : raw[i];
        }
    }
    return value;
}

/// The json_data a request carried.
json sent(const FakeHttpClient& http, std::size_t n)
{
    REQUIRE(http.request_count() > n);
    const auto body = http.request(n).body;
    const auto at = body.find("json_data=");
    REQUIRE(at != std::string::npos);
    return json::parse(url_decode(body.substr(at + 10)));
}

/// An iTop answer holding these UserRequests, all values strings as iTop sends them.
std::string objects(const std::vector<json>& fields, const json& message = "Found: 1")
{
    if (fields.empty())
        return R"({"code":0,"message":"Found: 0","objects":null})";
    json answer{{"code", 0}, {"message", message}, {"objects", json::object()}};
    for (const auto& f : fields)
        answer["objects"]["UserRequest::" + f.at("id").get<std::string>()] = {
            {"code", 0},
            {"message", ""},
            {"class", "UserRequest"},
            {"key", f.at("id")},
            {"fields", f}};
    return answer.dump();
}

json ticket_fields(const char* id, const char* ref, const char* status = "new")
{
    return {{"id", id},
            {"ref", ref},
            {"title", "SI2C - Rejet de facture"},
            {"status", status},
            {"org_id", "4"},
            {"team_id_friendlyname", ""},
            {"agent_id_friendlyname", " "},
            {"start_date", "2026-11-23 11:27:58"},
            {"last_update", "2026-11-23 11:27:58"},
            {"resolution_date", ""},
            {"public_log", {{"entries", json::array()}}}};
}

/// An iTop answer holding these Persons (id, friendly name, organisation).
std::string persons(const std::vector<std::array<const char*, 3>>& rows)
{
    if (rows.empty())
        return R"({"code":0,"message":"Found: 0","objects":null})";
    json answer{{"code", 0}, {"message", "Found"}, {"objects", json::object()}};
    for (const auto& [id, name, org] : rows)
        answer["objects"][std::string{"Person::"} + id] = {
            {"code", 0},
            {"message", ""},
            {"class", "Person"},
            {"key", id},
            {"fields",
             {{"id", id},
              {"friendlyname", name},
              {"org_id", org},
              {"org_id_friendlyname", std::string{"Org "} + org},
              {"status", "active"}}}};
    return answer.dump();
}

const date::time_zone& paris()
{
    return *date::locate_zone("Europe/Paris");
}

commands::NewTicket new_ticket()
{
    commands::NewTicket t;
    t.idempotency_key = "0123456789abcdef0123456789abcdef";
    t.requester = claire;
    t.room = "!salon:agent.education.tchap.gouv.fr|$racine";
    auto& f = t.fields;
    f.service = commands::Service::si2c;
    f.titre = "Rejet de facture";
    f.uai = "0590001A";
    f.eple_nom = "Lycée <Test>";
    f.env = commands::Environment::production;
    f.sphere = "ordonnateur";
    f.profil = "gestionnaire";
    f.nom = "Durand";
    f.prenom = "Claire";
    f.fonction = "gestionnaire";
    f.description = "La facture <b>est</b> rejetée\nen pré-sas";
    f.operations = "aucune";
    f.erreurs = "aucun";
    return t;
}

struct Harness {
    FakeHttpClient http;
    bot::ItopClient itop{http, bot::ItopSettings{"https://itop.test", "matrix-bot", "pw", {}, "c"}};
    StateDatabase state{":memory:"};
    ItopTicketBackend backend{itop, state, options()};

    static ItopBackendOptions options()
    {
        ItopBackendOptions o;
        o.itop_url = "https://itop.test";
        return o;
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("the caller email comes from the mapping or from the Tchap id")
    {
        CHECK(email_from_tchap_id(claire) == "claire.durand@ac-lille.fr");
        CHECK(email_from_tchap_id("@jean-pierre.martin-ac-nancy-metz.fr:agent.tchap.gouv.fr") ==
              "jean-pierre.martin@ac-nancy-metz.fr");
        CHECK(email_from_tchap_id("@prenom.nom-education.gouv.fr:agent.education.tchap.gouv.fr") ==
              "prenom.nom@education.gouv.fr");
        CHECK(email_from_tchap_id("@claire.durand-ac-lille.fr1:agent.tchap.gouv.fr") ==
              "claire.durand@ac-lille.fr");
        CHECK_FALSE(email_from_tchap_id("@alice:localhost").has_value());
        CHECK_FALSE(email_from_tchap_id("pas un id").has_value());

        FakeHttpClient http;
        bot::ItopClient itop{http, bot::ItopSettings{"https://itop.test", "u", "p", {}, "c"}};
        ItopBackendOptions options;
        options.emails["@alice:localhost"] = "alice@ac-lille.fr";
        StateDatabase state{":memory:"};
        ItopTicketBackend backend{itop, state, options};
        CHECK(backend.email_of("@alice:localhost") == "alice@ac-lille.fr");
        CHECK(backend.email_of(claire) == "claire.durand@ac-lille.fr");
        CHECK_FALSE(backend.email_of("@bob:localhost").has_value());
    }

    TEST_CASE("the description holds every detail escaped with the thread link and the key")
    {
        const auto html = description_html(new_ticket());
        CHECK(html.find("Lycée &lt;Test&gt; (0590001A)") != std::string::npos);
        CHECK(html.find("La facture &lt;b&gt;est&lt;/b&gt; rejetée<br>en pré-sas") !=
              std::string::npos);
        CHECK_FALSE(contains(html, "<b>"));
        CHECK(html.find("https://matrix.to/#/%21salon%3Aagent.education.tchap.gouv.fr/%24racine"
                        "?via=agent.education.tchap.gouv.fr") != std::string::npos);
        CHECK(html.find("Référence opale-bot : 0123456789abcdef0123456789abcdef") !=
              std::string::npos);
        for (const auto* detail : {"ordonnateur", "gestionnaire", "Durand", "Claire", "production",
                                   "SI2C", "aucune", "aucun"})
            CHECK(contains(html, detail));
    }

    TEST_CASE("itop backend searches the idempotency key before creating")
    {
        Harness h;
        h.http.reply(200, objects({}));                                        // key unknown
        h.http.reply(200, persons({{"1", "Claire Durand", "4"}}));             // the caller
        h.http.reply(200, objects({ticket_fields("2", "R-000003")}, nullptr)); // created
        const auto created = h.backend.create(new_ticket());
        REQUIRE(static_cast<bool>(created));
        CHECK(created.value().ref == "R-000003");
        CHECK(created.value().requester == claire);
        CHECK(created.value().room == "!salon:agent.education.tchap.gouv.fr|$racine");
        CHECK(created.value().status_text == "Nouveau");
        CHECK(created.value().link ==
              "https://itop.test/pages/exec.php/object/view/UserRequest/2?exec_module=itop-portal-"
              "base&exec_page=index.php&portal_id=itop-portal"); // what a requester can open
        CHECK(created.value().note.empty()); // the Person of the EPLE: nothing to say
        const auto search = sent(h.http, 0);
        CHECK(search["operation"] == "core/get");
        CHECK(search["key"].get<std::string>().find(
                  R"(description LIKE "%0123456789abcdef0123456789abcdef%")") != std::string::npos);
        const auto person = sent(h.http, 1);
        CHECK(person["class"] == "Person");
        CHECK(person["key"] == "SELECT Person AS p JOIN Organization AS o ON p.org_id = o.id "
                               "WHERE p.email = \"claire.durand@ac-lille.fr\" AND o.code = "
                               "\"0590001A\"");
        const auto create = sent(h.http, 2);
        CHECK(create["operation"] == "core/create");
        CHECK(create["fields"]["caller_id"] == "1");
        CHECK(create["fields"]["org_id"] == json{{"code", "0590001A"}});
        CHECK(create["fields"]["title"] == "SI2C - Rejet de facture");
        // triaged: an agent can assign it (ev_assign needs request_type)
        CHECK(create["fields"]["team_id"] == json{{"name", "SI2C"}});
        CHECK(create["fields"]["request_type"] == "service_request");
        CHECK(create["fields"]["service_id"] == json{{"name", "op@le"}});

        // a retry with the same key: known locally, read back by ref, never created again
        h.http.reply(200, objects({ticket_fields("2", "R-000003")}));
        const auto again = h.backend.create(new_ticket());
        REQUIRE(static_cast<bool>(again));
        CHECK(again.value().ref == "R-000003");
        CHECK(sent(h.http, 3)["key"] == json{{"ref", "R-000003"}});
        CHECK(h.http.request_count() == 4);
    }

    TEST_CASE("itop backend returns the ticket iTop already holds for the key")
    {
        Harness h;
        h.http.reply(200, objects({ticket_fields("5", "R-000007")}));
        const auto created = h.backend.create(new_ticket());
        REQUIRE(static_cast<bool>(created));
        CHECK(created.value().ref == "R-000007");
        CHECK(h.http.request_count() == 1); // no core/create
        // and now it is known by ref: find gives the requester back
        h.http.reply(200, objects({ticket_fields("5", "R-000007", "assigned")}));
        const auto found = h.backend.find("R-000007");
        REQUIRE(static_cast<bool>(found));
        REQUIRE(found.value().has_value());
        CHECK(found.value()->requester == claire);
        CHECK(found.value()->status == TicketStatus::assigned);
        CHECK(found.value()->status_text == "Assignée");
    }

    TEST_CASE("itop backend failures are French messages for the user")
    {
        Harness h;
        const auto user_message = [](const auto& result) {
            REQUIRE_FALSE(static_cast<bool>(result));
            CHECK(commands::is_user_facing(result.error()));
            return result.error().message;
        };
        h.http.reply(200, R"({"code":1,"message":"Error: Invalid login"})");
        CHECK(user_message(h.backend.create(new_ticket())).find("refuse le compte du bot") !=
              std::string::npos);

        h.http.reply(200, objects({}));
        h.http.reply(200, persons({})); // none in the EPLE
        h.http.reply(200, persons({})); // none at all
        const auto unknown_caller = h.backend.create(new_ticket());
        CHECK(user_message(unknown_caller)
                  .find("claire.durand@ac-lille.fr n'est pas connue d'iTop") != std::string::npos);
        CHECK(unknown_caller.error().errcode == commands::user_facing_refusal); // not retryable

        h.http.reply(200, objects({}));
        h.http.reply(200, persons({}));
        h.http.reply(200, persons({{"1", "Claire Durand", "4"}}));
        h.http.reply(
            200,
            R"({"code":100,"message":"Error: org_id: No item found with criteria: code: 0590001A"})");
        CHECK(contains(user_message(h.backend.create(new_ticket())), "0590001A"));

        // the real iTop's words for a title over 255 characters (notes/itop.md §13)
        h.http.reply(200, objects({}));
        h.http.reply(200, persons({{"1", "Claire Durand", "4"}}));
        h.http.reply(
            200,
            R"({"code":100,"message":"Error: Valeur de l'attribut incorrecte 'Titre' (title) : String too long (found 300, limited to 255): issues = {0=>Valeur de l'attribut incorrecte 'Titre' (title) : String too long (found 300, limited to 255)}, class = UserRequest, id = -1"})");
        const auto too_long = h.backend.create(new_ticket());
        CHECK(user_message(too_long) == "iTop trouve le titre trop long (String too long (found "
                                        "300, limited to 255)) : raccourcissez-le.");
        CHECK(too_long.error().errcode == commands::user_facing_refusal);

        h.http.push(Error{Error::Kind::transport, 28, {}, "Operation timed out", {}, false});
        CHECK(contains(user_message(h.backend.find("R-000001")), "à temps"));
        h.http.push(Error{Error::Kind::transport, 7, {}, "Connection refused", {}, false});
        CHECK(contains(user_message(h.backend.find("R-000001")), "injoignable"));
        h.http.reply(500, "<html>oops</html>");
        CHECK(contains(user_message(h.backend.find("R-000001")), "HTTP 500"));
        h.http.reply(200, "<html>maintenance</html>");
        CHECK(contains(user_message(h.backend.find("R-000001")), "illisible"));
        h.http.reply(200, R"({"code":100,"message":"Error: Query failed","objects":null})");
        CHECK(user_message(h.backend.open_tickets_of(claire)).find("code 100") !=
              std::string::npos);

        // no email at all: refused before any request
        const auto before = h.http.request_count();
        auto nobody = new_ticket();
        nobody.requester = "@bob:localhost";
        CHECK(user_message(h.backend.create(nobody)).find("tickets.itop.emails") !=
              std::string::npos);
        CHECK(h.http.request_count() == before);
        CHECK(h.http.unexpected() == 0);
    }

    TEST_CASE("itop backend refuses a status change from the chat and adds public log entries")
    {
        Harness h;
        const auto refused = h.backend.update("R-000001", TicketStatus::resolved, "", "@s:hs");
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(contains(refused.error().message, "se change dans iTop"));
        CHECK(h.http.request_count() == 0);

        h.http.reply(200, objects({ticket_fields("1", "R-000001")}));
        h.http.reply(
            200,
            R"({"code":0,"message":null,"objects":{"UserRequest::1":{"code":0,"message":"updated","class":"UserRequest","key":"1","fields":{"id":"1"}}}})");
        auto with_log = ticket_fields("1", "R-000001");
        with_log["public_log"]["entries"] =
            json::array({{{"date", "2026-11-23 12:00:00"},
                          {"user_login", "Matrix Bot"},
                          {"user_id", "2"},
                          {"message", "@s:hs : voici la capture"},
                          {"message_html", "@s:hs : voici la capture"}}});
        h.http.reply(200, objects({with_log}));
        const auto updated =
            h.backend.update("R-000001", std::nullopt, "voici la capture", "@s:hs");
        REQUIRE(static_cast<bool>(updated));
        REQUIRE(updated.value().log.size() == 1);
        CHECK(updated.value().log[0].text == "@s:hs : voici la capture");
        CHECK(sent(h.http, 1)["fields"]["public_log"]["add_item"]["message"] ==
              "@s:hs : voici la capture");

        h.http.reply(200, objects({}));
        const auto missing = h.backend.update("R-000404", std::nullopt, "x", "@s:hs");
        REQUIRE_FALSE(static_cast<bool>(missing));
        CHECK(missing.error().kind == Error::Kind::not_found);
    }

    TEST_CASE("itop backend lists the open tickets of the sender newest first")
    {
        Harness h;
        auto older = ticket_fields("1", "R-000001", "assigned");
        older["team_id_friendlyname"] = "DRASI";
        older["agent_id_friendlyname"] = "Paul Agent";
        auto newer = ticket_fields("4", "R-000006", "pending");
        newer["start_date"] = "2026-11-24 09:00:00";
        auto solved = ticket_fields("5", "R-000007", "resolved");
        h.http.reply(200, objects({older, newer, solved}, "Found: 3"));
        const auto open = h.backend.open_tickets_of(claire);
        REQUIRE(static_cast<bool>(open));
        REQUIRE(open.value().size() == 2);
        CHECK(open.value()[0].ref == "R-000006");
        CHECK(open.value()[0].status_text == "En attente");
        CHECK(open.value()[1].team == commands::Team::drasi);
        CHECK(open.value()[1].agent == "Paul Agent");
        CHECK(open.value()[1].requester == claire);
        CHECK(sent(h.http, 0)["key"].get<std::string>().find(
                  R"(p.email = "claire.durand@ac-lille.fr")") != std::string::npos);
    }

    TEST_CASE("itop backend counts the open tickets of an EPLE with the UAI quoted")
    {
        Harness h;
        h.http.reply(200, objects({ticket_fields("1", "R-000001"), ticket_fields("2", "R-000002")},
                                  "Found: 2"));
        CHECK(h.backend.open_tickets(R"(0590001A" OR "1)") == 2);
        CHECK(sent(h.http, 0)["key"].get<std::string>().find(R"(o.code = "0590001A\" OR \"1")") !=
              std::string::npos);
        h.http.fail();
        CHECK_FALSE(h.backend.open_tickets("0590001A").has_value());
    }

    TEST_CASE("itop statuses teams and dates map to the bot's")
    {
        CHECK(status_of("new") == TicketStatus::created);
        CHECK(status_of("escalated_tto") == TicketStatus::created);
        CHECK(status_of("escalated_ttr") == TicketStatus::assigned);
        CHECK(status_of("pending") == TicketStatus::pending);
        CHECK(status_of("resolved") == TicketStatus::resolved);
        CHECK(status_of("rejected") == TicketStatus::closed);
        CHECK(team_of("Équipe DRASI", "") == commands::Team::drasi);
        CHECK(team_of("", "DRASI - écran blanc") == commands::Team::drasi);
        CHECK(team_of("", "SI2C - mandat") == commands::Team::si2c);
        CHECK(team_of("AIFE", "SI2C - mandat") == commands::Team::national);
    }

    TEST_CASE("itop dates are read and written in iTop's time zone")
    {
        using namespace std::chrono;
        const auto utc = [](int y, unsigned mo, unsigned d, int h, int mi) {
            return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi};
        };
        // created at 04:36:56 UTC, iTop said 05:36:56 (observed on a real iTop 3.2.0)
        CHECK(parse_itop_date("2026-12-06 05:36:56", paris()) ==
              utc(2026, 12, 6, 4, 36) + seconds{56});
        CHECK(parse_itop_date("2026-07-01 12:00:00", paris()) == utc(2026, 7, 1, 10, 0)); // summer
        CHECK(format_itop_date(utc(2026, 12, 6, 0, 0), paris()) == "2026-12-06 01:00:00");
        CHECK(format_itop_date(utc(2026, 7, 1, 22, 30), paris()) == "2026-07-02 00:30:00");
        // 02:30 happens twice on 25 October 2026: the first one; it never happens on 29 March
        CHECK(parse_itop_date("2026-10-25 02:30:00", paris()) == utc(2026, 10, 25, 0, 30));
        CHECK(parse_itop_date("2026-03-29 02:30:00", paris()) == utc(2026, 3, 29, 1, 0));
        CHECK_FALSE(parse_itop_date("", paris()).has_value());
        CHECK_FALSE(parse_itop_date("2026-02-30 10:00:00", paris()).has_value());
        CHECK_FALSE(parse_itop_date("2026-12-06 25:00:00", paris()).has_value());
    }
}
