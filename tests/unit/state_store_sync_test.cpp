#include "bot/state_store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "support/checks.hpp"

using namespace opalebot::bot;
using opalebot::testing::value;

namespace {

OutgoingMessage outgoing(std::string txn, int priority, std::string source = "$q",
                         std::string entry = {})
{
    OutgoingMessage m;
    m.txn_id = std::move(txn);
    m.room_id = "!salon:hs.test";
    m.content = R"({"msgtype":"m.notice","body":"réponse"})";
    m.priority = priority;
    m.source_event = std::move(source);
    m.entry_id = std::move(entry);
    return m;
}

QuestionRecord question(std::int64_t at, std::string text, std::string kind, std::string entry,
                        double score)
{
    return {at,
            "!salon:hs.test",
            "@marie:hs.test",
            std::move(text),
            std::move(kind),
            std::move(entry),
            score};
}

std::int64_t now_seconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Commits one outgoing message and marks it sent as `event_id`.
void sent(StateStore& store, const std::string& txn, const std::string& event_id,
          const std::string& entry)
{
    SyncBatchWrites writes;
    writes.outgoing.push_back(outgoing(txn, 0, "$src-" + txn, entry));
    REQUIRE(static_cast<bool>(store.commit(writes)));
    const auto next = value(store.next_outgoing());
    REQUIRE(next.has_value());
    REQUIRE(next->txn_id == txn);
    REQUIRE(static_cast<bool>(store.mark_sent(*next, event_id)));
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("commit saves the ledger the outbox and next_batch together")
    {
        StateStore store{":memory:"};
        CHECK(value(store.sync_token()).empty());
        SyncBatchWrites writes;
        writes.next_batch = "s10";
        writes.handled.push_back({"$q1", "!salon:hs.test", "answered"});
        writes.outgoing.push_back(outgoing("txn-1", 0, "$q1", "tiers"));
        writes.questions.push_back(question(100, "comment ?", "entree", "tiers", 0.9));
        REQUIRE(static_cast<bool>(store.commit(writes)));
        CHECK(value(store.sync_token()) == "s10");
        CHECK(value(store.is_handled("$q1")));
        CHECK_FALSE(value(store.is_handled("$other")));
        CHECK(value(store.outgoing_count()) == 1);
        CHECK(value(store.question_count()) == 1);

        SyncBatchWrites empty_token; // a batch without a token keeps the last one
        REQUIRE(static_cast<bool>(store.commit(empty_token)));
        CHECK(value(store.sync_token()) == "s10");
    }

    TEST_CASE("a failing commit saves nothing of its batch")
    {
        StateStore store{":memory:"};
        SyncBatchWrites first;
        first.next_batch = "s1";
        REQUIRE(static_cast<bool>(store.commit(first)));

        SyncBatchWrites broken;
        broken.next_batch = "s2";
        broken.handled.push_back({"$q2", "!salon:hs.test", "answered"});
        broken.outgoing.push_back(outgoing("txn-2", 0, "$q2"));
        // SQLite stores NaN as NULL, which the NOT NULL score refuses: the commit fails midway.
        broken.questions.push_back(
            question(100, "q", "entree", "x", std::numeric_limits<double>::quiet_NaN()));
        const auto result = store.commit(broken);
        REQUIRE_FALSE(static_cast<bool>(result));
        CHECK(result.error().kind == opalebot::Error::Kind::storage);
        CHECK(value(store.sync_token()) == "s1");
        CHECK_FALSE(value(store.is_handled("$q2")));
        CHECK(value(store.outgoing_count()) == 0);
        CHECK(value(store.question_count()) == 0);
    }

    TEST_CASE("the same txn id is queued once")
    {
        StateStore store{":memory:"};
        SyncBatchWrites writes;
        writes.outgoing.push_back(outgoing("txn-same", 0));
        REQUIRE(static_cast<bool>(store.commit(writes)));
        REQUIRE(static_cast<bool>(store.commit(writes)));
        CHECK(value(store.outgoing_count()) == 1);
    }

    TEST_CASE("next_outgoing gives replies before background work then the oldest first")
    {
        StateStore store{":memory:"};
        SyncBatchWrites writes;
        writes.outgoing.push_back(outgoing("digest", 5));
        writes.outgoing.push_back(outgoing("reply-a", 0));
        writes.outgoing.push_back(outgoing("reminder", 1));
        writes.outgoing.push_back(outgoing("reply-b", 0));
        REQUIRE(static_cast<bool>(store.commit(writes)));
        std::vector<std::string> order;
        while (const auto next = value(store.next_outgoing())) {
            order.push_back(next->txn_id);
            REQUIRE(static_cast<bool>(store.drop_outgoing(next->id)));
        }
        CHECK(order == std::vector<std::string>{"reply-a", "reply-b", "reminder", "digest"});
    }

    TEST_CASE("next_outgoing returns every field as committed")
    {
        StateStore store{":memory:"};
        SyncBatchWrites writes;
        auto m = outgoing("txn-f", 3, "$question", "entree-1");
        m.event_type = "m.reaction";
        writes.outgoing.push_back(m);
        REQUIRE(static_cast<bool>(store.commit(writes)));
        const auto next = value(store.next_outgoing());
        REQUIRE(next.has_value());
        CHECK(next->id > 0);
        CHECK(next->txn_id == "txn-f");
        CHECK(next->room_id == "!salon:hs.test");
        CHECK(next->event_type == "m.reaction");
        CHECK(next->content == m.content);
        CHECK(next->priority == 3);
        CHECK(next->source_event == "$question");
        CHECK(next->entry_id == "entree-1");
        CHECK(next->attempts == 0);
        REQUIRE(static_cast<bool>(store.count_attempt(next->id)));
        REQUIRE(static_cast<bool>(store.count_attempt(next->id)));
        CHECK(value(store.next_outgoing())->attempts == 2);
    }

    TEST_CASE("mark_sent empties the outbox and remembers the bot's message")
    {
        StateStore store{":memory:"};
        sent(store, "txn-a", "$answer-a", "tiers-ddfip");
        sent(store, "txn-b", "$answer-b", "");
        CHECK(value(store.outgoing_count()) == 0);
        const auto a = value(store.sent_message("$answer-a"));
        REQUIRE(a.has_value());
        CHECK(*a == "tiers-ddfip");
        const auto b = value(store.sent_message("$answer-b"));
        REQUIRE(b.has_value()); // the bot's, without entry
        CHECK(b->empty());
        CHECK_FALSE(value(store.sent_message("$someone-else")).has_value());
    }

    TEST_CASE("feedback is kept only for the bot's own messages")
    {
        StateStore store{":memory:"};
        sent(store, "txn-a", "$answer", "tiers-ddfip");
        SyncBatchWrites writes;
        writes.questions.push_back(
            question(now_seconds(), "tiers ?", "entree", "tiers-ddfip", 0.9));
        writes.feedback.push_back({"$like1", "$answer", "@marie:hs.test", 1, now_seconds()});
        writes.feedback.push_back({"$like2", "$answer", "@paul:hs.test", -1, now_seconds()});
        writes.feedback.push_back({"$like3", "$not-the-bot", "@paul:hs.test", 1, now_seconds()});
        REQUIRE(static_cast<bool>(store.commit(writes)));

        // Marie changes her mind: one vote per person and message.
        SyncBatchWrites change;
        change.feedback.push_back({"$like4", "$answer", "@marie:hs.test", -1, now_seconds()});
        REQUIRE(static_cast<bool>(store.commit(change)));

        const auto stats = value(store.kb_stats(0, 0.5));
        REQUIRE(stats.entries.size() == 1);
        CHECK(stats.entries[0].entry_id == "tiers-ddfip");
        CHECK(stats.entries[0].asked == 1);
        CHECK(stats.entries[0].up == 0);
        CHECK(stats.entries[0].down == 2);
    }

    TEST_CASE("kb_stats counts questions and lists unanswered and low confidence ones")
    {
        StateStore store{":memory:"};
        SyncBatchWrites writes;
        writes.questions = {question(100, "trop vieille", "inconnu", "", 0),
                            question(1000, "tiers ?", "entree", "tiers", 0.9),
                            question(1001, "tiers encore ?", "entree", "tiers", 0.3),
                            question(1002, "frais ?", "entree", "frais", 0.8),
                            question(1003, "tarte ?", "inconnu", "", 0.1)};
        REQUIRE(static_cast<bool>(store.commit(writes)));
        const auto stats = value(store.kb_stats(500, 0.5));
        CHECK(stats.questions == 4);
        CHECK(stats.answered == 3);
        REQUIRE(stats.entries.size() == 2);
        CHECK(stats.entries[0].entry_id == "tiers"); // most asked first
        CHECK(stats.entries[0].asked == 2);
        CHECK(stats.entries[1].entry_id == "frais");
        REQUIRE(stats.unanswered.size() == 2);
        CHECK(stats.unanswered[0].question == "tarte ?"); // newest first
        CHECK(stats.unanswered[0].kind == "inconnu");
        CHECK(stats.unanswered[1].question == "tiers encore ?");
        CHECK(stats.unanswered[1].score == doctest::Approx(0.3));
    }

    TEST_CASE("a thumbs down lists the question under its entry in kb_stats")
    {
        StateStore store{":memory:"};
        sent(store, "txn-a", "$answer", "tiers-ddfip"); // answers the event $src-txn-a
        SyncBatchWrites writes;
        auto asked = question(now_seconds(), "créer la trésorerie ?", "entree", "tiers-ddfip", 0.9);
        asked.event_id = "$src-txn-a";
        writes.questions = {asked, question(now_seconds(), "tiers ?", "entree", "tiers", 0.95),
                            question(now_seconds(), "un RIB ?", "probable", "tiers-rib", 0.45)};
        writes.feedback.push_back({"$no", "$answer", "@marie:hs.test", -1, now_seconds()});
        REQUIRE(static_cast<bool>(store.commit(writes)));
        const auto stats = value(store.kb_stats(0, 0.5));
        REQUIRE(stats.unanswered.size() == 2); // the sure, liked answer is not listed
        const auto& probable = stats.unanswered[0];
        CHECK(probable.kind == "probable");
        CHECK(probable.entry_id == "tiers-rib");
        CHECK_FALSE(probable.disliked);
        const auto& disliked = stats.unanswered[1];
        CHECK(disliked.question == "créer la trésorerie ?");
        CHECK(disliked.disliked);
        CHECK(disliked.entry_id == "tiers-ddfip");
        CHECK(value(store.question_text(disliked.id)) == "créer la trésorerie ?");
    }

    TEST_CASE("linked questions are kept once and read back in order")
    {
        StateStore store{":memory:"};
        CHECK(value(store.question_text(42)).empty());
        REQUIRE(static_cast<bool>(store.link_question({"tiers-ddfip", "la trésorerie ?"}, 10)));
        REQUIRE(static_cast<bool>(store.link_question({"tiers-rib", "un RIB ?"}, 11)));
        REQUIRE(static_cast<bool>(store.link_question({"tiers-ddfip", "la trésorerie ?"}, 12)));
        const auto links = value(store.linked_questions());
        REQUIRE(links.size() == 2);
        CHECK(links[0].entry_id == "tiers-ddfip");
        CHECK(links[0].question == "la trésorerie ?");
        CHECK(links[1].entry_id == "tiers-rib");
    }

    TEST_CASE("purge_ledger forgets handled events older than the date")
    {
        StateStore store{":memory:"};
        SyncBatchWrites writes;
        writes.handled.push_back({"$old", "!salon:hs.test", "ignored"});
        REQUIRE(static_cast<bool>(store.commit(writes)));
        CHECK(value(store.purge_ledger(now_seconds() - 3600)) == 0);
        CHECK(value(store.is_handled("$old")));
        CHECK(value(store.purge_ledger(now_seconds() + 3600)) == 1);
        CHECK_FALSE(value(store.is_handled("$old")));
    }

    TEST_CASE("rooms are upserted and removed when left")
    {
        StateStore store{":memory:"};
        CHECK_FALSE(value(store.room("!r:hs.test")).has_value());
        SyncBatchWrites joined;
        joined.rooms.push_back({"!r:hs.test", "@marie:hs.test", true, 2, std::nullopt, false});
        REQUIRE(static_cast<bool>(store.commit(joined)));
        auto room = value(store.room("!r:hs.test"));
        REQUIRE(room.has_value());
        CHECK(room->inviter == "@marie:hs.test");
        CHECK(room->is_direct);
        REQUIRE(room->joined_members.has_value());
        CHECK(*room->joined_members == 2);
        CHECK_FALSE(room->power_levels.has_value());
        CHECK_FALSE(room->encrypted);

        SyncBatchWrites update;
        update.rooms.push_back({"!r:hs.test", "@marie:hs.test", true, std::nullopt,
                                PowerLevels{{{"@marie:hs.test", 50}}, 10}, true});
        REQUIRE(static_cast<bool>(store.commit(update)));
        room = value(store.room("!r:hs.test"));
        REQUIRE(room.has_value());
        CHECK_FALSE(room->joined_members.has_value());
        CHECK(room->power_levels == PowerLevels{{{"@marie:hs.test", 50}}, 10});
        CHECK(room->encrypted);

        SyncBatchWrites left;
        left.rooms_left.push_back("!r:hs.test");
        REQUIRE(static_cast<bool>(store.commit(left)));
        CHECK_FALSE(value(store.room("!r:hs.test")).has_value());
    }

    TEST_CASE("session and filter id are saved and forgotten")
    {
        StateStore store{":memory:"};
        CHECK_FALSE(value(store.session()).has_value());
        REQUIRE(
            static_cast<bool>(store.save_session({"https://hs.test", "@b:hs.test", "D1", "t1"})));
        REQUIRE(
            static_cast<bool>(store.save_session({"https://hs.test", "@b:hs.test", "D1", "t2"})));
        const auto session = value(store.session());
        REQUIRE(session.has_value());
        CHECK(session->device_id == "D1");
        CHECK(session->access_token == "t2");
        REQUIRE(static_cast<bool>(store.forget_session()));
        CHECK_FALSE(value(store.session()).has_value());

        CHECK(value(store.filter_id()).empty());
        REQUIRE(static_cast<bool>(store.save_filter_id("f7")));
        CHECK(value(store.filter_id()) == "f7");
    }
}
