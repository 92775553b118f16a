#pragma once

// The documents of the knowledge base (issue 18): the académie's pas-à-pas as files, read and cut
// into passages that answer questions beside the fiches.
#include "knowledge/document.hpp"
#include "knowledge/document_metadata.hpp"
#include "knowledge/passage.hpp"

#include <optional>
#include <string>
#include <vector>

namespace opalebot::knowledge {

/// One document of the base, read and cut into passages.
struct LibraryDocument {
    std::string file_name;     ///< "tiers-ddfip.pdf", its name in documents/
    DocumentMetadata metadata; ///< from its sidecar; titre falls back to the file's own title
    DocumentFormat format = DocumentFormat::text;
    int page_count = 0; ///< PDF pages or slides; 0 for other formats
    std::vector<Passage> passages;
    std::vector<std::string> warnings; ///< what extraction left out (French)
    bool added_from_salon = false;     ///< in the state directory's folder, not the curated one
};

/// Where an answer given by a passage comes from (`ask --json`'s "source").
struct PassageSource {
    std::string document;               ///< file name
    int page = 0;                       ///< page or slide, 0 when the format has none
    std::optional<std::string> section; ///< the heading in force
};

/// "page 4", "diapositive 3", or the section's heading: how a reply points into a document.
std::string location_of(const LibraryDocument& document, const Passage& passage);

/// The steps of a passage as a Markdown list of at most `max_chars` characters, cut at a step
/// boundary with "(suite dans le document)"; a passage without steps gives its lines instead.
std::string quoted_steps(const Passage& passage, std::size_t max_chars = 1'500);

} // namespace opalebot::knowledge
