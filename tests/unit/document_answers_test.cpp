// Passages of the base's documents answering questions beside the fiches (issue 18), on a small
// hand-made base: the passages are built here, not extracted (the extractors have their tests).
#include "knowledge/answerer.hpp"
#include "knowledge/document_library.hpp"
#include "knowledge/knowledge_base.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/kb_entry.hpp"

using namespace opalebot::knowledge;

namespace {

Entry fiche(std::string id, std::string titre, std::vector<std::string> mots_cles, std::string body,
            std::vector<std::string> documents = {})
{
    auto entry = opalebot::testing::make_entry(std::move(id), std::move(titre), "Tiers",
                                               std::move(mots_cles), std::move(body));
    entry.documents = std::move(documents);
    return entry;
}

Passage passage(std::string heading, int page, std::vector<std::string> steps)
{
    Passage p;
    p.heading = std::move(heading);
    p.page = page;
    p.last_page = page;
    p.steps = std::move(steps);
    for (std::size_t k = 0; k < p.steps.size(); ++k)
        p.text += std::to_string(k + 1) + ". " + p.steps[k] + "\n";
    return p;
}

LibraryDocument guide()
{
    LibraryDocument document;
    document.file_name = "regies-pas-a-pas.pdf";
    document.format = DocumentFormat::pdf;
    document.page_count = 12;
    document.metadata.titre = "Pas-à-pas des régies";
    document.metadata.adresse = "https://tribu.phm.education.gouv.fr/exemple";
    document.passages = {
        passage("Ouvrir une régie d'avances", 3,
                {"Ouvrir le module Régies", "Choisir « Créer une régie d'avances »",
                 "Saisir le plafond de l'avance et le nom du régisseur", "Enregistrer"}),
        passage("Clôturer la caisse du régisseur", 7,
                {"Compter les espèces de la caisse", "Saisir le procès-verbal de caisse",
                 "Valider la clôture"}),
    };
    return document;
}

LibraryDocument tiers_guide()
{
    LibraryDocument document;
    document.file_name = "tiers-ddfip.odt";
    document.format = DocumentFormat::odt;
    document.metadata.titre = "Créer le tiers DDFIP";
    document.passages = {passage("Créer le tiers DDFIP", 0,
                                 {"Ouvrir le module Tiers", "Rechercher le SIRET de la DDFIP",
                                  "Créer le tiers avec ce SIRET", "Ajouter sa domiciliation"})};
    return document;
}

KnowledgeBase base_with_documents()
{
    KnowledgeBase base;
    base.entries = {
        fiche("tiers-ddfip", "Créer le tiers DDFIP", {"DDFIP", "finances publiques"},
              "Le tiers DDFIP se crée une seule fois, dans le module Tiers.", {"tiers-ddfip.odt"}),
        fiche("tiers-reactiver", "Réactiver un tiers inactif", {"tiers inactif"},
              "Un tiers inactif se réactive dans le module Tiers."),
    };
    base.documents = {guide(), tiers_guide()};
    return base;
}

} // namespace

TEST_SUITE("kb")
{
    TEST_CASE("a passage answers what no fiche explains with its steps its page and its link")
    {
        Answerer answerer{base_with_documents()};
        const auto answer = answerer.ask("comment ouvrir une régie d'avances ?");
        CHECK(answer.kind == Answer::Kind::entry);
        CHECK(answer.entry_id == "document:regies-pas-a-pas.pdf");
        REQUIRE(answer.source.has_value());
        CHECK(answer.source->document == "regies-pas-a-pas.pdf");
        CHECK(answer.source->page == 3);
        CHECK(answer.source->section == "Ouvrir une régie d'avances");
        CHECK(answer.text.find("1\\. Ouvrir le module Régies") == std::string::npos); // numbers
        CHECK(answer.text.find("1. Ouvrir le module Régies") != std::string::npos);
        CHECK(answer.text.find("4. Enregistrer") != std::string::npos);
        CHECK(answer.text.find("Source : [Pas\\-à\\-pas des régies]"
                               "(https://tribu.phm.education.gouv.fr/exemple), page 3") !=
              std::string::npos);
        // the other passage of the same document is no rival: the answer is sure
        const auto closing = answerer.ask("clôturer la caisse du régisseur");
        CHECK(closing.source->page == 7);
    }

    TEST_CASE("a fiche that names a document wins and quotes the passage's steps under its text")
    {
        Answerer answerer{base_with_documents()};
        const auto answer = answerer.ask("comment créer le tiers DDFIP ?");
        CHECK(answer.kind == Answer::Kind::entry);
        CHECK(answer.entry_id == "tiers-ddfip");
        REQUIRE(answer.source.has_value());
        CHECK(answer.source->document == "tiers-ddfip.odt");
        CHECK(answer.source->page == 0);
        const auto body = answer.text.find("se crée une seule fois");
        const auto steps = answer.text.find("Les étapes du pas-à-pas");
        const auto sources = answer.text.find("Source :\n");
        REQUIRE(body != std::string::npos);
        REQUIRE(steps != std::string::npos);
        CHECK(body < steps);
        CHECK(steps < sources);
        CHECK(answer.text.find("2. Rechercher le SIRET de la DDFIP") != std::string::npos);
        CHECK(answer.text.find("Source : Créer le tiers DDFIP, section « Créer le tiers DDFIP »") !=
              std::string::npos);
    }

    TEST_CASE("a question a fiche answers is never taken by a passage and nonsense gets neither")
    {
        Answerer answerer{base_with_documents()};
        const auto fiche_wins = answerer.ask("réactiver un tiers inactif");
        CHECK(fiche_wins.entry_id == "tiers-reactiver");
        CHECK_FALSE(fiche_wins.source.has_value()); // it names no document
        const auto nothing = answerer.ask("quel temps fera-t-il à Lille demain ?");
        CHECK(nothing.kind == Answer::Kind::unknown);
        CHECK_FALSE(nothing.source.has_value());
    }

    TEST_CASE("documents survive a reload of the base and a base without documents still answers")
    {
        Answerer answerer{base_with_documents()};
        auto without = base_with_documents();
        without.documents.clear();
        without.entries.pop_back();
        without.entries.front().documents.clear();
        answerer.replace(std::move(without));
        CHECK(answerer.documents().empty());
        CHECK(answerer.ask("comment ouvrir une régie d'avances ?").kind == Answer::Kind::unknown);
        CHECK(answerer.ask("comment créer le tiers DDFIP ?").entry_id == "tiers-ddfip");
        answerer.replace(base_with_documents());
        CHECK(answerer.ask("comment ouvrir une régie d'avances ?").source.has_value());
    }

    TEST_CASE("quoted steps are cut at a step boundary and say that the rest is in the document")
    {
        Passage long_one;
        for (int k = 0; k < 40; ++k)
            long_one.steps.push_back("Étape numéro " + std::to_string(k + 1) +
                                     " : cliquer sur le bouton « Suivant » puis vérifier l'écran");
        const auto quoted = quoted_steps(long_one, 1500);
        CHECK(quoted.size() <= 1500 + 40);
        CHECK(quoted.find("_(suite dans le document)_") != std::string::npos);
        const auto last_step = quoted.rfind("\n", quoted.rfind("\n_(suite") - 1);
        CHECK(quoted.substr(last_step + 1, 2) != "_(");
        CHECK(quoted.find("40. ") == std::string::npos);

        Passage plain;
        plain.text = "Première ligne\nDeuxième ligne\n";
        CHECK(quoted_steps(plain) == "Première ligne\nDeuxième ligne");

        Passage huge;
        huge.steps = {std::string(3000, 'a')};
        const auto cut = quoted_steps(huge, 100);
        CHECK(cut.size() < 200);
        CHECK(cut.find("suite dans le document") != std::string::npos);
    }
}
