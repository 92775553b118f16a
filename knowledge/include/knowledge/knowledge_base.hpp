#pragma once

#include "knowledge/document_library.hpp"
#include "knowledge/entry.hpp"
#include "knowledge/glossary.hpp"
#include "opalebot/result.hpp"

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
    /// The documents/ folder's files (and those added from the salon), cut into passages.
    std::vector<LibraryDocument> documents{};

    bool has_errors() const;
};

/// Reads `dir`: every `*.md` entry, `glossaire.yaml`, `synonymes.yaml` and the documents of
/// `dir/documents/`. Never throws: a bad file is reported in `problems` and skipped, so one
/// mistake never takes the bot down.
KnowledgeBase load_knowledge_base(const std::filesystem::path& dir);

/// Reads every document of `folder` (PDF, ODT, DOCX, ODP, PPTX, HTML, Markdown, text) with its
/// optional sidecar `<file>.yaml`. A document that cannot be read is reported in `problems` and
/// left out; a missing folder is no document. `from_salon` marks the state directory's folder.
std::vector<LibraryDocument> load_documents(const std::filesystem::path& folder, bool from_salon,
                                            std::vector<Diagnostic>& problems);

/// Reads one document file and its sidecar, if any: what `load_documents` does for each file.
Result<LibraryDocument> load_document(const std::filesystem::path& file, bool from_salon);

/// Parses one entry file. On failure returns nothing and says why in `problems`.
std::optional<Entry> parse_entry(const std::filesystem::path& file, const std::string& text,
                                 std::vector<Diagnostic>& problems);

} // namespace opalebot::knowledge
