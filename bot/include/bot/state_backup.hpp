#pragma once

#include "bot/alerts.hpp"
#include "bot/config.hpp"
#include "opalebot/result.hpp"
#include "opalebot/state_backup.hpp"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace opalebot::bot {

/// Copies the bot's state file (opalebot::copy_state_file) and makes the copy safe to restore:
/// the room sessions the bot sends with are left out of it, so that a bot restored from it starts
/// new ones instead of sending again with message indexes it already used (clients refuse those
/// as replays).
[[nodiscard]] Result<StateCopyReport>
back_up_state(const std::string& state_file, const std::string& destination, bool replace = false);

/// "opale-bot-AAAA-MM-JJ.db": the name of the daily backup of that date.
std::string daily_backup_name(int year, unsigned month, unsigned day);

/// Deletes the oldest daily backups of `folder` beyond the newest `keep`; only files named as
/// daily_backup_name makes them are counted or touched. Returns the files deleted.
std::vector<std::filesystem::path> rotate_daily_backups(const std::filesystem::path& folder,
                                                        int keep);

/// What the last daily backup attempt gave, for whoever reports it (an alerts room).
struct DailyBackupOutcome {
    std::chrono::system_clock::time_point at;
    bool ok = false;
    std::string file;    ///< the backup written or attempted
    std::string message; ///< French: the cause of a failure; never a secret
};

/// state.sauvegarde_quotidienne (issue 16): once the configured time of day has passed in Paris,
/// one backup per calendar day into the folder, the oldest beyond `keep` deleted. A failure is
/// logged, remembered (last_outcome) and tried again after `retry_after`. Runs on a thread of its
/// own with a connection of its own: the sync loop never waits for it.
class DailyBackups {
public:
    using TimePoint = std::chrono::system_clock::time_point;

    DailyBackups(std::string state_file, Config::DailyBackup settings,
                 std::chrono::minutes retry_after = std::chrono::minutes{30});

    /// The file today's backup goes to (Paris date of `now`).
    std::filesystem::path file_for(TimePoint now) const;
    /// Whether a backup is to be made at `now`: past the time of day, none made today yet, and
    /// no failure too recent.
    bool due(TimePoint now) const;
    /// Makes the backup if due; the outcome when one was attempted.
    std::optional<DailyBackupOutcome> tick(TimePoint now);
    /// Calls tick every `period` until `stop`.
    void run(const std::stop_token& stop, std::chrono::seconds period = std::chrono::seconds{60});

    /// The last attempt's outcome; nothing before the first one. Safe from any thread.
    std::optional<DailyBackupOutcome> last_outcome() const;
    /// The last failure, kept until a backup succeeds again.
    std::optional<DailyBackupOutcome> last_failure() const;
    /// Failed backups are told to the admins ("backup"). Call before run().
    void report_to(Alerts* alerts) { alerts_ = alerts; }

private:
    std::string state_file_;
    Config::DailyBackup settings_;
    std::chrono::minutes retry_after_;
    TimePoint retry_not_before_{};
    mutable std::mutex mutex_; ///< guards the outcomes, read by other threads
    std::optional<DailyBackupOutcome> last_outcome_;
    std::optional<DailyBackupOutcome> last_failure_;
    Alerts* alerts_ = nullptr;
};

} // namespace opalebot::bot
