#pragma once

#include <chrono>
#include <string>

namespace opalebot::commands {

// Figures as the comité de suivi writes them: French comma, truncated rather than rounded.

/// A non-negative value truncated to hundredths: 20.6 → 2060 (the epsilon keeps 20.59999… there).
long long truncated_hundredths(double value);

/// Hundredths as a decimal, trailing zeros dropped, French comma: 2060 → "20,6", 8196 → "81,96".
std::string format_hundredths(long long hundredths);

/// `part / whole` as a French percentage truncated to two decimals, so that a figure never
/// reaches a threshold the data did not ("81,96 %" for 50 / 61, as the comité wrote it; "100 %"
/// only when all are there). "–" when `whole` is 0.
std::string format_percent(long long part, long long whole);

/// A rate already in percent, truncated to two decimals, trailing zeros dropped: "20,6 %".
std::string format_rate(double percent);

/// A whole number with a narrow no-break space (U+202F) between thousands: "12 345", "-1 000".
std::string format_count(long long value);

/// "JJ/MM/AAAA".
std::string format_date(std::chrono::year_month_day date);

/// The calendar day of `t` in the bot's local time zone (the salon's day).
std::chrono::year_month_day local_date(std::chrono::system_clock::time_point t);

} // namespace opalebot::commands
