#pragma once

// The to-device messages and key-server answers the crypto side reads, as types. The parsers are
// written like events.cpp: they never throw, a member that is missing or of another type reads
// as empty, an unknown event type falls back to OtherContent, and a malformed item of a list or
// map is skipped with a warning. Objects that carry signatures keep their JSON: a signature is
// checked over the object exactly as it was received (canonical_json.hpp).
//
// OtherContent and the signed objects hold JSON by value: the full header, not json_fwd.hpp.
#include "opalebot/result.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace opalebot::bot::crypto {

// --- to-device contents (spec "Send-to-Device messaging", "End-to-End Encryption") ---

/// One Olm message for one device: type 0 is a pre-key message, 1 a normal one.
struct OlmCiphertext {
    std::size_t type = 0;
    std::string body;
};

/// m.room.encrypted sent to a device (m.olm.v1.curve25519-aes-sha2).
struct OlmEncrypted {
    std::string algorithm;
    std::string sender_key; ///< the sending device's curve25519
    std::map<std::string, OlmCiphertext, std::less<>> ciphertext; ///< by recipient curve25519
};

/// m.room_key: a Megolm session shared by its creator.
struct RoomKey {
    std::string algorithm;
    std::string room_id;
    std::string session_id;
    std::string session_key;
};

/// m.forwarded_room_key: a Megolm session exported by a device that received it.
struct ForwardedRoomKey {
    RoomKey key;            ///< session_key is an export, from its first known index
    std::string sender_key; ///< curve25519 of the device that created the session
    std::string sender_claimed_ed25519_key;
    std::vector<std::string> forwarding_curve25519_key_chain;
};

/// m.room_key.withheld: a sender says it will not share a session.
struct RoomKeyWithheld {
    std::string algorithm;
    std::string room_id;
    std::string session_id;
    std::string sender_key;
    std::string code; ///< m.unverified, m.blacklisted, …
    std::string reason;
};

/// m.room_key_request: a device asks for a Megolm session (or cancels its request).
struct RoomKeyRequest {
    std::string action; ///< request, request_cancellation
    std::string requesting_device_id;
    std::string request_id;
    std::string algorithm; ///< body.algorithm, and so on
    std::string room_id;
    std::string sender_key;
    std::string session_id;
};

/// Any other content (m.dummy, …), kept as it came: always an object.
struct OtherContent {
    nlohmann::json content = nlohmann::json::object();
};

using ToDeviceContent = std::variant<OtherContent, OlmEncrypted, RoomKey, ForwardedRoomKey,
                                     RoomKeyWithheld, RoomKeyRequest>;

/// A to-device event, as /sync carries it, or as the engine decrypted it.
struct ToDeviceEvent {
    std::string type;
    std::string sender;
    ToDeviceContent content;
};

/// The plaintext of an Olm message (spec "m.olm.v1.curve25519-aes-sha2").
struct OlmPayload {
    std::string type;
    std::string sender;
    std::string sender_device;
    std::string sender_ed25519; ///< keys.ed25519: the key the sender claims
    std::string recipient;
    std::string recipient_ed25519; ///< recipient_keys.ed25519
    ToDeviceContent content;
};

/// The content of a to-device event of `type`; OtherContent for the types not listed above and
/// for a content that is not an object.
ToDeviceContent parse_to_device_content(std::string_view type, const nlohmann::json& content);

/// A to-device event of a /sync response.
ToDeviceEvent parse_to_device_event(const nlohmann::json& event);

/// The decrypted text of an Olm message; nullopt when it is not an event (an object with a
/// string `type` and a `content`).
std::optional<OlmPayload> parse_olm_payload(std::string_view plaintext);

// --- key server answers (spec "Key management API") ---

/// A device_keys object of /keys/query.
struct DeviceKeys {
    std::string user_id;
    std::string device_id;
    std::string curve25519; ///< keys["curve25519:<device_id>"]
    std::string ed25519;    ///< keys["ed25519:<device_id>"]
    nlohmann::json object;  ///< as received: its signatures are checked over it, it is stored
};

/// A cross-signing key (master, self-signing) of /keys/query.
struct CrossSigningKey {
    std::string user_id;
    std::vector<std::string> usage;
    std::map<std::string, std::string, std::less<>> keys; ///< "ed25519:<public>" -> public
    nlohmann::json object;                                ///< as received, as DeviceKeys::object
};

/// POST /keys/query.
struct KeysQueryResponse {
    /// user -> device id as listed -> its keys. A listed device whose keys are not an object is
    /// kept with empty fields: it is still listed, so the engine does not forget it.
    std::map<std::string, std::map<std::string, DeviceKeys, std::less<>>, std::less<>> device_keys;
    std::map<std::string, CrossSigningKey, std::less<>> master_keys;
    std::map<std::string, CrossSigningKey, std::less<>> self_signing_keys;
};

/// An Error (parse) when the body has no device_keys object; otherwise malformed users and keys
/// are left out.
Result<KeysQueryResponse> parse_keys_query_response(const nlohmann::json& response);

/// One key handed out by /keys/claim: a signed one-time key, or the fallback key.
struct ClaimedKey {
    std::string key_id;    ///< "signed_curve25519:AAAAHQ"
    std::string key;       ///< the curve25519 public key
    nlohmann::json object; ///< {"key": …, "signatures": …}, as received
};

/// POST /keys/claim: user -> device -> the first key given for it.
struct KeysClaimResponse {
    std::map<std::string, std::map<std::string, ClaimedKey, std::less<>>, std::less<>>
        one_time_keys;
};

KeysClaimResponse parse_keys_claim_response(const nlohmann::json& response);

/// POST /keys/upload.
struct KeysUploadResponse {
    std::map<std::string, std::int64_t, std::less<>> one_time_key_counts;

    /// The count of signed_curve25519 keys the server holds, 0 when it does not say.
    std::int64_t signed_curve25519_count() const;
};

KeysUploadResponse parse_keys_upload_response(const nlohmann::json& response);

/// GET /keys/changes.
struct KeysChanges {
    std::vector<std::string> changed;
    std::vector<std::string> left;
};

KeysChanges parse_keys_changes(const nlohmann::json& response);

} // namespace opalebot::bot::crypto
