#pragma once

#include "commands/registry.hpp"
#include "commands/reminder_store.hpp"
#include "commands/user_profile_store.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <utility>

namespace opalebot::commands {

/// What the reminder commands need besides the store.
struct ReminderOptions {
    std::function<Instant()> clock = [] {
        return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    };
    std::string zone{default_zone}; ///< the zone of users who did not choose one (`!moi fuseau`)
    UserProfileStore* profiles = nullptr; ///< per-user zones and `!rappels off|on`; optional
    std::chrono::seconds snooze{std::chrono::hours{1}}; ///< what a ⏰ reaction postpones by
    /// For members (admins and support are not limited): the shortest time between two
    /// occurrences of a repeating reminder, and how many active reminders each may have, so
    /// that `!rappel * * * * * x` cannot post every minute for ever (issue 15).
    std::chrono::minutes member_min_interval{60};
    int member_max_reminders = 20;
    /// When set, read at each command instead of the two above (the configuration reloaded
    /// while the bot runs): the shortest interval, the most active reminders.
    std::function<std::pair<std::chrono::minutes, int>()> current_member_limits;
};

/// Registers `!rappel <quand> <texte>`, `!rappel salon [@room] <quand> <texte>` (admins),
/// `!rappel annuler <id>`, `!rappel reporter <id> <durée>`, `!rappels` and, with
/// `options.profiles`, `!rappels off|on` (issue 6).
/// `store` must outlive the registry. Throws std::invalid_argument on an unknown zone.
void add_reminder_commands(Registry& registry, ReminderStore& store, ReminderOptions options = {});

/// The Markdown the bot sends for a due reminder; it pings nobody (no @room) unless the salon
/// reminder asked for it (`ping_room`), when it starts with "@room".
std::string format_delivery(const Delivery& delivery);

/// A reaction `emoji` by `sender` (of `role`) to the delivery whose key is `delivery_key` (its
/// txn id): ✅/✔️/☑️ acknowledges (an "until acknowledged" reminder stops repeating),
/// ⏰/💤 postpones by `options.snooze`. Only the owner may, or an admin for a salon reminder. Returns
/// the French confirmation to post, or nothing (another emoji, another user, unknown key).
std::optional<std::string> on_reminder_reaction(ReminderStore& store,
                                                const ReminderOptions& options,
                                                std::string_view delivery_key,
                                                std::string_view sender, Role role,
                                                std::string_view emoji, Instant now);

} // namespace opalebot::commands
