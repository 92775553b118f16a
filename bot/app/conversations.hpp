#pragma once

#include "bot/addressing.hpp"
#include "bot/alerts.hpp"
#include "bot/config.hpp"
#include "bot/state_store.hpp"
#include "bot/sync_loop.hpp"
#include "commands/builtin.hpp"
#include "commands/document_shelf.hpp"
#include "commands/eple_commands.hpp"
#include "commands/eple_store.hpp"
#include "commands/kit_campaign.hpp"
#include "commands/registry.hpp"
#include "commands/reminder_commands.hpp"
#include "commands/reminder_store.hpp"
#include "commands/ticket_backend.hpp"
#include "commands/ticket_dialogue.hpp"
#include "commands/ticket_follow_up.hpp"
#include "commands/user_profile_store.hpp"
#include "commands/weekly_digest.hpp"
#include "knowledge/answerer.hpp"
#include "opalebot/state_database.hpp"

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend_queue.hpp"
#include "status.hpp"

namespace opalebot::app {

/// A message the bot sends on its own (not a reply): a reminder, a kit campaign message, an
/// expired ticket dialogue, a ticket's follow-up.
struct Notice {
    bot::Conversation conversation;
    std::vector<std::string> mentions;
    std::string markdown;
    std::string txn_id; ///< deterministic: a resend after a crash is de-duplicated
    bot::NoticeStyle style{};
    std::string reply_to{}; ///< the event it answers (a reply computed off the sync thread)
    int priority = 1;       ///< 0: a reply, sent before background work
    std::string reaction{}; ///< when set, this reaction on reply_to instead of a message
    std::vector<OutgoingFile> files{}; ///< sent after the text, in its thread
    /// When set, the notice goes to this user's direct chat (opened if need be), not to
    /// `conversation`.
    std::string direct_to{};
    /// The fiche the reply shows (an answer computed off the sync thread): 👍 and 👎 on it
    /// count for that fiche in `!kb stats`.
    std::string entry_id{};
};

/// Where notices go: the outbox (Matrix bot) or the screen (console). False when they could not
/// be stored, or a direct chat is not ready yet: they stay claimed, and are given again later
/// (the campaign's direct messages at the next tries, the rest at the next start).
using NoticeSink = std::function<bool(const std::vector<Notice>&)>;

/// What the conversation rules work on. The composition root builds and owns them; they must
/// outlive the Conversations.
struct ConversationServices {
    knowledge::Answerer& answerer;
    std::filesystem::path kb_dir; ///< what `!kb recharger` reads again
    commands::StatsSource* stats; ///< serves `!kb stats`; none: not served
    commands::EpleStore& eple;
    commands::EpleOptions eple_options;   ///< its `tickets` counts an EPLE's open tickets
    commands::TicketBackend& tickets;     ///< the built-in store or iTop
    commands::TicketDialogues& dialogues; ///< over `tickets`
    commands::TicketFollowUp& follow_up;  ///< over `tickets`
    commands::ReminderStore& reminders;
    commands::ReminderOptions reminder_options; ///< its clock is the conversations' clock
    commands::UserProfileStore& profiles;
    commands::KitCampaign& campaign;
    bot::Alerts* alerts = nullptr; ///< told of refused imports; none: only the admin who ran it
    std::function<StatusReport()> status = {}; ///< serves `!statut`; none: not served
    /// What else follows a reloaded configuration (the iTop triage); on the sync thread.
    std::function<void(const bot::Config&)> on_reconfigure{};
    /// The documents added from the salon (`!kb ajouter`); none: not served.
    commands::DocumentShelf* shelf = nullptr;
    /// The weekly digest (`rapports.hebdo`, `!rapport essai`); none: not served.
    commands::WeeklyDigest* digest = nullptr;
};

/// Keeps the question of the message being handled, so that the caller records it with the
/// reply (the sync loop, in the batch's transaction: a crash never counts a question twice).
class CapturedQuestion final : public commands::QuestionLog {
public:
    void record(const commands::Message& message, const knowledge::Answer& answer) override;
    /// The question recorded by this thread's message (the sync thread and the backend thread
    /// each handle messages), if any.
    std::optional<bot::QuestionRecord> take();

private:
    std::mutex mutex_;
    std::map<std::thread::id, bot::QuestionRecord> last_;
};

/// The conversation rules (issue 19), the same for the Matrix bot and the console: one command
/// registry; a message goes to an open ticket dialogue before the commands, and unaddressed chat
/// gets only a clear answer; ✅/❌ on a ticket's summary card confirm or cancel it, ✅ or ⏰ on a
/// reminder acknowledge or snooze it; between two syncs, idle dialogues expire and due
/// reminders, kit campaign messages and ticket follow-ups are posted. Call on one thread; with
/// start_backend_thread, the work that waits on the ticket backend runs on a thread of its own.
class Conversations {
public:
    Conversations(const bot::Config& config, ConversationServices services);
    Conversations(const Conversations&) = delete; // the registry's handlers point into it
    Conversations& operator=(const Conversations&) = delete;
    ~Conversations();

    /// From now on, what waits on the ticket backend (iTop may take its whole timeout per call:
    /// ticket commands, answers in a ticket dialogue, ✅ on its card, `!eple`'s open tickets, the
    /// follow-up) runs on a thread of its own, kept in `state` until its reply is queued;
    /// on_message gives nothing for it, and between_syncs posts its reply. `nudge` is called
    /// (from that thread) when a reply is ready, to end the long-poll. Jobs left by a crash run
    /// again. Throws when the state file cannot hold the queue. The questions that thread
    /// answers go to `questions` (with their room and event), as the sync loop records its own:
    /// `!kb stats`, `!kb lier` and 👎 see them all.
    using QuestionSink = std::function<void(const bot::QuestionRecord&)>;
    void start_backend_thread(StateDatabase& state, std::function<void()> nudge,
                              QuestionSink questions = {});
    /// Stops that thread (at once, or after the backend call in flight); its unfinished jobs
    /// stay queued for the next start.
    void stop_backend_thread();

    /// The reply to a message, with the question to record; nothing for chat not meant for the
    /// bot. `message.event_id` names the reply (the summary card's txn id is txn_id_for of it).
    std::optional<bot::OutgoingReply> on_message(const bot::IncomingMessage& message);

    /// The reply to a reaction on one of the bot's messages (other than 👍/👎), if any.
    std::optional<bot::OutgoingReply> on_reaction(const bot::IncomingReaction& reaction);

    /// Whether `user` is in the middle of a ticket dialogue in `conversation`: then their
    /// messages there need no mention.
    bool in_dialogue(const std::string& user, const bot::Conversation& conversation);
    /// In a ticket dialogue, or in the thread of a ticket they asked for (their messages there
    /// go to the ticket): either way their messages need no mention.
    bool in_conversation(const std::string& user, const bot::Conversation& conversation);

    /// Claimed before a crash and not posted: reminders and campaign messages, posted again
    /// with their txn ids (the homeserver drops a duplicate). Call once at start.
    void resend_unsent(const NoticeSink& post);

    /// The work between two syncs at `now`: idle dialogues expire (checked once a minute), due
    /// reminders and campaign messages are claimed and posted, ticket follow-ups are told.
    void between_syncs(commands::Instant now, const NoticeSink& post);

    const commands::Registry& registry() const { return registry_; }

    /// The configuration reloaded on SIGHUP (issue 16): roles, the unaddressed answers' score,
    /// notify_asker, the difficulty rule and the members' reminder limits follow it from the
    /// next message on, on both threads; then services.on_reconfigure. The prefix and the
    /// options the stores were built with stay. Call on the sync thread.
    void reconfigure(std::shared_ptr<const bot::Config> config);
    /// Reads the knowledge base folder again, as `!kb recharger` does (a base without any
    /// valid entry is refused, the old one kept). Call on the sync thread, as the commands.
    commands::KnowledgeReload reload_knowledge();

private:
    std::optional<bot::OutgoingReply> handle_message(const bot::IncomingMessage& message);
    /// The requester's message in their ticket's thread, added to the ticket; nothing when the
    /// message is not one.
    std::optional<bot::OutgoingReply> relay_to_ticket(const bot::IncomingMessage& message);
    std::optional<bot::OutgoingReply> dialogue_reaction(const bot::IncomingReaction& reaction);
    bool waits_on_backend(const bot::IncomingMessage& message);
    /// Queues the job; false when the state file refused it (then it is handled at once).
    bool defer(BackendJob job);
    std::vector<Notice> run_job(const BackendJob& job);
    void work(const std::stop_token& stop);
    void post_backend_replies(const NoticeSink& post);
    bool confirming(const std::string& user, const bot::Conversation& conversation);
    /// After a message of a dialogue: the reply is the card when the dialogue just reached it.
    void note_summary_card(const bot::IncomingMessage& message, bool was_confirming);
    void post_reminders(const std::vector<commands::Delivery>& deliveries, const NoticeSink& post);
    void post_digest(const std::vector<commands::DigestMessage>& messages, const NoticeSink& post);
    /// A wave's dashboard with its chart, as `!vague N graphique` answers it (the digest's part).
    commands::Reply wave_report(int vague);
    /// The tickets between two days, as `!tickets stats du … au …` counts them (the digest's).
    std::string ticket_report(commands::Instant from, commands::Instant to);
    /// The number of messages queued.
    int post_campaign(const std::vector<commands::CampaignMessage>& messages,
                      const NoticeSink& post);
    /// The campaign's messages that could not go yet, tried again when due.
    void retry_campaign(commands::Instant now, const NoticeSink& post);

    /// The configuration in force, read once per message, reaction or backend job: a reload
    /// swaps the pointer (on the sync thread), never the object the backend thread is reading.
    std::shared_ptr<const bot::Config> config() const;

    const bot::Config& initial_config_; ///< the caller's, until reconfigure
    mutable std::mutex config_mutex_;
    std::shared_ptr<const bot::Config> reloaded_config_; ///< none until reconfigure
    ConversationServices services_;
    CapturedQuestion question_;
    commands::Registry registry_;
    /// The txn id of each open dialogue's summary card, by (user, conversation key), so that a
    /// ✅ confirms only on the card itself (not on an older message of the thread). Kept in
    /// memory: after a restart any bot message of the conversation is taken, as before.
    std::map<std::pair<std::string, std::string>, std::string, std::less<>> summary_cards_;
    std::mutex summary_cards_mutex_; ///< the backend thread notes cards too
    commands::Instant last_expiry_check_{};
    /// The campaign's direct messages wait for their chat (opened, then seen in a sync): tried
    /// again from then on, until sent or given up after a day.
    std::optional<commands::Instant> campaign_retry_at_;
    std::chrono::seconds campaign_retry_delay_{10}; ///< doubles while a retry sends nothing

    // The backend thread (start_backend_thread): its queue, the replies it computed and not yet
    // posted (by event id; "" for follow-up notices), and how it is woken.
    std::unique_ptr<BackendQueue> backend_queue_;
    std::function<void()> nudge_;
    QuestionSink backend_questions_;
    std::mutex backend_mutex_;
    std::mutex knowledge_mutex_; ///< the answerer, used by the sync and backend threads
    std::condition_variable_any backend_wake_;
    bool backend_work_ = false;
    std::vector<std::pair<std::string, std::vector<Notice>>> backend_replies_;
    std::set<std::string, std::less<>> backend_handed_over_; ///< computed, not yet finished
    std::jthread backend_thread_; ///< last: stopped and joined before the rest goes
};

/// The role of `sender`: listed in the config, or given by their power level in the room.
commands::Role role_of(const bot::Config& config, const std::string& sender,
                       const std::string& room_id, int power_level);

/// The rule of difficultes.* as the EPLE commands take it.
commands::DifficultyRule difficulty_rule_of(const bot::Config& config);

/// Finds an EPLE by (part of) its name for the ticket dialogue: only an unambiguous match.
commands::EpleFinder eple_finder(commands::EpleStore& store);

} // namespace opalebot::app
