#include <array>

#include "engine_impl.hpp"

namespace opalebot::bot::crypto {

// --- cross-signing ---

bool Engine::has_cross_signing_keys() const
{
    return !impl_->account_row.master_seed.empty();
}

namespace {

struct CrossSigning {
    olm::PkSigning master;
    olm::PkSigning self_signing;
    olm::PkSigning user_signing;
};

Result<olm::PkSigning> open_signing(std::string_view sealed, std::string_view key)
{
    auto seed = olm::open_secret(sealed, key);
    if (!seed)
        return seed.error();
    return olm::PkSigning::from_seed(seed.value());
}

Result<CrossSigning> open_cross_signing(const store::AccountRow& row, std::string_view key)
{
    auto master = open_signing(row.master_seed, key);
    auto self_signing = open_signing(row.self_signing_seed, key);
    auto user_signing = open_signing(row.user_signing_seed, key);
    if (!master)
        return master.error();
    if (!self_signing)
        return self_signing.error();
    if (!user_signing)
        return user_signing.error();
    return CrossSigning{std::move(master).value(), std::move(self_signing).value(),
                        std::move(user_signing).value()};
}

json cross_signing_key(const std::string& user_id, const char* usage, const std::string& public_key)
{
    return {{"user_id", user_id},
            {"usage", {usage}},
            {"keys", {{"ed25519:" + public_key, public_key}}}};
}

} // namespace

Result<json> Engine::cross_signing_upload()
try {
    auto& m = *impl_;
    if (m.account_row.master_seed.empty()) {
        std::array<std::string, 3> sealed;
        for (auto& slot : sealed) {
            auto seed = olm::random_bytes(olm::PkSigning::seed_length());
            if (!seed)
                return seed.error();
            auto sealed_seed = olm::seal_secret(seed.value(), m.key());
            if (!sealed_seed)
                return sealed_seed.error();
            slot = std::move(sealed_seed).value();
        }
        m.account_row.master_seed = sealed[0];
        m.account_row.self_signing_seed = sealed[1];
        m.account_row.user_signing_seed = sealed[2];
        m.account_dirty = true;
    }
    auto keys = open_cross_signing(m.account_row, m.key());
    if (!keys)
        return keys.error();
    const auto& cs = keys.value();
    auto master = cross_signing_key(m.user_id, "master", cs.master.public_key());
    if (auto done = m.sign_with_device(master); !done)
        return done.error();
    const auto by_master = [&cs](std::string_view bytes) { return cs.master.sign(bytes); };
    const auto master_id = "ed25519:" + cs.master.public_key();
    auto self_signing = cross_signing_key(m.user_id, "self_signing", cs.self_signing.public_key());
    auto user_signing = cross_signing_key(m.user_id, "user_signing", cs.user_signing.public_key());
    if (auto done = m.sign_json(self_signing, m.user_id, master_id, by_master); !done)
        return done.error();
    if (auto done = m.sign_json(user_signing, m.user_id, master_id, by_master); !done)
        return done.error();

    // The bot trusts its own keys: pin them.
    auto entry = m.users.contains(m.user_id) ? m.users[m.user_id] : UserEntry{};
    entry.master_public = cs.master.public_key();
    entry.master_key = master.dump();
    entry.self_signing_public = cs.self_signing.public_key();
    entry.self_signing_key = self_signing.dump();
    m.set_user(m.user_id, std::move(entry));
    return json{{"master_key", std::move(master)},
                {"self_signing_key", std::move(self_signing)},
                {"user_signing_key", std::move(user_signing)}};
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

Result<json> Engine::own_device_signature_upload()
{
    auto keys = device_keys();
    if (!keys)
        return keys.error();
    return sign_own_device(keys.value());
}

Result<json> Engine::sign_own_device(const json& device_keys)
try {
    auto& m = *impl_;
    if (m.account_row.self_signing_seed.empty())
        return engine_error(errcode::bad_event, "no cross-signing keys: bootstrap first");
    const auto device = string_at(device_keys, "device_id");
    if (string_at(device_keys, "user_id") != m.user_id || device.empty() ||
        !m.verify_json(device_keys, m.user_id, "ed25519:" + device,
                       string_at(device_keys, "keys", "ed25519:" + device)))
        return engine_error(errcode::untrusted, "not a self-signed device of the bot");
    auto ssk = open_signing(m.account_row.self_signing_seed, m.key());
    if (!ssk)
        return ssk.error();
    auto object = device_keys;
    object.erase("signatures");
    object.erase("unsigned");
    if (auto done = m.sign_json(object, m.user_id, "ed25519:" + ssk.value().public_key(),
                                [&ssk](std::string_view bytes) { return ssk.value().sign(bytes); });
        !done)
        return done.error();
    return json{{m.user_id, {{device, std::move(object)}}}};
} catch (const json::exception& e) {
    return engine_error(errcode::bad_event, e.what());
}

} // namespace opalebot::bot::crypto
