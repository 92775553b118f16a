#pragma once

// Text helpers shared by the extractors of documents (issue 18).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace opalebot::knowledge::documents {

/// Appends `raw` to `out` as one line: whitespace runs (non-breaking spaces included) become one
/// space, ligatures (ﬁ, ﬂ…) their letters, soft hyphens and controls vanish, and invalid UTF-8
/// becomes U+FFFD. A space is never put at the start of `out` nor after one already there.
void append_clean(std::string& out, std::string_view raw);

/// `raw` as append_clean writes it, without a trailing space.
std::string clean_line(std::string_view raw);

/// A step number ("1.", "2)", "Étape 3 :") or a bullet ("•", "-", "–", "▪") opening a line.
struct LineMarker {
    bool numbered = false;
    int number = 0;             ///< when numbered
    std::size_t text_start = 0; ///< where the item's own text starts in the line
};

/// The marker that opens `line` (after leading spaces), or nullopt.
std::optional<LineMarker> line_marker(std::string_view line);

/// Whether `text` is valid UTF-8.
bool is_utf8(std::string_view text);

/// Appends one code point as UTF-8; a surrogate or a value beyond U+10FFFF becomes U+FFFD.
void append_utf8(std::string& out, char32_t code_point);

/// Windows-1252 text (what a French text file that is not UTF-8 usually is) as UTF-8.
std::string windows_1252_to_utf8(std::string_view text);

} // namespace opalebot::knowledge::documents
