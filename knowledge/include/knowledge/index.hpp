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
    double score = 0;
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

    const std::vector<Entry>& entries() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace opalebot::knowledge
