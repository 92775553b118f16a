// The typed to-device messages and key-server answers: what a peer or a server may send that is
// missing, of another type, malformed or absurdly nested reads as empty or is skipped, and never
// throws or crashes.

#include "bot/crypto/messages.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <variant>

namespace crypto = opalebot::bot::crypto;
using nlohmann::json;

namespace {

/// `depth` nested arrays around a string, as text: parsing it does not recurse, copying does.
std::string nested(std::size_t depth)
{
    return std::string(depth, '[') + "\"x\"" + std::string(depth, ']');
}

template <class T>
const T& content_as(const crypto::ToDeviceContent& content)
{
    REQUIRE(std::holds_alternative<T>(content));
    return std::get<T>(content);
}

crypto::ToDeviceEvent to_device(const std::string& text)
{
    return crypto::parse_to_device_event(json::parse(text));
}

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("an olm to-device event is read into its typed content")
    {
        const auto event = to_device(R"({"type":"m.room.encrypted","sender":"@a:hs.test",
            "content":{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"curveA",
                       "ciphertext":{"curveB":{"type":0,"body":"AwoL"},
                                     "curveC":{"type":1,"body":"AwgA"}}}})");
        CHECK(event.type == "m.room.encrypted");
        CHECK(event.sender == "@a:hs.test");
        const auto& olm = content_as<crypto::OlmEncrypted>(event.content);
        CHECK(olm.algorithm == "m.olm.v1.curve25519-aes-sha2");
        CHECK(olm.sender_key == "curveA");
        REQUIRE(olm.ciphertext.size() == 2);
        CHECK(olm.ciphertext.at("curveB").type == 0);
        CHECK(olm.ciphertext.at("curveB").body == "AwoL");
        CHECK(olm.ciphertext.at("curveC").type == 1);
    }

    TEST_CASE("malformed olm ciphertexts are skipped and the others kept")
    {
        const auto event = to_device(R"({"type":"m.room.encrypted","sender":"@a:hs.test",
            "content":{"algorithm":7,"sender_key":["x"],
                       "ciphertext":{"no_type":{"body":"AwoL"},
                                     "string_type":{"type":"0","body":"AwoL"},
                                     "negative":{"type":-1,"body":"AwoL"},
                                     "no_body":{"type":0},
                                     "body_number":{"type":0,"body":12},
                                     "not_object":"AwoL",
                                     "good":{"type":1,"body":"AwgA"}}}})");
        const auto& olm = content_as<crypto::OlmEncrypted>(event.content);
        CHECK(olm.algorithm.empty());
        CHECK(olm.sender_key.empty());
        REQUIRE(olm.ciphertext.size() == 1);
        CHECK(olm.ciphertext.contains("good"));

        const auto no_map = to_device(R"({"type":"m.room.encrypted","content":{"ciphertext":[]}})");
        CHECK(content_as<crypto::OlmEncrypted>(no_map.content).ciphertext.empty());
    }

    TEST_CASE("to-device events with missing fields or wrong types read as empty")
    {
        for (const auto* text :
             {R"({})", R"([])", R"("m.room.encrypted")", R"(null)", R"({"type":12,"sender":{}})",
              R"({"type":"m.room.encrypted","sender":"@a:hs.test","content":"AwoL"})",
              R"({"type":"m.room.encrypted","sender":"@a:hs.test","content":null})",
              R"({"type":"m.room_key","content":[1,2]})"}) {
            CAPTURE(text);
            const auto event = to_device(text);
            CHECK(std::holds_alternative<crypto::OtherContent>(event.content));
            CHECK(std::get<crypto::OtherContent>(event.content).content == json::object());
        }
        const auto event = to_device(R"({"type":12,"sender":["@a:hs.test"],"content":{}})");
        CHECK(event.type.empty());
        CHECK(event.sender.empty());
    }

    TEST_CASE("an unknown to-device type keeps its content")
    {
        const auto event =
            to_device(R"({"type":"m.test","sender":"@a:hs.test","content":{"n":3,"l":[1]}})");
        const auto& other = content_as<crypto::OtherContent>(event.content);
        CHECK(other.content.at("n") == 3);
        CHECK(other.content.at("l") == json::array({1}));
    }

    TEST_CASE("room keys and key requests and withheld notices are typed")
    {
        const auto key = to_device(R"({"type":"m.room_key","sender":"@a:hs.test",
            "content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test",
                       "session_id":"S","session_key":"K"}})");
        const auto& room_key = content_as<crypto::RoomKey>(key.content);
        CHECK(room_key.algorithm == "m.megolm.v1.aes-sha2");
        CHECK(room_key.room_id == "!r:hs.test");
        CHECK(room_key.session_id == "S");
        CHECK(room_key.session_key == "K");

        const auto forwarded = to_device(R"({"type":"m.forwarded_room_key","sender":"@a:hs.test",
            "content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test",
                       "session_id":"S","session_key":"E","sender_key":"curveC",
                       "sender_claimed_ed25519_key":"edC",
                       "forwarding_curve25519_key_chain":["curveB",4,"curveD"]}})");
        const auto& fwd = content_as<crypto::ForwardedRoomKey>(forwarded.content);
        CHECK(fwd.key.session_key == "E");
        CHECK(fwd.key.room_id == "!r:hs.test");
        CHECK(fwd.sender_key == "curveC");
        CHECK(fwd.sender_claimed_ed25519_key == "edC");
        CHECK(fwd.forwarding_curve25519_key_chain == std::vector<std::string>{"curveB", "curveD"});

        const auto request = to_device(R"({"type":"m.room_key_request","sender":"@b:hs.test",
            "content":{"action":"request","requesting_device_id":"DEV2","request_id":"r1",
                       "body":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test",
                               "sender_key":"curveA","session_id":"S"}}})");
        const auto& asked = content_as<crypto::RoomKeyRequest>(request.content);
        CHECK(asked.action == "request");
        CHECK(asked.requesting_device_id == "DEV2");
        CHECK(asked.request_id == "r1");
        CHECK(asked.algorithm == "m.megolm.v1.aes-sha2");
        CHECK(asked.room_id == "!r:hs.test");
        CHECK(asked.sender_key == "curveA");
        CHECK(asked.session_id == "S");

        const auto no_body =
            to_device(R"({"type":"m.room_key_request","content":{"action":"request","body":"S"}})");
        CHECK(content_as<crypto::RoomKeyRequest>(no_body.content).session_id.empty());

        const auto withheld = to_device(R"({"type":"m.room_key.withheld","sender":"@a:hs.test",
            "content":{"room_id":"!r:hs.test","session_id":"S","code":"m.unverified",
                       "reason":1}})");
        const auto& refused = content_as<crypto::RoomKeyWithheld>(withheld.content);
        CHECK(refused.code == "m.unverified");
        CHECK(refused.session_id == "S");
        CHECK(refused.reason.empty());
    }

    TEST_CASE("an olm payload needs a string type and a content")
    {
        for (const auto* text :
             {"", "not json", "[]", "null", R"({"content":{}})", R"({"type":3,"content":{}})",
              R"({"type":"m.dummy"})", "{\"type\":"}) {
            CAPTURE(text);
            CHECK_FALSE(crypto::parse_olm_payload(text).has_value());
        }
        const auto payload = crypto::parse_olm_payload(
            R"({"type":"m.room_key","sender":"@a:hs.test","sender_device":"DEV",
                "keys":{"ed25519":"edA"},"recipient":"@b:hs.test",
                "recipient_keys":{"ed25519":"edB"},
                "content":{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!r:hs.test",
                           "session_id":"S","session_key":"K"}})");
        REQUIRE(payload.has_value());
        CHECK(payload->type == "m.room_key");
        CHECK(payload->sender == "@a:hs.test");
        CHECK(payload->sender_device == "DEV");
        CHECK(payload->sender_ed25519 == "edA");
        CHECK(payload->recipient == "@b:hs.test");
        CHECK(payload->recipient_ed25519 == "edB");
        CHECK(content_as<crypto::RoomKey>(payload->content).session_key == "K");

        const auto odd = crypto::parse_olm_payload(
            R"({"type":"m.dummy","sender":1,"keys":"edA","recipient_keys":[],"content":"x"})");
        REQUIRE(odd.has_value());
        CHECK(content_as<crypto::OtherContent>(odd->content).content == json::object());
        CHECK(odd->sender.empty());
        CHECK(odd->sender_ed25519.empty());
        CHECK(odd->recipient_ed25519.empty());
    }

    TEST_CASE("a keys query response without device_keys is an error")
    {
        for (const auto* text : {R"({})", R"([])", R"({"device_keys":[]})", R"("x")"}) {
            CAPTURE(text);
            const auto parsed = crypto::parse_keys_query_response(json::parse(text));
            REQUIRE_FALSE(parsed);
            CHECK(parsed.error().kind == opalebot::Error::Kind::parse);
        }
    }

    TEST_CASE("a keys query response keeps listed devices and skips malformed users and keys")
    {
        const auto parsed = crypto::parse_keys_query_response(json::parse(R"({
            "device_keys":{
                "@a:hs.test":{
                    "DEV":{"user_id":"@a:hs.test","device_id":"DEV",
                           "keys":{"curve25519:DEV":"curveA","ed25519:DEV":"edA"},
                           "signatures":{"@a:hs.test":{"ed25519:DEV":"sig"}}},
                    "BROKEN":"not an object",
                    "ODD":{"user_id":3,"device_id":"ODD","keys":{"curve25519:ODD":5}}},
                "@b:hs.test":["not","an","object"]},
            "master_keys":{
                "@a:hs.test":{"user_id":"@a:hs.test","usage":["master"],
                              "keys":{"ed25519:M":"M"}},
                "@c:hs.test":{"user_id":"@c:hs.test","keys":{"ed25519:M":7}},
                "@d:hs.test":"no"},
            "self_signing_keys":[]
        })"));
        REQUIRE(static_cast<bool>(parsed));
        const auto& response = parsed.value();
        REQUIRE(response.device_keys.size() == 1);
        const auto& devices = response.device_keys.at("@a:hs.test");
        REQUIRE(devices.size() == 3); // listed, even when unreadable: the engine keeps them
        const auto& dev = devices.at("DEV");
        CHECK(dev.user_id == "@a:hs.test");
        CHECK(dev.device_id == "DEV");
        CHECK(dev.curve25519 == "curveA");
        CHECK(dev.ed25519 == "edA");
        CHECK(dev.object.at("signatures").contains("@a:hs.test"));
        CHECK(devices.at("BROKEN").user_id.empty());
        CHECK(devices.at("BROKEN").object.is_null());
        CHECK(devices.at("ODD").user_id.empty());
        CHECK(devices.at("ODD").curve25519.empty());
        REQUIRE(response.master_keys.size() == 1);
        const auto& master = response.master_keys.at("@a:hs.test");
        CHECK(master.usage == std::vector<std::string>{"master"});
        CHECK(master.keys.at("ed25519:M") == "M");
        CHECK(response.self_signing_keys.empty());
    }

    TEST_CASE("a keys claim response skips malformed devices and keeps the first key")
    {
        const auto response = crypto::parse_keys_claim_response(json::parse(R"({
            "one_time_keys":{
                "@a:hs.test":{
                    "DEV":{"signed_curve25519:BB":{"key":"k2"},
                           "signed_curve25519:AA":{"key":"k1","signatures":{}}},
                    "EMPTY":{},
                    "STRING":"x",
                    "NOT_OBJECT":{"signed_curve25519:AA":"k1"}},
                "@b:hs.test":[]},
            "failures":{}
        })"));
        REQUIRE(response.one_time_keys.size() == 1);
        const auto& devices = response.one_time_keys.at("@a:hs.test");
        REQUIRE(devices.size() == 1);
        const auto& key = devices.at("DEV");
        CHECK(key.key_id == "signed_curve25519:AA");
        CHECK(key.key == "k1");
        CHECK(key.object.contains("signatures"));

        for (const auto* text : {R"({})", R"([])", R"({"one_time_keys":"x"})", R"(null)"})
            CHECK(crypto::parse_keys_claim_response(json::parse(text)).one_time_keys.empty());
    }

    TEST_CASE("key upload counts and key changes skip what is not theirs")
    {
        const auto counts = crypto::parse_keys_upload_response(json::parse(
            R"({"one_time_key_counts":{"signed_curve25519":12,"curve25519":"3","x":1.5}})"));
        CHECK(counts.one_time_key_counts.size() == 1);
        CHECK(counts.signed_curve25519_count() == 12);
        CHECK(crypto::parse_keys_upload_response(json::parse("[]")).signed_curve25519_count() == 0);

        const auto changes = crypto::parse_keys_changes(
            json::parse(R"({"changed":["@a:hs.test",2,null],"left":"@b:hs.test"})"));
        CHECK(changes.changed == std::vector<std::string>{"@a:hs.test"});
        CHECK(changes.left.empty());
    }

    TEST_CASE("deep nesting never crashes the message parsers")
    {
        const auto deep = nested(100'000);

        const auto dummy =
            to_device(R"({"type":"m.dummy","sender":"@a:hs.test","content":{"x":)" + deep + "}}");
        CHECK(dummy.type == "m.dummy");
        CHECK(content_as<crypto::OtherContent>(dummy.content).content == json::object());
        const auto olm =
            to_device(R"({"type":"m.room.encrypted","content":{"ciphertext":{"c":)" + deep + "}}}");
        CHECK(content_as<crypto::OlmEncrypted>(olm.content).ciphertext.empty());
        CHECK(std::holds_alternative<crypto::OtherContent>(to_device(deep).content));
        // a little nesting is fine
        const auto shallow = to_device(R"({"type":"m.test","content":{"x":)" + nested(10) + "}}");
        CHECK(content_as<crypto::OtherContent>(shallow.content).content.contains("x"));

        const auto payload = crypto::parse_olm_payload(
            R"({"type":"m.test","sender":"@a:hs.test","content":{"x":)" + deep + "}}");
        REQUIRE(payload.has_value()); // parse_untrusted cut it to 64 levels (issue 15)
        CHECK(content_as<crypto::OtherContent>(payload->content).content.dump().size() < 200);
        CHECK_FALSE(crypto::parse_olm_payload(deep).has_value());

        const auto query = crypto::parse_keys_query_response(json::parse(
            R"({"device_keys":{"@a:hs.test":{"DEV":{"user_id":"@a:hs.test","device_id":"DEV",
                "unsigned":)" +
            deep + R"(}}},"master_keys":{"@a:hs.test":{"user_id":"@a:hs.test","x":)" + deep +
            "}}}"));
        REQUIRE(static_cast<bool>(query));
        CHECK(query.value().device_keys.at("@a:hs.test").at("DEV").user_id.empty());
        CHECK(query.value().master_keys.empty());

        const auto claim = crypto::parse_keys_claim_response(json::parse(
            R"({"one_time_keys":{"@a:hs.test":{"DEV":{"signed_curve25519:AA":{"key":"k",
                "x":)" +
            deep + "}}}}}"));
        CHECK(claim.one_time_keys.empty());
    }
}
