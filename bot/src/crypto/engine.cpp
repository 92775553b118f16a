#include <SQLiteCpp/SQLiteCpp.h>

#include "engine_impl.hpp"

namespace opalebot::bot::crypto {

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
        index_olm_session(row.session_id, row.sender_key);
        last_stamp = std::max(last_stamp, row.last_used);
    }
    // Inbound group sessions are read on demand (find_inbound).
    for (const auto& row : store::load_outbound_group_sessions(db)) {
        auto session = olm::OutboundGroupSession::unpickle(row.pickle, key());
        if (!session)
            return session.error();
        OutboundEntry entry{std::move(session).value(), row.session_id, row.created_ms, {}, {}};
        const auto shared = json::parse(row.shared_with, nullptr, false);
        if (shared.is_array())
            for (const auto& served : shared)
                if (served.is_array() && (served.size() == 3 || served.size() == 4))
                    (served.size() == 3 ? entry.shared_with : entry.withheld_from)
                        .emplace(served[0].get<std::string>(), served[1].get<std::string>(),
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
    if (row && row->user_id != user_id)
        return engine_error(errcode::bad_event,
                            "the crypto store belongs to another account: " + row->user_id);
    if (row && row->device_id != device_id) {
        // A new device of the same account (--new-login): what was the old device's goes (its
        // Olm account and sessions, the room sessions it sent with); what is the account's
        // stays: the cross-signing keys, which sign the new device (users see the same
        // identity), and the room keys received, so history stays readable.
        if (auto old = olm::Account::unpickle(row->pickle, key.view()); !old)
            return old.error(); // a wrong pickle key: nothing is deleted
        log::get("bot.crypto")
            ->info("new device {} replaces {}: device keys made anew, cross-signing kept",
                   device_id, row->device_id);
        db.exec("DELETE FROM crypto_olm_sessions");
        db.exec("DELETE FROM crypto_outbound_group_sessions");
        auto account = olm::Account::create();
        if (!account)
            return account.error();
        impl = std::make_unique<Impl>(db, std::move(account).value());
        impl->account_row = *row;
        impl->account_row.device_id = device_id;
        impl->account_row.device_keys_published = false;
        impl->account_row.fallback_generated_ms = 0;
        impl->account_row.old_fallback_pending = false;
        impl->account_dirty = true;
    } else if (row) {
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
           !m.dirty_olm_sessions.empty() || !m.deleted_olm_sessions.empty() ||
           !m.dirty_inbound.empty() || !m.dirty_outbound.empty() || !m.deleted_outbound.empty() ||
           !m.new_seen.empty() || !m.dirty_pending.empty() || !m.deleted_pending.empty() ||
           !m.dirty_rooms.empty();
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
    for (const auto& id : m.deleted_olm_sessions)
        store::delete_olm_session(db, id);
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
        for (const auto& [user, device, curve] : it->second.withheld_from)
            shared.push_back({user, device, curve, "withheld"}); // a 4th element marks them
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
    m.deleted_olm_sessions.clear();
    m.dirty_inbound.clear();
    m.dirty_outbound.clear();
    m.deleted_outbound.clear();
    m.new_seen.clear();
    m.seen.clear();           // saved: later look-ups read the table, so memory stays small
    m.olm_plaintexts.clear(); // the batch that read them is saved: they never come again
    if (m.inbound.size() > max_inbound_in_memory)
        m.inbound.clear(); // all saved: read again from the table when needed
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

} // namespace opalebot::bot::crypto
