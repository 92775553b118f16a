#include "bot/markdown.hpp"

#include <doctest/doctest.h>

#include <string>

using opalebot::bot::markdown_to_text;

TEST_SUITE("unit")
{
    TEST_CASE("markdown_to_text removes bold and italic")
    {
        CHECK(markdown_to_text("**gras** et *italique* et __aussi__ _ça_") ==
              "gras et italique et aussi ça");
        CHECK(markdown_to_text("Le `!fiche tiers-ddfip` affiche") ==
              "Le !fiche tiers-ddfip affiche");
    }

    TEST_CASE("markdown_to_text keeps ordered list numbers")
    {
        CHECK(markdown_to_text("1. Ouvrir le module\n2. Cliquer sur **Créer**\n3. Valider\n") ==
              "1. Ouvrir le module\n2. Cliquer sur Créer\n3. Valider");
        CHECK(markdown_to_text("3. troisième\n4. quatrième") == "3. troisième\n4. quatrième");
    }

    TEST_CASE("markdown_to_text keeps bullet list dashes")
    {
        CHECK(markdown_to_text("- un\n- deux\n") == "- un\n- deux");
        CHECK(markdown_to_text("* un\n+ deux") ==
              "- un\n\n- deux"); // two lists: a blank line between
        CHECK(markdown_to_text("- un\n  - sous-point\n- deux") == "- un\n  - sous-point\n- deux");
    }

    TEST_CASE("markdown_to_text keeps the https address of links")
    {
        CHECK(markdown_to_text("Voir [la FAQ](https://exemple.fr/faq?x=1) ici.") ==
              "Voir la FAQ (https://exemple.fr/faq?x=1) ici.");
        CHECK(markdown_to_text("<https://exemple.fr/a>") ==
              "https://exemple.fr/a (https://exemple.fr/a)");
        CHECK(markdown_to_text("Voir [la fiche](assistance-ticket.md).") == "Voir la fiche.");
    }

    TEST_CASE("markdown_to_text puts headings on their own line")
    {
        CHECK(markdown_to_text("## Étapes\nOuvrir le module.") == "Étapes\n\nOuvrir le module.");
        CHECK(markdown_to_text("Intro.\n\n## Étapes\n\n1. Ouvrir") ==
              "Intro.\n\nÉtapes\n\n1. Ouvrir");
        CHECK(markdown_to_text("# Titre") == "Titre");
    }

    TEST_CASE("markdown_to_text separates paragraphs and joins soft breaks")
    {
        CHECK(markdown_to_text("ligne une\nligne deux\n\nparagraphe") ==
              "ligne une ligne deux\n\nparagraphe");
    }

    TEST_CASE("markdown_to_text leaves no trailing blank lines")
    {
        CHECK(markdown_to_text("Texte.\n\n\n\n") == "Texte.");
        CHECK(markdown_to_text("- a\n- b\n\n\n") == "- a\n- b");
        CHECK(markdown_to_text("```\ncode\n```\n") == "code");
        CHECK(markdown_to_text("") == "");
        CHECK(markdown_to_text("\n\n  \n") == "");
    }

    TEST_CASE("markdown_to_text renders a whole answer")
    {
        const std::string answer =
            "**Créer le tiers DDFIP**\n\n"
            "La réponse courte.\n\n"
            "## Étapes\n\n"
            "1. Ouvrir *Tiers*\n"
            "2. Créer\n\n"
            "Source :\n"
            "- [Question écrite](https://questions.assemblee-nationale.fr/q17)\n\n"
            "_Fiche relue le 19/02/2024._";
        CHECK(markdown_to_text(answer) ==
              "Créer le tiers DDFIP\n\n"
              "La réponse courte.\n\n"
              "Étapes\n\n"
              "1. Ouvrir Tiers\n"
              "2. Créer\n\n"
              "Source :\n\n"
              "- Question écrite (https://questions.assemblee-nationale.fr/q17)\n\n"
              "Fiche relue le 19/02/2024.");
    }
}
