#include "commands/user_profile_store.hpp"

#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE profile_users (
    user TEXT PRIMARY KEY,
    kit_opt_out INTEGER NOT NULL DEFAULT 0,
    zone TEXT
);
CREATE TABLE profile_eple (
    user TEXT NOT NULL REFERENCES profile_users (user),
    uai TEXT NOT NULL,
    PRIMARY KEY (user, uai)
);
CREATE INDEX profile_eple_by_uai ON profile_eple (uai);
)sql"};
constexpr Schema schema{"profiles", schema_steps, "profile_schema"};

/// Creates the user's row so that the flags have a place; a no-op when it exists.
void ensure_user(SQLite::Database& db, const std::string& user)
{
    SQLite::Statement insert{db, "INSERT OR IGNORE INTO profile_users (user) VALUES (?)"};
    insert.bind(1, user);
    insert.exec();
}

} // namespace

UserProfileStore::UserProfileStore(StateDatabase& state)
    : db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

Result<UserProfile> UserProfileStore::get(const std::string& user)
{
    const std::lock_guard lock{mutex_};
    try {
        UserProfile profile;
        profile.user = user;
        SQLite::Statement query{db_, "SELECT kit_opt_out, zone FROM profile_users WHERE user = ?"};
        query.bind(1, user);
        if (query.executeStep()) {
            profile.kit_opt_out = query.getColumn(0).getInt() != 0;
            if (!query.getColumn(1).isNull())
                profile.zone = query.getColumn(1).getString();
        }
        SQLite::Statement links{db_, "SELECT uai FROM profile_eple WHERE user = ? ORDER BY uai"};
        links.bind(1, user);
        while (links.executeStep())
            profile.uais.push_back(links.getColumn(0).getString());
        return profile;
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: get profile", "commands");
    }
}

Result<bool> UserProfileStore::link(const std::string& user, const std::string& uai)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        ensure_user(db_, user);
        SQLite::Statement insert{db_,
                                 "INSERT OR IGNORE INTO profile_eple (user, uai) VALUES (?, ?)"};
        SQLite::bind(insert, user, uai);
        const bool added = insert.exec() == 1;
        transaction.commit();
        return added;
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: link", "commands");
    }
}

Result<bool> UserProfileStore::unlink(const std::string& user, const std::string& uai)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement remove{db_, "DELETE FROM profile_eple WHERE user = ? AND uai = ?"};
        SQLite::bind(remove, user, uai);
        return remove.exec() == 1;
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: unlink", "commands");
    }
}

Result<Done> UserProfileStore::set_kit_opt_out(const std::string& user, bool opt_out)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        ensure_user(db_, user);
        SQLite::Statement update{db_, "UPDATE profile_users SET kit_opt_out = ? WHERE user = ?"};
        SQLite::bind(update, opt_out ? 1 : 0, user);
        update.exec();
        transaction.commit();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: opt out", "commands");
    }
}

Result<Done> UserProfileStore::set_zone(const std::string& user,
                                        const std::optional<std::string>& zone)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        ensure_user(db_, user);
        SQLite::Statement update{db_, "UPDATE profile_users SET zone = ? WHERE user = ?"};
        if (zone)
            update.bind(1, *zone);
        else
            update.bind(1);
        update.bind(2, user);
        update.exec();
        transaction.commit();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: set zone", "commands");
    }
}

Result<std::map<std::string, std::vector<UserProfile>>> UserProfileStore::links_by_uai()
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, R"sql(
SELECT e.uai, e.user, u.kit_opt_out, u.zone FROM profile_eple e
JOIN profile_users u ON u.user = e.user ORDER BY e.uai, e.user
)sql"};
        std::map<std::string, std::vector<UserProfile>> links;
        while (query.executeStep()) {
            UserProfile profile;
            profile.user = query.getColumn(1).getString();
            profile.kit_opt_out = query.getColumn(2).getInt() != 0;
            if (!query.getColumn(3).isNull())
                profile.zone = query.getColumn(3).getString();
            links[query.getColumn(0).getString()].push_back(std::move(profile));
        }
        return links;
    } catch (const std::exception& e) {
        return storage_error(e, "profile store: links by uai", "commands");
    }
}

} // namespace opalebot::commands
