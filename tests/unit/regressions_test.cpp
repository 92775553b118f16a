// Regression tests for bugs found by writing the tests first (empty-field lines, address check,
// invalid UTF-8, signed dates, punctuation after an acronym); each says where the bug was.
#include "knowledge/answerer.hpp"
#include "knowledge/glossary.hpp"
#include "knowledge/knowledge_base.hpp"
#include "knowledge/text.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

// The same valid entry as entry_loader_test.cpp; line numbers are the file's.
std::vector<std::string> valid_lines()
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
    };
}

std::string with_line(std::size_t number, const std::string& text)
{
    auto lines = valid_lines();
    lines.at(number - 1) = text;
    std::string joined;
    for (const auto& line : lines)
        joined += line + '\n';
    return joined;
}

std::vector<Diagnostic> errors_of(const std::string& text)
{
    std::vector<Diagnostic> problems;
    const auto entry =
        parse_entry(std::filesystem::path{"content"} / "tiers-ddfip.md", text, problems);
    CHECK_FALSE(entry.has_value());
    std::vector<Diagnostic> errors;
    std::copy_if(problems.begin(), problems.end(), std::back_inserter(errors),
                 [](const Diagnostic& d) { return d.is_error; });
    return errors;
}

} // namespace

TEST_SUITE("unit")
{
    // Bug 1 (knowledge/src/entry_loader.cpp, `scalar`/`list`/sources: line_of(it->second, 2)).
    // A field left empty as `id:` is a YAML null, whose mark is the NEXT token: the error points
    // at the following field (or at the closing "---"), one line too far.
    TEST_CASE("regression: an empty field written as key colon is reported on its own line")
    {
        const std::vector<std::pair<std::size_t, std::string>> cases{
            {2, "id:"},        {3, "titre:"},   {4, "domaine:"},
            {5, "mots-cles:"}, {6, "profils:"}, {12, "mis-a-jour:"}};
        for (const auto& [line, text] : cases) {
            INFO("line " << line << ": " << text);
            const auto errors = errors_of(with_line(line, text));
            REQUIRE(errors.size() == 1);
            CHECK(errors.front().line == static_cast<int>(line)); // actual: line + 1
        }
    }

    TEST_CASE("regression: empty sources written as key colon are reported on their own line")
    {
        auto lines = valid_lines();
        lines.erase(lines.begin() + 7,
                    lines.begin() + 11); // the four source lines; "sources:" stays
        std::string text;
        for (const auto& line : lines)
            text += line + '\n';
        const auto errors = errors_of(text);
        REQUIRE(errors.size() == 1);
        CHECK(errors.front().line == 7); // actual: 8, the "mis-a-jour" line
    }

    // Bug 2 (entry_loader.cpp, source checks): `adresse` accepts "http://", although the error
    // message says "elle doit commencer par https://" and knowledge/README.md asks for https://.
    TEST_CASE("regression: an adresse that is not a web address is refused")
    {
        const auto errors = errors_of(with_line(11, "    adresse: www.assemblee-nationale.fr/q17"));
        CHECK(errors.size() == 1);
        for (const auto& error : errors) {
            CHECK(error.line == 10);
            CHECK(error.message.find("https://") != std::string::npos);
        }
        // Some public sources only exist over http: they are accepted.
        std::vector<Diagnostic> problems;
        CHECK(parse_entry(std::filesystem::path{"content"} / "tiers-ddfip.md",
                          with_line(11, "    adresse: http://www.touteduc.fr/fr/archives"),
                          problems)
                  .has_value());
    }

    // Bug 3 (knowledge/src/text.cpp, next_code_point): overlong encodings are decoded, so invalid
    // UTF-8 becomes ASCII ("\xC0\xAF" is "/", "\xC0\x80" a NUL byte) instead of a space.
    TEST_CASE("regression: fold turns overlong UTF-8 into spaces")
    {
        CHECK(fold("a\xC0\xAF"
                   "b") == "a b"); // actual: "a/b"
        CHECK(fold("a\xC0\x80"
                   "b") == "a b");          // actual: "a\0b"
        CHECK(fold("\xC1\x81") == " ");     // actual: "a" (overlong "A")
        CHECK(fold("\xE0\x80\xAF") == " "); // actual: "/" (three-byte overlong)
    }

    // Bug 4 (text.cpp, next_code_point): a lead byte whose sequence would run past the end of the
    // text swallows the valid ASCII after it ("i = s.size()"), e.g. Latin-1 text pasted as is.
    TEST_CASE("regression: fold keeps the ASCII after a truncated sequence")
    {
        CHECK(fold("d\xE9s") == "d s"); // actual: "d " (the "s" is lost)
        CHECK(fold("tiers \xF0"
                   "ab") == "tiers  ab"); // actual: "tiers  " ("ab" lost)
    }

    // Bug 5 (entry_loader.cpp, parse_date): operator>> accepts a sign, so "2024-02-+9" and
    // "2024-+2-19" pass as 2024-02-09 and 2024-02-19 although they are not AAAA-MM-JJ.
    TEST_CASE("regression: a date with a sign is refused")
    {
        for (const std::string date : {"2024-02-+9", "2024-+2-19", "+9/02/2024"}) {
            INFO("date: " << date);
            const auto errors = errors_of(with_line(12, "mis-a-jour: " + date));
            CHECK(errors.size() == 1); // actual: 0, the date is accepted
            for (const auto& error : errors)
                CHECK(error.line == 12);
        }
    }

    // Bug 1 again (knowledge/src/glossary.cpp, `item.Mark().line + 1`): an empty list item "-" is
    // a YAML null whose mark is the next line.
    TEST_CASE("regression: an empty glossary item is reported on its own line")
    {
        std::vector<Diagnostic> problems;
        const auto glossary = parse_glossary("glossaire.yaml",
                                             "- sigle: EJ\n" // 1
                                             "  developpement: Engagement juridique\n"
                                             "-\n"           // 3
                                             "- sigle: DP\n" // 4
                                             "  developpement: Demande de paiement\n",
                                             problems);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().line == 3); // actual: 4
        CHECK(glossary.all().size() == 2);
    }

    TEST_CASE("regression: an empty synonym group is reported on its own line")
    {
        std::vector<Diagnostic> problems;
        const auto groups = parse_synonyms(
            "synonymes.yaml", "- [payer, paiement]\n-\n- [saisir, saisie]\n", problems);
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().line == 2); // actual: 3
        CHECK(groups.size() == 2);
    }

    // Bug 6 (knowledge/src/glossary.cpp key_of, reached by `!sigle`): the key drops spaces, dots,
    // hyphens and apostrophes but not the question mark or other trailing punctuation, so
    // "!sigle EJ ?" (French typing puts a space before "?") answers "Je ne connais pas le sigle".
    // "que veut dire EJ ?" works because it goes through split_words.
    TEST_CASE("regression: sigle ignores trailing punctuation")
    {
        KnowledgeBase base;
        base.glossary.add({"EJ", "Engagement juridique", "", "", {}});
        Answerer answerer{std::move(base)};
        for (const std::string typed : {"EJ ?", "EJ?", "EJ !", "EJ,"}) {
            INFO("typed: " << typed);
            CHECK(answerer.explain_acronym(typed).find("Engagement juridique") !=
                  std::string::npos);
        }
    }
}
