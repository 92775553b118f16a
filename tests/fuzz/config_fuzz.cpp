// The config file (bot/src/config.cpp): YAML written by an admin, checked key by key with a
// located French message for each problem. The pickle key file it names is never read here.
#include "bot/config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "fuzz_support.hpp"

namespace {

/// A key file that exists, unless its name says otherwise.
std::optional<std::string> key_file(const std::string& path)
{
    if (path.find("absent") != std::string::npos)
        return std::nullopt;
    return std::string{"0123456789abcdef\n"};
}

template <class Number>
bool within(Number value, std::type_identity_t<Number> low, std::type_identity_t<Number> high)
{
    return value >= low && value <= high; // false for NaN
}

/// Every number the bot will use is one the reader accepted, or its default.
void check_ranges(const opalebot::bot::Config& c)
{
    OPALEBOT_FUZZ_CHECK(within(c.answer_without_mention_min_score, 0.0, 1.0));
    OPALEBOT_FUZZ_CHECK(within(c.requests_per_second, 0.01, 100.0));
    OPALEBOT_FUZZ_CHECK(within(c.difficulty.kit_below, 0.0, 100.0));
    OPALEBOT_FUZZ_CHECK(within(c.burst, 1, 100));
    OPALEBOT_FUZZ_CHECK(within(c.admin_power_level, 0, 100));
    OPALEBOT_FUZZ_CHECK(within(c.support_power_level, 0, 100));
    OPALEBOT_FUZZ_CHECK(within(c.question_retention_days, 1, 3650));
    OPALEBOT_FUZZ_CHECK(within(c.difficulty.signals_needed, 1, 4));
    OPALEBOT_FUZZ_CHECK(within(c.reminder_limits.min_interval_minutes, 1, 7 * 24 * 60));
    OPALEBOT_FUZZ_CHECK(within(c.reminder_limits.max_per_user, 1, 10'000));
    OPALEBOT_FUZZ_CHECK(within(c.sync_timeout.count(), 1, 120));
    OPALEBOT_FUZZ_CHECK(within(c.undecryptable_after.count(), 1, 3600));
    OPALEBOT_FUZZ_CHECK(within(c.max_backlog_age.count(), 0, 7 * 24 * 3600));
    OPALEBOT_FUZZ_CHECK(within(c.tickets.itop.timeout.count(), 1, 300));
    OPALEBOT_FUZZ_CHECK(within(c.tickets.itop.si2c.urgency, 1, 4));
    OPALEBOT_FUZZ_CHECK(within(c.tickets.itop.drasi.impact, 1, 3));
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text{opalebot::fuzz::text_of(data, size)};
    const auto load = opalebot::bot::parse_config(text, "opale-bot.yaml", key_file);
    check_ranges(load.config);
    for (const auto& problem : load.problems)
        OPALEBOT_FUZZ_CHECK(!problem.message.empty() && problem.line >= 0 && problem.column >= 0);
    (void)opalebot::bot::format_problems("opale-bot.yaml", load.problems);
    return 0;
}
