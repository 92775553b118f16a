#include "commands/ticket_store.hpp"

#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <cctype>
#include <cstdio>
#include <stdexcept>

#include "store_support.hpp"

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE ticket_tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    team TEXT NOT NULL CHECK (team IN ('SI2C', 'DRASI', 'national')),
    status TEXT NOT NULL CHECK (status IN ('new', 'assigned', 'pending', 'resolved', 'closed')),
    requester TEXT NOT NULL,
    room TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX ticket_tickets_by_requester ON ticket_tickets (requester, status);
CREATE INDEX ticket_tickets_by_created ON ticket_tickets (created_at);
CREATE TABLE ticket_log (
    ticket_id INTEGER NOT NULL REFERENCES ticket_tickets (id),
    at INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX ticket_log_by_ticket ON ticket_log (ticket_id, at);
CREATE TABLE ticket_files (
    ticket_id INTEGER NOT NULL REFERENCES ticket_tickets (id),
    name TEXT NOT NULL,
    content BLOB NOT NULL
);
)sql"};
constexpr Schema schema{"tickets", schema_steps, "ticket_schema"};

constexpr std::string_view columns =
    "id, title, team, status, requester, room, agent, fields, created_at, updated_at, "
    "resolved_at";

} // namespace

std::string_view status_code(TicketStatus status)
{
    switch (status) {
    case TicketStatus::created:
        return "new";
    case TicketStatus::assigned:
        return "assigned";
    case TicketStatus::pending:
        return "pending";
    case TicketStatus::resolved:
        return "resolved";
    case TicketStatus::closed:
        return "closed";
    }
    return "new";
}

std::string_view status_label(TicketStatus status)
{
    switch (status) {
    case TicketStatus::created:
        return "nouveau";
    case TicketStatus::assigned:
        return "assigné";
    case TicketStatus::pending:
        return "en attente";
    case TicketStatus::resolved:
        return "résolu";
    case TicketStatus::closed:
        return "clos";
    }
    return "nouveau";
}

std::optional<TicketStatus> parse_status(std::string_view text)
{
    const auto folded = knowledge::fold(text);
    for (const auto s : {TicketStatus::created, TicketStatus::assigned, TicketStatus::pending,
                         TicketStatus::resolved, TicketStatus::closed})
        if (folded == status_code(s) || folded == knowledge::fold(status_label(s)))
            return s;
    if (folded == "nouveau" || folded == "ferme" || folded == "attente")
        return folded == "nouveau" ? TicketStatus::created
               : folded == "ferme" ? TicketStatus::closed
                                   : TicketStatus::pending;
    return std::nullopt;
}

std::string_view shown_status(const Ticket& ticket)
{
    return ticket.status_text.empty() ? status_label(ticket.status)
                                      : std::string_view{ticket.status_text};
}

bool is_open(TicketStatus status)
{
    return status != TicketStatus::resolved && status != TicketStatus::closed;
}

std::string_view team_name(Team team)
{
    switch (team) {
    case Team::si2c:
        return "SI2C";
    case Team::drasi:
        return "DRASI";
    case Team::national:
        return "national";
    }
    return "SI2C";
}

Team team_of(Service service)
{
    return service == Service::drasi ? Team::drasi : Team::si2c;
}

std::optional<std::int64_t> parse_reference(std::string_view ref)
{
    if (ref.size() < 3 || (ref[0] != 'R' && ref[0] != 'r') || ref[1] != '-')
        return std::nullopt;
    std::int64_t id = 0;
    for (const char c : ref.substr(2)) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0 || id > 100'000'000'000)
            return std::nullopt;
        id = id * 10 + (c - '0');
    }
    return id > 0 ? std::optional{id} : std::nullopt;
}

std::string format_reference(std::int64_t id)
{
    char text[32];
    std::snprintf(text, sizeof text, "R-%06lld", static_cast<long long>(id));
    return text;
}

TicketStore::TicketStore(StateDatabase& state, Clock clock)
    : db_(state.connection()), mutex_(state.mutex()), clock_(std::move(clock))
{
    state.migrate(schema);
}

std::vector<Ticket> TicketStore::read_where(const std::string& where,
                                            const std::function<void(SQLite::Statement&)>& bind)
{
    SQLite::Statement query{db_, "SELECT " + std::string{columns} + " FROM ticket_tickets WHERE " +
                                     where};
    bind(query);
    std::vector<Ticket> tickets;
    while (query.executeStep()) {
        Ticket t;
        const auto id = query.getColumn(0).getInt64();
        t.ref = format_reference(id);
        t.title = query.getColumn(1).getString();
        const auto team = query.getColumn(2).getString();
        t.team = team == "DRASI" ? Team::drasi : team == "national" ? Team::national : Team::si2c;
        t.status = parse_status(query.getColumn(3).getString()).value_or(TicketStatus::created);
        t.requester = query.getColumn(4).getString();
        t.room = query.getColumn(5).getString();
        t.agent = query.getColumn(6).getString();
        t.fields = deserialize_fields(query.getColumn(7).getString());
        t.created_at = from_millis(query.getColumn(8).getInt64());
        t.updated_at = from_millis(query.getColumn(9).getInt64());
        if (!query.getColumn(10).isNull())
            t.resolved_at = from_millis(query.getColumn(10).getInt64());
        SQLite::Statement log_query{
            db_, "SELECT at, author, text FROM ticket_log WHERE ticket_id = ? ORDER BY at, rowid"};
        log_query.bind(1, id);
        while (log_query.executeStep())
            t.log.push_back(LogEntry{from_millis(log_query.getColumn(0).getInt64()),
                                     log_query.getColumn(1).getString(),
                                     log_query.getColumn(2).getString()});
        SQLite::Statement files{db_,
                                "SELECT name FROM ticket_files WHERE ticket_id = ? ORDER BY rowid"};
        files.bind(1, id);
        while (files.executeStep())
            t.attachment_names.push_back(files.getColumn(0).getString());
        tickets.push_back(std::move(t));
    }
    return tickets;
}

std::optional<Ticket> TicketStore::read(std::int64_t id)
{
    auto tickets = read_where("id = ?", [id](SQLite::Statement& q) { q.bind(1, id); });
    if (tickets.empty())
        return std::nullopt;
    return std::move(tickets.front());
}

Result<Ticket> TicketStore::create(const NewTicket& ticket)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        {
            SQLite::Statement existing{db_,
                                       "SELECT id FROM ticket_tickets WHERE idempotency_key = ?"};
            existing.bind(1, ticket.idempotency_key);
            if (existing.executeStep()) // a retry: the first attempt did create it
                return *read(existing.getColumn(0).getInt64());
        }
        const auto now = to_millis(clock_());
        SQLite::Statement insert{db_, R"sql(
INSERT INTO ticket_tickets (idempotency_key, title, team, status, requester, room, fields,
                            created_at, updated_at)
VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?)
)sql"};
        SQLite::bind(insert, ticket.idempotency_key, ticket_title(ticket.fields),
                     std::string{team_name(team_of(ticket.fields.service.value_or(Service::si2c)))},
                     ticket.requester, ticket.room, serialize_fields(ticket.fields), now, now);
        insert.exec();
        const auto id = db_.getLastInsertRowid();
        SQLite::Statement file{
            db_, "INSERT INTO ticket_files (ticket_id, name, content) VALUES (?, ?, ?)"};
        for (const auto& attachment : ticket.attachments) {
            SQLite::bind(file, id, attachment.name);
            file.bind(3, attachment.content.data(), static_cast<int>(attachment.content.size()));
            file.exec();
            file.reset();
        }
        transaction.commit();
        return *read(id);
    } catch (const std::exception& e) {
        return storage_error(e, "création du ticket", "commands");
    }
}

Result<std::optional<Ticket>> TicketStore::find(std::string_view ref)
{
    const auto id = parse_reference(ref);
    if (!id)
        return std::optional<Ticket>{};
    const std::lock_guard lock{mutex_};
    try {
        return read(*id);
    } catch (const std::exception& e) {
        return storage_error(e, "lecture du ticket", "commands");
    }
}

Result<std::vector<Ticket>> TicketStore::open_tickets_of(std::string_view requester)
{
    const std::lock_guard lock{mutex_};
    try {
        const std::string who{requester};
        return read_where("requester = ? AND status NOT IN ('resolved', 'closed') ORDER BY id DESC",
                          [&who](SQLite::Statement& q) { q.bind(1, who); });
    } catch (const std::exception& e) {
        return storage_error(e, "lecture des tickets", "commands");
    }
}

Result<Ticket> TicketStore::update(std::string_view ref, std::optional<TicketStatus> status,
                                   std::string_view text, std::string_view author)
{
    const auto id = parse_reference(ref);
    if (!id)
        return Error{Error::Kind::invalid, 0, {}, "référence invalide", {}, false};
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        const auto current = read(*id);
        if (!current)
            return Error{Error::Kind::not_found, 0, {}, "ticket inconnu", {}, false};
        const auto now = to_millis(clock_());
        if (status) {
            // resolved_at is the first resolution: a closure after it keeps the time it took
            SQLite::Statement set{db_, R"sql(
UPDATE ticket_tickets SET status = ?, updated_at = ?,
    resolved_at = CASE WHEN ? IN ('resolved', 'closed') THEN coalesce(resolved_at, ?) ELSE NULL END
WHERE id = ?
)sql"};
            const std::string code{status_code(*status)};
            SQLite::bind(set, code, now, code, now, *id);
            set.exec();
        }
        if (!text.empty()) {
            SQLite::Statement add{db_,
                                  "INSERT INTO ticket_log (ticket_id, at, author, text) VALUES "
                                  "(?, ?, ?, ?)"};
            SQLite::bind(add, *id, now, std::string{author}, std::string{text});
            add.exec();
            SQLite::Statement touch{db_, "UPDATE ticket_tickets SET updated_at = ? WHERE id = ?"};
            SQLite::bind(touch, now, *id);
            touch.exec();
        }
        transaction.commit();
        return *read(*id);
    } catch (const std::exception& e) {
        return storage_error(e, "mise à jour du ticket", "commands");
    }
}

Result<Ticket> TicketStore::assign(std::string_view ref, Team team, std::string_view agent)
{
    const auto id = parse_reference(ref);
    if (!id)
        return Error{Error::Kind::invalid, 0, {}, "référence invalide", {}, false};
    {
        const std::lock_guard lock{mutex_};
        try {
            SQLite::Statement set{db_, "UPDATE ticket_tickets SET team = ?, agent = ?, status = "
                                       "'assigned', updated_at = ? WHERE id = ?"};
            SQLite::bind(set, std::string{team_name(team)}, std::string{agent}, to_millis(clock_()),
                         *id);
            if (set.exec() == 0)
                return Error{Error::Kind::not_found, 0, {}, "ticket inconnu", {}, false};
        } catch (const std::exception& e) {
            return storage_error(e, "affectation du ticket", "commands");
        }
    }
    return update(ref, std::nullopt, "Ticket affecté à " + std::string{team_name(team)} + ".",
                  agent);
}

std::optional<int> TicketStore::open_tickets(std::string_view uai)
{
    const std::lock_guard lock{mutex_};
    try {
        // The UAI lives in the serialised fields: read the open ones and compare exactly.
        const auto open =
            read_where("status NOT IN ('resolved', 'closed')", [](SQLite::Statement& /*query*/) {});
        int count = 0;
        for (const auto& t : open)
            if (!t.fields.uai.empty() && knowledge::fold(t.fields.uai) == knowledge::fold(uai))
                ++count;
        return count;
    } catch (const std::exception& e) {
        static_cast<void>(storage_error(e, "lecture des tickets de l'EPLE", "commands"));
        return std::nullopt;
    }
}

Result<std::vector<Ticket>> TicketStore::filed_between(TimePoint from, TimePoint to)
{
    const std::lock_guard lock{mutex_};
    try {
        const auto lo = to_millis(from);
        const auto hi = to_millis(to);
        return read_where("created_at >= ? AND created_at < ? ORDER BY id",
                          [lo, hi](SQLite::Statement& q) { SQLite::bind(q, lo, hi); });
    } catch (const std::exception& e) {
        return storage_error(e, "lecture des tickets", "commands");
    }
}

} // namespace opalebot::commands
