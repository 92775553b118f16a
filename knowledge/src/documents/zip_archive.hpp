#pragma once

// A zip archive read from memory (ODF and OOXML documents), within the limits against zip bombs.
#include "knowledge/document.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <zip.h>

namespace opalebot::knowledge::documents {

struct ZipDiscard {
    void operator()(zip_t* archive) const noexcept { zip_discard(archive); }
};

/// Reads entries of a zip held in memory (which must outlive it); counts the bytes it
/// decompresses against max_unzipped_bytes and refuses entries compressed beyond reason.
class ZipArchive {
public:
    static Result<ZipArchive> open(std::string_view bytes, const DocumentLimits& limits);

    bool contains(std::string_view name) const;
    /// The entry's bytes; Error::Kind::not_found when the archive has no such entry.
    Result<std::string> read(std::string_view name);

private:
    ZipArchive(std::unique_ptr<zip_t, ZipDiscard> archive, const DocumentLimits& limits)
        : archive_(std::move(archive)), limits_(&limits)
    {}

    std::unique_ptr<zip_t, ZipDiscard> archive_;
    const DocumentLimits* limits_;
    std::uint64_t unzipped_bytes_ = 0;
};

/// `target` of an OOXML relationship, resolved against the folder of the part that names it:
/// ("ppt/slides/slide1.xml", "../notesSlides/notesSlide1.xml") ->
/// "ppt/notesSlides/notesSlide1.xml".
std::string resolve_part(std::string_view from_part, std::string_view target);

} // namespace opalebot::knowledge::documents
