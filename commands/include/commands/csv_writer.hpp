#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// A CSV file that French spreadsheets (LibreOffice Calc, Excel) open as it is: UTF-8 with a
/// BOM (else Excel reads ANSI), `;` between cells (the comma is the decimal mark), CRLF line
/// ends, RFC 4180 quotes when needed, and formulas made inert.
class CsvWriter {
public:
    CsvWriter();

    /// Appends one row; each cell passes through csv_cell.
    void row(const std::vector<std::string>& cells);

    const std::string& text() const& { return text_; }
    std::string text() && { return std::move(text_); }

private:
    std::string text_;
};

/// One cell as written. A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return
/// gets a leading apostrophe, so that the spreadsheet shows it instead of running it (OWASP "CSV
/// injection"); then a cell holding `;`, `"`, CR or LF is quoted, its quotes doubled (RFC 4180).
std::string csv_cell(std::string_view value);

/// A number with a decimal comma, at most two decimals, rounded, without trailing zeros:
/// 8.5 → "8,5", 20 → "20", 1.005 → "1".
std::string csv_decimal(double value);

} // namespace opalebot::commands
