#include "commands/eple_import.hpp"

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "support/checks.hpp"

using namespace opalebot::commands;
using opalebot::StateDatabase;
using namespace std::chrono_literals;
using opalebot::testing::contains;

namespace {

constexpr std::string_view referential =
    "uai;nom;commune;type;academie;vague;uai_agence_comptable\n"
    "0750655E;Lycée Fictif A;Paris;LGT;Paris;6;0750655E\n"
    "0020013D;Collège Fictif B;Laon;Collège;Amiens;6;0750655E\n"
    "0593560Z;LP Fictif C;Lille;LP;Lille;7;\n";

constexpr std::string_view indicator_header =
    "uai;date;kit_taux;budget_integre;budget_saisie;paiements;ej;titres_recettes;prelevements\n";

/// A copy of the one error of `report` (often a temporary), checked to be at `line` in `column`.
ImportError only_error(const ImportReport& report, int line, std::string_view column)
{
    REQUIRE_FALSE(report.ok);
    REQUIRE(report.errors.size() == 1);
    CHECK(report.errors[0].line == line);
    CHECK(report.errors[0].column == column);
    return report.errors[0];
}

/// A valid UAI of its own for each `n` (n < 1,000,000), none of those of `referential`.
std::string numbered_uai(int n)
{
    const auto digits = std::to_string(1'000'000 + n);
    return digits + *uai_key(digits);
}

/// `line` and a line break, `n` times.
std::string repeated(std::string_view line, int n)
{
    std::string lines;
    for (int i = 0; i < n; ++i)
        lines.append(line).append("\n");
    return lines;
}

ImportReport import_one_indicator_line(EpleStore& store, std::string_view line)
{
    return import_indicateurs(store, std::string{indicator_header} + std::string{line} + "\n",
                              "indicateurs.csv");
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("uai keys follow the letters without I O and Q")
    {
        CHECK(uai_key("0750655") == 'E');
        CHECK(uai_key("0750654") == 'D');
        CHECK(uai_key("0020013") == 'D');
        CHECK(uai_key("0593560") == 'Z'); // 593560 mod 23 = 22, the last letter
        CHECK(uai_key("0000023") == 'A');
        CHECK_FALSE(uai_key("075065").has_value());
        CHECK_FALSE(uai_key("07506x5").has_value());
        CHECK(is_valid_uai("0750655E"));
        CHECK_FALSE(is_valid_uai("0750655F"));
        CHECK_FALSE(is_valid_uai("0750655e")); // the store keeps upper case; imports convert
    }

    TEST_CASE("french decimals and dates")
    {
        CHECK(parse_french_decimal("20,6") == doctest::Approx(20.6));
        CHECK(parse_french_decimal("20.6") == doctest::Approx(20.6));
        CHECK(parse_french_decimal(" 20,6\u00A0% ") == doctest::Approx(20.6));
        CHECK(parse_french_decimal("100") == doctest::Approx(100));
        CHECK_FALSE(parse_french_decimal("-3").has_value());
        CHECK_FALSE(parse_french_decimal("1,2,3").has_value());
        CHECK_FALSE(parse_french_decimal(",5").has_value());
        CHECK_FALSE(parse_french_decimal("vingt").has_value());
        CHECK_FALSE(parse_french_decimal("").has_value());
        CHECK(parse_french_date("19/01/2024") == std::chrono::year_month_day{2024y / 1 / 19});
        CHECK(parse_french_date("29/02/2024") == std::chrono::year_month_day{2024y / 2 / 29});
        CHECK(parse_french_date("5/1/2025") == std::chrono::year_month_day{2025y / 1 / 5});
        CHECK_FALSE(parse_french_date("29/02/2023").has_value());
        CHECK_FALSE(parse_french_date("31/04/2024").has_value());
        CHECK_FALSE(parse_french_date("2024-01-19").has_value());
        CHECK_FALSE(parse_french_date("19/01/24").has_value());
        CHECK_FALSE(parse_french_date("19/13/2024").has_value());
    }

    TEST_CASE("etablissements import accepts any column order case accents and commas")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto report =
            import_etablissements(store,
                                  "\xEF\xBB\xBF"
                                  "Vague,UAI,Nom,Académie,Commune,Observations\r\n"
                                  "6,0750655e,\"Lycée Fictif A, annexe\",Paris,Paris,ignorée\r\n"
                                  "9,0020013D,Collège Fictif B,Amiens,Laon,\r\n",
                                  "etablissements.csv");
        REQUIRE(report.ok);
        CHECK(report.rows == 2);
        CHECK(std::any_of(report.notes.begin(), report.notes.end(),
                          [](const std::string& n) { return contains(n, "Observations"); }));
        const auto all = store.etablissements();
        REQUIRE(all);
        REQUIRE(all.value().size() == 2);
        const auto& a = all.value()[1]; // sorted by UAI
        CHECK(a.uai == "0750655E");
        CHECK(a.nom == "Lycée Fictif A, annexe");
        CHECK(a.academie == "Paris");
        CHECK(a.vague == 6);
        CHECK(a.type.empty());
        CHECK(all.value()[0].vague == 9);
    }

    TEST_CASE("etablissements import updates known EPLE and keeps the others")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "a.csv").ok);
        REQUIRE(import_etablissements(store, "uai;nom;vague\n0020013D;Collège Renommé;8\n", "b.csv")
                    .ok);
        const auto all = store.etablissements();
        REQUIRE(all);
        REQUIRE(all.value().size() == 3);
        CHECK(all.value()[0].nom == "Collège Renommé");
        CHECK(all.value()[0].vague == 8);
    }

    TEST_CASE("etablissements import lists every bad value with its line and column")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto report = import_etablissements(store,
                                                  "uai;nom;vague;uai_agence_comptable\n"
                                                  "0750655E;Lycée A;6;\n"
                                                  "0750655F;Lycée B;6;\n"     // 3: key
                                                  "075065;Lycée C;6;\n"       // 4: shape
                                                  "0020013D;;6;\n"            // 5: nom missing
                                                  "0593560Z;LP D;10;\n"       // 6: wave
                                                  "0130001F;LP E;six;\n"      // 7: wave
                                                  "0750655E;Lycée A bis;6;\n" // 8: duplicate
                                                  "0690026D;F;6;0690026E\n"   // 9: agency key
                                                  "0801234G;G;6;;extra\n",    // 10: extra value
                                                  "etablissements.csv");
        REQUIRE_FALSE(report.ok);
        CHECK(report.rows == 9);
        REQUIRE(report.errors.size() == 8);
        const auto at = [&](std::size_t i, int line, std::string_view column,
                            std::string_view value, std::string_view reason) {
            CAPTURE(i);
            CHECK(report.errors[i].line == line);
            CHECK(report.errors[i].column == column);
            CHECK(report.errors[i].value == value);
            CHECK(contains(report.errors[i].reason, reason));
        };
        at(0, 3, "uai", "0750655F", "la lettre de 0750655 est E");
        at(1, 4, "uai", "075065", "7 chiffres suivis d'une lettre");
        at(2, 5, "nom", "", "obligatoire");
        at(3, 6, "vague", "10", "de 1 à 9");
        at(4, 7, "vague", "six", "de 1 à 9");
        at(5, 8, "uai", "0750655E", "déjà ligne 2");
        at(6, 9, "uai_agence_comptable", "0690026E", "la lettre de 0690026 est D");
        at(7, 10, "", "extra", "au-delà des 4 colonnes");
        const auto all = store.etablissements();
        REQUIRE(all);
        CHECK(all.value().empty()); // all or nothing: the good line 2 was not written
    }

    TEST_CASE("etablissements import refuses a header without a required column")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto report =
            import_etablissements(store, "uai;intitulé;vague;vague\n0750655E;A;6;6\n", "e.csv");
        REQUIRE_FALSE(report.ok);
        REQUIRE(report.errors.size() == 2);
        CHECK(report.errors[0].line == 1);
        CHECK(report.errors[0].column == "vague");
        CHECK(contains(report.errors[0].reason, "en double"));
        CHECK(report.errors[1].column == "nom");
        CHECK(contains(report.errors[1].reason, "absente"));
    }

    TEST_CASE("imports refuse an empty file and a header alone")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto empty = import_etablissements(store, "", "vide.csv");
        REQUIRE(empty.errors.size() == 1);
        CHECK(empty.errors[0].line == 0);
        CHECK(empty.errors[0].reason == "fichier vide");
        const auto header_only = import_etablissements(store, "uai;nom;vague\r\n", "e.csv");
        REQUIRE(header_only.errors.size() == 1);
        CHECK(contains(header_only.errors[0].reason, "aucune ligne de données"));
    }

    TEST_CASE("indicateurs import reads every column kind")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        const auto report = import_indicateurs(
            store,
            "Titres_Recettes;EJ;Paiements;Budget intégré;Kit taux;DATE;UAI;Budget saisie\r\n"
            "2;1 234;0;OUI;\"20,6 %\";19/01/2024;0750655E;op@le\r\n"
            "0;0;3;non;9,9;19/01/2024;0020013D;\r\n",
            "indicateurs.csv");
        REQUIRE(report.ok);
        CHECK(report.rows == 2);
        const auto status = store.status("0750655E");
        REQUIRE(status);
        REQUIRE(status.value());
        const auto& s = *status.value()->latest;
        CHECK(s.kit_taux == doctest::Approx(20.6));
        CHECK(s.budget_integre);
        CHECK(s.budget_saisie == BudgetSaisie::opale);
        CHECK(s.paiements == 0);
        CHECK(s.ej == 1234);
        CHECK(s.titres_recettes == 2);
        CHECK_FALSE(s.prelevements.has_value()); // optional column absent
        const auto other = store.status("0020013D");
        REQUIRE(other);
        CHECK_FALSE(other.value()->latest->budget_saisie.has_value()); // empty cell
    }

    TEST_CASE("indicateurs import flags each kind of bad value")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        const std::string good_tail = ";oui;GFC;1;2;3;non";

        SUBCASE("rate above 100")
        {
            const auto e =
                only_error(import_one_indicator_line(store, "0750655E;19/01/2024;120" + good_tail),
                           2, "kit_taux");
            CHECK(e.value == "120");
            CHECK(contains(e.reason, "de 0 à 100"));
        }
        SUBCASE("rate not a number")
        {
            only_error(import_one_indicator_line(store, "0750655E;19/01/2024;20%6" + good_tail), 2,
                       "kit_taux");
        }
        SUBCASE("date that does not exist")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0750655E;30/02/2024;20" + good_tail), 2, "date");
            CHECK(e.reason == "cette date n'existe pas");
        }
        SUBCASE("date in another format")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0750655E;2024-01-19;20" + good_tail), 2, "date");
            CHECK(e.reason == "date attendue au format JJ/MM/AAAA");
        }
        SUBCASE("year from another century")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0750655E;19/01/1924;20" + good_tail), 2, "date");
            CHECK(contains(e.reason, "invraisemblable"));
        }
        SUBCASE("unknown uai")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0801234G;19/01/2024;20" + good_tail), 2, "uai");
            CHECK(contains(e.reason, "absent du référentiel"));
        }
        SUBCASE("oui or non")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0750655E;19/01/2024;20;peut-être;GFC;1;2;3;non"),
                2, "budget_integre");
            CHECK(e.reason == "oui ou non attendu");
        }
        SUBCASE("GFC or OPALE")
        {
            only_error(
                import_one_indicator_line(store, "0750655E;19/01/2024;20;oui;Excel;1;2;3;non"), 2,
                "budget_saisie");
        }
        SUBCASE("negative count")
        {
            const auto e = only_error(
                import_one_indicator_line(store, "0750655E;19/01/2024;20;oui;GFC;-1;2;3;non"), 2,
                "paiements");
            CHECK(contains(e.reason, "entier positif ou nul"));
        }
        SUBCASE("decimal count")
        {
            only_error(
                import_one_indicator_line(store, "0750655E;19/01/2024;20;oui;GFC;1;2,5;3;non"), 2,
                "ej");
        }
        SUBCASE("missing count")
        {
            only_error(import_one_indicator_line(store, "0750655E;19/01/2024;20;oui;GFC;1;2;;non"),
                       2, "titres_recettes");
        }
        SUBCASE("bad prelevements")
        {
            only_error(
                import_one_indicator_line(store, "0750655E;19/01/2024;20;oui;GFC;1;2;3;parfois"), 2,
                "prelevements");
        }
        SUBCASE("unquoted decimal in a comma file")
        {
            const auto report =
                import_indicateurs(store,
                                   "uai,date,kit_taux,budget_integre,paiements,ej,titres_recettes\n"
                                   "0750655E,19/01/2024,20,6,oui,1,2,3\n",
                                   "indicateurs.csv");
            const auto e = only_error(report, 2, "");
            CHECK(contains(e.reason, "entre guillemets"));
        }
        const auto count = store.snapshot_count();
        REQUIRE(count);
        CHECK(count.value() == 0);
    }

    TEST_CASE("indicateurs import is all or nothing and names the duplicate day")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        REQUIRE(import_one_indicator_line(store, "0750655E;12/01/2024;5;non;GFC;0;0;0;non").ok);
        const auto report = import_indicateurs(store,
                                               std::string{indicator_header} +
                                                   "0750655E;19/01/2024;20;oui;GFC;1;2;3;non\n"
                                                   "0020013D;19/01/2024;30;oui;GFC;1;2;3;non\n"
                                                   "0750655E;19/01/2024;21;oui;GFC;1;2;3;non\n"
                                                   "0593560Z;19/01/2024;101;oui;GFC;1;2;3;non\n",
                                               "indicateurs.csv");
        REQUIRE_FALSE(report.ok);
        REQUIRE(report.errors.size() == 2);
        CHECK(report.errors[0].line == 4);
        CHECK(contains(report.errors[0].reason, "déjà ligne 2"));
        CHECK(report.errors[1].line == 5);
        CHECK(report.errors[1].column == "kit_taux");
        const auto count = store.snapshot_count();
        REQUIRE(count);
        CHECK(count.value() == 1); // the earlier import only
        const auto status = store.status("0750655E");
        REQUIRE(status);
        CHECK(status.value()->latest->date == std::chrono::year_month_day{2024y / 1 / 12});
    }

    TEST_CASE("indicateurs keep history and replace the same day")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        REQUIRE(import_one_indicator_line(store, "0750655E;12/01/2024;5;non;GFC;0;0;0;non").ok);
        REQUIRE(import_one_indicator_line(store, "0750655E;19/01/2024;8;oui;GFC;0;0;0;non").ok);
        REQUIRE(import_one_indicator_line(store, "0750655E;19/01/2024;9,5;oui;GFC;1;0;0;non").ok);
        const auto count = store.snapshot_count();
        REQUIRE(count);
        CHECK(count.value() == 2);
        const auto status = store.status("0750655E");
        REQUIRE(status);
        REQUIRE(status.value()->latest);
        REQUIRE(status.value()->previous);
        CHECK(status.value()->latest->kit_taux == doctest::Approx(9.5));
        CHECK(status.value()->latest->paiements == 1);
        CHECK(status.value()->previous->kit_taux == doctest::Approx(5));
    }

    TEST_CASE("import reports read in French in the terminal and in the salon")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        const auto report =
            import_one_indicator_line(store, "0750655E;19/01/2024;1*2;oui;GFC;1;2;3;non");
        const auto text = format_import_report_text(report);
        CHECK(
            contains(text, "indicateurs.csv : import refusé, rien n'a été enregistré (1 erreur)."));
        CHECK(contains(text,
                       "  ligne 2, colonne kit_taux, valeur « 1*2 » : un pourcentage de 0 à 100"));
        const auto markdown = format_import_report_markdown(report);
        CHECK(contains(
            markdown, "**Import refusé** : rien n'a été enregistré (indicateurs\\.csv, 1 erreur)"));
        CHECK(contains(markdown, "- ligne 2, colonne `kit_taux`, valeur « 1\\*2 » :"));
        const auto ok = import_etablissements(store, referential, "etablissements.csv");
        CHECK(format_import_report_text(ok) ==
              "etablissements.csv : 3 établissements importés (ajoutés ou mis à jour).\n");
    }

    TEST_CASE("salon import report stays under its size and counts the rest")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        std::string csv{"uai;nom;vague\n"};
        for (int i = 0; i < 2000; ++i)
            csv += "0750655E;Lycée;0\n";
        const auto report = import_etablissements(store, csv, "e.csv");
        CHECK(report.error_count == 2000 + 1999); // a bad wave each, a duplicate but the first
        CHECK(report.errors.size() == max_listed_remarks);
        const auto markdown = format_import_report_markdown(report, 4000);
        CHECK(markdown.size() < 4400);
        CHECK(contains(markdown, "autres erreurs"));
        const auto text = format_import_report_text(report); // the terminal gets the first 50
        CHECK(contains(text, "(3 999 erreurs)"));
        CHECK(contains(text, "  … et 3 949 autres erreurs : corrigez les premières"));
        CHECK(text.size() < 16'000);
    }

    TEST_CASE("salon import report lists the first 50 remarks and counts the others")
    {
        // issue 15, item 5: 100,000 unknown columns made a reply Synapse refused.
        StateDatabase state{":memory:"};
        EpleStore store{state};
        std::string header{"uai;nom;vague"};
        std::string line{"0750655E;Lycée;6"};
        for (int i = 0; i < 100'000; ++i) {
            header += ";inconnue" + std::to_string(i) + std::string(100, 'x');
            line += ";";
        }
        const auto report = import_etablissements(store, header + "\n" + line + "\n", "e.csv");
        REQUIRE(report.ok);
        CHECK(report.note_count == 100'000);
        CHECK(report.notes.size() == max_listed_remarks);
        const auto markdown = format_import_report_markdown(report);
        CHECK(markdown.size() < 12'000);
        CHECK(contains(markdown, "inconnue49x"));
        CHECK_FALSE(contains(markdown, "inconnue50x"));
        CHECK(contains(markdown, "… et 99 950 autres remarques."));
    }

    TEST_CASE("an import with a hundred thousand bad lines lists 50 errors and counts the rest")
    {
        // issue 15, item 7: 1,000,000 bad lines made 2,000,000 errors and a 196 MB report.
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        std::string csv{indicator_header};
        csv += "0750655E;12/01/2024;5;non;GFC;0;0;0;non\n"; // good, and not written
        csv += repeated("0020013D;2024-01-19;120;oui;GFC;1;2;3;non", 100'000); // date and rate
        const auto report = import_indicateurs(store, csv, "indicateurs.csv");
        CHECK_FALSE(report.ok);
        CHECK(report.rows == 100'001);
        CHECK(report.error_count == 200'000);
        REQUIRE(report.errors.size() == max_listed_remarks);
        CHECK(report.errors.front().line == 3);
        CHECK(report.errors.back().line == 27);
        CHECK(report.errors.back().column == "kit_taux");
        const auto markdown = format_import_report_markdown(report);
        CHECK(contains(markdown, "(indicateurs\\.csv, 200 000 erreurs)"));
        CHECK(contains(markdown, "- … et 199 950 autres erreurs : corrigez les premières"));
        CHECK(markdown.size() < 16'000); // far from the 64 KiB of a Matrix event
        const auto text = format_import_report_text(report);
        CHECK(contains(text, "  … et 199 950 autres erreurs"));
        CHECK(text.size() < 16'000);
        CHECK(store.snapshot_count().value() == 0);
    }

    TEST_CASE("a report keeps values short whatever the file holds")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto huge = std::string(1'000'000, '9');
        const auto report =
            import_etablissements(store, "uai;nom;vague\n" + huge + ";A;6\n", "e.csv");
        REQUIRE(report.errors.size() == 1);
        CHECK(report.errors[0].value.size() < 210);
        CHECK(report.errors[0].value.starts_with("999"));
    }

    TEST_CASE("a quote never closed is the first error even found after fifty others")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        const auto csv = "uai;nom;vague\n" + repeated("0750655E;A;0", 60) + "0020013D;\"B;6\n";
        const auto report = import_etablissements(store, csv, "e.csv");
        CHECK(report.error_count == 60 + 59 + 1);
        REQUIRE(report.errors.size() == max_listed_remarks);
        CHECK(report.errors[0].line == 62);
        CHECK(contains(report.errors[0].reason, "guillemet ouvert jamais refermé"));
        CHECK(report.errors[1].line == 2);
    }

    TEST_CASE("an import from a stream reads the file as one from memory")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        std::istringstream file{std::string{referential}};
        const auto report = import_etablissements(store, file, "etablissements.csv");
        REQUIRE(report.ok);
        CHECK(report.rows == 3);
        CHECK(store.etablissements().value().size() == 3);
        std::istringstream empty{""};
        const auto nothing = import_indicateurs(store, empty, "vide.csv");
        REQUIRE(nothing.errors.size() == 1);
        CHECK(nothing.errors[0].reason == "fichier vide");
    }

    TEST_CASE("a bad line after thousands of written ones leaves the store as it was")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        REQUIRE(import_etablissements(store, referential, "e.csv").ok);
        REQUIRE(import_one_indicator_line(store, "0750655E;12/01/2024;5;non;GFC;0;0;0;non").ok);
        std::string etablissements{"uai;nom;vague\n0750655E;Nom Changé;9\n"};
        std::string indicators{indicator_header};
        for (int i = 0; i < 5'000; ++i) {
            etablissements += numbered_uai(i) + ";EPLE;6\n";
            indicators += "0750655E;" + std::to_string(1 + i % 28) + "/" +
                          std::to_string(1 + i / 28 % 12) + "/" + std::to_string(2030 + i / 336) +
                          ";5;non;GFC;0;0;0;non\n";
        }
        SUBCASE("a duplicate UAI far from the first")
        {
            etablissements += "0020013D;Collège Fictif B;6\n0750655E;Encore;6\n";
            const auto e =
                only_error(import_etablissements(store, etablissements, "e.csv"), 5'004, "uai");
            CHECK(contains(e.reason, "déjà ligne 2"));
        }
        SUBCASE("a duplicate day far from the first")
        {
            indicators += "0750655E;1/1/2030;5;non;GFC;0;0;0;non\n";
            const auto e =
                only_error(import_indicateurs(store, indicators, "i.csv"), 5'002, "date");
            CHECK(contains(e.reason, "déjà ligne 2"));
        }
        const auto all = store.etablissements().value();
        REQUIRE(all.size() == 3);
        CHECK(all[2].nom == "Lycée Fictif A");
        CHECK(store.snapshot_count().value() == 1);
    }

    TEST_CASE("a write that fails in a later batch rolls the earlier ones back")
    {
        StateDatabase state{":memory:"};
        EpleStore store{state};
        state.connection().exec(
            "CREATE TRIGGER refuse BEFORE INSERT ON eple_etablissements WHEN NEW.nom = 'Refusé' "
            "BEGIN SELECT RAISE(ABORT, 'refusé par le test'); END");
        std::string csv{"uai;nom;vague\n"};
        for (int i = 0; i < 2'500; ++i)
            csv += numbered_uai(i) + (i == 1'500 ? ";Refusé;6\n" : ";A;6\n");
        const auto report = import_etablissements(store, csv, "e.csv");
        CHECK_FALSE(report.ok);
        REQUIRE(report.error_count == 1);
        CHECK(contains(report.errors[0].reason, "l'écriture dans la base a échoué"));
        CHECK(store.etablissements().value().empty());
        REQUIRE(import_etablissements(store, referential, "e.csv").ok); // the store still works
    }
}
