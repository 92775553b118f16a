#pragma once

#include "bot/config.hpp"
#include "bot/events.hpp"
#include "bot/state_store.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace opalebot::bot {

/// Where a conversation with the bot happens: a room, or one thread of it.
struct Conversation {
    std::string room_id;
    std::string thread_root; ///< empty: the room's main timeline

    /// "!room" or "!room|$thread": what commands and stores key on, since they never see Matrix
    /// types (ticket dialogues, reminders, the kit campaign and ticket follow-up store it).
    std::string key() const;
    /// The conversation a key names; a key without '|' is a room's main timeline.
    static Conversation from_key(std::string_view key);

    bool operator==(const Conversation&) const = default;
};

/// A message's text without the bot's name, and whether it was meant for the bot.
struct Addressed {
    std::string text;
    bool addressed = false; ///< command, mention, reply to the bot, direct chat or open dialogue
};

/// Whether the bot answers a message, and why not.
struct Verdict {
    bool answer = false;
    std::string_view why; ///< for the debug log when not answered
};

/// The addressing policy (issue 19): whether the bot acts in a room, whether it answers an event,
/// and where the reply goes. Pure: the caller looks up what it needs first (the room, whether a
/// message replies to one of the bot's), so it is tested without a homeserver.
class Addressing {
public:
    /// `config` is read at each call (tests change the reply mode).
    Addressing(const Config& config, std::string user_id);

    /// Reads `config` from now on (a configuration reloaded); it must outlive its use.
    void use_config(const Config& config) { config_ = &config; }

    /// The bot's display name, also recognised as a mention at the start of a message.
    void set_display_name(std::string name) { display_name_ = std::move(name); }

    /// Rooms the bot acts in: listed in rooms.allowed, joined on an allowed inviter's invite, or
    /// a direct chat the bot opened itself (its inviter is the bot, DirectChats).
    bool room_allowed(const RoomInfo& room) const;
    /// rooms.inviters: a user, or a whole homeserver (":hs").
    bool inviter_allowed(std::string_view inviter) const;

    /// Why a message is never answered (a notice, an edit, the bot's echo, another bot), or
    /// empty when it may be.
    std::string_view never_answered(const Event& event, const TextMessage& message) const;

    /// The message's text without its reply fallback and the bot's name, and whether it was
    /// meant for the bot. `replies_to_bot`: it replies to one of the bot's messages.
    Addressed address(const TextMessage& message, bool is_direct, bool replies_to_bot) const;

    /// Where the reply to `event` goes: the thread it was asked in; in thread mode a thread the
    /// reply opens on it, except in a direct chat; the main timeline otherwise.
    Conversation reply_conversation(const Event& event, const TextMessage& message,
                                    const RoomInfo& room) const;

    /// Whether an addressed (or not) message is answered. `in_dialogue`: its sender is in the
    /// middle of a conversation with the bot there (its answers need no mention); `has_file`:
    /// it carries a file.
    Verdict verdict(const Addressed& message, bool in_dialogue, bool has_file) const;

    /// Events older than rooms.max_backlog_age are recorded, never answered.
    bool too_old(std::chrono::milliseconds age) const { return age > config_->max_backlog_age; }

private:
    const Config* config_;
    std::string user_id_;
    std::string display_name_;
};

/// A direct chat: flagged so by the invite (is_direct), whatever its member count.
bool is_direct(const RoomInfo& room);

/// The sender's power level in the room (0 before any m.room.power_levels).
int power_level_of(const RoomInfo& room, std::string_view user);

/// The conversation a message of the bot (`target`, a reacted-to event) was sent in.
Conversation conversation_of(std::string room_id, const Event& target);

/// Where the reply to a reaction goes: in the target's thread, else quoting the target.
struct ReplyPlace {
    std::string thread_root;
    std::string in_reply_to;
};
ReplyPlace reaction_reply_place(const Conversation& conversation, const std::string& target_event);

} // namespace opalebot::bot
