#include "bot/crypto/canonical_json.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using opalebot::bot::crypto::canonical_json;
using opalebot::bot::crypto::signing_bytes;

namespace {

std::string canonical(const std::string& text)
{
    const auto result = canonical_json(nlohmann::json::parse(text));
    REQUIRE(static_cast<bool>(result));
    return result.value();
}

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("canonical json matches the spec appendix vectors")
    {
        CHECK(canonical("{}") == "{}");
        CHECK(canonical(R"({ "one": 1, "two": "Two" })") == R"({"one":1,"two":"Two"})");
        CHECK(canonical(R"({ "b": "2", "a": "1" })") == R"({"a":"1","b":"2"})");
        CHECK(canonical(R"({"b":"2","a":"1"})") == R"({"a":"1","b":"2"})");
        CHECK(canonical(R"({
        "auth": {
            "success": true,
            "mxid": "@john.doe:example.com",
            "profile": {
                "display_name": "John Doe",
                "three_pids": [
                    { "medium": "email", "address": "john.doe@example.org" },
                    { "medium": "msisdn", "address": "123456789" }
                ]
            }
        }
    })") == R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",)"
            R"("three_pids":[{"address":"john.doe@example.org","medium":"email"},)"
            R"({"address":"123456789","medium":"msisdn"}]},"success":true}})");
        CHECK(canonical(R"({ "a": "日本語" })") == R"({"a":"日本語"})");
        CHECK(canonical(R"({ "本": 2, "日": 1 })") == R"({"日":1,"本":2})");
        CHECK(canonical(R"({ "a": "\u65E5" })") == R"({"a":"日"})");
        CHECK(canonical(R"({ "a": null })") == R"({"a":null})");
        CHECK(canonical(R"({ "a": -0, "b": 1e10 })") == R"({"a":0,"b":10000000000})");
    }

    TEST_CASE("canonical json keeps the short escapes and french text")
    {
        CHECK(canonical(R"({"s":"é\u0001\n\"\\/"})") == "{\"s\":\"é\\u0001\\n\\\"\\\\/\"}");
        CHECK(canonical(R"({"n":-9007199254740991,"m":9007199254740991})") ==
              R"({"m":9007199254740991,"n":-9007199254740991})");
    }

    TEST_CASE("canonical json refuses floats and big integers")
    {
        CHECK_FALSE(canonical_json(nlohmann::json::parse(R"({"a":1.5})")));
        CHECK_FALSE(canonical_json(nlohmann::json::parse(R"({"a":9007199254740992})")));
        CHECK_FALSE(canonical_json(nlohmann::json::parse(R"({"a":-9007199254740992})")));
    }

    TEST_CASE("signing bytes leave out signatures and unsigned")
    {
        const auto object = nlohmann::json::parse(
            R"({"b":1,"a":{"x":true},"signatures":{"@u:hs":{"ed25519:D":"sig"}},"unsigned":{"age":3}})");
        const auto bytes = signing_bytes(object);
        REQUIRE(static_cast<bool>(bytes));
        CHECK(bytes.value() == R"({"a":{"x":true},"b":1})");
        CHECK_FALSE(signing_bytes(nlohmann::json::array()));
    }
}
