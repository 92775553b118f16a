// EPLE import benchmark (issue 5): a referential of 3,000 EPLE, then 20,000 indicator rows
// (about 7 snapshots per EPLE) imported into a database file, as `opale-bot import indicateurs`
// does. Target: under 2 s. Prints figures; asserts nothing.
#include "commands/eple_import.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

using namespace opalebot::commands;
using opalebot::StateDatabase;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int eple_count = 3'000;
constexpr int row_count = 20'000;

std::string uai(int i)
{
    char digits[16];
    std::snprintf(digits, sizeof digits, "%07d",
                  (590'000 + i) % 10'000'000); // département 059, as in Lille
    return std::string{digits} + *uai_key(digits);
}

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

int main()
{
    spdlog::set_level(spdlog::level::warn); // the imports' info lines would mix with the figures
    std::mt19937 rng{5};
    std::string referential{"uai;nom;commune;type;academie;vague;uai_agence_comptable\r\n"};
    for (int i = 0; i < eple_count; ++i)
        referential += uai(i) + ";Collège Exemple n° " + std::to_string(i) + ";Ville " +
                       std::to_string(i % 400) + ";Collège;Lille;" + std::to_string(1 + i % 9) +
                       ";" + uai(i - i % 6) + "\r\n";

    std::string indicators{
        "uai;date;kit_taux;budget_integre;budget_saisie;paiements;ej;titres_recettes;"
        "prelevements\r\n"};
    for (int row = 0; row < row_count; ++row) {
        const int eple = row % eple_count;
        const int week = row / eple_count; // one snapshot per EPLE and week
        indicators += uai(eple) + ";" + std::to_string(1 + week * 4) + "/02/2024;" +
                      std::to_string(rng() % 100) + "," + std::to_string(rng() % 10) + ";" +
                      (rng() % 5 == 0 ? "non" : "oui") + ";" + (rng() % 2 == 0 ? "GFC" : "OPALE") +
                      ";" + std::to_string(rng() % 40) + ";" + std::to_string(rng() % 90) + ";" +
                      std::to_string(rng() % 25) + ";" + (rng() % 10 == 0 ? "oui" : "non") + "\r\n";
    }

    const auto path = std::filesystem::temp_directory_path() /
                      ("opalebot-eple-bench-" + std::to_string(std::random_device{}()) + ".db");
    {
        StateDatabase state{path.string()};
        EpleStore store{state};
        auto start = Clock::now();
        const auto etablissements = import_etablissements(store, referential, "etablissements.csv");
        const double referential_s = seconds_since(start);

        start = Clock::now();
        const auto first = import_indicateurs(store, indicators, "indicateurs.csv");
        const double first_s = seconds_since(start);

        start = Clock::now(); // the same file again: every row replaces a stored snapshot
        const auto again = import_indicateurs(store, indicators, "indicateurs.csv");
        const double again_s = seconds_since(start);

        const auto stored = store.snapshot_count();
        std::printf("referential: %d EPLE in %.3f s (%s)\n", eple_count, referential_s,
                    etablissements.ok ? "ok" : "FAILED");
        std::printf("indicators:  %d rows (%.1f MB) in %.3f s (%s), target < 2 s\n", row_count,
                    static_cast<double>(indicators.size()) / 1e6, first_s,
                    first.ok ? "ok" : "FAILED");
        std::printf("re-import:   %d rows replacing the same days in %.3f s (%s)\n", row_count,
                    again_s, again.ok ? "ok" : "FAILED");
        std::printf("snapshots stored: %lld\n",
                    stored ? static_cast<long long>(stored.value()) : -1LL);
        if (!first.ok)
            std::fputs(format_import_report_text(first).substr(0, 2000).c_str(), stdout);
    }
    std::error_code ignored;
    for (const auto* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path.string() + suffix, ignored);
}
