#include "bot/state_store.hpp"

#include "bot/crypto/engine.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <SQLiteCpp/VariadicBind.h>

#include <array>
#include <chrono>
#include <stdexcept>

#include "token_seal.hpp"

namespace opalebot::bot {
namespace {
constexpr std::array<const char*, 6> schema_steps = {
    R"sql(
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    asked_at INTEGER NOT NULL,
    room TEXT NOT NULL,
    sender TEXT NOT NULL,
    question TEXT,
    kind TEXT NOT NULL,
    entry_id TEXT,
    score REAL NOT NULL
);
CREATE INDEX questions_asked_at ON questions(asked_at);
)sql",
    // issue 3: the Matrix bot
    R"sql(
CREATE TABLE session (id INTEGER PRIMARY KEY CHECK (id = 1),
    homeserver TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
    access_token TEXT NOT NULL);
CREATE TABLE sync_state (id INTEGER PRIMARY KEY CHECK (id = 1), next_batch TEXT, filter_id TEXT);
INSERT INTO sync_state (id) VALUES (1);
CREATE TABLE handled_events (event_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL, outcome TEXT NOT NULL, handled_at INTEGER NOT NULL);
CREATE INDEX handled_events_at ON handled_events(handled_at);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, txn_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL, event_type TEXT NOT NULL, content TEXT NOT NULL,
    priority INTEGER NOT NULL, source_event TEXT, entry_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE TABLE sent (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL,
    txn_id TEXT NOT NULL, source_event TEXT, entry_id TEXT, sent_at INTEGER NOT NULL);
CREATE TABLE feedback (target_event TEXT NOT NULL, sender TEXT NOT NULL,
    reaction_event TEXT NOT NULL, entry_id TEXT, vote INTEGER NOT NULL,
    at INTEGER NOT NULL, PRIMARY KEY (target_event, sender));
CREATE TABLE rooms (room_id TEXT PRIMARY KEY, inviter TEXT,
    is_direct INTEGER NOT NULL DEFAULT 0, joined_members INTEGER,
    power_levels TEXT, encrypted INTEGER NOT NULL DEFAULT 0);
)sql",
    // issue 7: messages for encrypted rooms whose room key could not be shared yet
    R"sql(
CREATE TABLE awaiting_encryption (txn_id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL, event_type TEXT NOT NULL, content TEXT NOT NULL,
    priority INTEGER NOT NULL, source_event TEXT, entry_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
)sql",
    // issue 21: the base learns from the salon (!kb lier, 👎 listed under the entry)
    R"sql(
ALTER TABLE questions ADD COLUMN event_id TEXT;
CREATE INDEX questions_event ON questions(event_id);
CREATE TABLE linked_questions (id INTEGER PRIMARY KEY, entry_id TEXT NOT NULL,
    question TEXT NOT NULL, linked_at INTEGER NOT NULL, UNIQUE (entry_id, question));
)sql",
    // issue 15: poison-batch quarantine (a batch started and never finished)
    R"sql(
CREATE TABLE batch_attempt (id INTEGER PRIMARY KEY CHECK (id = 1), since TEXT NOT NULL,
    attempts INTEGER NOT NULL, in_progress TEXT NOT NULL DEFAULT '');
CREATE TABLE set_aside_events (event_key TEXT PRIMARY KEY, since TEXT NOT NULL,
    set_aside_at INTEGER NOT NULL);
)sql",
    // issue 17: the direct chats the bot opened to reach one person (kit reminders)
    R"sql(
CREATE TABLE direct_chats (user_id TEXT PRIMARY KEY, room_id TEXT NOT NULL,
    opened_at INTEGER NOT NULL);
)sql"};
/// Releases up to c96ed71 kept this version in PRAGMA user_version.
constexpr Schema schema{"state", schema_steps, {}, true};

std::int64_t now_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string text_or_empty(const SQLite::Column& column)
{
    return column.isNull() ? std::string{} : column.getString();
}

// Optional text columns are bound as text and stored NULL when empty (NULLIF in the SQL).

constexpr const char* insert_question_sql =
    "INSERT INTO questions (asked_at, room, sender, question, kind, entry_id, score, event_id) "
    "VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?, NULLIF(?, ''))";

void insert_question(SQLite::Statement& insert, const QuestionRecord& record)
{
    SQLite::bind(insert, record.asked_at, record.room, record.sender, record.question, record.kind,
                 record.entry_id, record.score, record.event_id);
    insert.exec();
}

constexpr const char* insert_outbox_sql =
    "INSERT OR IGNORE INTO outbox (txn_id, room_id, event_type, content, priority, source_event, "
    "entry_id, created_at) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?)";
constexpr const char* upsert_awaiting_sql =
    "INSERT INTO awaiting_encryption (txn_id, room_id, event_type, content, priority, "
    "source_event, entry_id, attempts, created_at) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), "
    "NULLIF(?, ''), ?, ?) ON CONFLICT (txn_id) DO UPDATE SET attempts = excluded.attempts";

/// The parameters of an outbox or awaiting_encryption row (`extra`: its other columns), in
/// this order: txn_id, room_id, event_type, content, priority, source_event, entry_id, extra.
template <class... Extra>
void bind_message(SQLite::Statement& statement, const OutgoingMessage& m, const Extra&... extra)
{
    SQLite::bind(statement, m.txn_id, m.room_id, m.event_type, m.content, m.priority,
                 m.source_event, m.entry_id, extra...);
}

OutgoingMessage read_outgoing(SQLite::Statement& row)
{
    OutgoingMessage m;
    m.id = row.getColumn(0).getInt64();
    m.txn_id = row.getColumn(1).getString();
    m.room_id = row.getColumn(2).getString();
    m.event_type = row.getColumn(3).getString();
    m.content = row.getColumn(4).getString();
    m.priority = row.getColumn(5).getInt();
    m.source_event = text_or_empty(row.getColumn(6));
    m.entry_id = text_or_empty(row.getColumn(7));
    m.attempts = row.getColumn(8).getInt();
    return m;
}

} // namespace

StateStore::Cached::Cached(SQLite::Statement& statement) : statement_(statement)
{
    statement_.reset();
    statement_.clearBindings();
}

StateStore::Cached::~Cached()
{
    static_cast<void>(statement_.tryReset());
}

StateStore::Cached StateStore::cached(const char* sql)
{
    auto& statement = statements_[sql];
    if (!statement)
        statement = std::make_unique<SQLite::Statement>(db_, sql);
    return Cached{*statement};
}

StateStore::StateStore(StateDatabase& state) : db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

StateStore::StateStore(const std::string& path) : StateStore(std::make_unique<StateDatabase>(path))
{}

StateStore::StateStore(std::unique_ptr<StateDatabase> own) : StateStore(*own)
{
    own_ = std::move(own);
}

Result<Done> StateStore::record_question(const QuestionRecord& record)
try {
    const std::lock_guard lock{mutex_};
    insert_question(*cached(insert_question_sql), record);
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<int> StateStore::purge_questions(std::int64_t before)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement purge{
        db_, "UPDATE questions SET question = NULL WHERE asked_at < ? AND question IS NOT NULL"};
    purge.bind(1, before);
    return purge.exec();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::int64_t> StateStore::question_count()
try {
    const std::lock_guard lock{mutex_};
    return db_.execAndGet("SELECT count(*) FROM questions").getInt64();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::optional<StoredSession>> StateStore::session()
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{
        db_, "SELECT homeserver, user_id, device_id, access_token FROM session WHERE id = 1"};
    if (!query.executeStep())
        return std::optional<StoredSession>{};
    StoredSession stored{query.getColumn(0).getString(), query.getColumn(1).getString(),
                         query.getColumn(2).getString(), query.getColumn(3).getString()};
    query.reset();
    if (is_sealed_token(stored.access_token)) {
        if (token_secret_.empty())
            return Error{Error::Kind::storage,
                         0,
                         {},
                         "le jeton d'accès du fichier d'état est scellé : indiquez le secret "
                         "qui l'a scellé (encryption.pickle_key_file ou OPALEBOT_PICKLE_KEY)",
                         {},
                         false};
        auto opened = open_token(stored.access_token, token_secret_);
        if (!opened)
            return opened.error();
        stored.access_token = std::move(opened).value();
    } else if (!token_secret_.empty() && !stored.access_token.empty()) {
        if (auto sealed = save_session(stored); !sealed) // written by an older release
            return sealed.error();
    }
    return std::optional<StoredSession>{std::move(stored)};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::save_session(const StoredSession& session)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement save{db_, "INSERT OR REPLACE INTO session (id, homeserver, user_id, "
                                "device_id, access_token) VALUES (1, ?, ?, ?, ?)"};
    SQLite::bind(save, session.homeserver, session.user_id, session.device_id,
                 token_secret_.empty() ? session.access_token
                                       : seal_token(session.access_token, token_secret_));
    save.exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::forget_session()
try {
    const std::lock_guard lock{mutex_};
    db_.exec("DELETE FROM session");
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::string> StateStore::sync_token()
try {
    const std::lock_guard lock{mutex_};
    return text_or_empty(db_.execAndGet("SELECT next_batch FROM sync_state WHERE id = 1"));
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<BatchAttempt> StateStore::begin_batch(const std::string& since)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    BatchAttempt attempt;
    {
        SQLite::Statement last{db_, "SELECT since, attempts, in_progress FROM batch_attempt"};
        if (last.executeStep() && last.getColumn(0).getString() == since) {
            attempt.attempts = last.getColumn(1).getInt() + 1;
            attempt.died_in = last.getColumn(2).getString();
        } else {
            attempt.attempts = 1;
        }
    }
    if (!attempt.died_in.empty()) {
        SQLite::Statement keep{db_, "INSERT OR IGNORE INTO set_aside_events (event_key, since, "
                                    "set_aside_at) VALUES (?, ?, ?)"};
        SQLite::bind(keep, attempt.died_in, since, now_seconds());
        keep.exec();
    }
    SQLite::Statement save{db_, "INSERT OR REPLACE INTO batch_attempt (id, since, attempts, "
                                "in_progress) VALUES (1, ?, ?, '')"};
    SQLite::bind(save, since, attempt.attempts);
    save.exec();
    SQLite::Statement aside{db_, "SELECT event_key FROM set_aside_events WHERE since = ?"};
    aside.bind(1, since);
    while (aside.executeStep())
        attempt.set_aside.insert(aside.getColumn(0).getString());
    transaction.commit();
    return attempt;
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::mark_in_progress(const std::string& event_key)
try {
    const std::lock_guard lock{mutex_};
    const auto mark = cached("UPDATE batch_attempt SET in_progress = ?");
    mark->bind(1, event_key);
    mark->exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::int64_t> StateStore::set_aside_count()
try {
    const std::lock_guard lock{mutex_};
    return db_.execAndGet("SELECT count(*) FROM set_aside_events").getInt64();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::string> StateStore::filter_id()
try {
    const std::lock_guard lock{mutex_};
    return text_or_empty(db_.execAndGet("SELECT filter_id FROM sync_state WHERE id = 1"));
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::save_filter_id(const std::string& filter_id)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement save{db_, "UPDATE sync_state SET filter_id = ? WHERE id = 1"};
    save.bind(1, filter_id);
    save.exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<bool> StateStore::is_handled(const std::string& event_id)
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT 1 FROM handled_events WHERE event_id = ?");
    query->bind(1, event_id);
    return query->executeStep();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::optional<std::string>> StateStore::sent_message(const std::string& event_id)
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT entry_id FROM sent WHERE event_id = ?");
    query->bind(1, event_id);
    if (!query->executeStep())
        return std::optional<std::string>{};
    return std::optional<std::string>{text_or_empty(query->getColumn(0))};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::optional<std::string>> StateStore::sent_txn_id(const std::string& event_id)
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT txn_id FROM sent WHERE event_id = ?");
    query->bind(1, event_id);
    if (!query->executeStep())
        return std::optional<std::string>{};
    return std::optional<std::string>{query->getColumn(0).getString()};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::optional<RoomInfo>> StateStore::room(const std::string& room_id)
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT inviter, is_direct, joined_members, power_levels, "
                              "encrypted FROM rooms WHERE room_id = ?");
    query->bind(1, room_id);
    if (!query->executeStep())
        return std::optional<RoomInfo>{};
    RoomInfo info;
    info.room_id = room_id;
    info.inviter = text_or_empty(query->getColumn(0));
    info.is_direct = query->getColumn(1).getInt() != 0;
    if (!query->getColumn(2).isNull())
        info.joined_members = query->getColumn(2).getInt();
    if (!query->getColumn(3).isNull())
        info.power_levels = parse_power_levels(query->getColumn(3).getString());
    info.encrypted = query->getColumn(4).getInt() != 0;
    return std::optional<RoomInfo>{std::move(info)};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::optional<std::string>> StateStore::direct_chat(const std::string& user)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement opened{db_, "SELECT room_id FROM direct_chats WHERE user_id = ?"};
    opened.bind(1, user);
    if (opened.executeStep())
        return std::optional{opened.getColumn(0).getString()};
    // A direct chat the user opened with the bot (the newest, if they made several).
    SQLite::Statement theirs{db_, "SELECT room_id FROM rooms WHERE is_direct = 1 AND inviter = ? "
                                  "ORDER BY rowid DESC LIMIT 1"};
    theirs.bind(1, user);
    if (theirs.executeStep())
        return std::optional{theirs.getColumn(0).getString()};
    return std::optional<std::string>{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::save_direct_chat(const std::string& user, const RoomInfo& room)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    SQLite::Statement chat{db_, "INSERT OR REPLACE INTO direct_chats (user_id, room_id, "
                                "opened_at) VALUES (?, ?, ?)"};
    SQLite::bind(chat, user, room.room_id, now_seconds());
    chat.exec();
    // Known before the sync shows it, with the bot as its inviter: a room the bot opened is one
    // it acts in (Addressing::room_allowed).
    SQLite::Statement known{db_, "INSERT OR IGNORE INTO rooms (room_id, inviter, is_direct, "
                                 "encrypted) VALUES (?, ?, 1, ?)"};
    SQLite::bind(known, room.room_id, room.inviter, room.encrypted);
    known.exec();
    transaction.commit();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::forget_direct_chat(const std::string& user, const std::string& room_id)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    SQLite::Statement chat{db_, "DELETE FROM direct_chats WHERE user_id = ?"};
    chat.bind(1, user);
    chat.exec();
    // Left: neither reused nor taken for the user's own direct chat again.
    SQLite::Statement room{db_, "UPDATE rooms SET is_direct = 0 WHERE room_id = ?"};
    room.bind(1, room_id);
    room.exec();
    transaction.commit();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::commit(const SyncBatchWrites& batch)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    const auto now = now_seconds();
    for (const auto& h : batch.handled) {
        const auto insert = cached("INSERT OR IGNORE INTO handled_events (event_id, room_id, "
                                   "outcome, handled_at) VALUES (?, ?, ?, ?)");
        SQLite::bind(*insert, h.event_id, h.room_id, h.outcome, now);
        insert->exec();
    }
    for (const auto& m : batch.outgoing) {
        const auto insert = cached(insert_outbox_sql);
        bind_message(*insert, m, now);
        insert->exec();
    }
    for (const auto& q : batch.questions)
        insert_question(*cached(insert_question_sql), q);
    for (const auto& f : batch.feedback) {
        const auto insert = cached(
            "INSERT OR REPLACE INTO feedback (target_event, sender, reaction_event, "
            "entry_id, vote, at) SELECT ?, ?, ?, entry_id, ?, ? FROM sent WHERE event_id = ?");
        SQLite::bind(*insert, f.target_event, f.sender, f.reaction_event, f.vote, f.at,
                     f.target_event);
        insert->exec();
    }
    for (const auto& r : batch.rooms) {
        const auto upsert =
            cached("INSERT OR REPLACE INTO rooms (room_id, inviter, is_direct, joined_members, "
                   "power_levels, encrypted) VALUES (?, NULLIF(?, ''), ?, ?, NULLIF(?, ''), ?)");
        SQLite::bind(*upsert, r.room_id, r.inviter, r.is_direct, r.joined_members.value_or(0),
                     r.power_levels ? power_levels_json(*r.power_levels) : std::string{},
                     r.encrypted);
        if (!r.joined_members)
            upsert->bind(4); // unknown: NULL
        upsert->exec();
    }
    for (const auto& room_id : batch.rooms_left) {
        const auto remove = cached("DELETE FROM rooms WHERE room_id = ?");
        remove->bind(1, room_id);
        remove->exec();
    }
    for (const auto& m : batch.awaiting_encryption) {
        const auto upsert = cached(upsert_awaiting_sql);
        bind_message(*upsert, m, m.attempts, now);
        upsert->exec();
    }
    for (const auto& txn_id : batch.no_longer_awaiting) {
        const auto remove = cached("DELETE FROM awaiting_encryption WHERE txn_id = ?");
        remove->bind(1, txn_id);
        remove->exec();
    }
    if (!batch.next_batch.empty()) {
        const auto save = cached("UPDATE sync_state SET next_batch = ? WHERE id = 1");
        save->bind(1, batch.next_batch);
        save->exec();
        cached("DELETE FROM batch_attempt")->exec(); // finished
    }
    if (crypto_ != nullptr && crypto_->has_unsaved_changes())
        if (auto persisted = crypto_->persist(db_); !persisted)
            return persisted.error(); // the transaction rolls back: nothing half-written
    transaction.commit();
    if (crypto_ != nullptr)
        crypto_->saved();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::vector<std::string>> StateStore::encrypted_rooms()
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT room_id FROM rooms WHERE encrypted = 1 ORDER BY room_id"};
    std::vector<std::string> rooms;
    while (query.executeStep())
        rooms.push_back(query.getColumn(0).getString());
    return rooms;
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::pair<int, int>> StateStore::room_counts()
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT COUNT(*), COALESCE(SUM(encrypted), 0) FROM rooms"};
    query.executeStep();
    return std::pair{query.getColumn(0).getInt(), query.getColumn(1).getInt()};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::vector<OutgoingMessage>> StateStore::awaiting_encryption()
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT 0, txn_id, room_id, event_type, content, priority, "
                              "source_event, entry_id, attempts FROM awaiting_encryption "
                              "ORDER BY created_at, txn_id");
    std::vector<OutgoingMessage> out;
    while (query->executeStep())
        out.push_back(read_outgoing(*query));
    return out;
} catch (const std::exception& e) {
    return storage_error(e);
}

void StateStore::attach_crypto(crypto::Engine* engine)
{
    const std::lock_guard lock{mutex_};
    crypto_ = engine;
}

Result<std::optional<OutgoingMessage>> StateStore::next_outgoing()
try {
    const std::lock_guard lock{mutex_};
    const auto query = cached("SELECT id, txn_id, room_id, event_type, content, priority, "
                              "source_event, entry_id, attempts FROM outbox "
                              "ORDER BY priority, id LIMIT 1");
    if (!query->executeStep())
        return std::optional<OutgoingMessage>{};
    return std::optional<OutgoingMessage>{read_outgoing(*query)};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::int64_t> StateStore::outgoing_count()
try {
    const std::lock_guard lock{mutex_};
    return db_.execAndGet("SELECT count(*) FROM outbox").getInt64();
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::mark_sent(const OutgoingMessage& message, const std::string& event_id)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    const auto insert = cached("INSERT OR IGNORE INTO sent (event_id, room_id, txn_id, "
                               "source_event, entry_id, sent_at) VALUES (?, ?, ?, NULLIF(?, ''), "
                               "NULLIF(?, ''), ?)");
    SQLite::bind(*insert, event_id, message.room_id, message.txn_id, message.source_event,
                 message.entry_id, now_seconds());
    insert->exec();
    const auto remove = cached("DELETE FROM outbox WHERE id = ?");
    remove->bind(1, message.id);
    remove->exec();
    transaction.commit();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::drop_outgoing(std::int64_t id)
try {
    const std::lock_guard lock{mutex_};
    const auto remove = cached("DELETE FROM outbox WHERE id = ?");
    remove->bind(1, id);
    remove->exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::replace_outgoing(std::int64_t id, const OutgoingMessage& notice,
                                          bool to_encrypt)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Transaction transaction{db_};
    const auto remove = cached("DELETE FROM outbox WHERE id = ?");
    remove->bind(1, id);
    remove->exec();
    const auto now = now_seconds();
    const auto insert = cached(to_encrypt ? upsert_awaiting_sql : insert_outbox_sql);
    if (to_encrypt)
        bind_message(*insert, notice, notice.attempts, now);
    else
        bind_message(*insert, notice, now);
    insert->exec();
    transaction.commit();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::count_attempt(std::int64_t id)
try {
    const std::lock_guard lock{mutex_};
    const auto update = cached("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?");
    update->bind(1, id);
    update->exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<KbStats> StateStore::kb_stats(std::int64_t since, double low_confidence)
try {
    const std::lock_guard lock{mutex_};
    KbStats stats;
    {
        SQLite::Statement totals{db_, "SELECT count(*), count(entry_id) FROM questions "
                                      "WHERE asked_at >= ?"};
        totals.bind(1, since);
        totals.executeStep();
        stats.questions = totals.getColumn(0).getInt64();
        stats.answered = totals.getColumn(1).getInt64();
    }
    {
        SQLite::Statement entries{
            db_, "WITH asked AS (SELECT entry_id, count(*) AS n FROM questions"
                 "   WHERE asked_at >= ? AND entry_id IS NOT NULL GROUP BY entry_id),"
                 " votes AS (SELECT entry_id, sum(vote > 0) AS up, sum(vote < 0) AS down"
                 "   FROM feedback WHERE at >= ? AND entry_id IS NOT NULL GROUP BY entry_id),"
                 " ids AS (SELECT entry_id FROM asked UNION SELECT entry_id FROM votes)"
                 " SELECT ids.entry_id, coalesce(asked.n, 0), coalesce(votes.up, 0),"
                 "   coalesce(votes.down, 0) FROM ids"
                 " LEFT JOIN asked ON asked.entry_id = ids.entry_id"
                 " LEFT JOIN votes ON votes.entry_id = ids.entry_id"
                 " ORDER BY 2 DESC, 4 DESC, 1 LIMIT 15"};
        SQLite::bind(entries, since, since);
        while (entries.executeStep())
            stats.entries.push_back(
                {entries.getColumn(0).getString(), entries.getColumn(1).getInt64(),
                 entries.getColumn(2).getInt64(), entries.getColumn(3).getInt64()});
    }
    {
        // A 👎 reaches the question through the reply it was given: feedback names the reply's
        // event, `sent` the question's event that reply answered.
        SQLite::Statement unanswered{
            db_, "SELECT q.question, q.kind, q.score, q.asked_at, q.id, coalesce(q.entry_id, ''),"
                 "   EXISTS (SELECT 1 FROM sent s JOIN feedback f ON f.target_event = s.event_id"
                 "     WHERE q.event_id IS NOT NULL AND s.source_event = q.event_id"
                 "     AND f.vote < 0)"
                 " FROM questions q WHERE q.asked_at >= ? AND q.question IS NOT NULL"
                 " AND (q.kind IN ('inconnu', 'probable')"
                 "   OR (q.entry_id IS NOT NULL AND q.score < ?)"
                 "   OR EXISTS (SELECT 1 FROM sent s JOIN feedback f ON f.target_event = s.event_id"
                 "     WHERE q.event_id IS NOT NULL AND s.source_event = q.event_id"
                 "     AND f.vote < 0))"
                 " ORDER BY q.asked_at DESC, q.id DESC LIMIT 15"};
        SQLite::bind(unanswered, since, low_confidence);
        while (unanswered.executeStep())
            stats.unanswered.push_back(
                {unanswered.getColumn(0).getString(), unanswered.getColumn(1).getString(),
                 unanswered.getColumn(2).getDouble(), unanswered.getColumn(3).getInt64(),
                 unanswered.getColumn(4).getInt64(), unanswered.getColumn(5).getString(),
                 unanswered.getColumn(6).getInt() != 0});
    }
    return stats;
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::string> StateStore::question_text(std::int64_t id)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT coalesce(question, '') FROM questions WHERE id = ?"};
    query.bind(1, id);
    return query.executeStep() ? query.getColumn(0).getString() : std::string{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<Done> StateStore::link_question(const LinkedQuestion& link, std::int64_t at)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement insert{db_, "INSERT OR IGNORE INTO linked_questions (entry_id, question, "
                                  "linked_at) VALUES (?, ?, ?)"};
    SQLite::bind(insert, link.entry_id, link.question, at);
    insert.exec();
    return Done{};
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<std::vector<LinkedQuestion>> StateStore::linked_questions()
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{db_, "SELECT entry_id, question FROM linked_questions ORDER BY id"};
    std::vector<LinkedQuestion> links;
    while (query.executeStep())
        links.push_back({query.getColumn(0).getString(), query.getColumn(1).getString()});
    return links;
} catch (const std::exception& e) {
    return storage_error(e);
}

Result<int> StateStore::purge_ledger(std::int64_t before)
try {
    const std::lock_guard lock{mutex_};
    SQLite::Statement purge{db_, "DELETE FROM handled_events WHERE handled_at < ?"};
    purge.bind(1, before);
    return purge.exec();
} catch (const std::exception& e) {
    return storage_error(e);
}

} // namespace opalebot::bot
