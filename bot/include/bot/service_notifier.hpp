#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>

namespace opalebot::bot {

/// How one iteration of the sync loop ended (SyncLoop::set_heartbeat).
enum class SyncOutcome {
    saved,       ///< a batch was received and saved
    failed,      ///< the sync or the batch failed; a retry follows
    interrupted, ///< nudged or stopping: no batch, no failure
    waiting,     ///< still waiting before the next sync (a retry delay), alive
};

/// Tells systemd how the bot is doing (Type=notify, WatchdogSec=, deploy/opale-bot.service):
/// READY=1 after the first saved sync, WATCHDOG=1 after every iteration of the sync loop, so
/// that a loop stuck anywhere stops the pings, STOPPING=1 at the end; STATUS= lines in French.
/// sd_notify does nothing without NOTIFY_SOCKET: the console, the tests and a run by hand are
/// unaffected. Call from one thread at a time, except reloading() and reloaded().
class ServiceNotifier {
public:
    /// After each iteration of the sync loop, and in its waits.
    void sync_iteration(SyncOutcome outcome);
    void stopping();
    void status(std::string_view text);
    /// RELOADING=1 while the config file is read again on SIGHUP (`systemctl reload`), then
    /// READY=1 with `status` once it is applied or refused; nothing before the first READY=1,
    /// which that would give too early. From the main thread, while the sync loop runs.
    void reloading();
    void reloaded(std::string_view status);
    bool ready() const { return ready_; }
    /// Logs a warning when systemd's watchdog is shorter than twice the longest iteration (a
    /// long-poll of `sync_timeout` plus curl's 15 s margin): a quiet salon would get the bot
    /// restarted.
    static void check_watchdog(std::chrono::seconds sync_timeout);

    /// The watchdog interval systemd gave this process (WATCHDOG_USEC), if any.
    static std::optional<std::chrono::microseconds> watchdog_interval();

private:
    std::atomic<bool> ready_ = false; ///< set by the sync thread, read by reloading()
    bool failing_ = false;
};

} // namespace opalebot::bot
