#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace opalebot::bot {

/// What the admins' room (alertes.salon) is told: each kind at most once per `interval`, with
/// how many times it happened since its last post, so that a storm is one message, not a flood.
/// Raised from any thread (the sync loop, the sender, the iTop thread); posted by the sync loop.
///
/// Kinds: "identity" (a user's cross-signing identity changed), "set-aside" (an event crashed
/// the bot and was set aside), "itop" / "itop-ok" (iTop failed several times in a row / answers
/// again), "homeserver-ok" (the homeserver answered again after failing), "rate-limit" /
/// "rate-limit-ok" (the homeserver slowed the bot down for long / no longer does),
/// "homeserver" (the homeserver failed several times in a row; posted once it answers again),
/// "undecryptable" (messages the bot could not decrypt in time), "storage" (a write to the
/// state file failed), "import" (an EPLE import was refused or failed), "backup" (a daily
/// backup of the state file failed), "reload" (the config file read again on SIGHUP: applied or
/// refused, each detail a whole report).
class Alerts {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    explicit Alerts(std::chrono::minutes interval = std::chrono::minutes{10}) : interval_(interval)
    {}

    /// Something of `kind` happened; `detail` (a user id, an event id, a short cause; never a
    /// message text nor a secret) is listed in the next post, the first five at most.
    void raise(const std::string& kind, const std::string& detail);

    /// `kind` is posted only once it happened `count` times since its last post (a rate, not
    /// a single occurrence, is worth telling).
    void set_minimum(const std::string& kind, int count);

    /// `kind` is posted at most once per `interval` instead of the common one (zero: each time,
    /// for what a person asked for and waits to hear about).
    void set_interval(const std::string& kind, std::chrono::minutes interval);

    struct Due {
        std::string kind;
        std::vector<std::string> details;
        int count = 0; ///< occurrences since the kind's last post
    };
    /// The kinds to post now; they count from zero again.
    std::vector<Due> take_due(TimePoint now);
    /// Alerts taken but not posted after all (their batch was not saved): due again at once.
    void put_back(const std::vector<Due>& due);

private:
    struct Kind {
        bool posted = false;
        TimePoint last_post{};
        int count = 0;
        int minimum = 1;
        std::optional<std::chrono::minutes> interval; ///< none: the common one
        std::vector<std::string> details;
    };
    void add_detail(Kind& entry, const std::string& detail);

    std::chrono::minutes interval_;
    std::mutex mutex_;
    std::map<std::string, Kind> kinds_;
};

/// A remote service's failures in a row (iTop, the homeserver), for the alerts and `!statut`.
/// Its `kind` is raised once when `failures_before_alert` calls have failed in a row, and
/// `kind`-ok once on the first success after that. Thread-safe.
class ServiceHealth {
public:
    using TimePoint = Alerts::TimePoint;

    ServiceHealth(std::string kind, int failures_before_alert) noexcept
        : kind_(std::move(kind)), failures_before_alert_(failures_before_alert)
    {}
    /// Where the alerts go; none: only counted.
    void report_to(Alerts* alerts);
    void succeeded(TimePoint now);
    /// `cause`: short, never a secret ("HTTP 502", "délai dépassé").
    void failed(TimePoint now, const std::string& cause);

    struct Snapshot {
        int failures_in_a_row = 0;
        std::optional<TimePoint> last_success;
        std::optional<TimePoint> last_failure;
        std::string last_cause;
    };
    Snapshot snapshot() const;

private:
    std::string kind_;
    int failures_before_alert_;
    mutable std::mutex mutex_;
    Alerts* alerts_ = nullptr;
    Snapshot state_;
    std::optional<TimePoint> failing_since_;
    bool alerted_ = false;
};

/// The French Markdown message of an alert for alertes.salon.
std::string alert_message(const Alerts::Due& due);

} // namespace opalebot::bot
