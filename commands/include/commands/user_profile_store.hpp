#pragma once

#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

/// What a user told the bot about themself (issue 6: `!moi`, `!rappels off`).
struct UserProfile {
    std::string user;
    std::vector<std::string> uais;   ///< the EPLE they work for, sorted; several allowed
    bool kit_opt_out = false;        ///< `!rappels off`: no kit campaign reminder
    std::optional<std::string> zone; ///< IANA zone; none means Europe/Paris
};

/// User profiles in SQLite, tables `profile_*` of the shared state file. Thread-safe.
class UserProfileStore {
public:
    /// Creates or migrates its tables in `state`. Throws on a start-up failure.
    explicit UserProfileStore(StateDatabase& state);

    /// The profile of `user`; an empty one when they never set anything.
    Result<UserProfile> get(const std::string& user);

    /// Links `user` to the EPLE `uai` (upper case); false when it already was.
    Result<bool> link(const std::string& user, const std::string& uai);

    /// Removes the link; false when there was none.
    Result<bool> unlink(const std::string& user, const std::string& uai);

    /// `!rappels off` (true) or `!rappels on` (false).
    Result<Done> set_kit_opt_out(const std::string& user, bool opt_out);

    /// Sets the user's IANA zone, or resets it to Europe/Paris with nothing. Not validated here.
    Result<Done> set_zone(const std::string& user, const std::optional<std::string>& zone);

    /// UAI → the users linked to it, opted-out users included, each list sorted.
    Result<std::map<std::string, std::vector<UserProfile>>> links_by_uai();

private:
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
};

} // namespace opalebot::commands
