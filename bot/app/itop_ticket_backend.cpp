#include "itop_ticket_backend.hpp"

#include "bot/addressing.hpp"        // Conversation
#include "bot/markdown.hpp"          // escape_html
#include "bot/matrix_client.hpp"     // url_encode
#include "commands/ticket_store.hpp" // parse_reference
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <date/tz.h>

namespace opalebot::app {
namespace {

using commands::Team;
using commands::Ticket;
using commands::TicketStatus;
using commands::TimePoint;

constexpr std::string_view key_label = "Référence opale-bot : ";

// IF NOT EXISTS: releases up to c96ed71 created the table without recording a version.
constexpr std::array<const char*, 1> schema_steps = {R"sql(
CREATE TABLE IF NOT EXISTS itop_tickets (
    idempotency_key TEXT PRIMARY KEY,
    ref TEXT NOT NULL,
    requester TEXT NOT NULL,
    room TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS itop_tickets_by_ref ON itop_tickets (ref);
)sql"};
constexpr Schema schema{"itop_tickets", schema_steps};

Error user_error(std::string message, const Error& cause = {})
{
    return Error{cause.kind,         cause.code, std::string{commands::user_facing_error},
                 std::move(message), {},         false};
}

/// iTop said no: the same request would be refused again (commands::user_facing_refusal).
Error refusal(std::string message, const Error& cause = {})
{
    auto error = user_error(std::move(message), cause);
    error.errcode = commands::user_facing_refusal;
    return error;
}

std::string unknown_caller(std::string_view email)
{
    return "Votre adresse " + std::string{email} +
           " n'est pas connue d'iTop : demandez au support de créer votre fiche contact, ou à "
           "l'administrateur du bot d'associer votre compte à votre adresse.";
}

/// The cause logged for admins (never a secret: ItopClient errors hold none), the user told in
/// French what it means for them.
Error failed(const Error& cause, std::string_view what, std::string_view email = {},
             std::string_view uai = {})
{
    log::get("bot.itop")
        ->warn("iTop {} failed: kind {} code {} {}", what, static_cast<int>(cause.kind), cause.code,
               cause.message);
    switch (cause.kind) {
    case Error::Kind::transport:
        return user_error(cause.code == 28 // CURLE_OPERATION_TIMEDOUT
                              ? "iTop n'a pas répondu à temps. Réessayez dans quelques minutes."
                              : "iTop est injoignable pour le moment. Réessayez dans quelques "
                                "minutes.",
                          cause);
    case Error::Kind::http:
        return user_error("iTop a répondu par une erreur (HTTP " + std::to_string(cause.code) +
                              "). Réessayez dans quelques minutes.",
                          cause);
    case Error::Kind::parse:
        return user_error("iTop a renvoyé une réponse illisible (maintenance ?). Réessayez dans "
                          "quelques minutes.",
                          cause);
    default:
        break;
    }
    if (cause.code == 1)
        return refusal("iTop refuse le compte du bot (identifiants ou droits) : les "
                       "administrateurs doivent vérifier sa configuration.",
                       cause);
    const auto& m = cause.message;
    if (m.find("caller_id") != std::string::npos)
        return refusal(unknown_caller(email), cause);
    if (m.find("org_id") != std::string::npos)
        return refusal("L'établissement " + std::string{uai} +
                           " n'est pas connu d'iTop : vérifiez l'UAI (corrigez avec uai=…) ou "
                           "signalez-le au support.",
                       cause);
    if (m.find("service_id") != std::string::npos ||
        m.find("servicesubcategory_id") != std::string::npos ||
        m.find("team_id") != std::string::npos || m.find("request_type") != std::string::npos)
        return refusal("Le service, l'équipe ou la catégorie configurés pour les tickets sont "
                       "introuvables dans iTop : les administrateurs doivent vérifier la "
                       "configuration du bot (opale-bot config check --en-ligne).",
                       cause);
    if (const auto at = m.find("String too long"); at != std::string::npos) {
        const auto limit = m.substr(at, m.find(')', at) - at + 1);
        return refusal(m.find("'Titre'") != std::string::npos
                           ? "iTop trouve le titre trop long (" + limit + ") : raccourcissez-le."
                           : "iTop trouve la description trop longue (" + limit +
                                 ") : raccourcissez-la.",
                       cause);
    }
    return refusal("iTop a refusé la demande (code " + std::to_string(cause.code) +
                       ", détails notés pour les administrateurs).",
                   cause);
}

/// Text as HTML paragraphs, newlines kept.
std::string paragraphs(std::string_view text)
{
    std::string out = "<p>";
    for (const char c : bot::escape_html(text))
        out += c == '\n' ? std::string{"<br>"} : std::string(1, c);
    return out + "</p>";
}

std::string mime_type(std::string_view name)
{
    std::string ext{name.substr(std::min(name.rfind('.'), name.size()))};
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".png")
        return "image/png";
    if (ext == ".jpg" || ext == ".jpeg")
        return "image/jpeg";
    if (ext == ".gif")
        return "image/gif";
    if (ext == ".pdf")
        return "application/pdf";
    if (ext == ".txt" || ext == ".log")
        return "text/plain";
    if (ext == ".csv")
        return "text/csv";
    return "application/octet-stream";
}

} // namespace

std::optional<std::string> email_from_tchap_id(std::string_view id)
{
    if (id.size() < 4 || id[0] != '@')
        return std::nullopt;
    const auto colon = id.find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    std::string local{id.substr(1, colon - 1)};
    std::transform(local.begin(), local.end(), local.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!local.empty() && std::isdigit(static_cast<unsigned char>(local.back())) != 0)
        local.pop_back(); // a legacy numeric suffix: top-level domains end with a letter
    // An académie domain is hyphenated itself (ac-lille.fr, ac-nancy-metz.fr): keep it whole.
    auto at = local.rfind("-ac-");
    if (at == std::string::npos || local.find('.', at) == std::string::npos)
        at = local.rfind('-');
    if (at == std::string::npos || at == 0)
        return std::nullopt;
    const auto domain = local.substr(at + 1);
    const auto dot = domain.find('.');
    if (dot == std::string::npos || dot == 0 || domain.back() == '.')
        return std::nullopt;
    return local.substr(0, at) + "@" + domain;
}

std::string conversation_link(std::string_view conversation)
{
    if (conversation.empty())
        return {};
    const auto where = bot::Conversation::from_key(conversation);
    std::string link = "https://matrix.to/#/" + bot::url_encode(where.room_id);
    if (!where.thread_root.empty())
        link += "/" + bot::url_encode(where.thread_root);
    if (const auto colon = where.room_id.find(':'); colon != std::string::npos)
        link += "?via=" + bot::url_encode(where.room_id.substr(colon + 1));
    return link;
}

std::string description_html(const commands::NewTicket& ticket)
{
    using commands::Field;
    const auto& f = ticket.fields;
    const auto item = [](std::string_view label, std::string_view value) {
        return "<li><strong>" + bot::escape_html(label) + "</strong> : " + bot::escape_html(value) +
               "</li>";
    };
    std::string eple = f.eple_nom.empty() ? f.uai : f.eple_nom + " (" + f.uai + ")";
    std::string html = "<p>Demande déposée depuis le salon Op@le (Tchap) par " +
                       bot::escape_html(ticket.requester) + ".</p><ul>";
    html += item(commands::field_label(Field::titre), f.titre);
    html += item(commands::field_label(Field::service),
                 commands::service_name(f.service.value_or(commands::Service::si2c)));
    html += item(commands::field_label(Field::eple), eple);
    if (f.env)
        html += item(commands::field_label(Field::env), commands::environment_label(*f.env));
    html += item(commands::field_label(Field::sphere), f.sphere);
    html += item(commands::field_label(Field::profil), f.profil);
    html += item(commands::field_label(Field::nom), f.nom);
    html += item(commands::field_label(Field::prenom), f.prenom);
    html += item(commands::field_label(Field::fonction), f.fonction);
    html += "</ul>";
    for (const auto& [field, text] :
         {std::pair{Field::description, &f.description},
          std::pair{Field::operations, &f.operations}, std::pair{Field::erreurs, &f.erreurs}})
        html += "<p><strong>" + bot::escape_html(commands::field_label(field)) + "</strong></p>" +
                paragraphs(*text);
    if (!ticket.attachments.empty()) {
        html += "<p>Pièces jointes : ";
        for (std::size_t i = 0; i < ticket.attachments.size(); ++i)
            html += (i == 0 ? "" : ", ") + bot::escape_html(ticket.attachments[i].name);
        html += "</p>";
    }
    if (const auto link = conversation_link(ticket.room); !link.empty())
        html += "<p><a href=\"" + bot::escape_html(link) + "\">Fil de discussion Tchap</a></p>";
    html += "<p>" + bot::escape_html(key_label) + bot::escape_html(ticket.idempotency_key) + "</p>";
    return html;
}

TicketStatus status_of(std::string_view s)
{
    if (s == "assigned" || s == "escalated_ttr")
        return TicketStatus::assigned;
    if (s == "pending")
        return TicketStatus::pending;
    if (s == "resolved")
        return TicketStatus::resolved;
    if (s == "closed" || s == "rejected")
        return TicketStatus::closed;
    return TicketStatus::created; // new, waiting_for_approval, approved, escalated_tto
}

Team team_of(std::string_view team_name, std::string_view title)
{
    std::string name{team_name};
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (name.find("DRASI") != std::string::npos)
        return Team::drasi;
    if (name.find("SI2C") != std::string::npos)
        return Team::si2c;
    if (!name.empty())
        return Team::national; // any other team is beyond the académie's first level
    return title.starts_with("DRASI") ? Team::drasi : Team::si2c;
}

std::optional<TimePoint> parse_itop_date(std::string_view text, const date::time_zone& zone)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    const std::string copy{text};
    if (std::sscanf(copy.c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6)
        return std::nullopt;
    const std::chrono::year_month_day day{std::chrono::year{y},
                                          std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!day.ok())
        return std::nullopt;
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
        return std::nullopt;
    const auto local = date::local_days{date::year{y} / mo / d} + std::chrono::hours{h} +
                       std::chrono::minutes{mi} + std::chrono::seconds{s};
    // a time skipped in spring reads as the instant the clocks jumped to
    return TimePoint{zone.to_sys(local, date::choose::earliest)};
}

std::string format_itop_date(TimePoint at, const date::time_zone& zone)
{
    const auto local = zone.to_local(std::chrono::floor<std::chrono::seconds>(at));
    const auto secs = std::chrono::sys_seconds{local.time_since_epoch()};
    const auto days = std::chrono::floor<std::chrono::days>(secs);
    const std::chrono::year_month_day day{days};
    const std::chrono::hh_mm_ss time{secs - days};
    char text[32];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(day.year()),
                  static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return text;
}

ItopTicketBackend::ItopTicketBackend(bot::ItopClient& itop, StateDatabase& state,
                                     ItopBackendOptions options)
    : itop_(itop), db_(state.connection()), mutex_(state.mutex()), options_(std::move(options))
{
    while (!options_.itop_url.empty() && options_.itop_url.back() == '/')
        options_.itop_url.pop_back();
    if (options_.zone == nullptr)
        options_.zone = date::locate_zone("Europe/Paris"); // iTop's default
    if (options_.ticket_link.empty())
        options_.ticket_link = default_ticket_link;
    state.migrate(schema);
}

ItopTriage ItopTicketBackend::triage(commands::Service service) const
{
    const std::lock_guard lock{triage_mutex_};
    return service == commands::Service::drasi ? options_.drasi : options_.si2c;
}

void ItopTicketBackend::set_triage(const ItopBackendOptions& options)
{
    const std::lock_guard lock{triage_mutex_};
    options_.si2c = options.si2c;
    options_.drasi = options.drasi;
}

std::string ItopTicketBackend::triage_text(commands::Service service) const
{
    const auto t = triage(service);
    std::string text = "service " + options_.service;
    if (!t.team.empty())
        text += ", équipe " + t.team;
    if (!t.subcategory.empty())
        text += ", sous-catégorie « " + t.subcategory + " »";
    if (t.request_type == "incident")
        text += ", type incident";
    else if (t.request_type == "service_request")
        text += ", type demande de service";
    text += ", urgence " + t.urgency + ", impact " + t.impact;
    return text;
}

std::optional<std::string> ItopTicketBackend::email_of(std::string_view matrix_id) const
{
    if (const auto it = options_.emails.find(matrix_id); it != options_.emails.end())
        return it->second;
    return email_from_tchap_id(matrix_id);
}

std::optional<ItopTicketBackend::Known> ItopTicketBackend::known_by_key(const std::string& key)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{
        db_, "SELECT ref, requester, room FROM itop_tickets WHERE idempotency_key = ?"};
    query.bind(1, key);
    if (!query.executeStep())
        return std::nullopt;
    return Known{query.getColumn(0).getString(), query.getColumn(1).getString(),
                 query.getColumn(2).getString()};
}

std::optional<ItopTicketBackend::Known> ItopTicketBackend::known_by_ref(std::string_view ref)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement query{
        db_, "SELECT ref, requester, room FROM itop_tickets WHERE ref = ? COLLATE NOCASE"};
    query.bind(1, std::string{ref});
    if (!query.executeStep())
        return std::nullopt;
    return Known{query.getColumn(0).getString(), query.getColumn(1).getString(),
                 query.getColumn(2).getString()};
}

void ItopTicketBackend::remember(const std::string& key, const Known& known)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement insert{db_, "INSERT INTO itop_tickets (idempotency_key, ref, requester, "
                                  "room) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"};
    SQLite::bind(insert, key, known.ref, known.requester, known.room);
    insert.exec();
}

Ticket ItopTicketBackend::to_ticket(const bot::ItopTicket& t)
{
    Ticket out;
    out.ref = t.ref;
    out.title = t.title;
    out.status = status_of(t.status);
    out.status_text = std::string{bot::itop_status_label(t.status)};
    out.team = team_of(t.team, t.title);
    out.agent = t.agent;
    out.caller_key = t.caller_id;
    out.pending_reason = t.pending_reason;
    out.solution = t.solution;
    if (!options_.itop_url.empty() && !t.id.empty()) {
        out.link = options_.ticket_link;
        for (const auto& [name, value] :
             {std::pair{std::string_view{"{url}"}, options_.itop_url},
              std::pair{std::string_view{"{id}"}, bot::url_encode(t.id)}})
            for (auto at = out.link.find(name); at != std::string::npos;
                 at = out.link.find(name, at + value.size()))
                out.link.replace(at, name.size(), value);
    }
    const auto& zone = *options_.zone;
    const auto now = std::chrono::system_clock::now();
    out.created_at = parse_itop_date(t.start_date, zone).value_or(now);
    out.updated_at = parse_itop_date(t.last_update, zone).value_or(out.created_at);
    out.resolved_at = parse_itop_date(t.resolution_date, zone);
    if (!out.resolved_at && !commands::is_open(out.status))
        out.resolved_at = out.updated_at;
    // iTop 3.2 sends the log oldest first (notes/itop.md §13); sorted anyway by date
    for (const auto& e : t.public_log)
        out.log.push_back(
            {parse_itop_date(e.date, zone).value_or(out.updated_at), e.author, e.message});
    std::stable_sort(out.log.begin(), out.log.end(),
                     [](const auto& a, const auto& b) { return a.at < b.at; });
    try {
        if (auto known = known_by_ref(t.ref)) {
            out.requester = known->requester;
            out.room = known->room;
        }
    } catch (const std::exception& e) {
        log::get("bot.itop")->warn("itop_tickets unreadable: {}", e.what());
    }
    return out;
}

Result<std::pair<bot::ItopPerson, std::string>> ItopTicketBackend::caller(const std::string& email,
                                                                          const std::string& uai)
{
    auto in_eple = itop_.persons_with_email(email, uai);
    if (!in_eple)
        return failed(in_eple.error(), "core/get Person (EPLE)", email, uai);
    if (!in_eple.value().empty()) // two in the same organisation: the first, like below
        return std::pair{in_eple.value().front(), std::string{}};
    auto anywhere = itop_.persons_with_email(email);
    if (!anywhere)
        return failed(anywhere.error(), "core/get Person", email, uai);
    auto& persons = anywhere.value();
    if (persons.empty())
        return refusal(unknown_caller(email));
    const auto active = std::find_if(persons.begin(), persons.end(),
                                     [](const bot::ItopPerson& p) { return p.active; });
    const auto& chosen = active != persons.end() ? *active : persons.front();
    std::string note = "Demandeur enregistré dans iTop : " + chosen.name;
    if (!chosen.org_name.empty())
        note += " (" + chosen.org_name + ")";
    note += ", votre fiche contact n'étant pas rattachée à l'établissement " + uai + ".";
    return std::pair{chosen, std::move(note)};
}

Result<Ticket> ItopTicketBackend::create(const commands::NewTicket& ticket)
{
    const auto email = email_of(ticket.requester);
    if (!email)
        return user_error("Je ne trouve pas votre adresse électronique à partir de votre compte "
                          "Tchap : demandez à l'administrateur du bot de l'indiquer dans sa "
                          "configuration (tickets.itop.emails).");
    if (ticket.fields.uai.empty())
        return user_error("iTop a besoin de l'UAI de l'établissement : corrigez avec uai=… .");
    const auto complete = [&](Ticket t) {
        t.requester = ticket.requester;
        t.room = ticket.room;
        if (t.title.empty())
            t.title = commands::ticket_title(ticket.fields);
        t.fields = ticket.fields;
        return t;
    };
    try {
        // A retry: this key already gave a ticket (known here, or found in iTop below).
        if (const auto known = known_by_key(ticket.idempotency_key)) {
            auto found = itop_.find(known->ref);
            if (!found)
                return failed(found.error(), "core/get (retry)");
            if (found.value())
                return complete(to_ticket(*found.value()));
        }
        auto existing = itop_.query("SELECT UserRequest WHERE origin = \"chat\" AND description "
                                    "LIKE " +
                                    bot::oql_quote("%" + ticket.idempotency_key + "%"));
        if (!existing) // unknown whether it exists: creating now could make a second one
            return failed(existing.error(), "core/get (idempotency)");
        if (!existing.value().empty()) {
            auto t = complete(to_ticket(existing.value().front()));
            remember(ticket.idempotency_key, {t.ref, t.requester, t.room});
            log::get("bot.itop")->info("ticket {} already created for this dialogue", t.ref);
            return t;
        }
        // iTop counts characters, its database column bytes (notes/itop.md §13)
        if (const auto html = description_html(ticket); html.size() + 7 > 65535)
            return refusal("La demande est trop longue pour iTop : raccourcissez la description, "
                           "les opérations ou les messages d'erreur, et joignez les détails en "
                           "pièce jointe.");
        auto caller_found = caller(*email, ticket.fields.uai);
        if (!caller_found)
            return caller_found.error();
        const auto& [person, note] = caller_found.value();
        const auto rules = triage(ticket.fields.service.value_or(commands::Service::si2c));
        bot::ItopNewRequest request;
        request.organisation_uai = ticket.fields.uai;
        request.caller_id = person.id;
        request.title = commands::ticket_title(ticket.fields);
        request.description_html = description_html(ticket);
        request.service_name = options_.service;
        request.team_name = rules.team;
        request.subcategory_name = rules.subcategory;
        request.request_type = rules.request_type;
        request.urgency = rules.urgency;
        request.impact = rules.impact;
        auto created = itop_.create(request);
        if (!created)
            return failed(created.error(), "core/create", *email, ticket.fields.uai);
        remember(ticket.idempotency_key,
                 {created.value().ref, ticket.requester, ticket.room}); // before attaching
        auto t = complete(to_ticket(created.value()));
        t.note = note;
        for (const auto& file : ticket.attachments) {
            if (auto attached =
                    itop_.attach(created.value(), file.name, mime_type(file.name), file.content);
                !attached) {
                log::get("bot.itop")
                    ->warn("attachment to {} failed: {}", t.ref, attached.error().message);
                continue;
            }
            t.attachment_names.push_back(file.name);
        }
        log::get("bot.itop")->info("ticket {} created", t.ref);
        return t;
    } catch (const std::exception& e) { // SQLite
        log::get("bot.itop")->error("itop_tickets failed: {}", e.what());
        return user_error("Le bot n'a pas pu enregistrer le suivi du ticket (incident noté pour "
                          "les administrateurs).",
                          Error{Error::Kind::storage, 0, {}, e.what(), {}, false});
    }
}

Result<std::optional<bot::ItopTicket>> ItopTicketBackend::fetch(std::string_view ref)
{
    if (!commands::parse_reference(ref))
        return std::optional<bot::ItopTicket>{};
    auto found = itop_.find(ref);
    if (!found)
        return failed(found.error(), "core/get");
    return std::move(found).value();
}

Result<std::optional<Ticket>> ItopTicketBackend::find(std::string_view ref)
{
    auto found = fetch(ref);
    if (!found)
        return found.error();
    if (!found.value())
        return std::optional<Ticket>{};
    return std::optional<Ticket>{to_ticket(*found.value())};
}

Result<std::optional<Ticket>> ItopTicketBackend::details(std::string_view ref)
{
    auto found = fetch(ref);
    if (!found)
        return found.error();
    if (!found.value())
        return std::optional<Ticket>{};
    auto ticket = to_ticket(*found.value());
    if (auto names = itop_.attachment_names(*found.value()))
        ticket.attachment_names = std::move(names.value());
    else // the ticket itself is worth showing without them
        log::get("bot.itop")
            ->warn("attachments of {} unreadable: {}", ticket.ref, names.error().message);
    return std::optional<Ticket>{std::move(ticket)};
}

Result<Done> ItopTicketBackend::attach(std::string_view ref, const commands::Attachment& file,
                                       std::string_view author)
{
    auto found = fetch(ref);
    if (!found)
        return found.error();
    if (!found.value())
        return Error{Error::Kind::not_found, 0, {}, "ticket inconnu", {}, false};
    if (auto attached = itop_.attach(*found.value(), file.name, mime_type(file.name), file.content);
        !attached)
        return failed(attached.error(), "core/create Attachment");
    // the agent sees the file in the ticket's attachments; the log says who sent it and when
    if (auto logged = itop_.add_public_log(found.value()->ref,
                                           std::string{author} + " : pièce jointe " + file.name);
        !logged)
        return failed(logged.error(), "core/update (public log)");
    return Done{};
}

bool ItopTicketBackend::is_requester(const Ticket& ticket, std::string_view requester)
{
    if (ticket.requester == requester)
        return true;
    if (!ticket.requester.empty()) // filed here by someone else
        return false;
    const auto email = email_of(requester);
    if (!email || ticket.caller_key.empty())
        return false;
    auto persons = itop_.persons_with_email(*email);
    if (!persons) {
        log::get("bot.itop")
            ->warn("caller check of {} failed: {}", ticket.ref, persons.error().message);
        return false;
    }
    return std::any_of(persons.value().begin(), persons.value().end(),
                       [&](const bot::ItopPerson& p) { return p.id == ticket.caller_key; });
}

Result<std::vector<Ticket>> ItopTicketBackend::open_tickets_of(std::string_view requester)
{
    const auto email = email_of(requester);
    if (!email)
        return user_error("Je ne trouve pas votre adresse électronique à partir de votre compte "
                          "Tchap : demandez à l'administrateur du bot de l'indiquer dans sa "
                          "configuration (tickets.itop.emails).");
    auto found = itop_.open_tickets_of(*email);
    if (!found)
        return failed(found.error(), "core/get (open tickets)", *email);
    std::vector<Ticket> open;
    for (const auto& t : found.value()) {
        auto ticket = to_ticket(t);
        if (!commands::is_open(ticket.status))
            continue;
        ticket.requester = std::string{requester}; // the caller, found by their email
        open.push_back(std::move(ticket));
    }
    std::sort(open.begin(), open.end(), [](const Ticket& a, const Ticket& b) {
        return a.created_at != b.created_at ? a.created_at > b.created_at : a.ref > b.ref;
    });
    return open;
}

Result<Ticket> ItopTicketBackend::update(std::string_view ref,
                                         std::optional<commands::TicketStatus> status,
                                         std::string_view text, std::string_view author)
{
    if (status)
        return user_error("Le statut d'un ticket iTop se change dans iTop (il y faut une équipe, "
                          "un agent, une solution…) : rien n'a été modifié.",
                          Error{Error::Kind::invalid, 0, {}, {}, {}, false});
    auto current = find(ref);
    if (!current)
        return current.error();
    if (!current.value())
        return Error{Error::Kind::not_found, 0, {}, "ticket inconnu", {}, false};
    if (text.empty())
        return std::move(*current.value());
    const auto entry = std::string{author}.empty()
                           ? std::string{text}
                           : std::string{author} + " : " + std::string{text};
    if (auto added = itop_.add_public_log(current.value()->ref, entry); !added)
        return failed(added.error(), "core/update (public log)");
    auto updated = find(ref);
    if (!updated)
        return updated.error();
    if (!updated.value())
        return Error{Error::Kind::not_found, 0, {}, "ticket inconnu", {}, false};
    return std::move(*updated.value());
}

Result<std::vector<Ticket>> ItopTicketBackend::filed_between(TimePoint from, TimePoint to)
{
    auto found =
        itop_.query("SELECT UserRequest WHERE origin = \"chat\" AND start_date >= " +
                    bot::oql_quote(format_itop_date(from, *options_.zone)) + " AND start_date < " +
                    bot::oql_quote(format_itop_date(to, *options_.zone)));
    if (!found)
        return failed(found.error(), "core/get (statistics)");
    std::vector<Ticket> tickets;
    for (const auto& t : found.value())
        tickets.push_back(to_ticket(t));
    return tickets;
}

std::optional<int> ItopTicketBackend::open_tickets(std::string_view uai)
{
    auto found = itop_.query("SELECT UserRequest AS u JOIN Organization AS o ON u.org_id = o.id "
                             "WHERE o.code = " +
                             bot::oql_quote(uai) +
                             " AND u.status NOT IN (\"resolved\",\"closed\",\"rejected\")");
    if (!found) {
        static_cast<void>(failed(found.error(), "core/get (EPLE)"));
        return std::nullopt;
    }
    return static_cast<int>(found.value().size());
}

std::vector<ItopCheck> check_itop_online(bot::ItopClient& itop, const ItopBackendOptions& options)
{
    std::vector<ItopCheck> checks;
    // one lookup per thing, each its own answer: found, missing, or why iTop could not say
    const auto find = [&](std::string_view oql_class, const std::string& oql,
                          const std::string& what, const std::string& fix) {
        auto found = itop.first_name_of(oql_class, oql);
        if (!found) {
            checks.push_back({false, what + " : " + failed(found.error(), "check").message});
            return false;
        }
        if (!found.value())
            checks.push_back({false, what + " introuvable dans iTop : " + fix});
        else
            checks.push_back({true, what + " trouvé(e) : " + *found.value()});
        return true;
    };
    const auto service = bot::oql_quote(options.service);
    if (!find("Service", "SELECT Service WHERE name = " + service,
              "Service « " + options.service + " »", "créez-le, ou corrigez tickets.itop.service."))
        return checks; // unreachable or login refused: the rest would say the same
    for (const auto& [label, rules] :
         {std::pair{"SI2C", &options.si2c}, std::pair{"DRASI", &options.drasi}}) {
        const auto path = std::string{"tickets.itop.triage."} + label;
        if (!rules->team.empty())
            find("Team", "SELECT Team WHERE name = " + bot::oql_quote(rules->team),
                 "Équipe « " + rules->team + " » (" + label + ")",
                 "créez-la, ou corrigez " + path + ".equipe.");
        if (!rules->subcategory.empty())
            find("ServiceSubcategory",
                 "SELECT ServiceSubcategory AS s JOIN Service AS v ON s.service_id = v.id WHERE "
                 "s.name = " +
                     bot::oql_quote(rules->subcategory) + " AND v.name = " + service,
                 "Sous-catégorie « " + rules->subcategory + " » (" + label + ")",
                 "créez-la dans le service " + options.service + ", ou corrigez " + path +
                     ".sous_categorie.");
    }
    find("Organization", "SELECT Organization WHERE code != \"\"",
         "Organisation avec un code (UAI)",
         "les tickets désignent l'EPLE par son UAI dans le champ code des organisations.");
    return checks;
}

} // namespace opalebot::app
