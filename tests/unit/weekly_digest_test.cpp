// The weekly digest (issue 17): once a week for every room, even across restarts; what changed
// since the last one; `!rapport essai`. On the wave-6 fixture and a real state file.
#include "commands/weekly_digest.hpp"

#include "commands/eple_store.hpp"
#include "opalebot/state_database.hpp"

#include <doctest/doctest.h>

#include "support/eple_fixture.hpp"
#include "support/temp_dir.hpp"
#include <date/date.h>

using namespace opalebot;
using namespace opalebot::commands;
using opalebot::testing::TempDir;

namespace {

/// Paris time on a day of December 2026 (UTC+1): "lundi 7 décembre 2026 à 8h30" is 7h30 UTC.
Instant paris(int day, int hour, int minute)
{
    return Instant{date::sys_days{date::year{2026} / 12 / day}.time_since_epoch()} +
           std::chrono::hours{hour - 1} + std::chrono::minutes{minute};
}

/// A wave's dashboard as the digest gets it: a text and one chart.
Reply wave_report(int vague)
{
    OutgoingFile chart;
    chart.name = "vague-" + std::to_string(vague) + ".png";
    chart.mime_type = "image/png";
    chart.content = std::string{"\x89PNG\r\n\x1a\n", 8} + "pixels";
    chart.description = "Vague " + std::to_string(vague) + " : 50 budgets intégrés sur 61";
    chart.image = OutgoingFile::Image{1200, 900, "miniature", 400, 300};
    return Reply{"**Vague " + std::to_string(vague) + "** : 50 / 61 budgets intégrés", {}, {chart}};
}

DigestSpec monday_digest()
{
    auto spec = parse_digest_schedule("chaque lundi 8h30");
    REQUIRE(spec);
    spec.value().rooms = {"!comite:tchap.gouv.fr", "!drasi:tchap.gouv.fr"};
    spec.value().waves = {6};
    return spec.value();
}

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("the digest schedule is a recurring French phrase without threshold")
    {
        CHECK(parse_digest_schedule("chaque lundi 8h30"));
        CHECK(parse_digest_schedule("chaque vendredi 16h hors fériés").value().skip_holidays);
        CHECK_FALSE(parse_digest_schedule("demain 9h"));
        const auto threshold = parse_digest_schedule("chaque lundi 9h seuil 80 %");
        REQUIRE_FALSE(threshold);
        CHECK(contains(threshold.error().message, "ni seuil ni retard"));
        CHECK_FALSE(parse_digest_schedule("chaque lundi 9h jusqu'à confirmation"));
    }

    TEST_CASE("the digest is posted once a week in each room even across a restart")
    {
        TempDir dir;
        const auto file = (dir.path() / "etat.sqlite").string();
        {
            StateDatabase state{file};
            EpleStore eple{state};
            opalebot::testing::import_wave_six(eple);
            WeeklyDigest digest{state, eple};
            REQUIRE(digest.configure(monday_digest(), paris(6, 12, 0)));
            CHECK(digest.due(paris(7, 8, 29), wave_report).value().empty());
            const auto posted = digest.due(paris(7, 8, 31), wave_report);
            REQUIRE(posted);
            REQUIRE(posted.value().size() == 2);
            const auto& first = posted.value().front();
            CHECK(first.room == "!comite:tchap.gouv.fr");
            CHECK(contains(first.markdown, "Rapport hebdomadaire op@le du lundi 07/12/2026"));
            CHECK(contains(first.markdown, "50 / 61 budgets intégrés"));
            CHECK(contains(first.markdown, "Premier rapport"));
            REQUIRE(first.files.size() == 1);
            CHECK(first.files.front().image->width == 1200);
            CHECK(first.delivery_key != posted.value()[1].delivery_key);
            CHECK(digest.due(paris(7, 8, 40), wave_report).value().empty());
            // claimed, not yet sent: a crash here resends them
            CHECK(digest.unsent().value().size() == 2);
            REQUIRE(digest.mark_sent(first.delivery_key));
        }
        // a restart: same file, same configuration
        StateDatabase state{file};
        EpleStore eple{state};
        WeeklyDigest digest{state, eple};
        REQUIRE(digest.configure(monday_digest(), paris(7, 9, 0)));
        CHECK(digest.due(paris(7, 9, 0), wave_report).value().empty());
        const auto unsent = digest.unsent();
        REQUIRE(unsent.value().size() == 1); // the second room's, with its chart
        CHECK(unsent.value().front().room == "!drasi:tchap.gouv.fr");
        REQUIRE(unsent.value().front().files.size() == 1);
        CHECK(unsent.value().front().files.front().content == wave_report(6).files.front().content);
        CHECK(unsent.value().front().files.front().image->thumbnail_png == "miniature");
        REQUIRE(digest.mark_sent(unsent.value().front().delivery_key));
        CHECK(digest.unsent().value().empty());

        // the next week tells what moved since
        const auto all = eple.statuses(6);
        REQUIRE_FALSE(all.value().empty());
        REQUIRE(all.value().front().latest.has_value());
        auto snapshot = *all.value().front().latest;
        snapshot.date = std::chrono::year_month_day{std::chrono::year{2026} / 12 / 10};
        snapshot.kit_taux = snapshot.kit_taux > 30 ? 5 : 95; // another band for sure
        REQUIRE(eple.save_snapshots({snapshot}));
        std::optional<std::pair<Instant, Instant>> asked;
        const TicketReport tickets = [&asked](Instant from, Instant to) {
            asked = std::pair{from, to};
            return std::string{"**Tickets** : 12 déposés, 9 résolus"};
        };
        const auto next = digest.due(paris(14, 8, 31), wave_report, tickets);
        REQUIRE(next.value().size() == 2);
        CHECK(contains(next.value().front().markdown, "12 déposés, 9 résolus"));
        REQUIRE(asked.has_value());
        CHECK(asked->first == paris(7, 8, 30)); // since the last digest's occurrence
        CHECK(asked->second == paris(14, 8, 30));
        CHECK(contains(next.value().front().markdown, "Depuis le rapport du lundi 07/12/2026"));
        CHECK(contains(next.value().front().markdown, snapshot.uai));
        CHECK(contains(next.value().front().markdown, "kit de bascule"));
    }

    TEST_CASE("a digest missed during a long downtime is skipped and a preview claims nothing")
    {
        StateDatabase state{":memory:"};
        EpleStore eple{state};
        opalebot::testing::import_wave_six(eple);
        WeeklyDigest digest{state, eple};
        REQUIRE(digest.configure(monday_digest(), paris(6, 12, 0)));
        const auto preview = digest.preview(paris(7, 8, 0), wave_report);
        REQUIRE(preview);
        CHECK(contains(preview.value().markdown, "50 / 61"));
        CHECK(digest.unsent().value().empty());
        CHECK(digest.due(paris(7, 11, 0), wave_report).value().empty()); // 2 h 30 late
        CHECK(digest.due(paris(14, 8, 35), wave_report).value().size() == 2);
        // no digest configured: nothing is ever due
        REQUIRE(digest.configure(std::nullopt, paris(14, 9, 0)));
        CHECK(digest.due(paris(21, 8, 31), wave_report).value().empty());
    }

    TEST_CASE("rapport essai shows the digest to an admin only")
    {
        StateDatabase state{":memory:"};
        EpleStore eple{state};
        opalebot::testing::import_wave_six(eple);
        WeeklyDigest digest{state, eple};
        Registry registry;
        add_digest_commands(registry, digest, wave_report, [] { return paris(7, 10, 0); });
        const auto ask = [&](const std::string& body, Role role) {
            auto reply = registry.dispatch(
                Message{"@admin:tchap.gouv.fr", "!comite:tchap.gouv.fr", body, role, {}});
            REQUIRE(reply.has_value());
            return std::move(reply.value());
        };
        const auto shown = ask("!rapport essai", Role::admin);
        CHECK(contains(shown.markdown, "Essai : ce rapport n'est publié nulle part"));
        CHECK(contains(shown.markdown, "Rapport hebdomadaire op@le du lundi 07/12/2026"));
        CHECK(shown.files.size() == 1);
        CHECK(contains(ask("!rapport", Role::admin).markdown, "Usage : `!rapport essai`"));
        CHECK(ask("!rapport essai", Role::member).files.empty());
    }
}
