#include "bot/session.hpp"

#include "opalebot/log.hpp"

namespace opalebot::bot {
namespace {

Error operator_error(const Error& cause, std::string message)
{
    Error error = cause;
    error.message = std::move(message) + " (" +
                    (cause.errcode.empty() ? std::to_string(cause.code) : cause.errcode) +
                    (cause.message.empty() ? "" : " : " + cause.message) + ")";
    return error;
}

Result<Session> login_and_store(MatrixClient& client, StateStore& store, const Config& config,
                                const std::string& device_id)
{
    const auto logger = log::get("bot.session");
    if (config.password.empty())
        return Error{Error::Kind::invalid, 0, {}, "aucun mot de passe pour se connecter", {}};
    logger->info("logging in as {}{}", config.email.empty() ? config.user_id : config.email,
                 device_id.empty() ? " (new device)" : " on device " + device_id);
    auto login = client.login({config.user_id, config.email}, config.password, device_id,
                              config.device_name);
    if (!login)
        return operator_error(login.error(), "connexion refusée par " + config.homeserver_url);
    if (!config.user_id.empty() && login.value().user_id != config.user_id)
        logger->warn("logged in as {}, not the configured {}", login.value().user_id,
                     config.user_id);
    client.set_access_token(login.value().access_token);
    auto saved = store.save_session({config.homeserver_url, login.value().user_id,
                                     login.value().device_id, login.value().access_token});
    if (!saved)
        return saved.error();
    logger->info("logged in as {} on device {}", login.value().user_id, login.value().device_id);
    return login;
}

} // namespace

Result<Session> open_session(MatrixClient& client, StateStore& store, const Config& config,
                             bool new_login)
{
    const auto logger = log::get("bot.session");
    if (!config.access_token.empty()) {
        client.set_access_token(config.access_token);
        auto me = client.whoami();
        if (!me)
            return operator_error(me.error(), "le jeton configuré est refusé");
        me.value().access_token = config.access_token;
        logger->info("using the configured token of {} (device {})", me.value().user_id,
                     me.value().device_id);
        return me;
    }
    if (new_login) {
        // The old device is logged out when its token still works, so that devices do not
        // pile up on the server (and users stop sending room keys to it).
        if (auto old = store.session(); old && old.value()) {
            client.set_access_token(old.value()->access_token);
            if (auto out = client.logout(); out)
                logger->info("old device {} logged out", old.value()->device_id);
            else
                logger->warn("old device {} not logged out: {} {}", old.value()->device_id,
                             out.error().code, out.error().errcode);
        }
        if (auto forgotten = store.forget_session(); !forgotten)
            return forgotten.error();
    }
    auto stored = store.session();
    if (!stored)
        return stored.error();
    const auto& known = stored.value();
    const bool same_account = known && known->homeserver == config.homeserver_url &&
                              (config.user_id.empty() || known->user_id == config.user_id);
    if (!known || !same_account) {
        if (known)
            logger->warn("stored session is for {} on {}: logging in anew", known->user_id,
                         known->homeserver);
        return login_and_store(client, store, config, {});
    }
    client.set_access_token(known->access_token);
    auto me = client.whoami();
    if (me) {
        logger->info("reusing the stored session of {} (device {})", known->user_id,
                     known->device_id);
        return Session{known->user_id, known->device_id, known->access_token};
    }
    const auto& error = me.error();
    if (error.errcode == "M_UNKNOWN_TOKEN" && error.soft_logout)
        return login_and_store(client, store, config, known->device_id);
    if (error.errcode == "M_UNKNOWN_TOKEN")
        return operator_error(error, "la session enregistrée (appareil " + known->device_id +
                                         ") a été déconnectée ; relancez avec --new-login pour "
                                         "ouvrir une nouvelle session");
    return operator_error(error, "le serveur " + config.homeserver_url + " ne répond pas");
}

} // namespace opalebot::bot
