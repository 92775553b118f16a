#include "commands/ticket_stats.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <tuple>

namespace opalebot::commands {
namespace {

constexpr double seconds_per_day = 86'400.0;

double days_between(TimePoint from, TimePoint to)
{
    return std::chrono::duration<double>(to - from).count() / seconds_per_day;
}

/// The local calendar day, as the comité counts "le jour même".
std::tuple<int, int, int> local_day(TimePoint t)
{
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm local{};
    localtime_r(&seconds, &local);
    return {local.tm_year, local.tm_mon, local.tm_mday};
}

} // namespace

TicketStats compute_ticket_stats(const std::vector<Ticket>& tickets, TimePoint now)
{
    TicketStats stats;
    double resolution_days_total = 0;
    std::vector<double> open_waits;
    for (const auto& t : tickets) {
        auto& team = stats.by_team[static_cast<std::size_t>(t.team)];
        ++stats.all.filed;
        ++team.filed;
        if (!is_open(t.status) && t.resolved_at) {
            ++stats.all.resolved;
            ++team.resolved;
            const auto days = days_between(t.created_at, *t.resolved_at);
            resolution_days_total += days;
            if (local_day(t.created_at) == local_day(*t.resolved_at))
                ++stats.resolved_same_day;
            if (days <= 2.0)
                ++stats.resolved_within_2_days;
            if (days <= 7.0)
                ++stats.resolved_within_7_days;
        } else if (is_open(t.status)) {
            ++stats.all.open;
            ++team.open;
            const auto wait = days_between(t.created_at, now);
            open_waits.push_back(wait);
            if (wait > 15.0) {
                ++stats.all.open_over_15_days;
                ++team.open_over_15_days;
            }
        }
    }
    if (stats.all.resolved > 0)
        stats.mean_resolution_days = resolution_days_total / stats.all.resolved;
    if (!open_waits.empty()) {
        std::sort(open_waits.begin(), open_waits.end());
        const auto n = open_waits.size();
        stats.median_open_wait_days =
            n % 2 == 1 ? open_waits[n / 2] : (open_waits[n / 2 - 1] + open_waits[n / 2]) / 2.0;
    }
    return stats;
}

std::string french_percent(int part, int whole)
{
    if (whole <= 0)
        return "–";
    const auto percent = std::lround(100.0 * part / whole);
    return std::to_string(percent) + " %";
}

std::string french_days(double days)
{
    const auto tenths = std::lround(days * 10.0);
    std::string text = std::to_string(tenths / 10);
    if (tenths % 10 != 0)
        text += "," + std::to_string(tenths % 10);
    return text + (tenths < 20 ? " jour" : " jours");
}

std::string format_ticket_stats(const TicketStats& s, std::string_view period)
{
    std::string out = "**Tickets " + std::string{period} + "**\n\n";
    out += "| | Total | SI2C | DRASI | national |\n|---|---:|---:|---:|---:|\n";
    const auto row = [&](std::string_view label, int TeamFigures::*member) {
        out += "| ";
        out += label;
        out += " | " + std::to_string(s.all.*member);
        for (const auto& team : s.by_team)
            out += " | " + std::to_string(team.*member);
        out += " |\n";
    };
    row("Déposés", &TeamFigures::filed);
    row("Résolus", &TeamFigures::resolved);
    row("En cours", &TeamFigures::open);
    row("En cours depuis plus de 15 jours", &TeamFigures::open_over_15_days);
    out += "\n- Résolus le jour même : " + french_percent(s.resolved_same_day, s.all.filed);
    out += "\n- Résolus en 2 jours ou moins : " +
           french_percent(s.resolved_within_2_days, s.all.filed);
    out += "\n- Résolus en 7 jours ou moins : " +
           french_percent(s.resolved_within_7_days, s.all.filed);
    out += "\n- Délai moyen de résolution : " +
           (s.mean_resolution_days ? french_days(*s.mean_resolution_days) : std::string{"–"});
    out += "\n- Attente médiane des tickets en cours : " +
           (s.median_open_wait_days ? french_days(*s.median_open_wait_days) : std::string{"–"});
    out += "\n\n_Pourcentages calculés sur les tickets déposés dans la période._";
    return out;
}

} // namespace opalebot::commands
