#include "bot/events.hpp"

#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

#include "json_fields.hpp"

namespace opalebot::bot {
namespace {

using nlohmann::json;

TextMessage parse_text(const json& content)
{
    TextMessage m;
    m.msgtype = string_at(content, "msgtype");
    if (const auto marker = content.find("fr.gouv.opale-bot.automated");
        marker != content.end() && marker->is_boolean())
        m.automated = marker->get<bool>();
    m.body = string_at(content, "body");
    if (string_at(content, "format") == "org.matrix.custom.html")
        m.formatted_body = string_at(content, "formatted_body");
    if (const auto* mentions = object_at(content, "m.mentions")) {
        m.mentions.emplace();
        if (const auto ids = mentions->find("user_ids"); ids != mentions->end() && ids->is_array())
            for (const auto& id : *ids)
                if (id.is_string())
                    m.mentions->push_back(id.get<std::string>());
    }
    if (const auto* relates = object_at(content, "m.relates_to")) {
        const auto rel_type = string_at(*relates, "rel_type");
        if (rel_type == "m.thread")
            m.thread_root = string_at(*relates, "event_id");
        m.is_edit = rel_type == "m.replace";
        if (const auto* reply = object_at(*relates, "m.in_reply_to"))
            m.in_reply_to = string_at(*reply, "event_id");
        const auto fallback = relates->find("is_falling_back");
        m.reply_is_fallback =
            fallback != relates->end() && fallback->is_boolean() && fallback->get<bool>();
    }
    return m;
}

TextMessage parse_file(const json& content)
{
    TextMessage m = parse_text(content);
    m.file_url = string_at(content, "url");
    if (const auto* file = object_at(content, "file")) { // encrypted room: AES-CTR ciphertext
        m.encrypted_file = file->dump();
        m.file_url = string_at(*file, "url");
    }
    const auto filename = string_at(content, "filename");
    m.file_name = filename.empty() ? m.body : filename;
    if (filename.empty() || filename == m.body)
        m.body.clear(); // no caption: the body is only the file's name
    if (const auto* info = object_at(content, "info")) {
        m.file_size = integer_at(*info, "size").value_or(-1);
        m.file_mimetype = string_at(*info, "mimetype");
    }
    return m;
}

PowerLevels power_levels_of(const json& content)
{
    PowerLevels levels;
    levels.users_default = static_cast<int>(integer_at(content, "users_default").value_or(0));
    if (const auto* users = object_at(content, "users"))
        for (const auto& [user, level] : users->items())
            if (level.is_number_integer())
                levels.users[user] = level.get<int>();
    return levels;
}

RoomCreate room_create_of(const std::string& sender, const json& content)
{
    RoomCreate create;
    const auto version = string_at(content, "room_version");
    int number = 0;
    const auto [end, error] =
        std::from_chars(version.data(), version.data() + version.size(), number);
    // only from version 12 (MSC4289); "1" when absent; unstable "org.…" versions: not known
    if (error != std::errc{} || end != version.data() + version.size() || number < 12)
        return create;
    create.creators.push_back(sender);
    if (const auto more = content.find("additional_creators");
        more != content.end() && more->is_array())
        for (const auto& creator : *more)
            if (creator.is_string())
                create.creators.push_back(creator.get<std::string>());
    return create;
}

Event parse_event(const json& j)
{
    Event e;
    if (!j.is_object())
        return e;
    e.event_id = string_at(j, "event_id");
    e.type = string_at(j, "type");
    e.sender = string_at(j, "sender");
    if (const auto it = j.find("state_key"); it != j.end() && it->is_string())
        e.state_key = it->get<std::string>();
    e.origin_server_ts = integer_at(j, "origin_server_ts").value_or(0);
    if (const auto* unsigned_data = object_at(j, "unsigned")) {
        e.age = integer_at(*unsigned_data, "age");
        e.has_transaction_id = unsigned_data->contains("transaction_id");
    }
    const auto* content = object_at(j, "content");
    if (content == nullptr)
        return e;
    try {
        if (e.type == "m.room.message") {
            const auto msgtype = string_at(*content, "msgtype");
            if (msgtype == "m.text" || msgtype == "m.notice" || msgtype == "m.emote")
                e.content = parse_text(*content);
            else if (msgtype == "m.file" || msgtype == "m.image") // a screenshot (issue 4)
                e.content = parse_file(*content);
        } else if (e.type == "m.reaction") {
            if (const auto* relates = object_at(*content, "m.relates_to");
                relates != nullptr && string_at(*relates, "rel_type") == "m.annotation")
                e.content = Reaction{string_at(*relates, "event_id"), string_at(*relates, "key")};
        } else if (e.type == "m.room.member" && e.state_key) {
            const auto direct = content->find("is_direct");
            e.content =
                Membership{string_at(*content, "membership"),
                           direct != content->end() && direct->is_boolean() && direct->get<bool>()};
        } else if (e.type == "m.room.power_levels" && e.state_key == "") {
            e.content = power_levels_of(*content);
        } else if (e.type == "m.room.create" && e.state_key == "") {
            e.content = room_create_of(e.sender, *content);
        } else if (e.type == "m.room.history_visibility" && e.state_key == "") {
            e.content = HistoryVisibility{string_at(*content, "history_visibility")};
        } else if (e.type == "m.room.encryption" && e.state_key == "") {
            Encryption encryption{string_at(*content, "algorithm")};
            if (const auto ms = integer_at(*content, "rotation_period_ms"); ms && *ms > 0)
                encryption.rotation_period_ms = *ms;
            if (const auto msgs = integer_at(*content, "rotation_period_msgs"); msgs && *msgs > 0)
                encryption.rotation_period_msgs = *msgs;
            e.content = encryption;
        } else if (e.type == "m.room.encrypted") {
            Encrypted encrypted{string_at(*content, "algorithm"),
                                string_at(*content, "session_id"),
                                {},
                                {},
                                std::make_shared<const json>(j)};
            const auto relation = parse_text(*content); // the cleartext relations
            encrypted.thread_root = relation.thread_root;
            encrypted.in_reply_to = relation.in_reply_to;
            e.content = std::move(encrypted);
        }
    } catch (const json::exception& ex) {
        log::get("bot.events")->warn("malformed {} event skipped: {}", e.type, ex.what());
        e.content = OtherEvent{};
    }
    return e;
}

void parse_events(const json& room, const char* section, std::vector<Event>& out)
{
    const auto* part = object_at(room, section);
    if (part == nullptr)
        return;
    const auto events = part->find("events");
    if (events == part->end() || !events->is_array())
        return;
    for (const auto& event : *events)
        out.push_back(parse_event(event));
}

std::vector<std::string> strings_at(const json& j, const char* key)
{
    std::vector<std::string> out;
    if (const auto it = j.find(key); it != j.end() && it->is_array())
        for (const auto& item : *it)
            if (item.is_string())
                out.push_back(item.get<std::string>());
    return out;
}

void parse_crypto(const json& sync, CryptoSync& crypto)
{
    if (const auto* to_device = object_at(sync, "to_device"))
        if (const auto events = to_device->find("events");
            events != to_device->end() && events->is_array())
            for (const auto& event : *events)
                if (event.is_object())
                    crypto.to_device.push_back(bot::crypto::parse_to_device_event(event));
    if (const auto* lists = object_at(sync, "device_lists")) {
        crypto.devices_changed = strings_at(*lists, "changed");
        crypto.devices_left = strings_at(*lists, "left");
    }
    if (const auto* counts = object_at(sync, "device_one_time_keys_count"))
        for (const auto& [algorithm, count] : counts->items())
            if (count.is_number_integer())
                crypto.one_time_key_counts[algorithm] = count.get<int>();
    if (const auto it = sync.find("device_unused_fallback_key_types");
        it != sync.end() && it->is_array())
        crypto.unused_fallback_key_types = strings_at(sync, "device_unused_fallback_key_types");
}

} // namespace

Result<SyncBatch> parse_sync(std::string_view body, std::string_view me)
{
    const auto j = parse_untrusted(body, "/sync");
    if (j.is_discarded() || !j.is_object() || !j.contains("next_batch") ||
        !j["next_batch"].is_string())
        return Error{Error::Kind::parse, 0, {}, "/sync: not a sync response", {}};
    SyncBatch batch;
    batch.next_batch = j["next_batch"].get<std::string>();
    parse_crypto(j, batch.crypto);
    const auto* rooms = object_at(j, "rooms");
    if (rooms == nullptr)
        return batch;
    if (const auto* joined = object_at(*rooms, "join")) {
        for (const auto& [room_id, room] : joined->items()) {
            if (!room.is_object())
                continue;
            JoinedRoom r;
            r.room_id = room_id;
            parse_events(room, "state", r.state);
            parse_events(room, "timeline", r.timeline);
            if (const auto* timeline = object_at(room, "timeline")) {
                const auto limited = timeline->find("limited");
                r.limited =
                    limited != timeline->end() && limited->is_boolean() && limited->get<bool>();
                r.prev_batch = string_at(*timeline, "prev_batch");
            }
            if (const auto* summary = object_at(room, "summary"))
                if (const auto count = integer_at(*summary, "m.joined_member_count"))
                    r.joined_member_count = static_cast<int>(*count);
            batch.joined.push_back(std::move(r));
        }
    }
    if (const auto* invited = object_at(*rooms, "invite")) {
        for (const auto& [room_id, room] : invited->items()) {
            InvitedRoom r;
            r.room_id = room_id;
            std::vector<Event> events;
            if (room.is_object())
                parse_events(room, "invite_state", events);
            for (const auto& e : events) {
                const auto* member = std::get_if<Membership>(&e.content);
                if (member != nullptr && e.state_key == me && member->membership == "invite") {
                    r.inviter = e.sender;
                    r.is_direct = member->is_direct;
                }
            }
            batch.invited.push_back(std::move(r));
        }
    }
    if (const auto* left = object_at(*rooms, "leave"))
        for (const auto& [room_id, room] : left->items())
            batch.left.push_back(room_id);
    return batch;
}

Event parse_timeline_event(std::string_view text)
{
    return parse_event(parse_untrusted(text));
}

Event event_from_json(const json& event)
{
    return parse_event(event);
}

Result<MessagesPage> parse_messages(std::string_view body)
{
    const auto j = parse_untrusted(body, "/messages");
    if (j.is_discarded() || !j.is_object())
        return Error{Error::Kind::parse, 0, {}, "/messages: not a messages page", {}};
    MessagesPage page;
    page.end = string_at(j, "end");
    if (const auto chunk = j.find("chunk"); chunk != j.end() && chunk->is_array())
        for (const auto& event : *chunk)
            page.chunk.push_back(parse_event(event));
    return page;
}

std::string strip_reply_fallback(std::string_view body)
{
    if (body.substr(0, 2) != "> ")
        return std::string{body};
    std::string_view rest = body;
    while (rest.substr(0, 1) == ">") {
        const auto end = rest.find('\n');
        if (end == std::string_view::npos)
            return std::string{body}; // only quoted lines: a quote, not a fallback
        rest.remove_prefix(end + 1);
    }
    if (rest.substr(0, 1) == "\n")
        rest.remove_prefix(1);
    return std::string{rest};
}

int PowerLevels::level_of(std::string_view user) const
{
    if (std::find(creators.begin(), creators.end(), user) != creators.end())
        return std::numeric_limits<int>::max();
    const auto it = users.find(user);
    return it == users.end() ? users_default : it->second;
}

std::string power_levels_json(const PowerLevels& levels)
{
    json users = json::object();
    for (const auto& [user, level] : levels.users)
        users[user] = level;
    json stored{{"users", users}, {"users_default", levels.users_default}};
    if (!levels.creators.empty())
        stored["creators"] = levels.creators;
    return stored.dump();
}

PowerLevels parse_power_levels(std::string_view json_text)
{
    const auto content = parse_untrusted(json_text);
    if (!content.is_object())
        return PowerLevels{};
    auto levels = power_levels_of(content);
    if (const auto creators = content.find("creators");
        creators != content.end() && creators->is_array()) // the state file's own key
        for (const auto& creator : *creators)
            if (creator.is_string())
                levels.creators.push_back(creator.get<std::string>());
    return levels;
}

} // namespace opalebot::bot
