#include "commands/ticket_follow_up.hpp"

#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <stdexcept>

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE ticket_follow_up (
    ref TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    conversation TEXT NOT NULL,
    status TEXT NOT NULL,
    status_text TEXT NOT NULL,
    log_size INTEGER NOT NULL
);
)sql"};
constexpr Schema schema{"ticket_follow_up", schema_steps, "ticket_follow_up_schema"};

/// A log entry as a Markdown quote, each line escaped and quoted (escaping drops newlines).
std::string quoted(const LogEntry& entry)
{
    std::string out;
    std::string_view rest = entry.text;
    while (true) {
        const auto end = rest.find('\n');
        out += "> " + knowledge::escape_markdown(rest.substr(0, end));
        if (end == std::string_view::npos)
            return out;
        out += '\n';
        rest.remove_prefix(end + 1);
    }
}

} // namespace

std::string follow_up_message(const WatchedTicket& before, const Ticket& now)
{
    std::string out;
    const auto label = std::string{shown_status(now)};
    if (now.status != before.status || label != before.status_text) {
        out += "Votre ticket **" + now.ref + "** est passé à « " + label + " ».";
        // what the requester needs to act on: the support's question, or its answer
        if (now.status == TicketStatus::pending && !now.pending_reason.empty())
            out += "\n\nLe support attend de votre part :\n" +
                   quoted(LogEntry{{}, {}, now.pending_reason});
        if (now.status == TicketStatus::resolved && !now.solution.empty())
            out += "\n\nSolution du support :\n" + quoted(LogEntry{{}, {}, now.solution});
    }
    // The requester's own words (sent from the ticket's thread) are not news to them: the
    // built-in store names them as author, iTop's log holds "<them> : <text>".
    std::vector<const LogEntry*> fresh;
    for (auto i = before.log_size; i < now.log.size(); ++i) {
        const auto& entry = now.log[i];
        if (!before.requester.empty() &&
            (entry.author == before.requester || entry.text.starts_with(before.requester + " : ")))
            continue;
        fresh.push_back(&entry);
    }
    if (!fresh.empty()) {
        if (!out.empty())
            out += "\n\n";
        out += fresh.size() == 1 ? "Nouveau message du support sur **" + now.ref + "** :"
                                 : std::to_string(fresh.size()) +
                                       " nouveaux messages du support sur **" + now.ref + "** :";
        for (const auto* entry_ptr : fresh) {
            const auto& entry = *entry_ptr;
            out += "\n\n";
            if (!entry.author.empty())
                out += "_" + knowledge::escape_markdown(entry.author) + "_ :\n";
            out += quoted(entry);
        }
    }
    // only a thread is the ticket's own: messages there are added to it (Conversations)
    const bool in_thread = before.conversation.find('|') != std::string::npos;
    if (!out.empty() && in_thread && now.status == TicketStatus::pending)
        out += "\n\nRépondez dans ce fil : votre message sera ajouté au ticket.";
    if (!out.empty() && now.status == TicketStatus::resolved)
        out += in_thread ? "\n\nSi le problème persiste, répondez dans ce fil : votre message sera "
                           "ajouté au ticket."
                         : "\n\nSi le problème persiste, dites-le au support.";
    if (!out.empty())
        out += "\n\nDétails : `!ticket " + now.ref + "`.";
    return out;
}

TicketFollowUp::TicketFollowUp(StateDatabase& state, TicketBackend& backend,
                               FollowUpOptions options)
    : db_(state.connection()),
      mutex_(state.mutex()),
      backend_(backend),
      options_(std::move(options))
{
    state.migrate(schema);
}

Result<Done> TicketFollowUp::watch(const Ticket& ticket)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement insert{db_, R"sql(
INSERT INTO ticket_follow_up (ref, requester, conversation, status, status_text, log_size)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING
)sql"};
        SQLite::bind(insert, ticket.ref, ticket.requester, ticket.room,
                     std::string{status_code(ticket.status)}, std::string{shown_status(ticket)},
                     static_cast<std::int64_t>(ticket.log.size()));
        insert.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "follow-up: watching " + ticket.ref, "commands");
    }
}

std::optional<WatchedTicket> TicketFollowUp::watched_in(const std::string& conversation,
                                                        const std::string& requester)
{
    if (conversation.find('|') == std::string::npos)
        return std::nullopt; // a room is shared by every ticket: only a thread is the ticket's
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, "SELECT ref, status, status_text, log_size FROM "
                                     "ticket_follow_up WHERE conversation = ? AND requester = ? "
                                     "ORDER BY rowid DESC LIMIT 1"};
        SQLite::bind(query, conversation, requester);
        if (!query.executeStep())
            return std::nullopt;
        WatchedTicket w;
        w.ref = query.getColumn(0).getString();
        w.requester = requester;
        w.conversation = conversation;
        w.status = parse_status(query.getColumn(1).getString()).value_or(TicketStatus::created);
        w.status_text = query.getColumn(2).getString();
        w.log_size = static_cast<std::size_t>(query.getColumn(3).getInt64());
        return w;
    } catch (const std::exception& e) {
        static_cast<void>(storage_error(e, "follow-up: reading", "commands"));
        return std::nullopt;
    }
}

std::vector<WatchedTicket> TicketFollowUp::watched()
{
    const std::lock_guard lock{mutex_};
    std::vector<WatchedTicket> all;
    SQLite::Statement query{db_, "SELECT ref, requester, conversation, status, status_text, "
                                 "log_size FROM ticket_follow_up ORDER BY ref"};
    while (query.executeStep()) {
        WatchedTicket w;
        w.ref = query.getColumn(0).getString();
        w.requester = query.getColumn(1).getString();
        w.conversation = query.getColumn(2).getString();
        w.status = parse_status(query.getColumn(3).getString()).value_or(TicketStatus::created);
        w.status_text = query.getColumn(4).getString();
        w.log_size = static_cast<std::size_t>(query.getColumn(5).getInt64());
        all.push_back(std::move(w));
    }
    return all;
}

void TicketFollowUp::save(const WatchedTicket& w)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement update{db_, "UPDATE ticket_follow_up SET status = ?, status_text = ?, "
                                  "log_size = ? WHERE ref = ?"};
    SQLite::bind(update, std::string{status_code(w.status)}, w.status_text,
                 static_cast<std::int64_t>(w.log_size), w.ref);
    update.exec();
}

void TicketFollowUp::forget(const std::string& ref)
{
    const std::lock_guard lock{mutex_};
    SQLite::Statement erase{db_, "DELETE FROM ticket_follow_up WHERE ref = ?"};
    erase.bind(1, ref);
    erase.exec();
}

std::vector<FollowUpNotice> TicketFollowUp::poll()
{
    // The state file's lock is taken per statement, never across the backend's calls: iTop may
    // take its whole timeout, and the sender thread waits on that lock to send replies.
    std::vector<FollowUpNotice> notices;
    const auto logger = log::get("commands");
    try {
        for (auto& w : watched()) {
            const auto found = backend_.find(w.ref);
            if (!found) { // unchanged: the next round asks again
                logger->warn("follow-up of {}: backend unavailable: {}", w.ref,
                             found.error().message);
                // A backend that is down would make every other ticket wait its timeout too,
                // on the thread that serves the salon: the round ends here.
                if (found.error().kind == Error::Kind::transport)
                    break;
                continue;
            }
            if (!found.value()) {
                logger->warn("follow-up of {}: ticket gone from the backend, no longer watched",
                             w.ref);
                forget(w.ref);
                continue;
            }
            const auto& now = *found.value();
            auto message = follow_up_message(w, now);
            if (!message.empty())
                notices.push_back({w.conversation, w.requester, w.ref, std::move(message)});
            if (now.status == TicketStatus::closed) {
                forget(w.ref);
                continue;
            }
            w.status = now.status;
            w.status_text = std::string{shown_status(now)};
            w.log_size = std::max(w.log_size, now.log.size());
            save(w);
        }
    } catch (const std::exception& e) { // SQLite: keep what was found, retry next round
        logger->error("follow-up round failed: {}", e.what());
    }
    return notices;
}

std::vector<FollowUpNotice> TicketFollowUp::poll_if_due()
{
    const auto now = options_.clock();
    {
        const std::lock_guard lock{mutex_};
        if (last_poll_ && now - *last_poll_ < options_.interval)
            return {};
        last_poll_ = now;
    }
    return poll();
}

} // namespace opalebot::commands
