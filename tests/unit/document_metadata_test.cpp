// The sidecar `<fichier>.yaml` of a document (issue 18): errors as file:line:column.
#include "knowledge/document_metadata.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

const std::string valid = "titre: Créer un tiers\n"
                          "adresse: https://tribu.phm.education.gouv.fr/portal/guide\n"
                          "domaine: Tiers\n"
                          "profils: [gestionnaire, agent comptable]\n"
                          "mis-a-jour: 19/02/2024\n";

std::string problems_of(const std::string& yaml)
{
    const auto metadata = parse_document_metadata("guide.pdf.yaml", yaml);
    REQUIRE_FALSE(metadata);
    CHECK(metadata.error().errcode == document_metadata_invalid);
    return metadata.error().message;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("sidecar metadata reads every field")
    {
        CHECK(metadata_file_name("guide.pdf") == "guide.pdf.yaml");
        const auto metadata = parse_document_metadata("guide.pdf.yaml", valid);
        REQUIRE(metadata);
        CHECK(metadata.value().titre == "Créer un tiers");
        CHECK(metadata.value().adresse == "https://tribu.phm.education.gouv.fr/portal/guide");
        CHECK(metadata.value().domaine == "Tiers");
        CHECK(metadata.value().profils ==
              std::vector<std::string>{"gestionnaire", "agent comptable"});
        CHECK(metadata.value().mis_a_jour == "2024-02-19");
    }

    TEST_CASE("sidecar unknown key gives line and column")
    {
        CHECK(problems_of(valid + "  \nauteur: moi\n") ==
              "guide.pdf.yaml:7:1: champ inconnu « auteur » (champs possibles : titre, adresse, "
              "domaine, profils, mis-a-jour)");
    }

    TEST_CASE("sidecar bad values give the value's line and column")
    {
        const std::string yaml = "titre: Guide\n"
                                 "adresse:   http://tribu.example/guide\n"
                                 "domaine: Cuisine\n"
                                 "profils: []\n"
                                 "mis-a-jour: 2024-02-30\n";
        CHECK(problems_of(yaml) ==
              "guide.pdf.yaml:2:12: adresse « http://tribu.example/guide » invalide : un lien "
              "https:// (celui de Tribu)\n"
              "guide.pdf.yaml:3:10: domaine inconnu « Cuisine » (possibles : Tiers, Budget, "
              "Dépenses, Recettes, Sphère comptable, Transverse)\n"
              "guide.pdf.yaml:4:10: champ « profils » vide : une liste, par exemple "
              "[gestionnaire, agent comptable]\n"
              "guide.pdf.yaml:5:13: date « 2024-02-30 » invalide (attendu AAAA-MM-JJ ou "
              "JJ/MM/AAAA)");
    }

    TEST_CASE("sidecar missing and repeated fields")
    {
        CHECK(problems_of("titre: A\ntitre: B\n") ==
              "guide.pdf.yaml:2:1: champ « titre » en double");
        CHECK(problems_of("adresse: https://tribu.example/guide\n") ==
              "guide.pdf.yaml:1:1: champ « titre » manquant");
        // a title alone is enough (a document added from the salon)
        const auto title_only = parse_document_metadata("guide.pdf.yaml", "titre: Régies\n");
        REQUIRE(title_only);
        CHECK(title_only.value().titre == "Régies");
        CHECK(title_only.value().adresse.empty());
        CHECK(problems_of(valid.substr(0, valid.find("domaine")) + "domaine:\n" +
                          valid.substr(valid.find("profils"))) ==
              "guide.pdf.yaml:3:1: champ « domaine » vide ou qui n'est pas un texte");
    }

    TEST_CASE("sidecar broken yaml gives the parser's position")
    {
        const auto message = problems_of("titre: [non fermé\nadresse: x\n");
        CHECK(message.starts_with("guide.pdf.yaml:"));
        CHECK(message.find("YAML illisible") != std::string::npos);
        CHECK(problems_of("- une\n- liste\n").starts_with("guide.pdf.yaml:1:1: il faut une liste"));
    }
}
