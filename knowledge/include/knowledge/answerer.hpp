#pragma once

#include "knowledge/index.hpp"
#include "knowledge/knowledge_base.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// When the bot answers. Three signals, judged apart: the score (how much of the question's
/// informative words the best entry explains, 0 to 1), the lead (how far it is ahead of the next
/// entry, relative to its rank: see SearchHit::rank) and the evidence (how much rare vocabulary it
/// matched, not divided by the question's length), and the subjects it names in its title or
/// keywords. Tuned on tests/fixtures kb-paraphrases, kb-train and kb-train2 (never on kb-blind).
struct Thresholds {
    // Sure: the entry is shown as the answer.
    double answer = 0.5;
    double margin = 0.1;
    double evidence = 0.8;
    // Probable ("je pense que…"): a short question the entry mostly explains…
    double probable = 0.42;
    double probable_margin = 0.03;
    double probable_evidence = 0.9;
    // …or a question whose every informative word the entry explains, far ahead of the next
    // one, even with little rare vocabulary ("c'est quoi le tutorat ?")…
    double clear_score = 0.95;
    double clear_margin = 0.5;
    // …or a long message whose informative words clearly point to one entry…
    double long_evidence = 2.0;
    double long_margin = 0.1;
    double long_score = 0.15;
    // …or a message whose subjects are, three or more of them, in the entry's title or keywords
    // (not only its body), ahead of the next entry: a long message read by what it asks about,
    // not diluted by what it tells. A near-miss shares one subject, seldom three.
    int topics = 3;
    double topics_margin = 0.2;
    double topics_evidence = 0.8;
    double topics_score = 0.15;
    /// Entries suggested when the bot abstains.
    double suggest = 0.15;
};

/// What the bot replies to a free-text message.
struct Answer {
    /// entry: a sure answer; probable: an entry shown with reservations.
    enum class Kind { entry, probable, glossary, greeting, thanks, unknown, empty };
    Kind kind = Kind::empty;
    std::string entry_id;                  ///< the entry shown, for Kind::entry and probable
    double score = 0;                      ///< the best entry's score, answered or not
    double runner_up = 0;                  ///< the second entry's score (the lead that decides
                                           ///< the tier is measured on ranks: SearchHit::rank)
    std::vector<std::string> alternatives; ///< other entries worth a look (ids)
    std::string text;                      ///< the reply, in Markdown
    /// The document passage shown: the answer itself when no fiche answers (entry_id is then
    /// "document:<file>"), or the steps quoted under a fiche that names the document.
    std::optional<PassageSource> source;
};

/// Answers French questions from the knowledge base, or says plainly that it does not know.
/// Not thread-safe (the index holds a stemmer and statements): one per thread.
class Answerer {
public:
    explicit Answerer(KnowledgeBase base, Thresholds thresholds = {});

    Answer ask(std::string_view question);

    /// The reply to `!sigle X` (Markdown).
    std::string explain_acronym(std::string_view sigle);

    const std::vector<Entry>& entries() const { return index_.entries(); }
    const std::vector<LibraryDocument>& documents() const { return documents_; }
    const Glossary& glossary() const { return glossary_; }
    const Entry* find_entry(std::string_view id) const;

    /// The reply that presents `entry` (Markdown), as a question answered by it would get.
    std::string show(const Entry& entry) const { return entry_reply(entry); }

    /// Swaps in a newly loaded base (curators' edits) without a restart; the questions learned
    /// with `learn` stay learned.
    void replace(KnowledgeBase base);

    /// A question of the salon becomes a paraphrase of `entry_id`, searched at once like the
    /// entry's keywords. False when no entry has that id. Rebuilds the index: references to
    /// entries() are invalidated.
    bool learn(const std::string& entry_id, const std::string& question);
    /// The same for many questions (entry id, question) with one rebuild, as at start; returns
    /// how many named a known entry.
    std::size_t learn(const std::vector<std::pair<std::string, std::string>>& questions);

private:
    /// A passage found for a question: its document and its place in it.
    struct PassageHit {
        std::size_t document = 0;
        std::size_t passage = 0;
        double score = 0;
    };
    void index_documents();
    /// The best passage of `within` (file names), or of every document when empty.
    std::optional<PassageHit> best_passage(std::string_view question,
                                           const std::vector<std::string>& within);
    std::string passage_reply(const PassageHit& hit) const;
    std::string quoted_under_fiche(const PassageHit& hit) const;
    PassageSource source_of(const PassageHit& hit) const;

    std::string entry_reply(const Entry& entry, std::string_view quoted = {}) const;
    std::string see_also(const std::vector<std::string>& others) const;
    std::string acronym_reply(const Acronym& acronym);
    std::string unknown_reply(const std::vector<std::string>& suggestions) const;
    std::string probable_reply(const Entry& entry, const std::vector<std::string>& others,
                               std::string_view quoted) const;
    std::optional<std::string> asked_acronym(std::string_view question) const;

    Glossary glossary_;
    std::vector<std::vector<std::string>> synonyms_;
    std::vector<std::pair<std::string, std::string>> learned_; ///< entry id, question
    Index index_;
    Thresholds thresholds_;
    std::vector<LibraryDocument> documents_;
    /// The passages as index entries (ids "document:<file>#<n>"), and where each comes from.
    std::optional<Index> passage_index_;
    std::vector<std::pair<std::size_t, std::size_t>> passage_refs_; ///< document, passage
};

/// The kind as written in `opale-bot ask --json` ("entree", "glossaire", …).
std::string_view to_string(Answer::Kind kind);

/// How sure the entry shown is, as `ask --json` says it: "sure", "probable", or "none" when no
/// entry is shown.
std::string_view confidence_of(const Answer& answer);

} // namespace opalebot::knowledge
