// ODT and ODP documents (knowledge/src/documents/odf_extractor.cpp, zip_archive.cpp): the zip
// and its content.xml and styles.xml, whatever their bytes; the mimetype entry picks the reader.
#include <cstddef>
#include <cstdint>

#include "document_fuzz_support.hpp"

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    opalebot::fuzz::check_document(opalebot::fuzz::text_of(data, size), "document.odt");
    return 0;
}
