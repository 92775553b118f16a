// The sync loop and the crypto coordinator with end-to-end encryption, offline: the bot's
// homeserver is a scripted FakeHttpClient, and Marie's devices are real crypto engines (each on
// its own in-memory SQLite) that produce genuine device keys, one-time keys, Olm to-device
// messages and Megolm room events, and read what the bot sends back.

#include "bot/crypto/engine.hpp"
#include "bot/crypto_coordinator.hpp"
#include "bot/sync_loop.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto_engine_support.hpp"
#include "support/fake_http_client.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot::bot;
using namespace std::chrono_literals;
using nlohmann::json;
using opalebot::testing::FakeHttpClient;
using opalebot::testing::on_keys_claim_response;
using opalebot::testing::on_keys_query_response;
using opalebot::testing::on_to_device;
using opalebot::testing::room_key_of;
using opalebot::testing::TempDir;

namespace {

const std::string hs = "https://hs.test";
const std::string me = "@opale:hs.test";
const std::string bot_device = "OPALEDEV";
const std::string salon = "!chiffre:hs.test";
const std::string marie = "@marie:hs.test";
const std::string pickle_key = "a pickle key of the secret configuration";
constexpr std::int64_t now_ms = 1'700'000'000'000;

template <class T>
T value(opalebot::Result<T> result)
{
    REQUIRE_MESSAGE(
        static_cast<bool>(result),
        (result ? std::string{} : result.error().errcode + " " + result.error().message));
    return std::move(result).value();
}

/// The test's clock: the sync loop and every engine read it.
struct Time {
    std::chrono::system_clock::time_point now{std::chrono::milliseconds{now_ms}};
    crypto::EngineOptions options()
    {
        crypto::EngineOptions o;
        o.clock = [this] { return now; };
        return o;
    }
};

json encryption_state()
{
    return {{"type", "m.room.encryption"},
            {"state_key", ""},
            {"event_id", "$encryption"},
            {"sender", "@admin:hs.test"},
            {"origin_server_ts", now_ms - 100'000},
            {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}};
}

/// A /sync body, parsed as the loop receives it: `timeline` in the salon (with its
/// m.room.encryption state when `with_state`), `to_device` events.
SyncBatch sync(const std::string& next, const json& timeline = json::array(),
               const json& to_device = json::array(), bool with_state = false)
{
    json body{{"next_batch", next}};
    if (!to_device.empty())
        body["to_device"]["events"] = to_device;
    if (!timeline.empty() || with_state) {
        json room{{"timeline", {{"events", timeline}}}};
        if (with_state)
            room["state"]["events"] = json::array({encryption_state()});
        body["rooms"]["join"][salon] = room;
    }
    auto parsed = parse_sync(body.dump(), me);
    REQUIRE(static_cast<bool>(parsed));
    return std::move(parsed).value();
}

/// The bot: a sync loop on a scripted homeserver, its engine opened on the state store's
/// connection and attached to it, as main does.
struct Bot {
    explicit Bot(Time& t, const std::string& database = ":memory:") : time{t}, store{database}
    {
        config.homeserver_url = hs;
        config.user_id = me;
        config.password = "pw";
        config.allowed_rooms = {salon};
        client.set_access_token("syt_tok");
    }
    ~Bot() { store.attach_crypto(nullptr); }
    Bot(const Bot&) = delete;
    Bot& operator=(const Bot&) = delete;

    void enable_crypto()
    {
        engine = value(
            crypto::Engine::open(store.database(), me, bot_device, pickle_key, time.options()));
        store.attach_crypto(engine.get());
        crypto.emplace(client, store, *engine);
    }

    /// CryptoCoordinator::start on a server that accepts everything; keeps what was published.
    void start()
    {
        http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":0}})");
        http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":50}})");
        http.reply(200, "{}"); // keys/device_signing/upload
        http.reply(200, "{}"); // keys/signatures/upload
        REQUIRE(static_cast<bool>(crypto->start()));
        REQUIRE(http.pending() == 0);
        for (const auto& request : http.requests()) {
            if (request.url.find("/keys/upload") == std::string::npos)
                continue;
            const auto body = json::parse(request.body);
            if (body.contains("device_keys"))
                device_keys = body["device_keys"];
            if (body.contains("one_time_keys"))
                one_time_keys.update(body["one_time_keys"]);
        }
        REQUIRE(device_keys.is_object());
        REQUIRE(one_time_keys.size() > 3);
        http.forget_requests();
    }

    SyncLoop& loop()
    {
        if (!loop_) {
            loop_ = std::make_unique<SyncLoop>(
                client, store, config, Session{me, bot_device, "syt_tok"},
                [this](const IncomingMessage& m) -> std::optional<OutgoingReply> {
                    seen.push_back(m);
                    return OutgoingReply{"**EJ** : engagement juridique", "sigle-ej", {}};
                },
                [] {}, [](const std::string&) {}, [this] { return time.now; });
            loop_->set_crypto(crypto ? &*crypto : nullptr);
        }
        return *loop_;
    }

    void process(const SyncBatch& batch)
    {
        const auto done = loop().process(batch, false);
        REQUIRE_MESSAGE(static_cast<bool>(done), (done ? std::string{} : done.error().message));
        send_to_device();
    }

    void share_ahead()
    {
        crypto->share_ahead();
        send_to_device();
    }

    /// What the sender thread does with the outbox's to-device entries (they go first): each
    /// sent in order, removed once the server took it; the first refusal stops the round.
    void send_to_device()
    {
        SQLite::Statement query{store.database(),
                                "SELECT id, txn_id, event_type, content FROM outbox "
                                "WHERE event_type LIKE 'to-device:%' ORDER BY priority, id"};
        std::vector<std::tuple<std::int64_t, std::string, std::string, std::string>> entries;
        while (query.executeStep())
            entries.emplace_back(query.getColumn(0).getInt64(), query.getColumn(1).getString(),
                                 query.getColumn(2).getString(), query.getColumn(3).getString());
        for (const auto& [id, txn_id, type, content] : entries) {
            if (!client.send_to_device(type.substr(to_device_prefix.size()), txn_id,
                                       json::parse(content)))
                return;
            REQUIRE(static_cast<bool>(store.drop_outgoing(id)));
        }
    }

    /// The requests made since the last call, by endpoint.
    std::vector<std::string> routes()
    {
        std::vector<std::string> out;
        for (const auto& request : http.requests())
            for (const char* route : {"/members", "keys/query", "keys/claim", "sendToDevice",
                                      "keys/changes", "keys/upload"})
                if (request.url.find(route) != std::string::npos)
                    out.emplace_back(route);
        return out;
    }

    /// The request to `route` (the last one), its body parsed.
    json body_of(const std::string& route)
    {
        json out;
        for (const auto& request : http.requests())
            if (request.url.find(route) != std::string::npos)
                out = json::parse(request.body);
        REQUIRE_MESSAGE(!out.is_null(), ("no request to " + route));
        return out;
    }

    std::vector<OutgoingMessage> outbox()
    {
        std::vector<OutgoingMessage> out;
        SQLite::Statement query{store.database(),
                                "SELECT txn_id, room_id, event_type, content, "
                                "coalesce(source_event, '') FROM outbox "
                                "WHERE event_type NOT LIKE 'to-device:%' ORDER BY id"};
        while (query.executeStep()) {
            OutgoingMessage m;
            m.txn_id = query.getColumn(0).getString();
            m.room_id = query.getColumn(1).getString();
            m.event_type = query.getColumn(2).getString();
            m.content = query.getColumn(3).getString();
            m.source_event = query.getColumn(4).getString();
            out.push_back(std::move(m));
        }
        return out;
    }

    /// The ledger's outcome for `event_id`, empty when it is not there.
    std::string outcome(const std::string& event_id)
    {
        SQLite::Statement query{store.database(),
                                "SELECT outcome FROM handled_events WHERE event_id = ?"};
        query.bind(1, event_id);
        return query.executeStep() ? query.getColumn(0).getString() : std::string{};
    }

    int rows(const std::string& table)
    {
        return store.database().execAndGet("SELECT count(*) FROM " + table).getInt();
    }

    Time& time;
    FakeHttpClient http;
    MatrixClient client{http, hs};
    StateStore store;
    Config config;
    std::unique_ptr<crypto::Engine> engine;
    std::optional<CryptoCoordinator> crypto;
    std::vector<IncomingMessage> seen;
    json device_keys;                    ///< the bot's, as uploaded by start()
    json one_time_keys = json::object(); ///< the bot's, as uploaded; each claimed once

private:
    std::unique_ptr<SyncLoop> loop_;
};

/// One of Marie's devices: a real engine whose keys are on the server.
struct Device {
    Device(const std::string& id, Time& time)
        : db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE},
          engine{value(crypto::Engine::open(db, marie, id, pickle_key, time.options()))}
    {
        auto body = value(engine->keys_upload(0, false));
        REQUIRE(body.has_value());
        published = *body;
        engine->mark_keys_published();
    }

    const std::string& id() const { return engine->device_id(); }

    /// One of its one-time keys, as /keys/claim hands it out (once).
    json claim_one_time_key()
    {
        auto& keys = published.at("one_time_keys");
        REQUIRE_FALSE(keys.empty());
        const auto first = keys.begin();
        json out{{first.key(), first.value()}};
        keys.erase(first.key());
        return out;
    }

    /// Knows the bot's device and has an Olm session with it (its own /keys/query, /keys/claim).
    void meet(Bot& bot)
    {
        REQUIRE(static_cast<bool>(on_keys_query_response(
            *engine, {{"device_keys", {{me, {{bot_device, bot.device_keys}}}}}}, {me})));
        REQUIRE_FALSE(bot.one_time_keys.empty());
        const auto first = bot.one_time_keys.begin();
        const json claimed{
            {"one_time_keys", {{me, {{bot_device, {{first.key(), first.value()}}}}}}}};
        bot.one_time_keys.erase(first.key());
        REQUIRE(value(on_keys_claim_response(*engine, claimed)).size() == 1);
    }

    /// Starts a Megolm session in the salon and shares it with the bot: the Olm to-device event
    /// the bot's /sync carries.
    json share_room_key_with_bot()
    {
        engine->set_room_encryption(salon, {});
        const auto devices = value(engine->needs_room_key_share(salon, {marie, me}));
        REQUIRE(devices.size() == 1);
        CHECK(devices[0].device_id == bot_device);
        const auto body = value(engine->share_room_key(salon, devices));
        return {{"type", "m.room.encrypted"},
                {"sender", marie},
                {"content", body.at("messages").at(me).at(bot_device)}};
    }

    /// A Megolm-encrypted m.room.message of Marie in the salon, as the timeline carries it.
    json say(const std::string& event_id, const std::string& text)
    {
        const auto content = value(engine->encrypt_room_event(
            salon, "m.room.message", {{"msgtype", "m.text"}, {"body", text}}));
        return {{"type", "m.room.encrypted"},
                {"event_id", event_id},
                {"sender", marie},
                {"origin_server_ts", now_ms},
                {"content", content}};
    }

    /// Its to-device message in a /sendToDevice/m.room.encrypted body of the bot, decrypted.
    crypto::ToDeviceEvent receive(const json& send_to_device)
    {
        const auto& messages = send_to_device.at("messages");
        REQUIRE(messages.contains(marie));
        REQUIRE(messages[marie].contains(id()));
        return value(on_to_device(
            *engine,
            {{"type", "m.room.encrypted"}, {"sender", me}, {"content", messages[marie][id()]}}));
    }

    /// A message of the bot's outbox, as the room will show it, decrypted.
    json read(const OutgoingMessage& message)
    {
        const json event{{"type", message.event_type},
                         {"event_id", "$sent-" + message.txn_id},
                         {"sender", me},
                         {"origin_server_ts", now_ms},
                         {"content", json::parse(message.content)}};
        return value(engine->decrypt_room_event(salon, event)).event;
    }

    SQLite::Database db;
    std::unique_ptr<crypto::Engine> engine;
    json published; ///< its /keys/upload body
};

json member_event(const std::string& user, const std::string& membership)
{
    return {{"type", "m.room.member"},
            {"state_key", user},
            {"sender", user},
            {"content", {{"membership", membership}}}};
}

/// GET /members: the bot and Marie joined.
json joined_members()
{
    return {{"chunk", {member_event(me, "join"), member_event(marie, "join")}}};
}

/// The /keys/query answer: the bot's device and Marie's `devices`.
json keys_query(const Bot& bot, const std::vector<Device*>& devices)
{
    json response{{"device_keys", {{me, {{bot_device, bot.device_keys}}}}},
                  {"failures", json::object()}};
    response["device_keys"][marie] = json::object();
    for (auto* device : devices)
        response["device_keys"][marie][device->id()] = device->published.at("device_keys");
    return response;
}

/// The /keys/claim answer: a one-time key of each of `devices`.
json keys_claim(const std::vector<Device*>& devices)
{
    json response{{"one_time_keys", json::object()}, {"failures", json::object()}};
    for (auto* device : devices)
        response["one_time_keys"][marie][device->id()] = device->claim_one_time_key();
    return response;
}

/// Marie asks from her laptop in the encrypted salon; the bot learns the members and her two
/// devices, claims a session with the phone, shares the room key and answers.
void first_reply_in_salon(Bot& bot, Device& laptop, Device& phone)
{
    bot.http.reply(200, joined_members().dump());
    bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
    bot.http.reply(200, keys_claim({&phone}).dump());
    bot.http.reply(200, "{}");
    bot.process(sync("s1", json::array({laptop.say("$q1", "!sigle EJ")}),
                     json::array({laptop.share_room_key_with_bot()}), true));
    REQUIRE(bot.outbox().size() == 1);
}

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("encrypted command is decrypted and answered with an encrypted reply")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time}; // never wrote to the bot: it needs a claimed key
        laptop.meet(bot);
        const auto room_key = laptop.share_room_key_with_bot();
        const auto command = laptop.say("$q", "!sigle EJ");

        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(200, keys_claim({&phone}).dump());
        bot.http.reply(200, "{}"); // sendToDevice
        bot.process(sync("s1", json::array({command}), json::array({room_key}), true));

        REQUIRE(bot.seen.size() == 1);
        CHECK(bot.seen[0].text == "!sigle EJ");
        CHECK(bot.seen[0].event_id == "$q");
        CHECK(bot.seen[0].sender == marie);
        CHECK(bot.seen[0].addressed);

        // The room key went to Marie's devices before the reply was encrypted.
        CHECK(bot.routes() ==
              std::vector<std::string>{"/members", "keys/query", "keys/claim", "sendToDevice"});
        CHECK(bot.http.unexpected() == 0);
        CHECK(bot.http.pending() == 0);
        CHECK(bot.body_of("keys/query").at("device_keys").contains(marie));
        // the laptop's Olm session (from its pre-key message) is reused: only the phone's key
        CHECK(bot.body_of("keys/claim").at("one_time_keys") ==
              json{{marie, {{"PHONE", "signed_curve25519"}}}});
        const auto to_device_url = bot.http.request(3).url;
        CHECK(to_device_url.find("/sendToDevice/m.room.encrypted/") != std::string::npos);
        const auto shared = bot.body_of("sendToDevice");
        CHECK(shared.at("messages").size() == 1); // Marie only, never the bot's own device
        CHECK(shared.at("messages").at(marie).size() == 2);
        const auto laptop_key = laptop.receive(shared);
        const auto phone_key = phone.receive(shared);
        CHECK(laptop_key.type == "m.room_key");
        CHECK(phone_key.type == "m.room_key");
        CHECK(room_key_of(laptop_key).room_id == salon);
        const auto session_id = room_key_of(laptop_key).session_id;
        CHECK(room_key_of(phone_key).session_id == session_id);

        // The outbox holds ciphertext only.
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        const auto& reply = outbox[0];
        CHECK(reply.room_id == salon);
        CHECK(reply.event_type == "m.room.encrypted");
        CHECK(reply.source_event == "$q");
        CHECK(reply.content.find("engagement") == std::string::npos);
        const auto sealed = json::parse(reply.content);
        CHECK(sealed.at("algorithm") == "m.megolm.v1.aes-sha2");
        CHECK(sealed.at("session_id") == session_id);
        CHECK(sealed.at("device_id") == bot_device);
        CHECK(sealed.at("m.relates_to").at("rel_type") == "m.thread"); // relations in clear
        CHECK(sealed.at("m.relates_to").at("event_id") == "$q");

        for (auto* device : {&laptop, &phone}) {
            const auto read = device->read(reply);
            CHECK(read.at("type") == "m.room.message");
            const auto& content = read.at("content");
            CHECK(content.at("msgtype") == "m.text"); // it notifies the asker
            CHECK(content.at("body").get<std::string>().find("engagement juridique") !=
                  std::string::npos);
            CHECK(content.at("m.mentions").at("user_ids") == json::array({marie}));
            CHECK(content.at("m.relates_to").at("rel_type") == "m.thread");
            CHECK(content.at("m.relates_to").at("event_id") == "$q");
            CHECK(content.at("m.relates_to").at("m.in_reply_to").at("event_id") == "$q");
        }

        CHECK(bot.outcome("$q") == "answered");
        CHECK(value(bot.store.sync_token()) == "s1");
        CHECK_FALSE(bot.engine->has_unsaved_changes()); // saved with the batch
    }

    TEST_CASE("a sync batch feeds room keys and key counts and room state to the coordinator")
    {
        // The one crypto input path (issue 19): what used to be Engine::receive_sync_changes,
        // through the sync loop and the coordinator as the bot runs them.
        Time time;
        auto encryption = encryption_state();
        encryption["content"]["rotation_period_msgs"] = 5;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        laptop.meet(bot);
        json body{{"next_batch", "s1"},
                  {"to_device", {{"events", {laptop.share_room_key_with_bot()}}}},
                  {"device_one_time_keys_count", {{"signed_curve25519", 10}}},
                  {"device_unused_fallback_key_types", json::array()}};
        body["rooms"]["join"][salon]["state"]["events"] = json::array({encryption});
        body["rooms"]["join"][salon]["timeline"]["events"] =
            json::array({laptop.say("$q", "!sigle EJ")});

        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop}).dump());
        bot.http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":50}})");
        bot.http.reply(200, "{}"); // sendToDevice
        bot.process(value(parse_sync(body.dump(), me)));
        REQUIRE(bot.seen.size() == 1); // the room key came first, in the same batch
        CHECK(bot.seen[0].event_id == "$q");
        // the room key is sent once the batch is saved (with the Olm ratchet step it took)
        CHECK(bot.routes() ==
              std::vector<std::string>{"/members", "keys/query", "keys/upload", "sendToDevice"});
        const auto upload = bot.body_of("keys/upload"); // after the batch: 10 + 40 = 50
        CHECK(upload.at("one_time_keys").size() == 40);
        CHECK(upload.contains("fallback_keys")); // the server said its fallback key was used
        bot.http.forget_requests();

        // A new session for the next message: shared now, or not.
        const auto rotated = [&bot] {
            const auto devices = value(bot.engine->needs_room_key_share(salon, {marie, me}));
            if (!devices.empty())
                static_cast<void>(value(bot.engine->share_room_key(salon, devices)));
            return !devices.empty();
        };
        CHECK_FALSE(rotated());
        // rotation_period_msgs came from the state event: the reply was message 1 of 5
        for (int n = 0; n < 4; ++n)
            static_cast<void>(value(bot.engine->encrypt_room_event(salon, "m.room.message", {})));
        CHECK(rotated());

        json changed{{"next_batch", "s2"}, {"device_lists", {{"changed", {marie}}}}};
        bot.process(value(parse_sync(changed.dump(), me)));
        const auto outdated = bot.engine->users_needing_query();
        CHECK(std::find(outdated.begin(), outdated.end(), marie) != outdated.end());

        // Anyone leaving or banned, or a history visibility change, rotates; a join does not.
        int batch = 3;
        const auto state_event = [&](const std::string& type, const std::string& state_key,
                                     const json& content) {
            const json event{{"type", type},
                             {"state_key", state_key},
                             {"event_id", "$state" + std::to_string(batch)},
                             {"sender", "@carol:hs.test"},
                             {"origin_server_ts", now_ms},
                             {"content", content}};
            bot.process(sync("s" + std::to_string(batch++), json::array({event})));
        };
        state_event("m.room.member", "@carol:hs.test", {{"membership", "join"}});
        CHECK_FALSE(rotated());
        state_event("m.room.member", "@carol:hs.test", {{"membership", "leave"}});
        CHECK(rotated());
        state_event("m.room.member", "@dave:hs.test", {{"membership", "ban"}});
        CHECK(rotated());
        state_event("m.room.history_visibility", "", {{"history_visibility", "joined"}});
        CHECK(rotated());
        // A malformed m.room.encryption neither stops the batch nor changes the settings.
        state_event("m.room.encryption", "", {{"algorithm", 3}, {"rotation_period_msgs", "x"}});
        CHECK_FALSE(rotated());
        CHECK(bot.engine->is_room_encrypted(salon));
        CHECK(bot.http.unexpected() == 0);
        CHECK(value(bot.store.sync_token()) == "s7");
    }

    TEST_CASE("encrypted command whose room key comes in a later batch is answered then")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        const auto room_key = laptop.share_room_key_with_bot(); // delayed by the server
        const auto command = laptop.say("$early", "!sigle EJ");

        bot.process(sync("s1", json::array({command}), json::array(), true));
        CHECK(bot.seen.empty());
        CHECK(bot.outcome("$early").empty()); // not in the ledger: it waits for its key
        CHECK(bot.outbox().empty());
        CHECK(bot.http.request_count() == 0);
        CHECK(bot.engine->pending_event_count() == 1);
        CHECK(value(bot.store.sync_token()) == "s1");

        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(200, keys_claim({&phone}).dump());
        bot.http.reply(200, "{}");
        bot.process(sync("s2", json::array(), json::array({room_key})));

        REQUIRE(bot.seen.size() == 1);
        CHECK(bot.seen[0].text == "!sigle EJ");
        CHECK(bot.seen[0].event_id == "$early");
        CHECK(bot.outcome("$early") == "answered");
        CHECK(bot.engine->pending_event_count() == 0);
        CHECK(bot.routes() ==
              std::vector<std::string>{"/members", "keys/query", "keys/claim", "sendToDevice"});
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(outbox[0].event_type == "m.room.encrypted");
        CHECK(outbox[0].source_event == "$early");
        laptop.receive(bot.body_of("sendToDevice"));
        const auto read = laptop.read(outbox[0]);
        CHECK(read.at("content").at("body").get<std::string>().find("engagement juridique") !=
              std::string::npos);
        CHECK(read.at("content").at("m.relates_to").at("event_id") == "$early");
    }

    TEST_CASE("replayed ciphertext with another event id is recorded and never answered")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        laptop.meet(bot);
        const auto room_key = laptop.share_room_key_with_bot();
        const auto command = laptop.say("$q", "!sigle EJ");

        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop}).dump());
        bot.http.reply(200, "{}"); // sendToDevice (no claim: the laptop's session is there)
        bot.process(sync("s1", json::array({command}), json::array({room_key}), true));
        REQUIRE(bot.seen.size() == 1);
        REQUIRE(bot.outbox().size() == 1);
        CHECK(bot.routes() == std::vector<std::string>{"/members", "keys/query", "sendToDevice"});
        bot.http.forget_requests();

        auto replayed = command;
        replayed["event_id"] = "$q-replayed";
        bot.process(sync("s2", json::array({replayed})));
        CHECK(bot.seen.size() == 1); // the router never saw it
        CHECK(bot.outcome("$q-replayed") == "replay");
        CHECK(bot.outcome("$q") == "answered");
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(outbox[0].source_event == "$q");
        CHECK(bot.http.request_count() == 0);

        // the original again: already handled, and its index was saved with its batch
        bot.process(sync("s3", json::array({command})));
        CHECK(bot.seen.size() == 1);
        CHECK(bot.rows("crypto_seen_indexes") == 1);
    }

    TEST_CASE("a lost message with malformed cleartext fields is told about without a crash")
    {
        Time time;
        Bot bot{time};
        bot.config.undecryptable_after = 1s;
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        static_cast<void>(laptop.share_room_key_with_bot()); // lost on the way
        auto odd = laptop.say("$odd", "!sigle EJ");
        odd["content"]["m.relates_to"] = {{"rel_type", 1}, {"event_id", json::array()}};
        bot.process(sync("s1", json::array({odd}), json::array(), true));
        time.now += 2s;
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(200, keys_claim({&laptop, &phone}).dump());
        bot.http.reply(200, "{}");
        bot.process(sync("s2"));
        CHECK(bot.outcome("$odd") == "undecryptable");
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        laptop.receive(bot.body_of("sendToDevice"));
        const auto notice = laptop.read(outbox[0]).at("content");
        CHECK(notice.at("m.relates_to").at("m.in_reply_to").at("event_id") == "$odd");
    }

    TEST_CASE("a member's new device gets the room key between syncs not before the next reply")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        first_reply_in_salon(bot, laptop, phone);
        bot.http.forget_requests();

        // Marie logs in on a tablet: the server says her devices changed.
        Device tablet{"TABLET", time};
        auto changed = sync("s2");
        changed.crypto.devices_changed = {marie};
        bot.process(changed);
        CHECK(bot.http.request_count() == 0);
        bot.http.reply(200, keys_query(bot, {&laptop, &phone, &tablet}).dump());
        bot.http.reply(200, keys_claim({&tablet}).dump());
        bot.http.reply(200, "{}");
        bot.share_ahead();
        CHECK(bot.routes() == std::vector<std::string>{"keys/query", "keys/claim", "sendToDevice"});
        const auto shared = bot.body_of("sendToDevice");
        CHECK(shared.at("messages").at(marie).size() == 1); // the tablet only
        CHECK(tablet.receive(shared).type == "m.room_key");
        bot.http.forget_requests();
        bot.crypto->share_ahead(); // nothing left to share: no request at all
        CHECK(bot.http.request_count() == 0);

        // The next reply needs no request, and the tablet reads it.
        bot.process(sync("s3", json::array({laptop.say("$q2", "!sigle EJ")})));
        CHECK(bot.http.request_count() == 0);
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 2);
        CHECK(tablet.read(outbox[1]).at("content").at("m.relates_to").at("event_id") == "$q2");
    }

    TEST_CASE("the next session prepared during a long-poll serves the reply after a device goes")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        CHECK_FALSE(bot.crypto->has_preparation_work()); // no session in use yet
        first_reply_in_salon(bot, laptop, phone);
        const auto first_session = bot.body_of("sendToDevice");
        bot.http.forget_requests();

        // while the next long-poll waits: the next session is prepared, with no request at all
        CHECK(bot.crypto->has_preparation_work());
        CHECK_FALSE(bot.crypto->prepare_ahead(std::chrono::steady_clock::time_point::max()));
        CHECK_FALSE(bot.crypto->has_preparation_work());
        CHECK(bot.http.request_count() == 0);
        CHECK_FALSE(bot.engine->has_unsaved_changes()); // its Olm steps are saved already

        // Marie logs out of her phone: the next reply needs a session the phone never had
        auto changed = sync("s2");
        changed.crypto.devices_changed = {marie};
        bot.process(changed);
        bot.http.reply(200, keys_query(bot, {&laptop}).dump());
        bot.http.reply(200, "{}");
        bot.process(sync("s3", json::array({laptop.say("$q2", "!sigle EJ")})));
        CHECK(bot.routes() == std::vector<std::string>{"keys/query", "sendToDevice"});
        const auto shared = bot.body_of("sendToDevice");
        CHECK(shared.at("messages").at(marie).size() == 1);
        CHECK_FALSE(shared.at("messages").at(marie).contains("PHONE"));
        const auto key = laptop.receive(shared);
        CHECK(key.type == "m.room_key");
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 2);
        const auto reply = json::parse(outbox[1].content);
        CHECK(reply.at("session_id") !=
              json::parse(outbox[0].content).at("session_id")); // a new session
        CHECK(laptop.read(outbox[1]).at("content").at("m.relates_to").at("event_id") == "$q2");
        CHECK(first_session.at("messages").at(marie).contains("PHONE"));

        // a real long-poll with work to prepare: it runs on a thread of its own meanwhile
        CHECK(bot.crypto->has_preparation_work());
        bot.http.forget_requests();
        bot.http.reply(200, R"({"filter_id":"f1"})");
        bot.http.reply(200, R"({"next_batch":"s4"})");
        static_cast<void>(bot.loop().run_once());
        CHECK(bot.loop().since() == "s4");
        CHECK(bot.http.request_count() == 2);
    }

    TEST_CASE("sender of a message whose key never comes is told in French at most hourly")
    {
        Time time;
        Bot bot{time};
        bot.config.undecryptable_after = 1s;
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        static_cast<void>(laptop.share_room_key_with_bot()); // lost on the way

        bot.process(
            sync("s1", json::array({laptop.say("$lost1", "!sigle EJ")}), json::array(), true));
        CHECK(bot.outcome("$lost1").empty());
        time.now += 500ms;
        bot.process(sync("s2"));
        CHECK(bot.outcome("$lost1").empty()); // not given up yet
        CHECK(bot.outbox().empty());

        time.now += 1s;
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        // the bot never read the laptop's Olm session: it claims a key of both devices
        bot.http.reply(200, keys_claim({&laptop, &phone}).dump());
        bot.http.reply(200, "{}");
        bot.process(sync("s3"));
        CHECK(bot.seen.empty());
        CHECK(bot.outcome("$lost1") == "undecryptable");
        CHECK(bot.routes() ==
              std::vector<std::string>{"/members", "keys/query", "keys/claim", "sendToDevice"});
        auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(outbox[0].event_type == "m.room.encrypted");
        CHECK(outbox[0].source_event == "$lost1");
        CHECK(outbox[0].content.find("pas pu lire") == std::string::npos);
        laptop.receive(bot.body_of("sendToDevice"));
        const auto notice = laptop.read(outbox[0]).at("content");
        CHECK(notice.at("msgtype") == "m.notice");
        CHECK(notice.at("body").get<std::string>().find(
                  "Je n'ai pas pu lire votre message : il est chiffré et la clé ne m'est pas "
                  "parvenue.") != std::string::npos);
        CHECK(notice.at("m.mentions").at("user_ids") == json::array({marie}));
        CHECK(notice.at("m.relates_to").at("m.in_reply_to").at("event_id") == "$lost1");
        bot.http.forget_requests();

        // A second lost message within the hour: recorded, no second notice.
        bot.process(sync("s4", json::array({laptop.say("$lost2", "!sigle EJ")})));
        time.now += 2s;
        bot.process(sync("s5"));
        CHECK(bot.outcome("$lost2") == "undecryptable");
        CHECK(bot.outbox().size() == 1);
        CHECK(bot.http.request_count() == 0);

        // An hour later the sender is told again (the room key needs no new share).
        time.now += 1h;
        bot.process(sync("s6", json::array({laptop.say("$lost3", "!sigle EJ")})));
        time.now += 2s;
        bot.process(sync("s7"));
        CHECK(bot.outcome("$lost3") == "undecryptable");
        outbox = bot.outbox();
        REQUIRE(outbox.size() == 2);
        CHECK(outbox[1].source_event == "$lost3");
        CHECK(outbox[1].event_type == "m.room.encrypted");
        CHECK(laptop.read(outbox[1])
                  .at("content")
                  .at("m.relates_to")
                  .at("m.in_reply_to")
                  .at("event_id") == "$lost3");
        CHECK(bot.http.request_count() == 0);
        CHECK(bot.seen.empty());
    }

    TEST_CASE("queue into an encrypted room without crypto stores nothing")
    {
        Time time;
        Bot bot{time}; // no enable_crypto(): encryption is off
        bot.process(sync("s1", json::array(), json::array(), true));
        const auto room = value(bot.store.room(salon));
        REQUIRE(room.has_value());
        REQUIRE(room->encrypted);

        SyncBatchWrites writes;
        OutgoingMessage reminder;
        reminder.txn_id = "rappel-1";
        reminder.room_id = salon;
        reminder.content = notice_content("Rappel : clôture des EJ", {marie}, "", "", {true});
        reminder.priority = 1;
        writes.outgoing.push_back(reminder);
        static_cast<void>(bot.loop().queue(writes));
        CHECK(bot.outbox().empty()); // never in clear (notes/matrix.md §4)
        CHECK(bot.http.request_count() == 0);
    }

    TEST_CASE("a room key share the server refuses stays ahead of the reply and is sent again")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        bot.process(
            sync("s1", json::array(), json::array({laptop.share_room_key_with_bot()}), true));
        REQUIRE(bot.http.request_count() == 0);
        const auto command = laptop.say("$q", "!sigle EJ");

        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(200, keys_claim({&phone}).dump());
        bot.http.reply(500, R"({"errcode":"M_UNKNOWN","error":"oops"})"); // sendToDevice
        bot.process(sync("s2", json::array({command})));
        // The batch is saved with the share and the reply; the share, refused, stays first.
        CHECK(bot.routes() ==
              std::vector<std::string>{"/members", "keys/query", "keys/claim", "sendToDevice"});
        CHECK(value(bot.store.sync_token()) == "s2");
        CHECK(bot.outcome("$q") == "answered");
        const auto first = value(bot.store.next_outgoing());
        REQUIRE(first.has_value());
        CHECK(first->event_type == "to-device:m.room.encrypted");
        CHECK(bot.outbox().size() == 1); // the reply, behind it
        bot.http.forget_requests();

        // The server works again: the same share (same txn id), then the reply reads.
        bot.http.reply(200, "{}");
        bot.send_to_device();
        CHECK(bot.routes() == std::vector<std::string>{"sendToDevice"});
        CHECK(bot.http.request(0).url.ends_with("/" + first->txn_id));
        const auto share = bot.body_of("sendToDevice");
        CHECK(share.at("messages").at(marie).size() == 2);
        CHECK(phone.receive(share).type == "m.room_key");
        CHECK(laptop.receive(share).type == "m.room_key");
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(value(bot.store.next_outgoing())->event_type == "m.room.encrypted");
        for (auto* device : {&laptop, &phone})
            CHECK(device->read(outbox[0]).at("content").at("m.relates_to").at("event_id") == "$q");
    }

    TEST_CASE("a failed key claim saves the batch and the reply waits for the next one")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        bot.process(
            sync("s1", json::array(), json::array({laptop.share_room_key_with_bot()}), true));
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(500, R"({"errcode":"M_UNKNOWN","error":"oops"})"); // keys/claim
        bot.process(sync("s2", json::array({laptop.say("$q", "!sigle EJ")})));
        // saved (its command never runs twice); the reply waits, never in clear
        CHECK(value(bot.store.sync_token()) == "s2");
        CHECK(bot.outcome("$q") == "answered");
        CHECK(bot.outbox().empty());
        const auto waiting = value(bot.store.awaiting_encryption());
        REQUIRE(waiting.size() == 1);
        CHECK(waiting[0].event_type == "m.room.message");
        bot.http.forget_requests();

        bot.http.reply(200, keys_claim({&phone}).dump());
        bot.http.reply(200, "{}"); // sendToDevice
        bot.process(sync("s3"));
        CHECK(bot.routes() == std::vector<std::string>{"keys/claim", "sendToDevice"});
        CHECK(value(bot.store.awaiting_encryption()).empty());
        const auto share = bot.body_of("sendToDevice");
        CHECK(phone.receive(share).type == "m.room_key");
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(phone.read(outbox[0]).at("content").at("m.relates_to").at("event_id") == "$q");
    }

    TEST_CASE("a room known encrypted before encryption was on is read from the server at start")
    {
        Time time;
        Bot bot{time};
        SyncBatchWrites fail_closed; // what a build without the pickle key recorded
        fail_closed.rooms.push_back(RoomInfo{salon, {}, false, 3, {}, true});
        REQUIRE(static_cast<bool>(bot.store.commit(fail_closed)));
        bot.enable_crypto();
        bot.http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":0}})");
        bot.http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":50}})");
        bot.http.reply(200, R"({"algorithm":"m.megolm.v1.aes-sha2","rotation_period_msgs":5})");
        bot.http.reply(200, "{}"); // keys/device_signing/upload
        bot.http.reply(200, "{}"); // keys/signatures/upload
        REQUIRE(static_cast<bool>(bot.crypto->start()));
        CHECK(bot.http.pending() == 0);
        CHECK(bot.http.request(2).url.find("/state/m.room.encryption/") != std::string::npos);
        CHECK(bot.engine->is_room_encrypted(salon));
    }

    TEST_CASE("crypto state is committed with the batch and survives a reopen")
    {
        TempDir dir;
        const auto path = dir.file("state.db");
        Time time;
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        std::string curve;
        {
            Bot bot{time, path};
            bot.enable_crypto();
            bot.start();
            curve = bot.engine->curve25519_key();
            laptop.meet(bot);
            bot.process(
                sync("s1", json::array(), json::array({laptop.share_room_key_with_bot()}), true));
            CHECK(bot.http.request_count() == 0);
            CHECK_FALSE(bot.engine->has_unsaved_changes());
            CHECK(bot.rows("crypto_inbound_group_sessions") == 1);
            CHECK(bot.rows("crypto_olm_sessions") == 1);
        }

        Bot bot{time, path};
        bot.enable_crypto(); // the same pickle key
        CHECK(bot.engine->curve25519_key() == curve);
        CHECK(bot.loop().since() == "s1");
        bot.device_keys = value(bot.engine->device_keys());
        bot.http.reply(200, R"({"changed":[],"left":[]})"); // keys/changes after a restart
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(200, keys_claim({&phone}).dump()); // the laptop's Olm session survived
        bot.http.reply(200, "{}");
        bot.process(sync("s2", json::array({laptop.say("$apres", "!sigle EJ")})));

        REQUIRE(bot.seen.size() == 1); // the inbound session survived: it decrypts
        CHECK(bot.seen[0].text == "!sigle EJ");
        CHECK(bot.outcome("$apres") == "answered");
        CHECK(bot.routes() == std::vector<std::string>{"keys/changes", "/members", "keys/query",
                                                       "keys/claim", "sendToDevice"});
        CHECK(bot.body_of("keys/claim").at("one_time_keys") ==
              json{{marie, {{"PHONE", "signed_curve25519"}}}});
        const auto outbox = bot.outbox();
        REQUIRE(outbox.size() == 1);
        CHECK(laptop.receive(bot.body_of("sendToDevice")).type == "m.room_key");
        CHECK(laptop.read(outbox[0]).at("content").at("m.relates_to").at("event_id") == "$apres");
    }
}

TEST_SUITE("crypto")
{
    TEST_CASE("queue refuses together messages for an encrypted room without crypto")
    {
        Time time;
        Bot bot{time}; // no enable_crypto(): encryption is off
        bot.process(sync("s1", json::array(), json::array(), true));
        OutgoingMessage clear;
        clear.txn_id = "rappel-0";
        clear.room_id = "!clair:hs.test"; // a room in clear
        clear.content = notice_content("Rappel", {marie}, "", "", {true});
        clear.priority = 1;
        OutgoingMessage sealed = clear;
        sealed.txn_id = "rappel-1";
        sealed.room_id = salon; // encrypted, and the bot cannot encrypt
        SyncBatchWrites writes;
        writes.outgoing = {clear, sealed};
        // sync_loop.hpp: "refused together: nothing is stored, the caller keeps them for later"
        CHECK_FALSE(bot.loop().queue(writes));
        CHECK(bot.outbox().empty());
    }

    TEST_CASE("queued event whose reply cannot be encrypted yet is answered at the next batch")
    {
        Time time;
        Bot bot{time};
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        const auto room_key = laptop.share_room_key_with_bot(); // comes one batch late
        bot.process(
            sync("s1", json::array({laptop.say("$early", "!sigle EJ")}), json::array(), true));
        const auto batch = sync("s2", json::array(), json::array({room_key}));
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(500, R"({"errcode":"M_UNKNOWN","error":"oops"})"); // keys/claim
        bot.process(batch); // saved: the answer waits for its room key to be shared
        CHECK(bot.outcome("$early") == "answered");
        CHECK(bot.outbox().empty());
        CHECK(value(bot.store.awaiting_encryption()).size() == 1);

        bot.http.reply(200, keys_claim({&phone}).dump());
        bot.http.reply(200, "{}"); // the room key share
        bot.process(sync("s3"));
        CHECK(bot.outbox().size() == 1);
        CHECK(value(bot.store.awaiting_encryption()).empty());
    }

    TEST_CASE("undecryptable notice that cannot be encrypted yet is stored at the next batch")
    {
        Time time;
        Bot bot{time};
        bot.config.undecryptable_after = 1s;
        bot.enable_crypto();
        bot.start();
        Device laptop{"LAPTOP", time};
        Device phone{"PHONE", time};
        laptop.meet(bot);
        static_cast<void>(laptop.share_room_key_with_bot()); // never arrives
        bot.process(
            sync("s1", json::array({laptop.say("$lost", "!sigle EJ")}), json::array(), true));
        time.now += 2s;
        const auto batch = sync("s2");
        bot.http.reply(200, joined_members().dump());
        bot.http.reply(200, keys_query(bot, {&laptop, &phone}).dump());
        bot.http.reply(500, R"({"errcode":"M_UNKNOWN","error":"oops"})"); // keys/claim
        bot.process(batch);
        CHECK(bot.outcome("$lost") == "undecryptable");
        CHECK(bot.outbox().empty());

        bot.http.reply(200, keys_claim({&laptop, &phone}).dump());
        bot.http.reply(200, "{}");
        bot.process(sync("s3"));
        CHECK(bot.outbox().size() == 1);
    }
}
