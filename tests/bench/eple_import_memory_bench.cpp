// EPLE import memory benchmark (issue 15, item 7): a valid 1,000,000-line indicator file, the
// same file with two errors a line (2,000,000 errors), and a 1,000,000-line referential, each
// imported in a child process of its own so that its peak resident memory (VmHWM) is its alone.
// From a file, as `opale-bot import` does, and from memory, as `!import` does with the attachment
// it downloaded. Target: at most 100 MB each. Prints figures; asserts nothing.
//
//   eple_import_memory_bench [DIR]   files and databases in DIR (kept), or in a temporary folder
#include "commands/eple_import.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace opalebot::commands;
using opalebot::StateDatabase;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr int eple_count = 3'000;
constexpr int line_count = 1'000'000;
constexpr double target_mb = 100;

std::string uai(int i)
{
    char digits[16];
    std::snprintf(digits, sizeof digits, "%07d", 590'000 + i); // département 059, as in Lille
    return std::string{digits} + *uai_key(digits);
}

/// The peak resident memory of this process so far, in MB (VmHWM is in kB).
double peak_rss_mb()
{
    std::ifstream status{"/proc/self/status"};
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmHWM:"))
            return std::stod(line.substr(6)) / 1024;
    return -1;
}

/// `lines` indicator lines, 3,000 EPLE a day from 01/01/2024; each with a rate above 100 and a
/// "peut-être" for a yes or no when `bad` (two errors a line).
void write_indicators(const fs::path& path, int lines, bool bad)
{
    std::FILE* out = std::fopen(path.c_str(), "wb");
    std::fputs("uai;date;kit_taux;budget_integre;budget_saisie;paiements;ej;titres_recettes;"
               "prelevements\r\n",
               out);
    std::mt19937 rng{5};
    const std::chrono::sys_days first{std::chrono::year{2024} / 1 / 1};
    for (int row = 0; row < lines; ++row) {
        const std::chrono::year_month_day day{first + std::chrono::days{row / eple_count}};
        std::fprintf(
            out, "%s;%02u/%02u/%04d;%s;%s;%s;%lu;%lu;%lu;%s\r\n", uai(row % eple_count).c_str(),
            static_cast<unsigned>(day.day()), static_cast<unsigned>(day.month()),
            static_cast<int>(day.year()),
            bad ? "120" : (std::to_string(rng() % 100) + "," + std::to_string(rng() % 10)).c_str(),
            bad ? "peut-être" : (rng() % 5 == 0 ? "non" : "oui"), rng() % 2 == 0 ? "GFC" : "OPALE",
            rng() % 40, rng() % 90, rng() % 25, rng() % 10 == 0 ? "oui" : "non");
    }
    std::fclose(out);
}

/// `lines` EPLE, numbered from `from`, each with its agence comptable.
void write_referential(const fs::path& path, int from, int lines)
{
    std::FILE* out = std::fopen(path.c_str(), "wb");
    std::fputs("uai;nom;commune;type;academie;vague;uai_agence_comptable\r\n", out);
    for (int i = from; i < from + lines; ++i)
        std::fprintf(out, "%s;Collège Exemple n° %d;Ville %d;Collège;Lille;%d;%s\r\n",
                     uai(i).c_str(), i, i % 400, 1 + i % 9, uai(i - i % 6).c_str());
    std::fclose(out);
}

/// The child: one import, then one line of figures on stdout.
int run_child(const std::string& source, const std::string& kind, const std::string& file,
              const std::string& db)
{
    spdlog::set_level(spdlog::level::warn);
    StateDatabase state{db};
    EpleStore store{state};
    const double before_mb = peak_rss_mb();
    const auto start = Clock::now();
    ImportReport report;
    std::ifstream in{file, std::ios::binary};
    if (source == "memory") { // the salon's attachment: the whole file in one string
        std::string text(fs::file_size(file), '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        report = kind == "etablissements" ? import_etablissements(store, text, file)
                                          : import_indicateurs(store, text, file);
    } else {
        report = kind == "etablissements" ? import_etablissements(store, in, file)
                                          : import_indicateurs(store, in, file);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto text = format_import_report_text(report);
    const auto markdown = format_import_report_markdown(report);
    std::printf("%-7s %7d rows %7zu errors  %5.2f s  peak %5.1f MB (%4.1f before)  "
                "report %zu B text, %zu B salon  %s\n",
                report.ok ? "ok" : "refused", report.rows, report.error_count, seconds,
                peak_rss_mb(), before_mb, text.size(), markdown.size(),
                peak_rss_mb() <= target_mb ? "≤ 100 MB" : "OVER 100 MB");
    return EXIT_SUCCESS;
}

/// Runs this program again as a child doing one import, so that its VmHWM is the import's.
void measure(const char* label, const std::string& source, const std::string& kind,
             const fs::path& file, const fs::path& db)
{
    std::printf("%-46s ", label);
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
        execl("/proc/self/exe", "eple_import_memory_bench", "--child", source.c_str(), kind.c_str(),
              file.c_str(), db.c_str(), static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        std::printf("child failed (status %d)\n", status);
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 6 && std::string{argv[1]} == "--child")
        return run_child(argv[2], argv[3], argv[4], argv[5]);

    const bool keep = argc == 2;
    const fs::path dir =
        keep ? fs::path{argv[1]}
             : fs::temp_directory_path() /
                   ("opalebot-import-bench-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
    const auto referential = dir / "etablissements.csv";
    const auto valid = dir / "indicateurs-1M.csv";
    const auto invalid = dir / "indicateurs-1M-invalides.csv";
    const auto big_referential = dir / "etablissements-1M.csv";
    write_referential(referential, 0, eple_count);
    write_indicators(valid, line_count, false);
    write_indicators(invalid, line_count, true);
    write_referential(big_referential, 100'000, line_count);
    std::printf("files: %.1f MB valid, %.1f MB invalid, %.1f MB referential, in %s\n",
                static_cast<double>(fs::file_size(valid)) / 1e6,
                static_cast<double>(fs::file_size(invalid)) / 1e6,
                static_cast<double>(fs::file_size(big_referential)) / 1e6, dir.c_str());

    const auto db = dir / "state.db";
    measure("referential, 3,000 EPLE (setup)", "file", "etablissements", referential, db);
    measure("indicateurs, 1,000,000 valid, from a file", "file", "indicateurs", valid, db);
    measure("indicateurs, 1,000,000 invalid, from a file", "file", "indicateurs", invalid, db);
    measure("indicateurs, 1,000,000 valid, from memory", "memory", "indicateurs", valid, db);
    measure("indicateurs, 1,000,000 invalid, from memory", "memory", "indicateurs", invalid, db);
    measure("etablissements, 1,000,000 valid, from a file", "file", "etablissements",
            big_referential, db);

    if (!keep) {
        std::error_code ignored;
        fs::remove_all(dir, ignored);
    }
}
