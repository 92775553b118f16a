#include "bot/sync_loop.hpp"

#include "bot/crypto/attachment.hpp"
#include "bot/markdown.hpp"
#include "opalebot/bot_metrics.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_client.hpp"
#include "support/temp_dir.hpp"
#include <sys/wait.h>
#include <unistd.h>

using namespace opalebot::bot;
using namespace std::chrono_literals;
using nlohmann::json;
using opalebot::testing::FakeHttpClient;
using opalebot::testing::TempDir;

namespace {

const std::string hs = "https://hs.test";
const std::string me = "@opale:hs.test";
const std::string salon = "!salon:hs.test";
const std::string marie = "@marie:hs.test";
constexpr std::int64_t now_ms = 1'700'000'000'000;
const std::chrono::system_clock::time_point now{std::chrono::milliseconds{now_ms}};

json text_event(const std::string& id, const std::string& body, json extra = json::object(),
                const std::string& sender = marie, std::int64_t ts = now_ms)
{
    json content{{"msgtype", "m.text"}, {"body", body}};
    content.update(extra);
    return {{"type", "m.room.message"},
            {"event_id", id},
            {"sender", sender},
            {"origin_server_ts", ts},
            {"content", content}};
}

json reaction_event(const std::string& id, const std::string& target, const std::string& key,
                    const std::string& sender = marie)
{
    return {
        {"type", "m.reaction"},
        {"event_id", id},
        {"sender", sender},
        {"origin_server_ts", now_ms},
        {"content",
         {{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", target}, {"key", key}}}}}};
}

json state_event(const std::string& type, const std::string& state_key, json content)
{
    return {{"type", type},
            {"state_key", state_key},
            {"event_id", "$state-" + type + state_key},
            {"sender", "@admin:hs.test"},
            {"origin_server_ts", now_ms - 100'000},
            {"content", std::move(content)}};
}

/// A /sync body with one joined room, as the homeserver sends it.
std::string sync_body(const std::string& next, const json& timeline)
{
    return json{{"next_batch", next},
                {"rooms", {{"join", {{salon, {{"timeline", {{"events", timeline}}}}}}}}}}
        .dump();
}

/// A /sync body with one joined room, parsed as the loop receives it.
SyncBatch batch(const std::string& next, const json& timeline, const std::string& room = salon,
                json room_extra = json::object())
{
    json joined{{"timeline", {{"events", timeline}}}};
    joined.update(room_extra);
    const json body{{"next_batch", next}, {"rooms", {{"join", {{room, joined}}}}}};
    auto parsed = parse_sync(body.dump(), me);
    REQUIRE(static_cast<bool>(parsed));
    return std::move(parsed).value();
}

SyncBatch invite_batch(const std::string& next, const std::string& room, const std::string& inviter)
{
    const json invite_state = json::array({{{"type", "m.room.member"},
                                            {"state_key", me},
                                            {"sender", inviter},
                                            {"content", {{"membership", "invite"}}}}});
    const json body{
        {"next_batch", next},
        {"rooms", {{"invite", {{room, {{"invite_state", {{"events", invite_state}}}}}}}}}};
    auto parsed = parse_sync(body.dump(), me);
    REQUIRE(static_cast<bool>(parsed));
    return std::move(parsed).value();
}

/// A sync loop on a scripted homeserver, a fresh state store and a recording router.
struct Harness {
    explicit Harness(const std::string& database = ":memory:") : store{database}
    {
        config.homeserver_url = hs;
        config.user_id = me;
        config.password = "pw";
        config.allowed_rooms = {salon};
        config.inviters = {"@chef:hs.test", ":partenaire.test"};
        client.set_access_token("syt_tok");
    }

    SyncLoop& loop()
    {
        if (!loop_)
            loop_ = std::make_unique<SyncLoop>(
                client, store, config, Session{me, "DEV", "syt_tok"},
                [this](const IncomingMessage& m) -> std::optional<OutgoingReply> {
                    seen.push_back(m);
                    if (m.text == "!poison") // a bug that kills the process
                        std::abort();
                    if (router_throws)
                        throw std::runtime_error("router bug");
                    return answer;
                },
                [this] { ++wakes; }, [this](const std::string& reason) { fatal.push_back(reason); },
                [this] { return clock; });
        return *loop_;
    }

    void process(const SyncBatch& b, bool history = false)
    {
        REQUIRE(static_cast<bool>(loop().process(b, history)));
    }

    std::int64_t outbox_size()
    {
        const auto n = store.outgoing_count();
        REQUIRE(static_cast<bool>(n));
        return n.value();
    }

    OutgoingMessage next_outgoing()
    {
        auto next = store.next_outgoing();
        REQUIRE(static_cast<bool>(next));
        REQUIRE(next.value().has_value());
        return *next.value();
    }

    json reply_content() { return json::parse(next_outgoing().content); }

    bool handled(const std::string& event_id)
    {
        const auto h = store.is_handled(event_id);
        REQUIRE(static_cast<bool>(h));
        return h.value();
    }

    /// Records a message of the bot, as the sender does once it is sent.
    void bot_message(const std::string& event_id, const std::string& entry)
    {
        SyncBatchWrites writes;
        OutgoingMessage m;
        m.txn_id = "txn-" + event_id;
        m.room_id = salon;
        m.content = "{}";
        m.entry_id = entry;
        writes.outgoing.push_back(m);
        REQUIRE(static_cast<bool>(store.commit(writes)));
        const auto queued = next_outgoing();
        REQUIRE(static_cast<bool>(store.mark_sent(queued, event_id)));
    }

    FakeHttpClient http;
    MatrixClient client{http, hs};
    StateStore store;
    Config config;
    std::vector<IncomingMessage> seen;
    std::optional<OutgoingReply> answer = OutgoingReply{"**Créer** le tiers", "tiers", {}};
    bool router_throws = false;
    int wakes = 0;
    std::vector<std::string> fatal;
    std::chrono::system_clock::time_point clock = now;

private:
    std::unique_ptr<SyncLoop> loop_;
};

std::string ledger_outcome(const std::string& path, const std::string& event_id)
{
    const SQLite::Database db{path, SQLite::OPEN_READONLY};
    SQLite::Statement query{db, "SELECT outcome FROM handled_events WHERE event_id = ?"};
    query.bind(1, event_id);
    return query.executeStep() ? query.getColumn(0).getString() : std::string{};
}

/// A homeserver whose long-polls hang until the client cancels them: the sync loop's nudge.
class HangingHomeserver final : public opalebot::bot::HttpClient {
public:
    opalebot::Result<Response> send(const Request& request) override
    {
        Response response;
        response.status = 200;
        if (request.url.find("/filter") != std::string::npos) {
            response.body = R"({"filter_id":"f1"})";
            return response;
        }
        std::unique_lock lock{mutex_};
        timeouts_.push_back(request.url.find("timeout=0") != std::string::npos ? 0 : 1);
        if (timeouts_.back() == 0) {
            response.body = R"({"next_batch":"s2"})";
            return response;
        }
        hanging_ = true;
        changed_.notify_all();
        // only the request's own stop token ends it, as curl's progress callback does
        changed_.wait_for(lock, 10s, [&] { return request.cancel.stop_requested(); });
        hanging_ = false;
        if (!request.cancel.stop_requested())
            return opalebot::Error{opalebot::Error::Kind::transport, 28, {}, "timed out", {}};
        return opalebot::Error{opalebot::Error::Kind::transport, 42, {}, "aborted", {}};
    }
    bool wait_until_hanging()
    {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, 5s, [this] { return hanging_; });
    }
    void poke() { changed_.notify_all(); } ///< re-checks the stop token of the hanging request
    std::vector<int> timeouts()
    {
        const std::lock_guard lock{mutex_};
        return timeouts_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool hanging_ = false;
    std::vector<int> timeouts_; ///< 0: a sync that did not wait
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("sync loop never answers the first sync")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$old", "!aide")})), true);
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
        CHECK(h.loop().since() == "s1");
        CHECK(h.store.sync_token().value() == "s1");

        h.process(batch("s2", json::array({text_event("$new", "!aide")})));
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].event_id == "$new");
        CHECK(h.outbox_size() == 1);
        CHECK(h.store.sync_token().value() == "s2");
    }

    TEST_CASE("a reply's files are uploaded and queued after its text in the same thread")
    {
        Harness h;
        h.answer = OutgoingReply{"Export de la vague 6", {}, std::nullopt};
        h.answer->files.push_back({"vague-6.csv", "text/csv", "a;b\r\n", std::nullopt, ""});
        h.answer->files.push_back({"vague-7.csv", "text/csv", "c;d\r\n", std::nullopt, ""});
        h.http.reply(200, R"({"content_uri":"mxc://hs.test/six"})");
        h.http.fail(); // the second upload fails: the user is told, in French
        const json thread{{"m.relates_to",
                           {{"rel_type", "m.thread"},
                            {"event_id", "$root"},
                            {"is_falling_back", true},
                            {"m.in_reply_to", {{"event_id", "$root"}}}}}};
        const auto b = batch("s1", json::array({text_event("$q", "!export vague 6", thread)}));
        h.process(b);
        REQUIRE(h.outbox_size() == 3);
        CHECK(h.http.request(0).url == hs + "/_matrix/media/v3/upload?filename=vague-6.csv");

        const auto text = h.next_outgoing();
        CHECK(text.txn_id == txn_id_for("$q"));
        REQUIRE(static_cast<bool>(h.store.mark_sent(text, "$text")));
        const auto file = h.next_outgoing();
        CHECK(file.txn_id == txn_id_for(txn_id_for("$q"), 1));
        const auto content = json::parse(file.content);
        CHECK(content["msgtype"] == "m.file");
        CHECK(content["url"] == "mxc://hs.test/six");
        CHECK(content["m.relates_to"]["event_id"] == "$root");
        CHECK(content["m.relates_to"]["m.in_reply_to"]["event_id"] == "$q");
        REQUIRE(static_cast<bool>(h.store.mark_sent(file, "$file")));
        const auto failed = h.next_outgoing();
        CHECK(failed.txn_id == txn_id_for(txn_id_for("$q"), 2));
        const auto notice = json::parse(failed.content);
        CHECK(notice["body"].get<std::string>().find("pas pu envoyer le fichier « vague-7.csv »") !=
              std::string::npos);
        CHECK(notice["m.relates_to"]["event_id"] == "$root");
        REQUIRE(static_cast<bool>(h.store.mark_sent(failed, "$notice")));

        // The same batch again (a restart before the token moved on): nothing new is sent.
        h.process(b);
        CHECK(h.outbox_size() == 0);
        CHECK(h.http.request_count() == 2);
    }

    TEST_CASE("sync loop passes a command to the router as addressed")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$q", "  !fiche tiers ")})));
        REQUIRE(h.seen.size() == 1);
        const auto& m = h.seen[0];
        CHECK(m.addressed);
        CHECK_FALSE(m.is_direct);
        CHECK(m.text == "!fiche tiers");
        CHECK(m.room_id == salon);
        CHECK(m.event_id == "$q");
        CHECK(m.sender == marie);
        CHECK(h.outbox_size() == 1);
        CHECK(h.handled("$q"));
        CHECK(h.wakes == 1);
    }

    TEST_CASE("sync loop treats a mention in m.mentions as addressed")
    {
        Harness h;
        h.process(batch(
            "s1", json::array({text_event("$q", "Opale peux-tu m'aider ?",
                                          {{"m.mentions", {{"user_ids", {me}}}}}),
                               text_event("$other", "Paul peux-tu m'aider ?",
                                          {{"m.mentions", {{"user_ids", {"@paul:hs.test"}}}}})})));
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].event_id == "$q");
        CHECK(h.seen[0].addressed);
        CHECK(h.outbox_size() == 1);
    }

    TEST_CASE("sync loop treats the bot's name at the start as addressed and removes it")
    {
        Harness h;
        h.loop().set_display_name("Opale Bot");
        h.process(batch("s1", json::array({text_event("$1", "opale: comment créer un tiers ?"),
                                           text_event("$2", "@opale comment créer un tiers ?"),
                                           text_event("$3", "Opale Bot, comment créer un tiers ?"),
                                           text_event("$4", "OPALE comment créer un tiers ?")})));
        REQUIRE(h.seen.size() == 4);
        for (const auto& m : h.seen) {
            CAPTURE(m.event_id);
            CHECK(m.addressed);
            CHECK(m.text == "comment créer un tiers ?");
        }
        CHECK(h.outbox_size() == 4);
    }

    TEST_CASE("sync loop does not take a longer word for the bot's name")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$1", "opaline est une couleur"),
                                           text_event("$2", "l'opale est une pierre")})));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("sync loop treats a rich reply to a bot message as addressed")
    {
        Harness h;
        h.bot_message("$bot-answer", "tiers");
        h.process(batch(
            "s1", json::array({text_event(
                      "$q", "> <@opale:hs.test> Créer le tiers\n\nmerci mais pour un agent ?",
                      {{"m.relates_to", {{"m.in_reply_to", {{"event_id", "$bot-answer"}}}}}})})));
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].addressed);
        CHECK(h.seen[0].text == "merci mais pour un agent ?");
    }

    TEST_CASE("sync loop does not count a thread fallback reply to the bot as addressed")
    {
        Harness h;
        h.bot_message("$bot-answer", "tiers");
        h.process(batch("s1", json::array({text_event(
                                  "$q", "et pour un agent ?",
                                  {{"m.relates_to",
                                    {{"rel_type", "m.thread"},
                                     {"event_id", "$root"},
                                     {"is_falling_back", true},
                                     {"m.in_reply_to", {{"event_id", "$bot-answer"}}}}}})})));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("sync loop does not count a reply to someone else as addressed")
    {
        Harness h;
        h.process(
            batch("s1", json::array({text_event(
                            "$q", "d'accord",
                            {{"m.relates_to", {{"m.in_reply_to", {{"event_id", "$x"}}}}}})})));
        CHECK(h.seen.empty());
    }

    TEST_CASE("sync loop treats every message of a direct chat as addressed and a salon of two as "
              "a salon")
    {
        Harness h;
        const std::string dm = "!dm:hs.test";
        const std::string pair = "!pair:hs.test";
        h.config.allowed_rooms = {salon, dm, pair};
        h.process(batch("s1", json::array({text_event("$dm", "comment créer un tiers ?")}), dm,
                        {{"state",
                          {{"events", json::array({state_event(
                                          "m.room.member", me,
                                          {{"membership", "join"}, {"is_direct", true}})})}}}}));
        // "bonjour à tous" in a salon that happens to have two members is not for the bot
        h.process(batch("s2", json::array({text_event("$pair", "bonjour à tous, réunion demain")}),
                        pair, {{"summary", {{"m.joined_member_count", 2}}}}));
        REQUIRE(h.seen.size() == 1); // chatter in a salon never reaches the router
        CHECK(h.seen[0].room_id == dm);
        CHECK(h.seen[0].addressed);
        CHECK(h.seen[0].is_direct);
        CHECK(h.outbox_size() == 1);
    }

    TEST_CASE("sync loop ignores plain salon chatter")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$q", "comment créer un tiers ?")}), salon,
                        {{"summary", {{"m.joined_member_count", 12}}}}));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
        CHECK(h.wakes == 0);
        CHECK(h.store.sync_token().value() == "s1");
    }

    TEST_CASE("answer_without_mention lets the router answer salon chatter")
    {
        Harness h;
        h.config.answer_without_mention = true;
        SUBCASE("the router answers")
        {
            h.process(batch("s1", json::array({text_event("$q", "comment créer un tiers ?")})));
            REQUIRE(h.seen.size() == 1);
            CHECK_FALSE(h.seen[0].addressed);
            CHECK(h.seen[0].text == "comment créer un tiers ?");
            CHECK(h.outbox_size() == 1);
        }
        SUBCASE("the router stays silent")
        {
            h.answer.reset();
            h.process(batch("s1", json::array({text_event("$q", "il fait beau")})));
            CHECK(h.seen.size() == 1);
            CHECK(h.outbox_size() == 0);
            CHECK(h.wakes == 0);
        }
    }

    TEST_CASE("sync loop ignores notices edits own messages and other bots")
    {
        Harness h;
        h.config.bots = {"@autre-bot:hs.test"};
        json notice = text_event("$notice", "!aide");
        notice["content"]["msgtype"] = "m.notice";
        json echo = text_event("$echo", "!aide", json::object(), me);
        echo["unsigned"] = {{"transaction_id", "opb-x"}};
        h.process(batch(
            "s1",
            json::array({notice,
                         text_event("$edit", "* !aide",
                                    {{"m.new_content", {{"msgtype", "m.text"}, {"body", "!aide"}}},
                                     {"m.relates_to",
                                      {{"rel_type", "m.replace"}, {"event_id", "$before"}}}}),
                         text_event("$own", "!aide", json::object(), me), echo,
                         text_event("$bot", "!aide", json::object(), "@autre-bot:hs.test")})));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("ignore_bots false lets the bot answer the configured bots")
    {
        Harness h;
        h.config.bots = {"@autre-bot:hs.test"};
        h.config.ignore_bots = false;
        h.process(batch("s1", json::array({text_event("$bot", "!aide", json::object(),
                                                      "@autre-bot:hs.test")})));
        CHECK(h.seen.size() == 1);
    }

    TEST_CASE("sync loop ignores rooms it may not act in")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$q", "!aide")}), "!ailleurs:hs.test"));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
        CHECK(h.store.sync_token().value() == "s1");
    }

    TEST_CASE("sync loop records a message older than max_backlog_age as backlog")
    {
        const TempDir dir;
        const auto path = dir.file("state.db");
        Harness h{path};
        h.config.max_backlog_age = 20s;
        json aged = text_event("$aged", "!aide");
        aged["unsigned"] = {{"age", 30'000}};
        h.process(batch(
            "s1",
            json::array({text_event("$old", "!aide", json::object(), marie, now_ms - 21'000), aged,
                         text_event("$fresh", "!aide", json::object(), marie, now_ms - 5'000)})));
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].event_id == "$fresh");
        CHECK(h.outbox_size() == 1);
        CHECK(ledger_outcome(path, "$old") == "backlog");
        CHECK(ledger_outcome(path, "$aged") == "backlog");
        CHECK(ledger_outcome(path, "$fresh") == "answered");
    }

    TEST_CASE("sync loop answers an event seen in two batches once")
    {
        Harness h;
        const auto question = text_event("$q", "!aide");
        h.process(batch("s1", json::array({question})));
        h.process(batch("s2", json::array({question})));
        CHECK(h.seen.size() == 1);
        CHECK(h.outbox_size() == 1);

        // Still once after the answer left the outbox.
        REQUIRE(static_cast<bool>(h.store.mark_sent(h.next_outgoing(), "$answer")));
        h.process(batch("s3", json::array({question})));
        CHECK(h.seen.size() == 1);
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("a batch with an event that kills the bot is handled without that event")
    {
        TempDir dir;
        const auto path = (dir.path() / "state.sqlite").string();
        {
            Harness first{path}; // the state file, and a first batch
            first.process(batch("s1", json::array()));
        }
        const auto poisoned = batch(
            "s2", json::array({text_event("$before", "!aide"), text_event("$poison", "!poison"),
                               text_event("$after", "!sigle EJ")}));
        // Each start in a child process, as systemd restarts the bot after a crash.
        const auto start = [&] {
            const pid_t pid = fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                std::signal(SIGABRT, SIG_DFL); // die as the bot would, without doctest's report
                Harness h{path};
                h.config.alerts_room = "!admins:hs.test";
                h.loop();
                const auto done = h.loop().process(poisoned, false);
                std::_Exit(done ? 0 : 3);
            }
            int status = 0;
            REQUIRE(waitpid(pid, &status, 0) == pid);
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        };
        // Three starts die as before; the fourth, in quarantine, dies on the poison event only
        // after marking it; the fifth sets it aside and finishes the batch.
        for (int n = 1; n <= SyncLoop::poison_batch_starts + 1; ++n)
            CHECK_FALSE_MESSAGE(start(), "start " << n);
        CHECK(start());

        Harness after{path};
        CHECK(after.handled("$before"));
        CHECK(after.handled("$after"));
        CHECK(ledger_outcome(path, "$poison") == "set-aside");
        CHECK(after.outbox_size() == 3); // both others answered, once, and the admins told
        SQLite::Database db{path, SQLite::OPEN_READONLY};
        const auto alert = db.execAndGet("SELECT content FROM outbox WHERE room_id = "
                                         "'!admins:hs.test'")
                               .getString();
        CHECK(alert.find("mis de côté") != std::string::npos);
        CHECK(alert.find("$poison") != std::string::npos);
        CHECK(alert.find("!poison") == std::string::npos); // never the message's text
        const auto count = after.store.set_aside_count();
        REQUIRE(static_cast<bool>(count));
        CHECK(count.value() == 1);
        // the batch is finished: the next one is handled normally
        after.process(batch("s3", json::array({text_event("$next", "!aide")})));
        CHECK(after.handled("$next"));
    }

    TEST_CASE("a batch interrupted without a crash sets nothing aside")
    {
        TempDir dir;
        const auto path = (dir.path() / "state.sqlite").string();
        Harness h{path};
        h.process(batch("s1", json::array()));
        const auto again = batch("s2", json::array({text_event("$q", "!aide")}));
        // started often (a full disk, a stop) without a crash in an event: no event blamed
        for (int n = 0; n < SyncLoop::poison_batch_starts + 2; ++n)
            REQUIRE(static_cast<bool>(h.store.begin_batch(h.loop().since())));
        h.process(again);
        CHECK(ledger_outcome(path, "$q") == "answered");
        const auto count = h.store.set_aside_count();
        REQUIRE(static_cast<bool>(count));
        CHECK(count.value() == 0);
    }

    TEST_CASE("sync loop records an addressed message the router leaves unanswered")
    {
        Harness h;
        h.answer.reset();
        h.process(batch("s1", json::array({text_event("$q", "!inconnue")})));
        CHECK(h.seen.size() == 1);
        CHECK(h.outbox_size() == 0);
        CHECK(h.handled("$q"));
        h.process(batch("s2", json::array({text_event("$q", "!inconnue")})));
        CHECK(h.seen.size() == 1);
    }

    TEST_CASE("a router that throws does not stop the batch")
    {
        Harness h;
        h.router_throws = true;
        h.process(batch("s1", json::array({text_event("$q", "!aide")})));
        CHECK(h.outbox_size() == 0);
        CHECK(h.store.sync_token().value() == "s1");
        h.router_throws = false;
        h.process(batch("s2", json::array({text_event("$q2", "!aide")})));
        CHECK(h.outbox_size() == 1);
    }

    TEST_CASE("the reply notifies the asker with plain and html bodies and the bots' marker")
    {
        Harness h;
        h.answer = OutgoingReply{"**Créer** le tiers\n\n- ouvrir *Tiers*", "tiers", {}};
        h.process(batch("s1", json::array({text_event("$q", "!fiche tiers")})));
        const auto out = h.next_outgoing();
        CHECK(out.room_id == salon);
        CHECK(out.event_type == "m.room.message");
        CHECK(out.txn_id == txn_id_for("$q"));
        CHECK(out.source_event == "$q");
        CHECK(out.entry_id == "tiers");
        CHECK(out.priority == 0);
        const auto content = json::parse(out.content);
        // an m.text: the asker's push rules notify it (an m.notice never does)
        CHECK(content["msgtype"] == "m.text");
        CHECK(content[std::string{automated_marker}] == true);
        CHECK(content["body"] == markdown_to_text(h.answer->markdown));
        CHECK(content["body"].get<std::string>().find("**") == std::string::npos);
        CHECK(content["format"] == "org.matrix.custom.html");
        CHECK(content["formatted_body"] == markdown_to_html(h.answer->markdown));
        CHECK(content["formatted_body"].get<std::string>().find("<strong>Créer</strong>") !=
              std::string::npos);
        CHECK(content["m.mentions"] == json{{"user_ids", {marie}}});
    }

    TEST_CASE("thread mode answers in a thread rooted at the question")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$q", "!aide")})));
        CHECK(h.reply_content()["m.relates_to"] == json{{"rel_type", "m.thread"},
                                                        {"event_id", "$q"},
                                                        {"is_falling_back", true},
                                                        {"m.in_reply_to", {{"event_id", "$q"}}}});
    }

    TEST_CASE("a question asked in a thread is answered in that thread")
    {
        for (const auto mode : {ReplyMode::thread, ReplyMode::reply}) {
            CAPTURE(static_cast<int>(mode));
            Harness h;
            h.config.reply_mode = mode;
            h.process(batch("s1", json::array({text_event(
                                      "$q", "!aide",
                                      {{"m.relates_to",
                                        {{"rel_type", "m.thread"},
                                         {"event_id", "$root"},
                                         {"is_falling_back", true},
                                         {"m.in_reply_to", {{"event_id", "$previous"}}}}}})})));
            const auto relates = h.reply_content()["m.relates_to"];
            CHECK(relates["rel_type"] == "m.thread");
            CHECK(relates["event_id"] == "$root");
            CHECK(relates["m.in_reply_to"] == json{{"event_id", "$q"}});
        }
    }

    TEST_CASE("reply mode sends a rich reply to the question")
    {
        Harness h;
        h.config.reply_mode = ReplyMode::reply;
        h.process(batch("s1", json::array({text_event("$q", "!aide")})));
        CHECK(h.reply_content()["m.relates_to"] == json{{"m.in_reply_to", {{"event_id", "$q"}}}});
    }

    TEST_CASE("the question record is saved with the batch and its room")
    {
        Harness h;
        opalebot::bot::QuestionRecord record;
        record.asked_at = 1'700'000'000;
        record.sender = marie;
        record.question = "tiers ?";
        record.kind = "entree";
        record.entry_id = "tiers";
        record.score = 0.9;
        h.answer->question = record;
        h.process(batch("s1", json::array({text_event("$q", "!fiche tiers")})));
        CHECK(h.store.question_count().value() == 1);
        const auto stats = h.store.kb_stats(0, 0.5);
        REQUIRE(static_cast<bool>(stats));
        REQUIRE(stats.value().entries.size() == 1);
        CHECK(stats.value().entries[0].entry_id == "tiers");
    }

    TEST_CASE("the router gets the sender's power level from the room state")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$q", "!kb stats")}), salon,
                        {{"state",
                          {{"events", json::array({state_event(
                                          "m.room.power_levels", "",
                                          {{"users", {{marie, 50}}}, {"users_default", 0}})})}}}}));
        h.process(batch(
            "s2", json::array({text_event("$q2", "!kb stats", json::object(), "@paul:hs.test")})));
        REQUIRE(h.seen.size() == 2);
        CHECK(h.seen[0].power_level == 50);
        CHECK(h.seen[1].power_level == 0);
    }

    TEST_CASE("a room version 12 creator has the highest power level and keeps it")
    {
        Harness h;
        const json create = {{"type", "m.room.create"},
                             {"state_key", ""},
                             {"event_id", "$create"},
                             {"sender", "@chef:hs.test"},
                             {"origin_server_ts", now_ms - 100'000},
                             {"content", {{"room_version", "12"}}}};
        h.process(batch(
            "s1", json::array({text_event("$q", "!kb stats", json::object(), "@chef:hs.test")}),
            salon,
            {{"state",
              {{"events", json::array({create, state_event("m.room.power_levels", "",
                                                           {{"users", {{marie, 50}}}})})}}}}));
        // a later power levels event (the creator is never listed there) keeps the creator
        h.process(batch(
            "s2", json::array({state_event("m.room.power_levels", "", {{"users", {{marie, 60}}}}),
                               text_event("$q2", "!kb stats", json::object(), "@chef:hs.test")})));
        REQUIRE(h.seen.size() == 2);
        CHECK(h.seen[0].power_level > 100);
        CHECK(h.seen[1].power_level > 100);
        const auto stored = h.store.room(salon); // and across a restart
        REQUIRE(static_cast<bool>(stored));
        REQUIRE(stored.value().has_value());
        REQUIRE(stored.value()->power_levels.has_value());
        CHECK(stored.value()->power_levels->level_of("@chef:hs.test") > 100);
        CHECK(stored.value()->power_levels->level_of(marie) == 60);
    }

    TEST_CASE("txn_id_for is stable and distinct")
    {
        CHECK(txn_id_for("$abc") == txn_id_for("$abc"));
        CHECK(txn_id_for("$abc", 0) == txn_id_for("$abc"));
        CHECK(txn_id_for("$abc") != txn_id_for("$abd"));
        CHECK(txn_id_for("$abc", 1) != txn_id_for("$abc", 0));
        CHECK(txn_id_for("$abc", 1) != txn_id_for("$abc", 2));
        CHECK(url_encode(txn_id_for("$a/b:c")) == txn_id_for("$a/b:c")); // safe in a path
    }

    TEST_CASE("an invite from an allowed inviter is joined")
    {
        for (const std::string inviter : {"@chef:hs.test", "@agent:partenaire.test"}) {
            CAPTURE(inviter);
            Harness h;
            h.http.reply(200, R"({"room_id":"!new:hs.test"})");
            h.process(invite_batch("s1", "!new:hs.test", inviter));
            REQUIRE(h.http.request_count() == 1);
            CHECK(h.http.request(0).method == "POST");
            CHECK(h.http.request(0).url == hs + "/_matrix/client/v3/rooms/%21new%3Ahs.test/join");
            const auto room = h.store.room("!new:hs.test");
            REQUIRE(static_cast<bool>(room));
            REQUIRE(room.value().has_value());
            CHECK(room.value()->inviter == inviter);

            // The room is then one the bot acts in.
            h.process(batch("s2", json::array({text_event("$q", "!aide")}), "!new:hs.test"));
            CHECK(h.seen.size() == 1);
        }
    }

    TEST_CASE("an invite from anyone else gets no request at all")
    {
        for (const std::string inviter :
             {"@intrus:evil.test", "@chef:hs.test.evil.test", "@x:notpartenaire.test", ""}) {
            CAPTURE(inviter);
            Harness h;
            h.process(invite_batch("s1", "!new:hs.test", inviter));
            CHECK(h.http.request_count() == 0);
            const auto room = h.store.room("!new:hs.test");
            REQUIRE(static_cast<bool>(room));
            CHECK_FALSE(room.value().has_value());
        }
    }

    TEST_CASE("an invite to an allowed room is joined whoever sent it")
    {
        Harness h;
        h.http.reply(200, "{}");
        h.process(invite_batch("s1", salon, "@intrus:evil.test"));
        REQUIRE(h.http.request_count() == 1);
        CHECK(h.http.request(0).url.find("/join") != std::string::npos);
    }

    TEST_CASE("a join refused with 403 declines the invite")
    {
        Harness h;
        h.http.reply(403, R"({"errcode":"M_FORBIDDEN","error":"not allowed"})");
        h.http.reply(200, "{}");
        h.process(invite_batch("s1", "!new:hs.test", "@chef:hs.test"));
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(0).url == hs + "/_matrix/client/v3/rooms/%21new%3Ahs.test/join");
        CHECK(h.http.request(1).method == "POST");
        CHECK(h.http.request(1).url == hs + "/_matrix/client/v3/rooms/%21new%3Ahs.test/leave");
        CHECK_FALSE(h.store.room("!new:hs.test").value().has_value());
        CHECK(h.store.sync_token().value() == "s1");
    }

    TEST_CASE("thumbs up and down on a bot message are stored as feedback")
    {
        Harness h;
        h.bot_message("$answer", "tiers");
        h.process(batch(
            "s1", json::array({reaction_event("$up", "$answer", "👍"),
                               reaction_event("$down", "$answer", "👎", "@paul:hs.test"),
                               reaction_event("$party", "$answer", "🎉", "@lea:hs.test"),
                               reaction_event("$elsewhere", "$not-bot", "👍", "@lea:hs.test")})));
        CHECK(h.handled("$up"));
        CHECK(h.handled("$down"));
        CHECK_FALSE(h.handled("$party"));
        CHECK_FALSE(h.handled("$elsewhere"));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
        const auto stats = h.store.kb_stats(0, 0.5);
        REQUIRE(static_cast<bool>(stats));
        REQUIRE(stats.value().entries.size() == 1);
        CHECK(stats.value().entries[0].entry_id == "tiers");
        CHECK(stats.value().entries[0].up == 1);
        CHECK(stats.value().entries[0].down == 1);
    }

    TEST_CASE("run_once counts sync errors and 429s and times replies from the question")
    {
        auto& metrics = opalebot::metrics::bot_metrics();
        const auto errors = metrics.sync_errors.value();
        const auto limited = metrics.rate_limited.value();
        const auto timed = metrics.reply_latency.snapshot();
        Harness h;
        h.http.reply(200, R"({"filter_id":"f1"})");
        h.http.reply(200, R"({"next_batch":"s1"})");
        h.http.reply(200, sync_body("s2", json::array({text_event("$q", "!aide")})));
        h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2000})");
        CHECK(h.loop().run_once() == 0ms);
        CHECK(metrics.last_sync.value() == doctest::Approx(now_ms / 1000));
        h.clock = now + 1500ms; // the reply is queued 1.5 s after the question was sent
        CHECK(h.loop().run_once() == 0ms);
        CHECK(metrics.last_sync.value() == doctest::Approx(now_ms / 1000 + 1));
        const auto after = metrics.reply_latency.snapshot();
        REQUIRE(after.upper_bounds.size() > 4);
        CHECK(after.upper_bounds[3] == 1);
        CHECK(after.upper_bounds[4] == 2.5);
        CHECK(after.cumulative.back() == timed.cumulative.back() + 1);
        CHECK(after.cumulative[3] == timed.cumulative[3]);     // not within 1 s
        CHECK(after.cumulative[4] == timed.cumulative[4] + 1); // within 2.5 s
        CHECK(after.sum - timed.sum == doctest::Approx(1.5));
        CHECK(metrics.sync_errors.value() == errors);

        CHECK(h.loop().run_once() >= 2000ms);
        CHECK(metrics.sync_errors.value() == errors + 1);
        CHECK(metrics.rate_limited.value() == limited + 1);
        CHECK(metrics.last_sync.value() == doctest::Approx(now_ms / 1000 + 1)); // unchanged
    }

    TEST_CASE("run_once makes the first sync with timeout zero and answers only later syncs")
    {
        Harness h;
        h.http.reply(200, R"({"filter_id":"f1"})");
        h.http.reply(
            200,
            json{{"next_batch", "s1"},
                 {"rooms",
                  {{"join",
                    {{salon,
                      {{"timeline", {{"events", json::array({text_event("$old", "!aide")})}}}}}}}}}}
                .dump());
        h.http.reply(
            200,
            json{{"next_batch", "s2"},
                 {"rooms",
                  {{"join",
                    {{salon,
                      {{"timeline", {{"events", json::array({text_event("$new", "!aide")})}}}}}}}}}}
                .dump());
        CHECK(h.loop().run_once() == 0ms);
        CHECK(h.seen.empty()); // history
        CHECK(h.loop().run_once() == 0ms);
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].event_id == "$new");
        CHECK(h.loop().since() == "s2");
        CHECK(h.store.filter_id().value() == "f1");

        REQUIRE(h.http.request_count() == 3);
        CHECK(h.http.request(0).method == "POST");
        CHECK(h.http.request(0).url == hs + "/_matrix/client/v3/user/%40opale%3Ahs.test/filter");
        const auto first = h.http.request(1);
        CHECK(first.url.find("/_matrix/client/v3/sync?") != std::string::npos);
        CHECK(first.url.find("timeout=0") != std::string::npos);
        CHECK(first.url.find("filter=f1") != std::string::npos);
        CHECK(first.url.find("since=") == std::string::npos);
        const auto second = h.http.request(2);
        CHECK(second.url.find("timeout=30000") != std::string::npos);
        CHECK(second.url.find("since=s1") != std::string::npos);
        for (const auto& request : h.http.requests()) {
            CHECK(request.headers.at("Authorization") == "Bearer syt_tok");
            CHECK(request.url.find("syt_tok") == std::string::npos);
        }
    }

    TEST_CASE("run_once resumes from the stored token and filter")
    {
        Harness h;
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f9")));
        SyncBatchWrites saved;
        saved.next_batch = "s41";
        REQUIRE(static_cast<bool>(h.store.commit(saved)));
        h.http.reply(200, R"({"next_batch":"s42"})");
        CHECK(h.loop().run_once() == 0ms);
        REQUIRE(h.http.request_count() == 1);
        CHECK(h.http.request(0).url.find("since=s41") != std::string::npos);
        CHECK(h.http.request(0).url.find("filter=f9") != std::string::npos);
        CHECK(h.http.request(0).url.find("timeout=30000") != std::string::npos);
        CHECK(h.store.sync_token().value() == "s42");
    }

    TEST_CASE("run_once waits the retry_after of a 429 and backs off on other failures")
    {
        Harness h;
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f1")));
        SyncBatchWrites saved;
        saved.next_batch = "s1";
        REQUIRE(static_cast<bool>(h.store.commit(saved)));
        h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500})");
        h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500})",
                     {{"retry-after", "4"}});
        h.http.reply(502, "Bad Gateway");
        h.http.fail();
        const auto limited = h.loop().run_once();
        CHECK(limited >= 1500ms);
        CHECK(limited <= 1500ms + 1500ms / 4 + 1ms);
        const auto header = h.loop().run_once();
        CHECK(header >= 4000ms);
        CHECK(header <= 5001ms);
        const auto bad_gateway = h.loop().run_once();
        CHECK(bad_gateway >= 1000ms);
        const auto dropped = h.loop().run_once();
        CHECK(dropped >= bad_gateway - bad_gateway / 5); // never shorter after a second failure
        CHECK(dropped <= 30'000ms + 30'000ms / 4 + 1ms);
        CHECK(h.store.sync_token().value() == "s1");
        CHECK(h.loop().since() == "s1");
        CHECK(h.seen.empty());
    }

    TEST_CASE("run_once logs in again on the same device after a soft logout")
    {
        Harness h;
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f1")));
        h.http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":true})");
        h.http.reply(200,
                     R"({"user_id":"@opale:hs.test","device_id":"DEV","access_token":"syt_2"})");
        h.http.reply(200, R"({"next_batch":"s1"})");
        CHECK(h.loop().run_once() == 0ms);
        CHECK(h.loop().run_once() == 0ms);
        REQUIRE(h.http.request_count() == 3);
        const auto login = h.http.request(1);
        CHECK(login.url == hs + "/_matrix/client/v3/login");
        CHECK(json::parse(login.body)["device_id"] == "DEV");
        CHECK(h.http.request(2).headers.at("Authorization") == "Bearer syt_2");
        const auto stored = h.store.session();
        REQUIRE(static_cast<bool>(stored));
        REQUIRE(stored.value().has_value());
        CHECK(stored.value()->device_id == "DEV");
        CHECK(stored.value()->access_token == "syt_2");
        CHECK(h.fatal.empty());
    }

    TEST_CASE("run_once reports a revoked token as fatal")
    {
        Harness h;
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f1")));
        h.http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":false})");
        const auto delay = h.loop().run_once();
        CHECK(delay > 0ms);
        CHECK(h.fatal.size() == 1);
        CHECK(h.http.request_count() == 1); // no login on a device that is gone
    }

    TEST_CASE("sync loop removes the bot's full user id at the start of a message")
    {
        Harness h;
        h.process(
            batch("s1", json::array({text_event("$1", "@opale:hs.test comment créer un tiers ?"),
                                     text_event("$2", "@opale:hs.test: !aide")})));
        REQUIRE(h.seen.size() == 2);
        CHECK(h.seen[0].addressed);
        CHECK(h.seen[0].text == "comment créer un tiers ?");
        CHECK(h.seen[1].addressed);
        CHECK(h.seen[1].text == "!aide");
    }

    TEST_CASE("sync loop sends no plaintext reply into an encrypted room")
    {
        Harness h;
        h.process(batch(
            "s1", json::array({text_event("$q", "!aide")}), salon,
            {{"state",
              {{"events", json::array({state_event("m.room.encryption", "",
                                                   {{"algorithm", "m.megolm.v1.aes-sha2"}})})}}}}));
        const auto room = h.store.room(salon);
        REQUIRE(static_cast<bool>(room));
        REQUIRE(room.value().has_value());
        REQUIRE(room.value()->encrypted); // the loop knows the room is encrypted
        CHECK(h.outbox_size() == 0);      // notes/matrix.md §4: fail closed
    }

    TEST_CASE("run_once never waits a negative or absurd delay after a malformed 429")
    {
        Harness h;
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f1")));
        SyncBatchWrites saved;
        saved.next_batch = "s1";
        REQUIRE(static_cast<bool>(h.store.commit(saved)));
        for (int i = 0; i < 20; ++i) {
            h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":-4000})");
            const auto delay = h.loop().run_once();
            CHECK(delay >= 0ms);
            CHECK(delay <= 60'000ms);
        }
    }

    TEST_CASE("sync loop fetches the events a limited timeline left out")
    {
        Harness h;
        h.config.max_backlog_age = 600s;
        // /messages backwards: newest first; the third is too old to answer and ends the walk.
        h.http.reply(
            200, json{{"chunk",
                       json::array(
                           {text_event("$gap2", "!aide", json::object(), marie, now_ms - 2'000),
                            text_event("$gap1", "!sigle EJ", json::object(), marie, now_ms - 3'000),
                            text_event("$old", "!aide", json::object(), marie, now_ms - 900'000)})},
                      {"end", "t-older"}}
                     .dump());
        h.process(batch("s2", json::array({text_event("$new", "!fiches")}), salon,
                        {{"timeline",
                          {{"events", json::array({text_event("$new", "!fiches")})},
                           {"limited", true},
                           {"prev_batch", "t-gap"}}}}));
        REQUIRE(h.http.request_count() == 1);
        const auto request = h.http.request(0);
        CHECK(request.url.find("/rooms/%21salon%3Ahs.test/messages?dir=b") != std::string::npos);
        CHECK(request.url.find("from=t-gap") != std::string::npos);
        REQUIRE(h.seen.size() == 3); // oldest first, then the timeline
        CHECK(h.seen[0].event_id == "$gap1");
        CHECK(h.seen[1].event_id == "$gap2");
        CHECK(h.seen[2].event_id == "$new");
        CHECK(h.outbox_size() == 3);
        CHECK_FALSE(h.handled("$old"));
    }

    TEST_CASE("sync loop gives a command the file it replies to")
    {
        Harness h;
        h.config.admins = {marie};
        h.http.reply(200, json{{"type", "m.room.message"},
                               {"event_id", "$file"},
                               {"content",
                                {{"msgtype", "m.file"},
                                 {"body", "vague6.csv"},
                                 {"url", "mxc://hs.test/abc"},
                                 {"info", {{"size", 12}}}}}}
                              .dump());
        h.http.reply(200, "uai;nom;vague\n");
        h.process(
            batch("s1", json::array({text_event(
                            "$cmd", "!import etablissements",
                            {{"m.relates_to", {{"m.in_reply_to", {{"event_id", "$file"}}}}}})})));
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(0).url.find("/rooms/%21salon%3Ahs.test/event/%24file") !=
              std::string::npos);
        CHECK(h.http.request(1).url == hs + "/_matrix/client/v1/media/download/hs.test/abc");
        REQUIRE(h.seen.size() == 1);
        REQUIRE(h.seen[0].attachment.has_value());
        CHECK(h.seen[0].attachment->first == "vague6.csv");
        CHECK(h.seen[0].attachment->second == "uai;nom;vague\n");
    }

    TEST_CASE("sync loop reads a file whose caption is a command and refuses a file too big")
    {
        Harness h;
        json file_event = text_event("$f", "!import indicateurs");
        file_event["content"] = {{"msgtype", "m.file"},
                                 {"body", "!import indicateurs"},
                                 {"filename", "indicateurs.csv"},
                                 {"url", "mxc://hs.test/big"},
                                 {"info", {{"size", 50'000'000}}}};
        h.process(batch("s1", json::array({file_event})));
        CHECK(h.http.request_count() == 0); // never downloaded
        CHECK(h.seen.empty());              // the router never sees it
        const auto body = h.reply_content()["body"].get<std::string>();
        CHECK(body.find("5 Mo") != std::string::npos);
    }

    TEST_CASE("sync loop ignores a file without a caption")
    {
        Harness h;
        json file_event = text_event("$f", "export.csv");
        file_event["content"] = {
            {"msgtype", "m.file"}, {"body", "export.csv"}, {"url", "mxc://hs.test/x"}};
        h.config.allowed_rooms = {salon};
        h.process(batch("s1", json::array({file_event})));
        CHECK(h.seen.empty());
        CHECK(h.http.request_count() == 0);
        // Not in a direct chat either, where every message is for the bot: a command may reply
        // to it later.
        file_event["event_id"] = "$f2";
        h.process(batch("s2", json::array({file_event}), salon,
                        {{"summary", {{"m.joined_member_count", 2}}}}));
        CHECK(h.seen.empty());
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("sync loop routes unmentioned answers of an open conversation in its thread")
    {
        Harness h;
        const json in_thread{
            {"m.relates_to",
             {{"rel_type", "m.thread"}, {"event_id", "$cmd"}, {"is_falling_back", true}}}};
        h.loop().set_conversation_check(
            [](const std::string& user, const Conversation& conversation) {
                return user == marie && conversation == Conversation{salon, "$cmd"};
            });
        h.process(
            batch("s1", json::array({text_event("$a1", "gestionnaire", in_thread),
                                     text_event("$a2", "bavardage hors du fil"),
                                     text_event("$a3", "moi aussi", in_thread, "@paul:hs.test")})));
        REQUIRE(h.seen.size() == 1); // only marie's answer in the dialogue's thread
        CHECK(h.seen[0].event_id == "$a1");
        CHECK(h.seen[0].conversation == Conversation{salon, "$cmd"});
        CHECK(h.reply_content()["m.relates_to"]["event_id"] == "$cmd");
    }

    TEST_CASE("sync loop gives a screenshot sent in an open conversation to the router")
    {
        Harness h;
        h.loop().set_conversation_check(
            [](const std::string& user, const Conversation& conversation) {
                return user == marie && conversation == Conversation{salon, "$cmd"};
            });
        json image = text_event("$img", "capture.png");
        image["content"] = {
            {"msgtype", "m.image"},
            {"body", "capture.png"},
            {"url", "mxc://hs.test/png"},
            {"info", {{"mimetype", "image/png"}, {"size", 4}}},
            {"m.relates_to",
             {{"rel_type", "m.thread"}, {"event_id", "$cmd"}, {"is_falling_back", true}}}};
        json elsewhere = image;
        elsewhere["event_id"] = "$img2";
        elsewhere["content"].erase("m.relates_to"); // not in the dialogue's thread
        h.http.reply(200, "\x89PNG");
        h.process(batch("s1", json::array({image, elsewhere})));
        REQUIRE(h.http.request_count() == 1); // only the screenshot of the dialogue
        CHECK(h.http.request(0).url == hs + "/_matrix/client/v1/media/download/hs.test/png");
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].conversation == Conversation{salon, "$cmd"});
        REQUIRE(h.seen[0].attachment.has_value());
        CHECK(h.seen[0].attachment->first == "capture.png");
        CHECK(h.seen[0].attachment->second == "\x89PNG");
    }

    TEST_CASE("sync loop decrypts a file sent in an encrypted room and refuses a tampered one")
    {
        Harness h;
        h.loop().set_conversation_check(
            [](const std::string&, const Conversation&) { return true; });
        auto sealed = crypto::encrypt_attachment("uai;nom\n");
        REQUIRE(static_cast<bool>(sealed));
        auto file = sealed.value().file;
        file.url = "mxc://hs.test/enc";
        json image = text_event("$img", "capture.png");
        image["content"] = {{"msgtype", "m.image"},
                            {"body", "capture.png"},
                            {"file", crypto::to_json(file)},
                            {"info", {{"size", 8}}}};
        json second = image;
        second["event_id"] = "$img2";
        h.http.reply(200, sealed.value().ciphertext);
        h.http.reply(200, "pas le bon contenu");
        h.process(batch("s1", json::array({image, second})));
        REQUIRE(h.http.request_count() == 2);
        CHECK(h.http.request(0).url == hs + "/_matrix/client/v1/media/download/hs.test/enc");
        REQUIRE(h.seen.size() == 1);
        REQUIRE(h.seen[0].attachment.has_value());
        CHECK(h.seen[0].attachment->second == "uai;nom\n");
        // The second download does not match the hash: refused in French, not routed.
        REQUIRE(h.outbox_size() == 2);
        REQUIRE(static_cast<bool>(h.store.mark_sent(h.next_outgoing(), "$answer")));
        CHECK(h.reply_content()["body"].get<std::string>().find("chiffré et illisible") !=
              std::string::npos);
    }

    TEST_CASE("sync loop refuses a screenshot over 10 MB without downloading it")
    {
        Harness h;
        h.loop().set_conversation_check(
            [](const std::string&, const Conversation&) { return true; });
        json image = text_event("$img", "big.png");
        image["content"] = {{"msgtype", "m.image"},
                            {"body", "big.png"},
                            {"url", "mxc://hs.test/big"},
                            {"info", {{"size", 20'000'000}}}};
        h.process(batch("s1", json::array({image})));
        CHECK(h.http.request_count() == 0);
        CHECK(h.seen.empty());
        CHECK(h.reply_content()["body"].get<std::string>().find("10 Mo") != std::string::npos);
    }

    TEST_CASE("a reaction on a bot message reaches the reaction router with its thread")
    {
        Harness h;
        h.bot_message("$card", "");
        std::vector<IncomingReaction> reactions;
        h.loop().set_reaction_router(
            [&](const IncomingReaction& r) -> std::optional<OutgoingReply> {
                reactions.push_back(r);
                if (r.key == "🎉")
                    return std::nullopt;
                return OutgoingReply{"Ticket **créé**", {}, std::nullopt};
            });
        // The card was sent in the thread of $cmd: the loop reads it from the server.
        h.http.reply(200,
                     json{{"type", "m.room.message"},
                          {"event_id", "$card"},
                          {"content",
                           {{"msgtype", "m.notice"},
                            {"body", "Récapitulatif"},
                            {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", "$cmd"}}}}}}
                         .dump());
        h.http.reply(200, json{{"event_id", "$card"}, {"content", {{"body", "x"}}}}.dump());
        h.process(batch("s1", json::array({reaction_event("$ok", "$card", "✅"),
                                           reaction_event("$party", "$card", "🎉"),
                                           reaction_event("$other", "$not-bot", "✅")})));
        REQUIRE(reactions.size() == 2);
        CHECK(reactions[0].key == "✅");
        CHECK(reactions[0].sender == marie);
        CHECK(reactions[0].target_event == "$card");
        CHECK(reactions[0].target_txn_id == "txn-$card");
        CHECK(reactions[0].conversation == Conversation{salon, "$cmd"});
        CHECK(reactions[1].conversation == Conversation{salon, ""}); // no thread in the target
        CHECK(h.handled("$ok"));
        CHECK(h.handled("$party"));
        CHECK_FALSE(h.handled("$other"));
        REQUIRE(h.outbox_size() == 1);
        const auto out = h.next_outgoing();
        CHECK(out.txn_id == txn_id_for("$ok"));
        const auto content = json::parse(out.content);
        CHECK(content["m.relates_to"]["rel_type"] == "m.thread");
        CHECK(content["m.relates_to"]["event_id"] == "$cmd");
        CHECK(content["m.mentions"]["user_ids"] == json::array({marie}));
    }

    TEST_CASE("without a reaction router only thumbs are read and nothing is fetched")
    {
        Harness h;
        h.bot_message("$card", "");
        h.process(batch("s1", json::array({reaction_event("$ok", "$card", "✅")})));
        CHECK(h.http.request_count() == 0);
        CHECK_FALSE(h.handled("$ok"));
        CHECK(h.outbox_size() == 0);
    }

    TEST_CASE("sync loop names the conversation after the thread its reply opens")
    {
        Harness h;
        h.process(batch("s1", json::array({text_event("$cmd", "!ticket nouveau")})));
        REQUIRE(h.seen.size() == 1);
        CHECK(h.seen[0].conversation == Conversation{salon, "$cmd"}); // the reply's thread root
        h.config.reply_mode = ReplyMode::reply;
        h.process(batch("s2", json::array({text_event("$cmd2", "!ticket nouveau")})));
        REQUIRE(h.seen.size() == 2);
        CHECK(h.seen[1].conversation == Conversation{salon, ""});
    }

    TEST_CASE("a nudge ends the long-poll in flight and the next sync does not wait")
    {
        HangingHomeserver homeserver;
        MatrixClient client{homeserver, hs};
        client.set_access_token("syt_tok");
        StateStore store{":memory:"};
        Config config;
        config.homeserver_url = hs;
        config.user_id = me;
        SyncLoop loop{client,
                      store,
                      config,
                      Session{me, "DEV", "syt_tok"},
                      [](const IncomingMessage&) { return std::optional<OutgoingReply>{}; },
                      [] {}};
        REQUIRE(static_cast<bool>(loop.process(batch("s1", json::array()), true)));
        std::chrono::milliseconds delay{-1};
        std::thread sync{[&] { delay = loop.run_once(); }};
        REQUIRE(homeserver.wait_until_hanging());
        loop.nudge(); // a reply is ready on the backend thread
        homeserver.poke();
        sync.join();         // returns without the homeserver's help
        CHECK(delay == 0ms); // not an error's backoff
        loop.nudge();        // no long-poll in flight: the next one does not wait
        CHECK(loop.run_once() == 0ms);
        CHECK(homeserver.timeouts() == std::vector<int>{1, 0});
    }

    TEST_CASE("answers are silent notices when notify_asker is off and another opale-bot is never "
              "answered")
    {
        Harness h;
        h.config.notify_asker = false;
        h.process(batch("s1", json::array({text_event("$q", "!fiche tiers")})));
        CHECK(json::parse(h.next_outgoing().content)["msgtype"] == "m.notice");
        // an opale-bot of another académie answering in m.text: never a conversation of bots
        const auto from_bot =
            text_event("$other", "!fiche tiers", {{std::string{automated_marker}, true}},
                       "@opale-bot-ac-amiens.fr:hs.test");
        h.process(batch("s2", json::array({from_bot})));
        CHECK(h.seen.size() == 1);
        CHECK(h.outbox_size() == 1); // the first answer only
    }
}

TEST_SUITE("unit")
{
    TEST_CASE(
        "a homeserver that failed five syncs in a row is told in the alerts room on its return")
    {
        Harness h;
        h.config.alerts_room = "!admins:hs.test";
        REQUIRE(static_cast<bool>(h.store.save_filter_id("f1")));
        SyncBatchWrites saved;
        saved.next_batch = "s1";
        REQUIRE(static_cast<bool>(h.store.commit(saved)));
        h.http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":10})"); // not down
        for (int n = 0; n < 4; ++n)
            h.http.reply(502, "Bad Gateway");
        h.http.fail("Connection refused");
        h.http.reply(200, R"({"next_batch":"s2"})");
        for (int n = 0; n < 6; ++n) {
            static_cast<void>(h.loop().run_once());
            h.clock += 1min;
        }
        CHECK(h.loop().homeserver_health().snapshot().failures_in_a_row == 5);
        static_cast<void>(h.loop().run_once()); // answered: both alerts go with this batch
        CHECK(h.loop().homeserver_health().snapshot().failures_in_a_row == 0);
        CHECK(h.store.sync_token().value() == "s2");
        std::vector<std::string> posted;
        SQLite::Statement query{h.store.database(),
                                "SELECT content FROM outbox WHERE room_id = '!admins:hs.test'"};
        while (query.executeStep())
            posted.push_back(json::parse(query.getColumn(0).getString()).at("body"));
        REQUIRE(posted.size() == 2);
        std::sort(posted.begin(), posted.end());
        CHECK(posted[0].find("Le serveur Matrix n'a plus répondu") != std::string::npos);
        CHECK(posted[0].find("5 échecs de suite, dernier : Connection refused") !=
              std::string::npos);
        CHECK(posted[1].find("Le serveur Matrix répond de nouveau") != std::string::npos);
        CHECK(posted[1].find("après 5 échecs en 5 min") != std::string::npos);
    }
}
