#include "commands/chart.hpp"

#include "commands/french_format.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string_view>

#include "png_encoder.hpp"
#include <cairo.h>
#include <pango/pangocairo.h>

namespace opalebot::commands {
namespace {

struct SurfaceDeleter {
    void operator()(cairo_surface_t* surface) const noexcept { cairo_surface_destroy(surface); }
};
struct ContextDeleter {
    void operator()(cairo_t* context) const noexcept { cairo_destroy(context); }
};
struct LayoutDeleter {
    void operator()(PangoLayout* layout) const noexcept { g_object_unref(layout); }
};
struct FontDeleter {
    void operator()(PangoFontDescription* font) const noexcept
    {
        pango_font_description_free(font);
    }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;
using Layout = std::unique_ptr<PangoLayout, LayoutDeleter>;
using Font = std::unique_ptr<PangoFontDescription, FontDeleter>;

struct Rgb {
    double r = 0;
    double g = 0;
    double b = 0;
};

constexpr Rgb hex(unsigned value)
{
    return {((value >> 16) & 0xFF) / 255.0, ((value >> 8) & 0xFF) / 255.0, (value & 0xFF) / 255.0};
}

constexpr Rgb ink = hex(0x222222);
constexpr Rgb muted = hex(0x555555);
constexpr Rgb grid = hex(0xDDDDDD);
constexpr Rgb white = hex(0xFFFFFF);

Rgb rgb(ChartColour colour)
{
    // Okabe & Ito, "Color Universal Design" (2008), the eight colours in their order.
    static constexpr std::array<Rgb, 9> palette{hex(0x000000), hex(0xE69F00), hex(0x56B4E9),
                                                hex(0x009E73), hex(0xF0E442), hex(0x0072B2),
                                                hex(0xD55E00), hex(0xCC79A7), hex(0x6E6E6E)};
    return palette[static_cast<std::size_t>(colour)];
}

/// Black or white, whichever reads on `background`.
Rgb text_on(Rgb background)
{
    const double luminance = 0.2126 * background.r + 0.7152 * background.g + 0.0722 * background.b;
    return luminance > 0.45 ? ink : white;
}

enum class Align { left, centre, right };

/// Type sizes in pixels, for a 1,200 px picture read on a phone at full width.
struct Type {
    double title = 42;
    double heading = 32;
    double label = 25;
    double value = 24;
    double note = 21;
};

/// Text with pango on one cairo context, DejaVu Sans.
class Writer {
public:
    explicit Writer(cairo_t* cairo)
        : cairo_(cairo),
          layout_(pango_cairo_create_layout(cairo)),
          font_(pango_font_description_from_string("DejaVu Sans"))
    {}

    /// The size `text` takes; wrapped at `wrap_width` when positive.
    std::pair<double, double> measure(std::string_view text, double px, bool bold,
                                      double wrap_width = -1)
    {
        set(text, px, bold, wrap_width);
        int width = 0;
        int height = 0;
        pango_layout_get_pixel_size(layout_.get(), &width, &height);
        return {width, height};
    }

    /// Draws `text` with its top at `y`, its left, middle or right at `x`; returns its height.
    double draw(std::string_view text, double x, double y, double px, bool bold, Rgb colour,
                Align align = Align::left, double wrap_width = -1)
    {
        const auto [width, height] = measure(text, px, bold, wrap_width);
        if (align == Align::centre)
            x -= width / 2;
        else if (align == Align::right)
            x -= width;
        cairo_set_source_rgb(cairo_, colour.r, colour.g, colour.b);
        cairo_move_to(cairo_, x, y);
        pango_cairo_show_layout(cairo_, layout_.get());
        return height;
    }

private:
    void set(std::string_view text, double px, bool bold, double wrap_width)
    {
        pango_font_description_set_absolute_size(font_.get(), px * PANGO_SCALE);
        pango_font_description_set_weight(font_.get(),
                                          bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
        pango_layout_set_font_description(layout_.get(), font_.get());
        pango_layout_set_width(layout_.get(),
                               wrap_width > 0 ? static_cast<int>(wrap_width * PANGO_SCALE) : -1);
        pango_layout_set_wrap(layout_.get(), PANGO_WRAP_WORD);
        pango_layout_set_text(layout_.get(), text.data(), static_cast<int>(text.size()));
    }

    cairo_t* cairo_;
    Layout layout_;
    Font font_;
};

/// A y axis from 0 to `top` in `step`s of 1, 2, 2.5 or 5 × 10^k, about five of them.
struct Axis {
    double top = 1;
    double step = 1;
};

Axis axis_for(const ChartPanel& panel, double highest)
{
    if (panel.y_max)
        highest = std::max(highest, *panel.y_max);
    if (highest <= 0)
        return {panel.unit == ChartUnit::percent ? 100.0 : 1.0,
                panel.unit == ChartUnit::percent ? 20.0 : 1.0};
    const double rough = highest / 5;
    const double power = std::pow(10.0, std::floor(std::log10(rough)));
    double step = power * 10;
    for (const double m : {1.0, 2.0, 2.5, 5.0})
        if (m * power >= rough) {
            step = m * power;
            break;
        }
    if (panel.unit == ChartUnit::count)
        step = std::max(step, 1.0); // no half EPLE
    const double top = panel.y_max ? *panel.y_max : std::ceil(highest / step - 1e-9) * step;
    return {top, step};
}

double highest_value(const ChartPanel& panel, std::size_t categories)
{
    double highest = 0;
    for (std::size_t i = 0; i < categories; ++i) {
        double stacked = 0;
        for (const auto& s : panel.series)
            if (i < s.values.size() && s.values[i]) {
                stacked += *s.values[i];
                highest = std::max(highest, *s.values[i]);
            }
        if (panel.kind == ChartKind::stacked_bars)
            highest = std::max(highest, stacked);
    }
    return highest;
}

std::optional<double> value_at(const ChartSeries& series, std::size_t i)
{
    return i < series.values.size() ? series.values[i] : std::nullopt;
}

void set_colour(cairo_t* cairo, Rgb colour)
{
    cairo_set_source_rgb(cairo, colour.r, colour.g, colour.b);
}

void rectangle(cairo_t* cairo, double x, double y, double width, double height, Rgb colour)
{
    set_colour(cairo, colour);
    cairo_rectangle(cairo, x, y, width, height);
    cairo_fill(cairo);
}

void line_style(cairo_t* cairo, const ChartSeries& series, double width)
{
    set_colour(cairo, rgb(series.colour));
    cairo_set_line_width(cairo, width);
    cairo_set_line_cap(cairo, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cairo, CAIRO_LINE_JOIN_ROUND);
    if (series.dashed) {
        const std::array<double, 2> dashes{16, 10};
        cairo_set_dash(cairo, dashes.data(), static_cast<int>(dashes.size()), 0);
    } else {
        cairo_set_dash(cairo, nullptr, 0, 0);
    }
}

/// The series' names with their swatches, wrapped; returns the height used.
double draw_legend(cairo_t* cairo, Writer& writer, const ChartPanel& panel, double left,
                   double right, double y, const Type& type)
{
    const double swatch = type.label * 1.4;
    const double line_height = writer.measure("Ag", type.label, false).second + 10;
    double x = left;
    double height = line_height;
    for (const auto& series : panel.series) {
        const double width = swatch + 10 + writer.measure(series.name, type.label, false).first;
        if (x > left && x + width > right) {
            x = left;
            y += line_height;
            height += line_height;
        }
        const double middle = y + line_height / 2 - 5;
        if (panel.kind == ChartKind::lines) {
            line_style(cairo, series, 5);
            cairo_move_to(cairo, x, middle);
            cairo_line_to(cairo, x + swatch, middle);
            cairo_stroke(cairo);
        } else {
            rectangle(cairo, x, middle - type.label / 2, swatch, type.label, rgb(series.colour));
        }
        writer.draw(series.name, x + swatch + 10, y, type.label, false, ink);
        x += width + 36;
    }
    return height;
}

/// The latest value of a line series, written in the gutter right of the plot.
struct EndLabel {
    double y = 0;
    std::string text;
    Rgb colour;
};

/// The latest value of `series`, if it has one, with its category.
std::optional<std::pair<std::size_t, double>> latest(const ChartSeries& series, std::size_t n)
{
    for (std::size_t i = std::min(n, series.values.size()); i-- > 0;)
        if (series.values[i])
            return std::pair{i, *series.values[i]};
    return std::nullopt;
}

/// Where a panel draws: a column of the picture, the same plot for every panel so that a
/// category sits at the same x in all of them.
struct Frame {
    double column_left = 0;
    double column_right = 0;
    double plot_left = 0;
    double plot_right = 0;
};

constexpr double margin = 40;

/// The frame of the first column; the others are the same, shifted.
Frame frame_for(const Chart& chart, double column_width, Writer& writer, const Type& type)
{
    double ticks = 0;
    double gutter = 0;
    for (const auto& panel : chart.panels) {
        const Axis axis = axis_for(panel, highest_value(panel, chart.categories.size()));
        for (double tick = 0; tick <= axis.top + 1e-9; tick += axis.step)
            ticks = std::max(
                ticks,
                writer.measure(format_chart_value(tick, panel.unit), type.label, false).first);
        if (panel.kind == ChartKind::lines)
            for (const auto& series : panel.series)
                if (const auto end = latest(series, chart.categories.size()))
                    gutter =
                        std::max(gutter, writer.measure(format_chart_value(end->second, panel.unit),
                                                        type.value, true)
                                                 .first +
                                             14);
    }
    return {0, column_width, margin + ticks + 14, column_width - margin - std::max(gutter, 10.0)};
}

/// One panel from `top`; returns its height.
double draw_panel(cairo_t* cairo, Writer& writer, const Chart& chart, const ChartPanel& panel,
                  const ChartSize& size, const Frame& frame, double top, const Type& type)
{
    const double left = frame.column_left + margin;
    const double right = frame.column_right - margin;
    double y = top;
    y += writer.draw(panel.title, left, y, type.heading, true, ink, Align::left, right - left) + 8;
    y += draw_legend(cairo, writer, panel, left, right, y, type) + 4;

    const std::size_t n = chart.categories.size();
    const Axis axis = axis_for(panel, highest_value(panel, n));
    const double plot_left = frame.plot_left;
    const double plot_right = frame.plot_right;
    const double line_height = writer.measure("Ag", type.label, false).second;
    y += writer.draw(panel.y_label, left, y, type.label, false, muted) + 10;
    const double plot_top = y + line_height / 2;
    const double plot_height =
        std::max(160.0, size.panel_height - (plot_top - top) - line_height - 24);
    const double plot_bottom = plot_top + plot_height;
    const auto y_of = [&](double value) { return plot_bottom - value / axis.top * plot_height; };

    // grid and y ticks
    cairo_set_dash(cairo, nullptr, 0, 0);
    for (double tick = 0; tick <= axis.top + 1e-9; tick += axis.step) {
        const double ty = std::round(y_of(tick)) + 0.5;
        set_colour(cairo, tick == 0 ? muted : grid);
        cairo_set_line_width(cairo, tick == 0 ? 2 : 1);
        cairo_move_to(cairo, plot_left, ty);
        cairo_line_to(cairo, plot_right, ty);
        cairo_stroke(cairo);
        writer.draw(format_chart_value(tick, panel.unit), plot_left - 14, ty - line_height / 2,
                    type.label, false, muted, Align::right);
    }

    // x labels, thinned so that they never overlap; the most recent always shown
    const double slot = (plot_right - plot_left) / static_cast<double>(n);
    double widest = 0;
    for (const auto& c : chart.categories)
        widest = std::max(widest, writer.measure(c, type.label, false).first);
    const auto every = static_cast<std::size_t>(std::ceil((widest + 16) / slot));
    for (std::size_t i = 0; i < n; ++i)
        if ((n - 1 - i) % std::max<std::size_t>(every, 1) == 0)
            writer.draw(chart.categories[i],
                        std::clamp(plot_left + slot * (static_cast<double>(i) + 0.5),
                                   frame.column_left + widest / 2 + 8,
                                   frame.column_right - widest / 2 - 8),
                        plot_bottom + 8, type.label, false, ink, Align::centre);

    const double value_height = writer.measure("9", type.value, true).second;
    const bool room_for_values = panel.kind != ChartKind::bars || n * panel.series.size() <= 16;
    if (panel.kind == ChartKind::stacked_bars) {
        const double bar = std::min(slot * 0.62, 180.0);
        for (std::size_t i = 0; i < n; ++i) {
            const double x = plot_left + slot * (static_cast<double>(i) + 0.5) - bar / 2;
            double base = 0;
            for (const auto& series : panel.series) {
                const auto value = value_at(series, i);
                if (!value || *value <= 0)
                    continue;
                const double y0 = y_of(base + *value);
                const double height = y_of(base) - y0;
                rectangle(cairo, x, y0, bar, height, rgb(series.colour));
                const auto text = format_chart_value(*value, panel.unit);
                if (height >= value_height + 4 &&
                    writer.measure(text, type.value, true).first <= bar - 6)
                    writer.draw(text, x + bar / 2, y0 + (height - value_height) / 2, type.value,
                                true, text_on(rgb(series.colour)), Align::centre);
                base += *value;
            }
        }
    } else if (panel.kind == ChartKind::bars) {
        const double group = std::min(slot * 0.74, 90.0 * static_cast<double>(panel.series.size()));
        const double bar =
            group / static_cast<double>(std::max<std::size_t>(panel.series.size(), 1));
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < panel.series.size(); ++k) {
                const auto value = value_at(panel.series[k], i);
                if (!value)
                    continue;
                const double x = plot_left + slot * (static_cast<double>(i) + 0.5) - group / 2 +
                                 bar * static_cast<double>(k);
                rectangle(cairo, x + 1, y_of(*value), bar - 2, y_of(0) - y_of(*value),
                          rgb(panel.series[k].colour));
                const auto text = format_chart_value(*value, panel.unit);
                if (room_for_values && writer.measure(text, type.value, true).first <= slot)
                    writer.draw(text, x + bar / 2, y_of(*value) - value_height - 2, type.value,
                                true, ink, Align::centre);
            }
    } else {
        std::vector<EndLabel> end_labels;
        for (const auto& series : panel.series) {
            line_style(cairo, series, 5);
            bool drawing = false;
            for (std::size_t i = 0; i < n; ++i) {
                const auto value = value_at(series, i);
                const double x = plot_left + slot * (static_cast<double>(i) + 0.5);
                if (!value) {
                    drawing = false;
                    continue;
                }
                if (drawing)
                    cairo_line_to(cairo, x, y_of(*value));
                else
                    cairo_move_to(cairo, x, y_of(*value));
                drawing = true;
            }
            cairo_stroke(cairo);
            for (std::size_t i = 0; i < n; ++i)
                if (const auto value = value_at(series, i)) {
                    cairo_arc(cairo, plot_left + slot * (static_cast<double>(i) + 0.5),
                              y_of(*value), series.dashed ? 6 : 8, 0, 2 * M_PI);
                    cairo_fill(cairo);
                }
            if (const auto end = latest(series, n))
                end_labels.push_back({y_of(end->second) - value_height / 2,
                                      format_chart_value(end->second, panel.unit),
                                      rgb(series.colour)});
        }
        // top to bottom, pushed apart so that close values stay readable
        std::sort(end_labels.begin(), end_labels.end(),
                  [](const EndLabel& a, const EndLabel& b) { return a.y < b.y; });
        for (std::size_t i = 1; i < end_labels.size(); ++i)
            end_labels[i].y = std::max(end_labels[i].y, end_labels[i - 1].y + value_height);
        for (const auto& label : end_labels)
            writer.draw(label.text, plot_right + 14, label.y, type.value, true, label.colour);
    }
    return plot_bottom + 8 + line_height + 30 - top;
}

/// Draws the whole chart on `cairo`; returns the height used.
double draw_chart(cairo_t* cairo, const Chart& chart, const ChartSize& size)
{
    const Type type;
    Writer writer{cairo};
    double y = 32;
    y += writer.draw(chart.title + " (données du " + format_date(chart.data_date) + ")", margin, y,
                     type.title, true, ink, Align::left, size.width - 2 * margin) +
         28;
    const auto columns = static_cast<std::size_t>(std::max(1, chart.columns));
    const double column_width = size.width / static_cast<double>(columns);
    const Frame first = frame_for(chart, column_width, writer, type);
    const auto column = [&](std::size_t c) {
        const double shift = column_width * static_cast<double>(c);
        return Frame{first.column_left + shift, first.column_right + shift, first.plot_left + shift,
                     first.plot_right + shift};
    };
    for (std::size_t row = 0; row < chart.panels.size(); row += columns) {
        double height = 0; // the taller of the row's panels
        for (std::size_t c = 0; c < columns && row + c < chart.panels.size(); ++c)
            height = std::max(height, draw_panel(cairo, writer, chart, chart.panels[row + c], size,
                                                 column(c), y, type));
        y += height;
    }
    if (!chart.x_label.empty()) {
        double height = 0;
        for (std::size_t c = 0; c < std::min(columns, chart.panels.size()); ++c) {
            const Frame frame = column(c);
            height = writer.draw(chart.x_label, (frame.plot_left + frame.plot_right) / 2, y - 16,
                                 type.label, false, muted, Align::centre);
        }
        y += height;
    }
    if (!chart.note.empty())
        y += writer.draw(chart.note, margin, y + 4, type.note, false, muted, Align::left,
                         size.width - 2 * margin) +
             4;
    return y + 24;
}

Error cairo_error(std::string_view what, cairo_status_t status)
{
    return Error{Error::Kind::invalid,
                 static_cast<int>(status),
                 {},
                 std::string{what} + ": " + cairo_status_to_string(status),
                 {},
                 false};
}

/// `source` scaled by `scale` on a white `target`; the error, if cairo failed.
std::optional<Error> paint(cairo_surface_t* target, cairo_surface_t* source, double scale,
                           std::string_view what)
{
    const Context cairo{cairo_create(target)};
    set_colour(cairo.get(), white);
    cairo_paint(cairo.get());
    cairo_scale(cairo.get(), scale, scale);
    cairo_set_source_surface(cairo.get(), source, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cairo.get()), CAIRO_FILTER_GOOD);
    cairo_paint(cairo.get());
    if (const auto status = cairo_status(cairo.get()); status != CAIRO_STATUS_SUCCESS)
        return cairo_error(what, status);
    return std::nullopt;
}

/// The surface's pixels as an RGB PNG: libpng at a fast setting, not cairo's (issue 17).
Result<std::string> png_of(cairo_surface_t* surface)
{
    cairo_surface_flush(surface);
    return encode_rgb_png(
        {cairo_image_surface_get_data(surface), cairo_image_surface_get_width(surface),
         cairo_image_surface_get_height(surface), cairo_image_surface_get_stride(surface)});
}

} // namespace

std::string format_chart_value(double value, ChartUnit unit)
{
    if (unit == ChartUnit::percent)
        return format_rate(value);
    if (std::abs(value - std::round(value)) < 1e-9)
        return format_count(std::llround(value));
    return format_hundredths(truncated_hundredths(value));
}

Result<RenderedChart> render_chart(const Chart& chart, const ChartSize& size)
{
    if (chart.categories.empty())
        return Error{Error::Kind::invalid, 0, {}, "graphique sans catégorie", {}, false};
    // drawn once on a recording surface, which tells the height the picture needs
    const Surface recording{cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, nullptr)};
    double height = 0;
    {
        const Context cairo{cairo_create(recording.get())};
        height = draw_chart(cairo.get(), chart, size);
        if (const auto status = cairo_status(cairo.get()); status != CAIRO_STATUS_SUCCESS)
            return cairo_error("dessin du graphique", status);
    }
    RenderedChart out;
    out.width = size.width;
    out.height = static_cast<int>(std::ceil(height));
    const Surface image{cairo_image_surface_create(CAIRO_FORMAT_RGB24, out.width, out.height)};
    if (const auto failed = paint(image.get(), recording.get(), 1.0, "image du graphique"))
        return *failed;
    auto png = png_of(image.get());
    if (!png)
        return png.error();
    out.png = std::move(png).value();

    out.thumbnail_width = std::min(size.thumbnail_width, out.width);
    const double scale = static_cast<double>(out.thumbnail_width) / out.width;
    out.thumbnail_height = std::max(1, static_cast<int>(std::lround(out.height * scale)));
    const Surface thumbnail{
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, out.thumbnail_width, out.thumbnail_height)};
    // replayed from the drawing rather than scaled down from the pixels: text hinted at its size,
    // and pixman's down-scaling filter cost more than the whole drawing
    if (const auto failed = paint(thumbnail.get(), recording.get(), scale, "vignette du graphique"))
        return *failed;
    auto thumbnail_png = png_of(thumbnail.get());
    if (!thumbnail_png)
        return thumbnail_png.error();
    out.thumbnail_png = std::move(thumbnail_png).value();
    return out;
}

std::string describe_chart(const Chart& chart)
{
    std::string text = chart.title + " (données du " + format_date(chart.data_date) + ")\n";
    for (const auto& panel : chart.panels) {
        text +=
            "\n" + panel.title + (panel.y_label.empty() ? "" : " (" + panel.y_label + ")") + " :\n";
        for (std::size_t i = 0; i < chart.categories.size(); ++i) {
            std::string figures;
            for (const auto& series : panel.series)
                if (const auto value = value_at(series, i))
                    figures += (figures.empty() ? "" : " ; ") + series.name + " : " +
                               format_chart_value(*value, panel.unit);
            if (!figures.empty())
                text += "- " + chart.categories[i] + " : " + figures + "\n";
        }
    }
    if (!chart.note.empty())
        text += "\n" + chart.note + "\n";
    return text;
}

} // namespace opalebot::commands
