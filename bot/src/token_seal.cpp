#include "token_seal.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>

#include <nettle/base64.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <sys/random.h>

namespace opalebot::bot {
namespace {

constexpr std::string_view prefix = "sealed-v1:";
constexpr std::size_t nonce_size = 12;
using Key = std::array<std::uint8_t, 32>;

const std::uint8_t* bytes(std::string_view text)
{
    return reinterpret_cast<const std::uint8_t*>(text.data());
}

/// A key of its own for the token: never the secret itself, which also seals the Olm pickles.
Key token_key(std::string_view secret)
{
    constexpr std::string_view info = "opale-bot access token v1";
    hmac_sha256_ctx ctx;
    std::array<std::uint8_t, SHA256_DIGEST_SIZE> pseudo_random{};
    hmac_sha256_set_key(&ctx, 0, nullptr); // no salt: the secret is already random
    hkdf_extract(&ctx, reinterpret_cast<nettle_hash_update_func*>(hmac_sha256_update),
                 reinterpret_cast<nettle_hash_digest_func*>(hmac_sha256_digest), SHA256_DIGEST_SIZE,
                 secret.size(), bytes(secret), pseudo_random.data());
    hmac_sha256_set_key(&ctx, pseudo_random.size(), pseudo_random.data());
    Key key{};
    hkdf_expand(&ctx, reinterpret_cast<nettle_hash_update_func*>(hmac_sha256_update),
                reinterpret_cast<nettle_hash_digest_func*>(hmac_sha256_digest), SHA256_DIGEST_SIZE,
                info.size(), bytes(info), key.size(), key.data());
    return key;
}

Error unreadable(std::string why)
{
    return Error{Error::Kind::storage,
                 0,
                 {},
                 "jeton d'accès scellé illisible : " + std::move(why),
                 {},
                 false};
}

} // namespace

std::string seal_token(std::string_view token, std::string_view secret)
{
    std::string sealed(nonce_size + token.size() + GCM_DIGEST_SIZE, '\0');
    auto* out = reinterpret_cast<std::uint8_t*>(sealed.data());
    if (getrandom(out, nonce_size, 0) != static_cast<ssize_t>(nonce_size))
        throw std::runtime_error("getrandom failed"); // the kernel's pool: never on Linux ≥ 3.17
    const auto key = token_key(secret);
    gcm_aes256_ctx ctx;
    gcm_aes256_set_key(&ctx, key.data());
    gcm_aes256_set_iv(&ctx, nonce_size, out);
    gcm_aes256_encrypt(&ctx, token.size(), out + nonce_size, bytes(token));
    gcm_aes256_digest(&ctx, GCM_DIGEST_SIZE, out + nonce_size + token.size());
    std::string text(BASE64_ENCODE_RAW_LENGTH(sealed.size()), '\0');
    base64_encode_raw(text.data(), sealed.size(), out);
    return std::string{prefix} + text;
}

bool is_sealed_token(std::string_view stored)
{
    return stored.starts_with(prefix);
}

Result<std::string> open_token(std::string_view stored, std::string_view secret)
{
    if (!is_sealed_token(stored))
        return unreadable("il n'est pas scellé");
    stored.remove_prefix(prefix.size());
    std::string raw(BASE64_DECODE_LENGTH(stored.size()), '\0');
    base64_decode_ctx decoder;
    base64_decode_init(&decoder);
    std::size_t length = raw.size();
    if (base64_decode_update(&decoder, &length, reinterpret_cast<std::uint8_t*>(raw.data()),
                             stored.size(), stored.data()) == 0 ||
        base64_decode_final(&decoder) == 0 || length < nonce_size + GCM_DIGEST_SIZE)
        return unreadable("il est abîmé");
    const auto* in = reinterpret_cast<const std::uint8_t*>(raw.data());
    const auto text_size = length - nonce_size - GCM_DIGEST_SIZE;
    const auto key = token_key(secret);
    gcm_aes256_ctx ctx;
    gcm_aes256_set_key(&ctx, key.data());
    gcm_aes256_set_iv(&ctx, nonce_size, in);
    std::string token(text_size, '\0');
    gcm_aes256_decrypt(&ctx, text_size, reinterpret_cast<std::uint8_t*>(token.data()),
                       in + nonce_size);
    std::array<std::uint8_t, GCM_DIGEST_SIZE> tag{};
    gcm_aes256_digest(&ctx, tag.size(), tag.data());
    if (memeql_sec(tag.data(), in + nonce_size + text_size, tag.size()) == 0)
        return unreadable("il a été modifié, ou le secret (encryption.pickle_key_file) n'est "
                          "plus le même");
    return token;
}

} // namespace opalebot::bot
