#include "bot/console.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

using namespace opalebot::bot;

TEST_SUITE("unit")
{
    TEST_CASE("the console answers each line and skips blank ones")
    {
        std::istringstream in{"!aide\n\n  \r\nbonjour\r\n"};
        std::ostringstream out;
        std::vector<std::string> seen;
        run_console(in, out, [&](std::string_view text) -> std::optional<std::string> {
            seen.emplace_back(text);
            if (text == "bonjour")
                return std::nullopt;
            return "**Commandes**";
        });
        CHECK(seen == std::vector<std::string>{"!aide", "bonjour"});
        CHECK(out.str() == "Commandes\n\n(pas de réponse)\n\n");
    }

    TEST_CASE("the console prints what its tick posts before and between the lines")
    {
        std::istringstream in{"un\ndeux\n"};
        std::ostringstream out;
        int ticks = 0;
        run_console(
            in, out, [](std::string_view text) { return std::optional<std::string>{text}; },
            [&] {
                ++ticks;
                return ticks == 1 ? std::vector<std::string>{"⏰ **Rappel** : la DDFIP"}
                                  : std::vector<std::string>{};
            },
            std::chrono::milliseconds{1});
        CHECK(ticks >= 1);
        CHECK(out.str().rfind("⏰ Rappel : la DDFIP\n\nun\n\ndeux\n\n", 0) == 0);
    }
}
