#include "commands/eple_store.hpp"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>

#include <filesystem>

#include "support/temp_dir.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;

namespace {

Etablissement etablissement(std::string uai, std::string nom, int vague)
{
    Etablissement e;
    e.uai = std::move(uai);
    e.nom = std::move(nom);
    e.vague = vague;
    return e;
}

Snapshot snapshot(std::string uai, std::chrono::year_month_day date, double kit)
{
    Snapshot s;
    s.uai = std::move(uai);
    s.date = date;
    s.kit_taux = kit;
    return s;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("eple store reopens its file and leaves user_version to the state store")
    {
        const opalebot::testing::TempDir dir;
        const auto path = dir.file("state.db");
        {
            SQLite::Database db{path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
            db.exec("PRAGMA user_version = 7"); // as the state store would have it
        }
        // Owner only, as the message for an older, readable file asks (chmod 600).
        std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                               std::filesystem::perms::owner_write);
        {
            StateDatabase state{path};
            EpleStore store{state};
            REQUIRE(store.save_etablissements({etablissement("0750655E", "Lycée A", 6)}));
            REQUIRE(store.save_snapshots({snapshot("0750655E", 2024y / 1 / 19, 20.6)}));
        }
        StateDatabase state{path};
        EpleStore again{state}; // the migration runs again and changes nothing
        const auto status = again.status("0750655E");
        REQUIRE(status);
        REQUIRE(status.value());
        CHECK(status.value()->latest->kit_taux == doctest::Approx(20.6));
        CHECK(state.connection().execAndGet("PRAGMA user_version").getInt() == 7);
        CHECK(opalebot::schema_version(state.connection(), "eple") == 1);
    }

    TEST_CASE("eple store refuses a snapshot of an unknown EPLE as a value")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(store.save_etablissements({etablissement("0750655E", "Lycée A", 6)}));
        const auto saved = store.save_snapshots(
            {snapshot("0750655E", 2024y / 1 / 19, 20), snapshot("0020013D", 2024y / 1 / 19, 20)});
        REQUIRE_FALSE(saved);
        CHECK(saved.error().kind == opalebot::Error::Kind::storage);
        const auto count = store.snapshot_count();
        REQUIRE(count);
        CHECK(count.value() == 0); // the transaction rolled back the first one too
    }

    TEST_CASE("eple store sorts a wave by name without regard to accents")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(store.save_etablissements({etablissement("0750655E", "Lycée Zola", 6),
                                           etablissement("0020013D", "Lycée Émile", 6),
                                           etablissement("0593560Z", "Lycée Balzac", 6),
                                           etablissement("0130001F", "Lycée Autre", 7)}));
        REQUIRE(store.save_snapshots({snapshot("0750655E", 2024y / 1 / 12, 5),
                                      snapshot("0750655E", 2024y / 1 / 26, 15),
                                      snapshot("0750655E", 2024y / 1 / 19, 10)}));
        const auto wave = store.statuses(6);
        REQUIRE(wave);
        REQUIRE(wave.value().size() == 3);
        CHECK(wave.value()[0].etablissement.nom == "Lycée Balzac");
        CHECK(wave.value()[1].etablissement.nom == "Lycée Émile");
        CHECK(wave.value()[2].etablissement.nom == "Lycée Zola");
        CHECK_FALSE(wave.value()[0].latest.has_value());
        const auto& zola = wave.value()[2];
        CHECK(zola.latest->date == std::chrono::year_month_day{2024y / 1 / 26});
        CHECK(zola.previous->date == std::chrono::year_month_day{2024y / 1 / 19});
        const auto counts = store.count_by_wave();
        REQUIRE(counts);
        CHECK(counts.value() == std::map<int, int>{{6, 3}, {7, 1}});
    }
}
