#include "bot/markdown.hpp"
#include "knowledge/text.hpp"

#include <doctest/doctest.h>

#include <string>

using opalebot::bot::escape_html;
using opalebot::bot::markdown_to_html;
using opalebot::knowledge::escape_markdown;

namespace {

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("markdown_to_html renders emphasis lists and links")
    {
        const auto html = markdown_to_html("**Créer** le *tiers*\n\n- un\n- deux\n\n"
                                           "[la FAQ](https://exemple.fr/faq?a=1&b=2)");
        CHECK(contains(html, "<strong>Créer</strong>"));
        CHECK(contains(html, "<em>tiers</em>"));
        CHECK(contains(html, "<ul>"));
        CHECK(contains(html, "<li>un</li>"));
        CHECK(contains(html, "<a href=\"https://exemple.fr/faq?a=1&amp;b=2\">la FAQ</a>"));
        CHECK(html.back() != '\n');
    }

    TEST_CASE("markdown_to_html never lets escaped user text become a tag")
    {
        const std::string user = "<script>alert('x')</script> & <b>gras</b>";
        const auto html = markdown_to_html("Vous avez demandé : " + escape_markdown(user));
        CHECK_FALSE(contains(html, "<script"));
        CHECK_FALSE(contains(html, "<b>"));
        CHECK(contains(html, "&lt;script&gt;"));
        CHECK(contains(html, "&amp;"));
    }

    TEST_CASE("markdown_to_html never passes raw HTML through")
    {
        for (const std::string raw :
             {"<script>alert(1)</script>", "avant <script>alert(1)</script> après",
              "<img src=x onerror=alert(1)>", "texte <iframe src=\"https://evil.test\"></iframe>",
              "<a href=\"javascript:alert(1)\">clic</a>"}) {
            CAPTURE(raw);
            const auto html = markdown_to_html(raw);
            CHECK_FALSE(contains(html, "<script"));
            CHECK_FALSE(contains(html, "<img"));
            CHECK_FALSE(contains(html, "<iframe"));
            CHECK_FALSE(contains(html, "javascript:"));
        }
    }

    TEST_CASE("markdown_to_html turns images into links")
    {
        const auto html = markdown_to_html("Voir ![le schéma](https://exemple.fr/schema.png) ici");
        CHECK_FALSE(contains(html, "<img"));
        CHECK(contains(html, "<a href=\"https://exemple.fr/schema.png\">le schéma</a>"));
        CHECK(contains(html, "Voir "));
        CHECK(contains(html, " ici"));
    }

    TEST_CASE("markdown_to_html neutralises javascript links and images")
    {
        const auto link = markdown_to_html("[clic](javascript:alert(1))");
        CHECK_FALSE(contains(link, "javascript:"));
        CHECK(contains(link, "clic"));
        const auto image = markdown_to_html("![piège](javascript:alert(1))");
        CHECK_FALSE(contains(image, "javascript:"));
        CHECK_FALSE(contains(image, "<img"));
        const auto data = markdown_to_html("[x](data:text/html;base64,PHNjcmlwdD4=)");
        CHECK_FALSE(contains(data, "data:text/html"));
    }

    TEST_CASE("escape_html escapes the five special characters")
    {
        CHECK(escape_html("<a href=\"x\">l'été & co</a>") ==
              "&lt;a href=&quot;x&quot;&gt;l&#39;été &amp; co&lt;/a&gt;");
        CHECK(escape_html("rien à échapper") == "rien à échapper");
        CHECK(escape_html("") == "");
    }
}
