#pragma once

#include "bot/addressing.hpp"
#include "bot/alerts.hpp"
#include "bot/config.hpp"
#include "bot/crypto_coordinator.hpp"
#include "bot/events.hpp"
#include "bot/file_messages.hpp"
#include "bot/matrix_client.hpp"
#include "bot/service_notifier.hpp"
#include "bot/state_store.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

namespace opalebot::bot {

/// A message the bot should consider, stripped of Matrix details.
struct IncomingMessage {
    std::string room_id;
    std::string event_id;
    std::string sender;
    std::string text;       ///< mention of the bot and reply fallback removed
    bool is_direct = false; ///< a direct chat: every message is for the bot
    bool addressed = false; ///< command, mention, reply to the bot, or direct chat
    int power_level = 0;    ///< the sender's power level in the room
    /// Where the reply goes: the room, or the thread it opens or was asked in. A conversation
    /// with the bot (a ticket dialogue) is keyed on it.
    Conversation conversation;
    /// A command's file: the message's own (caption) or the one it replies to.
    std::optional<std::pair<std::string, std::string>> attachment; ///< name, bytes
};

/// A reaction to one of the bot's messages, other than the 👍/👎 feedback: ✅/❌ on a ticket
/// card (issue 4), ✅ or ⏰ on a reminder (issue 6).
struct IncomingReaction {
    std::string room_id;
    std::string event_id; ///< the reaction's own
    std::string sender;
    std::string key;           ///< the emoji
    std::string target_event;  ///< the bot's message it annotates
    std::string target_txn_id; ///< the txn id that message went with
    Conversation conversation; ///< where the target was sent
    int power_level = 0;
};

/// What the bot answers (Markdown), and the question to record with the batch.
struct OutgoingReply {
    std::string markdown;
    std::string entry_id;
    std::optional<QuestionRecord> question;
    /// An emoji that says it all ("✅": added to the ticket): where the reply is sent as a
    /// notice of its own (Conversations' backend thread) it becomes a reaction on the message
    /// instead of `markdown`.
    std::string reaction{};
    /// Files sent after the text, in the same thread (a chart, an export).
    std::vector<OutgoingFile> files{};
};

/// Decides the reply to one message; never throws (main wraps the command router).
using MessageRouter = std::function<std::optional<OutgoingReply>(const IncomingMessage&)>;

/// Decides the reply to a reaction on one of the bot's messages; never throws.
using ReactionRouter = std::function<std::optional<OutgoingReply>(const IncomingReaction&)>;

/// Called when the bot must stop for good (token revoked): main ends the process.
using FatalHandler = std::function<void(const std::string& reason)>;

using Clock = std::function<std::chrono::system_clock::time_point()>;

/// The long-poll loop: syncs, handles each batch once, and commits its outcome with the next
/// token in one transaction (notes/matrix.md §3). Replies go to the outbox; the Sender sends.
class SyncLoop {
public:
    SyncLoop(MatrixClient& client, StateStore& store, const Config& config, Session session,
             MessageRouter router, std::function<void()> wake_sender, FatalHandler fatal = {},
             Clock clock = std::chrono::system_clock::now);

    /// The bot's display name, also recognised as a mention at the start of a message.
    void set_display_name(std::string name) { addressing_.set_display_name(std::move(name)); }

    /// Reads `config` from now on, and so does its addressing (a configuration reloaded on
    /// SIGHUP); kept alive while in use. Call on the loop's thread, between two syncs.
    void use_config(std::shared_ptr<const Config> config)
    {
        addressing_.use_config(*config);
        config_ = config.get();
        reloaded_config_ = std::move(config);
    }

    /// Work to do between two syncs on the loop's thread (due reminders); at most a long-poll
    /// timeout late.
    void set_between_syncs(std::function<void()> work) { between_syncs_ = std::move(work); }

    /// Says whether `sender` is in the middle of a conversation with the bot (a ticket
    /// dialogue) in `conversation`: then their messages there need no mention.
    void set_conversation_check(
        std::function<bool(const std::string& sender, const Conversation& conversation)> check)
    {
        in_conversation_ = std::move(check);
    }

    /// Reactions on the bot's messages (other than 👍/👎) go to `router`; without one they
    /// are ignored.
    void set_reaction_router(ReactionRouter router) { reaction_router_ = std::move(router); }

    /// Called on the loop's thread after each iteration with how it ended, and every few
    /// seconds while it waits to retry: the systemd watchdog's pings (issue 16).
    void set_heartbeat(std::function<void(SyncOutcome)> beat) { heartbeat_ = std::move(beat); }

    /// End-to-end encryption (issue 7): encrypted events are decrypted and handled like the
    /// others, replies to encrypted rooms are encrypted before they are stored. Without it the
    /// bot fails closed in encrypted rooms.
    void set_crypto(CryptoCoordinator* crypto) { crypto_ = crypto; }

    /// The alerts it posts in alertes.salon: its own until main shares one set with the other
    /// threads (iTop, the sender). Call before run().
    void use_alerts(Alerts& shared);
    Alerts& alerts() { return *alerts_; }
    /// The homeserver's failures in a row, as seen by /sync (for `!statut`); `shared` is
    /// counted instead of the loop's own. Call before run().
    void use_homeserver_health(ServiceHealth& shared);
    const ServiceHealth& homeserver_health() const { return *homeserver_health_; }

    /// Stores messages the bot sends on its own (reminders…) in the outbox, encrypted for the
    /// encrypted rooms (or waiting in the state file until their room key can be shared). A
    /// message for a room encrypted while E2EE is off refuses them all: nothing is stored, the
    /// caller keeps them for later. Call on the loop's thread.
    Result<Done> queue(SyncBatchWrites writes);

    /// The outbox messages that send `files` after the text queued as `text_txn_id` in
    /// `room_id`: uploaded now, encrypted when the room is (see file_messages). Call on the
    /// loop's thread; `writes` is the batch they join.
    std::vector<OutgoingMessage>
    file_messages_for(const std::string& room_id, const std::vector<OutgoingFile>& files,
                      const std::string& thread, const std::string& reply_to,
                      const std::string& text_txn_id, int priority, const SyncBatchWrites& writes);

    /// Ends the long-poll in flight (or makes the next one not wait), so that the work between
    /// syncs runs now: a reply computed on another thread is waiting. Any thread.
    void nudge();

    /// One sync and its handling; returns how long to wait before the next one.
    std::chrono::milliseconds run_once(std::stop_token stop = {});

    /// Handles a batch: `history` is the first sync, recorded but never answered.
    Result<Done> process(const SyncBatch& batch, bool history);

    /// Syncs until `stop` is requested.
    void run(std::stop_token stop);

    const std::string& since() const { return since_; }

    /// A batch started this many times without finishing is handled one event at a time, each
    /// marked in progress first; the one a crash leaves marked is set aside at the next start.
    static constexpr int poison_batch_starts = 3;

private:
    std::chrono::milliseconds handle_error(const Error& error);
    /// /sync from since_, waiting at most `timeout`; meanwhile, on this thread, the crypto
    /// coordinator prepares the rooms' next sessions.
    Result<SyncBatch> long_poll(std::chrono::milliseconds timeout, std::stop_token poll);
    Result<Done> process_batch(const SyncBatch& batch, bool history);
    /// The alerts due, as messages for alertes.salon.
    void queue_alerts(SyncBatchWrites& writes);
    /// store_.commit with the crypto coordinator's queued to-device messages.
    Result<Done> commit(SyncBatchWrites& writes);
    /// Records the batch's start and decides whether it is handled in quarantine.
    void begin_batch();
    /// Whether to handle `key` (an event id, "invite <room>", "room <room>", "to-device …"):
    /// false when it was set aside; in quarantine, marks it in progress first.
    bool enter(const std::string& key);
    /// The message replies (not as a thread fallback) to one of the bot's messages.
    bool replies_to_bot(const TextMessage& message);
    /// The file a command comes with; an error is French, for the sender. 5 MB: 20,000
    /// indicator rows take about 1.2 MB.
    Result<std::optional<std::pair<std::string, std::string>>>
    command_file(const std::string& room_id, const TextMessage& message,
                 std::int64_t max_bytes = 5 * 1024 * 1024);
    void handle_reaction(const Event& event, const Reaction& reaction, const RoomInfo& room,
                         SyncBatchWrites& writes);
    /// The conversation one of the bot's messages was sent in (read from the server).
    Conversation conversation_of(const std::string& room_id, const std::string& event_id);
    void accept_invite(const InvitedRoom& invite, SyncBatchWrites& writes);
    void handle_room(const JoinedRoom& room, bool history, SyncBatchWrites& writes);
    void handle_message(const Event& event, const TextMessage& message, const RoomInfo& room,
                        SyncBatchWrites& writes);
    /// An m.room.encrypted timeline event: decrypted and handled, or queued until its key comes.
    void handle_encrypted(const Event& event, const Encrypted& encrypted, const RoomInfo& room,
                          SyncBatchWrites& writes);
    /// A decrypted event, handled as if it had come in clear.
    void handle_decrypted(const Event& event, const RoomInfo& room, SyncBatchWrites& writes);
    /// The rooms' queued events whose key arrived, and a notice for those whose key never came.
    void handle_crypto_queue(SyncBatchWrites& writes);
    /// Encrypts the outgoing messages of encrypted rooms; those that cannot be now (network)
    /// move to writes.awaiting_encryption. A message for a room encrypted while E2EE is off is
    /// dropped when `drop_fail_closed`; otherwise nothing is done and false returned.
    bool encrypt_outgoing(SyncBatchWrites& writes, bool drop_fail_closed);
    /// The messages waiting for encryption, tried again.
    void retry_awaiting_encryption(SyncBatchWrites& writes);
    RoomInfo room_info(const std::string& room_id, const SyncBatchWrites& writes);
    /// True when replies into `room` would be encrypted (or the room is in clear).
    bool can_reply_in(const RoomInfo& room) const;
    void housekeeping();
    std::chrono::milliseconds age_of(const Event& event) const;
    /// The events a limited sync left out that are young enough to answer, oldest first.
    std::vector<Event> missed_events(const JoinedRoom& room);

    MatrixClient& client_;
    StateStore& store_;
    const Config* config_;                          ///< the one given, until use_config
    std::shared_ptr<const Config> reloaded_config_; ///< owns what use_config gave
    Session session_;
    Addressing addressing_;
    std::function<bool(const std::string&, const Conversation&)> in_conversation_;
    std::function<void()> between_syncs_;
    std::function<void(SyncOutcome)> heartbeat_;
    SyncOutcome last_outcome_ = SyncOutcome::interrupted;
    /// Replies of the batch being handled: how long after their question they were queued,
    /// observed once the batch is saved.
    std::vector<std::chrono::milliseconds> reply_latencies_;
    MessageRouter router_;
    ReactionRouter reaction_router_;
    CryptoCoordinator* crypto_ = nullptr;
    bool last_batch_saved_ = true; ///< between_syncs work waits for a saved batch
    /// When each sender was last told their message could not be decrypted (once an hour).
    std::map<std::string, std::chrono::system_clock::time_point, std::less<>> undecryptable_told_;
    /// Those told in the batch being handled: told for good once it is saved.
    std::map<std::string, std::chrono::system_clock::time_point, std::less<>>
        undecryptable_telling_;
    std::function<void()> wake_sender_;
    FatalHandler fatal_;
    Clock clock_;
    std::stop_token stop_; ///< the run's stop token: waits inside a batch end with it
    Alerts own_alerts_;
    Alerts* alerts_ = &own_alerts_;
    std::vector<Alerts::Due> alerts_in_batch_; ///< taken for the batch: put back if unsaved
    ServiceHealth own_homeserver_health_{"homeserver", 5};
    ServiceHealth* homeserver_health_ = &own_homeserver_health_;
    struct Quarantine {
        bool active = false;
        std::set<std::string> set_aside;
    } quarantine_;
    std::mutex poll_mutex_;
    std::stop_source* current_poll_ = nullptr; ///< the long-poll in flight, for nudge()
    bool nudged_ = false;                      ///< nudged while no long-poll was in flight
    std::string since_;
    std::string filter_id_;
    std::chrono::milliseconds backoff_{0};
    bool last_batch_had_events_ = false;
    bool ready_ = false; ///< "ready" is logged once, after the first sync of this run
    std::chrono::system_clock::time_point last_housekeeping_{};
};

/// The transaction id of the n-th message sent for `event_id`: the same on every retry and
/// after a restart, so the server de-duplicates a resend (notes/matrix.md §6).
std::string txn_id_for(std::string_view event_id, int n = 0);

/// How a message the bot sends on its own reaches people.
struct NoticeStyle {
    /// An m.text rather than an m.notice: the default push rule ".m.rule.suppress_notices"
    /// comes before the mention rules, so a notice never notifies anyone (reminders must).
    bool notify = false;
    bool mention_room = false; ///< m.mentions.room: an @room asked for by an admin
};

/// The content key every message of opale-bot carries, whatever its msgtype: another opale-bot
/// never answers it (notes/matrix.md: bots must not loop).
inline constexpr std::string_view automated_marker = "fr.gouv.opale-bot.automated";

/// An m.notice (or m.text, see NoticeStyle) from Markdown (body in plain text, formatted_body in
/// safe HTML) that pings only `mentions`, in `thread` when not empty, replying to `reply_to`
/// when not empty.
std::string notice_content(std::string_view markdown, const std::vector<std::string>& mentions,
                           const std::string& thread, const std::string& reply_to,
                           NoticeStyle style = {});

/// The /sync filter (notes/matrix.md §3).
std::string sync_filter_json(int timeline_limit = 20);

} // namespace opalebot::bot
