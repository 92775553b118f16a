#pragma once

#include "commands/reminder_time.hpp"
#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// Who a reminder speaks to: its owner (direct chat) or the salon it was set in.
enum class ReminderTarget { user, salon };

/// A reminder as stored (issue 6).
struct Reminder {
    std::int64_t id = 0; ///< the short id users type: `!rappel annuler 12`
    std::string owner;   ///< "@marie.dupont-ac-lille.fr:…"
    std::string room;    ///< where it was set; where a salon reminder is sent
    ReminderTarget target = ReminderTarget::user;
    std::string text; ///< as the user wrote it, not escaped
    Schedule schedule;
    std::string zone{default_zone};
    bool skip_holidays = false;      ///< skip weekends and French public holidays
    bool until_acknowledged = false; ///< repeats until ✅
    std::optional<Instant> due_at;   ///< next delivery (an occurrence or a snooze); none: finished
    std::optional<Instant> snoozed_until;
    bool cancelled = false;
    bool ping_room = false; ///< a salon reminder that notifies everyone (`@room`), only if asked
};

/// What `!rappel` creates.
struct NewReminder {
    std::string owner;
    std::string room;
    ReminderTarget target = ReminderTarget::user;
    std::string text;
    Schedule schedule;
    std::string zone{default_zone};
    bool skip_holidays = false;
    bool until_acknowledged = false;
    bool ping_room = false;
};

/// One occurrence to send. Send it with `txn_id` as the Matrix transaction id, then call
/// mark_sent(): if the bot dies in between, unsent() gives it back with the same txn id, and
/// the homeserver drops the duplicate (same discipline as replies, matrix.md).
struct Delivery {
    Reminder reminder;
    Instant occurrence; ///< the ledger key, with the reminder id
    std::string txn_id; ///< "rappel-12-1795500000", also the delivery key stored in the ledger
};

/// What claim_due() found.
struct DueBatch {
    std::vector<Delivery> to_send;
    std::vector<Delivery> missed; ///< older than the grace window: recorded, not to be sent
};

struct ReminderStoreOptions {
    std::chrono::seconds grace{std::chrono::hours{1}}; ///< later than this after downtime: missed
    std::chrono::seconds repeat_until_acknowledged{std::chrono::hours{1}};
};

/// Reminders and their delivery ledger in SQLite, tables `reminder_*`. Thread-safe.
class ReminderStore {
public:
    /// Creates or migrates its tables in `state`. Throws on a start-up failure.
    explicit ReminderStore(StateDatabase& state, ReminderStoreOptions options = {});

    /// Stores `reminder`, its first occurrence after `now`; an error when it never fires.
    Result<Reminder> add(const NewReminder& reminder, Instant now);

    /// The reminder `id`, cancelled ones included.
    Result<std::optional<Reminder>> find(std::int64_t id);

    /// The active reminders of `owner`, soonest first.
    Result<std::vector<Reminder>> list_by_owner(const std::string& owner);

    /// The active reminders due at `now`, soonest first, without claiming them (indexed).
    Result<std::vector<Reminder>> due(Instant now, std::size_t limit);

    /// Claims what is due at `now`: writes each occurrence to the ledger (pending, or missed when
    /// older than the grace window) and moves every reminder to its next occurrence, in one
    /// transaction. An occurrence already in the ledger is never returned again.
    Result<DueBatch> claim_due(Instant now, std::size_t limit = 200);

    /// Marks a claimed occurrence as sent (after the homeserver accepted it).
    Result<Done> mark_sent(std::int64_t id, Instant occurrence, const std::string& event_id);

    /// The reminder whose delivery is the Matrix event `event_id` (for a ✅ reaction to it).
    Result<std::optional<std::int64_t>> reminder_for_event(const std::string& event_id);

    /// The delivery whose key (its txn id) is `delivery_key`, to act on a reaction to it.
    Result<std::optional<Delivery>> find_delivery(std::string_view delivery_key);

    /// Claimed occurrences not yet marked sent (a crash between claim and send): resend them.
    Result<std::vector<Delivery>> unsent();

    /// Writes one occurrence to the ledger; false when it is already there (never sent twice).
    Result<bool> record_occurrence(std::int64_t id, Instant occurrence, bool missed);

    /// Cancels reminder `id` of `owner`; false when there is none.
    Result<bool> cancel(std::int64_t id, const std::string& owner);

    /// Moves the next delivery of `id` (of `owner`) to `until`; false when there is none.
    Result<bool> snooze(std::int64_t id, const std::string& owner, Instant until);

    /// ✅ on a delivered reminder: an "until acknowledged" one stops repeating; false if unknown.
    Result<bool> acknowledge(std::int64_t id, Instant now);

private:
    Result<bool> record_locked(std::int64_t id, Instant occurrence, bool missed);

    ReminderStoreOptions options_;
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
};

/// "rappel-12-1795500000": a reminder occurrence's Matrix transaction id, stable across restarts.
std::string reminder_txn_id(std::int64_t id, Instant occurrence);

} // namespace opalebot::commands
