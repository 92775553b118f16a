#pragma once

#include "commands/chart.hpp"
#include "commands/eple_store.hpp"
#include "commands/ticket_stats.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

// The figures the comité de suivi reads as charts (issue 17), from the stores' data, and the
// charts that show them. Pure functions: tested without drawing.

/// A wave on one day of its history: each EPLE as of its latest snapshot on or before that day.
struct WaveDay {
    std::chrono::year_month_day date{};
    int measured = 0;               ///< EPLE with a snapshot by that day
    std::array<int, 3> kit_bands{}; ///< EPLE per KitBucket: > 30 %, 10–30 %, < 10 %
    int budgets_integres = 0;
    int paying = 0; ///< EPLE with at least one payment
};

struct WaveChartData {
    int vague = 0;
    int eple = 0;              ///< EPLE of the wave in the referential
    std::vector<WaveDay> days; ///< one per day with a snapshot, oldest first
};

/// The wave's days from `history` (EpleStore::history), `eple` EPLE in the referential.
WaveChartData wave_chart_data(int vague, int eple, const std::vector<Snapshot>& history);

/// Kit de bascule bands, then the shares of budgets integrated and of EPLE paying, over time.
Chart wave_chart(const WaveChartData& data);

/// The four indicators of the difficulty rule, in the order the chart shows them.
enum class Indicator { kit, paiements, ej, titres };

struct EpleChartData {
    Etablissement etablissement;
    std::vector<std::chrono::year_month_day> dates; ///< the wave's snapshot days, oldest first
    /// Per Indicator, per date: the EPLE's value as of that day (nothing before its first).
    std::array<std::vector<std::optional<double>>, 4> eple;
    /// Per Indicator, per date: the median over the wave's EPLE with a snapshot by that day.
    std::array<std::vector<std::optional<double>>, 4> wave_median;
};

/// `etablissement`'s indicators against its wave's median, from the wave's `history`.
EpleChartData eple_chart_data(const Etablissement& etablissement,
                              const std::vector<Snapshot>& history);

/// Four panels: kit de bascule, payments, EJ, titres de recettes; the EPLE and the median.
Chart eple_chart(const EpleChartData& data);

/// The tickets filed in one week (Monday to Sunday, local time).
struct TicketWeek {
    std::chrono::year_month_day monday{};
    TicketStats stats; ///< of that week's tickets, as of now
};

/// Every week from the one of `first_day` to the one of `last_day`, empty ones included, the
/// last `max_weeks` only; each week's figures as of `now`.
std::vector<TicketWeek> ticket_weeks(const std::vector<Ticket>& tickets,
                                     std::chrono::year_month_day first_day,
                                     std::chrono::year_month_day last_day, TimePoint now,
                                     std::size_t max_weeks = 52);

/// Tickets filed per week, then the shares resolved the same day, in 2 and in 7 days.
Chart tickets_chart(const std::vector<TicketWeek>& weeks, std::string_view period,
                    std::chrono::year_month_day today);

} // namespace opalebot::commands
