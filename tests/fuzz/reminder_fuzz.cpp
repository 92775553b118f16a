// The French phrases of `!rappel` and `!campagne kit` and the cron rules under them
// (commands/src/reminder_time.cpp, commands/src/kit_campaign.cpp), then what the bot does with a
// parsed schedule: store it, read it back and compute its next firings.
#include "commands/kit_campaign.hpp"
#include "commands/reminder_time.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "fuzz_support.hpp"

namespace {

namespace commands = opalebot::commands;
using namespace std::chrono;

const date::time_zone& paris()
{
    static const auto* zone = commands::find_zone(commands::default_zone).value();
    return *zone;
}

/// A Monday morning, and the night of the change to summer time (02:00 local does not exist).
constexpr std::array nows{commands::Instant{sys_days{2026y / November / 23} + 8h},
                          commands::Instant{sys_days{2026y / March / 29} + 0h + 30min}};

/// A schedule as stored (reminders table) reads back to the same schedule and the same firings.
void check_schedule(const commands::Schedule& schedule, commands::Instant now, bool skip_holidays)
{
    const auto stored = commands::to_storage(schedule);
    const auto read = commands::schedule_from_storage(stored);
    OPALEBOT_FUZZ_CHECK(read && commands::to_storage(read.value()) == stored);
    auto after = now;
    for (int i = 0; i < 3; ++i) {
        const auto next = commands::next_occurrence(schedule, after, paris(), skip_holidays);
        OPALEBOT_FUZZ_CHECK(next ==
                            commands::next_occurrence(read.value(), after, paris(), skip_holidays));
        if (!next)
            break;
        OPALEBOT_FUZZ_CHECK(*next > after);
        (void)commands::format_local(*next, paris());
        after = *next;
    }
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    for (const auto now : nows)
        if (const auto when = commands::parse_when(text, now, paris())) {
            OPALEBOT_FUZZ_CHECK(!when.value().rest.empty());
            check_schedule(when.value().schedule, now, when.value().skip_holidays);
        }
    if (const auto rule = commands::parse_cron(text)) {
        commands::Schedule schedule;
        schedule.cron = rule.value();
        check_schedule(schedule, nows[0], false);
    }
    if (const auto campaign = commands::parse_campaign(text)) {
        OPALEBOT_FUZZ_CHECK(campaign.value().schedule.recurring());
        check_schedule(campaign.value().schedule, nows[0], campaign.value().skip_holidays);
    }
    // What the table holds is written by to_storage; a damaged row is refused, never a crash.
    if (const auto stored = commands::schedule_from_storage(text); stored && !stored.value().once)
        OPALEBOT_FUZZ_CHECK(commands::schedule_from_storage(commands::to_storage(stored.value())));
    if (const auto duration = commands::parse_duration(text))
        OPALEBOT_FUZZ_CHECK(duration.value() > seconds{0});
    return 0;
}
