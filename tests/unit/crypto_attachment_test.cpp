#include "bot/crypto/attachment.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

using namespace opalebot::bot::crypto;
using nlohmann::json;

namespace {

std::string from_hex(std::string_view hex)
{
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16));
    return out;
}

// Computed with Python's `cryptography` (AES-256-CTR, SHA-256): a client's encrypted file.
const std::string vector_plaintext = "Capture du pré-sas, 2ᵉ essai";
const std::string vector_ciphertext =
    from_hex("56c6073c99165f3a4e4032113480a08aac3a6616dc3c81b7900ad33ece9b5d");
const json vector_file{{"url", "mxc://hs.test/chiffre"},
                       {"key",
                        {{"kty", "oct"},
                         {"alg", "A256CTR"},
                         {"ext", true},
                         {"key_ops", {"encrypt", "decrypt"}},
                         {"k", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}}},
                       {"iv", "AAECAwQFBgcAAAAAAAAAAA"},
                       {"hashes", {{"sha256", "3gS8B2kJsdMGGRZO8/AwZ8u1HHGspBQqEpUDWdXamvo"}}},
                       {"v", "v2"}};

} // namespace

TEST_SUITE("crypto")
{
    TEST_CASE("an encrypted attachment from another client decrypts after its hash is checked")
    {
        const auto file = parse_encrypted_file(vector_file);
        REQUIRE(static_cast<bool>(file));
        CHECK(file.value().url == "mxc://hs.test/chiffre");
        const auto plain = decrypt_attachment(vector_ciphertext, file.value());
        REQUIRE(static_cast<bool>(plain));
        CHECK(plain.value() == vector_plaintext);
        auto tampered = vector_ciphertext;
        tampered[3] = static_cast<char>(tampered[3] ^ 1);
        const auto refused = decrypt_attachment(tampered, file.value());
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().message.find("SHA-256") != std::string::npos);
    }

    TEST_CASE("encrypt_attachment round-trips through its file object")
    {
        const std::string csv = "uai;nom\n0020013D;Collège\n";
        const auto sealed = encrypt_attachment(csv);
        REQUIRE(static_cast<bool>(sealed));
        CHECK(sealed.value().ciphertext != csv);
        auto file = sealed.value().file;
        file.url = "mxc://hs.test/x";
        const auto object = to_json(file);
        CHECK(object["iv"].get<std::string>().size() == 22);                // 16 bytes, unpadded
        CHECK(object["iv"].get<std::string>().substr(11) == "AAAAAAAAAAA"); // counter from 0
        const auto parsed = parse_encrypted_file(object);
        REQUIRE(static_cast<bool>(parsed));
        const auto plain = decrypt_attachment(sealed.value().ciphertext, parsed.value());
        REQUIRE(static_cast<bool>(plain));
        CHECK(plain.value() == csv);
        const auto again = encrypt_attachment(csv);
        REQUIRE(static_cast<bool>(again));
        CHECK(again.value().file.key != sealed.value().file.key); // a fresh key each time
    }

    TEST_CASE("parse_encrypted_file says what is wrong with a file object")
    {
        auto no_hash = vector_file;
        no_hash.erase("hashes");
        CHECK_FALSE(static_cast<bool>(parse_encrypted_file(no_hash)));
        auto v1 = vector_file;
        v1["v"] = "v1";
        CHECK(parse_encrypted_file(v1).error().message.find("v1") != std::string::npos);
        auto other_alg = vector_file;
        other_alg["key"]["alg"] = "A128CBC";
        CHECK_FALSE(static_cast<bool>(parse_encrypted_file(other_alg)));
        auto short_key = vector_file;
        short_key["key"]["k"] = "AAEC";
        CHECK_FALSE(static_cast<bool>(parse_encrypted_file(short_key)));
        auto no_url = vector_file;
        no_url["url"] = "https://ailleurs";
        CHECK_FALSE(static_cast<bool>(parse_encrypted_file(no_url)));
        CHECK_FALSE(static_cast<bool>(parse_encrypted_file(json::array())));
    }

    TEST_CASE("base64 reads both alphabets with or without padding and refuses garbage")
    {
        CHECK(base64_encode("Op@le") == "T3BAbGU");
        CHECK(base64_encode("\xfb\xff", true) == "-_8");
        CHECK(base64_decode("T3BAbGU") == "Op@le");
        CHECK(base64_decode("T3BAbGU=") == "Op@le");
        CHECK(base64_decode("-_8") == std::string{"\xfb\xff"});
        CHECK(base64_decode("+/8=") == std::string{"\xfb\xff"});
        CHECK_FALSE(base64_decode("T3B*bGU").has_value());
        CHECK_FALSE(base64_decode("T").has_value());
        CHECK(base64_decode("").value().empty());
    }
}
