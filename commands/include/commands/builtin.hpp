#pragma once

#include "commands/registry.hpp"
#include "knowledge/answerer.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::commands {

class DocumentShelf;

/// Where answered questions are recorded; `main` implements it with the state store.
class QuestionLog {
public:
    virtual ~QuestionLog() = default;
    virtual void record(const Message& message, const knowledge::Answer& answer) = 0;
};

/// What curators read in `!kb stats`: the period's questions, entries and feedback.
struct KnowledgeStats {
    struct Entry {
        std::string id;
        long long asked = 0;
        long long up = 0; ///< 👍 on the bot's answers with this entry
        long long down = 0;
    };
    struct Question {
        std::string text; ///< empty once purged
        std::string kind; ///< "inconnu", "probable", or an entry answered with low confidence
        double score = 0;
        long long asked_at = 0; ///< Unix seconds
        long long number = 0;   ///< what `!kb lier` takes
        std::string entry_id;   ///< the entry shown, if any
        bool disliked = false;  ///< a 👎 on the answer
    };
    long long questions = 0;
    long long answered = 0;
    std::vector<Entry> entries;
    std::vector<Question> unanswered;
};

/// Where `!kb stats` reads; `main` implements it with the state store.
class StatsSource {
public:
    virtual ~StatsSource() = default;
    /// The statistics of the last `days` days, or nothing when the store failed.
    virtual std::optional<KnowledgeStats> knowledge_stats(int days) = 0;
    /// The text of question `number` of `!kb stats`: nothing when the store failed, empty when
    /// there is no such question or its text was purged.
    virtual std::optional<std::string> question_text(long long /*number*/) { return std::nullopt; }
    /// Keeps `question` as a paraphrase of `entry_id`; false when the store failed.
    virtual bool link_question(const std::string& /*entry_id*/, const std::string& /*question*/)
    {
        return false;
    }
};

/// What `!kb recharger` (and a configuration reload) did with the knowledge base folder.
struct KnowledgeReload {
    bool replaced = false; ///< false: no valid entry in the folder, the old base is kept
    std::size_t entries = 0;
    std::size_t acronyms = 0;
    std::size_t problems = 0; ///< files or items skipped (or why none is valid)
    std::string markdown;     ///< the reply of `!kb recharger`
};

/// Reads `dir` again (with the documents added from the salon in `salon_documents`, if given)
/// and swaps it into `answerer` unless no entry in it is valid. Call on the thread that uses
/// `answerer`.
KnowledgeReload reload_knowledge(knowledge::Answerer& answerer, const std::filesystem::path& dir,
                                 const std::filesystem::path& salon_documents = {});

/// The base of `dir` with the documents of `salon_documents` (if given) added: what the bot
/// serves.
knowledge::KnowledgeBase load_served_base(const std::filesystem::path& dir,
                                          const std::filesystem::path& salon_documents = {});

/// Registers the knowledge commands on `registry`: !aide, !sigle, !fiche, !fiches, !kb (admin)
/// and free-text questions. `answerer` must outlive the registry; `kb_dir` is what !kb recharger
/// reads again; `questions`, if given, records every free-text question; `stats`, if given,
/// serves !kb stats; `shelf`, if given, serves !kb ajouter, !kb documents and !kb retirer.
void add_knowledge_commands(Registry& registry, knowledge::Answerer& answerer,
                            std::filesystem::path kb_dir, QuestionLog* questions = nullptr,
                            StatsSource* stats = nullptr, DocumentShelf* shelf = nullptr);

/// The Markdown of `!kb stats` for a period of `days` days.
std::string format_knowledge_stats(const KnowledgeStats& stats, int days,
                                   const knowledge::Answerer& answerer);

} // namespace opalebot::commands
