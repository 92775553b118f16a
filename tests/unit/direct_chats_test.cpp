// Issue 17: the direct chats the bot opens to send a kit reminder to one person. The real
// homeserver's side is proven by the e2e scenario `y`; here the rules around it.
#include "bot/direct_chats.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>

#include "support/checks.hpp"
#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using opalebot::testing::contains;
using opalebot::testing::FakeHttpClient;

namespace {

const std::string bot = "@opale:hs";
const std::string marie = "@marie:hs";

std::string members(std::initializer_list<std::pair<const char*, const char*>> who)
{
    nlohmann::json chunk = nlohmann::json::array();
    for (const auto& [user, membership] : who)
        chunk.push_back({{"type", "m.room.member"},
                         {"state_key", user},
                         {"content", {{"membership", membership}}}});
    return nlohmann::json{{"chunk", chunk}}.dump();
}

/// What a sync that shows the bot in the room writes (SyncLoop::handle_room).
void synced(StateStore& store, const std::string& room_id, const std::string& inviter,
            bool encrypted)
{
    SyncBatchWrites writes;
    writes.rooms.push_back({room_id, inviter, true, 2, {}, encrypted});
    REQUIRE(store.commit(writes));
}

struct World {
    FakeHttpClient http;
    MatrixClient client{http, "http://hs"};
    StateStore store{":memory:"};
    std::chrono::steady_clock::time_point now{};
    DirectChats chats{client, store, bot, true, [this] { return now; }};
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("direct chat is opened encrypted and used once a sync shows its encryption")
    {
        World w;
        w.http.reply(200, R"({"room_id":"!dm:hs"})");
        const auto first = w.chats.room_for(marie);
        REQUIRE(first);
        CHECK_FALSE(first.value()); // opened, not usable yet
        REQUIRE(w.http.request_count() == 1);
        const auto create = w.http.request(0);
        CHECK(create.method == "POST");
        CHECK(contains(create.url, "/_matrix/client/v3/createRoom"));
        const auto body = nlohmann::json::parse(create.body);
        CHECK(body["is_direct"] == true);
        CHECK(body["preset"] == "trusted_private_chat");
        CHECK(body["invite"] == nlohmann::json::array({marie}));
        CHECK(body["initial_state"][0]["type"] == "m.room.encryption");
        CHECK(body["initial_state"][0]["content"]["algorithm"] == "m.megolm.v1.aes-sha2");
        // Before the sync: still not usable, and no second room opened.
        CHECK_FALSE(w.chats.room_for(marie).value());
        CHECK(w.http.request_count() == 1);
        // The bot opened it, so it acts there.
        const auto info = w.store.room("!dm:hs").value();
        REQUIRE(info);
        CHECK(info->inviter == bot);
        CHECK(info->is_direct);
        // The sync showed it encrypted; Marie is invited: used.
        synced(w.store, "!dm:hs", bot, true);
        w.http.reply(200, members({{"@opale:hs", "join"}, {"@marie:hs", "invite"}}));
        CHECK(w.chats.room_for(marie).value() == std::optional<std::string>{"!dm:hs"});
    }

    TEST_CASE("direct chat the user opened is reused and one they left is replaced")
    {
        World w;
        // Marie opened a direct chat with the bot (her invite flagged it direct).
        synced(w.store, "!hers:hs", marie, true);
        w.http.reply(200, members({{"@opale:hs", "join"}, {"@marie:hs", "join"}}));
        CHECK(w.chats.room_for(marie).value() == std::optional<std::string>{"!hers:hs"});
        // She left it (seen at the next check, an hour on): the bot leaves too and opens another.
        w.now += std::chrono::hours{1};
        w.http.reply(200, members({{"@opale:hs", "join"}}));
        w.http.reply(200, "{}");                       // leave
        w.http.reply(200, R"({"room_id":"!new:hs"})"); // createRoom
        CHECK_FALSE(w.chats.room_for(marie).value());
        const auto requests = w.http.requests();
        REQUIRE(requests.size() == 4);
        CHECK(contains(requests[2].url, "/rooms/%21hers%3Ahs/leave"));
        CHECK(contains(requests[3].url, "/createRoom"));
        CHECK(w.store.direct_chat(marie).value() == std::optional<std::string>{"!new:hs"});
    }

    TEST_CASE("direct chat that cannot be opened is not asked again for ten minutes")
    {
        World w;
        w.http.reply(403, R"({"errcode":"M_FORBIDDEN","error":"not allowed"})");
        CHECK_FALSE(w.chats.room_for(marie));
        CHECK_FALSE(w.chats.room_for(marie)); // no request
        CHECK(w.http.request_count() == 1);
        w.now += std::chrono::minutes{10};
        w.http.reply(200, R"({"room_id":"!dm:hs"})");
        CHECK(w.chats.room_for(marie));
        CHECK(w.http.request_count() == 2);
        CHECK(w.store.direct_chat(marie).value() == std::optional<std::string>{"!dm:hs"});
    }

    TEST_CASE("direct chats are opened five at once then one every two seconds")
    {
        World w;
        for (int i = 0; i < 5; ++i)
            w.http.reply(200, R"({"room_id":"!dm)" + std::to_string(i) + R"(:hs"})");
        for (int i = 0; i < 5; ++i)
            CHECK_FALSE(w.chats.room_for("@u" + std::to_string(i) + ":hs").value());
        CHECK(w.http.request_count() == 5);
        // The sixth waits (not an error: asked again later), without a request.
        const auto sixth = w.chats.room_for("@u5:hs");
        REQUIRE(sixth);
        CHECK_FALSE(sixth.value());
        CHECK(w.http.request_count() == 5);
        w.now += std::chrono::seconds{2};
        w.http.reply(200, R"({"room_id":"!dm5:hs"})");
        CHECK(w.chats.room_for("@u5:hs"));
        CHECK(w.http.request_count() == 6);
        CHECK(w.store.direct_chat("@u5:hs").value() == std::optional<std::string>{"!dm5:hs"});
    }

    TEST_CASE("direct chat members are asked once an hour")
    {
        World w;
        synced(w.store, "!hers:hs", marie, true);
        w.http.reply(200, members({{"@opale:hs", "join"}, {"@marie:hs", "join"}}));
        CHECK(w.chats.room_for(marie).value() == std::optional<std::string>{"!hers:hs"});
        CHECK(w.chats.room_for(marie).value() == std::optional<std::string>{"!hers:hs"});
        CHECK(w.http.request_count() == 1);
        w.now += std::chrono::hours{1};
        w.http.reply(200, members({{"@opale:hs", "join"}, {"@marie:hs", "join"}}));
        CHECK(w.chats.room_for(marie).value() == std::optional<std::string>{"!hers:hs"});
        CHECK(w.http.request_count() == 2);
    }
}
