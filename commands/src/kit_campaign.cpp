#include "commands/kit_campaign.hpp"

#include "commands/french_format.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>

#include <date/tz.h>

namespace opalebot::commands {
namespace {

using namespace std::chrono;
using knowledge::escape_markdown;

constexpr std::array<const char*, 2> schema_steps = {
    R"sql(
CREATE TABLE campaign_kit (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    phrase TEXT NOT NULL,
    room TEXT NOT NULL,
    started_by TEXT NOT NULL,
    next_run INTEGER,
    active INTEGER NOT NULL,
    from_config INTEGER NOT NULL
);
CREATE TABLE campaign_ledger (
    occurrence INTEGER NOT NULL,
    uai TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    room TEXT NOT NULL,
    mentions TEXT NOT NULL,
    markdown TEXT NOT NULL,
    delivery_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (occurrence, uai)
);
CREATE INDEX campaign_ledger_pending ON campaign_ledger (status) WHERE status = 'pending';
)sql",
    // Issue 17: each linked user gets the reminder by direct message; ✅ stops its repeats.
    R"sql(
CREATE TABLE campaign_direct (
    occurrence INTEGER NOT NULL,
    uai TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    markdown TEXT NOT NULL,
    delivery_key TEXT NOT NULL UNIQUE,
    repeats INTEGER NOT NULL DEFAULT 0,
    last_claimed INTEGER NOT NULL,
    acknowledged INTEGER,
    PRIMARY KEY (occurrence, uai, user_id)
);
CREATE INDEX campaign_direct_pending ON campaign_direct (status) WHERE status = 'pending';
)sql"};
constexpr Schema schema{"campaign", schema_steps, "campaign_schema"};

constexpr std::string_view example = "`chaque lundi 9h seuil 80 % retard 15 jours`";

/// Occurrences walked past after a long downtime before giving up (a minute rule, a month off).
constexpr int max_catch_up = 1000;

Error invalid(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}, false};
}

Instant system_now()
{
    return floor<seconds>(system_clock::now());
}

/// "80", "80,5", "80%", "80.5 %" as a number; nothing otherwise.
std::optional<double> parse_number(std::string text)
{
    if (!text.empty() && text.back() == '%')
        text.pop_back();
    for (auto& c : text)
        if (c == ',')
            c = '.';
    if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos)
        return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

std::string percent(double value)
{
    const auto tenths = static_cast<long long>(std::llround(value * 10));
    std::string text = std::to_string(tenths / 10);
    if (tenths % 10 != 0)
        text += "," + std::to_string(tenths % 10);
    return text + " %";
}

std::string describe_spec(const CampaignSpec& spec)
{
    std::string text;
    if (spec.threshold)
        text += "seuil " + percent(*spec.threshold);
    if (spec.stale_days)
        text += std::string{text.empty() ? "" : ", "} + "retard " +
                std::to_string(*spec.stale_days) + " jours";
    return text;
}

std::string join(const std::vector<std::string>& items, std::string_view separator)
{
    std::string text;
    for (const auto& item : items)
        text += (text.empty() ? "" : std::string{separator}) + item;
    return text;
}

std::vector<std::string> split_lines(const std::string& text)
{
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        lines.push_back(text.substr(start, end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    return lines;
}

std::string delivery_key(Instant occurrence, std::string_view uai)
{
    return "campagne-kit-" + std::to_string(occurrence.time_since_epoch().count()) + "-" +
           (uai.empty() ? std::string{"rapport"} : std::string{uai});
}

/// The key of a direct message: a user id has characters a txn id should not carry, so a hash
/// of it (FNV-1a, 64 bits: stable across builds, and the ledger keeps the key anyway).
std::string direct_key(Instant occurrence, std::string_view uai, std::string_view user)
{
    std::uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char c : user) {
        hash ^= c;
        hash *= 1099511628211ULL;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return delivery_key(occurrence, uai) + "-" + hex;
}

/// A repeat is sent with its own txn id: the homeserver would drop a second send of the first.
std::string repeat_key(const std::string& base, int repeats)
{
    return repeats == 0 ? base : base + "-r" + std::to_string(repeats);
}

/// The first key of a direct message from the key of any of its repeats (a hex hash never
/// holds an "r").
std::string base_key(const std::string& key)
{
    const auto r = key.rfind("-r");
    if (r == std::string::npos || r + 2 == key.size() ||
        key.find_first_not_of("0123456789", r + 2) != std::string::npos)
        return key;
    return key.substr(0, r);
}

constexpr std::string_view repeat_heading = "🔁 **Rappel** : pas encore de ✅ sur ce message.\n\n";

std::string points(double value)
{
    auto text = percent(value);
    text.resize(text.size() - 2); // " %"
    return text + (std::fabs(value) >= 2 ? " points" : " point");
}

} // namespace

Result<CampaignSpec> parse_campaign(std::string_view phrase)
{
    const auto text = trim(phrase);
    const auto zone = find_zone(default_zone);
    if (!zone)
        return zone.error();
    auto parsed = parse_when(text, system_now(), *zone.value());
    if (!parsed) {
        if (parsed.error().message.starts_with("Que dois-je"))
            return invalid("Il manque le seuil ou le retard de la campagne : par exemple " +
                           std::string{example} + ".");
        return parsed.error();
    }
    const auto& when = parsed.value();
    if (!when.schedule.recurring())
        return invalid("Une campagne revient à intervalle régulier : par exemple " +
                       std::string{example} + ".");
    if (when.until_acknowledged)
        return invalid("« jusqu'à confirmation » ne s'applique pas à une campagne : par exemple " +
                       std::string{example} + ".");
    CampaignSpec spec;
    spec.schedule = when.schedule;
    spec.skip_holidays = when.skip_holidays;
    spec.phrase = std::string{text};
    std::vector<std::string> words;
    for (auto rest = std::string_view{when.rest}; !rest.empty();) {
        const auto [word, after] = split_first_word(rest);
        words.push_back(knowledge::fold(word));
        rest = after;
    }
    for (std::size_t i = 0; i < words.size();) {
        const auto next = [&](std::size_t k) {
            return k < words.size() ? words[k] : std::string{};
        };
        if (words[i] == "seuil") {
            auto number = parse_number(next(i + 1));
            if (!number || *number <= 0 || *number > 100)
                return invalid("Le seuil est un taux du kit de 1 à 100 % : par exemple `seuil 80 "
                               "%`.");
            spec.threshold = number;
            i += next(i + 2) == "%" ? 3 : 2;
        } else if (words[i] == "retard") {
            auto number = parse_number(next(i + 1));
            const auto unit = next(i + 2);
            if (!number || *number < 1 || *number > 366 || std::floor(*number) != *number ||
                (unit != "jours" && unit != "jour" && unit != "j"))
                return invalid("Le retard se compte en jours sans progression du kit, de 1 à 366 : "
                               "par exemple `retard 15 jours`.");
            spec.stale_days = static_cast<int>(*number);
            i += 3;
        } else {
            return invalid("Je ne comprends pas « " + words[i] +
                           " » dans la campagne : après l'échéance, `seuil <taux> %` et/ou "
                           "`retard <n> jours`, par exemple " +
                           std::string{example} + ".");
        }
    }
    if (!spec.threshold && !spec.stale_days)
        return invalid("Il manque le seuil ou le retard de la campagne : par exemple " +
                       std::string{example} + ".");
    return spec;
}

KitCampaign::KitCampaign(StateDatabase& state, EpleStore& eple, UserProfileStore& profiles,
                         KitCampaignOptions options)
    : eple_(eple),
      profiles_(profiles),
      options_(std::move(options)),
      db_(state.connection()),
      mutex_(state.mutex())
{
    if (!find_zone(options_.zone))
        throw std::invalid_argument("unknown zone: " + options_.zone);
    state.migrate(schema);
}

std::optional<CampaignState> KitCampaign::read_locked()
{
    SQLite::Statement query{db_, "SELECT phrase, room, started_by, next_run, from_config FROM "
                                 "campaign_kit WHERE id = 1 AND active = 1"};
    if (!query.executeStep())
        return std::nullopt;
    auto spec = parse_campaign(query.getColumn(0).getString());
    if (!spec)
        throw std::runtime_error("stored campaign unreadable: " + spec.error().message);
    CampaignState state;
    state.spec = std::move(spec).value();
    state.room = query.getColumn(1).getString();
    state.started_by = query.getColumn(2).getString();
    if (!query.getColumn(3).isNull())
        state.next_run = Instant{seconds{query.getColumn(3).getInt64()}};
    state.from_config = query.getColumn(4).getInt() != 0;
    return state;
}

Result<CampaignState> KitCampaign::start(const CampaignSpec& spec, const std::string& room,
                                         const std::string& started_by, Instant now,
                                         bool from_config)
{
    const auto& zone = *find_zone(options_.zone).value();
    const auto next = next_occurrence(spec.schedule, now, zone, spec.skip_holidays);
    if (!next)
        return invalid("Cette campagne ne se déclencherait jamais.");
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement upsert{db_, R"sql(
INSERT OR REPLACE INTO campaign_kit (id, phrase, room, started_by, next_run, active, from_config)
VALUES (1, ?, ?, ?, ?, 1, ?)
)sql"};
        SQLite::bind(upsert, spec.phrase, room, started_by,
                     static_cast<std::int64_t>(next->time_since_epoch().count()),
                     from_config ? 1 : 0);
        upsert.exec();
        return CampaignState{spec, room, started_by, next, from_config};
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: start", "commands");
    }
}

Result<bool> KitCampaign::load_from_config(std::string_view phrase, const std::string& room,
                                           Instant now)
{
    auto spec = parse_campaign(phrase);
    if (!spec)
        return spec.error();
    {
        const std::lock_guard lock{mutex_};
        try {
            SQLite::Statement query{
                db_, "SELECT phrase, room, active, from_config FROM campaign_kit WHERE id = 1"};
            if (query.executeStep()) {
                const bool by_command = query.getColumn(3).getInt() == 0;
                const bool same = query.getColumn(0).getString() == spec.value().phrase &&
                                  query.getColumn(1).getString() == room &&
                                  query.getColumn(2).getInt() == 1;
                if (by_command || same)
                    return false; // an admin's command wins; an unchanged file keeps next_run
            }
        } catch (const std::exception& e) {
            return storage_error(e, "kit campaign: load from config", "commands");
        }
    }
    auto started = start(spec.value(), room, "configuration", now, true);
    if (!started)
        return started.error();
    return true;
}

Result<bool> KitCampaign::stop()
{
    const std::lock_guard lock{mutex_};
    try {
        // from_config = 0: the stop is an admin's decision, which a restart must not undo.
        return db_.exec("UPDATE campaign_kit SET active = 0, from_config = 0 WHERE id = 1 AND "
                        "active = 1") == 1;
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: stop", "commands");
    }
}

Result<std::optional<CampaignState>> KitCampaign::current()
{
    const std::lock_guard lock{mutex_};
    try {
        return read_locked();
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: current", "commands");
    }
}

std::vector<CampaignMessage> KitCampaign::evaluate(const CampaignState& state, Instant occurrence,
                                                   Instant now, const std::string& last_time)
{
    const auto statuses = eple_.statuses();
    if (!statuses)
        throw std::runtime_error(statuses.error().message);
    const auto links = profiles_.links_by_uai();
    if (!links)
        throw std::runtime_error(links.error().message);
    const auto& zone = *find_zone(options_.zone).value();
    const auto today = local_day(now, zone);
    const auto& spec = state.spec;

    // Snapshots by wave, then EPLE, oldest first: read once per wave, when a rate stands still.
    std::map<int, std::map<std::string, std::vector<Snapshot>>> histories;
    std::vector<CampaignMessage> messages;
    std::vector<std::string> reminded;
    std::vector<std::string> not_reminded;
    int without_indicators = 0;
    for (const auto& status : statuses.value()) {
        const auto& e = status.etablissement;
        if (!status.latest) {
            ++without_indicators;
            continue;
        }
        const auto rate = status.latest->kit_taux;
        if (rate >= 100)
            continue; // a finished kit needs no update
        // The kit's last known progress, over the whole history: the first snapshot of the run
        // of equal rates that ends with the latest one (three unchanged relevés date back to the
        // first of them, not to the one before the last).
        auto last = status.latest->date;
        if (status.previous && status.previous->kit_taux == rate) {
            if (!histories.contains(e.vague)) {
                auto history = eple_.history(e.vague);
                if (!history)
                    throw std::runtime_error(history.error().message);
                auto& by_uai = histories[e.vague];
                for (auto& snapshot : history.value())
                    by_uai[snapshot.uai].push_back(std::move(snapshot));
            }
            const auto& mine = histories[e.vague][e.uai];
            for (auto it = mine.rbegin(); it != mine.rend() && it->kit_taux == rate; ++it)
                last = it->date;
        }
        const auto age = (sys_days{today} - sys_days{last}).count();
        const bool below = spec.threshold && rate < *spec.threshold;
        const bool stale = spec.stale_days && age > *spec.stale_days;
        if (!below && !stale)
            continue;
        const auto name = escape_markdown(e.nom) + " (`" + e.uai + "`)";
        std::vector<std::string> recipients;
        bool linked = false;
        if (const auto it = links.value().find(e.uai); it != links.value().end())
            for (const auto& user : it->second) {
                linked = true;
                if (!user.kit_opt_out)
                    recipients.push_back(user.user);
            }
        const auto why =
            percent(rate) + (below ? " (seuil " + percent(*spec.threshold) + ")" : "") +
            (stale ? ", sans progression depuis " + std::to_string(age) + " jours" : "");
        if (recipients.empty()) {
            not_reminded.push_back(
                "- " + name + " : " + why + " — " +
                (linked ? "utilisateurs liés désinscrits (`" + options_.prefix + "rappels off`)"
                        : std::string{"aucun utilisateur lié"}));
            continue;
        }
        std::string text = "📋 **Kit de bascule : " + escape_markdown(e.nom) + "** (`" + e.uai +
                           "`" + (e.vague > 0 ? ", vague " + std::to_string(e.vague) : "") +
                           ")\n\nBonjour, le kit de bascule de votre établissement est en "
                           "retard.\n\n";
        text += "- Fiches terminées : **" + percent(rate) + "** au relevé du " +
                format_date(status.latest->date);
        if (below)
            text += ", sous le seuil de " + percent(*spec.threshold) + " fixé par l'académie";
        text += ".\n- Évolution : ";
        if (const auto& before = status.previous; before && before->kit_taux != rate)
            text += std::string{before->kit_taux < rate ? "en hausse de " : "en baisse de "} +
                    points(std::fabs(rate - before->kit_taux)) + " depuis le relevé du " +
                    format_date(before->date);
        else if (before)
            text += "aucune progression depuis le " + format_date(last);
        else
            text += "premier relevé";
        text += " (dernière progression il y a " + std::to_string(age) + " jours" +
                (stale ? ", au-delà de " + std::to_string(*spec.stale_days) + " jours" : "") +
                ").\n\n";
        // Reference: comité de suivi HDF 19/02/2024 (kit de bascule V6); knowledge kit-bascule.
        text +=
            "Commencez par les fiches 1 à 17 : elles concernent l'initialisation de "
            "l'établissement, réalisable avant le 31/12 (le 31/12/2023 pour la vague 6), et "
            "représentent 40 % des actions du kit. Pensez à passer chaque fiche en « terminée » "
            "dès que l'action est faite dans op@le.\n\n";
        text += "Kit de bascule : " + options_.kit_url + "\n\n";
        text += "Réagissez avec ✅ à ce message quand c'est noté : je ne vous le rappellerai plus "
                "pour cette relance. Sans réaction, je vous le rappelle le lendemain (jour "
                "ouvré), deux fois au plus.\n\n";
        text += "_Ne plus recevoir ces relances : `" + options_.prefix + "rappels off`._";
        // User ids in code spans: an "_" in one would start italics.
        std::vector<std::string> shown;
        for (const auto& user : recipients)
            shown.push_back("`" + user + "`");
        reminded.push_back("- " + name + " : " + why + " — " + join(shown, ", "));
        for (auto& user : recipients) {
            CampaignMessage m;
            m.kind = CampaignMessage::Kind::eple;
            m.occurrence = occurrence;
            m.uai = e.uai;
            m.markdown = text;
            m.delivery_key = direct_key(occurrence, e.uai, user);
            m.direct_to = std::move(user);
            messages.push_back(std::move(m));
        }
    }
    std::string report = "📊 **Campagne kit de bascule** du " + format_local(occurrence, zone) +
                         " (" + describe_spec(spec) + ")\n\n";
    if (reminded.empty() && not_reminded.empty())
        report += "Aucun EPLE en retard.";
    if (!reminded.empty())
        report += "Relancés par message direct (" + std::to_string(reminded.size()) + ") :\n" +
                  join(reminded, "\n");
    if (!not_reminded.empty())
        report += std::string{reminded.empty() ? "" : "\n\n"} + "Non relancés (" +
                  std::to_string(not_reminded.size()) + ") :\n" + join(not_reminded, "\n");
    if (without_indicators > 0)
        report += "\n\n" + std::to_string(without_indicators) +
                  " EPLE sans indicateur importé n'ont pas été évalués.";
    if (!last_time.empty())
        report += "\n\n" + last_time;
    messages.push_back({CampaignMessage::Kind::report,
                        occurrence,
                        state.room,
                        "",
                        {},
                        {},
                        std::move(report),
                        delivery_key(occurrence, "")});
    return messages;
}

std::string KitCampaign::acknowledgements_before(Instant occurrence)
{
    SQLite::Statement query{db_, R"sql(
SELECT occurrence, COUNT(*), COUNT(acknowledged) FROM campaign_direct
WHERE occurrence = (SELECT MAX(occurrence) FROM campaign_direct WHERE occurrence < ?)
  AND status = 'sent'
)sql"};
    query.bind(1, static_cast<std::int64_t>(occurrence.time_since_epoch().count()));
    if (!query.executeStep() || query.getColumn(0).isNull())
        return {};
    const auto sent = query.getColumn(1).getInt();
    const auto acknowledged = query.getColumn(2).getInt();
    const auto& zone = *find_zone(options_.zone).value();
    return "Relance précédente (" +
           format_local(Instant{seconds{query.getColumn(0).getInt64()}}, zone) +
           ") : " + std::to_string(acknowledged) + " message" + (acknowledged > 1 ? "s" : "") +
           " direct" + (acknowledged > 1 ? "s" : "") + " sur " + std::to_string(sent) +
           " confirmé" + (acknowledged > 1 ? "s" : "") + " par ✅.";
}

Result<std::vector<CampaignMessage>> KitCampaign::preview(Instant now)
{
    try {
        std::optional<CampaignState> state;
        {
            const std::lock_guard lock{mutex_};
            state = read_locked();
        }
        if (!state)
            return std::vector<CampaignMessage>{};
        return evaluate(*state, now, now);
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: preview", "commands");
    }
}

Result<std::vector<CampaignMessage>> KitCampaign::due(Instant now)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Transaction transaction{db_};
        const auto state = read_locked();
        if (!state)
            return std::vector<CampaignMessage>{};
        std::vector<CampaignMessage> claimed;
        const auto& zone = *find_zone(options_.zone).value();
        const auto& spec = state->spec;
        if (state->next_run && *state->next_run <= now) {
            // Only the latest passed occurrence counts; after a long downtime it may be too late.
            auto occurrence = *state->next_run;
            for (int n = 0; n < max_catch_up; ++n) {
                const auto later =
                    next_occurrence(spec.schedule, occurrence, zone, spec.skip_holidays);
                if (!later || *later > now)
                    break;
                occurrence = *later;
            }
            if (now - occurrence <= options_.grace) {
                SQLite::Statement report{db_, R"sql(
INSERT OR IGNORE INTO campaign_ledger (occurrence, uai, status, room, mentions, markdown,
    delivery_key) VALUES (?, ?, 'pending', ?, '', ?, ?)
)sql"};
                SQLite::Statement direct{db_, R"sql(
INSERT OR IGNORE INTO campaign_direct (occurrence, uai, user_id, status, markdown, delivery_key,
    last_claimed) VALUES (?, ?, ?, 'pending', ?, ?, ?)
)sql"};
                const auto at = static_cast<std::int64_t>(occurrence.time_since_epoch().count());
                for (auto& message :
                     evaluate(*state, occurrence, now, acknowledgements_before(occurrence))) {
                    auto& insert = message.direct_to.empty() ? report : direct;
                    if (message.direct_to.empty())
                        SQLite::bind(report, at, message.uai, message.room, message.markdown,
                                     message.delivery_key);
                    else
                        SQLite::bind(direct, at, message.uai, message.direct_to, message.markdown,
                                     message.delivery_key,
                                     static_cast<std::int64_t>(now.time_since_epoch().count()));
                    const bool fresh = insert.exec() == 1; // already in a ledger: never twice
                    insert.reset();
                    if (fresh)
                        claimed.push_back(std::move(message));
                }
            } else {
                log::get("commands")
                    ->info("kit campaign occurrence missed during downtime, skipped");
            }
            const auto next = next_occurrence(spec.schedule, now, zone, spec.skip_holidays);
            SQLite::Statement advance{db_, "UPDATE campaign_kit SET next_run = ? WHERE id = 1"};
            if (next)
                advance.bind(1, static_cast<std::int64_t>(next->time_since_epoch().count()));
            else
                advance.bind(1);
            advance.exec();
        }
        for (auto& repeat : claim_repeats(*state, now))
            claimed.push_back(std::move(repeat));
        transaction.commit();
        return claimed;
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: claim due", "commands");
    }
}

std::vector<CampaignMessage> KitCampaign::claim_repeats(const CampaignState& state, Instant now)
{
    const auto& zone = *find_zone(options_.zone).value();
    const weekday day{sys_days{local_day(now, zone)}};
    if (day == Saturday || day == Sunday)
        return {}; // Monday comes soon enough, and nobody reads the kit at the weekend
    // The latest occurrence's messages only: a newer occurrence supersedes the older ones.
    SQLite::Statement query{db_, R"sql(
SELECT occurrence, uai, user_id, delivery_key, repeats FROM campaign_direct
WHERE status = 'sent' AND acknowledged IS NULL AND repeats < ? AND last_claimed <= ?
  AND occurrence = (SELECT MAX(occurrence) FROM campaign_direct)
)sql"};
    SQLite::bind(
        query, options_.max_repeats,
        static_cast<std::int64_t>((now - options_.repeat_after).time_since_epoch().count()));
    struct Candidate {
        Instant occurrence;
        std::string uai;
        std::string user;
        std::string key;
        int repeats = 0;
    };
    std::vector<Candidate> candidates;
    while (query.executeStep())
        candidates.push_back({Instant{seconds{query.getColumn(0).getInt64()}},
                              query.getColumn(1).getString(), query.getColumn(2).getString(),
                              query.getColumn(3).getString(), query.getColumn(4).getInt()});
    if (candidates.empty())
        return {};
    // Still late, still linked, not opted out: the figures of today, not those of the first.
    std::map<std::pair<std::string, std::string>, std::string> still_late;
    for (auto& m : evaluate(state, candidates.front().occurrence, now))
        if (!m.direct_to.empty())
            still_late[{m.uai, m.direct_to}] = std::move(m.markdown);
    SQLite::Statement claim{db_, R"sql(
UPDATE campaign_direct SET status = 'pending', repeats = ?, last_claimed = ?, markdown = ?
WHERE delivery_key = ?
)sql"};
    SQLite::Statement settle{db_, R"sql(
UPDATE campaign_direct SET repeats = ? WHERE delivery_key = ?
)sql"};
    std::vector<CampaignMessage> repeats;
    for (const auto& c : candidates) {
        const auto late = still_late.find({c.uai, c.user});
        if (late == still_late.end()) {
            // Caught up (or opted out) since: no more repeats of this one.
            SQLite::bind(settle, options_.max_repeats, c.key);
            settle.exec();
            settle.reset();
            continue;
        }
        SQLite::bind(claim, c.repeats + 1,
                     static_cast<std::int64_t>(now.time_since_epoch().count()), late->second,
                     c.key);
        claim.exec();
        claim.reset();
        CampaignMessage m;
        m.occurrence = c.occurrence;
        m.uai = c.uai;
        m.direct_to = c.user;
        m.markdown = std::string{repeat_heading} + late->second;
        m.delivery_key = repeat_key(c.key, c.repeats + 1);
        repeats.push_back(std::move(m));
    }
    return repeats;
}

Result<std::vector<CampaignMessage>> KitCampaign::unsent()
{
    const std::lock_guard lock{mutex_};
    try {
        std::vector<CampaignMessage> messages;
        SQLite::Statement direct{db_, "SELECT occurrence, uai, user_id, markdown, delivery_key, "
                                      "repeats FROM campaign_direct WHERE status = 'pending' "
                                      "ORDER BY occurrence, uai, user_id"};
        while (direct.executeStep()) {
            CampaignMessage m;
            m.occurrence = Instant{seconds{direct.getColumn(0).getInt64()}};
            m.uai = direct.getColumn(1).getString();
            m.direct_to = direct.getColumn(2).getString();
            const auto repeats = direct.getColumn(5).getInt();
            m.markdown = (repeats > 0 ? std::string{repeat_heading} : std::string{}) +
                         direct.getColumn(3).getString();
            m.delivery_key = repeat_key(direct.getColumn(4).getString(), repeats);
            messages.push_back(std::move(m));
        }
        SQLite::Statement query{db_, "SELECT occurrence, uai, room, mentions, markdown, "
                                     "delivery_key FROM campaign_ledger WHERE status = 'pending' "
                                     "ORDER BY occurrence, uai = '', uai"};
        while (query.executeStep()) {
            CampaignMessage m;
            m.occurrence = Instant{seconds{query.getColumn(0).getInt64()}};
            m.uai = query.getColumn(1).getString();
            m.kind = m.uai.empty() ? CampaignMessage::Kind::report : CampaignMessage::Kind::eple;
            m.room = query.getColumn(2).getString();
            m.mentions = split_lines(query.getColumn(3).getString());
            m.markdown = query.getColumn(4).getString();
            m.delivery_key = query.getColumn(5).getString();
            messages.push_back(std::move(m));
        }
        return messages;
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: unsent", "commands");
    }
}

Result<Done> KitCampaign::mark_sent(const std::string& key)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{
            db_, "UPDATE campaign_ledger SET status = 'sent' WHERE delivery_key = ?"};
        update.bind(1, key);
        if (update.exec() == 0) {
            SQLite::Statement direct{db_, "UPDATE campaign_direct SET status = 'sent' WHERE "
                                          "delivery_key = ? AND status = 'pending'"};
            direct.bind(1, base_key(key));
            direct.exec();
        }
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: mark sent", "commands");
    }
}

Result<int> KitCampaign::give_up_undelivered(Instant now)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE campaign_direct SET status = 'failed' WHERE "
                                      "status = 'pending' AND last_claimed <= ?"};
        update.bind(1, static_cast<std::int64_t>((now - hours{24}).time_since_epoch().count()));
        return update.exec();
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: give up", "commands");
    }
}

Result<std::optional<CampaignAcknowledgement>>
KitCampaign::acknowledge(const std::string& key, const std::string& user, Instant now)
{
    if (!key.starts_with("campagne-kit-"))
        return std::optional<CampaignAcknowledgement>{};
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{
            db_, "SELECT acknowledged FROM campaign_direct WHERE delivery_key = ? AND user_id = ?"};
        SQLite::bind(query, base_key(key), user);
        if (!query.executeStep())
            return std::optional<CampaignAcknowledgement>{}; // another's, or not a direct one
        if (!query.getColumn(0).isNull())
            return std::optional{CampaignAcknowledgement::already_noted};
        SQLite::Statement update{
            db_, "UPDATE campaign_direct SET acknowledged = ? WHERE delivery_key = ?"};
        SQLite::bind(update, static_cast<std::int64_t>(now.time_since_epoch().count()),
                     base_key(key));
        update.exec();
        return std::optional{CampaignAcknowledgement::noted};
    } catch (const std::exception& e) {
        return storage_error(e, "kit campaign: acknowledge", "commands");
    }
}

namespace {

struct Shared {
    KitCampaign& campaign;
    std::function<Instant()> clock;
    std::string prefix;
};

Reply storage_trouble()
{
    return Reply{"Je n'arrive pas à lire ou enregistrer la campagne pour le moment ; réessayez "
                 "plus tard.",
                 {}};
}

Reply show(const Shared& shared, const Message& message)
{
    const auto state = shared.campaign.current();
    if (!state)
        return storage_trouble();
    const auto start = "`" + shared.prefix + "campagne kit " + std::string{example.substr(1)};
    if (!state.value())
        return Reply{"Aucune campagne du kit de bascule en cours. Pour en lancer une depuis ce "
                     "salon : " +
                         start + ".",
                     {}};
    const auto& s = *state.value();
    const auto& zone = *find_zone(default_zone).value();
    std::string text = "**Campagne kit de bascule** : `" + s.spec.phrase + "`, lancée par " +
                       (s.from_config ? std::string{"la configuration"} : s.started_by) +
                       (s.room == message.room ? " depuis ce salon" : " depuis un autre salon") +
                       ".\n\nProchaine relance : **" +
                       (s.next_run ? format_local(*s.next_run, zone) : std::string{"aucune"}) +
                       "**.\n\n`" + shared.prefix +
                       "campagne kit essai` : qui serait relancé "
                       "maintenant ; `" +
                       shared.prefix + "campagne kit arrêter` : l'arrêter.";
    return Reply{text, {}};
}

Reply trial(const Shared& shared)
{
    const auto messages = shared.campaign.preview(shared.clock());
    if (!messages)
        return storage_trouble();
    if (messages.value().empty())
        return Reply{"Aucune campagne en cours : rien à essayer. Par exemple : `" + shared.prefix +
                         "campagne kit " + std::string{example.substr(1)} + ".",
                     {}};
    // The admins' report, then what the first person reminded would read in their direct chat.
    std::string text = "_Essai : rien n'est envoyé._\n\n" + messages.value().back().markdown;
    if (const auto& first = messages.value().front(); !first.direct_to.empty())
        text += "\n\n---\n\n_Message direct que recevrait_ `" + first.direct_to + "` :\n\n" +
                first.markdown;
    return Reply{text, {}};
}

Reply campagne(const Shared& shared, const Context& context)
{
    const auto [kind, rest] = split_first_word(context.args);
    if (knowledge::fold(kind) != "kit")
        return Reply{"Usage : `" + shared.prefix + "campagne kit` (voir), `" + shared.prefix +
                         "campagne kit " + std::string{example.substr(1)} + " (lancer), `" +
                         shared.prefix + "campagne kit essai`, `" + shared.prefix +
                         "campagne kit arrêter`.",
                     {}};
    const auto word = knowledge::fold(rest);
    if (word.empty())
        return show(shared, context.message);
    if (word == "arreter" || word == "stop") {
        const auto stopped = shared.campaign.stop();
        if (!stopped)
            return storage_trouble();
        return Reply{stopped.value() ? "Campagne du kit de bascule arrêtée."
                                     : "Aucune campagne du kit de bascule en cours.",
                     {}};
    }
    if (word == "essai")
        return trial(shared);
    if (context.message.room.empty())
        return Reply{"Une campagne se lance depuis le salon où elle enverra ses relances.", {}};
    const auto spec = parse_campaign(rest);
    if (!spec)
        return Reply{spec.error().message, {}};
    const auto started = shared.campaign.start(spec.value(), context.message.room,
                                               context.message.sender, shared.clock());
    if (!started)
        return started.error().kind == Error::Kind::storage ? storage_trouble()
                                                            : Reply{started.error().message, {}};
    const auto& zone = *find_zone(default_zone).value();
    return Reply{"Campagne du kit de bascule lancée (" + describe_spec(spec.value()) +
                     ") : première relance **" + format_local(*started.value().next_run, zone) +
                     "** : un message direct à chaque utilisateur rattaché à un EPLE en retard (`" +
                     shared.prefix + "moi eple <UAI>`), le bilan dans ce salon. `" + shared.prefix +
                     "campagne kit essai` montre qui serait relancé maintenant.",
                 {}};
}

} // namespace

void add_campaign_commands(Registry& registry, KitCampaign& campaign,
                           std::function<Instant()> clock)
{
    if (!clock)
        clock = system_now;
    auto shared =
        std::make_shared<const Shared>(Shared{campaign, std::move(clock), registry.prefix()});
    if (!registry.add({"campagne",
                       {},
                       registry.prefix() + "campagne kit [<échéance> seuil <taux> % retard <n> "
                                           "jours | essai | arrêter]",
                       "relancer les EPLE en retard sur le kit de bascule (voir, lancer, essai, "
                       "arrêter)",
                       Role::admin,
                       [shared](const Context& context) { return campagne(*shared, context); }}))
        throw std::logic_error("command registered twice: campagne"); // a programming error
}

} // namespace opalebot::commands
