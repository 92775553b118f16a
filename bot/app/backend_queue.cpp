#include "backend_queue.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>

#include <array>
#include <chrono>

namespace opalebot::app {
namespace {

constexpr std::array<const char*, 1> schema_steps = {R"sql(
CREATE TABLE backend_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    lane TEXT NOT NULL,
    payload TEXT NOT NULL,
    attachment BLOB,
    reply TEXT,
    queued_at INTEGER NOT NULL
);
CREATE INDEX backend_jobs_by_lane ON backend_jobs (lane);
)sql"};
constexpr Schema schema{"backend_jobs", schema_steps};

} // namespace

BackendQueue::BackendQueue(StateDatabase& state) : db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

Result<Done> BackendQueue::add(const BackendJob& job)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement insert{db_, "INSERT INTO backend_jobs (event_id, lane, payload, "
                                      "attachment, queued_at) VALUES (?, ?, ?, ?, ?) "
                                      "ON CONFLICT (event_id) DO NOTHING"};
        SQLite::bind(insert, job.event_id, job.lane, job.payload);
        if (job.attachment)
            insert.bind(4, job.attachment->data(), static_cast<int>(job.attachment->size()));
        else
            insert.bind(4);
        insert.bind(
            5, static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()));
        insert.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "backend jobs: adding " + job.event_id, "main");
    }
}

Result<std::vector<BackendJob>> BackendQueue::pending()
{
    const std::lock_guard lock{mutex_};
    try {
        std::vector<BackendJob> jobs;
        SQLite::Statement query{db_, "SELECT event_id, lane, payload, attachment, reply FROM "
                                     "backend_jobs ORDER BY seq"};
        while (query.executeStep()) {
            BackendJob job{query.getColumn(0).getString(), query.getColumn(1).getString(),
                           query.getColumn(2).getString(), std::nullopt, std::nullopt};
            if (const auto file = query.getColumn(3); !file.isNull())
                job.attachment = std::string{static_cast<const char*>(file.getBlob()),
                                             static_cast<std::size_t>(file.getBytes())};
            if (const auto reply = query.getColumn(4); !reply.isNull())
                job.reply = reply.getString();
            jobs.push_back(std::move(job));
        }
        return jobs;
    } catch (const std::exception& e) {
        return storage_error(e, "backend jobs: reading", "main");
    }
}

bool BackendQueue::busy(const std::string& lane)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, "SELECT 1 FROM backend_jobs WHERE lane = ? LIMIT 1"};
        query.bind(1, lane);
        return query.executeStep();
    } catch (const std::exception& e) {
        static_cast<void>(storage_error(e, "backend jobs: reading", "main"));
        return false;
    }
}

Result<Done> BackendQueue::set_reply(const std::string& event_id, const std::string& reply)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE backend_jobs SET reply = ? WHERE event_id = ?"};
        SQLite::bind(update, reply, event_id);
        update.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "backend jobs: keeping the reply of " + event_id, "main");
    }
}

Result<Done> BackendQueue::finish(const std::string& event_id)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement erase{db_, "DELETE FROM backend_jobs WHERE event_id = ?"};
        erase.bind(1, event_id);
        erase.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "backend jobs: finishing " + event_id, "main");
    }
}

} // namespace opalebot::app
