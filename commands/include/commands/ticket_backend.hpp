#pragma once

#include "commands/registry.hpp"
#include "commands/ticket_fields.hpp"
#include "opalebot/result.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// A ticket's life (issue 4, built-in backend): new, assigned, pending, resolved, closed.
enum class TicketStatus { created, assigned, pending, resolved, closed };

/// The team a ticket is with (issue 4: SI2C, DRASI, national).
enum class Team { si2c, drasi, national };

std::string_view status_code(TicketStatus status);  ///< "new", "assigned"…
std::string_view status_label(TicketStatus status); ///< "nouveau", "assigné", "en attente"…
/// A status by code or French label, accents and case ignored ("résolu", "resolved", "clos").
std::optional<TicketStatus> parse_status(std::string_view text);
bool is_open(TicketStatus status);     ///< neither resolved nor closed
std::string_view team_name(Team team); ///< "SI2C", "DRASI", "national"
Team team_of(Service service);

using TimePoint = std::chrono::system_clock::time_point;

/// One entry of a ticket's public log (seen by the requester).
struct LogEntry {
    TimePoint at;
    std::string author; ///< Matrix id or agent name
    std::string text;
};

struct Ticket {
    std::string ref;   ///< "R-000001"
    std::string title; ///< "DRASI - Écran blanc à l'ouverture des mandats"
    Team team = Team::si2c;
    TicketStatus status = TicketStatus::created;
    std::string status_text; ///< the backend's own French label ("Escaladé (résolution)"), if any
    std::string requester;   ///< Matrix id of who filed it
    std::string caller_key;  ///< the backend's own key of the requester (iTop Person), if any
    std::string room;        ///< where it was filed (room, or room and thread), for follow-up
    std::string agent;       ///< who handles it; may be empty
    std::string link;        ///< a web link when the backend has one
    TicketFields fields;
    TimePoint created_at;
    TimePoint updated_at;
    std::optional<TimePoint> resolved_at;
    std::vector<LogEntry> log;                 ///< oldest first
    std::vector<std::string> attachment_names; ///< files sent during the dialogue
    /// What the backend recorded that the requester should know ("Demandeur dans iTop : …").
    std::string note;
    std::string pending_reason; ///< why the support waits, while pending (plain text)
    std::string solution;       ///< the support's answer, once resolved (plain text)
};

/// What creating a ticket needs. The idempotency key makes a retry return the first ticket.
struct NewTicket {
    std::string idempotency_key;
    std::string requester;
    std::string room;
    TicketFields fields;                 ///< complete; the title is ticket_title(fields)
    std::vector<Attachment> attachments; ///< screenshots sent in the thread during the dialogue
};

/// The `errcode` of a backend Error whose `message` is French and meant for the user (iTop
/// unreachable, caller unknown…); other messages are technical and only logged.
inline constexpr std::string_view user_facing_error = "TICKET_USER_MESSAGE";

/// The `errcode` of a backend Error whose French message says what must change first (a value
/// to correct, a contact the support must create): trying again as it is would fail the same way.
inline constexpr std::string_view user_facing_refusal = "TICKET_USER_REFUSAL";

/// The Error's message is French and for the user (either errcode above).
inline bool is_user_facing(const Error& error)
{
    return error.errcode == user_facing_error || error.errcode == user_facing_refusal;
}

/// The label to show for a ticket's status: the backend's own when it has one.
std::string_view shown_status(const Ticket& ticket);

/// Where tickets live: the built-in SQLite store, or iTop (adapted in `bot/`, issue 4).
class TicketBackend {
public:
    virtual ~TicketBackend() = default;
    /// Creates the ticket, or returns the one already created with the same idempotency key.
    virtual Result<Ticket> create(const NewTicket& ticket) = 0;
    /// The ticket `ref` ("R-000123"), or nothing when there is none.
    virtual Result<std::optional<Ticket>> find(std::string_view ref) = 0;
    /// The same with what only a person reading it needs (attachments), when that costs the
    /// backend more calls than the follow-up should make.
    virtual Result<std::optional<Ticket>> details(std::string_view ref) { return find(ref); }
    /// The open tickets `requester` filed, newest first.
    virtual Result<std::vector<Ticket>> open_tickets_of(std::string_view requester) = 0;
    /// Sets the status (if given) and adds a public log entry (if `text` is not empty).
    virtual Result<Ticket> update(std::string_view ref, std::optional<TicketStatus> status,
                                  std::string_view text, std::string_view author) = 0;
    /// The tickets filed in [from, to), for statistics.
    virtual Result<std::vector<Ticket>> filed_between(TimePoint from, TimePoint to) = 0;
    /// Attaches a file the requester sent in the ticket's thread. By default a log entry names
    /// it (the built-in store keeps no files).
    virtual Result<Done> attach(std::string_view ref, const Attachment& file,
                                std::string_view author)
    {
        auto logged =
            update(ref, std::nullopt, "Fichier envoyé dans le fil : " + file.name, author);
        if (!logged)
            return logged.error();
        return Done{};
    }
    /// Whether `requester` (a Matrix id) asked for this ticket: by default, who filed it here.
    /// A backend whose tickets are also filed elsewhere (by phone in iTop) knows better.
    virtual bool is_requester(const Ticket& ticket, std::string_view requester)
    {
        return ticket.requester == requester;
    }
    /// How the backend will file a ticket for `service`, in French for the summary card
    /// ("équipe DRASI, type incident"); empty when there is nothing to add.
    virtual std::string triage_text(Service /*service*/) const { return {}; }
};

} // namespace opalebot::commands
