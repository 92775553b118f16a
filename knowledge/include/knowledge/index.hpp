#pragma once

#include "knowledge/entry.hpp"
#include "knowledge/glossary.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// One entry found for a question, with how well it covers the question (0 to 1).
struct SearchHit {
    std::size_t entry = 0; ///< position in Index::entries()
    double score = 0;      ///< the informative part of the question the entry explains, 0 to 1
    double evidence = 0;   ///< not divided by the question: the rare vocabulary it matched, in
                           ///< units of a word no entry has (1: one such word in a title)
    int topics = 0;        ///< the question's subjects found in its title or keywords, not body
    /// What orders the hits: the score, with the words of a keyword phrase of the entry that the
    /// question says whole ("tiers inactif", "facture en double") counted above a title. Sibling
    /// entries share words, seldom phrases. The lead over the next hit is measured on it.
    double rank = 0;
};

/// What a word of the question counts for. Only the informative words weigh: a long message's
/// greetings and narrative must not make a clear question look unclear.
enum class WordRole {
    topic,   ///< an entry's title or keywords have it
    context, ///< only entry bodies mention it
    unknown, ///< the base never uses it (nor a correction of it)
    generic, ///< "procédure", "problème": says how, not what about
    chatter, ///< greetings, thanks, apologies, narrative: weighs nothing
};

/// The role as `opale-bot kb analyze` prints it ("sujet", "contexte"…).
std::string_view to_string(WordRole role);

/// Where an entry has an idea of the question: what says most about its being the topic.
enum class MatchPlace { none, body, keywords, title };

/// One idea of the question as the index read it, for `kb analyze` and tuning.
struct QueryWord {
    std::string text; ///< the stems it may match, alternatives separated by " | "
    WordRole role = WordRole::unknown;
    double weight = 0;
};

/// A search with its reading of the question: each idea, and how each hit matched it.
struct Explanation {
    std::vector<QueryWord> words;
    std::vector<SearchHit> hits;
    /// By hit, then by word: how much the match counts (0, or its place's weight, lower for a
    /// synonym or a corrected word), and where the counted way of saying it is.
    std::vector<std::vector<double>> matches;
    std::vector<std::vector<MatchPlace>> places;
};

/// The full-text index of the entries: SQLite FTS5 over French stems for candidates and bm25,
/// then a coverage score (how much of the question, weighted by rarity, the entry explains),
/// with synonyms, acronyms and typo correction applied to the question.
class Index {
public:
    /// Builds the index in memory; throws only if SQLite itself fails (a start-up failure).
    Index(std::vector<Entry> entries, const Glossary& glossary,
          const std::vector<std::vector<std::string>>& synonyms);
    ~Index();
    Index(Index&&) noexcept;
    Index& operator=(Index&&) noexcept;
    Index(const Index&) = delete;
    Index& operator=(const Index&) = delete;

    /// The best entries for any text, best first; never throws on user input.
    std::vector<SearchHit> search(std::string_view question, std::size_t limit);

    /// The same search, with how each word of the question was read and matched.
    Explanation explain(std::string_view question, std::size_t limit);

    const std::vector<Entry>& entries() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace opalebot::knowledge
