#include "opalebot/log.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace opalebot::log {

void init(std::initializer_list<std::string_view> names)
{
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (const auto name : names) {
        const std::string key{name};
        if (spdlog::get(key))
            continue;
        auto logger = std::make_shared<spdlog::logger>(key, sink);
        spdlog::register_logger(logger);
    }
    spdlog::cfg::load_env_levels(); // SPDLOG_LEVEL=info,knowledge=debug
}

std::shared_ptr<spdlog::logger> get(std::string_view name)
{
    if (auto logger = spdlog::get(std::string{name}))
        return logger;
    return spdlog::default_logger();
}

} // namespace opalebot::log
