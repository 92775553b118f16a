// Chart benchmark (issue 17): one wave chart of 12 weekly snapshots of 3,000 EPLE, drawn with
// cairo and pango as `!vague N graphique` draws it. Target: at most 50 ms a chart (median).
// Also the resident memory that cairo, pango and fontconfig add: before the first chart, after
// it, and after all. Prints figures; asserts nothing.
//
//   chart_bench [CHARTS]   CHARTS drawn (30 by default)
#include "commands/chart_data.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <time.h>

using namespace opalebot::commands;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double target_ms = 50;

/// This thread's CPU time in ms: on a shared machine, wall time also counts the neighbours.
double cpu_ms()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

/// A line of /proc/self/status in MB ("VmRSS", "VmHWM"; both in kB).
double status_mb(std::string_view key)
{
    std::ifstream status{"/proc/self/status"};
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with(key) && line[key.size()] == ':')
            return std::stod(line.substr(key.size() + 1)) / 1024;
    return -1;
}

/// 3,000 EPLE, one snapshot a week for 12 weeks, their kit rate growing.
std::vector<Snapshot> history()
{
    std::mt19937 rng{17};
    std::vector<Snapshot> snapshots;
    const std::chrono::sys_days first{std::chrono::year{2024} / 1 / 5};
    for (int week = 0; week < 12; ++week)
        for (int eple = 0; eple < 3'000; ++eple) {
            Snapshot s;
            s.uai = std::to_string(590'000 + eple);
            s.date = std::chrono::year_month_day{first + std::chrono::days{7 * week}};
            s.kit_taux = std::min(100.0, week * 4.0 + static_cast<double>(rng() % 400) / 10);
            s.budget_integre = rng() % 12 < static_cast<unsigned>(week);
            s.paiements = static_cast<int>(rng() % (1 + week * 3));
            snapshots.push_back(std::move(s));
        }
    return snapshots;
}

} // namespace

int main(int argc, char** argv)
{
    const int charts = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
    const auto chart = wave_chart(wave_chart_data(6, 3'000, history()));
    const double rss_before = status_mb("VmRSS");
    const double hwm_before = status_mb("VmHWM");

    std::vector<double> ms;
    std::vector<double> cpu;
    RenderedChart last;
    for (int i = 0; i < charts; ++i) {
        const auto start = Clock::now();
        const double cpu_start = cpu_ms();
        auto rendered = render_chart(chart);
        cpu.push_back(cpu_ms() - cpu_start);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!rendered) {
            std::fprintf(stderr, "render failed: %s\n", rendered.error().message.c_str());
            return EXIT_FAILURE;
        }
        last = std::move(rendered).value();
        if (i == 0)
            std::printf("first chart: %.1f ms (fonts loaded), RSS %.1f → %.1f MB (+%.1f)\n",
                        ms.front(), rss_before, status_mb("VmRSS"),
                        status_mb("VmRSS") - rss_before);
    }
    const double first_ms = ms.front();
    const double median_cpu_ms = median(cpu);
    std::sort(ms.begin(), ms.end());
    const double median_ms = ms[ms.size() / 2];
    std::printf("chart %d×%d px, PNG %.1f KB, thumbnail %d×%d px %.1f KB\n", last.width,
                last.height, static_cast<double>(last.png.size()) / 1024, last.thumbnail_width,
                last.thumbnail_height, static_cast<double>(last.thumbnail_png.size()) / 1024);
    std::printf("%d charts: median %.1f ms (CPU %.1f ms), min %.1f ms, max %.1f ms, first %.1f ms"
                "  %s\n",
                charts, median_ms, median_cpu_ms, ms.front(), ms.back(), first_ms,
                median_cpu_ms <= target_ms ? "≤ 50 ms" : "OVER 50 ms");
    std::printf("RSS before the first chart %.1f MB, after %d charts %.1f MB (+%.1f MB); "
                "peak %.1f → %.1f MB (+%.1f MB)\n",
                rss_before, charts, status_mb("VmRSS"), status_mb("VmRSS") - rss_before, hwm_before,
                status_mb("VmHWM"), status_mb("VmHWM") - hwm_before);
    return EXIT_SUCCESS;
}
