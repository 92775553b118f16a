#include "commands/chart_data.hpp"

#include "commands/eple_commands.hpp"
#include "commands/french_format.hpp"

#include <algorithm>
#include <map>

namespace opalebot::commands {
namespace {

using std::chrono::sys_days;
using std::chrono::year_month_day;

/// Calls `visit(day, latest)` for each day of `history`, with each EPLE's latest snapshot on or
/// before that day (an EPLE not imported again keeps its last figures).
template <class Visit>
void for_each_day(const std::vector<Snapshot>& history, Visit visit)
{
    auto sorted = history;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Snapshot& a, const Snapshot& b) { return a.date < b.date; });
    std::map<std::string, const Snapshot*> latest; // by UAI
    for (std::size_t i = 0; i < sorted.size();) {
        const auto day = sorted[i].date;
        for (; i < sorted.size() && sorted[i].date == day; ++i)
            latest[sorted[i].uai] = &sorted[i];
        visit(day, latest);
    }
}

double indicator(const Snapshot& s, Indicator which)
{
    switch (which) {
    case Indicator::kit:
        return s.kit_taux;
    case Indicator::paiements:
        return s.paiements;
    case Indicator::ej:
        return s.ej;
    case Indicator::titres:
        break;
    }
    return s.titres_recettes;
}

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

std::vector<std::string> date_labels(const std::vector<year_month_day>& days)
{
    std::vector<std::string> labels;
    labels.reserve(days.size());
    for (const auto& day : days)
        labels.push_back(format_date(day));
    return labels;
}

/// `part / whole` in percent, for a share the chart draws (format_rate truncates it as
/// format_percent does); nothing when `whole` is 0.
std::optional<double> share(int part, int whole)
{
    if (whole <= 0)
        return std::nullopt;
    return 100.0 * part / whole;
}

} // namespace

WaveChartData wave_chart_data(int vague, int eple, const std::vector<Snapshot>& history)
{
    WaveChartData data{vague, eple, {}};
    for_each_day(history, [&](year_month_day day, const auto& latest) {
        WaveDay wave_day;
        wave_day.date = day;
        for (const auto& [uai, s] : latest) {
            ++wave_day.measured;
            ++wave_day.kit_bands[static_cast<std::size_t>(kit_bucket(s->kit_taux))];
            wave_day.budgets_integres += s->budget_integre ? 1 : 0;
            wave_day.paying += s->paiements > 0 ? 1 : 0;
        }
        data.days.push_back(wave_day);
    });
    return data;
}

Chart wave_chart(const WaveChartData& data)
{
    Chart chart;
    const auto wave = "Vague " + std::to_string(data.vague);
    chart.title = wave + " : kit de bascule, budgets et paiements";
    if (!data.days.empty())
        chart.data_date = data.days.back().date;
    std::vector<year_month_day> days;
    for (const auto& d : data.days)
        days.push_back(d.date);
    chart.categories = date_labels(days);
    chart.x_label = "Date du relevé";

    ChartPanel bands{"Kit de bascule : EPLE par tranche",
                     "EPLE",
                     ChartKind::stacked_bars,
                     ChartUnit::count,
                     std::nullopt,
                     {}};
    bands.series = {{"plus de 30 %", ChartColour::bluish_green, {}, false},
                    {"de 10 à 30 %", ChartColour::orange, {}, false},
                    {"moins de 10 %", ChartColour::vermillion, {}, false}};
    ChartSeries unmeasured{"sans relevé", ChartColour::grey, {}, false};
    ChartPanel shares{"Budgets intégrés et paiements",
                      "% des " + std::to_string(data.eple) + " EPLE de la vague",
                      ChartKind::lines,
                      ChartUnit::percent,
                      100.0,
                      {}};
    shares.series = {{"budget intégré", ChartColour::blue, {}, false},
                     {"au moins un paiement", ChartColour::reddish_purple, {}, false}};
    bool any_unmeasured = false;
    for (const auto& d : data.days) {
        for (std::size_t band = 0; band < 3; ++band)
            bands.series[band].values.emplace_back(d.kit_bands[band]);
        unmeasured.values.emplace_back(std::max(0, data.eple - d.measured));
        any_unmeasured = any_unmeasured || d.measured < data.eple;
        shares.series[0].values.push_back(share(d.budgets_integres, data.eple));
        shares.series[1].values.push_back(share(d.paying, data.eple));
    }
    if (any_unmeasured)
        bands.series.push_back(std::move(unmeasured));
    chart.panels = {std::move(bands), std::move(shares)};
    chart.note = std::to_string(data.eple) +
                 " EPLE dans la vague ; chacun compté à son dernier relevé à la date. Les EPLE à "
                 "10 % et à 30 % sont dans la tranche du milieu, comme au comité de suivi.";
    return chart;
}

EpleChartData eple_chart_data(const Etablissement& etablissement,
                              const std::vector<Snapshot>& history)
{
    EpleChartData data;
    data.etablissement = etablissement;
    for_each_day(history, [&](year_month_day day, const auto& latest) {
        data.dates.push_back(day);
        const auto own = latest.find(etablissement.uai);
        for (const auto which :
             {Indicator::kit, Indicator::paiements, Indicator::ej, Indicator::titres}) {
            const auto k = static_cast<std::size_t>(which);
            std::vector<double> values;
            values.reserve(latest.size());
            for (const auto& [uai, s] : latest)
                values.push_back(indicator(*s, which));
            data.wave_median[k].push_back(median(std::move(values))); // latest is never empty
            data.eple[k].push_back(own == latest.end()
                                       ? std::nullopt
                                       : std::optional<double>{indicator(*own->second, which)});
        }
    });
    return data;
}

Chart eple_chart(const EpleChartData& data)
{
    const auto& e = data.etablissement;
    Chart chart;
    chart.title = e.nom + " (" + e.uai + ") : indicateurs";
    // the EPLE's own latest day: the wave may have been imported again without it
    for (std::size_t i = data.dates.size(); i-- > 0;)
        if (data.eple[0][i]) {
            chart.data_date = data.dates[i];
            break;
        }
    chart.categories = date_labels(data.dates);
    chart.x_label = "Date du relevé";
    // four panels in two rows: 1,200 × 1,000 px rather than 2,100 px tall, which a phone's
    // timeline shrinks to fit its height
    chart.columns = 2;
    const auto wave = "médiane de la vague " + std::to_string(e.vague);
    const std::array<std::pair<const char*, const char*>, 4> titles{
        {{"Kit de bascule", "% des actions terminées"},
         {"Paiements", "nombre"},
         {"Engagements juridiques (EJ)", "nombre"},
         {"Titres de recettes (TR)", "nombre"}}};
    for (std::size_t k = 0; k < titles.size(); ++k) {
        ChartPanel panel{titles[k].first,
                         titles[k].second,
                         ChartKind::lines,
                         k == 0 ? ChartUnit::percent : ChartUnit::count,
                         k == 0 ? std::optional<double>{100.0} : std::nullopt,
                         {{"cet EPLE", ChartColour::blue, data.eple[k], false},
                          {wave, ChartColour::grey, data.wave_median[k], true}}};
        chart.panels.push_back(std::move(panel));
    }
    chart.note = "Médiane des EPLE de la vague " + std::to_string(e.vague) +
                 " relevés à chaque date, chacun à son dernier relevé.";
    return chart;
}

std::vector<TicketWeek> ticket_weeks(const std::vector<Ticket>& tickets, year_month_day first_day,
                                     year_month_day last_day, TimePoint now, std::size_t max_weeks)
{
    const auto monday = [](year_month_day day) {
        const sys_days d{day};
        return sys_days{d - std::chrono::days{(std::chrono::weekday{d}.iso_encoding() - 1)}};
    };
    const auto first = monday(first_day);
    const auto last = monday(last_day);
    if (last < first)
        return {};
    const auto count = static_cast<std::size_t>((last - first).count() / 7 + 1);
    std::vector<std::vector<Ticket>> filed(count);
    for (const auto& t : tickets) {
        const auto week = monday(local_date(t.created_at));
        if (week >= first && week <= last)
            filed[static_cast<std::size_t>((week - first).count() / 7)].push_back(t);
    }
    std::vector<TicketWeek> weeks;
    for (std::size_t i = count > max_weeks ? count - max_weeks : 0; i < count; ++i)
        weeks.push_back({year_month_day{first + std::chrono::days{7 * static_cast<int>(i)}},
                         compute_ticket_stats(filed[i], now)});
    return weeks;
}

Chart tickets_chart(const std::vector<TicketWeek>& weeks, std::string_view period,
                    year_month_day today)
{
    Chart chart;
    chart.title = "Tickets " + std::string{period};
    chart.data_date = today;
    chart.x_label = "Semaine du lundi";
    ChartPanel filed{"Tickets déposés par semaine",
                     "tickets",
                     ChartKind::bars,
                     ChartUnit::count,
                     std::nullopt,
                     {{"déposés", ChartColour::blue, {}, false}}};
    ChartPanel resolved{"Part des tickets de la semaine déjà résolus",
                        "% des tickets déposés",
                        ChartKind::lines,
                        ChartUnit::percent,
                        100.0,
                        {{"le jour même", ChartColour::vermillion, {}, false},
                         {"en 2 jours ou moins", ChartColour::orange, {}, false},
                         {"en 7 jours ou moins", ChartColour::bluish_green, {}, false}}};
    for (const auto& week : weeks) {
        chart.categories.push_back(format_date(week.monday));
        const auto& s = week.stats;
        filed.series[0].values.emplace_back(s.all.filed);
        resolved.series[0].values.push_back(share(s.resolved_same_day, s.all.filed));
        resolved.series[1].values.push_back(share(s.resolved_within_2_days, s.all.filed));
        resolved.series[2].values.push_back(share(s.resolved_within_7_days, s.all.filed));
    }
    chart.panels = {std::move(filed), std::move(resolved)};
    chart.note = "Pourcentages calculés sur les tickets déposés dans la semaine, comme dans les "
                 "statistiques en texte.";
    return chart;
}

} // namespace opalebot::commands
