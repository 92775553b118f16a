#include "zip_archive.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "document_builder.hpp"

namespace opalebot::knowledge::documents {
namespace {

struct SourceFree {
    void operator()(zip_source_t* source) const noexcept { zip_source_free(source); }
};

struct FileClose {
    void operator()(zip_file_t* file) const noexcept { zip_fclose(file); }
};

/// libzip's error record, finalised on every path.
class ZipError {
public:
    ZipError() { zip_error_init(&error_); }
    ~ZipError() { zip_error_fini(&error_); }
    ZipError(const ZipError&) = delete;
    ZipError& operator=(const ZipError&) = delete;
    zip_error_t* get() { return &error_; }

private:
    zip_error_t error_{};
};

Error malformed(std::string detail)
{
    return document_error(document_errors::malformed,
                          "fichier endommagé : archive illisible (" + detail + ")");
}

Error encrypted()
{
    return document_error(document_errors::encrypted,
                          "document chiffré ou protégé par un mot de passe : enregistrez-le "
                          "sans mot de passe");
}

constexpr std::uint64_t ratio_floor = 1U << 20U; // small entries compress well and harmlessly

} // namespace

Result<ZipArchive> ZipArchive::open(std::string_view bytes, const DocumentLimits& limits)
{
    ZipError error;
    std::unique_ptr<zip_source_t, SourceFree> source{
        zip_source_buffer_create(bytes.data(), bytes.size(), 0, error.get())};
    if (!source)
        return malformed(zip_error_strerror(error.get()));
    std::unique_ptr<zip_t, ZipDiscard> archive{
        zip_open_from_source(source.get(), ZIP_RDONLY, error.get())};
    if (!archive)
        return malformed(zip_error_strerror(error.get()));
    (void)source.release(); // the archive owns its source now
    const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
    if (entries < 0)
        return malformed("pas de liste des fichiers");
    if (static_cast<std::uint64_t>(entries) > limits.max_zip_entries)
        return document_error(document_errors::zip_bomb,
                              "archive refusée : " + std::to_string(entries) +
                                  " fichiers à l'intérieur (au plus " +
                                  std::to_string(limits.max_zip_entries) + ")");
    return ZipArchive{std::move(archive), limits};
}

bool ZipArchive::contains(std::string_view name) const
{
    return zip_name_locate(archive_.get(), std::string{name}.c_str(), 0) >= 0;
}

Result<std::string> ZipArchive::read(std::string_view name)
{
    const std::string entry_name{name};
    const zip_int64_t index = zip_name_locate(archive_.get(), entry_name.c_str(), 0);
    if (index < 0) {
        Error missing = malformed("« " + entry_name + " » absent");
        missing.kind = Error::Kind::not_found;
        return missing;
    }
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive_.get(), static_cast<zip_uint64_t>(index), 0, &stat) != 0 ||
        (stat.valid & ZIP_STAT_SIZE) == 0 || (stat.valid & ZIP_STAT_COMP_SIZE) == 0)
        return malformed("« " + entry_name + " » sans taille");
    if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && stat.encryption_method != ZIP_EM_NONE)
        return encrypted();
    const std::uint64_t budget = limits_->max_unzipped_bytes - unzipped_bytes_;
    if (stat.size > budget)
        return document_error(document_errors::zip_bomb,
                              "archive refusée : plus de " +
                                  size_in_words(limits_->max_unzipped_bytes) +
                                  " une fois décompressée");
    if (stat.size > ratio_floor &&
        (stat.comp_size == 0 || stat.size / stat.comp_size > limits_->max_compression_ratio))
        return document_error(document_errors::zip_bomb,
                              "archive refusée : « " + entry_name + " » est compressé plus de " +
                                  std::to_string(limits_->max_compression_ratio) +
                                  " fois (bombe de décompression ?)");
    const std::unique_ptr<zip_file_t, FileClose> file{
        zip_fopen_index(archive_.get(), static_cast<zip_uint64_t>(index), 0)};
    if (!file) {
        const int code = zip_error_code_zip(zip_get_error(archive_.get()));
        if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD)
            return encrypted();
        return malformed(zip_strerror(archive_.get()));
    }
    // Grown as bytes arrive, never from the declared size alone: a header may lie.
    std::string content;
    content.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(stat.size, 1U << 20U)));
    std::array<char, 64 * 1024> chunk{};
    for (;;) {
        const zip_int64_t got = zip_fread(file.get(), chunk.data(), chunk.size());
        if (got < 0)
            return malformed("« " + entry_name + " » : " + zip_file_strerror(file.get()));
        if (got == 0)
            break;
        content.append(chunk.data(), static_cast<std::size_t>(got));
        if (content.size() > stat.size)
            return malformed("« " + entry_name + " » plus grand que annoncé");
    }
    unzipped_bytes_ += content.size();
    return content;
}

std::string resolve_part(std::string_view from_part, std::string_view target)
{
    std::vector<std::string_view> parts;
    const auto push_path = [&](std::string_view path) {
        while (!path.empty()) {
            const auto slash = path.find('/');
            const auto piece = path.substr(0, slash);
            if (piece == "..") {
                if (!parts.empty())
                    parts.pop_back();
            } else if (!piece.empty() && piece != ".") {
                parts.push_back(piece);
            }
            if (slash == std::string_view::npos)
                break;
            path.remove_prefix(slash + 1);
        }
    };
    if (!target.starts_with('/')) {
        const auto folder_end = from_part.rfind('/');
        if (folder_end != std::string_view::npos)
            push_path(from_part.substr(0, folder_end));
    }
    push_path(target);
    std::string resolved;
    for (const auto piece : parts) {
        if (!resolved.empty())
            resolved += '/';
        resolved += piece;
    }
    return resolved;
}

} // namespace opalebot::knowledge::documents
