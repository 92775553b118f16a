#include "bot/service_notifier.hpp"

#include "bot/sync_loop.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_client.hpp"
#include "support/temp_dir.hpp"
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace opalebot::bot;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string me = "@opale:hs.test";
const std::string salon = "!salon:hs.test";

/// The test's end of NOTIFY_SOCKET: a datagram socket, as systemd listens on, set in the
/// environment for its life.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0))
    {
        REQUIRE(fd_ >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        REQUIRE(path.size() < sizeof(address.sun_path));
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~NotifySocket()
    {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    /// The next datagram, or nothing after `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout)
    {
        pollfd ready{fd_, POLLIN, 0};
        if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0)
            return std::nullopt;
        std::vector<char> buffer(4096);
        const auto n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n <= 0)
            return std::nullopt;
        return std::string{buffer.data(), static_cast<std::size_t>(n)};
    }

private:
    int fd_;
};

std::string sync_body(const std::string& next, const json& events = json::array())
{
    json body{{"next_batch", next}};
    if (!events.empty())
        body["rooms"] = {{"join", {{salon, {{"timeline", {{"events", events}}}}}}}};
    return body.dump();
}

/// A sync loop on a scripted homeserver, its heartbeat wired to a ServiceNotifier as main does.
struct NotifiedLoop {
    NotifiedLoop()
    {
        config.homeserver_url = "https://hs.test";
        config.user_id = me;
        config.allowed_rooms = {salon};
        client.set_access_token("syt_tok");
        loop.set_heartbeat([this](SyncOutcome outcome) { notifier.sync_iteration(outcome); });
    }

    opalebot::testing::FakeHttpClient http;
    MatrixClient client{http, "https://hs.test"};
    StateStore store{":memory:"};
    Config config;
    std::function<std::optional<OutgoingReply>(const IncomingMessage&)> route = [](const auto&) {
        return std::optional<OutgoingReply>{};
    };
    SyncLoop loop{client,
                  store,
                  config,
                  Session{me, "DEV", "syt_tok"},
                  [this](const IncomingMessage& m) { return route(m); },
                  [] {}};
    ServiceNotifier notifier;
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("the sync loop sends READY=1 after its first sync then WATCHDOG=1 to NOTIFY_SOCKET")
    {
        const opalebot::testing::TempDir dir;
        NotifySocket systemd{dir.file("notify")};
        NotifiedLoop h;
        h.http.reply(200, R"({"filter_id":"f1"})");
        h.http.reply(200, sync_body("s1")); // then the fake fails: an error-retry iteration
        std::jthread thread{[&h](const std::stop_token& stop) { h.loop.run(stop); }};

        const auto first = systemd.receive(5s);
        REQUIRE(first.has_value());
        CHECK(first->find("READY=1") != std::string::npos);
        CHECK(first->find("STATUS=Connecté") != std::string::npos);
        CHECK(systemd.receive(5s) == std::optional<std::string>{"WATCHDOG=1"});
        // The next sync fails: told once in STATUS, and the pings go on.
        const auto failing = systemd.receive(5s);
        REQUIRE(failing.has_value());
        CHECK(failing->find("STATUS=Synchronisation en échec") != std::string::npos);
        CHECK(systemd.receive(5s) == std::optional<std::string>{"WATCHDOG=1"});
        thread.request_stop();
        thread.join();
        h.notifier.stopping();
        const auto stopping = systemd.receive(5s);
        REQUIRE(stopping.has_value());
        CHECK(stopping->rfind("STOPPING=1", 0) == 0);
    }

    TEST_CASE("a sync loop stuck in a batch stops the watchdog pings")
    {
        const opalebot::testing::TempDir dir;
        NotifySocket systemd{dir.file("notify")};
        NotifiedLoop h;
        std::mutex mutex;
        std::condition_variable released_cv;
        bool released = false;
        h.route = [&](const IncomingMessage&) {
            std::unique_lock lock{mutex};
            released_cv.wait(lock, [&] { return released; }); // a handler that hangs
            return std::optional<OutgoingReply>{};
        };
        const auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        h.http.reply(200, R"({"filter_id":"f1"})");
        h.http.reply(200, sync_body("s1"));
        h.http.reply(
            200, sync_body("s2", json::array(
                                     {{{"type", "m.room.message"},
                                       {"event_id", "$q"},
                                       {"sender", "@marie:hs.test"},
                                       {"origin_server_ts", ts},
                                       {"content", {{"msgtype", "m.text"}, {"body", "!aide"}}}}})));
        std::jthread thread{[&h](const std::stop_token& stop) { h.loop.run(stop); }};
        REQUIRE(systemd.receive(5s).has_value()); // READY=1
        REQUIRE(systemd.receive(5s) == std::optional<std::string>{"WATCHDOG=1"});
        CHECK_FALSE(systemd.receive(600ms).has_value()); // stuck: no ping
        {
            const std::lock_guard lock{mutex};
            released = true;
        }
        released_cv.notify_all();
        CHECK(systemd.receive(5s) == std::optional<std::string>{"WATCHDOG=1"});
        thread.request_stop();
    }

    TEST_CASE("without NOTIFY_SOCKET the notifier does nothing")
    {
        ::unsetenv("NOTIFY_SOCKET");
        ServiceNotifier notifier;
        notifier.sync_iteration(SyncOutcome::saved);
        notifier.sync_iteration(SyncOutcome::failed);
        notifier.stopping();
        CHECK(notifier.ready());
        CHECK_FALSE(ServiceNotifier::watchdog_interval().has_value());
    }
}
