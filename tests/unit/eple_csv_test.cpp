#include "commands/eple_csv.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

using namespace opalebot::commands;

namespace {

std::vector<std::string> fields(std::initializer_list<const char*> values)
{
    return {values.begin(), values.end()};
}

constexpr std::size_t chunk = 64 * 1024; // CsvReader's reads from a stream

void check_same(const CsvTable& streamed, const CsvTable& whole)
{
    CHECK(streamed.separator == whole.separator);
    CHECK(streamed.header == whole.header);
    CHECK(streamed.header_line == whole.header_line);
    CHECK(streamed.from_windows_1252 == whole.from_windows_1252);
    CHECK(streamed.unclosed_quote_line == whole.unclosed_quote_line);
    REQUIRE(streamed.records.size() == whole.records.size());
    for (std::size_t i = 0; i < whole.records.size(); ++i) {
        CAPTURE(i);
        CHECK(streamed.records[i].line == whole.records[i].line);
        CHECK(streamed.records[i].fields == whole.records[i].fields);
    }
}

/// A stream that cannot seek, as a pipe; it breaks (like a disk) after `fail_after` bytes.
class PipeBuffer : public std::streambuf {
public:
    explicit PipeBuffer(std::string text, std::size_t fail_after = std::string::npos)
        : text_(std::move(text)), fail_after_(fail_after)
    {}

protected:
    int_type underflow() override
    {
        if (given_ >= text_.size())
            return traits_type::eof();
        if (given_ >= fail_after_)
            throw std::runtime_error("disk error"); // istream makes it badbit
        const auto n = std::min<std::size_t>({4096, text_.size() - given_, fail_after_ - given_});
        char* begin = text_.data() + given_;
        setg(begin, begin, begin + n);
        given_ += n;
        return traits_type::to_int_type(*begin);
    }

private:
    std::string text_;
    std::size_t given_ = 0;
    std::size_t fail_after_;
};

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

    TEST_CASE("csv from a stream splits its chunks anywhere without changing a record")
    {
        // Each of these pieces is cut in two by the end of the first 64 KiB chunk, at every place.
        const std::vector<std::string> pieces{"\"Lycée \"\"Louis\"\" ; annexe\"",
                                              "Collège\r\n",
                                              "\"sur deux\r\nlignes\"",
                                              "éè€",
                                              "a\rb",
                                              ";\"\";"};
        for (const auto& piece : pieces) {
            for (std::size_t cut = 1; cut < piece.size(); ++cut) {
                CAPTURE(piece);
                CAPTURE(cut);
                std::string text{"\xEF\xBB\xBFuai;nom;commune\r\n"};
                while (text.size() + 40 < chunk - cut)
                    text += "0750655E;Lycée A;Paris\r\n";
                text += std::string(chunk - cut - 1 - text.size(), 'x') + ";"; // a field starts
                text += piece + ";fin\n0020013D;B;Laon\n";
                std::istringstream in{text};
                CsvReader reader{in};
                check_same(read_all(reader), parse_csv(text));
            }
        }
    }

    TEST_CASE("csv from a stream finds Windows-1252 and the separator in a first pass")
    {
        std::string text{"uai,nom,acad\xE9mie\n"};
        while (text.size() < 3 * chunk)
            text += "0750655E,\"Lyc\xC3\xA9"
                    "e, A\",Paris\r\n"; // UTF-8 until the end
        text += "0020013D,Coll\xE8ge \x9C"
                "uvre,Amiens\n"; // then an Excel byte
        std::istringstream in{text};
        CsvReader reader{in};
        CHECK(reader.separator() == ',');
        CHECK(reader.from_windows_1252());
        const auto streamed = read_all(reader);
        check_same(streamed, parse_csv(text));
        CHECK(streamed.header[2] == "académie");
        CHECK(streamed.records.back().fields[1] == "Collège œuvre");
        CHECK(streamed.records.front().fields[1] == "LycÃ©e, A"); // one encoding for the file
    }

    TEST_CASE("csv from a stream starts where the stream stands")
    {
        std::istringstream in{"skipped\nuai;nom\n0750655E;A\n"};
        std::string first;
        std::getline(in, first);
        CsvReader reader{in};
        const auto table = read_all(reader);
        CHECK(table.header == fields({"uai", "nom"}));
        REQUIRE(table.records.size() == 1);
        CHECK(table.records[0].line == 2);
    }

    TEST_CASE("csv from a pipe is read whole then parsed the same")
    {
        std::string text{"uai;nom\n"};
        for (int i = 0; i < 20'000; ++i)
            text += "0750655E;\"Lycée\n" + std::to_string(i) + "\"\r\n";
        text += "0020013D;\"B\n";
        PipeBuffer pipe{text};
        std::istream in{&pipe};
        CsvReader reader{in};
        const auto streamed = read_all(reader);
        check_same(streamed, parse_csv(text));
        CHECK(streamed.unclosed_quote_line == 40'002);
        CHECK_FALSE(reader.read_failed());
    }

    TEST_CASE("csv from a stream that breaks says that it was not read to its end")
    {
        std::string text{"uai;nom\n"};
        while (text.size() < 3 * chunk)
            text += "0750655E;A\n";
        PipeBuffer pipe{text, 2 * chunk};
        std::istream in{&pipe};
        CsvReader reader{in};
        read_all(reader);
        CHECK(reader.read_failed());
        std::istringstream fine{text};
        CsvReader whole{fine};
        read_all(whole);
        CHECK_FALSE(whole.read_failed());
    }
}
