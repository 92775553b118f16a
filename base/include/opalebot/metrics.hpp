#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opalebot::metrics {

/// A count that only goes up; one relaxed atomic add, from any thread.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (a queue length, a timestamp); lock-free, from any thread.
class Gauge {
public:
    void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

/// Counts observations in fixed buckets (upper bounds, ascending); lock-free, from any thread.
class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);

    void observe(double value) noexcept;

    /// Cumulative counts, one per bound then one for +Inf (which is the count).
    struct Snapshot {
        std::vector<double> upper_bounds;
        std::vector<std::uint64_t> cumulative;
        double sum = 0;
    };
    Snapshot snapshot() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_; ///< bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0};
};

/// Counters told apart by one label; values are created on first use and kept (the caller
/// guarantees there are few: a fixed list, never free text).
class CounterFamily {
public:
    explicit CounterFamily(std::string label) : label_(std::move(label)) {}

    /// The counter for `value`; the reference stays valid for the family's life.
    Counter& with(std::string_view value);
    const std::string& label() const { return label_; }
    /// Every value and its count, sorted by value.
    std::vector<std::pair<std::string, std::uint64_t>> values() const;

private:
    std::string label_;
    mutable std::mutex mutex_; ///< only for adding a value; counting is lock-free
    std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
};

/// The metrics of a process, rendered in the Prometheus text format 0.0.4. Metrics are added
/// once (names must be unique) and live as long as the registry.
class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    Counter& counter(std::string name, std::string help);
    CounterFamily& counter_family(std::string name, std::string help, std::string label);
    Gauge& gauge(std::string name, std::string help);
    Histogram& histogram(std::string name, std::string help, std::vector<double> upper_bounds);

    /// "# HELP", "# TYPE" and the samples of every metric, in the order they were added.
    std::string render() const;

private:
    struct Metric; ///< a name, its help and its value
    template <class T, class... Args>
    T& add(std::string name, std::string help, Args&&... args);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Metric>> metrics_;
};

/// A label value or HELP text escaped as the text format wants: `\` `"` and line feeds.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

/// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN".
std::string format_value(double value);

} // namespace opalebot::metrics
