// Documents added from the salon (issue 18): `!kb ajouter` with a document, `!kb documents`,
// `!kb retirer`, on a real state file and a real folder; text and Markdown documents, whose
// extraction needs no generated fixture.
#include "commands/document_shelf.hpp"

#include "commands/builtin.hpp"
#include "commands/registry.hpp"
#include "knowledge/answerer.hpp"
#include "opalebot/state_database.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "support/temp_dir.hpp"

using namespace opalebot;
using namespace opalebot::commands;
using opalebot::testing::TempDir;

namespace {

const std::string regie_guide = "# Ouvrir une régie d'avances\n\n"
                                "1. Ouvrir le module Régies.\n"
                                "2. Choisir « Créer une régie d'avances ».\n"
                                "3. Saisir le plafond de l'avance et le nom du régisseur.\n"
                                "4. Enregistrer.\n\n"
                                "# Clôturer la caisse\n\n"
                                "1. Compter les espèces.\n"
                                "2. Saisir le procès-verbal de caisse.\n";

const std::string fiche = "---\n"
                          "id: tiers-ddfip\n"
                          "titre: Créer le tiers DDFIP\n"
                          "domaine: Tiers\n"
                          "mots-cles: [DDFIP]\n"
                          "profils: [gestionnaire]\n"
                          "sources:\n"
                          "  - titre: Pas à pas\n"
                          "    ressource: Tribu\n"
                          "mis-a-jour: 2024-02-19\n"
                          "---\n\n"
                          "Le tiers DDFIP se crée une seule fois dans le module Tiers.\n";

struct Salon {
    TempDir dir;
    StateDatabase state{(dir.path() / "etat.sqlite").string()};
    DocumentShelf shelf{state, dir.path() / "documents-salon"};
    knowledge::Answerer answerer{[this] {
        dir.write("tiers-ddfip.md", fiche);
        return load_served_base(dir.path(), shelf.folder());
    }()};
    Registry registry;

    Salon() { add_knowledge_commands(registry, answerer, dir.path(), nullptr, nullptr, &shelf); }

    std::string send(const std::string& body, std::optional<Attachment> file = std::nullopt,
                     Role role = Role::admin)
    {
        const auto reply = registry.dispatch(
            Message{"@admin:tchap.gouv.fr", "!salon:tchap.gouv.fr", body, role, std::move(file)});
        REQUIRE(reply.has_value());
        return reply->markdown;
    }
};

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("kb ajouter stores a document and indexes it at once")
    {
        Salon salon;
        const std::string question = "comment ouvrir une régie d'avances ?";
        CHECK(salon.answerer.ask(question).kind == knowledge::Answer::Kind::unknown);
        const auto added =
            salon.send("!kb ajouter Pas-à-pas des régies", Attachment{"regies.md", regie_guide});
        INFO(added);
        CHECK(contains(added, "ajouté : 2 passages"));
        CHECK(contains(added, "Ouvrir une régie d"));
        CHECK(std::filesystem::exists(salon.shelf.folder() / "regies.md"));
        CHECK(std::filesystem::exists(salon.shelf.folder() / "regies.md.yaml"));
        const auto answer = salon.answerer.ask(question);
        CHECK(answer.kind == knowledge::Answer::Kind::entry);
        REQUIRE(answer.source.has_value());
        CHECK(answer.source->document == "regies.md");
        CHECK(contains(answer.text, "Source : Pas\\-à\\-pas des régies"));

        const auto listed = salon.send("!kb documents");
        CHECK(contains(listed, "`regies.md`"));
        CHECK(contains(listed, "2 passages"));
        CHECK(contains(listed, "ajouté par @admin:tchap.gouv.fr le "));

        // a restart reads the shelf again
        knowledge::Answerer restarted{load_served_base(salon.dir.path(), salon.shelf.folder())};
        CHECK(restarted.ask(question).source.has_value());
        // and so does !kb recharger
        CHECK(contains(salon.send("!kb recharger"), "1 documents"));
        CHECK(salon.answerer.ask(question).source.has_value());
    }

    TEST_CASE("kb ajouter refuses what it cannot read and writes nothing")
    {
        Salon salon;
        CHECK(contains(salon.send("!kb ajouter"), "avec la légende `!kb ajouter`"));
        CHECK(contains(salon.send("!kb ajouter", Attachment{"notes.exe", "MZ"}),
                       "Document refusé : format non pris en charge"));
        CHECK(contains(salon.send("!kb ajouter", Attachment{"vide.txt", ""}), "Document refusé"));
        CHECK(contains(salon.send("!kb ajouter", Attachment{"faux.pdf", "pas un PDF du tout"}),
                       "Document refusé"));
        CHECK(contains(salon.send("!kb ajouter", Attachment{"../../etc/passwd.txt", "racine"}),
                       "ajouté")); // reduced to its last component, inside the shelf
        CHECK(std::filesystem::exists(salon.shelf.folder() / "passwd.txt"));
        CHECK_FALSE(std::filesystem::exists(salon.dir.path() / "etc"));
        CHECK(contains(salon.send("!kb ajouter", Attachment{".cache.txt", "texte"}),
                       "nom de fichier invalide"));
        std::size_t files = 0;
        for ([[maybe_unused]] const auto& item :
             std::filesystem::directory_iterator(salon.shelf.folder()))
            ++files;
        CHECK(files == 1); // no temporary file left behind
        // members may not add
        CHECK(
            contains(salon.send("!kb ajouter", Attachment{"regies.md", regie_guide}, Role::member),
                     "administrateur"));
    }

    TEST_CASE("kb retirer removes a salon document and never a curated file")
    {
        Salon salon;
        salon.send("!kb ajouter", Attachment{"regies.md", regie_guide});
        CHECK(contains(salon.send("!kb retirer"), "Indiquez le fichier"));
        CHECK(contains(salon.send("!kb retirer tiers-ddfip.md"), "Aucun document ajouté"));
        CHECK(std::filesystem::exists(salon.dir.path() / "tiers-ddfip.md"));
        CHECK(contains(salon.send("!kb retirer regies.md"), "retiré"));
        CHECK_FALSE(std::filesystem::exists(salon.shelf.folder() / "regies.md"));
        CHECK(salon.answerer.documents().empty());
        CHECK(salon.answerer.ask("comment ouvrir une régie d'avances ?").kind ==
              knowledge::Answer::Kind::unknown);
        CHECK(salon.shelf.list().value().empty());
        CHECK(contains(salon.send("!kb documents"), "Aucun document"));
    }
}
