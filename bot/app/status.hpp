#pragma once

#include "opalebot/log.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::app {

/// What `!statut` shows the admins (issue 16): gathered by main from the parts that know it.
/// Only counts, times and short causes: never a secret, a user's message or a room's name.
struct StatusReport {
    using TimePoint = std::chrono::system_clock::time_point;

    std::string version;
    TimePoint started{};
    /// The homeserver, as /sync sees it (none in the console).
    struct Homeserver {
        std::optional<TimePoint> last_sync; ///< the last /sync that answered
        int failures_in_a_row = 0;
        std::string last_cause;
        std::chrono::milliseconds long_poll{0};
    };
    std::optional<Homeserver> homeserver;
    std::optional<std::int64_t> waiting_messages; ///< outbox; nothing when unreadable
    int rooms = 0;                                ///< rooms the bot is in
    int encrypted_rooms = 0;
    bool encryption_on = false;
    std::size_t entries = 0;   ///< fiches loaded
    std::size_t documents = 0; ///< documents loaded (curated and added from the salon)
    /// The ticket backend: "intégré" or iTop with its state.
    struct Tickets {
        bool itop = false;
        std::optional<TimePoint> last_success;
        std::optional<TimePoint> last_failure;
        int failures_in_a_row = 0;
        std::string last_cause;
    } tickets;
    std::optional<std::size_t> reminders_next_24h; ///< nothing when unreadable
    std::optional<TimePoint> campaign_next_run;    ///< the kit campaign's next run, if one runs
    std::vector<log::Problem> problems;            ///< the last warnings and errors
};

/// The reply to `!statut`, in French Markdown; times in Europe/Paris.
std::string format_status(const StatusReport& report, StatusReport::TimePoint now);

} // namespace opalebot::app
