#include <SQLiteCpp/SQLiteCpp.h>

#include "engine_impl.hpp"
#include "untrusted_json.hpp"

namespace opalebot::bot::crypto {

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

std::set<Served> Engine::Impl::served_devices(const std::vector<std::string>& members) const
{
    std::set<Served> current;
    for (const auto& member : members)
        for (auto it = devices.lower_bound(DeviceKey{member, {}});
             it != devices.end() && it->first.user_id == member; ++it) {
            if (member == user_id && it->first.device_id == device_id)
                continue;
            if (options.only_cross_signed_devices && !it->second.cross_signed)
                continue;
            current.emplace(member, it->first.device_id, it->second.curve25519);
        }
    return current;
}

namespace {

json room_key_content(const std::string& room_id, const std::string& session_id,
                      const std::string& session_key)
{
    return {{"algorithm", megolm_algorithm},
            {"room_id", room_id},
            {"session_id", session_id},
            {"session_key", session_key}};
}

/// A new outbound Megolm session with its id and key, not yet in use nor encrypted for anyone.
Result<PreparedOutbound> new_outbound_session()
{
    auto session = olm::OutboundGroupSession::create();
    if (!session)
        return session.error();
    auto id = session.value().id();
    auto key = session.value().session_key();
    if (!id || !key)
        return !id ? id.error() : key.error();
    return PreparedOutbound{std::move(session).value(), id.value(), key.value(), {}, {}};
}

} // namespace

Result<Done> Engine::Impl::start_outbound(const std::string& room_id,
                                          olm::OutboundGroupSession session,
                                          const std::string& session_id,
                                          const std::string& session_key,
                                          std::map<Served, PreparedKey> prepared_keys)
{
    // The matching inbound session reads the bot's own messages (matrix.md §8.6.19).
    auto own = olm::InboundGroupSession::create(session_key);
    if (!own)
        return own.error();
    const auto now = now_ms();
    store_inbound(room_id, session_id,
                  InboundEntry{std::move(own).value(), curve25519, ed25519, false, now});
    OutboundEntry entry{std::move(session), session_id, now, {}, {}};
    entry.prepared_keys = std::move(prepared_keys);
    outbound.emplace(room_id, std::move(entry));
    dirty_outbound.insert(room_id);
    deleted_outbound.erase(room_id);
    return Done{};
}

Result<std::vector<DeviceKey>> Engine::needs_room_key_share(const std::string& room_id,
                                                            const std::vector<std::string>& members)
{
    auto& m = *impl_;
    const auto settings = m.rooms.find(room_id);
    if (settings == m.rooms.end())
        return engine_error(errcode::bad_event, "the room is not encrypted");
    track_users(members);
    const auto current = m.served_devices(members);

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
        if (auto next = m.prepared_outbound.find(room_id); next != m.prepared_outbound.end()) {
            auto prepared = std::move(next->second);
            m.prepared_outbound.erase(next);
            if (auto started =
                    m.start_outbound(room_id, std::move(prepared.session), prepared.session_id,
                                     prepared.session_key, std::move(prepared.keys));
                !started)
                return started.error();
        } else {
            auto fresh = new_outbound_session();
            if (!fresh)
                return fresh.error();
            if (auto started =
                    m.start_outbound(room_id, std::move(fresh.value().session),
                                     fresh.value().session_id, fresh.value().session_key);
                !started)
                return started.error();
        }
    }
    std::vector<DeviceKey> missing;
    const auto& shared = m.outbound.at(room_id).shared_with;
    for (const auto& served : current)
        if (!shared.contains(served))
            missing.push_back({std::get<0>(served), std::get<1>(served)});
    return missing;
}

Result<bool> Engine::prepare_next_room_key(const std::string& room_id,
                                           const std::vector<std::string>& members,
                                           std::chrono::steady_clock::time_point deadline)
{
    auto& m = *impl_;
    if (!m.rooms.contains(room_id) || !m.outbound.contains(room_id))
        return false;
    auto next = m.prepared_outbound.find(room_id);
    if (next == m.prepared_outbound.end()) {
        auto fresh = new_outbound_session();
        if (!fresh)
            return fresh.error();
        const auto devices = m.served_devices(members);
        fresh.value().to_encrypt.assign(devices.begin(), devices.end());
        next = m.prepared_outbound.emplace(room_id, std::move(fresh).value()).first;
    }
    auto& prepared = next->second;
    const auto content = room_key_content(room_id, prepared.session_id, prepared.session_key);
    while (!prepared.to_encrypt.empty() && std::chrono::steady_clock::now() < deadline) {
        const auto served = std::move(prepared.to_encrypt.back());
        prepared.to_encrypt.pop_back();
        const auto* device = m.find_device({std::get<0>(served), std::get<1>(served)});
        if (device == nullptr || device->curve25519 != std::get<2>(served))
            continue; // gone or changed since: share_room_key serves it afresh if still there
        const auto* olm_session = m.newest_session_id(device->curve25519);
        if (olm_session == nullptr)
            continue; // no Olm session yet: share_room_key claims one when the key is due
        const std::string olm_session_id = *olm_session;
        if (auto encrypted = m.olm_encrypt_for(*device, "m.room_key", content); encrypted)
            prepared.keys.emplace(served,
                                  PreparedKey{olm_session_id, std::move(encrypted).value()});
    }
    return !prepared.to_encrypt.empty();
}

bool Engine::next_room_key_wanted(const std::string& room_id) const
{
    const auto& m = *impl_;
    if (!m.rooms.contains(room_id) || !m.outbound.contains(room_id))
        return false;
    const auto next = m.prepared_outbound.find(room_id);
    return next == m.prepared_outbound.end() || !next->second.to_encrypt.empty();
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
    const auto content = room_key_content(room_id, it->second.session_id, session_key.value());
    // Keys prepared for index 0 serve only before the session's first message.
    auto prepared = std::move(it->second.prepared_keys);
    it->second.prepared_keys.clear();
    if (it->second.session.message_index() != 0)
        prepared.clear();
    json body = {{"messages", json::object()}};
    for (const auto& id : devices) {
        const auto* device = m.find_device(id);
        if (device == nullptr)
            continue;
        const Served served{id.user_id, id.device_id, device->curve25519};
        json message;
        const auto* newest = m.newest_session_id(device->curve25519);
        if (const auto ready = prepared.find(served); ready != prepared.end() &&
                                                      newest != nullptr &&
                                                      *newest == ready->second.olm_session_id) {
            message = std::move(ready->second.message);
        } else {
            auto encrypted = m.olm_encrypt_for(*device, "m.room_key", content);
            if (!encrypted) {
                logger()->warn("room key for {} {} left out: {}", id.user_id, id.device_id,
                               encrypted.error().message);
                continue;
            }
            message = std::move(encrypted).value();
        }
        body["messages"][id.user_id][id.device_id] = std::move(message);
        it->second.shared_with.insert(served);
        m.dirty_outbound.insert(room_id);
    }
    return body;
}

json Engine::room_key_withheld(const std::string& room_id, const std::vector<std::string>& members,
                               const std::vector<DeviceKey>& no_session)
{
    auto& m = *impl_;
    json messages = json::object();
    const auto it = m.outbound.find(room_id);
    if (it == m.outbound.end())
        return messages;
    auto& entry = it->second;
    // Told once per session, so that the device's client can say why it cannot read
    // (spec "Reporting that decryption keys are withheld").
    const auto tell = [&](const DeviceKey& id, const Device& device, std::string_view code,
                          std::string_view reason) {
        const Served served{id.user_id, id.device_id, device.curve25519};
        if (entry.shared_with.contains(served) || !entry.withheld_from.insert(served).second)
            return;
        messages[id.user_id][id.device_id] = {
            {"algorithm", megolm_algorithm}, {"room_id", room_id}, {"session_id", entry.session_id},
            {"sender_key", m.curve25519},    {"code", code},       {"reason", reason}};
        m.dirty_outbound.insert(room_id);
    };
    if (m.options.only_cross_signed_devices)
        for (const auto& member : members)
            for (auto d = m.devices.lower_bound(DeviceKey{member, {}});
                 d != m.devices.end() && d->first.user_id == member; ++d)
                if (!d->second.cross_signed && d->first != DeviceKey{m.user_id, m.device_id})
                    tell(d->first, d->second, "m.unverified",
                         "The sender has disabled encrypting to unverified devices.");
    for (const auto& id : no_session)
        if (const auto* device = m.find_device(id); device != nullptr)
            tell(id, *device, "m.no_olm", "Unable to establish a secure channel.");
    return messages;
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
    const auto it = find_inbound({room_id, session_id});
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

    auto payload = parse_untrusted(decrypted.value().plaintext, "Megolm payload");
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

} // namespace opalebot::bot::crypto
