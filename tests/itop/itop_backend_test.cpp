// Both ticket backends through the same scenario; the iTop one against tests/itop/itop_double.py
// through the real CurlHttpClient. Run by tests/itop/run.sh, which starts the double and sets
// OPALEBOT_ITOP_URL: without it every test fails, never skips.
//
// The suite "itop" also runs against a real iTop (README, "iTop réel"): OPALEBOT_ITOP_REAL=1,
// OPALEBOT_ITOP_URL, OPALEBOT_ITOP_USER and OPALEBOT_ITOP_PASSWORD, its data made by
// tests/itop/seed_real.py. The suite "itop-double" needs the double's controls (/_admin/).
#define DOCTEST_CONFIG_IMPLEMENT
#include "bot/curl_http_client.hpp"
#include "commands/ticket_follow_up.hpp"
#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>

#include "itop_ticket_backend.hpp"
#include <date/tz.h>

using namespace opalebot;
using namespace std::chrono_literals;
using commands::TicketStatus;
using nlohmann::json;

namespace {

constexpr std::string_view claire = "@claire.durand-ac-lille.fr:agent.education.tchap.gouv.fr";

std::string double_url()
{
    const char* url = std::getenv("OPALEBOT_ITOP_URL");
    REQUIRE_MESSAGE(url != nullptr, "OPALEBOT_ITOP_URL unset: run tests/itop/run.sh");
    return url;
}

bool real_itop()
{
    const char* real = std::getenv("OPALEBOT_ITOP_REAL");
    return real != nullptr && std::string_view{real} == "1";
}

std::string env_or(const char* name, std::string fallback)
{
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::string{value} : std::move(fallback);
}

std::string itop_user()
{
    return env_or("OPALEBOT_ITOP_USER", "matrix-bot");
}

std::string itop_password()
{
    return env_or("OPALEBOT_ITOP_PASSWORD", "s3cret");
}

/// An idempotency key of this run: a real iTop keeps the tickets of earlier runs.
std::string key(std::string_view name)
{
    static const auto run = std::to_string(std::chrono::system_clock::now().time_since_epoch() /
                                           std::chrono::milliseconds{1});
    return std::string{name} + "-" + run;
}

/// The double's test controls (/_admin/), apart from the iTop API.
json admin(const std::string& path, const json& body = json::object())
{
    bot::CurlHttpClient http;
    bot::Request request;
    request.method = body.is_null() ? "GET" : "POST";
    request.url = double_url() + "/_admin/" + path;
    request.headers["Content-Type"] = "application/json";
    if (!body.is_null())
        request.body = body.dump();
    const auto response = http.send(request);
    REQUIRE(static_cast<bool>(response));
    REQUIRE(response.value().status == 200);
    return json::parse(response.value().body);
}

std::size_t tickets_in_itop()
{
    return admin("tickets", nullptr).size();
}

commands::NewTicket new_ticket(const std::string& key, const std::string& uai = "0590001A")
{
    commands::NewTicket t;
    t.idempotency_key = key;
    t.requester = claire;
    t.room = "!salon:agent.education.tchap.gouv.fr|$racine";
    auto& f = t.fields;
    f.service = commands::Service::drasi;
    f.titre = "Écran blanc à l'ouverture des mandats";
    f.uai = uai;
    f.env = commands::Environment::production;
    f.sphere = "ordonnateur";
    f.profil = "gestionnaire";
    f.nom = "Durand";
    f.prenom = "Claire";
    f.fonction = "gestionnaire";
    f.description = "L'écran reste <blanc> \"vide\"";
    f.operations = "aucune";
    f.erreurs = "aucun";
    t.attachments.push_back({"capture.png", std::string{"\x89PNG\r\n\x1a\n", 8}});
    return t;
}

struct Itop {
    explicit Itop(
        bot::ItopSettings settings = {"", itop_user(), itop_password(), {}, "Créé par le bot"})
        : client{http, fill(std::move(settings))}, backend{client, state, options()}
    {}
    static app::ItopBackendOptions options()
    {
        app::ItopBackendOptions o;
        o.itop_url = double_url();
        return o;
    }
    static bot::ItopSettings fill(bot::ItopSettings s)
    {
        if (s.url.empty())
            s.url = double_url();
        s.timeout = 2s;
        return s;
    }
    bot::CurlHttpClient http;
    StateDatabase state{":memory:"};
    bot::ItopClient client;
    app::ItopTicketBackend backend;
};

/// What an agent does in the backend: resolve the ticket with a public message.
using AgentResolves = std::function<void(const std::string& ref)>;

/// The scenario both backends must pass: create (idempotent), find, list, log, follow-up.
void exercise(commands::TicketBackend& backend, const AgentResolves& agent_resolves,
              const std::string& key)
{
    const auto created = backend.create(new_ticket(key));
    REQUIRE_MESSAGE(static_cast<bool>(created), created.error().message);
    const auto& ticket = created.value();
    CHECK(commands::parse_reference(ticket.ref).has_value());
    CHECK(ticket.status == TicketStatus::created);
    CHECK(ticket.team == commands::Team::drasi);
    CHECK(ticket.requester == claire);
    CHECK(ticket.attachment_names.size() == 1);

    const auto again = backend.create(new_ticket(key)); // a retry: the same ticket
    REQUIRE(static_cast<bool>(again));
    CHECK(again.value().ref == ticket.ref);

    const auto found = backend.find(ticket.ref);
    REQUIRE(static_cast<bool>(found));
    REQUIRE(found.value().has_value());
    CHECK(found.value()->title == "DRASI - Écran blanc à l'ouverture des mandats");
    CHECK(found.value()->requester == claire);
    const auto unknown = backend.find("R-999999");
    REQUIRE(static_cast<bool>(unknown));
    CHECK_FALSE(unknown.value().has_value());

    const auto open = backend.open_tickets_of(claire);
    REQUIRE(static_cast<bool>(open));
    REQUIRE_FALSE(open.value().empty());
    CHECK(open.value().front().ref == ticket.ref); // newest first

    StateDatabase state{":memory:"};
    commands::TicketFollowUp follow_up{state, backend};
    REQUIRE(static_cast<bool>(follow_up.watch(ticket)));
    CHECK(follow_up.poll().empty());
    const auto logged = backend.update(ticket.ref, std::nullopt, "Merci, voici la capture", "@c");
    REQUIRE_MESSAGE(static_cast<bool>(logged), logged.error().message);
    CHECK(logged.value().log.back().text.find("voici la capture") != std::string::npos);
    const auto own_entry = follow_up.poll();
    REQUIRE(own_entry.size() == 1); // every public entry is shown, the requester's too
    agent_resolves(ticket.ref);
    const auto notices = follow_up.poll();
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].conversation == "!salon:agent.education.tchap.gouv.fr|$racine");
    CHECK(notices[0].markdown.find("est passé à") != std::string::npos);
    CHECK(notices[0].markdown.find("Corrigé côté serveur") != std::string::npos);
    const auto after = backend.open_tickets_of(claire);
    REQUIRE(static_cast<bool>(after));
    for (const auto& t : after.value())
        CHECK(t.ref != ticket.ref); // resolved: no longer open
    const auto stats = backend.filed_between(std::chrono::system_clock::now() - 24h,
                                             std::chrono::system_clock::now() + 24h);
    REQUIRE(static_cast<bool>(stats));
    CHECK_FALSE(stats.value().empty());
}

const std::string& user_message(const Error& error)
{
    CHECK(commands::is_user_facing(error));
    return error.message;
}

/// One call of the iTop API as the bot's account, outside the bot: what an agent does in iTop.
json rest(const json& data)
{
    bot::CurlHttpClient http;
    bot::Request request;
    request.method = "POST";
    request.url = double_url() + "/webservices/rest.php?version=1.3";
    request.headers["Content-Type"] = "application/x-www-form-urlencoded";
    request.body = "auth_user=" + bot::url_encode(itop_user()) +
                   "&auth_pwd=" + bot::url_encode(itop_password()) +
                   "&json_data=" + bot::url_encode(data.dump());
    const auto response = http.send(request);
    REQUIRE(static_cast<bool>(response));
    return json::parse(response.value().body);
}

/// Every field of the ticket, as iTop holds it.
json ticket_in_itop(const std::string& ref)
{
    const auto found = rest({{"operation", "core/get"},
                             {"class", "UserRequest"},
                             {"key", {{"ref", ref}}},
                             {"output_fields", "*"}});
    REQUIRE_MESSAGE(found["code"] == 0, found.dump());
    REQUIRE_MESSAGE(found["objects"].is_object(), "no ticket " << ref);
    return found["objects"].begin().value()["fields"];
}

/// The double starts empty; a real iTop has what seed_real.py made, and earlier runs' tickets.
void fresh_itop()
{
    if (!real_itop())
        admin("reset");
}

int number_of(const std::string& ref)
{
    return std::stoi(ref.substr(2));
}

bool lists(const std::vector<commands::Ticket>& tickets, const std::string& ref)
{
    return std::any_of(tickets.begin(), tickets.end(),
                       [&ref](const commands::Ticket& t) { return t.ref == ref; });
}

} // namespace

TEST_SUITE("itop-double")
{
    TEST_CASE("the built-in backend passes the common scenario")
    {
        StateDatabase state{":memory:"};
        commands::TicketStore store{state};
        exercise(
            store,
            [&store](const std::string& ref) {
                REQUIRE(static_cast<bool>(store.update(ref, TicketStatus::resolved,
                                                       "Corrigé côté serveur", "Agent DRASI")));
            },
            "cle-interne");
    }

    TEST_CASE("the iTop backend passes the common scenario against the double")
    {
        admin("reset");
        Itop itop;
        exercise(
            itop.backend,
            [](const std::string& ref) {
                admin("log", {{"ref", ref}, {"message", "Corrigé côté serveur"}});
                admin("status", {{"ref", ref}, {"status", "resolved"}});
            },
            "cle-itop-commune");
        CHECK(tickets_in_itop() == 1);
    }

    TEST_CASE("iTop refs skip numbers and tickets are read by ref never by id")
    {
        admin("reset");
        Itop itop;
        const auto first = itop.backend.create(new_ticket("k-gap-1"));
        REQUIRE(static_cast<bool>(first));
        CHECK(first.value().ref == "R-000001");
        admin("gap");
        const auto second = itop.backend.create(new_ticket("k-gap-2"));
        REQUIRE(static_cast<bool>(second));
        CHECK(second.value().ref == "R-000003"); // id 2
        const auto found = itop.backend.find("r-000003");
        REQUIRE(static_cast<bool>(found));
        REQUIRE(found.value().has_value());
        CHECK(found.value()->ref == "R-000003");
        CHECK(found.value()->status_text == "Nouveau");
        CHECK(itop.backend.open_tickets("0590001A") == 2);
        CHECK(itop.backend.open_tickets("0590002B") == 0);
    }

    TEST_CASE("iTop create answered by HTTP 500 after creating is retried without a second ticket")
    {
        admin("reset");
        Itop itop;
        // the idempotency search passes, then the create is done but its answer lost
        admin("fail", {{"mode", "none"}, {"count", 2}}); // the key search, the caller
        admin("fail", {{"mode", "http500_after_create"}});
        const auto lost = itop.backend.create(new_ticket("k-lost"));
        REQUIRE_FALSE(static_cast<bool>(lost));
        CHECK(tickets_in_itop() == 1);
        const auto retry = itop.backend.create(new_ticket("k-lost"));
        REQUIRE_MESSAGE(static_cast<bool>(retry), retry.error().message);
        CHECK(retry.value().ref == "R-000001");
        CHECK(tickets_in_itop() == 1);
    }

    TEST_CASE("iTop refusals become French messages for the user")
    {
        admin("reset");
        {
            Itop bad_password{{"", "matrix-bot", "wrong", {}, "c"}};
            const auto refused = bad_password.backend.find("R-000001");
            REQUIRE_FALSE(static_cast<bool>(refused));
            CHECK(user_message(refused.error()).find("refuse le compte du bot") !=
                  std::string::npos);
            CHECK(refused.error().code == 1);
        }
        {
            Itop no_profile{{"", "no-rest", "s3cret", {}, "c"}};
            const auto refused = no_profile.backend.open_tickets_of(claire);
            REQUIRE_FALSE(static_cast<bool>(refused));
            CHECK(refused.error().code == 1);
        }
        {
            Itop token{{"", "", "", "tok-123", "c"}};
            const auto found = token.backend.find("R-000001");
            REQUIRE(static_cast<bool>(found));
            CHECK_FALSE(found.value().has_value());
            CHECK(token.client.check_credentials().value() == false); // no user, no password
        }
        Itop itop;
        const auto authorized = itop.client.check_credentials();
        REQUIRE(static_cast<bool>(authorized));
        CHECK(authorized.value());

        const auto unknown_org = itop.backend.create(new_ticket("k-org", "0590009Z"));
        REQUIRE_FALSE(static_cast<bool>(unknown_org));
        CHECK(unknown_org.error().code == 100);
        CHECK(user_message(unknown_org.error()).find("0590009Z") != std::string::npos);

        auto stranger = new_ticket("k-caller");
        stranger.requester = "@inconnu.x-ac-lille.fr:agent.education.tchap.gouv.fr";
        const auto unknown_caller = itop.backend.create(stranger);
        REQUIRE_FALSE(static_cast<bool>(unknown_caller));
        CHECK(user_message(unknown_caller.error()).find("inconnu.x@ac-lille.fr") !=
              std::string::npos);
        CHECK(tickets_in_itop() == 0);

        const auto status = itop.backend.update("R-000001", TicketStatus::resolved, "", "@s");
        REQUIRE_FALSE(static_cast<bool>(status));
        CHECK(user_message(status.error()).find("iTop") != std::string::npos);
        const auto missing = itop.backend.update("R-000042", std::nullopt, "x", "@s");
        REQUIRE_FALSE(static_cast<bool>(missing));
        CHECK(missing.error().kind == Error::Kind::not_found);
    }

    TEST_CASE("iTop raw client sees the recorded answers of the double")
    {
        admin("reset");
        Itop itop;
        const auto oql = itop.client.query("SELECT UserRequest WHERE reff = \"x\"");
        REQUIRE_FALSE(static_cast<bool>(oql));
        CHECK(oql.error().code == 100);
        CHECK(oql.error().message.find("Unknown filter code - found 'reff'") != std::string::npos);
        const auto none = itop.client.query("SELECT UserRequest WHERE status IN (\"new\")");
        REQUIRE(static_cast<bool>(none)); // objects: null
        CHECK(none.value().empty());
    }

    TEST_CASE("the double answers as iTop 3.2.0 was seen to answer")
    {
        admin("reset");
        // verb errors have no objects key; stimulus errors carry "objects": null (§13)
        const auto oql = rest({{"operation", "core/get"},
                               {"class", "UserRequest"},
                               {"key", "SELECT UserRequest WHERE reff = \"x\""}});
        CHECK(oql["code"] == 100);
        CHECK_FALSE(oql.contains("objects"));
        const auto argument = rest({{"operation", "core/get"},
                                    {"class", "UserRequest"},
                                    {"key", "SELECT UserRequest WHERE ref = :c"}});
        CHECK(argument["message"] ==
              "Error: Missing query argument: expecting = c, available = {}");
        CHECK_FALSE(argument.contains("objects"));
        const auto created = rest({{"operation", "core/create"},
                                   {"comment", "agent"},
                                   {"class", "UserRequest"},
                                   {"output_fields", "ref,request_type,start_date"},
                                   {"fields",
                                    {{"org_id", {{"code", "0590001A"}}},
                                     {"caller_id", {{"email", "claire.durand@ac-lille.fr"}}},
                                     {"title", "Sans type"},
                                     {"description", "x"}}}});
        REQUIRE(created["code"] == 0);
        const auto& fields = created["objects"].begin().value()["fields"];
        CHECK(fields["request_type"].is_null()); // an unset enum is null, not ""
        const std::string ref = fields["ref"];
        const auto stimulus = rest({{"operation", "core/apply_stimulus"},
                                    {"comment", "agent"},
                                    {"class", "UserRequest"},
                                    {"key", {{"ref", ref}}},
                                    {"stimulus", "ev_assign"},
                                    {"fields", json::object()}});
        CHECK(stimulus["message"] ==
              "Missing mandatory attribute(s) for applying the stimulus: request_type.");
        CHECK(stimulus.contains("objects"));
        CHECK(stimulus["objects"].is_null());
        // several Persons for one email: a search finds both, an external key refuses
        const auto both = rest({{"operation", "core/get"},
                                {"class", "Person"},
                                {"key", {{"email", "anne.martin@ac-lille.fr"}}},
                                {"output_fields", "id"}});
        CHECK(both["message"] == "Found: 2");
        const auto ambiguous = rest({{"operation", "core/create"},
                                     {"comment", "agent"},
                                     {"class", "UserRequest"},
                                     {"fields",
                                      {{"org_id", {{"code", "0590001A"}}},
                                       {"caller_id", {{"email", "anne.martin@ac-lille.fr"}}},
                                       {"title", "x"},
                                       {"description", "x"}}}});
        CHECK(ambiguous["message"] ==
              "Error: caller_id: Several items found (2) with criteria: email: "
              "anne.martin@ac-lille.fr (anne.martin@ac-lille.fr)");
        // the public log: oldest first, a plain entry's HTML without <p>
        for (const auto* text : {"un\ndeux", "trois"})
            REQUIRE(rest({{"operation", "core/update"},
                          {"comment", "agent"},
                          {"class", "UserRequest"},
                          {"key", {{"ref", ref}}},
                          {"fields",
                           {{"public_log",
                             {{"add_item", {{"message", text}, {"format", "text"}}}}}}}})["code"] ==
                    0);
        const auto entries = ticket_in_itop(ref)["public_log"]["entries"];
        REQUIRE(entries.size() == 2);
        CHECK(entries[0]["message"] == "un\ndeux");
        CHECK(entries[0]["message_html"] == "un<br/>deux");
        // an agent's entry typed in the editor: Markdown-like `message`, read from its HTML
        admin("log",
              {{"ref", ref},
               {"message", "<p>Voir <a href=\"https://tribu.fr/g\">le guide</a></p><p>Merci</p>"},
               {"html", true}});
        CHECK(ticket_in_itop(ref)["public_log"]["entries"][2]["message"] ==
              "Voir [le guide](https://tribu.fr/g)\n\nMerci");
        Itop itop;
        const auto read = itop.backend.find(ref);
        REQUIRE(static_cast<bool>(read));
        CHECK(read.value()->log.back().text == "Voir le guide (https://tribu.fr/g)\nMerci");
        // dates in Paris time: an hour or two ahead of UTC
        const auto start = app::parse_itop_date(fields["start_date"].get<std::string>(),
                                                *date::locate_zone("Europe/Paris"));
        REQUIRE(start.has_value());
        CHECK(std::chrono::abs(*start - std::chrono::system_clock::now()) < 2min);
        // with its database down, iTop answers HTTP 500 in HTML
        admin("fail", {{"mode", "http500"}});
        bot::CurlHttpClient http;
        bot::Request request;
        request.method = "POST";
        request.url = double_url() + "/webservices/rest.php?version=1.3";
        request.headers["Content-Type"] = "application/x-www-form-urlencoded";
        request.body = "auth_user=matrix-bot&auth_pwd=s3cret&json_data=%7B%7D";
        const auto down = http.send(request);
        REQUIRE(static_cast<bool>(down));
        CHECK(down.value().status == 500);
        CHECK(down.value().headers.at("content-type").starts_with("text/html"));
    }

    TEST_CASE("iTop HTTP errors timeouts and refused connections are reported to the user")
    {
        admin("reset");
        Itop itop;
        admin("fail", {{"mode", "http500"}});
        const auto http = itop.backend.find("R-000001");
        REQUIRE_FALSE(static_cast<bool>(http));
        CHECK(http.error().kind == Error::Kind::http);
        CHECK(user_message(http.error()).find("HTTP 500") != std::string::npos);

        admin("fail", {{"mode", "delay"}, {"seconds", 4}});
        const auto slow = itop.backend.open_tickets_of(claire); // timeout 2 s
        REQUIRE_FALSE(static_cast<bool>(slow));
        CHECK(slow.error().kind == Error::Kind::transport);
        CHECK(user_message(slow.error()).find("à temps") != std::string::npos);

        Itop down{{"http://127.0.0.1:1", "matrix-bot", "s3cret", {}, "c"}};
        const auto refused = down.backend.create(new_ticket("k-down"));
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().kind == Error::Kind::transport);
        CHECK(user_message(refused.error()).find("injoignable") != std::string::npos);
        CHECK_FALSE(down.backend.open_tickets("0590001A").has_value());
    }
}

TEST_SUITE("itop")
{
    TEST_CASE("iTop tickets are triaged so that an agent can assign them")
    {
        fresh_itop();
        Itop itop;
        const auto created = itop.backend.create(new_ticket(key("triage")));
        REQUIRE_MESSAGE(static_cast<bool>(created), created.error().message);
        const auto stored = ticket_in_itop(created.value().ref);
        CHECK(stored["team_id_friendlyname"] == "DRASI");
        CHECK(stored["request_type"] == "incident");
        CHECK(stored["service_id_friendlyname"] == "op@le");
        CHECK(created.value().team == commands::Team::drasi); // read back from iTop's team
        // what failed on the real iTop before: ev_assign without request_type
        const auto assigned = rest(
            {{"operation", "core/apply_stimulus"},
             {"comment", "agent"},
             {"class", "UserRequest"},
             {"key", {{"ref", created.value().ref}}},
             {"stimulus", "ev_assign"},
             {"output_fields", "status"},
             {"fields",
              {{"team_id", {{"name", "DRASI"}}}, {"agent_id", {{"email", "paul@ac-lille.fr"}}}}}});
        CHECK_MESSAGE(assigned["code"] == 0, assigned.dump());

        // a subcategory named in the config gives its request type; the same name under
        // another service is not taken
        auto options = Itop::options();
        options.drasi = {"DRASI", "Problème technique", "", "2", "3"};
        app::ItopTicketBackend triaged{itop.client, itop.state, options};
        CHECK(triaged.triage_text(commands::Service::drasi) ==
              "service op@le, équipe DRASI, sous-catégorie « Problème technique », urgence 2, "
              "impact 3");
        const auto second = triaged.create(new_ticket(key("triage-2")));
        REQUIRE_MESSAGE(static_cast<bool>(second), second.error().message);
        const auto stored2 = ticket_in_itop(second.value().ref);
        CHECK(stored2["servicesubcategory_id_friendlyname"] == "Problème technique");
        CHECK(stored2["request_type"] == "incident");
        CHECK(stored2["urgency"] == "2");

        options.drasi.team = "Équipe inconnue";
        app::ItopTicketBackend misconfigured{itop.client, itop.state, options};
        const auto refused = misconfigured.create(new_ticket(key("triage-3")));
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().errcode == commands::user_facing_refusal);
        CHECK(user_message(refused.error()).find("config check --en-ligne") != std::string::npos);
    }

    TEST_CASE("iTop dates are in Paris time and today's tickets count today")
    {
        fresh_itop();
        Itop itop;
        const auto created = itop.backend.create(new_ticket(key("today")));
        REQUIRE(static_cast<bool>(created));
        const auto now = std::chrono::system_clock::now();
        CHECK(created.value().created_at > now - 2min); // not an hour off
        CHECK(created.value().created_at < now + 2min);
        const auto last_half_hour = itop.backend.filed_between(now - 30min, now + 30min);
        REQUIRE(static_cast<bool>(last_half_hour));
        CHECK(lists(last_half_hour.value(), created.value().ref));
        const auto yesterday = itop.backend.filed_between(now - 25h, now - 23h);
        REQUIRE(static_cast<bool>(yesterday));
        CHECK_FALSE(lists(yesterday.value(), created.value().ref));
    }

    TEST_CASE("iTop requester lookup copes with several Persons and any character")
    {
        fresh_itop();
        Itop itop;
        const std::string anne_email = "anne.martin@ac-lille.fr";
        const auto hers = itop.client.persons_with_email(anne_email);
        REQUIRE(static_cast<bool>(hers));
        REQUIRE(hers.value().size() == 2); // one Person per EPLE, the same email
        // the one of the ticket's EPLE
        auto anne = new_ticket(key("anne"), "0590001A");
        anne.requester = "@anne.martin-ac-lille.fr:agent.education.tchap.gouv.fr";
        const auto in_eple = itop.backend.create(anne);
        REQUIRE_MESSAGE(static_cast<bool>(in_eple), in_eple.error().message);
        const auto of_eple = itop.client.persons_with_email(anne_email, "0590001A");
        REQUIRE(static_cast<bool>(of_eple));
        REQUIRE(of_eple.value().size() == 1);
        CHECK(ticket_in_itop(in_eple.value().ref)["caller_id"] == of_eple.value()[0].id);
        CHECK(in_eple.value().note.empty());
        // for an EPLE where she has none: the first active one, and the reply says which
        auto elsewhere = new_ticket(key("anne-2"), "0000000A");
        elsewhere.requester = anne.requester;
        const auto chosen = itop.backend.create(elsewhere);
        REQUIRE_MESSAGE(static_cast<bool>(chosen), chosen.error().message);
        CHECK(ticket_in_itop(chosen.value().ref)["caller_id"] == hers.value()[0].id);
        CHECK(chosen.value().note.find("Anne Martin (") != std::string::npos);
        // an apostrophe: \' inside a double-quoted OQL string is refused by iTop 3.2
        app::ItopBackendOptions options = Itop::options();
        options.emails["@sean:agent.education.tchap.gouv.fr"] = "sean.o'brien@ac-lille.fr";
        app::ItopTicketBackend mapped{itop.client, itop.state, options};
        auto sean = new_ticket(key("sean"), "0590002B");
        sean.requester = "@sean:agent.education.tchap.gouv.fr";
        const auto quoted = mapped.create(sean);
        REQUIRE_MESSAGE(static_cast<bool>(quoted), quoted.error().message);
        const auto his = mapped.open_tickets_of(sean.requester);
        REQUIRE_MESSAGE(static_cast<bool>(his), his.error().message);
        CHECK(lists(his.value(), quoted.value().ref));
        const auto bad = itop.client.query(
            "SELECT UserRequest AS u JOIN Person AS p ON u.caller_id = p.id WHERE p.email = "
            "\"sean.o\\'brien@ac-lille.fr\"");
        REQUIRE_FALSE(static_cast<bool>(bad));
        CHECK(bad.error().message.find("Unexpected input") != std::string::npos);
    }

    TEST_CASE("iTop refuses a title over 255 characters and the bot never offers a plain retry")
    {
        fresh_itop();
        Itop itop;
        const auto before = itop.backend.create(new_ticket(key("title-1")));
        REQUIRE(static_cast<bool>(before));
        auto long_title = new_ticket(key("title-2"));
        long_title.fields.titre = std::string(300, 'T');
        const auto refused = itop.backend.create(long_title);
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().errcode == commands::user_facing_refusal);
        CHECK(user_message(refused.error()).find("titre trop long") != std::string::npos);
        const auto after = itop.backend.create(new_ticket(key("title-3")));
        REQUIRE(static_cast<bool>(after));
        // the refusal used up a ref, as iTop does
        CHECK(number_of(after.value().ref) == number_of(before.value().ref) + 2);

        // accented text is counted in characters, and what iTop's column cannot hold is
        // refused before any call
        auto accents = new_ticket(key("accents"));
        accents.fields.description = std::string{};
        for (int i = 0; i < 3504; ++i)
            accents.fields.description += "é";
        const auto accented = itop.backend.create(accents);
        REQUIRE_MESSAGE(static_cast<bool>(accented), accented.error().message);
        auto huge = new_ticket(key("huge"));
        for (auto* text : {&huge.fields.description, &huge.fields.operations, &huge.fields.erreurs})
            *text = std::string(4000, '"'); // within the dialogue's limit, 6 bytes each in HTML
        const auto too_big = itop.backend.create(huge);
        REQUIRE_FALSE(static_cast<bool>(too_big));
        CHECK(too_big.error().errcode == commands::user_facing_refusal);
        const auto next = itop.backend.create(new_ticket(key("title-4")));
        REQUIRE(static_cast<bool>(next));
        CHECK(number_of(next.value().ref) == number_of(accented.value().ref) + 1); // no call
    }

    TEST_CASE("iTop tickets logged by an agent for the requester are theirs and list attachments")
    {
        fresh_itop();
        Itop itop;
        // an agent logs a ticket by phone for Claire, with a file
        const auto phoned = rest({{"operation", "core/create"},
                                  {"comment", "agent"},
                                  {"class", "UserRequest"},
                                  {"output_fields", "id,ref,org_id"},
                                  {"fields",
                                   {{"org_id", {{"code", "0590001A"}}},
                                    {"caller_id", {{"email", "claire.durand@ac-lille.fr"}}},
                                    {"title", "Appel : mandat rejeté"},
                                    {"description", "au téléphone"}}}});
        REQUIRE_MESSAGE(phoned["code"] == 0, phoned.dump());
        const auto& fields = phoned["objects"].begin().value()["fields"];
        const std::string ref = fields["ref"];
        const auto attached = rest({{"operation", "core/create"},
                                    {"comment", "agent"},
                                    {"class", "Attachment"},
                                    {"output_fields", "id"},
                                    {"fields",
                                     {{"item_class", "UserRequest"},
                                      {"item_id", fields["id"]},
                                      {"item_org_id", fields["org_id"]},
                                      {"contents",
                                       {{"data", "JVBERi0="},
                                        {"filename", "relevé.pdf"},
                                        {"mimetype", "application/pdf"}}}}}});
        REQUIRE_MESSAGE(attached["code"] == 0, attached.dump());

        const auto listed = itop.backend.open_tickets_of(claire);
        REQUIRE(static_cast<bool>(listed));
        CHECK(lists(listed.value(), ref));
        const auto shown = itop.backend.details(ref);
        REQUIRE(static_cast<bool>(shown));
        REQUIRE(shown.value().has_value());
        CHECK(itop.backend.is_requester(*shown.value(), claire));
        CHECK_FALSE(itop.backend.is_requester(
            *shown.value(), "@anne.martin-ac-lille.fr:agent.education.tchap.gouv.fr"));
        CHECK(shown.value()->attachment_names == std::vector<std::string>{"relevé.pdf"});

        // the requester's message and file from the thread reach the ticket's public log
        REQUIRE(static_cast<bool>(itop.backend.attach(ref, {"capture.png", "\x89PNG"}, claire)));
        const auto updated = itop.backend.update(ref, std::nullopt, "Voici la capture", claire);
        REQUIRE_MESSAGE(static_cast<bool>(updated), updated.error().message);
        REQUIRE(updated.value().log.size() == 2);
        CHECK(updated.value().log[0].text == std::string{claire} + " : pièce jointe capture.png");
        CHECK(updated.value().log[1].text == std::string{claire} + " : Voici la capture");
        const auto with_file = itop.backend.details(ref);
        REQUIRE(static_cast<bool>(with_file));
        CHECK(with_file.value()->attachment_names.size() == 2);
    }

    TEST_CASE("iTop relays the pending reason and the solution to the requester")
    {
        fresh_itop();
        Itop itop;
        const auto created = itop.backend.create(new_ticket(key("relay")));
        REQUIRE(static_cast<bool>(created));
        const auto& ref = created.value().ref;
        const auto stimulus = [&ref](const char* name, json fields) {
            const auto done = rest({{"operation", "core/apply_stimulus"},
                                    {"comment", "agent"},
                                    {"class", "UserRequest"},
                                    {"key", {{"ref", ref}}},
                                    {"stimulus", name},
                                    {"output_fields", "status"},
                                    {"fields", std::move(fields)}});
            REQUIRE_MESSAGE(done["code"] == 0, done.dump());
        };
        stimulus("ev_assign",
                 {{"team_id", {{"name", "DRASI"}}}, {"agent_id", {{"email", "paul@ac-lille.fr"}}}});
        stimulus("ev_pending", {{"pending_reason", "Envoyez la capture d'écran"}});
        auto now = itop.backend.find(ref);
        REQUIRE(static_cast<bool>(now));
        CHECK(now.value()->status == TicketStatus::pending);
        CHECK(now.value()->pending_reason == "Envoyez la capture d'écran");
        stimulus("ev_assign",
                 {{"team_id", {{"name", "DRASI"}}}, {"agent_id", {{"email", "paul@ac-lille.fr"}}}});
        stimulus("ev_resolve", {{"solution", "Facture re-déposée.\nProblème résolu."}});
        now = itop.backend.find(ref);
        REQUIRE(static_cast<bool>(now));
        CHECK(now.value()->status == TicketStatus::resolved);
        CHECK(now.value()->solution == "Facture re-déposée.\nProblème résolu.");
        CHECK(now.value()->resolved_at.has_value());
    }

    TEST_CASE("iTop online check finds what tickets need and says what is wrong")
    {
        fresh_itop();
        Itop itop;
        auto options = Itop::options();
        options.si2c.subcategory = "Question métier";
        const auto good = app::check_itop_online(itop.client, options);
        REQUIRE(good.size() == 5); // service, SI2C team and subcategory, DRASI team, organisation
        for (const auto& check : good)
            CHECK_MESSAGE(check.ok, check.text);
        CHECK(good[0].text == "Service « op@le » trouvé(e) : op@le");

        options.drasi.team = "DRASI N2";
        const auto wrong_team = app::check_itop_online(itop.client, options);
        const auto team = std::find_if(wrong_team.begin(), wrong_team.end(), [](const auto& c) {
            return c.text.find("DRASI N2") != std::string::npos;
        });
        REQUIRE(team != wrong_team.end());
        CHECK_FALSE(team->ok);
        CHECK(team->text.find("tickets.itop.triage.DRASI.equipe") != std::string::npos);
        options.si2c.subcategory = "Inexistante";
        const auto wrong_sub = app::check_itop_online(itop.client, options);
        CHECK(std::any_of(wrong_sub.begin(), wrong_sub.end(), [](const auto& c) {
            return !c.ok && c.text.find("triage.SI2C.sous_categorie") != std::string::npos;
        }));

        Itop bad_password{{"", itop_user(), "wrong-password", {}, "c"}};
        const auto refused = app::check_itop_online(bad_password.client, Itop::options());
        REQUIRE(refused.size() == 1); // the rest would say the same
        CHECK_FALSE(refused[0].ok);
        CHECK(refused[0].text.find("refuse le compte du bot") != std::string::npos);
        Itop down{{"http://127.0.0.1:1", itop_user(), itop_password(), {}, "c"}};
        const auto unreachable = app::check_itop_online(down.client, Itop::options());
        REQUIRE(unreachable.size() == 1);
        CHECK(unreachable[0].text.find("injoignable") != std::string::npos);
    }
}

int main(int argc, char** argv)
{
    const bot::CurlGlobal curl;
    doctest::Context context{argc, argv};
    if (real_itop()) // the double's controls do not exist there
        context.setOption("test-suite", "itop");
    return context.run();
}
