// What a member leaving a large encrypted salon costs the bot before its next reply (issue 15):
// a new Megolm session, its key Olm-encrypted for every remaining device, the batch committed
// with the to-device message in the outbox, and the body the sender puts on the wire. The
// homeserver's share (/sendToDevice) is measured by tests/bench/salon_bench.sh; this bench
// isolates the bot's CPU, stage by stage, without a network.
//
//   room_key_share_bench [USERS] [LEAVES] [rotations]
//   (default: 500 users with two devices each, 5 leaves; "rotations": no leave, for profiling)

// clang-format off
#define DOCTEST_CONFIG_IMPLEMENT // the test helpers' checks, with the bench's own main
#include "../unit/crypto_engine_support.hpp"
// clang-format on

#include "bot/state_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace {

using namespace opalebot::testing;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int users_wanted = 500;
int leaves_wanted = 5;
bool rotate_only = false; ///< "rotations": the same work without anybody leaving (for profiling)

} // namespace

TEST_CASE("room key share after a leave")
{
    const std::string room = "!salon:bench";
    TestClock clock;
    KeyServer server;
    TempDir dir;
    const auto state_path = (dir.path() / "state.db").string();

    opalebot::bot::StateStore store{state_path};
    auto bot_engine = value(crypto::Engine::open(store.database(), "@bot:bench", "BOTDEVICE",
                                                 pickle_key, clock.options()));
    store.attach_crypto(bot_engine.get());

    std::vector<std::unique_ptr<Peer>> peers;
    std::vector<std::string> members{"@bot:bench"};
    const auto setup_start = Clock::now();
    for (int u = 0; u < users_wanted; ++u) {
        const auto user = "@user" + std::to_string(u) + ":bench";
        members.push_back(user);
        for (int d = 0; d < 2; ++d) {
            peers.push_back(std::make_unique<Peer>(user, "DEV" + std::to_string(d), clock));
            server.upload(*peers.back());
        }
    }
    bot_engine->set_room_encryption(room, {});
    std::printf("setup: %zu devices in %.0f ms\n", peers.size(), ms_since(setup_start));

    // The bot's own view: /keys/query of every member, then a first share with /keys/claim.
    {
        json response = {{"device_keys", json::object()},
                         {"master_keys", server.master_keys},
                         {"self_signing_keys", server.self_signing_keys}};
        for (const auto& user : members)
            response["device_keys"][user] =
                server.device_keys.contains(user) ? server.device_keys[user] : json::object();
        REQUIRE(static_cast<bool>(on_keys_query_response(*bot_engine, response, members)));
    }
    const auto first_start = Clock::now();
    auto devices = value(bot_engine->needs_room_key_share(room, members));
    const auto created = value(
        on_keys_claim_response(*bot_engine, server.claim(bot_engine->keys_claim_request(devices))));
    REQUIRE(created.size() == devices.size());
    auto first_body = value(bot_engine->share_room_key(room, devices));
    {
        opalebot::bot::SyncBatchWrites writes;
        REQUIRE(static_cast<bool>(store.commit(writes)));
    }
    std::printf("first share: %zu devices, %.0f ms (Olm sessions created, key sent, saved)\n",
                devices.size(), ms_since(first_start));

    struct Stages {
        double select = 0, encrypt = 0, withheld = 0, dump = 0, commit = 0, wire = 0;
        double total() const { return select + encrypt + withheld + dump + commit + wire; }
    };
    std::vector<Stages> runs;
    for (int leave = 0; leave < leaves_wanted && members.size() > 2; ++leave) {
        Stages s;
        // During a long-poll, before anybody leaves: the next session is prepared and saved.
        auto t = Clock::now();
        while (value(bot_engine->prepare_next_room_key(
            room, members, Clock::now() + std::chrono::milliseconds{20})))
            ; // in slices, as during a long-poll
        if (bot_engine->has_unsaved_changes()) {
            opalebot::bot::SyncBatchWrites ahead;
            REQUIRE(static_cast<bool>(store.commit(ahead)));
        }
        const double ahead_ms = ms_since(t);
        if (rotate_only)
            bot_engine->rotate_room_key(room);
        else
            members.pop_back(); // a member leaves: the next reply needs a session without her
        t = Clock::now();
        auto targets = value(bot_engine->needs_room_key_share(room, members));
        s.select = ms_since(t);
        t = Clock::now();
        auto body = value(bot_engine->share_room_key(room, targets));
        s.encrypt = ms_since(t);
        t = Clock::now();
        const auto no_session = bot_engine->devices_without_session(targets);
        const auto withheld = bot_engine->room_key_withheld(room, members, no_session);
        s.withheld = ms_since(t);
        t = Clock::now();
        opalebot::bot::OutgoingMessage out;
        out.txn_id = "otd-" + std::to_string(leave);
        out.event_type = std::string{opalebot::bot::to_device_prefix} + "m.room.encrypted";
        out.content = body["messages"].dump();
        out.priority = -1;
        s.dump = ms_since(t);
        t = Clock::now();
        opalebot::bot::SyncBatchWrites writes;
        writes.outgoing.push_back(out);
        REQUIRE(static_cast<bool>(store.commit(writes)));
        s.commit = ms_since(t);
        t = Clock::now();
        std::string sent; // as MatrixClient::send_to_device_serialized
        sent.reserve(out.content.size() + 16);
        sent.append(R"({"messages":)").append(out.content).append("}");
        s.wire = ms_since(t);
        std::printf("leave %d: %zu devices, %.1f MB: select %.1f, encrypt %.1f, withheld %.1f, "
                    "dump %.1f, commit %.1f, wire body %.1f = %.1f ms (prepared ahead: %.1f ms)\n",
                    leave + 1, targets.size(), static_cast<double>(sent.size()) / 1e6, s.select,
                    s.encrypt, s.withheld, s.dump, s.commit, s.wire, s.total(), ahead_ms);
        runs.push_back(s);
    }
    std::sort(runs.begin(), runs.end(),
              [](const Stages& a, const Stages& b) { return a.total() < b.total(); });
    if (!runs.empty())
        std::printf("median bot CPU after a leave: %.1f ms\n", runs[runs.size() / 2].total());
}

int main(int argc, char** argv)
{
    if (argc > 1)
        users_wanted = std::max(1, std::atoi(argv[1]));
    if (argc > 2)
        leaves_wanted = std::max(1, std::atoi(argv[2]));
    rotate_only = argc > 3 && std::string{argv[3]} == "rotations";
    doctest::Context context;
    context.setOption("no-breaks", true);
    return context.run();
}
