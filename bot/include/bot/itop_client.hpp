#pragma once

#include "bot/alerts.hpp"
#include "bot/http_client.hpp"
#include "opalebot/result.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::bot {

/// Where and as whom the bot reaches iTop (notes/itop.md §1–2). Credentials go in the POST body
/// or the Auth-Token header, never in the URL.
struct ItopSettings {
    std::string url;      ///< iTop root: "https://assistance.ac-lille.fr/itop"
    std::string user;     ///< a UserLocal with the "REST Services User" profile
    std::string password; ///< or:
    std::string token;    ///< a personal or application token (iTop 3.1+)
    std::string comment = "Créé par opale-bot"; ///< the change-tracking comment every write needs
    std::chrono::milliseconds timeout{30'000};  ///< per call
};

/// One entry of a ticket's public log.
struct ItopLogEntry {
    std::string date; ///< "2026-11-23 11:27:58", server time
    std::string author;
    std::string message; ///< plain text
};

/// A UserRequest as the bot shows it; every value comes as a string from iTop.
struct ItopTicket {
    std::string id;     ///< internal key: never shown, never used to look a ticket up
    std::string org_id; ///< for attachments
    std::string ref;    ///< "R-000123"
    std::string title;
    std::string status;       ///< code: "new", "assigned"…
    std::string team;         ///< friendly name, empty when none
    std::string agent;        ///< friendly name, empty when none (iTop may send " ")
    std::string caller_id;    ///< the Person who asked ("0": none)
    std::string request_type; ///< "incident", "service_request"; empty when unset (JSON null)
    std::string start_date;   ///< "YYYY-MM-DD HH:MM:SS" in iTop's time zone
    std::string last_update;
    std::string resolution_date; ///< empty until resolved
    std::string pending_reason;  ///< plain text
    std::string solution;        ///< iTop keeps HTML; this is its text
    std::vector<ItopLogEntry> public_log;
};

/// A Person (contact) of iTop, as the bot needs it to name the caller of a ticket.
struct ItopPerson {
    std::string id;
    std::string name; ///< friendly name: "Claire Durand"
    std::string org_id;
    std::string org_name;
    bool active = true;
};

/// What the bot files: the académie's rules (service op@le, SI2C/DRASI title, every detail) and
/// the triage the service desk needs to assign it (team, subcategory, request type).
struct ItopNewRequest {
    std::string organisation_uai; ///< the EPLE, found by its UAI (Organization.code)
    std::string caller_id;        ///< the Person who asks (see ItopClient::persons_with_email)
    std::string title;            ///< "SI2C - …" or "DRASI - …"
    std::string description_html; ///< user text already escaped
    std::string service_name = "op@le";
    std::string team_name;        ///< "SI2C"; empty: no team
    std::string subcategory_name; ///< a ServiceSubcategory of the service; empty: none
    std::string request_type;     ///< "incident" / "service_request"; empty: from the subcategory
    std::string urgency = "3";    ///< priority is computed by iTop from urgency and impact
    std::string impact = "3";
};

/// The iTop REST/JSON API (version 1.3) over the HttpClient seam: each call is one POST of form
/// fields with `json_data`; HTTP is always 200 and the integer `code` says how it went.
class ItopClient {
public:
    ItopClient(HttpClient& http, ItopSettings settings);

    /// core/create UserRequest with origin "chat"; returns the ticket with its ref.
    Result<ItopTicket> create(const ItopNewRequest& request);
    /// core/get by ref (a criteria object: nothing to escape); nothing when there is none.
    Result<std::optional<ItopTicket>> find(std::string_view ref);
    /// The caller's tickets that are not closed or rejected.
    Result<std::vector<ItopTicket>> open_tickets_of(std::string_view caller_email);
    /// core/get of the UserRequests an OQL query selects; user text in it must go through
    /// oql_quote (there are no bound parameters over REST, notes/itop.md §9).
    Result<std::vector<ItopTicket>> query(std::string_view oql);
    /// core/update adding one public log entry (plain text).
    Result<Done> add_public_log(std::string_view ref, std::string_view text);
    /// core/create Attachment on a ticket.
    Result<Done> attach(const ItopTicket& ticket, std::string_view filename,
                        std::string_view mimetype, std::string_view bytes);
    /// The Persons whose email is `email`; with `organisation_uai`, only those of that
    /// Organization. An agent comptable may have one Person per EPLE (notes/itop.md §13).
    Result<std::vector<ItopPerson>> persons_with_email(std::string_view email,
                                                       std::string_view organisation_uai = {});
    /// The file names attached to a ticket.
    Result<std::vector<std::string>> attachment_names(const ItopTicket& ticket);
    /// core/get of one object of `oql_class` selected by `oql` (configuration checks): its
    /// friendly name, or nothing when there is none.
    Result<std::optional<std::string>> first_name_of(std::string_view oql_class,
                                                     std::string_view oql);
    /// core/check_credentials for the configured account.
    Result<bool> check_credentials();

    /// Where each call's outcome is counted (unreachable, HTTP error, or answered): the
    /// alerts room hears of an outage, `!statut` shows it. None: not counted.
    void set_health(ServiceHealth* health) { health_ = health; }

private:
    Result<std::string> call(const std::string& json_data);

    HttpClient& http_;
    ItopSettings settings_;
    ServiceHealth* health_ = nullptr;
};

/// A string as an OQL literal in double quotes. Only `\"` and `\\` are valid escapes there:
/// iTop 3.2 rejects `\'` ("Unexpected input", notes/itop.md §13).
std::string oql_quote(std::string_view text);

/// The text of the HTML iTop's editor writes (solution, description): paragraphs and line breaks
/// as newlines, list items as "- ", other tags dropped, entities decoded.
std::string text_of_html(std::string_view html);

/// The French label of a UserRequest status code ("assigned" → "Assignée").
std::string_view itop_status_label(std::string_view status);

} // namespace opalebot::bot
