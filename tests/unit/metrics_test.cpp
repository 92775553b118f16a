#include "opalebot/metrics.hpp"

#include "opalebot/bot_metrics.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace opalebot::metrics;

TEST_SUITE("unit")
{
    TEST_CASE("metrics render HELP and TYPE lines then the samples in the text format")
    {
        Registry registry;
        auto& questions = registry.counter("t_questions_total", "Questions reçues.");
        auto& outbox = registry.gauge("t_outbox", "En attente.");
        questions.add();
        questions.add(2);
        outbox.set(4);
        CHECK(registry.render() == "# HELP t_questions_total Questions reçues.\n"
                                   "# TYPE t_questions_total counter\n"
                                   "t_questions_total 3\n"
                                   "# HELP t_outbox En attente.\n"
                                   "# TYPE t_outbox gauge\n"
                                   "t_outbox 4\n");
        outbox.set(1.5);
        CHECK(registry.render().find("t_outbox 1.5\n") != std::string::npos);
    }

    TEST_CASE("label values and help text are escaped")
    {
        Registry registry;
        auto& family = registry.counter_family("t_total", "a \\ b\nc \"d\"", "command");
        family.with("x\"y\\z\nw").add();
        family.with("aide").add(2);
        CHECK(registry.render() == "# HELP t_total a \\\\ b\\nc \"d\"\n"
                                   "# TYPE t_total counter\n"
                                   "t_total{command=\"aide\"} 2\n"
                                   "t_total{command=\"x\\\"y\\\\z\\nw\"} 1\n");
        CHECK(escape_label_value("é\"") == "é\\\"");
        CHECK(escape_help("\"") == "\"");
    }

    TEST_CASE("a histogram gives cumulative buckets up to +Inf with its sum and count")
    {
        Registry registry;
        auto& latency = registry.histogram("t_latency_seconds", "Délai.", {0.5, 1, 2.5});
        for (const double v : {0.1, 0.5, 0.7, 3.0, 100.0})
            latency.observe(v);
        CHECK(registry.render() == "# HELP t_latency_seconds Délai.\n"
                                   "# TYPE t_latency_seconds histogram\n"
                                   "t_latency_seconds_bucket{le=\"0.5\"} 2\n"
                                   "t_latency_seconds_bucket{le=\"1\"} 3\n"
                                   "t_latency_seconds_bucket{le=\"2.5\"} 3\n"
                                   "t_latency_seconds_bucket{le=\"+Inf\"} 5\n"
                                   "t_latency_seconds_sum 104.3\n"
                                   "t_latency_seconds_count 5\n");
    }

    TEST_CASE("special values are written as the text format spells them")
    {
        CHECK(format_value(0) == "0");
        CHECK(format_value(1'700'000'000) == "1700000000");
        CHECK(format_value(0.25) == "0.25");
        CHECK(format_value(-3) == "-3");
        CHECK(format_value(1e300) == "1e+300");
        CHECK(format_value(1.0 / 0.0) == "+Inf");
        CHECK(format_value(-1.0 / 0.0) == "-Inf");
        CHECK(format_value(0.0 / 0.0) == "NaN");
    }

    TEST_CASE("a metric name is checked and never added twice")
    {
        Registry registry;
        static_cast<void>(registry.counter("t_ok_total", "ok"));
        CHECK_THROWS_AS(static_cast<void>(registry.counter("t_ok_total", "again")),
                        std::invalid_argument);
        CHECK_THROWS_AS(static_cast<void>(registry.gauge("9bad", "x")), std::invalid_argument);
        CHECK_THROWS_AS(static_cast<void>(registry.gauge("t-bad", "x")), std::invalid_argument);
        CHECK_THROWS_AS(static_cast<void>(registry.counter_family("t_f", "x", "le")),
                        std::invalid_argument);
        CHECK_THROWS_AS(static_cast<void>(registry.histogram("t_h", "x", {1, 0.5})),
                        std::invalid_argument);
    }

    TEST_CASE("counters and histograms count every observation from many threads")
    {
        Registry registry;
        auto& counter = registry.counter("t_total", "x");
        auto& family = registry.counter_family("t_f_total", "x", "command");
        auto& histogram = registry.histogram("t_h", "x", {1});
        {
            std::vector<std::jthread> threads;
            for (int t = 0; t < 4; ++t)
                threads.emplace_back([&] {
                    for (int i = 0; i < 10'000; ++i) {
                        counter.add();
                        family.with(i % 2 == 0 ? "aide" : "sigle").add();
                        histogram.observe(0.5);
                    }
                });
        }
        CHECK(counter.value() == 40'000);
        CHECK(family.with("aide").value() == 20'000);
        CHECK(histogram.snapshot().cumulative.back() == 40'000);
        CHECK(histogram.snapshot().sum == doctest::Approx(20'000));
    }

    TEST_CASE("the bot metrics are all in the process registry with the tiers at zero")
    {
        auto& m = bot_metrics();
        const auto before = m.questions.value();
        m.questions.add();
        const auto text = process_registry().render();
        CHECK(m.questions.value() == before + 1);
        for (const auto* name :
             {"opalebot_questions_total", "opalebot_answers_total", "opalebot_abstentions_total",
              "opalebot_commands_total", "opalebot_tickets_created_total",
              "opalebot_reminders_sent_total", "opalebot_sync_errors_total",
              "opalebot_http_429_total", "opalebot_outbox_messages",
              "opalebot_last_successful_sync_timestamp_seconds", "opalebot_reply_latency_seconds"})
            CHECK_MESSAGE(text.find(std::string{"# TYPE "} + name + ' ') != std::string::npos,
                          name);
        for (const auto* tier : {"sure", "probable", "none"})
            CHECK(text.find(std::string{"opalebot_answers_total{tier=\""} + tier + "\"}") !=
                  std::string::npos);
        CHECK(text.find("opalebot_reply_latency_seconds_bucket{le=\"+Inf\"}") != std::string::npos);
    }
}
