#include "commands/reminder_time.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "support/checks.hpp"
#include <date/tz.h>

using namespace opalebot::commands;
using namespace std::chrono;
using opalebot::testing::utc;

namespace {

const date::time_zone& paris()
{
    return *find_zone(default_zone).value();
}

/// Monday 23/11/2026 10:00 in Paris (CET, UTC+1).
const Instant monday_morning = utc(2026, 11, 23, 9);

Instant parsed_once(std::string_view text, Instant now = monday_morning)
{
    const auto parsed = parse_when(text, now, paris());
    REQUIRE_MESSAGE(parsed, text);
    REQUIRE(parsed.value().schedule.once.has_value());
    return *parsed.value().schedule.once;
}

std::string parse_error(std::string_view text)
{
    const auto parsed = parse_when(text, monday_morning, paris());
    REQUIRE_FALSE_MESSAGE(parsed, text);
    return parsed.error().message;
}

Instant next(std::string_view text, Instant after, bool skip = false)
{
    const auto parsed = parse_when(text, after, paris());
    REQUIRE_MESSAGE(parsed, text);
    const auto when = next_occurrence(parsed.value().schedule, after, paris(), skip);
    REQUIRE(when.has_value());
    return *when;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("reminder phrases give a one-off instant and the message")
    {
        const auto parsed = parse_when("demain 9h envoyer le kit", monday_morning, paris());
        REQUIRE(parsed);
        CHECK(parsed.value().schedule.once == utc(2026, 11, 24, 8));
        CHECK(parsed.value().rest == "envoyer le kit");
        CHECK(parsed_once("Demain à 9h30 x") == utc(2026, 11, 24, 8, 30));
        CHECK(parsed_once("après-demain 14:00 x") == utc(2026, 11, 25, 13));
        CHECK(parsed_once("aujourd'hui 17h x") == utc(2026, 11, 23, 16));
        CHECK(parsed_once("mardi 14h30 x") == utc(2026, 11, 24, 13, 30));
        CHECK(parsed_once("lundi prochain 14h30 x") == utc(2026, 11, 30, 13, 30));
        CHECK(parsed_once("dimanche midi x") == utc(2026, 11, 29, 11));
        CHECK(parsed_once("dans 2 heures café") == monday_morning + hours{2});
        CHECK(parsed_once("dans 30 minutes x") == monday_morning + minutes{30});
        CHECK(parsed_once("dans 1h30 x") == monday_morning + minutes{90});
    }

    TEST_CASE("reminder dates in the past of this year go to next year")
    {
        const auto parsed = parse_when("le 31/12 à 10h Bonne année !", monday_morning, paris());
        REQUIRE(parsed);
        CHECK(parsed.value().schedule.once == utc(2026, 12, 31, 9));
        CHECK(parsed.value().rest == "Bonne année !");
        CHECK(parsed_once("le 15/01 9h x") == utc(2027, 1, 15, 8));
        CHECK(parsed_once("le 02/07/2027 9h x") == utc(2027, 7, 2, 7)); // CEST in July
    }

    TEST_CASE("reminder recurring phrases become cron rules")
    {
        const auto rule = [](std::string_view text) {
            const auto parsed = parse_when(text, monday_morning, paris());
            REQUIRE_MESSAGE(parsed, text);
            REQUIRE(parsed.value().schedule.recurring());
            return to_storage(parsed.value().schedule);
        };
        CHECK(rule("chaque lundi 9h x") == "cron:0 9 * * 1");
        CHECK(rule("chaque jour ouvré 8h30 x") == "cron:30 8 * * 1-5|ouvre");
        CHECK(rule("chaque jour 18h x") == "cron:0 18 * * *");
        CHECK(rule("tous les vendredis à 16h x") == "cron:0 16 * * 5");
        CHECK(rule("le 1er de chaque mois 9h x") == "cron:0 9 1 * *");
        CHECK(rule("le 15 de chaque mois 9h x") == "cron:0 9 15 * *");
        CHECK(rule("cron 0 9 * * 1-5 x") == "cron:0 9 * * 1-5");
        CHECK(rule("*/15 8-18 * * 1,3 x") == "cron:*/15 8-18 * * 1,3");

        CHECK(next("chaque lundi 9h x", monday_morning) == utc(2026, 11, 30, 8));
        CHECK(next("chaque jour 18h x", monday_morning) == utc(2026, 11, 23, 17));
        CHECK(next("le 1er de chaque mois 9h x", monday_morning) == utc(2026, 12, 1, 8));
        CHECK(next("cron 0 9 1 1 * x", monday_morning) == utc(2027, 1, 1, 8));
    }

    TEST_CASE("reminder phrases that are unknown or ambiguous get an example")
    {
        CHECK(parse_error("bientôt appeler").find("`demain 9h`") != std::string::npos);
        CHECK(parse_error("demain appeler").find("l'heure") != std::string::npos);
        CHECK(parse_error("demain 25h x").find("l'heure") != std::string::npos);
        CHECK(parse_error("demain 9h").find("Que dois-je") != std::string::npos);
        CHECK(parse_error("lundi 14h30 x").find("lundi prochain 14h30") != std::string::npos);
        CHECK(parse_error("le 31/12x à 10h x").find("Exemples") != std::string::npos);
        CHECK(parse_error("le 31/02 à 10h x").find("n'existe pas") != std::string::npos);
        CHECK(parse_error("le 31 de chaque mois 9h x").find("1 à 28") != std::string::npos);
        CHECK(parse_error("le 01/01/2020 9h x").find("passée") != std::string::npos);
        CHECK(parse_error("aujourd'hui 8h x").find("passée") != std::string::npos);
        CHECK(parse_error("dans deux heures x").find("dans 2 heures") != std::string::npos);
        CHECK(parse_error("chaque mois 9h x").find("Exemples") != std::string::npos);
        CHECK(parse_error("cron 61 * * * * x").find("cron") != std::string::npos);
        CHECK(parse_error("").find("Exemples") != std::string::npos);
    }

    TEST_CASE("reminder phrases refuse a negative hour or day")
    {
        // Found by tests/fuzz/reminder_fuzz.cpp: the weekly phrase threw bad_variant_access.
        CHECK(parse_error("tous les vendredis à -6h x").find("l'heure") != std::string::npos);
        CHECK(parse_error("demain -6h x").find("l'heure") != std::string::npos);
        CHECK(parse_error("chaque jour 9h-3 x").find("l'heure") != std::string::npos);
        CHECK(parse_error("le -1 de chaque mois 9h x").find("1 à 28") != std::string::npos);
        CHECK_FALSE(parse_cron("-5 9 * * *"));
    }

    TEST_CASE("reminder recurrence across the March DST change")
    {
        // 29/03/2026: 02:00 CET jumps to 03:00 CEST. 02:30 does not exist: it fires at 03:00 CEST.
        const auto saturday = utc(2026, 3, 28, 12);
        CHECK(next("cron 30 2 * * * x", saturday) == utc(2026, 3, 29, 1));
        CHECK(next("cron 30 2 * * * x", utc(2026, 3, 29, 1)) == utc(2026, 3, 30, 0, 30));
        CHECK(next("chaque jour 9h x", utc(2026, 3, 28, 6)) == utc(2026, 3, 28, 8));
        CHECK(next("chaque jour 9h x", utc(2026, 3, 28, 8)) == utc(2026, 3, 29, 7));
    }

    TEST_CASE("reminder recurrence across the October DST change fires the repeated hour once")
    {
        // 25/10/2026: 03:00 CEST goes back to 02:00 CET. 02:30 happens twice: only the first
        // counts.
        const auto saturday = utc(2026, 10, 24, 12);
        const auto first = next("cron 30 2 * * * x", saturday);
        CHECK(first == utc(2026, 10, 25, 0, 30));
        CHECK(next("cron 30 2 * * * x", first) == utc(2026, 10, 26, 1, 30));
        CHECK(next("chaque jour 9h x", utc(2026, 10, 24, 8)) == utc(2026, 10, 25, 8));
    }

    TEST_CASE("reminder French public holidays with Easter 2025 and 2026")
    {
        const auto ymd = [](int y, unsigned m, unsigned d) {
            return year_month_day{year{y}, month{m}, day{d}};
        };
        CHECK(easter_sunday(2025) == ymd(2025, 4, 20));
        CHECK(easter_sunday(2026) == ymd(2026, 4, 5));
        for (const auto& holiday :
             {ymd(2025, 4, 21), ymd(2025, 5, 29), ymd(2025, 6, 9), ymd(2026, 4, 6),
              ymd(2026, 5, 14), ymd(2026, 5, 25), ymd(2026, 1, 1), ymd(2026, 5, 1), ymd(2026, 5, 8),
              ymd(2026, 7, 14), ymd(2026, 8, 15), ymd(2026, 11, 1), ymd(2026, 11, 11),
              ymd(2026, 12, 25)})
            CHECK(is_french_public_holiday(holiday));
        for (const auto& other : {ymd(2026, 4, 5), ymd(2026, 4, 7), ymd(2026, 5, 24),
                                  ymd(2026, 12, 26), ymd(2025, 4, 20)})
            CHECK_FALSE(is_french_public_holiday(other));
    }

    TEST_CASE("reminder working days skip weekends and holidays")
    {
        // Wednesday 13/05/2026 10:00: Thursday 14 is Ascension, so Friday 15.
        CHECK(next("chaque jour ouvré 8h30 x", utc(2026, 5, 13, 8)) == utc(2026, 5, 15, 6, 30));
        // Thursday 24/12/2026 10:00: 25 is Christmas, then the weekend, so Monday 28.
        CHECK(next("chaque jour ouvré 8h30 x", utc(2026, 12, 24, 9)) == utc(2026, 12, 28, 7, 30));
        // The option does the same for any rule: Easter Monday 2025 is skipped.
        CHECK(next("chaque lundi 9h x", utc(2025, 4, 15, 12), true) == utc(2025, 4, 28, 7));
        CHECK(next("chaque lundi 9h x", utc(2025, 4, 15, 12), false) == utc(2025, 4, 21, 7));
    }

    TEST_CASE("reminder schedules round-trip through storage")
    {
        for (const auto* text : {"chaque jour ouvré 8h30 x", "le 1er de chaque mois 9h x",
                                 "demain 9h x", "cron */5 * * * 0 x"}) {
            const auto parsed = parse_when(text, monday_morning, paris());
            REQUIRE(parsed);
            const auto stored = to_storage(parsed.value().schedule);
            const auto back = schedule_from_storage(stored);
            REQUIRE(back);
            CHECK(to_storage(back.value()) == stored);
            CHECK(next_occurrence(back.value(), monday_morning, paris(), false) ==
                  next_occurrence(parsed.value().schedule, monday_morning, paris(), false));
        }
        CHECK_FALSE(schedule_from_storage("once:abc"));
        CHECK_FALSE(schedule_from_storage("weekly"));
    }

    TEST_CASE("reminder durations and local formatting")
    {
        CHECK(parse_duration("10 min").value() == minutes{10});
        CHECK(parse_duration("2 heures").value() == hours{2});
        CHECK(parse_duration("1h30").value() == minutes{90});
        CHECK(parse_duration("1 jour").value() == hours{24});
        CHECK(parse_duration("2 semaines").value() == hours{24 * 14});
        CHECK_FALSE(parse_duration("bientôt"));
        CHECK_FALSE(parse_duration("0 min"));
        CHECK(format_local(utc(2026, 11, 24, 8), paris()) == "mardi 24/11/2026 à 9h00");
        CHECK(format_local(utc(2026, 7, 2, 7, 5), paris()) == "jeudi 02/07/2026 à 9h05");
        CHECK_FALSE(find_zone("Mars/Olympus_Mons"));
    }
}
