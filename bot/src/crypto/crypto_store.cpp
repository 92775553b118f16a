#include "crypto_store.hpp"

#include "opalebot/state_database.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/VariadicBind.h>

#include <array>

namespace opalebot::bot::crypto::store {
namespace {

constexpr std::array<const char*, 1> schema_steps = {R"sql(
CREATE TABLE crypto_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    pickle TEXT NOT NULL,
    device_keys_published INTEGER NOT NULL,
    fallback_generated_ms INTEGER NOT NULL,
    old_fallback_pending INTEGER NOT NULL,
    master_seed TEXT,
    self_signing_seed TEXT,
    user_signing_seed TEXT
);
CREATE TABLE crypto_users (
    user_id TEXT PRIMARY KEY,
    outdated INTEGER NOT NULL,
    master_key TEXT,
    self_signing_key TEXT
);
CREATE TABLE crypto_devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    curve25519 TEXT NOT NULL,
    ed25519 TEXT NOT NULL,
    keys_json TEXT NOT NULL,
    cross_signed INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE crypto_olm_sessions (
    session_id TEXT PRIMARY KEY,
    sender_key TEXT NOT NULL,
    pickle TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_used INTEGER NOT NULL
);
CREATE INDEX crypto_olm_sessions_sender ON crypto_olm_sessions(sender_key);
CREATE TABLE crypto_inbound_group_sessions (
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    sender_ed25519 TEXT NOT NULL,
    pickle TEXT NOT NULL,
    forwarded INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (room_id, session_id)
);
CREATE TABLE crypto_outbound_group_sessions (
    room_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    pickle TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    shared_with TEXT NOT NULL
);
CREATE TABLE crypto_seen_indexes (
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    message_index INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, session_id, message_index)
);
CREATE TABLE crypto_pending_events (
    event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    event_json TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE TABLE crypto_rooms (
    room_id TEXT PRIMARY KEY,
    rotation_period_ms INTEGER NOT NULL,
    rotation_period_msgs INTEGER NOT NULL
);
)sql"};
constexpr Schema schema{"crypto", schema_steps, "crypto_schema"};

std::string text(const SQLite::Column& column)
{
    return column.isNull() ? std::string{} : column.getString();
}

} // namespace

void migrate(SQLite::Database& db)
{
    opalebot::migrate(db, schema);
}

std::optional<AccountRow> load_account(SQLite::Database& db)
{
    SQLite::Statement query{db, "SELECT user_id, device_id, pickle, device_keys_published,"
                                " fallback_generated_ms, old_fallback_pending, master_seed,"
                                " self_signing_seed, user_signing_seed FROM crypto_account"};
    if (!query.executeStep())
        return std::nullopt;
    AccountRow row;
    row.user_id = query.getColumn(0).getString();
    row.device_id = query.getColumn(1).getString();
    row.pickle = query.getColumn(2).getString();
    row.device_keys_published = query.getColumn(3).getInt() != 0;
    row.fallback_generated_ms = query.getColumn(4).getInt64();
    row.old_fallback_pending = query.getColumn(5).getInt() != 0;
    row.master_seed = text(query.getColumn(6));
    row.self_signing_seed = text(query.getColumn(7));
    row.user_signing_seed = text(query.getColumn(8));
    return row;
}

std::vector<UserRow> load_users(SQLite::Database& db)
{
    std::vector<UserRow> rows;
    SQLite::Statement query{
        db, "SELECT user_id, outdated, master_key, self_signing_key FROM crypto_users"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getInt() != 0,
                        text(query.getColumn(2)), text(query.getColumn(3))});
    return rows;
}

std::vector<DeviceRow> load_devices(SQLite::Database& db)
{
    std::vector<DeviceRow> rows;
    SQLite::Statement query{db, "SELECT user_id, device_id, curve25519, ed25519, keys_json,"
                                " cross_signed FROM crypto_devices"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                        query.getColumn(2).getString(), query.getColumn(3).getString(),
                        query.getColumn(4).getString(), query.getColumn(5).getInt() != 0});
    return rows;
}

std::vector<OlmSessionRow> load_olm_sessions(SQLite::Database& db)
{
    std::vector<OlmSessionRow> rows;
    SQLite::Statement query{db, "SELECT session_id, sender_key, pickle, created_ms, last_used"
                                " FROM crypto_olm_sessions"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                        query.getColumn(2).getString(), query.getColumn(3).getInt64(),
                        query.getColumn(4).getInt64()});
    return rows;
}

std::optional<InboundGroupSessionRow> load_inbound_group_session(SQLite::Database& db,
                                                                 const std::string& room_id,
                                                                 const std::string& session_id)
{
    SQLite::Statement query{db, "SELECT room_id, session_id, sender_key, sender_ed25519, pickle,"
                                " forwarded, received_ms FROM crypto_inbound_group_sessions"
                                " WHERE room_id = ? AND session_id = ?"};
    SQLite::bind(query, room_id, session_id);
    if (!query.executeStep())
        return std::nullopt;
    return InboundGroupSessionRow{query.getColumn(0).getString(), query.getColumn(1).getString(),
                                  query.getColumn(2).getString(), query.getColumn(3).getString(),
                                  query.getColumn(4).getString(), query.getColumn(5).getInt() != 0,
                                  query.getColumn(6).getInt64()};
}

std::vector<OutboundGroupSessionRow> load_outbound_group_sessions(SQLite::Database& db)
{
    std::vector<OutboundGroupSessionRow> rows;
    SQLite::Statement query{db, "SELECT room_id, session_id, pickle, created_ms, message_count,"
                                " shared_with FROM crypto_outbound_group_sessions"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                        query.getColumn(2).getString(), query.getColumn(3).getInt64(),
                        query.getColumn(4).getInt64(), query.getColumn(5).getString()});
    return rows;
}

std::vector<PendingEventRow> load_pending_events(SQLite::Database& db)
{
    std::vector<PendingEventRow> rows;
    SQLite::Statement query{db, "SELECT event_id, room_id, session_id, event_json, received_ms"
                                " FROM crypto_pending_events ORDER BY received_ms"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                        query.getColumn(2).getString(), query.getColumn(3).getString(),
                        query.getColumn(4).getInt64()});
    return rows;
}

std::vector<RoomRow> load_rooms(SQLite::Database& db)
{
    std::vector<RoomRow> rows;
    SQLite::Statement query{
        db, "SELECT room_id, rotation_period_ms, rotation_period_msgs FROM crypto_rooms"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getInt64(),
                        query.getColumn(2).getInt64()});
    return rows;
}

std::optional<std::string> seen_index(SQLite::Database& db, const std::string& room_id,
                                      const std::string& session_id, std::uint32_t index)
{
    SQLite::Statement query{db, "SELECT event_id FROM crypto_seen_indexes WHERE room_id = ?"
                                " AND session_id = ? AND message_index = ?"};
    SQLite::bind(query, room_id, session_id, static_cast<std::int64_t>(index));
    if (!query.executeStep())
        return std::nullopt;
    return query.getColumn(0).getString();
}

void save_account(SQLite::Database& db, const AccountRow& row)
{
    SQLite::Statement insert{
        db, "INSERT OR REPLACE INTO crypto_account (id, user_id, device_id, pickle,"
            " device_keys_published, fallback_generated_ms, old_fallback_pending, master_seed,"
            " self_signing_seed, user_signing_seed) VALUES (1, ?, ?, ?, ?, ?, ?, NULLIF(?, ''),"
            " NULLIF(?, ''), NULLIF(?, ''))"};
    SQLite::bind(insert, row.user_id, row.device_id, row.pickle, row.device_keys_published,
                 row.fallback_generated_ms, row.old_fallback_pending, row.master_seed,
                 row.self_signing_seed, row.user_signing_seed);
    insert.exec();
}

void save_user(SQLite::Database& db, const UserRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_users (user_id, outdated,"
                                 " master_key, self_signing_key)"
                                 " VALUES (?, ?, NULLIF(?, ''), NULLIF(?, ''))"};
    SQLite::bind(insert, row.user_id, row.outdated, row.master_key, row.self_signing_key);
    insert.exec();
}

void delete_user(SQLite::Database& db, const std::string& user_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_users WHERE user_id = ?"};
    remove.bind(1, user_id);
    remove.exec();
}

void save_device(SQLite::Database& db, const DeviceRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_devices (user_id, device_id,"
                                 " curve25519, ed25519, keys_json, cross_signed)"
                                 " VALUES (?, ?, ?, ?, ?, ?)"};
    SQLite::bind(insert, row.user_id, row.device_id, row.curve25519, row.ed25519, row.keys_json,
                 row.cross_signed ? 1 : 0);
    insert.exec();
}

void delete_device(SQLite::Database& db, const std::string& user_id, const std::string& device_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_devices WHERE user_id = ? AND device_id = ?"};
    SQLite::bind(remove, user_id, device_id);
    remove.exec();
}

void save_olm_session(SQLite::Database& db, const OlmSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_olm_sessions (session_id,"
                                 " sender_key, pickle, created_ms, last_used)"
                                 " VALUES (?, ?, ?, ?, ?)"};
    SQLite::bind(insert, row.session_id, row.sender_key, row.pickle, row.created_ms, row.last_used);
    insert.exec();
}

void delete_olm_session(SQLite::Database& db, const std::string& session_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_olm_sessions WHERE session_id = ?"};
    remove.bind(1, session_id);
    remove.exec();
}

void save_inbound_group_session(SQLite::Database& db, const InboundGroupSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_inbound_group_sessions (room_id,"
                                 " session_id, sender_key, sender_ed25519, pickle, forwarded,"
                                 " received_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"};
    SQLite::bind(insert, row.room_id, row.session_id, row.sender_key, row.sender_ed25519,
                 row.pickle, row.forwarded ? 1 : 0, row.received_ms);
    insert.exec();
}

void save_outbound_group_session(SQLite::Database& db, const OutboundGroupSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_outbound_group_sessions (room_id,"
                                 " session_id, pickle, created_ms, message_count, shared_with)"
                                 " VALUES (?, ?, ?, ?, ?, ?)"};
    SQLite::bind(insert, row.room_id, row.session_id, row.pickle, row.created_ms, row.message_count,
                 row.shared_with);
    insert.exec();
}

void delete_outbound_group_session(SQLite::Database& db, const std::string& room_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_outbound_group_sessions WHERE room_id = ?"};
    remove.bind(1, room_id);
    remove.exec();
}

void forget_outbound_group_sessions(SQLite::Database& db)
{
    if (db.tableExists("crypto_outbound_group_sessions")) // none when encryption was never on
        db.exec("DELETE FROM crypto_outbound_group_sessions");
}

void save_seen_index(SQLite::Database& db, const std::string& room_id,
                     const std::string& session_id, std::uint32_t index,
                     const std::string& event_id)
{
    SQLite::Statement insert{db, "INSERT OR IGNORE INTO crypto_seen_indexes (room_id,"
                                 " session_id, message_index, event_id) VALUES (?, ?, ?, ?)"};
    SQLite::bind(insert, room_id, session_id, static_cast<std::int64_t>(index), event_id);
    insert.exec();
}

void save_pending_event(SQLite::Database& db, const PendingEventRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_pending_events (event_id,"
                                 " room_id, session_id, event_json, received_ms)"
                                 " VALUES (?, ?, ?, ?, ?)"};
    SQLite::bind(insert, row.event_id, row.room_id, row.session_id, row.event_json,
                 row.received_ms);
    insert.exec();
}

void delete_pending_event(SQLite::Database& db, const std::string& event_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_pending_events WHERE event_id = ?"};
    remove.bind(1, event_id);
    remove.exec();
}

void save_room(SQLite::Database& db, const RoomRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_rooms (room_id,"
                                 " rotation_period_ms, rotation_period_msgs) VALUES (?, ?, ?)"};
    SQLite::bind(insert, row.room_id, row.rotation_period_ms, row.rotation_period_msgs);
    insert.exec();
}

} // namespace opalebot::bot::crypto::store
