// Issue 16: the config file read again on SIGHUP (bot/src/config_reload.cpp).
#include "bot/config_reload.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using namespace opalebot::bot;
using namespace std::chrono_literals;

namespace {

/// The running file; each test changes a few lines of it.
std::string config_text(const std::string& admins = R"(["@chef:hs.test"])",
                        const std::string& allowed = R"(["!salon:hs.test"])",
                        const std::string& url = "https://hs.test", int sync_timeout = 30)
{
    return "homeserver: {url: \"" + url + "\"}\n" +
           "account: {user_id: \"@bot:hs.test\", password: pw}\n" + "rooms: {allowed: " + allowed +
           ", inviters: [\":hs.test\"]}\n" + "roles: {admins: " + admins + "}\n" +
           "sync: {timeout_seconds: " + std::to_string(sync_timeout) + "}\n";
}

Config parsed(const std::string& text)
{
    auto load = parse_config(text, "bot.yaml");
    REQUIRE(load.problems.empty());
    return load.config;
}

bool has(const std::vector<std::string>& keys, const std::string& key)
{
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("the same file read again changes nothing")
    {
        const auto running = parsed(config_text());
        const auto reload = reconcile_reload(running, parsed(config_text()));
        CHECK(reload.changed.empty());
        CHECK(reload.restart_needed.empty());
        CHECK(reload.problems.empty());
    }

    TEST_CASE("roles and rooms apply at once and connection keys wait for a restart")
    {
        const auto running = parsed(config_text());
        auto next = parsed(config_text(R"(["@chef:hs.test", "@marie:hs.test"])",
                                       R"(["!salon:hs.test", "!autre:hs.test"])",
                                       "https://nouveau.hs.test", 20));
        next.difficulty.signals_needed = 3;
        next.tickets.itop.si2c.team = "SI2C-N2";
        next.tickets.itop.url = "https://itop.test"; // the backend is built once
        next.requests_per_second = 4;
        const auto reload = reconcile_reload(running, next);
        CHECK(has(reload.changed, "roles.admins"));
        CHECK(has(reload.changed, "rooms.allowed"));
        CHECK(has(reload.changed, "difficultes"));
        CHECK(has(reload.changed, "tickets.itop.triage.SI2C"));
        CHECK(reload.changed.size() == 4);
        CHECK(reload.restart_needed ==
              std::vector<std::string>{"homeserver.url", "tickets.itop.url",
                                       "rate_limit.per_second", "sync.timeout_seconds"});
        // what runs from now on: the new roles and rooms, the running connection settings
        const auto& c = reload.config;
        CHECK(c.admins == std::vector<std::string>{"@chef:hs.test", "@marie:hs.test"});
        CHECK(c.allowed_rooms.size() == 2);
        CHECK(c.difficulty.signals_needed == 3);
        CHECK(c.tickets.itop.si2c.team == "SI2C-N2");
        CHECK(c.homeserver_url == "https://hs.test");
        CHECK(c.tickets.itop.url.empty());
        CHECK(c.requests_per_second == doctest::Approx(running.requests_per_second));
        CHECK(c.sync_timeout == 30s);
    }

    TEST_CASE("an invalid file is refused whole and the running configuration stays")
    {
        const opalebot::testing::TempDir dir;
        const auto file = dir.file("bot.yaml");
        dir.write("bot.yaml", config_text());
        const auto running = load_config(file).config;
        // a new admin, but a typo in a room id: nothing of it is taken
        dir.write("bot.yaml", config_text(R"(["@chef:hs.test", "@marie:hs.test"])",
                                          R"(["salon-sans-point-d-exclamation"])"));
        const auto refused = reload_config(file, running);
        REQUIRE_FALSE(refused.problems.empty());
        CHECK(refused.problems[0].path.starts_with("rooms.allowed"));
        CHECK(refused.problems[0].line == 3);
        CHECK(refused.config.admins == std::vector<std::string>{"@chef:hs.test"});
        CHECK(refused.config.allowed_rooms == running.allowed_rooms);
        CHECK(refused.changed.empty());
        // fixed: taken
        dir.write("bot.yaml", config_text(R"(["@chef:hs.test", "@marie:hs.test"])"));
        const auto applied = reload_config(file, running);
        CHECK(applied.problems.empty());
        CHECK(applied.changed == std::vector<std::string>{"roles.admins"});
        CHECK(applied.config.admins.size() == 2);
        // a file that is gone is refused too
        CHECK_FALSE(reload_config(dir.file("absent.yaml"), running).problems.empty());
    }
}
