// Passages of a document (issue 18): cut at headings, pages and slides, never inside steps.
#include "knowledge/passage.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

struct Blocks {
    Document document;
    std::string section;

    Blocks& heading(const std::string& text, int page = 0)
    {
        section = text;
        return add(Block::Kind::heading, text, page);
    }
    Blocks& paragraph(const std::string& text, int page = 0)
    {
        return add(Block::Kind::paragraph, text, page);
    }
    Blocks& step(int number, const std::string& text, int page = 0, int level = 1)
    {
        add(Block::Kind::list_item, text, page);
        document.blocks.back().numbered = true;
        document.blocks.back().number = number;
        document.blocks.back().level = level;
        return *this;
    }
    Blocks& bullet(const std::string& text, int page = 0, int level = 1)
    {
        add(Block::Kind::list_item, text, page);
        document.blocks.back().level = level;
        return *this;
    }

private:
    Blocks& add(Block::Kind kind, const std::string& text, int page)
    {
        Block block;
        block.kind = kind;
        block.text = text;
        block.page = page;
        block.section = section;
        document.blocks.push_back(block);
        return *this;
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("passages cut at headings and keep the text before the first one")
    {
        Blocks b;
        b.paragraph("Avant-propos").heading("Un").paragraph("texte un").heading("Deux");
        b.paragraph("texte deux").bullet("puce");
        const auto passages = split_passages(b.document);
        REQUIRE(passages.size() == 3);
        CHECK_FALSE(passages[0].heading);
        CHECK(passages[0].text == "Avant-propos");
        CHECK(*passages[1].heading == "Un");
        CHECK(passages[1].text == "texte un");
        CHECK(passages[2].text == "texte deux\n- puce");
        CHECK(passages[2].steps.empty());
    }

    TEST_CASE("passages cut at pages but not inside a list of steps")
    {
        Blocks b;
        b.heading("Procédure", 1).paragraph("intro", 1).step(1, "un", 1).step(2, "deux", 1);
        b.step(3, "trois", 2).bullet("détail", 2, 2).step(4, "quatre", 2).paragraph("après", 2);
        b.paragraph("page trois", 3);
        const auto passages = split_passages(b.document);
        REQUIRE(passages.size() == 2);
        CHECK(passages[0].page == 1);
        CHECK(passages[0].last_page == 2);
        CHECK(passages[0].steps == std::vector<std::string>{"un", "deux", "trois", "quatre"});
        CHECK(passages[0].text == "intro\n1. un\n2. deux\n3. trois\n  - détail\n4. quatre\naprès");
        CHECK(passages[1].page == 3);
        CHECK(*passages[1].heading == "Procédure"); // the heading in force on page 3
    }

    TEST_CASE("a page that opens with a paragraph ends the list of steps")
    {
        Blocks b;
        b.step(1, "un", 1).step(2, "deux", 1).paragraph("autre sujet", 2).step(1, "x", 2);
        const auto passages = split_passages(b.document);
        REQUIRE(passages.size() == 2);
        CHECK(passages[0].steps.size() == 2);
        CHECK(passages[1].steps == std::vector<std::string>{"x"});
    }

    TEST_CASE("steps of a passage are its first numbered list")
    {
        Blocks b;
        b.heading("H").step(1, "a").step(2, "b").paragraph("entre").step(1, "c").step(2, "d");
        const auto passages = split_passages(b.document);
        REQUIRE(passages.size() == 1);
        CHECK(passages[0].steps == std::vector<std::string>{"a", "b"});
        CHECK(passages[0].text == "1. a\n2. b\nentre\n1. c\n2. d");
    }

    TEST_CASE("long passages are cut between blocks but never inside steps")
    {
        Blocks b;
        b.heading("Long");
        for (int i = 1; i <= 6; ++i)
            b.step(i, std::string(30, 'x'));
        b.paragraph(std::string(60, 'y')).paragraph(std::string(60, 'z'));
        PassageOptions small;
        small.max_chars = 50;
        const auto passages = split_passages(b.document, small);
        REQUIRE(passages.size() == 3);
        CHECK(passages[0].steps.size() == 6);
        CHECK(passages[1].text == std::string(60, 'y'));
        CHECK(*passages[2].heading == "Long");
    }

    TEST_CASE("an empty document has no passage")
    {
        CHECK(split_passages(Document{}).empty());
        Blocks b;
        b.heading("Seul titre");
        CHECK(split_passages(b.document).empty());
    }
}
