#include "opalebot/bot_metrics.hpp"

namespace opalebot::metrics {

Registry& process_registry()
{
    static Registry registry;
    return registry;
}

namespace {

BotMetrics make_bot_metrics(Registry& r)
{
    BotMetrics m{
        r.counter("opalebot_questions_total",
                  "Questions reçues : messages pour le bot qui ne sont pas des commandes."),
        r.counter_family("opalebot_answers_total",
                         "Réponses aux questions par niveau de confiance : sure (fiche donnée), "
                         "probable (fiche proposée avec réserve), none (aucune fiche).",
                         "tier"),
        r.counter(
            "opalebot_abstentions_total",
            "Questions auxquelles le bot a répondu ne pas savoir (fiches suggérées au mieux)."),
        r.counter_family("opalebot_commands_total",
                         "Commandes reçues, par nom de commande enregistrée (un alias compte pour "
                         "sa commande).",
                         "command"),
        r.counter("opalebot_tickets_created_total", "Tickets créés (interne ou iTop)."),
        r.counter("opalebot_reminders_sent_total",
                  "Rappels (!rappel) déposés dans la boîte d'envoi."),
        r.counter("opalebot_sync_errors_total",
                  "Synchronisations (/sync) en échec : réseau, serveur ou limite de débit."),
        r.counter("opalebot_http_429_total",
                  "Réponses HTTP 429 (limite de débit) reçues du serveur Matrix."),
        r.gauge("opalebot_outbox_messages",
                "Messages en attente dans la boîte d'envoi (messages d'appareil à appareil "
                "compris)."),
        r.gauge("opalebot_last_successful_sync_timestamp_seconds",
                "Heure (secondes Unix) de la dernière synchronisation reçue et enregistrée ; 0 "
                "avant la première."),
        r.histogram("opalebot_reply_latency_seconds",
                    "Délai entre l'envoi d'un message (origin_server_ts, horloge du serveur) et le "
                    "dépôt de la réponse du bot dans la boîte d'envoi, en secondes ; réponses "
                    "données pendant la synchronisation.",
                    {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}),
    };
    for (const auto* tier : {"sure", "probable", "none"}) // shown at 0 from the start
        m.answers.with(tier);
    return m;
}

} // namespace

BotMetrics& bot_metrics()
{
    static BotMetrics metrics = make_bot_metrics(process_registry());
    return metrics;
}

} // namespace opalebot::metrics
