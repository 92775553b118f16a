#include "commands/eple_csv.hpp"

#include "knowledge/text.hpp"

#include <algorithm>
#include <array>

namespace opalebot::commands {
namespace {

bool is_valid_utf8(std::string_view text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 1;
        if (lead >= 0x80) {
            if (lead >= 0xC2 && lead <= 0xDF)
                length = 2;
            else if (lead >= 0xE0 && lead <= 0xEF)
                length = 3;
            else if (lead >= 0xF0 && lead <= 0xF4)
                length = 4;
            else
                return false;
            if (i + length > text.size())
                return false;
            for (std::size_t k = 1; k < length; ++k)
                if ((static_cast<unsigned char>(text[i + k]) & 0xC0U) != 0x80U)
                    return false;
        }
        i += length;
    }
    return true;
}

void append_utf8(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0U | (cp >> 6U));
        out += static_cast<char>(0x80U | (cp & 0x3FU));
    } else {
        out += static_cast<char>(0xE0U | (cp >> 12U));
        out += static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU));
        out += static_cast<char>(0x80U | (cp & 0x3FU));
    }
}

/// Windows-1252 to UTF-8; its bytes 0x80–0x9F are not Latin-1 (€, œ, typographic quotes…).
std::string from_windows_1252(std::string_view text)
{
    static constexpr std::array<char32_t, 32> high{
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        append_utf8(out, byte >= 0x80 && byte < 0xA0 ? high[byte - 0x80U] : char32_t{byte});
    }
    return out;
}

char detect_separator(std::string_view text)
{
    std::size_t semicolons = 0;
    std::size_t commas = 0;
    bool quoted = false;
    for (const char c : text) {
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == '\n' || c == '\r'))
            break;
        else if (!quoted && c == ';')
            ++semicolons;
        else if (!quoted && c == ',')
            ++commas;
    }
    return commas > semicolons ? ',' : ';';
}

bool is_blank(const std::vector<std::string>& fields)
{
    return std::all_of(fields.begin(), fields.end(), [](const std::string& f) {
        return f.find_first_not_of(" \t") == std::string::npos;
    });
}

} // namespace

CsvTable parse_csv(std::string_view input)
{
    CsvTable table;
    std::string converted;
    if (input.substr(0, 3) == "\xEF\xBB\xBF")
        input.remove_prefix(3);
    if (!is_valid_utf8(input)) {
        converted = from_windows_1252(input);
        input = converted;
        table.from_windows_1252 = true;
    }
    table.separator = detect_separator(input);

    bool have_header = false;
    std::vector<std::string> fields;
    std::string field;
    int line = 1;
    int record_line = 1;
    const auto end_record = [&] {
        fields.push_back(std::move(field));
        field.clear();
        if (!is_blank(fields)) {
            if (!have_header) {
                table.header = std::move(fields);
                table.header_line = record_line;
                have_header = true;
            } else {
                table.records.push_back(CsvRecord{record_line, std::move(fields)});
            }
        }
        fields.clear();
        record_line = line;
    };

    std::size_t i = 0;
    while (i < input.size()) {
        const char c = input[i];
        if (c == '"' && field.find_first_not_of(" \t") == std::string::npos) {
            field.clear(); // spaces before an opening quote are layout, not data
            const int opened_on = line;
            ++i;
            bool closed = false;
            while (i < input.size()) {
                if (input[i] == '"') {
                    if (i + 1 < input.size() && input[i + 1] == '"') {
                        field += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                if (input[i] == '\n')
                    ++line;
                if (input[i] != '\r' || i + 1 >= input.size() || input[i + 1] != '\n')
                    field += input[i]; // a CRLF inside quotes becomes LF
                ++i;
            }
            if (!closed) {
                table.unclosed_quote_line = opened_on;
                return table; // what follows cannot be split reliably
            }
            continue; // text after the closing quote, if any, is kept as it comes
        }
        if (c == table.separator) {
            fields.push_back(std::move(field));
            field.clear();
        } else if (c == '\n') {
            ++line;
            end_record();
        } else if (c == '\r') {
            if (i + 1 >= input.size() || input[i + 1] != '\n') { // CR alone: old Mac line end
                ++line;
                end_record();
            } // else the LF ends the record
        } else {
            field += c;
        }
        ++i;
    }
    if (!field.empty() || !fields.empty())
        end_record();
    return table;
}

std::string normalize_column_name(std::string_view name)
{
    const auto folded = knowledge::fold(name);
    std::string out;
    bool gap = false;
    for (const char c : folded) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (gap && !out.empty())
                out += '_';
            out += c;
            gap = false;
        } else {
            gap = true;
        }
    }
    return out;
}

} // namespace opalebot::commands
