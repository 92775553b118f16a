#include "commands/eple_csv.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace opalebot::commands;

namespace {

std::vector<std::string> fields(std::initializer_list<const char*> values)
{
    return {values.begin(), values.end()};
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("csv reads semicolons with line numbers from the header as line 1")
    {
        const auto table = parse_csv("uai;nom;vague\n0750655E;Lycée A;6\n0020013D;Collège B;7\n");
        CHECK(table.separator == ';');
        CHECK(table.header == fields({"uai", "nom", "vague"}));
        REQUIRE(table.records.size() == 2);
        CHECK(table.records[0].line == 2);
        CHECK(table.records[0].fields == fields({"0750655E", "Lycée A", "6"}));
        CHECK(table.records[1].line == 3);
        CHECK(table.unclosed_quote_line == 0);
        CHECK_FALSE(table.from_windows_1252);
    }

    TEST_CASE("csv detects commas from the header and keeps quoted French decimals whole")
    {
        const auto table = parse_csv("uai,date,kit_taux\n0750655E,19/01/2024,\"20,6\"\n");
        CHECK(table.separator == ',');
        REQUIRE(table.records.size() == 1);
        CHECK(table.records[0].fields == fields({"0750655E", "19/01/2024", "20,6"}));
    }

    TEST_CASE("csv drops the UTF-8 BOM and CRLF line ends")
    {
        const auto table = parse_csv("\xEF\xBB\xBFuai;nom\r\n0750655E;Lycée A\r\n0020013D;B\r\n");
        CHECK(table.header == fields({"uai", "nom"}));
        REQUIRE(table.records.size() == 2);
        CHECK(table.records[0].fields == fields({"0750655E", "Lycée A"}));
        CHECK(table.records[1].fields == fields({"0020013D", "B"}));
        CHECK(table.records[1].line == 3);
    }

    TEST_CASE("csv unquotes fields with doubled quotes separators and line breaks")
    {
        const auto table = parse_csv("uai;nom;commune\n"
                                     "0750655E;\"Lycée \"\"Louis\"\" ; annexe\";Paris\n"
                                     "0020013D;\"Collège\r\nsur deux lignes\";Laon\n"
                                     "0593560Z;C;Lille\n");
        REQUIRE(table.records.size() == 3);
        CHECK(table.records[0].fields[1] == "Lycée \"Louis\" ; annexe");
        CHECK(table.records[1].fields[1] == "Collège\nsur deux lignes");
        CHECK(table.records[1].line == 3);
        CHECK(table.records[2].line == 5); // the quoted line break counted
    }

    TEST_CASE("csv skips blank lines and lines of separators but counts them")
    {
        const auto table = parse_csv("\nuai;nom\n\n0750655E;A\n;;\n   \n0020013D;B");
        CHECK(table.header_line == 2);
        REQUIRE(table.records.size() == 2);
        CHECK(table.records[0].line == 4);
        CHECK(table.records[1].line == 7);
        CHECK(table.records[1].fields == fields({"0020013D", "B"})); // no final newline
    }

    TEST_CASE("csv reports a quote never closed with its line")
    {
        const auto table = parse_csv("uai;nom\n0750655E;A\n0020013D;\"B\n0593560Z;C\n");
        CHECK(table.unclosed_quote_line == 3);
        CHECK(table.records.size() == 1);
    }

    TEST_CASE("csv reads Excel's Windows-1252 as UTF-8")
    {
        const auto table = parse_csv("uai;nom;acad\xE9mie\n0750655E;Coll\xE8ge \x9C"
                                     "uvre \x80;Amiens\n");
        CHECK(table.from_windows_1252);
        CHECK(table.header[2] == "académie");
        REQUIRE(table.records.size() == 1);
        CHECK(table.records[0].fields[1] == "Collège œuvre €");
    }

    TEST_CASE("csv of nothing has no header")
    {
        CHECK(parse_csv("").header.empty());
        CHECK(parse_csv("\xEF\xBB\xBF\r\n\r\n").header.empty());
    }

    TEST_CASE("column names ignore case accents and punctuation")
    {
        CHECK(normalize_column_name("UAI") == "uai");
        CHECK(normalize_column_name(" Académie ") == "academie");
        CHECK(normalize_column_name("Titres-Recettes") == "titres_recettes");
        CHECK(normalize_column_name("titres recettes") == "titres_recettes");
        CHECK(normalize_column_name("Kit_Taux (%)") == "kit_taux");
        CHECK(normalize_column_name("Budget intégré") == "budget_integre");
        CHECK(normalize_column_name("PRÉLÈVEMENTS") == "prelevements");
        CHECK(normalize_column_name("UAI agence-comptable") == "uai_agence_comptable");
    }
}
