#include "bot/console.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/temp_dir.hpp"

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

    TEST_CASE("the console writes a reply's file in its folder without overwriting")
    {
        const opalebot::testing::TempDir dir;
        const auto folder = dir.path() / "fichiers";
        const auto first = save_console_file(folder, "vague-6.csv", "a;b\r\n");
        REQUIRE(static_cast<bool>(first));
        CHECK(first.value() == folder / "vague-6.csv");
        CHECK(opalebot::testing::read_file(first.value().string()) == "a;b\r\n");
        const auto second = save_console_file(folder, "vague-6.csv", "c");
        REQUIRE(static_cast<bool>(second));
        CHECK(second.value() == folder / "vague-6-2.csv");
        CHECK(opalebot::testing::read_file(first.value().string()) == "a;b\r\n");
        // a name never leaves the folder
        const auto escaped = save_console_file(folder, "../../etc/passwd", "x");
        REQUIRE(static_cast<bool>(escaped));
        CHECK(escaped.value() == folder / "passwd");
        const auto dots = save_console_file(folder, "..", "x");
        REQUIRE(static_cast<bool>(dots));
        CHECK(dots.value() == folder / "fichier");
    }
}
