#include "bot/direct_chats.hpp"

#include "opalebot/log.hpp"

#include <algorithm>

namespace opalebot::bot {
namespace {

constexpr std::chrono::minutes retry_after{10};
constexpr std::chrono::hours members_trusted_for{1};
constexpr double openings_burst = 5;
constexpr std::chrono::seconds opening_every{2};

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
    const auto now = clock_();
    if (const auto checked = members_checked_.find(room_id);
        checked != members_checked_.end() && now - checked->second < members_trusted_for)
        return known;
    auto members = client_.room_members(room_id);
    if (!members)
        return members.error();
    if (holds(members.value().joined, user) || holds(members.value().invited, user)) {
        members_checked_[room_id] = now;
        return known;
    }
    members_checked_.erase(room_id);
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
    if (refilled_)
        openings_left_ = std::min(openings_burst,
                                  openings_left_ + std::chrono::duration<double>(now - *refilled_) /
                                                       opening_every);
    refilled_ = now;
    if (openings_left_ < 1)
        return std::optional<std::string>{}; // opened later: not ready yet
    openings_left_ -= 1;
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
