#include "bot/crypto_coordinator.hpp"

#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "json_fields.hpp"

namespace opalebot::bot {
namespace {

using nlohmann::json;

std::shared_ptr<spdlog::logger> logger()
{
    return log::get("bot.crypto");
}

bool is_megolm(const std::string& algorithm)
{
    return algorithm == crypto::megolm_algorithm;
}

} // namespace

CryptoCoordinator::CryptoCoordinator(MatrixClient& client, StateStore& store,
                                     crypto::Engine& engine, MatrixClient::PasswordAuth password)
    : client_(client), store_(store), engine_(engine), password_auth_(std::move(password))
{}

Result<Done> CryptoCoordinator::start()
{
    // The account is on disk before the server knows its keys (§8.2.1): a crash after an upload
    // must never leave the server with keys the bot has lost.
    if (auto saved = store_.commit({}); !saved)
        return saved.error();
    auto body = engine_.device_keys_upload();
    if (!body)
        return body.error();
    std::int64_t count = 0;
    if (!body.value().empty() && body.value().contains("device_keys")) {
        auto uploaded = client_.keys_upload(body.value());
        if (!uploaded)
            return uploaded.error();
        engine_.mark_keys_published();
        count = uploaded.value().signed_curve25519_count();
        logger()->info("device keys of {} published", engine_.device_id());
    } else {
        auto counts = client_.keys_upload(json::object()); // asks the counts, uploads nothing
        if (!counts)
            return counts.error();
        count = counts.value().signed_curve25519_count();
    }
    if (auto topped = upload_keys(count, false); !topped)
        return topped.error();

    // Rooms known encrypted from before encryption was turned on: their m.room.encryption will
    // not come again in an incremental sync, so it is asked for.
    if (auto rooms = store_.encrypted_rooms(); rooms) {
        for (const auto& room_id : rooms.value()) {
            if (engine_.is_room_encrypted(room_id))
                continue;
            auto state = client_.state_event(room_id, "m.room.encryption");
            const auto content = state ? parse_untrusted(state.value()) : json{};
            if (string_at(content, "algorithm") != crypto::megolm_algorithm) {
                logger()->warn("room {}: encryption settings unreadable, it stays silent", room_id);
                continue;
            }
            crypto::RoomEncryption settings;
            if (const auto ms = content.find("rotation_period_ms");
                ms != content.end() && ms->is_number_integer() && ms->get<std::int64_t>() > 0)
                settings.rotation_period_ms = ms->get<std::int64_t>();
            if (const auto msgs = content.find("rotation_period_msgs");
                msgs != content.end() && msgs->is_number_integer() && msgs->get<std::int64_t>() > 0)
                settings.rotation_period_msgs = msgs->get<std::int64_t>();
            engine_.set_room_encryption(room_id, settings);
        }
    }

    // Cross-signing: clients that hide unsigned devices would never show the bot (§0.2).
    // A new device (--new-login) signs the master key anew: the server then asks for the
    // password. Should it still refuse, the keys it holds are ours (the seeds are kept), so the
    // device is signed anyway.
    auto signing = engine_.cross_signing_upload();
    if (!signing) {
        logger()->warn("cross-signing keys not created: {}", signing.error().message);
        return store_.commit({});
    }
    if (auto uploaded = client_.device_signing_upload(signing.value(), password_auth_); !uploaded)
        logger()->warn("cross-signing keys not uploaded ({} {}): the server may ask for the "
                       "account's password (account.password); the device is signed with the "
                       "keys it already holds, if any",
                       uploaded.error().code, uploaded.error().errcode);
    if (auto signature = engine_.own_device_signature_upload(); !signature) {
        logger()->warn("device not signed: {}", signature.error().message);
    } else if (auto sent = client_.signatures_upload(signature.value()); !sent) {
        logger()->warn("device signature not uploaded: {} {}", sent.error().code,
                       sent.error().errcode);
    } else {
        logger()->info("device {} cross-signed", engine_.device_id());
    }
    return store_.commit({});
}

void CryptoCoordinator::receive(const CryptoSync& sync, const std::string& since,
                                const std::string& next_batch)
{
    for (const auto& event : sync.to_device) {
        auto payload = engine_.on_to_device(event);
        if (!payload) {
            logger()->warn("to-device {} from {} dropped: {}", event.type, event.sender,
                           payload.error().message);
            continue;
        }
        const auto* request = std::get_if<crypto::RoomKeyRequest>(&payload.value().content);
        if (request == nullptr)
            continue;
        const auto& sender = payload.value().sender;
        auto answer = engine_.on_room_key_request(sender, *request);
        if (!answer && answer.error().errcode == crypto::errcode::not_shared) {
            // The bot's other device has no Olm session with it yet: claim one, try again.
            if (claim_sessions({crypto::DeviceKey{sender, request->requesting_device_id}}))
                answer = engine_.on_room_key_request(sender, *request);
        }
        if (answer && answer.value())
            queue_olm(*answer.value());
    }
    std::vector<std::string> changed = sync.devices_changed;
    if (restarted_ && !since.empty()) {
        // Changes while the bot was away (§8.3.8): once, from the stored token.
        if (auto changes = client_.keys_changes(since, next_batch); changes)
            changed.insert(changed.end(), changes.value().changed.begin(),
                           changes.value().changed.end());
        else
            logger()->warn("/keys/changes failed: {} {}", changes.error().code,
                           changes.error().errcode);
    }
    restarted_ = false;
    if (!changed.empty() || !sync.devices_left.empty())
        engine_.on_device_lists(changed, sync.devices_left);
}

void CryptoCoordinator::observe(const std::string& room_id, const Event& event)
{
    if (const auto* encryption = std::get_if<Encryption>(&event.content)) {
        if (!is_megolm(encryption->algorithm)) {
            logger()->warn("room {} uses {}, which the bot cannot encrypt with", room_id,
                           encryption->algorithm);
            return;
        }
        engine_.set_room_encryption(
            room_id, {encryption->rotation_period_ms, encryption->rotation_period_msgs});
        return;
    }
    if (const auto* visibility = std::get_if<HistoryVisibility>(&event.content)) {
        if (visibility->visibility == "joined")
            joined_only_.insert(room_id);
        else
            joined_only_.erase(room_id);
        // Who may read the history changed: later messages use a session of their own.
        if (engine_.is_room_encrypted(room_id))
            engine_.rotate_room_key(room_id);
        return;
    }
    const auto* member = std::get_if<Membership>(&event.content);
    if (member == nullptr || !event.state_key)
        return;
    const auto& user = *event.state_key;
    const bool present = member->membership == "join" || member->membership == "invite";
    const auto known = members_.find(room_id);
    if (present) {
        if (known != members_.end()) {
            known->second.joined.erase(user);
            known->second.invited.erase(user);
            (member->membership == "join" ? known->second.joined : known->second.invited)
                .insert(user);
        }
        if (engine_.is_room_encrypted(room_id))
            engine_.track_users({user});
        return;
    }
    // A member gone: the next message uses a new session they never get (§8.6.20).
    if (known != members_.end()) {
        known->second.joined.erase(user);
        known->second.invited.erase(user);
    }
    if (engine_.is_room_encrypted(room_id))
        engine_.rotate_room_key(room_id);
}

bool CryptoCoordinator::is_encrypted(const std::string& room_id) const
{
    return engine_.is_room_encrypted(room_id);
}

Result<Event> CryptoCoordinator::decrypt(const std::string& room_id, const Encrypted& event)
{
    if (event.event == nullptr)
        return Error{Error::Kind::invalid,
                     0,
                     std::string{crypto::errcode::bad_event},
                     "m.room.encrypted without its event",
                     {},
                     false};
    auto decrypted = engine_.decrypt_room_event(room_id, *event.event);
    if (!decrypted)
        return decrypted.error();
    return event_from_json(decrypted.value().event);
}

std::vector<std::pair<std::string, Event>> CryptoCoordinator::take_decryptable()
{
    // The engine forgets what it hands out; the batch that handles it may still fail.
    for (auto& decrypted : engine_.take_events_now_decryptable())
        decryptable_in_flight_.emplace_back(decrypted.room_id, event_from_json(decrypted.event));
    return decryptable_in_flight_;
}

void CryptoCoordinator::batch_saved()
{
    decryptable_in_flight_.clear();
    undecryptable_in_flight_.clear();
}

std::vector<CryptoCoordinator::Undecryptable>
CryptoCoordinator::take_undecryptable(std::chrono::milliseconds max_wait)
{
    auto& out = undecryptable_in_flight_;
    for (const auto& event : engine_.take_expired_events(max_wait)) {
        if (!event.is_object())
            continue;
        Undecryptable u{string_at(event, "room_id"),
                        string_at(event, "event_id"),
                        string_at(event, "sender"),
                        {}};
        const auto& relates = object_or_empty(object_or_empty(event, "content"), "m.relates_to");
        if (string_at(relates, "rel_type") == "m.thread")
            u.thread_root = string_at(relates, "event_id");
        out.push_back(std::move(u));
    }
    return out;
}

Result<std::set<std::string>> CryptoCoordinator::members_of(const std::string& room_id)
{
    auto known = members_.find(room_id);
    if (known == members_.end()) {
        // Lazy loading hides members who never spoke: ask the server once, then follow the
        // membership events (§3).
        auto members = client_.room_members(room_id);
        if (!members)
            return members.error();
        auto& sets = members_[room_id];
        sets.joined.insert(members.value().joined.begin(), members.value().joined.end());
        sets.invited.insert(members.value().invited.begin(), members.value().invited.end());
        known = members_.find(room_id);
    }
    return readers_of(room_id, known->second);
}

std::set<std::string> CryptoCoordinator::readers_of(const std::string& room_id,
                                                    const Members& members) const
{
    // Invited members read what is said before they join, as Tchap salons share history with
    // them, unless the room keeps its history for joined members only.
    auto readers = members.joined;
    if (!joined_only_.contains(room_id))
        readers.insert(members.invited.begin(), members.invited.end());
    return readers;
}

Result<Done> CryptoCoordinator::query_outdated(const std::vector<std::string>& users)
{
    auto outdated = engine_.users_needing_query();
    std::erase_if(outdated, [&](const std::string& user) {
        return std::find(users.begin(), users.end(), user) == users.end();
    });
    if (outdated.empty())
        return Done{};
    auto response = client_.keys_query(engine_.keys_query_request(outdated));
    if (!response)
        return response.error();
    return engine_.on_keys_query_response(response.value(), outdated);
}

Result<Done> CryptoCoordinator::claim_sessions(const std::vector<crypto::DeviceKey>& devices)
{
    const auto missing = engine_.devices_without_session(devices);
    if (missing.empty())
        return Done{};
    auto response = client_.keys_claim(engine_.keys_claim_request(missing));
    if (!response)
        return response.error();
    auto created = engine_.on_keys_claim_response(response.value());
    if (!created)
        return created.error();
    if (created.value().size() < missing.size())
        logger()->info("{} of {} devices gave no one-time key: they will not get the room key",
                       missing.size() - created.value().size(), missing.size());
    return Done{};
}

std::string CryptoCoordinator::next_txn_id()
{
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return "otd-" + std::to_string(now) + "-" + std::to_string(++txn_counter_);
}

Result<Done> CryptoCoordinator::save()
{
    SyncBatchWrites writes;
    writes.outgoing = to_device_;
    auto saved = store_.commit(writes);
    if (saved)
        to_device_.clear();
    return saved;
}

void CryptoCoordinator::queue_olm(const json& body)
{
    queue_to_device("m.room.encrypted", object_or_empty(body, "messages"));
}

void CryptoCoordinator::queue_to_device(const std::string& type, const json& messages)
{
    if (messages.empty())
        return;
    OutgoingMessage out;
    out.txn_id = next_txn_id();
    out.event_type = std::string{to_device_prefix} + type;
    out.content = messages.dump();
    out.priority = -1; // before the room messages it opens
    to_device_.push_back(std::move(out));
}

std::vector<OutgoingMessage> CryptoCoordinator::to_device_messages() const
{
    return to_device_;
}

void CryptoCoordinator::to_device_saved()
{
    to_device_.clear();
}

Result<bool> CryptoCoordinator::share_room_key_if_needed(const std::string& room_id)
{
    auto members = members_of(room_id);
    if (!members)
        return members.error();
    const std::vector<std::string> users(members.value().begin(), members.value().end());
    engine_.track_users(users);
    if (auto queried = query_outdated(users); !queried)
        return queried.error();
    auto devices = engine_.needs_room_key_share(room_id, users);
    if (!devices)
        return devices.error();
    std::vector<crypto::DeviceKey> no_session;
    if (!devices.value().empty()) {
        if (auto claimed = claim_sessions(devices.value()); !claimed)
            return claimed.error();
        auto body = engine_.share_room_key(room_id, devices.value());
        if (!body)
            return body.error();
        // The key must reach the devices before the message (§8.6.21): the outbox sends it
        // first, and it is saved with the ratchet steps it took before it leaves.
        queue_olm(body.value());
        no_session = engine_.devices_without_session(devices.value());
    }
    // Devices refused the key are told so, for their client to explain why it cannot read.
    if (const auto withheld = engine_.room_key_withheld(room_id, users, no_session);
        !withheld.empty()) {
        logger()->info("room key of {} withheld from devices of {} users", room_id,
                       withheld.size());
        queue_to_device("m.room_key.withheld", withheld);
    }
    return !devices.value().empty();
}

Result<Done> CryptoCoordinator::prepare(OutgoingMessage& message)
{
    if (!engine_.is_room_encrypted(message.room_id) || message.event_type == "m.room.encrypted")
        return Done{};
    if (auto shared = share_room_key_if_needed(message.room_id); !shared)
        return shared.error();
    const auto content = json::parse(message.content, nullptr, false);
    auto encrypted = engine_.encrypt_room_event(message.room_id, message.event_type, content);
    if (!encrypted)
        return encrypted.error();
    message.event_type = "m.room.encrypted";
    message.content = encrypted.value().dump();
    return Done{};
}

void CryptoCoordinator::share_ahead()
{
    // Rooms the bot has written in (their members are known): a session due for rotation, or
    // a member's new device, is served now rather than in front of the next reply.
    bool shared = false;
    std::vector<std::string> rooms;
    for (const auto& [room_id, members] : members_)
        if (engine_.is_room_encrypted(room_id))
            rooms.push_back(room_id);
    for (const auto& room_id : rooms) {
        if (auto done = share_room_key_if_needed(room_id); !done)
            logger()->info("room key of {} not shared ahead: {}", room_id, done.error().message);
        else
            shared = shared || done.value();
    }
    if (shared)
        if (auto saved = save(); !saved)
            logger()->warn("room keys shared ahead not saved: {}", saved.error().message);
}

bool CryptoCoordinator::has_preparation_work() const
{
    return std::any_of(members_.begin(), members_.end(), [this](const auto& room) {
        return engine_.next_room_key_wanted(room.first);
    });
}

bool CryptoCoordinator::prepare_ahead(std::chrono::steady_clock::time_point deadline)
{
    bool more = false;
    for (const auto& [room_id, members] : members_) {
        if (!engine_.next_room_key_wanted(room_id))
            continue;
        if (std::chrono::steady_clock::now() >= deadline) {
            more = true;
            break;
        }
        const auto readers = readers_of(room_id, members);
        auto prepared = engine_.prepare_next_room_key(
            room_id, std::vector<std::string>(readers.begin(), readers.end()), deadline);
        if (!prepared) {
            logger()->info("next room key of {} not prepared: {}", room_id,
                           prepared.error().message);
            continue;
        }
        more = more || prepared.value();
    }
    // The Olm ratchet steps are saved now, while nothing waits, rather than with the reply
    // that sends them.
    if (engine_.has_unsaved_changes())
        if (auto saved = save(); !saved)
            logger()->warn("room keys prepared ahead not saved: {}", saved.error().message);
    return more;
}

Result<Done> CryptoCoordinator::upload_keys(std::int64_t server_count, bool server_has_fallback)
{
    auto body = engine_.keys_upload(server_count, server_has_fallback);
    if (!body)
        return body.error();
    if (!body.value())
        return Done{};
    // New private keys on disk first: a key the server hands out must never be lost.
    if (auto saved = save(); !saved)
        return saved.error();
    auto uploaded = client_.keys_upload(*body.value());
    if (!uploaded)
        return uploaded.error();
    engine_.mark_keys_published();
    return save();
}

void CryptoCoordinator::after_commit(const CryptoSync& sync)
{
    if (const auto count = sync.one_time_key_counts.find("signed_curve25519");
        count != sync.one_time_key_counts.end() || sync.unused_fallback_key_types) {
        const auto server_count =
            count != sync.one_time_key_counts.end() ? count->second : std::int64_t{0};
        const bool has_fallback =
            !sync.unused_fallback_key_types ||
            std::find(sync.unused_fallback_key_types->begin(),
                      sync.unused_fallback_key_types->end(),
                      "signed_curve25519") != sync.unused_fallback_key_types->end();
        if (auto uploaded = upload_keys(server_count, has_fallback); !uploaded)
            logger()->warn("one-time keys not topped up: {} {}", uploaded.error().code,
                           uploaded.error().message);
    }
    if (auto wedged = engine_.take_wedged_devices(); !wedged.empty()) {
        if (auto claimed = claim_sessions(wedged); !claimed) {
            logger()->warn("no new Olm session for {} wedged devices: {}", wedged.size(),
                           claimed.error().message);
        } else if (auto body = engine_.encrypt_to_device(wedged, "m.dummy", json::object()); body) {
            queue_olm(body.value());
        }
        if (auto saved = save(); !saved)
            logger()->warn("m.dummy not saved: {}", saved.error().message);
    }
}

} // namespace opalebot::bot
