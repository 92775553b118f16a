// DOCX and PPTX documents (knowledge/src/documents/docx_extractor.cpp, pptx_extractor.cpp): the
// zip, its XML parts and relationships (slide order, notes), whatever their bytes.
#include <cstddef>
#include <cstdint>

#include "document_fuzz_support.hpp"

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    opalebot::fuzz::check_document(opalebot::fuzz::text_of(data, size), "document.docx");
    return 0;
}
