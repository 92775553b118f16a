#include "bot/state_backup.hpp"

#include "opalebot/log.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <utility>

#include "crypto/crypto_store.hpp"
#include <date/tz.h>

namespace opalebot::bot {
namespace {

namespace fs = std::filesystem;

constexpr const char* log_name = "main";

/// "opale-bot-AAAA-MM-JJ.db" exactly: what rotation may count and delete.
bool is_daily_backup_name(const std::string& name)
{
    constexpr std::string_view prefix = "opale-bot-";
    constexpr std::string_view suffix = ".db";
    constexpr std::size_t date_size = 10; // AAAA-MM-JJ
    if (name.size() != prefix.size() + date_size + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix))
        return false;
    const auto date = std::string_view{name}.substr(prefix.size(), date_size);
    for (std::size_t i = 0; i < date.size(); ++i)
        if (i == 4 || i == 7 ? date[i] != '-' : (date[i] < '0' || date[i] > '9'))
            return false;
    return true;
}

/// The Paris calendar date and time of day of `now`, as the reminders count them.
struct LocalDay {
    date::year_month_day day;
    std::chrono::minutes time_of_day;
};

LocalDay paris_day(std::chrono::system_clock::time_point now)
{
    const auto local = date::make_zoned(date::locate_zone("Europe/Paris"),
                                        std::chrono::floor<std::chrono::seconds>(now))
                           .get_local_time();
    const auto midnight = date::floor<date::days>(local);
    return {date::year_month_day{midnight},
            std::chrono::duration_cast<std::chrono::minutes>(local - midnight)};
}

} // namespace

Result<StateCopyReport> back_up_state(const std::string& state_file, const std::string& destination,
                                      bool replace)
{
    StateCopyOptions options;
    options.replace = replace;
    options.prepare_copy = [](SQLite::Database& copy) {
        crypto::store::forget_outbound_group_sessions(copy);
    };
    return copy_state_file(state_file, destination, options);
}

std::string daily_backup_name(int year, unsigned month, unsigned day)
{
    char name[32];
    std::snprintf(name, sizeof name, "opale-bot-%04d-%02u-%02u.db", year, month, day);
    return name;
}

std::vector<fs::path> rotate_daily_backups(const fs::path& folder, int keep)
{
    std::vector<fs::path> backups;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator{folder, error})
        if (entry.is_regular_file(error) && is_daily_backup_name(entry.path().filename().string()))
            backups.push_back(entry.path());
    if (backups.size() <= static_cast<std::size_t>(std::max(keep, 0)))
        return {};
    std::sort(backups.begin(), backups.end()); // the date in the name sorts them
    backups.resize(backups.size() - static_cast<std::size_t>(std::max(keep, 0)));
    std::vector<fs::path> deleted;
    for (const auto& old : backups) {
        if (fs::remove(old, error))
            deleted.push_back(old);
        else
            log::get(log_name)->warn("old backup {} not deleted: {}", old.string(),
                                     error.message());
    }
    return deleted;
}

DailyBackups::DailyBackups(std::string state_file, Config::DailyBackup settings,
                           std::chrono::minutes retry_after)
    : state_file_(std::move(state_file)), settings_(std::move(settings)), retry_after_(retry_after)
{}

fs::path DailyBackups::file_for(TimePoint now) const
{
    const auto day = paris_day(now).day;
    return fs::path{settings_.folder} /
           daily_backup_name(int{day.year()}, unsigned{day.month()}, unsigned{day.day()});
}

bool DailyBackups::due(TimePoint now) const
{
    if (settings_.folder.empty() || now < retry_not_before_ ||
        paris_day(now).time_of_day < settings_.time_of_day)
        return false;
    std::error_code error;
    return !fs::exists(file_for(now), error); // made today already, maybe before a restart
}

std::optional<DailyBackupOutcome> DailyBackups::tick(TimePoint now)
{
    if (!due(now))
        return std::nullopt;
    const auto logger = log::get(log_name);
    DailyBackupOutcome outcome;
    outcome.at = now;
    outcome.file = file_for(now).string();
    std::error_code error;
    // The folder is made private, as the state file: the copy holds the same secrets.
    if (fs::create_directories(settings_.folder, error) && !error)
        fs::permissions(settings_.folder, fs::perms::owner_all, error);
    if (const auto copied = back_up_state(state_file_, outcome.file)) {
        outcome.ok = true;
        logger->info("daily backup {} written ({} bytes, {} ms)", outcome.file,
                     copied.value().bytes, copied.value().took.count());
        for (const auto& old : rotate_daily_backups(settings_.folder, settings_.keep))
            logger->info("old backup {} deleted (garder: {})", old.string(), settings_.keep);
    } else {
        outcome.message = copied.error().message;
        retry_not_before_ = now + retry_after_;
        logger->warn("daily backup failed, tried again in {} min: {}", retry_after_.count(),
                     outcome.message);
        if (alerts_ != nullptr)
            alerts_->raise("backup", outcome.message.substr(0, 200));
    }
    const std::lock_guard lock{mutex_};
    if (outcome.ok)
        last_failure_.reset();
    else
        last_failure_ = outcome;
    last_outcome_ = outcome;
    return outcome;
}

void DailyBackups::run(const std::stop_token& stop, std::chrono::seconds period)
{
    std::mutex mutex;
    std::condition_variable_any wake; // only the stop token wakes it
    while (!stop.stop_requested()) {
        try {
            static_cast<void>(tick(std::chrono::system_clock::now()));
        } catch (const std::exception& e) { // a backup never stops the bot
            log::get(log_name)->error("daily backup: {}", e.what());
        }
        std::unique_lock lock{mutex};
        wake.wait_for(lock, stop, period, [] { return false; });
    }
}

std::optional<DailyBackupOutcome> DailyBackups::last_outcome() const
{
    const std::lock_guard lock{mutex_};
    return last_outcome_;
}

std::optional<DailyBackupOutcome> DailyBackups::last_failure() const
{
    const std::lock_guard lock{mutex_};
    return last_failure_;
}

} // namespace opalebot::bot
