// The document reader's limits and hostile inputs (issue 18): a clear French error, never a
// crash nor an unbounded allocation.
#include "knowledge/document.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "support/document_fixtures.hpp"

using namespace opalebot::knowledge;
using opalebot::testing::document_fixture;

namespace {

/// The error of reading the fixture `name` within `limits`; the reading must fail.
opalebot::Error failure(const std::string& bytes, const std::string& name,
                        const DocumentLimits& limits = {})
{
    const auto document = extract_document(bytes, name, limits);
    REQUIRE_FALSE(document);
    return document.error();
}

/// Reading `bytes` as `name` within `limits` fails with `code` and a message holding `part`.
void check_refused(const std::string& bytes, const std::string& name, const DocumentLimits& limits,
                   std::string_view code, std::string_view part)
{
    const auto error = failure(bytes, name, limits);
    CHECK(error.errcode == code);
    INFO(error.message);
    CHECK(error.message.find(part) != std::string::npos);
}

void check_fixture_refused(const std::string& name, std::string_view code, std::string_view part)
{
    check_refused(document_fixture(name), name, {}, code, part);
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("pdf without text layer asks for the original")
    {
        CHECK(failure(document_fixture("scan.pdf"), "scan.pdf").message ==
              "PDF sans texte (numérisé) : fournissez le PDF d'origine");
        check_fixture_refused("scan.pdf", document_errors::pdf_without_text, "PDF sans texte");
    }

    TEST_CASE("pdf locked by a password is refused clearly")
    {
        check_fixture_refused("protege.pdf", document_errors::encrypted,
                              "PDF protégé par un mot de passe : fournissez-le sans mot de passe");
    }

    TEST_CASE("zip bomb is refused by its compression ratio")
    {
        check_fixture_refused("bombe.odt", document_errors::zip_bomb, "compressé plus de 200 fois");
    }

    TEST_CASE("zip entries and decompressed size are capped")
    {
        const auto docx = document_fixture("prelevement.docx");
        DocumentLimits few_entries;
        few_entries.max_zip_entries = 3;
        check_refused(docx, "prelevement.docx", few_entries, document_errors::zip_bomb,
                      "fichiers à l'intérieur (au plus 3)");
        DocumentLimits small;
        small.max_unzipped_bytes = 10 * 1024;
        const auto size = failure(docx, "prelevement.docx", small);
        CHECK(size.errcode == document_errors::zip_bomb);
        CHECK(size.message == "archive refusée : plus de 10 Ko une fois décompressée");
    }

    TEST_CASE("deep xml is refused without recursion")
    {
        check_fixture_refused("profond.odt", document_errors::too_deep,
                              "plus de 256 niveaux dans « content.xml »");
        std::string html;
        for (int i = 0; i < 200; ++i)
            html += "<div>";
        html += "fond";
        DocumentLimits shallow;
        shallow.max_xml_depth = 50;
        CHECK(failure(html, "profond.html", shallow).errcode == document_errors::too_deep);
    }

    TEST_CASE("encrypted and damaged archives")
    {
        check_fixture_refused("chiffre.odt", document_errors::encrypted, "mot de passe");
        check_fixture_refused("tronque.docx", document_errors::malformed, "fichier endommagé");
        const auto office =
            failure(std::string{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 reste"}, "protege.docx");
        CHECK(office.errcode == document_errors::encrypted);
        const auto legacy = failure(std::string{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 reste"}, "a.doc");
        CHECK(legacy.errcode == document_errors::unsupported);
        const auto not_pdf = failure("du texte", "faux.pdf");
        CHECK(not_pdf.errcode == document_errors::malformed);
        CHECK(failure("%PDF-1.4\ngarbage", "casse.pdf").errcode == document_errors::malformed);
    }

    TEST_CASE("unknown formats and binaries are named")
    {
        const auto unknown = failure("du texte", "tableau.xlsx");
        CHECK(unknown.errcode == document_errors::unsupported);
        CHECK(unknown.message.starts_with("format non pris en charge"));
        CHECK(failure(std::string{"a\0b", 3}, "binaire.txt").errcode ==
              document_errors::unsupported);
        CHECK(failure("{\\rtf1 texte}", "lettre.txt").errcode == document_errors::unsupported);
    }

    TEST_CASE("file size pages and text are capped")
    {
        const auto pdf = document_fixture("guide.pdf");
        DocumentLimits tiny;
        tiny.max_file_bytes = 1024;
        check_refused(pdf, "guide.pdf", tiny, document_errors::too_large, "(au plus 1 Ko)");
        DocumentLimits two_pages;
        two_pages.max_pages = 2;
        const auto pages = failure(pdf, "guide.pdf", two_pages);
        CHECK(pages.errcode == document_errors::too_many_pages);
        CHECK(pages.message == "PDF trop long : 3 pages (au plus 2)");
        CHECK(failure(document_fixture("engagement.pptx"), "e.pptx", two_pages).errcode ==
              document_errors::too_many_pages);
        CHECK(failure(document_fixture("budget.odp"), "b.odp", two_pages).errcode ==
              document_errors::too_many_pages);
        DocumentLimits little_text;
        little_text.max_text_bytes = 100;
        CHECK(failure(pdf, "guide.pdf", little_text).errcode == document_errors::too_much_text);
        CHECK(failure(std::string(300, 'a'), "a.txt", little_text).errcode ==
              document_errors::too_much_text);
    }

    TEST_CASE("huge tables keep their first rows with a warning")
    {
        DocumentLimits one_row;
        one_row.max_table_rows = 1;
        one_row.max_row_cells = 1;
        const auto document =
            extract_document(document_fixture("prelevement.docx"), "prelevement.docx", one_row);
        REQUIRE(document);
        int rows = 0;
        for (const auto& block : document.value().blocks)
            if (block.kind == Block::Kind::table_row) {
                ++rows;
                CHECK(block.cells == std::vector<std::string>{"Motif"});
            }
        CHECK(rows == 1);
        REQUIRE(document.value().warnings.size() == 1);
        CHECK(document.value().warnings[0].starts_with("tableau trop grand"));
        std::string html = "<table>";
        for (int i = 0; i < 5000; ++i)
            html += "<tr><td>a</td><td>b</td></tr>";
        const auto big = extract_document(html, "t.html");
        REQUIRE(big);
        CHECK(big.value().blocks.size() == DocumentLimits{}.max_table_rows);
    }
}
