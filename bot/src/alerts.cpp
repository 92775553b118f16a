#include "bot/alerts.hpp"

#include <algorithm>
#include <utility>

namespace opalebot::bot {

void Alerts::raise(const std::string& kind, const std::string& detail)
{
    auto& entry = kinds_[kind];
    ++entry.count;
    constexpr std::size_t listed = 5;
    if (entry.details.size() < listed &&
        std::find(entry.details.begin(), entry.details.end(), detail) == entry.details.end())
        entry.details.push_back(detail);
}

std::vector<Alerts::Due> Alerts::take_due(TimePoint now)
{
    std::vector<Due> due;
    for (auto& [kind, entry] : kinds_) {
        if (entry.count == 0 || (entry.posted && now - entry.last_post < interval_))
            continue;
        due.push_back({kind, std::exchange(entry.details, {}), std::exchange(entry.count, 0)});
        entry.posted = true;
        entry.last_post = now;
    }
    return due;
}

} // namespace opalebot::bot
