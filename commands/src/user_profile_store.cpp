#include "commands/user_profile_store.hpp"

#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "store_support.hpp"

namespace opalebot::commands {
namespace {

constexpr int schema_version = 1;

Error storage_error(const std::exception& e, std::string_view what)
{
    log::get("commands")->error("profile store: {} failed: {}", what, e.what());
    return Error{Error::Kind::storage, 0, {}, std::string{what} + " : " + e.what(), {}, false};
}

/// Creates the user's row so that the flags have a place; a no-op when it exists.
void ensure_user(SQLite::Database& db, const std::string& user)
{
    SQLite::Statement insert{db, "INSERT OR IGNORE INTO profile_users (user) VALUES (?)"};
    insert.bind(1, user);
    insert.exec();
}

} // namespace

UserProfileStore::UserProfileStore(const std::string& path)
    : shared_(share_database(path)), db_(shared_->db), mutex_(shared_->mutex)
{
    migrate();
}

void UserProfileStore::migrate()
{
    SQLite::Transaction transaction{db_};
    const int version =
        table_schema_version(db_, "profile_schema", schema_version, "the profile tables");
    if (version < 1) {
        db_.exec(R"sql(
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
)sql");
    }
    db_.exec("DELETE FROM profile_schema");
    db_.exec("INSERT INTO profile_schema (version) VALUES (" + std::to_string(schema_version) +
             ")");
    transaction.commit();
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
        return storage_error(e, "get profile");
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
        insert.bind(1, user);
        insert.bind(2, uai);
        const bool added = insert.exec() == 1;
        transaction.commit();
        return added;
    } catch (const std::exception& e) {
        return storage_error(e, "link");
    }
}

Result<bool> UserProfileStore::unlink(const std::string& user, const std::string& uai)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement remove{db_, "DELETE FROM profile_eple WHERE user = ? AND uai = ?"};
        remove.bind(1, user);
        remove.bind(2, uai);
        return remove.exec() == 1;
    } catch (const std::exception& e) {
        return storage_error(e, "unlink");
    }
}

Result<Done> UserProfileStore::set_kit_opt_out(const std::string& user, bool opt_out)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        ensure_user(db_, user);
        SQLite::Statement update{db_, "UPDATE profile_users SET kit_opt_out = ? WHERE user = ?"};
        update.bind(1, opt_out ? 1 : 0);
        update.bind(2, user);
        update.exec();
        transaction.commit();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "opt out");
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
        return storage_error(e, "set zone");
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
        return storage_error(e, "links by uai");
    }
}

} // namespace opalebot::commands
