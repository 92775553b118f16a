#pragma once

#include "bot/crypto/messages.hpp"
#include "opalebot/result.hpp"

// JSON goes in and out of every call (request bodies, events), and some results hold it by value:
// the full header, not json_fwd.hpp.
#include <nlohmann/json.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace SQLite {
class Database;
}

namespace opalebot::bot::crypto {

inline constexpr std::string_view olm_algorithm = "m.olm.v1.curve25519-aes-sha2";
inline constexpr std::string_view megolm_algorithm = "m.megolm.v1.aes-sha2";

/// Error::errcode values of the engine (Error::kind is not_found for missing_key, invalid else).
namespace errcode {
/// No Megolm session yet: the event is queued, take_events_now_decryptable() returns it later.
inline constexpr std::string_view missing_key = "OPALEBOT_MISSING_KEY";
/// A message index already seen with another event id (matrix.md §8.5.14).
inline constexpr std::string_view replay = "OPALEBOT_REPLAY";
/// A check on keys, sender or recipient failed: the event is dropped.
inline constexpr std::string_view untrusted = "OPALEBOT_UNTRUSTED";
/// Not an event the engine can read (algorithm, shape, not for this device).
inline constexpr std::string_view bad_event = "OPALEBOT_BAD_EVENT";
/// No Olm session can decrypt it; the device is queued for an m.dummy (wedged session).
inline constexpr std::string_view olm_failure = "OPALEBOT_OLM_FAILURE";
/// The room has no outbound session shared yet: call needs_room_key_share first.
inline constexpr std::string_view not_shared = "OPALEBOT_NOT_SHARED";
} // namespace errcode

/// A device of a user.
struct DeviceKey {
    std::string user_id;
    std::string device_id;
    auto operator<=>(const DeviceKey&) const = default;
};

/// A device whose keys passed the /keys/query checks.
struct Device {
    std::string user_id;
    std::string device_id;
    std::string curve25519;
    std::string ed25519;
    bool cross_signed = false; ///< signed by its user's self-signing key, itself signed by master
};

/// Megolm rotation of a room, from its m.room.encryption content (spec defaults).
struct RoomEncryption {
    std::int64_t rotation_period_ms = 604'800'000;
    std::int64_t rotation_period_msgs = 100;
};

/// A room event the engine decrypted.
struct DecryptedEvent {
    std::string room_id;
    nlohmann::json event; ///< the event with its decrypted type and content (relations kept)
    std::string sender_curve25519;
    std::string sender_device; ///< empty when the sending device is not known (yet)
    /// The key came over Olm (not forwarded) from a known device of the sender whose ed25519 it
    /// claimed, and that device is cross-signed (matrix.md §8.5.17).
    bool verified = false;
};

/// What the engine needs that is not in the state file.
struct EngineOptions {
    /// Share room keys only with cross-signed devices (matrix.md §0.2, MSC4153).
    bool only_cross_signed_devices = false;
    /// Now; tests move it. Defaults to the system clock.
    std::function<std::chrono::system_clock::time_point()> clock;
};

/// The bot's end-to-end encryption (issue 7): one Olm account, the device lists of the users it
/// shares rooms with, Olm sessions, Megolm sessions in and out. It builds request bodies and reads
/// responses and events; it sends nothing itself. CryptoCoordinator is its one input path: it
/// hands it each /sync's to-device events, device lists and room state, in that order (§8.10).
///
/// Persistence: the engine keeps its state in memory and remembers what changed. persist(db)
/// writes the changes with the caller's connection and no transaction of its own, so StateStore
/// calls it inside the transaction that saves a sync batch and its next_batch (a crash loses the
/// batch and its keys together, and the server sends both again). After that transaction
/// commits, call saved(); make no other engine call between persist and saved. save() does all
/// three for callers without a transaction (start-up, tests). Olm and Megolm ratchets move when
/// the engine encrypts: save before sending what it returned, as the outbox stores ciphertext
/// before sending it (matrix.md §6). Not thread-safe: one thread (the sync thread) drives it.
class Engine {
public:
    /// Loads the crypto state of (user_id, device_id) from `db`, or creates an Olm account when
    /// there is none (unsaved until persist). `db` must outlive the engine (it reads replay
    /// records on demand). An Error for a wrong pickle key (or one under 16 bytes), a store of
    /// another user or device, or a storage failure.
    static Result<std::unique_ptr<Engine>> open(SQLite::Database& db, const std::string& user_id,
                                                const std::string& device_id,
                                                std::string pickle_key, EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    Engine(Engine&&) = delete;
    Engine& operator=(Engine&&) = delete;

    const std::string& user_id() const;
    const std::string& device_id() const;
    const std::string& curve25519_key() const;
    const std::string& ed25519_key() const;

    // --- persistence ---
    bool has_unsaved_changes() const;
    /// Writes the changes, inside the caller's transaction.
    Result<Done> persist(SQLite::Database& db);
    /// The caller's transaction committed what persist wrote.
    void saved();
    /// persist in a transaction of its own, then saved.
    Result<Done> save(SQLite::Database& db);

    // --- device identity (matrix.md §8.2) ---
    /// The signed device_keys object.
    Result<nlohmann::json> device_keys() const;
    /// The /keys/upload body with the device keys, until they are published.
    Result<nlohmann::json> device_keys_upload();
    /// The /keys/upload body that tops the server's `signed_curve25519` count up to
    /// min(50, max/2) and adds a fallback key when the server has no unused one
    /// (device_unused_fallback_key_types); nullopt when nothing is needed. The device keys are
    /// added while unpublished. The previous fallback key is forgotten an hour after a new one.
    Result<std::optional<nlohmann::json>> keys_upload(std::int64_t server_one_time_key_count,
                                                      bool server_has_unused_fallback_key);
    /// After a 200 from /keys/upload.
    void mark_keys_published();

    // --- device lists (§8.3) ---
    /// The members of encrypted rooms: users not yet tracked become tracked and outdated.
    void track_users(const std::vector<std::string>& users);
    /// device_lists.changed / .left of a sync, or the answer of GET /keys/changes after a restart.
    void on_device_lists(const std::vector<std::string>& changed,
                         const std::vector<std::string>& left);
    std::vector<std::string> users_needing_query() const;
    /// {"device_keys": {"@u": []}, "timeout": 10000}
    nlohmann::json keys_query_request(const std::vector<std::string>& users) const;
    /// Stores the devices whose self-signature checks (ids as requested, keys pinned: a device
    /// whose ed25519 changed is refused), and the cross-signing keys; devices the server no longer
    /// lists are forgotten. Only the users in `queried` are read.
    Result<Done> on_keys_query_response(const KeysQueryResponse& response,
                                        const std::vector<std::string>& queried);
    std::vector<Device> devices(const std::string& user_id) const;

    // --- Olm sessions ---
    /// Those of `devices` (known, not this one) with no Olm session yet.
    std::vector<DeviceKey> devices_without_session(const std::vector<DeviceKey>& devices) const;
    /// {"one_time_keys": {"@u": {"DEV": "signed_curve25519"}}, "timeout": 10000}
    nlohmann::json keys_claim_request(const std::vector<DeviceKey>& devices) const;
    /// Creates an outbound Olm session for each claimed key whose signature by its device checks;
    /// returns those devices.
    Result<std::vector<DeviceKey>> on_keys_claim_response(const KeysClaimResponse& response);
    /// The /sendToDevice/m.room.encrypted body: `type` + `content` Olm-encrypted for each device
    /// with a session (the others are left out and logged).
    Result<nlohmann::json> encrypt_to_device(const std::vector<DeviceKey>& devices,
                                             const std::string& type,
                                             const nlohmann::json& content);
    /// Devices whose Olm session failed to decrypt (at most once an hour each): claim a key for
    /// them, then send them encrypt_to_device(devices, "m.dummy", {}) (§8.4.12).
    std::vector<DeviceKey> take_wedged_devices();
    /// The users whose cross-signing identity changed (and was accepted) since the last call.
    std::vector<std::string> take_identity_changes();

    // --- incoming to-device (§8.4) ---
    /// One to-device event. m.room.encrypted (Olm) is decrypted and checked, then m.room_key,
    /// m.forwarded_room_key (own cross-signed devices only) and m.room_key.withheld (logged) are
    /// acted on; returns the decrypted event (the payload's type, sender and content). A
    /// plaintext event is returned as it is (the caller handles m.room_key_request and the like).
    Result<ToDeviceEvent> on_to_device(const ToDeviceEvent& event);

    // --- key requests (§8.7) ---
    /// An m.room_key_request of `sender` (to-device, in clear). Answered only for the bot's own
    /// cross-signed devices and sessions it has: the /sendToDevice/m.room.encrypted body of an
    /// m.forwarded_room_key from the first index it knows. nullopt when the request is ignored
    /// (other users, unverified devices, cancellations, unknown sessions); errcode::not_shared
    /// when there is no Olm session with the device yet (claim a key, then call again).
    Result<std::optional<nlohmann::json>> on_room_key_request(const std::string& sender,
                                                              const RoomKeyRequest& request);

    // --- rooms and Megolm (§8.5, §8.6) ---
    /// m.room.encryption seen: the room is encrypted for good.
    void set_room_encryption(const std::string& room_id, const RoomEncryption& settings);
    bool is_room_encrypted(const std::string& room_id) const;
    /// A member left (or was kicked, banned) or history visibility changed: the next message uses
    /// a new session.
    void rotate_room_key(const std::string& room_id);
    /// The devices of `members` that must get the room key before the next message. Starts a new
    /// session when there is none, when it is too old or used too often, or when a device it was
    /// shared with is gone. Outdated members must be queried first.
    Result<std::vector<DeviceKey>> needs_room_key_share(const std::string& room_id,
                                                        const std::vector<std::string>& members);
    /// Prepares the room's next session while nothing waits (during the long-poll): its key is
    /// Olm-encrypted for the devices of `members`, and share_room_key sends those messages when
    /// the session starts (a member left, the session is due), so that the reply behind it
    /// waits for no Olm work (issue 15). Works until `deadline` and goes on at the next call;
    /// true while work remains. Nothing to do when the room has no session in use yet. Save
    /// afterwards: the Olm sessions moved on.
    Result<bool> prepare_next_room_key(const std::string& room_id,
                                       const std::vector<std::string>& members,
                                       std::chrono::steady_clock::time_point deadline =
                                           std::chrono::steady_clock::time_point::max());
    /// Whether prepare_next_room_key has work for the room: a session is in use and the next
    /// one is not prepared yet, or not for every device it was begun for.
    bool next_room_key_wanted(const std::string& room_id) const;
    /// The /sendToDevice/m.room.encrypted body carrying the room's m.room_key to `devices`
    /// (those with an Olm session); they are then recorded as served.
    Result<nlohmann::json> share_room_key(const std::string& room_id,
                                          const std::vector<DeviceKey>& devices);
    /// The /sendToDevice/m.room_key.withheld `messages` (sent in clear) for the devices of
    /// `members` left without the room's current key: `m.unverified` for those not cross-signed
    /// when only cross-signed devices are served, `m.no_olm` for `no_session` (no one-time key
    /// could be claimed). Each device is told once per session. Call after share_room_key.
    nlohmann::json room_key_withheld(const std::string& room_id,
                                     const std::vector<std::string>& members,
                                     const std::vector<DeviceKey>& no_session);
    /// The content of the m.room.encrypted event for `type` + `content`; m.relates_to is copied
    /// to the cleartext.
    Result<nlohmann::json> encrypt_room_event(const std::string& room_id, const std::string& type,
                                              const nlohmann::json& content);
    /// An m.room.encrypted timeline event of `room_id`. errcode::missing_key: queued (no
    /// session, or one known only from a later index); errcode::replay: rejected.
    Result<DecryptedEvent> decrypt_room_event(const std::string& room_id,
                                              const nlohmann::json& event);
    /// Queued events whose key has arrived, decrypted (those that still fail are dropped, logged).
    std::vector<DecryptedEvent> take_events_now_decryptable();
    /// Queued events older than `max_wait`, given up (for a "could not read" reply), with their
    /// "room_id".
    std::vector<nlohmann::json> take_expired_events(std::chrono::milliseconds max_wait);
    std::size_t pending_event_count() const;

    // --- cross-signing (§8.9) ---
    /// The /keys/device_signing/upload body; creates and stores the master, self-signing and
    /// user-signing keys (seeds sealed with the pickle key) the first time, the same after.
    Result<nlohmann::json> cross_signing_upload();
    /// The /keys/signatures/upload body: this device's keys signed by the self-signing key.
    Result<nlohmann::json> own_device_signature_upload();
    /// The same for another device of the bot, once a person has verified it: its self-signed
    /// device_keys object, signed by the self-signing key.
    Result<nlohmann::json> sign_own_device(const nlohmann::json& device_keys);
    bool has_cross_signing_keys() const;

private:
    struct Impl;
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace opalebot::bot::crypto
