#include "opalebot/text_hygiene.hpp"

#include <cstdint>

namespace opalebot {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

/// The length of the valid UTF-8 sequence at the start of `text` and its code point, or 0.
std::size_t sequence_at(std::string_view text, char32_t& code_point)
{
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
    const std::uint8_t lead = byte(0);
    if (lead < 0x80) {
        code_point = lead;
        return 1;
    }
    std::size_t length = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0U) == 0xC0U) {
        length = 2;
        code_point = lead & 0x1FU;
        minimum = 0x80;
    } else if ((lead & 0xF0U) == 0xE0U) {
        length = 3;
        code_point = lead & 0x0FU;
        minimum = 0x800;
    } else if ((lead & 0xF8U) == 0xF0U) {
        length = 4;
        code_point = lead & 0x07U;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (text.size() < length)
        return 0;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xC0U) != 0x80U)
            return 0;
        code_point = (code_point << 6U) | (byte(i) & 0x3FU);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

bool is_bidi_control(char32_t c)
{
    return c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069);
}

std::string cleaned(std::string_view text, bool drop_bidi)
{
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        char32_t code_point = 0;
        const std::size_t length = sequence_at(text, code_point);
        if (length == 0) {
            out += replacement;
            text.remove_prefix(1);
            continue;
        }
        if (!(drop_bidi && is_bidi_control(code_point)))
            out += text.substr(0, length);
        text.remove_prefix(length);
    }
    return out;
}

} // namespace

std::string valid_utf8(std::string_view text)
{
    return cleaned(text, false);
}

std::string clean_name(std::string_view text)
{
    return cleaned(text, true);
}

std::string_view utf8_prefix(std::string_view text, std::size_t bytes)
{
    if (text.size() <= bytes)
        return text;
    while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0U) == 0x80U)
        --bytes;
    return text.substr(0, bytes);
}

} // namespace opalebot
