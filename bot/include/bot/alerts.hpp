#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace opalebot::bot {

/// What the admins' room (alertes.salon) is told: each kind at most once per `interval`, with
/// how many times it happened since its last post, so that a storm is one message, not a flood.
class Alerts {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    explicit Alerts(std::chrono::minutes interval = std::chrono::minutes{10}) : interval_(interval)
    {}

    /// Something of `kind` happened; `detail` (a user id, an event id; never a message text)
    /// is listed in the next post, the first five at most.
    void raise(const std::string& kind, const std::string& detail);

    struct Due {
        std::string kind;
        std::vector<std::string> details;
        int count = 0; ///< occurrences since the kind's last post
    };
    /// The kinds to post now; they count from zero again.
    std::vector<Due> take_due(TimePoint now);

private:
    struct Kind {
        bool posted = false;
        TimePoint last_post{};
        int count = 0;
        std::vector<std::string> details;
    };
    std::chrono::minutes interval_;
    std::map<std::string, Kind> kinds_;
};

} // namespace opalebot::bot
