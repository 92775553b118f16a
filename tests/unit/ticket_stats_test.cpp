#include "commands/ticket_stats.hpp"

#include <doctest/doctest.h>

using namespace opalebot::commands;
using namespace std::chrono_literals;

namespace {

/// Noon, so that a few hours never cross midnight whatever the local time zone.
const TimePoint day0 = TimePoint{std::chrono::sys_days{std::chrono::year{2024} / 2 / 1}} + 12h;

Ticket ticket(Team team, TimePoint created, std::optional<TimePoint> resolved)
{
    Ticket t;
    t.team = team;
    t.created_at = created;
    t.resolved_at = resolved;
    t.status = resolved ? TicketStatus::resolved : TicketStatus::assigned;
    return t;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("ticket statistics French formats")
    {
        CHECK(french_percent(11, 20) == "55 %");
        CHECK(french_percent(1, 3) == "33 %");
        CHECK(french_percent(2, 3) == "67 %");
        CHECK(french_percent(0, 0) == "–");
        CHECK(french_days(5.4) == "5,4 jours");
        CHECK(french_days(5.0) == "5 jours");
        CHECK(french_days(1.0) == "1 jour");
        CHECK(french_days(0.46) == "0,5 jour");
        CHECK(french_days(1.96) == "2 jours");
    }

    TEST_CASE("ticket statistics figures")
    {
        const auto now = day0 + 30 * 24h;
        const std::vector<Ticket> tickets = {
            ticket(Team::si2c, day0, day0 + 3h),                   // same day
            ticket(Team::si2c, day0, day0 + 36h),                  // within 2 days
            ticket(Team::drasi, day0, day0 + 5 * 24h),             // within 7 days
            ticket(Team::drasi, day0, day0 + 10 * 24h + 12h),      // later
            ticket(Team::national, day0 + 20 * 24h, std::nullopt), // open 10 days
            ticket(Team::drasi, day0 + 10 * 24h, std::nullopt),    // open 20 days
            ticket(Team::si2c, day0 + 25 * 24h, std::nullopt),     // open 5 days
        };
        const auto s = compute_ticket_stats(tickets, now);
        CHECK(s.all.filed == 7);
        CHECK(s.all.resolved == 4);
        CHECK(s.all.open == 3);
        CHECK(s.all.open_over_15_days == 1);
        CHECK(s.by_team[0].filed == 3);
        CHECK(s.by_team[1].filed == 3);
        CHECK(s.by_team[1].open_over_15_days == 1);
        CHECK(s.by_team[2].open == 1);
        CHECK(s.resolved_same_day == 1);
        CHECK(s.resolved_within_2_days == 2);
        CHECK(s.resolved_within_7_days == 3);
        REQUIRE(s.mean_resolution_days);
        // (0.125 + 1.5 + 5 + 10.5) / 4 = 4.28125
        CHECK(*s.mean_resolution_days == doctest::Approx(4.28125));
        REQUIRE(s.median_open_wait_days);
        CHECK(*s.median_open_wait_days == doctest::Approx(10.0));

        const auto table = format_ticket_stats(s, "du 01/02/2024 au 29/02/2024");
        CHECK(table.find("| Déposés | 7 | 3 | 3 | 1 |") != std::string::npos);
        CHECK(table.find("| En cours depuis plus de 15 jours | 1 | 0 | 1 | 0 |") !=
              std::string::npos);
        CHECK(table.find("jour même : 14 %") != std::string::npos);
        CHECK(table.find("2 jours ou moins : 29 %") != std::string::npos);
        CHECK(table.find("7 jours ou moins : 43 %") != std::string::npos);
        CHECK(table.find("résolution : 4,3 jours") != std::string::npos);
        CHECK(table.find("en cours : 10 jours") != std::string::npos);
    }

    TEST_CASE("ticket statistics of an empty period")
    {
        const auto s = compute_ticket_stats({}, day0);
        CHECK(s.all.filed == 0);
        CHECK_FALSE(s.mean_resolution_days);
        CHECK_FALSE(s.median_open_wait_days);
        CHECK(format_ticket_stats(s, "depuis le début").find("jour même : –") != std::string::npos);
    }
}
