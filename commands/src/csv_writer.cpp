#include "commands/csv_writer.hpp"

#include <cmath>
#include <cstdlib>

namespace opalebot::commands {

CsvWriter::CsvWriter() : text_("\xEF\xBB\xBF")
{}

void CsvWriter::row(const std::vector<std::string>& cells)
{
    for (std::size_t i = 0; i < cells.size(); ++i) {
        if (i > 0)
            text_ += ';';
        text_ += csv_cell(cells[i]);
    }
    text_ += "\r\n";
}

std::string csv_cell(std::string_view value)
{
    std::string cell;
    if (!value.empty() && std::string_view{"=+-@\t\r"}.find(value.front()) != std::string::npos)
        cell += '\'';
    cell += value;
    if (cell.find_first_of(";\"\r\n") == std::string::npos)
        return cell;
    std::string quoted = "\"";
    for (const char c : cell)
        quoted += c == '"' ? std::string{"\"\""} : std::string(1, c);
    return quoted + '"';
}

std::string csv_decimal(double value)
{
    const auto hundredths = std::llround(value * 100.0);
    std::string text = hundredths < 0 ? "-" : "";
    const auto magnitude = std::llabs(hundredths);
    text += std::to_string(magnitude / 100);
    if (const auto cents = magnitude % 100; cents != 0) {
        text += ',';
        text += static_cast<char>('0' + cents / 10);
        if (cents % 10 != 0)
            text += static_cast<char>('0' + cents % 10);
    }
    return text;
}

} // namespace opalebot::commands
