#include "bot/metrics_server.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include <httplib.h>

using namespace opalebot;
using namespace std::chrono_literals;

namespace {

const std::chrono::system_clock::time_point noon{std::chrono::seconds{1'700'000'000}};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("sante is healthy while the last sync is within twice the timeout plus a minute")
    {
        CHECK_FALSE(bot::sync_health(std::nullopt, noon, 30s).ok);
        CHECK(bot::sync_health(std::nullopt, noon, 30s).reason.find("pas encore") !=
              std::string::npos);
        CHECK(bot::sync_health(noon - 5s, noon, 30s).ok);
        CHECK(bot::sync_health(noon - 119s, noon, 30s).ok);
        const auto stale = bot::sync_health(noon - 120s, noon, 30s);
        CHECK_FALSE(stale.ok);
        CHECK(stale.reason == "dernière synchronisation il y a 120 s (limite 120 s)");
        CHECK(bot::sync_health(noon - 150s, noon, 60s).ok); // the limit follows the timeout
    }

    TEST_CASE("the metrics server answers metrics and sante on loopback and nothing else")
    {
        metrics::Registry registry;
        auto& questions = registry.counter("t_questions_total", "Questions.");
        auto& last_sync = registry.gauge("t_last_sync", "Dernière synchronisation.");
        auto started = bot::MetricsServer::start("127.0.0.1", 0, registry,
                                                 bot::sync_health_check(last_sync, 30s));
        REQUIRE(static_cast<bool>(started));
        const auto server = std::move(started).value();
        REQUIRE(server->port() > 0);

        httplib::Client client{"127.0.0.1", server->port()};
        client.set_read_timeout(5s);
        questions.add(7);
        const auto scraped = client.Get("/metrics");
        REQUIRE(scraped);
        CHECK(scraped->status == 200);
        CHECK(scraped->get_header_value("Content-Type").find("version=0.0.4") != std::string::npos);
        CHECK(scraped->body.find("# TYPE t_questions_total counter\nt_questions_total 7\n") !=
              std::string::npos);

        const auto never = client.Get("/sante");
        REQUIRE(never);
        CHECK(never->status == 503);
        CHECK(never->body.find("pas encore synchronisé") != std::string::npos);
        last_sync.set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()));
        const auto healthy = client.Get("/sante");
        REQUIRE(healthy);
        CHECK(healthy->status == 200);
        CHECK(healthy->body == "ok\n");

        const auto elsewhere = client.Get("/");
        REQUIRE(elsewhere);
        CHECK(elsewhere->status == 404);
        const auto posted = client.Post("/metrics", "x", "text/plain");
        REQUIRE(posted);
        CHECK(posted->status == 404);

        // The port is taken: a second server there is an error, not a throw.
        const auto taken = bot::MetricsServer::start("127.0.0.1", server->port(), registry,
                                                     bot::sync_health_check(last_sync, 30s));
        CHECK_FALSE(static_cast<bool>(taken));
    }

    TEST_CASE("the metrics server stops at once when destroyed")
    {
        metrics::Registry registry;
        int port = 0;
        const auto before = std::chrono::steady_clock::now();
        {
            auto started = bot::MetricsServer::start("127.0.0.1", 0, registry, [] {
                return bot::Health{true, "ok"};
            });
            REQUIRE(static_cast<bool>(started));
            port = started.value()->port();
        }
        CHECK(std::chrono::steady_clock::now() - before < 3s);
        httplib::Client client{"127.0.0.1", port};
        client.set_connection_timeout(1s);
        CHECK_FALSE(client.Get("/sante")); // nobody listens any more
    }
}
