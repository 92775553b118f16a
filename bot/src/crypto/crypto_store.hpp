#pragma once

// The crypto tables of the bot's state file (issue 7, matrix.md §8.8). Rows hold pickles (libolm's
// AES-256 + HMAC encryption with the pickle key) and public data only; the engine decides what to
// write and when. Every function throws SQLite::Exception; the engine turns it into an Error.

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::bot::crypto::store {

/// Creates or migrates the crypto tables (component "crypto" of the state file's schema versions).
/// Throws for a newer schema.
void migrate(SQLite::Database& db);

struct AccountRow {
    std::string user_id;
    std::string device_id;
    std::string pickle;
    bool device_keys_published = false;
    std::int64_t fallback_generated_ms = 0; ///< 0: no fallback key yet
    bool old_fallback_pending = false;      ///< the previous fallback key is still usable
    std::string master_seed;                ///< sealed (olm::seal_secret), empty before bootstrap
    std::string self_signing_seed;
    std::string user_signing_seed;
};

struct UserRow {
    std::string user_id;
    bool outdated = true;
    std::string master_key;       ///< the master_keys object, JSON, empty when unknown
    std::string self_signing_key; ///< JSON, empty when unknown
};

struct DeviceRow {
    std::string user_id;
    std::string device_id;
    std::string curve25519;
    std::string ed25519;
    std::string keys_json; ///< the device_keys object as queried
    bool cross_signed = false;
};

struct OlmSessionRow {
    std::string session_id;
    std::string sender_key; ///< the other device's curve25519
    std::string pickle;
    std::int64_t created_ms = 0;
    std::int64_t last_used = 0; ///< a strictly increasing stamp (ms based): the newest wins
};

struct InboundGroupSessionRow {
    std::string room_id;
    std::string session_id;
    std::string sender_key;     ///< curve25519 of the device that created the session
    std::string sender_ed25519; ///< the ed25519 it claimed in the Olm payload
    std::string pickle;
    bool forwarded = false; ///< came as m.forwarded_room_key
    std::int64_t received_ms = 0;
};

struct OutboundGroupSessionRow {
    std::string room_id;
    std::string session_id;
    std::string pickle;
    std::int64_t created_ms = 0;
    std::int64_t message_count = 0;
    std::string shared_with; ///< JSON [[user, device, curve25519], …]; a 4th element: withheld
};

struct PendingEventRow {
    std::string event_id;
    std::string room_id;
    std::string session_id;
    std::string event_json;
    std::int64_t received_ms = 0;
};

struct RoomRow {
    std::string room_id;
    std::int64_t rotation_period_ms = 0;
    std::int64_t rotation_period_msgs = 0;
};

std::optional<AccountRow> load_account(SQLite::Database& db);
std::vector<UserRow> load_users(SQLite::Database& db);
std::vector<DeviceRow> load_devices(SQLite::Database& db);
std::vector<OlmSessionRow> load_olm_sessions(SQLite::Database& db);
/// One inbound group session, when the table has it (they are read on demand).
std::optional<InboundGroupSessionRow> load_inbound_group_session(SQLite::Database& db,
                                                                 const std::string& room_id,
                                                                 const std::string& session_id);
std::vector<OutboundGroupSessionRow> load_outbound_group_sessions(SQLite::Database& db);
std::vector<PendingEventRow> load_pending_events(SQLite::Database& db);
std::vector<RoomRow> load_rooms(SQLite::Database& db);
/// The event id seen at `index` of a Megolm session, if any.
std::optional<std::string> seen_index(SQLite::Database& db, const std::string& room_id,
                                      const std::string& session_id, std::uint32_t index);

void save_account(SQLite::Database& db, const AccountRow& row);
void save_user(SQLite::Database& db, const UserRow& row);
void delete_user(SQLite::Database& db, const std::string& user_id);
void save_device(SQLite::Database& db, const DeviceRow& row);
void delete_device(SQLite::Database& db, const std::string& user_id, const std::string& device_id);
void save_olm_session(SQLite::Database& db, const OlmSessionRow& row);
void save_inbound_group_session(SQLite::Database& db, const InboundGroupSessionRow& row);
void save_outbound_group_session(SQLite::Database& db, const OutboundGroupSessionRow& row);
void delete_outbound_group_session(SQLite::Database& db, const std::string& room_id);
/// Every room session the bot sends with, in a copy of the state file (a backup): a bot restored
/// from it must start new ones, not send again at indexes it used after the copy was taken.
void forget_outbound_group_sessions(SQLite::Database& db);
void delete_olm_session(SQLite::Database& db, const std::string& session_id);
void save_seen_index(SQLite::Database& db, const std::string& room_id,
                     const std::string& session_id, std::uint32_t index,
                     const std::string& event_id);
void save_pending_event(SQLite::Database& db, const PendingEventRow& row);
void delete_pending_event(SQLite::Database& db, const std::string& event_id);
void save_room(SQLite::Database& db, const RoomRow& row);

} // namespace opalebot::bot::crypto::store
