#include "opalebot/log.hpp"

#include "opalebot/text_hygiene.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <string>

namespace opalebot::log {
namespace {

/// Keeps the last warnings and errors in memory (a few hundred bytes) for `!statut`.
class ProblemSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<Problem> last(std::size_t count)
    {
        const std::lock_guard lock{mutex_};
        const auto from = problems_.size() > count ? problems_.size() - count : 0;
        return {problems_.begin() + static_cast<std::ptrdiff_t>(from), problems_.end()};
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        constexpr std::size_t kept = 20;
        constexpr std::size_t max_text = 160;
        const std::string_view payload{msg.payload.data(), msg.payload.size()};
        const auto text = utf8_prefix(payload, max_text);
        Problem problem{msg.time, std::string{msg.logger_name.data(), msg.logger_name.size()},
                        std::string{text}, msg.level >= spdlog::level::err};
        if (text.size() < payload.size())
            problem.text += "…";
        problems_.push_back(std::move(problem));
        if (problems_.size() > kept)
            problems_.pop_front();
    }
    void flush_() override {}

private:
    std::deque<Problem> problems_;
};

std::shared_ptr<ProblemSink> problem_sink()
{
    static const auto sink = [] {
        auto made = std::make_shared<ProblemSink>();
        made->set_level(spdlog::level::warn);
        return made;
    }();
    return sink;
}

} // namespace

void init(std::initializer_list<std::string_view> names)
{
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    for (const auto name : names) {
        const std::string key{name};
        if (spdlog::get(key))
            continue;
        auto logger =
            std::make_shared<spdlog::logger>(key, spdlog::sinks_init_list{sink, problem_sink()});
        spdlog::register_logger(logger);
    }
    spdlog::cfg::load_env_levels(); // SPDLOG_LEVEL=info,knowledge=debug
}

std::vector<Problem> recent_problems(std::size_t count)
{
    return problem_sink()->last(count);
}

std::shared_ptr<spdlog::logger> get(std::string_view name)
{
    if (auto logger = spdlog::get(std::string{name}))
        return logger;
    return spdlog::default_logger();
}

} // namespace opalebot::log
