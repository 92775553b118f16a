#include "conversations.hpp"

#include "commands/eple_import.hpp"
#include "commands/profile_commands.hpp"
#include "commands/ticket_commands.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

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

} // namespace

void CapturedQuestion::record(const commands::Message& message, const knowledge::Answer& answer)
{
    last_ = bot::QuestionRecord{unix_now(),
                                message.room,
                                message.sender,
                                message.body,
                                std::string{knowledge::to_string(answer.kind)},
                                answer.entry_id,
                                answer.score,
                                {}}; // the event id: the sync loop knows it
}

commands::Role role_of(const bot::Config& config, const std::string& sender, int power_level)
{
    const auto listed = [&](const std::vector<std::string>& users) {
        return std::find(users.begin(), users.end(), sender) != users.end();
    };
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

Conversations::Conversations(const bot::Config& config, ConversationServices services)
    : config_(config), services_(std::move(services)), registry_(config.command_prefix)
{
    auto& s = services_;
    commands::add_knowledge_commands(registry_, s.answerer, s.kb_dir, &question_, s.stats);
    commands::add_eple_commands(registry_, s.eple, s.eple_options);
    commands::add_eple_import_command(registry_, s.eple);
    commands::add_ticket_commands(registry_, s.tickets, s.dialogues);
    // Reminders, the users' EPLE links and zones, the kit campaign (issue 6).
    commands::add_profile_commands(registry_, s.profiles, &s.eple);
    commands::add_reminder_commands(registry_, s.reminders, s.reminder_options);
    commands::add_campaign_commands(registry_, s.campaign);
}

bool Conversations::confirming(const std::string& user, const bot::Conversation& conversation)
{
    const auto dialogue = services_.dialogues.get(user, conversation.key());
    return dialogue && dialogue->stage == commands::DialogueStage::confirming;
}

void Conversations::note_summary_card(const bot::IncomingMessage& message, bool was_confirming)
{
    auto key = std::pair{message.sender, message.conversation.key()};
    if (!confirming(message.sender, message.conversation))
        summary_cards_.erase(key);
    else if (!was_confirming)
        summary_cards_[std::move(key)] = bot::txn_id_for(message.event_id); // the reply's txn id
}

bool Conversations::in_dialogue(const std::string& user, const bot::Conversation& conversation)
{
    return services_.dialogues.is_open(user, conversation.key());
}

std::optional<bot::OutgoingReply> Conversations::on_message(const bot::IncomingMessage& in)
{
    static_cast<void>(question_.take());
    // Commands see the conversation (room and thread): a ticket dialogue is keyed on it.
    commands::Message message{in.sender, in.conversation.key(), in.text,
                              role_of(config_, in.sender, in.power_level), std::nullopt};
    if (in.attachment)
        message.attachment = commands::Attachment{in.attachment->first, in.attachment->second};
    const bool was_confirming = confirming(in.sender, in.conversation);
    // An open ticket dialogue takes the answers that are not commands.
    if (!commands::parse_command(in.text, registry_.prefix()))
        if (auto answer = commands::answer_ticket_dialogue(services_.dialogues, message)) {
            note_summary_card(in, was_confirming);
            return reply_of(std::move(answer->markdown));
        }
    if (!in.addressed) { // salon chatter: only a clear answer, and only when enabled
        auto answer = services_.answerer.ask(in.text);
        if (answer.kind != knowledge::Answer::Kind::entry ||
            answer.score < config_.answer_without_mention_min_score)
            return std::nullopt;
        question_.record(message, answer);
        return bot::OutgoingReply{std::move(answer.text), answer.entry_id, question_.take()};
    }
    auto reply = registry_.dispatch(message);
    if (!reply)
        return std::nullopt;
    // `!ticket nouveau` shows the card (every field given, or the dialogue shown again).
    note_summary_card(in, false);
    return bot::OutgoingReply{std::move(reply->markdown), std::move(reply->entry_id),
                              question_.take()};
}

std::optional<bot::OutgoingReply> Conversations::on_reaction(const bot::IncomingReaction& reaction)
{
    // ✅ or ⏰ on a reminder acknowledge or snooze it (issue 6): its delivery key is the txn id
    // it was sent with.
    const auto role = role_of(config_, reaction.sender, reaction.power_level);
    const auto& reminder_options = services_.reminder_options;
    if (auto text = commands::on_reminder_reaction(services_.reminders, reminder_options,
                                                   reaction.target_txn_id, reaction.sender, role,
                                                   reaction.key, reminder_options.clock()))
        return reply_of(std::move(*text));
    // ✅/❌ on the summary card confirm or cancel the ticket (issue 4).
    const auto key = bare_emoji(reaction.key);
    const bool yes = key == "\u2705" || key == "\u2714";
    const bool no = key == "\u274C" || key == "\u2716";
    if (!yes && !no)
        return std::nullopt;
    const auto conversation = reaction.conversation.key();
    const auto dialogue = services_.dialogues.get(reaction.sender, conversation);
    if (!dialogue || dialogue->stage == commands::DialogueStage::collecting)
        return std::nullopt; // a ✅ is no answer to "which EPLE?"
    if (dialogue->stage == commands::DialogueStage::confirming)
        if (const auto card = summary_cards_.find(std::pair{reaction.sender, conversation});
            card != summary_cards_.end() && card->second != reaction.target_txn_id)
            return std::nullopt; // a ✅ on another message of the thread
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
        if (auto marked = services_.reminders.mark_sent(d.reminder.id, d.occurrence, ""); !marked)
            log::get("main")->warn("reminder {} queued but not marked: {}", d.reminder.id,
                                   marked.error().message);
    }
}

void Conversations::post_campaign(const std::vector<commands::CampaignMessage>& messages,
                                  const NoticeSink& post)
{
    // One per late EPLE, then the admins' report; the campaign ledger made each (occurrence,
    // EPLE) once already.
    for (const auto& m : messages) {
        const Notice notice{bot::Conversation::from_key(m.room),
                            m.mentions,
                            m.markdown,
                            m.delivery_key,
                            {m.kind == commands::CampaignMessage::Kind::eple, false}};
        if (!post({notice}))
            continue; // not stored: unsent() gives it back at the next start
        if (auto marked = services_.campaign.mark_sent(m.delivery_key); !marked)
            log::get("main")->warn("campaign message queued but not marked: {}",
                                   marked.error().message);
    }
}

void Conversations::resend_unsent(const NoticeSink& post)
{
    if (auto unsent = services_.reminders.unsent(); unsent)
        post_reminders(unsent.value(), post);
    if (auto unsent = services_.campaign.unsent(); unsent)
        post_campaign(unsent.value(), post);
}

void Conversations::between_syncs(commands::Instant now, const NoticeSink& post)
{
    const auto logger = log::get("main");
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
    if (auto runs = services_.campaign.due(now); runs)
        post_campaign(runs.value(), post);
    else
        logger->error("kit campaign unreadable: {}", runs.error().message);
    // Ticket follow-up: a new status or public log entry, told in the ticket's thread.
    std::vector<Notice> follow_notices;
    for (const auto& n : services_.follow_up.poll_if_due())
        follow_notices.push_back({bot::Conversation::from_key(n.conversation),
                                  {n.requester},
                                  n.markdown,
                                  bot::txn_id_for("suivi|" + n.ref + "|" + n.markdown),
                                  {true, false}});
    if (!follow_notices.empty())
        post(follow_notices);
}

} // namespace opalebot::app
