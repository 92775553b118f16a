#include "bot/crypto/engine.hpp"

#include "bot/crypto/canonical_json.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "crypto_store.hpp"
#include "olm_handles.hpp"

namespace opalebot::bot::crypto {
namespace {

using nlohmann::json;

constexpr std::int64_t fallback_overlap_ms = 3'600'000; ///< keep the old fallback key an hour
constexpr std::int64_t dummy_interval_ms = 3'600'000;   ///< one m.dummy per device per hour
constexpr std::size_t max_one_time_keys_on_server = 50;

auto logger()
{
    return log::get("bot.crypto");
}

Error engine_error(std::string_view code, std::string message,
                   Error::Kind kind = Error::Kind::invalid)
{
    return Error{kind, 0, std::string{code}, std::move(message), {}, false};
}

Error storage_error(const std::exception& e)
{
    return Error{Error::Kind::storage, 0, {}, e.what(), {}, false};
}

/// A string member of `j`, or empty when absent or not a string.
std::string string_at(const json& j, std::string_view key)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

/// j[a][b] as a string, or empty.
std::string string_at(const json& j, std::string_view a, std::string_view b)
{
    if (!j.is_object())
        return {};
    const auto it = j.find(a);
    return it == j.end() ? std::string{} : string_at(*it, b);
}

/// The signature of `signer`'s `key_id` in `object`, or empty.
std::string signature_of(const json& object, const std::string& signer, const std::string& key_id)
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

struct OutboundEntry {
    olm::OutboundGroupSession session;
    std::string session_id;
    std::int64_t created_ms = 0;
    std::set<Served> shared_with;
};

using InboundId = std::pair<std::string, std::string>; ///< room, session

/// Where a room key came from: its session's creator, as the key's sender vouches for it.
struct KeyOrigin {
    std::string sender;     ///< who sent the key (logs)
    std::string curve25519; ///< of the session's creator
    std::string ed25519;    ///< that the creator claims
    bool forwarded = false; ///< exported by another device, not shared by the creator
};

void log_withheld(const RoomKeyWithheld& withheld, const std::string& sender)
{
    logger()->info("room key {} of {} withheld by {}: {}", withheld.session_id, withheld.room_id,
                   sender, withheld.code);
}
using SeenId = std::tuple<std::string, std::string, std::uint32_t>;

} // namespace

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
    std::map<InboundId, InboundEntry> inbound;
    std::set<InboundId> dirty_inbound;
    std::map<std::string, OutboundEntry> outbound; ///< by room
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
    OlmSessionEntry* newest_session(const std::string& curve)
    {
        OlmSessionEntry* best = nullptr;
        for (auto& [id, entry] : olm_sessions)
            if (entry.sender_key == curve && (best == nullptr || entry.last_used > best->last_used))
                best = &entry;
        return best;
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

    void drop_outbound(const std::string& room)
    {
        if (outbound.erase(room) > 0) {
            dirty_outbound.erase(room);
            deleted_outbound.insert(room);
        }
    }

    /// Adds or improves the inbound session of (room, id): a session that knows an earlier
    /// index wins, an equal one is kept.
    void store_inbound(const std::string& room, const std::string& id, InboundEntry entry)
    {
        const InboundId key{room, id};
        if (const auto it = inbound.find(key); it != inbound.end()) {
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

// --- opening and persistence ---

Result<Done> Engine::Impl::load()
{
    for (auto& row : store::load_users(db)) {
        UserEntry entry;
        entry.outdated = row.outdated;
        entry.master_key = row.master_key;
        entry.self_signing_key = row.self_signing_key;
        if (!row.master_key.empty()) {
            const auto master = json::parse(row.master_key, nullptr, false);
            if (master.is_object() && master.contains("keys") && !master["keys"].empty() &&
                master["keys"].begin()->is_string())
                entry.master_public = master["keys"].begin()->get<std::string>();
        }
        if (!row.self_signing_key.empty()) {
            const auto ssk = json::parse(row.self_signing_key, nullptr, false);
            if (ssk.is_object() && ssk.contains("keys") && !ssk["keys"].empty() &&
                ssk["keys"].begin()->is_string())
                entry.self_signing_public = ssk["keys"].begin()->get<std::string>();
        }
        users.emplace(row.user_id, std::move(entry));
    }
    for (auto& row : store::load_devices(db)) {
        const DeviceKey id{row.user_id, row.device_id};
        devices.emplace(
            id, Device{row.user_id, row.device_id, row.curve25519, row.ed25519, row.cross_signed});
        device_json.emplace(id, std::move(row.keys_json));
    }
    for (const auto& row : store::load_olm_sessions(db)) {
        auto session = olm::Session::unpickle(row.pickle, key());
        if (!session)
            return session.error();
        olm_sessions.emplace(row.session_id,
                             OlmSessionEntry{row.sender_key, std::move(session).value(),
                                             row.created_ms, row.last_used});
        last_stamp = std::max(last_stamp, row.last_used);
    }
    for (const auto& row : store::load_inbound_group_sessions(db)) {
        auto session = olm::InboundGroupSession::unpickle(row.pickle, key());
        if (!session)
            return session.error();
        inbound.emplace(InboundId{row.room_id, row.session_id},
                        InboundEntry{std::move(session).value(), row.sender_key, row.sender_ed25519,
                                     row.forwarded, row.received_ms});
    }
    for (const auto& row : store::load_outbound_group_sessions(db)) {
        auto session = olm::OutboundGroupSession::unpickle(row.pickle, key());
        if (!session)
            return session.error();
        OutboundEntry entry{std::move(session).value(), row.session_id, row.created_ms, {}};
        const auto shared = json::parse(row.shared_with, nullptr, false);
        if (shared.is_array())
            for (const auto& served : shared)
                if (served.is_array() && served.size() == 3)
                    entry.shared_with.emplace(served[0].get<std::string>(),
                                              served[1].get<std::string>(),
                                              served[2].get<std::string>());
        outbound.emplace(row.room_id, std::move(entry));
    }
    for (auto& row : store::load_pending_events(db)) {
        auto event_id = row.event_id;
        pending.emplace(std::move(event_id), std::move(row));
    }
    for (const auto& row : store::load_rooms(db))
        rooms.emplace(row.room_id,
                      RoomEncryption{row.rotation_period_ms, row.rotation_period_msgs});
    return Done{};
}

Result<std::unique_ptr<Engine>> Engine::open(SQLite::Database& db, const std::string& user_id,
                                             const std::string& device_id, std::string pickle_key,
                                             EngineOptions options)
try {
    olm::SecretBytes key{std::move(pickle_key)};
    if (key.size() < 16)
        return engine_error(errcode::bad_event, "the pickle key is shorter than 16 bytes");
    store::migrate(db);
    const auto row = store::load_account(db);
    std::unique_ptr<Impl> impl;
    if (row) {
        if (row->user_id != user_id || row->device_id != device_id)
            return engine_error(errcode::bad_event, "the crypto store belongs to another device: " +
                                                        row->user_id + " " + row->device_id);
        auto account = olm::Account::unpickle(row->pickle, key.view());
        if (!account)
            return account.error(); // a wrong pickle key: BAD_ACCOUNT_KEY
        impl = std::make_unique<Impl>(db, std::move(account).value());
        impl->account_row = *row;
    } else {
        auto account = olm::Account::create();
        if (!account)
            return account.error();
        impl = std::make_unique<Impl>(db, std::move(account).value());
        impl->account_row.user_id = user_id;
        impl->account_row.device_id = device_id;
        impl->account_dirty = true; // saved before any upload (issue 7)
    }
    impl->user_id = user_id;
    impl->device_id = device_id;
    impl->pickle_key = std::move(key);
    impl->options = std::move(options);
    auto identity = impl->account.identity_keys_json();
    if (!identity)
        return identity.error();
    const auto keys = json::parse(identity.value());
    impl->curve25519 = keys.at("curve25519").get<std::string>();
    impl->ed25519 = keys.at("ed25519").get<std::string>();
    if (row)
        if (auto loaded = impl->load(); !loaded)
            return loaded.error();
    return std::unique_ptr<Engine>{new Engine{std::move(impl)}};
} catch (const SQLite::Exception& e) {
    return storage_error(e);
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
} catch (const std::runtime_error& e) {
    return storage_error(e);
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl))
{}
Engine::~Engine() = default;

const std::string& Engine::user_id() const
{
    return impl_->user_id;
}
const std::string& Engine::device_id() const
{
    return impl_->device_id;
}
const std::string& Engine::curve25519_key() const
{
    return impl_->curve25519;
}
const std::string& Engine::ed25519_key() const
{
    return impl_->ed25519;
}

bool Engine::has_unsaved_changes() const
{
    const auto& m = *impl_;
    return m.account_dirty || !m.dirty_users.empty() || !m.deleted_users.empty() ||
           !m.dirty_devices.empty() || !m.deleted_devices.empty() ||
           !m.dirty_olm_sessions.empty() || !m.dirty_inbound.empty() || !m.dirty_outbound.empty() ||
           !m.deleted_outbound.empty() || !m.new_seen.empty() || !m.dirty_pending.empty() ||
           !m.deleted_pending.empty() || !m.dirty_rooms.empty();
}

Result<Done> Engine::persist(SQLite::Database& db)
try {
    auto& m = *impl_;
    if (m.account_dirty) {
        auto pickle = m.account.pickle(m.key());
        if (!pickle)
            return pickle.error();
        auto row = m.account_row;
        row.pickle = std::move(pickle).value();
        store::save_account(db, row);
    }
    for (const auto& user : m.deleted_users)
        store::delete_user(db, user);
    for (const auto& user : m.dirty_users)
        if (const auto it = m.users.find(user); it != m.users.end())
            store::save_user(db, {user, it->second.outdated, it->second.master_key,
                                  it->second.self_signing_key});
    for (const auto& id : m.deleted_devices)
        store::delete_device(db, id.user_id, id.device_id);
    for (const auto& id : m.dirty_devices)
        if (const auto it = m.devices.find(id); it != m.devices.end())
            store::save_device(db,
                               {id.user_id, id.device_id, it->second.curve25519, it->second.ed25519,
                                m.device_json[id], it->second.cross_signed});
    for (const auto& id : m.dirty_olm_sessions) {
        const auto it = m.olm_sessions.find(id);
        if (it == m.olm_sessions.end())
            continue;
        auto pickle = it->second.session.pickle(m.key());
        if (!pickle)
            return pickle.error();
        store::save_olm_session(db, {id, it->second.sender_key, std::move(pickle).value(),
                                     it->second.created_ms, it->second.last_used});
    }
    for (const auto& id : m.dirty_inbound) {
        const auto it = m.inbound.find(id);
        if (it == m.inbound.end())
            continue;
        auto pickle = it->second.session.pickle(m.key());
        if (!pickle)
            return pickle.error();
        store::save_inbound_group_session(db, {id.first, id.second, it->second.sender_key,
                                               it->second.sender_ed25519, std::move(pickle).value(),
                                               it->second.forwarded, it->second.received_ms});
    }
    for (const auto& room : m.deleted_outbound)
        store::delete_outbound_group_session(db, room);
    for (const auto& room : m.dirty_outbound) {
        const auto it = m.outbound.find(room);
        if (it == m.outbound.end())
            continue;
        auto pickle = it->second.session.pickle(m.key());
        if (!pickle)
            return pickle.error();
        auto shared = json::array();
        for (const auto& [user, device, curve] : it->second.shared_with)
            shared.push_back({user, device, curve});
        store::save_outbound_group_session(
            db, {room, it->second.session_id, std::move(pickle).value(), it->second.created_ms,
                 static_cast<std::int64_t>(it->second.session.message_index()), shared.dump()});
    }
    for (const auto& id : m.new_seen)
        store::save_seen_index(db, std::get<0>(id), std::get<1>(id), std::get<2>(id), m.seen[id]);
    for (const auto& event_id : m.deleted_pending)
        store::delete_pending_event(db, event_id);
    for (const auto& event_id : m.dirty_pending)
        if (const auto it = m.pending.find(event_id); it != m.pending.end())
            store::save_pending_event(db, it->second);
    for (const auto& room : m.dirty_rooms)
        if (const auto it = m.rooms.find(room); it != m.rooms.end())
            store::save_room(
                db, {room, it->second.rotation_period_ms, it->second.rotation_period_msgs});
    return Done{};
} catch (const SQLite::Exception& e) {
    return storage_error(e);
}

void Engine::saved()
{
    auto& m = *impl_;
    m.account_dirty = false;
    m.dirty_users.clear();
    m.deleted_users.clear();
    m.dirty_devices.clear();
    m.deleted_devices.clear();
    m.dirty_olm_sessions.clear();
    m.dirty_inbound.clear();
    m.dirty_outbound.clear();
    m.deleted_outbound.clear();
    m.new_seen.clear();
    m.seen.clear(); // saved: later look-ups read the table, so memory stays small
    m.dirty_pending.clear();
    m.deleted_pending.clear();
    m.dirty_rooms.clear();
}

Result<Done> Engine::save(SQLite::Database& db)
try {
    SQLite::Transaction transaction{db};
    if (auto done = persist(db); !done)
        return done; // the transaction rolls back
    transaction.commit();
    saved();
    return Done{};
} catch (const SQLite::Exception& e) {
    return storage_error(e);
}

// --- device identity ---

Result<json> Engine::device_keys() const
{
    const auto& m = *impl_;
    json keys = {
        {"user_id", m.user_id},
        {"device_id", m.device_id},
        {"algorithms", {olm_algorithm, megolm_algorithm}},
        {"keys",
         {{"curve25519:" + m.device_id, m.curve25519}, {"ed25519:" + m.device_id, m.ed25519}}}};
    if (auto signed_ = m.sign_with_device(keys); !signed_)
        return signed_.error();
    return keys;
}

Result<json> Engine::device_keys_upload()
{
    auto keys = device_keys();
    if (!keys)
        return keys.error();
    return json{{"device_keys", std::move(keys).value()}};
}

Result<std::optional<json>> Engine::keys_upload(std::int64_t server_one_time_key_count,
                                                bool server_has_unused_fallback_key)
try {
    auto& m = *impl_;
    json body = json::object();
    if (!m.account_row.device_keys_published) {
        auto keys = device_keys();
        if (!keys)
            return keys.error();
        body["device_keys"] = std::move(keys).value();
    }

    const auto target = std::min(max_one_time_keys_on_server, m.account.max_one_time_keys() / 2);
    auto otks = m.account.one_time_keys_json();
    if (!otks)
        return otks.error();
    auto unpublished = json::parse(otks.value()).at("curve25519");
    const auto have = std::max<std::int64_t>(server_one_time_key_count, 0) +
                      static_cast<std::int64_t>(unpublished.size());
    if (have < static_cast<std::int64_t>(target)) {
        if (auto done = m.account.generate_one_time_keys(
                static_cast<std::size_t>(static_cast<std::int64_t>(target) - have));
            !done)
            return done.error();
        m.account_dirty = true;
        otks = m.account.one_time_keys_json();
        if (!otks)
            return otks.error();
        unpublished = json::parse(otks.value()).at("curve25519");
    }
    for (const auto& [id, key] : unpublished.items()) {
        json signed_key = {{"key", key}};
        if (auto done = m.sign_with_device(signed_key); !done)
            return done.error();
        body["one_time_keys"]["signed_curve25519:" + id] = std::move(signed_key);
    }

    auto fallback = m.account.unpublished_fallback_key_json();
    if (!fallback)
        return fallback.error();
    auto fallback_keys = json::parse(fallback.value()).at("curve25519");
    const auto now = m.now_ms();
    if (fallback_keys.empty() && !server_has_unused_fallback_key) {
        if (auto done = m.account.generate_fallback_key(); !done)
            return done.error();
        m.account_row.old_fallback_pending = m.account_row.fallback_generated_ms != 0;
        m.account_row.fallback_generated_ms = now;
        m.account_dirty = true;
        fallback = m.account.unpublished_fallback_key_json();
        if (!fallback)
            return fallback.error();
        fallback_keys = json::parse(fallback.value()).at("curve25519");
    }
    if (m.account_row.old_fallback_pending &&
        now - m.account_row.fallback_generated_ms >= fallback_overlap_ms) {
        m.account.forget_old_fallback_key(); // late messages to it had an hour to arrive
        m.account_row.old_fallback_pending = false;
        m.account_dirty = true;
    }
    for (const auto& [id, key] : fallback_keys.items()) {
        json signed_key = {{"key", key}, {"fallback", true}};
        if (auto done = m.sign_with_device(signed_key); !done)
            return done.error();
        body["fallback_keys"]["signed_curve25519:" + id] = std::move(signed_key);
    }
    if (body.empty())
        return std::optional<json>{};
    return std::optional<json>{std::move(body)};
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

void Engine::mark_keys_published()
{
    auto& m = *impl_;
    m.account.mark_keys_as_published();
    m.account_row.device_keys_published = true;
    m.account_dirty = true;
}

// --- device lists ---

void Engine::track_users(const std::vector<std::string>& users)
{
    auto& m = *impl_;
    for (const auto& user : users)
        if (!m.users.contains(user))
            m.set_user(user, UserEntry{});
}

void Engine::on_device_lists(const std::vector<std::string>& changed,
                             const std::vector<std::string>& left)
{
    auto& m = *impl_;
    for (const auto& user : changed)
        if (const auto it = m.users.find(user); it != m.users.end() && !it->second.outdated) {
            it->second.outdated = true;
            m.dirty_users.insert(user);
        }
    for (const auto& user : left) {
        if (user == m.user_id || m.users.erase(user) == 0)
            continue;
        m.dirty_users.erase(user);
        m.deleted_users.insert(user);
        std::vector<DeviceKey> gone;
        for (auto it = m.devices.lower_bound(DeviceKey{user, {}});
             it != m.devices.end() && it->first.user_id == user; ++it)
            gone.push_back(it->first);
        for (const auto& id : gone)
            m.remove_device(id);
    }
}

std::vector<std::string> Engine::users_needing_query() const
{
    std::vector<std::string> users;
    for (const auto& [user, entry] : impl_->users)
        if (entry.outdated)
            users.push_back(user);
    return users;
}

json Engine::keys_query_request(const std::vector<std::string>& users) const
{
    json body = {{"device_keys", json::object()}, {"timeout", 10000}};
    for (const auto& user : users)
        body["device_keys"][user] = json::array();
    return body;
}

Result<Done> Engine::on_keys_query_response(const KeysQueryResponse& response,
                                            const std::vector<std::string>& queried)
{
    auto& m = *impl_;
    const std::set<std::string> asked(queried.begin(), queried.end());
    for (const auto& [user, user_devices] : response.device_keys) {
        if (!asked.contains(user))
            continue;
        UserEntry entry = m.users.contains(user) ? m.users[user] : UserEntry{};

        // Cross-signing keys: the master key is pinned; the self-signing key must carry its
        // signature (spec "Cross-signing").
        if (const auto master = response.master_keys.find(user);
            master != response.master_keys.end() && master->second.user_id == user &&
            master->second.keys.size() == 1) {
            const auto& master_public = master->second.keys.begin()->second;
            if (!entry.master_public.empty() && entry.master_public != master_public) {
                logger()->warn("master key of {} changed: kept the pinned one", user);
            } else {
                entry.master_public = master_public;
                entry.master_key = master->second.object.dump();
            }
        }
        if (const auto ssk = response.self_signing_keys.find(user);
            ssk != response.self_signing_keys.end() && !entry.master_public.empty() &&
            ssk->second.user_id == user && ssk->second.keys.size() == 1 &&
            m.verify_json(ssk->second.object, user, "ed25519:" + entry.master_public,
                          entry.master_public)) {
            const auto& ssk_public = ssk->second.keys.begin()->second;
            if (user == m.user_id && !entry.self_signing_public.empty() &&
                entry.self_signing_public != ssk_public)
                logger()->warn("the server has another self-signing key for the bot: kept ours");
            else {
                entry.self_signing_public = ssk_public;
                entry.self_signing_key = ssk->second.object.dump();
            }
        }

        std::set<std::string> listed;
        for (const auto& [device_id, keys] : user_devices) {
            listed.insert(device_id);
            if (keys.user_id != user || keys.device_id != device_id) {
                logger()->warn("device keys of {} {} name another device: ignored", user,
                               device_id);
                continue;
            }
            if (keys.curve25519.empty() || keys.ed25519.empty() ||
                !m.verify_json(keys.object, user, "ed25519:" + device_id, keys.ed25519)) {
                logger()->warn("device keys of {} {} are not self-signed: ignored", user,
                               device_id);
                continue;
            }
            const DeviceKey id{user, device_id};
            if (const auto* known = m.find_device(id);
                known != nullptr && known->ed25519 != keys.ed25519) {
                logger()->warn("ed25519 key of {} {} changed: device refused", user, device_id);
                continue;
            }
            if (user == m.user_id && device_id == m.device_id && keys.ed25519 != m.ed25519) {
                logger()->error("the server lists other keys for this device: refused");
                continue;
            }
            Device device{user, device_id, keys.curve25519, keys.ed25519, false};
            device.cross_signed =
                !entry.self_signing_public.empty() &&
                m.verify_json(keys.object, user, "ed25519:" + entry.self_signing_public,
                              entry.self_signing_public);
            m.put_device(device, keys.object.dump());
        }
        std::vector<DeviceKey> gone;
        for (auto it = m.devices.lower_bound(DeviceKey{user, {}});
             it != m.devices.end() && it->first.user_id == user; ++it)
            if (!listed.contains(it->first.device_id))
                gone.push_back(it->first);
        for (const auto& id : gone) // a vanished device: rooms it had a key for rotate
            m.remove_device(id);
        entry.outdated = false;
        m.set_user(user, std::move(entry));
    }
    return Done{};
}

std::vector<Device> Engine::devices(const std::string& user_id) const
{
    std::vector<Device> out;
    for (auto it = impl_->devices.lower_bound(DeviceKey{user_id, {}});
         it != impl_->devices.end() && it->first.user_id == user_id; ++it)
        out.push_back(it->second);
    return out;
}

// --- Olm sessions ---

std::vector<DeviceKey> Engine::devices_without_session(const std::vector<DeviceKey>& devices) const
{
    auto& m = *impl_;
    std::vector<DeviceKey> out;
    for (const auto& id : devices) {
        const auto* device = m.find_device(id);
        if (device == nullptr || (id.user_id == m.user_id && id.device_id == m.device_id))
            continue;
        if (m.newest_session(device->curve25519) == nullptr)
            out.push_back(id);
    }
    return out;
}

json Engine::keys_claim_request(const std::vector<DeviceKey>& devices) const
{
    json body = {{"one_time_keys", json::object()}, {"timeout", 10000}};
    for (const auto& id : devices)
        body["one_time_keys"][id.user_id][id.device_id] = "signed_curve25519";
    return body;
}

Result<std::vector<DeviceKey>> Engine::on_keys_claim_response(const KeysClaimResponse& response)
{
    auto& m = *impl_;
    std::vector<DeviceKey> created;
    for (const auto& [user, user_keys] : response.one_time_keys)
        for (const auto& [device_id, claimed] : user_keys) {
            const DeviceKey id{user, device_id};
            const auto* device = m.find_device(id);
            if (device == nullptr) {
                logger()->warn("claimed key of unknown device {} {}: ignored", user, device_id);
                continue;
            }
            if (!claimed.key_id.starts_with("signed_curve25519:") ||
                !m.verify_json(claimed.object, user, "ed25519:" + device_id, device->ed25519)) {
                logger()->warn("one-time key of {} {} is not signed by it: ignored", user,
                               device_id);
                continue;
            }
            auto session =
                olm::Session::create_outbound(m.account, device->curve25519, claimed.key);
            if (!session) {
                logger()->warn("no Olm session with {} {}: {}", user, device_id,
                               session.error().message);
                continue;
            }
            if (auto added = m.add_olm_session(std::move(session).value(), device->curve25519);
                !added)
                return added.error();
            created.push_back(id);
        }
    return created;
}

Result<json> Engine::Impl::olm_encrypt_for(const Device& device, const std::string& type,
                                           const json& content)
{
    auto* session = newest_session(device.curve25519);
    if (session == nullptr)
        return engine_error(errcode::not_shared, "no Olm session with " + device.device_id);
    const json payload = {{"type", type},
                          {"content", content},
                          {"sender", user_id},
                          {"sender_device", device_id},
                          {"keys", {{"ed25519", ed25519}}},
                          {"recipient", device.user_id},
                          {"recipient_keys", {{"ed25519", device.ed25519}}}};
    auto message = session->session.encrypt(payload.dump());
    if (!message)
        return message.error();
    session->last_used = stamp();
    for (auto& [id, entry] : olm_sessions)
        if (&entry == session)
            dirty_olm_sessions.insert(id);
    return json{
        {"algorithm", olm_algorithm},
        {"sender_key", curve25519},
        {"ciphertext",
         {{device.curve25519, {{"type", message.value().type}, {"body", message.value().body}}}}}};
}

Result<json> Engine::encrypt_to_device(const std::vector<DeviceKey>& devices,
                                       const std::string& type, const json& content)
{
    auto& m = *impl_;
    json body = {{"messages", json::object()}};
    for (const auto& id : devices) {
        const auto* device = m.find_device(id);
        if (device == nullptr) {
            logger()->warn("to-device for unknown device {} {} left out", id.user_id, id.device_id);
            continue;
        }
        auto encrypted = m.olm_encrypt_for(*device, type, content);
        if (!encrypted) {
            logger()->warn("to-device for {} {} left out: {}", id.user_id, id.device_id,
                           encrypted.error().message);
            continue;
        }
        body["messages"][id.user_id][id.device_id] = std::move(encrypted).value();
    }
    return body;
}

std::vector<DeviceKey> Engine::take_wedged_devices()
{
    return std::exchange(impl_->wedged, {});
}

// --- incoming to-device ---

Result<ToDeviceEvent> Engine::Impl::decrypt_olm(const std::string& sender,
                                                const OlmEncrypted& content)
{
    const auto& sender_key = content.sender_key;
    if (sender.empty() || sender_key.empty())
        return engine_error(errcode::bad_event, "Olm event without sender or sender_key");
    const auto mine = content.ciphertext.find(curve25519);
    if (mine == content.ciphertext.end())
        return engine_error(errcode::bad_event, "Olm event not encrypted for this device");
    const olm::OlmMessage message{mine->second.type, mine->second.body};
    if (message.type > 1)
        return engine_error(errcode::bad_event, "unknown Olm message type");

    // Existing sessions first, most recently used first (spec "Recovering from undecryptable
    // messages"); a pre-key message only goes to the session it was made for.
    std::vector<std::pair<std::string, OlmSessionEntry*>> candidates;
    for (auto& [id, entry] : olm_sessions)
        if (entry.sender_key == sender_key)
            candidates.emplace_back(id, &entry);
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        return a.second->last_used > b.second->last_used;
    });
    std::optional<std::string> plaintext;
    for (auto& [id, entry] : candidates) {
        if (message.type == 0 && !entry->session.matches_inbound(sender_key, message.body))
            continue;
        auto decrypted = entry->session.decrypt(message);
        if (!decrypted) {
            if (message.type == 0) // it matched: no other session can read it
                break;
            continue;
        }
        plaintext = std::move(decrypted).value();
        entry->last_used = stamp();
        dirty_olm_sessions.insert(id);
        break;
    }
    if (!plaintext && message.type == 0) {
        auto session = olm::Session::create_inbound(account, sender_key, message.body);
        if (session) {
            auto decrypted = session.value().decrypt(message);
            if (decrypted) {
                // The one-time key goes only now that a message was read with it (issue 7).
                if (auto removed = account.remove_one_time_keys(session.value()); !removed)
                    logger()->warn("one-time key not removed: {}", removed.error().message);
                account_dirty = true;
                if (auto added = add_olm_session(std::move(session).value(), sender_key); !added)
                    return added.error();
                plaintext = std::move(decrypted).value();
            }
        }
    }
    if (!plaintext) {
        mark_wedged(sender, sender_key);
        return engine_error(errcode::olm_failure,
                            "no Olm session decrypts the message of " + sender);
    }

    auto payload = parse_olm_payload(*plaintext);
    if (!payload)
        return engine_error(errcode::bad_event, "Olm plaintext is not an event");
    // Checks of the Olm payload (spec "m.olm.v1.curve25519-aes-sha2").
    if (payload->sender != sender)
        return engine_error(errcode::untrusted, "Olm payload sender differs from the event's");
    if (payload->recipient != user_id)
        return engine_error(errcode::untrusted, "Olm payload is for another user");
    if (payload->recipient_ed25519 != ed25519)
        return engine_error(errcode::untrusted, "Olm payload is for another device");
    if (payload->sender_ed25519.empty())
        return engine_error(errcode::untrusted, "Olm payload without the sender's ed25519");
    if (const auto* device = device_by_curve(sender, sender_key);
        device != nullptr && device->ed25519 != payload->sender_ed25519)
        return engine_error(errcode::untrusted, "Olm payload claims another ed25519");
    for (const auto& [id, device] : devices) // a curve25519 owned by someone else
        if (device.curve25519 == sender_key && id.user_id != sender)
            return engine_error(errcode::untrusted, "sender_key belongs to another user");
    return handle_olm_payload(std::move(*payload), sender_key);
}

Result<Done> Engine::Impl::add_room_key(const RoomKey& key, const KeyOrigin& origin)
{
    const std::string what = origin.forwarded ? "forwarded room key" : "m.room_key";
    if (key.algorithm != megolm_algorithm)
        return engine_error(errcode::bad_event, what + " for another algorithm");
    // A forwarded key is an export (from its first known index), a shared one a session key.
    auto session = origin.forwarded ? olm::InboundGroupSession::import(key.session_key)
                                    : olm::InboundGroupSession::create(key.session_key);
    if (!session)
        return session.error();
    auto id = session.value().id();
    if (!id)
        return id.error();
    if (key.room_id.empty() || id.value() != key.session_id)
        return engine_error(errcode::untrusted, what + " with a wrong session_id");
    store_inbound(key.room_id, key.session_id,
                  InboundEntry{std::move(session).value(), origin.curve25519, origin.ed25519,
                               origin.forwarded, now_ms()});
    logger()->info("{} {} for {} from {}", what, key.session_id, key.room_id, origin.sender);
    return Done{};
}

Result<ToDeviceEvent> Engine::Impl::handle_olm_payload(OlmPayload payload,
                                                       const std::string& sender_key)
{
    if (const auto* key = std::get_if<RoomKey>(&payload.content)) {
        if (auto added =
                add_room_key(*key, {payload.sender, sender_key, payload.sender_ed25519, false});
            !added)
            return added.error();
    } else if (const auto* forwarded = std::get_if<ForwardedRoomKey>(&payload.content)) {
        // Only from the bot's own verified devices (issue 7, matrix.md §8.4.11).
        const auto* device = device_by_curve(user_id, sender_key);
        if (payload.sender != user_id || device == nullptr || !device->cross_signed) {
            logger()->warn("m.forwarded_room_key from {} ignored: not an own verified device",
                           payload.sender);
            return engine_error(errcode::untrusted, "forwarded key from a device not ours");
        }
        if (auto added =
                add_room_key(forwarded->key, {payload.sender, forwarded->sender_key,
                                              forwarded->sender_claimed_ed25519_key, true});
            !added)
            return added.error();
    } else if (const auto* withheld = std::get_if<RoomKeyWithheld>(&payload.content)) {
        log_withheld(*withheld, payload.sender);
    }
    return ToDeviceEvent{std::move(payload.type), std::move(payload.sender),
                         std::move(payload.content)};
}

Result<ToDeviceEvent> Engine::on_to_device(const ToDeviceEvent& event)
{
    if (const auto* withheld = std::get_if<RoomKeyWithheld>(&event.content)) {
        log_withheld(*withheld, event.sender); // sent in clear since spec v1.7
        return event;
    }
    if (event.type == "m.room_key" || event.type == "m.forwarded_room_key")
        return engine_error(errcode::untrusted, event.type + " in clear: ignored");
    if (event.type != "m.room.encrypted")
        return event;
    const auto* content = std::get_if<OlmEncrypted>(&event.content);
    if (content == nullptr || content->algorithm != olm_algorithm)
        return engine_error(errcode::bad_event, "to-device event with another algorithm");
    return impl_->decrypt_olm(event.sender, *content);
}

// --- key requests ---

Result<std::optional<json>> Engine::on_room_key_request(const std::string& sender,
                                                        const RoomKeyRequest& request)
{
    auto& m = *impl_;
    const auto& requesting = request.requesting_device_id;
    if (request.action != "request")
        return std::optional<json>{}; // cancellations: nothing is pending here
    // Spec "Key requests": share with the user's own verified devices; other users get nothing.
    const auto* device = m.find_device({sender, requesting});
    if (sender != m.user_id || requesting == m.device_id || device == nullptr ||
        !device->cross_signed) {
        logger()->info("room key request of {} {} ignored", sender, requesting);
        return std::optional<json>{};
    }
    const auto it = m.inbound.find({request.room_id, request.session_id});
    if (request.algorithm != megolm_algorithm || it == m.inbound.end())
        return std::optional<json>{};
    if (m.newest_session(device->curve25519) == nullptr)
        return engine_error(errcode::not_shared, "no Olm session with " + requesting);
    auto exported = it->second.session.export_at(it->second.session.first_known_index());
    if (!exported)
        return exported.error();
    const json forwarded = {{"algorithm", megolm_algorithm},
                            {"room_id", it->first.first},
                            {"sender_key", it->second.sender_key},
                            {"sender_claimed_ed25519_key", it->second.sender_ed25519},
                            {"session_id", it->first.second},
                            {"session_key", exported.value()},
                            {"forwarding_curve25519_key_chain", json::array()}};
    auto answer = encrypt_to_device({{sender, requesting}}, "m.forwarded_room_key", forwarded);
    if (!answer)
        return answer.error();
    return std::optional<json>{std::move(answer).value()};
}

// --- rooms and Megolm ---

void Engine::set_room_encryption(const std::string& room_id, const RoomEncryption& settings)
{
    auto& m = *impl_;
    RoomEncryption clean = settings;
    if (clean.rotation_period_ms <= 0)
        clean.rotation_period_ms = RoomEncryption{}.rotation_period_ms;
    if (clean.rotation_period_msgs <= 0)
        clean.rotation_period_msgs = RoomEncryption{}.rotation_period_msgs;
    m.rooms[room_id] = clean;
    m.dirty_rooms.insert(room_id);
}

bool Engine::is_room_encrypted(const std::string& room_id) const
{
    return impl_->rooms.contains(room_id);
}

void Engine::rotate_room_key(const std::string& room_id)
{
    impl_->drop_outbound(room_id);
}

Result<std::vector<DeviceKey>> Engine::needs_room_key_share(const std::string& room_id,
                                                            const std::vector<std::string>& members)
{
    auto& m = *impl_;
    const auto settings = m.rooms.find(room_id);
    if (settings == m.rooms.end())
        return engine_error(errcode::bad_event, "the room is not encrypted");
    track_users(members);

    std::set<Served> current;
    for (const auto& member : members)
        for (auto it = m.devices.lower_bound(DeviceKey{member, {}});
             it != m.devices.end() && it->first.user_id == member; ++it) {
            if (member == m.user_id && it->first.device_id == m.device_id)
                continue;
            if (m.options.only_cross_signed_devices && !it->second.cross_signed)
                continue;
            current.emplace(member, it->first.device_id, it->second.curve25519);
        }

    const auto now = m.now_ms();
    if (const auto it = m.outbound.find(room_id); it != m.outbound.end()) {
        const auto& entry = it->second;
        const bool too_old = now - entry.created_ms >= settings->second.rotation_period_ms;
        const bool too_used = static_cast<std::int64_t>(entry.session.message_index()) >=
                              settings->second.rotation_period_msgs;
        const bool device_gone =
            std::any_of(entry.shared_with.begin(), entry.shared_with.end(),
                        [&](const Served& served) { return !current.contains(served); });
        if (too_old || too_used || device_gone) {
            logger()->info("new megolm session for {} ({})", room_id,
                           too_old ? "age" : (too_used ? "messages" : "member or device gone"));
            m.drop_outbound(room_id);
        }
    }
    if (!m.outbound.contains(room_id)) {
        auto session = olm::OutboundGroupSession::create();
        if (!session)
            return session.error();
        auto id = session.value().id();
        auto key = session.value().session_key();
        if (!id || !key)
            return !id ? id.error() : key.error();
        // The matching inbound session reads the bot's own messages (matrix.md §8.6.19).
        auto own = olm::InboundGroupSession::create(key.value());
        if (!own)
            return own.error();
        m.store_inbound(room_id, id.value(),
                        InboundEntry{std::move(own).value(), m.curve25519, m.ed25519, false, now});
        m.outbound.emplace(room_id, OutboundEntry{std::move(session).value(), id.value(), now, {}});
        m.dirty_outbound.insert(room_id);
        m.deleted_outbound.erase(room_id);
    }
    std::vector<DeviceKey> missing;
    const auto& shared = m.outbound.at(room_id).shared_with;
    for (const auto& served : current)
        if (!shared.contains(served))
            missing.push_back({std::get<0>(served), std::get<1>(served)});
    return missing;
}

Result<json> Engine::share_room_key(const std::string& room_id,
                                    const std::vector<DeviceKey>& devices)
{
    auto& m = *impl_;
    const auto it = m.outbound.find(room_id);
    if (it == m.outbound.end())
        return engine_error(errcode::not_shared, "no outbound session: call needs_room_key_share");
    auto session_key = it->second.session.session_key(); // from the current index only
    if (!session_key)
        return session_key.error();
    const json content = {{"algorithm", megolm_algorithm},
                          {"room_id", room_id},
                          {"session_id", it->second.session_id},
                          {"session_key", session_key.value()}};
    json body = {{"messages", json::object()}};
    for (const auto& id : devices) {
        const auto* device = m.find_device(id);
        if (device == nullptr)
            continue;
        auto encrypted = m.olm_encrypt_for(*device, "m.room_key", content);
        if (!encrypted) {
            logger()->warn("room key for {} {} left out: {}", id.user_id, id.device_id,
                           encrypted.error().message);
            continue;
        }
        body["messages"][id.user_id][id.device_id] = std::move(encrypted).value();
        it->second.shared_with.emplace(id.user_id, id.device_id, device->curve25519);
        m.dirty_outbound.insert(room_id);
    }
    return body;
}

Result<json> Engine::encrypt_room_event(const std::string& room_id, const std::string& type,
                                        const json& content)
try {
    auto& m = *impl_;
    const auto it = m.outbound.find(room_id);
    const auto settings = m.rooms.find(room_id);
    if (it == m.outbound.end() || settings == m.rooms.end())
        return engine_error(errcode::not_shared, "no outbound session: call needs_room_key_share");
    if (static_cast<std::int64_t>(it->second.session.message_index()) >=
            settings->second.rotation_period_msgs ||
        m.now_ms() - it->second.created_ms >= settings->second.rotation_period_ms)
        return engine_error(errcode::not_shared, "the session is due for rotation");
    const json plaintext = {{"type", type}, {"content", content}, {"room_id", room_id}};
    auto ciphertext = it->second.session.encrypt(plaintext.dump());
    if (!ciphertext)
        return ciphertext.error();
    m.dirty_outbound.insert(room_id);
    json encrypted = {{"algorithm", megolm_algorithm},
                      {"sender_key", m.curve25519},
                      {"ciphertext", ciphertext.value()},
                      {"session_id", it->second.session_id},
                      {"device_id", m.device_id}};
    if (content.is_object() && content.contains("m.relates_to"))
        encrypted["m.relates_to"] = content["m.relates_to"]; // spec: relations stay in clear
    return encrypted;
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

Result<DecryptedEvent> Engine::Impl::decrypt_megolm(const std::string& room_id, const json& event)
{
    const auto& content = event.at("content");
    if (string_at(content, "algorithm") != megolm_algorithm)
        return engine_error(errcode::bad_event, "room event with another algorithm");
    const auto session_id = string_at(content, "session_id");
    const auto ciphertext = string_at(content, "ciphertext");
    const auto event_id = string_at(event, "event_id");
    const auto sender = string_at(event, "sender");
    if (session_id.empty() || ciphertext.empty() || event_id.empty())
        return engine_error(errcode::bad_event, "m.room.encrypted without session or event id");

    const auto queue = [&](const std::string& why) {
        if (!pending.contains(event_id)) {
            pending.emplace(event_id, store::PendingEventRow{event_id, room_id, session_id,
                                                             event.dump(), now_ms()});
            dirty_pending.insert(event_id);
            deleted_pending.erase(event_id);
        }
        return engine_error(errcode::missing_key, why + session_id, Error::Kind::not_found);
    };
    const auto it = inbound.find({room_id, session_id});
    if (it == inbound.end())
        return queue("no key yet for session ");
    auto& entry = it->second;
    if (const auto claimed = string_at(content, "sender_key");
        !claimed.empty() && claimed != entry.sender_key)
        return engine_error(errcode::untrusted, "sender_key differs from the session's");
    auto decrypted = entry.session.decrypt(ciphertext);
    if (!decrypted) {
        // A key from a later index (forwarded, or shared late): a better one may still come.
        if (decrypted.error().message.find("UNKNOWN_MESSAGE_INDEX") != std::string::npos)
            return queue("key known only from a later index of session ");
        return decrypted.error();
    }

    // Replay protection (matrix.md §8.5.14): an index belongs to one event id.
    const SeenId seen_id{room_id, session_id, decrypted.value().message_index};
    auto known = seen.find(seen_id);
    if (known == seen.end())
        if (auto stored = store::seen_index(db, room_id, session_id, std::get<2>(seen_id)))
            known = seen.emplace(seen_id, std::move(*stored)).first;
    if (known != seen.end() && known->second != event_id)
        return engine_error(errcode::replay, "message index " +
                                                 std::to_string(std::get<2>(seen_id)) +
                                                 " replayed by " + event_id);
    if (known == seen.end()) {
        seen.emplace(seen_id, event_id);
        new_seen.insert(seen_id);
    }

    auto payload = json::parse(decrypted.value().plaintext, nullptr, false);
    if (!payload.is_object() || !payload.contains("type") || !payload.contains("content") ||
        !payload["type"].is_string())
        return engine_error(errcode::bad_event, "Megolm plaintext is not an event");
    if (string_at(payload, "room_id") != room_id)
        return engine_error(errcode::untrusted, "Megolm plaintext is for another room");

    DecryptedEvent out;
    out.room_id = room_id;
    out.event = event;
    out.event["type"] = payload["type"];
    out.event["content"] = payload["content"];
    if (content.contains("m.relates_to") && out.event["content"].is_object() &&
        !out.event["content"].contains("m.relates_to"))
        out.event["content"]["m.relates_to"] = content["m.relates_to"];
    out.sender_curve25519 = entry.sender_key;
    const Device* device = device_by_curve(sender, entry.sender_key);
    if (device == nullptr && sender == user_id && entry.sender_key == curve25519)
        out.sender_device = device_id; // the bot's own echo
    if (device != nullptr) {
        out.sender_device = device->device_id;
        out.verified =
            !entry.forwarded && device->ed25519 == entry.sender_ed25519 && device->cross_signed;
    } else {
        for (const auto& [id, other] : devices) // a session of someone else's device
            if (other.curve25519 == entry.sender_key && id.user_id != sender)
                return engine_error(errcode::untrusted, "the session belongs to another user");
    }
    return out;
}

Result<DecryptedEvent> Engine::decrypt_room_event(const std::string& room_id, const json& event)
try {
    return impl_->decrypt_megolm(room_id, event);
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
} catch (const SQLite::Exception& e) {
    return storage_error(e);
}

std::vector<DecryptedEvent> Engine::take_events_now_decryptable()
{
    auto& m = *impl_;
    std::vector<DecryptedEvent> out;
    for (const auto& event_id : std::exchange(m.ready, {})) {
        const auto it = m.pending.find(event_id);
        if (it == m.pending.end())
            continue;
        const auto row = it->second;
        m.pending.erase(it);
        m.dirty_pending.erase(event_id);
        m.deleted_pending.insert(event_id);
        const auto event = json::parse(row.event_json, nullptr, false);
        auto decrypted = decrypt_room_event(row.room_id, event);
        if (decrypted)
            out.push_back(std::move(decrypted).value());
        else
            logger()->warn("queued event {} still unreadable: {}", event_id,
                           decrypted.error().message);
    }
    return out;
}

std::vector<json> Engine::take_expired_events(std::chrono::milliseconds max_wait)
{
    auto& m = *impl_;
    std::vector<json> out;
    const auto limit = m.now_ms() - max_wait.count();
    for (auto it = m.pending.begin(); it != m.pending.end();) {
        if (it->second.received_ms > limit) {
            ++it;
            continue;
        }
        auto event = json::parse(it->second.event_json, nullptr, false);
        if (event.is_object()) // the caller answers in the room: sync events do not name it
            event["room_id"] = it->second.room_id;
        out.push_back(std::move(event));
        m.dirty_pending.erase(it->first);
        m.deleted_pending.insert(it->first);
        it = m.pending.erase(it);
    }
    return out;
}

std::size_t Engine::pending_event_count() const
{
    return impl_->pending.size();
}

// --- cross-signing ---

bool Engine::has_cross_signing_keys() const
{
    return !impl_->account_row.master_seed.empty();
}

namespace {

struct CrossSigning {
    olm::PkSigning master;
    olm::PkSigning self_signing;
    olm::PkSigning user_signing;
};

Result<olm::PkSigning> open_signing(std::string_view sealed, std::string_view key)
{
    auto seed = olm::open_secret(sealed, key);
    if (!seed)
        return seed.error();
    return olm::PkSigning::from_seed(seed.value());
}

Result<CrossSigning> open_cross_signing(const store::AccountRow& row, std::string_view key)
{
    auto master = open_signing(row.master_seed, key);
    auto self_signing = open_signing(row.self_signing_seed, key);
    auto user_signing = open_signing(row.user_signing_seed, key);
    if (!master)
        return master.error();
    if (!self_signing)
        return self_signing.error();
    if (!user_signing)
        return user_signing.error();
    return CrossSigning{std::move(master).value(), std::move(self_signing).value(),
                        std::move(user_signing).value()};
}

json cross_signing_key(const std::string& user_id, const char* usage, const std::string& public_key)
{
    return {{"user_id", user_id},
            {"usage", {usage}},
            {"keys", {{"ed25519:" + public_key, public_key}}}};
}

} // namespace

Result<json> Engine::cross_signing_upload()
try {
    auto& m = *impl_;
    if (m.account_row.master_seed.empty()) {
        std::array<std::string, 3> sealed;
        for (auto& slot : sealed) {
            auto seed = olm::random_bytes(olm::PkSigning::seed_length());
            if (!seed)
                return seed.error();
            auto sealed_seed = olm::seal_secret(seed.value(), m.key());
            if (!sealed_seed)
                return sealed_seed.error();
            slot = std::move(sealed_seed).value();
        }
        m.account_row.master_seed = sealed[0];
        m.account_row.self_signing_seed = sealed[1];
        m.account_row.user_signing_seed = sealed[2];
        m.account_dirty = true;
    }
    auto keys = open_cross_signing(m.account_row, m.key());
    if (!keys)
        return keys.error();
    const auto& cs = keys.value();
    auto master = cross_signing_key(m.user_id, "master", cs.master.public_key());
    if (auto done = m.sign_with_device(master); !done)
        return done.error();
    const auto by_master = [&cs](std::string_view bytes) { return cs.master.sign(bytes); };
    const auto master_id = "ed25519:" + cs.master.public_key();
    auto self_signing = cross_signing_key(m.user_id, "self_signing", cs.self_signing.public_key());
    auto user_signing = cross_signing_key(m.user_id, "user_signing", cs.user_signing.public_key());
    if (auto done = m.sign_json(self_signing, m.user_id, master_id, by_master); !done)
        return done.error();
    if (auto done = m.sign_json(user_signing, m.user_id, master_id, by_master); !done)
        return done.error();

    // The bot trusts its own keys: pin them.
    auto entry = m.users.contains(m.user_id) ? m.users[m.user_id] : UserEntry{};
    entry.master_public = cs.master.public_key();
    entry.master_key = master.dump();
    entry.self_signing_public = cs.self_signing.public_key();
    entry.self_signing_key = self_signing.dump();
    m.set_user(m.user_id, std::move(entry));
    return json{{"master_key", std::move(master)},
                {"self_signing_key", std::move(self_signing)},
                {"user_signing_key", std::move(user_signing)}};
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

Result<json> Engine::own_device_signature_upload()
{
    auto keys = device_keys();
    if (!keys)
        return keys.error();
    return sign_own_device(keys.value());
}

Result<json> Engine::sign_own_device(const json& device_keys)
try {
    auto& m = *impl_;
    if (m.account_row.self_signing_seed.empty())
        return engine_error(errcode::bad_event, "no cross-signing keys: bootstrap first");
    const auto device = string_at(device_keys, "device_id");
    if (string_at(device_keys, "user_id") != m.user_id || device.empty() ||
        !m.verify_json(device_keys, m.user_id, "ed25519:" + device,
                       string_at(device_keys, "keys", "ed25519:" + device)))
        return engine_error(errcode::untrusted, "not a self-signed device of the bot");
    auto ssk = open_signing(m.account_row.self_signing_seed, m.key());
    if (!ssk)
        return ssk.error();
    auto object = device_keys;
    object.erase("signatures");
    object.erase("unsigned");
    if (auto done = m.sign_json(object, m.user_id, "ed25519:" + ssk.value().public_key(),
                                [&ssk](std::string_view bytes) { return ssk.value().sign(bytes); });
        !done)
        return done.error();
    return json{{m.user_id, {{device, std::move(object)}}}};
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

} // namespace opalebot::bot::crypto
