#include "commands/chart.hpp"

#include "commands/french_format.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "support/checks.hpp"
#include "support/png.hpp"

using namespace opalebot::commands;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

/// Stacked bands over two days, then lines of shares with a missing value.
Chart two_panels()
{
    Chart chart;
    chart.title = "Essai";
    chart.data_date = 2026y / 12 / 6;
    chart.categories = {"29/11/2026", "06/12/2026"};

    ChartPanel bands;
    bands.title = "Bandes";
    bands.y_label = "EPLE";
    bands.kind = ChartKind::stacked_bars;
    for (const auto& [name, colour, first, second] :
         {std::tuple{"haute", ChartColour::bluish_green, 10.0, 15.0},
          std::tuple{"moyenne", ChartColour::orange, 28.0, 30.0},
          std::tuple{"basse", ChartColour::vermillion, 23.0, 16.0}})
        bands.series.push_back({name, colour, {first, second}, false});

    ChartPanel shares;
    shares.title = "Parts";
    shares.y_label = "%";
    shares.kind = ChartKind::lines;
    shares.unit = ChartUnit::percent;
    shares.y_max = 100;
    shares.series.push_back({"mesure", ChartColour::blue, {75.4, 50.0 * 100 / 61}, false});
    shares.series.push_back({"référence", ChartColour::grey, {std::nullopt, 40}, true});
    chart.panels = {bands, shares};
    chart.note = "Une note.";
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

    TEST_CASE("chart PNG and thumbnail are 8-bit RGB without alpha")
    {
        // the IHDR chunk comes first, right after the 8-byte signature (PNG spec 11.2.2)
        const auto header = [](const std::string& png) {
            REQUIRE(png.size() > 33);
            CHECK(png.compare(0, 8, "\x89PNG\r\n\x1A\n") == 0);
            CHECK(png.compare(12, 4, "IHDR") == 0);
            const auto u32 = [&](std::size_t at) {
                std::uint32_t value = 0;
                for (std::size_t i = 0; i < 4; ++i)
                    value = value << 8 | static_cast<unsigned char>(png[at + i]);
                return static_cast<int>(value);
            };
            return std::tuple{u32(16), u32(20), static_cast<int>(png[24]),
                              static_cast<int>(png[25])};
        };
        const auto rendered = opalebot::testing::value(render_chart(two_panels()));
        constexpr int rgb_colour_type = 2; // no palette, no alpha
        CHECK(header(rendered.png) ==
              std::tuple{rendered.width, rendered.height, 8, rgb_colour_type});
        CHECK(header(rendered.thumbnail_png) ==
              std::tuple{rendered.thumbnail_width, rendered.thumbnail_height, 8, rgb_colour_type});
    }

    TEST_CASE("chart in two columns puts its panels side by side")
    {
        const auto stacked = opalebot::testing::value(render_chart(two_panels()));
        auto chart = two_panels();
        chart.columns = 2;
        const auto side_by_side = opalebot::testing::value(render_chart(chart));
        CHECK(side_by_side.width == stacked.width);
        CHECK(side_by_side.height < stacked.height * 0.7); // one row of panels instead of two
        const auto image = opalebot::testing::decode_png(side_by_side.png);
        const auto colours = opalebot::testing::distinct_colours(image);
        CHECK(colours.count(0x009E73) == 1); // the bands, left
        CHECK(colours.count(0x0072B2) == 1); // the measured line, right
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
        CHECK(contains(text, "Essai (données du 06/12/2026)\n"));
        CHECK(contains(text, "Bandes (EPLE) :\n"));
        CHECK(contains(text, "- 06/12/2026 : haute : 15 ; moyenne : 30 ; basse : 16\n"));
        CHECK(contains(text, "- 29/11/2026 : mesure : 75,4 %\n")); // no reference yet
        CHECK(contains(text, "- 06/12/2026 : mesure : 81,96 % ; référence : 40 %\n"));
        CHECK(contains(text, "Une note."));
    }
}
