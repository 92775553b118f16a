#include "bot/addressing.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace opalebot::bot;
using nlohmann::json;

namespace {

const std::string me = "@opale-bot:hs.test";
const std::string salon = "!salon:hs.test";
const std::string marie = "@marie:hs.test";

/// An event of `type` with `content`, as the sync loop receives it.
Event event_of(const std::string& type, json content, const std::string& sender = marie)
{
    return parse_timeline_event(json{
        {"type", type},
        {"event_id", "$q"},
        {"sender", sender},
        {"origin_server_ts", 1},
        {"content",
         std::move(content)}}.dump());
}

Event message_event(const std::string& body, json extra = json::object(),
                    const std::string& sender = marie)
{
    json content{{"msgtype", "m.text"}, {"body", body}};
    content.update(extra);
    return event_of("m.room.message", std::move(content), sender);
}

/// The relation of an event in the thread of `root`.
json in_thread(const std::string& root)
{
    return {{"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", root}}}};
}

const TextMessage& text_of(const Event& event)
{
    const auto* message = std::get_if<TextMessage>(&event.content);
    REQUIRE(message != nullptr);
    return *message;
}

RoomInfo room(int members = 5, bool is_direct = false)
{
    return RoomInfo{salon, {}, is_direct, members, std::nullopt, false};
}

/// Another room, joined on `inviter`'s invite.
RoomInfo invited_by(const std::string& inviter)
{
    return RoomInfo{"!autre:hs.test", inviter, false, 5, std::nullopt, false};
}

/// The policy with the default configuration and the bot's user id.
struct Policy {
    Config config;
    Addressing addressing{config, me};

    Addressed address(const std::string& body, json extra = json::object(), bool is_direct = false,
                      bool replies_to_bot = false)
    {
        const auto event = message_event(body, std::move(extra));
        return addressing.address(text_of(event), is_direct, replies_to_bot);
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("a conversation key names the room or the room and its thread")
    {
        CHECK(Conversation{salon, ""}.key() == salon);
        CHECK(Conversation{salon, "$root"}.key() == salon + "|$root");
        CHECK(Conversation::from_key(salon) == Conversation{salon, ""});
        CHECK(Conversation::from_key(salon + "|$root") == Conversation{salon, "$root"});
        CHECK(Conversation::from_key("") == Conversation{});
        const Conversation threaded{salon, "$root"};
        CHECK(Conversation::from_key(threaded.key()) == threaded);
    }

    TEST_CASE("a message is addressed by a command a mention a reply to the bot or a direct chat")
    {
        Policy p;
        CHECK_FALSE(p.address("Comment créer le tiers DDFIP ?").addressed);
        CHECK(p.address("!aide").addressed);
        CHECK(p.address("une question", {{"m.mentions", {{"user_ids", {me}}}}}).addressed);
        CHECK_FALSE(p.address("une question", {{"m.mentions", {{"user_ids", {marie}}}}}).addressed);
        CHECK(p.address("une question", json::object(), true).addressed);
        CHECK(p.address("une question", json::object(), false, true).addressed);
        p.config.command_prefix = "?";
        CHECK_FALSE(p.address("!aide").addressed);
        CHECK(p.address("?aide").addressed);
    }

    TEST_CASE("the bot's name at the start addresses it and is removed")
    {
        Policy p;
        p.addressing.set_display_name("Opale");
        for (const std::string& body : std::vector<std::string>{
                 "opale-bot: le tiers DDFIP ?", "@opale-bot le tiers DDFIP ?",
                 "Opale, le tiers DDFIP ?", "OPALE : le tiers DDFIP ?", me + " le tiers DDFIP ?"}) {
            CAPTURE(body);
            const auto a = p.address(body);
            CHECK(a.addressed);
            CHECK(a.text == "le tiers DDFIP ?");
        }
        const auto inside = p.address("dites " + me + " merci");
        CHECK(inside.addressed);
        CHECK(inside.text == "dites  merci");
        const auto word = p.address("Opalescent est un mot");
        CHECK_FALSE(word.addressed); // "Opalescent" does not name "Opale"
        CHECK(word.text == "Opalescent est un mot");
    }

    TEST_CASE("a pill with a Tchap suffix addresses the bot wherever it stands")
    {
        Policy p;
        p.addressing.set_display_name("Opale-Bot");
        const auto pill = [](const std::string& before, const std::string& after) {
            return json{
                {"format", "org.matrix.custom.html"},
                {"formatted_body", before +
                                       "<a href=\"https://matrix.to/#/%40opale-bot%3Ahs.test\">"
                                       "Opale-Bot [Ac-Lille]</a>" +
                                       after},
                {"m.mentions", {{"user_ids", {me}}}}};
        };
        const auto start = p.address("Opale-Bot [Ac-Lille]: !aide", pill("", ": !aide"));
        CHECK(start.addressed);
        CHECK(start.text == "!aide");
        const auto middle = p.address("Bonjour Opale-Bot [Ac-Lille], que veut dire EJ ?",
                                      pill("Bonjour ", ", que veut dire EJ ?"));
        CHECK(middle.addressed);
        CHECK(middle.text == "Bonjour que veut dire EJ ?");
        // Without the pill's HTML (a plain-text client): the display name and its suffix.
        const auto typed_start = p.address("Opale-Bot [Ac-Lille]: !aide");
        CHECK(typed_start.addressed);
        CHECK(typed_start.text == "!aide");
        const auto typed = p.address("Bonjour Opale-Bot [Ac-Lille], que veut dire EJ ?");
        CHECK(typed.addressed);
        CHECK(typed.text == "Bonjour que veut dire EJ ?");
        // A pill to someone else stays in the text.
        const auto other =
            p.address("Marie Dupont [Ac-Amiens]: tu as vu ?",
                      {{"format", "org.matrix.custom.html"},
                       {"formatted_body", "<a href=\"https://matrix.to/#/@marie:hs.test\">Marie "
                                          "Dupont [Ac-Amiens]</a>: tu as vu ?"}});
        CHECK_FALSE(other.addressed);
        CHECK(other.text == "Marie Dupont [Ac-Amiens]: tu as vu ?");
    }

    TEST_CASE("the reply fallback is not part of the text")
    {
        Policy p;
        const auto a = p.address("> <@opale-bot:hs.test> Voici la fiche\n\n!fiche tiers-ddfip");
        CHECK(a.addressed);
        CHECK(a.text == "!fiche tiers-ddfip");
    }

    TEST_CASE("the reply goes to the thread asked in or opens one in thread mode")
    {
        Policy p;
        const auto plain = message_event("!aide");
        const auto threaded = message_event("!aide", in_thread("$root"));
        CHECK(p.addressing.reply_conversation(threaded, text_of(threaded), room()) ==
              Conversation{salon, "$root"});
        CHECK(p.addressing.reply_conversation(plain, text_of(plain), room()) ==
              Conversation{salon, "$q"});
        // A direct chat is one conversation: no threads opened there. A salon of two is a
        // salon (issue 14): only the invite's is_direct makes a direct chat.
        CHECK(p.addressing.reply_conversation(plain, text_of(plain), room(2)) ==
              Conversation{salon, "$q"});
        CHECK(p.addressing.reply_conversation(plain, text_of(plain), room(5, true)) ==
              Conversation{salon, ""});
        p.config.reply_mode = ReplyMode::reply;
        CHECK(p.addressing.reply_conversation(plain, text_of(plain), room()) ==
              Conversation{salon, ""});
        CHECK(p.addressing.reply_conversation(threaded, text_of(threaded), room()) ==
              Conversation{salon, "$root"});
    }

    TEST_CASE("the verdict answers addressed messages and dialogue answers only")
    {
        Policy p;
        CHECK(p.addressing.verdict({"!aide", true}, false, false).answer);
        const auto chatter = p.addressing.verdict({"bonjour à tous", false}, false, false);
        CHECK_FALSE(chatter.answer);
        CHECK(chatter.why == "not addressed to the bot");
        // An answer to the bot's question needs no mention.
        CHECK(p.addressing.verdict({"gestionnaire", false}, true, false).answer);
        // A file without a caption waits for a command replying to it, unless a dialogue takes it.
        CHECK_FALSE(p.addressing.verdict({"", true}, false, true).answer);
        CHECK(p.addressing.verdict({"", true}, true, true).answer);
        p.config.answer_without_mention = true;
        CHECK(p.addressing.verdict({"bonjour à tous", false}, false, false).answer);
        CHECK_FALSE(p.addressing.verdict({"", false}, false, false).answer);
    }

    TEST_CASE("notices edits echoes and other bots are never answered")
    {
        Policy p;
        p.config.bots = {"@autre-bot:hs.test"};
        const auto plain = message_event("!aide");
        CHECK(p.addressing.never_answered(plain, text_of(plain)).empty());
        const auto notice = message_event("!aide", {{"msgtype", "m.notice"}});
        CHECK_FALSE(p.addressing.never_answered(notice, text_of(notice)).empty());
        const auto edit = message_event(
            "!aide", {{"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", "$old"}}}});
        CHECK(p.addressing.never_answered(edit, text_of(edit)) == "edit");
        auto echo = message_event("!aide");
        echo.has_transaction_id = true;
        CHECK(p.addressing.never_answered(echo, text_of(echo)) == "own echo");
        const auto bot = message_event("!aide", json::object(), "@autre-bot:hs.test");
        CHECK(p.addressing.never_answered(bot, text_of(bot)) == "another bot");
        p.config.ignore_bots = false;
        CHECK(p.addressing.never_answered(bot, text_of(bot)).empty());
    }

    TEST_CASE("the bot acts in allowed rooms and rooms of allowed inviters")
    {
        Policy p;
        p.config.allowed_rooms = {salon};
        p.config.inviters = {"@chef:hs.test", ":partenaire.test"};
        CHECK(p.addressing.room_allowed(room()));
        CHECK_FALSE(p.addressing.room_allowed(invited_by("")));
        CHECK(p.addressing.room_allowed(invited_by("@chef:hs.test")));
        CHECK(p.addressing.room_allowed(invited_by("@agent:partenaire.test")));
        CHECK_FALSE(p.addressing.room_allowed(invited_by("@x:faux-partenaire.test")));
        CHECK_FALSE(p.addressing.inviter_allowed(":partenaire.test")); // a server is no user
        CHECK_FALSE(p.addressing.inviter_allowed("@chef:hs.test.evil"));
    }

    TEST_CASE("a reloaded configuration changes the rooms and inviters at once")
    {
        Policy p;
        p.config.allowed_rooms = {"!ancien:hs.test"};
        p.config.inviters = {"@chef:hs.test"};
        CHECK_FALSE(p.addressing.room_allowed(room()));
        CHECK_FALSE(p.addressing.room_allowed(invited_by("@agent:partenaire.test")));
        Config reloaded = p.config;
        reloaded.allowed_rooms = {salon};
        reloaded.inviters = {":partenaire.test"};
        p.addressing.use_config(reloaded);
        CHECK(p.addressing.room_allowed(room()));
        CHECK(p.addressing.room_allowed(invited_by("@agent:partenaire.test")));
        CHECK_FALSE(p.addressing.room_allowed(invited_by("@chef:hs.test"))); // no longer listed
    }

    TEST_CASE("the backlog limit is rooms.max_backlog_age")
    {
        Policy p;
        p.config.max_backlog_age = std::chrono::seconds{600};
        CHECK_FALSE(p.addressing.too_old(std::chrono::seconds{600}));
        CHECK(p.addressing.too_old(std::chrono::seconds{601}));
    }

    TEST_CASE("power levels are typed and a user without one has the default")
    {
        auto r = room();
        CHECK(power_level_of(r, marie) == 0); // no m.room.power_levels seen yet
        r.power_levels = PowerLevels{{{marie, 50}}, 10};
        CHECK(power_level_of(r, marie) == 50);
        CHECK(power_level_of(r, "@paul:hs.test") == 10);
    }

    TEST_CASE("a reacted-to message names its conversation and the reply's place")
    {
        auto notice = in_thread("$cmd");
        notice.update({{"msgtype", "m.notice"}, {"body", "Récapitulatif"}});
        const auto card = event_of("m.room.message", notice);
        auto encrypted = in_thread("$cmd");
        encrypted.update({{"algorithm", "m.megolm.v1.aes-sha2"}, {"ciphertext", "x"}});
        const auto sealed = event_of("m.room.encrypted", encrypted);
        const auto outside = parse_timeline_event(R"({"event_id":"$card","content":{}})");
        CHECK(conversation_of(salon, card) == Conversation{salon, "$cmd"});
        CHECK(conversation_of(salon, sealed) == Conversation{salon, "$cmd"});
        CHECK(conversation_of(salon, outside) == Conversation{salon, ""});

        const auto threaded = reaction_reply_place({salon, "$cmd"}, "$card");
        CHECK(threaded.thread_root == "$cmd");
        CHECK(threaded.in_reply_to.empty());
        const auto quoted = reaction_reply_place({salon, ""}, "$card");
        CHECK(quoted.thread_root.empty());
        CHECK(quoted.in_reply_to == "$card");
    }
}
