#include "bot/addressing.hpp"

#include <algorithm>

namespace opalebot::bot {
namespace {

std::string lower(std::string_view text)
{
    std::string out{text};
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::string trim(std::string_view text)
{
    constexpr std::string_view blanks = " \t\r\n";
    text.remove_prefix(std::min(text.find_first_not_of(blanks), text.size()));
    text.remove_suffix(text.size() - std::min(text.find_last_not_of(blanks) + 1, text.size()));
    return std::string{text};
}

std::string localpart(const std::string& user_id)
{
    const auto colon = user_id.find(':');
    return user_id.substr(1, colon == std::string::npos ? std::string::npos : colon - 1);
}

/// Removes `name` (with an optional '@' and a following ':' or ',') at the start of `text`.
bool strip_leading_name(std::string& text, std::string_view name)
{
    if (name.empty())
        return false;
    std::string_view rest = text;
    if (!rest.empty() && rest.front() == '@' && name.front() != '@') // "@bot" names "bot"
        rest.remove_prefix(1);
    if (lower(rest.substr(0, name.size())) != lower(name))
        return false;
    rest.remove_prefix(name.size());
    if (!rest.empty() && rest.front() != ' ' && rest.front() != ':' && rest.front() != ',')
        return false; // "botanique" does not name "bot"
    while (!rest.empty() && (rest.front() == ':' || rest.front() == ',' || rest.front() == ' '))
        rest.remove_prefix(1);
    text = std::string{rest};
    return true;
}

} // namespace

std::string Conversation::key() const
{
    return thread_root.empty() ? room_id : room_id + "|" + thread_root;
}

Conversation Conversation::from_key(std::string_view key)
{
    const auto bar = key.find('|');
    if (bar == std::string_view::npos)
        return {std::string{key}, {}};
    return {std::string{key.substr(0, bar)}, std::string{key.substr(bar + 1)}};
}

Addressing::Addressing(const Config& config, std::string user_id)
    : config_(config), user_id_(std::move(user_id))
{}

bool Addressing::inviter_allowed(std::string_view inviter) const
{
    return std::any_of(config_.inviters.begin(), config_.inviters.end(), [&](const auto& rule) {
        if (rule.front() == ':') // a whole homeserver
            return inviter.size() > rule.size() && inviter.ends_with(rule);
        return rule == inviter;
    });
}

bool Addressing::room_allowed(const RoomInfo& room) const
{
    return std::find(config_.allowed_rooms.begin(), config_.allowed_rooms.end(), room.room_id) !=
               config_.allowed_rooms.end() ||
           (!room.inviter.empty() && inviter_allowed(room.inviter));
}

std::string_view Addressing::never_answered(const Event& event, const TextMessage& message) const
{
    if (message.msgtype == "m.notice")
        return "notice (bots talk in notices)";
    if (message.is_edit)
        return "edit";
    if (event.has_transaction_id)
        return "own echo";
    if (config_.ignore_bots &&
        std::find(config_.bots.begin(), config_.bots.end(), event.sender) != config_.bots.end())
        return "another bot";
    return {};
}

Addressed Addressing::address(const TextMessage& message, bool is_direct, bool replies_to_bot) const
{
    Addressed result;
    result.text = trim(strip_reply_fallback(message.body));
    bool mentioned = message.mentions &&
                     std::find(message.mentions->begin(), message.mentions->end(), user_id_) !=
                         message.mentions->end();
    // A name at the start ("opale-bot: …", "@bot …") addresses the bot too, and is removed.
    if (strip_leading_name(result.text, user_id_) ||
        strip_leading_name(result.text, display_name_) ||
        strip_leading_name(result.text, localpart(user_id_)))
        mentioned = true;
    else if (const auto at = result.text.find(user_id_); at != std::string::npos) {
        result.text.erase(at, user_id_.size());
        mentioned = true;
    }
    result.text = trim(result.text);
    const bool command = result.text.starts_with(config_.command_prefix);
    result.addressed = is_direct || mentioned || replies_to_bot || command;
    return result;
}

Conversation Addressing::reply_conversation(const Event& event, const TextMessage& message,
                                            const RoomInfo& room) const
{
    if (!message.thread_root.empty()) // a question asked in a thread is answered in it
        return {room.room_id, message.thread_root};
    if (config_.reply_mode == ReplyMode::thread && !is_direct(room))
        return {room.room_id, event.event_id};
    return {room.room_id, {}};
}

Verdict Addressing::verdict(const Addressed& message, bool in_dialogue, bool has_file) const
{
    const bool addressed = message.addressed || in_dialogue; // an answer needs no mention
    if (!addressed && !config_.answer_without_mention)
        return {false, "not addressed to the bot"};
    if (message.text.empty() && !addressed)
        return {false, "nothing to answer"};
    if (message.text.empty() && has_file && !in_dialogue)
        return {false, "a file without a caption (a command may reply to it)"};
    return {true, {}};
}

bool is_direct(const RoomInfo& room)
{
    return room.is_direct || room.joined_members == 2;
}

int power_level_of(const RoomInfo& room, std::string_view user)
{
    return room.power_levels ? room.power_levels->level_of(user) : 0;
}

Conversation conversation_of(std::string room_id, const Event& target)
{
    std::string thread;
    if (const auto* message = std::get_if<TextMessage>(&target.content))
        thread = message->thread_root;
    else if (const auto* sealed = std::get_if<Encrypted>(&target.content))
        thread = sealed->thread_root; // relations stay in clear
    return {std::move(room_id), std::move(thread)};
}

ReplyPlace reaction_reply_place(const Conversation& conversation, const std::string& target_event)
{
    if (!conversation.thread_root.empty())
        return {conversation.thread_root, {}};
    return {{}, target_event}; // outside a thread, the answer quotes the message reacted to
}

} // namespace opalebot::bot
