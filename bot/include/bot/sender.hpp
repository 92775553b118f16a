#pragma once

#include "bot/alerts.hpp"
#include "bot/matrix_client.hpp"
#include "bot/state_store.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>

namespace opalebot::bot {

/// An outgoing budget: `rate` requests per second sustained, `burst` at once (Tchap asks about
/// one call per second).
class TokenBucket {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    TokenBucket(double rate, int burst, TimePoint now);

    /// Takes a token, or says how long until one is there.
    std::chrono::milliseconds take(TimePoint now);

private:
    double rate_;
    double burst_;
    double tokens_;
    TimePoint last_;
};

/// Sends the outbox, replies first, within the budget; obeys 429 and backs off on network
/// errors and 5xx. Runs on its own thread, so a send never waits behind the sync long-poll.
class Sender {
public:
    using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
    Sender(MatrixClient& client, StateStore& store, double rate, int burst,
           SteadyClock clock = std::chrono::steady_clock::now);

    /// Something was queued: send it now if the budget allows.
    void wake();

    /// Sends at most one message; returns how long to wait before the next try (0: go on,
    /// nullopt: the outbox is empty).
    std::optional<std::chrono::milliseconds> send_next(std::stop_token stop = {});

    void run(std::stop_token stop);

    /// The homeserver slowing the bot down (429) for more than `after`, and then no longer,
    /// is told to the admins ("rate-limit", "rate-limit-ok").
    void report_to(Alerts* alerts, std::chrono::minutes after = std::chrono::minutes{5})
    {
        alerts_ = alerts;
        rate_limit_alert_after_ = after;
    }

private:
    /// A send went through, or was refused with 429: the rate-limit streak and its alerts.
    void note_rate_limited(bool limited);

    /// A send that failed: retried later (the delay), or dropped when refused for good.
    std::chrono::milliseconds after_failure(const OutgoingMessage& message,
                                            const nlohmann::json& content, const Error& error,
                                            std::stop_token stop);
    MatrixClient& client_;
    StateStore& store_;
    SteadyClock clock_;
    TokenBucket bucket_;
    std::chrono::milliseconds backoff_{0};
    std::mutex mutex_;
    std::condition_variable_any woken_;
    bool pending_wake_ = false;
    Alerts* alerts_ = nullptr;
    std::chrono::minutes rate_limit_alert_after_{5};
    std::optional<std::chrono::steady_clock::time_point> limited_since_;
    bool rate_limit_alerted_ = false;
};

} // namespace opalebot::bot
