#pragma once

// Private to bot/src/crypto/: the only place that sees libolm (notes/style.md §3).

#include "opalebot/result.hpp"

#include <olm/inbound_group_session.h>
#include <olm/olm.h>
#include <olm/outbound_group_session.h>
#include <olm/pk.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace opalebot::bot::crypto::olm {

/// Bytes wiped (explicit_bzero) when destroyed: random input, seeds, decrypted secrets.
class SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(std::size_t size) : bytes_(size, '\0') {}
    explicit SecretBytes(std::string bytes) : bytes_(std::move(bytes)) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    SecretBytes(SecretBytes&& other) noexcept : bytes_(std::exchange(other.bytes_, {})) {}
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    ~SecretBytes();

    char* data() noexcept { return bytes_.data(); }
    const char* data() const noexcept { return bytes_.data(); }
    std::size_t size() const noexcept { return bytes_.size(); }
    std::string_view view() const noexcept { return bytes_; }
    void resize(std::size_t size) { bytes_.resize(size); }

private:
    std::string bytes_;
};

/// `size` bytes from the kernel CSPRNG (getrandom), or an Error if it cannot give them.
Result<SecretBytes> random_bytes(std::size_t size);

/// The Error for a failed libolm call: `what` and libolm's last_error text (never key material).
Error olm_error_value(std::string_view what, const char* last_error);

namespace detail {
/// Memory from olm_*_size(), initialised by olm_*(memory) and cleared by olm_clear_*() on free.
template <class T, std::size_t (*Size)(), T* (*Init)(void*), std::size_t (*Clear)(T*)>
class Object {
public:
    Object() : memory_(std::make_unique<std::byte[]>(Size())), ptr_(Init(memory_.get())) {}
    Object(Object&& other) noexcept
        : memory_(std::move(other.memory_)), ptr_(std::exchange(other.ptr_, nullptr))
    {}
    Object& operator=(Object&& other) noexcept
    {
        if (this == &other)
            return *this;
        reset();
        memory_ = std::move(other.memory_);
        ptr_ = std::exchange(other.ptr_, nullptr);
        return *this;
    }
    Object(const Object&) = delete;
    Object& operator=(const Object&) = delete;
    ~Object() { reset(); }

    T* get() const noexcept { return ptr_; }

private:
    void reset() noexcept
    {
        if (ptr_ != nullptr)
            Clear(ptr_);
        ptr_ = nullptr;
        memory_.reset();
    }
    std::unique_ptr<std::byte[]> memory_;
    T* ptr_ = nullptr;
};
} // namespace detail

class Session;

/// A device's long-term Olm identity (curve25519 + ed25519) and its one-time keys.
class Account {
public:
    static Result<Account> create();
    /// `pickled` is copied: libolm decodes its input in place.
    static Result<Account> unpickle(std::string_view pickled, std::string_view key);
    Result<std::string> pickle(std::string_view key) const;

    /// {"curve25519": "...", "ed25519": "..."}
    Result<std::string> identity_keys_json() const;
    /// The unpadded-base64 ed25519 signature of `message`.
    Result<std::string> sign(std::string_view message) const;

    std::size_t max_one_time_keys() const;
    Result<Done> generate_one_time_keys(std::size_t count);
    /// {"curve25519": {"<key id>": "<key>"}} of the unpublished one-time keys.
    Result<std::string> one_time_keys_json() const;
    Result<Done> generate_fallback_key();
    /// {"curve25519": {"<key id>": "<key>"}}, empty when the fallback key is published.
    Result<std::string> unpublished_fallback_key_json() const;
    void forget_old_fallback_key();
    void mark_keys_as_published();
    /// Removes the one-time key that `session` (an inbound session) used.
    Result<Done> remove_one_time_keys(const Session& session);

    OlmAccount* get() const noexcept { return object_.get(); }

private:
    Account() = default;
    detail::Object<OlmAccount, olm_account_size, olm_account, olm_clear_account> object_;
};

/// The message type and base64 body of one Olm message.
struct OlmMessage {
    std::size_t type = 0; ///< 0 pre-key, 1 normal
    std::string body;
};

/// An Olm (double ratchet) session with one other device.
class Session {
public:
    static Result<Session> create_outbound(const Account& account,
                                           std::string_view their_curve25519,
                                           std::string_view their_one_time_key);
    /// From a pre-key message of `their_curve25519`; does not remove the one-time key.
    static Result<Session> create_inbound(const Account& account, std::string_view their_curve25519,
                                          std::string_view pre_key_message);
    static Result<Session> unpickle(std::string_view pickled, std::string_view key);
    Result<std::string> pickle(std::string_view key) const;

    Result<std::string> id() const;
    /// Whether the pre-key `message` from `their_curve25519` belongs to this session.
    bool matches_inbound(std::string_view their_curve25519, std::string_view message) const;
    Result<OlmMessage> encrypt(std::string_view plaintext);
    /// `message` is copied twice (size query and decrypt both destroy their input).
    Result<std::string> decrypt(const OlmMessage& message);

    OlmSession* get() const noexcept { return object_.get(); }

private:
    Session() = default;
    detail::Object<OlmSession, olm_session_size, olm_session, olm_clear_session> object_;
};

/// The plaintext of a Megolm message and its index in the session.
struct GroupPlaintext {
    std::string plaintext;
    std::uint32_t message_index = 0;
};

/// The receiving side of a Megolm session.
class InboundGroupSession {
public:
    /// From the `session_key` of an m.room_key.
    static Result<InboundGroupSession> create(std::string_view session_key);
    /// From an exported key (m.forwarded_room_key).
    static Result<InboundGroupSession> import(std::string_view exported_key);
    static Result<InboundGroupSession> unpickle(std::string_view pickled, std::string_view key);
    Result<std::string> pickle(std::string_view key) const;

    Result<std::string> id() const;
    std::uint32_t first_known_index() const;
    Result<GroupPlaintext> decrypt(std::string_view ciphertext);
    /// The session exported from `message_index` on (for forwarding).
    Result<std::string> export_at(std::uint32_t message_index) const;

private:
    InboundGroupSession() = default;
    detail::Object<OlmInboundGroupSession, olm_inbound_group_session_size,
                   olm_inbound_group_session, olm_clear_inbound_group_session>
        object_;
};

/// The sending side of a Megolm session.
class OutboundGroupSession {
public:
    static Result<OutboundGroupSession> create();
    static Result<OutboundGroupSession> unpickle(std::string_view pickled, std::string_view key);
    Result<std::string> pickle(std::string_view key) const;

    Result<std::string> id() const;
    std::uint32_t message_index() const;
    /// The key at the current index, for m.room_key.
    Result<std::string> session_key() const;
    Result<std::string> encrypt(std::string_view plaintext);

private:
    OutboundGroupSession() = default;
    detail::Object<OlmOutboundGroupSession, olm_outbound_group_session_size,
                   olm_outbound_group_session, olm_clear_outbound_group_session>
        object_;
};

/// ed25519 verification and SHA-256.
class Utility {
public:
    Utility() = default;
    /// True when `signature` (unpadded base64) is `key`'s signature of `message`.
    bool ed25519_verify(std::string_view key, std::string_view message,
                        std::string_view signature) const;

private:
    detail::Object<OlmUtility, olm_utility_size, olm_utility, olm_clear_utility> object_;
};

/// An ed25519 signing key from a 32-byte seed (cross-signing keys).
class PkSigning {
public:
    static std::size_t seed_length();
    static Result<PkSigning> from_seed(const SecretBytes& seed);
    const std::string& public_key() const noexcept { return public_key_; }
    Result<std::string> sign(std::string_view message) const;

private:
    PkSigning() = default;
    detail::Object<OlmPkSigning, olm_pk_signing_size, olm_pk_signing, olm_clear_pk_signing> object_;
    std::string public_key_;
};

/// Seals a 32-byte secret with the pickle key: libolm's pickle encryption (AES-256-CBC +
/// HMAC-SHA-256, keys derived from the pickle key) of an OlmPkDecryption whose private key is it.
Result<std::string> seal_secret(const SecretBytes& secret, std::string_view key);
/// The secret sealed by seal_secret; an Error for a wrong key or a damaged pickle.
Result<SecretBytes> open_secret(std::string_view sealed, std::string_view key);

} // namespace opalebot::bot::crypto::olm
