#pragma once

#include "bot/events.hpp"
#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace opalebot::bot {

namespace crypto {
class Engine;
}

/// One question the bot was asked, and how it answered.
struct QuestionRecord {
    std::int64_t asked_at = 0; ///< Unix seconds
    std::string room;          ///< empty in the console
    std::string sender;
    std::string question; ///< kept a limited time (privacy), see purge_questions
    std::string kind;     ///< "entree", "inconnu", "glossaire"…
    std::string entry_id; ///< empty when no entry answered
    double score = 0;
    std::string event_id; ///< the question's event (to find its 👎), empty in the console
};

/// The bot's Matrix login, reused across restarts (a new login would be a new device).
struct StoredSession {
    std::string homeserver;
    std::string user_id;
    std::string device_id;
    std::string access_token;
};

/// A message waiting to be sent; its txn id makes a resend harmless.
struct OutgoingMessage {
    std::int64_t id = 0;
    std::string txn_id;
    std::string room_id;
    std::string event_type = "m.room.message";
    std::string content;      ///< JSON
    int priority = 0;         ///< 0 replies first, higher numbers are background work
    std::string source_event; ///< the event it answers
    std::string entry_id;     ///< the knowledge entry it carries, for feedback
    int attempts = 0;
};

/// An outbox entry whose event_type starts so is a to-device message (/sendToDevice, its
/// type after the prefix, `content` the "messages" object): it goes before the room messages
/// it opens (priority -1), and the Olm ratchet steps it took are saved with it, before it leaves.
inline constexpr std::string_view to_device_prefix = "to-device:";

inline bool is_to_device(const OutgoingMessage& message)
{
    return message.event_type.starts_with(to_device_prefix);
}

/// What the bot knows of a room it is in.
struct RoomInfo {
    std::string room_id;
    std::string inviter;
    bool is_direct = false;
    std::optional<int> joined_members;
    std::optional<PowerLevels> power_levels; ///< m.room.power_levels, once seen
    bool encrypted = false;
};

/// 👍 (+1) or 👎 (-1) on one of the bot's answers.
struct FeedbackRecord {
    std::string reaction_event;
    std::string target_event;
    std::string sender;
    int vote = 0;
    std::int64_t at = 0;
};

/// Everything one /sync batch changes, written in one transaction with its next_batch
/// (notes/matrix.md §0.5): a crash loses the whole batch or nothing, and the batch is synced
/// again with the same outcome.
struct SyncBatchWrites {
    struct Handled {
        std::string event_id;
        std::string room_id;
        std::string outcome; ///< "answered", "ignored", "backlog", "feedback"…
    };
    std::vector<Handled> handled;
    std::vector<OutgoingMessage> outgoing;
    std::vector<QuestionRecord> questions;
    std::vector<FeedbackRecord> feedback;
    std::vector<RoomInfo> rooms;
    std::vector<std::string> rooms_left;
    /// Messages for encrypted rooms whose room key could not be shared yet (a network error):
    /// kept, in clear and never sent so, until they can be encrypted (`attempts` counts).
    std::vector<OutgoingMessage> awaiting_encryption;
    std::vector<std::string> no_longer_awaiting; ///< txn ids encrypted (or given up) since
    std::string next_batch;
};

/// One more start of the batch asked `since` (poison-batch quarantine, issue 15).
struct BatchAttempt {
    int attempts = 1;    ///< starts of this batch, this one included, since it last finished
    std::string died_in; ///< the event in progress when the previous start died: now set aside
    std::set<std::string> set_aside; ///< the events of this batch set aside so far
};

/// What curators need from !kb stats.
struct KbStats {
    struct EntryCount {
        std::string entry_id;
        std::int64_t asked = 0;
        std::int64_t up = 0;
        std::int64_t down = 0;
    };
    struct Unanswered {
        std::string question;
        std::string kind;
        double score = 0;
        std::int64_t asked_at = 0;
        std::int64_t id = 0;   ///< the number `!kb lier` takes
        std::string entry_id;  ///< the entry shown, if any
        bool disliked = false; ///< a 👎 on the answer
    };
    std::int64_t questions = 0;
    std::int64_t answered = 0;
    std::vector<EntryCount> entries;    ///< most asked first, then those with feedback
    std::vector<Unanswered> unanswered; ///< unknown, probable, low confidence or 👎; newest first
};

/// A salon question an admin linked to an entry (`!kb lier`).
struct LinkedQuestion {
    std::string entry_id;
    std::string question;
};

/// The bot's Matrix state (component "state" of the state file). Thread-safe: the sync thread
/// and the sender share it, each call is serialised.
class StateStore {
public:
    /// Creates or migrates its tables in `state`; throws on failure, which stops start-up.
    explicit StateStore(StateDatabase& state);
    /// The same on a state file of its own at `path` (":memory:" for tests).
    explicit StateStore(const std::string& path);

    Result<Done> record_question(const QuestionRecord& record);

    /// Deletes the text of questions asked before `before` (Unix seconds); keeps the outcome.
    Result<int> purge_questions(std::int64_t before);

    /// The number of questions recorded (for tests and statistics).
    Result<std::int64_t> question_count();

    /// The text of question `id`; empty when there is none or its text was purged.
    Result<std::string> question_text(std::int64_t id);
    /// Keeps a question as a paraphrase of `entry_id` (once: linking it again changes nothing).
    Result<Done> link_question(const LinkedQuestion& link, std::int64_t at);
    /// Every linked question, oldest first, to teach the answerer at start.
    Result<std::vector<LinkedQuestion>> linked_questions();

    /// From now on the access token is kept sealed with `secret` (the crypto state's, when
    /// encryption is on): saved sealed, read back opened, and a token still in clear sealed at
    /// the next read. Call before session().
    void seal_tokens_with(std::string secret) { token_secret_ = std::move(secret); }
    /// The stored session; an error (French) when its token is sealed and cannot be opened.
    Result<std::optional<StoredSession>> session();
    Result<Done> save_session(const StoredSession& session);
    Result<Done> forget_session();

    Result<std::string> sync_token();
    Result<std::string> filter_id();
    Result<Done> save_filter_id(const std::string& filter_id);

    /// Records that the batch asked with `since` starts (again). The marker goes when a batch
    /// commits; an event still marked in progress at the next start killed the process and is
    /// set aside for good.
    Result<BatchAttempt> begin_batch(const std::string& since);
    /// The event (or invite, room, to-device message) the batch is handling now; "" for none.
    Result<Done> mark_in_progress(const std::string& event_key);
    Result<std::int64_t> set_aside_count();

    Result<bool> is_handled(const std::string& event_id);
    /// The entry id of one of the bot's sent messages (empty for a message without entry), or
    /// nothing when `event_id` is not the bot's.
    Result<std::optional<std::string>> sent_message(const std::string& event_id);
    /// The txn id one of the bot's sent messages went with (a reminder's delivery key), or
    /// nothing when `event_id` is not the bot's.
    Result<std::optional<std::string>> sent_txn_id(const std::string& event_id);
    Result<std::optional<RoomInfo>> room(const std::string& room_id);

    /// Writes a batch's outcome, and the crypto engine's changes when one is attached, in one
    /// transaction (notes/matrix.md §0.5: a crash never loses a room key). An empty batch just
    /// saves the engine (before an upload of new keys).
    Result<Done> commit(const SyncBatchWrites& batch);

    /// The direct chat to reach `user` in: the one the bot opened for them, else one they opened
    /// with the bot (flagged direct by their invite); nothing when there is none.
    Result<std::optional<std::string>> direct_chat(const std::string& user);
    /// The bot opened `room` (its inviter: the bot) as its direct chat with `user`.
    Result<Done> save_direct_chat(const std::string& user, const RoomInfo& room);
    /// `user` left that chat: it is no longer theirs (the next one is opened anew).
    Result<Done> forget_direct_chat(const std::string& user, const std::string& room_id);

    /// The rooms known to be encrypted.
    Result<std::vector<std::string>> encrypted_rooms();
    /// How many rooms the bot is in, and how many of them are encrypted (`!statut`).
    Result<std::pair<int, int>> room_counts();

    /// The messages waiting to be encrypted, oldest first (their `id` is 0).
    Result<std::vector<OutgoingMessage>> awaiting_encryption();

    /// The engine whose changes commit() saves (issue 7); null detaches it. The engine is opened
    /// on database(), the same connection, so that its writes join commit's transaction.
    void attach_crypto(crypto::Engine* engine);
    SQLite::Database& database() { return db_; }

    /// The next message to send: replies before background work, oldest first.
    Result<std::optional<OutgoingMessage>> next_outgoing();
    Result<std::int64_t> outgoing_count();
    /// Sent: removed from the outbox, remembered as the bot's message.
    Result<Done> mark_sent(const OutgoingMessage& message, const std::string& event_id);
    /// Refused for good (403, 400…): removed from the outbox.
    Result<Done> drop_outgoing(std::int64_t id);
    /// Refused for good, and `notice` takes its place, in one transaction: in the outbox, or in
    /// awaiting_encryption when `to_encrypt` (the sync loop encrypts it; the sender cannot).
    Result<Done> replace_outgoing(std::int64_t id, const OutgoingMessage& notice, bool to_encrypt);
    Result<Done> count_attempt(std::int64_t id);

    /// Statistics of the questions asked since `since` (Unix seconds).
    Result<KbStats> kb_stats(std::int64_t since, double low_confidence);

    /// Forgets handled-event ids older than `before` (Unix seconds): the ledger stays small.
    Result<int> purge_ledger(std::int64_t before);

private:
    std::string token_secret_; ///< seals the access token; empty: kept in clear
    /// A statement of the per-message path (ledger, outbox, rooms), prepared once and kept:
    /// parsing SQL was the bot's first CPU cost (perf). Reset and unbound when taken, reset when
    /// dropped, so that a read never keeps its snapshot.
    class Cached {
    public:
        explicit Cached(SQLite::Statement& statement);
        ~Cached();
        Cached(const Cached&) = delete;
        Cached& operator=(const Cached&) = delete;
        SQLite::Statement& operator*() const noexcept { return statement_; }
        SQLite::Statement* operator->() const noexcept { return &statement_; }

    private:
        SQLite::Statement& statement_;
    };
    /// Callers hold mutex_ (statements are shared by the sync and sender threads).
    Cached cached(const char* sql);

    explicit StateStore(std::unique_ptr<StateDatabase> own);

    std::unique_ptr<StateDatabase> own_; ///< only when opened from a path
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    crypto::Engine* crypto_ = nullptr;
    std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> statements_; ///< by SQL
};

} // namespace opalebot::bot
