// Knowledge-base benchmark: builds a synthetic base of 10,000 entries and measures the index
// build time and the latency of 1,000 varied questions (issue #2 targets on one core: build
// <= 2 s, p50 <= 300 us, p99 <= 2 ms). Prints figures; asserts nothing.
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_figures.hpp"

using namespace opalebot::knowledge;
using opalebot::bench::peak_rss_kib;
using opalebot::bench::percentile;
using Clock = std::chrono::steady_clock;

namespace {

/// The shipped base's own words plus made-up rarer ones: a realistic, long-tailed vocabulary.
std::vector<std::string> vocabulary(const KnowledgeBase& base)
{
    std::vector<std::string> words;
    for (const auto& e : base.entries) {
        std::istringstream text{e.titre + ' ' + e.body_text};
        for (std::string w; text >> w;)
            if (w.size() > 3 && std::none_of(w.begin(), w.end(), [](char c) {
                    return std::ispunct(static_cast<unsigned char>(c)) != 0;
                }))
                words.push_back(w);
    }
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    const std::vector<std::string> syllables{"ba", "co", "de",   "fi",   "ga", "lo",
                                             "mu", "ne", "pa",   "ri",   "sa", "te",
                                             "vu", "ze", "tion", "ment", "eur"};
    std::mt19937 rng{7};
    for (int i = 0; i < 20000; ++i) {
        std::string w;
        const auto n = 2 + rng() % 3;
        for (unsigned k = 0; k < n; ++k)
            w += syllables[rng() % syllables.size()];
        words.push_back(w);
    }
    std::shuffle(words.begin(), words.end(), rng);
    return words;
}

class TextMaker {
public:
    explicit TextMaker(std::vector<std::string> words) : words_(std::move(words))
    {
        std::vector<double> weights(words_.size());
        for (std::size_t r = 0; r < weights.size(); ++r)
            weights[r] = 1.0 / static_cast<double>(r + 1); // Zipf: a few words are everywhere
        zipf_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
    }
    std::string words(std::size_t n)
    {
        std::string text;
        for (std::size_t i = 0; i < n; ++i)
            text += (i == 0 ? "" : " ") + words_[zipf_(rng_)];
        return text;
    }
    std::mt19937& rng() { return rng_; }

private:
    std::vector<std::string> words_;
    std::discrete_distribution<std::size_t> zipf_;
    std::mt19937 rng_{42};
};

} // namespace

int main()
{
    auto shipped = load_knowledge_base(OPALEBOT_KB_DIR);
    TextMaker maker{vocabulary(shipped)};

    constexpr std::size_t entry_count = 10'000;
    KnowledgeBase base;
    base.glossary = shipped.glossary;
    base.synonyms = shipped.synonyms;
    for (std::size_t i = 0; i < entry_count; ++i) {
        Entry e;
        e.id = "fiche-" + std::to_string(i);
        e.titre = maker.words(6);
        for (int k = 0; k < 12; ++k)
            e.mots_cles.push_back(maker.words(1 + maker.rng()() % 2));
        e.domaine = "Transverse";
        e.profils = {"gestionnaire"};
        e.sources = {{"Source synthétique", "", "banc d'essai"}};
        e.mis_a_jour = "2024-02-19";
        e.body = maker.words(150);
        e.body_text = e.body;
        base.entries.push_back(std::move(e));
    }

    // 1,000 varied questions: parts of titles, titles with typos and chat around them,
    // keyword queries, random words, and the shipped entries' own questions.
    std::vector<std::string> questions;
    auto& rng = maker.rng();
    for (int i = 0; i < 1000; ++i) {
        const auto& entry = base.entries[rng() % entry_count];
        switch (i % 5) {
        case 0:
            questions.push_back("Comment " + entry.titre + " ?");
            break;
        case 1: {
            auto q =
                "bonjour, je cherche " + entry.titre.substr(0, entry.titre.size() / 2) + " svp";
            q[q.size() / 2] = 'x'; // a typo
            questions.push_back(q);
            break;
        }
        case 2:
            questions.push_back(entry.mots_cles[0] + " " + entry.mots_cles[1]);
            break;
        case 3:
            questions.push_back(maker.words(4 + rng() % 8));
            break;
        default:
            questions.push_back("Où trouver " +
                                shipped.entries[rng() % shipped.entries.size()].titre + " ?");
            break;
        }
    }

    const auto build_start = Clock::now();
    Answerer answerer{std::move(base)};
    const std::chrono::duration<double> build = Clock::now() - build_start;

    for (int i = 0; i < 50; ++i) // warm-up
        (void)answerer.ask(questions[static_cast<std::size_t>(i)]);
    std::vector<double> latencies_us;
    int answered = 0;
    for (const auto& q : questions) {
        const auto start = Clock::now();
        const auto answer = answerer.ask(q);
        latencies_us.push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        answered += answer.kind == Answer::Kind::entry ? 1 : 0;
    }

    std::printf("kb_bench: %zu entries, %zu questions (%d answered)\n", entry_count,
                questions.size(), answered);
    std::printf("index build: %.2f s (target <= 2 s)\n", build.count());
    std::printf(
        "query latency: p50 %.0f us (target <= 300), p99 %.0f us (target <= 2000), max %.0f us\n",
        percentile(latencies_us, 0.50), percentile(latencies_us, 0.99),
        percentile(latencies_us, 1.0));
    opalebot::bench::print_by_kind(latencies_us, 5);
    std::printf("peak RSS: %.1f MiB\n", static_cast<double>(peak_rss_kib()) / 1024.0);
    return 0;
}
