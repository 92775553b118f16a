#pragma once

#include "commands/ticket_backend.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

/// A message for the requester of a watched ticket, to post in the ticket's conversation.
struct FollowUpNotice {
    std::string conversation; ///< "!room" or "!room|$thread", as the dialogue stored it
    std::string requester;    ///< Matrix id, to mention
    std::string ref;
    std::string markdown; ///< French
};

/// A ticket the bot watches for its requester.
struct WatchedTicket {
    std::string ref;
    std::string requester;
    std::string conversation;
    TicketStatus status = TicketStatus::created;
    std::string status_text;  ///< as last shown
    std::size_t log_size = 0; ///< public log entries already seen
};

struct FollowUpOptions {
    std::chrono::minutes interval{5}; ///< tickets.suivi_minutes
    std::function<TimePoint()> clock = std::chrono::system_clock::now;
};

/// The follow-up of tickets created from the salon (issue 4): table `ticket_follow_up` of the
/// shared state file. `poll` asks the backend about each watched ticket and says what changed:
/// a new status or new public log entries. Closed tickets are dropped; a backend failure leaves
/// everything as it was, for the next poll.
class TicketFollowUp {
public:
    /// Creates or migrates its tables in `state`. Throws on failure.
    TicketFollowUp(StateDatabase& state, TicketBackend& backend, FollowUpOptions options = {});

    /// Starts watching `ticket` (after its creation); a second call for the same ref is ignored.
    Result<Done> watch(const Ticket& ticket);

    /// One round over every watched ticket; never throws.
    std::vector<FollowUpNotice> poll();

    /// `poll()` when the interval has passed since the last round, else nothing.
    std::vector<FollowUpNotice> poll_if_due();

    /// The ticket `requester` filed in the thread `conversation` ("!room|$thread"), if it is
    /// still watched: their messages there are for it. Nothing for a room without a thread.
    std::optional<WatchedTicket> watched_in(const std::string& conversation,
                                            const std::string& requester);

    /// The watched tickets, for tests and diagnostics.
    std::vector<WatchedTicket> watched();

private:
    void save(const WatchedTicket& watched);
    void forget(const std::string& ref);

    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    TicketBackend& backend_;
    FollowUpOptions options_;
    std::optional<TimePoint> last_poll_;
};

/// The French message for what changed between `before` and `now` (empty when nothing did).
std::string follow_up_message(const WatchedTicket& before, const Ticket& now);

} // namespace opalebot::commands
