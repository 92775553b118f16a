#include "commands/eple_commands.hpp"

#include "commands/chart_data.hpp"
#include "commands/chart_reply.hpp"
#include "commands/eple_import.hpp"
#include "knowledge/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <variant>

namespace opalebot::commands {
namespace {

constexpr std::size_t max_listed = 200; // keeps a reply far below Matrix's 64 KiB
constexpr std::size_t max_matches = 10; // a name search is a question, not a listing
constexpr std::string_view unavailable =
    "Les données EPLE sont indisponibles pour le moment (erreur de la base, notée dans le "
    "journal).";

std::string plural(long long n, std::string_view one, std::string_view many)
{
    return std::to_string(n) + " " + std::string{n > 1 ? many : one};
}

std::string wave_start(int vague)
{
    const auto& calendar = deployment_calendar();
    if (vague < 1 || vague > static_cast<int>(calendar.size()))
        return "date non publiée";
    const auto& start = calendar[static_cast<std::size_t>(vague - 1)].start;
    return start ? std::string{*start} : std::string{"date non publiée"};
}

std::string age(std::chrono::year_month_day date, std::chrono::year_month_day today)
{
    const auto days = (std::chrono::sys_days{today} - std::chrono::sys_days{date}).count();
    if (days < 0)
        return "date postérieure à aujourd'hui";
    if (days == 0)
        return "aujourd'hui";
    if (days == 1)
        return "hier";
    return "il y a " + std::to_string(days) + " jours";
}

std::string threshold_text(DifficultySignal signal, const DifficultyRule& rule)
{
    switch (signal) {
    case DifficultySignal::kit_low:
        return "kit de bascule sous " + format_rate(rule.kit_below);
    case DifficultySignal::no_paiement:
        return rule.paiements_below <= 1
                   ? std::string{"aucun paiement"}
                   : "moins de " + std::to_string(rule.paiements_below) + " paiements";
    case DifficultySignal::no_ej:
        return rule.ej_below <= 1 ? std::string{"aucun EJ"}
                                  : "moins de " + std::to_string(rule.ej_below) + " EJ";
    case DifficultySignal::no_titre:
        break;
    }
    return rule.titres_below <= 1
               ? std::string{"aucun titre de recettes"}
               : "moins de " + std::to_string(rule.titres_below) + " titres de recettes";
}

/// The signal with the EPLE's own figure when the threshold is not "none".
std::string signal_text(DifficultySignal signal, const Snapshot& s, const DifficultyRule& rule)
{
    const auto counted = [&](int value, int below, std::string_view what) {
        return below <= 1 ? threshold_text(signal, rule)
                          : std::to_string(value) + " " + std::string{what} + " (moins de " +
                                std::to_string(below) + ")";
    };
    switch (signal) {
    case DifficultySignal::kit_low:
        return "kit de bascule à " + format_rate(s.kit_taux) + " (sous " +
               format_rate(rule.kit_below) + ")";
    case DifficultySignal::no_paiement:
        return counted(s.paiements, rule.paiements_below, "paiements");
    case DifficultySignal::no_ej:
        return counted(s.ej, rule.ej_below, "EJ");
    case DifficultySignal::no_titre:
        break;
    }
    return counted(s.titres_recettes, rule.titres_below, "titres de recettes");
}

std::string rule_text(const DifficultyRule& rule)
{
    std::string text = "au moins " + plural(rule.signals_needed, "signal", "signaux") + " parmi ";
    const std::array signals{DifficultySignal::kit_low, DifficultySignal::no_paiement,
                             DifficultySignal::no_ej, DifficultySignal::no_titre};
    for (std::size_t i = 0; i < signals.size(); ++i)
        text += (i == 0 ? "" : ", ") + threshold_text(signals[i], rule);
    return text;
}

std::string reasons(const Snapshot& s, const DifficultyRule& rule)
{
    std::string text;
    for (const auto signal : difficulty_signals(s, rule))
        text += (text.empty() ? "" : ", ") + signal_text(signal, s, rule);
    return text;
}

/// The EPLE to accompany, most urgent first: most signals, then lowest kit rate.
std::vector<const EpleStatus*> urgent_first(const std::vector<EpleStatus>& statuses,
                                            const DifficultyRule& rule)
{
    std::vector<std::pair<std::size_t, const EpleStatus*>> ranked;
    for (const auto& status : statuses)
        if (status.latest && to_accompany(*status.latest, rule))
            ranked.emplace_back(difficulty_signals(*status.latest, rule).size(), &status);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        if (a.first != b.first)
            return a.first > b.first;
        return a.second->latest->kit_taux < b.second->latest->kit_taux;
    }); // stable: equal ones stay in the store's order (wave, then name)
    std::vector<const EpleStatus*> out;
    out.reserve(ranked.size());
    for (const auto& r : ranked)
        out.push_back(r.second);
    return out;
}

std::string accompany_list(const std::vector<const EpleStatus*>& list, const DifficultyRule& rule,
                           bool show_wave)
{
    std::string text;
    std::size_t rank = 0;
    for (const auto* status : list) {
        if (rank == max_listed) {
            text += "\n… et " + std::to_string(list.size() - rank) + " autres.";
            break;
        }
        const auto& e = status->etablissement;
        text += std::to_string(++rank) + ". **" + knowledge::escape_markdown(e.nom) + "** (" +
                e.uai + (show_wave ? ", vague " + std::to_string(e.vague) : std::string{}) +
                ") : " + reasons(*status->latest, rule) + "\n";
    }
    return text;
}

/// "Relevés du 19/01/2024 (il y a 3 jours)." for the snapshots shown.
std::string dates_line(const std::vector<EpleStatus>& statuses, std::chrono::year_month_day today)
{
    std::optional<std::chrono::year_month_day> oldest;
    std::optional<std::chrono::year_month_day> newest;
    for (const auto& s : statuses) {
        if (!s.latest)
            continue;
        if (!oldest || s.latest->date < *oldest)
            oldest = s.latest->date;
        if (!newest || s.latest->date > *newest)
            newest = s.latest->date;
    }
    if (!newest)
        return {};
    if (*oldest == *newest)
        return "Relevés du " + format_date(*newest) + " (" + age(*newest, today) + ").";
    return "Relevés du " + format_date(*oldest) + " au " + format_date(*newest) +
           " (le plus récent " + age(*newest, today) + ").";
}

std::string agence_comptable(const Etablissement& e, EpleStore& store)
{
    if (e.uai_agence_comptable.empty())
        return {};
    if (e.uai_agence_comptable == e.uai)
        return "- Agence comptable : siège (l'agent comptable est dans cet EPLE)\n";
    const auto agence = store.status(e.uai_agence_comptable);
    if (agence && agence.value())
        return "- Agence comptable : " +
               knowledge::escape_markdown(agence.value()->etablissement.nom) + " (" +
               e.uai_agence_comptable + ")\n";
    return "- Agence comptable : " + e.uai_agence_comptable + "\n";
}

std::string card(const EpleStatus& status, EpleStore& store, const EpleOptions& options)
{
    const auto& e = status.etablissement;
    std::string text = "**" + knowledge::escape_markdown(e.nom) + "** (" + e.uai + ")\n\n";
    std::string where;
    for (const auto& [label, value] : {std::pair{"Commune", &e.commune}, std::pair{"Type", &e.type},
                                       std::pair{"Académie", &e.academie}})
        if (!value->empty())
            where += (where.empty() ? "" : " · ") + std::string{label} + " : " +
                     knowledge::escape_markdown(*value);
    if (!where.empty())
        text += "- " + where + "\n";
    text += "- Vague " + std::to_string(e.vague) + " : bascule " + wave_start(e.vague) + "\n";
    text += agence_comptable(e, store);

    std::string tickets; // said only when a ticket backend knows
    if (options.tickets != nullptr)
        if (const auto open = options.tickets->open_tickets(e.uai); open.has_value())
            tickets = "- Tickets ouverts : " + std::to_string(open.value());
    if (!status.latest)
        return text + (tickets.empty() ? "" : tickets + "\n") +
               "\nAucun indicateur importé pour cet EPLE.";
    const auto& s = *status.latest;
    const auto today = local_date(options.clock());
    text += "\n**Indicateurs du " + format_date(s.date) + "** (" + age(s.date, today) + ")\n\n";
    text += "- Kit de bascule : " + format_rate(s.kit_taux);
    if (status.previous) {
        const auto delta =
            truncated_hundredths(s.kit_taux) - truncated_hundredths(status.previous->kit_taux);
        const auto since = " depuis le " + format_date(status.previous->date);
        if (delta == 0)
            text += " (stable" + since + ")";
        else
            text += std::string{" ("} + (delta > 0 ? "+" : "−") +
                    format_hundredths(delta > 0 ? delta : -delta) +
                    (std::llabs(delta) >= 200 ? " points" : " point") + since + ")";
    } else {
        text += " (premier relevé)";
    }
    text += "\n- Budget intégré : " + std::string{s.budget_integre ? "oui" : "non"};
    if (s.budget_saisie)
        text += *s.budget_saisie == BudgetSaisie::gfc ? ", saisi dans GFC" : ", saisi dans op@le";
    text += "\n- Paiements : " + std::to_string(s.paiements);
    text += "\n- Engagements juridiques (EJ) : " + std::to_string(s.ej);
    text += "\n- Titres de recettes (TR) : " + std::to_string(s.titres_recettes);
    text += "\n- Prélèvements : " + std::string{!s.prelevements   ? "non renseigné"
                                                : *s.prelevements ? "oui"
                                                                  : "non"};
    if (!tickets.empty())
        text += "\n" + tickets;
    const auto signals = difficulty_signals(s, options.rule);
    if (to_accompany(s, options.rule))
        text += "\n\n**À accompagner** : " + reasons(s, options.rule) + ".";
    else if (signals.empty())
        text += "\n\nPas à accompagner : aucun signal d'alerte.";
    else
        text += "\n\nPas à accompagner (il faut " +
                plural(options.rule.signals_needed, "signal", "signaux") +
                ") ; à surveiller : " + reasons(s, options.rule) + ".";
    return text;
}

/// The words of folded text, anything but letters and digits being a gap.
std::vector<std::string> words(std::string_view text)
{
    std::vector<std::string> out;
    std::string word;
    for (const char c : knowledge::fold(text)) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            word += c;
        } else if (!word.empty()) {
            out.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty())
        out.push_back(std::move(word));
    return out;
}

std::string joined(const std::vector<std::string>& parts)
{
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : " ") + p;
    return out;
}

/// The EPLE named by `args` (an UAI or part of its name), or the reply saying why there is not
/// one; `tail` ends the commands it suggests (" graphique" when a chart was asked for).
std::variant<EpleStatus, Reply> find_eple(EpleStore& store, std::string_view args,
                                          const std::string& prefix, std::string_view tail)
{
    const std::string example_tail{tail};
    std::string query{args};
    if (query.empty())
        return Reply{"Indiquez un UAI ou une partie du nom, par exemple `" + prefix +
                         "eple 0750655E" + example_tail + "` ou `" + prefix + "eple matisse" +
                         example_tail + "`.",
                     {}};
    const bool digits7 =
        query.size() >= 7 &&
        std::all_of(query.begin(), query.begin() + 7, [](char c) { return c >= '0' && c <= '9'; });
    if (digits7 && (query.size() == 7 || query.size() == 8)) {
        const auto key = *uai_key(std::string_view{query}.substr(0, 7));
        if (query.size() == 8) {
            query[7] = static_cast<char>(std::toupper(static_cast<unsigned char>(query[7])));
            if (query[7] != key)
                return Reply{"L'UAI " + knowledge::escape_markdown(query) +
                                 " n'est pas valide : la lettre de " + query.substr(0, 7) +
                                 " est " + std::string(1, key) + ".",
                             {}};
        } else {
            query += key;
        }
        const auto found = store.status(query);
        if (!found)
            return Reply{std::string{unavailable}, {}};
        if (!found.value())
            return Reply{"Aucun EPLE d'UAI " + query + " dans le référentiel du bot.", {}};
        return *found.value();
    }

    const auto wanted = words(query);
    if (wanted.empty())
        return Reply{"Indiquez un UAI ou une partie du nom.", {}};
    const auto all = store.etablissements();
    if (!all)
        return Reply{std::string{unavailable}, {}};
    std::vector<const Etablissement*> matches;
    const Etablissement* exact = nullptr;
    const auto wanted_text = joined(wanted);
    for (const auto& e : all.value()) {
        const auto name = joined(words(e.nom));
        const auto haystack = name + " " + joined(words(e.commune));
        if (std::all_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
                return haystack.find(w) != std::string::npos;
            }))
            matches.push_back(&e);
        if (name == wanted_text)
            exact = exact == nullptr ? &e : exact; // the first of homonyms; the list shows all
    }
    if (matches.empty())
        return Reply{"Aucun EPLE ne correspond à « " + knowledge::escape_markdown(query) + " ».",
                     {}};
    const Etablissement* chosen = matches.size() == 1 ? matches.front() : nullptr;
    if (chosen == nullptr && exact != nullptr &&
        std::count_if(matches.begin(), matches.end(), [&](const Etablissement* e) {
            return joined(words(e->nom)) == wanted_text;
        }) == 1)
        chosen = exact; // "Lycée du Vimeu" rather than also "Lycée du Vimeu annexe"
    if (chosen != nullptr) {
        const auto found = store.status(chosen->uai);
        if (!found || !found.value())
            return Reply{std::string{unavailable}, {}};
        return *found.value();
    }
    std::sort(matches.begin(), matches.end(), [](const auto* a, const auto* b) {
        return knowledge::fold(a->nom) < knowledge::fold(b->nom);
    });
    std::string text = std::to_string(matches.size()) + " EPLE correspondent à « " +
                       knowledge::escape_markdown(query) + " » :\n\n";
    for (std::size_t i = 0; i < matches.size() && i < max_matches; ++i) {
        const auto& e = *matches[i];
        text += "- **" + knowledge::escape_markdown(e.nom) + "** (" + e.uai + ")" +
                (e.commune.empty() ? "" : ", " + knowledge::escape_markdown(e.commune)) +
                ", vague " + std::to_string(e.vague) + "\n";
    }
    if (matches.size() > max_matches)
        text += "- … et " + std::to_string(matches.size() - max_matches) + " autres\n";
    text += "\nPrécisez le nom ou donnez l'UAI : `" + prefix + "eple <UAI>" + example_tail + "`.";
    return Reply{text, {}};
}

Reply eple(EpleStore& store, const EpleOptions& options, std::string_view args,
           const std::string& prefix)
{
    auto found = find_eple(store, args, prefix, {});
    if (auto* reply = std::get_if<Reply>(&found))
        return std::move(*reply);
    return Reply{card(std::get<EpleStatus>(found), store, options), {}};
}

/// "kit de bascule 1 % (médiane de la vague : 20 %)" for the EPLE's figures on its last day.
std::string against_median(const EpleChartData& data)
{
    constexpr std::array<std::pair<Indicator, std::string_view>, 4> names{
        {{Indicator::kit, "kit de bascule"},
         {Indicator::paiements, "paiements"},
         {Indicator::ej, "EJ"},
         {Indicator::titres, "titres de recettes"}}};
    std::size_t day = data.dates.size();
    while (day > 0 && !data.eple[0][day - 1])
        --day;
    if (day == 0)
        return {};
    std::string text = "Au " + format_date(data.dates[day - 1]) + " : ";
    for (std::size_t k = 0; k < names.size(); ++k) {
        const auto unit = names[k].first == Indicator::kit ? ChartUnit::percent : ChartUnit::count;
        text += (k == 0 ? "" : ", ") + std::string{names[k].second} + " " +
                format_chart_value(*data.eple[k][day - 1], unit) + " (médiane " +
                format_chart_value(*data.wave_median[k][day - 1], unit) + ")";
    }
    return text + ".";
}

Reply eple_graph(EpleStore& store, std::string_view args, const std::string& prefix)
{
    auto found = find_eple(store, args, prefix, " graphique");
    if (auto* reply = std::get_if<Reply>(&found))
        return std::move(*reply);
    const auto& status = std::get<EpleStatus>(found);
    const auto& e = status.etablissement;
    const auto name = "**" + knowledge::escape_markdown(e.nom) + "** (" + e.uai + ")";
    if (!status.latest)
        return Reply{
            "Aucun indicateur importé pour " + name + " : pas encore de graphique.", {}, {}};
    const auto history = store.history(e.vague);
    if (!history)
        return Reply{std::string{unavailable}, {}, {}};
    const auto data = eple_chart_data(e, history.value());
    std::string text = name + ", vague " + std::to_string(e.vague) +
                       " : kit de bascule, paiements, EJ et titres de recettes à chaque relevé, "
                       "face à la médiane de la vague.\n\n" +
                       against_median(data);
    return chart_reply(std::move(text), eple_chart(data), "eple-" + e.uai + ".png");
}

/// "6", "V6", "vague 6" → 6; nothing for anything else.
std::optional<int> wave_argument(std::string_view args)
{
    if (args.find_first_of("-+.,") != std::string_view::npos)
        return std::nullopt; // words() drops signs: "-1" read as wave 1 (issue 15)
    auto w = words(args);
    if (!w.empty() && w.front() == "vague")
        w.erase(w.begin());
    if (w.size() != 1)
        return std::nullopt;
    std::string_view number = w.front();
    if (number.starts_with('v'))
        number.remove_prefix(1);
    if (number.size() != 1 || number[0] < '1' || number[0] > '9')
        return std::nullopt;
    return number[0] - '0';
}

Reply wave(EpleStore& store, const EpleOptions& options, std::string_view args,
           const std::string& prefix)
{
    const auto number = wave_argument(args);
    if (!number)
        return Reply{"Indiquez une vague de 1 à 9, par exemple `" + prefix + "vague 6`.", {}};
    const auto statuses = store.statuses(*number);
    if (!statuses)
        return Reply{std::string{unavailable}, {}};
    const auto& all = statuses.value();
    const auto n = static_cast<long long>(all.size());
    std::string text = "**Vague " + std::to_string(*number) + "** (bascule " + wave_start(*number) +
                       ") : " + plural(n, "EPLE", "EPLE") + "\n\n";
    if (n == 0)
        return Reply{text + "Aucun EPLE de cette vague n'est connu du bot.", {}};

    long long integrated = 0;
    long long gfc = 0;
    long long opale = 0;
    long long paying = 0;
    long long debiting = 0;
    long long debit_known = 0;
    long long measured = 0;
    double kit_sum = 0;
    std::array<long long, 3> buckets{};
    for (const auto& status : all) {
        if (!status.latest)
            continue;
        const auto& s = *status.latest;
        ++measured;
        integrated += s.budget_integre ? 1 : 0;
        gfc += s.budget_saisie == BudgetSaisie::gfc ? 1 : 0;
        opale += s.budget_saisie == BudgetSaisie::opale ? 1 : 0;
        paying += s.paiements > 0 ? 1 : 0;
        debit_known += s.prelevements ? 1 : 0;
        debiting += s.prelevements.value_or(false) ? 1 : 0;
        kit_sum += s.kit_taux;
        ++buckets[static_cast<std::size_t>(kit_bucket(s.kit_taux))];
    }
    if (measured == 0)
        return Reply{text + "Aucun indicateur importé pour cette vague.", {}};

    text += "- " + std::to_string(integrated) +
            (integrated > 1 ? " budgets intégrés sur " : " budget intégré sur ") +
            std::to_string(n) + " (" + format_percent(integrated, n) + ")\n";
    if (gfc + opale > 0)
        text += "- Budget saisi dans GFC : " + std::to_string(gfc) + " (" +
                format_percent(gfc, gfc + opale) + ") · dans op@le : " + std::to_string(opale) +
                " (" + format_percent(opale, gfc + opale) + ")\n";
    text += "- Kit de bascule (taux moyen " + format_rate(kit_sum / static_cast<double>(measured)) +
            ") :\n";
    text += "  - plus de 30 % : " + plural(buckets[0], "EPLE", "EPLE") + "\n";
    text += "  - de 10 à 30 % : " + plural(buckets[1], "EPLE", "EPLE") + "\n";
    text += "  - moins de 10 % : " + plural(buckets[2], "EPLE", "EPLE") + "\n";
    text += "- Paiements effectués : " + plural(paying, "EPLE", "EPLE") + " sur " +
            std::to_string(n) + " (" + format_percent(paying, n) + ")\n";
    if (debit_known > 0)
        text += "- Prélèvements mis en œuvre : " + plural(debiting, "EPLE", "EPLE") + " sur " +
                std::to_string(n) + " (" + format_percent(debiting, n) + ")\n";
    if (measured < n)
        text += "- Sans indicateur : " + plural(n - measured, "EPLE", "EPLE") + "\n";

    const auto list = urgent_first(all, options.rule);
    text += "\n**EPLE à accompagner : " + std::to_string(list.size()) + "**";
    text += list.empty() ? std::string{"\n"} : "\n\n" + accompany_list(list, options.rule, false);
    text += "\n" + dates_line(all, local_date(options.clock()));
    return Reply{text, {}};
}

Reply wave_graph(EpleStore& store, std::string_view args, const std::string& prefix)
{
    const auto number = wave_argument(args);
    if (!number)
        return Reply{
            "Indiquez une vague de 1 à 9, par exemple `" + prefix + "vague 6 graphique`.", {}, {}};
    const auto counts = store.count_by_wave();
    const auto history = store.history(*number);
    if (!counts || !history)
        return Reply{std::string{unavailable}, {}, {}};
    const auto wave_name = "**Vague " + std::to_string(*number) + "**";
    const auto known = counts.value().find(*number);
    if (known == counts.value().end())
        return Reply{wave_name +
                         " : aucun EPLE de cette vague n'est connu du bot, pas de graphique.",
                     {},
                     {}};
    if (history.value().empty())
        return Reply{wave_name + " : aucun indicateur importé pour cette vague, pas encore de "
                                 "graphique.",
                     {},
                     {}};
    const auto data = wave_chart_data(*number, known->second, history.value());
    const auto& first = data.days.front();
    const auto& last = data.days.back();
    const auto n = static_cast<long long>(data.eple);
    std::string text =
        wave_name + " (bascule " + wave_start(*number) + ") : " + plural(n, "EPLE", "EPLE") + ", " +
        plural(static_cast<long long>(data.days.size()), "relevé", "relevés") +
        (data.days.size() > 1 ? " du " + format_date(first.date) + " au " + format_date(last.date)
                              : " le " + format_date(last.date)) +
        ".\n\nAu " + format_date(last.date) + " : " + std::to_string(last.budgets_integres) +
        " sur " + std::to_string(n) + " budgets intégrés (" +
        format_percent(last.budgets_integres, n) +
        ") ; kit de bascule à plus de 30 % : " + std::to_string(last.kit_bands[0]) +
        ", de 10 à 30 % : " + std::to_string(last.kit_bands[1]) +
        ", à moins de 10 % : " + std::to_string(last.kit_bands[2]) + ".";
    return chart_reply(std::move(text), wave_chart(data),
                       "vague-" + std::to_string(*number) + ".png");
}

Reply difficulties(EpleStore& store, const EpleOptions& options, std::string_view args,
                   const std::string& prefix)
{
    std::optional<int> number;
    if (!args.empty()) {
        number = wave_argument(args);
        if (!number)
            return Reply{"Usage : `" + prefix + "difficultes [vague]`, par exemple `" + prefix +
                             "difficultes 6`.",
                         {}};
    }
    const auto statuses = store.statuses(number);
    if (!statuses)
        return Reply{std::string{unavailable}, {}};
    const auto& all = statuses.value();
    const auto scope = number ? " (vague " + std::to_string(*number) + ")" : std::string{};
    const auto list = urgent_first(all, options.rule);
    const auto without = std::count_if(all.begin(), all.end(),
                                       [](const EpleStatus& s) { return !s.latest.has_value(); });
    std::string text;
    if (list.empty()) {
        text = "Aucun EPLE à accompagner" + scope + " selon la règle : " + rule_text(options.rule) +
               ".";
    } else {
        text = "**EPLE à accompagner" + scope + " : " + std::to_string(list.size()) +
               "**, les plus urgents d'abord\n\nRègle : " + rule_text(options.rule) + ".\n\n" +
               accompany_list(list, options.rule, !number);
    }
    if (without > 0)
        text += "\n" + plural(without, "EPLE n'a encore aucun indicateur et n'est pas évalué.",
                              "EPLE n'ont encore aucun indicateur et ne sont pas évalués.");
    const auto dates = dates_line(all, local_date(options.clock()));
    if (!dates.empty())
        text += "\n" + dates;
    return Reply{text, {}};
}

Reply calendar(EpleStore& store)
{
    const auto counts = store.count_by_wave();
    if (!counts)
        return Reply{std::string{unavailable}, {}};
    std::string text = "**Calendrier de déploiement d'op@le** (comité de suivi du 22/01/2024)\n\n";
    long long total = 0;
    for (const auto& w : deployment_calendar()) {
        const auto it = counts.value().find(w.number);
        const int known = it == counts.value().end() ? 0 : it->second;
        total += known;
        text += "- Vague " + std::to_string(w.number) + " : " +
                (w.start ? std::string{*w.start} : std::string{"date non publiée"}) + " · " +
                (known == 0 ? std::string{"aucun EPLE connu"}
                            : plural(known, "EPLE connu", "EPLE connus")) +
                "\n";
    }
    text += "\nFin du déploiement : 01/09/2025. EPLE connus du bot : " + std::to_string(total) +
            ".\n\nCe calendrier a depuis été assoupli (jusqu'à janvier 2027 selon le Sgen-CFDT) : "
            "la date d'une vague se confirme auprès de l'académie.";
    return Reply{text, {}};
}

} // namespace

std::vector<DifficultySignal> difficulty_signals(const Snapshot& snapshot,
                                                 const DifficultyRule& rule)
{
    std::vector<DifficultySignal> signals;
    if (snapshot.kit_taux < rule.kit_below)
        signals.push_back(DifficultySignal::kit_low);
    if (snapshot.paiements < rule.paiements_below)
        signals.push_back(DifficultySignal::no_paiement);
    if (snapshot.ej < rule.ej_below)
        signals.push_back(DifficultySignal::no_ej);
    if (snapshot.titres_recettes < rule.titres_below)
        signals.push_back(DifficultySignal::no_titre);
    return signals;
}

bool to_accompany(const Snapshot& snapshot, const DifficultyRule& rule)
{
    return static_cast<int>(difficulty_signals(snapshot, rule).size()) >= rule.signals_needed;
}

KitBucket kit_bucket(double kit_taux)
{
    if (kit_taux > 30.0)
        return KitBucket::more_than_30;
    if (kit_taux >= 10.0)
        return KitBucket::from_10_to_30;
    return KitBucket::less_than_10;
}

const std::array<Wave, 9>& deployment_calendar()
{
    // Comité de suivi op@le of 22/01/2024 ("Rappel des vagues de déploiement", SI2C).
    static const std::array<Wave, 9> calendar{{{1, "01/2021"},
                                               {2, "01/2022"},
                                               {3, "09/2022"},
                                               {4, "01/2023"},
                                               {5, "09/2023"},
                                               {6, "01/2024"},
                                               {7, "09/2024"},
                                               {8, "01/2025"},
                                               {9, "09/2025"}}};
    return calendar;
}

namespace {

/// `options` with the rule in force now.
EpleOptions in_force(const EpleOptions& options)
{
    auto now = options;
    if (now.current_rule)
        now.rule = now.current_rule();
    return now;
}

} // namespace

void add_eple_commands(Registry& registry, EpleStore& store, EpleOptions options)
{
    const auto& prefix = registry.prefix();
    const auto add = [&registry](Command command) {
        const auto name = command.name;
        if (!registry.add(std::move(command)))
            throw std::logic_error("command registered twice: " + name); // a programming error
    };
    if (options.tickets != nullptr) // an EPLE's open tickets: maybe from iTop
        registry.mark_waits_on_backend("eple");
    auto shared = std::make_shared<const EpleOptions>(std::move(options)); // one copy, 4 handlers
    add({"eple",
         {},
         prefix + "eple <UAI | partie du nom> [graphique]",
         "l'état d'un EPLE : vague, kit de bascule, budget, paiements, EJ, TR ; en graphique, "
         "face à la médiane de sa vague",
         Role::member,
         [&store, shared, prefix](const Context& c) {
             if (const auto rest = chart_request(c.args))
                 return eple_graph(store, *rest, prefix);
             return eple(store, in_force(*shared), c.args, prefix);
         }});
    add({"vague",
         {},
         prefix + "vague <N> [graphique]",
         "le tableau de bord d'une vague : budgets, kit de bascule, paiements, EPLE à "
         "accompagner ; en graphique, leur évolution",
         Role::member,
         [&store, shared, prefix](const Context& c) {
             if (const auto rest = chart_request(c.args))
                 return wave_graph(store, *rest, prefix);
             return wave(store, in_force(*shared), c.args, prefix);
         }});
    add({"difficultes",
         {},
         prefix + "difficultes [vague]",
         "les EPLE à accompagner, les plus urgents d'abord, et pourquoi",
         Role::member,
         [&store, shared, prefix](const Context& c) {
             return difficulties(store, in_force(*shared), c.args, prefix);
         }});
    add({"vagues",
         {},
         prefix + "vagues",
         "le calendrier des vagues de déploiement et le nombre d'EPLE connus par vague",
         Role::member,
         [&store](const Context&) { return calendar(store); }});
}

void add_eple_import_command(Registry& registry, EpleStore& store,
                             std::function<void(const ImportReport&)> on_refused)
{
    const auto& prefix = registry.prefix();
    Command command{
        "import",
        {},
        prefix + "import etablissements|indicateurs",
        "importe un fichier CSV (en réponse au fichier, ou en légende du fichier)",
        Role::admin,
        [&store, prefix, on_refused = std::move(on_refused)](const Context& c) {
            const auto kind = knowledge::fold(c.args);
            const bool referential = kind == "etablissements";
            if (!referential && kind != "indicateurs")
                return Reply{"Usage : `" + prefix + "import etablissements` ou `" + prefix +
                                 "import indicateurs`, en réponse au fichier CSV (ou en légende "
                                 "du fichier).",
                             {}};
            if (!c.message.attachment)
                return Reply{"Je ne vois pas de fichier : répondez au message qui contient le "
                             "fichier CSV avec `" +
                                 prefix + "import " + kind +
                                 "`, ou envoyez le fichier avec "
                                 "cette commande en légende.",
                             {}};
            const auto& file = *c.message.attachment;
            const auto report = referential ? import_etablissements(store, file.content, file.name)
                                            : import_indicateurs(store, file.content, file.name);
            if (!report.ok && on_refused)
                on_refused(report);
            return Reply{format_import_report_markdown(report), {}};
        }};
    if (!registry.add(std::move(command)))
        throw std::logic_error("command registered twice: import"); // a programming error
}

} // namespace opalebot::commands
