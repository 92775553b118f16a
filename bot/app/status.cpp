#include "status.hpp"

#include "bot/metrics_server.hpp"
#include "commands/reminder_time.hpp"

#include <date/tz.h>

namespace opalebot::app {
namespace {

using namespace std::chrono;

std::string paris_time(StatusReport::TimePoint at)
{
    static const date::time_zone* zone = [] {
        const auto found = commands::find_zone(commands::default_zone);
        return found ? found.value() : nullptr;
    }();
    const auto seconds = floor<std::chrono::seconds>(at);
    if (zone == nullptr)
        return date::format("%d/%m/%Y %H:%M UTC", seconds);
    return commands::format_local(commands::Instant{seconds.time_since_epoch()}, *zone);
}

/// "3 j 4 h", "2 h 05 min", "42 s": a duration as a person reads it.
std::string duration_text(seconds d)
{
    if (d < 0s)
        d = 0s;
    const auto days = duration_cast<hours>(d).count() / 24;
    const auto h = duration_cast<hours>(d).count() % 24;
    const auto m = duration_cast<minutes>(d).count() % 60;
    if (days > 0)
        return std::to_string(days) + " j " + std::to_string(h) + " h";
    if (h > 0)
        return std::to_string(h) + " h " + (m < 10 ? "0" : "") + std::to_string(m) + " min";
    if (m > 0)
        return std::to_string(m) + " min";
    return std::to_string(d.count()) + " s";
}

std::string ago(StatusReport::TimePoint at, StatusReport::TimePoint now)
{
    return "il y a " + duration_text(duration_cast<seconds>(now - at)) + " (" + paris_time(at) +
           ")";
}

/// Log text between backticks: a backtick in it would end the code span.
std::string code(std::string text)
{
    for (auto& c : text)
        if (c == '`')
            c = '\'';
    return "`" + text + "`";
}

} // namespace

std::string format_status(const StatusReport& r, StatusReport::TimePoint now)
{
    std::string text = "**État du bot** (" + r.version + ")\n\n";
    text += "- En service depuis " + duration_text(duration_cast<seconds>(now - r.started)) +
            " (démarré le " + paris_time(r.started) + ")\n";
    if (r.homeserver) {
        const auto& hs = *r.homeserver;
        if (hs.failures_in_a_row > 0)
            text += "- Serveur Matrix : **injoignable** (" + std::to_string(hs.failures_in_a_row) +
                    " échec(s) de suite, dernier : " + code(hs.last_cause) + ")\n";
        else
            text += "- Serveur Matrix : joignable\n";
        if (hs.last_sync) {
            // late by the rule GET /sante answers with
            const bool late =
                !bot::sync_health(hs.last_sync, now, duration_cast<seconds>(hs.long_poll)).ok;
            text += "- Dernière synchronisation réussie : " + ago(*hs.last_sync, now) +
                    (late ? " — **en retard**" : "") + "\n";
        } else {
            text += "- Dernière synchronisation réussie : aucune depuis le démarrage\n";
        }
    }
    text += "- Messages en attente d'envoi : " +
            (r.waiting_messages ? std::to_string(*r.waiting_messages) : std::string{"illisible"}) +
            "\n";
    text += "- Salons : " + std::to_string(r.rooms) + ", dont " +
            std::to_string(r.encrypted_rooms) + " chiffré(s)" +
            (r.encrypted_rooms > 0 && !r.encryption_on ? " — **chiffrement désactivé : ignorés**"
                                                       : "") +
            "\n";
    text += "- Fiches chargées : " + std::to_string(r.entries) +
            " ; documents : " + std::to_string(r.documents) + "\n";
    if (!r.tickets.itop) {
        text += "- Tickets : base intégrée du bot\n";
    } else if (r.tickets.failures_in_a_row > 0) {
        text += "- Tickets : iTop **injoignable** (" + std::to_string(r.tickets.failures_in_a_row) +
                " échec(s) de suite, dernier : " + code(r.tickets.last_cause) + ")\n";
    } else if (r.tickets.last_success) {
        text += "- Tickets : iTop, joignable (dernier appel réussi " +
                ago(*r.tickets.last_success, now) + ")\n";
    } else {
        text += "- Tickets : iTop, pas encore appelé\n";
    }
    text +=
        "- Rappels dus dans les 24 h : " +
        (r.reminders_next_24h ? std::to_string(*r.reminders_next_24h) : std::string{"illisible"}) +
        "\n";
    if (r.campaign_next_run && *r.campaign_next_run - now <= hours{24})
        text += "- Campagne kit : prochain envoi le " + paris_time(*r.campaign_next_run) + "\n";
    else if (r.campaign_next_run)
        text += "- Campagne kit : aucun envoi dans les 24 h (prochain le " +
                paris_time(*r.campaign_next_run) + ")\n";
    else
        text += "- Campagne kit : aucune en cours\n";
    if (r.problems.empty()) {
        text += "\nAucun avertissement ni erreur depuis le démarrage.";
        return text;
    }
    text += "\nDerniers avertissements et erreurs :\n";
    for (const auto& p : r.problems)
        text += "- " + paris_time(p.at) + " · " + (p.error ? "erreur" : "avertissement") + " · " +
                p.source + " · " + code(p.text) + "\n";
    return text;
}

} // namespace opalebot::app
