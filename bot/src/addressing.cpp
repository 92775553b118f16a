#include "bot/addressing.hpp"

#include <algorithm>
#include <vector>

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
    while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    if (rest.starts_with('[')) // a Tchap suffix: "Opale-Bot [Ac-Lille]: …"
        if (const auto close = rest.find(']'); close != std::string_view::npos)
            rest.remove_prefix(close + 1);
    while (!rest.empty() && (rest.front() == ':' || rest.front() == ',' || rest.front() == ' '))
        rest.remove_prefix(1);
    text = std::string{rest};
    return true;
}

/// Erases the mention at [at, at + length) of `text`, with a Tchap suffix that follows it
/// ("Opale-Bot [Ac-Lille]") and the ':' or ',' that ends it; spaces around it become one.
void erase_mention(std::string& text, std::size_t at, std::size_t length)
{
    std::size_t end = at + length;
    const auto skip_spaces = [&] {
        while (end < text.size() && text[end] == ' ')
            ++end;
    };
    skip_spaces();
    if (end < text.size() && text[end] == '[') // the suffix, unless the pill already had it
        if (const auto close = text.find(']', end); close != std::string::npos)
            end = close + 1;
    skip_spaces();
    if (end < text.size() && (text[end] == ':' || text[end] == ','))
        ++end;
    skip_spaces();
    while (at > 0 && text[at - 1] == ' ')
        --at;
    text.replace(at, end - at, at > 0 && end < text.size() ? " " : "");
}

/// Finds `name` in `text` as a whole word (not "Opalescent" for "Opale"), ignoring ASCII case.
std::size_t find_name(const std::string& text, std::string_view name)
{
    if (name.empty())
        return std::string::npos;
    const auto lowered = lower(text);
    const auto wanted = lower(name);
    const auto is_word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               (static_cast<unsigned char>(c) & 0x80U) != 0;
    };
    for (auto at = lowered.find(wanted); at != std::string::npos;
         at = lowered.find(wanted, at + 1)) {
        const auto end = at + wanted.size();
        if ((at == 0 || !is_word(lowered[at - 1])) &&
            (end == lowered.size() || !is_word(lowered[end])))
            return at;
    }
    return std::string::npos;
}

std::string unescape_html(std::string_view html)
{
    static const std::vector<std::pair<std::string_view, char>> entities{
        {"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
        {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''}};
    std::string out;
    for (std::size_t i = 0; i < html.size();) {
        const auto entity = std::find_if(entities.begin(), entities.end(), [&](const auto& e) {
            return html.substr(i, e.first.size()) == e.first;
        });
        if (entity != entities.end()) {
            out += entity->second;
            i += entity->first.size();
        } else {
            out += html[i++];
        }
    }
    return out;
}

/// The texts of the pills of `formatted_body` that link to `user_id` (https://matrix.to/#/…,
/// the id plain or percent-encoded): what the client wrote in `body` for the mention.
std::vector<std::string> pill_texts(std::string_view formatted_body, const std::string& user_id)
{
    std::string encoded;
    for (const char c : user_id)
        encoded += c == '@' ? "%40" : c == ':' ? "%3A" : std::string(1, c);
    std::vector<std::string> texts;
    std::size_t at = 0;
    while ((at = formatted_body.find("<a ", at)) != std::string_view::npos) {
        const auto open_end = formatted_body.find('>', at);
        const auto close = formatted_body.find("</a>", at);
        if (open_end == std::string_view::npos || close == std::string_view::npos ||
            close < open_end)
            break;
        const auto tag = lower(formatted_body.substr(at, open_end - at));
        if (tag.find("matrix.to/#/" + lower(user_id)) != std::string::npos ||
            tag.find("matrix.to/#/" + lower(encoded)) != std::string::npos)
            if (auto text =
                    unescape_html(formatted_body.substr(open_end + 1, close - open_end - 1));
                !text.empty())
                texts.push_back(std::move(text));
        at = close + 4;
    }
    return texts;
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
    : config_(&config), user_id_(std::move(user_id))
{}

bool Addressing::inviter_allowed(std::string_view inviter) const
{
    return std::any_of(config_->inviters.begin(), config_->inviters.end(), [&](const auto& rule) {
        if (rule.front() == ':') // a whole homeserver
            return inviter.size() > rule.size() && inviter.ends_with(rule);
        return rule == inviter;
    });
}

bool Addressing::room_allowed(const RoomInfo& room) const
{
    return std::find(config_->allowed_rooms.begin(), config_->allowed_rooms.end(), room.room_id) !=
               config_->allowed_rooms.end() ||
           (!room.inviter.empty() && inviter_allowed(room.inviter)) ||
           (!room.inviter.empty() && room.inviter == user_id_); // a direct chat the bot opened
}

std::string_view Addressing::never_answered(const Event& event, const TextMessage& message) const
{
    if (message.msgtype == "m.notice")
        return "notice (bots talk in notices)";
    if (message.automated)
        return "another opale-bot";
    if (message.is_edit)
        return "edit";
    if (event.has_transaction_id)
        return "own echo";
    if (config_->ignore_bots &&
        std::find(config_->bots.begin(), config_->bots.end(), event.sender) != config_->bots.end())
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
    // A pill (Tchap, Element) puts the bot's display name, suffix included ("Opale-Bot
    // [Ac-Lille]"), in `body` wherever the user placed it: its link in `formatted_body` says so.
    for (const auto& pill : pill_texts(message.formatted_body, user_id_))
        if (const auto at = find_name(result.text, pill); at != std::string::npos) {
            erase_mention(result.text, at, pill.size());
            mentioned = true;
        }
    // A name at the start ("opale-bot: …", "@bot …") addresses the bot too, and is removed.
    if (strip_leading_name(result.text, user_id_) ||
        strip_leading_name(result.text, display_name_) ||
        strip_leading_name(result.text, localpart(user_id_)))
        mentioned = true;
    else if (const auto at = result.text.find(user_id_); at != std::string::npos) {
        result.text.erase(at, user_id_.size());
        mentioned = true;
    } else if (const auto name_at = find_name(result.text, display_name_);
               name_at != std::string::npos) { // the display name, wherever it stands
        erase_mention(result.text, name_at, display_name_.size());
        mentioned = true;
    }
    result.text = trim(result.text);
    const bool command = result.text.starts_with(config_->command_prefix);
    result.addressed = is_direct || mentioned || replies_to_bot || command;
    return result;
}

Conversation Addressing::reply_conversation(const Event& event, const TextMessage& message,
                                            const RoomInfo& room) const
{
    if (!message.thread_root.empty()) // a question asked in a thread is answered in it
        return {room.room_id, message.thread_root};
    if (config_->reply_mode == ReplyMode::thread && !is_direct(room))
        return {room.room_id, event.event_id};
    return {room.room_id, {}};
}

Verdict Addressing::verdict(const Addressed& message, bool in_dialogue, bool has_file) const
{
    const bool addressed = message.addressed || in_dialogue; // an answer needs no mention
    if (!addressed && !config_->answer_without_mention)
        return {false, "not addressed to the bot"};
    if (message.text.empty() && !addressed)
        return {false, "nothing to answer"};
    if (message.text.empty() && has_file && !in_dialogue)
        return {false, "a file without a caption (a command may reply to it)"};
    return {true, {}};
}

bool is_direct(const RoomInfo& room)
{
    // what the inviter said (is_direct), never the member count: a salon of two is a salon
    return room.is_direct;
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
