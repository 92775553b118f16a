#pragma once

#include "bot/itop_client.hpp"
#include "commands/eple_commands.hpp"
#include "commands/ticket_backend.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace opalebot::app {

/// How the service desk wants a ticket of one service filed, so that an agent can assign it
/// (iTop's ev_assign needs request_type, notes/itop.md §13).
struct ItopTriage {
    std::string team;         ///< Team name: "SI2C"; empty: none
    std::string subcategory;  ///< ServiceSubcategory of the service; empty: none
    std::string request_type; ///< "incident" / "service_request"; empty: the subcategory's
    std::string urgency = "3";
    std::string impact = "3";
};

struct ItopBackendOptions {
    /// Matrix id → email, for users whose Tchap id does not give the address (config).
    std::map<std::string, std::string, std::less<>> emails;
    std::string itop_url; ///< iTop root, for the "Voir le ticket" link; empty: no link
    /// The link a requester can open: "{url}" and "{id}" are replaced; empty: the user portal.
    std::string ticket_link;
    /// iTop's own time zone, in which it reads and writes every date; null: Europe/Paris.
    const date::time_zone* zone = nullptr;
    std::string service = "op@le";
    ItopTriage si2c{"SI2C", {}, "service_request"};
    ItopTriage drasi{"DRASI", {}, "incident"};
};

/// The user portal's page of a ticket (iTop 3.x portal "itop-portal").
inline constexpr std::string_view default_ticket_link =
    "{url}/pages/exec.php/object/view/UserRequest/{id}?exec_module=itop-portal-base&exec_page="
    "index.php&portal_id=itop-portal";

/// The iTop ticket backend (issue 4): UserRequests created over ItopClient with the caller found
/// by email and the EPLE by UAI, looked up by ref. Retries are idempotent: the dialogue's key is
/// written in the description and kept in table `itop_tickets` of the state file, and both are
/// checked before creating. Every failure is an Error whose message is French, for the user
/// (errcode commands::user_facing_error), and whose cause is logged at warn for admins.
class ItopTicketBackend final : public commands::TicketBackend, public commands::TicketSource {
public:
    /// Creates or migrates its table in `state`. Throws.
    ItopTicketBackend(bot::ItopClient& itop, StateDatabase& state, ItopBackendOptions options);

    Result<commands::Ticket> create(const commands::NewTicket& ticket) override;
    Result<std::optional<commands::Ticket>> find(std::string_view ref) override;
    /// find() and the names of the files attached in iTop (one more call: not for follow-up).
    Result<std::optional<commands::Ticket>> details(std::string_view ref) override;
    Result<std::vector<commands::Ticket>> open_tickets_of(std::string_view requester) override;
    /// Adds a public log entry; a status is changed in iTop only (its lifecycle needs a team,
    /// an agent, a solution…), so asking for one is refused in French.
    Result<commands::Ticket> update(std::string_view ref,
                                    std::optional<commands::TicketStatus> status,
                                    std::string_view text, std::string_view author) override;
    Result<std::vector<commands::Ticket>> filed_between(commands::TimePoint from,
                                                        commands::TimePoint to) override;
    /// Open UserRequests of the Organization whose code is `uai`; nothing when iTop fails.
    std::optional<int> open_tickets(std::string_view uai) override;
    /// Who filed it here, or any Person of iTop with the requester's email (a ticket an agent
    /// logged by phone): `!ticket R-…` then agrees with `!tickets`.
    bool is_requester(const commands::Ticket& ticket, std::string_view requester) override;
    std::string triage_text(commands::Service service) const override;
    /// An Attachment of the UserRequest in iTop, and a public log entry that names it.
    Result<Done> attach(std::string_view ref, const commands::Attachment& file,
                        std::string_view author) override;

    /// The caller's email: the configured mapping first, else derived from the Tchap id.
    std::optional<std::string> email_of(std::string_view matrix_id) const;

    /// The triage of each service from now on (the configuration reloaded); any thread.
    void set_triage(const ItopBackendOptions& options);

private:
    struct Known {
        std::string ref, requester, room;
    };
    std::optional<Known> known_by_key(const std::string& key);
    std::optional<Known> known_by_ref(std::string_view ref);
    void remember(const std::string& key, const Known& known);
    commands::Ticket to_ticket(const bot::ItopTicket& t);
    /// The UserRequest `ref` as iTop holds it; nothing for an unknown or malformed ref.
    Result<std::optional<bot::ItopTicket>> fetch(std::string_view ref);
    ItopTriage triage(commands::Service service) const;
    /// The Person to record as caller: the one of the EPLE's organisation, else the first
    /// active one (an agent comptable has one per EPLE); a note says which when there was a
    /// choice.
    Result<std::pair<bot::ItopPerson, std::string>> caller(const std::string& email,
                                                           const std::string& uai);

    bot::ItopClient& itop_;
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    ItopBackendOptions options_;
    mutable std::mutex triage_mutex_; ///< set_triage may come while a ticket is filed
};

/// One finding of the online check of the iTop configuration, in French.
struct ItopCheck {
    bool ok = false;
    std::string text; ///< "Service « op@le » trouvé" / what is wrong and what to do
};

/// Logs into iTop and finds what tickets need: the service, each triage team and subcategory,
/// an organisation with a code (UAI). Stops at the first failure that makes the rest pointless
/// (unreachable, refused login).
std::vector<ItopCheck> check_itop_online(bot::ItopClient& itop, const ItopBackendOptions& options);

/// The email behind a Tchap id: "@prenom.nom-ac-lille.fr:agent…" → "prenom.nom@ac-lille.fr"
/// (notes/matrix.md §7.5: "@" became "-"; a hyphenated académie domain "ac-…" is kept whole,
/// a legacy numeric suffix dropped). Nothing when the id does not hold an address.
std::optional<std::string> email_from_tchap_id(std::string_view matrix_id);

/// A matrix.to link to the conversation "!room:hs" or "!room:hs|$thread"; empty for "".
std::string conversation_link(std::string_view conversation);

/// The description of the UserRequest: every detail, user text escaped, the link to the thread
/// and the idempotency key (searched before creating again).
std::string description_html(const commands::NewTicket& ticket);

/// iTop status code → the bot's status ("escalated_ttr" → assigned, "rejected" → closed).
commands::TicketStatus status_of(std::string_view itop_status);

/// The team from its iTop friendly name, else from the title's "SI2C - " / "DRASI - ".
commands::Team team_of(std::string_view team_name, std::string_view title);

/// "YYYY-MM-DD HH:MM:SS" in iTop's time zone → instant; nothing when malformed. An hour that
/// occurs twice (autumn) is read as the first.
std::optional<commands::TimePoint> parse_itop_date(std::string_view text,
                                                   const date::time_zone& zone);
/// The reverse, for OQL bounds.
std::string format_itop_date(commands::TimePoint at, const date::time_zone& zone);

} // namespace opalebot::app
