#include "bot/alerts.hpp"

#include "opalebot/log.hpp"

#include <doctest/doctest.h>

using opalebot::bot::alert_message;
using opalebot::bot::Alerts;
using opalebot::bot::ServiceHealth;
using namespace std::chrono_literals;

TEST_SUITE("unit")
{
    TEST_CASE("an alert kind is posted at most every ten minutes with its count")
    {
        Alerts alerts;
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        CHECK(alerts.take_due(t0).empty());
        alerts.raise("identity", "@marie:hs.test");
        alerts.raise("identity", "@marie:hs.test");
        alerts.raise("identity", "@paul:hs.test");
        auto due = alerts.take_due(t0);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "identity");
        CHECK(due[0].count == 3);
        CHECK(due[0].details == std::vector<std::string>{"@marie:hs.test", "@paul:hs.test"});

        // a storm within ten minutes: counted, posted once when the ten minutes are up
        for (int n = 0; n < 7; ++n)
            alerts.raise("identity", "@u" + std::to_string(n) + ":hs.test");
        alerts.raise("set-aside", "$poison");
        due = alerts.take_due(t0 + 9min);
        REQUIRE(due.size() == 1); // another kind is not held back
        CHECK(due[0].kind == "set-aside");
        CHECK(alerts.take_due(t0 + 9min + 59s).empty());
        due = alerts.take_due(t0 + 10min);
        REQUIRE(due.size() == 1);
        CHECK(due[0].count == 7);
        CHECK(due[0].details.size() == 5);          // the first five named
        CHECK(alerts.take_due(t0 + 30min).empty()); // nothing new: nothing said
    }
}

TEST_SUITE("unit")
{
    TEST_CASE("an alert taken for a batch that was not saved is due again at once")
    {
        Alerts alerts;
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        alerts.raise("storage", "database or disk is full");
        auto due = alerts.take_due(t0);
        REQUIRE(due.size() == 1);
        alerts.put_back(due); // the batch carrying it failed
        alerts.raise("storage", "database or disk is full");
        due = alerts.take_due(t0 + 1s); // not held back by the ten minutes: it was never seen
        REQUIRE(due.size() == 1);
        CHECK(due[0].count == 2);
        CHECK(due[0].details == std::vector<std::string>{"database or disk is full"});
        CHECK(alert_message(due[0]).find("fichier d'état") != std::string::npos);
    }

    TEST_CASE("a kind with a minimum is posted only once it happened that often")
    {
        Alerts alerts;
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        alerts.set_minimum("undecryptable", 3);
        alerts.raise("undecryptable", "@marie:hs.test");
        alerts.raise("undecryptable", "@paul:hs.test");
        CHECK(alerts.take_due(t0).empty());
        alerts.raise("undecryptable", "@marie:hs.test");
        const auto due = alerts.take_due(t0);
        REQUIRE(due.size() == 1);
        CHECK(due[0].count == 3);
        const auto text = alert_message(due[0]);
        CHECK(text.find("`@marie:hs.test`, `@paul:hs.test`") != std::string::npos);
    }

    TEST_CASE("a service failing three times in a row is told once and its return too")
    {
        Alerts alerts;
        ServiceHealth itop{"itop", 3};
        itop.report_to(&alerts);
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        itop.failed(t0, "HTTP 502");
        itop.succeeded(t0 + 1s); // one failure is not an outage
        itop.failed(t0 + 2s, "HTTP 502");
        itop.failed(t0 + 3s, "HTTP 502");
        CHECK(alerts.take_due(t0 + 3s).empty());
        itop.failed(t0 + 4s, "Connection refused");
        for (int n = 0; n < 10; ++n)
            itop.failed(t0 + 5s, "Connection refused"); // the same outage: no more alerts
        auto due = alerts.take_due(t0 + 5s);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "itop");
        CHECK(due[0].count == 1);
        CHECK(due[0].details ==
              std::vector<std::string>{"3 échecs de suite, dernier : Connection refused"});
        CHECK(alert_message(due[0]).find("iTop ne répond plus") != std::string::npos);
        const auto down = itop.snapshot();
        CHECK(down.failures_in_a_row == 13);
        CHECK(down.last_cause == "Connection refused");
        REQUIRE(down.last_success.has_value());
        CHECK(*down.last_success == t0 + 1s);

        itop.succeeded(t0 + 12min);
        due = alerts.take_due(t0 + 12min);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "itop-ok");
        CHECK(due[0].details == std::vector<std::string>{"après 13 échecs en 11 min"});
        CHECK(itop.snapshot().failures_in_a_row == 0);
        itop.succeeded(t0 + 13min);
        CHECK(alerts.take_due(t0 + 30min).empty());
    }

    TEST_CASE("a kind with an interval of zero is posted each time it happens")
    {
        Alerts alerts;
        alerts.set_interval("reload", 0min);
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        alerts.raise("reload", "appliquée : `roles.admins`");
        REQUIRE(alerts.take_due(t0).size() == 1);
        alerts.raise("reload", "refusée, la configuration en cours est gardée");
        alerts.raise("identity", "@marie:hs.test");
        const auto due = alerts.take_due(t0 + 1s);
        REQUIRE(due.size() == 2); // the first identity alert is due anyway
        alerts.raise("identity", "@paul:hs.test");
        alerts.raise("reload", "appliquée, aucune clé modifiée");
        const auto again = alerts.take_due(t0 + 2s);
        REQUIRE(again.size() == 1); // identity waits its ten minutes
        CHECK(again[0].kind == "reload");
    }

    TEST_CASE("a reload alert lists each report on a line of its own")
    {
        const auto text = alert_message(
            {"reload",
             {"appliquée : `roles.admins` ; redémarrage nécessaire pour : `sync.timeout_seconds`",
              "refusée, la configuration en cours est gardée : 1 problème(s)"},
             2});
        CHECK(text.starts_with("**Configuration relue (SIGHUP)**"));
        CHECK(text.find("\n- appliquée : `roles.admins` ; redémarrage nécessaire pour : "
                        "`sync.timeout_seconds`\n- refusée") != std::string::npos);
    }
}

TEST_SUITE("unit")
{
    TEST_CASE("the last warnings and errors are kept short for statut")
    {
        opalebot::log::init({"test.problems"});
        const auto logger = opalebot::log::get("test.problems");
        logger->info("an info line is not a problem");
        logger->warn("iTop unreachable: {}", std::string(200, 'e') + "é");
        logger->error("batch not saved: {}", "disk I/O error");
        const auto problems = opalebot::log::recent_problems(2);
        REQUIRE(problems.size() == 2);
        CHECK(problems[0].source == "test.problems");
        CHECK_FALSE(problems[0].error);
        CHECK(problems[0].text.size() <= 160 + std::string{"…"}.size());
        CHECK(problems[0].text.rfind("iTop unreachable: eee", 0) == 0);
        CHECK(problems[0].text.ends_with("…"));
        CHECK(problems[1].error);
        CHECK(problems[1].text == "batch not saved: disk I/O error");
        for (const auto& p : opalebot::log::recent_problems(20))
            CHECK(p.text.find("info line") == std::string::npos);
    }
}
