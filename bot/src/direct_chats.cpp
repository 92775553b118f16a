#include "bot/direct_chats.hpp"

#include "opalebot/log.hpp"

#include <algorithm>

namespace opalebot::bot {
namespace {

constexpr std::chrono::minutes retry_after{10};

bool holds(const std::vector<std::string>& users, const std::string& user)
{
    return std::find(users.begin(), users.end(), user) != users.end();
}

} // namespace

DirectChats::DirectChats(MatrixClient& client, StateStore& store, std::string own_user_id,
                         bool encrypted, Clock clock)
    : client_(client),
      store_(store),
      own_user_id_(std::move(own_user_id)),
      encrypted_(encrypted),
      clock_(std::move(clock))
{}

Result<std::optional<std::string>> DirectChats::room_for(const std::string& user)
{
    auto known = store_.direct_chat(user);
    if (!known)
        return known.error();
    if (!known.value())
        return open_for(user);
    const auto& room_id = *known.value();
    auto room = store_.room(room_id);
    if (!room)
        return room.error();
    if (!room.value()) { // the bot is no longer in it
        if (auto forgotten = store_.forget_direct_chat(user, room_id); !forgotten)
            return forgotten.error();
        return open_for(user);
    }
    // A chat the bot opened: its encryption is known from the sync that shows the bot in it.
    if (room.value()->inviter == own_user_id_ && room.value()->encrypted != encrypted_)
        return std::optional<std::string>{};
    auto members = client_.room_members(room_id);
    if (!members)
        return members.error();
    if (holds(members.value().joined, user) || holds(members.value().invited, user))
        return known;
    // They left (or declined): the bot leaves too, and opens a new chat.
    log::get("bot.sync")->info("{} left the direct chat {}: the bot leaves it", user, room_id);
    if (auto left = client_.leave(room_id); !left)
        log::get("bot.sync")->warn("leaving {} failed: {}", room_id, left.error().message);
    if (auto forgotten = store_.forget_direct_chat(user, room_id); !forgotten)
        return forgotten.error();
    return open_for(user);
}

Result<std::optional<std::string>> DirectChats::open_for(const std::string& user)
{
    const auto now = clock_();
    if (const auto failed = failed_.find(user);
        failed != failed_.end() && now - failed->second < retry_after)
        return Error{Error::Kind::transport, 0, {}, "direct chat: tried less than 10 min ago", {}};
    auto opened = client_.create_direct_room(user, encrypted_);
    if (!opened) {
        failed_[user] = now;
        log::get("bot.sync")
            ->warn("no direct chat with {}: {} {} {}", user, opened.error().code,
                   opened.error().errcode, opened.error().message);
        return opened.error();
    }
    failed_.erase(user);
    RoomInfo room;
    room.room_id = opened.value();
    room.inviter = own_user_id_;
    room.is_direct = true;
    if (auto saved = store_.save_direct_chat(user, room); !saved) {
        // Not kept: leave it, rather than open a second one next time.
        (void)client_.leave(room.room_id);
        return saved.error();
    }
    log::get("bot.sync")->info("opened a direct chat with {}: {}", user, room.room_id);
    return std::optional<std::string>{};
}

} // namespace opalebot::bot
