#include "commands/export_commands.hpp"

#include "commands/csv_writer.hpp"
#include "commands/eple_import.hpp"
#include "commands/reminder_time.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

#include <date/tz.h>

namespace opalebot::commands {
namespace {

using std::chrono::year_month_day;

Reply text_reply(std::string markdown)
{
    Reply reply;
    reply.markdown = std::move(markdown);
    return reply;
}

std::string yes_no(bool value)
{
    return value ? "oui" : "non";
}

std::string optional_yes_no(const std::optional<bool>& value)
{
    return value ? yes_no(*value) : std::string{};
}

/// "2026-12-06", for file names (sorted by date in a folder).
std::string iso_date(year_month_day day)
{
    std::array<char, 16> text{};
    std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", static_cast<int>(day.year()),
                  static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
    return text.data();
}

const date::time_zone* paris()
{
    auto zone = find_zone(default_zone);
    return zone ? zone.value() : nullptr;
}

/// The wall-clock time of `at` in Paris (UTC when the system has no tzdata), since 1970.
std::chrono::seconds paris_clock(TimePoint at)
{
    const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
    const auto* zone = paris();
    return zone != nullptr ? zone->to_local(seconds).time_since_epoch()
                           : seconds.time_since_epoch();
}

year_month_day paris_day(TimePoint at)
{
    return year_month_day{
        std::chrono::sys_days{std::chrono::floor<std::chrono::days>(paris_clock(at))}};
}

/// "06/12/2026 14:05" in Paris, a form Calc and Excel read as a date in a French locale.
std::string paris_time(TimePoint at)
{
    const auto local = paris_clock(at);
    const auto day = std::chrono::floor<std::chrono::days>(local);
    const std::chrono::hh_mm_ss time{local - day};
    std::array<char, 8> clock{};
    std::snprintf(clock.data(), clock.size(), "%02d:%02d", static_cast<int>(time.hours().count()),
                  static_cast<int>(time.minutes().count()));
    return format_date(year_month_day{std::chrono::sys_days{day}}) + " " + clock.data();
}

std::string budget_saisie_name(const std::optional<BudgetSaisie>& saisie)
{
    if (!saisie)
        return {};
    return *saisie == BudgetSaisie::gfc ? "GFC" : "op@le";
}

/// "6", "v6", "V6" → 6; nothing for anything but one wave of the calendar.
std::optional<int> wave_number(std::string_view text)
{
    text = trim(text);
    if (!text.empty() && (text.front() == 'v' || text.front() == 'V'))
        text.remove_prefix(1);
    if (text.size() != 1 || text[0] < '1' ||
        text[0] > static_cast<char>('0' + deployment_calendar().size()))
        return std::nullopt;
    return text[0] - '0';
}

OutgoingFile csv_file(std::string name, std::string content, std::string description)
{
    OutgoingFile file;
    file.name = std::move(name);
    file.mime_type = "text/csv";
    file.content = std::move(content);
    file.description = std::move(description);
    return file;
}

Reply export_wave(EpleStore& store, const EpleOptions& options, std::string_view args,
                  const std::string& prefix)
{
    const auto number = wave_number(args);
    if (!number)
        return text_reply("Indiquez une vague de 1 à 9, par exemple `" + prefix +
                          "export vague 6`.");
    const auto statuses = store.statuses(*number);
    if (!statuses)
        return text_reply("Les données des EPLE sont indisponibles pour le moment ; réessayez "
                          "dans quelques minutes.");
    const auto wave = std::to_string(*number);
    if (statuses.value().empty())
        return text_reply("Aucun EPLE de la vague " + wave +
                          " n'est connu du bot : il n'y a rien à exporter.");
    const auto rule = options.current_rule ? options.current_rule() : options.rule;
    const auto count = statuses.value().size();
    auto reply = text_reply("Export de la vague " + wave + " : " + std::to_string(count) +
                            " EPLE, avec leurs derniers indicateurs (fichier CSV joint).");
    reply.files.push_back(
        csv_file("vague-" + wave + "-" + iso_date(paris_day(options.clock())) + ".csv",
                 wave_csv(statuses.value(), rule), "EPLE de la vague " + wave));
    return reply;
}

/// "du 01/09/2026 au 30/09/2026", either part optional; the end day is included.
struct Period {
    std::optional<year_month_day> from;
    std::optional<year_month_day> to;
};

std::optional<Period> period_of(std::string_view args)
{
    Period period;
    auto rest = trim(args);
    while (!rest.empty()) {
        const auto [word, after_word] = split_first_word(rest);
        const auto [day, after_day] = split_first_word(after_word);
        const auto keyword = knowledge::fold(word);
        const auto date = parse_french_date(day);
        if (!date || (keyword != "du" && keyword != "au"))
            return std::nullopt;
        (keyword == "du" ? period.from : period.to) = date;
        rest = after_day;
    }
    return period;
}

Reply export_tickets(TicketBackend& backend, const EpleOptions& options, const Message& message,
                     std::string_view args, const std::string& prefix)
{
    if (message.role == Role::member)
        return text_reply("L'export des tickets est réservé au support.");
    const auto period = period_of(args);
    if (!period)
        return text_reply("Je n'ai pas compris les dates. Écrivez `" + prefix +
                          "export tickets [du JJ/MM/AAAA] [au JJ/MM/AAAA]`, par exemple `" +
                          prefix + "export tickets du 01/09/2026 au 30/09/2026`.");
    using std::chrono::sys_days;
    const auto now = options.clock();
    const auto begin = period->from ? TimePoint{sys_days{*period->from}} : TimePoint{};
    const auto end = period->to ? TimePoint{sys_days{*period->to} + std::chrono::days{1}}
                                : now + std::chrono::seconds{1};
    if (end <= begin)
        return text_reply("La date de fin précède la date de début.");
    auto tickets = backend.filed_between(begin, end);
    if (!tickets) {
        if (is_user_facing(tickets.error()))
            return text_reply(knowledge::escape_markdown(tickets.error().message));
        log::get("commands")->warn("tickets not exported: {}", tickets.error().message);
        return text_reply("Le service de tickets est indisponible pour le moment ; réessayez "
                          "dans quelques minutes.");
    }
    std::string when = period->from ? " du " + format_date(*period->from) : std::string{};
    if (period->to)
        when += (period->from ? " au " : " jusqu'au ") + format_date(*period->to);
    if (tickets.value().empty())
        return text_reply("Aucun ticket" + (when.empty() ? std::string{} : " ouvert" + when) +
                          " : il n'y a rien à exporter.");
    const auto count = tickets.value().size();
    auto reply = text_reply("Export des tickets" + when + " : " + std::to_string(count) +
                            (count > 1 ? " tickets" : " ticket") + " (fichier CSV joint).");
    reply.files.push_back(csv_file("tickets-" + iso_date(paris_day(now)) + ".csv",
                                   tickets_csv(std::move(tickets.value())), "Tickets" + when));
    return reply;
}

} // namespace

std::string wave_csv(const std::vector<EpleStatus>& statuses, const DifficultyRule& rule)
{
    CsvWriter csv;
    csv.row({"UAI", "Établissement", "Commune", "Type", "Académie", "Vague", "Agence comptable",
             "Date des indicateurs", "Kit de bascule (%)", "Budget intégré", "Budget saisi dans",
             "Paiements", "EJ", "Titres de recettes", "Prélèvements", "À accompagner"});
    for (const auto& status : statuses) {
        const auto& e = status.etablissement;
        std::vector<std::string> row{e.uai,
                                     e.nom,
                                     e.commune,
                                     e.type,
                                     e.academie,
                                     std::to_string(e.vague),
                                     e.uai_agence_comptable};
        if (const auto& s = status.latest) {
            row.insert(row.end(),
                       {format_date(s->date), csv_decimal(s->kit_taux), yes_no(s->budget_integre),
                        budget_saisie_name(s->budget_saisie), std::to_string(s->paiements),
                        std::to_string(s->ej), std::to_string(s->titres_recettes),
                        optional_yes_no(s->prelevements), yes_no(to_accompany(*s, rule))});
        } else {
            row.resize(row.size() + 9); // no indicator imported yet
        }
        csv.row(row);
    }
    return std::move(csv).text();
}

std::string tickets_csv(std::vector<Ticket> tickets)
{
    std::stable_sort(tickets.begin(), tickets.end(),
                     [](const Ticket& a, const Ticket& b) { return a.created_at < b.created_at; });
    CsvWriter csv;
    csv.row({"Référence", "Titre", "Statut", "Équipe", "Agent", "UAI", "EPLE", "Environnement",
             "Demandeur", "Ouvert le", "Mis à jour le", "Résolu le", "Lien"});
    for (const auto& t : tickets)
        csv.row({t.ref, t.title, std::string{shown_status(t)}, std::string{team_name(t.team)},
                 t.agent, t.fields.uai, t.fields.eple_nom,
                 t.fields.env ? std::string{environment_label(*t.fields.env)} : std::string{},
                 t.requester, paris_time(t.created_at), paris_time(t.updated_at),
                 t.resolved_at ? paris_time(*t.resolved_at) : std::string{}, t.link});
    return std::move(csv).text();
}

void add_export_commands(Registry& registry, EpleStore& eple, TicketBackend& tickets,
                         EpleOptions options)
{
    const auto prefix = registry.prefix();
    Command command{
        "export",
        {"exporter"},
        prefix + "export vague <N> | " + prefix + "export tickets [du JJ/MM/AAAA] [au JJ/MM/AAAA]",
        "un fichier CSV pour le tableur : les EPLE d'une vague, ou les tickets (support)",
        Role::member,
        [&eple, &tickets, options = std::move(options), prefix](const Context& c) {
            const auto [what, rest] = split_first_word(c.args);
            const auto kind = knowledge::fold(what);
            if (kind == "vague")
                return export_wave(eple, options, rest, prefix);
            if (kind == "tickets" || kind == "ticket")
                return export_tickets(tickets, options, c.message, rest, prefix);
            return text_reply("Que faut-il exporter ? `" + prefix + "export vague 6` ou `" +
                              prefix + "export tickets du 01/09/2026 au 30/09/2026`.");
        }};
    if (!registry.add(std::move(command)))
        throw std::logic_error("command registered twice: export");
    registry.mark_waits_on_backend("export"); // the tickets may come from iTop
}

} // namespace opalebot::commands
