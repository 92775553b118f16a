#include "opalebot/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace opalebot::metrics {
namespace {

/// [a-zA-Z_:][a-zA-Z0-9_:]*, as the text format requires of metric and label names.
bool is_valid_name(std::string_view name)
{
    const auto allowed = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
               (!first && c >= '0' && c <= '9');
    };
    if (name.empty() || !allowed(name.front(), true))
        return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) { return allowed(c, false); });
}

std::string escaped(std::string_view text, bool quotes)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quotes)
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

} // namespace

std::string escape_label_value(std::string_view value)
{
    return escaped(value, true);
}

std::string escape_help(std::string_view help)
{
    return escaped(help, false);
}

std::string format_value(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    // Whole numbers as such: a timestamp reads 1700000000, not 1.7e+09.
    if (constexpr double exact = 9'007'199'254'740'992.0; // 2^53
        std::trunc(value) == value && std::fabs(value) < exact)
        return std::to_string(static_cast<long long>(value));
    std::array<char, 32> text{};
    const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
    return {text.data(), end}; // the shortest that reads back the same: "0.25", "1e+300"
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1))
{
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
        std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); }))
        throw std::invalid_argument("histogram bounds must be finite and strictly ascending");
}

void Histogram::observe(double value) noexcept
{
    if (std::isnan(value))
        return;
    // le: a value equal to a bound belongs to that bucket
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const
{
    Snapshot snapshot;
    snapshot.upper_bounds = bounds_;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        snapshot.cumulative.push_back(running);
    }
    snapshot.sum = sum_.load(std::memory_order_relaxed);
    return snapshot;
}

Counter& CounterFamily::with(std::string_view value)
{
    const std::lock_guard lock{mutex_};
    auto it = counters_.find(value);
    if (it == counters_.end())
        it = counters_.emplace(std::string{value}, std::make_unique<Counter>()).first;
    return *it->second;
}

std::vector<std::pair<std::string, std::uint64_t>> CounterFamily::values() const
{
    const std::lock_guard lock{mutex_};
    std::vector<std::pair<std::string, std::uint64_t>> all;
    for (const auto& [value, counter] : counters_)
        all.emplace_back(value, counter->value());
    return all;
}

struct Registry::Metric {
    template <class T, class... Args>
    Metric(std::string name_, std::string help_, std::in_place_type_t<T> type, Args&&... args)
        : name(std::move(name_)), help(std::move(help_)), value(type, std::forward<Args>(args)...)
    {}
    std::string name;
    std::string help;
    std::variant<Counter, CounterFamily, Gauge, Histogram> value;
};

Registry::Registry() = default;
Registry::~Registry() = default;

template <class T, class... Args>
T& Registry::add(std::string name, std::string help, Args&&... args)
{
    // A bad or repeated name is a programming error, found at the first start.
    if (!is_valid_name(name))
        throw std::invalid_argument("invalid metric name: " + name);
    const std::lock_guard lock{mutex_};
    for (const auto& m : metrics_)
        if (m->name == name)
            throw std::invalid_argument("metric added twice: " + name);
    auto& metric = *metrics_.emplace_back(std::make_unique<Metric>(
        std::move(name), std::move(help), std::in_place_type<T>, std::forward<Args>(args)...));
    return std::get<T>(metric.value);
}

Counter& Registry::counter(std::string name, std::string help)
{
    return add<Counter>(std::move(name), std::move(help));
}

CounterFamily& Registry::counter_family(std::string name, std::string help, std::string label)
{
    if (!is_valid_name(label) || label == "le")
        throw std::invalid_argument("invalid label name: " + label);
    return add<CounterFamily>(std::move(name), std::move(help), std::move(label));
}

Gauge& Registry::gauge(std::string name, std::string help)
{
    return add<Gauge>(std::move(name), std::move(help));
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> upper_bounds)
{
    return add<Histogram>(std::move(name), std::move(help), std::move(upper_bounds));
}

std::string Registry::render() const
{
    std::string out;
    const std::lock_guard lock{mutex_};
    for (const auto& m : metrics_) {
        const auto& name = m->name;
        const auto header = [&](std::string_view type) {
            out += "# HELP " + name + ' ' + escape_help(m->help) + '\n';
            out += "# TYPE " + name + ' ' + std::string{type} + '\n';
        };
        if (const auto* counter = std::get_if<Counter>(&m->value)) {
            header("counter");
            out += name + ' ' + std::to_string(counter->value()) + '\n';
        } else if (const auto* family = std::get_if<CounterFamily>(&m->value)) {
            header("counter");
            for (const auto& [value, count] : family->values())
                out += name + '{' + family->label() + "=\"" + escape_label_value(value) + "\"} " +
                       std::to_string(count) + '\n';
        } else if (const auto* gauge = std::get_if<Gauge>(&m->value)) {
            header("gauge");
            out += name + ' ' + format_value(gauge->value()) + '\n';
        } else if (const auto* histogram = std::get_if<Histogram>(&m->value)) {
            header("histogram");
            const auto s = histogram->snapshot();
            for (std::size_t i = 0; i < s.upper_bounds.size(); ++i)
                out += name + "_bucket{le=\"" + format_value(s.upper_bounds[i]) + "\"} " +
                       std::to_string(s.cumulative[i]) + '\n';
            // +Inf and _count from the same read, so that they always agree
            const auto count = std::to_string(s.cumulative.back());
            out += name + "_bucket{le=\"+Inf\"} " + count + '\n';
            out += name + "_sum " + format_value(s.sum) + '\n';
            out += name + "_count " + count + '\n';
        }
    }
    return out;
}

} // namespace opalebot::metrics
