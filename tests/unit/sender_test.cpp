#include "bot/sender.hpp"

#include "bot/sync_loop.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using namespace std::chrono_literals;
using nlohmann::json;
using opalebot::testing::FakeHttpClient;

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
const SteadyTime t0{std::chrono::hours{1000}};

OutgoingMessage outgoing(const std::string& txn, int priority = 0, const std::string& entry = {})
{
    OutgoingMessage m;
    m.txn_id = txn;
    m.room_id = "!salon:hs.test";
    m.content = json{{"msgtype", "m.notice"}, {"body", "réponse " + txn}}.dump();
    m.priority = priority;
    m.source_event = "$q-" + txn;
    m.entry_id = entry;
    return m;
}

void queue(StateStore& store, const OutgoingMessage& m)
{
    SyncBatchWrites writes;
    writes.outgoing.push_back(m);
    REQUIRE(static_cast<bool>(store.commit(writes)));
}

std::int64_t outbox_size(StateStore& store)
{
    const auto n = store.outgoing_count();
    REQUIRE(static_cast<bool>(n));
    return n.value();
}

/// A sender with a generous budget and a clock the test moves by hand.
struct Harness {
    FakeHttpClient http;
    MatrixClient client{http, "https://hs.test"};
    StateStore store{":memory:"};
    SteadyTime clock = t0;
    Sender sender{client, store, 1.0, 100, [this] { return clock; }};
};

const std::string send_prefix =
    "https://hs.test/_matrix/client/v3/rooms/%21salon%3Ahs.test/send/m.room.message/";

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("token bucket allows the burst then the rate")
    {
        TokenBucket bucket{1.0, 3, t0};
        CHECK(bucket.take(t0) == 0ms);
        CHECK(bucket.take(t0) == 0ms);
        CHECK(bucket.take(t0) == 0ms);
        CHECK(bucket.take(t0) == 1000ms);
        CHECK(bucket.take(t0 + 500ms) == 500ms);
        CHECK(bucket.take(t0 + 1000ms) == 0ms);
        CHECK(bucket.take(t0 + 1000ms) == 1000ms);
    }

    TEST_CASE("token bucket never saves more than the burst")
    {
        TokenBucket bucket{2.0, 2, t0};
        const auto later = t0 + 1h;
        CHECK(bucket.take(later) == 0ms);
        CHECK(bucket.take(later) == 0ms);
        CHECK(bucket.take(later) == 500ms); // 2 per second: the next token in half a second
        CHECK(bucket.take(later + 250ms) == 250ms);
    }

    TEST_CASE("send_next with an empty outbox sends nothing")
    {
        Harness h;
        CHECK_FALSE(h.sender.send_next().has_value());
        CHECK(h.http.request_count() == 0);
    }

    TEST_CASE("send_next sends the next message and records it as the bot's")
    {
        Harness h;
        queue(h.store, outgoing("opb-1", 0, "tiers"));
        h.http.reply(200, R"({"event_id":"$sent"})");
        const auto delay = h.sender.send_next();
        REQUIRE(delay.has_value());
        CHECK(*delay == 0ms);
        REQUIRE(h.http.request_count() == 1);
        const auto request = h.http.request(0);
        CHECK(request.method == "PUT");
        CHECK(request.url == send_prefix + "opb-1");
        CHECK(json::parse(request.body)["body"] == "réponse opb-1");
        CHECK(outbox_size(h.store) == 0);
        const auto entry = h.store.sent_message("$sent");
        REQUIRE(static_cast<bool>(entry));
        REQUIRE(entry.value().has_value());
        CHECK(*entry.value() == "tiers");
        CHECK_FALSE(h.sender.send_next().has_value());
    }

    TEST_CASE("send_next sends a to-device entry first and keeps it while the server fails")
    {
        Harness h;
        SyncBatchWrites writes; // the room key and the reply it opens, saved together
        writes.outgoing.push_back(outgoing("opb-reply", 0, ""));
        OutgoingMessage key;
        key.txn_id = "otd-1";
        key.event_type = "to-device:m.room.encrypted";
        key.content = R"({"@marie:hs.test":{"LAPTOP":{"ciphertext":"x"}}})";
        key.priority = -1;
        writes.outgoing.push_back(key);
        REQUIRE(static_cast<bool>(h.store.commit(writes)));

        h.http.reply(502, "{}");
        const auto delay = h.sender.send_next();
        REQUIRE(delay.has_value());
        CHECK(*delay > 0ms); // backs off; the reply does not overtake the key
        h.http.reply(200, "{}");
        CHECK(h.sender.send_next() == 0ms);
        h.http.reply(200, R"({"event_id":"$sent"})");
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 3);
        for (const std::size_t n : {0U, 1U}) {
            const auto request = h.http.request(n);
            CHECK(request.method == "PUT");
            CHECK(request.url.ends_with("/sendToDevice/m.room.encrypted/otd-1"));
            CHECK(json::parse(request.body) ==
                  json{{"messages", {{"@marie:hs.test", {{"LAPTOP", {{"ciphertext", "x"}}}}}}}});
        }
        CHECK(h.http.request(2).url == send_prefix + "opb-reply");
        CHECK(outbox_size(h.store) == 0);
        CHECK_FALSE(h.store.sent_message("$sent").value() == std::nullopt);
    }

    TEST_CASE("send_next never sends in clear into a room that turned encrypted")
    {
        Harness h;
        queue(h.store, outgoing("opb-clair", 0, ""));
        SyncBatchWrites encrypted; // the room's m.room.encryption came after the reply was stored
        encrypted.rooms.push_back(RoomInfo{"!salon:hs.test", {}, false, 3, {}, true});
        REQUIRE(static_cast<bool>(h.store.commit(encrypted)));
        auto sealed = outgoing("opb-chiffre", 0, "");
        sealed.event_type = "m.room.encrypted";
        sealed.content = json{{"algorithm", "m.megolm.v1.aes-sha2"}, {"ciphertext", "AwgA"}}.dump();
        queue(h.store, sealed);
        h.http.reply(200, R"({"event_id":"$sent"})");
        CHECK(h.sender.send_next().has_value()); // the clear one: dropped, nothing sent
        CHECK(h.http.request_count() == 0);
        CHECK(h.sender.send_next().has_value()); // the encrypted one goes
        REQUIRE(h.http.request_count() == 1);
        CHECK(h.http.request(0).url.find("/send/m.room.encrypted/opb-chiffre") !=
              std::string::npos);
        CHECK(outbox_size(h.store) == 0);
    }

    TEST_CASE("send_next sends replies before background work")
    {
        Harness h;
        queue(h.store, outgoing("digest", 5));
        queue(h.store, outgoing("reply", 0));
        h.http.reply(200, R"({"event_id":"$1"})");
        h.http.reply(200, R"({"event_id":"$2"})");
        CHECK(h.sender.send_next() == 0ms);
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(0).url == send_prefix + "reply");
        CHECK(h.http.request(1).url == send_prefix + "digest");
    }

    TEST_CASE("send_next obeys a 429 and resends with the same txn id")
    {
        Harness h;
        queue(h.store, outgoing("opb-429", 0, "tiers"));
        h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2000})");
        h.http.reply(200, R"({"event_id":"$sent"})");
        const auto delay = h.sender.send_next();
        REQUIRE(delay.has_value());
        CHECK(*delay >= 2000ms);
        CHECK(*delay <= 2000ms + 2000ms / 5 + 50ms);
        CHECK(outbox_size(h.store) == 1);
        const auto kept = h.store.next_outgoing();
        REQUIRE(static_cast<bool>(kept));
        REQUIRE(kept.value().has_value());
        CHECK(kept.value()->attempts == 1);

        h.clock += *delay;
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(0).url == send_prefix + "opb-429");
        CHECK(h.http.request(1).url == h.http.request(0).url);
        CHECK(h.http.request(1).body == h.http.request(0).body);
        CHECK(outbox_size(h.store) == 0);
    }

    TEST_CASE("send_next keeps the message and backs off on 5xx and transport errors")
    {
        Harness h;
        queue(h.store, outgoing("opb-5xx"));
        h.http.reply(500, R"({"errcode":"M_UNKNOWN"})");
        h.http.fail();
        h.http.reply(503, "Service Unavailable");
        h.http.reply(200, R"({"event_id":"$sent"})");
        const auto first = h.sender.send_next();
        REQUIRE(first.has_value());
        CHECK(*first >= 500ms);
        CHECK(outbox_size(h.store) == 1);
        const auto second = h.sender.send_next();
        REQUIRE(second.has_value());
        CHECK(*second >= 1000ms); // doubled
        CHECK(outbox_size(h.store) == 1);
        const auto third = h.sender.send_next();
        REQUIRE(third.has_value());
        CHECK(*third >= 2000ms);
        CHECK(*third <= 2000ms + 2000ms / 5 + 50ms);
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 4);
        for (const auto& request : h.http.requests())
            CHECK(request.url == send_prefix + "opb-5xx");
        CHECK(outbox_size(h.store) == 0);
    }

    TEST_CASE("send_next drops a message the server refuses for good")
    {
        Harness h;
        queue(h.store, outgoing("opb-403"));
        queue(h.store, outgoing("opb-next"));
        h.http.reply(403, R"({"errcode":"M_FORBIDDEN","error":"not in room"})");
        h.http.reply(200, R"({"event_id":"$sent"})");
        CHECK(h.sender.send_next() == 0ms);
        CHECK(outbox_size(h.store) == 1);
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(1).url == send_prefix + "opb-next");
        CHECK(outbox_size(h.store) == 0);
        const auto second = h.store.sent_message("$sent");
        REQUIRE(static_cast<bool>(second));
        CHECK(second.value().has_value());
    }

    TEST_CASE("a reply refused as too large is replaced by a short notice in its thread")
    {
        // issue 15, item 5: a 413 used to drop the reply without a word to the user.
        Harness h;
        auto big = outgoing("opb-413");
        big.content = notice_content("réponse", {"@marie:hs.test"}, "$root", "$q");
        queue(h.store, big);
        h.http.reply(413, R"({"errcode":"M_TOO_LARGE","error":"event too large"})");
        h.http.reply(413, R"({"errcode":"M_TOO_LARGE","error":"event too large"})");
        CHECK(h.sender.send_next() == 0ms);
        CHECK(outbox_size(h.store) == 1); // the notice took its place
        CHECK(h.sender.send_next() == 0ms);
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(1).url == send_prefix + "opb-413-trop-long");
        const auto notice = json::parse(h.http.request(1).body);
        CHECK(notice["body"].get<std::string>().find("trop longue") != std::string::npos);
        CHECK(notice["m.relates_to"]["event_id"] == "$root");
        CHECK(notice["m.relates_to"]["m.in_reply_to"]["event_id"] == "$q");
        CHECK(outbox_size(h.store) == 0); // a refused notice is not replaced again

        auto sealed = outgoing("opb-413-chiffre");
        sealed.event_type = "m.room.encrypted";
        sealed.content = json{{"algorithm", "m.megolm.v1.aes-sha2"},
                              {"ciphertext", "AwgA"},
                              {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$r"}}}}
                             .dump();
        queue(h.store, sealed);
        h.http.reply(413, R"({"errcode":"M_TOO_LARGE"})");
        CHECK(h.sender.send_next() == 0ms);
        CHECK(outbox_size(h.store) == 0); // never sent in clear: the sync loop encrypts it
        const auto waiting = h.store.awaiting_encryption();
        REQUIRE(static_cast<bool>(waiting));
        REQUIRE(waiting.value().size() == 1);
        CHECK(waiting.value()[0].txn_id == "opb-413-chiffre-trop-long");
        CHECK(waiting.value()[0].event_type == "m.room.message");
        CHECK(json::parse(waiting.value()[0].content)["m.relates_to"]["event_id"] == "$r");
    }

    TEST_CASE("send_next waits for the budget without a request")
    {
        FakeHttpClient http;
        MatrixClient client{http, "https://hs.test"};
        StateStore store{":memory:"};
        SteadyTime clock = t0;
        Sender sender{client, store, 1.0, 1, [&clock] { return clock; }};
        queue(store, outgoing("a"));
        queue(store, outgoing("b"));
        http.reply(200, R"({"event_id":"$a"})");
        http.reply(200, R"({"event_id":"$b"})");
        CHECK(sender.send_next() == 0ms);
        CHECK(sender.send_next() == 1000ms);
        CHECK(http.request_count() == 1);
        CHECK(outbox_size(store) == 1);
        clock += 1000ms;
        CHECK(sender.send_next() == 0ms);
        CHECK(http.request_count() == 2);
        CHECK(outbox_size(store) == 0);
    }

    TEST_CASE("sender run drains the outbox on its own thread and stops")
    {
        FakeHttpClient http;
        MatrixClient client{http, "https://hs.test"};
        StateStore store{":memory:"};
        Sender sender{client, store, 1000.0, 10};
        for (int i = 0; i < 3; ++i)
            http.reply(200, json{{"event_id", "$e" + std::to_string(i)}}.dump());
        std::jthread thread{[&sender](const std::stop_token& stop) { sender.run(stop); }};
        for (int i = 0; i < 3; ++i)
            queue(store, outgoing("t" + std::to_string(i)));
        sender.wake();
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (outbox_size(store) > 0 && std::chrono::steady_clock::now() < deadline) {
            sender.wake();
            std::this_thread::sleep_for(1ms);
        }
        thread.request_stop();
        thread.join();
        CHECK(outbox_size(store) == 0);
        CHECK(http.request_count() == 3);
        CHECK(http.unexpected() == 0);
        CHECK(store.sent_message("$e2").value().has_value());
    }

    TEST_CASE("send_next never returns a negative or absurd delay after a malformed 429")
    {
        Harness h;
        queue(h.store, outgoing("opb-bad-429"));
        for (int i = 0; i < 20; ++i) {
            h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":-4000})");
            const auto delay = h.sender.send_next();
            REQUIRE(delay.has_value());
            CHECK(*delay >= 0ms);
            CHECK(*delay <= 60'000ms);
        }
        CHECK(outbox_size(h.store) == 1);
    }
}

TEST_SUITE("unit")
{
    TEST_CASE("a homeserver slowing the bot down for five minutes is told to the admins once")
    {
        Harness h;
        Alerts alerts;
        h.sender.report_to(&alerts);
        queue(h.store, outgoing("opb-slow"));
        const Alerts::TimePoint now{std::chrono::hours{600'000}};
        // 429 after 429 for six minutes: one alert, when five minutes are up
        for (int minute = 0; minute <= 6; ++minute) {
            h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":60000})");
            const auto delay = h.sender.send_next();
            REQUIRE(delay.has_value());
            h.clock += 60s;
            const auto due = alerts.take_due(now + std::chrono::minutes{minute * 20});
            if (minute < 5) {
                CHECK(due.empty());
            } else if (minute == 5) {
                REQUIRE(due.size() == 1);
                CHECK(due[0].kind == "rate-limit");
                CHECK(due[0].details == std::vector<std::string>{"depuis 5 min"});
            } else {
                CHECK(due.empty()); // said once for the whole streak
            }
        }
        // the message finally goes: the end of it is told too
        h.http.reply(200, R"({"event_id":"$sent"})");
        CHECK(h.sender.send_next() == 0ms);
        const auto due = alerts.take_due(now + std::chrono::hours{10});
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "rate-limit-ok");
        CHECK(alert_message(due[0]).find("ne ralentit plus") != std::string::npos);
    }
}
