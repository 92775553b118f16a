#include "document_text.hpp"

#include <array>
#include <cstdint>

namespace opalebot::knowledge::documents {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

/// The length of the valid UTF-8 sequence at `i`, with its code point; 0 when invalid.
std::size_t decode(std::string_view s, std::size_t i, char32_t& code_point)
{
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char lead = byte(0);
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead < 0x80) {
        code_point = lead;
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        code_point = lead & 0x1FU;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        code_point = lead & 0x0FU;
        low = lead == 0xE0 ? 0xA0 : 0x80;  // overlong
        high = lead == 0xED ? 0x9F : 0xBF; // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        code_point = lead & 0x07U;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + length > s.size())
        return 0;
    for (std::size_t k = 1; k < length; ++k) {
        const unsigned char next = byte(k);
        if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF))
            return 0;
        code_point = (code_point << 6U) | (next & 0x3FU);
    }
    return length;
}

bool is_space_code_point(char32_t c)
{
    return c == 0xA0 || c == 0x85 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_invisible(char32_t c)
{
    return c == 0xAD || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

/// The letters of a typographic ligature (U+FB00…U+FB06), or empty.
std::string_view ligature_letters(char32_t c)
{
    static constexpr std::array<std::string_view, 7> letters{"ff",  "fi", "fl", "ffi",
                                                             "ffl", "st", "st"};
    return c >= 0xFB00 && c <= 0xFB06 ? letters[c - 0xFB00] : std::string_view{};
}

void add_space(std::string& out)
{
    if (!out.empty() && out.back() != ' ')
        out.push_back(' ');
}

bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/// The length of the bullet at the start of `s`, and whether a space must follow it.
std::size_t bullet_length(std::string_view s, bool& needs_space)
{
    needs_space = true;
    if (s.starts_with('-') || s.starts_with('*'))
        return 1;
    // –, — need a space after them, like '-': a dash glued to a word is not a bullet
    for (const std::string_view dash : {"\u2013", "\u2014"})
        if (s.starts_with(dash))
            return dash.size();
    needs_space = false;
    // •, ‣, ▪, ■, ◦, ●, and the Symbol/Wingdings bullets of Word's PDFs (U+F0A7, U+F0B7)
    for (const std::string_view bullet :
         {"\u2022", "\u2023", "\u25AA", "\u25A0", "\u25E6", "\u25CF", "\uF0A7", "\uF0B7"})
        if (s.starts_with(bullet))
            return bullet.size();
    return 0;
}

std::size_t skip_blanks(std::string_view s, std::size_t i)
{
    while (i < s.size()) {
        if (is_blank(s[i]))
            ++i;
        else if (s.substr(i).starts_with("\u00A0"))
            i += 2;
        else
            break;
    }
    return i;
}

/// "Étape 3 :", "Etape 3." or "étape 3 -": the number, with `end` after the punctuation.
std::optional<int> step_word(std::string_view s, std::size_t& end)
{
    std::size_t i = 0;
    if (s.starts_with("\u00C9tape") || s.starts_with("\u00E9tape"))
        i = 6;
    else if (s.starts_with("Etape") || s.starts_with("etape"))
        i = 5;
    else
        return std::nullopt;
    if (i >= s.size() || !is_blank(s[i]))
        return std::nullopt;
    i = skip_blanks(s, i);
    int number = 0;
    const std::size_t digits_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - digits_start < 3)
        number = number * 10 + (s[i++] - '0');
    if (i == digits_start)
        return std::nullopt;
    i = skip_blanks(s, i);
    for (const std::string_view mark : {":", ".", ")", "-", "\u2013"})
        if (s.substr(i).starts_with(mark)) {
            end = i + mark.size();
            return number;
        }
    return std::nullopt;
}

} // namespace

void append_clean(std::string& out, std::string_view raw)
{
    std::size_t i = 0;
    while (i < raw.size()) {
        const auto c = static_cast<unsigned char>(raw[i]);
        if (c < 0x80) {
            if (c <= 0x20 || c == 0x7F)
                add_space(out); // controls too: a stray one must not glue two words
            else
                out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        char32_t code_point = 0;
        const std::size_t length = decode(raw, i, code_point);
        if (length == 0) {
            out.append(replacement);
            ++i;
            continue;
        }
        if (is_space_code_point(code_point))
            add_space(out);
        else if (const auto letters = ligature_letters(code_point); !letters.empty())
            out.append(letters);
        else if (!is_invisible(code_point))
            out.append(raw.substr(i, length));
        i += length;
    }
}

std::string clean_line(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    append_clean(out, raw);
    if (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

std::optional<LineMarker> line_marker(std::string_view line)
{
    const std::size_t start = skip_blanks(line, 0);
    const std::string_view s = line.substr(start);
    if (s.empty())
        return std::nullopt;
    LineMarker marker;
    std::size_t end = 0;
    if (s[0] >= '0' && s[0] <= '9') {
        std::size_t i = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 3)
            marker.number = marker.number * 10 + (s[i++] - '0');
        // "1." or "2)" then a space: "1.5 million" and "2024." are not steps
        if (i == s.size() || (s[i] != '.' && s[i] != ')') || i + 1 == s.size())
            return std::nullopt;
        if (!is_blank(s[i + 1]) && !s.substr(i + 1).starts_with("\u00A0"))
            return std::nullopt;
        marker.numbered = true;
        end = i + 1;
    } else if (const auto number = step_word(s, end)) {
        marker.numbered = true;
        marker.number = *number;
    } else {
        bool needs_space = true;
        end = bullet_length(s, needs_space);
        if (end == 0 || end == s.size())
            return std::nullopt;
        if (needs_space && !is_blank(s[end]) && !s.substr(end).starts_with("\u00A0"))
            return std::nullopt;
    }
    marker.text_start = skip_blanks(line, start + end);
    if (marker.text_start >= line.size())
        return std::nullopt; // a marker alone is not an item
    return marker;
}

bool is_utf8(std::string_view text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        char32_t code_point = 0;
        const std::size_t length = decode(text, i, code_point);
        if (length == 0)
            return false;
        i += length;
    }
    return true;
}

void append_utf8(std::string& out, char32_t code_point)
{
    if ((code_point >= 0xD800 && code_point <= 0xDFFF) || code_point > 0x10FFFF)
        code_point = 0xFFFD; // a surrogate or beyond Unicode: no character
    if (code_point < 0x80) {
        out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
        out.push_back(static_cast<char>(0xC0U | (code_point >> 6U)));
        out.push_back(static_cast<char>(0x80U | (code_point & 0x3FU)));
    } else if (code_point < 0x10000) {
        out.push_back(static_cast<char>(0xE0U | (code_point >> 12U)));
        out.push_back(static_cast<char>(0x80U | ((code_point >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (code_point & 0x3FU)));
    } else {
        out.push_back(static_cast<char>(0xF0U | (code_point >> 18U)));
        out.push_back(static_cast<char>(0x80U | ((code_point >> 12U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | ((code_point >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (code_point & 0x3FU)));
    }
}

std::string windows_1252_to_utf8(std::string_view text)
{
    // 0x80…0x9F are typographic signs in Windows-1252 (€, ’, «, œ…), not C1 controls
    static constexpr std::array<char16_t, 32> high{
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        append_utf8(out, c >= 0x80 && c < 0xA0 ? high[c - 0x80] : c);
    }
    return out;
}

} // namespace opalebot::knowledge::documents
