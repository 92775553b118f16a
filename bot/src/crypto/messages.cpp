#include "bot/crypto/messages.hpp"

#include "opalebot/log.hpp"

#include <utility>

#include "json_fields.hpp"

namespace opalebot::bot::crypto {
namespace {

using nlohmann::json;

/// Copying, dumping and canonicalising JSON recurse: a peer's object nested thousands deep must
/// be refused before that, not crash the bot (parse_untrusted already bounds what comes in).
constexpr std::size_t max_depth = max_json_depth;

auto logger()
{
    return log::get("bot.crypto");
}

/// Whether `root` nests at most max_depth arrays and objects deep; walks without recursion.
bool shallow_enough(const json& root)
{
    std::vector<std::pair<const json*, std::size_t>> stack{{&root, 1}};
    while (!stack.empty()) {
        const auto [node, depth] = stack.back();
        stack.pop_back();
        if (!node->is_structured())
            continue;
        if (depth > max_depth)
            return false;
        for (const auto& child : *node)
            stack.emplace_back(&child, depth + 1);
    }
    return true;
}

/// The strings of the array at `key`; other items are skipped.
std::vector<std::string> strings_at(const json& j, const char* key, std::string_view what)
{
    std::vector<std::string> out;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_array())
        return out;
    for (const auto& item : *it) {
        if (item.is_string())
            out.push_back(item.get<std::string>());
        else
            logger()->warn("{}: an item of {} that is not a string skipped", what, key);
    }
    return out;
}

OlmEncrypted parse_olm_encrypted(const json& content)
{
    OlmEncrypted out{string_at(content, "algorithm"), string_at(content, "sender_key"), {}};
    const auto* ciphertext = object_at(content, "ciphertext");
    if (ciphertext == nullptr)
        return out;
    for (const auto& [curve, message] : ciphertext->items()) {
        const auto type = integer_at(message, "type");
        auto body = string_at(message, "body");
        if (!type || *type < 0 || body.empty()) {
            logger()->warn("Olm ciphertext for {} malformed: skipped", curve);
            continue;
        }
        out.ciphertext.emplace(curve,
                               OlmCiphertext{static_cast<std::size_t>(*type), std::move(body)});
    }
    return out;
}

RoomKey parse_room_key(const json& content)
{
    return {string_at(content, "algorithm"), string_at(content, "room_id"),
            string_at(content, "session_id"), string_at(content, "session_key")};
}

ForwardedRoomKey parse_forwarded_room_key(const json& content)
{
    return {parse_room_key(content), string_at(content, "sender_key"),
            string_at(content, "sender_claimed_ed25519_key"),
            strings_at(content, "forwarding_curve25519_key_chain", "m.forwarded_room_key")};
}

RoomKeyWithheld parse_withheld(const json& content)
{
    return {string_at(content, "algorithm"),  string_at(content, "room_id"),
            string_at(content, "session_id"), string_at(content, "sender_key"),
            string_at(content, "code"),       string_at(content, "reason")};
}

RoomKeyRequest parse_key_request(const json& content)
{
    const auto& body = object_or_empty(content, "body");
    return {string_at(content, "action"),     string_at(content, "requesting_device_id"),
            string_at(content, "request_id"), string_at(body, "algorithm"),
            string_at(body, "room_id"),       string_at(body, "sender_key"),
            string_at(body, "session_id")};
}

/// A signed object worth keeping: an object, not nested too deep.
bool keepable(const json& object, std::string_view what)
{
    if (object.is_object() && shallow_enough(object))
        return true;
    logger()->warn("{}: not an object, or nested too deep: skipped", what);
    return false;
}

DeviceKeys parse_device_keys(const json& keys, std::string_view user, std::string_view device)
{
    DeviceKeys out;
    if (!keepable(keys, "/keys/query device keys")) {
        logger()->warn("device keys of {} {} unreadable", user, device);
        return out;
    }
    out.user_id = string_at(keys, "user_id");
    out.device_id = string_at(keys, "device_id");
    const auto& key_map = object_or_empty(keys, "keys");
    out.curve25519 = string_at(key_map, ("curve25519:" + out.device_id).c_str());
    out.ed25519 = string_at(key_map, ("ed25519:" + out.device_id).c_str());
    out.object = keys;
    return out;
}

std::optional<CrossSigningKey> parse_cross_signing_key(const json& key)
{
    if (!keepable(key, "/keys/query cross-signing key"))
        return std::nullopt;
    CrossSigningKey out;
    out.user_id = string_at(key, "user_id");
    out.usage = strings_at(key, "usage", "cross-signing key");
    for (const auto& [id, value] : object_or_empty(key, "keys").items()) {
        if (!value.is_string()) {
            logger()->warn("cross-signing key {} of {} is not a string: skipped", id, out.user_id);
            return std::nullopt;
        }
        out.keys.emplace(id, value.get<std::string>());
    }
    out.object = key;
    return out;
}

void parse_cross_signing_keys(const json& response, const char* field,
                              std::map<std::string, CrossSigningKey, std::less<>>& out)
{
    for (const auto& [user, key] : object_or_empty(response, field).items())
        if (auto parsed = parse_cross_signing_key(key))
            out.emplace(user, std::move(*parsed));
}

} // namespace

ToDeviceContent parse_to_device_content(std::string_view type, const json& content)
{
    if (!content.is_object())
        return OtherContent{};
    if (type == "m.room.encrypted")
        return parse_olm_encrypted(content);
    if (type == "m.room_key")
        return parse_room_key(content);
    if (type == "m.forwarded_room_key")
        return parse_forwarded_room_key(content);
    if (type == "m.room_key.withheld")
        return parse_withheld(content);
    if (type == "m.room_key_request")
        return parse_key_request(content);
    if (!shallow_enough(content)) {
        logger()->warn("{} content nested too deep: read as empty", type);
        return OtherContent{};
    }
    return OtherContent{content};
}

ToDeviceEvent parse_to_device_event(const json& event)
{
    ToDeviceEvent out;
    out.type = string_at(event, "type");
    out.sender = string_at(event, "sender");
    const auto content = event.find("content"); // end() when `event` is not an object
    out.content =
        content != event.end() ? parse_to_device_content(out.type, *content) : OtherContent{};
    return out;
}

std::optional<OlmPayload> parse_olm_payload(std::string_view plaintext)
{
    const auto payload = parse_untrusted(plaintext, "Olm payload");
    const auto content = payload.find("content"); // end() when `payload` is not an object
    const auto type = payload.find("type");
    if (content == payload.end() || type == payload.end() || !type->is_string())
        return std::nullopt;
    OlmPayload out;
    out.type = type->get<std::string>();
    out.sender = string_at(payload, "sender");
    out.sender_device = string_at(payload, "sender_device");
    out.sender_ed25519 = string_at(object_or_empty(payload, "keys"), "ed25519");
    out.recipient = string_at(payload, "recipient");
    out.recipient_ed25519 = string_at(object_or_empty(payload, "recipient_keys"), "ed25519");
    out.content = parse_to_device_content(out.type, *content); // not an object: OtherContent{}
    return out;
}

Result<KeysQueryResponse> parse_keys_query_response(const json& response)
{
    const auto* device_keys = object_at(response, "device_keys");
    if (device_keys == nullptr)
        return Error{Error::Kind::parse, 0, {}, "/keys/query: no device_keys object", {}, false};
    KeysQueryResponse out;
    for (const auto& [user, devices] : device_keys->items()) {
        if (!devices.is_object()) {
            logger()->warn("/keys/query: devices of {} are not an object: skipped", user);
            continue;
        }
        auto& listed = out.device_keys[user];
        for (const auto& [device_id, keys] : devices.items())
            listed.emplace(device_id, parse_device_keys(keys, user, device_id));
    }
    parse_cross_signing_keys(response, "master_keys", out.master_keys);
    parse_cross_signing_keys(response, "self_signing_keys", out.self_signing_keys);
    return out;
}

KeysClaimResponse parse_keys_claim_response(const json& response)
{
    KeysClaimResponse out;
    for (const auto& [user, devices] : object_or_empty(response, "one_time_keys").items()) {
        if (!devices.is_object()) {
            logger()->warn("/keys/claim: keys of {} are not an object: skipped", user);
            continue;
        }
        for (const auto& [device_id, keys] : devices.items()) {
            if (!keys.is_object() || keys.empty()) {
                logger()->warn("/keys/claim: no key for {} {}: skipped", user, device_id);
                continue;
            }
            const auto first = keys.begin(); // not items(): its proxy is a temporary
            if (!keepable(first.value(), "/keys/claim key"))
                continue;
            out.one_time_keys[user].emplace(
                device_id, ClaimedKey{first.key(), string_at(first.value(), "key"), first.value()});
        }
    }
    return out;
}

std::int64_t KeysUploadResponse::signed_curve25519_count() const
{
    const auto it = one_time_key_counts.find("signed_curve25519");
    return it != one_time_key_counts.end() ? it->second : 0;
}

KeysUploadResponse parse_keys_upload_response(const json& response)
{
    KeysUploadResponse out;
    for (const auto& [algorithm, count] :
         object_or_empty(response, "one_time_key_counts").items()) {
        if (count.is_number_integer())
            out.one_time_key_counts.emplace(algorithm, count.get<std::int64_t>());
        else
            logger()->warn("/keys/upload: count of {} is not an integer: skipped", algorithm);
    }
    return out;
}

KeysChanges parse_keys_changes(const json& response)
{
    return {strings_at(response, "changed", "/keys/changes"),
            strings_at(response, "left", "/keys/changes")};
}

} // namespace opalebot::bot::crypto
