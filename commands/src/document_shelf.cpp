#include "commands/document_shelf.hpp"

#include "knowledge/document.hpp"
#include "knowledge/passage.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/VariadicBind.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE kb_documents (
    file_name TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
)sql"};
constexpr Schema schema{"kb documents", schema_steps, "kb_documents_schema"};

Error refused(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}};
}

/// The last component of a name as sent (a client may send "C:\\Users\\…\\guide.pdf"), or an
/// Error when it could not be a file of the shelf.
Result<std::string> shelf_name(std::string_view sent)
{
    const auto slash = sent.find_last_of("/\\");
    const auto name = std::string{slash == std::string_view::npos ? sent : sent.substr(slash + 1)};
    if (name.empty() || name.starts_with('.') || name.size() > 150 ||
        std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
        return refused("nom de fichier invalide (« " + name.substr(0, 150) + " »)");
    if (name.ends_with(".yaml") || name.ends_with(".yml"))
        return refused("un fichier .yaml décrit un document, ce n'en est pas un");
    if (!knowledge::format_from_name(name))
        return refused("format non pris en charge : envoyez un PDF, ODT, DOCX, ODP, PPTX, HTML, "
                       "Markdown ou texte");
    return name;
}

/// Writes `bytes` to `target` through a temporary file renamed over it: a crash leaves the old
/// file or the new one, never half of one.
Result<bool> write_whole(const std::filesystem::path& target, std::string_view bytes)
{
    const auto part = target.parent_path() / ("." + target.filename().string() + ".part");
    {
        std::ofstream out{part, std::ios::binary | std::ios::trunc};
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.flush();
        if (!out)
            return Error{Error::Kind::storage, 0, {}, "écriture impossible dans le dossier", {}};
    }
    std::error_code error;
    std::filesystem::rename(part, target, error);
    if (error) {
        std::filesystem::remove(part, error);
        return Error{Error::Kind::storage, 0, {}, "écriture impossible dans le dossier", {}};
    }
    return true;
}

std::string sidecar_text(const knowledge::DocumentMetadata& given)
{
    YAML::Emitter out;
    out << YAML::BeginMap;
    if (!given.titre.empty())
        out << YAML::Key << "titre" << YAML::Value << YAML::DoubleQuoted << given.titre;
    if (!given.adresse.empty())
        out << YAML::Key << "adresse" << YAML::Value << YAML::DoubleQuoted << given.adresse;
    out << YAML::EndMap;
    return std::string{out.c_str()} + "\n";
}

} // namespace

DocumentShelf::DocumentShelf(StateDatabase& state, std::filesystem::path folder)
    : db_(state.connection()), mutex_(state.mutex()), folder_(std::move(folder))
{
    state.migrate(schema);
}

Result<ShelfAddition> DocumentShelf::add(std::string_view file_name, std::string_view bytes,
                                         const std::string& added_by,
                                         const knowledge::DocumentMetadata& given)
{
    auto name = shelf_name(file_name);
    if (!name)
        return name.error();
    // Read before anything is written: a scan, a zip bomb or a locked PDF is refused whole.
    auto document = knowledge::extract_document(bytes, name.value());
    if (!document)
        return refused(document.error().message);
    const auto passages = knowledge::split_passages(document.value());
    if (passages.empty())
        return refused("aucun texte à indexer dans ce document");
    if (!given.adresse.empty() && !given.adresse.starts_with("https://"))
        return refused("le lien du document doit commencer par https://");

    ShelfAddition addition;
    addition.file_name = name.value();
    addition.titre = !given.titre.empty()              ? given.titre
                     : !document.value().title.empty() ? document.value().title
                                                       : name.value();
    addition.pages = document.value().page_count;
    addition.passages = passages.size();
    addition.warnings = document.value().warnings;
    for (const auto& passage : passages)
        if (passage.heading && addition.headings.size() < 5 &&
            std::find(addition.headings.begin(), addition.headings.end(), *passage.heading) ==
                addition.headings.end())
            addition.headings.push_back(*passage.heading);

    const std::lock_guard lock{mutex_};
    std::error_code error;
    std::filesystem::create_directories(folder_, error);
    const auto target = folder_ / name.value();
    addition.replaced = std::filesystem::exists(target, error);
    if (auto written = write_whole(target, bytes); !written)
        return written.error();
    const auto sidecar = folder_ / knowledge::metadata_file_name(name.value());
    if (!given.titre.empty() || !given.adresse.empty()) {
        if (auto written = write_whole(sidecar, sidecar_text(given)); !written) {
            std::filesystem::remove(target, error);
            return written.error();
        }
    } else {
        std::filesystem::remove(sidecar, error); // an older version's description
    }
    try {
        SQLite::Statement insert{db_, "INSERT OR REPLACE INTO kb_documents (file_name, added_by, "
                                      "added_at) VALUES (?, ?, ?)"};
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        SQLite::bind(insert, name.value(), added_by, static_cast<std::int64_t>(now));
        insert.exec();
    } catch (const std::exception& e) {
        std::filesystem::remove(target, error);
        std::filesystem::remove(sidecar, error);
        return storage_error(e, "ajout d'un document", "commands");
    }
    log::get("commands")
        ->info("document {} added to the shelf: {} passages", name.value(), addition.passages);
    return addition;
}

Result<bool> DocumentShelf::remove(std::string_view file_name)
{
    auto name = shelf_name(file_name);
    if (!name)
        return false;
    const std::lock_guard lock{mutex_};
    std::error_code error;
    const auto target = folder_ / name.value();
    const bool there = std::filesystem::is_regular_file(target, error);
    try {
        SQLite::Statement erase{db_, "DELETE FROM kb_documents WHERE file_name = ?"};
        erase.bind(1, name.value());
        const bool listed = erase.exec() > 0;
        if (!there && !listed)
            return false;
    } catch (const std::exception& e) {
        return storage_error(e, "retrait d'un document", "commands");
    }
    std::filesystem::remove(target, error);
    std::filesystem::remove(folder_ / knowledge::metadata_file_name(name.value()), error);
    if (error)
        return Error{
            Error::Kind::storage, 0, {}, "suppression impossible : " + error.message(), {}};
    return true;
}

Result<std::vector<ShelvedDocument>> DocumentShelf::list()
{
    const std::lock_guard lock{mutex_};
    try {
        std::vector<ShelvedDocument> documents;
        SQLite::Statement query{db_, "SELECT file_name, added_by, added_at FROM kb_documents "
                                     "ORDER BY file_name"};
        while (query.executeStep())
            documents.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(),
                                 query.getColumn(2).getInt64()});
        return documents;
    } catch (const std::exception& e) {
        return storage_error(e, "liste des documents", "commands");
    }
}

} // namespace opalebot::commands
