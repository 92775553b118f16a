#include "conversations.hpp"

#include "bot/crypto/attachment.hpp"
#include "commands/eple_import.hpp"
#include "commands/export_commands.hpp"
#include "commands/french_format.hpp"
#include "commands/profile_commands.hpp"
#include "commands/ticket_commands.hpp"
#include "knowledge/text.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace opalebot::app {
namespace {

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// The reaction without its variation selector (U+FE0F), which clients add or not.
std::string bare_emoji(std::string key)
{
    constexpr std::string_view selector = "\xEF\xB8\x8F";
    for (auto at = key.find(selector); at != std::string::npos; at = key.find(selector))
        key.erase(at, selector.size());
    return key;
}

bot::OutgoingReply reply_of(std::string markdown)
{
    return bot::OutgoingReply{std::move(markdown), {}, std::nullopt};
}

/// The follow-up's findings as notices that notify the requester in the ticket's thread; the
/// txn id makes a resend after a crash harmless.
std::vector<Notice> follow_up_notices(const std::vector<commands::FollowUpNotice>& found)
{
    std::vector<Notice> notices;
    for (const auto& n : found)
        notices.push_back({bot::Conversation::from_key(n.conversation),
                           {n.requester},
                           n.markdown,
                           bot::txn_id_for("suivi|" + n.ref + "|" + n.markdown),
                           {true, false}});
    return notices;
}

std::string lane_of(const std::string& sender, const bot::Conversation& conversation)
{
    return sender + "|" + conversation.key();
}

bool is_yes_or_no(const std::string& reaction_key)
{
    const auto key = bare_emoji(reaction_key);
    return key == "\u2705" || key == "\u2714" || key == "\u274C" || key == "\u2716";
}

// A deferred message or reaction, as the backend thread reads it back from the state file.
using nlohmann::json;

BackendJob job_of(const bot::IncomingMessage& in)
{
    json payload{{"kind", "message"},
                 {"room", in.room_id},
                 {"conversation", in.conversation.key()},
                 {"sender", in.sender},
                 {"text", in.text},
                 {"direct", in.is_direct},
                 {"addressed", in.addressed},
                 {"power", in.power_level}};
    BackendJob job{
        in.event_id, lane_of(in.sender, in.conversation), {}, std::nullopt, std::nullopt};
    if (in.attachment) {
        payload["file"] = in.attachment->first;
        job.attachment = in.attachment->second;
    }
    job.payload = payload.dump();
    return job;
}

BackendJob job_of(const bot::IncomingReaction& r)
{
    const json payload{
        {"kind", "reaction"},     {"room", r.room_id},     {"conversation", r.conversation.key()},
        {"sender", r.sender},     {"key", r.key},          {"target", r.target_event},
        {"txn", r.target_txn_id}, {"power", r.power_level}};
    return {r.event_id, lane_of(r.sender, r.conversation), payload.dump(), std::nullopt,
            std::nullopt};
}

// A reply's files are kept with it, bytes in base64, until it is queued: a crash in between
// posts them again.
json to_json(const std::vector<OutgoingFile>& files)
{
    using bot::crypto::base64_encode;
    auto all = json::array();
    for (const auto& f : files) {
        json file{{"name", f.name},
                  {"type", f.mime_type},
                  {"content", base64_encode(f.content)},
                  {"description", f.description}};
        if (f.image)
            file["image"] = {{"w", f.image->width},
                             {"h", f.image->height},
                             {"thumbnail", base64_encode(f.image->thumbnail_png)},
                             {"thumbnail_w", f.image->thumbnail_width},
                             {"thumbnail_h", f.image->thumbnail_height}};
        all.push_back(std::move(file));
    }
    return all;
}

std::vector<OutgoingFile> files_from(const json& all)
{
    const auto bytes = [](const json& object, const char* key) {
        return bot::crypto::base64_decode(object.value(key, std::string{})).value_or("");
    };
    std::vector<OutgoingFile> files;
    if (!all.is_array())
        return files;
    for (const auto& f : all) {
        if (!f.is_object())
            continue;
        OutgoingFile file{f.value("name", ""), f.value("type", ""), bytes(f, "content"),
                          std::nullopt, f.value("description", "")};
        if (const auto image = f.find("image"); image != f.end() && image->is_object())
            file.image = OutgoingFile::Image{
                image->value("w", 0), image->value("h", 0), bytes(*image, "thumbnail"),
                image->value("thumbnail_w", 0), image->value("thumbnail_h", 0)};
        files.push_back(std::move(file));
    }
    return files;
}

json to_json(const std::vector<Notice>& notices)
{
    auto all = json::array();
    for (const auto& n : notices)
        all.push_back({{"conversation", n.conversation.key()},
                       {"mentions", n.mentions},
                       {"markdown", n.markdown},
                       {"txn", n.txn_id},
                       {"notify", n.style.notify},
                       {"room_mention", n.style.mention_room},
                       {"reply_to", n.reply_to},
                       {"priority", n.priority},
                       {"reaction", n.reaction},
                       {"files", to_json(n.files)},
                       {"entry", n.entry_id}});
    return all;
}

std::vector<Notice> notices_from(const std::string& text)
{
    std::vector<Notice> notices;
    const auto all = json::parse(text, nullptr, false); // written by to_json above
    if (!all.is_array())
        return notices;
    for (const auto& n : all)
        if (n.is_object())
            notices.push_back({bot::Conversation::from_key(n.value("conversation", "")),
                               n.value("mentions", std::vector<std::string>{}),
                               n.value("markdown", ""),
                               n.value("txn", ""),
                               {n.value("notify", false), n.value("room_mention", false)},
                               n.value("reply_to", ""),
                               n.value("priority", 0),
                               n.value("reaction", ""),
                               files_from(n.value("files", json::array())),
                               {},
                               n.value("entry", "")});
    return notices;
}

} // namespace

void CapturedQuestion::record(const commands::Message& message, const knowledge::Answer& answer)
{
    // Every question the bot answers comes through here (addressed, or clear enough unaddressed).
    auto& metrics = metrics::bot_metrics();
    metrics.questions.add();
    metrics.answers.with(knowledge::confidence_of(answer)).add();
    if (answer.kind == knowledge::Answer::Kind::unknown)
        metrics.abstentions.add();
    const std::lock_guard lock{mutex_};
    last_.insert_or_assign(std::this_thread::get_id(),
                           bot::QuestionRecord{unix_now(),
                                               message.room,
                                               message.sender,
                                               message.body,
                                               std::string{knowledge::to_string(answer.kind)},
                                               answer.entry_id,
                                               answer.score,
                                               {}}); // the event id: the sync loop knows it
}

std::optional<bot::QuestionRecord> CapturedQuestion::take()
{
    const std::lock_guard lock{mutex_};
    auto mine = last_.extract(std::this_thread::get_id());
    if (mine.empty())
        return std::nullopt;
    return std::move(mine.mapped());
}

commands::Role role_of(const bot::Config& config, const std::string& sender,
                       const std::string& room_id, int power_level)
{
    const auto listed = [&](const std::vector<std::string>& users) {
        return std::find(users.begin(), users.end(), sender) != users.end();
    };
    // A power level is the room's: it counts only in the salons the admins trusted with it
    // (anyone can make a room of their own, with power 100, and invite the bot there).
    const auto& trusted =
        config.power_level_rooms.empty() ? config.allowed_rooms : config.power_level_rooms;
    if (std::find(trusted.begin(), trusted.end(), room_id) == trusted.end())
        power_level = 0;
    if (listed(config.admins) ||
        (config.admin_power_level > 0 && power_level >= config.admin_power_level))
        return commands::Role::admin;
    if (listed(config.support) ||
        (config.support_power_level > 0 && power_level >= config.support_power_level))
        return commands::Role::support;
    return commands::Role::member;
}

commands::EpleFinder eple_finder(commands::EpleStore& store)
{
    return [&store](std::string_view name) -> std::optional<commands::EpleMatch> {
        const auto all = store.etablissements();
        if (!all)
            return std::nullopt;
        const auto wanted = knowledge::fold(name);
        std::optional<commands::EpleMatch> match;
        for (const auto& e : all.value()) {
            if (knowledge::fold(e.nom).find(wanted) == std::string::npos)
                continue;
            if (match)
                return std::nullopt; // several: the dialogue asks for the UAI
            match = commands::EpleMatch{e.uai, e.nom};
        }
        return match;
    };
}

commands::DifficultyRule difficulty_rule_of(const bot::Config& config)
{
    const auto& d = config.difficulty;
    return {d.kit_below, d.paiements_below, d.ej_below, d.titres_below, d.signals_needed};
}

Conversations::Conversations(const bot::Config& config, ConversationServices services)
    : initial_config_(config), services_(std::move(services)), registry_(config.command_prefix)
{
    auto& s = services_;
    // The commands keep copies of their options: after a reload they read these two instead.
    s.eple_options.current_rule = [this, rule = s.eple_options.rule] {
        const std::lock_guard lock{config_mutex_};
        return reloaded_config_ ? difficulty_rule_of(*reloaded_config_) : rule;
    };
    s.reminder_options.current_member_limits =
        [this, limits = std::pair{s.reminder_options.member_min_interval,
                                  s.reminder_options.member_max_reminders}] {
            const std::lock_guard lock{config_mutex_};
            if (!reloaded_config_)
                return limits;
            const auto& r = reloaded_config_->reminder_limits;
            return std::pair{std::chrono::minutes{r.min_interval_minutes}, r.max_per_user};
        };
    commands::add_knowledge_commands(registry_, s.answerer, s.kb_dir, &question_, s.stats, s.shelf);
    commands::add_eple_commands(registry_, s.eple, s.eple_options);
    commands::add_eple_import_command(
        registry_, s.eple, [alerts = s.alerts](const commands::ImportReport& report) {
            if (alerts != nullptr)
                alerts->raise("import", report.kind + " : " + report.file_name + ", " +
                                            (report.error_count > 0
                                                 ? std::to_string(report.error_count) + " erreur(s)"
                                                 : std::string{"écriture impossible"}));
        });
    commands::add_ticket_commands(registry_, s.tickets, s.dialogues);
    commands::add_export_commands(registry_, s.eple, s.tickets, s.eple_options);
    // Reminders, the users' EPLE links and zones, the kit campaign (issue 6).
    commands::add_profile_commands(registry_, s.profiles, &s.eple);
    commands::add_reminder_commands(registry_, s.reminders, s.reminder_options);
    commands::add_campaign_commands(registry_, s.campaign);
    if (s.digest != nullptr)
        commands::add_digest_commands(
            registry_, *s.digest, [this](int vague) { return wave_report(vague); }, {},
            [this](commands::Instant from, commands::Instant to) {
                return ticket_report(from, to);
            });
    if (s.status) {
        const auto& prefix = registry_.prefix();
        commands::Command status{
            "statut",
            {"status", "etat"},
            prefix + "statut",
            "l'état du bot : serveur, envois en attente, salons, iTop, rappels, dernières erreurs",
            commands::Role::admin,
            [report = s.status](const commands::Context&) {
                return commands::Reply{format_status(report(), std::chrono::system_clock::now()),
                                       {}};
            }};
        if (!registry_.add(std::move(status)))
            throw std::logic_error("command registered twice: statut"); // a programming error
    }
}

std::shared_ptr<const bot::Config> Conversations::config() const
{
    const std::lock_guard lock{config_mutex_};
    if (reloaded_config_)
        return reloaded_config_;
    return {std::shared_ptr<const bot::Config>{}, &initial_config_}; // not owned: it outlives us
}

void Conversations::reconfigure(std::shared_ptr<const bot::Config> config)
{
    {
        const std::lock_guard lock{config_mutex_};
        reloaded_config_ = config;
    }
    if (services_.on_reconfigure)
        services_.on_reconfigure(*config);
}

commands::KnowledgeReload Conversations::reload_knowledge()
{
    const std::lock_guard knowledge{knowledge_mutex_};
    return commands::reload_knowledge(services_.answerer, services_.kb_dir,
                                      services_.shelf != nullptr ? services_.shelf->folder()
                                                                 : std::filesystem::path{});
}

bool Conversations::confirming(const std::string& user, const bot::Conversation& conversation)
{
    const auto dialogue = services_.dialogues.get(user, conversation.key());
    return dialogue && dialogue->stage == commands::DialogueStage::confirming;
}

void Conversations::note_summary_card(const bot::IncomingMessage& message, bool was_confirming)
{
    auto key = std::pair{message.sender, message.conversation.key()};
    const std::lock_guard lock{summary_cards_mutex_};
    if (!confirming(message.sender, message.conversation))
        summary_cards_.erase(key);
    else if (!was_confirming)
        summary_cards_[std::move(key)] = bot::txn_id_for(message.event_id); // the reply's txn id
}

bool Conversations::in_dialogue(const std::string& user, const bot::Conversation& conversation)
{
    return services_.dialogues.is_open(user, conversation.key());
}

Conversations::~Conversations()
{
    stop_backend_thread();
}

void Conversations::stop_backend_thread()
{
    if (backend_thread_.joinable()) {
        backend_thread_.request_stop(); // a call in flight ends at iTop's timeout
        backend_thread_.join();
    }
}

void Conversations::start_backend_thread(StateDatabase& state, std::function<void()> nudge,
                                         QuestionSink questions)
{
    backend_queue_ = std::make_unique<BackendQueue>(state);
    nudge_ = std::move(nudge);
    backend_questions_ = std::move(questions);
    backend_thread_ = std::jthread{[this](const std::stop_token& stop) { work(stop); }};
}

bool Conversations::waits_on_backend(const bot::IncomingMessage& in)
{
    if (backend_queue_->busy(lane_of(in.sender, in.conversation)))
        return true; // after the sender's earlier message here, never before it
    if (commands::parse_command(in.text, registry_.prefix()))
        return registry_.waits_on_backend(in.text);
    // a dialogue's last answer creates the ticket; a message in a ticket's thread goes to it
    return in_conversation(in.sender, in.conversation);
}

bool Conversations::in_conversation(const std::string& user, const bot::Conversation& conversation)
{
    return in_dialogue(user, conversation) ||
           services_.follow_up.watched_in(conversation.key(), user).has_value();
}

std::optional<bot::OutgoingReply> Conversations::relay_to_ticket(const bot::IncomingMessage& in)
{
    const auto watched = services_.follow_up.watched_in(in.conversation.key(), in.sender);
    if (!watched)
        return std::nullopt;
    const auto& ref = watched->ref;
    const auto refused = [&ref](const Error& error) {
        std::string why = commands::is_user_facing(error)
                              ? knowledge::escape_markdown(error.message)
                              : std::string{"le service de tickets est indisponible."};
        return reply_of("Votre message n'a pas pu être ajouté au ticket **" + ref + "** : " + why +
                        " Renvoyez-le un peu plus tard.");
    };
    if (in.attachment) {
        const commands::Attachment file{in.attachment->first, in.attachment->second};
        if (auto attached = services_.tickets.attach(ref, file, in.sender); !attached)
            return refused(attached.error());
    }
    // a file without a caption has its name for text: already said by the attachment
    const auto text = std::string{commands::trim(in.text)};
    if (!text.empty() && !(in.attachment && text == in.attachment->first))
        if (auto added = services_.tickets.update(ref, std::nullopt, text, in.sender); !added)
            return refused(added.error());
    auto reply = reply_of("Ajouté au ticket **" + ref + "**.");
    reply.reaction = "\u2705"; // ✅ on the message: the thread stays the conversation
    return reply;
}

bool Conversations::defer(BackendJob job)
{
    if (auto added = backend_queue_->add(job); !added)
        return false;
    {
        const std::lock_guard lock{backend_mutex_};
        backend_work_ = true;
    }
    backend_wake_.notify_one();
    return true;
}

std::optional<bot::OutgoingReply> Conversations::on_message(const bot::IncomingMessage& in)
{
    if (backend_queue_ && waits_on_backend(in) && defer(job_of(in)))
        return std::nullopt; // the backend thread replies
    return handle_message(in);
}

std::optional<bot::OutgoingReply> Conversations::handle_message(const bot::IncomingMessage& in)
{
    // The knowledge base answers on one thread at a time (its index is not thread-safe); a
    // message that waits on iTop does not hold it, so questions are not held up meanwhile.
    const bool for_backend = commands::parse_command(in.text, registry_.prefix())
                                 ? registry_.waits_on_backend(in.text)
                                 : in_conversation(in.sender, in.conversation);
    std::unique_lock knowledge{knowledge_mutex_, std::defer_lock};
    if (!for_backend)
        knowledge.lock();
    static_cast<void>(question_.take());
    const auto settings = config();
    // Commands see the conversation (room and thread): a ticket dialogue is keyed on it.
    commands::Message message{in.sender, in.conversation.key(), in.text,
                              role_of(*settings, in.sender, in.room_id, in.power_level),
                              std::nullopt};
    if (in.attachment)
        message.attachment = commands::Attachment{in.attachment->first, in.attachment->second};
    const bool was_confirming = confirming(in.sender, in.conversation);
    // An open ticket dialogue takes the answers that are not commands, then a ticket's thread
    // takes its requester's messages.
    if (!commands::parse_command(in.text, registry_.prefix())) {
        if (auto answer = commands::answer_ticket_dialogue(services_.dialogues, message)) {
            note_summary_card(in, was_confirming);
            return reply_of(std::move(answer->markdown));
        }
        if (auto relayed = relay_to_ticket(in))
            return relayed;
    }
    if (!in.addressed) { // salon chatter: only a clear answer, and only when enabled
        if (!knowledge.owns_lock())
            knowledge.lock();
        auto answer = services_.answerer.ask(in.text);
        if (answer.kind != knowledge::Answer::Kind::entry ||
            answer.score < settings->answer_without_mention_min_score)
            return std::nullopt;
        question_.record(message, answer);
        return bot::OutgoingReply{std::move(answer.text), answer.entry_id, question_.take()};
    }
    auto reply = registry_.dispatch(message);
    if (!reply)
        return std::nullopt;
    // `!ticket nouveau` shows the card (every field given, or the dialogue shown again).
    note_summary_card(in, false);
    return bot::OutgoingReply{std::move(reply->markdown),
                              std::move(reply->entry_id),
                              question_.take(),
                              {},
                              std::move(reply->files)};
}

std::optional<bot::OutgoingReply> Conversations::on_reaction(const bot::IncomingReaction& reaction)
{
    // ✅ or ⏰ on a reminder acknowledge or snooze it (issue 6): its delivery key is the txn id
    // it was sent with.
    const auto role = role_of(*config(), reaction.sender, reaction.room_id, reaction.power_level);
    const auto& reminder_options = services_.reminder_options;
    // ✅ on a kit reminder sent by direct message: no repeat of it (issue 17).
    if (const auto bare = bare_emoji(reaction.key);
        bare == "\u2705" || bare == "\u2714" || bare == "\u2611") {
        const auto noted = services_.campaign.acknowledge(reaction.target_txn_id, reaction.sender,
                                                          reminder_options.clock());
        if (!noted)
            return reply_of("Je n'arrive pas à enregistrer votre confirmation pour le moment ; "
                            "réessayez plus tard.");
        if (noted.value())
            return reply_of(*noted.value() == commands::CampaignAcknowledgement::noted
                                ? "✅ Bien noté, merci : je ne vous rappelle plus cette relance."
                                : "✅ C'était déjà noté.");
    }
    if (auto text = commands::on_reminder_reaction(services_.reminders, reminder_options,
                                                   reaction.target_txn_id, reaction.sender, role,
                                                   reaction.key, reminder_options.clock()))
        return reply_of(std::move(*text));
    if (!is_yes_or_no(reaction.key))
        return std::nullopt;
    // ✅ on the card creates the ticket: on the backend thread, after the sender's earlier
    // answers there
    if (backend_queue_ && in_dialogue(reaction.sender, reaction.conversation) &&
        defer(job_of(reaction)))
        return std::nullopt;
    return dialogue_reaction(reaction);
}

std::optional<bot::OutgoingReply>
Conversations::dialogue_reaction(const bot::IncomingReaction& reaction)
{
    // ✅/❌ on the summary card confirm or cancel the ticket (issue 4).
    const auto key = bare_emoji(reaction.key);
    const bool yes = key == "\u2705" || key == "\u2714";
    const auto role = role_of(*config(), reaction.sender, reaction.room_id, reaction.power_level);
    const auto conversation = reaction.conversation.key();
    const auto dialogue = services_.dialogues.get(reaction.sender, conversation);
    if (!dialogue || dialogue->stage == commands::DialogueStage::collecting)
        return std::nullopt; // a ✅ is no answer to "which EPLE?"
    if (dialogue->stage == commands::DialogueStage::confirming) {
        const std::lock_guard lock{summary_cards_mutex_};
        if (const auto card = summary_cards_.find(std::pair{reaction.sender, conversation});
            card != summary_cards_.end() && card->second != reaction.target_txn_id)
            return std::nullopt; // a ✅ on another message of the thread
    }
    const commands::Message message{reaction.sender, conversation, yes ? "oui" : "non", role,
                                    std::nullopt};
    auto answer = commands::answer_ticket_dialogue(services_.dialogues, message);
    if (!answer)
        return std::nullopt;
    return reply_of(std::move(answer->markdown));
}

void Conversations::post_reminders(const std::vector<commands::Delivery>& deliveries,
                                   const NoticeSink& post)
{
    // Exactly once: the reminder ledger claims each occurrence once, a crash before mark_sent
    // gives it back at the next start (unsent), and its txn id makes the resend harmless. One
    // at a time: a reminder for a room that cannot take it now (encrypted while encryption is
    // off) stays claimed for the next start without holding the others back.
    for (const auto& d : deliveries) {
        // The reminder's room is the conversation it was set in.
        std::vector<std::string> mentions;
        if (d.reminder.target == commands::ReminderTarget::user)
            mentions.push_back(d.reminder.owner);
        // An m.text, so that it notifies (a notice never does); @room only when asked.
        const Notice notice{bot::Conversation::from_key(d.reminder.room),
                            mentions,
                            commands::format_delivery(d),
                            d.txn_id,
                            {true, d.reminder.ping_room}};
        if (!post({notice}))
            continue; // not stored: unsent() gives it back at the next start
        metrics::bot_metrics().reminders_sent.add();
        if (auto marked = services_.reminders.mark_sent(d.reminder.id, d.occurrence, ""); !marked)
            log::get("main")->warn("reminder {} queued but not marked: {}", d.reminder.id,
                                   marked.error().message);
    }
}

int Conversations::post_campaign(const std::vector<commands::CampaignMessage>& messages,
                                 const NoticeSink& post)
{
    int queued = 0;
    // A direct message per linked user of a late EPLE, then the admins' report; the campaign's
    // ledgers made each once already. A direct chat just opened is ready after the next sync:
    // what could not go now is tried again a little later (between_syncs).
    for (const auto& m : messages) {
        Notice notice{m.direct_to.empty() ? bot::Conversation::from_key(m.room)
                                          : bot::Conversation{},
                      m.mentions,
                      m.markdown,
                      m.delivery_key,
                      {m.kind == commands::CampaignMessage::Kind::eple, false}};
        notice.direct_to = m.direct_to;
        if (!post({notice})) {
            campaign_retry_at_ = services_.reminder_options.clock() + campaign_retry_delay_;
            continue; // still claimed: unsent() gives it back
        }
        ++queued;
        if (auto marked = services_.campaign.mark_sent(m.delivery_key); !marked)
            log::get("main")->warn("campaign message queued but not marked: {}",
                                   marked.error().message);
    }
    return queued;
}

void Conversations::retry_campaign(commands::Instant now, const NoticeSink& post)
{
    if (!campaign_retry_at_ || now < *campaign_retry_at_)
        return;
    campaign_retry_at_.reset();
    if (auto given_up = services_.campaign.give_up_undelivered(now);
        given_up && given_up.value() > 0)
        log::get("main")->warn("{} kit reminders by direct message given up: their chat could "
                               "not be opened for a day",
                               given_up.value());
    const auto unsent = services_.campaign.unsent();
    const int queued = unsent ? post_campaign(unsent.value(), post) : 0;
    // While messages go, the next ones are tried soon (the chats are opened a few at a time);
    // a chat that stays closed (the bot's encryption off in an encrypted one…) is tried less and
    // less often, up to every ten minutes, rather than every ten seconds for a day.
    constexpr std::chrono::seconds first_retry{10};
    constexpr std::chrono::seconds longest_retry{600};
    campaign_retry_delay_ =
        queued > 0 ? first_retry : std::min(campaign_retry_delay_ * 2, longest_retry);
    if (campaign_retry_at_ || !unsent)
        campaign_retry_at_ = now + campaign_retry_delay_;
}

commands::Reply Conversations::wave_report(int vague)
{
    commands::Message asked;
    asked.body = registry_.prefix() + "vague " + std::to_string(vague) + " graphique";
    asked.role = commands::Role::admin;
    auto reply = registry_.dispatch(asked);
    return reply ? std::move(*reply) : commands::Reply{};
}

std::string Conversations::ticket_report(commands::Instant from, commands::Instant to)
{
    // Dates of Paris, as the command reads them. With iTop this waits on it, once a week.
    const auto zone = commands::find_zone(commands::default_zone);
    if (!zone)
        return {};
    const auto day = [&](commands::Instant t) {
        return commands::format_date(commands::local_day(t, *zone.value()));
    };
    commands::Message asked;
    asked.body = registry_.prefix() + "tickets stats du " + day(from) + " au " + day(to);
    asked.role = commands::Role::admin;
    const auto reply = registry_.dispatch(asked);
    return reply ? reply->markdown : std::string{};
}

void Conversations::post_digest(const std::vector<commands::DigestMessage>& messages,
                                const NoticeSink& post)
{
    // One per room; the digest's ledger made each (occurrence, room) once already. A notice:
    // a weekly report notifies nobody.
    for (const auto& m : messages) {
        Notice notice{bot::Conversation::from_key(m.room), {}, m.markdown, m.delivery_key};
        notice.files = m.files;
        if (!post({notice}))
            continue; // not stored: unsent() gives it back at the next start
        if (auto marked = services_.digest->mark_sent(m.delivery_key); !marked)
            log::get("main")->warn("weekly digest queued but not marked: {}",
                                   marked.error().message);
    }
}

void Conversations::resend_unsent(const NoticeSink& post)
{
    if (services_.digest != nullptr)
        if (auto unsent = services_.digest->unsent(); unsent)
            post_digest(unsent.value(), post);
    if (auto unsent = services_.reminders.unsent(); unsent)
        post_reminders(unsent.value(), post);
    if (auto unsent = services_.campaign.unsent(); unsent)
        post_campaign(unsent.value(), post);
}

void Conversations::between_syncs(commands::Instant now, const NoticeSink& post)
{
    const auto logger = log::get("main");
    if (backend_queue_)
        post_backend_replies(post);
    if (now - last_expiry_check_ >= std::chrono::minutes{1}) {
        last_expiry_check_ = now;
        try {
            std::vector<Notice> notices;
            for (auto& expired : services_.dialogues.expire_idle())
                notices.push_back(
                    {bot::Conversation::from_key(expired.room),
                     {expired.user},
                     std::move(expired.markdown),
                     bot::txn_id_for("dialogue-expired|" + expired.user + "|" + expired.room + "|" +
                                     std::to_string(now.time_since_epoch().count()))});
            if (!notices.empty())
                post(notices);
        } catch (const std::exception& e) {
            logger->error("idle ticket dialogues not expired: {}", e.what());
        }
    }
    auto due = services_.reminders.claim_due(now);
    if (!due) {
        logger->error("reminders unreadable: {}", due.error().message);
        return;
    }
    if (!due.value().missed.empty())
        logger->info("{} reminder occurrences missed during downtime, not sent",
                     due.value().missed.size());
    post_reminders(due.value().to_send, post);
    retry_campaign(now, post);
    if (auto runs = services_.campaign.due(now); runs)
        post_campaign(runs.value(), post);
    else
        logger->error("kit campaign unreadable: {}", runs.error().message);
    if (services_.digest != nullptr) {
        if (auto digests =
                services_.digest->due(now, [this](int vague) { return wave_report(vague); });
            digests)
            post_digest(digests.value(), post);
        else
            logger->error("weekly digest unreadable: {}", digests.error().message);
    }
    // Ticket follow-up: a new status or public log entry, told in the ticket's thread (on the
    // backend thread when there is one).
    if (backend_queue_)
        return;
    if (auto notices = follow_up_notices(services_.follow_up.poll_if_due()); !notices.empty())
        post(notices);
}

std::vector<Notice> Conversations::run_job(const BackendJob& job)
{
    const auto p = json::parse(job.payload, nullptr, false); // written by job_of above
    if (!p.is_object())
        return {};
    const auto text = [&p](const char* key) { return p.value(key, std::string{}); };
    const auto conversation = bot::Conversation::from_key(text("conversation"));
    const auto sender = text("sender");
    std::optional<bot::OutgoingReply> reply;
    std::string reply_to;
    try {
        if (text("kind") == "reaction") {
            const bot::IncomingReaction reaction{text("room"), job.event_id,       sender,
                                                 text("key"),  text("target"),     text("txn"),
                                                 conversation, p.value("power", 0)};
            reply = dialogue_reaction(reaction);
            if (conversation.thread_root.empty())
                reply_to = reaction.target_event;
        } else {
            bot::IncomingMessage message{text("room"),
                                         job.event_id,
                                         sender,
                                         text("text"),
                                         p.value("direct", false),
                                         p.value("addressed", true),
                                         p.value("power", 0),
                                         conversation,
                                         std::nullopt};
            if (job.attachment)
                message.attachment = std::pair{text("file"), *job.attachment};
            reply = handle_message(message);
            reply_to = job.event_id;
            if (reply && reply->question && backend_questions_) {
                reply->question->room = message.room_id;
                reply->question->event_id = job.event_id;
                backend_questions_(*reply->question);
            }
        }
    } catch (const std::exception& e) { // a bug must not end the thread or lose the answer
        log::get("main")->error("backend job {} failed: {}", job.event_id, e.what());
        reply = reply_of("Désolé, une erreur interne m'empêche de répondre. L'incident est "
                         "noté ; réessayez dans un moment.");
    }
    if (!reply)
        return {};
    Notice notice{conversation,
                  {sender},
                  std::move(reply->markdown),
                  bot::txn_id_for(job.event_id),
                  {config()->notify_asker, false}, // like the replies of the sync thread
                  std::move(reply_to),
                  0,
                  {},
                  std::move(reply->files)};
    notice.entry_id = std::move(reply->entry_id);
    if (!reply->reaction.empty() && !notice.reply_to.empty()) {
        notice.reaction = std::move(reply->reaction);
        notice.reply_to = job.event_id; // on the message itself
    }
    return {std::move(notice)};
}

void Conversations::work(const std::stop_token& stop)
{
    const auto logger = log::get("main");
    while (!stop.stop_requested()) {
        if (auto jobs = backend_queue_->pending(); jobs) {
            for (const auto& job : jobs.value()) {
                if (stop.stop_requested())
                    return; // unfinished: run again at the next start
                {
                    const std::lock_guard lock{backend_mutex_};
                    if (backend_handed_over_.contains(job.event_id))
                        continue;
                }
                auto notices = job.reply ? notices_from(*job.reply) : run_job(job);
                if (!job.reply)
                    if (auto kept =
                            backend_queue_->set_reply(job.event_id, to_json(notices).dump());
                        !kept)
                        logger->warn("reply of {} not kept: {}", job.event_id,
                                     kept.error().message);
                {
                    const std::lock_guard lock{backend_mutex_};
                    backend_handed_over_.insert(job.event_id);
                    backend_replies_.emplace_back(job.event_id, std::move(notices));
                }
                nudge_();
            }
        }
        if (auto notices = follow_up_notices(services_.follow_up.poll_if_due()); !notices.empty()) {
            {
                const std::lock_guard lock{backend_mutex_};
                backend_replies_.emplace_back(std::string{}, std::move(notices));
            }
            nudge_();
        }
        std::unique_lock lock{backend_mutex_};
        // a second at most: the follow-up's interval is checked that often
        backend_wake_.wait_for(lock, stop, std::chrono::seconds{1},
                               [this] { return backend_work_; });
        backend_work_ = false;
    }
    logger->debug("backend thread stopped");
}

void Conversations::post_backend_replies(const NoticeSink& post)
{
    std::vector<std::pair<std::string, std::vector<Notice>>> ready;
    {
        const std::lock_guard lock{backend_mutex_};
        ready.swap(backend_replies_);
    }
    for (auto it = ready.begin(); it != ready.end(); ++it) {
        auto& [event_id, notices] = *it;
        if (!notices.empty() && !post(notices)) { // not stored: the rest waits, in order
            const std::lock_guard lock{backend_mutex_};
            backend_replies_.insert(backend_replies_.begin(), std::make_move_iterator(it),
                                    std::make_move_iterator(ready.end()));
            return;
        }
        if (event_id.empty())
            continue;
        if (auto finished = backend_queue_->finish(event_id); !finished)
            log::get("main")->warn("backend job {} replied but not finished: {}", event_id,
                                   finished.error().message);
        const std::lock_guard lock{backend_mutex_};
        backend_handed_over_.erase(event_id);
    }
}

} // namespace opalebot::app
