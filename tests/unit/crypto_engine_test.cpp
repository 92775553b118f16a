#include "bot/crypto/canonical_json.hpp"
#include "bot/crypto/engine.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "crypto/olm_handles.hpp"
#include "crypto_engine_support.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot::testing;
using opalebot::bot::crypto::DeviceKey;
namespace errcode = opalebot::bot::crypto::errcode;
namespace olm = opalebot::bot::crypto::olm;

namespace {

const std::string alice = "@alice:hs.test";
const std::string bot = "@bot:hs.test";
const std::string room = "!salon:hs.test";

bool verifies(const json& object, const std::string& user, const std::string& key_id,
              const std::string& public_key)
{
    const auto bytes = opalebot::bot::crypto::signing_bytes(object);
    REQUIRE(static_cast<bool>(bytes));
    const auto signature = object.at("signatures").at(user).at(key_id).get<std::string>();
    return olm::Utility{}.ed25519_verify(public_key, bytes.value(), signature);
}

/// Alice and the bot, each with its keys on the server and the other's devices known.
struct Pair {
    TestClock clock;
    KeyServer server;
    Peer alice_peer{alice, "ALICEDEV", clock};
    Peer bot_peer{bot, "BOTDEV", clock};

    Pair()
    {
        server.upload(alice_peer);
        server.upload(bot_peer);
        server.query(alice_peer, {bot});
        server.query(bot_peer, {alice});
    }

    /// The bot encrypts for the room (sharing its key with Alice first) and Alice receives it.
    json bot_sends(const std::string& body, const std::string& event_id)
    {
        auto& engine = *bot_peer.engine;
        const auto devices = value(engine.needs_room_key_share(room, {alice, bot}));
        if (!devices.empty()) {
            server.ensure_sessions(bot_peer, devices);
            const auto shared = value(engine.share_room_key(room, devices));
            CHECK(deliver(shared, bot_peer, alice_peer).type == "m.room_key");
        }
        const auto content = value(engine.encrypt_room_event(
            room, "m.room.message", {{"msgtype", "m.text"}, {"body", body}}));
        return room_event(event_id, bot, content);
    }
};

const std::string bob = "@bob:hs.test";

/// The bot, Alice and Bob, each knowing the others' devices: one of them can leave.
struct WithBob : Pair {
    Peer bob_peer{bob, "BOBDEV", clock};
    WithBob()
    {
        server.upload(bob_peer);
        server.query(bot_peer, {alice, bob});
    }
};

std::string body_of(const opalebot::bot::crypto::DecryptedEvent& decrypted)
{
    return decrypted.event.at("content").at("body").get<std::string>();
}

/// `peer` bootstraps cross-signing for its user (a new identity each time it is a new engine)
/// and the server publishes it, with the peer's device signed by the new self-signing key.
void publish_cross_signing(KeyServer& server, Peer& peer)
{
    const auto& user = peer.engine->user_id();
    const auto& device = peer.engine->device_id();
    const auto keys = value(peer.engine->cross_signing_upload());
    const auto& ssk = keys.at("self_signing_key");
    const auto ssk_id = "ed25519:" + ssk.at("keys").begin().value().get<std::string>();
    server.master_keys[user] = keys.at("master_key");
    server.self_signing_keys[user] = ssk;
    const auto signatures = value(peer.engine->own_device_signature_upload());
    server.device_keys[user][device]["signatures"][user][ssk_id] =
        signatures.at(user).at(device).at("signatures").at(user).at(ssk_id);
}

/// A bot that serves only cross-signed devices, on its own key server.
struct StrictBot {
    TestClock clock;
    KeyServer server;
    SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
    std::unique_ptr<opalebot::bot::crypto::Engine> engine = open();

    std::unique_ptr<opalebot::bot::crypto::Engine> open()
    {
        return value(opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", pickle_key,
                                                         clock.options(true)));
    }

    /// /keys/query of Alice, with her cross-signing keys when published.
    void query_alice()
    {
        REQUIRE(static_cast<bool>(
            on_keys_query_response(*engine,
                                   {{"device_keys", {{alice, server.device_keys[alice]}}},
                                    {"master_keys", server.master_keys},
                                    {"self_signing_keys", server.self_signing_keys}},
                                   {alice})));
    }
};

std::vector<std::string> device_ids(const std::vector<DeviceKey>& devices)
{
    std::vector<std::string> ids;
    for (const auto& id : devices)
        ids.push_back(id.device_id);
    return ids;
}

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("device keys and one-time keys are signed by the device")
    {
        TestClock clock;
        Peer peer{bot, "BOTDEV", clock};
        const auto body = value(peer.engine->keys_upload(0, false));
        REQUIRE(body.has_value());
        const auto& device_keys = body->at("device_keys");
        const auto ed25519 = peer.engine->ed25519_key();
        CHECK(device_keys.at("user_id") == bot);
        CHECK(device_keys.at("device_id") == "BOTDEV");
        CHECK(device_keys.at("algorithms") ==
              json::array({"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}));
        CHECK(device_keys.at("keys").at("curve25519:BOTDEV") == peer.engine->curve25519_key());
        CHECK(verifies(device_keys, bot, "ed25519:BOTDEV", ed25519));

        CHECK(body->at("one_time_keys").size() == 50);
        for (const auto& [id, key] : body->at("one_time_keys").items()) {
            CHECK(id.starts_with("signed_curve25519:"));
            CHECK(verifies(key, bot, "ed25519:BOTDEV", ed25519));
        }
        REQUIRE(body->at("fallback_keys").size() == 1);
        const auto& fallback = body->at("fallback_keys").begin().value();
        CHECK(fallback.at("fallback") == true);
        CHECK(verifies(fallback, bot, "ed25519:BOTDEV", ed25519));

        // a tampered key no longer verifies
        auto tampered = body->at("one_time_keys").begin().value();
        tampered["key"] = "AAAA" + tampered["key"].get<std::string>().substr(4);
        CHECK_FALSE(verifies(tampered, bot, "ed25519:BOTDEV", ed25519));

        peer.engine->mark_keys_published();
        CHECK_FALSE(value(peer.engine->keys_upload(50, true)).has_value());
        const auto top_up = value(peer.engine->keys_upload(45, true));
        REQUIRE(top_up.has_value());
        CHECK_FALSE(top_up->contains("device_keys"));
        CHECK(top_up->at("one_time_keys").size() == 5);
        CHECK_FALSE(top_up->contains("fallback_keys"));
    }

    TEST_CASE("fallback key is rotated when the server has used it")
    {
        TestClock clock;
        KeyServer server;
        Peer peer{bot, "BOTDEV", clock};
        server.upload(peer);
        const auto first = server.fallback_keys[bot]["BOTDEV"].begin().key();
        server.upload(peer, 50, true); // still unused: nothing new
        CHECK(server.fallback_keys[bot]["BOTDEV"].begin().key() == first);
        server.upload(peer, 50, false); // used by someone: a new one
        CHECK(server.fallback_keys[bot]["BOTDEV"].begin().key() != first);
    }

    TEST_CASE("olm pre key message creates a session and the one-time key goes only after success")
    {
        TestClock clock;
        KeyServer server;
        Peer bot_peer{bot, "BOTDEV", clock};
        Peer alice_peer{alice, "ALICEDEV", clock};
        Peer alice_phone{alice, "PHONE", clock};
        server.upload(bot_peer);
        server.upload(alice_peer);
        server.upload(alice_phone);
        server.query(alice_peer, {bot});
        server.query(alice_phone, {bot});
        server.query(bot_peer, {alice});

        // Alice and her phone both get the same one-time key of the bot (a server bug or a race).
        const auto request = alice_peer.engine->keys_claim_request({bot_peer.id()});
        const auto claimed = server.claim(request, true);
        CHECK(value(on_keys_claim_response(*alice_peer.engine, claimed)).size() == 1);
        CHECK(value(on_keys_claim_response(*alice_phone.engine, claimed)).size() == 1);

        const auto body =
            value(alice_peer.engine->encrypt_to_device({bot_peer.id()}, "m.test", {{"n", 1}}));
        auto events = to_device_for(body, alice, bot_peer);
        REQUIRE(events.size() == 1);
        CHECK(events[0]["content"]["ciphertext"][bot_peer.engine->curve25519_key()]["type"] == 0);

        // A damaged pre-key message fails and leaves the one-time key in place.
        auto damaged = events[0];
        auto& text = damaged["content"]["ciphertext"][bot_peer.engine->curve25519_key()]["body"];
        auto broken = text.get<std::string>();
        broken[broken.size() - 10] = broken[broken.size() - 10] == 'A' ? 'B' : 'A';
        text = broken;
        const auto failed = on_to_device(*bot_peer.engine, damaged);
        REQUIRE_FALSE(failed);
        CHECK(failed.error().errcode == errcode::olm_failure);

        const auto decrypted = value(on_to_device(*bot_peer.engine, events[0]));
        CHECK(decrypted.type == "m.test");
        CHECK(other_content(decrypted).at("n") == 1);
        CHECK(decrypted.sender == alice);
        bot_peer.save();

        // The phone's message uses the key that is now gone: no new session can be made with it.
        const auto phone_body =
            value(alice_phone.engine->encrypt_to_device({bot_peer.id()}, "m.test", {{"n", 2}}));
        const auto phone =
            on_to_device(*bot_peer.engine, to_device_for(phone_body, alice, bot_peer)[0]);
        REQUIRE_FALSE(phone);
        CHECK(phone.error().errcode == errcode::olm_failure);
    }

    TEST_CASE("existing olm session is reused in both directions")
    {
        Pair pair;
        auto& alice_engine = *pair.alice_peer.engine;
        auto& bot_engine = *pair.bot_peer.engine;
        pair.server.ensure_sessions(pair.alice_peer, {pair.bot_peer.id()});
        for (int n = 0; n < 3; ++n) { // pre-key messages until the bot answers, same session
            const auto body =
                value(alice_engine.encrypt_to_device({pair.bot_peer.id()}, "m.test", {{"n", n}}));
            CHECK(other_content(deliver(body, pair.alice_peer, pair.bot_peer)).at("n") == n);
        }
        CHECK(bot_engine.devices_without_session({pair.alice_peer.id()}).empty());
        const auto reply =
            value(bot_engine.encrypt_to_device({pair.alice_peer.id()}, "m.test", {{"n", 10}}));
        const auto events = to_device_for(reply, bot, pair.alice_peer);
        REQUIRE(events.size() == 1);
        CHECK(events[0]["content"]["ciphertext"][alice_engine.curve25519_key()]["type"] == 1);
        CHECK(other_content(value(on_to_device(alice_engine, events[0]))).at("n") == 10);
        const auto next = value(alice_engine.encrypt_to_device({pair.bot_peer.id()}, "m.test", {}));
        CHECK(to_device_for(
                  next, alice,
                  pair.bot_peer)[0]["content"]["ciphertext"][bot_engine.curve25519_key()]["type"] ==
              1);
        CHECK(value(on_to_device(bot_engine, to_device_for(next, alice, pair.bot_peer)[0])).type ==
              "m.test");
    }

    TEST_CASE("olm payload for another recipient is refused")
    {
        Pair pair;
        pair.server.ensure_sessions(pair.alice_peer, {pair.bot_peer.id()});
        const auto body =
            value(pair.alice_peer.engine->encrypt_to_device({pair.bot_peer.id()}, "m.test", {}));
        auto event = to_device_for(body, alice, pair.bot_peer)[0];
        event["sender"] = "@mallory:hs.test"; // the server claims another sender
        const auto result = on_to_device(*pair.bot_peer.engine, event);
        REQUIRE_FALSE(result);
        CHECK(result.error().errcode == errcode::untrusted);
    }

    TEST_CASE("room key is shared over olm and the megolm message decrypts")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {});
        CHECK(pair.bot_peer.engine->is_room_encrypted(room));
        const auto event = pair.bot_sends("bonjour", "$1");
        CHECK(event.at("content").at("algorithm") == "m.megolm.v1.aes-sha2");
        CHECK(event.at("content").at("sender_key") == pair.bot_peer.engine->curve25519_key());
        CHECK(event.at("content").at("device_id") == "BOTDEV");
        CHECK(event.at("content").dump().find("bonjour") == std::string::npos);
        const auto decrypted = value(pair.alice_peer.engine->decrypt_room_event(room, event));
        CHECK(body_of(decrypted) == "bonjour");
        CHECK(decrypted.event.at("type") == "m.room.message");
        CHECK(decrypted.sender_device == "BOTDEV");
        CHECK_FALSE(decrypted.verified); // not cross-signed

        // the bot reads its own echo
        CHECK(body_of(value(pair.bot_peer.engine->decrypt_room_event(room, event))) == "bonjour");
        // a second message needs no new share
        CHECK(value(pair.bot_peer.engine->needs_room_key_share(room, {alice, bot})).empty());
    }

    TEST_CASE("a member cannot pass another member's room key off as their own")
    {
        TestClock clock;
        KeyServer server;
        Peer alice_peer{alice, "ALICEDEV", clock};
        Peer eve_peer{"@eve:hs.test", "EVEDEV", clock};
        Peer bot_peer{bot, "BOTDEV", clock};
        for (auto* peer : {&alice_peer, &eve_peer, &bot_peer})
            server.upload(*peer);
        const std::vector<std::string> everyone{alice, "@eve:hs.test", bot};
        for (auto* peer : {&alice_peer, &eve_peer, &bot_peer})
            server.query(*peer, everyone);
        auto& a = *alice_peer.engine;
        a.set_room_encryption(room, {});
        bot_peer.engine->set_room_encryption(room, {});

        // Eve gets Alice's session from index 0; the bot joins later and gets it from index 1.
        const auto to_eve = value(a.needs_room_key_share(room, {alice, "@eve:hs.test"}));
        server.ensure_sessions(alice_peer, to_eve);
        const auto eve_copy = deliver(value(a.share_room_key(room, to_eve)), alice_peer, eve_peer);
        REQUIRE(eve_copy.type == "m.room_key");
        static_cast<void>(value(a.encrypt_room_event(room, "m.room.message", {{"body", "0"}})));
        const auto to_bot = value(a.needs_room_key_share(room, everyone));
        server.ensure_sessions(alice_peer, to_bot);
        deliver(value(a.share_room_key(room, to_bot)), alice_peer, bot_peer);

        // Eve sends the index-0 key to the bot as if it were hers: it is ignored.
        server.ensure_sessions(eve_peer, {bot_peer.id()});
        const auto key = room_key_of(eve_copy);
        const json copied = {{"algorithm", key.algorithm},
                             {"room_id", key.room_id},
                             {"session_id", key.session_id},
                             {"session_key", key.session_key}};
        const auto forged =
            value(eve_peer.engine->encrypt_to_device({bot_peer.id()}, "m.room_key", copied));
        static_cast<void>(on_to_device(*bot_peer.engine,
                                       to_device_for(forged, "@eve:hs.test", bot_peer).front()));
        const auto next = value(a.encrypt_room_event(room, "m.room.message", {{"body", "1"}}));
        const auto read = bot_peer.engine->decrypt_room_event(room, room_event("$1", alice, next));
        REQUIRE(static_cast<bool>(read));
        CHECK(read.value().event.at("content").at("body") == "1");
        CHECK(read.value().sender_curve25519 == a.curve25519_key());
    }

    TEST_CASE("relations stay in the cleartext of an encrypted event")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {});
        const auto devices = value(pair.bot_peer.engine->needs_room_key_share(room, {alice}));
        pair.server.ensure_sessions(pair.bot_peer, devices);
        deliver(value(pair.bot_peer.engine->share_room_key(room, devices)), pair.bot_peer,
                pair.alice_peer);
        const json relates = {{"rel_type", "m.thread"}, {"event_id", "$root"}};
        const auto content = value(pair.bot_peer.engine->encrypt_room_event(
            room, "m.room.message",
            {{"msgtype", "m.text"}, {"body", "x"}, {"m.relates_to", relates}}));
        CHECK(content.at("m.relates_to") == relates);
        const auto decrypted =
            value(pair.alice_peer.engine->decrypt_room_event(room, room_event("$r", bot, content)));
        CHECK(decrypted.event.at("content").at("m.relates_to") == relates);
    }

    TEST_CASE(
        "megolm replay with another event id is rejected and the same event is accepted twice")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {});
        const auto event = pair.bot_sends("une fois", "$first");
        auto& alice_engine = *pair.alice_peer.engine;
        CHECK(body_of(value(alice_engine.decrypt_room_event(room, event))) == "une fois");
        CHECK(body_of(value(alice_engine.decrypt_room_event(room, event))) == "une fois");
        auto replayed = event;
        replayed["event_id"] = "$second";
        const auto result = alice_engine.decrypt_room_event(room, replayed);
        REQUIRE_FALSE(result);
        CHECK(result.error().errcode == errcode::replay);

        // still rejected after a restart: the index is in the store
        pair.alice_peer.save();
        auto reopened = value(opalebot::bot::crypto::Engine::open(
            pair.alice_peer.db, alice, "ALICEDEV", pickle_key, pair.clock.options()));
        const auto again = reopened->decrypt_room_event(room, replayed);
        REQUIRE_FALSE(again);
        CHECK(again.error().errcode == errcode::replay);
        CHECK(static_cast<bool>(reopened->decrypt_room_event(room, event)));
    }

    TEST_CASE("megolm event for another room is refused")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {});
        const auto event = pair.bot_sends("ici", "$here");
        // the key is filed under its room: elsewhere the session is unknown
        const auto result = pair.alice_peer.engine->decrypt_room_event("!ailleurs:hs.test", event);
        REQUIRE_FALSE(result);
        CHECK(result.error().errcode == errcode::missing_key);
    }

    TEST_CASE("event is queued until its key arrives then decrypted")
    {
        Pair pair;
        auto& alice_engine = *pair.alice_peer.engine;
        auto& bot_engine = *pair.bot_peer.engine;
        alice_engine.set_room_encryption(room, {});
        const auto devices = value(alice_engine.needs_room_key_share(room, {alice, bot}));
        REQUIRE(devices.size() == 1);
        pair.server.ensure_sessions(pair.alice_peer, devices);
        const auto key_share = value(alice_engine.share_room_key(room, devices)); // delivered late
        const auto content =
            value(alice_engine.encrypt_room_event(room, "m.room.message", {{"body", "en avance"}}));
        const auto event = room_event("$early", alice, content);

        const auto missing = bot_engine.decrypt_room_event(room, event);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().errcode == errcode::missing_key);
        CHECK(missing.error().kind == opalebot::Error::Kind::not_found);
        CHECK(bot_engine.pending_event_count() == 1);
        CHECK(bot_engine.take_events_now_decryptable().empty());

        deliver(key_share, pair.alice_peer, pair.bot_peer);
        const auto ready = bot_engine.take_events_now_decryptable();
        REQUIRE(ready.size() == 1);
        CHECK(ready[0].room_id == room);
        CHECK(body_of(ready[0]) == "en avance");
        CHECK(bot_engine.pending_event_count() == 0);
        CHECK(bot_engine.take_events_now_decryptable().empty());
    }

    TEST_CASE("queued event survives a restart and expires after the wait")
    {
        TempDir dir;
        const auto path = dir.file("state.db");
        TestClock clock;
        KeyServer server;
        Peer alice_peer{alice, "ALICEDEV", clock};
        json event;
        json key_share;
        {
            Peer bot_peer{bot, "BOTDEV", clock, path};
            server.upload(bot_peer);
            alice_peer.engine->set_room_encryption(room, {});
            server.upload(alice_peer);
            server.query(alice_peer, {bot});
            const auto devices = value(alice_peer.engine->needs_room_key_share(room, {alice, bot}));
            server.ensure_sessions(alice_peer, devices);
            key_share = value(alice_peer.engine->share_room_key(room, devices)); // arrives late
            event = room_event("$late", alice,
                               value(alice_peer.engine->encrypt_room_event(
                                   room, "m.room.message", {{"body", "plus tard"}})));
            CHECK_FALSE(bot_peer.engine->decrypt_room_event(room, event));
            bot_peer.save();
        }
        Peer bot_peer{bot, "BOTDEV", clock, path};
        CHECK(bot_peer.engine->pending_event_count() == 1);
        server.query(bot_peer, {alice});
        deliver(key_share, alice_peer, bot_peer);
        const auto ready = bot_peer.engine->take_events_now_decryptable();
        REQUIRE(ready.size() == 1);
        CHECK(body_of(ready[0]) == "plus tard");

        // an event whose key never comes is given up after the wait
        auto orphan = event;
        orphan["event_id"] = "$orphan";
        orphan["content"]["session_id"] = "unknownsession";
        CHECK_FALSE(bot_peer.engine->decrypt_room_event(room, orphan));
        CHECK(bot_peer.engine->take_expired_events(std::chrono::minutes{5}).empty());
        clock.now += std::chrono::minutes{6};
        const auto expired = bot_peer.engine->take_expired_events(std::chrono::minutes{5});
        REQUIRE(expired.size() == 1);
        CHECK(expired[0].at("event_id") == "$orphan");
        CHECK(bot_peer.engine->pending_event_count() == 0);
    }

    TEST_CASE("reopening the sqlite file with the pickle key still decrypts")
    {
        TempDir dir;
        const auto path = dir.file("state.db");
        TestClock clock;
        KeyServer server;
        Peer alice_peer{alice, "ALICEDEV", clock};
        std::string curve;
        {
            Peer bot_peer{bot, "BOTDEV", clock, path};
            curve = bot_peer.engine->curve25519_key();
            server.upload(bot_peer);
            server.upload(alice_peer);
            server.query(alice_peer, {bot});
            server.query(bot_peer, {alice});
            alice_peer.engine->set_room_encryption(room, {});
            const auto devices = value(alice_peer.engine->needs_room_key_share(room, {alice, bot}));
            server.ensure_sessions(alice_peer, devices);
            deliver(value(alice_peer.engine->share_room_key(room, devices)), alice_peer, bot_peer);
            bot_peer.save();
            CHECK_FALSE(bot_peer.engine->has_unsaved_changes());
        }
        const auto content = value(
            alice_peer.engine->encrypt_room_event(room, "m.room.message", {{"body", "après"}}));
        {
            Peer bot_peer{bot, "BOTDEV", clock, path};
            CHECK(bot_peer.engine->curve25519_key() == curve); // same device identity
            const auto decrypted = value(
                bot_peer.engine->decrypt_room_event(room, room_event("$after", alice, content)));
            CHECK(body_of(decrypted) == "après");
            // the Olm session survived too: Alice's next to-device message needs no new key
            const auto body =
                value(alice_peer.engine->encrypt_to_device({bot_peer.id()}, "m.test", {{"n", 7}}));
            CHECK(other_content(deliver(body, alice_peer, bot_peer)).at("n") == 7);
        }
        SQLite::Database db{path, SQLite::OPEN_READWRITE};
        const auto wrong =
            opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", "another pickle key, wrong", {});
        REQUIRE_FALSE(wrong);
        CHECK(wrong.error().message.find("BAD_ACCOUNT_KEY") != std::string::npos);
        CHECK_FALSE(opalebot::bot::crypto::Engine::open(db, "@autre:hs.test", "OTHERDEV",
                                                        pickle_key, {})); // another account
        // --new-login: a new device of the same account gets device keys of its own
        const auto other_device =
            opalebot::bot::crypto::Engine::open(db, bot, "OTHERDEV", pickle_key, {});
        REQUIRE(other_device);
        CHECK(other_device.value()->device_id() == "OTHERDEV");
        CHECK(other_device.value()->curve25519_key() != curve);
        CHECK_FALSE(opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", "short", {}));
    }

    TEST_CASE("persist writes inside the caller's transaction and rolls back with it")
    {
        TestClock clock;
        SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
        auto engine = value(
            opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", pickle_key, clock.options()));
        const auto curve = engine->curve25519_key();
        CHECK(engine->has_unsaved_changes());
        {
            SQLite::Transaction transaction{db};
            REQUIRE(static_cast<bool>(engine->persist(db)));
            // no commit: rolled back, as when the sync batch fails to save
        }
        CHECK(db.execAndGet("SELECT count(*) FROM crypto_account").getInt() == 0);
        CHECK(engine->has_unsaved_changes());
        {
            SQLite::Transaction transaction{db};
            db.exec("CREATE TABLE IF NOT EXISTS sync_token (token TEXT)");
            db.exec("INSERT INTO sync_token VALUES ('s42')");
            REQUIRE(static_cast<bool>(engine->persist(db)));
            transaction.commit();
        }
        engine->saved();
        CHECK_FALSE(engine->has_unsaved_changes());
        engine.reset();
        const auto reopened = value(
            opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", pickle_key, clock.options()));
        CHECK(reopened->curve25519_key() == curve);
        CHECK(db.execAndGet("SELECT pickle FROM crypto_account").getString().find(curve) ==
              std::string::npos);
    }

    TEST_CASE("megolm session rotates after the configured number of messages")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {604'800'000, 2});
        const auto first = pair.bot_sends("1", "$m1");
        const auto second = pair.bot_sends("2", "$m2");
        CHECK(first["content"]["session_id"] == second["content"]["session_id"]);
        const auto refused =
            pair.bot_peer.engine->encrypt_room_event(room, "m.room.message", {{"body", "3"}});
        REQUIRE_FALSE(refused);
        CHECK(refused.error().errcode == errcode::not_shared);
        const auto third = pair.bot_sends("3", "$m3"); // needs_room_key_share rotates and shares
        CHECK(third["content"]["session_id"] != second["content"]["session_id"]);
        for (const auto& event : {first, second, third})
            CHECK(static_cast<bool>(pair.alice_peer.engine->decrypt_room_event(room, event)));
    }

    TEST_CASE("megolm session rotates after the configured period")
    {
        Pair pair;
        pair.bot_peer.engine->set_room_encryption(room, {60'000, 100});
        const auto first = pair.bot_sends("1", "$t1");
        pair.clock.now += std::chrono::seconds{30};
        const auto second = pair.bot_sends("2", "$t2");
        CHECK(first["content"]["session_id"] == second["content"]["session_id"]);
        pair.clock.now += std::chrono::seconds{31};
        const auto third = pair.bot_sends("3", "$t3");
        CHECK(third["content"]["session_id"] != second["content"]["session_id"]);
    }

    TEST_CASE("megolm session rotates when a member leaves or a device disappears")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        engine.set_room_encryption(room, {});
        const auto first = pair.bot_sends("1", "$l1");

        // a new device of Alice gets the current session, without rotation
        Peer phone{alice, "PHONE", pair.clock};
        pair.server.upload(phone);
        engine.on_device_lists({alice}, {});
        const auto outdated = engine.users_needing_query();
        CHECK(std::find(outdated.begin(), outdated.end(), alice) != outdated.end());
        pair.server.query(pair.bot_peer, {alice});
        const auto newcomers = value(engine.needs_room_key_share(room, {alice, bot}));
        REQUIRE(newcomers.size() == 1);
        CHECK(newcomers[0].device_id == "PHONE");
        pair.server.ensure_sessions(pair.bot_peer, newcomers);
        deliver(value(engine.share_room_key(room, newcomers)), pair.bot_peer, phone);
        const auto second = room_event(
            "$l2", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "2"}})));
        CHECK(second["content"]["session_id"] == first["content"]["session_id"]);
        CHECK(body_of(value(phone.engine->decrypt_room_event(room, second))) == "2");
        const auto earlier = phone.engine->decrypt_room_event(room, first);
        REQUIRE_FALSE(earlier); // from the current index only: queued for a better key
        CHECK(earlier.error().errcode == errcode::missing_key);

        // the phone is logged out: its device disappears from /keys/query
        pair.server.device_keys[alice].erase("PHONE");
        engine.on_device_lists({alice}, {});
        pair.server.query(pair.bot_peer, {alice});
        CHECK(engine.devices(alice).size() == 1);
        const auto after_logout = value(engine.needs_room_key_share(room, {alice, bot}));
        CHECK(after_logout.size() == 1); // Alice's remaining device gets the new session
        pair.server.ensure_sessions(pair.bot_peer, after_logout);
        deliver(value(engine.share_room_key(room, after_logout)), pair.bot_peer, pair.alice_peer);
        const auto third = room_event(
            "$l3", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "3"}})));
        CHECK(third["content"]["session_id"] != second["content"]["session_id"]);

        // Alice leaves: the next session is not shared with her
        const auto alone = value(engine.needs_room_key_share(room, {bot}));
        CHECK(alone.empty());
        const auto fourth = room_event(
            "$l4", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "4"}})));
        CHECK(fourth["content"]["session_id"] != third["content"]["session_id"]);
        CHECK_FALSE(pair.alice_peer.engine->decrypt_room_event(room, fourth));

        // rotate_room_key (history visibility, a kick seen in a limited sync) forces a new session
        engine.rotate_room_key(room);
        CHECK(value(engine.needs_room_key_share(room, {alice, bot})).size() == 1);
    }

    TEST_CASE("a prepared next session reaches the members who stay and never the one who left")
    {
        WithBob pair;
        auto& bob_peer = pair.bob_peer;
        auto& engine = *pair.bot_peer.engine;
        engine.set_room_encryption(room, {});
        CHECK_FALSE(value(engine.prepare_next_room_key(room, {alice, bob, bot}))); // none in use
        CHECK_FALSE(engine.next_room_key_wanted(room));

        const auto first_devices = value(engine.needs_room_key_share(room, {alice, bob, bot}));
        REQUIRE(first_devices.size() == 2);
        pair.server.ensure_sessions(pair.bot_peer, first_devices);
        const auto first_share = value(engine.share_room_key(room, first_devices));
        deliver(first_share, pair.bot_peer, pair.alice_peer);
        deliver(first_share, pair.bot_peer, bob_peer);
        const auto first = room_event(
            "$p1", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "1"}})));

        // during a long-poll: the next session is prepared in slices, then saved
        CHECK(engine.next_room_key_wanted(room));
        const auto past = std::chrono::steady_clock::now() - std::chrono::seconds{1};
        CHECK(value(engine.prepare_next_room_key(room, {alice, bob, bot}, past))); // no time
        CHECK(engine.next_room_key_wanted(room));
        CHECK_FALSE(value(engine.prepare_next_room_key(room, {alice, bob, bot}))); // all done
        CHECK_FALSE(engine.next_room_key_wanted(room));
        CHECK(engine.has_unsaved_changes()); // the Olm sessions moved on
        pair.bot_peer.save();
        // the session in use is unchanged until it must go
        CHECK(value(engine.needs_room_key_share(room, {alice, bob, bot})).empty());

        // Bob leaves: the prepared session starts, and only Alice's device gets its key
        const auto stay = value(engine.needs_room_key_share(room, {alice, bot}));
        REQUIRE(stay.size() == 1);
        CHECK(stay[0].device_id == "ALICEDEV");
        const auto share = value(engine.share_room_key(room, stay));
        CHECK(share.at("messages").size() == 1);
        CHECK_FALSE(share.at("messages").contains(bob));
        const auto key = room_key_of(deliver(share, pair.bot_peer, pair.alice_peer));
        const auto second = room_event(
            "$p2", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "2"}})));
        CHECK(second["content"]["session_id"] != first["content"]["session_id"]);
        CHECK(second["content"]["session_id"] == key.session_id);
        CHECK(body_of(value(pair.alice_peer.engine->decrypt_room_event(room, second))) == "2");
        const auto bob_reads = bob_peer.engine->decrypt_room_event(room, second);
        REQUIRE_FALSE(bob_reads);
        CHECK(bob_reads.error().errcode == errcode::missing_key);
        // the bot reads its own message in the prepared session
        CHECK(body_of(value(engine.decrypt_room_event(room, second))) == "2");
    }

    TEST_CASE("a prepared session lost in a restart leaves only a skipped olm message")
    {
        WithBob pair;
        auto& bob_peer = pair.bob_peer;
        pair.bot_peer.engine->set_room_encryption(room, {});
        {
            auto& engine = *pair.bot_peer.engine;
            const auto devices = value(engine.needs_room_key_share(room, {alice, bob, bot}));
            pair.server.ensure_sessions(pair.bot_peer, devices);
            const auto share = value(engine.share_room_key(room, devices));
            deliver(share, pair.bot_peer, pair.alice_peer);
            deliver(share, pair.bot_peer, bob_peer);
            static_cast<void>(engine.encrypt_room_event(room, "m.room.message", {{"body", "1"}}));
            CHECK_FALSE(value(engine.prepare_next_room_key(room, {alice, bob, bot})));
            CHECK_FALSE(engine.next_room_key_wanted(room)); // prepared
            pair.bot_peer.save();
        }
        // restart: the prepared keys were never sent and are gone; the ratchet steps they took
        // were saved, so the next key goes with the following Olm message
        pair.bot_peer.engine = value(opalebot::bot::crypto::Engine::open(
            pair.bot_peer.db, bot, "BOTDEV", pickle_key, pair.clock.options()));
        auto& engine = *pair.bot_peer.engine;
        const auto stay = value(engine.needs_room_key_share(room, {alice, bot}));
        REQUIRE(stay.size() == 1);
        const auto key = room_key_of(
            deliver(value(engine.share_room_key(room, stay)), pair.bot_peer, pair.alice_peer));
        const auto second = room_event(
            "$r2", bot, value(engine.encrypt_room_event(room, "m.room.message", {{"body", "2"}})));
        CHECK(second["content"]["session_id"] == key.session_id);
        CHECK(body_of(value(pair.alice_peer.engine->decrypt_room_event(room, second))) == "2");
    }

    TEST_CASE("keys query refuses unsigned devices and changed keys and wrong ids")
    {
        TestClock clock;
        KeyServer server;
        Peer bot_peer{bot, "BOTDEV", clock};
        Peer alice_peer{alice, "ALICEDEV", clock};
        Peer impostor{alice, "ALICEDEV", clock}; // same device id, new keys
        server.upload(alice_peer);
        auto& engine = *bot_peer.engine;
        engine.track_users({alice});
        CHECK(engine.users_needing_query() == std::vector<std::string>{alice});
        CHECK(engine.keys_query_request({alice}).at("device_keys").contains(alice));

        auto good = server.device_keys[alice]["ALICEDEV"];
        auto unsigned_keys = good;
        unsigned_keys["keys"]["curve25519:ALICEDEV"] = impostor.engine->curve25519_key();
        auto wrong_id = good;
        wrong_id["device_id"] = "OTHER";
        json response = {{"device_keys",
                          {{alice, {{"ALICEDEV", unsigned_keys}, {"OTHER2", wrong_id}}},
                           {"@eve:hs.test", {{"EVE", good}}}}}};
        REQUIRE(static_cast<bool>(on_keys_query_response(engine, response, {alice})));
        CHECK(engine.devices(alice).empty());
        CHECK(engine.devices("@eve:hs.test").empty()); // not asked for
        CHECK(engine.users_needing_query().empty());

        response["device_keys"][alice] = {{"ALICEDEV", good}};
        REQUIRE(static_cast<bool>(on_keys_query_response(engine, response, {alice})));
        REQUIRE(engine.devices(alice).size() == 1);
        CHECK(engine.devices(alice)[0].ed25519 == alice_peer.engine->ed25519_key());

        // the same device id with another (validly self-signed) ed25519: refused, the pin stays
        server.device_keys = json::object();
        server.upload(impostor);
        server.query(bot_peer, {alice});
        REQUIRE(engine.devices(alice).size() == 1);
        CHECK(engine.devices(alice)[0].ed25519 == alice_peer.engine->ed25519_key());

        // a user who left every shared room is forgotten
        engine.on_device_lists({}, {alice});
        CHECK(engine.devices(alice).empty());
    }

    TEST_CASE("claimed one-time key with a bad signature makes no session")
    {
        Pair pair;
        auto response =
            pair.server.claim(pair.bot_peer.engine->keys_claim_request({pair.alice_peer.id()}));
        auto& key = response["one_time_keys"][alice]["ALICEDEV"].begin().value();
        key["key"] = pair.bot_peer.engine->curve25519_key(); // swapped by the server
        CHECK(value(on_keys_claim_response(*pair.bot_peer.engine, response)).empty());
        CHECK(pair.bot_peer.engine->devices_without_session({pair.alice_peer.id()}).size() == 1);
    }

    TEST_CASE("forwarded room key is taken only from an own verified device")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        Peer second{bot, "BOTDEV2", pair.clock};
        pair.server.upload(second);

        // The bot cross-signs itself and, once a person verified it, its second device.
        const auto cross_signing = value(engine.cross_signing_upload());
        pair.server.master_keys[bot] = cross_signing.at("master_key");
        pair.server.self_signing_keys[bot] = cross_signing.at("self_signing_key");
        const auto signed_second =
            value(engine.sign_own_device(pair.server.device_keys[bot]["BOTDEV2"]));
        pair.server.device_keys[bot]["BOTDEV2"]["signatures"][bot].update(
            signed_second.at(bot).at("BOTDEV2").at("signatures").at(bot));
        pair.server.query(pair.bot_peer, {bot, alice});
        pair.server.query(second, {bot});
        const auto own = engine.devices(bot);
        REQUIRE(own.size() == 2);
        for (const auto& device : own)
            CHECK(device.cross_signed == (device.device_id == "BOTDEV2"));

        // A Megolm session of Carol's that both Alice and the second device would forward.
        auto carol_session = value(olm::OutboundGroupSession::create());
        auto carol_inbound =
            value(olm::InboundGroupSession::create(value(carol_session.session_key())));
        const json forwarded = {{"algorithm", "m.megolm.v1.aes-sha2"},
                                {"room_id", room},
                                {"sender_key", "carolcurve"},
                                {"sender_claimed_ed25519_key", "carolsigning"},
                                {"session_id", value(carol_inbound.id())},
                                {"session_key", value(carol_inbound.export_at(0))},
                                {"forwarding_curve25519_key_chain", json::array()}};
        const json plaintext = {
            {"type", "m.room.message"}, {"content", {{"body", "de carol"}}}, {"room_id", room}};
        const auto event =
            room_event("$carol", "@carol:hs.test",
                       {{"algorithm", "m.megolm.v1.aes-sha2"},
                        {"sender_key", "carolcurve"},
                        {"session_id", value(carol_inbound.id())},
                        {"device_id", "CAROLDEV"},
                        {"ciphertext", value(carol_session.encrypt(plaintext.dump()))}});

        pair.server.ensure_sessions(pair.alice_peer, {pair.bot_peer.id()});
        const auto from_alice = value(pair.alice_peer.engine->encrypt_to_device(
            {pair.bot_peer.id()}, "m.forwarded_room_key", forwarded));
        const auto refused =
            on_to_device(engine, to_device_for(from_alice, alice, pair.bot_peer)[0]);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().errcode == errcode::untrusted);
        CHECK_FALSE(engine.decrypt_room_event(room, event));

        pair.server.ensure_sessions(second, {pair.bot_peer.id()});
        const auto from_own = value(second.engine->encrypt_to_device(
            {pair.bot_peer.id()}, "m.forwarded_room_key", forwarded));
        CHECK(deliver(from_own, second, pair.bot_peer).type == "m.forwarded_room_key");
        const auto ready = engine.take_events_now_decryptable(); // the event queued above
        REQUIRE(ready.size() == 1);
        CHECK(body_of(ready[0]) == "de carol");
        CHECK_FALSE(ready[0].verified); // forwarded keys never make a verified sender
    }

    TEST_CASE("room key requests are answered only for own verified devices")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        Peer second{bot, "BOTDEV2", pair.clock};
        Peer unverified{bot, "BOTDEV3", pair.clock};
        pair.server.upload(second);
        pair.server.upload(unverified);
        const auto cross_signing = value(engine.cross_signing_upload());
        pair.server.master_keys[bot] = cross_signing.at("master_key");
        pair.server.self_signing_keys[bot] = cross_signing.at("self_signing_key");
        const auto signed_second =
            value(engine.sign_own_device(pair.server.device_keys[bot]["BOTDEV2"]));
        pair.server.device_keys[bot]["BOTDEV2"]["signatures"][bot].update(
            signed_second.at(bot).at("BOTDEV2").at("signatures").at(bot));
        const auto signed_first = value(engine.own_device_signature_upload());
        pair.server.device_keys[bot]["BOTDEV"]["signatures"][bot].update(
            signed_first.at(bot).at("BOTDEV").at("signatures").at(bot));
        pair.server.query(pair.bot_peer, {bot, alice});
        pair.server.query(second, {bot}); // BOTDEV2 trusts BOTDEV's forwarded keys

        engine.set_room_encryption(room, {});
        const auto devices = value(engine.needs_room_key_share(room, {alice})); // not BOTDEV2
        pair.server.ensure_sessions(pair.bot_peer, devices);
        deliver(value(engine.share_room_key(room, devices)), pair.bot_peer, pair.alice_peer);
        const auto event = room_event(
            "$own", bot,
            value(engine.encrypt_room_event(
                room, "m.room.message", {{"msgtype", "m.text"}, {"body", "pour mes appareils"}})));
        CHECK_FALSE(second.engine->decrypt_room_event(room, event));
        const auto session_id = event.at("content").at("session_id");
        const auto request = [&](const std::string& sender, const std::string& device) {
            return json{{"type", "m.room_key_request"},
                        {"sender", sender},
                        {"content",
                         {{"action", "request"},
                          {"requesting_device_id", device},
                          {"request_id", "r1"},
                          {"body",
                           {{"algorithm", "m.megolm.v1.aes-sha2"},
                            {"room_id", room},
                            {"sender_key", engine.curve25519_key()},
                            {"session_id", session_id}}}}}};
        };
        CHECK_FALSE(value(on_room_key_request(engine, request(alice, "ALICEDEV"))).has_value());
        CHECK_FALSE(value(on_room_key_request(engine, request(bot, "BOTDEV3"))).has_value());
        const auto no_session = on_room_key_request(engine, request(bot, "BOTDEV2"));
        REQUIRE_FALSE(no_session);
        CHECK(no_session.error().errcode == errcode::not_shared);

        pair.server.ensure_sessions(pair.bot_peer, {second.id()});
        const auto answer = value(on_room_key_request(engine, request(bot, "BOTDEV2")));
        REQUIRE(answer.has_value());
        CHECK(deliver(*answer, pair.bot_peer, second).type == "m.forwarded_room_key");
        const auto ready = second.engine->take_events_now_decryptable();
        REQUIRE(ready.size() == 1);
        CHECK(body_of(ready[0]) == "pour mes appareils");
        CHECK_FALSE(ready[0].verified);
    }

    TEST_CASE("room key in clear is ignored")
    {
        Pair pair;
        const json event = {
            {"type", "m.room_key"},
            {"sender", alice},
            {"content", {{"room_id", room}, {"session_id", "x"}, {"session_key", "y"}}}};
        const auto result = on_to_device(*pair.bot_peer.engine, event);
        REQUIRE_FALSE(result);
        CHECK(result.error().errcode == errcode::untrusted);
        const json request = {
            {"type", "m.room_key_request"}, {"sender", alice}, {"content", json::object()}};
        CHECK(value(on_to_device(*pair.bot_peer.engine, request)).type == "m.room_key_request");
    }

    TEST_CASE("an olm message read again after a batch that was not saved is not a wedged session")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        pair.server.ensure_sessions(pair.alice_peer, {pair.bot_peer.id()});
        const auto pre_key =
            value(pair.alice_peer.engine->encrypt_to_device({pair.bot_peer.id()}, "m.test", {}));
        const auto normal_after = [&] {
            // the bot answers, so Alice's next message is a normal one
            pair.server.ensure_sessions(pair.bot_peer, {pair.alice_peer.id()});
            deliver(value(engine.encrypt_to_device({pair.alice_peer.id()}, "m.test", {})),
                    pair.bot_peer, pair.alice_peer);
            return value(
                pair.alice_peer.engine->encrypt_to_device({pair.bot_peer.id()}, "m.test", {}));
        };
        for (const auto& body : {pre_key, normal_after()}) {
            const auto event = to_device_for(body, alice, pair.bot_peer).at(0);
            CHECK(value(on_to_device(engine, event)).type == "m.test");
            // the batch was not saved: the same event comes again, its ratchet step spent
            CHECK(value(on_to_device(engine, event)).type == "m.test");
            CHECK(engine.take_wedged_devices().empty());
        }
        // once saved, the plaintexts are forgotten
        pair.bot_peer.save();
        const auto event = to_device_for(pre_key, alice, pair.bot_peer).at(0);
        CHECK_FALSE(on_to_device(engine, event));
    }

    TEST_CASE("olm sessions per device are bounded and the newest one is used")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        const auto count = [&] {
            return pair.bot_peer.db.execAndGet("SELECT count(*) FROM crypto_olm_sessions").getInt();
        };
        for (int n = 0; n < 12; ++n) { // a peer that keeps giving keys: a new session each time
            pair.clock.now += std::chrono::seconds{1};
            const auto claimed =
                pair.server.claim(engine.keys_claim_request({pair.alice_peer.id()}));
            REQUIRE(value(on_keys_claim_response(engine, claimed)).size() == 1);
        }
        pair.bot_peer.save();
        CHECK(count() == 8);
        // the last one made is the one used, and Alice reads it
        const auto body =
            value(engine.encrypt_to_device({pair.alice_peer.id()}, "m.test", json::object()));
        CHECK(deliver(body, pair.bot_peer, pair.alice_peer).type == "m.test");
        pair.bot_peer.save();
        auto reopened = value(opalebot::bot::crypto::Engine::open(
            pair.bot_peer.db, bot, "BOTDEV", pickle_key, pair.clock.options()));
        CHECK(count() == 8);
    }

    TEST_CASE("room keys beyond the memory bound are read back from the table")
    {
        Pair pair;
        auto& sender = *pair.alice_peer.engine;
        sender.set_room_encryption(room, {});
        json first;
        for (int n = 0; n < 300; ++n) { // a year of rotations in a busy salon
            sender.rotate_room_key(room);
            const auto devices = value(sender.needs_room_key_share(room, {alice, bot}));
            pair.server.ensure_sessions(pair.alice_peer, devices);
            deliver(value(sender.share_room_key(room, devices)), pair.alice_peer, pair.bot_peer);
            if (n == 0)
                first = room_event(
                    "$first", alice,
                    value(sender.encrypt_room_event(room, "m.room.message",
                                                    {{"msgtype", "m.text"}, {"body", "premier"}})));
        }
        pair.bot_peer.save(); // past the bound: forgotten in memory, kept in the table
        CHECK(body_of(value(pair.bot_peer.engine->decrypt_room_event(room, first))) == "premier");
        CHECK(pair.bot_peer.db.execAndGet("SELECT count(*) FROM crypto_inbound_group_sessions")
                  .getInt() == 300);
    }

    TEST_CASE("wedged olm session is recovered with an m.dummy at most hourly")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        pair.server.ensure_sessions(pair.alice_peer, {pair.bot_peer.id()});
        deliver(
            value(pair.alice_peer.engine->encrypt_to_device({pair.bot_peer.id()}, "m.test", {})),
            pair.alice_peer, pair.bot_peer);
        // the bot answers, so Alice moves to normal messages
        pair.server.ensure_sessions(pair.bot_peer, {pair.alice_peer.id()});
        deliver(value(engine.encrypt_to_device({pair.alice_peer.id()}, "m.test", {})),
                pair.bot_peer, pair.alice_peer);
        const auto body =
            value(pair.alice_peer.engine->encrypt_to_device({pair.bot_peer.id()}, "m.test", {}));
        auto event = to_device_for(body, alice, pair.bot_peer)[0];
        auto& text = event["content"]["ciphertext"][engine.curve25519_key()]["body"];
        auto broken = text.get<std::string>();
        broken[broken.size() - 5] = broken[broken.size() - 5] == 'A' ? 'B' : 'A';
        text = broken; // the bot lost the session state this message needs
        CHECK_FALSE(on_to_device(engine, event));
        const auto wedged = engine.take_wedged_devices();
        REQUIRE(wedged.size() == 1);
        CHECK(wedged[0].device_id == "ALICEDEV");
        CHECK_FALSE(on_to_device(engine, event));
        CHECK(engine.take_wedged_devices().empty()); // not twice within the hour

        // recovery: a new session from a fresh one-time key, then m.dummy on it
        const auto created = value(
            on_keys_claim_response(engine, pair.server.claim(engine.keys_claim_request(wedged))));
        REQUIRE(created.size() == 1);
        const auto dummy = value(engine.encrypt_to_device(wedged, "m.dummy", json::object()));
        const auto dummy_events = to_device_for(dummy, bot, pair.alice_peer);
        REQUIRE(dummy_events.size() == 1);
        CHECK(dummy_events[0]["content"]["ciphertext"][pair.alice_peer.engine->curve25519_key()]
                          ["type"] == 0); // the new session, not the old one
        CHECK(value(on_to_device(*pair.alice_peer.engine, dummy_events[0])).type == "m.dummy");

        pair.clock.now += std::chrono::minutes{61};
        CHECK_FALSE(on_to_device(engine, event));
        CHECK(engine.take_wedged_devices().size() == 1);
    }

    TEST_CASE("cross signing bootstrap signs the keys and the device")
    {
        Pair pair;
        auto& engine = *pair.bot_peer.engine;
        CHECK_FALSE(engine.has_cross_signing_keys());
        const auto body = value(engine.cross_signing_upload());
        CHECK(engine.has_cross_signing_keys());
        const auto& master = body.at("master_key");
        const auto& ssk = body.at("self_signing_key");
        const auto& usk = body.at("user_signing_key");
        const auto master_public = master.at("keys").begin().value().get<std::string>();
        const auto ssk_public = ssk.at("keys").begin().value().get<std::string>();
        CHECK(master.at("usage") == json::array({"master"}));
        CHECK(ssk.at("usage") == json::array({"self_signing"}));
        CHECK(usk.at("usage") == json::array({"user_signing"}));
        CHECK(master.at("keys").begin().key() == "ed25519:" + master_public);
        CHECK(verifies(master, bot, "ed25519:BOTDEV", engine.ed25519_key()));
        CHECK(verifies(ssk, bot, "ed25519:" + master_public, master_public));
        CHECK(verifies(usk, bot, "ed25519:" + master_public, master_public));
        CHECK(value(engine.cross_signing_upload()) == body); // the same keys afterwards

        const auto signatures = value(engine.own_device_signature_upload());
        const auto& own = signatures.at(bot).at("BOTDEV");
        CHECK(verifies(own, bot, "ed25519:" + ssk_public, ssk_public));
        CHECK(own.at("keys").at("ed25519:BOTDEV") == engine.ed25519_key());

        // the seeds are sealed with the pickle key: they survive a restart, not a wrong key
        pair.bot_peer.save();
        auto reopened = value(opalebot::bot::crypto::Engine::open(
            pair.bot_peer.db, bot, "BOTDEV", pickle_key, pair.clock.options()));
        CHECK(value(reopened->cross_signing_upload()) == body);

        // Alice sees a cross-signed bot device: the bot's messages are from a verified sender
        pair.server.master_keys[bot] = master;
        pair.server.self_signing_keys[bot] = ssk;
        pair.server.device_keys[bot]["BOTDEV"]["signatures"][bot]["ed25519:" + ssk_public] =
            own.at("signatures").at(bot).at("ed25519:" + ssk_public);
        pair.server.query(pair.alice_peer, {bot});
        REQUIRE(pair.alice_peer.engine->devices(bot).size() == 1);
        CHECK(pair.alice_peer.engine->devices(bot)[0].cross_signed);
        reopened.reset();
        pair.bot_peer.engine->set_room_encryption(room, {});
        const auto event = pair.bot_sends("vérifié", "$v");
        CHECK(value(pair.alice_peer.engine->decrypt_room_event(room, event)).verified);
    }

    TEST_CASE("a user who resets cross-signing keeps getting room keys on the new devices")
    {
        StrictBot strict;
        auto& [clock, server, db, engine] = strict;
        Peer first{alice, "ALICEDEV", clock};
        server.upload(first);
        publish_cross_signing(server, first);
        strict.query_alice();
        engine->set_room_encryption(room, {});
        CHECK(device_ids(value(engine->needs_room_key_share(room, {alice}))) ==
              std::vector<std::string>{"ALICEDEV"});

        // Alice resets her identity from a new device; the old one is signed by the old keys.
        Peer second{alice, "ALICENEW", clock};
        server.upload(second);
        publish_cross_signing(server, second);
        engine->on_device_lists({alice}, {});
        strict.query_alice();
        const auto devices = engine->devices(alice);
        REQUIRE(devices.size() == 2);
        for (const auto& device : devices)
            CHECK_MESSAGE(device.cross_signed == (device.device_id == "ALICENEW"),
                          device.device_id);
        CHECK(device_ids(value(engine->needs_room_key_share(room, {alice}))) ==
              std::vector<std::string>{"ALICENEW"});
        CHECK(engine->take_identity_changes() == std::vector<std::string>{alice}); // alerts
        CHECK(engine->take_identity_changes().empty());
    }

    TEST_CASE("devices refused the room key are told it is withheld once per session")
    {
        StrictBot strict;
        auto& [clock, server, db, engine] = strict;
        Peer signed_device{alice, "ALICEDEV", clock};
        Peer unsigned_device{alice, "ALICEPHONE", clock};
        Peer no_keys_left{alice, "ALICETAB", clock}; // cross-signed, no one-time key to claim
        server.upload(signed_device);
        server.upload(unsigned_device);
        server.upload(no_keys_left);
        server.one_time_keys[alice].erase("ALICETAB");
        server.fallback_keys[alice].erase("ALICETAB");
        publish_cross_signing(server, signed_device);
        const auto tablet = value(signed_device.engine->sign_own_device(
            server.device_keys[alice]["ALICETAB"]))[alice]["ALICETAB"];
        server.device_keys[alice]["ALICETAB"]["signatures"][alice].update(
            tablet.at("signatures").at(alice));
        strict.query_alice();
        engine->set_room_encryption(room, {});
        CHECK(engine->room_key_withheld(room, {alice}, {}).empty()); // no session yet

        const auto devices = value(engine->needs_room_key_share(room, {alice}));
        REQUIRE(device_ids(devices) == std::vector<std::string>{"ALICEDEV", "ALICETAB"});
        const auto created = value(
            on_keys_claim_response(*engine, server.claim(engine->keys_claim_request(devices))));
        REQUIRE(created.size() == 1);
        static_cast<void>(value(engine->share_room_key(room, devices)));
        const auto no_session = engine->devices_without_session(devices);
        REQUIRE(device_ids(no_session) == std::vector<std::string>{"ALICETAB"});

        const auto withheld = engine->room_key_withheld(room, {alice}, no_session);
        REQUIRE(withheld.size() == 1);
        REQUIRE(withheld.at(alice).size() == 2);
        CHECK(withheld.at(alice).at("ALICETAB").at("code") == "m.no_olm");
        const auto& content = withheld.at(alice).at("ALICEPHONE");
        CHECK(content.at("code") == "m.unverified");
        CHECK(content.at("room_id") == room);
        CHECK(content.at("algorithm") == "m.megolm.v1.aes-sha2");
        CHECK(content.at("sender_key") == engine->curve25519_key());
        CHECK_FALSE(content.at("session_id").get<std::string>().empty());
        CHECK_FALSE(content.at("reason").get<std::string>().empty());

        // told once: not again for this session, even after a restart
        CHECK(engine->room_key_withheld(room, {alice}, {}).empty());
        REQUIRE(static_cast<bool>(engine->save(db)));
        engine.reset();
        engine = strict.open();
        CHECK(engine->room_key_withheld(room, {alice}, no_session).empty());
        // still served; the tablet is asked again (it may have uploaded keys since)
        CHECK(device_ids(value(engine->needs_room_key_share(room, {alice}))) ==
              std::vector<std::string>{"ALICETAB"});

        // a new session: told again
        engine->rotate_room_key(room);
        const auto again = value(engine->needs_room_key_share(room, {alice}));
        REQUIRE(device_ids(again) == std::vector<std::string>{"ALICEDEV", "ALICETAB"});
        static_cast<void>(value(engine->share_room_key(room, again)));
        const auto renewed =
            engine->room_key_withheld(room, {alice}, {DeviceKey{alice, "ALICEDEV"}});
        CHECK(renewed.at(alice).at("ALICEPHONE").at("code") == "m.unverified");
        CHECK(renewed.at(alice).at("ALICEPHONE").at("session_id") != content.at("session_id"));
        CHECK_FALSE(renewed.at(alice).contains("ALICEDEV")); // it got the key: nothing withheld
    }

    TEST_CASE("only cross-signed devices get the room key when so configured")
    {
        TestClock clock;
        KeyServer server;
        SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
        auto engine = value(opalebot::bot::crypto::Engine::open(db, bot, "BOTDEV", pickle_key,
                                                                clock.options(true)));
        Peer alice_peer{alice, "ALICEDEV", clock};
        server.upload(alice_peer);
        REQUIRE(static_cast<bool>(on_keys_query_response(
            *engine, {{"device_keys", {{alice, server.device_keys[alice]}}}}, {alice})));
        engine->set_room_encryption(room, {});
        CHECK(value(engine->needs_room_key_share(room, {alice})).empty());
    }
}
