#include "bot/metrics_server.hpp"

#include "opalebot/log.hpp"

#include <atomic>
#include <thread>

#include <httplib.h>
#include <sys/socket.h>

namespace opalebot::bot {

Health sync_health(std::optional<std::chrono::system_clock::time_point> last_sync,
                   std::chrono::system_clock::time_point now, std::chrono::seconds sync_timeout)
{
    if (!last_sync)
        return {false, "pas encore synchronisé avec le serveur Matrix"};
    const auto limit = 2 * sync_timeout + std::chrono::seconds{60};
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *last_sync);
    if (age >= limit)
        return {false, "dernière synchronisation il y a " + std::to_string(age.count()) +
                           " s (limite " + std::to_string(limit.count()) + " s)"};
    return {true, "ok"};
}

std::function<Health()> sync_health_check(const metrics::Gauge& last_sync,
                                          std::chrono::seconds sync_timeout)
{
    return [&last_sync, sync_timeout] {
        const auto seconds = last_sync.value();
        std::optional<std::chrono::system_clock::time_point> at;
        if (seconds > 0)
            at = std::chrono::system_clock::time_point{
                std::chrono::seconds{static_cast<std::int64_t>(seconds)}};
        return sync_health(at, std::chrono::system_clock::now(), sync_timeout);
    };
}

struct MetricsServer::Impl {
    httplib::Server server;
    int port = 0;
    std::atomic<bool> finished{false};
    std::jthread thread; ///< last: joined before the server goes
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl))
{}

MetricsServer::~MetricsServer()
{
    impl_->server.stop(); // running (start() waited for it): the listen loop ends
    if (impl_->thread.joinable())
        impl_->thread.join();
}

int MetricsServer::port() const
{
    return impl_->port;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& host, int port,
                                                            const metrics::Registry& registry,
                                                            std::function<Health()> health)
{
    auto impl = std::make_unique<Impl>();
    auto& server = impl->server;
    // Two workers, not one per core: a scraper and a health probe at a time.
    server.new_task_queue = [] { return new httplib::ThreadPool(2); };
    server.set_keep_alive_timeout(2);
    server.set_read_timeout(std::chrono::seconds{5});
    server.set_write_timeout(std::chrono::seconds{5});
    server.set_payload_max_length(4096);
    // Not httplib's SO_REUSEPORT, which lets a second process bind the same port and share the
    // scrapes; SO_REUSEADDR alone still lets a restart bind while old connections linger.
    server.set_socket_options([](int socket) {
        const int yes = 1;
        static_cast<void>(::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)));
    });
    server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& response) {
        response.set_content(registry.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/sante",
               [health = std::move(health)](const httplib::Request&, httplib::Response& response) {
                   const auto now = health();
                   response.status = now.ok ? 200 : 503;
                   response.set_content(now.reason + "\n", "text/plain; charset=utf-8");
               });
    const int bound = port == 0                         ? server.bind_to_any_port(host)
                      : server.bind_to_port(host, port) ? port
                                                        : -1;
    if (bound <= 0)
        return Error{Error::Kind::transport,
                     0,
                     {},
                     "cannot listen on " + host + ":" + std::to_string(port) +
                         " (address in use or not on this machine)",
                     {}};
    impl->port = bound;
    impl->thread = std::jthread{[&server, &finished = impl->finished] {
        if (!server.listen_after_bind())
            log::get("main")->error("metrics server stopped listening");
        finished = true;
    }};
    // stop() is a no-op until the listen loop runs: wait for it, so that a stop always ends it.
    while (!server.is_running() && !impl->finished)
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
    if (impl->finished)
        return Error{Error::Kind::transport, 0, {}, "metrics server did not start", {}};
    return std::unique_ptr<MetricsServer>{new MetricsServer{std::move(impl)}};
}

} // namespace opalebot::bot
