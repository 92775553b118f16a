#include "commands/csv_writer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace opalebot::commands;

namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

/// A strict RFC 4180 reader with `;`: what a spreadsheet makes of the text.
std::vector<std::vector<std::string>> parse(std::string_view text)
{
    REQUIRE(text.starts_with(bom));
    text.remove_prefix(bom.size());
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string cell;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                cell += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                cell += c;
            }
        } else if (c == '"') {
            REQUIRE(cell.empty()); // a quote only opens a cell
            quoted = true;
        } else if (c == ';') {
            row.push_back(std::exchange(cell, {}));
        } else if (c == '\r') {
            REQUIRE(i + 1 < text.size());
            REQUIRE(text[i + 1] == '\n'); // CRLF only
            ++i;
            row.push_back(std::exchange(cell, {}));
            rows.push_back(std::exchange(row, {}));
        } else {
            REQUIRE(c != '\n'); // a bare LF outside quotes
            cell += c;
        }
    }
    REQUIRE_FALSE(quoted);
    REQUIRE(cell.empty());
    REQUIRE(row.empty()); // the last line ends with CRLF
    return rows;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("csv writer starts with the BOM and ends lines with CRLF")
    {
        CsvWriter csv;
        CHECK(csv.text() == bom);
        csv.row({"a", "b"});
        csv.row({"c"});
        CHECK(csv.text() == std::string{bom} + "a;b\r\nc\r\n");
    }

    TEST_CASE("csv writer round-trips separators quotes and line breaks")
    {
        const std::vector<std::string> tricky{"Collège « Exemple »; annexe",
                                              "dit \"le grand\"",
                                              "ligne 1\nligne 2",
                                              "fin\r\nde ligne",
                                              "",
                                              "Élève à l'œuvre"};
        CsvWriter csv;
        csv.row({"Nom", "Note"});
        csv.row(tricky);
        const auto rows = parse(csv.text());
        REQUIRE(rows.size() == 2);
        CHECK(rows[0] == std::vector<std::string>{"Nom", "Note"});
        CHECK(rows[1] == tricky);
        CHECK(csv_cell("dit \"le grand\"") == "\"dit \"\"le grand\"\"\"");
        CHECK(csv_cell("simple") == "simple");
    }

    TEST_CASE("csv writer makes formulas inert")
    {
        CHECK(csv_cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"");
        CHECK(csv_cell("+33 1 23") == "'+33 1 23");
        CHECK(csv_cell("-2+3") == "'-2+3");
        CHECK(csv_cell("@SUM(A1)") == "'@SUM(A1)");
        CHECK(csv_cell("\tcmd") == "'\tcmd");
        CHECK(csv_cell("\r=1") == "\"'\r=1\"");
        CHECK(csv_cell("a=b") == "a=b"); // only a leading sign counts
        CsvWriter csv;
        csv.row({"=1+1", "@x", "ok"});
        const auto rows = parse(csv.text());
        REQUIRE(rows.size() == 1);
        CHECK(rows[0] == std::vector<std::string>{"'=1+1", "'@x", "ok"});
    }

    TEST_CASE("csv decimals use a comma and two decimals at most")
    {
        CHECK(csv_decimal(8.5) == "8,5");
        CHECK(csv_decimal(20.0) == "20");
        CHECK(csv_decimal(0) == "0");
        CHECK(csv_decimal(81.967) == "81,97");
        CHECK(csv_decimal(10.05) == "10,05");
        CHECK(csv_decimal(99.999) == "100");
        CHECK(csv_decimal(-1.5) == "-1,5");
    }
}
