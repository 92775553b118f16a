#pragma once

#include "bot/matrix_client.hpp"
#include "bot/state_store.hpp"
#include "opalebot/result.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace opalebot::bot {

/// The direct chats the bot writes in to reach one person (issue 17: the kit reminders go to
/// each linked user, not to the salon). Used on the sync thread only.
class DirectChats {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    /// `encrypted`: the chats the bot opens are encrypted (end-to-end encryption is on), as
    /// Tchap's direct chats are.
    DirectChats(MatrixClient& client, StateStore& store, std::string own_user_id, bool encrypted,
                Clock clock = std::chrono::steady_clock::now);

    /// The room to write to `user` in: the chat the bot opened for them, or one they opened with
    /// the bot, while they are still in it (joined or invited); otherwise one is opened now,
    /// inviting them. Nothing while a chat the bot opened is not usable yet: until a sync has
    /// shown the bot in it with its encryption (a message is never sent in clear into a room
    /// meant to be encrypted), or while too many were opened just now (five at once, then one
    /// every two seconds: a campaign for a hundred people does not hold the sync thread for
    /// minutes); ask again a little later. An error when it cannot be opened (the user unknown,
    /// the homeserver down): then no new attempt for ten minutes.
    Result<std::optional<std::string>> room_for(const std::string& user);

private:
    Result<std::optional<std::string>> open_for(const std::string& user);

    MatrixClient& client_;
    StateStore& store_;
    std::string own_user_id_;
    bool encrypted_;
    Clock clock_;
    /// When opening a chat for a user last failed: a room is not asked for at every sync.
    std::map<std::string, std::chrono::steady_clock::time_point> failed_;
    /// When each chat was last seen with its user in it: not asked again for an hour.
    std::map<std::string, std::chrono::steady_clock::time_point> members_checked_;
    double openings_left_ = 5; ///< the bucket of room creations
    std::optional<std::chrono::steady_clock::time_point> refilled_;
};

} // namespace opalebot::bot
