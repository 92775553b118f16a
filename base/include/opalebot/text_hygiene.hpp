#pragma once

// Text from users, shown again to others or to a terminal (issue 15, item 8).
#include <string>
#include <string_view>

namespace opalebot {

/// `text` with every byte that does not belong to valid UTF-8 (overlong forms, surrogates and
/// code points above U+10FFFF included) replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

/// valid_utf8(text) without the bidirectional controls U+200E, U+200F, U+202A–U+202E and
/// U+2066–U+2069, which reorder how the text and what follows it are displayed: for names and
/// titles stored and shown to others.
std::string clean_name(std::string_view text);

/// The longest prefix of `text` of at most `bytes` bytes that does not cut a UTF-8 character
/// in two.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes);

} // namespace opalebot
