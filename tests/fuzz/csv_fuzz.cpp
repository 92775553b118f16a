// CSV files of EPLE and their indicators, as an admin uploads them (`!import`, `opale-bot eple
// import`): commands/src/eple_csv.cpp reads the file, commands/src/eple_import.cpp validates it
// and writes it, all or nothing, to a fresh in-memory state database per input (a copy of one
// that holds the fixture's referential: migrating and importing it for each input took most of
// the time).
#include "commands/eple_csv.hpp"
#include "commands/eple_import.hpp"
#include "commands/eple_store.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Backup.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz_support.hpp"

namespace {

namespace commands = opalebot::commands;

/// The state database every input starts from: migrated, with the fixture's EPLE as the
/// referential, so that the seeds' lines (tests/fixtures/eple) reach the value checks.
opalebot::StateDatabase& referential()
{
    static opalebot::StateDatabase state{":memory:"};
    return state;
}

void check_report(const commands::ImportReport& report)
{
    if (report.ok)
        OPALEBOT_FUZZ_CHECK(report.errors.empty());
    else
        OPALEBOT_FUZZ_CHECK(!report.errors.empty());
    (void)commands::format_import_report_text(report);
    (void)commands::format_import_report_markdown(report, 2'000);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)
{
    opalebot::fuzz::discard_logs();
    std::ifstream in{OPALEBOT_FUZZ_REFERENTIAL, std::ios::binary};
    const std::string csv{std::istreambuf_iterator<char>{in}, {}};
    commands::EpleStore store{referential()};
    // a fuzzer that never reaches the value checks would pass for nothing
    if (csv.empty() || !commands::import_etablissements(store, csv, "referentiel.csv").ok)
        std::abort();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    const auto table = commands::parse_csv(text);
    for (const auto& record : table.records)
        OPALEBOT_FUZZ_CHECK(record.line > table.header_line);
    for (const auto& name : table.header)
        (void)commands::normalize_column_name(name);

    opalebot::StateDatabase state{":memory:"};
    SQLite::Backup{state.connection(), referential().connection()}.executeStep();
    commands::EpleStore store{state};
    check_report(commands::import_etablissements(store, text, "etablissements.csv"));
    const auto first = commands::import_indicateurs(store, text, "indicateurs.csv");
    check_report(first);
    if (first.ok) { // a day already stored is replaced: importing again changes nothing
        const auto count = store.snapshot_count();
        const auto again = commands::import_indicateurs(store, text, "indicateurs.csv");
        OPALEBOT_FUZZ_CHECK(again.ok && again.rows == first.rows);
        OPALEBOT_FUZZ_CHECK(count && store.snapshot_count() &&
                            count.value() == store.snapshot_count().value());
    }
    return 0;
}
