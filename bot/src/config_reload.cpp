#include "bot/config_reload.hpp"

namespace opalebot::bot {
namespace {

/// Walks the keys of two configurations; each accessor reads a key from either (generic
/// lambdas: `[](auto& c) -> auto& { return c.key; }`).
class Comparison {
public:
    Comparison(const Config& running, Config next) : running_(running)
    {
        out_.config = std::move(next);
    }

    /// Read at each message or between syncs: the new value applies at once.
    template <class Get>
    void applied(const char* key, Get get)
    {
        if (!(get(running_) == get(out_.config)))
            out_.changed.emplace_back(key);
    }

    /// Set up once at start (a connection, a thread, a file, the command registry): the
    /// running value is kept until a restart.
    template <class Get>
    void at_restart(const char* key, Get get)
    {
        if (get(running_) == get(out_.config))
            return;
        out_.restart_needed.emplace_back(key);
        get(out_.config) = get(running_);
    }

    ConfigReload take() { return std::move(out_); }

private:
    const Config& running_;
    ConfigReload out_;
};

} // namespace

ConfigReload reconcile_reload(const Config& running, Config next)
{
    Comparison c{running, std::move(next)};
    // The session, the state file, the crypto engine: opened once.
    c.at_restart(
        "homeserver.url", [](auto& x) -> auto& { return x.homeserver_url; });
    c.at_restart(
        "account.user_id", [](auto& x) -> auto& { return x.user_id; });
    c.at_restart(
        "account.email", [](auto& x) -> auto& { return x.email; });
    c.at_restart(
        "account.password", [](auto& x) -> auto& { return x.password; });
    c.at_restart(
        "account.access_token", [](auto& x) -> auto& { return x.access_token; });
    c.at_restart(
        "account.device_name", [](auto& x) -> auto& { return x.device_name; });
    c.at_restart(
        "state.database", [](auto& x) -> auto& { return x.database; });
    c.at_restart(
        "state.sauvegarde_quotidienne", [](auto& x) -> auto& { return x.daily_backup; });
    c.at_restart(
        "encryption.pickle_key_file", [](auto& x) -> auto& { return x.pickle_key; });
    c.at_restart(
        "encryption.only_cross_signed_devices",
        [](auto& x) -> auto& { return x.only_cross_signed_devices; });
    c.applied(
        "encryption.undecryptable_after_seconds",
        [](auto& x) -> auto& { return x.undecryptable_after; });
    // `!kb recharger` and the commands' help read the folder and the prefix they started with.
    c.at_restart(
        "knowledge.directory", [](auto& x) -> auto& { return x.knowledge_dir; });
    c.at_restart(
        "behaviour.command_prefix", [](auto& x) -> auto& { return x.command_prefix; });

    c.applied(
        "rooms.allowed", [](auto& x) -> auto& { return x.allowed_rooms; });
    c.applied(
        "rooms.inviters", [](auto& x) -> auto& { return x.inviters; });
    c.applied(
        "roles.admins", [](auto& x) -> auto& { return x.admins; });
    c.applied(
        "roles.support", [](auto& x) -> auto& { return x.support; });
    c.applied(
        "roles.admin_power_level", [](auto& x) -> auto& { return x.admin_power_level; });
    c.applied(
        "roles.support_power_level", [](auto& x) -> auto& { return x.support_power_level; });
    c.applied(
        "roles.power_level_rooms", [](auto& x) -> auto& { return x.power_level_rooms; });
    c.applied(
        "alertes.salon", [](auto& x) -> auto& { return x.alerts_room; });
    c.applied(
        "behaviour.reply_mode", [](auto& x) -> auto& { return x.reply_mode; });
    c.applied(
        "behaviour.answer_without_mention",
        [](auto& x) -> auto& { return x.answer_without_mention; });
    c.applied(
        "behaviour.answer_without_mention_min_score",
        [](auto& x) -> auto& { return x.answer_without_mention_min_score; });
    c.applied(
        "behaviour.ignore_bots", [](auto& x) -> auto& { return x.ignore_bots; });
    c.applied(
        "behaviour.notify_asker", [](auto& x) -> auto& { return x.notify_asker; });
    c.applied(
        "behaviour.bots", [](auto& x) -> auto& { return x.bots; });
    c.applied(
        "behaviour.max_backlog_age_seconds", [](auto& x) -> auto& { return x.max_backlog_age; });
    c.applied(
        "behaviour.question_retention_days",
        [](auto& x) -> auto& { return x.question_retention_days; });
    c.applied(
        "difficultes", [](auto& x) -> auto& { return x.difficulty; });
    c.applied(
        "rappels.intervalle_minimum_minutes",
        [](auto& x) -> auto& { return x.reminder_limits.min_interval_minutes; });
    c.applied(
        "rappels.max_par_utilisateur",
        [](auto& x) -> auto& { return x.reminder_limits.max_per_user; });
    // The campaign is loaded into its store at start; its line and column only locate it.
    c.at_restart(
        "rappels.campagne_kit", [](auto& x) -> auto& { return x.kit_campaign.phrase; });
    c.at_restart(
        "rappels.campagne_kit_salon", [](auto& x) -> auto& { return x.kit_campaign.room; });
    // The weekly digest is configured into its store at start, as the campaign.
    c.at_restart(
        "rapports.hebdo.quand", [](auto& x) -> auto& { return x.weekly_digest.phrase; });
    c.at_restart(
        "rapports.hebdo.salons", [](auto& x) -> auto& { return x.weekly_digest.rooms; });
    c.at_restart(
        "rapports.hebdo.vagues", [](auto& x) -> auto& { return x.weekly_digest.waves; });
    // The ticket backend, its iTop client and its pollers are built once; only the triage is
    // read at each ticket.
    c.at_restart(
        "tickets.backend", [](auto& x) -> auto& { return x.tickets.backend; });
    c.at_restart(
        "tickets.itop.url", [](auto& x) -> auto& { return x.tickets.itop.url; });
    c.at_restart(
        "tickets.itop.user", [](auto& x) -> auto& { return x.tickets.itop.user; });
    c.at_restart(
        "tickets.itop.password", [](auto& x) -> auto& { return x.tickets.itop.password; });
    c.at_restart(
        "tickets.itop.token", [](auto& x) -> auto& { return x.tickets.itop.token; });
    c.at_restart(
        "tickets.itop.timeout_seconds", [](auto& x) -> auto& { return x.tickets.itop.timeout; });
    c.at_restart(
        "tickets.itop.emails", [](auto& x) -> auto& { return x.tickets.itop.emails; });
    c.at_restart(
        "tickets.itop.fuseau", [](auto& x) -> auto& { return x.tickets.itop.time_zone; });
    c.at_restart(
        "tickets.itop.lien_ticket", [](auto& x) -> auto& { return x.tickets.itop.ticket_link; });
    c.at_restart(
        "tickets.itop.service", [](auto& x) -> auto& { return x.tickets.itop.service; });
    c.applied(
        "tickets.itop.triage.SI2C", [](auto& x) -> auto& { return x.tickets.itop.si2c; });
    c.applied(
        "tickets.itop.triage.DRASI", [](auto& x) -> auto& { return x.tickets.itop.drasi; });
    c.at_restart(
        "tickets.suivi_minutes", [](auto& x) -> auto& { return x.tickets.follow_up_interval; });
    c.at_restart(
        "tickets.dialogue_inactif_minutes",
        [](auto& x) -> auto& { return x.tickets.dialogue_idle; });
    // The sender's budget, the long-poll (and the watchdog set for it), the metrics socket.
    c.at_restart(
        "rate_limit.per_second", [](auto& x) -> auto& { return x.requests_per_second; });
    c.at_restart(
        "rate_limit.burst", [](auto& x) -> auto& { return x.burst; });
    c.at_restart(
        "sync.timeout_seconds", [](auto& x) -> auto& { return x.sync_timeout; });
    c.at_restart(
        "metrics.ecoute", [](auto& x) -> auto& { return x.metrics; });
    return c.take();
}

ConfigReload reload_config(const std::string& file, const Config& running)
{
    auto load = load_config(file);
    if (load.problems.empty())
        return reconcile_reload(running, std::move(load.config));
    ConfigReload refused;
    refused.config = running;
    refused.problems = std::move(load.problems);
    return refused;
}

} // namespace opalebot::bot
