#include "bot/markdown.hpp"
#include "bot/sync_loop.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>

using nlohmann::json;
using opalebot::bot::fit_in_event;
using opalebot::bot::notice_content;

namespace {

/// Synapse refuses an event whose JSON is over 65,536 bytes; the envelope (sender, room id,
/// signatures…) takes some too.
constexpr std::size_t synapse_limit = 65'536;

bool ends_with_note(const std::string& markdown)
{
    return markdown.find("… (suite tronquée : ") != std::string::npos &&
           markdown.ends_with(" caractères de plus)");
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("every reply fits in one event of the homeserver")
    {
        // issue 15, item 5: each of these was refused (413) and dropped without a word.
        std::string paragraphs;
        for (int i = 0; paragraphs.size() < 300'000; ++i)
            paragraphs += "- rappel " + std::to_string(i) + " : **penser** au `kit` <b>&</b>\n\n";
        const std::string one_line(4'900'000, 'E'); // an EPLE whose name is 4.9 MB
        const std::string escaped(100'000, '<');    // &lt; in HTML
        const std::string controls(60'000, '\x01'); // \u0001 in JSON, six times longer
        std::string french;
        for (int i = 0; i < 100'000; ++i)
            french += "é";
        for (const std::string* markdown : std::initializer_list<const std::string*>{
                 &paragraphs, &one_line, &escaped, &controls, &french}) {
            const auto content = notice_content(*markdown, {"@marie:hs.test"}, "$root", "$q");
            CHECK(content.size() < synapse_limit - 8'000);
            const auto parsed = json::parse(content);
            const auto body = parsed.at("body").get<std::string>();
            CHECK(body.find("suite tronquée") != std::string::npos);
            CHECK(parsed.at("m.relates_to").at("event_id") == "$root");
        }
    }

    TEST_CASE("fit_in_event keeps a short reply and cuts a long one at a paragraph")
    {
        const std::string short_reply = "**Bonjour** : voici la fiche `kit`.\n\n- un\n- deux";
        CHECK(fit_in_event(short_reply) == short_reply);

        std::string long_reply;
        for (int i = 0; i < 2'000; ++i)
            long_reply += "Paragraphe " + std::to_string(i) + " : du texte, encore du texte.\n\n";
        const auto cut = fit_in_event(long_reply, 10'000);
        REQUIRE(ends_with_note(cut));
        CHECK(cut.size() < 10'000);
        const auto kept = cut.substr(0, cut.find("\n\n… (suite"));
        CHECK(long_reply.starts_with(kept + "\n\n")); // a whole number of paragraphs
        const auto left = long_reply.size() - kept.size();
        CHECK(cut.ends_with("(suite tronquée : " + std::to_string(left) + " caractères de plus)"));
        CHECK(opalebot::bot::markdown_to_text(cut).size() < 10'000);
    }

    TEST_CASE("fit_in_event closes a code block it cuts and never splits a character")
    {
        const std::string code =
            "```\n" + std::string(30'000, 'x') + "\n" + std::string(30'000, 'y') + "\n```";
        const auto cut = fit_in_event(code, 20'000);
        REQUIRE(ends_with_note(cut));
        CHECK(cut.find("\n```\n\n… (suite") != std::string::npos);
        CHECK(opalebot::bot::markdown_to_html(cut).find("suite tronquée") != std::string::npos);

        std::string accents;
        for (int i = 0; i < 30'000; ++i)
            accents += "é";
        const auto cut_accents = fit_in_event(accents, 10'000);
        REQUIRE(ends_with_note(cut_accents));
        const auto kept = cut_accents.substr(0, cut_accents.find("\n\n…"));
        CHECK(kept.size() % 2 == 0); // é is two bytes: whole characters only
        CHECK(cut_accents.ends_with(std::to_string(30'000 - kept.size() / 2) +
                                    " caractères de plus)"));
    }
}
