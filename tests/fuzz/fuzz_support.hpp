#pragma once

// What every fuzz target shares: quiet logs, the input as text, and a check that crashes the
// way libFuzzer records (an abort, with the input written to a crash- file).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

namespace opalebot::fuzz {

/// log::get() falls back to the default logger for a name log::init() did not create: here a
/// null sink at trace level, so that every log line is still formatted from the input (the code
/// under test) but nothing is written (stderr would slow the fuzzer down a hundredfold).
inline int discard_logs()
{
    auto logger =
        std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
    return 0;
}

inline std::string_view text_of(const std::uint8_t* data, std::size_t size)
{
    return {reinterpret_cast<const char*>(data), size};
}

/// A property of the code under test that failed: libFuzzer reports the abort and keeps the input.
[[noreturn]] inline void property_failed(const char* what, const char* file, int line)
{
    std::fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
    std::abort();
}

} // namespace opalebot::fuzz

#define OPALEBOT_FUZZ_CHECK(condition)                                                             \
    ((condition) ? void(0) : ::opalebot::fuzz::property_failed(#condition, __FILE__, __LINE__))

/// Defines LLVMFuzzerInitialize: the logs of every target are discarded.
#define OPALEBOT_FUZZ_QUIET_LOGS()                                                                 \
    extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/)                           \
    {                                                                                              \
        return ::opalebot::fuzz::discard_logs();                                                   \
    }
