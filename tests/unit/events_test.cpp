#include "bot/events.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

using namespace opalebot::bot;
using nlohmann::json;

namespace {

const std::string me = "@opale:hs.test";

json message(const std::string& id, const std::string& body, json extra = json::object())
{
    json content{{"msgtype", "m.text"}, {"body", body}};
    content.update(extra);
    return {{"type", "m.room.message"},
            {"event_id", id},
            {"sender", "@marie:hs.test"},
            {"origin_server_ts", 1'700'000'000'000},
            {"content", content}};
}

SyncBatch parse(const json& body)
{
    auto result = parse_sync(body.dump(), me);
    REQUIRE(static_cast<bool>(result));
    return std::move(result).value();
}

const JoinedRoom& only_room(const SyncBatch& batch)
{
    REQUIRE(batch.joined.size() == 1);
    return batch.joined[0];
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_sync reads next_batch and a text message")
    {
        json timeline = json::array({message(
            "$q1", "bonjour",
            {{"format", "org.matrix.custom.html"}, {"formatted_body", "<b>bonjour</b>"}})});
        timeline[0]["unsigned"] = {{"age", 1234}};
        const auto batch = parse(
            {{"next_batch", "s42"},
             {"rooms", {{"join", {{"!r:hs.test", {{"timeline", {{"events", timeline}}}}}}}}}});
        CHECK(batch.next_batch == "s42");
        const auto& room = only_room(batch);
        CHECK(room.room_id == "!r:hs.test");
        CHECK_FALSE(room.limited);
        CHECK_FALSE(room.joined_member_count.has_value());
        REQUIRE(room.timeline.size() == 1);
        const auto& event = room.timeline[0];
        CHECK(event.event_id == "$q1");
        CHECK(event.type == "m.room.message");
        CHECK(event.sender == "@marie:hs.test");
        CHECK(event.origin_server_ts == 1'700'000'000'000);
        REQUIRE(event.age.has_value());
        CHECK(*event.age == 1234);
        CHECK_FALSE(event.has_transaction_id);
        const auto* text = std::get_if<TextMessage>(&event.content);
        REQUIRE(text != nullptr);
        CHECK(text->msgtype == "m.text");
        CHECK(text->body == "bonjour");
        CHECK(text->formatted_body == "<b>bonjour</b>");
        CHECK_FALSE(text->mentions.has_value());
        CHECK_FALSE(text->is_edit);
    }

    TEST_CASE("parse_sync reads a screenshot sent as m.image in a thread")
    {
        json image = message("$img", "capture.png",
                             {{"msgtype", "m.image"},
                              {"url", "mxc://hs.test/png"},
                              {"info", {{"mimetype", "image/png"}, {"size", 2048}}},
                              {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$root"}}}});
        const auto batch =
            parse({{"next_batch", "s1"},
                   {"rooms", {{"join", {{"!r:hs.test", {{"timeline", {{"events", {image}}}}}}}}}}});
        const auto* file = std::get_if<TextMessage>(&only_room(batch).timeline.at(0).content);
        REQUIRE(file != nullptr);
        CHECK(file->msgtype == "m.image");
        CHECK(file->body.empty()); // the name only: no caption
        CHECK(file->file_name == "capture.png");
        CHECK(file->file_url == "mxc://hs.test/png");
        CHECK(file->file_mimetype == "image/png");
        CHECK(file->file_size == 2048);
        CHECK(file->thread_root == "$root");
    }

    TEST_CASE("parse_sync keeps the encryption parts for the crypto engine")
    {
        const json encrypted{
            {"type", "m.room.encrypted"},
            {"event_id", "$enc"},
            {"sender", "@marie:hs.test"},
            {"origin_server_ts", 1},
            {"content",
             {{"algorithm", "m.megolm.v1.aes-sha2"},
              {"ciphertext", "AwgA"},
              {"session_id", "SID"},
              {"sender_key", "SK"},
              {"device_id", "DEV"},
              {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$root"}}}}}};
        const json encryption{
            {"type", "m.room.encryption"},
            {"state_key", ""},
            {"event_id", "$e"},
            {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}, {"rotation_period_msgs", 10}}}};
        const auto batch =
            parse({{"next_batch", "s1"},
                   {"to_device",
                    {{"events", {{{"type", "m.room.encrypted"}, {"sender", "@a:hs.test"}}, 42}}}},
                   {"device_lists", {{"changed", {"@a:hs.test", 7}}, {"left", {"@b:hs.test"}}}},
                   {"device_one_time_keys_count", {{"signed_curve25519", 12}}},
                   {"device_unused_fallback_key_types", json::array()},
                   {"rooms",
                    {{"join",
                      {{"!r:hs.test", {{"timeline", {{"events", {encryption, encrypted}}}}}}}}}}});
        REQUIRE(batch.crypto.to_device.size() == 1);
        CHECK(batch.crypto.to_device[0].sender == "@a:hs.test");
        CHECK(batch.crypto.devices_changed == std::vector<std::string>{"@a:hs.test"});
        CHECK(batch.crypto.devices_left == std::vector<std::string>{"@b:hs.test"});
        CHECK(batch.crypto.one_time_key_counts.at("signed_curve25519") == 12);
        REQUIRE(batch.crypto.unused_fallback_key_types.has_value());
        CHECK(batch.crypto.unused_fallback_key_types->empty()); // fallback key used: upload one
        const auto& timeline = only_room(batch).timeline;
        const auto* rotation = std::get_if<Encryption>(&timeline.at(0).content);
        REQUIRE(rotation != nullptr);
        CHECK(rotation->rotation_period_msgs == 10);
        CHECK(rotation->rotation_period_ms == 604'800'000);
        const auto* event = std::get_if<Encrypted>(&timeline.at(1).content);
        REQUIRE(event != nullptr);
        CHECK(event->session_id == "SID");
        CHECK(event->thread_root == "$root");
        REQUIRE(event->event != nullptr);
        CHECK(event->event->at("content").at("ciphertext") == "AwgA");
        const auto plain = parse({{"next_batch", "s2"}});
        CHECK_FALSE(plain.crypto.unused_fallback_key_types.has_value());
    }

    TEST_CASE("parse_sync reads mentions and thread and reply relations")
    {
        const json events = json::array(
            {message("$m", "salut", {{"m.mentions", {{"user_ids", {me, 42, "@paul:hs.test"}}}}}),
             message("$t", "dans le fil",
                     {{"m.relates_to",
                       {{"rel_type", "m.thread"},
                        {"event_id", "$root"},
                        {"is_falling_back", true},
                        {"m.in_reply_to", {{"event_id", "$last"}}}}}}),
             message("$r", "réponse",
                     {{"m.relates_to", {{"m.in_reply_to", {{"event_id", "$q"}}}}}}),
             message("$e", "* corrigé",
                     {{"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$q"}}}}),
             message("$empty", "x", {{"m.mentions", json::object()}})});
        const auto batch =
            parse({{"next_batch", "s"},
                   {"rooms", {{"join", {{"!r:hs.test", {{"timeline", {{"events", events}}}}}}}}}});
        const auto& timeline = only_room(batch).timeline;
        REQUIRE(timeline.size() == 5);

        const auto& mention = std::get<TextMessage>(timeline[0].content);
        REQUIRE(mention.mentions.has_value());
        CHECK(*mention.mentions == std::vector<std::string>{me, "@paul:hs.test"});

        const auto& thread = std::get<TextMessage>(timeline[1].content);
        CHECK(thread.thread_root == "$root");
        CHECK(thread.in_reply_to == "$last");
        CHECK(thread.reply_is_fallback);

        const auto& reply = std::get<TextMessage>(timeline[2].content);
        CHECK(reply.thread_root.empty());
        CHECK(reply.in_reply_to == "$q");
        CHECK_FALSE(reply.reply_is_fallback);

        CHECK(std::get<TextMessage>(timeline[3].content).is_edit);

        const auto& empty = std::get<TextMessage>(timeline[4].content);
        REQUIRE(empty.mentions.has_value()); // m.mentions present: nobody is mentioned
        CHECK(empty.mentions->empty());
    }

    TEST_CASE("parse_sync reads state power levels encryption summary and limited")
    {
        const json state =
            json::array({{{"type", "m.room.power_levels"},
                          {"state_key", ""},
                          {"event_id", "$pl"},
                          {"sender", "@admin:hs.test"},
                          {"content",
                           {{"users", {{"@admin:hs.test", 100}, {"@bad:hs.test", "x"}}},
                            {"users_default", 10}}}},
                         {{"type", "m.room.encryption"},
                          {"state_key", ""},
                          {"event_id", "$enc"},
                          {"sender", "@admin:hs.test"},
                          {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}},
                         {{"type", "m.room.member"},
                          {"state_key", me},
                          {"event_id", "$mem"},
                          {"sender", "@admin:hs.test"},
                          {"content", {{"membership", "join"}, {"is_direct", true}}}}});
        const json room{{"state", {{"events", state}}},
                        {"timeline", {{"events", json::array()}, {"limited", true}}},
                        {"summary", {{"m.joined_member_count", 7}}}};
        const auto batch =
            parse({{"next_batch", "s"}, {"rooms", {{"join", {{"!r:hs.test", room}}}}}});
        const auto& joined = only_room(batch);
        CHECK(joined.limited);
        REQUIRE(joined.joined_member_count.has_value());
        CHECK(*joined.joined_member_count == 7);
        REQUIRE(joined.state.size() == 3);
        const auto* levels = std::get_if<PowerLevels>(&joined.state[0].content);
        REQUIRE(levels != nullptr);
        CHECK(levels->users_default == 10);
        CHECK(levels->users.size() == 1); // a non-integer level is skipped
        CHECK(levels->users.at("@admin:hs.test") == 100);
        const auto* encryption = std::get_if<Encryption>(&joined.state[1].content);
        REQUIRE(encryption != nullptr);
        CHECK(encryption->algorithm == "m.megolm.v1.aes-sha2");
        const auto* member = std::get_if<Membership>(&joined.state[2].content);
        REQUIRE(member != nullptr);
        CHECK(member->membership == "join");
        CHECK(member->is_direct);
        REQUIRE(joined.state[2].state_key.has_value());
        CHECK(*joined.state[2].state_key == me);
    }

    TEST_CASE("power levels keep their stored form and read it back")
    {
        const PowerLevels levels{{{"@admin:hs.test", 100}, {"@marie:hs.test", 50}}, 10};
        CHECK(power_levels_json(levels) ==
              R"({"users":{"@admin:hs.test":100,"@marie:hs.test":50},"users_default":10})");
        CHECK(parse_power_levels(power_levels_json(levels)) == levels);
        CHECK(parse_power_levels(R"({"users":{}})") == PowerLevels{});
        CHECK(parse_power_levels("pas du JSON") == PowerLevels{});
        CHECK(levels.level_of("@marie:hs.test") == 50);
        CHECK(levels.level_of("@paul:hs.test") == 10);
        auto v12 = levels;
        v12.creators = {"@chef:hs.test"};
        CHECK(parse_power_levels(power_levels_json(v12)) == v12);
        CHECK(v12.level_of("@chef:hs.test") > 100); // above every level
    }

    TEST_CASE("room version 12 creators come from m.room.create and never from power levels")
    {
        const auto create = [](const std::string& version, json extra = json::object()) {
            json content{{"room_version", version}};
            content.update(extra);
            json state = json::array(
                {{{"type", "m.room.create"},
                  {"state_key", ""},
                  {"event_id", "$create"},
                  {"sender", "@chef:hs.test"},
                  {"content", content}},
                 {{"type", "m.room.power_levels"},
                  {"state_key", ""},
                  {"event_id", "$pl"},
                  {"sender", "@chef:hs.test"},
                  {"content",
                   {{"users", {{"@marie:hs.test", 50}}}, {"creators", {"@mallory:hs.test"}}}}}});
            const json room{{"state", {{"events", state}}}};
            return parse({{"next_batch", "s"}, {"rooms", {{"join", {{"!r:hs.test", room}}}}}});
        };
        const auto v12 = create("12", {{"additional_creators", {"@adjointe:hs.test", 7}}});
        const auto* made = std::get_if<RoomCreate>(&only_room(v12).state[0].content);
        REQUIRE(made != nullptr);
        CHECK(made->creators == std::vector<std::string>{"@chef:hs.test", "@adjointe:hs.test"});
        const auto* levels = std::get_if<PowerLevels>(&only_room(v12).state[1].content);
        REQUIRE(levels != nullptr);
        CHECK(levels->creators.empty()); // a "creators" key in power levels grants nothing
        for (const auto* older : {"11", "1", "org.matrix.msc4289"}) {
            const auto batch = create(older); // kept: the content points into it
            const auto* old_create = std::get_if<RoomCreate>(&only_room(batch).state[0].content);
            REQUIRE(old_create != nullptr);
            CHECK(old_create->creators.empty()); // the creator is in the power levels there
        }
    }

    TEST_CASE("parse_sync reads the inviter and is_direct of the bot's own invite")
    {
        const json invite_state =
            json::array({{{"type", "m.room.name"},
                          {"state_key", ""},
                          {"sender", "@x:hs.test"},
                          {"content", {{"name", "Salon"}}}},
                         {{"type", "m.room.member"},
                          {"state_key", "@someone-else:hs.test"},
                          {"sender", "@intrus:hs.test"},
                          {"content", {{"membership", "invite"}}}},
                         {{"type", "m.room.member"},
                          {"state_key", me},
                          {"sender", "@marie:hs.test"},
                          {"content", {{"membership", "invite"}, {"is_direct", true}}}}});
        const auto batch =
            parse({{"next_batch", "s"},
                   {"rooms",
                    {{"invite",
                      {{"!dm:hs.test", {{"invite_state", {{"events", invite_state}}}}},
                       {"!bare:hs.test", json::object()}}}}}});
        REQUIRE(batch.invited.size() == 2);
        const auto& bare =
            batch.invited[0].room_id == "!bare:hs.test" ? batch.invited[0] : batch.invited[1];
        const auto& dm =
            batch.invited[0].room_id == "!dm:hs.test" ? batch.invited[0] : batch.invited[1];
        CHECK(dm.room_id == "!dm:hs.test");
        CHECK(dm.inviter == "@marie:hs.test");
        CHECK(dm.is_direct);
        CHECK(bare.room_id == "!bare:hs.test");
        CHECK(bare.inviter.empty());
        CHECK_FALSE(bare.is_direct);
    }

    TEST_CASE("parse_sync lists the rooms left")
    {
        const auto batch = parse({{"next_batch", "s"},
                                  {"rooms",
                                   {{"leave",
                                     {{"!gone:hs.test", json::object()},
                                      {"!kicked:hs.test", {{"timeline", json::object()}}}}}}}});
        REQUIRE(batch.left.size() == 2);
        CHECK(std::find(batch.left.begin(), batch.left.end(), "!gone:hs.test") != batch.left.end());
        CHECK(std::find(batch.left.begin(), batch.left.end(), "!kicked:hs.test") !=
              batch.left.end());
        CHECK(batch.joined.empty());
    }

    TEST_CASE("parse_sync turns malformed events into OtherEvent and keeps the batch")
    {
        const json events = json::array(
            {42,
             "not an event",
             {{"type", "m.room.message"}, {"event_id", "$nocontent"}, {"sender", "@a:hs.test"}},
             {{"type", "m.room.message"}, {"event_id", "$badcontent"}, {"content", "texte"}},
             {{"type", "m.room.message"},
              {"event_id", "$video"},
              {"content", {{"msgtype", "m.video"}, {"body", "film.mp4"}}}},
             {{"type", "m.room.message"},
              {"event_id", "$numbody"},
              {"sender", 12},
              {"origin_server_ts", "hier"},
              {"unsigned", "x"},
              {"content",
               {{"msgtype", "m.text"},
                {"body", 3},
                {"m.relates_to", "x"},
                {"m.mentions", {{"user_ids", "tous"}}}}}},
             {{"type", "m.reaction"}, {"event_id", "$react"}, {"content", {{"m.relates_to", 1}}}},
             {{"type", "m.room.member"},
              {"event_id", "$nostatekey"},
              {"content", {{"membership", "join"}}}},
             message("$ok", "toujours là")});
        const auto batch =
            parse({{"next_batch", "s9"},
                   {"rooms", {{"join", {{"!r:hs.test", {{"timeline", {{"events", events}}}}}}}}}});
        const auto& timeline = only_room(batch).timeline;
        REQUIRE(timeline.size() == 9);
        for (const std::size_t i : {0U, 1U, 2U, 3U, 4U, 6U, 7U})
            CHECK_MESSAGE(std::holds_alternative<OtherEvent>(timeline[i].content), "event ", i);
        // A text message with wrong field types is kept, with the bad fields left empty.
        const auto* odd = std::get_if<TextMessage>(&timeline[5].content);
        REQUIRE(odd != nullptr);
        CHECK(odd->body.empty());
        CHECK(timeline[5].sender.empty());
        CHECK(timeline[5].origin_server_ts == 0);
        REQUIRE(odd->mentions.has_value());
        CHECK(odd->mentions->empty());
        const auto* ok = std::get_if<TextMessage>(&timeline[8].content);
        REQUIRE(ok != nullptr);
        CHECK(ok->body == "toujours là");
    }

    TEST_CASE("parse_sync reads a reaction and the echo of the bot's own message")
    {
        json echo = message("$echo", "ma réponse");
        echo["unsigned"] = {{"transaction_id", "opb-1"}};
        const json events = json::array(
            {{{"type", "m.reaction"},
              {"event_id", "$like"},
              {"sender", "@marie:hs.test"},
              {"content",
               {{"m.relates_to",
                 {{"rel_type", "m.annotation"}, {"event_id", "$answer"}, {"key", "👍"}}}}}},
             echo});
        const auto batch =
            parse({{"next_batch", "s"},
                   {"rooms", {{"join", {{"!r:hs.test", {{"timeline", {{"events", events}}}}}}}}}});
        const auto& timeline = only_room(batch).timeline;
        REQUIRE(timeline.size() == 2);
        const auto* reaction = std::get_if<Reaction>(&timeline[0].content);
        REQUIRE(reaction != nullptr);
        CHECK(reaction->target == "$answer");
        CHECK(reaction->key == "👍");
        CHECK(timeline[1].has_transaction_id);
    }

    TEST_CASE("parse_sync refuses a body that is not a sync response")
    {
        CHECK_FALSE(static_cast<bool>(parse_sync("", me)));
        CHECK_FALSE(static_cast<bool>(parse_sync("<html>502 Bad Gateway</html>", me)));
        CHECK_FALSE(static_cast<bool>(parse_sync("[]", me)));
        CHECK_FALSE(static_cast<bool>(parse_sync(R"({"rooms":{}})", me)));
        const auto number = parse_sync(R"({"next_batch":5})", me);
        REQUIRE_FALSE(static_cast<bool>(number));
        CHECK(number.error().kind == opalebot::Error::Kind::parse);
        const auto empty = parse_sync(R"({"next_batch":"s1","rooms":"x"})", me);
        REQUIRE(static_cast<bool>(empty));
        CHECK(empty.value().joined.empty());
    }

    TEST_CASE("strip_reply_fallback removes the quoted lines and the blank line after them")
    {
        CHECK(strip_reply_fallback("> <@marie:hs.test> la question\n> suite\n\nla vraie réponse") ==
              "la vraie réponse");
        CHECK(strip_reply_fallback("> <@marie:hs.test> q\n\nligne 1\nligne 2") ==
              "ligne 1\nligne 2");
        CHECK(strip_reply_fallback("pas de citation") == "pas de citation");
        CHECK(strip_reply_fallback("> seulement une citation") == "> seulement une citation");
        CHECK(strip_reply_fallback("") == "");
    }
}
