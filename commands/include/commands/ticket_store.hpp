#pragma once

#include "commands/eple_commands.hpp"
#include "commands/ticket_backend.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <functional>
#include <mutex>
#include <string>

namespace opalebot::commands {

/// The built-in ticket backend (issue 4): tables prefixed `ticket_` of the bot's state database,
/// with their own schema version (table `ticket_schema`). References R-000001… follow the row id.
/// Every call is serialised; every write is one transaction. It also tells `!eple` how many
/// tickets an EPLE has open.
class TicketStore final : public TicketBackend, public TicketSource {
public:
    using Clock = std::function<TimePoint()>;
    /// Creates or migrates its tables in `state`. Throws on failure.
    explicit TicketStore(StateDatabase& state, Clock clock = std::chrono::system_clock::now);

    Result<Ticket> create(const NewTicket& ticket) override;
    Result<std::optional<Ticket>> find(std::string_view ref) override;
    Result<std::vector<Ticket>> open_tickets_of(std::string_view requester) override;
    Result<Ticket> update(std::string_view ref, std::optional<TicketStatus> status,
                          std::string_view text, std::string_view author) override;
    Result<std::vector<Ticket>> filed_between(TimePoint from, TimePoint to) override;
    std::optional<int> open_tickets(std::string_view uai) override;

    /// Hands the ticket to `team` (support staff); adds a log entry saying so.
    Result<Ticket> assign(std::string_view ref, Team team, std::string_view agent);

private:
    std::optional<Ticket> read(std::int64_t id);
    std::vector<Ticket> read_where(const std::string& where,
                                   const std::function<void(SQLite::Statement&)>& bind);

    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    Clock clock_;
};

/// "R-000123" → 123; nothing when `ref` is not a reference.
std::optional<std::int64_t> parse_reference(std::string_view ref);
std::string format_reference(std::int64_t id); ///< 123 → "R-000123"

} // namespace opalebot::commands
