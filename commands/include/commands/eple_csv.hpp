#pragma once

#include <cstddef>
#include <iosfwd>
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

/// Reads a CSV file exported by a spreadsheet one record at a time, so that a file of a million
/// lines never sits in memory as a million records (issue 15). The rules are parse_csv's.
class CsvReader {
public:
    /// Reads `text`, which must outlive the reader, without copying it (Windows-1252 text is
    /// converted a piece at a time).
    explicit CsvReader(std::string_view text);

    /// Reads `in` from where it stands, in chunks of 64 KiB: a first pass finds the encoding and
    /// the separator, then it rewinds and parses. A stream that cannot rewind (a pipe) is read
    /// whole first.
    explicit CsvReader(std::istream& in);

    CsvReader(const CsvReader&) = delete; // its views point into its own buffers
    CsvReader& operator=(const CsvReader&) = delete;

    char separator() const { return separator_; }
    bool from_windows_1252() const { return windows_1252_; }
    const std::vector<std::string>& header() const { return header_; } ///< empty: no header
    int header_line() const { return header_line_; }

    /// The next record after the header, or null at the end (or at a quote never closed). The
    /// record is overwritten by the next call.
    const CsvRecord* next();

    /// The line of a quote never closed, once next() has reached it; 0 otherwise.
    int unclosed_quote_line() const { return unclosed_quote_line_; }

    /// True when the stream failed before its end: what was read is not the whole file.
    bool read_failed() const { return read_failed_; }

private:
    static constexpr int end_of_text = -1;

    void start(std::string_view text); ///< BOM, encoding, separator, then the header
    void scan(std::istream& in);       ///< the first pass over a stream: encoding, separator
    bool refill();                     ///< the next piece of text in pending_; false at the end
    int get();                         ///< the next character, or end_of_text
    int peek();                        ///< the same, left unread
    bool read_record();                ///< false at the end; a blank record is skipped
    bool end_record();                 ///< true when the record was not blank

    std::istream* stream_ = nullptr;
    std::string owned_;     ///< a stream that cannot rewind, read whole
    std::string_view rest_; ///< the text not yet handed to pending_, for text in memory
    std::string buffer_;    ///< the last chunk read from the stream
    std::string decoded_;   ///< the last chunk, from Windows-1252 to UTF-8
    std::string_view pending_;
    bool at_start_ = true; ///< a stream's BOM is still to skip

    char separator_ = ';';
    bool windows_1252_ = false;
    std::vector<std::string> header_;
    int header_line_ = 1;
    CsvRecord record_;
    std::vector<std::string> fields_;
    std::string field_;
    int line_ = 1;
    int record_line_ = 1;
    bool have_header_ = false;
    bool done_ = false;
    int unclosed_quote_line_ = 0;
    bool read_failed_ = false;
};

/// Parses a CSV file exported by a spreadsheet: `;` or `,` separator (whichever the header line
/// has more of, outside quotes), UTF-8 BOM, LF, CRLF or CR alone, quoted fields with `""` escapes
/// and line breaks. Text that is not valid UTF-8 is read as Windows-1252, the encoding of French
/// Excel's "CSV (séparateur : point-virgule)". Never throws; a quote never closed ends the table
/// there. Holds every record: imports use CsvReader.
CsvTable parse_csv(std::string_view text);

/// The rest of `reader`'s records, with its header, in one table.
CsvTable read_all(CsvReader& reader);

/// A column name reduced to its canonical form: accents and case ignored, runs of spaces,
/// hyphens and other punctuation made one `_`, ends trimmed ("Académie" → "academie",
/// "Titres-Recettes" → "titres_recettes").
std::string normalize_column_name(std::string_view name);

} // namespace opalebot::commands
