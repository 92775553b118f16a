#include "bot/session.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using nlohmann::json;
using opalebot::testing::FakeHttpClient;

namespace {

const std::string hs = "https://hs.test";

Config password_config()
{
    Config config;
    config.homeserver_url = hs;
    config.user_id = "@opale:hs.test";
    config.password = "pw";
    return config;
}

std::string login_ok(const std::string& device, const std::string& token)
{
    return json{{"user_id", "@opale:hs.test"}, {"device_id", device}, {"access_token", token}}
        .dump();
}

const std::string whoami_ok = R"({"user_id":"@opale:hs.test","device_id":"OLDDEV"})";

bool is_login(const Request& request)
{
    return request.url.find("/login") != std::string::npos;
}

StoredSession stored(StateStore& store)
{
    const auto session = store.session();
    REQUIRE(static_cast<bool>(session));
    REQUIRE(session.value().has_value());
    return *session.value();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("open_session checks a configured token with whoami and never logs in")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        auto config = password_config();
        config.access_token = "syt_configured";
        http.reply(200, whoami_ok);
        const auto session = open_session(client, store, config);
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().user_id == "@opale:hs.test");
        CHECK(session.value().device_id == "OLDDEV");
        CHECK(session.value().access_token == "syt_configured");
        REQUIRE(http.request_count() == 1);
        CHECK(http.request(0).url == hs + "/_matrix/client/v3/account/whoami");
        CHECK(http.request(0).headers.at("Authorization") == "Bearer syt_configured");
    }

    TEST_CASE("open_session reports a refused configured token")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        auto config = password_config();
        config.access_token = "syt_revoked";
        http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":true})");
        const auto session = open_session(client, store, config);
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(session.error().errcode == "M_UNKNOWN_TOKEN");
        CHECK(session.error().message.find("M_UNKNOWN_TOKEN") != std::string::npos);
        CHECK(http.request_count() == 1); // no login with a configured token
    }

    TEST_CASE("open_session reuses a stored session without logging in")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(
            static_cast<bool>(store.save_session({hs, "@opale:hs.test", "OLDDEV", "syt_stored"})));
        http.reply(200, whoami_ok);
        const auto session = open_session(client, store, password_config());
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().device_id == "OLDDEV");
        CHECK(session.value().access_token == "syt_stored");
        REQUIRE(http.request_count() == 1);
        CHECK_FALSE(is_login(http.request(0)));
        CHECK(http.request(0).headers.at("Authorization") == "Bearer syt_stored");
    }

    TEST_CASE("open_session logs in again on the same device after a soft logout")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(
            static_cast<bool>(store.save_session({hs, "@opale:hs.test", "OLDDEV", "syt_stored"})));
        http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":true})");
        http.reply(200, login_ok("OLDDEV", "syt_renewed"));
        const auto session = open_session(client, store, password_config());
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().device_id == "OLDDEV");
        CHECK(session.value().access_token == "syt_renewed");
        REQUIRE(http.request_count() == 2);
        REQUIRE(is_login(http.request(1)));
        const auto body = json::parse(http.request(1).body);
        CHECK(body["device_id"] == "OLDDEV");
        const auto saved = stored(store);
        CHECK(saved.device_id == "OLDDEV");
        CHECK(saved.access_token == "syt_renewed");
    }

    TEST_CASE("open_session stops on a hard logout and keeps the stored session")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(
            static_cast<bool>(store.save_session({hs, "@opale:hs.test", "OLDDEV", "syt_stored"})));
        http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":false})");
        const auto session = open_session(client, store, password_config());
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(session.error().errcode == "M_UNKNOWN_TOKEN");
        CHECK(session.error().message.find("OLDDEV") != std::string::npos);
        CHECK(http.request_count() == 1); // no silent new device
        CHECK(stored(store).access_token == "syt_stored");
    }

    TEST_CASE("open_session does not log in when the server is unreachable")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(
            static_cast<bool>(store.save_session({hs, "@opale:hs.test", "OLDDEV", "syt_stored"})));
        http.reply(502, "Bad Gateway");
        const auto session = open_session(client, store, password_config());
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(session.error().code == 502);
        CHECK(http.request_count() == 1);
    }

    TEST_CASE("open_session logs in and stores the session when none is stored")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        http.reply(200, login_ok("NEWDEV", "syt_first"));
        const auto session = open_session(client, store, password_config());
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().device_id == "NEWDEV");
        REQUIRE(http.request_count() == 1);
        REQUIRE(is_login(http.request(0)));
        CHECK_FALSE(json::parse(http.request(0).body).contains("device_id"));
        const auto saved = stored(store);
        CHECK(saved.homeserver == hs);
        CHECK(saved.user_id == "@opale:hs.test");
        CHECK(saved.device_id == "NEWDEV");
        CHECK(saved.access_token == "syt_first");

        // The next start reuses it.
        FakeHttpClient http2;
        MatrixClient client2{http2, hs};
        http2.reply(200, R"({"user_id":"@opale:hs.test","device_id":"NEWDEV"})");
        const auto again = open_session(client2, store, password_config());
        REQUIRE(static_cast<bool>(again));
        CHECK(again.value().access_token == "syt_first");
        CHECK(http2.request_count() == 1);
        CHECK_FALSE(is_login(http2.request(0)));
    }

    TEST_CASE("open_session logs in anew when the stored session is another account")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(static_cast<bool>(
            store.save_session({"https://other.test", "@opale:other.test", "OTHER", "syt_x"})));
        http.reply(200, login_ok("NEWDEV", "syt_new"));
        const auto session = open_session(client, store, password_config());
        REQUIRE(static_cast<bool>(session));
        REQUIRE(http.request_count() == 1);
        REQUIRE(is_login(http.request(0)));
        CHECK_FALSE(json::parse(http.request(0).body).contains("device_id"));
        CHECK(stored(store).homeserver == hs);
    }

    TEST_CASE("open_session with new_login forgets the stored device")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        REQUIRE(
            static_cast<bool>(store.save_session({hs, "@opale:hs.test", "OLDDEV", "syt_stored"})));
        http.reply(200, "{}"); // the old device logged out: it stops piling up on the server
        http.reply(200, login_ok("NEWDEV", "syt_new"));
        const auto session = open_session(client, store, password_config(), true);
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().device_id == "NEWDEV");
        REQUIRE(http.request_count() == 2);
        CHECK(http.request(0).url.ends_with("/_matrix/client/v3/logout"));
        CHECK(http.request(0).headers.at("Authorization") == "Bearer syt_stored");
        CHECK(is_login(http.request(1)));
        CHECK(stored(store).device_id == "NEWDEV");
    }

    TEST_CASE("open_session without password nor stored session is an error without request")
    {
        FakeHttpClient http;
        MatrixClient client{http, hs};
        StateStore store{":memory:"};
        auto config = password_config();
        config.password.clear();
        const auto session = open_session(client, store, config);
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(http.request_count() == 0);
    }
}
