#pragma once

#include "opalebot/result.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

/// The Okabe–Ito palette: told apart with every common colour-vision deficiency (issue 17).
enum class ChartColour {
    black,
    orange,
    sky_blue,
    bluish_green,
    yellow,
    blue,
    vermillion,
    reddish_purple,
    grey, ///< not Okabe–Ito: references (a median), drawn dashed
};

/// How a panel draws its series over the shared categories.
enum class ChartKind {
    bars,         ///< side by side
    stacked_bars, ///< one bar per category, the series as bands from the bottom up
    lines,        ///< one point per category, joined; a missing value breaks the line
};

/// How a panel's values read: "1 234" or "81,96 %".
enum class ChartUnit { count, percent };

struct ChartSeries {
    std::string name; ///< in the legend: "plus de 30 %"
    ChartColour colour = ChartColour::blue;
    std::vector<std::optional<double>> values; ///< one per category; nothing: no value
    bool dashed = false;                       ///< lines: a reference rather than a measure
};

/// One chart of the image: its own y axis, over the image's categories.
struct ChartPanel {
    std::string title;   ///< "Kit de bascule : EPLE par tranche"
    std::string y_label; ///< "EPLE", "% des EPLE"
    ChartKind kind = ChartKind::bars;
    ChartUnit unit = ChartUnit::count;
    std::optional<double> y_max; ///< 100 for shares; otherwise from the data
    std::vector<ChartSeries> series;
};

/// A picture for the comité: panels in rows over the same categories (dates).
struct Chart {
    std::string title;                       ///< "Vague 6"
    std::chrono::year_month_day data_date{}; ///< shown in the title: "(données du 19/01/2024)"
    std::vector<std::string> categories;     ///< x axis, oldest first: "12/01/2024"
    std::string x_label;                     ///< "Date du relevé"
    std::vector<ChartPanel> panels;
    int columns = 1;  ///< panels side by side in a row, left to right, then the next row
    std::string note; ///< one line at the bottom: the source, a rule
};

/// Pixels of the picture; the height follows from the panels.
struct ChartSize {
    int width = 1200;          ///< at least 1,000: read on a phone at full width
    int panel_height = 460;    ///< one panel with its title and legend
    int thumbnail_width = 400; ///< for the timeline
};

/// The PNG and its thumbnail, with their sizes.
struct RenderedChart {
    std::string png;
    int width = 0;
    int height = 0;
    std::string thumbnail_png;
    int thumbnail_width = 0;
    int thumbnail_height = 0;
};

/// `chart` drawn with cairo and pango (DejaVu Sans), French figures; an error when cairo fails
/// (out of memory) or the chart has no category.
Result<RenderedChart> render_chart(const Chart& chart, const ChartSize& size = {});

/// The chart's figures as plain text, panel by panel: the image's alt text.
std::string describe_chart(const Chart& chart);

/// A value as the panel's axis reads it: "1 234", "81,96 %" (truncated, as the comité does).
std::string format_chart_value(double value, ChartUnit unit);

} // namespace opalebot::commands
