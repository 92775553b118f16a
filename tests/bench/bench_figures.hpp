#pragma once

// The figures every in-process benchmark prints: latency percentiles and peak memory.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <vector>

#include <sys/resource.h>

namespace opalebot::bench {

/// The value below which a share `p` (0 to 1) of `values` lies.
inline double percentile(std::vector<double> values, double p)
{
    std::sort(values.begin(), values.end());
    const auto k = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
    return values[k];
}

/// The process's peak resident memory so far.
inline long peak_rss_kib()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

/// p50 and p99 of each kind of question, the questions' kinds taking turns (i % kinds).
inline void print_by_kind(const std::vector<double>& latencies_us, std::size_t kinds)
{
    for (std::size_t c = 0; c < kinds; ++c) {
        std::vector<double> part;
        for (std::size_t i = c; i < latencies_us.size(); i += kinds)
            part.push_back(latencies_us[i]);
        std::printf("  kind %zu: p50 %.0f us, p99 %.0f us\n", c, percentile(part, 0.5),
                    percentile(part, 0.99));
    }
}

} // namespace opalebot::bench
