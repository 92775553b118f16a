#pragma once

// The documents added from the salon (`!kb ajouter`, `opale-bot kb ajouter`): a folder of the
// state directory, and who added each one in the state file (table kb_documents).
#include "knowledge/document_metadata.hpp"
#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// A document of the shelf, as `!kb documents` lists it.
struct ShelvedDocument {
    std::string file_name;
    std::string added_by;      ///< Matrix user id, or "ligne de commande"
    std::int64_t added_at = 0; ///< Unix seconds
};

/// What an addition gave: enough for the reply to show that the document was read.
struct ShelfAddition {
    std::string file_name;
    std::string titre;
    int pages = 0; ///< PDF pages or slides; 0 for other formats
    std::size_t passages = 0;
    std::vector<std::string> headings; ///< its first few headings
    std::vector<std::string> warnings; ///< what extraction left out (French)
    bool replaced = false;             ///< a document of the same name was there before
};

class DocumentShelf {
public:
    /// `folder` is created when the first document is added. Creates or migrates the table.
    DocumentShelf(StateDatabase& state, std::filesystem::path folder);

    const std::filesystem::path& folder() const { return folder_; }

    /// Reads the document first (format, limits, text layer, passages) and stores it only if it
    /// is sound, with a sidecar when `given` has a title or a link; nothing is written when it is
    /// refused (the Error says why, in French). `file_name` is reduced to its last component.
    Result<ShelfAddition> add(std::string_view file_name, std::string_view bytes,
                              const std::string& added_by,
                              const knowledge::DocumentMetadata& given = {});

    /// Removes a document of the shelf and its sidecar; false when the shelf has none of that
    /// name (the curated documents of the base are not removed from the salon).
    Result<bool> remove(std::string_view file_name);

    /// The shelf's documents, by name.
    Result<std::vector<ShelvedDocument>> list();

private:
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    std::filesystem::path folder_;
};

} // namespace opalebot::commands
