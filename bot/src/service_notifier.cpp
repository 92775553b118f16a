#include "bot/service_notifier.hpp"

#include "opalebot/log.hpp"

#include <string>

#include <systemd/sd-daemon.h>

namespace opalebot::bot {
namespace {

void notify(const std::string& state)
{
    // < 0: the socket is there but refused it (worth a line); 0: not under systemd
    if (const int sent = sd_notify(0, state.c_str()); sent < 0)
        log::get("main")->warn("systemd notification not sent ({})", sent);
}

} // namespace

void ServiceNotifier::sync_iteration(SyncOutcome outcome)
{
    if (outcome == SyncOutcome::saved && !ready_) {
        ready_ = true;
        notify("READY=1\nSTATUS=Connecté, à l'écoute des salons");
    } else if (outcome == SyncOutcome::failed && !failing_) {
        failing_ = true;
        notify("STATUS=Synchronisation en échec, nouvel essai");
    } else if (outcome == SyncOutcome::saved && failing_) {
        failing_ = false;
        notify("STATUS=Synchronisation rétablie, à l'écoute des salons");
    }
    notify("WATCHDOG=1");
}

void ServiceNotifier::stopping()
{
    notify("STOPPING=1\nSTATUS=Arrêt en cours");
}

void ServiceNotifier::reloading()
{
    if (ready_)
        notify("RELOADING=1\nSTATUS=Relecture de la configuration");
}

void ServiceNotifier::reloaded(std::string_view status)
{
    if (ready_)
        notify("READY=1\nSTATUS=" + std::string{status});
}

void ServiceNotifier::status(std::string_view text)
{
    notify("STATUS=" + std::string{text});
}

void ServiceNotifier::check_watchdog(std::chrono::seconds sync_timeout)
{
    const auto watchdog = watchdog_interval();
    const auto needed = 2 * (sync_timeout + std::chrono::seconds{15});
    if (watchdog && *watchdog < needed)
        log::get("main")->warn("WatchdogSec={}s is under 2 x (sync.timeout_seconds + 15 s) = {}s: "
                               "raise it in the unit, or the bot may be restarted while it waits",
                               std::chrono::duration_cast<std::chrono::seconds>(*watchdog).count(),
                               needed.count());
}

std::optional<std::chrono::microseconds> ServiceNotifier::watchdog_interval()
{
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return std::nullopt;
    return std::chrono::microseconds{static_cast<std::int64_t>(usec)};
}

} // namespace opalebot::bot
