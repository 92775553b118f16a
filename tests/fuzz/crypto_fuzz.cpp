// What the crypto side reads from others (bot/src/crypto/): to-device events, decrypted Olm
// payloads, /keys/query, /keys/claim, /keys/upload and /keys/changes answers, the `file` object
// of an encrypted attachment, and the canonical JSON that signatures are checked over.
#include "bot/crypto/attachment.hpp"
#include "bot/crypto/canonical_json.hpp"
#include "bot/crypto/messages.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "untrusted_json.hpp"

namespace {

using nlohmann::json;
namespace crypto = opalebot::bot::crypto;

/// Canonical JSON read back is canonical already (a signature checked twice gives one verdict).
void check_canonical(const json& object)
{
    const auto bytes = crypto::signing_bytes(object);
    if (!bytes)
        return;
    const auto again = crypto::canonical_json(json::parse(bytes.value()));
    OPALEBOT_FUZZ_CHECK(again && again.value() == bytes.value());
}

void use(const crypto::ToDeviceContent& content)
{
    if (const auto* other = std::get_if<crypto::OtherContent>(&content))
        OPALEBOT_FUZZ_CHECK(other->content.is_object());
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    // base64 of attachment keys, hashes and Olm bodies: what is written reads back
    if (const auto bytes = crypto::base64_decode(text)) {
        OPALEBOT_FUZZ_CHECK(crypto::base64_decode(crypto::base64_encode(*bytes)) == bytes);
        OPALEBOT_FUZZ_CHECK(crypto::base64_decode(crypto::base64_encode(*bytes, true)) == bytes);
    }
    if (const auto payload = crypto::parse_olm_payload(text))
        use(payload->content);
    // The matrix client reads every answer with parse_untrusted and wants an object.
    const auto answer = opalebot::bot::parse_untrusted(text, "fuzz");
    if (answer.is_discarded() || !answer.is_object())
        return 0;
    use(crypto::parse_to_device_event(answer).content);
    if (const auto query = crypto::parse_keys_query_response(answer)) {
        for (const auto& [user, devices] : query.value().device_keys)
            for (const auto& [device, keys] : devices)
                check_canonical(keys.object);
        for (const auto& [user, key] : query.value().master_keys)
            check_canonical(key.object);
        for (const auto& [user, key] : query.value().self_signing_keys)
            check_canonical(key.object);
    }
    for (const auto& [user, devices] : crypto::parse_keys_claim_response(answer).one_time_keys)
        for (const auto& [device, key] : devices)
            check_canonical(key.object);
    (void)crypto::parse_keys_upload_response(answer).signed_curve25519_count();
    (void)crypto::parse_keys_changes(answer);
    if (const auto file = crypto::parse_encrypted_file(answer)) {
        OPALEBOT_FUZZ_CHECK(file.value().key.size() == 32 && file.value().iv.size() == 16);
        const auto written = crypto::parse_encrypted_file(crypto::to_json(file.value()));
        OPALEBOT_FUZZ_CHECK(written && written.value().key == file.value().key &&
                            written.value().iv == file.value().iv &&
                            written.value().sha256 == file.value().sha256);
        (void)crypto::decrypt_attachment(text, file.value());
    }
    check_canonical(answer);
    return 0;
}
