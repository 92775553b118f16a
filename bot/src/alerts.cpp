#include "bot/alerts.hpp"

#include <algorithm>
#include <utility>

namespace opalebot::bot {

void Alerts::add_detail(Kind& entry, const std::string& detail)
{
    constexpr std::size_t listed = 5;
    if (!detail.empty() && entry.details.size() < listed &&
        std::find(entry.details.begin(), entry.details.end(), detail) == entry.details.end())
        entry.details.push_back(detail);
}

void Alerts::raise(const std::string& kind, const std::string& detail)
{
    const std::lock_guard lock{mutex_};
    auto& entry = kinds_[kind];
    ++entry.count;
    add_detail(entry, detail);
}

void Alerts::set_minimum(const std::string& kind, int count)
{
    const std::lock_guard lock{mutex_};
    kinds_[kind].minimum = std::max(1, count);
}

void Alerts::set_interval(const std::string& kind, std::chrono::minutes interval)
{
    const std::lock_guard lock{mutex_};
    kinds_[kind].interval = interval;
}

std::vector<Alerts::Due> Alerts::take_due(TimePoint now)
{
    const std::lock_guard lock{mutex_};
    std::vector<Due> due;
    for (auto& [kind, entry] : kinds_) {
        if (entry.count < entry.minimum ||
            (entry.posted && now - entry.last_post < entry.interval.value_or(interval_)))
            continue;
        due.push_back({kind, std::exchange(entry.details, {}), std::exchange(entry.count, 0)});
        entry.posted = true;
        entry.last_post = now;
    }
    return due;
}

void Alerts::put_back(const std::vector<Due>& due)
{
    const std::lock_guard lock{mutex_};
    for (const auto& d : due) {
        auto& entry = kinds_[d.kind];
        entry.count += d.count;
        for (const auto& detail : d.details)
            add_detail(entry, detail);
        entry.posted = false; // it was never seen: no reason to wait
    }
}

void ServiceHealth::report_to(Alerts* alerts)
{
    const std::lock_guard lock{mutex_};
    alerts_ = alerts;
}

void ServiceHealth::succeeded(TimePoint now)
{
    const std::lock_guard lock{mutex_};
    if (alerted_ && alerts_ != nullptr && failing_since_) {
        const auto minutes =
            std::chrono::duration_cast<std::chrono::minutes>(now - *failing_since_).count();
        alerts_->raise(kind_ + "-ok", "après " + std::to_string(state_.failures_in_a_row) +
                                          " échecs en " + std::to_string(minutes) + " min");
    }
    alerted_ = false;
    failing_since_.reset();
    state_.failures_in_a_row = 0;
    state_.last_success = now;
}

void ServiceHealth::failed(TimePoint now, const std::string& cause)
{
    const std::lock_guard lock{mutex_};
    if (!failing_since_)
        failing_since_ = now;
    ++state_.failures_in_a_row;
    state_.last_failure = now;
    state_.last_cause = cause;
    if (!alerted_ && state_.failures_in_a_row >= failures_before_alert_) {
        alerted_ = true;
        if (alerts_ != nullptr)
            alerts_->raise(kind_, std::to_string(state_.failures_in_a_row) +
                                      " échecs de suite, dernier : " + cause);
    }
}

ServiceHealth::Snapshot ServiceHealth::snapshot() const
{
    const std::lock_guard lock{mutex_};
    return state_;
}

std::string alert_message(const Alerts::Due& due)
{
    std::string list;
    for (const auto& detail : due.details)
        list += (list.empty() ? "" : ", ") + ("`" + detail + "`");
    const auto times = due.count > 1
                           ? " (" + std::to_string(due.count) + " fois depuis la dernière alerte)"
                           : std::string{};
    const auto named = list.empty() ? std::string{"."} : " : " + list + ".";
    const auto& kind = due.kind;
    if (kind == "identity")
        return "**Identité de chiffrement changée**" + times + " : " + list +
               ". Le bot l'a acceptée, comme Element le fait pour une personne non vérifiée, et "
               "lui chiffre ses réponses. Si ce changement est inattendu, demandez à la "
               "personne si elle a bien réinitialisé sa signature croisée.";
    if (kind == "set-aside")
        return "**Événement mis de côté**" + times + " : " + list +
               ". Il faisait tomber le bot à chaque reprise ; le reste du lot a reçu ses "
               "réponses. Voir le journal du bot.";
    if (kind == "itop")
        return "**iTop ne répond plus**" + times + named +
               " Les tickets ne peuvent être ni créés ni consultés : les demandes en cours sont "
               "gardées et leurs auteurs peuvent réessayer. Une alerte suivra quand iTop "
               "répondra de nouveau.";
    if (kind == "itop-ok")
        return "**iTop répond de nouveau**" + named;
    if (kind == "homeserver")
        return "**Le serveur Matrix n'a plus répondu au bot**" + named +
               " Les messages envoyés pendant ce temps sont traités dès son retour.";
    if (kind == "homeserver-ok")
        return "**Le serveur Matrix répond de nouveau**" + named;
    if (kind == "rate-limit")
        return "**Le serveur Matrix ralentit le bot depuis longtemps**" + times + named +
               " Les réponses partent en retard ; si cela dure, demandez à l'administrateur du "
               "serveur d'exempter le compte du bot des limites de débit.";
    if (kind == "rate-limit-ok")
        return "**Le serveur Matrix ne ralentit plus le bot**" + named;
    if (kind == "undecryptable")
        return "**Messages indéchiffrables**" + times + " : le bot n'a pas reçu la clé de " +
               (list.empty() ? std::string{"plusieurs messages"} : "messages de " + list) +
               ". Leurs auteurs ont été invités à les renvoyer ; si cela se répète, vérifiez "
               "que leurs sessions Tchap partagent bien leurs clés (appareils vérifiés).";
    if (kind == "storage")
        return "**Écriture impossible dans le fichier d'état**" + times + named +
               " Rien n'est perdu : le lot sera repris. Vérifiez la place libre et les droits du "
               "dossier du bot.";
    if (kind == "backup")
        return "**Sauvegarde quotidienne du fichier d'état en échec**" + times + named +
               " Elle sera retentée dans 30 minutes ; vérifiez le dossier de "
               "`state.sauvegarde_quotidienne` (place libre, droits).";
    if (kind == "reload") {
        std::string text = "**Configuration relue (SIGHUP)**" + times + " :";
        for (const auto& detail : due.details)
            text += "\n- " + detail;
        return text;
    }
    if (kind == "import")
        return "**Import refusé ou en échec**" + times + named +
               " Les données d'avant sont gardées ; voir le compte rendu dans le salon où "
               "l'import a été lancé.";
    return "**Alerte** " + kind + times + named;
}

} // namespace opalebot::bot
