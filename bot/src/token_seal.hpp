#pragma once

#include "opalebot/result.hpp"

#include <string>
#include <string_view>

namespace opalebot::bot {

/// The access token as the state file keeps it when a secret is configured (the same one that
/// seals the crypto state): AES-256-GCM under a key derived from the secret (HKDF-SHA-256), a
/// random nonce, as "sealed-v1:" + base64(nonce | ciphertext | tag). Whoever copies the file
/// without the secret cannot use the token.
std::string seal_token(std::string_view token, std::string_view secret);

/// Whether `stored` was written by seal_token.
bool is_sealed_token(std::string_view stored);

/// The token back; an error when it was altered or the secret is another one.
Result<std::string> open_token(std::string_view stored, std::string_view secret);

} // namespace opalebot::bot
