// Answer quality on question sets: the shared dev set (the gate) and our own paraphrases.
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

using namespace opalebot::knowledge;

namespace {

struct Question {
    std::string expected; ///< an entry id, or "-" where the bot must abstain
    std::string text;
};

std::vector<Question> read_questions(const std::string& path)
{
    std::ifstream in{path};
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::vector<Question> questions;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#')
            continue;
        const auto tab = line.find('\t');
        REQUIRE_MESSAGE(tab != std::string::npos, "no tab in: " << line);
        questions.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    return questions;
}

Answerer& shipped_answerer()
{
    static Answerer answerer{load_knowledge_base(OPALEBOT_SOURCE_DIR "/knowledge/content")};
    return answerer;
}

struct Figures {
    int in_scope = 0;
    int correct = 0;
    int out_of_scope = 0;
    int wrongly_answered = 0;
    double accuracy() const { return in_scope == 0 ? 0 : 100.0 * correct / in_scope; }
};

Figures evaluate(const std::string& name, const std::vector<Question>& questions)
{
    Figures figures;
    for (const auto& q : questions) {
        const auto answer = shipped_answerer().ask(q.text);
        const auto got = answer.kind == Answer::Kind::entry ? answer.entry_id : "-";
        if (q.expected == "-") {
            ++figures.out_of_scope;
            if (got != "-") {
                ++figures.wrongly_answered;
                std::cout << "  answered out-of-scope: " << q.text << " -> " << got << '\n';
            }
        } else {
            ++figures.in_scope;
            if (got == q.expected)
                ++figures.correct;
            else
                std::cout << "  miss [" << q.expected << "] " << q.text << " -> " << got
                          << " (score " << answer.score << ")\n";
        }
    }
    std::cout << name << ": top-1 " << figures.correct << "/" << figures.in_scope << " ("
              << figures.accuracy() << " %), out-of-scope answered " << figures.wrongly_answered
              << "/" << figures.out_of_scope << '\n';
    return figures;
}

} // namespace

TEST_SUITE("kb")
{
    TEST_CASE("every topic of kb-topics.tsv has its entry")
    {
        std::ifstream in{OPALEBOT_SOURCE_DIR "/tests/fixtures/kb-topics.tsv"};
        REQUIRE(in.good());
        std::set<std::string> ids;
        for (const auto& entry : shipped_answerer().entries())
            ids.insert(entry.id);
        int topics = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.empty() || line[0] == '#')
                continue;
            ++topics;
            const auto id = line.substr(0, line.find('\t'));
            CHECK_MESSAGE(ids.contains(id), "missing entry " << id);
        }
        CHECK(topics >= 31);
    }

    TEST_CASE("dev set: at least 90 percent top-1 and no out-of-scope answer")
    {
        const auto figures =
            evaluate("kb-dev", read_questions(OPALEBOT_SOURCE_DIR "/tests/fixtures/kb-dev.tsv"));
        CHECK(figures.in_scope > 0);
        CHECK(figures.accuracy() >= 90.0);
        CHECK(figures.wrongly_answered == 0);
    }
}

TEST_SUITE("kb")
{
    // Our own paraphrases (typos, no accents, acronyms, chat, near-miss topics), written without
    // looking at the engine: a regression gate for unseen wordings.
    TEST_CASE("paraphrase set: at least 80 percent top-1 and at most one out-of-scope answer")
    {
        const auto figures =
            evaluate("kb-paraphrases",
                     read_questions(OPALEBOT_SOURCE_DIR "/tests/fixtures/kb-paraphrases.tsv"));
        CHECK(figures.in_scope >= 100);
        CHECK(figures.accuracy() >= 80.0);
        CHECK(figures.wrongly_answered <= 1);
    }
}
