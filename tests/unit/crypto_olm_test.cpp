#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "crypto/olm_handles.hpp"

namespace olm = opalebot::bot::crypto::olm;

namespace {

template <class T>
T value(opalebot::Result<T> result)
{
    REQUIRE_MESSAGE(static_cast<bool>(result), (result ? "" : result.error().message));
    return std::move(result).value();
}

std::string curve25519(const olm::Account& account)
{
    return nlohmann::json::parse(value(account.identity_keys_json())).at("curve25519");
}

std::string ed25519(const olm::Account& account)
{
    return nlohmann::json::parse(value(account.identity_keys_json())).at("ed25519");
}

std::string first_one_time_key(const olm::Account& account)
{
    const auto keys = nlohmann::json::parse(value(account.one_time_keys_json()));
    return keys.at("curve25519").begin()->get<std::string>();
}

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("random bytes come from the kernel")
    {
        const auto a = value(olm::random_bytes(32));
        const auto b = value(olm::random_bytes(32));
        CHECK(a.size() == 32);
        CHECK(a.view() != b.view());
    }

    TEST_CASE("account signs and the utility verifies")
    {
        auto account = value(olm::Account::create());
        const auto signature = value(account.sign("message"));
        const olm::Utility utility;
        CHECK(utility.ed25519_verify(ed25519(account), "message", signature));
        CHECK_FALSE(utility.ed25519_verify(ed25519(account), "messagE", signature));
        CHECK_FALSE(utility.ed25519_verify(ed25519(account), "message", "not base64!"));
    }

    TEST_CASE("account pickle round trips and a wrong key fails cleanly")
    {
        auto account = value(olm::Account::create());
        const auto pickled = value(account.pickle("key one"));
        const auto restored = value(olm::Account::unpickle(pickled, "key one"));
        CHECK(value(restored.identity_keys_json()) == value(account.identity_keys_json()));
        const auto wrong = olm::Account::unpickle(pickled, "key two");
        REQUIRE_FALSE(wrong);
        CHECK(wrong.error().message.find("BAD_ACCOUNT_KEY") != std::string::npos);
    }

    TEST_CASE("olm session pre key then reply then message")
    {
        auto alice = value(olm::Account::create());
        auto bob = value(olm::Account::create());
        REQUIRE(static_cast<bool>(bob.generate_one_time_keys(1)));
        auto outbound =
            value(olm::Session::create_outbound(alice, curve25519(bob), first_one_time_key(bob)));
        const auto first = value(outbound.encrypt("bonjour"));
        CHECK(first.type == 0);

        auto inbound = value(olm::Session::create_inbound(bob, curve25519(alice), first.body));
        CHECK(inbound.matches_inbound(curve25519(alice), first.body));
        CHECK(value(inbound.decrypt(first)) == "bonjour");
        CHECK(value(inbound.id()) == value(outbound.id()));
        REQUIRE(static_cast<bool>(bob.remove_one_time_keys(inbound)));
        CHECK(nlohmann::json::parse(value(bob.one_time_keys_json())).at("curve25519").empty());

        const auto reply = value(inbound.encrypt("salut"));
        CHECK(reply.type == 1);
        CHECK(value(outbound.decrypt(reply)) == "salut");

        // pickled sessions keep the ratchet
        const auto restored = value(olm::Session::unpickle(value(outbound.pickle("k")), "k"));
        CHECK(value(restored.id()) == value(outbound.id()));
    }

    TEST_CASE("megolm session shares and decrypts with its index")
    {
        auto outbound = value(olm::OutboundGroupSession::create());
        auto inbound = value(olm::InboundGroupSession::create(value(outbound.session_key())));
        CHECK(value(inbound.id()) == value(outbound.id()));
        const auto first = value(outbound.encrypt("un"));
        const auto second = value(outbound.encrypt("deux"));
        CHECK(outbound.message_index() == 2);
        const auto one = value(inbound.decrypt(first));
        CHECK(one.plaintext == "un");
        CHECK(one.message_index == 0);
        CHECK(value(inbound.decrypt(second)).message_index == 1);

        // an export from index 1 cannot read index 0
        auto imported = value(olm::InboundGroupSession::import(value(inbound.export_at(1))));
        CHECK(imported.first_known_index() == 1);
        CHECK_FALSE(imported.decrypt(first));
        CHECK(value(imported.decrypt(second)).plaintext == "deux");

        auto restored =
            value(olm::InboundGroupSession::unpickle(value(inbound.pickle("pk")), "pk"));
        CHECK(value(restored.decrypt(second)).plaintext == "deux");
        CHECK_FALSE(olm::InboundGroupSession::unpickle(value(inbound.pickle("pk")), "other"));
    }

    TEST_CASE("pk signing from a seed is deterministic and verifies")
    {
        const auto seed = value(olm::random_bytes(olm::PkSigning::seed_length()));
        const auto signing = value(olm::PkSigning::from_seed(seed));
        const auto again = value(olm::PkSigning::from_seed(seed));
        CHECK(signing.public_key() == again.public_key());
        const olm::Utility utility;
        CHECK(utility.ed25519_verify(signing.public_key(), "x", value(signing.sign("x"))));
    }

    TEST_CASE("sealed secrets open only with the pickle key")
    {
        const auto secret = value(olm::random_bytes(32));
        const auto sealed = value(olm::seal_secret(secret, "pickle key"));
        CHECK(sealed.find(std::string{secret.view()}) == std::string::npos);
        CHECK(value(olm::open_secret(sealed, "pickle key")).view() == secret.view());
        CHECK_FALSE(olm::open_secret(sealed, "wrong key"));
        CHECK_FALSE(olm::seal_secret(value(olm::random_bytes(16)), "pickle key"));
    }
}
