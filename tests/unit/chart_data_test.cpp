#include "commands/chart_data.hpp"

#include "commands/chart_reply.hpp"
#include "commands/eple_commands.hpp"

#include <doctest/doctest.h>

#include <string>

#include "support/checks.hpp"
#include "support/eple_fixture.hpp"
#include "support/png.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;
using opalebot::testing::value;

namespace {

Snapshot snapshot(std::string uai, std::chrono::year_month_day date, double kit, int paiements,
                  bool budget = false)
{
    Snapshot s;
    s.uai = std::move(uai);
    s.date = date;
    s.kit_taux = kit;
    s.paiements = paiements;
    s.ej = paiements * 2;
    s.titres_recettes = paiements + 1;
    s.budget_integre = budget;
    return s;
}

/// The wave-6 fixture with the EPLE commands, on the day of the comité.
struct WaveSixCharts {
    StateDatabase state{":memory:"};
    EpleStore store{state};
    Registry registry;

    WaveSixCharts()
    {
        opalebot::testing::import_wave_six(store);
        EpleOptions options;
        options.clock = [] { return std::chrono::sys_days{2024y / 1 / 22} + 12h; };
        add_eple_commands(registry, store, options);
    }

    Reply ask(std::string body)
    {
        auto reply = registry.dispatch(Message{"@agent:tchap.gouv.fr", "!salon:tchap.gouv.fr",
                                               std::move(body), Role::member, std::nullopt});
        REQUIRE(reply);
        return std::move(*reply);
    }
};

/// The file of a chart reply, checked as a PNG the transports can send as m.image.
const OutgoingFile& chart_file(const Reply& reply)
{
    REQUIRE(reply.files.size() == 1);
    const auto& file = reply.files.front();
    CHECK(file.mime_type == "image/png");
    REQUIRE(file.image);
    CHECK(file.image->width >= 1000);
    const auto image = opalebot::testing::decode_png(file.content);
    CHECK(image.width == file.image->width);
    CHECK(image.height == file.image->height);
    CHECK(opalebot::testing::distinct_colours(image).size() > 4);
    const auto thumbnail = opalebot::testing::decode_png(file.image->thumbnail_png);
    CHECK(thumbnail.width == file.image->thumbnail_width);
    CHECK(thumbnail.height == file.image->thumbnail_height);
    CHECK(thumbnail.width <= 400);
    return file;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("wave chart data of the wave six fixture gives the comite figures")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        opalebot::testing::import_wave_six(store);
        const auto data = wave_chart_data(6, 61, value(store.history(6)));
        REQUIRE(data.days.size() == 2);
        CHECK(data.days[0].date == 2024y / 1 / 12);
        const auto& last = data.days[1];
        CHECK(last.date == 2024y / 1 / 19);
        CHECK(last.measured == 61);
        CHECK(last.budgets_integres == 50);
        CHECK(last.kit_bands == std::array<int, 3>{15, 30, 16});
        CHECK(last.paying == 33); // "Paiements effectués : 33 EPLE" in !vague 6
        CHECK(data.days[0].kit_bands[0] + data.days[0].kit_bands[1] + data.days[0].kit_bands[2] ==
              61);

        const auto chart = wave_chart(data);
        CHECK(chart.data_date == 2024y / 1 / 19);
        CHECK(chart.categories == std::vector<std::string>{"12/01/2024", "19/01/2024"});
        REQUIRE(chart.panels.size() == 2);
        CHECK(chart.panels[0].series.size() == 3); // every EPLE measured: no "sans relevé"
        CHECK(chart.panels[0].series[0].values[1] == 15);
        CHECK(chart.panels[0].series[2].values[1] == 16);
        const auto text = describe_chart(chart);
        CHECK(contains(text, "- 19/01/2024 : plus de 30 % : 15 ; de 10 à 30 % : 30 ; moins de "
                             "10 % : 16\n"));
        CHECK(contains(text, "- 19/01/2024 : budget intégré : 81,96 % ; au moins un paiement : "
                             "54,09 %\n"));
    }

    TEST_CASE("wave chart data keeps an EPLE at its last snapshot and counts the unmeasured")
    {
        const std::vector<Snapshot> history{snapshot("A", 2024y / 1 / 5, 5, 0),
                                            snapshot("B", 2024y / 1 / 5, 50, 2, true),
                                            snapshot("A", 2024y / 1 / 12, 20, 1)};
        const auto data = wave_chart_data(3, 4, history);
        REQUIRE(data.days.size() == 2);
        CHECK(data.days[0].kit_bands == std::array<int, 3>{1, 0, 1});
        CHECK(data.days[1].kit_bands == std::array<int, 3>{1, 1, 0}); // B kept from the 5th
        CHECK(data.days[1].measured == 2);
        CHECK(data.days[1].paying == 2);
        CHECK(data.days[1].budgets_integres == 1);
        const auto chart = wave_chart(data);
        REQUIRE(chart.panels[0].series.size() == 4);
        CHECK(chart.panels[0].series[3].name == "sans relevé");
        CHECK(chart.panels[0].series[3].values[1] == 2);
        CHECK(chart.panels[1].series[0].values[1] == 25.0); // 1 budget of the wave's 4
    }

    TEST_CASE("eple chart data sets the EPLE against the median of its wave")
    {
        Etablissement a;
        a.uai = "A";
        a.nom = "Collège A";
        a.vague = 3;
        const std::vector<Snapshot> history{
            snapshot("B", 2024y / 1 / 5, 40, 4), snapshot("C", 2024y / 1 / 5, 10, 2),
            snapshot("A", 2024y / 1 / 12, 4, 0), snapshot("B", 2024y / 1 / 12, 50, 6)};
        const auto data = eple_chart_data(a, history);
        REQUIRE(data.dates.size() == 2);
        const auto kit = static_cast<std::size_t>(Indicator::kit);
        const auto paid = static_cast<std::size_t>(Indicator::paiements);
        const auto titres = static_cast<std::size_t>(Indicator::titres);
        CHECK_FALSE(data.eple[kit][0]); // A not measured yet
        CHECK(data.eple[kit][1] == 4);
        CHECK(data.wave_median[kit][0] == 25); // (10 + 40) / 2
        CHECK(data.wave_median[kit][1] == 10); // 4, 10 (C kept), 50
        CHECK(data.wave_median[paid][1] == 2);
        CHECK(data.eple[titres][1] == 1);
        const auto chart = eple_chart(data);
        CHECK(chart.data_date == 2024y / 1 / 12);
        REQUIRE(chart.panels.size() == 4);
        CHECK(chart.panels[0].unit == ChartUnit::percent);
        CHECK(chart.panels[0].series[1].name == "médiane de la vague 3");
        CHECK(contains(describe_chart(chart),
                       "- 12/01/2024 : cet EPLE : 4 % ; médiane de la vague 3 : 10 %"));
    }

    TEST_CASE("eple chart data of the wave six fixture follows one EPLE")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        opalebot::testing::import_wave_six(store);
        const auto status = value(store.status("0809001Z"));
        REQUIRE(status);
        const auto data = eple_chart_data(status->etablissement, value(store.history(6)));
        const auto kit = static_cast<std::size_t>(Indicator::kit);
        CHECK(data.eple[kit] == std::vector<std::optional<double>>{0.0, 1.0}); // its two rows
        REQUIRE(data.wave_median[kit].size() == 2);
        CHECK(*data.wave_median[kit][1] > 1.0); // the mean is 20,6 %; this EPLE is behind
    }

    TEST_CASE("ticket weeks count each week and the shares resolved in time")
    {
        // Thursday 1 February 2024 at noon; Monday of its week: 29 January
        const TimePoint day0 = TimePoint{std::chrono::sys_days{2024y / 2 / 1}} + 12h;
        const auto ticket = [](TimePoint created, std::optional<TimePoint> resolved) {
            Ticket t;
            t.created_at = created;
            t.resolved_at = resolved;
            t.status = resolved ? TicketStatus::resolved : TicketStatus::assigned;
            return t;
        };
        const std::vector<Ticket> tickets{ticket(day0, day0 + 2h), ticket(day0, day0 + 40h),
                                          ticket(day0 + 24h, std::nullopt),
                                          ticket(day0 + 14 * 24h, day0 + 20 * 24h)};
        const auto now = day0 + 21 * 24h;
        const auto weeks = ticket_weeks(tickets, 2024y / 1 / 31, 2024y / 2 / 22, now);
        REQUIRE(weeks.size() == 4);
        CHECK(weeks[0].monday == 2024y / 1 / 29);
        CHECK(weeks[0].stats.all.filed == 3);
        CHECK(weeks[0].stats.resolved_same_day == 1);
        CHECK(weeks[0].stats.resolved_within_2_days == 2);
        CHECK(weeks[1].stats.all.filed == 0);
        CHECK(weeks[2].stats.all.filed == 1);
        CHECK(weeks[2].stats.resolved_within_7_days == 1);
        CHECK(weeks[3].monday == 2024y / 2 / 19);
        CHECK(ticket_weeks(tickets, 2024y / 1 / 31, 2024y / 2 / 22, now, 2).front().monday ==
              2024y / 2 / 12);

        const auto chart = tickets_chart(weeks, "depuis le début", 2024y / 2 / 22);
        CHECK(chart.categories.front() == "29/01/2024");
        CHECK(chart.panels[0].series[0].values[0] == 3);
        CHECK_FALSE(chart.panels[1].series[0].values[1]); // no ticket that week: no share
        CHECK(contains(describe_chart(chart),
                       "- 29/01/2024 : le jour même : 33,33 % ; en 2 jours "
                       "ou moins : 66,66 % ; en 7 jours ou moins : 66,66 %"));
    }

    TEST_CASE("chart request is the last word graphique")
    {
        CHECK(chart_request("6 graphique") == std::optional<std::string_view>{"6"});
        CHECK(chart_request("6 Graphique ") == std::optional<std::string_view>{"6"});
        CHECK(chart_request("graphique") == std::optional<std::string_view>{""});
        CHECK_FALSE(chart_request("6"));
        CHECK_FALSE(chart_request("graphique 6"));
        CHECK_FALSE(chart_request(""));
    }

    TEST_CASE("vague graphique returns the chart of the wave with its figures")
    {
        WaveSixCharts six;
        const auto reply = six.ask("!vague 6 graphique");
        CHECK(contains(reply.markdown, "**Vague 6** (bascule 01/2024) : 61 EPLE, 2 relevés du "
                                       "12/01/2024 au 19/01/2024."));
        CHECK(contains(reply.markdown, "50 sur 61 budgets intégrés (81,96 %)"));
        CHECK(
            contains(reply.markdown, "plus de 30 % : 15, de 10 à 30 % : 30, à moins de 10 % : 16"));
        const auto& file = chart_file(reply);
        CHECK(file.name == "vague-6.png");
        CHECK(contains(file.description, "Vague 6 : kit de bascule, budgets et paiements "
                                         "(données du 19/01/2024)"));
        CHECK(contains(file.description, "budget intégré : 81,96 %"));
        CHECK(six.ask("!vague 6").files.empty()); // the text command is unchanged
    }

    TEST_CASE("vague graphique explains what it cannot draw")
    {
        WaveSixCharts six;
        for (const auto* body :
             {"!vague 12 graphique", "!vague graphique", "!vague -1 graphique"}) {
            const auto reply = six.ask(body);
            CHECK(contains(reply.markdown, "Indiquez une vague de 1 à 9, par exemple `!vague 6 "
                                           "graphique`."));
            CHECK(reply.files.empty());
        }
        const auto unknown = six.ask("!vague 7 graphique");
        CHECK(contains(unknown.markdown, "aucun EPLE de cette vague n'est connu du bot"));
        CHECK(unknown.files.empty());

        Etablissement waiting;
        waiting.uai = "0750655E";
        waiting.nom = "Lycée sans relevé";
        waiting.vague = 8;
        REQUIRE(six.store.save_etablissements({waiting}));
        const auto empty = six.ask("!vague 8 graphique");
        CHECK(contains(empty.markdown, "aucun indicateur importé pour cette vague, pas encore"));
        CHECK(empty.files.empty());
        const auto eple = six.ask("!eple 0750655E graphique");
        CHECK(contains(eple.markdown, "Aucun indicateur importé pour **Lycée sans relevé**"));
        CHECK(eple.files.empty());
    }

    TEST_CASE("eple graphique draws one EPLE against its wave")
    {
        WaveSixCharts six;
        const auto reply = six.ask("!eple 0809001z graphique");
        CHECK(contains(reply.markdown, "(0809001Z), vague 6"));
        CHECK(contains(reply.markdown, "Au 19/01/2024 : kit de bascule 1 % (médiane "));
        const auto& file = chart_file(reply);
        CHECK(file.name == "eple-0809001Z.png");
        CHECK(contains(file.description, "(0809001Z) : indicateurs (données du 19/01/2024)"));
        CHECK(contains(file.description, "- 12/01/2024 : cet EPLE : 0 % ; médiane de la vague 6"));

        CHECK(contains(six.ask("!eple 0809001A graphique").markdown, "la lettre de 0809001 est Z"));
        CHECK(contains(six.ask("!eple 0750655E graphique").markdown, "Aucun EPLE d'UAI 0750655E"));
        const auto usage = six.ask("!eple graphique");
        CHECK(contains(usage.markdown, "`!eple 0750655E graphique`"));
        CHECK(usage.files.empty());
    }
}
