#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// One record of a CSV file and the file line it starts on (the header is line 1).
struct CsvRecord {
    int line = 0;
    std::vector<std::string> fields; ///< unquoted, not trimmed
};

/// A CSV file as spreadsheets export it, read without loss of line numbers.
struct CsvTable {
    char separator = ';';
    std::vector<std::string> header; ///< as written, BOM removed
    int header_line = 1;             ///< blank lines before the header are skipped
    std::vector<CsvRecord> records;  ///< blank lines (and lines of separators only) skipped
    bool from_windows_1252 = false;  ///< the bytes were not UTF-8 and were read as Excel's ANSI
    int unclosed_quote_line = 0;     ///< the line of a quote never closed; 0 when none
};

/// Parses a CSV file exported by a spreadsheet: `;` or `,` separator (whichever the header line
/// has more of, outside quotes), UTF-8 BOM, LF or CRLF, quoted fields with `""` escapes and line
/// breaks. Text that is not valid UTF-8 is read as Windows-1252, the encoding of French Excel's
/// "CSV (séparateur : point-virgule)". Never throws; a quote never closed ends the table there.
CsvTable parse_csv(std::string_view text);

/// A column name reduced to its canonical form: accents and case ignored, runs of spaces,
/// hyphens and other punctuation made one `_`, ends trimmed ("Académie" → "academie",
/// "Titres-Recettes" → "titres_recettes").
std::string normalize_column_name(std::string_view name);

} // namespace opalebot::commands
