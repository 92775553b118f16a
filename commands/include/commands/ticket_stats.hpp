#pragma once

#include "commands/ticket_backend.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

/// Counts for one team, or for all.
struct TeamFigures {
    int filed = 0;
    int resolved = 0; ///< resolved or closed
    int open = 0;
    int open_over_15_days = 0;
};

/// The table the comité uses (seed comité 19/02/2024), over the tickets filed in a period.
struct TicketStats {
    TeamFigures all;
    std::array<TeamFigures, 3> by_team; ///< indexed by Team: SI2C, DRASI, national
    int resolved_same_day = 0;          ///< resolved on the calendar day (local time) it was filed
    int resolved_within_2_days = 0;     ///< in 48 h or less
    int resolved_within_7_days = 0;     ///< in 7 × 24 h or less
    std::optional<double> mean_resolution_days;  ///< nothing when none is resolved
    std::optional<double> median_open_wait_days; ///< nothing when none is open
};

/// The figures for `tickets` (those filed in the period) as of `now`.
TicketStats compute_ticket_stats(const std::vector<Ticket>& tickets, TimePoint now);

/// "55 %": `part / whole` rounded to a whole percent; "–" when `whole` is 0.
std::string french_percent(int part, int whole);

/// "5,4 jours", "1 jour", "0,5 jour": one decimal, French comma, singular below 2.
std::string french_days(double days);

/// The statistics table in Markdown, percentages taken over the tickets filed.
std::string format_ticket_stats(const TicketStats& stats, std::string_view period);

} // namespace opalebot::commands
