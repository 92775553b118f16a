// PDF documents of the knowledge base (knowledge/src/documents/pdf_extractor.cpp, poppler):
// damaged, locked or textless files give an error, never a crash.
#include <cstddef>
#include <cstdint>

#include "document_fuzz_support.hpp"

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    opalebot::fuzz::check_document(opalebot::fuzz::text_of(data, size), "guide.pdf");
    return 0;
}
