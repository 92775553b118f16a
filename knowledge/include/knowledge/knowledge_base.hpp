#pragma once

#include "knowledge/entry.hpp"
#include "knowledge/glossary.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::knowledge {

/// Everything a knowledge directory holds, with the problems found while reading it.
struct KnowledgeBase {
    std::vector<Entry> entries; ///< valid entries only, sorted by id
    Glossary glossary;
    std::vector<std::vector<std::string>> synonyms;
    std::vector<Diagnostic> problems; ///< every skipped file or item, with its reason

    bool has_errors() const;
};

/// Reads `dir`: every `*.md` entry, `glossaire.yaml` and `synonymes.yaml`. Never throws: a bad
/// file is reported in `problems` and skipped, so one mistake never takes the bot down.
KnowledgeBase load_knowledge_base(const std::filesystem::path& dir);

/// Parses one entry file. On failure returns nothing and says why in `problems`.
std::optional<Entry> parse_entry(const std::filesystem::path& file, const std::string& text,
                                 std::vector<Diagnostic>& problems);

} // namespace opalebot::knowledge
