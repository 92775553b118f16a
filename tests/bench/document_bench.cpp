// Document benchmark (issue 18): reads a folder of documents as the bot does at start
// (load_documents: extraction and passages), builds the Answerer over the shipped fiches plus
// those documents, then times 1,000 varied questions. Targets on one core, for 200 documents of
// 5,000 pages: indexed in <= 10 s, p50 <= 500 us, p99 <= 3 ms. Prints figures; asserts nothing.
// Usage: tests/bench/document_bench.sh (writes the corpus, then runs this on one core), or
//        build/release/tests/bench/document_bench CORPUS_DIR
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_figures.hpp"
#include <time.h>

using namespace opalebot::knowledge;
using opalebot::bench::peak_rss_kib;
using opalebot::bench::percentile;
using Clock = std::chrono::steady_clock;

namespace {

double peak_rss_mib()
{
    return static_cast<double>(peak_rss_kib()) / 1024.0;
}

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// This thread's CPU time: on a shared machine, the wall clock also counts the other users.
double cpu_seconds()
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

const char* name_of(DocumentFormat format)
{
    switch (format) {
    case DocumentFormat::pdf:
        return "PDF";
    case DocumentFormat::odt:
        return "ODT";
    case DocumentFormat::docx:
        return "DOCX";
    default:
        return "other";
    }
}

/// The words of a passage's text, for keyword questions.
std::vector<std::string> words_of(const std::string& text)
{
    std::vector<std::string> words;
    std::istringstream in{text};
    for (std::string w; in >> w;)
        if (w.size() > 4 && std::none_of(w.begin(), w.end(), [](char c) {
                return std::ispunct(static_cast<unsigned char>(c)) != 0;
            }))
            words.push_back(w);
    return words;
}

/// 1,000 questions, five kinds in turn: a passage's heading asked about, one of its steps with
/// a typo and chat around it, keywords of a passage, a shipped fiche's title, words drawn from
/// anywhere in the corpus (often no answer).
std::vector<std::string> questions_for(const std::vector<LibraryDocument>& documents,
                                       const std::vector<Entry>& fiches)
{
    std::vector<const Passage*> passages;
    for (const auto& document : documents)
        for (const auto& passage : document.passages)
            passages.push_back(&passage);
    std::mt19937 rng{18};
    const auto any_passage = [&]() -> const Passage& { return *passages[rng() % passages.size()]; };
    // One question of a kind, or nothing when the passage drawn has no heading, no steps…
    const auto draw = [&](int kind) -> std::string {
        switch (kind) {
        case 0: {
            const auto& passage = any_passage();
            return passage.heading ? "Comment " + *passage.heading + " ?" : "";
        }
        case 1: {
            const auto& passage = any_passage();
            if (passage.steps.empty())
                return "";
            auto q = "bonjour, je dois " + passage.steps[rng() % passage.steps.size()] + " svp";
            q[q.size() / 2] = 'x'; // a typo
            return q;
        }
        case 2: {
            const auto words = words_of(any_passage().text);
            if (words.size() < 3)
                return "";
            std::string q;
            for (int k = 0; k < 3; ++k)
                q += (k == 0 ? "" : " ") + words[rng() % words.size()];
            return q;
        }
        case 3:
            return "Où trouver " + fiches[rng() % fiches.size()].titre + " ?";
        default: {
            std::string q;
            for (unsigned k = 0; k < 4 + rng() % 6; ++k) {
                const auto words = words_of(any_passage().text);
                if (!words.empty())
                    q += (q.empty() ? "" : " ") + words[rng() % words.size()];
            }
            return q.empty() ? "" : q + " ?";
        }
        }
    };
    std::vector<std::string> questions;
    for (int i = 0; i < 1000; ++i) {
        std::string q;
        while (q.empty())
            q = draw(i % 5);
        questions.push_back(std::move(q));
    }
    return questions;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr,
                     "usage: document_bench CORPUS_DIR (see tests/bench/document_bench.sh)\n");
        return 2;
    }
    const double rss_at_start = peak_rss_mib();

    // 1. Extraction and passages, as the bot reads its documents/ folder.
    std::vector<Diagnostic> problems;
    const auto load_start = Clock::now();
    const double load_cpu_start = cpu_seconds();
    auto documents = load_documents(argv[1], false, problems);
    const double load = seconds_since(load_start);
    const double load_cpu = cpu_seconds() - load_cpu_start;
    const double rss_after_load = peak_rss_mib();

    std::map<DocumentFormat, std::pair<int, int>> by_format; // documents, pages
    std::size_t passage_count = 0;
    std::size_t text_bytes = 0;
    int pages = 0;
    for (const auto& document : documents) {
        auto& [count, format_pages] = by_format[document.format];
        ++count;
        format_pages += document.page_count;
        pages += document.page_count;
        passage_count += document.passages.size();
        for (const auto& passage : document.passages)
            text_bytes += passage.text.size();
    }
    int errors = 0;
    for (const auto& problem : problems)
        if (problem.is_error) {
            ++errors;
            std::fprintf(stderr, "%s: %s\n", problem.file.c_str(), problem.message.c_str());
        }

    // 2. The Answerer over the shipped fiches plus those documents: both indexes.
    auto base = load_knowledge_base(OPALEBOT_KB_DIR);
    const auto questions = questions_for(documents, base.entries);
    const std::size_t fiche_count = base.entries.size();
    base.documents = std::move(documents);
    const auto build_start = Clock::now();
    const double build_cpu_start = cpu_seconds();
    Answerer answerer{std::move(base)};
    const double build = seconds_since(build_start);
    const double build_cpu = cpu_seconds() - build_cpu_start;
    const double rss_after_build = peak_rss_mib();

    // 3. The questions.
    for (std::size_t i = 0; i < 50; ++i) // warm-up
        (void)answerer.ask(questions[i]);
    std::vector<double> latencies_us;
    std::vector<double> cpu_us;
    int by_fiche = 0;
    int by_passage = 0;
    for (const auto& q : questions) {
        const auto start = Clock::now();
        const double cpu_start = cpu_seconds();
        const auto answer = answerer.ask(q);
        cpu_us.push_back((cpu_seconds() - cpu_start) * 1e6);
        latencies_us.push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        if (answer.kind == Answer::Kind::entry || answer.kind == Answer::Kind::probable)
            ++(answer.entry_id.starts_with("document:") ? by_passage : by_fiche);
    }

    std::printf("document_bench: %zu documents (%d unreadable), %d pages, %zu passages, "
                "%.1f MiB of passage text, %zu fiches\n",
                answerer.documents().size(), errors, pages, passage_count,
                static_cast<double>(text_bytes) / (1024.0 * 1024.0), fiche_count);
    for (const auto& [format, counts] : by_format)
        std::printf("  %s: %d documents, %d pages\n", name_of(format), counts.first, counts.second);
    std::printf("extraction + passages (load_documents): %.2f s, CPU %.2f s (%.2f ms a PDF page)\n",
                load, load_cpu, pages > 0 ? load_cpu * 1000.0 / pages : 0.0);
    std::printf("index build (Answerer: fiches + passages): %.2f s, CPU %.2f s\n", build,
                build_cpu);
    std::printf("indexed in all: %.2f s, CPU %.2f s (target <= 10 s)\n", load + build,
                load_cpu + build_cpu);
    std::printf("%zu questions: %d answered by a fiche, %d by a passage\n", questions.size(),
                by_fiche, by_passage);
    std::printf(
        "query latency: p50 %.0f us (target <= 500), p99 %.0f us (target <= 3000), max %.0f us\n",
        percentile(latencies_us, 0.50), percentile(latencies_us, 0.99),
        percentile(latencies_us, 1.0));
    std::printf("query CPU time: p50 %.0f us, p99 %.0f us, max %.0f us\n", percentile(cpu_us, 0.50),
                percentile(cpu_us, 0.99), percentile(cpu_us, 1.0));
    opalebot::bench::print_by_kind(latencies_us, 5);
    std::printf("peak RSS: %.1f MiB (start %.1f, after load %.1f, after build %.1f)\n",
                peak_rss_mib(), rss_at_start, rss_after_load, rss_after_build);
    return 0;
}
