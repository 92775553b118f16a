#include "commands/reminder_store.hpp"

#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <stdexcept>

#include <date/tz.h>

namespace opalebot::commands {
namespace {

using namespace std::chrono;

constexpr std::array<const char*, 2> schema_steps = {
    R"sql(
CREATE TABLE reminder_reminders (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    room TEXT NOT NULL,
    target TEXT NOT NULL CHECK (target IN ('user', 'salon')),
    text TEXT NOT NULL,
    schedule TEXT NOT NULL,
    zone TEXT NOT NULL,
    skip_holidays INTEGER NOT NULL DEFAULT 0,
    until_acknowledged INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER,
    snoozed_until INTEGER,
    cancelled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX reminder_reminders_by_due ON reminder_reminders (due_at) WHERE cancelled = 0;
CREATE INDEX reminder_reminders_by_owner ON reminder_reminders (owner);
CREATE TABLE reminder_occurrences (
    reminder_id INTEGER NOT NULL REFERENCES reminder_reminders (id),
    occurrence INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'missed')),
    event_id TEXT,
    PRIMARY KEY (reminder_id, occurrence)
);
CREATE INDEX reminder_occurrences_pending ON reminder_occurrences (status)
    WHERE status = 'pending';
CREATE INDEX reminder_occurrences_by_event ON reminder_occurrences (event_id)
    WHERE event_id IS NOT NULL;
)sql",
    // Issue 6: a reaction names the delivery by its key; a salon broadcast pings only if asked.
    R"sql(
ALTER TABLE reminder_reminders ADD COLUMN ping_room INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reminder_occurrences ADD COLUMN delivery_key TEXT;
UPDATE reminder_occurrences SET delivery_key = 'rappel-' || reminder_id || '-' || occurrence;
CREATE UNIQUE INDEX reminder_occurrences_by_key ON reminder_occurrences (delivery_key);
)sql"};
constexpr Schema schema{"reminders", schema_steps, "reminder_schema"};

/// Occurrences examined per reminder and claim: a minute rule after a week of downtime must not
/// stall the bot; what lies beyond is skipped without a ledger row.
constexpr std::size_t max_occurrences_per_claim = 1000;

constexpr const char* reminder_columns =
    "id, owner, room, target, text, schedule, zone, skip_holidays, until_acknowledged, due_at, "
    "snoozed_until, cancelled, ping_room";

std::optional<Instant> optional_instant(const SQLite::Column& column)
{
    if (column.isNull())
        return std::nullopt;
    return Instant{seconds{column.getInt64()}};
}

void bind_optional(SQLite::Statement& statement, int index, std::optional<Instant> instant)
{
    if (instant)
        statement.bind(index, static_cast<std::int64_t>(instant->time_since_epoch().count()));
    else
        statement.bind(index);
}

std::int64_t unix_seconds(Instant instant)
{
    return instant.time_since_epoch().count();
}

Reminder read_reminder(SQLite::Statement& row)
{
    Reminder r;
    r.id = row.getColumn(0).getInt64();
    r.owner = row.getColumn(1).getString();
    r.room = row.getColumn(2).getString();
    r.target =
        row.getColumn(3).getString() == "salon" ? ReminderTarget::salon : ReminderTarget::user;
    r.text = row.getColumn(4).getString();
    auto schedule = schedule_from_storage(row.getColumn(5).getString());
    if (!schedule)
        throw std::runtime_error(schedule.error().message);
    r.schedule = std::move(schedule).value();
    r.zone = row.getColumn(6).getString();
    r.skip_holidays = row.getColumn(7).getInt() != 0;
    r.until_acknowledged = row.getColumn(8).getInt() != 0;
    r.due_at = optional_instant(row.getColumn(9));
    r.snoozed_until = optional_instant(row.getColumn(10));
    r.cancelled = row.getColumn(11).getInt() != 0;
    r.ping_room = row.getColumn(12).getInt() != 0;
    return r;
}

const date::time_zone& zone_of(const Reminder& reminder)
{
    auto zone = find_zone(reminder.zone);
    if (!zone)
        throw std::runtime_error("reminder " + std::to_string(reminder.id) + ": " +
                                 zone.error().message);
    return *zone.value();
}

std::vector<Reminder> select_reminders(SQLite::Statement& query)
{
    std::vector<Reminder> reminders;
    while (query.executeStep())
        reminders.push_back(read_reminder(query));
    return reminders;
}

} // namespace

std::string reminder_txn_id(std::int64_t id, Instant occurrence)
{
    return "rappel-" + std::to_string(id) + "-" + std::to_string(unix_seconds(occurrence));
}

ReminderStore::ReminderStore(StateDatabase& state, ReminderStoreOptions options)
    : options_(options), db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

Result<Reminder> ReminderStore::add(const NewReminder& reminder, Instant now)
{
    const auto zone = find_zone(reminder.zone);
    if (!zone)
        return zone.error();
    const auto first =
        next_occurrence(reminder.schedule, now, *zone.value(), reminder.skip_holidays);
    if (!first)
        return Error{
            Error::Kind::invalid, 0, {}, "Ce rappel ne se déclencherait jamais.", {}, false};
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement insert{db_, R"sql(
INSERT INTO reminder_reminders (owner, room, target, text, schedule, zone, skip_holidays,
    until_acknowledged, due_at, created_at, ping_room) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
)sql"};
        SQLite::bind(insert, reminder.owner, reminder.room,
                     reminder.target == ReminderTarget::salon ? "salon" : "user", reminder.text,
                     to_storage(reminder.schedule), reminder.zone, reminder.skip_holidays ? 1 : 0,
                     reminder.until_acknowledged ? 1 : 0, unix_seconds(*first), unix_seconds(now),
                     reminder.ping_room ? 1 : 0);
        insert.exec();
        Reminder stored;
        stored.id = db_.getLastInsertRowid();
        stored.owner = reminder.owner;
        stored.room = reminder.room;
        stored.target = reminder.target;
        stored.text = reminder.text;
        stored.schedule = reminder.schedule;
        stored.zone = reminder.zone;
        stored.skip_holidays = reminder.skip_holidays;
        stored.until_acknowledged = reminder.until_acknowledged;
        stored.ping_room = reminder.ping_room;
        stored.due_at = first;
        return stored;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: add", "commands");
    }
}

Result<std::optional<Reminder>> ReminderStore::find(std::int64_t id)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, std::string{"SELECT "} + reminder_columns +
                                         " FROM reminder_reminders WHERE id = ?"};
        query.bind(1, id);
        if (!query.executeStep())
            return std::optional<Reminder>{};
        return std::optional<Reminder>{read_reminder(query)};
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: find", "commands");
    }
}

Result<std::vector<Reminder>> ReminderStore::list_by_owner(const std::string& owner)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_,
                                std::string{"SELECT "} + reminder_columns +
                                    " FROM reminder_reminders WHERE owner = ? AND "
                                    "cancelled = 0 AND due_at IS NOT NULL ORDER BY due_at, id"};
        query.bind(1, owner);
        return select_reminders(query);
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: list", "commands");
    }
}

Result<std::vector<Reminder>> ReminderStore::due(Instant now, std::size_t limit)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, std::string{"SELECT "} + reminder_columns +
                                         " FROM reminder_reminders WHERE cancelled = 0 AND "
                                         "due_at <= ? ORDER BY due_at, id LIMIT ?"};
        SQLite::bind(query, unix_seconds(now), static_cast<std::int64_t>(limit));
        return select_reminders(query);
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: due", "commands");
    }
}

Result<bool> ReminderStore::record_locked(std::int64_t id, Instant occurrence, bool missed)
{
    SQLite::Statement insert{db_, "INSERT OR IGNORE INTO reminder_occurrences (reminder_id, "
                                  "occurrence, status, delivery_key) VALUES (?, ?, ?, ?)"};
    SQLite::bind(insert, id, unix_seconds(occurrence), missed ? "missed" : "pending",
                 reminder_txn_id(id, occurrence));
    return insert.exec() == 1;
}

Result<bool> ReminderStore::record_occurrence(std::int64_t id, Instant occurrence, bool missed)
{
    const std::lock_guard lock{mutex_};
    try {
        return record_locked(id, occurrence, missed);
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: record occurrence", "commands");
    }
}

Result<DueBatch> ReminderStore::claim_due(Instant now, std::size_t limit)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        SQLite::Statement query{db_, std::string{"SELECT "} + reminder_columns +
                                         " FROM reminder_reminders WHERE cancelled = 0 AND "
                                         "due_at <= ? ORDER BY due_at, id LIMIT ?"};
        SQLite::bind(query, unix_seconds(now), static_cast<std::int64_t>(limit));
        const auto reminders = select_reminders(query);
        SQLite::Statement advance{
            db_, "UPDATE reminder_reminders SET due_at = ?, snoozed_until = NULL WHERE id = ?"};
        DueBatch batch;
        for (const auto& reminder : reminders) {
            const auto& zone = zone_of(reminder);
            // Every occurrence up to now: only the latest within the grace window is sent
            // (issue 6: a missed occurrence is sent once if within grace, else recorded missed).
            std::vector<Instant> passed;
            std::optional<Instant> occurrence = reminder.due_at;
            while (occurrence && *occurrence <= now && passed.size() < max_occurrences_per_claim) {
                passed.push_back(*occurrence);
                occurrence =
                    next_occurrence(reminder.schedule, *occurrence, zone, reminder.skip_holidays);
            }
            std::optional<Instant> sent;
            for (const auto passed_at : passed) {
                // Only the latest can be sent, and only within the grace window.
                const bool send = passed_at == passed.back() && now - passed_at <= options_.grace;
                if (!record_locked(reminder.id, passed_at, !send).value())
                    continue; // already in the ledger: never twice
                auto& list = send ? batch.to_send : batch.missed;
                list.push_back({reminder, passed_at, reminder_txn_id(reminder.id, passed_at)});
                if (send)
                    sent = passed_at;
            }
            auto next = next_occurrence(reminder.schedule, now, zone, reminder.skip_holidays);
            if (sent && reminder.until_acknowledged) {
                const auto repeat = now + options_.repeat_until_acknowledged;
                next = next ? std::min(*next, repeat) : repeat;
            }
            bind_optional(advance, 1, next);
            advance.bind(2, reminder.id);
            advance.exec();
            advance.reset();
        }
        transaction.commit();
        return batch;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: claim due", "commands");
    }
}

Result<Done> ReminderStore::mark_sent(std::int64_t id, Instant occurrence,
                                      const std::string& event_id)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE reminder_occurrences SET status = 'sent', "
                                      "event_id = ? WHERE reminder_id = ? AND occurrence = ?"};
        SQLite::bind(update, event_id, id, unix_seconds(occurrence));
        update.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: mark sent", "commands");
    }
}

Result<std::optional<std::int64_t>> ReminderStore::reminder_for_event(const std::string& event_id)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{
            db_, "SELECT reminder_id FROM reminder_occurrences WHERE event_id = ? LIMIT 1"};
        query.bind(1, event_id);
        if (!query.executeStep())
            return std::optional<std::int64_t>{};
        return std::optional<std::int64_t>{query.getColumn(0).getInt64()};
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: reminder for event", "commands");
    }
}

Result<std::optional<Delivery>> ReminderStore::find_delivery(std::string_view delivery_key)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, "SELECT reminder_id, occurrence FROM reminder_occurrences "
                                     "WHERE delivery_key = ?"};
        query.bind(1, std::string{delivery_key});
        if (!query.executeStep())
            return std::optional<Delivery>{};
        const auto id = query.getColumn(0).getInt64();
        const Instant occurrence{seconds{query.getColumn(1).getInt64()}};
        SQLite::Statement reminder{db_, std::string{"SELECT "} + reminder_columns +
                                            " FROM reminder_reminders WHERE id = ?"};
        reminder.bind(1, id);
        if (!reminder.executeStep())
            return std::optional<Delivery>{};
        return std::optional<Delivery>{
            Delivery{read_reminder(reminder), occurrence, std::string{delivery_key}}};
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: find delivery", "commands");
    }
}

Result<std::vector<Delivery>> ReminderStore::unsent()
{
    const std::lock_guard lock{mutex_};
    try {
        std::string sql = "SELECT ";
        for (std::string_view column :
             {"r.id", "r.owner", "r.room", "r.target", "r.text", "r.schedule", "r.zone",
              "r.skip_holidays", "r.until_acknowledged", "r.due_at", "r.snoozed_until",
              "r.cancelled", "r.ping_room", "o.occurrence"})
            sql += std::string{column} + (column == "o.occurrence" ? "" : ", ");
        sql += " FROM reminder_occurrences o JOIN reminder_reminders r ON r.id = o.reminder_id "
               "WHERE o.status = 'pending' ORDER BY o.occurrence, r.id";
        SQLite::Statement query{db_, sql};
        std::vector<Delivery> deliveries;
        while (query.executeStep()) {
            auto reminder = read_reminder(query);
            const Instant occurrence{seconds{query.getColumn(13).getInt64()}};
            auto txn_id = reminder_txn_id(reminder.id, occurrence);
            deliveries.push_back({std::move(reminder), occurrence, std::move(txn_id)});
        }
        return deliveries;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: unsent", "commands");
    }
}

Result<bool> ReminderStore::cancel(std::int64_t id, const std::string& owner)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE reminder_reminders SET cancelled = 1 WHERE id = ? "
                                      "AND owner = ? AND cancelled = 0"};
        SQLite::bind(update, id, owner);
        return update.exec() == 1;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: cancel", "commands");
    }
}

Result<bool> ReminderStore::snooze(std::int64_t id, const std::string& owner, Instant until)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE reminder_reminders SET due_at = ?, snoozed_until = ? "
                                      "WHERE id = ? AND owner = ? AND cancelled = 0"};
        SQLite::bind(update, unix_seconds(until), unix_seconds(until), id, owner);
        return update.exec() == 1;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: snooze", "commands");
    }
}

Result<bool> ReminderStore::acknowledge(std::int64_t id, Instant now)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, std::string{"SELECT "} + reminder_columns +
                                         " FROM reminder_reminders WHERE id = ?"};
        query.bind(1, id);
        if (!query.executeStep())
            return false;
        const auto reminder = read_reminder(query);
        if (!reminder.until_acknowledged)
            return true; // nothing repeats: ✅ is just a thank-you
        const auto next =
            next_occurrence(reminder.schedule, now, zone_of(reminder), reminder.skip_holidays);
        SQLite::Statement update{
            db_, "UPDATE reminder_reminders SET due_at = ?, snoozed_until = NULL WHERE id = ?"};
        bind_optional(update, 1, next);
        update.bind(2, id);
        update.exec();
        return true;
    } catch (const std::exception& e) {
        return storage_error(e, "reminder store: acknowledge", "commands");
    }
}

} // namespace opalebot::commands
