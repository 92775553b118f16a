#pragma once

#include "commands/registry.hpp"
#include "knowledge/answerer.hpp"

#include <filesystem>

namespace opalebot::commands {

/// Where answered questions are recorded; `main` implements it with the state store.
class QuestionLog {
public:
    virtual ~QuestionLog() = default;
    virtual void record(const Message& message, const knowledge::Answer& answer) = 0;
};

/// Registers the knowledge commands on `registry`: !aide, !sigle, !fiche, !fiches, !kb (admin)
/// and free-text questions. `answerer` must outlive the registry; `kb_dir` is what !kb recharger
/// reads again; `questions`, if given, records every free-text question.
void add_knowledge_commands(Registry& registry, knowledge::Answerer& answerer,
                            std::filesystem::path kb_dir, QuestionLog* questions = nullptr);

} // namespace opalebot::commands
