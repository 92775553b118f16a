#include "knowledge/glossary.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

const std::string glossary_text =             // line numbers as a curator sees them
    "# Glossaire de test\n"                   // 1
    "- sigle: EJ\n"                           // 2
    "  developpement: Engagement juridique\n" // 3
    "  definition: Acte qui crée une obligation de dépense.\n"            // 4
    "  source: Terme standard\n"                                          // 5
    "\n"                                                                  // 6
    "- sigle: DGFiP\n"                                                    // 7
    "  developpement: Direction générale des finances publiques\n"        // 8
    "  variantes: [DGFIP, D.G.F.I.P.]\n"                                  // 9
    "- sigle: Op@le\n"                                                    // 10
    "  developpement: Outil de pilotage et d'administration financiers\n" // 11
    "  variantes: [Opale]\n"                                              // 12
    "- sigle: CGR\n"                                                      // 13
    "  definition: Libellé d'un niveau des exports SDE / SDR.\n"          // 14
    "- sigle: RÉGIE\n"                                                    // 15
    "  definition: Service qui encaisse ou paie pour le comptable.\n";    // 16

std::vector<Diagnostic> errors_of(const std::vector<Diagnostic>& problems)
{
    std::vector<Diagnostic> errors;
    std::copy_if(problems.begin(), problems.end(), std::back_inserter(errors),
                 [](const Diagnostic& d) { return d.is_error; });
    return errors;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_glossary reads every acronym")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", glossary_text, problems);
        CHECK(problems.empty());
        REQUIRE(glossary.all().size() == 5);
        const auto& ej = glossary.all().front();
        CHECK(ej.sigle == "EJ");
        CHECK(ej.developpement == "Engagement juridique");
        CHECK(ej.definition == "Acte qui crée une obligation de dépense.");
        CHECK(ej.source == "Terme standard");
        CHECK(ej.variantes.empty());
        CHECK(glossary.all()[1].variantes == std::vector<std::string>{"DGFIP", "D.G.F.I.P."});
        CHECK(glossary.all()[3].developpement.empty());
    }

    TEST_CASE("glossary finds an acronym whatever its case or accents")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", glossary_text, problems);
        for (const std::string typed : {"EJ", "ej", "Ej", " EJ ", "E.J.", "éj"}) {
            INFO("typed: " << typed);
            const auto* found = glossary.find(typed);
            REQUIRE(found != nullptr);
            CHECK(found->sigle == "EJ");
        }
        for (const std::string typed : {"regie", "Régie", "REGIE"}) {
            INFO("typed: " << typed);
            const auto* found = glossary.find(typed);
            REQUIRE(found != nullptr);
            CHECK(found->sigle == "RÉGIE");
        }
    }

    TEST_CASE("glossary finds an acronym by its variants")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", glossary_text, problems);
        for (const std::string typed : {"dgfip", "DGFIP", "D.G.F.I.P.", "d-g-f-i-p"}) {
            INFO("typed: " << typed);
            const auto* found = glossary.find(typed);
            REQUIRE(found != nullptr);
            CHECK(found->sigle == "DGFiP");
        }
        for (const std::string typed : {"op@le", "OPALE", "Opale"}) {
            INFO("typed: " << typed);
            const auto* found = glossary.find(typed);
            REQUIRE(found != nullptr);
            CHECK(found->sigle == "Op@le");
        }
    }

    TEST_CASE("glossary does not find unknown or empty acronyms")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", glossary_text, problems);
        CHECK(glossary.find("ZZQ") == nullptr);
        CHECK(glossary.find("E") == nullptr);
        CHECK(glossary.find("EJJ") == nullptr);
        CHECK(glossary.find("") == nullptr);
        CHECK(glossary.find(" . - ") == nullptr);
        CHECK(glossary.find("👍") == nullptr);
    }

    TEST_CASE("parse_glossary reports a duplicate acronym on its line and keeps the first")
    {
        const auto text = glossary_text + "- sigle: ej\n" // 17
                                          "  developpement: Autre chose\n";
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        const auto errors = errors_of(problems);
        REQUIRE(errors.size() == 1);
        CHECK(errors.front().file == "glossaire.yaml");
        CHECK(errors.front().line == 17);
        CHECK(errors.front().message.find("en double") != std::string::npos);
        CHECK(glossary.all().size() == 5);
        REQUIRE(glossary.find("EJ") != nullptr);
        CHECK(glossary.find("EJ")->developpement == "Engagement juridique");
    }

    TEST_CASE("parse_glossary refuses an acronym with no letter nor digit")
    {
        // found by the fiche fuzz target: kept, it could never be found again
        const auto text = glossary_text + "- sigle: \"»).\"\n" // 17
                                          "  developpement: Rien\n";
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        const auto errors = errors_of(problems);
        REQUIRE(errors.size() == 1);
        CHECK(errors.front().line == 17);
        CHECK(errors.front().message.find("sans lettre ni chiffre") != std::string::npos);
        CHECK(glossary.all().size() == 5);
        for (const auto& acronym : glossary.all())
            CHECK(glossary.find(acronym.sigle) != nullptr);
    }

    TEST_CASE("parse_glossary reports an acronym that repeats a variant")
    {
        const auto text = glossary_text + "- sigle: CEJ\n" // 17
                                          "  developpement: Autre\n"
                                          "- sigle: D.G.F.I.P\n" // 19
                                          "  developpement: Doublon\n"
                                          "- sigle: XYZ\n" // 21
                                          "  developpement: Autre\n"
                                          "  variantes: [CGR]\n";
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        const auto errors = errors_of(problems);
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].line == 19);
        CHECK(errors[1].line == 21);
        CHECK(glossary.find("CEJ") != nullptr);
        CHECK(glossary.find("XYZ") == nullptr);
        CHECK(glossary.all().size() == 6);
    }

    TEST_CASE("parse_glossary reports an item without sigle on its line")
    {
        const std::string text = "- sigle: EJ\n" // 1
                                 "  developpement: Engagement juridique\n"
                                 "- developpement: Sans sigle\n" // 3
                                 "  definition: Oublié\n"
                                 "- juste du texte\n" // 5
                                 "- sigle: DP\n"      // 6
                                 "  developpement: Demande de paiement\n";
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        const auto errors = errors_of(problems);
        REQUIRE(errors.size() == 2);
        CHECK(errors[0].line == 3);
        CHECK(errors[0].message.find("sans « sigle »") != std::string::npos);
        CHECK(errors[1].line == 5);
        CHECK(glossary.all().size() == 2);
        CHECK(glossary.find("DP") != nullptr);
    }

    TEST_CASE("parse_glossary warns about an acronym with neither expansion nor definition")
    {
        const std::string text = "- sigle: SDE\n" // 1
                                 "  source: Outils d'analyse\n"
                                 "- sigle: EJ\n" // 3
                                 "  developpement: Engagement juridique\n";
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        REQUIRE(problems.size() == 1);
        CHECK_FALSE(problems.front().is_error);
        CHECK(problems.front().line == 1);
        CHECK(glossary.find("SDE") != nullptr); // a warning does not drop the acronym
    }

    TEST_CASE("parse_glossary reports a YAML error with its line")
    {
        const std::string text = "- sigle: EJ\n" // 1
                                 "  developpement: Engagement juridique\n"
                                 "- sigle: DP\n"                            // 3
                                 "  developpement: Demande: de paiement\n"; // 4
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", text, problems);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().is_error);
        CHECK(problems.front().line == 4);
        CHECK(problems.front().message.find("YAML") != std::string::npos);
        CHECK(glossary.all().empty());
    }

    TEST_CASE("parse_glossary refuses a file that is not a list")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", "sigle: EJ\n", problems);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().is_error);
        CHECK(problems.front().line == 1);
        CHECK(glossary.all().empty());
    }

    TEST_CASE("parse_glossary accepts an empty file")
    {
        std::vector<Diagnostic> problems;
        CHECK(parse_glossary("glossaire.yaml", "", problems).all().empty());
        CHECK(parse_glossary("glossaire.yaml", "# rien encore\n", problems).all().empty());
        CHECK(problems.empty());
    }

    TEST_CASE("glossary add refuses a clash with a sigle or a variant")
    {
        Glossary glossary;
        CHECK(glossary.add(
            {"DGFiP", "Direction générale des finances publiques", "", "", {"DGFIP"}}));
        CHECK_FALSE(glossary.add({"dgfip", "Doublon", "", "", {}}));
        CHECK_FALSE(glossary.add({"DG", "Autre", "", "", {"D.G.F.I.P."}}));
        CHECK(glossary.add({"DG", "Direction générale", "", "", {}}));
        CHECK(glossary.all().size() == 2);
    }

    TEST_CASE("parse_synonyms reads groups and rejects a group of one word")
    {
        const std::string text = "# Synonymes\n"                        // 1
                                 "- [fournisseur, créancier]\n"         // 2
                                 "- [supprimer]\n"                      // 3
                                 "- [mot de passe, mdp, identifiant]\n" // 4
                                 "- seul\n"                             // 5
                                 "- [payer, '']\n";                     // 6
        std::vector<Diagnostic> problems;
        const auto groups = parse_synonyms("synonymes.yaml", text, problems);
        REQUIRE(groups.size() == 2);
        CHECK(groups[0] == std::vector<std::string>{"fournisseur", "créancier"});
        CHECK(groups[1] == std::vector<std::string>{"mot de passe", "mdp", "identifiant"});
        REQUIRE(problems.size() == 3);
        CHECK(problems[0].line == 3);
        CHECK(problems[1].line == 5);
        CHECK(problems[2].line == 6);
        for (const auto& p : problems) {
            CHECK(p.is_error);
            CHECK(p.file == "synonymes.yaml");
            CHECK(p.message.find("deux mots") != std::string::npos);
        }
    }

    TEST_CASE("parse_glossary reads the other meanings of an acronym")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml",
                                             "- sigle: DP\n"
                                             "  developpement: Demande de paiement\n"
                                             "  autres-sens: [demi-pensionnaires]\n",
                                             problems);
        CHECK(problems.empty());
        REQUIRE(glossary.find("DP") != nullptr);
        CHECK(glossary.find("DP")->autres_sens == std::vector<std::string>{"demi-pensionnaires"});
        CHECK(glossary.all().front().autres_sens.size() == 1);
    }

    TEST_CASE("read_synonym_groups keeps the line of each group")
    {
        std::vector<Diagnostic> problems;
        const auto groups = read_synonym_groups("synonymes.yaml",
                                                "# Synonymes\n- [a, b]\n\n- [c, d, e]\n", problems);
        CHECK(problems.empty());
        REQUIRE(groups.size() == 2);
        CHECK(groups[0].line == 2);
        CHECK(groups[1].words == std::vector<std::string>{"c", "d", "e"});
        CHECK(groups[1].line == 4);
    }

    TEST_CASE("check_synonym_meanings warns about a group that joins two meanings of an acronym")
    {
        const std::string glossary_yaml = "- sigle: DP\n"
                                          "  developpement: Demande de paiement\n"
                                          "  autres-sens: [demi-pensionnaires]\n"
                                          "- sigle: SG\n"
                                          "  developpement: Secrétaire général\n"
                                          "  autres-sens: [services généraux]\n"
                                          "- sigle: EJ\n"
                                          "  developpement: Engagement juridique\n";
        const std::string synonyms_yaml =
            "- [demi-pensionnaire, demi-pensionnaires, DP]\n" // 1: DP and its other meaning
            "- [DP, demande de paiement, DPs]\n"              // 2: one meaning
            "- [demi-pension, demi-pensionnaire]\n"           // 3: no acronym, one meaning
            "- [demandes de paiement, Demi-pensionnaire]\n"   // 4: both meanings, no acronym
            "- [service général, SG, secrétaire général]\n"   // 5: SG's two meanings
            "- [EJ, engagement, commande]\n";                 // 6: EJ has no other meaning
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml", glossary_yaml, problems);
        const auto groups = read_synonym_groups("synonymes.yaml", synonyms_yaml, problems);
        REQUIRE(problems.empty());
        check_synonym_meanings("synonymes.yaml", groups, glossary, problems);
        REQUIRE(problems.size() == 3);
        CHECK(problems[0].line == 1);
        CHECK(problems[0].message.find("« DP »") != std::string::npos);
        CHECK(problems[0].message.find("« Demande de paiement » et « demi-pensionnaires »") !=
              std::string::npos);
        CHECK(problems[1].line == 4);
        CHECK(problems[2].line == 5);
        CHECK(problems[2].message.find("« SG »") != std::string::npos);
        for (const auto& p : problems) {
            CHECK_FALSE(p.is_error);
            CHECK(p.file == "synonymes.yaml");
        }
    }

    TEST_CASE("parse_synonyms reports a YAML error with its line")
    {
        std::vector<Diagnostic> problems;
        const auto groups = parse_synonyms("synonymes.yaml", "- [a, b]\n- c: d: e\n", problems);
        CHECK(groups.empty());
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().is_error);
        CHECK(problems.front().line == 2);
    }
}
