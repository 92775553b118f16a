#include "untrusted_json.hpp"

#include "bot/crypto/messages.hpp"
#include "bot/events.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <variant>

using namespace opalebot::bot;
using nlohmann::json;

namespace {

/// `{"a":{"a":…{"a":1}…}}` with `depth` objects: built as text, since building it as a json value
/// (or dumping one) is the very recursion under test.
std::string nested(std::size_t depth)
{
    std::string text;
    text.reserve(depth * 6 + 1);
    for (std::size_t i = 0; i < depth; ++i)
        text += R"({"a":)";
    text += '1';
    text.append(depth, '}');
    return text;
}

/// How many objects deep `value` goes, without recursion.
std::size_t depth_of(const json& value)
{
    std::size_t depth = 0;
    for (const json* node = &value; node->is_object(); node = &node->at("a"))
        ++depth;
    return depth;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_untrusted keeps 64 levels and replaces a deeper value by null")
    {
        const auto kept = parse_untrusted(nested(max_json_depth));
        CHECK(depth_of(kept) == max_json_depth);
        const auto cut = parse_untrusted(nested(max_json_depth + 1));
        CHECK(depth_of(cut) == max_json_depth);
        const json* innermost = &cut;
        while (innermost->is_object())
            innermost = &innermost->at("a");
        CHECK(innermost->is_null());
        const auto arrays = parse_untrusted(std::string(100'000, '[') + std::string(100'000, ']'));
        REQUIRE(arrays.is_array());
        CHECK(arrays.dump().size() == 2 * max_json_depth + 4); // 64 arrays around a null
    }

    TEST_CASE("parse_untrusted reads ordinary JSON as json::parse does and refuses what is not")
    {
        const std::string text =
            R"({"s":"é\u00e9","i":-3,"u":18446744073709551615,"f":1.5,"b":true,"n":null,)"
            R"("l":[1,[2,{"k":"v"}],{}],"o":{"x":[]},"dup":1,"dup":2})";
        CHECK(parse_untrusted(text) == json::parse(text));
        CHECK(parse_untrusted("").is_discarded());
        CHECK(parse_untrusted("{\"a\":1} trailing").is_discarded());
        CHECK(parse_untrusted("{\"a\":").is_discarded());
        CHECK(parse_untrusted(nested(100'000).substr(0, 500'000)).is_discarded()); // unclosed
        CHECK(parse_untrusted("\"\xff\"").is_discarded());                         // not UTF-8
        CHECK(parse_untrusted("1e999").is_discarded());
    }

    TEST_CASE("a sync batch with an event nested 100000 deep keeps its other events")
    {
        // issue 15, item 1: this batch overflowed the stack in parse_event, then at every start.
        const std::string deep = nested(100'000);
        const std::string body =
            R"({"next_batch":"s2","to_device":{"events":[)"
            R"({"type":"m.room.encrypted","sender":"@evil:hs.test","content":{"algorithm":)"
            R"("m.olm.v1.curve25519-aes-sha2","sender_key":"K","ciphertext":{"x":{"type":0,)"
            R"("body":"AwgA"}},"deep":)" +
            deep + R"(}},{"type":"m.test","sender":"@a:hs.test","content":{"deep":)" + deep +
            R"(}},{"type":"m.room_key_request","sender":"@b:hs.test","content":{"action":)"
            R"("request_cancellation","request_id":"R","requesting_device_id":"D"}}]},)"
            R"("rooms":{"join":{"!r:hs.test":{"timeline":{"events":[)"
            R"({"type":"m.room.encrypted","event_id":"$deep","sender":"@evil:hs.test",)"
            R"("content":{"algorithm":"m.megolm.v1.aes-sha2","session_id":"SID","ciphertext":)"
            R"("AwgA","m.relates_to":)" +
            deep +
            R"(}},{"type":"m.room.message","event_id":"$ok","sender":"@marie:hs.test",)"
            R"("content":{"msgtype":"m.text","body":"Bonjour"}}]}}}}})";
        const auto batch = parse_sync(body, "@opale:hs.test");
        REQUIRE(static_cast<bool>(batch));
        REQUIRE(batch.value().joined.size() == 1);
        const auto& timeline = batch.value().joined[0].timeline;
        REQUIRE(timeline.size() == 2);
        const auto* encrypted = std::get_if<Encrypted>(&timeline[0].content);
        REQUIRE(encrypted != nullptr);
        CHECK(encrypted->session_id == "SID");
        REQUIRE(encrypted->event != nullptr);
        CHECK(encrypted->event->dump().size() < 10'000); // dumped, copied: bounded, no overflow
        const auto* text = std::get_if<TextMessage>(&timeline[1].content);
        REQUIRE(text != nullptr);
        CHECK(text->body == "Bonjour");

        const auto& to_device = batch.value().crypto.to_device;
        REQUIRE(to_device.size() == 3);
        const auto* olm = std::get_if<crypto::OlmEncrypted>(&to_device[0].content);
        REQUIRE(olm != nullptr);
        CHECK(olm->sender_key == "K");
        const auto* other = std::get_if<crypto::OtherContent>(&to_device[1].content);
        REQUIRE(other != nullptr);
        CHECK(other->content.dump().size() < 10'000);
        CHECK(to_device[2].sender == "@b:hs.test");
    }

    TEST_CASE("a decrypted olm payload nested 100000 deep is read without a crash")
    {
        const auto payload = crypto::parse_olm_payload(
            R"({"type":"m.test","sender":"@a:hs.test","content":{"deep":)" + nested(100'000) +
            "}}");
        REQUIRE(payload.has_value());
        CHECK(payload->type == "m.test");
        const auto* other = std::get_if<crypto::OtherContent>(&payload->content);
        REQUIRE(other != nullptr);
        CHECK(other->content.dump().size() < 10'000);
    }

    TEST_CASE("a timeline event and a messages page nested 100000 deep are read without a crash")
    {
        const std::string event = R"({"type":"m.room.message","event_id":"$m","content":)"
                                  R"({"msgtype":"m.text","body":"ok","x":)" +
                                  nested(100'000) + "}}";
        const auto parsed = parse_timeline_event(event);
        const auto* text = std::get_if<TextMessage>(&parsed.content);
        REQUIRE(text != nullptr);
        CHECK(text->body == "ok");
        const auto page = parse_messages(R"({"end":"e","chunk":[)" + event + "]}");
        REQUIRE(static_cast<bool>(page));
        CHECK(page.value().chunk.size() == 1);
    }
}
