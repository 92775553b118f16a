#include "knowledge/text.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {
using Words = std::vector<std::string>;
} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("fold removes accents and case and reads op@le")
    {
        CHECK(fold("Pré-SAS Créé À L’ÉTÉ") == "pre-sas cree a l'ete");
        CHECK(fold("Op@le et m@gistère") == "opale et magistere");
        CHECK(fold("Œuvre cœur") == "oeuvre coeur");
    }

    TEST_CASE("fold removes every French accent")
    {
        CHECK(fold("àâäéèêëîïôöùûüÿç") == "aaaeeeeiioouuuyc");
        CHECK(fold("ÀÂÄÉÈÊËÎÏÔÖÙÛÜŸÇ") == "aaaeeeeiioouuuyc");
        CHECK(fold("Dépenses Sphère comptable") == "depenses sphere comptable");
        CHECK(fold("DGFiP 2024") == "dgfip 2024");
    }

    TEST_CASE("fold splits ligatures")
    {
        CHECK(fold("Æsthète") == "aesthete");
        CHECK(fold("nœud ŒIL") == "noeud oeil");
        CHECK(fold("Straße") == "strasse");
    }

    TEST_CASE("fold makes typographic apostrophes plain")
    {
        CHECK(fold("l’intégration") == "l'integration");
        CHECK(fold("d‘un") == "d'un");
        CHECK(fold("qu\xCA\xBCil") == "qu'il"); // U+02BC modifier letter apostrophe
        CHECK(fold("l'état") == "l'etat");
    }

    TEST_CASE("fold reads an at sign inside or at the edge of a word as a")
    {
        CHECK(fold("op@le") == "opale");
        CHECK(fold("OP@LE") == "opale");
        CHECK(fold("m@gistère") == "magistere");
        CHECK(fold("@loa") == "aloa");
        CHECK(fold("OPER@") == "opera");
        CHECK(fold("a @ b") == "a @ b"); // alone, it is no letter
    }

    TEST_CASE("fold turns emoji and symbols into spaces")
    {
        CHECK(fold("merci 👍") == "merci  ");
        CHECK(fold("a👍b") == "a b");
        CHECK(fold("a😀😀b") == "a  b");
        CHECK(fold("10 €") == "10  ");
        CHECK(fold("«tiers»") == " tiers ");
    }

    TEST_CASE("fold turns invalid UTF-8 into spaces without crashing")
    {
        CHECK(fold("\xFF") == " ");
        CHECK(fold("a\xFF"
                   "b") == "a b");
        CHECK(fold("\x80") == " ");               // a lone continuation byte
        CHECK(fold("a\xC3(b") == "a (b");         // a lead byte without its continuation
        CHECK(fold("tiers\xE2\x82") == "tiers "); // a sequence cut at the end of the text
        CHECK(fold("") == "");
        std::string all_bytes;
        for (int b = 0; b < 256; ++b)
            all_bytes += static_cast<char>(b);
        const auto folded = fold(all_bytes);
        CHECK(folded.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos);
        for (const char c : folded)
            CHECK(static_cast<unsigned char>(c) < 0x80);
    }

    TEST_CASE("split_words removes elisions")
    {
        CHECK(split_words("l'integration") == Words{"integration"});
        CHECK(split_words("d'un tiers") == Words{"un", "tiers"});
        CHECK(split_words("qu'il") == Words{"il"});
        CHECK(split_words("jusqu'au bout") == Words{"au", "bout"});
        CHECK(split_words("lorsqu'on") == Words{"on"});
        CHECK(split_words(fold("l’état")) == Words{"etat"});
    }

    TEST_CASE("split_words keeps both halves of aujourd'hui")
    {
        CHECK(split_words("aujourd'hui") == Words{"aujourd", "hui"});
    }

    TEST_CASE("split_words yields the parts and the joined form of a hyphenated word")
    {
        CHECK(split_words("pre-sas") == Words{"pre", "sas", "presas"});
        CHECK(split_words(fold("Pré-SAS")) == Words{"pre", "sas", "presas"});
        CHECK(split_words("demi-pension") == Words{"demi", "pension", "demipension"});
    }

    TEST_CASE("split_words does not join a verb and its pronoun")
    {
        CHECK(split_words("dois-je") == Words{"dois", "je"});
        CHECK(split_words("est-ce") == Words{"est", "ce"});
        CHECK(split_words("peut-on payer") == Words{"peut", "on", "payer"});
    }

    TEST_CASE("split_words splits on punctuation and keeps numbers")
    {
        CHECK(split_words("tiers, ddfip ; mf2 (2024) !") == Words{"tiers", "ddfip", "mf2", "2024"});
        CHECK(split_words("sas- -pre") == Words{"sas", "pre"}); // a hyphen at an edge joins nothing
        CHECK(split_words("") == Words{});
        CHECK(split_words("  ... ?! ") == Words{});
    }

    TEST_CASE("is_stop_word knows function words and chat fillers")
    {
        for (const std::string word : {"le", "la", "de", "comment", "bonjour", "merci", "svp", "je",
                                       "est", "voudrait", "pourriez", "devrait", "souhaiterais"})
            CHECK_MESSAGE(is_stop_word(word), word);
        for (const std::string word :
             {"tiers", "facture", "ddfip", "ej", "engagement", "prelevement"})
            CHECK_FALSE_MESSAGE(is_stop_word(word), word);
        CHECK_FALSE(is_stop_word(""));
    }

    TEST_CASE("edit_distance counts insertions deletions and substitutions")
    {
        CHECK(edit_distance("tiers", "tiers", 2) == 0);
        CHECK(edit_distance("tiers", "tier", 2) == 1);
        CHECK(edit_distance("tiers", "tiens", 2) == 1);
        CHECK(edit_distance("prelevment", "prelevement", 2) == 1);
        CHECK(edit_distance("kitten", "sitting", 3) == 3);
        CHECK(edit_distance("", "abc", 3) == 3);
        CHECK(edit_distance("abc", "", 3) == 3);
    }

    TEST_CASE("edit_distance counts a transposition as one edit")
    {
        CHECK(edit_distance("sigel", "sigle", 2) == 1);
        CHECK(edit_distance("fihce", "fiche", 2) == 1);
        CHECK(edit_distance("ab", "ba", 1) == 1);
    }

    TEST_CASE("typing_distance charges a far key twice and a slip once")
    {
        CHECK(typing_distance("revient", "retient", 1) == 2); // v is far from t: another word
        CHECK(typing_distance("salle", "sable", 1) == 2);
        CHECK(typing_distance("prelevenent", "prelevement", 1) == 1); // n beside m
        CHECK(typing_distance("tuers", "tiers", 1) == 1);             // u beside i
        CHECK(typing_distance("facrure", "facture", 1) == 1);         // r beside t
        CHECK(typing_distance("sirenne", "sirene", 1) == 1);          // a letter added
        CHECK(typing_distance("finacier", "financier", 1) == 1);      // a letter left out
        CHECK(typing_distance("fihce", "fiche", 1) == 1);             // swapped
        CHECK(typing_distance("aqtion", "action", 1) == 2);           // q is far from c
        CHECK(typing_distance("comptabe", "comptable", 2) == 1);
    }

    TEST_CASE("edit_distance gives up above its limit")
    {
        CHECK(edit_distance("kitten", "sitting", 1) == 2);
        CHECK(edit_distance("kitten", "sitting", 2) == 3);
        CHECK(edit_distance("a", "abcdef", 2) == 3); // the length alone is too far
        CHECK(edit_distance("abcdef", "uvwxyz", 2) == 3);
        CHECK(edit_distance("abc", "abd", 0) == 1);
        CHECK(edit_distance("abc", "abc", 0) == 0);
    }

    TEST_CASE("escape_markdown makes markup inert")
    {
        CHECK(escape_markdown("*gras*") == "\\*gras\\*");
        CHECK(escape_markdown("[lien](https://x.fr)") == "\\[lien\\]\\(https://x\\.fr\\)");
        CHECK(escape_markdown("`code` _x_ # <b>") == "\\`code\\` \\_x\\_ \\# \\<b\\>");
        CHECK(escape_markdown("a\\b") == "a\\\\b");
        CHECK(escape_markdown("tiers DDFIP") == "tiers DDFIP");
        CHECK(escape_markdown("créé") == "créé");
        CHECK(escape_markdown("") == "");
    }

    TEST_CASE("escape_markdown keeps user text on one line")
    {
        CHECK(escape_markdown("a\nb\r\nc") == "a b  c");
    }

    TEST_CASE("SMS spellings and dropped apostrophes are spelled out")
    {
        using Words = std::vector<std::string>;
        CHECK(split_words("cmt") == Words{"comment"});
        CHECK(split_words("qqn sait pr le pb") ==
              Words{"quelqu", "un", "sait", "pour", "le", "probleme"});
        CHECK(split_words("jai") == Words{"j", "ai"});
        CHECK(split_words("jdois") == Words{"je", "dois"});
        CHECK(split_words("jsp") == Words{"je", "ne", "sais", "pas"});
        // Acronyms of the glossary keep their meaning: AC, DP, TR, SF are not chat.
        CHECK(split_words("ac dp tr sf") == Words{"ac", "dp", "tr", "sf"});
        // A word that starts with j and a vowel is left alone ("jardin", "journal").
        CHECK(split_words("journal") == Words{"journal"});
        // A function word with a vowel left out is restored; a content word is not touched.
        CHECK(split_words("dpuis") == Words{"depuis"});
        CHECK(split_words("etat mandat parc comm") == Words{"etat", "mandat", "parc", "comm"});
        CHECK(split_words("rib") == Words{"rib"});
        CHECK(split_words("marche pa avt tlm") ==
              Words{"marche", "pas", "avant", "tout", "le", "monde"});
    }

    TEST_CASE("durations and ranks are stop words but numbers are not")
    {
        CHECK(is_stop_word("2j"));
        CHECK(is_stop_word("3h"));
        CHECK(is_stop_word("1er"));
        CHECK(is_stop_word("6eme"));
        CHECK_FALSE(is_stop_word("2025"));
        CHECK_FALSE(is_stop_word("fm1"));
        CHECK_FALSE(is_stop_word("sc542"));
    }

    TEST_CASE("chatter words are told apart from topic words")
    {
        CHECK(is_chatter("merci"));
        CHECK(is_chatter("desolee"));
        CHECK(is_chatter("cordialement"));
        CHECK_FALSE(is_chatter("tiers"));
        CHECK_FALSE(is_chatter("prelevement"));
    }
}
