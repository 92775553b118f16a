#include "commands/ticket_commands.hpp"

#include "commands/chart_data.hpp"
#include "commands/chart_reply.hpp"
#include "commands/eple_commands.hpp"
#include "commands/eple_import.hpp"
#include "commands/ticket_stats.hpp"
#include "commands/ticket_store.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <memory>
#include <stdexcept>

namespace opalebot::commands {
namespace {

constexpr std::string_view unavailable =
    "Le service de tickets est indisponible pour le moment (incident noté pour les "
    "administrateurs). Réessayez dans quelques minutes.";

Reply markdown_reply(std::string markdown)
{
    Reply reply;
    reply.markdown = std::move(markdown);
    return reply;
}

/// The backend's own French explanation when it has one, else the generic one.
Reply failure(const Error& error)
{
    if (is_user_facing(error))
        return markdown_reply(knowledge::escape_markdown(error.message));
    return markdown_reply(std::string{unavailable});
}

/// "texte" or « texte » without its quotes, \" and \\ read.
std::string unquote(std::string_view text)
{
    text = trim(text);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        std::string out;
        for (std::size_t i = 1; i + 1 < text.size(); ++i) {
            if (text[i] == '\\' && i + 2 < text.size() &&
                (text[i + 1] == '"' || text[i + 1] == '\\'))
                ++i;
            out += text[i];
        }
        return out;
    }
    constexpr std::string_view open = "«";
    constexpr std::string_view close = "»";
    if (text.starts_with(open) && text.ends_with(close) && text.size() > 4)
        return std::string{
            trim(text.substr(open.size(), text.size() - open.size() - close.size()))};
    return std::string{text};
}

std::string days_ago(TimePoint from, TimePoint now)
{
    const auto days = std::chrono::duration_cast<std::chrono::hours>(now - from).count() / 24;
    if (days <= 0)
        return "aujourd'hui";
    if (days == 1)
        return "depuis 1 jour";
    return "depuis " + std::to_string(days) + " jours";
}

std::string ticket_card(const Ticket& t, TimePoint now)
{
    using knowledge::escape_markdown;
    std::string out = "**" + t.ref + "** – " + escape_markdown(t.title) + "\n\n";
    out += "- **Statut** : " + std::string{shown_status(t)} + '\n';
    out += "- **Équipe** : " + std::string{team_name(t.team)};
    if (!t.agent.empty())
        out += " (" + escape_markdown(t.agent) + ")";
    out += "\n- **Ouvert** : " + days_ago(t.created_at, now) + '\n';
    if (!t.log.empty()) {
        const auto& last = t.log.back();
        out += "- **Dernier suivi** (" + days_ago(last.at, now) +
               ") : " + escape_markdown(last.text) + '\n';
    }
    if (!t.attachment_names.empty()) {
        out += "- **Pièces jointes** :";
        for (std::size_t i = 0; i < t.attachment_names.size(); ++i)
            out += (i == 0 ? " " : ", ") + escape_markdown(t.attachment_names[i]);
        out += '\n';
    }
    if (!t.link.empty())
        out += "- [Voir le ticket](" + t.link + ")\n";
    return out;
}

bool may_see(TicketBackend& backend, const Ticket& ticket, const Message& message)
{
    return message.role != Role::member || backend.is_requester(ticket, message.sender);
}

Reply show_ticket(TicketBackend& backend, const Message& message, std::string_view ref,
                  TimePoint now)
{
    const auto found = backend.details(ref);
    if (!found)
        return failure(found.error());
    // the same answer for unknown and forbidden: a reference must not reveal that a ticket exists
    if (!found.value() || !may_see(backend, *found.value(), message))
        return markdown_reply("Je ne trouve pas de ticket " + knowledge::escape_markdown(ref) +
                              " parmi ceux que vous pouvez consulter.");
    return markdown_reply(ticket_card(*found.value(), now));
}

Reply change_status(TicketBackend& backend, const Message& message, std::string_view ref,
                    std::string_view rest)
{
    if (message.role == Role::member)
        return markdown_reply("Seul le support peut changer le statut d'un ticket.");
    // "en attente" is two words: try two, then one
    std::optional<TicketStatus> status;
    std::string_view text;
    const auto [first, after_first] = split_first_word(rest);
    const auto [second, after_second] = split_first_word(after_first);
    if (!second.empty())
        if ((status = parse_status(std::string{first} + " " + std::string{second})))
            text = after_second;
    if (!status && (status = parse_status(first)))
        text = after_first;
    if (!status)
        return markdown_reply("Statut inconnu « " + knowledge::escape_markdown(first) +
                              " » : nouveau, assigné, en attente, résolu ou clos.");
    const auto updated = backend.update(ref, status, unquote(text), message.sender);
    if (!updated) {
        if (is_user_facing(updated.error()))
            return failure(updated.error());
        if (updated.error().kind == Error::Kind::not_found ||
            updated.error().kind == Error::Kind::invalid)
            return markdown_reply("Je ne trouve pas de ticket " + knowledge::escape_markdown(ref) +
                                  ".");
        return markdown_reply(std::string{unavailable});
    }
    return markdown_reply("Ticket **" + updated.value().ref + "** passé au statut « " +
                          std::string{shown_status(updated.value())} + " ».");
}

Reply my_tickets(TicketBackend& backend, const Message& message, TimePoint now)
{
    const auto open = backend.open_tickets_of(message.sender);
    if (!open)
        return failure(open.error());
    if (open.value().empty())
        return markdown_reply(
            "Vous n'avez aucun ticket en cours. Pour en ouvrir un : `!ticket nouveau`.");
    std::string out = "**Vos tickets en cours**\n\n";
    for (const auto& t : open.value())
        out += "- **" + t.ref + "** – " + knowledge::escape_markdown(t.title) + " (" +
               std::string{shown_status(t)} + ", " + days_ago(t.created_at, now) + ")\n";
    return markdown_reply(out);
}

/// The tickets filed in the period, week by week, as a chart.
Reply stats_graph(const std::vector<Ticket>& tickets,
                  std::optional<std::chrono::year_month_day> from,
                  std::optional<std::chrono::year_month_day> to, const std::string& period,
                  TimePoint now)
{
    const auto today = local_date(now);
    if (tickets.empty())
        return markdown_reply("Aucun ticket déposé " + period + " : pas de graphique.");
    auto first = from;
    if (!first)
        for (const auto& t : tickets)
            if (const auto day = local_date(t.created_at); !first || day < *first)
                first = day;
    const auto last = to && *to < today ? *to : today;
    const auto weeks = ticket_weeks(tickets, *first, last, now);
    int filed = 0;
    for (const auto& week : weeks)
        filed += week.stats.all.filed;
    std::string text = "**Tickets " + period + "** : " + format_count(filed) +
                       (filed > 1 ? " déposés" : " déposé") + " en " +
                       std::to_string(weeks.size()) + (weeks.size() > 1 ? " semaines" : " semaine");
    if (filed < static_cast<int>(tickets.size()))
        text += " (les " + std::to_string(weeks.size()) + " dernières semaines de la période)";
    text += ", et la part résolue le jour même, en 2 et en 7 jours.";
    return chart_reply(std::move(text), tickets_chart(weeks, period, today), "tickets.png");
}

Reply stats(TicketBackend& backend, const Message& message, std::string_view args, TimePoint now,
            bool graph)
{
    if (message.role == Role::member)
        return markdown_reply("Les statistiques des tickets sont réservées au support.");
    std::optional<std::chrono::year_month_day> from;
    std::optional<std::chrono::year_month_day> to;
    for (auto rest = args; !trim(rest).empty();) {
        const auto [word, after] = split_first_word(rest);
        const auto [date_text, after_date] = split_first_word(after);
        const auto folded = knowledge::fold(word);
        const auto date = parse_french_date(date_text);
        if ((folded != "du" && folded != "au") || !date)
            return markdown_reply(
                "Écrivez `!tickets stats [du JJ/MM/AAAA] [au JJ/MM/AAAA] [graphique]`.");
        (folded == "du" ? from : to) = date;
        rest = after_date;
    }
    using std::chrono::sys_days;
    const auto begin = from ? TimePoint{sys_days{*from}} : TimePoint{};
    // "au" is inclusive: up to the end of that day
    const auto end =
        to ? TimePoint{sys_days{*to} + std::chrono::days{1}} : now + std::chrono::seconds{1};
    if (end <= begin)
        return markdown_reply("La date de fin précède la date de début.");
    const auto tickets = backend.filed_between(begin, end);
    if (!tickets)
        return failure(tickets.error());
    std::string period = from ? "du " + format_date(*from) : std::string{"depuis le début"};
    if (to)
        period += " au " + format_date(*to);
    if (graph)
        return stats_graph(tickets.value(), from, to, period, now);
    return markdown_reply(format_ticket_stats(compute_ticket_stats(tickets.value(), now), period));
}

} // namespace

void add_ticket_commands(Registry& registry, TicketBackend& backend, TicketDialogues& dialogues,
                         TicketCommandOptions options)
{
    const auto prefix = registry.prefix();
    auto shared = std::make_shared<const TicketCommandOptions>(std::move(options));
    const auto add = [&registry](Command command) {
        const auto name = command.name;
        if (!registry.add(std::move(command)))
            throw std::logic_error("command registered twice: " + name);
    };
    add({"ticket",
         {},
         prefix + "ticket nouveau [clé=valeur…] | " + prefix + "ticket R-000123",
         "ouvrir un ticket d'assistance guidé, ou consulter un ticket",
         Role::member,
         [&backend, &dialogues, shared, prefix](const Context& c) {
             const auto [word, rest] = split_first_word(c.args);
             if (knowledge::fold(word) == "nouveau")
                 return markdown_reply(dialogues.start(c.message.sender, c.message.room, rest));
             if (parse_reference(word)) {
                 const auto [action, tail] = split_first_word(rest);
                 if (action.empty())
                     return show_ticket(backend, c.message, word, shared->clock());
                 if (knowledge::fold(action) == "statut")
                     return change_status(backend, c.message, word, tail);
             }
             return markdown_reply("Écrivez `" + prefix +
                                   "ticket nouveau` pour ouvrir un ticket, ou `" + prefix +
                                   "ticket R-000123` pour en consulter un.");
         }});
    add({"tickets",
         {},
         prefix + "tickets | " + prefix +
             "tickets stats [du JJ/MM/AAAA] [au JJ/MM/AAAA] [graphique]",
         "vos tickets en cours ; les statistiques pour le support, en graphique par semaine",
         Role::member,
         [&backend, shared](const Context& c) {
             const auto [word, rest] = split_first_word(c.args);
             if (knowledge::fold(word) == "stats") {
                 const auto chart_args = chart_request(rest);
                 return stats(backend, c.message, chart_args.value_or(rest), shared->clock(),
                              chart_args.has_value());
             }
             return my_tickets(backend, c.message, shared->clock());
         }});
    for (const auto* name : {"ticket", "tickets"}) // the backend may be iTop
        registry.mark_waits_on_backend(name);
}

std::optional<Reply> answer_ticket_dialogue(TicketDialogues& dialogues, const Message& message)
{
    try {
        if (message.attachment) // a screenshot sent in the thread during the dialogue
            if (auto reply =
                    dialogues.add_attachment(message.sender, message.room, *message.attachment))
                return markdown_reply(std::move(*reply));
    } catch (const std::exception& e) {
        log::get("commands")->error("ticket attachment failed: {}", e.what());
        return markdown_reply(std::string{unavailable});
    }
    auto body = trim(message.body);
    if (body == "✅" || body == "✔️" || body == "👍")
        body = "oui";
    else if (body == "❌" || body == "✖️")
        body = "non";
    try {
        if (auto reply = dialogues.answer(message.sender, message.room, body))
            return markdown_reply(std::move(*reply));
    } catch (const std::exception& e) { // SQLite: keep the bot alive, say so
        log::get("commands")->error("ticket dialogue failed: {}", e.what());
        return markdown_reply(std::string{unavailable});
    }
    return std::nullopt;
}

} // namespace opalebot::commands
