#pragma once

#include "opalebot/result.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace opalebot::bot::crypto {

/// The `file` object of a file sent in an encrypted room (spec "Sending encrypted attachments",
/// v2): the mxc address of the ciphertext and what decrypts and checks it.
struct EncryptedFile {
    std::string url;    ///< mxc://
    std::string key;    ///< AES-256 key, 32 bytes (JWK "k", base64url)
    std::string iv;     ///< AES-CTR counter block, 16 bytes
    std::string sha256; ///< of the ciphertext, 32 bytes
};

/// Reads a `file` object; an Error says what is missing or malformed.
Result<EncryptedFile> parse_encrypted_file(const nlohmann::json& file);

/// The plaintext of a downloaded ciphertext, after its SHA-256 is checked (a file changed on
/// the server, or the wrong one, is refused).
Result<std::string> decrypt_attachment(std::string_view ciphertext, const EncryptedFile& file);

/// A file encrypted for an encrypted room: the ciphertext to upload, and the `file` object to
/// send once its mxc address is known (fill in "url").
struct EncryptedAttachment {
    std::string ciphertext;
    EncryptedFile file;
};
Result<EncryptedAttachment> encrypt_attachment(std::string_view plaintext);

/// The `file` object of `file` (JWK key, unpadded base64 iv and hash, "v": "v2").
nlohmann::json to_json(const EncryptedFile& file);

/// Base64 without padding (the spec's "unpadded base64"); base64url when `url_safe`.
std::string base64_encode(std::string_view bytes, bool url_safe = false);
/// Either alphabet (one per text), padding optional; nothing on a character outside it.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace opalebot::bot::crypto
