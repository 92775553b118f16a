#pragma once

#include "opalebot/result.hpp"

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
} // namespace date

namespace opalebot::commands {

/// An instant in UTC, to the second.
using Instant = std::chrono::sys_seconds;

/// A 5-field cron rule (minute hour day-of-month month day-of-week), read in local time.
struct CronRule {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days;    ///< 1 to 31
    std::bitset<13> months;  ///< 1 to 12
    std::bitset<7> weekdays; ///< 0 = dimanche
    bool any_day = true;     ///< day-of-month was "*"
    bool any_weekday = true; ///< day-of-week was "*"
    std::string text;        ///< the expression, as stored: "30 8 * * 1-5"
};

/// When a reminder fires: once at `once`, or on every match of `cron` (all the French recurring
/// phrases are turned into a cron rule, so that one algorithm handles them).
struct Schedule {
    std::optional<Instant> once;
    CronRule cron;                  ///< used when `once` is empty
    bool working_days_only = false; ///< "chaque jour ouvré": skip weekends and public holidays

    bool recurring() const { return !once.has_value(); }
};

/// A parsed `<quand>` and the reminder's text that followed it.
struct ParsedWhen {
    Schedule schedule;
    std::string rest;                ///< the message, as the user wrote it (trimmed)
    bool skip_holidays = false;      ///< "hors fériés": skip weekends and public holidays
    bool until_acknowledged = false; ///< "jusqu'à confirmation": repeats until ✅
};

/// The default zone of the reminders (issue 6).
inline constexpr std::string_view default_zone = "Europe/Paris";

/// The zone named `name` ("Europe/Paris") from the system tzdata, or an error.
Result<const date::time_zone*> find_zone(std::string_view name);

/// A cron expression such as "0 9 * * 1-5", or a French error.
Result<CronRule> parse_cron(std::string_view expression);

/// Reads a French `<quand>` at the start of `text` ("demain 9h", "lundi 14h30", "le 31/12 à 10h",
/// "dans 2 heures", "chaque jour ouvré 8h30", "le 1er de chaque mois 9h", "cron 0 9 * * 1"),
/// relative to `now` in `zone`, then the options right after it, in any order: "hors fériés"
/// (also "hors week-ends et fériés", "sauf fériés"; recurring only) and "jusqu'à confirmation".
/// Ambiguous or unknown phrases are an error with an example.
Result<ParsedWhen> parse_when(std::string_view text, Instant now, const date::time_zone& zone);

/// The first firing strictly after `after`, computed in local wall-clock time. DST rule: a local
/// time that does not exist (02:30 on the last Sunday of March) fires at the change, 03:00 CEST;
/// a local time that occurs twice (02:30 on the last Sunday of October) fires once, the first
/// time (CEST). Nothing when a one-off is past or a rule never matches again.
std::optional<Instant> next_occurrence(const Schedule& schedule, Instant after,
                                       const date::time_zone& zone,
                                       bool skip_weekends_and_holidays);

/// Easter Sunday of `year` (Gregorian computus).
std::chrono::year_month_day easter_sunday(int year);

/// True on the 11 French public holidays of metropolitan France (1er janvier, lundi de Pâques,
/// 1er et 8 mai, Ascension, lundi de Pentecôte, 14 juillet, 15 août, 1er et 11 novembre, 25 déc.).
bool is_french_public_holiday(std::chrono::year_month_day day);

/// Schedule as stored: "once:<unix seconds>" or "cron:<expression>[|ouvre]".
std::string to_storage(const Schedule& schedule);
Result<Schedule> schedule_from_storage(std::string_view text);

/// "lundi 24/11/2026 à 09h00" in `zone`.
std::string format_local(Instant instant, const date::time_zone& zone);

/// "lundi 24/11/2026": the day of `instant` in `zone`.
std::string format_local_day(Instant instant, const date::time_zone& zone);

/// The calendar day of `instant` in `zone`.
std::chrono::year_month_day local_day(Instant instant, const date::time_zone& zone);

/// A duration in French ("10 min", "2 h", "1 jour", "2h30"), or an error with an example.
Result<std::chrono::seconds> parse_duration(std::string_view text);

} // namespace opalebot::commands
