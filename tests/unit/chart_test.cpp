#include "commands/chart.hpp"

#include "commands/french_format.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "support/checks.hpp"
#include "support/png.hpp"
#include <cairo.h>

using namespace opalebot::commands;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

Chart two_panels()
{
    Chart chart;
    chart.title = "Vague 6 : kit de bascule";
    chart.data_date = 2024y / 1 / 19;
    chart.categories = {"12/01/2024", "19/01/2024"};
    chart.x_label = "Date du relevé";
    ChartPanel bands{"Kit de bascule : EPLE par tranche",
                     "EPLE",
                     ChartKind::stacked_bars,
                     ChartUnit::count,
                     std::nullopt,
                     {}};
    bands.series = {{"plus de 30 %", ChartColour::bluish_green, {10, 15}, false},
                    {"de 10 à 30 %", ChartColour::orange, {28, 30}, false},
                    {"moins de 10 %", ChartColour::vermillion, {23, 16}, false}};
    ChartPanel shares{"Budgets intégrés", "% des EPLE", ChartKind::lines,
                      ChartUnit::percent, 100,          {}};
    shares.series = {{"budgets intégrés", ChartColour::blue, {75.4, 50.0 * 100 / 61}, false},
                     {"médiane", ChartColour::grey, {std::nullopt, 40}, true}};
    chart.panels = {bands, shares};
    chart.note = "Source : indicateurs importés dans opale-bot.";
    return chart;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("french counts put a narrow no-break space between thousands")
    {
        CHECK(format_count(0) == "0");
        CHECK(format_count(999) == "999");
        CHECK(format_count(1000) == "1\u202F000");
        CHECK(format_count(1234567) == "1\u202F234\u202F567");
        CHECK(format_count(-12345) == "-12\u202F345");
        CHECK(format_chart_value(12345, ChartUnit::count) == "12\u202F345");
        CHECK(format_chart_value(2.5, ChartUnit::count) == "2,5");
        CHECK(format_chart_value(50.0 * 100 / 61, ChartUnit::percent) == "81,96 %");
        CHECK(format_chart_value(20, ChartUnit::percent) == "20 %");
        CHECK(format_date(2026y / 12 / 6) == "06/12/2026");
    }

    TEST_CASE("chart renders a wide PNG with several colours and a thumbnail")
    {
        const auto rendered = opalebot::testing::value(render_chart(two_panels()));
        CHECK(rendered.width >= 1000);
        CHECK(rendered.height > 600);
        const auto image = opalebot::testing::decode_png(rendered.png);
        REQUIRE(image.width == rendered.width);
        REQUIRE(image.height == rendered.height);
        const auto colours = opalebot::testing::distinct_colours(image);
        CHECK(colours.count(0xFFFFFF) == 1); // background
        CHECK(colours.count(0x009E73) == 1); // Okabe–Ito bluish green: the upper band
        CHECK(colours.count(0xE69F00) == 1); // orange
        CHECK(colours.count(0xD55E00) == 1); // vermillion
        CHECK(colours.size() > 20);          // anti-aliased text and lines

        const auto thumbnail = opalebot::testing::decode_png(rendered.thumbnail_png);
        CHECK(thumbnail.width == 400);
        CHECK(rendered.thumbnail_width == 400);
        CHECK(thumbnail.height == rendered.thumbnail_height);
        CHECK(thumbnail.height ==
              doctest::Approx(rendered.height * 400.0 / rendered.width).epsilon(0.01));
        CHECK(rendered.thumbnail_png.size() < rendered.png.size());
    }

    TEST_CASE("chart without a category is an error not a picture")
    {
        auto chart = two_panels();
        chart.categories.clear();
        CHECK_FALSE(render_chart(chart));
    }

    TEST_CASE("chart description gives the figures of every panel")
    {
        const auto text = describe_chart(two_panels());
        CHECK(contains(text, "Vague 6 : kit de bascule (données du 19/01/2024)\n"));
        CHECK(contains(text, "Kit de bascule : EPLE par tranche (EPLE) :\n"));
        CHECK(contains(text, "- 19/01/2024 : plus de 30 % : 15 ; de 10 à 30 % : 30 ; "
                             "moins de 10 % : 16\n"));
        CHECK(contains(text, "- 12/01/2024 : budgets intégrés : 75,4 %\n")); // no median yet
        CHECK(contains(text, "- 19/01/2024 : budgets intégrés : 81,96 % ; médiane : 40 %\n"));
        CHECK(contains(text, "Source : indicateurs importés dans opale-bot."));
    }
}
