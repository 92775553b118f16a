#include "knowledge/index.hpp"

#include "knowledge/analyzer.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace opalebot::knowledge {
namespace {

using TermId = std::uint32_t;
constexpr TermId unknown_term = std::numeric_limits<TermId>::max();

// How much a match counts, by where it is: the title and keywords say what an entry is about,
// the body only mentions things.
constexpr double title_match = 1.0;
constexpr double keyword_match = 0.8;
constexpr double body_match = 0.4;
// An alternative the user did not type counts a little less than the words typed.
constexpr double synonym_factor = 0.9;
constexpr double typo_factor = 0.85;
// Words that say "how do I" rather than what about: they weigh little either way.
constexpr double generic_factor = 0.25;
constexpr std::size_t max_match_terms = 6;

bool is_generic(std::string_view word)
{
    static const std::unordered_set<std::string_view> generic{
        "procedure", "procedures", "demarche",    "demarches",   "etape",        "etapes",
        "tuto",      "tutoriel",   "methode",     "manip",       "manipulation", "explication",
        "expliquer", "info",       "infos",       "information", "informations", "renseignement",
        "question",  "questions",  "probleme",    "problemes",   "souci",        "soucis",
        "opale",     "logiciel",   "application", "utiliser",    "trouver",      "aider",
        "aide",      "mettre",     "place",       "fonctionne",  "marche",       "dire",
        "sert",      "servir",     "quelqu",      "moyen",       "suivre"};
    return generic.contains(word);
}

struct Alternative {
    std::vector<TermId> terms;
    double factor = 1.0;
};

/// One idea of the question: the words typed, or any of their synonyms or corrections.
struct Concept {
    std::vector<Alternative> alternatives;
    double weight = 0;
};

struct Document {
    std::vector<TermId> title;  ///< sorted, unique
    std::vector<TermId> strong; ///< title and keywords, sorted, unique
    std::vector<TermId> all;    ///< every field, sorted, unique
};

bool contains_all(const std::vector<TermId>& sorted, const std::vector<TermId>& terms)
{
    return std::all_of(terms.begin(), terms.end(), [&](TermId t) {
        return std::binary_search(sorted.begin(), sorted.end(), t);
    });
}

std::vector<TermId> sorted_unique(std::vector<TermId> ids)
{
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

std::string join_stems(const std::vector<Term>& terms)
{
    std::string joined;
    for (const auto& t : terms) {
        if (!joined.empty())
            joined += ' ';
        joined += t.stem;
    }
    return joined;
}

} // namespace

struct Index::Impl {
    std::vector<Entry> entries;
    Analyzer analyzer;
    SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
    std::unique_ptr<SQLite::Statement> query;

    std::unordered_map<std::string, TermId> term_ids;
    std::vector<std::uint32_t> doc_freq;    ///< entries having the term, by TermId
    std::vector<std::uint32_t> strong_freq; ///< entries having it in title or keywords
    std::vector<Document> documents;
    std::vector<std::string> stems; ///< by TermId, for the FTS query

    /// Synonym groups: each phrase is a sequence of stems; groups are found by a phrase's first
    /// stem.
    std::vector<std::vector<std::vector<std::string>>> groups;
    std::unordered_map<std::string, std::vector<std::pair<std::size_t, std::size_t>>> phrase_starts;

    /// Folded words of the base by first letter, then length, for typo correction: typos rarely
    /// touch the first letter, and scanning one letter's words keeps a correction cheap.
    std::array<std::vector<std::vector<std::string>>, 26> words_by_start;

    TermId intern(const std::string& stem)
    {
        const auto [it, fresh] = term_ids.try_emplace(stem, static_cast<TermId>(stems.size()));
        if (fresh) {
            stems.push_back(stem);
            doc_freq.push_back(0);
            strong_freq.push_back(0);
        }
        return it->second;
    }

    TermId lookup(const std::string& stem) const
    {
        const auto it = term_ids.find(stem);
        return it == term_ids.end() ? unknown_term : it->second;
    }

    double idf(TermId id) const
    {
        const auto n = static_cast<double>(documents.size());
        // A word no entry has is informative, but a question's stray words must not drown it.
        const double df = id == unknown_term ? 2.0 : static_cast<double>(doc_freq[id]);
        return std::log(1.0 + n / df);
    }

    void add_word(std::unordered_set<std::string>& seen, const std::string& word)
    {
        if (word.size() < 4 || word[0] < 'a' || word[0] > 'z' || !seen.insert(word).second)
            return;
        auto& by_length = words_by_start[static_cast<std::size_t>(word[0] - 'a')];
        if (word.size() >= by_length.size())
            by_length.resize(word.size() + 1);
        by_length[word.size()].push_back(word);
    }

    void build(const Glossary& glossary, const std::vector<std::vector<std::string>>& synonyms);
    void add_group(const std::vector<std::string>& members, std::unordered_set<std::string>& seen);
    std::vector<Concept> concepts_of(std::string_view question);
    std::string correct(const std::string& word) const;
    double coverage(const std::vector<Concept>& concepts, const Document& document) const;
};

void Index::Impl::add_group(const std::vector<std::string>& members,
                            std::unordered_set<std::string>& seen)
{
    std::vector<std::vector<std::string>> phrases;
    for (const auto& member : members) {
        std::vector<std::string> phrase;
        for (auto& term : analyzer.analyze(member)) {
            add_word(seen, term.word);
            phrase.push_back(std::move(term.stem));
        }
        if (!phrase.empty() && std::find(phrases.begin(), phrases.end(), phrase) == phrases.end())
            phrases.push_back(std::move(phrase));
    }
    if (phrases.size() < 2)
        return;
    const auto group = groups.size();
    for (std::size_t p = 0; p < phrases.size(); ++p)
        phrase_starts[phrases[p].front()].emplace_back(group, p);
    groups.push_back(std::move(phrases));
}

void Index::Impl::build(const Glossary& glossary,
                        const std::vector<std::vector<std::string>>& synonyms)
{
    // FTS5 only finds candidate rows (rowid, column filters): no copy of the stems (content),
    // no sizes (columnsize, for bm25) and no positions (phrases of one stem need none).
    // 18 MiB less for 10 000 entries.
    db.exec("CREATE VIRTUAL TABLE docs USING fts5(titre, motscles, corps, "
            "tokenize = 'unicode61 remove_diacritics 2', content = '', columnsize = 0, "
            "detail = column)");

    std::unordered_set<std::string> seen_words;
    SQLite::Transaction transaction{db};
    SQLite::Statement insert{db,
                             "INSERT INTO docs(rowid, titre, motscles, corps) VALUES (?, ?, ?, ?)"};
    documents.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& entry = entries[i];
        std::string keywords;
        for (const auto& k : entry.mots_cles)
            keywords += k + " ; ";
        const auto title_terms = analyzer.analyze(entry.titre);
        const auto keyword_terms = analyzer.analyze(keywords);
        const auto body_terms = analyzer.analyze(entry.body_text);

        Document document;
        const auto add = [&](const std::vector<Term>& terms, std::vector<TermId>& into) {
            for (const auto& t : terms) {
                into.push_back(intern(t.stem));
                add_word(seen_words, t.word);
            }
        };
        add(title_terms, document.title);
        document.strong = document.title;
        add(keyword_terms, document.strong);
        document.all = document.strong;
        add(body_terms, document.all);
        document.title = sorted_unique(std::move(document.title));
        document.strong = sorted_unique(std::move(document.strong));
        document.all = sorted_unique(std::move(document.all));
        for (const auto id : document.all)
            ++doc_freq[id];
        for (const auto id : document.strong)
            ++strong_freq[id];
        documents.push_back(std::move(document));

        insert.bind(1, static_cast<std::int64_t>(i + 1));
        insert.bind(2, join_stems(title_terms));
        insert.bind(3, join_stems(keyword_terms));
        insert.bind(4, join_stems(body_terms));
        insert.exec();
        insert.reset();
    }
    // One b-tree segment instead of dozens: queries read each doclist once.
    db.exec("INSERT INTO docs(docs) VALUES('optimize')");
    transaction.commit();

    for (const auto& group : synonyms)
        add_group(group, seen_words);
    for (const auto& acronym : glossary.all()) {
        std::vector<std::string> members{acronym.sigle};
        members.insert(members.end(), acronym.variantes.begin(), acronym.variantes.end());
        if (!acronym.developpement.empty())
            members.push_back(acronym.developpement);
        add_group(members, seen_words);
    }
    query = std::make_unique<SQLite::Statement>(db, "SELECT rowid FROM docs WHERE docs MATCH ?");
}

std::string Index::Impl::correct(const std::string& word) const
{
    const bool alphabetic =
        std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    if (!alphabetic || word.size() < 5)
        return {};
    const int limit = word.size() >= 8 ? 2 : 1;
    std::string best;
    int best_distance = limit + 1;
    const auto& by_length = words_by_start[static_cast<std::size_t>(word[0] - 'a')];
    const std::size_t from = word.size() - static_cast<std::size_t>(limit);
    const std::size_t to = word.size() + static_cast<std::size_t>(limit);
    for (std::size_t length = from; length <= to && length < by_length.size(); ++length) {
        for (const auto& candidate : by_length[length]) {
            const int bound = std::min(limit, best_distance - 1); // only a better one counts
            if (bound < 0)
                return best;
            const int distance = edit_distance(word, candidate, bound);
            if (distance <= bound) {
                best_distance = distance;
                best = candidate;
            }
        }
    }
    return best_distance <= limit ? best : std::string{};
}

std::vector<Concept> Index::Impl::concepts_of(std::string_view question)
{
    const auto terms = analyzer.analyze(question);
    std::vector<Concept> concepts;
    std::vector<std::string> seen; // a word asked twice counts once
    for (std::size_t i = 0; i < terms.size();) {
        const std::size_t start = i;
        // The longest synonym phrase that starts here, if any.
        std::size_t matched_group = groups.size();
        std::size_t matched_length = 0;
        std::size_t matched_phrase = 0;
        if (const auto it = phrase_starts.find(terms[i].stem); it != phrase_starts.end()) {
            for (const auto& [group, phrase] : it->second) {
                const auto& stems_of_phrase = groups[group][phrase];
                if (stems_of_phrase.size() <= matched_length ||
                    i + stems_of_phrase.size() > terms.size())
                    continue;
                bool same = true;
                for (std::size_t k = 0; k < stems_of_phrase.size() && same; ++k)
                    same = terms[i + k].stem == stems_of_phrase[k];
                if (same) {
                    matched_group = group;
                    matched_length = stems_of_phrase.size();
                    matched_phrase = phrase;
                }
            }
        }
        Concept idea;
        double factor = 1.0;
        if (matched_length > 0) {
            const auto& phrases = groups[matched_group];
            for (std::size_t p = 0; p < phrases.size(); ++p) {
                Alternative alternative;
                for (const auto& stem : phrases[p])
                    alternative.terms.push_back(lookup(stem));
                alternative.factor = p == matched_phrase ? 1.0 : synonym_factor;
                idea.alternatives.push_back(std::move(alternative));
            }
            i += matched_length;
        } else {
            const auto& term = terms[i];
            idea.alternatives.push_back({{lookup(term.stem)}, 1.0});
            if (idea.alternatives.front().terms.front() == unknown_term) {
                if (const auto fixed = correct(term.word); !fixed.empty())
                    idea.alternatives.push_back({{lookup(analyzer.stem(fixed))}, typo_factor});
            }
            if (is_generic(term.word))
                factor = generic_factor;
            ++i;
        }
        // Weight: the rarest known way of saying it; unknown words keep a fixed weight.
        double weight = 0;
        bool any_known = false;
        for (const auto& alternative : idea.alternatives) {
            if (std::find(alternative.terms.begin(), alternative.terms.end(), unknown_term) !=
                alternative.terms.end())
                continue;
            any_known = true;
            double rarest = 0;
            for (const auto id : alternative.terms)
                rarest = std::max(rarest, idf(id));
            weight = std::max(weight, rarest);
        }
        idea.weight = (any_known ? weight : idf(unknown_term)) * factor;
        // The words typed identify the idea (unknown words included, each by itself).
        std::string key;
        for (std::size_t k = start; k < i; ++k)
            key += terms[k].stem + ' ';
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            continue;
        seen.push_back(std::move(key));
        concepts.push_back(std::move(idea));
    }
    return concepts;
}

double Index::Impl::coverage(const std::vector<Concept>& concepts, const Document& document) const
{
    double covered = 0;
    double total = 0;
    for (const auto& idea : concepts) {
        double best = 0;
        for (const auto& alternative : idea.alternatives) {
            if (std::find(alternative.terms.begin(), alternative.terms.end(), unknown_term) !=
                alternative.terms.end())
                continue;
            double where = 0;
            if (contains_all(document.title, alternative.terms))
                where = title_match;
            else if (contains_all(document.strong, alternative.terms))
                where = keyword_match;
            else if (contains_all(document.all, alternative.terms))
                where = body_match;
            best = std::max(best, where * alternative.factor);
        }
        covered += idea.weight * best;
        total += idea.weight;
    }
    return total > 0 ? covered / total : 0;
}

Index::Index(std::vector<Entry> entries, const Glossary& glossary,
             const std::vector<std::vector<std::string>>& synonyms)
    : impl_(std::make_unique<Impl>())
{
    impl_->entries = std::move(entries);
    impl_->build(glossary, synonyms);
}

Index::~Index() = default;
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;

const std::vector<Entry>& Index::entries() const
{
    return impl_->entries;
}

std::vector<SearchHit> Index::search(std::string_view question, std::size_t limit)
{
    auto& impl = *impl_;
    const auto concepts = impl.concepts_of(question);
    // The FTS5 query is built from known stems only, each quoted: user text never reaches
    // FTS5 syntax (quotes, *, ^, NEAR, column filters), and MATCH '' is never sent.
    std::vector<TermId> wanted;
    for (const auto& idea : concepts)
        for (const auto& alternative : idea.alternatives)
            for (const auto id : alternative.terms)
                if (id != unknown_term)
                    wanted.push_back(id);
    wanted = sorted_unique(std::move(wanted));
    if (const auto logger = log::get("knowledge"); logger->should_log(spdlog::level::trace))
        for (const auto& idea : concepts) {
            std::string text;
            for (const auto& alternative : idea.alternatives) {
                text += text.empty() ? "" : " | ";
                for (const auto id : alternative.terms)
                    text += (id == unknown_term ? std::string{"?"} : impl.stems[id]) + " ";
            }
            logger->trace("concept {:.2f}: {}", idea.weight, text);
        }
    if (wanted.empty())
        return {};
    // Candidates come from the rarest words: FTS5 ranks every row a word matches, and a word found
    // in hundreds of entries adds little to any one entry's coverage (it still counts there).
    const auto common = std::max<std::size_t>(100, impl.documents.size() / 100);
    std::sort(wanted.begin(), wanted.end(),
              [&](TermId a, TermId b) { return impl.doc_freq[a] < impl.doc_freq[b]; });
    const auto selective = static_cast<std::size_t>(std::count_if(
        wanted.begin(), wanted.end(), [&](TermId id) { return impl.doc_freq[id] <= common; }));
    wanted.resize(selective > 0 ? std::min(selective, max_match_terms) : 1);
    std::string match;
    for (const auto id : wanted)
        match += (match.empty() ? "\"" : " OR \"") + impl.stems[id] + '"'; // stems are [a-z0-9]
    if (selective == 0) // only common words: the entries that are about the rarest one
        match = "{titre motscles} : " + match;

    // FTS5 finds the entries; coverage ranks them (cheaper than bm25, which reads each row's size).
    std::vector<SearchHit> hits;
    impl.query->bind(1, match);
    while (impl.query->executeStep()) {
        const auto entry = static_cast<std::size_t>(impl.query->getColumn(0).getInt64()) - 1;
        hits.push_back({entry, impl.coverage(concepts, impl.documents[entry])});
    }
    impl.query->reset();
    // Best coverage first; on a tie, the more focused (shorter) entry, as bm25 would.
    const auto better = [&](const SearchHit& a, const SearchHit& b) {
        if (a.score != b.score)
            return a.score > b.score;
        return impl.documents[a.entry].all.size() < impl.documents[b.entry].all.size();
    };
    const auto kept = std::min(limit, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(kept), hits.end(),
                      better);
    hits.resize(kept);
    return hits;
}

} // namespace opalebot::knowledge
