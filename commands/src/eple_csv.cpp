#include "commands/eple_csv.hpp"

#include "knowledge/text.hpp"

#include <algorithm>
#include <array>
#include <istream>
#include <utility>

namespace opalebot::commands {
namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";
constexpr std::size_t chunk_size = 64 * 1024;

/// Checks UTF-8 a piece at a time: a character may be split between two pieces.
class Utf8Check {
public:
    void feed(std::string_view text)
    {
        for (const char c : text) {
            if (!valid_)
                return;
            const auto byte = static_cast<unsigned char>(c);
            if (missing_ > 0) {
                valid_ = (byte & 0xC0U) == 0x80U;
                --missing_;
            } else if (byte >= 0xC2 && byte <= 0xDF) {
                missing_ = 1;
            } else if (byte >= 0xE0 && byte <= 0xEF) {
                missing_ = 2;
            } else if (byte >= 0xF0 && byte <= 0xF4) {
                missing_ = 3;
            } else {
                valid_ = byte < 0x80;
            }
        }
    }
    bool valid() const { return valid_ && missing_ == 0; } ///< a cut character is invalid

private:
    bool valid_ = true;
    int missing_ = 0; ///< continuation bytes still expected
};

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
void append_windows_1252(std::string& out, std::string_view text)
{
    static constexpr std::array<char32_t, 32> high{
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        append_utf8(out, byte >= 0x80 && byte < 0xA0 ? high[byte - 0x80U] : char32_t{byte});
    }
}

/// Counts `;` and `,` on the first line, outside quotes, a piece at a time. The bytes of the
/// file do (before any conversion): Windows-1252 and UTF-8 agree on ASCII.
class SeparatorCount {
public:
    void feed(std::string_view text)
    {
        for (const char c : text) {
            if (line_done_)
                return;
            if (c == '"')
                quoted_ = !quoted_;
            else if (!quoted_ && (c == '\n' || c == '\r'))
                line_done_ = true;
            else if (!quoted_ && c == ';')
                ++semicolons_;
            else if (!quoted_ && c == ',')
                ++commas_;
        }
    }
    char separator() const { return commas_ > semicolons_ ? ',' : ';'; }

private:
    std::size_t semicolons_ = 0;
    std::size_t commas_ = 0;
    bool quoted_ = false;
    bool line_done_ = false;
};

bool is_blank(const std::vector<std::string>& fields)
{
    return std::all_of(fields.begin(), fields.end(), [](const std::string& f) {
        return f.find_first_not_of(" \t") == std::string::npos;
    });
}

} // namespace

CsvReader::CsvReader(std::string_view text)
{
    start(text);
}

CsvReader::CsvReader(std::istream& in)
{
    const auto origin = in.tellg();
    if (origin == std::istream::pos_type(-1)) { // a pipe: it cannot be read twice
        std::string chunk(chunk_size, '\0');
        while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
            owned_.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        read_failed_ = in.bad();
        start(owned_);
        return;
    }
    scan(in);
    in.clear();
    in.seekg(origin);
    stream_ = &in;
    buffer_.resize(chunk_size);
    read_record(); // the header
}

void CsvReader::start(std::string_view text)
{
    if (text.starts_with(bom))
        text.remove_prefix(bom.size());
    Utf8Check utf8;
    utf8.feed(text);
    windows_1252_ = !utf8.valid();
    SeparatorCount count;
    count.feed(text);
    separator_ = count.separator();
    rest_ = text;
    read_record(); // the header
}

void CsvReader::scan(std::istream& in)
{
    Utf8Check utf8;
    SeparatorCount count;
    std::string chunk(chunk_size, '\0');
    bool first = true;
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
        std::string_view text{chunk.data(), static_cast<std::size_t>(in.gcount())};
        if (first && text.starts_with(bom))
            text.remove_prefix(bom.size());
        first = false;
        utf8.feed(text);
        count.feed(text);
    }
    read_failed_ = in.bad();
    windows_1252_ = !utf8.valid();
    separator_ = count.separator();
}

bool CsvReader::refill()
{
    std::string_view raw;
    while (raw.empty()) {
        if (stream_ != nullptr) {
            if (read_failed_ || !*stream_) { // the end, or a failure that is not the end
                read_failed_ = read_failed_ || !stream_->eof();
                return false;
            }
            stream_->read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
            read_failed_ = stream_->bad();
            raw = {buffer_.data(), static_cast<std::size_t>(stream_->gcount())};
            if (at_start_ && raw.starts_with(bom))
                raw.remove_prefix(bom.size());
            at_start_ = false;
        } else {
            if (rest_.empty())
                return false;
            raw = rest_.substr(0, windows_1252_ ? chunk_size : rest_.size());
            rest_.remove_prefix(raw.size());
        }
    }
    if (windows_1252_) {
        decoded_.clear();
        append_windows_1252(decoded_, raw);
        pending_ = decoded_;
    } else {
        pending_ = raw;
    }
    return true;
}

int CsvReader::get()
{
    if (pending_.empty() && !refill())
        return end_of_text;
    const auto c = static_cast<unsigned char>(pending_.front());
    pending_.remove_prefix(1);
    return c;
}

int CsvReader::peek()
{
    if (pending_.empty() && !refill())
        return end_of_text;
    return static_cast<unsigned char>(pending_.front());
}

bool CsvReader::end_record()
{
    fields_.push_back(std::move(field_));
    field_.clear();
    const bool blank = is_blank(fields_);
    if (!blank && !have_header_) {
        header_ = std::move(fields_);
        header_line_ = record_line_;
        have_header_ = true;
    } else if (!blank) {
        record_.line = record_line_;
        std::swap(record_.fields, fields_);
    }
    fields_.clear();
    record_line_ = line_;
    return !blank;
}

bool CsvReader::read_record()
{
    const auto separator = static_cast<unsigned char>(separator_);
    while (!done_) {
        const int c = get();
        if (c == end_of_text) {
            done_ = true;
            return (!field_.empty() || !fields_.empty()) && end_record();
        }
        if (c == '"' && field_.find_first_not_of(" \t") == std::string::npos) {
            field_.clear(); // spaces before an opening quote are layout, not data
            const int opened_on = line_;
            bool closed = false;
            for (int q = get(); q != end_of_text; q = get()) {
                if (q == '"') {
                    if (peek() == '"') {
                        get();
                        field_ += '"';
                        continue;
                    }
                    closed = true;
                    break;
                }
                if (q == '\n')
                    ++line_;
                if (q != '\r' || peek() != '\n')
                    field_ += static_cast<char>(q); // a CRLF inside quotes becomes LF
            }
            if (!closed) {
                unclosed_quote_line_ = opened_on;
                done_ = true; // what follows cannot be split reliably
                return false;
            }
            continue; // text after the closing quote, if any, is kept as it comes
        }
        if (c == separator) {
            fields_.push_back(std::move(field_));
            field_.clear();
        } else if (c == '\n') {
            ++line_;
            if (end_record())
                return true;
        } else if (c == '\r') {
            if (peek() != '\n') { // CR alone: old Mac line end
                ++line_;
                if (end_record())
                    return true;
            } // else the LF ends the record
        } else {
            field_ += static_cast<char>(c);
        }
    }
    return false;
}

const CsvRecord* CsvReader::next()
{
    return have_header_ && read_record() ? &record_ : nullptr;
}

CsvTable read_all(CsvReader& reader)
{
    CsvTable table;
    table.separator = reader.separator();
    table.header = reader.header();
    table.header_line = reader.header_line();
    table.from_windows_1252 = reader.from_windows_1252();
    while (const auto* record = reader.next())
        table.records.push_back(*record);
    table.unclosed_quote_line = reader.unclosed_quote_line();
    return table;
}

CsvTable parse_csv(std::string_view text)
{
    CsvReader reader{text};
    return read_all(reader);
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
