// Issue 18's quality rule: the question sets' answers hold with documents loaded. A passage never
// takes a question a fiche answers, and documents do not make the bot answer out-of-scope
// questions. Documents: the test fixtures (tests/fixtures/documents), pas-à-pas on the base's
// own subjects (a guide, a recette au comptant, prélèvements, an engagement deck, a budget deck).
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

struct Question {
    std::string expected;
    std::string text;
};

std::vector<Question> question_set(const std::string& name)
{
    std::ifstream in{std::string{OPALEBOT_SOURCE_DIR} + "/tests/fixtures/" + name + ".tsv"};
    REQUIRE_MESSAGE(in.good(), "cannot read " << name);
    std::vector<Question> questions;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#')
            continue;
        const auto tab = line.find('\t');
        REQUIRE(tab != std::string::npos);
        questions.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    return questions;
}

KnowledgeBase shipped_base()
{
    return load_knowledge_base(std::string{OPALEBOT_SOURCE_DIR} + "/knowledge/content");
}

KnowledgeBase shipped_base_with_documents()
{
    auto base = shipped_base();
    for (const auto* name :
         {"guide.pdf", "long.pdf", "recette.odt", "budget.odp", "prelevement.docx",
          "engagement.pptx", "page.html", "fiche.md", "notes.txt"}) {
        auto document = load_document(std::string{OPALEBOT_DOCUMENT_FIXTURES} + "/" + name, false);
        REQUIRE_MESSAGE(document, name << ": " << document.error().message);
        base.documents.push_back(std::move(document.value()));
    }
    return base;
}

bool shown(const Answer& answer)
{
    return answer.kind == Answer::Kind::entry || answer.kind == Answer::Kind::probable;
}

} // namespace

TEST_SUITE("kb")
{
    TEST_CASE("question sets keep their fiches with documents loaded and out of scope stays out")
    {
        Answerer fiches_only{shipped_base()};
        Answerer with_documents{shipped_base_with_documents()};
        REQUIRE(with_documents.documents().size() == 9);
        for (const auto* name :
             {"kb-dev", "kb-paraphrases", "kb-train", "kb-train2", "kb-train3"}) {
            int kept = 0;
            int passages_in_scope = 0;
            int passages_out_of_scope = 0;
            int out_of_scope = 0;
            for (const auto& q : question_set(name)) {
                const auto before = fiches_only.ask(q.text);
                const auto after = with_documents.ask(q.text);
                if (shown(before)) {
                    // a passage never takes a question a fiche answers
                    CHECK_MESSAGE(after.entry_id == before.entry_id, q.text);
                    kept += after.entry_id == before.entry_id ? 1 : 0;
                    continue;
                }
                const bool passage = shown(after) && after.source.has_value();
                if (q.expected == "-") {
                    ++out_of_scope;
                    passages_out_of_scope += passage ? 1 : 0;
                    if (passage)
                        std::cout << "  passage on out-of-scope: " << q.text << " -> "
                                  << after.source->document << '\n';
                } else {
                    passages_in_scope += passage ? 1 : 0;
                }
            }
            std::cout << name << " with documents: " << kept
                      << " fiche answers kept, passages answered " << passages_in_scope
                      << " in-scope questions the fiches left, " << passages_out_of_scope << "/"
                      << out_of_scope << " out of scope\n";
            CHECK(passages_out_of_scope <= 1);
        }
    }
}
