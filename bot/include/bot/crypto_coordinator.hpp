#pragma once

#include "bot/crypto/engine.hpp"
#include "bot/events.hpp"
#include "bot/matrix_client.hpp"
#include "bot/state_store.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace opalebot::bot {

/// Drives the crypto engine against the homeserver (issue 7, notes/matrix.md §8): the engine
/// builds and reads the bodies, this class sends them at the right moment. One thread (the sync
/// thread) uses it, as the engine requires.
class CryptoCoordinator {
public:
    /// `password`: answers the server when replacing the cross-signing keys asks for it.
    CryptoCoordinator(MatrixClient& client, StateStore& store, crypto::Engine& engine,
                      MatrixClient::PasswordAuth password = {});

    /// Start-up: the account saved before anything is uploaded, the device keys and one-time
    /// keys published, the cross-signing keys uploaded and the device signed by them. A failure
    /// of the cross-signing part is logged, not fatal (a server may ask for a password).
    Result<Done> start();

    /// A batch's to-device events and device-list changes, before its rooms are handled.
    /// `since` is the token the batch was asked from (empty on a first sync); after a restart the
    /// device lists that changed meanwhile are asked with /keys/changes.
    void receive(const CryptoSync& sync, const std::string& since, const std::string& next_batch);

    /// A state or timeline event of `room_id`: m.room.encryption (Megolm only) makes it
    /// encrypted, memberships keep the member list; any membership but join or invite rotates the
    /// room key, as does a history visibility change. The engine's only source of room state.
    void observe(const std::string& room_id, const Event& event);

    bool is_encrypted(const std::string& room_id) const;

    /// The plaintext event of an m.room.encrypted one, parsed like any timeline event (with
    /// the outer event id, sender and timestamps). Errors: see crypto::errcode (missing_key:
    /// queued, comes back from take_decryptable()).
    Result<Event> decrypt(const std::string& room_id, const Encrypted& event);

    /// Queued events whose key has now arrived, with their room. They are given again by the
    /// next call until batch_saved(): a batch that is not saved loses none of them.
    std::vector<std::pair<std::string, Event>> take_decryptable();

    /// Queued events whose key never came within `max_wait`: room id, event id, sender.
    struct Undecryptable {
        std::string room_id;
        std::string event_id;
        std::string sender;
        std::string thread_root;
    };
    /// Given again until batch_saved(), as take_decryptable().
    std::vector<Undecryptable> take_undecryptable(std::chrono::milliseconds max_wait);

    /// The batch that handled what take_decryptable() and take_undecryptable() gave is saved.
    void batch_saved();

    /// Encrypts `message` in place when its room is encrypted: the members' devices get the room
    /// key over Olm first (keys queried and claimed as needed), and the content becomes an
    /// m.room.encrypted event. A failure leaves the message unencrypted and must stop it from
    /// being stored: a plaintext is never sent into an encrypted room.
    Result<Done> prepare(OutgoingMessage& message);

    /// Between syncs, after a saved batch: in the encrypted rooms the bot writes in, a room key
    /// due for rotation or missing on a member's new device is shared now, so that the next
    /// reply does not wait for it.
    void share_ahead();
    /// Whether prepare_ahead has work: a room's next session to prepare (issue 15).
    bool has_preparation_work() const;
    /// Prepares the next session of the rooms it knows until `deadline`, on the loop's thread
    /// while the long-poll waits on another: a member leaving then costs the reply no Olm work.
    /// True while work remains.
    bool prepare_ahead(std::chrono::steady_clock::time_point deadline);

    /// After a batch is saved: one-time keys topped up (and the fallback key renewed) as the
    /// server counts them, wedged Olm sessions unstuck with m.dummy.
    void after_commit(const CryptoSync& sync);

    /// The to-device messages made since the last save (room keys, withheld notices, answers to
    /// key requests, m.dummy), as outbox entries: the caller commits them with the batch whose
    /// ratchet steps they took, then calls to_device_saved(). Never sent before that commit: a
    /// crash in between would desynchronise the peer's Olm session (spec: persist first).
    std::vector<OutgoingMessage> to_device_messages() const;
    void to_device_saved();

    /// The users whose encryption identity changed since the last call (for the alerts).
    std::vector<std::string> take_identity_changes() { return engine_.take_identity_changes(); }

private:
    Result<Done> query_outdated(const std::vector<std::string>& users);
    /// Shares the room key with the members' devices that lack it; true when it did.
    Result<bool> share_room_key_if_needed(const std::string& room_id);
    Result<Done> claim_sessions(const std::vector<crypto::DeviceKey>& devices);
    Result<Done> upload_keys(std::int64_t server_count, bool server_has_fallback);
    /// The /sendToDevice/m.room.encrypted body of the engine, queued.
    void queue_olm(const nlohmann::json& body);
    void queue_to_device(const std::string& type, const nlohmann::json& messages);
    /// Commits the engine's changes with the queued to-device messages.
    Result<Done> save();
    Result<std::set<std::string>> members_of(const std::string& room_id);
    std::string next_txn_id();

    MatrixClient& client_;
    StateStore& store_;
    crypto::Engine& engine_;
    MatrixClient::PasswordAuth password_auth_;
    struct Members {
        std::set<std::string> joined;
        std::set<std::string> invited;
    };
    std::map<std::string, Members, std::less<>> members_; ///< loaded on demand
    /// Who reads the room: its joined members, and its invited ones unless its history is for
    /// joined members only.
    std::set<std::string> readers_of(const std::string& room_id, const Members& members) const;
    std::set<std::string, std::less<>> joined_only_; ///< history_visibility "joined" rooms
    std::vector<std::pair<std::string, Event>> decryptable_in_flight_;
    std::vector<Undecryptable> undecryptable_in_flight_;
    bool restarted_ = true; ///< the first batch of this run: /keys/changes when it resumes
    std::uint64_t txn_counter_ = 0;
    std::vector<OutgoingMessage> to_device_; ///< queued, not saved yet
};

} // namespace opalebot::bot
