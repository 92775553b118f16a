#pragma once

// The curator's description of a document, in a sidecar file beside it (issue 18):
// guide.pdf is described by guide.pdf.yaml.
#include "opalebot/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

struct DocumentMetadata {
    std::string titre;
    std::string adresse; ///< where colleagues find the document (Tribu), https:// only
    std::string domaine; ///< one of known_domains(), spelt as there
    std::vector<std::string> profils;
    std::string mis_a_jour; ///< AAAA-MM-JJ
};

/// Error::errcode of parse_document_metadata.
inline constexpr std::string_view document_metadata_invalid = "document_metadata_invalid";

/// "guide.pdf" -> "guide.pdf.yaml".
std::string metadata_file_name(std::string_view document_file_name);

/// Reads a sidecar's YAML. Every problem is a line "file:line:column: message" (French) of
/// Error::message: an unknown or repeated key, a missing title, an empty field, a bad value.
/// The fields other than the title are optional.
[[nodiscard]] Result<DocumentMetadata> parse_document_metadata(std::string_view file_name,
                                                               const std::string& yaml);

} // namespace opalebot::knowledge
