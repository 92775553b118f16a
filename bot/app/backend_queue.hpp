#pragma once

#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::app {

/// A message or reaction whose handling waits on the ticket backend (iTop), kept in the state
/// file until its reply is queued: a crash in between runs it again at the next start (ticket
/// creation is idempotent, and the reply's txn id lets the homeserver drop a duplicate).
struct BackendJob {
    std::string event_id; ///< the message's or the reaction's: its reply's txn id comes from it
    std::string lane;     ///< "sender|conversation": jobs of one lane run in order
    std::string payload;  ///< JSON, written and read by Conversations
    std::optional<std::string> attachment; ///< a file that came with the message
    std::optional<std::string> reply;      ///< JSON: computed, not yet queued for sending
};

/// The jobs (table `backend_jobs` of the state file), oldest first.
class BackendQueue {
public:
    /// Creates or migrates its table. Throws.
    explicit BackendQueue(StateDatabase& state);

    /// Adds `job`; the same event twice (a batch handled again) is one job.
    Result<Done> add(const BackendJob& job);
    /// Every job not finished, oldest first.
    Result<std::vector<BackendJob>> pending();
    /// Whether a job of `lane` is not finished: a later message of the lane must wait for it.
    bool busy(const std::string& lane);
    /// Keeps the reply computed for the job: after a crash it is sent, not computed again (the
    /// ticket dialogue it came from is gone once the ticket exists).
    Result<Done> set_reply(const std::string& event_id, const std::string& reply);
    /// Removes the job once its reply is queued.
    Result<Done> finish(const std::string& event_id);

private:
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
};

} // namespace opalebot::app
