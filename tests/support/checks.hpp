#pragma once

// Small helpers the unit tests share, instead of a copy per file.

#include "opalebot/result.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace opalebot::testing {

/// True when `part` occurs in `text`.
inline bool contains(std::string_view text, std::string_view part)
{
    return text.find(part) != std::string_view::npos;
}

/// The value of a Result that must hold one: the test stops with the error's message otherwise.
template <class T>
T value(Result<T> result)
{
    if (!result)
        FAIL(result.error().message);
    return std::move(result).value();
}

/// A UTC instant written as a calendar date and time.
inline std::chrono::sys_seconds utc(int y, unsigned m, unsigned d, int h, int min = 0)
{
    using namespace std::chrono;
    return sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{min};
}

/// The bytes of the file at `path`; the test stops when it cannot be read.
inline std::string read_file(const std::string& path)
{
    std::ifstream file{path, std::ios::binary};
    REQUIRE_MESSAGE(file, path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

} // namespace opalebot::testing
