#pragma once

#include "bot/crypto/messages.hpp"
#include "opalebot/result.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace opalebot::bot {

/// m.room.message with a text-like msgtype (m.text, m.notice, m.emote), or an m.file or m.image
/// whose body is its caption (spec v1.10: a body that differs from `filename`), empty otherwise.
struct TextMessage {
    std::string msgtype;
    std::string body;
    std::string formatted_body; ///< HTML, when format is org.matrix.custom.html
    std::optional<std::vector<std::string>> mentions; ///< m.mentions.user_ids, when present
    std::string thread_root;        ///< the thread it belongs to (rel_type m.thread)
    std::string in_reply_to;        ///< m.in_reply_to event id
    bool reply_is_fallback = false; ///< is_falling_back: a thread reply, not a reply
    bool is_edit = false;           ///< rel_type m.replace
    std::string file_url;           ///< m.file, m.image: its mxc:// address
    std::string encrypted_file;     ///< in an encrypted room: the `file` object, as JSON text
    std::string file_name;          ///< m.file, m.image: its name
    std::string file_mimetype;      ///< m.file, m.image: info.mimetype, when given
    std::int64_t file_size = -1;    ///< m.file, m.image: info.size, when given
    bool automated = false;         ///< sent by an opale-bot (automated_marker)
};

/// m.reaction (rel_type m.annotation).
struct Reaction {
    std::string target;
    std::string key;
};

/// m.room.member; the user is the event's state_key.
struct Membership {
    std::string membership; ///< join, invite, leave, ban, knock
    bool is_direct = false;
};

/// m.room.power_levels, what the bot needs of it.
struct PowerLevels {
    std::map<std::string, int, std::less<>> users;
    int users_default = 0;
    /// Room version 12 and later: the creators (m.room.create), above every level and never in
    /// `users`. Known from m.room.create only, never from a power levels event.
    std::vector<std::string> creators{};

    /// The level of `user`: a creator's is the highest, else their own, else users_default
    /// (spec "m.room.power_levels", room version 12).
    int level_of(std::string_view user) const;
    bool operator==(const PowerLevels&) const = default;
};

/// m.room.create: who created the room, when its version gives creators their own power.
struct RoomCreate {
    std::vector<std::string> creators; ///< sender and additional_creators, from version 12 on
};

/// m.room.history_visibility: "joined" keeps invited members out of the room key.
struct HistoryVisibility {
    std::string visibility; ///< world_readable, shared, invited, joined
};

/// The power levels as the state file keeps them: {"users": {…}, "users_default": n, and
/// "creators": […] when there are}.
std::string power_levels_json(const PowerLevels& levels);

/// Power levels from JSON text (an m.room.power_levels content, or power_levels_json's); what is
/// malformed is skipped, as in a sync.
PowerLevels parse_power_levels(std::string_view json_text);

/// m.room.encryption: once seen, the room is encrypted for ever (matrix.md §4).
struct Encryption {
    std::string algorithm;
    std::int64_t rotation_period_ms = 604'800'000; ///< a week, the spec's default
    std::int64_t rotation_period_msgs = 100;
};

/// m.room.encrypted: the crypto engine decrypts the whole event, kept as parsed, or queues it
/// until its key comes. Relations are in the cleartext (spec "Forming relationships between
/// events").
struct Encrypted {
    std::string algorithm;
    std::string session_id;
    std::string thread_root;
    std::string in_reply_to;
    std::shared_ptr<const nlohmann::json> event; ///< the whole event; shared, never changed
};

/// Any other event type, or a malformed event: kept so one bad event never kills a sync.
struct OtherEvent {};

struct Event {
    std::string event_id;
    std::string type;
    std::string sender;
    std::optional<std::string> state_key;
    std::int64_t origin_server_ts = 0; ///< milliseconds
    std::optional<std::int64_t> age;   ///< unsigned.age, milliseconds
    bool has_transaction_id = false;   ///< unsigned.transaction_id: our own echo
    std::variant<OtherEvent, TextMessage, Reaction, Membership, PowerLevels, Encryption, Encrypted,
                 RoomCreate, HistoryVisibility>
        content;
};

struct JoinedRoom {
    std::string room_id;
    std::vector<Event> state;    ///< state before the timeline
    std::vector<Event> timeline; ///< in order
    bool limited = false;        ///< events were left out between the last sync and this one
    std::string prev_batch;      ///< where /messages finds the events left out
    std::optional<int> joined_member_count; ///< summary.m.joined_member_count
};

struct InvitedRoom {
    std::string room_id;
    std::string inviter; ///< sender of our m.room.member invite event
    bool is_direct = false;
};

/// The end-to-end-encryption parts of a /sync response (notes/matrix.md §8), for the engine.
struct CryptoSync {
    std::vector<crypto::ToDeviceEvent> to_device;                ///< typed; objects only
    std::vector<std::string> devices_changed;                    ///< device_lists.changed
    std::vector<std::string> devices_left;                       ///< device_lists.left
    std::map<std::string, int, std::less<>> one_time_key_counts; ///< device_one_time_keys_count
    /// device_unused_fallback_key_types; nothing when the server did not say.
    std::optional<std::vector<std::string>> unused_fallback_key_types;
};

/// The parts of a /sync response the bot uses.
struct SyncBatch {
    std::string next_batch;
    std::vector<JoinedRoom> joined;
    std::vector<InvitedRoom> invited;
    std::vector<std::string> left;
    CryptoSync crypto;
};

/// Parses a /sync body; `me` is the bot's user id (to find its invites). Malformed events become
/// OtherEvent; only a body that is not a sync response is an Error.
Result<SyncBatch> parse_sync(std::string_view body, std::string_view me);

/// One timeline event from its JSON text (GET /event); OtherEvent when malformed.
Event parse_timeline_event(std::string_view json);
/// The same, already parsed (a decrypted event).
Event event_from_json(const nlohmann::json& event);

/// A page of GET /rooms/{room}/messages?dir=b: newest first.
struct MessagesPage {
    std::vector<Event> chunk;
    std::string end; ///< the next page's `from`; empty at the start of the room
};
Result<MessagesPage> parse_messages(std::string_view body);

/// The body without a reply fallback ("> <@x> …" lines then a blank line).
std::string strip_reply_fallback(std::string_view body);

} // namespace opalebot::bot
