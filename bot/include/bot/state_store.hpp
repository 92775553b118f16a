#pragma once

#include "opalebot/result.hpp"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <string>

namespace opalebot::bot {

/// One question the bot was asked, and how it answered.
struct QuestionRecord {
    std::int64_t asked_at = 0; ///< Unix seconds
    std::string room;          ///< empty in the console
    std::string sender;
    std::string question; ///< kept a limited time (privacy), see purge_questions
    std::string kind;     ///< "entree", "inconnu", "glossaire"…
    std::string entry_id; ///< empty when no entry answered
    double score = 0;
};

/// The bot's persistent state in SQLite, migrated with PRAGMA user_version.
class StateStore {
public:
    /// Opens (creating it if needed) and migrates; throws on failure, which stops start-up.
    explicit StateStore(const std::string& path);

    Result<Done> record_question(const QuestionRecord& record);

    /// Deletes the text of questions asked before `before` (Unix seconds); keeps the outcome.
    Result<int> purge_questions(std::int64_t before);

    /// The number of questions recorded (for tests and statistics).
    Result<std::int64_t> question_count();

private:
    void migrate();
    SQLite::Database db_;
};

} // namespace opalebot::bot
