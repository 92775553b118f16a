#pragma once

// The weekly digest of the comité de suivi (issue 17, `rapports.hebdo`): once a week, the waves'
// dashboards with their charts, and what changed since the last digest.
#include "commands/eple_commands.hpp"
#include "commands/eple_store.hpp"
#include "commands/registry.hpp"
#include "commands/reminder_time.hpp"
#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// When and where the digest is posted: "chaque lundi 8h30" (the reminders' French, recurring),
/// the rooms, and the waves it covers (every wave that has EPLE when empty).
struct DigestSpec {
    Schedule schedule;
    bool skip_holidays = false;
    std::vector<std::string> rooms;
    std::vector<int> waves;
    std::string phrase;
};

/// The schedule of `phrase`, or an error whose message is the French reason, with an example.
Result<DigestSpec> parse_digest_schedule(std::string_view phrase);

/// One digest for one room.
struct DigestMessage {
    Instant occurrence;
    std::string room;
    std::string markdown;
    std::vector<OutgoingFile> files; ///< one chart per wave
    std::string delivery_key;        ///< "rapport-hebdo-<unix>-<n>": use it as txn id
};

/// A wave's dashboard with its chart: the reply of `!vague N graphique`.
using WaveReport = std::function<Reply(int vague)>;
/// The tickets opened and resolved between two days: the reply of `!tickets stats du … au …`.
using TicketReport = std::function<std::string(Instant from, Instant to)>;

struct WeeklyDigestOptions {
    std::string zone{default_zone};
    std::chrono::seconds grace{std::chrono::hours{1}}; ///< later than this after downtime: skipped
    /// The rule that makes an EPLE one to accompany, read at each digest (config reloads).
    std::function<DifficultyRule()> rule = [] { return DifficultyRule{}; };
};

/// The digest, its ledger and the EPLE as the last digest saw them (tables `digest_*` of the
/// shared state file). Each (occurrence, room) is claimed once in the ledger before it is sent:
/// exactly one digest a week, even across restarts. Thread-safe; the reports (charts, tickets
/// that may come from iTop) are gathered without holding the state file's lock.
class WeeklyDigest {
public:
    /// Creates or migrates its tables in `state`. Throws on a start-up failure.
    WeeklyDigest(StateDatabase& state, EpleStore& eple, WeeklyDigestOptions options = {});

    /// The configured digest (from `rapports.hebdo`), or none. Its next run is after `now`,
    /// unless one is already planned for the same schedule.
    Result<Done> configure(std::optional<DigestSpec> spec, Instant now);

    /// What a digest at `now` would say (`!rapport essai`), without claiming anything.
    Result<DigestMessage> preview(Instant now, const WaveReport& report,
                                  const TicketReport& tickets = {});

    /// Claims the due occurrence, if any, for every room, and records the EPLE as it saw them
    /// (the next digest's "since"), in one transaction. Send, then mark_sent().
    Result<std::vector<DigestMessage>> due(Instant now, const WaveReport& report,
                                           const TicketReport& tickets = {});

    /// Claimed digests not yet marked sent (a crash in between): resend them, same key.
    Result<std::vector<DigestMessage>> unsent();

    /// Marks a claimed digest as sent (queued in the outbox).
    Result<Done> mark_sent(const std::string& delivery_key);

private:
    /// What a digest shows that comes from elsewhere: each wave's dashboard and chart, the tickets.
    struct Gathered {
        std::vector<std::pair<int, Reply>> waves;
        std::string tickets;
        std::optional<Instant> last_run;
    };
    struct Composed {
        std::string markdown;
        std::vector<OutgoingFile> files;
        std::vector<std::pair<std::string, int>> seen; ///< UAI, band and accompany flag
    };
    Gathered gather(Instant now, const WaveReport& report, const TicketReport& tickets,
                    std::vector<int> waves, std::optional<Instant> last_run);
    Composed compose(Instant now, Gathered parts);
    std::optional<Instant> last_run_locked();

    EpleStore& eple_;
    WeeklyDigestOptions options_;
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    std::optional<DigestSpec> spec_;
};

/// Registers `!rapport essai` (admins): the digest as it would be posted now, to the admin only.
void add_digest_commands(Registry& registry, WeeklyDigest& digest, WaveReport report,
                         std::function<Instant()> clock = {}, TicketReport tickets = {});

} // namespace opalebot::commands
