// Finding the due reminders among 100,000 (issue 6): prints figures, asserts nothing on time.
// Usage: reminder_bench [database path, default :memory:]
#include "commands/reminder_store.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <date/tz.h>

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono;

namespace {

double milliseconds_since(steady_clock::time_point start)
{
    return duration<double, std::milli>(steady_clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv)
try {
    const std::string path = argc > 1 ? argv[1] : ":memory:";
    constexpr int reminder_count = 100'000;
    const auto& zone = *find_zone(default_zone).value();
    const Instant start = sys_days{year{2026} / 11 / 23} + hours{9};
    StateDatabase state{path};
    ReminderStore store{state};

    // Three in four are one-offs spread over 30 days, one in four recurs (daily, weekly, working
    // days, monthly), so that the due ones are a small slice of the table.
    const std::array<const char*, 4> recurring{"chaque jour 18h x", "chaque lundi 9h x",
                                               "chaque jour ouvré 8h30 x",
                                               "le 1er de chaque mois 9h x"};
    auto clock = steady_clock::now();
    for (int i = 0; i < reminder_count; ++i) {
        NewReminder r;
        r.owner = "@user" + std::to_string(i % 5000) + ":example.org";
        r.room = "!salon:example.org";
        if (i % 4 == 3) {
            auto parsed =
                parse_when(recurring.at(static_cast<std::size_t>((i / 4) % 4)), start, zone);
            r.schedule = parsed.value().schedule;
        } else {
            r.schedule.once =
                start + seconds{1 + (static_cast<long long>(i) * 7919) % (30LL * 86400)};
        }
        r.text = "rappel " + std::to_string(i);
        if (!store.add(r, start)) {
            (void)std::fprintf(stderr, "add failed at %d\n", i);
            return 1;
        }
    }
    std::printf("inserted %d reminders in %.0f ms\n", reminder_count, milliseconds_since(clock));

    const Instant now = start + minutes{10};
    constexpr int rounds = 200;
    std::size_t found = 0;
    clock = steady_clock::now();
    for (int round = 0; round < rounds; ++round)
        found = store.due(now, 100).value().size();
    std::printf("due(now, 100): %zu due, %.3f ms per query (mean of %d)\n", found,
                milliseconds_since(clock) / rounds, rounds);

    clock = steady_clock::now();
    const auto batch = store.claim_due(now, 100);
    std::printf(
        "claim_due(now, 100): %zu to send, %zu missed, %.3f ms (ledger + next occurrence)\n",
        batch.value().to_send.size(), batch.value().missed.size(), milliseconds_since(clock));

    clock = steady_clock::now();
    for (int round = 0; round < rounds; ++round)
        found = store.due(now, 100).value().size();
    std::printf("due(now, 100) after the claim: %zu due, %.3f ms per query\n", found,
                milliseconds_since(clock) / rounds);
    return 0;
} catch (const std::exception& e) {
    (void)std::fprintf(stderr, "reminder_bench: %s\n", e.what());
    return 1;
}
