#pragma once

#include "commands/registry.hpp"
#include "commands/reminder_store.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace opalebot::commands {

/// What the reminder commands need besides the store.
struct ReminderOptions {
    std::function<Instant()> clock = [] {
        return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    };
    std::string zone{default_zone}; ///< the users' zone until per-user zones exist
};

/// Registers `!rappel <quand> <texte>`, `!rappel salon <quand> <texte>` (admins),
/// `!rappel annuler <id>`, `!rappel reporter <id> <durée>` and `!rappels` (issue 6).
/// `store` must outlive the registry. Throws std::invalid_argument on an unknown zone.
void add_reminder_commands(Registry& registry, ReminderStore& store, ReminderOptions options = {});

/// The Markdown the bot sends for a due reminder; it pings nobody (no @room).
std::string format_delivery(const Delivery& delivery);

} // namespace opalebot::commands
