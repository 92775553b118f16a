#pragma once

// The state of Engine and the helpers its sections share (engine.cpp: opening, persistence and
// device identity; engine_devices.cpp: device lists and Olm sessions; engine_to_device.cpp:
// incoming to-device events and key requests; engine_megolm.cpp: rooms and Megolm;
// engine_cross_signing.cpp). Private to bot/src/crypto/.
#include "bot/crypto/canonical_json.hpp"
#include "bot/crypto/engine.hpp"
#include "opalebot/log.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "crypto_store.hpp"
#include "olm_handles.hpp"

namespace opalebot::bot::crypto {

using nlohmann::json;

inline constexpr std::int64_t fallback_overlap_ms =
    3'600'000;                                               ///< keep the old fallback key an hour
inline constexpr std::int64_t dummy_interval_ms = 3'600'000; ///< one m.dummy per device per hour
/// Inbound group sessions kept in memory after a save; the others wait in the table.
inline constexpr std::size_t max_inbound_in_memory = 256;
/// Olm sessions kept per device: clients make a new one only when one is wedged.
inline constexpr std::size_t max_olm_sessions_per_device = 8;
inline constexpr std::size_t max_one_time_keys_on_server = 50;

inline auto logger()
{
    return log::get("bot.crypto");
}

inline Error engine_error(std::string_view code, std::string message,
                          Error::Kind kind = Error::Kind::invalid)
{
    return Error{kind, 0, std::string{code}, std::move(message), {}, false};
}

inline Error storage_error(const std::exception& e)
{
    return Error{Error::Kind::storage, 0, {}, e.what(), {}, false};
}

/// A string member of `j`, or empty when absent or not a string.
inline std::string string_at(const json& j, std::string_view key)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

/// j[a][b] as a string, or empty.
inline std::string string_at(const json& j, std::string_view a, std::string_view b)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(a);
    return it == j.end() ? std::string{} : string_at(*it, b);
}

/// The signature of `signer`'s `key_id` in `object`, or empty.
inline std::string signature_of(const json& object, const std::string& signer,
                                const std::string& key_id)
{
    const auto signatures = object.find("signatures");
    if (signatures == object.end() || !signatures->is_object())
        return {};
    return string_at(*signatures, signer, key_id);
}

struct UserEntry {
    bool outdated = true;
    std::string master_key; ///< JSON
    std::string self_signing_key;
    std::string master_public; ///< pinned: a later change is refused
    std::string self_signing_public;
};

struct OlmSessionEntry {
    std::string sender_key;
    olm::Session session;
    std::int64_t created_ms = 0;
    std::int64_t last_used = 0;
};

struct InboundEntry {
    olm::InboundGroupSession session;
    std::string sender_key;
    std::string sender_ed25519;
    bool forwarded = false;
    std::int64_t received_ms = 0;
};

/// A device that got an outbound session, with the curve25519 it had then.
using Served = std::tuple<std::string, std::string, std::string>;

/// A room key already Olm-encrypted for one device, and the Olm session that did it: usable
/// while that session is still the device's newest (the device reads it with the same session).
struct PreparedKey {
    std::string olm_session_id;
    nlohmann::json message; ///< the device's entry of a /sendToDevice/m.room.encrypted body
};

struct OutboundEntry {
    olm::OutboundGroupSession session;
    std::string session_id;
    std::int64_t created_ms = 0;
    std::set<Served> shared_with;
    std::set<Served> withheld_from; ///< told m.room_key.withheld for this session
    /// Keys encrypted before the session was in use (a prepared session): share_room_key sends
    /// them instead of encrypting again, once; those of devices no longer served are dropped.
    std::map<Served, PreparedKey> prepared_keys = {};
};

/// A room's next Megolm session, its key encrypted for the room's devices between two syncs
/// (issue 15): when a member leaves, the reply then waits for no Olm work. Memory only: the
/// Olm ratchet steps it took are saved with the next commit, and an unsent prepared message
/// is only a skipped index for its reader, so a restart just prepares again.
struct PreparedOutbound {
    olm::OutboundGroupSession session;
    std::string session_id;
    std::string session_key;
    std::map<Served, PreparedKey> keys;
    std::vector<Served> to_encrypt; ///< devices not done yet: the work goes on in slices
};

using InboundId = std::pair<std::string, std::string>; ///< room, session

using SeenId = std::tuple<std::string, std::string, std::uint32_t>;

/// Where a room key came from: its session's creator, as the key's sender vouches for it.
struct KeyOrigin {
    std::string sender;     ///< who sent the key (logs)
    std::string curve25519; ///< of the session's creator
    std::string ed25519;    ///< that the creator claims
    bool forwarded = false; ///< exported by another device, not shared by the creator
};

struct Engine::Impl {
    Impl(SQLite::Database& database, olm::Account olm_account)
        : db(database), account(std::move(olm_account))
    {}

    SQLite::Database& db;
    std::string user_id;
    std::string device_id;
    olm::SecretBytes pickle_key;
    EngineOptions options;
    olm::Account account;
    std::string curve25519;
    std::string ed25519;
    store::AccountRow account_row; ///< everything but the pickle
    bool account_dirty = false;

    std::map<std::string, UserEntry> users;
    std::set<std::string> dirty_users;
    std::set<std::string> deleted_users;
    std::map<DeviceKey, Device> devices;
    std::map<DeviceKey, std::string> device_json;
    std::set<DeviceKey> dirty_devices;
    std::set<DeviceKey> deleted_devices;
    std::map<std::string, OlmSessionEntry> olm_sessions; ///< by session id
    std::set<std::string> dirty_olm_sessions;
    std::set<std::string> deleted_olm_sessions;
    std::map<std::string, std::vector<std::string>> olm_session_ids; ///< by curve25519
    std::map<InboundId, InboundEntry> inbound;
    std::set<InboundId> dirty_inbound;
    std::map<std::string, OutboundEntry> outbound;             ///< by room
    std::map<std::string, PreparedOutbound> prepared_outbound; ///< by room
    std::set<std::string> dirty_outbound;
    std::set<std::string> deleted_outbound;
    std::map<SeenId, std::string> seen; ///< cache; the table has the rest
    std::set<SeenId> new_seen;
    std::map<std::string, store::PendingEventRow> pending; ///< by event id
    std::set<std::string> dirty_pending;
    std::set<std::string> deleted_pending;
    std::vector<std::string> ready; ///< pending event ids whose key arrived
    std::map<std::string, RoomEncryption> rooms;
    std::set<std::string> dirty_rooms;
    std::map<std::string, std::int64_t> last_dummy_ms; ///< by curve25519
    std::vector<DeviceKey> wedged;
    std::vector<std::string> identity_changes; ///< users whose master key changed
    /// Olm messages read since the last save, by sender key and body: a batch handled again
    /// after a failed save brings them back, and their ratchet step is already spent.
    std::map<std::string, std::string> olm_plaintexts;
    std::int64_t last_stamp = 0;
    olm::Utility utility;

    std::int64_t now_ms() const
    {
        const auto now = options.clock ? options.clock() : std::chrono::system_clock::now();
        return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
            .count();
    }

    /// A strictly increasing use stamp, so the newest Olm session is always the one chosen.
    std::int64_t stamp()
    {
        last_stamp = std::max(now_ms(), last_stamp + 1);
        return last_stamp;
    }

    std::string_view key() const { return pickle_key.view(); }

    /// Signs `object` in place as `signer`/`key_id` with `sign`.
    template <class Sign>
    Result<Done> sign_json(json& object, const std::string& signer, const std::string& key_id,
                           Sign&& sign) const
    {
        auto bytes = signing_bytes(object);
        if (!bytes)
            return bytes.error();
        auto signature = sign(bytes.value());
        if (!signature)
            return signature.error();
        object["signatures"][signer][key_id] = signature.value();
        return Done{};
    }

    Result<Done> sign_with_device(json& object) const
    {
        return sign_json(object, user_id, "ed25519:" + device_id,
                         [this](std::string_view bytes) { return account.sign(bytes); });
    }

    /// Whether `object` carries a valid signature of `signer` by ed25519 key `public_key`.
    bool verify_json(const json& object, const std::string& signer, const std::string& key_id,
                     const std::string& public_key) const
    {
        const auto signature = signature_of(object, signer, key_id);
        if (signature.empty() || public_key.empty())
            return false;
        const auto bytes = signing_bytes(object);
        return bytes && utility.ed25519_verify(public_key, bytes.value(), signature);
    }

    const Device* find_device(const DeviceKey& key) const
    {
        const auto it = devices.find(key);
        return it == devices.end() ? nullptr : &it->second;
    }

    /// The device of `user` whose curve25519 is `curve25519`.
    const Device* device_by_curve(const std::string& user, const std::string& curve) const
    {
        for (auto it = devices.lower_bound(DeviceKey{user, {}});
             it != devices.end() && it->first.user_id == user; ++it)
            if (it->second.curve25519 == curve)
                return &it->second;
        return nullptr;
    }

    /// The most recently used Olm session with `curve`, if any.
    /// The id of the session with `curve` used last, or null.
    const std::string* newest_session_id(const std::string& curve) const
    {
        const auto ids = olm_session_ids.find(curve);
        if (ids == olm_session_ids.end())
            return nullptr;
        const std::string* best = nullptr;
        std::int64_t best_used = 0;
        for (const auto& id : ids->second)
            if (const auto it = olm_sessions.find(id);
                it != olm_sessions.end() && (best == nullptr || it->second.last_used > best_used)) {
                best = &it->first;
                best_used = it->second.last_used;
            }
        return best;
    }

    OlmSessionEntry* newest_session(const std::string& curve)
    {
        const auto* id = newest_session_id(curve);
        return id == nullptr ? nullptr : &olm_sessions.at(*id);
    }

    /// Keeps the index by curve25519; past max_olm_sessions_per_device, the one used least
    /// recently goes (a peer that keeps making sessions cannot grow the state without bound).
    void index_olm_session(const std::string& id, const std::string& curve)
    {
        auto& ids = olm_session_ids[curve];
        if (std::find(ids.begin(), ids.end(), id) == ids.end())
            ids.push_back(id);
        while (ids.size() > max_olm_sessions_per_device) {
            const auto oldest =
                std::min_element(ids.begin(), ids.end(), [&](const auto& a, const auto& b) {
                    return olm_sessions.at(a).last_used < olm_sessions.at(b).last_used;
                });
            olm_sessions.erase(*oldest);
            dirty_olm_sessions.erase(*oldest);
            deleted_olm_sessions.insert(*oldest);
            ids.erase(oldest);
        }
    }

    Result<std::string> add_olm_session(olm::Session session, const std::string& curve)
    {
        auto id = session.id();
        if (!id)
            return id.error();
        const auto now = stamp();
        olm_sessions.insert_or_assign(id.value(),
                                      OlmSessionEntry{curve, std::move(session), now, now});
        dirty_olm_sessions.insert(id.value());
        deleted_olm_sessions.erase(id.value());
        index_olm_session(id.value(), curve);
        return id.value();
    }

    void set_user(const std::string& user, UserEntry entry)
    {
        users[user] = std::move(entry);
        dirty_users.insert(user);
        deleted_users.erase(user);
    }

    void put_device(const Device& device, std::string keys)
    {
        const DeviceKey id{device.user_id, device.device_id};
        devices[id] = device;
        device_json[id] = std::move(keys);
        dirty_devices.insert(id);
        deleted_devices.erase(id);
    }

    void remove_device(const DeviceKey& id)
    {
        devices.erase(id);
        device_json.erase(id);
        dirty_devices.erase(id);
        deleted_devices.insert(id);
    }

    /// The devices of `members` a room key is for: not the bot's own, and only cross-signed
    /// ones when the configuration says so.
    std::set<Served> served_devices(const std::vector<std::string>& members) const;

    /// Makes `session` the room's outbound session, with its inbound twin for the bot's own
    /// messages; `prepared_keys` are its key already encrypted for some devices.
    Result<Done> start_outbound(const std::string& room_id, olm::OutboundGroupSession session,
                                const std::string& session_id, const std::string& session_key,
                                std::map<Served, PreparedKey> prepared_keys = {});

    void drop_outbound(const std::string& room)
    {
        if (outbound.erase(room) > 0) {
            dirty_outbound.erase(room);
            deleted_outbound.insert(room);
        }
    }

    /// The inbound session of (room, id), read from the table the first time it is needed:
    /// a year of room keys is not held in memory (saved() forgets the clean ones).
    std::map<InboundId, InboundEntry>::iterator find_inbound(const InboundId& key)
    {
        if (const auto it = inbound.find(key); it != inbound.end())
            return it;
        const auto row = store::load_inbound_group_session(db, key.first, key.second);
        if (!row)
            return inbound.end();
        auto session = olm::InboundGroupSession::unpickle(row->pickle, this->key());
        if (!session) {
            logger()->warn("megolm session {} of {} unreadable: {}", key.second, key.first,
                           session.error().message);
            return inbound.end();
        }
        return inbound
            .emplace(key, InboundEntry{std::move(session).value(), row->sender_key,
                                       row->sender_ed25519, row->forwarded, row->received_ms})
            .first;
    }

    /// Adds or improves the inbound session of (room, id): a session that knows an earlier
    /// index wins, an equal one is kept.
    void store_inbound(const std::string& room, const std::string& id, InboundEntry entry)
    {
        const InboundId key{room, id};
        if (const auto it = find_inbound(key); it != inbound.end()) {
            // Only the device that owns a session may give it again from an earlier index:
            // another member who received it could otherwise claim it as theirs.
            if (it->second.sender_key != entry.sender_key ||
                it->second.sender_ed25519 != entry.sender_ed25519) {
                logger()->warn("megolm session {} of {} offered again by another device: ignored",
                               id, room);
                return;
            }
            if (it->second.session.first_known_index() <= entry.session.first_known_index()) {
                logger()->debug("already have megolm session {} of {}", id, room);
                return;
            }
        }
        inbound.insert_or_assign(key, std::move(entry));
        dirty_inbound.insert(key);
        for (const auto& [event_id, row] : pending)
            if (row.room_id == room && row.session_id == id &&
                std::find(ready.begin(), ready.end(), event_id) == ready.end())
                ready.push_back(event_id);
    }

    void mark_wedged(const std::string& sender, const std::string& sender_key)
    {
        const auto now = now_ms();
        if (const auto it = last_dummy_ms.find(sender_key);
            it != last_dummy_ms.end() && now - it->second < dummy_interval_ms)
            return;
        const auto* device = device_by_curve(sender, sender_key);
        if (device == nullptr) { // unknown device: learn it first, recover next time
            if (const auto it = users.find(sender); it != users.end() && !it->second.outdated) {
                it->second.outdated = true;
                dirty_users.insert(sender);
            }
            return;
        }
        last_dummy_ms[sender_key] = now;
        const DeviceKey id{device->user_id, device->device_id};
        if (std::find(wedged.begin(), wedged.end(), id) == wedged.end())
            wedged.push_back(id);
    }

    Result<ToDeviceEvent> decrypt_olm(const std::string& sender, const OlmEncrypted& content);
    Result<ToDeviceEvent> handle_olm_payload(OlmPayload payload, const std::string& sender_key);
    /// An m.room_key or the key of an m.forwarded_room_key, once its sender is trusted.
    Result<Done> add_room_key(const RoomKey& key, const KeyOrigin& origin);
    Result<json> olm_encrypt_for(const Device& device, const std::string& type,
                                 const json& content);
    Result<DecryptedEvent> decrypt_megolm(const std::string& room_id, const json& event);
    Result<Done> load();
};

} // namespace opalebot::bot::crypto
