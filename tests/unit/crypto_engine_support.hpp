#pragma once

// Two (or more) crypto engines talking through a tiny in-memory key server: what /keys/upload,
// /keys/query, /keys/claim and /sendToDevice do, without HTTP.

#include "bot/crypto/engine.hpp"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace opalebot::testing {

using nlohmann::json;
namespace crypto = opalebot::bot::crypto;

template <class T>
T value(opalebot::Result<T> result)
{
    REQUIRE_MESSAGE(
        static_cast<bool>(result),
        (result ? std::string{} : result.error().errcode + " " + result.error().message));
    return std::move(result).value();
}

inline const std::string pickle_key = "a pickle key of the secret configuration";

// The engine reads typed messages; the tests write JSON, as the server sends it, and read it
// through the parsers the bot uses.

/// A to-device event as /sync gives it.
inline opalebot::Result<crypto::ToDeviceEvent> on_to_device(crypto::Engine& engine,
                                                            const json& event)
{
    return engine.on_to_device(crypto::parse_to_device_event(event));
}

/// A /keys/query answer.
inline opalebot::Result<opalebot::Done>
on_keys_query_response(crypto::Engine& engine, const json& response,
                       const std::vector<std::string>& queried)
{
    auto parsed = crypto::parse_keys_query_response(response);
    if (!parsed)
        return parsed.error();
    return engine.on_keys_query_response(parsed.value(), queried);
}

/// A /keys/claim answer.
inline opalebot::Result<std::vector<crypto::DeviceKey>>
on_keys_claim_response(crypto::Engine& engine, const json& response)
{
    return engine.on_keys_claim_response(crypto::parse_keys_claim_response(response));
}

/// An m.room_key_request to-device event.
inline opalebot::Result<std::optional<json>> on_room_key_request(crypto::Engine& engine,
                                                                 const json& event)
{
    const auto parsed = crypto::parse_to_device_event(event);
    REQUIRE(std::holds_alternative<crypto::RoomKeyRequest>(parsed.content));
    return engine.on_room_key_request(parsed.sender,
                                      std::get<crypto::RoomKeyRequest>(parsed.content));
}

/// The content of a decrypted to-device event the engine does not read itself (m.test, m.dummy).
inline json other_content(const crypto::ToDeviceEvent& event)
{
    REQUIRE(std::holds_alternative<crypto::OtherContent>(event.content));
    return std::get<crypto::OtherContent>(event.content).content;
}

/// The content of a decrypted m.room_key.
inline crypto::RoomKey room_key_of(const crypto::ToDeviceEvent& event)
{
    REQUIRE(std::holds_alternative<crypto::RoomKey>(event.content));
    return std::get<crypto::RoomKey>(event.content);
}

/// The test's clock: every engine reads it.
struct TestClock {
    std::chrono::system_clock::time_point now =
        std::chrono::system_clock::time_point{std::chrono::hours{24 * 365 * 55}};
    crypto::EngineOptions options(bool only_cross_signed = false)
    {
        crypto::EngineOptions o;
        o.only_cross_signed_devices = only_cross_signed;
        o.clock = [this] { return now; };
        return o;
    }
};

/// An engine on its own database (":memory:" unless a path is given).
struct Peer {
    Peer(std::string user, std::string device, TestClock& clock, std::string path = ":memory:")
        : db(std::move(path), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
          engine(value(crypto::Engine::open(db, user, device, pickle_key, clock.options())))
    {}
    crypto::DeviceKey id() const { return {engine->user_id(), engine->device_id()}; }
    void save() { REQUIRE(static_cast<bool>(engine->save(db))); }

    SQLite::Database db;
    std::unique_ptr<crypto::Engine> engine;
};

/// The homeserver's key and to-device side.
struct KeyServer {
    json device_keys = json::object();
    json one_time_keys = json::object(); ///< user -> device -> key id -> signed key
    json fallback_keys = json::object();
    json master_keys = json::object();
    json self_signing_keys = json::object();

    /// /keys/upload of everything the engine wants to publish.
    void upload(Peer& peer, std::int64_t count = -1, bool unused_fallback = false)
    {
        const auto& user = peer.engine->user_id();
        const auto& device = peer.engine->device_id();
        if (count < 0)
            count = one_time_key_count(peer);
        const auto body = value(peer.engine->keys_upload(count, unused_fallback));
        if (!body)
            return;
        if (body->contains("device_keys"))
            device_keys[user][device] = (*body)["device_keys"];
        if (body->contains("one_time_keys"))
            for (const auto& [id, key] : (*body)["one_time_keys"].items())
                one_time_keys[user][device][id] = key;
        if (body->contains("fallback_keys"))
            fallback_keys[user][device] = (*body)["fallback_keys"];
        peer.engine->mark_keys_published();
    }

    std::int64_t one_time_key_count(const Peer& peer) const
    {
        const auto& user = peer.engine->user_id();
        const auto& device = peer.engine->device_id();
        if (!one_time_keys.contains(user) || !one_time_keys[user].contains(device))
            return 0;
        return static_cast<std::int64_t>(one_time_keys[user][device].size());
    }

    /// /keys/query for `users`, answered to `peer`.
    void query(Peer& peer, const std::vector<std::string>& users)
    {
        json response = {{"device_keys", json::object()},
                         {"master_keys", master_keys},
                         {"self_signing_keys", self_signing_keys}};
        for (const auto& user : users)
            response["device_keys"][user] =
                device_keys.contains(user) ? device_keys[user] : json::object();
        REQUIRE(static_cast<bool>(on_keys_query_response(*peer.engine, response, users)));
    }

    /// /keys/claim: one one-time key per device (the fallback key when none is left).
    json claim(const json& request, bool keep_keys = false)
    {
        json response = {{"one_time_keys", json::object()}, {"failures", json::object()}};
        for (const auto& [user, devices] : request.at("one_time_keys").items())
            for (const auto& [device, algorithm] : devices.items()) {
                (void)algorithm;
                if (one_time_keys.contains(user) && one_time_keys[user].contains(device) &&
                    !one_time_keys[user][device].empty()) {
                    auto& keys = one_time_keys[user][device];
                    const auto first = keys.begin();
                    response["one_time_keys"][user][device][first.key()] = first.value();
                    if (!keep_keys)
                        keys.erase(first.key());
                } else if (fallback_keys.contains(user) && fallback_keys[user].contains(device)) {
                    response["one_time_keys"][user][device] = fallback_keys[user][device];
                }
            }
        return response;
    }

    /// Makes sure `from` has an Olm session with each of `devices`.
    void ensure_sessions(Peer& from, const std::vector<crypto::DeviceKey>& devices)
    {
        const auto missing = from.engine->devices_without_session(devices);
        if (missing.empty())
            return;
        const auto created = value(
            on_keys_claim_response(*from.engine, claim(from.engine->keys_claim_request(missing))));
        CHECK(created.size() == missing.size());
    }
};

/// The to-device events of a /sendToDevice/m.room.encrypted body meant for `to`.
inline std::vector<json> to_device_for(const json& body, const std::string& sender, const Peer& to)
{
    std::vector<json> events;
    const auto& messages = body.at("messages");
    const auto& user = to.engine->user_id();
    const auto& device = to.engine->device_id();
    if (messages.contains(user) && messages[user].contains(device))
        events.push_back({{"type", "m.room.encrypted"},
                          {"sender", sender},
                          {"content", messages[user][device]}});
    return events;
}

/// Delivers a to-device body to `to`; returns what it decrypted (one event expected).
inline crypto::ToDeviceEvent deliver(const json& body, const Peer& from, Peer& to)
{
    const auto events = to_device_for(body, from.engine->user_id(), to);
    REQUIRE(events.size() == 1);
    return value(on_to_device(*to.engine, events.front()));
}

/// A timeline event of `sender` with m.room.encrypted `content`.
inline json room_event(const std::string& event_id, const std::string& sender, const json& content)
{
    return {{"type", "m.room.encrypted"},
            {"event_id", event_id},
            {"sender", sender},
            {"origin_server_ts", 1},
            {"content", content}};
}

} // namespace opalebot::testing
