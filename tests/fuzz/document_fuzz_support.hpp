#pragma once

// What the document targets share (knowledge/src/documents/): limits small enough that one
// input stays fast, and the properties every extracted document and its passages keep.
#include "knowledge/document.hpp"
#include "knowledge/passage.hpp"

#include <string_view>

#include "fuzz_support.hpp"

namespace opalebot::fuzz {

inline knowledge::DocumentLimits fuzz_limits()
{
    knowledge::DocumentLimits limits;
    limits.max_pages = 50;
    limits.max_unzipped_bytes = 8U << 20U;
    limits.max_text_bytes = 1U << 20U;
    limits.max_table_rows = 200;
    return limits;
}

/// Reads `bytes` as `file_name`: an error has a French message and an errcode; a document's
/// blocks are non-empty lines on its pages, and its passages keep every step.
inline void check_document(std::string_view bytes, std::string_view file_name)
{
    const auto limits = fuzz_limits();
    const auto document = knowledge::extract_document(bytes, file_name, limits);
    if (!document) {
        OPALEBOT_FUZZ_CHECK(!document.error().message.empty());
        OPALEBOT_FUZZ_CHECK(!document.error().errcode.empty());
        return;
    }
    std::size_t text_bytes = 0;
    std::size_t numbered = 0;
    for (const auto& block : document.value().blocks) {
        OPALEBOT_FUZZ_CHECK(!block.text.empty());
        OPALEBOT_FUZZ_CHECK(block.text.find('\n') == std::string::npos);
        OPALEBOT_FUZZ_CHECK(block.text.front() != ' ' && block.text.back() != ' ');
        OPALEBOT_FUZZ_CHECK(block.page >= 0 && block.page <= document.value().page_count);
        OPALEBOT_FUZZ_CHECK(block.kind != knowledge::Block::Kind::table_row ||
                            block.cells.size() <= limits.max_row_cells);
        text_bytes += block.text.size();
        numbered += block.numbered ? 1 : 0;
    }
    OPALEBOT_FUZZ_CHECK(text_bytes <= limits.max_text_bytes);
    std::size_t steps = 0;
    for (const auto& passage : knowledge::split_passages(document.value())) {
        OPALEBOT_FUZZ_CHECK(!passage.text.empty());
        OPALEBOT_FUZZ_CHECK(passage.page <= passage.last_page);
        steps += passage.steps.size();
    }
    OPALEBOT_FUZZ_CHECK(steps <= numbered);
}

} // namespace opalebot::fuzz
