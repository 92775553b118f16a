#include "commands/ticket_follow_up.hpp"

#include "commands/ticket_store.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace opalebot;
using namespace opalebot::commands;

namespace {

/// The built-in store, made to fail on demand.
struct FlakyBackend final : TicketBackend {
    StateDatabase state{":memory:"};
    TicketStore store{state};
    bool down = false;
    int finds = 0;
    Result<Ticket> create(const NewTicket& t) override { return store.create(t); }
    Result<std::optional<Ticket>> find(std::string_view ref) override
    {
        ++finds;
        if (down)
            return Error{Error::Kind::transport, 7, {}, "connection refused", {}, false};
        return store.find(ref);
    }
    Result<std::vector<Ticket>> open_tickets_of(std::string_view r) override
    {
        return store.open_tickets_of(r);
    }
    Result<Ticket> update(std::string_view ref, std::optional<TicketStatus> s, std::string_view t,
                          std::string_view a) override
    {
        return store.update(ref, s, t, a);
    }
    Result<std::vector<Ticket>> filed_between(TimePoint f, TimePoint t) override
    {
        return store.filed_between(f, t);
    }
};

Ticket filed(FlakyBackend& backend, const std::string& key = "k1")
{
    NewTicket t;
    t.idempotency_key = key;
    t.requester = "@claire:hs";
    t.room = "!salon:hs|$fil";
    t.fields.service = Service::si2c;
    t.fields.titre = "Rejet de facture";
    t.fields.uai = "0590001A";
    auto created = backend.create(t);
    REQUIRE(static_cast<bool>(created));
    return created.value();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("follow-up tells the requester about a new status and new public log entries")
    {
        FlakyBackend backend;
        StateDatabase state{":memory:"};
        TicketFollowUp follow_up{state, backend};
        const auto ticket = filed(backend);
        REQUIRE(static_cast<bool>(follow_up.watch(ticket)));
        REQUIRE(static_cast<bool>(follow_up.watch(ticket))); // twice: still one
        CHECK(follow_up.watched().size() == 1);
        CHECK(follow_up.poll().empty()); // nothing changed

        REQUIRE(static_cast<bool>(backend.update(ticket.ref, TicketStatus::resolved,
                                                 "Corrigé *côté* serveur", "Agent SI2C")));
        const auto notices = follow_up.poll();
        REQUIRE(notices.size() == 1);
        CHECK(notices[0].conversation == "!salon:hs|$fil");
        CHECK(notices[0].requester == "@claire:hs");
        const auto& text = notices[0].markdown;
        CHECK(text.find("Votre ticket **R-000001** est passé à « résolu »") != std::string::npos);
        CHECK(text.find("Nouveau message du support") != std::string::npos);
        CHECK(text.find("> Corrigé \\*côté\\* serveur") != std::string::npos);
        CHECK(follow_up.poll().empty()); // told once

        REQUIRE(static_cast<bool>(backend.update(ticket.ref, std::nullopt, "1\n2", "Agent")));
        REQUIRE(static_cast<bool>(backend.update(ticket.ref, std::nullopt, "3", "Agent")));
        const auto two = follow_up.poll();
        REQUIRE(two.size() == 1);
        CHECK(two[0].markdown.find("2 nouveaux messages") != std::string::npos);
        CHECK(two[0].markdown.find("> 1\n> 2") != std::string::npos);
        CHECK(two[0].markdown.find("passé à") == std::string::npos);

        // the requester's own words, sent from the thread, are not echoed back to them
        REQUIRE(static_cast<bool>(
            backend.update(ticket.ref, std::nullopt, "ma réponse", "@claire:hs")));
        CHECK(follow_up.poll().empty());
        WatchedTicket seen_by_itop{
            ticket.ref, "@claire:hs", "!salon:hs|$fil", TicketStatus::created, "nouveau", 0};
        auto in_itop = ticket;
        in_itop.log = {{{}, "Matrix Bot", "@claire:hs : ma réponse"},
                       {{}, "Agent SI2C", "Merci, c'est noté"}};
        const auto echoed = follow_up_message(seen_by_itop, in_itop);
        CHECK(echoed.find("Nouveau message du support") != std::string::npos); // one, not two
        CHECK(echoed.find("ma réponse") == std::string::npos);
    }

    TEST_CASE("follow-up keeps its state when the backend fails and stops at closure")
    {
        FlakyBackend backend;
        StateDatabase state{":memory:"};
        TicketFollowUp follow_up{state, backend};
        const auto ticket = filed(backend);
        REQUIRE(static_cast<bool>(follow_up.watch(ticket)));
        REQUIRE(static_cast<bool>(backend.update(ticket.ref, TicketStatus::assigned, "", "Agent")));
        backend.down = true;
        CHECK(follow_up.poll().empty());
        REQUIRE(follow_up.watched().size() == 1);
        CHECK(follow_up.watched()[0].status == TicketStatus::created);
        backend.down = false;
        const auto assigned = follow_up.poll();
        REQUIRE(assigned.size() == 1);
        CHECK(assigned[0].markdown.find("« assigné »") != std::string::npos);

        REQUIRE(static_cast<bool>(backend.update(ticket.ref, TicketStatus::closed, "", "Agent")));
        const auto closed = follow_up.poll();
        REQUIRE(closed.size() == 1);
        CHECK(closed[0].markdown.find("« clos »") != std::string::npos);
        CHECK(follow_up.watched().empty());
    }

    TEST_CASE("follow-up ends its round at the first unreachable backend")
    {
        FlakyBackend backend;
        StateDatabase state{":memory:"};
        TicketFollowUp follow_up{state, backend};
        for (const auto* key : {"k1", "k2", "k3"})
            REQUIRE(static_cast<bool>(follow_up.watch(filed(backend, key))));
        backend.down = true;
        CHECK(follow_up.poll().empty());
        CHECK(backend.finds == 1); // not three timeouts in a row on the salon's thread
        CHECK(follow_up.watched().size() == 3);
    }

    TEST_CASE("follow-up polls only when the interval has passed")
    {
        FlakyBackend backend;
        TimePoint now{std::chrono::hours{1000}};
        FollowUpOptions options;
        options.interval = std::chrono::minutes{5};
        options.clock = [&now] { return now; };
        StateDatabase state{":memory:"};
        TicketFollowUp follow_up{state, backend, options};
        const auto ticket = filed(backend);
        REQUIRE(static_cast<bool>(follow_up.watch(ticket)));
        CHECK(follow_up.poll_if_due().empty()); // first round: nothing new
        REQUIRE(static_cast<bool>(backend.update(ticket.ref, TicketStatus::pending, "", "A")));
        now += std::chrono::minutes{4};
        CHECK(follow_up.poll_if_due().empty()); // too early
        now += std::chrono::minutes{1};
        CHECK(follow_up.poll_if_due().size() == 1);
    }

    TEST_CASE("the built-in store counts the open tickets of an EPLE")
    {
        FlakyBackend backend;
        const auto ticket = filed(backend);
        CHECK(backend.store.open_tickets("0590001A") == 1);
        CHECK(backend.store.open_tickets("0590002B") == 0);
        REQUIRE(
            static_cast<bool>(backend.store.update(ticket.ref, TicketStatus::resolved, "", "A")));
        CHECK(backend.store.open_tickets("0590001A") == 0);
    }

    TEST_CASE("follow-up relays the pending reason and the solution and says where to answer")
    {
        WatchedTicket before;
        before.ref = "R-000004";
        before.conversation = "!salon:hs|$fil";
        before.status = TicketStatus::assigned;
        before.status_text = "Assignée";
        Ticket now;
        now.ref = "R-000004";
        now.status = TicketStatus::pending;
        now.status_text = "En attente";
        now.pending_reason = "Envoyez la capture de l'écran *Mandats*";
        auto text = follow_up_message(before, now);
        CHECK(text.find("Le support attend de votre part :\n> Envoyez la capture de l\\'écran "
                        "\\*Mandats\\*") != std::string::npos);
        CHECK(text.find("Répondez dans ce fil") != std::string::npos);

        now.status = TicketStatus::resolved;
        now.status_text = "Résolue";
        now.solution = "Facture re-déposée.\nProblème résolu.";
        text = follow_up_message(before, now);
        CHECK(text.find("Solution du support :\n> Facture re\\-déposée\\.\n> Problème "
                        "résolu\\.") != std::string::npos); // escaped, line by line
        CHECK(text.find("Le support attend") == std::string::npos);
        CHECK(text.find("répondez dans ce fil") != std::string::npos);

        before.conversation = "!salon:hs"; // no thread: nothing is relayed, nothing promised
        text = follow_up_message(before, now);
        CHECK(text.find("dans ce fil") == std::string::npos);
        CHECK(text.find("dites-le au support") != std::string::npos);
    }

    TEST_CASE("follow-up finds the ticket of a requester's thread")
    {
        FlakyBackend backend;
        StateDatabase state{":memory:"};
        TicketFollowUp follow_up{state, backend};
        const auto ticket = filed(backend);
        REQUIRE(static_cast<bool>(follow_up.watch(ticket)));
        const auto found = follow_up.watched_in("!salon:hs|$fil", "@claire:hs");
        REQUIRE(found.has_value());
        CHECK(found->ref == ticket.ref);
        CHECK_FALSE(follow_up.watched_in("!salon:hs|$fil", "@paul:hs").has_value());
        CHECK_FALSE(follow_up.watched_in("!salon:hs|$autre", "@claire:hs").has_value());
        auto in_room = ticket;
        in_room.ref = "R-000009";
        in_room.room = "!salon:hs";
        REQUIRE(static_cast<bool>(follow_up.watch(in_room)));
        CHECK_FALSE(follow_up.watched_in("!salon:hs", "@claire:hs").has_value()); // no thread
    }
}
