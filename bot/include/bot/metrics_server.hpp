#pragma once

#include "opalebot/metrics.hpp"
#include "opalebot/result.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace opalebot::bot {

/// What GET /sante answers: 200 "ok", or 503 and a short French reason.
struct Health {
    bool ok = false;
    std::string reason;
};

/// Healthy while the last saved sync is recent: less than 2 × the long-poll timeout + 60 s ago
/// (a long-poll that ends at its timeout, a retry, and room for a slow batch).
Health sync_health(std::optional<std::chrono::system_clock::time_point> last_sync,
                   std::chrono::system_clock::time_point now, std::chrono::seconds sync_timeout);

/// The same, read from the last-sync gauge (unix seconds, 0: never) at each request.
std::function<Health()> sync_health_check(const metrics::Gauge& last_sync,
                                          std::chrono::seconds sync_timeout);

/// Serves GET /metrics (Prometheus text format 0.0.4) and GET /sante from its own threads, from
/// start() until destruction; any other path is a 404. cpp-httplib stays out of this header.
class MetricsServer {
public:
    /// Listens on `host`:`port` (0: a free port, see port()); an error when it cannot bind.
    static Result<std::unique_ptr<MetricsServer>> start(const std::string& host, int port,
                                                        const metrics::Registry& registry,
                                                        std::function<Health()> health);
    ~MetricsServer(); ///< stops listening, waits for the request in flight
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int port() const;

private:
    struct Impl;
    explicit MetricsServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace opalebot::bot
