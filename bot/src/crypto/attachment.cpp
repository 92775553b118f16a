#include "bot/crypto/attachment.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <cstdint>

#include "json_fields.hpp"
#include <nettle/aes.h>
#include <nettle/base64.h>
#include <nettle/ctr.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <sys/random.h>

namespace opalebot::bot::crypto {
namespace {

using nlohmann::json;

Error invalid(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}};
}

const std::uint8_t* bytes_of(std::string_view text)
{
    return reinterpret_cast<const std::uint8_t*>(text.data());
}

std::string sha256(std::string_view data)
{
    sha256_ctx context{};
    sha256_init(&context);
    sha256_update(&context, data.size(), bytes_of(data));
    std::string digest(SHA256_DIGEST_SIZE, '\0');
    sha256_digest(&context, SHA256_DIGEST_SIZE, reinterpret_cast<std::uint8_t*>(digest.data()));
    return digest;
}

/// AES-256-CTR both ways; the key schedule is wiped before it goes out of scope.
std::string aes_ctr(std::string_view input, const std::string& key, const std::string& iv)
{
    aes256_ctx context{};
    aes256_set_encrypt_key(&context, bytes_of(key));
    std::array<std::uint8_t, AES_BLOCK_SIZE> counter{};
    std::copy(iv.begin(), iv.end(), counter.begin());
    std::string output(input.size(), '\0');
    ctr_crypt(&context, reinterpret_cast<nettle_cipher_func*>(aes256_encrypt), AES_BLOCK_SIZE,
              counter.data(), input.size(), reinterpret_cast<std::uint8_t*>(output.data()),
              bytes_of(input));
    // The key schedule must not outlive its use in freed stack memory.
    volatile auto* wipe = reinterpret_cast<volatile unsigned char*>(&context);
    for (std::size_t i = 0; i < sizeof context; ++i)
        wipe[i] = 0;
    return output;
}

Result<std::string> random_bytes(std::size_t size)
{
    std::string out(size, '\0');
    std::size_t filled = 0;
    while (filled < size) {
        const auto got = getrandom(out.data() + filled, size - filled, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return invalid("getrandom failed");
        }
        filled += static_cast<std::size_t>(got);
    }
    return out;
}

} // namespace

std::string base64_encode(std::string_view bytes, bool url_safe)
{
    base64_encode_ctx context{};
    if (url_safe)
        base64url_encode_init(&context);
    else
        base64_encode_init(&context);
    std::string out(BASE64_ENCODE_LENGTH(bytes.size()) + BASE64_ENCODE_FINAL_LENGTH, '\0');
    auto written = base64_encode_update(&context, out.data(), bytes.size(), bytes_of(bytes));
    written += base64_encode_final(&context, out.data() + written);
    out.resize(written);
    while (!out.empty() && out.back() == '=') // the spec's unpadded base64
        out.pop_back();
    return out;
}

std::optional<std::string> base64_decode(std::string_view text)
{
    while (!text.empty() && text.back() == '=')
        text.remove_suffix(1);
    if (text.size() % 4 == 1) // one character alone cannot end a group: truncated text
        return std::nullopt;
    // nettle wants the padding that unpadded base64 leaves out, and one alphabet.
    std::string padded{text};
    padded.append((4 - padded.size() % 4) % 4, '=');
    base64_decode_ctx context{};
    if (padded.find_first_of("-_") != std::string::npos)
        base64url_decode_init(&context);
    else
        base64_decode_init(&context);
    std::string out(BASE64_DECODE_LENGTH(padded.size()), '\0');
    std::size_t written = out.size();
    if (base64_decode_update(&context, &written, reinterpret_cast<std::uint8_t*>(out.data()),
                             padded.size(), padded.data()) == 0 ||
        base64_decode_final(&context) == 0)
        return std::nullopt;
    out.resize(written);
    return out;
}

Result<EncryptedFile> parse_encrypted_file(const json& file)
{
    if (!file.is_object())
        return invalid("« file » n'est pas un objet");
    if (const auto version = string_at(file, "v"); version != "v2")
        return invalid("version de chiffrement de fichier non prise en charge : « " + version +
                       " »");
    EncryptedFile out;
    out.url = string_at(file, "url");
    if (out.url.rfind("mxc://", 0) != 0)
        return invalid("adresse du fichier chiffré absente");
    const auto key = file.find("key");
    if (key == file.end() || !key->is_object() || string_at(*key, "alg") != "A256CTR" ||
        string_at(*key, "kty") != "oct")
        return invalid("clé du fichier chiffré absente ou d'un autre algorithme que A256CTR");
    const auto k = base64_decode(string_at(*key, "k"));
    const auto iv = base64_decode(string_at(file, "iv"));
    const auto hashes = file.find("hashes");
    const auto hash = hashes != file.end() && hashes->is_object()
                          ? base64_decode(string_at(*hashes, "sha256"))
                          : std::nullopt;
    if (!k || k->size() != 32)
        return invalid("clé du fichier chiffré illisible");
    if (!iv || iv->size() != 16)
        return invalid("vecteur d'initialisation du fichier chiffré illisible");
    if (!hash || hash->size() != SHA256_DIGEST_SIZE)
        return invalid("empreinte SHA-256 du fichier chiffré absente");
    out.key = *k;
    out.iv = *iv;
    out.sha256 = *hash;
    return out;
}

Result<std::string> decrypt_attachment(std::string_view ciphertext, const EncryptedFile& file)
{
    if (file.key.size() != 32 || file.iv.size() != 16)
        return invalid("clé ou vecteur d'initialisation de taille incorrecte");
    // memeql_sec: a comparison that takes the same time whatever the bytes.
    const auto digest = sha256(ciphertext);
    if (file.sha256.size() != digest.size() ||
        memeql_sec(digest.data(), file.sha256.data(), digest.size()) == 0)
        return invalid("le fichier ne correspond pas à son empreinte SHA-256");
    return aes_ctr(ciphertext, file.key, file.iv);
}

Result<EncryptedAttachment> encrypt_attachment(std::string_view plaintext)
{
    auto key = random_bytes(32);
    auto iv = random_bytes(8); // 64 random bits, then a 64-bit counter from zero (the spec)
    if (!key || !iv)
        return invalid("pas d'aléa pour chiffrer le fichier");
    EncryptedAttachment out;
    out.file.key = std::move(key.value());
    out.file.iv = std::move(iv.value()) + std::string(8, '\0');
    out.ciphertext = aes_ctr(plaintext, out.file.key, out.file.iv);
    out.file.sha256 = sha256(out.ciphertext);
    return out;
}

json to_json(const EncryptedFile& file)
{
    return {{"url", file.url},
            {"key",
             {{"kty", "oct"},
              {"alg", "A256CTR"},
              {"ext", true},
              {"key_ops", {"encrypt", "decrypt"}},
              {"k", base64_encode(file.key, true)}}},
            {"iv", base64_encode(file.iv)},
            {"hashes", {{"sha256", base64_encode(file.sha256)}}},
            {"v", "v2"}};
}

} // namespace opalebot::bot::crypto
