#include "knowledge/document_library.hpp"

#include "knowledge/knowledge_base.hpp"
#include "knowledge/text.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace opalebot::knowledge {
namespace {

Error invalid(std::string message, std::string_view errcode = {})
{
    Error error;
    error.kind = Error::Kind::invalid;
    error.errcode = std::string{errcode};
    error.message = std::move(message);
    return error;
}

/// The file's bytes, refused before reading when larger than `max_bytes`: a 10 GB file dropped in
/// the folder must not be read into memory to be told it is too large.
Result<std::string> read_bounded(const std::filesystem::path& file, std::size_t max_bytes)
{
    std::error_code error;
    const auto size = std::filesystem::file_size(file, error);
    if (error)
        return invalid("fichier illisible (" + error.message() + ")");
    if (size > max_bytes)
        return invalid("fichier trop gros (" + std::to_string(size / (1024 * 1024)) +
                           " Mo, au plus " + std::to_string(max_bytes / (1024 * 1024)) + " Mo)",
                       document_errors::too_large);
    std::ifstream in{file, std::ios::binary};
    // One read of the size just checked, not a character at a time (a file that grows meanwhile
    // is read up to that size: never more than max_bytes in memory).
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    if (in.bad() || !in.is_open())
        return invalid("fichier illisible");
    return bytes;
}

bool is_sidecar(const std::filesystem::path& file)
{
    const auto name = file.filename().string();
    return name.ends_with(".yaml") || name.ends_with(".yml");
}

} // namespace

Result<LibraryDocument> load_document(const std::filesystem::path& file, bool from_salon)
{
    const DocumentLimits limits;
    const auto name = file.filename().string();
    auto bytes = read_bounded(file, limits.max_file_bytes);
    if (!bytes)
        return bytes.error();
    auto extracted = extract_document(bytes.value(), name, limits);
    if (!extracted)
        return extracted.error();
    LibraryDocument document;
    document.file_name = name;
    document.format = extracted.value().format;
    document.page_count = extracted.value().page_count;
    document.warnings = extracted.value().warnings;
    document.passages = split_passages(extracted.value());
    document.added_from_salon = from_salon;
    const auto sidecar = file.parent_path() / metadata_file_name(name);
    std::error_code missing;
    if (std::filesystem::is_regular_file(sidecar, missing)) {
        auto text = read_bounded(sidecar, 64 * 1024);
        if (!text)
            return text.error();
        auto metadata = parse_document_metadata(sidecar.string(), text.value());
        if (!metadata)
            return metadata.error();
        document.metadata = std::move(metadata.value());
    }
    if (document.metadata.titre.empty())
        document.metadata.titre =
            extracted.value().title.empty() ? name : std::move(extracted.value().title);
    if (document.passages.empty())
        return invalid("aucun texte à indexer dans ce document", document_errors::malformed);
    return document;
}

std::vector<LibraryDocument> load_documents(const std::filesystem::path& folder, bool from_salon,
                                            std::vector<Diagnostic>& problems)
{
    std::vector<LibraryDocument> documents;
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error))
        return documents;
    std::vector<std::filesystem::path> files;
    for (const auto& item : std::filesystem::directory_iterator(folder, error))
        if (item.is_regular_file() && !is_sidecar(item.path()) &&
            !item.path().filename().string().starts_with('.'))
            files.push_back(item.path());
    if (error) {
        problems.push_back({folder.string(), 0, "dossier illisible : " + error.message(), true});
        return documents;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        if (!format_from_name(file.filename().string())) {
            problems.push_back({file.string(), 0,
                                "format non pris en charge (PDF, ODT, DOCX, ODP, PPTX, HTML, "
                                "Markdown ou texte)",
                                true});
            continue;
        }
        auto document = load_document(file, from_salon);
        if (!document) {
            // A sidecar's problems are already "file:line:column: message" lines.
            const bool located = document.error().errcode == document_metadata_invalid;
            problems.push_back(
                {located ? std::string{} : file.string(), 0, document.error().message, true});
            continue;
        }
        for (const auto& warning : document.value().warnings)
            problems.push_back({file.string(), 0, warning, false});
        documents.push_back(std::move(document.value()));
    }
    return documents;
}

std::string location_of(const LibraryDocument& document, const Passage& passage)
{
    const bool slides =
        document.format == DocumentFormat::odp || document.format == DocumentFormat::pptx;
    if (passage.page > 0)
        return (slides ? "diapositive " : "page ") + std::to_string(passage.page);
    if (passage.heading)
        return "section « " + *passage.heading + " »";
    return {};
}

std::string quoted_steps(const Passage& passage, std::size_t max_chars)
{
    std::vector<std::string> lines;
    if (!passage.steps.empty()) {
        for (std::size_t k = 0; k < passage.steps.size(); ++k)
            lines.push_back(std::to_string(k + 1) + ". " + escape_markdown(passage.steps[k]));
    } else {
        std::istringstream text{passage.text};
        for (std::string line; std::getline(text, line);)
            if (!line.empty())
                lines.push_back(escape_markdown(line));
    }
    std::string quoted;
    for (std::size_t k = 0; k < lines.size(); ++k) {
        if (quoted.size() + lines[k].size() + 1 > max_chars) {
            if (quoted.empty()) // one step longer than the whole quote: its beginning
                quoted = std::string{utf8_prefix(lines[k], max_chars)} + "…";
            quoted += "\n_(suite dans le document)_";
            break;
        }
        quoted += (quoted.empty() ? "" : "\n") + lines[k];
    }
    return quoted;
}

} // namespace opalebot::knowledge
