// The document reader (issue 18), format by format, on documents written at test time.
#include "knowledge/document.hpp"
#include "knowledge/passage.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/document_fixtures.hpp"

using namespace opalebot::knowledge;
using opalebot::testing::block_index;
using opalebot::testing::block_with;
using opalebot::testing::read_fixture;

namespace {

std::vector<std::string> numbered_texts(const Document& document)
{
    std::vector<std::string> texts;
    for (const auto& block : document.blocks)
        if (block.kind == Block::Kind::list_item && block.numbered)
            texts.push_back(std::to_string(block.number) + " " + block.text);
    return texts;
}

void check_document(const Document& document, DocumentFormat format, int pages,
                    const std::string& title)
{
    CHECK(document.format == format);
    CHECK(document.page_count == pages);
    CHECK(document.title == title);
}

/// The block holding `part` is a heading of `level` on `page`.
void check_heading(const Document& document, std::string_view part, int level, int page)
{
    const auto& heading = block_with(document, part);
    CHECK(heading.kind == Block::Kind::heading);
    CHECK(heading.level == level);
    CHECK(heading.page == page);
}

/// The table row holding `part`: its cells and the section it sits in.
void check_row(const Document& document, std::string_view part,
               const std::vector<std::string>& cells, const std::string& section = {})
{
    const auto& row = block_with(document, part);
    CHECK(row.kind == Block::Kind::table_row);
    CHECK(row.cells == cells);
    if (!section.empty())
        CHECK(row.section == section);
}

Document read_text(std::string_view text, std::string_view name)
{
    auto document = extract_document(text, name);
    REQUIRE(document);
    return std::move(document).value();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("pdf headings by size and accents read by page")
    {
        const auto pdf = read_fixture("guide.pdf");
        check_document(pdf, DocumentFormat::pdf, 3, "Créer un tiers fournisseur");
        check_heading(pdf, "Créer un tiers", 1, 1);
        check_heading(pdf, "Points de vigilance", 2, 2);
        CHECK(block_with(pdf, "Un IBAN").section == "Points de vigilance");
        CHECK(block_with(pdf, "identité du créancier").kind == Block::Kind::paragraph);
        CHECK(pdf.warnings.empty());
    }

    TEST_CASE("pdf ligatures become plain letters")
    {
        const auto pdf = read_fixture("guide.pdf");
        const auto& block = block_with(pdf, "chaque nuit");
        CHECK(block.text.find("Le fichier des tiers et le flux vers Chorus") != std::string::npos);
        CHECK(block.text.find("\uFB01") == std::string::npos);
        CHECK(block.text.find("\uFB02") == std::string::npos);
    }

    TEST_CASE("pdf numbered steps and bullets at line start")
    {
        const auto pdf = read_fixture("guide.pdf");
        CHECK(
            numbered_texts(pdf) ==
            std::vector<std::string>{
                "1 Ouvrir le menu Tiers puis Créer.", "2 Saisir le SIRET et la raison sociale.",
                "3 Renseigner l’adresse de facturation. et celle de livraison quand elle diffère.",
                "4 Ajouter le RIB et le faire valider par l’agent comptable.",
                "5 Enregistrer la fiche."});
        CHECK(block_with(pdf, "Enregistrer la fiche").page == 2);
        const auto& bullet = block_with(pdf, "Un tiers en doublon");
        CHECK(bullet.kind == Block::Kind::list_item);
        CHECK_FALSE(bullet.numbered);
        CHECK(bullet.text == "Un tiers en doublon est refusé.");
        CHECK(block_index(pdf, "Le tiers apparaît") > block_index(pdf, "Enregistrer la fiche"));
        // the page numbers at the foot of the pages are not text
        for (const auto& block : pdf.blocks)
            CHECK(block.text != "1");
    }

    TEST_CASE("pdf two-column page reads column by column")
    {
        const auto pdf = read_fixture("guide.pdf");
        const auto& left = block_with(pdf, "Colonne gauche");
        CHECK(left.text ==
              "Colonne gauche : premier alinéa qui continue sur cette ligne et finit ici.");
        CHECK(block_with(pdf, "Colonne droite").text ==
              "Colonne droite : second alinéa qui continue aussi et finit là.");
        CHECK(block_index(pdf, "Colonne gauche") < block_index(pdf, "Colonne droite"));
        CHECK(left.page == 3);
        CHECK(left.section == "Deux colonnes");
    }

    TEST_CASE("pdf list of steps over a page break stays in one passage")
    {
        const auto passages = split_passages(read_fixture("guide.pdf"));
        REQUIRE(passages.size() == 3);
        const auto& steps = passages[0];
        REQUIRE(steps.heading);
        CHECK(*steps.heading == "Créer un tiers fournisseur");
        CHECK(steps.page == 1);
        CHECK(steps.last_page == 2);
        REQUIRE(steps.steps.size() == 5);
        CHECK(steps.steps[4] == "Enregistrer la fiche.");
        CHECK(steps.text.find("5. Enregistrer la fiche.") != std::string::npos);
        CHECK(*passages[1].heading == "Points de vigilance");
        CHECK(passages[1].page == 2);
        CHECK(*passages[2].heading == "Deux colonnes");
        CHECK(passages[2].page == 3);
    }

    TEST_CASE("odt headings lists and table")
    {
        const auto odt = read_fixture("recette.odt");
        check_document(odt, DocumentFormat::odt, 0, "Saisir une recette au comptant");
        check_heading(odt, "Saisir une recette", 1, 0);
        check_heading(odt, "Modes de paiement", 2, 0);
        // two spaces written as <text:s/> come out as one
        CHECK(block_with(odt, "La régie").text ==
              "La régie encaisse le paiement et délivre une quittance.");
        CHECK(numbered_texts(odt) == std::vector<std::string>{"1 Ouvrir la régie.",
                                                              "2 Saisir le montant.",
                                                              "3 Éditer la quittance."});
        const auto& nested = block_with(odt, "Vérifier le mode");
        CHECK(nested.kind == Block::Kind::list_item);
        CHECK(nested.level == 2);
        CHECK_FALSE(nested.numbered);
        const auto& cash = block_with(odt, "Carte bancaire");
        CHECK(cash.kind == Block::Kind::list_item);
        CHECK_FALSE(cash.numbered);
        check_row(odt, "300 €", {"Espèces", "300 €"}, "Modes de paiement");
    }

    TEST_CASE("odp slides titles lists and notes")
    {
        const auto odp = read_fixture("budget.odp");
        check_document(odp, DocumentFormat::odp, 3, "Le budget en mode AE/CP");
        check_heading(odp, "Le budget en mode", 1, 1);
        // the title frame comes after the content in the file, and is read first
        CHECK(block_index(odp, "Le budget en mode") < block_index(odp, "Autorisations"));
        const auto& note = block_with(odp, "Rappeler la différence");
        CHECK(note.in_notes);
        CHECK(note.page == 1);
        CHECK_FALSE(block_with(odp, "Autorisations").in_notes);
        CHECK(numbered_texts(odp) ==
              std::vector<std::string>{"1 Ouvrir le module Budget.", "2 Saisir les AE.",
                                       "3 Saisir les CP.", "4 Transmettre au CA."});
        CHECK(block_with(odp, "Saisir les CP").section == "Saisir le budget (suite)");
        CHECK(block_with(odp, "Saisir les CP").page == 3);
    }

    TEST_CASE("odp steps continued on the next slide stay in one passage")
    {
        const auto passages = split_passages(read_fixture("budget.odp"));
        REQUIRE(passages.size() == 2);
        CHECK(*passages[0].heading == "Le budget en mode AE/CP");
        CHECK(passages[0].text.find("Rappeler la différence") != std::string::npos);
        CHECK(*passages[1].heading == "Saisir le budget");
        CHECK(passages[1].page == 2);
        CHECK(passages[1].last_page == 3);
        CHECK(passages[1].steps == std::vector<std::string>{"Ouvrir le module Budget.",
                                                            "Saisir les AE.", "Saisir les CP.",
                                                            "Transmettre au CA."});
    }

    TEST_CASE("docx heading styles numbering and table")
    {
        const auto docx = read_fixture("prelevement.docx");
        check_document(docx, DocumentFormat::docx, 0, "Mettre en place le prélèvement");
        check_heading(docx, "Mettre en place", 1, 0);
        check_heading(docx, "Rejets de prélèvement", 2, 0); // style "Titre 2"
        CHECK(numbered_texts(docx) == std::vector<std::string>{"1 Recueillir le mandat SEPA signé.",
                                                               "2 Saisir l’IBAN du payeur.",
                                                               "3 Activer l’échéancier."});
        const auto& bullet = block_with(docx, "Opposition du payeur");
        CHECK(bullet.kind == Block::Kind::list_item);
        CHECK_FALSE(bullet.numbered);
        CHECK(block_with(docx, "part le 5").kind == Block::Kind::paragraph);
        check_row(docx, "AC04", {"Compte clôturé", "AC04"}, "Rejets de prélèvement");
    }

    TEST_CASE("pptx slides in presentation order with notes and tables")
    {
        const auto pptx = read_fixture("engagement.pptx");
        check_document(pptx, DocumentFormat::pptx, 3, "Formation op@le");
        // slide3.xml is the second slide of the presentation's list
        check_heading(pptx, "Points de vigilance", 1, 2);
        CHECK(block_with(pptx, "Saisir un engagement").page == 3);
        CHECK(numbered_texts(pptx) == std::vector<std::string>{"1 Ouvrir Dépenses puis EJ.",
                                                               "2 Choisir le tiers.",
                                                               "3 Valider l’EJ."});
        const auto& note = block_with(pptx, "Insister sur");
        CHECK(note.in_notes);
        CHECK(note.page == 3);
        CHECK(note.section == "Saisir un engagement juridique");
        check_row(pptx, "Devis", {"Devis", "Oui"});
        CHECK(block_with(pptx, "Académie d’Amiens").kind == Block::Kind::paragraph);
        const auto passages = split_passages(pptx);
        REQUIRE(passages.size() == 3);
        CHECK(passages[2].steps.size() == 3);
    }

    TEST_CASE("html headings nested lists and table")
    {
        const auto html = read_fixture("page.html");
        check_document(html, DocumentFormat::html, 0, "Créer une régie");
        check_heading(html, "Créer une régie", 1, 0);
        CHECK(block_with(html, "créée par").text == "La régie est créée par arrêté.");
        CHECK(numbered_texts(html) == std::vector<std::string>{"1 Prendre l’arrêté.",
                                                               "2 Nommer le régisseur.",
                                                               "3 Ouvrir le compte DFT."});
        const auto& deputy = block_with(html, "Suppléant");
        CHECK(deputy.level == 2);
        CHECK_FALSE(deputy.numbered);
        check_row(html, "3 000", {"Recettes", "3 000 €"}, "Plafonds");
        const auto scripted = read_text("<html><head><title>T</title><script>var x = 1;</script>"
                                        "</head><body><p>Texte</p><style>p{}</style></body></html>",
                                        "page.htm");
        REQUIRE(scripted.blocks.size() == 1);
        CHECK(scripted.blocks[0].text == "Texte");
        CHECK(scripted.title == "T");
        const auto ordered =
            read_text("<ol start=\"4\"><li>Quatre</li><li>Cinq</li></ol>", "a.html");
        CHECK(numbered_texts(ordered) == std::vector<std::string>{"4 Quatre", "5 Cinq"});
    }

    TEST_CASE("markdown headings and lists through cmark")
    {
        const auto md = read_fixture("fiche.md");
        check_document(md, DocumentFormat::markdown, 0, "Clôturer l’exercice");
        CHECK(numbered_texts(md) == std::vector<std::string>{"1 Liquider les DP.",
                                                             "2 Émettre les titres.",
                                                             "3 Arrêter la caisse."});
        CHECK(block_with(md, "Vérifier les restes").level == 2);
        CHECK(block_with(md, "Ensuite").level == 2);
        const auto from_seven = read_text("7. Sept\n8. Huit\n", "liste.markdown");
        CHECK(numbered_texts(from_seven) == std::vector<std::string>{"7 Sept", "8 Huit"});
    }

    TEST_CASE("text steps bullets and windows-1252")
    {
        const auto text = read_fixture("notes.txt");
        CHECK(text.format == DocumentFormat::text);
        CHECK(numbered_texts(text) ==
              std::vector<std::string>{"1 Télécharger le relevé DFT.",
                                       "2 Pointer les écritures de la période.",
                                       "3 Justifier les écarts."});
        CHECK(block_with(text, "Fin.").kind == Block::Kind::paragraph);
        const auto bullets =
            read_text("\xE2\x80\xA2 point un\n- point deux\nÉtape 3 : fin\n1.5 million\n", "a.txt");
        REQUIRE(bullets.blocks.size() == 4);
        CHECK(bullets.blocks[0].text == "point un");
        CHECK(bullets.blocks[1].text == "point deux");
        CHECK(bullets.blocks[2].number == 3);
        CHECK(bullets.blocks[2].text == "fin");
        CHECK(bullets.blocks[3].kind == Block::Kind::paragraph);
        // "Dépense réglée", as a French Windows editor writes it
        const auto latin = read_text("D\xE9pense r\xE9gl\xE9"
                                     "e \x80",
                                     "ancien.txt");
        REQUIRE(latin.blocks.size() == 1);
        CHECK(latin.blocks[0].text == "Dépense réglée €");
        const auto spaces = read_text("a\xC2\xA0:\tb\xEF\xAC\x81n  \xE2\x80\x8B", "a.txt");
        CHECK(spaces.blocks[0].text == "a : bfin");
    }

    TEST_CASE("format comes from the content before the name")
    {
        CHECK(format_from_name("Guide.PDF") == DocumentFormat::pdf);
        CHECK(format_from_name("dossier.v2/notes") == std::nullopt);
        CHECK(format_from_name("a.markdown") == DocumentFormat::markdown);
        const auto bytes = opalebot::testing::document_fixture("recette.odt");
        const auto renamed = extract_document(bytes, "recette.txt");
        REQUIRE(renamed);
        CHECK(renamed.value().format == DocumentFormat::odt);
    }
}
