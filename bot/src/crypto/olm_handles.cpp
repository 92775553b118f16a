#include "olm_handles.hpp"

#include <cerrno>
#include <cstring>

#include <string.h> // explicit_bzero
#include <sys/random.h>

namespace opalebot::bot::crypto::olm {
namespace {

/// A writable copy of `input`: libolm base64-decodes many inputs in place (matrix.md §8.1).
std::string copy(std::string_view input)
{
    return std::string{input};
}

/// Pickles any libolm object with `key`.
template <class T>
Result<std::string> pickle_with(T* object, std::string_view key, std::size_t (*length)(const T*),
                                std::size_t (*pickle)(T*, const void*, std::size_t, void*,
                                                      std::size_t),
                                const char* (*last_error)(const T*), std::string_view what)
{
    std::string out(length(object), '\0');
    const auto written = pickle(object, key.data(), key.size(), out.data(), out.size());
    if (written == olm_error())
        return olm_error_value(what, last_error(object));
    out.resize(written);
    return out;
}

/// Unpickles into `object` from a copy of `pickled`.
template <class T>
Result<Done> unpickle_into(T* object, std::string_view pickled, std::string_view key,
                           std::size_t (*unpickle)(T*, const void*, std::size_t, void*,
                                                   std::size_t),
                           const char* (*last_error)(const T*), std::string_view what)
{
    auto input = copy(pickled);
    if (unpickle(object, key.data(), key.size(), input.data(), input.size()) == olm_error())
        return olm_error_value(what, last_error(object));
    return Done{};
}

template <class T>
Result<std::string> id_of(T* object, std::size_t (*length)(const T*),
                          std::size_t (*get_id)(T*, std::uint8_t*, std::size_t),
                          const char* (*last_error)(const T*), std::string_view what)
{
    std::string id(length(object), '\0');
    const auto written = get_id(object, reinterpret_cast<std::uint8_t*>(id.data()), id.size());
    if (written == olm_error())
        return olm_error_value(what, last_error(object));
    id.resize(written);
    return id;
}

const char* account_error(const OlmAccount* a)
{
    return olm_account_last_error(a);
}
const char* session_error(const OlmSession* s)
{
    return olm_session_last_error(s);
}

/// olm_session_id takes void*; adapt it to the uint8_t* shape of the group session getters.
std::size_t session_id_bytes(OlmSession* s, std::uint8_t* id, std::size_t length)
{
    return olm_session_id(s, id, length);
}

} // namespace

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept
{
    if (this != &other) {
        explicit_bzero(bytes_.data(), bytes_.size());
        bytes_ = std::exchange(other.bytes_, {});
    }
    return *this;
}

SecretBytes::~SecretBytes()
{
    explicit_bzero(bytes_.data(), bytes_.size());
}

Result<SecretBytes> random_bytes(std::size_t size)
{
    SecretBytes bytes{size};
    std::size_t filled = 0;
    while (filled < size) {
        const auto got = getrandom(bytes.data() + filled, size - filled, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return Error{Error::Kind::invalid, errno, {}, "getrandom failed", {}, false};
        }
        filled += static_cast<std::size_t>(got);
    }
    return bytes;
}

Error olm_error_value(std::string_view what, const char* last_error)
{
    std::string message{what};
    message += ": ";
    message += last_error != nullptr ? last_error : "unknown libolm error";
    return Error{Error::Kind::invalid, 0, "OLM_ERROR", std::move(message), {}, false};
}

// --- Account ---

Result<Account> Account::create()
{
    Account account;
    auto random = random_bytes(olm_create_account_random_length(account.get()));
    if (!random)
        return random.error();
    if (olm_create_account(account.get(), random.value().data(), random.value().size()) ==
        olm_error())
        return olm_error_value("olm_create_account", olm_account_last_error(account.get()));
    return account;
}

Result<Account> Account::unpickle(std::string_view pickled, std::string_view key)
{
    Account account;
    if (auto done = unpickle_into<OlmAccount>(account.get(), pickled, key, olm_unpickle_account,
                                              account_error, "olm_unpickle_account");
        !done)
        return done.error();
    return account;
}

Result<std::string> Account::pickle(std::string_view key) const
{
    return pickle_with<OlmAccount>(get(), key, olm_pickle_account_length, olm_pickle_account,
                                   account_error, "olm_pickle_account");
}

Result<std::string> Account::identity_keys_json() const
{
    std::string out(olm_account_identity_keys_length(get()), '\0');
    const auto written = olm_account_identity_keys(get(), out.data(), out.size());
    if (written == olm_error())
        return olm_error_value("olm_account_identity_keys", olm_account_last_error(get()));
    out.resize(written);
    return out;
}

Result<std::string> Account::sign(std::string_view message) const
{
    std::string signature(olm_account_signature_length(get()), '\0');
    const auto written =
        olm_account_sign(get(), message.data(), message.size(), signature.data(), signature.size());
    if (written == olm_error())
        return olm_error_value("olm_account_sign", olm_account_last_error(get()));
    signature.resize(written);
    return signature;
}

std::size_t Account::max_one_time_keys() const
{
    return olm_account_max_number_of_one_time_keys(get());
}

Result<Done> Account::generate_one_time_keys(std::size_t count)
{
    auto random = random_bytes(olm_account_generate_one_time_keys_random_length(get(), count));
    if (!random)
        return random.error();
    if (olm_account_generate_one_time_keys(get(), count, random.value().data(),
                                           random.value().size()) == olm_error())
        return olm_error_value("olm_account_generate_one_time_keys", olm_account_last_error(get()));
    return Done{};
}

Result<std::string> Account::one_time_keys_json() const
{
    std::string out(olm_account_one_time_keys_length(get()), '\0');
    const auto written = olm_account_one_time_keys(get(), out.data(), out.size());
    if (written == olm_error())
        return olm_error_value("olm_account_one_time_keys", olm_account_last_error(get()));
    out.resize(written);
    return out;
}

Result<Done> Account::generate_fallback_key()
{
    auto random = random_bytes(olm_account_generate_fallback_key_random_length(get()));
    if (!random)
        return random.error();
    if (olm_account_generate_fallback_key(get(), random.value().data(), random.value().size()) ==
        olm_error())
        return olm_error_value("olm_account_generate_fallback_key", olm_account_last_error(get()));
    return Done{};
}

Result<std::string> Account::unpublished_fallback_key_json() const
{
    std::string out(olm_account_unpublished_fallback_key_length(get()), '\0');
    const auto written = olm_account_unpublished_fallback_key(get(), out.data(), out.size());
    if (written == olm_error())
        return olm_error_value("olm_account_unpublished_fallback_key",
                               olm_account_last_error(get()));
    out.resize(written);
    return out;
}

void Account::forget_old_fallback_key()
{
    olm_account_forget_old_fallback_key(get());
}

void Account::mark_keys_as_published()
{
    olm_account_mark_keys_as_published(get());
}

Result<Done> Account::remove_one_time_keys(const Session& session)
{
    if (olm_remove_one_time_keys(get(), session.get()) == olm_error())
        return olm_error_value("olm_remove_one_time_keys", olm_account_last_error(get()));
    return Done{};
}

// --- Session ---

Result<Session> Session::create_outbound(const Account& account, std::string_view their_curve25519,
                                         std::string_view their_one_time_key)
{
    Session session;
    auto random = random_bytes(olm_create_outbound_session_random_length(session.get()));
    if (!random)
        return random.error();
    if (olm_create_outbound_session(session.get(), account.get(), their_curve25519.data(),
                                    their_curve25519.size(), their_one_time_key.data(),
                                    their_one_time_key.size(), random.value().data(),
                                    random.value().size()) == olm_error())
        return olm_error_value("olm_create_outbound_session",
                               olm_session_last_error(session.get()));
    return session;
}

Result<Session> Session::create_inbound(const Account& account, std::string_view their_curve25519,
                                        std::string_view pre_key_message)
{
    Session session;
    auto message = copy(pre_key_message);
    if (olm_create_inbound_session_from(session.get(), account.get(), their_curve25519.data(),
                                        their_curve25519.size(), message.data(),
                                        message.size()) == olm_error())
        return olm_error_value("olm_create_inbound_session_from",
                               olm_session_last_error(session.get()));
    return session;
}

Result<Session> Session::unpickle(std::string_view pickled, std::string_view key)
{
    Session session;
    if (auto done = unpickle_into<OlmSession>(session.get(), pickled, key, olm_unpickle_session,
                                              session_error, "olm_unpickle_session");
        !done)
        return done.error();
    return session;
}

Result<std::string> Session::pickle(std::string_view key) const
{
    return pickle_with<OlmSession>(get(), key, olm_pickle_session_length, olm_pickle_session,
                                   session_error, "olm_pickle_session");
}

Result<std::string> Session::id() const
{
    return id_of<OlmSession>(get(), olm_session_id_length, session_id_bytes, session_error,
                             "olm_session_id");
}

bool Session::matches_inbound(std::string_view their_curve25519, std::string_view message) const
{
    auto input = copy(message);
    return olm_matches_inbound_session_from(get(), their_curve25519.data(), their_curve25519.size(),
                                            input.data(), input.size()) == 1;
}

Result<OlmMessage> Session::encrypt(std::string_view plaintext)
{
    OlmMessage message;
    message.type = olm_encrypt_message_type(get());
    if (message.type == olm_error())
        return olm_error_value("olm_encrypt_message_type", olm_session_last_error(get()));
    auto random = random_bytes(olm_encrypt_random_length(get()));
    if (!random)
        return random.error();
    message.body.resize(olm_encrypt_message_length(get(), plaintext.size()));
    const auto written =
        olm_encrypt(get(), plaintext.data(), plaintext.size(), random.value().data(),
                    random.value().size(), message.body.data(), message.body.size());
    if (written == olm_error())
        return olm_error_value("olm_encrypt", olm_session_last_error(get()));
    message.body.resize(written);
    return message;
}

Result<std::string> Session::decrypt(const OlmMessage& message)
{
    auto probe = copy(message.body);
    const auto max_length =
        olm_decrypt_max_plaintext_length(get(), message.type, probe.data(), probe.size());
    if (max_length == olm_error())
        return olm_error_value("olm_decrypt_max_plaintext_length", olm_session_last_error(get()));
    auto input = copy(message.body);
    std::string plaintext(max_length, '\0');
    const auto written = olm_decrypt(get(), message.type, input.data(), input.size(),
                                     plaintext.data(), plaintext.size());
    if (written == olm_error())
        return olm_error_value("olm_decrypt", olm_session_last_error(get()));
    plaintext.resize(written);
    return plaintext;
}

// --- InboundGroupSession ---

Result<InboundGroupSession> InboundGroupSession::create(std::string_view session_key)
{
    InboundGroupSession session;
    const auto input = copy(session_key);
    if (olm_init_inbound_group_session(session.object_.get(),
                                       reinterpret_cast<const std::uint8_t*>(input.data()),
                                       input.size()) == olm_error())
        return olm_error_value("olm_init_inbound_group_session",
                               olm_inbound_group_session_last_error(session.object_.get()));
    return session;
}

Result<InboundGroupSession> InboundGroupSession::import(std::string_view exported_key)
{
    InboundGroupSession session;
    const auto input = copy(exported_key);
    if (olm_import_inbound_group_session(session.object_.get(),
                                         reinterpret_cast<const std::uint8_t*>(input.data()),
                                         input.size()) == olm_error())
        return olm_error_value("olm_import_inbound_group_session",
                               olm_inbound_group_session_last_error(session.object_.get()));
    return session;
}

Result<InboundGroupSession> InboundGroupSession::unpickle(std::string_view pickled,
                                                          std::string_view key)
{
    InboundGroupSession session;
    if (auto done = unpickle_into<OlmInboundGroupSession>(
            session.object_.get(), pickled, key, olm_unpickle_inbound_group_session,
            olm_inbound_group_session_last_error, "olm_unpickle_inbound_group_session");
        !done)
        return done.error();
    return session;
}

Result<std::string> InboundGroupSession::pickle(std::string_view key) const
{
    return pickle_with<OlmInboundGroupSession>(
        object_.get(), key, olm_pickle_inbound_group_session_length,
        olm_pickle_inbound_group_session, olm_inbound_group_session_last_error,
        "olm_pickle_inbound_group_session");
}

Result<std::string> InboundGroupSession::id() const
{
    return id_of<OlmInboundGroupSession>(
        object_.get(), olm_inbound_group_session_id_length, olm_inbound_group_session_id,
        olm_inbound_group_session_last_error, "olm_inbound_group_session_id");
}

std::uint32_t InboundGroupSession::first_known_index() const
{
    return olm_inbound_group_session_first_known_index(object_.get());
}

Result<GroupPlaintext> InboundGroupSession::decrypt(std::string_view ciphertext)
{
    auto probe = copy(ciphertext);
    const auto max_length = olm_group_decrypt_max_plaintext_length(
        object_.get(), reinterpret_cast<std::uint8_t*>(probe.data()), probe.size());
    if (max_length == olm_error())
        return olm_error_value("olm_group_decrypt_max_plaintext_length",
                               olm_inbound_group_session_last_error(object_.get()));
    auto input = copy(ciphertext);
    GroupPlaintext out;
    out.plaintext.resize(max_length);
    const auto written =
        olm_group_decrypt(object_.get(), reinterpret_cast<std::uint8_t*>(input.data()),
                          input.size(), reinterpret_cast<std::uint8_t*>(out.plaintext.data()),
                          out.plaintext.size(), &out.message_index);
    if (written == olm_error())
        return olm_error_value("olm_group_decrypt",
                               olm_inbound_group_session_last_error(object_.get()));
    out.plaintext.resize(written);
    return out;
}

Result<std::string> InboundGroupSession::export_at(std::uint32_t message_index) const
{
    std::string out(olm_export_inbound_group_session_length(object_.get()), '\0');
    const auto written = olm_export_inbound_group_session(
        object_.get(), reinterpret_cast<std::uint8_t*>(out.data()), out.size(), message_index);
    if (written == olm_error())
        return olm_error_value("olm_export_inbound_group_session",
                               olm_inbound_group_session_last_error(object_.get()));
    out.resize(written);
    return out;
}

// --- OutboundGroupSession ---

Result<OutboundGroupSession> OutboundGroupSession::create()
{
    OutboundGroupSession session;
    auto random =
        random_bytes(olm_init_outbound_group_session_random_length(session.object_.get()));
    if (!random)
        return random.error();
    if (olm_init_outbound_group_session(session.object_.get(),
                                        reinterpret_cast<std::uint8_t*>(random.value().data()),
                                        random.value().size()) == olm_error())
        return olm_error_value("olm_init_outbound_group_session",
                               olm_outbound_group_session_last_error(session.object_.get()));
    return session;
}

Result<OutboundGroupSession> OutboundGroupSession::unpickle(std::string_view pickled,
                                                            std::string_view key)
{
    OutboundGroupSession session;
    if (auto done = unpickle_into<OlmOutboundGroupSession>(
            session.object_.get(), pickled, key, olm_unpickle_outbound_group_session,
            olm_outbound_group_session_last_error, "olm_unpickle_outbound_group_session");
        !done)
        return done.error();
    return session;
}

Result<std::string> OutboundGroupSession::pickle(std::string_view key) const
{
    return pickle_with<OlmOutboundGroupSession>(
        object_.get(), key, olm_pickle_outbound_group_session_length,
        olm_pickle_outbound_group_session, olm_outbound_group_session_last_error,
        "olm_pickle_outbound_group_session");
}

Result<std::string> OutboundGroupSession::id() const
{
    return id_of<OlmOutboundGroupSession>(
        object_.get(), olm_outbound_group_session_id_length, olm_outbound_group_session_id,
        olm_outbound_group_session_last_error, "olm_outbound_group_session_id");
}

std::uint32_t OutboundGroupSession::message_index() const
{
    return olm_outbound_group_session_message_index(object_.get());
}

Result<std::string> OutboundGroupSession::session_key() const
{
    std::string out(olm_outbound_group_session_key_length(object_.get()), '\0');
    const auto written = olm_outbound_group_session_key(
        object_.get(), reinterpret_cast<std::uint8_t*>(out.data()), out.size());
    if (written == olm_error())
        return olm_error_value("olm_outbound_group_session_key",
                               olm_outbound_group_session_last_error(object_.get()));
    out.resize(written);
    return out;
}

Result<std::string> OutboundGroupSession::encrypt(std::string_view plaintext)
{
    std::string out(olm_group_encrypt_message_length(object_.get(), plaintext.size()), '\0');
    const auto written = olm_group_encrypt(
        object_.get(), reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size(),
        reinterpret_cast<std::uint8_t*>(out.data()), out.size());
    if (written == olm_error())
        return olm_error_value("olm_group_encrypt",
                               olm_outbound_group_session_last_error(object_.get()));
    out.resize(written);
    return out;
}

// --- Utility ---

bool Utility::ed25519_verify(std::string_view key, std::string_view message,
                             std::string_view signature) const
{
    auto signature_copy = copy(signature); // decoded in place
    return olm_ed25519_verify(object_.get(), key.data(), key.size(), message.data(), message.size(),
                              signature_copy.data(), signature_copy.size()) != olm_error();
}

// --- PkSigning ---

std::size_t PkSigning::seed_length()
{
    return olm_pk_signing_seed_length();
}

Result<PkSigning> PkSigning::from_seed(const SecretBytes& seed)
{
    PkSigning signing;
    signing.public_key_.resize(olm_pk_signing_public_key_length());
    if (olm_pk_signing_key_from_seed(signing.object_.get(), signing.public_key_.data(),
                                     signing.public_key_.size(), seed.data(),
                                     seed.size()) == olm_error())
        return olm_error_value("olm_pk_signing_key_from_seed",
                               olm_pk_signing_last_error(signing.object_.get()));
    return signing;
}

Result<std::string> PkSigning::sign(std::string_view message) const
{
    std::string signature(olm_pk_signature_length(), '\0');
    if (olm_pk_sign(object_.get(), reinterpret_cast<const std::uint8_t*>(message.data()),
                    message.size(), reinterpret_cast<std::uint8_t*>(signature.data()),
                    signature.size()) == olm_error())
        return olm_error_value("olm_pk_sign", olm_pk_signing_last_error(object_.get()));
    return signature;
}

// --- sealed secrets ---

using PkDecryption = detail::Object<OlmPkDecryption, olm_pk_decryption_size, olm_pk_decryption,
                                    olm_clear_pk_decryption>;

Result<std::string> seal_secret(const SecretBytes& secret, std::string_view key)
{
    if (secret.size() != olm_pk_private_key_length())
        return Error{Error::Kind::invalid, 0, {}, "a sealed secret is 32 bytes", {}, false};
    const PkDecryption decryption;
    std::string public_key(olm_pk_key_length(), '\0');
    if (olm_pk_key_from_private(decryption.get(), public_key.data(), public_key.size(),
                                secret.data(), secret.size()) == olm_error())
        return olm_error_value("olm_pk_key_from_private",
                               olm_pk_decryption_last_error(decryption.get()));
    std::string out(olm_pickle_pk_decryption_length(decryption.get()), '\0');
    const auto written =
        olm_pickle_pk_decryption(decryption.get(), key.data(), key.size(), out.data(), out.size());
    if (written == olm_error())
        return olm_error_value("olm_pickle_pk_decryption",
                               olm_pk_decryption_last_error(decryption.get()));
    out.resize(written);
    return out;
}

Result<SecretBytes> open_secret(std::string_view sealed, std::string_view key)
{
    const PkDecryption decryption;
    auto input = copy(sealed);
    std::string public_key(olm_pk_key_length(), '\0');
    if (olm_unpickle_pk_decryption(decryption.get(), key.data(), key.size(), input.data(),
                                   input.size(), public_key.data(),
                                   public_key.size()) == olm_error())
        return olm_error_value("olm_unpickle_pk_decryption",
                               olm_pk_decryption_last_error(decryption.get()));
    SecretBytes secret{olm_pk_private_key_length()};
    if (olm_pk_get_private_key(decryption.get(), secret.data(), secret.size()) == olm_error())
        return olm_error_value("olm_pk_get_private_key",
                               olm_pk_decryption_last_error(decryption.get()));
    return secret;
}

} // namespace opalebot::bot::crypto::olm
