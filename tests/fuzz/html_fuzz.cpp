// The text formats of the documents (knowledge/src/documents/html_extractor.cpp with libxml2,
// markdown_extractor.cpp with cmark, and plain text): the same input read as each of them.
#include <cstddef>
#include <cstdint>

#include "document_fuzz_support.hpp"

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    opalebot::fuzz::check_document(text, "page.html");
    opalebot::fuzz::check_document(text, "fiche.md");
    opalebot::fuzz::check_document(text, "notes.txt");
    return 0;
}
