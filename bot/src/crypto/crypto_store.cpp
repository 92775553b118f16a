#include "crypto_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/Savepoint.h>

#include <stdexcept>

namespace opalebot::bot::crypto::store {
namespace {

constexpr int schema_version = 1;

std::string text(const SQLite::Column& column)
{
    return column.isNull() ? std::string{} : column.getString();
}

void bind_text_or_null(SQLite::Statement& statement, int index, const std::string& value)
{
    if (value.empty())
        statement.bind(index);
    else
        statement.bind(index, value);
}

} // namespace

void migrate(SQLite::Database& db)
{
    SQLite::Savepoint savepoint{db, "crypto_migrate"}; // nests inside a caller's transaction
    db.exec("CREATE TABLE IF NOT EXISTS crypto_schema (version INTEGER NOT NULL)");
    int version = 0;
    {
        SQLite::Statement query{db, "SELECT max(version) FROM crypto_schema"};
        if (query.executeStep() && !query.getColumn(0).isNull())
            version = query.getColumn(0).getInt();
    }
    if (version > schema_version)
        throw std::runtime_error("the crypto tables come from a newer opale-bot");
    switch (version) {
    case 0:
        db.exec("CREATE TABLE crypto_account (id INTEGER PRIMARY KEY CHECK (id = 1),"
                " user_id TEXT NOT NULL, device_id TEXT NOT NULL, pickle TEXT NOT NULL,"
                " device_keys_published INTEGER NOT NULL, fallback_generated_ms INTEGER NOT NULL,"
                " old_fallback_pending INTEGER NOT NULL, master_seed TEXT,"
                " self_signing_seed TEXT, user_signing_seed TEXT)");
        db.exec("CREATE TABLE crypto_users (user_id TEXT PRIMARY KEY,"
                " outdated INTEGER NOT NULL, master_key TEXT, self_signing_key TEXT)");
        db.exec("CREATE TABLE crypto_devices (user_id TEXT NOT NULL, device_id TEXT NOT NULL,"
                " curve25519 TEXT NOT NULL, ed25519 TEXT NOT NULL, keys_json TEXT NOT NULL,"
                " cross_signed INTEGER NOT NULL, PRIMARY KEY (user_id, device_id))");
        db.exec("CREATE TABLE crypto_olm_sessions (session_id TEXT PRIMARY KEY,"
                " sender_key TEXT NOT NULL, pickle TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                " last_used INTEGER NOT NULL)");
        db.exec("CREATE INDEX crypto_olm_sessions_sender ON crypto_olm_sessions(sender_key)");
        db.exec("CREATE TABLE crypto_inbound_group_sessions (room_id TEXT NOT NULL,"
                " session_id TEXT NOT NULL, sender_key TEXT NOT NULL,"
                " sender_ed25519 TEXT NOT NULL, pickle TEXT NOT NULL,"
                " forwarded INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
                " PRIMARY KEY (room_id, session_id))");
        db.exec("CREATE TABLE crypto_outbound_group_sessions (room_id TEXT PRIMARY KEY,"
                " session_id TEXT NOT NULL, pickle TEXT NOT NULL, created_ms INTEGER NOT NULL,"
                " message_count INTEGER NOT NULL, shared_with TEXT NOT NULL)");
        db.exec("CREATE TABLE crypto_seen_indexes (room_id TEXT NOT NULL,"
                " session_id TEXT NOT NULL, message_index INTEGER NOT NULL,"
                " event_id TEXT NOT NULL, PRIMARY KEY (room_id, session_id, message_index))");
        db.exec("CREATE TABLE crypto_pending_events (event_id TEXT PRIMARY KEY,"
                " room_id TEXT NOT NULL, session_id TEXT NOT NULL, event_json TEXT NOT NULL,"
                " received_ms INTEGER NOT NULL)");
        db.exec("CREATE TABLE crypto_rooms (room_id TEXT PRIMARY KEY,"
                " rotation_period_ms INTEGER NOT NULL, rotation_period_msgs INTEGER NOT NULL)");
        [[fallthrough]];
    case schema_version: // append new steps above this line, never edit old ones
        break;
    }
    db.exec("DELETE FROM crypto_schema");
    db.exec("INSERT INTO crypto_schema (version) VALUES (" + std::to_string(schema_version) + ")");
    savepoint.release();
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

std::vector<InboundGroupSessionRow> load_inbound_group_sessions(SQLite::Database& db)
{
    std::vector<InboundGroupSessionRow> rows;
    SQLite::Statement query{db, "SELECT room_id, session_id, sender_key, sender_ed25519, pickle,"
                                " forwarded, received_ms FROM crypto_inbound_group_sessions"};
    while (query.executeStep())
        rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                        query.getColumn(2).getString(), query.getColumn(3).getString(),
                        query.getColumn(4).getString(), query.getColumn(5).getInt() != 0,
                        query.getColumn(6).getInt64()});
    return rows;
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
    query.bind(1, room_id);
    query.bind(2, session_id);
    query.bind(3, static_cast<std::int64_t>(index));
    if (!query.executeStep())
        return std::nullopt;
    return query.getColumn(0).getString();
}

void save_account(SQLite::Database& db, const AccountRow& row)
{
    SQLite::Statement insert{
        db, "INSERT OR REPLACE INTO crypto_account (id, user_id, device_id, pickle,"
            " device_keys_published, fallback_generated_ms, old_fallback_pending, master_seed,"
            " self_signing_seed, user_signing_seed) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};
    insert.bind(1, row.user_id);
    insert.bind(2, row.device_id);
    insert.bind(3, row.pickle);
    insert.bind(4, row.device_keys_published ? 1 : 0);
    insert.bind(5, row.fallback_generated_ms);
    insert.bind(6, row.old_fallback_pending ? 1 : 0);
    bind_text_or_null(insert, 7, row.master_seed);
    bind_text_or_null(insert, 8, row.self_signing_seed);
    bind_text_or_null(insert, 9, row.user_signing_seed);
    insert.exec();
}

void save_user(SQLite::Database& db, const UserRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_users (user_id, outdated,"
                                 " master_key, self_signing_key) VALUES (?, ?, ?, ?)"};
    insert.bind(1, row.user_id);
    insert.bind(2, row.outdated ? 1 : 0);
    bind_text_or_null(insert, 3, row.master_key);
    bind_text_or_null(insert, 4, row.self_signing_key);
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
    insert.bind(1, row.user_id);
    insert.bind(2, row.device_id);
    insert.bind(3, row.curve25519);
    insert.bind(4, row.ed25519);
    insert.bind(5, row.keys_json);
    insert.bind(6, row.cross_signed ? 1 : 0);
    insert.exec();
}

void delete_device(SQLite::Database& db, const std::string& user_id, const std::string& device_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_devices WHERE user_id = ? AND device_id = ?"};
    remove.bind(1, user_id);
    remove.bind(2, device_id);
    remove.exec();
}

void save_olm_session(SQLite::Database& db, const OlmSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_olm_sessions (session_id,"
                                 " sender_key, pickle, created_ms, last_used)"
                                 " VALUES (?, ?, ?, ?, ?)"};
    insert.bind(1, row.session_id);
    insert.bind(2, row.sender_key);
    insert.bind(3, row.pickle);
    insert.bind(4, row.created_ms);
    insert.bind(5, row.last_used);
    insert.exec();
}

void save_inbound_group_session(SQLite::Database& db, const InboundGroupSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_inbound_group_sessions (room_id,"
                                 " session_id, sender_key, sender_ed25519, pickle, forwarded,"
                                 " received_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"};
    insert.bind(1, row.room_id);
    insert.bind(2, row.session_id);
    insert.bind(3, row.sender_key);
    insert.bind(4, row.sender_ed25519);
    insert.bind(5, row.pickle);
    insert.bind(6, row.forwarded ? 1 : 0);
    insert.bind(7, row.received_ms);
    insert.exec();
}

void save_outbound_group_session(SQLite::Database& db, const OutboundGroupSessionRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_outbound_group_sessions (room_id,"
                                 " session_id, pickle, created_ms, message_count, shared_with)"
                                 " VALUES (?, ?, ?, ?, ?, ?)"};
    insert.bind(1, row.room_id);
    insert.bind(2, row.session_id);
    insert.bind(3, row.pickle);
    insert.bind(4, row.created_ms);
    insert.bind(5, row.message_count);
    insert.bind(6, row.shared_with);
    insert.exec();
}

void delete_outbound_group_session(SQLite::Database& db, const std::string& room_id)
{
    SQLite::Statement remove{db, "DELETE FROM crypto_outbound_group_sessions WHERE room_id = ?"};
    remove.bind(1, room_id);
    remove.exec();
}

void save_seen_index(SQLite::Database& db, const std::string& room_id,
                     const std::string& session_id, std::uint32_t index,
                     const std::string& event_id)
{
    SQLite::Statement insert{db, "INSERT OR IGNORE INTO crypto_seen_indexes (room_id,"
                                 " session_id, message_index, event_id) VALUES (?, ?, ?, ?)"};
    insert.bind(1, room_id);
    insert.bind(2, session_id);
    insert.bind(3, static_cast<std::int64_t>(index));
    insert.bind(4, event_id);
    insert.exec();
}

void save_pending_event(SQLite::Database& db, const PendingEventRow& row)
{
    SQLite::Statement insert{db, "INSERT OR REPLACE INTO crypto_pending_events (event_id,"
                                 " room_id, session_id, event_json, received_ms)"
                                 " VALUES (?, ?, ?, ?, ?)"};
    insert.bind(1, row.event_id);
    insert.bind(2, row.room_id);
    insert.bind(3, row.session_id);
    insert.bind(4, row.event_json);
    insert.bind(5, row.received_ms);
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
    insert.bind(1, row.room_id);
    insert.bind(2, row.rotation_period_ms);
    insert.bind(3, row.rotation_period_msgs);
    insert.exec();
}

} // namespace opalebot::bot::crypto::store
