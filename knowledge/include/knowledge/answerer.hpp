#pragma once

#include "knowledge/index.hpp"
#include "knowledge/knowledge_base.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// When the bot answers: the best entry must cover enough of the question and be clearly ahead
/// of the next one; otherwise it abstains and suggests the entries above `suggest`.
struct Thresholds {
    double answer = 0.47;
    double margin = 0.05;
    double suggest = 0.25;
};

/// What the bot replies to a free-text message.
struct Answer {
    enum class Kind { entry, glossary, greeting, thanks, unknown, empty };
    Kind kind = Kind::empty;
    std::string entry_id;                  ///< the entry answered, for Kind::entry
    double score = 0;                      ///< the best entry's score, answered or not
    double runner_up = 0;                  ///< the second entry's score (how clear the choice is)
    std::vector<std::string> alternatives; ///< other entries worth a look (ids)
    std::string text;                      ///< the reply, in Markdown
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
    const Glossary& glossary() const { return glossary_; }
    const Entry* find_entry(std::string_view id) const;

    /// The reply that presents `entry` (Markdown), as a question answered by it would get.
    std::string show(const Entry& entry) const { return entry_reply(entry); }

    /// Swaps in a newly loaded base (curators' edits) without a restart.
    void replace(KnowledgeBase base);

private:
    std::string entry_reply(const Entry& entry) const;
    std::string acronym_reply(const Acronym& acronym);
    std::string unknown_reply(const std::vector<std::string>& suggestions) const;
    std::optional<std::string> asked_acronym(std::string_view question) const;

    Glossary glossary_;
    Index index_;
    Thresholds thresholds_;
};

/// The kind as written in `opale-bot ask --json` ("entree", "glossaire", …).
std::string_view to_string(Answer::Kind kind);

} // namespace opalebot::knowledge
