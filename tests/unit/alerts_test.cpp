#include "bot/alerts.hpp"

#include <doctest/doctest.h>

using opalebot::bot::Alerts;
using namespace std::chrono_literals;

TEST_SUITE("unit")
{
    TEST_CASE("an alert kind is posted at most every ten minutes with its count")
    {
        Alerts alerts;
        const Alerts::TimePoint t0{std::chrono::hours{500'000}};
        CHECK(alerts.take_due(t0).empty());
        alerts.raise("identity", "@marie:hs.test");
        alerts.raise("identity", "@marie:hs.test");
        alerts.raise("identity", "@paul:hs.test");
        auto due = alerts.take_due(t0);
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "identity");
        CHECK(due[0].count == 3);
        CHECK(due[0].details == std::vector<std::string>{"@marie:hs.test", "@paul:hs.test"});

        // a storm within ten minutes: counted, posted once when the ten minutes are up
        for (int n = 0; n < 7; ++n)
            alerts.raise("identity", "@u" + std::to_string(n) + ":hs.test");
        alerts.raise("set-aside", "$poison");
        due = alerts.take_due(t0 + 9min);
        REQUIRE(due.size() == 1); // another kind is not held back
        CHECK(due[0].kind == "set-aside");
        CHECK(alerts.take_due(t0 + 9min + 59s).empty());
        due = alerts.take_due(t0 + 10min);
        REQUIRE(due.size() == 1);
        CHECK(due[0].count == 7);
        CHECK(due[0].details.size() == 5);          // the first five named
        CHECK(alerts.take_due(t0 + 30min).empty()); // nothing new: nothing said
    }
}
