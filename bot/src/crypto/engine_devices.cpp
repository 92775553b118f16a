#include "engine_impl.hpp"

namespace opalebot::bot::crypto {

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

        // Cross-signing keys; the self-signing key must carry the master key's signature (spec
        // "Cross-signing"). The bot verifies nobody, so a user's new identity (a reset) is
        // accepted, as Element does for users it has not verified: pinning the old one would
        // refuse every new device of that user for good. Only the bot's own stays pinned.
        if (const auto master = response.master_keys.find(user);
            master != response.master_keys.end() && master->second.user_id == user &&
            master->second.keys.size() == 1) {
            const auto& master_public = master->second.keys.begin()->second;
            const bool changed =
                !entry.master_public.empty() && entry.master_public != master_public;
            if (changed && user == m.user_id) {
                logger()->warn("the server has another master key for the bot: kept ours");
            } else {
                if (changed) {
                    m.identity_changes.push_back(user);
                    logger()->warn(
                        "the cross-signing identity of {} changed: accepted, its devices "
                        "are checked against the new one",
                        user);
                    entry.self_signing_public.clear(); // signed by the old master key
                    entry.self_signing_key.clear();
                }
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
    const auto* session_id = newest_session_id(device.curve25519);
    if (session_id == nullptr)
        return engine_error(errcode::not_shared, "no Olm session with " + device.device_id);
    auto* session = &olm_sessions.at(*session_id);
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
    dirty_olm_sessions.insert(*session_id);
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

std::vector<std::string> Engine::take_identity_changes()
{
    return std::exchange(impl_->identity_changes, {});
}

} // namespace opalebot::bot::crypto
