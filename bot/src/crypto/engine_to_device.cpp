#include "engine_impl.hpp"

namespace opalebot::bot::crypto {
namespace {

void log_withheld(const RoomKeyWithheld& withheld, const std::string& sender)
{
    logger()->info("room key {} of {} withheld by {}: {}", withheld.session_id, withheld.room_id,
                   sender, withheld.code);
}

} // namespace

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
    if (const auto ids = olm_session_ids.find(sender_key); ids != olm_session_ids.end())
        for (const auto& id : ids->second)
            candidates.emplace_back(id, &olm_sessions.at(id));
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        return a.second->last_used > b.second->last_used;
    });
    std::optional<std::string> plaintext;
    const auto read_before = olm_plaintexts.find(sender_key + ' ' + message.body);
    if (read_before != olm_plaintexts.end()) {
        plaintext = read_before->second;
        candidates.clear(); // no ratchet step: it was taken the first time
    }
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
    if (!plaintext && message.type == 0 && read_before == olm_plaintexts.end()) {
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
    if (read_before == olm_plaintexts.end())
        olm_plaintexts.emplace(sender_key + ' ' + message.body, *plaintext);

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
    const auto it = m.find_inbound({request.room_id, request.session_id});
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

} // namespace opalebot::bot::crypto
