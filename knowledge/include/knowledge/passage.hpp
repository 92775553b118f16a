#pragma once

// A document cut into passages, the pieces the search will index and quote (issue 18).
#include "knowledge/document.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::knowledge {

/// A passage: the blocks under one heading, on one page or slide (a list of steps that runs on
/// keeps its passage).
struct Passage {
    std::optional<std::string> heading; ///< the heading in force (the slide's title), if any
    int page = 0;      ///< first PDF page or slide, from 1; 0 for formats without pages
    int last_page = 0; ///< last page or slide: past `page` when a list of steps runs over
    std::string text;  ///< one block a line: "3. Step", "- bullet", "a | b" for a table row
    std::vector<std::string> steps; ///< the items of its first numbered list, when it has one
};

struct PassageOptions {
    /// A passage longer than this is cut at the next block, but never inside a list of steps.
    std::size_t max_chars = 4'000;
};

/// Cuts at each heading, each PDF page and each slide, never inside a numbered list: a list
/// that runs over a page break stays in the passage where it began.
std::vector<Passage> split_passages(const Document& document, const PassageOptions& options = {});

} // namespace opalebot::knowledge
