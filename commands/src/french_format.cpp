#include "commands/french_format.hpp"

#include <cmath>
#include <ctime>

namespace opalebot::commands {

long long truncated_hundredths(double value)
{
    return static_cast<long long>(std::floor(value * 100.0 + 1e-6));
}

std::string format_hundredths(long long hundredths)
{
    std::string text = std::to_string(hundredths / 100);
    const auto rest = hundredths % 100;
    if (rest != 0) {
        text += ',';
        text += static_cast<char>('0' + rest / 10);
        if (rest % 10 != 0)
            text += static_cast<char>('0' + rest % 10);
    }
    return text;
}

std::string format_percent(long long part, long long whole)
{
    if (whole <= 0)
        return "–";
    return format_hundredths(part * 10'000 / whole) + " %";
}

std::string format_rate(double percent)
{
    return format_hundredths(truncated_hundredths(percent)) + " %";
}

std::string format_count(long long value)
{
    const std::string digits = std::to_string(value < 0 ? -(value + 1) + 1ULL : value + 0ULL);
    std::string text = value < 0 ? "-" : "";
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0)
            text += "\u202F"; // espace fine insécable, as French typography has it
        text += digits[i];
    }
    return text;
}

std::string format_date(std::chrono::year_month_day date)
{
    const auto two = [](unsigned v) { return std::string(v < 10 ? "0" : "") + std::to_string(v); };
    return two(static_cast<unsigned>(date.day())) + "/" + two(static_cast<unsigned>(date.month())) +
           "/" + std::to_string(static_cast<int>(date.year()));
}

std::chrono::year_month_day local_date(std::chrono::system_clock::time_point t)
{
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm local{};
    localtime_r(&seconds, &local);
    return std::chrono::year_month_day{std::chrono::year{local.tm_year + 1900},
                                       std::chrono::month{static_cast<unsigned>(local.tm_mon + 1)},
                                       std::chrono::day{static_cast<unsigned>(local.tm_mday)}};
}

} // namespace opalebot::commands
