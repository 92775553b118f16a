#include "knowledge/analyzer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

std::vector<std::string> words_of(const std::vector<Term>& terms)
{
    std::vector<std::string> words;
    for (const auto& t : terms)
        words.push_back(t.word);
    return words;
}

std::vector<std::string> stems_of(const std::vector<Term>& terms)
{
    std::vector<std::string> stems;
    for (const auto& t : terms)
        stems.push_back(t.stem);
    return stems;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("analyzer gives accented and unaccented forms the same stems")
    {
        const Analyzer analyzer;
        CHECK(stems_of(analyzer.analyze("intégration")) ==
              stems_of(analyzer.analyze("integration")));
        CHECK(stems_of(analyzer.analyze("Créer le tiers")) ==
              stems_of(analyzer.analyze("creer le TIERS")));
        CHECK(stems_of(analyzer.analyze("prélèvement à l’échéance")) ==
              stems_of(analyzer.analyze("prelevement a l'echeance")));
        CHECK(analyzer.stem("integration") == analyzer.stem("integrations"));
        CHECK_FALSE(analyzer.analyze("intégration").empty());
    }

    TEST_CASE("analyzer drops stop words and keeps the topic")
    {
        const Analyzer analyzer;
        CHECK(words_of(analyzer.analyze("Bonjour, comment je dois faire pour le tiers ?")) ==
              std::vector<std::string>{"tiers"});
        CHECK(words_of(analyzer.analyze("l'intégration des factures")) ==
              std::vector<std::string>{"integration", "factures"});
        CHECK(analyzer.analyze("merci beaucoup ! c'est quoi ?").empty()); // adverbs are stop words
        CHECK(analyzer.analyze("le la les de du").empty());
        CHECK(analyzer.analyze("").empty());
    }

    TEST_CASE("analyzer gives plural and singular the same stem")
    {
        const Analyzer analyzer;
        CHECK(analyzer.stem("factures") == analyzer.stem("facture"));
        CHECK(analyzer.stem("fournisseurs") == analyzer.stem("fournisseur"));
        CHECK(analyzer.stem("engagements") == analyzer.stem("engagement"));
        CHECK(analyzer.stem("juridiques") == analyzer.stem("juridique"));
        CHECK(stems_of(analyzer.analyze("les engagements juridiques")) ==
              stems_of(analyzer.analyze("un engagement juridique")));
        CHECK(analyzer.stem("facture") != analyzer.stem("fournisseur"));
    }

    TEST_CASE("analyzer leaves short acronyms unchanged")
    {
        const Analyzer analyzer;
        const auto terms = analyzer.analyze("EJ DP TR MF2");
        REQUIRE(terms.size() == 4);
        for (const auto& t : terms)
            CHECK(t.stem == t.word);
        CHECK(words_of(terms) == std::vector<std::string>{"ej", "dp", "tr", "mf2"});
        CHECK(analyzer.stem("sas") == "sas");
    }

    TEST_CASE("analyzer keeps the folded word next to its stem")
    {
        const Analyzer analyzer;
        const auto terms = analyzer.analyze("Créations");
        REQUIRE(terms.size() == 1);
        CHECK(terms.front().word == "creations");
        CHECK(terms.front().stem == analyzer.stem("creation"));
        CHECK(terms.front().stem.size() < terms.front().word.size());
    }

    TEST_CASE("analyzer tells the salary from a payment and keeps word positions")
    {
        Analyzer analyzer;
        const auto salary = analyzer.analyze("changer le RIB pour ma paie");
        const auto payment = analyzer.analyze("la famille paie par chèque");
        const auto paiement = analyzer.analyze("le paiement");
        REQUIRE(salary.size() == 3);
        REQUIRE(payment.size() == 3);
        REQUIRE(paiement.size() == 1);
        CHECK(payment[1].stem == paiement[0].stem); // "elle paie": a payment
        CHECK(salary[2].stem != paiement[0].stem);  // "ma paie": a salary
        // positions count the stop words dropped: "changer le RIB pour ma paie"
        CHECK(salary[0].position == 0);
        CHECK(salary[1].position == 2);
        CHECK(salary[2].position == 5);
    }

    TEST_CASE("analyzer still works after a move")
    {
        Analyzer first;
        const auto expected = first.stem("engagements");
        Analyzer second{std::move(first)};
        CHECK(second.stem("engagements") == expected);
        Analyzer third;
        third = std::move(second);
        CHECK(third.stem("engagements") == expected);
    }
}
