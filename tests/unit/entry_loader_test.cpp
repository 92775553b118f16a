#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.hpp"

using namespace opalebot::knowledge;
namespace fs = std::filesystem;

namespace {

using opalebot::testing::TempDir;

using Lines = std::vector<std::string>;

// The line numbers below are the file's: line 1 is the opening "---".
Lines valid_lines()
{
    return {
        "---",                                                                     // 1
        "id: tiers-ddfip",                                                         // 2
        "titre: Créer le tiers DDFIP",                                             // 3
        "domaine: Tiers",                                                          // 4
        "mots-cles: [DDFIP, DGFiP, trésorerie]",                                   // 5
        "profils: [gestionnaire, agent comptable]",                                // 6
        "sources:",                                                                // 7
        "  - titre: Création du tiers DDFIP",                                      // 8
        "    ressource: Espace Tribu « utilisateurs op@le HDF »",                  // 9
        "  - titre: Réponse à la question écrite n° 2502",                         // 10
        "    adresse: https://questions.assemblee-nationale.fr/q17/17-2502QE.htm", // 11
        "mis-a-jour: 2024-02-19",                                                  // 12
        "a-completer: Recopier les étapes du pas à pas Tribu.",                    // 13
        "---",                                                                     // 14
        "",                                                                        // 15
        "La réponse courte : le tiers DDFIP se crée une fois.",                    // 16
        "",                                                                        // 17
        "## Étapes",                                                               // 18
        "",                                                                        // 19
        "1. Ouvrir le module **Tiers**.",                                          // 20
    };
}

std::string join(const Lines& lines)
{
    std::string text;
    for (const auto& line : lines)
        text += line + '\n';
    return text;
}

Lines replaced(Lines lines, std::size_t number, std::string text)
{
    lines.at(number - 1) = std::move(text);
    return lines;
}

Lines removed(Lines lines, std::size_t number, std::size_t count = 1)
{
    const auto first = lines.begin() + static_cast<std::ptrdiff_t>(number - 1);
    lines.erase(first, first + static_cast<std::ptrdiff_t>(count));
    return lines;
}

Lines inserted(Lines lines, std::size_t number, std::string text)
{
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(number - 1), std::move(text));
    return lines;
}

const fs::path default_file = fs::path{"content"} / "tiers-ddfip.md";

struct Parsed {
    std::optional<Entry> entry;
    std::vector<Diagnostic> problems;

    std::vector<Diagnostic> errors() const
    {
        std::vector<Diagnostic> found;
        std::copy_if(problems.begin(), problems.end(), std::back_inserter(found),
                     [](const Diagnostic& d) { return d.is_error; });
        return found;
    }
};

Parsed parse(const std::string& text, const fs::path& file = default_file)
{
    Parsed parsed;
    parsed.entry = parse_entry(file, text, parsed.problems);
    return parsed;
}

/// The entry is refused with exactly one error, on `line`, whose message contains `words`.
void check_refused(const Parsed& parsed, int line, std::string_view words,
                   const fs::path& file = default_file)
{
    CHECK_FALSE(parsed.entry.has_value());
    const auto errors = parsed.errors();
    REQUIRE(errors.size() == 1);
    INFO("message: " << errors.front().message);
    CHECK(errors.front().line == line);
    CHECK(errors.front().message.find(words) != std::string::npos);
    CHECK(errors.front().file == file.string());
}

bool has_error(const std::vector<Diagnostic>& problems, std::string_view file_part)
{
    return std::any_of(problems.begin(), problems.end(), [&](const Diagnostic& d) {
        return d.is_error && d.file.find(file_part) != std::string::npos;
    });
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_entry reads a valid entry")
    {
        const auto parsed = parse(join(valid_lines()));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        const auto& entry = *parsed.entry;
        CHECK(entry.id == "tiers-ddfip");
        CHECK(entry.titre == "Créer le tiers DDFIP");
        CHECK(entry.domaine == "Tiers");
        CHECK(entry.mots_cles == std::vector<std::string>{"DDFIP", "DGFiP", "trésorerie"});
        CHECK(entry.profils == std::vector<std::string>{"gestionnaire", "agent comptable"});
        REQUIRE(entry.sources.size() == 2);
        CHECK(entry.sources[0].titre == "Création du tiers DDFIP");
        CHECK(entry.sources[0].ressource == "Espace Tribu « utilisateurs op@le HDF »");
        CHECK(entry.sources[0].adresse.empty());
        CHECK(entry.sources[1].titre == "Réponse à la question écrite n° 2502");
        CHECK(entry.sources[1].adresse ==
              "https://questions.assemblee-nationale.fr/q17/17-2502QE.htm");
        CHECK(entry.sources[1].ressource.empty());
        CHECK(entry.mis_a_jour == "2024-02-19");
        CHECK(entry.a_completer == "Recopier les étapes du pas à pas Tribu.");
        CHECK(entry.body.find("La réponse courte") != std::string::npos);
        CHECK(entry.body.find("## Étapes") != std::string::npos);
        CHECK(entry.body.find("id: tiers-ddfip") == std::string::npos);
        CHECK(entry.body_text.find("Ouvrir le module") != std::string::npos);
        CHECK(entry.body_text.find("Tiers") != std::string::npos);
        CHECK(entry.body_text.find("**") == std::string::npos);
        CHECK(entry.body_text.find("##") == std::string::npos);
    }

    TEST_CASE("parse_entry accepts comments and a missing a-completer")
    {
        auto lines = inserted(valid_lines(), 5, "# un commentaire de relecteur");
        lines = removed(lines, 14); // a-completer, now on line 14
        const auto parsed = parse(join(lines));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->a_completer.empty());
        CHECK(parsed.entry->mots_cles.size() == 3);
    }

    TEST_CASE("parse_entry accepts Windows line endings")
    {
        std::string text;
        for (const auto& line : valid_lines())
            text += line + "\r\n";
        const auto parsed = parse(text);
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->id == "tiers-ddfip");
        CHECK(parsed.entry->mis_a_jour == "2024-02-19");
    }

    TEST_CASE("parse_entry refuses a file without front matter on line 1")
    {
        check_refused(parse("# Créer le tiers DDFIP\n\nLa réponse.\n"), 1, "---");
        check_refused(parse(""), 1, "---");
    }

    TEST_CASE("parse_entry refuses an unclosed front matter at the end of the file")
    {
        const auto lines = removed(valid_lines(), 14, 7); // the closing "---" and the body
        REQUIRE(lines.size() == 13);
        check_refused(parse(join(lines)), 13, "refermé");
    }

    TEST_CASE("parse_entry reports a YAML syntax error on its line")
    {
        check_refused(parse(join(replaced(valid_lines(), 4, "domaine: Tiers: Budget"))), 4,
                      "illisible");
    }

    TEST_CASE("parse_entry reports a front matter that is not a map on line 2")
    {
        check_refused(parse("---\n- id\n- titre\n---\n\nTexte.\n"), 2, "nom: valeur");
    }

    TEST_CASE("parse_entry reports an unknown field on its line")
    {
        const auto parsed = parse(join(inserted(valid_lines(), 12, "auteur: Marie Dupont")));
        check_refused(parsed, 12, "auteur");
    }

    TEST_CASE("parse_entry reports a missing id on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 2))), 2, "« id »");
    }

    TEST_CASE("parse_entry reports an empty id on its line")
    {
        check_refused(parse(join(replaced(valid_lines(), 2, "id: \"\""))), 2, "« id »");
    }

    TEST_CASE("parse_entry reports a missing titre on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 3))), 2, "« titre »");
    }

    TEST_CASE("parse_entry reports an empty titre on its line")
    {
        check_refused(parse(join(replaced(valid_lines(), 3, "titre: \"  \""))), 3, "« titre »");
    }

    TEST_CASE("parse_entry reports a missing domaine on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 4))), 2, "« domaine »");
    }

    TEST_CASE("parse_entry reports an empty domaine on its line")
    {
        check_refused(parse(join(replaced(valid_lines(), 4, "domaine: ''"))), 4, "« domaine »");
    }

    TEST_CASE("parse_entry reports missing mots-cles on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 5))), 2, "« mots-cles »");
    }

    TEST_CASE("parse_entry reports empty mots-cles on their line")
    {
        check_refused(parse(join(replaced(valid_lines(), 5, "mots-cles: []"))), 5, "« mots-cles »");
        check_refused(parse(join(replaced(valid_lines(), 5, "mots-cles: [ '', ' ' ]"))), 5,
                      "« mots-cles »");
    }

    TEST_CASE("parse_entry reports missing profils on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 6))), 2, "« profils »");
    }

    TEST_CASE("parse_entry reports empty profils on their line")
    {
        check_refused(parse(join(replaced(valid_lines(), 6, "profils: []"))), 6, "« profils »");
    }

    TEST_CASE("parse_entry reports missing sources on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 7, 5))), 2, "« sources »");
    }

    TEST_CASE("parse_entry reports empty sources on their line")
    {
        auto lines = removed(valid_lines(), 8, 4);
        check_refused(parse(join(replaced(lines, 7, "sources: []"))), 7, "« sources »");
        check_refused(parse(join(replaced(lines, 7, "sources: Espace Tribu"))), 7, "« sources »");
    }

    TEST_CASE("parse_entry reports a missing mis-a-jour on line 2")
    {
        check_refused(parse(join(removed(valid_lines(), 12))), 2, "« mis-a-jour »");
    }

    TEST_CASE("parse_entry reports an empty mis-a-jour on its line")
    {
        check_refused(parse(join(replaced(valid_lines(), 12, "mis-a-jour: ''"))), 12,
                      "« mis-a-jour »");
    }

    TEST_CASE("parse_entry reports an id that differs from the file name")
    {
        const auto file = fs::path{"content"} / "autre-nom.md";
        check_refused(parse(join(valid_lines()), file), 2, "autre-nom.md", file);
    }

    TEST_CASE("parse_entry reports an id with invalid characters")
    {
        for (const std::string id : {"Tiers_DDFIP", "tiers ddfip", "tiers-ddfip!", "créer-tiers"}) {
            INFO("id: " << id);
            const auto file = fs::path{"content"} / (id + ".md");
            check_refused(parse(join(replaced(valid_lines(), 2, "id: " + id)), file), 2, "invalide",
                          file);
        }
    }

    TEST_CASE("parse_entry reports an unknown domain with the possible ones")
    {
        const auto parsed = parse(join(replaced(valid_lines(), 4, "domaine: Paie")));
        check_refused(parsed, 4, "« Paie »");
        REQUIRE_FALSE(parsed.problems.empty());
        CHECK(parsed.problems.front().message.find("Sphère comptable") != std::string::npos);
    }

    TEST_CASE("parse_entry accepts a domain written without its accent or capital")
    {
        const auto parsed = parse(join(replaced(valid_lines(), 4, "domaine: sphere COMPTABLE")));
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->domaine == "Sphère comptable");
        const auto depenses = parse(join(replaced(valid_lines(), 4, "domaine: Depenses")));
        REQUIRE(depenses.entry.has_value());
        CHECK(depenses.entry->domaine == "Dépenses");
    }

    TEST_CASE("parse_entry reports a source without titre on the source line")
    {
        const auto lines = removed(replaced(valid_lines(), 8, "  - ressource: Espace Tribu"), 9);
        check_refused(parse(join(lines)), 8, "sans « titre »");
    }

    TEST_CASE("parse_entry reports a source without adresse or ressource on the source line")
    {
        check_refused(parse(join(removed(valid_lines(), 9))), 8, "ni « ressource »");
        check_refused(parse(join(removed(valid_lines(), 11))), 10, "ni « ressource »");
    }

    TEST_CASE("parse_entry reports a source that is not a map")
    {
        const auto lines = removed(replaced(valid_lines(), 8, "  - Espace Tribu"), 9);
        check_refused(parse(join(lines)), 8, "source invalide");
    }

    TEST_CASE("parse_entry reports an unknown source field on its line")
    {
        check_refused(parse(join(inserted(valid_lines(), 10, "    auteur: Marie"))), 10, "auteur");
    }

    TEST_CASE("parse_entry reads the perimetre of a source and the reply shows it")
    {
        const auto parsed =
            parse(join(inserted(valid_lines(), 12, "    perimetre: académie d'Amiens")));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        REQUIRE(parsed.entry->sources.size() == 2);
        CHECK(parsed.entry->sources[0].perimetre.empty());
        CHECK(parsed.entry->sources[1].perimetre == "académie d'Amiens");

        KnowledgeBase base;
        base.entries.push_back(*parsed.entry);
        const Answerer answerer{std::move(base)};
        const auto reply = answerer.show(answerer.entries().front());
        CHECK(reply.find("17-2502QE.htm) — périmètre : académie d'Amiens\n") != std::string::npos);
        CHECK(reply.find("HDF » — périmètre") == std::string::npos);
    }

    TEST_CASE("parse_entry reports an empty perimetre on its line")
    {
        check_refused(parse(join(inserted(valid_lines(), 12, "    perimetre:"))), 12,
                      "« perimetre » vide");
    }

    TEST_CASE("parse_entry refuses a figure when no source has a perimetre")
    {
        const auto lines =
            replaced(valid_lines(), 20, "Au 13/02/2024, 98 % des budgets étaient intégrés.");
        check_refused(parse(join(lines)), 20, "chiffre « 98 % » sans périmètre");
    }

    TEST_CASE("parse_entry refuses a figure whose paragraph does not name its perimeter")
    {
        auto lines = inserted(valid_lines(), 12, "    perimetre: académie d'Amiens");
        lines = replaced(lines, 21, "1. Au 19/01/2024, 50 budgets intégrés sur 61.");
        check_refused(parse(join(lines)), 21, "« académie d'Amiens »");
    }

    TEST_CASE("parse_entry accepts a figure that names the perimeter of one of its sources")
    {
        auto lines = inserted(valid_lines(), 12, "    perimetre: académie d'Amiens");
        lines = replaced(lines, 21, "1. Académie d'Amiens : 50 budgets intégrés sur 61,");
        lines.push_back("   soit 81,96 % (comité du 22/01/2024)."); // same paragraph, next line
        lines.push_back("");
        lines.push_back("Dans l'ACADEMIE D'AMIENS, 61 EPLE en vague 6.");
        const auto parsed = parse(join(lines));
        CHECK(parsed.problems.empty());
        CHECK(parsed.entry.has_value());
    }

    TEST_CASE("parse_entry takes percentages counts and numbers of schools as figures")
    {
        // A figure: a percentage, "x sur y", or a number of EPLE, établissements, budgets,
        // tickets. Dates, wave names, durations, article numbers are not figures.
        for (const std::string figure :
             {"81,96 %", "98%", "12 pour cent", "50 sur 61", "1187 tickets", "153 budgets",
              "6 établissements", "1 établissement", "61 EPLE", "l'an passé : 20,6 % terminées"}) {
            INFO("figure: " << figure);
            check_refused(parse(join(replaced(valid_lines(), 16, "Il y a " + figure + "."))), 16,
                          "sans périmètre");
        }
        for (const std::string text :
             {"le 19/01/2024", "la V6 de 01/2024", "en 2 jours", "les fiches 1 à 17",
              "au 1er septembre", "l'art. R421-77", "4 indicateurs", "0,5 j en présentiel",
              "la question n° 2502", "budget 2024"}) {
            INFO("not a figure: " << text);
            const auto parsed = parse(join(replaced(valid_lines(), 16, "Voir " + text + ".")));
            CHECK(parsed.problems.empty());
        }
    }

    TEST_CASE("parse_entry warns about a menu path that no source gives")
    {
        auto lines = replaced(valid_lines(), 20,
                              "1. Passer par DEPENSES > Restitutions > Situation des dépenses, "
                              "puis « Transactions liées » → « Consultation ».");
        lines.push_back("2. Ouvrir « Factures émises » → « Synthèse » → « Détail ».");
        lines.push_back("3. La chaîne EJ → SF → DP, puis Factures émises > Synthèse.");
        const auto parsed = parse(join(lines));
        REQUIRE(parsed.entry.has_value()); // a warning does not refuse the entry
        REQUIRE(parsed.problems.size() == 3);
        for (const auto& p : parsed.problems)
            CHECK_FALSE(p.is_error);
        CHECK(parsed.problems[0].line == 20);
        CHECK(parsed.problems[0].message.find("« Passer par DEPENSES > Restitutions > Situation "
                                              "des dépenses »") != std::string::npos);
        CHECK(parsed.problems[1].line == 20);
        CHECK(parsed.problems[1].message.find("« « Transactions liées » → « Consultation » »") !=
              std::string::npos);
        CHECK(parsed.problems[2].line == 21); // one path of three labels, one warning
        CHECK(parsed.problems[2].message.find("« Synthèse » → « Détail »") != std::string::npos);
    }

    TEST_CASE("parse_entry accepts a menu path that a source gives word for word")
    {
        auto lines = inserted(valid_lines(), 12,
                              "    chemins: [DEPENSES > Restitutions > Situation des dépenses, "
                              "« Transactions liées » → « Consultation »]");
        lines = replaced(lines, 21,
                         "1. Passer par **DEPENSES** > Restitutions > Situation des dépenses, "
                         "puis « Transactions liées » → « Consultation ».");
        const auto parsed = parse(join(lines));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->sources[1].chemins.size() == 2);
        // A path the source gives only in part is still reported.
        lines.push_back("2. Puis DEPENSES > Restitutions > Autre écran.");
        const auto partly = parse(join(lines));
        REQUIRE(partly.problems.size() == 1);
        CHECK(partly.problems.front().line == 22);
    }

    TEST_CASE("parse_entry reports an adresse that is not a web address")
    {
        for (const std::string address :
             {"www.assemblee-nationale.fr/q17", "ftp://exemple.fr/fichier", "javascript:alert(1)",
              "questions.md"}) {
            INFO("adresse: " << address);
            const auto parsed = parse(join(replaced(valid_lines(), 11, "    adresse: " + address)));
            check_refused(parsed, 10, "https://");
        }
    }

    TEST_CASE("parse_entry reports impossible or badly written dates on their line")
    {
        for (const std::string date :
             {"2024-02-30", "31/13/2024", "hier", "2023-02-29", "2024-13-01", "19-02-2024",
              "2024/02/19", "1899-01-01", "2024-02-1x", "19/02/24"}) {
            INFO("date: " << date);
            check_refused(parse(join(replaced(valid_lines(), 12, "mis-a-jour: " + date))), 12,
                          date);
        }
    }

    TEST_CASE("parse_entry accepts a leap day")
    {
        const auto parsed = parse(join(replaced(valid_lines(), 12, "mis-a-jour: 2024-02-29")));
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mis_a_jour == "2024-02-29");
    }

    TEST_CASE("parse_entry reports an empty body on the line after the front matter")
    {
        const auto lines = removed(valid_lines(), 15, 6);
        REQUIRE(lines.back() == "---");
        check_refused(parse(join(lines)), 15, "pas de texte");
        check_refused(parse(join(lines) + "\n  \n\n"), 15, "pas de texte");
    }

    TEST_CASE("parse_entry reports a broken relative link on its line in the file")
    {
        const TempDir dir;
        const auto file = dir.path() / "tiers-ddfip.md";
        auto lines = valid_lines();
        lines.emplace_back("");                                            // 21
        lines.emplace_back("## Liens");                                    // 22
        lines.emplace_back("");                                            // 23
        lines.emplace_back("- [Le guide](https://exemple.fr/guide.html)"); // 24
        lines.emplace_back("- [Ouvrir un ticket](assistance-ticket.md)");  // 25
        lines.emplace_back("- [Plus haut](#etapes)");                      // 26
        check_refused(parse(join(lines), file), 25, "assistance-ticket.md", file);

        dir.write("assistance-ticket.md", "---\n---\n");
        const auto fixed = parse(join(lines), file);
        CHECK(fixed.problems.empty());
        CHECK(fixed.entry.has_value());
    }

    TEST_CASE("parse_entry reports a link whose name is too long for the system")
    {
        // Found by tests/fuzz/fiche_fuzz.cpp: std::filesystem::exists threw ENAMETOOLONG out of
        // parse_entry, and so out of load_knowledge_base, which must never throw.
        const TempDir dir;
        const auto file = dir.path() / "tiers-ddfip.md";
        auto lines = valid_lines();
        lines.emplace_back("");                                                // 21
        lines.emplace_back("- [Trop long](" + std::string(300, 'a') + ".md)"); // 22
        Parsed parsed;
        CHECK_NOTHROW(parsed = parse(join(lines), file));
        check_refused(parsed, 22, "n'existe pas", file);
    }

    TEST_CASE("parse_entry reports a broken link on the second line of a paragraph")
    {
        const TempDir dir;
        const auto file = dir.path() / "tiers-ddfip.md";
        auto lines = valid_lines();
        lines.emplace_back("");                                   // 21
        lines.emplace_back("Voir aussi la procédure complète");   // 22
        lines.emplace_back("dans [la fiche RIB](tiers-rib.md)."); // 23
        check_refused(parse(join(lines), file), 23, "tiers-rib.md", file);
    }

    TEST_CASE("parse_entry checks the file of a relative link with an anchor")
    {
        const TempDir dir;
        const auto file = dir.path() / "tiers-ddfip.md";
        auto lines = valid_lines();
        lines.emplace_back("Voir [la fiche](tiers-rib.md#etapes)."); // 21
        check_refused(parse(join(lines), file), 21, "tiers-rib.md", file);
        dir.write("tiers-rib.md", "x");
        CHECK(parse(join(lines), file).entry.has_value());
    }

    TEST_CASE("parse_entry accepts mots-clés with an accent")
    {
        const auto parsed =
            parse(join(replaced(valid_lines(), 5, "mots-clés: [DDFIP, trésorerie]")));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mots_cles == std::vector<std::string>{"DDFIP", "trésorerie"});
    }

    TEST_CASE("parse_entry accepts field names typed like a sentence")
    {
        auto lines = replaced(valid_lines(), 12, "Mis à jour: 2024-02-19");
        lines = replaced(lines, 13, "a_completer: Recopier les étapes.");
        const auto parsed = parse(join(lines));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mis_a_jour == "2024-02-19");
        CHECK(parsed.entry->a_completer == "Recopier les étapes.");
    }

    TEST_CASE("parse_entry accepts a JJ/MM/AAAA date and stores it as ISO")
    {
        const auto parsed = parse(join(replaced(valid_lines(), 12, "mis-a-jour: 19/02/2024")));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mis_a_jour == "2024-02-19");
    }

    TEST_CASE("parse_entry accepts comma separated keywords in one string")
    {
        const auto parsed =
            parse(join(replaced(valid_lines(), 5, "mots-cles: DDFIP,  DGFiP , trésorerie,")));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mots_cles == std::vector<std::string>{"DDFIP", "DGFiP", "trésorerie"});
    }

    TEST_CASE("parse_entry accepts a block list of keywords and url as adresse")
    {
        auto lines = replaced(valid_lines(), 5, "mots-cles:");
        lines = inserted(lines, 6, "  - DDFIP");
        lines = inserted(lines, 7, "  - trésorerie");
        lines =
            replaced(lines, 13, "    url: https://exemple.fr/page"); // was adresse, now on line 13
        const auto parsed = parse(join(lines));
        CHECK(parsed.problems.empty());
        REQUIRE(parsed.entry.has_value());
        CHECK(parsed.entry->mots_cles == std::vector<std::string>{"DDFIP", "trésorerie"});
        REQUIRE(parsed.entry->sources.size() == 2);
        CHECK(parsed.entry->sources[1].adresse == "https://exemple.fr/page");
    }

    TEST_CASE("parse_entry reports every error of a file")
    {
        auto lines = replaced(valid_lines(), 4, "domaine: Paie");
        lines = replaced(lines, 12, "mis-a-jour: hier");
        const auto parsed = parse(join(lines));
        CHECK_FALSE(parsed.entry.has_value());
        const auto errors = parsed.errors();
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].line == 4);
        CHECK(errors[1].line == 12);
    }

    TEST_CASE("load_knowledge_base loads the good file and reports the bad one")
    {
        const TempDir dir;
        dir.write("tiers-ddfip.md", join(valid_lines()));
        dir.write("mauvaise.md", "Pas d'en-tête ici.\n");
        dir.write("README.md", "# Pas une fiche\n");
        dir.write("notes.txt", "ignoré");
        dir.write("glossaire.yaml", "- sigle: EJ\n  developpement: Engagement juridique\n");
        dir.write("synonymes.yaml", "- [fournisseur, créancier]\n");

        KnowledgeBase base;
        CHECK_NOTHROW(base = load_knowledge_base(dir.path()));
        REQUIRE(base.entries.size() == 1);
        CHECK(base.entries.front().id == "tiers-ddfip");
        CHECK(base.has_errors());
        REQUIRE(base.problems.size() == 1);
        CHECK(base.problems.front().file == (dir.path() / "mauvaise.md").string());
        CHECK(base.problems.front().line == 1);
        REQUIRE(base.glossary.all().size() == 1);
        CHECK(base.glossary.find("ej") != nullptr);
        REQUIRE(base.synonyms.size() == 1);
        CHECK(base.synonyms.front() == std::vector<std::string>{"fournisseur", "créancier"});
    }

    TEST_CASE("an entry names documents of the documents folder and a missing one is refused")
    {
        const TempDir dir;
        std::filesystem::create_directories(dir.path() / "documents");
        dir.write("documents/tiers-ddfip.txt", "Créer le tiers DDFIP\n\n1. Ouvrir Tiers.\n");
        auto lines = inserted(valid_lines(), 13, "documents: [tiers-ddfip.txt]");
        dir.write("tiers-ddfip.md", join(lines));
        auto base = load_knowledge_base(dir.path());
        CHECK(base.problems.empty());
        REQUIRE(base.entries.size() == 1);
        CHECK(base.entries.front().documents == std::vector<std::string>{"tiers-ddfip.txt"});
        REQUIRE(base.documents.size() == 1);
        CHECK(base.documents.front().file_name == "tiers-ddfip.txt");

        lines = inserted(valid_lines(), 13, "documents: [absent.pdf, ../tiers-ddfip.md]");
        dir.write("tiers-ddfip.md", join(lines));
        base = load_knowledge_base(dir.path());
        CHECK(base.entries.empty());
        REQUIRE(base.problems.size() == 2);
        CHECK(base.problems[0].line == 13);
        CHECK(base.problems[0].message.find("« absent.pdf » introuvable dans documents/") !=
              std::string::npos);
        CHECK(base.problems[1].message.find("sans chemin") != std::string::npos);
    }

    TEST_CASE("load_knowledge_base warns about synonyms that join two meanings of an acronym")
    {
        const TempDir dir;
        dir.write("tiers-ddfip.md", join(valid_lines()));
        dir.write("glossaire.yaml", "- sigle: DP\n  developpement: Demande de paiement\n"
                                    "  autres-sens: [demi-pensionnaires]\n");
        dir.write("synonymes.yaml", "- [fournisseur, créancier]\n"
                                    "- [demi-pensionnaire, demi-pensionnaires, DP]\n");
        const auto base = load_knowledge_base(dir.path());
        CHECK_FALSE(base.has_errors());
        REQUIRE(base.problems.size() == 1);
        CHECK(base.problems.front().file == dir.file("synonymes.yaml"));
        CHECK(base.problems.front().line == 2);
        CHECK(base.problems.front().message.find("deux sens du sigle « DP »") != std::string::npos);
        CHECK(base.synonyms.size() == 2); // a warning keeps the group
    }

    TEST_CASE("load_knowledge_base sorts entries by id and reads an optional glossary")
    {
        const TempDir dir;
        dir.write("tiers-ddfip.md", join(valid_lines()));
        auto other = replaced(valid_lines(), 2, "id: budget-dbm");
        other = replaced(other, 4, "domaine: Budget");
        dir.write("budget-dbm.md", join(other));
        const auto base = load_knowledge_base(dir.path());
        CHECK_FALSE(base.has_errors());
        CHECK(base.problems.empty());
        REQUIRE(base.entries.size() == 2);
        CHECK(base.entries[0].id == "budget-dbm");
        CHECK(base.entries[1].id == "tiers-ddfip");
        CHECK(base.glossary.all().empty());
        CHECK(base.synonyms.empty());
    }

    TEST_CASE("load_knowledge_base reports a broken glossary without losing the entries")
    {
        const TempDir dir;
        dir.write("tiers-ddfip.md", join(valid_lines()));
        dir.write("glossaire.yaml", "- sigle: EJ\n  developpement: [non fermé\n");
        const auto base = load_knowledge_base(dir.path());
        CHECK(base.entries.size() == 1);
        CHECK(base.has_errors());
        CHECK(has_error(base.problems, "glossaire.yaml"));
    }

    TEST_CASE("load_knowledge_base reports a missing directory")
    {
        const TempDir dir;
        const auto missing = dir.path() / "absent";
        KnowledgeBase base;
        CHECK_NOTHROW(base = load_knowledge_base(missing));
        CHECK(base.entries.empty());
        CHECK(base.has_errors());
        REQUIRE(base.problems.size() == 1);
        CHECK(base.problems.front().file == missing.string());
        CHECK(base.problems.front().line == 0);
    }

    TEST_CASE("load_knowledge_base reports a path that is not a directory")
    {
        const TempDir dir;
        dir.write("fichier.md", join(valid_lines()));
        KnowledgeBase base;
        CHECK_NOTHROW(base = load_knowledge_base(dir.path() / "fichier.md"));
        CHECK(base.entries.empty());
        CHECK(base.has_errors());
        CHECK(has_error(base.problems, "fichier.md"));
    }

    TEST_CASE("known_domains lists the six domains")
    {
        CHECK(known_domains() == std::vector<std::string>{"Tiers", "Budget", "Dépenses", "Recettes",
                                                          "Sphère comptable", "Transverse"});
    }
}
