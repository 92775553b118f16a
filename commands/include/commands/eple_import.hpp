#pragma once

#include "commands/eple_store.hpp"

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// One bad value (or line, or header) of an imported file.
struct ImportError {
    int line = 0;       ///< line of the file, the header being line 1
    std::string column; ///< canonical column name ("kit_taux"); empty for the whole line
    std::string value;  ///< as written in the file
    std::string reason; ///< in French, for the person who fixes the file
};

/// How many errors, and how many remarks, a report keeps; the others are only counted, so that a
/// file of a million bad lines makes a report of a few kilobytes (issue 15).
constexpr std::size_t max_listed_remarks = 50;

/// What an import did. All or nothing (issue 5): when `ok` is false nothing was written.
struct ImportReport {
    std::string file_name;
    std::string kind; ///< "etablissements" or "indicateurs"
    bool ok = false;
    int rows = 0;                    ///< data lines read; all of them written when `ok`
    std::vector<ImportError> errors; ///< the first `max_listed_remarks`, values cut near 200 bytes
    std::size_t error_count = 0;     ///< all of them, listed or not
    std::vector<std::string> notes;  ///< harmless remarks (ignored columns, encoding), in French
    std::size_t note_count = 0;      ///< all of them, listed or not
};

/// Validates the `etablissements` file (columns
/// `uai;nom;commune;type;academie;vague;uai_agence_comptable`, required `uai`, `nom`, `vague`)
/// while writing it in one transaction, committed only when no line is wrong: EPLE already known
/// are updated, others added, none removed. Reads `csv` in place, a record at a time.
ImportReport import_etablissements(EpleStore& store, std::string_view csv,
                                   std::string_view file_name);

/// The same from a file, read in chunks (see CsvReader): memory does not grow with its lines.
ImportReport import_etablissements(EpleStore& store, std::istream& csv, std::string_view file_name);

/// Validates the `indicateurs` file (columns `uai;date;kit_taux;budget_integre;
/// budget_saisie;paiements;ej;titres_recettes;prelevements`; all required but `budget_saisie` and
/// `prelevements`, which may be absent or empty), every UAI being in the referential, while
/// writing it in one transaction committed only when no line is wrong. A snapshot for an UAI and
/// a day already stored replaces it.
ImportReport import_indicateurs(EpleStore& store, std::string_view csv, std::string_view file_name);

/// The same from a file, read in chunks (see CsvReader): memory does not grow with its lines.
ImportReport import_indicateurs(EpleStore& store, std::istream& csv, std::string_view file_name);

/// The report for a terminal: one line per listed error, then the count of the others.
std::string format_import_report_text(const ImportReport& report);

/// The report for the salon, in Markdown with the file's text escaped. Matrix refuses events over
/// 64 KiB (and the HTML doubles the text), so errors beyond `max_bytes` are counted, not listed.
std::string format_import_report_markdown(const ImportReport& report,
                                          std::size_t max_bytes = 24'000);

/// The key letter of a 7-digit UAI number: "ABCDEFGHJKLMNPRSTUVWXYZ"[number mod 23].
std::optional<char> uai_key(std::string_view seven_digits);

/// True for 7 digits followed by their key letter (upper case): "0750655E".
bool is_valid_uai(std::string_view uai);

/// A French decimal ("20,6", "20.6", "20,6 %") as a number; nothing for anything else.
std::optional<double> parse_french_decimal(std::string_view text);

/// A JJ/MM/AAAA date that exists; nothing otherwise.
std::optional<std::chrono::year_month_day> parse_french_date(std::string_view text);

} // namespace opalebot::commands
