#include "commands/weekly_digest.hpp"

#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {
    R"sql(
CREATE TABLE digest_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    phrase TEXT NOT NULL,
    next_run INTEGER,
    last_run INTEGER
);
CREATE TABLE digest_ledger (
    delivery_key TEXT PRIMARY KEY,
    occurrence INTEGER NOT NULL,
    room TEXT NOT NULL,
    status TEXT NOT NULL,
    markdown TEXT NOT NULL,
    UNIQUE (occurrence, room)
);
CREATE TABLE digest_files (
    delivery_key TEXT NOT NULL REFERENCES digest_ledger (delivery_key),
    n INTEGER NOT NULL,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    content BLOB NOT NULL,
    description TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    thumbnail BLOB,
    thumbnail_width INTEGER,
    thumbnail_height INTEGER,
    PRIMARY KEY (delivery_key, n)
);
CREATE TABLE digest_seen (
    uai TEXT PRIMARY KEY,
    state INTEGER NOT NULL
);
)sql"};
constexpr Schema schema{"weekly digest", schema_steps, "digest_schema"};

constexpr std::string_view example = "`chaque lundi 8h30`";
constexpr int max_catch_up = 1000;
constexpr std::size_t max_change_lines = 30;

Error invalid(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}};
}

std::int64_t seconds_of(Instant t)
{
    return static_cast<std::int64_t>(t.time_since_epoch().count());
}

Instant instant_of(std::int64_t seconds)
{
    return Instant{std::chrono::seconds{seconds}};
}

std::string band_name(int band)
{
    switch (static_cast<KitBucket>(band)) {
    case KitBucket::more_than_30:
        return "plus de 30 %";
    case KitBucket::from_10_to_30:
        return "de 10 à 30 %";
    case KitBucket::less_than_10:
        break;
    }
    return "moins de 10 %";
}

/// An EPLE as a digest sees it: its kit band and whether it is to accompany, in one number.
int seen_state(const Snapshot& latest, const DifficultyRule& rule)
{
    return static_cast<int>(kit_bucket(latest.kit_taux)) * 2 + (to_accompany(latest, rule) ? 1 : 0);
}

std::string digest_day(Instant t, const std::string& zone_name)
{
    const auto zone = find_zone(zone_name);
    return zone ? format_local_day(t, *zone.value()) : std::string{};
}

} // namespace

Result<DigestSpec> parse_digest_schedule(std::string_view phrase)
{
    // The reminders' reader wants a message after the time: "rapport" stands for it, and
    // anything else left over ("seuil 80 %") is not part of a digest's schedule.
    const auto text = trim(phrase);
    const auto zone = find_zone(default_zone);
    if (!zone)
        return zone.error();
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto parsed = parse_when(std::string{text} + " rapport", now, *zone.value());
    if (!parsed)
        return invalid("Je n'ai pas compris quand publier le rapport : par exemple " +
                       std::string{example} + ".");
    if (knowledge::fold(parsed.value().rest) != "rapport")
        return invalid("Le rapport hebdomadaire n'a ni seuil ni retard, seulement un moment : par "
                       "exemple " +
                       std::string{example} + ".");
    if (!parsed.value().schedule.recurring() || parsed.value().until_acknowledged)
        return invalid("Le rapport revient à intervalle régulier : par exemple " +
                       std::string{example} + ".");
    DigestSpec spec;
    spec.schedule = parsed.value().schedule;
    spec.skip_holidays = parsed.value().skip_holidays;
    spec.phrase = std::string{text};
    return spec;
}

WeeklyDigest::WeeklyDigest(StateDatabase& state, EpleStore& eple, WeeklyDigestOptions options)
    : eple_(eple), options_(std::move(options)), db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

Result<Done> WeeklyDigest::configure(std::optional<DigestSpec> spec, Instant now)
{
    const std::lock_guard lock{mutex_};
    try {
        spec_ = std::move(spec);
        if (!spec_) {
            db_.exec("DELETE FROM digest_state");
            return Done{};
        }
        SQLite::Statement read{db_, "SELECT phrase, next_run FROM digest_state WHERE id = 1"};
        if (read.executeStep() && read.getColumn(0).getString() == spec_->phrase &&
            !read.getColumn(1).isNull())
            return Done{}; // the same schedule: its planned run stands (a restart, a reload)
        const auto zone = find_zone(options_.zone);
        if (!zone)
            return zone.error();
        const auto next =
            next_occurrence(spec_->schedule, now, *zone.value(), spec_->skip_holidays);
        SQLite::Statement write{db_, "INSERT INTO digest_state (id, phrase, next_run) VALUES (1, "
                                     "?, ?) ON CONFLICT (id) DO UPDATE SET phrase = "
                                     "excluded.phrase, next_run = excluded.next_run"};
        write.bind(1, spec_->phrase);
        if (next)
            write.bind(2, seconds_of(*next));
        write.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "weekly digest: configure", "commands");
    }
}

WeeklyDigest::Gathered WeeklyDigest::gather(Instant now, const WaveReport& report,
                                            const TicketReport& tickets, std::vector<int> waves,
                                            std::optional<Instant> last_run)
{
    // Called without the state lock: a wave's chart takes tens of milliseconds, and the tickets
    // may come from iTop; other threads must not wait for the state file meanwhile.
    Gathered parts;
    if (waves.empty())
        if (auto counts = eple_.count_by_wave(); counts)
            for (const auto& [wave, count] : counts.value())
                if (count > 0)
                    waves.push_back(wave);
    for (const int wave : waves)
        parts.waves.emplace_back(wave, report(wave));
    if (tickets)
        parts.tickets = tickets(last_run.value_or(now - std::chrono::days{7}), now);
    parts.last_run = last_run;
    return parts;
}

std::optional<Instant> WeeklyDigest::last_run_locked()
{
    SQLite::Statement last{db_, "SELECT last_run FROM digest_state WHERE id = 1"};
    if (last.executeStep() && !last.getColumn(0).isNull())
        return instant_of(last.getColumn(0).getInt64());
    return std::nullopt;
}

WeeklyDigest::Composed WeeklyDigest::compose(Instant now, Gathered parts)
{
    Composed out;
    out.markdown = "**Rapport hebdomadaire op@le du " + digest_day(now, options_.zone) + "**\n\n";
    if (parts.waves.empty())
        out.markdown += "Aucun EPLE n'est encore connu du bot (`!import etablissements`).\n\n";
    for (auto& [wave, reply] : parts.waves) {
        out.markdown += reply.markdown + "\n\n";
        for (auto& file : reply.files)
            out.files.push_back(std::move(file));
    }

    // What moved since the last digest: kit bands, and EPLE to accompany or no longer.
    std::map<std::string, int, std::less<>> before;
    SQLite::Statement seen{db_, "SELECT uai, state FROM digest_seen"};
    while (seen.executeStep())
        before.emplace(seen.getColumn(0).getString(), seen.getColumn(1).getInt());
    const auto rule = options_.rule();
    std::vector<std::string> changes;
    for (const auto& [wave, reply] : parts.waves) {
        auto statuses = eple_.statuses(wave);
        if (!statuses)
            continue;
        for (const auto& status : statuses.value()) {
            if (!status.latest)
                continue;
            const int now_state = seen_state(*status.latest, rule);
            out.seen.emplace_back(status.etablissement.uai, now_state);
            const auto it = before.find(status.etablissement.uai);
            if (it == before.end() || it->second == now_state)
                continue;
            const auto name = knowledge::escape_markdown(status.etablissement.nom) + " (" +
                              status.etablissement.uai + ", vague " + std::to_string(wave) + ")";
            if (it->second / 2 != now_state / 2)
                changes.push_back("- " + name + " : kit de bascule " + band_name(it->second / 2) +
                                  " → " + band_name(now_state / 2));
            if (it->second % 2 != now_state % 2)
                changes.push_back("- " + name +
                                  (now_state % 2 == 1 ? " : désormais à accompagner"
                                                      : " : n'est plus à accompagner"));
        }
    }
    // The tickets of the week (or since the last digest), as `!tickets stats` counts them.
    if (!parts.tickets.empty())
        out.markdown += parts.tickets + "\n\n";
    if (before.empty()) {
        out.markdown += "_Premier rapport : les évolutions (tranches du kit, EPLE à accompagner) "
                        "seront données à partir du prochain._";
    } else {
        out.markdown +=
            "**Depuis le rapport du " +
            (parts.last_run ? digest_day(*parts.last_run, options_.zone) : std::string{"?"}) +
            "**\n";
        if (changes.empty())
            out.markdown += "Aucun EPLE n'a changé de tranche du kit ni de situation.";
        for (std::size_t k = 0; k < changes.size() && k < max_change_lines; ++k)
            out.markdown += changes[k] + "\n";
        if (changes.size() > max_change_lines)
            out.markdown += "… et " + std::to_string(changes.size() - max_change_lines) +
                            " autres changements.";
    }
    return out;
}

Result<DigestMessage> WeeklyDigest::preview(Instant now, const WaveReport& report,
                                            const TicketReport& tickets)
{
    try {
        std::vector<int> waves;
        std::optional<Instant> last_run;
        {
            const std::lock_guard lock{mutex_};
            waves = spec_ ? spec_->waves : std::vector<int>{};
            last_run = last_run_locked();
        }
        auto parts = gather(now, report, tickets, std::move(waves), last_run);
        const std::lock_guard lock{mutex_};
        auto composed = compose(now, std::move(parts));
        return DigestMessage{now, {}, std::move(composed.markdown), std::move(composed.files), {}};
    } catch (const std::exception& e) {
        return storage_error(e, "weekly digest: preview", "commands");
    }
}

Result<std::vector<DigestMessage>> WeeklyDigest::due(Instant now, const WaveReport& report,
                                                     const TicketReport& tickets)
{
    try {
        const auto zone = find_zone(options_.zone);
        if (!zone)
            return zone.error();
        // First, under the lock: is an occurrence due? Only the latest passed one counts.
        DigestSpec spec;
        std::int64_t planned = 0;
        Instant occurrence;
        std::optional<Instant> last_run;
        {
            const std::lock_guard lock{mutex_};
            if (!spec_ || spec_->rooms.empty())
                return std::vector<DigestMessage>{};
            spec = *spec_;
            SQLite::Statement read{db_, "SELECT next_run FROM digest_state WHERE id = 1"};
            if (!read.executeStep() || read.getColumn(0).isNull() ||
                instant_of(read.getColumn(0).getInt64()) > now)
                return std::vector<DigestMessage>{};
            planned = read.getColumn(0).getInt64();
            last_run = last_run_locked();
        }
        occurrence = instant_of(planned);
        for (int n = 0; n < max_catch_up; ++n) {
            const auto later =
                next_occurrence(spec.schedule, occurrence, *zone.value(), spec.skip_holidays);
            if (!later || *later > now)
                break;
            occurrence = *later;
        }
        const bool in_time = now - occurrence <= options_.grace;
        // Then the dashboards, charts and tickets, without the lock.
        std::optional<Gathered> parts;
        if (in_time)
            parts = gather(occurrence, report, tickets, spec.waves, last_run);

        const std::lock_guard lock{mutex_};
        SQLite::Transaction transaction{db_};
        SQLite::Statement again{db_, "SELECT next_run FROM digest_state WHERE id = 1"};
        if (!again.executeStep() || again.getColumn(0).isNull() ||
            again.getColumn(0).getInt64() != planned)
            return std::vector<DigestMessage>{}; // configured again meanwhile
        again.reset();
        std::vector<DigestMessage> claimed;
        if (parts) {
            auto composed = compose(occurrence, std::move(*parts));
            SQLite::Statement insert{db_, "INSERT OR IGNORE INTO digest_ledger (delivery_key, "
                                          "occurrence, room, status, markdown) VALUES (?, ?, ?, "
                                          "'pending', ?)"};
            SQLite::Statement insert_file{
                db_, "INSERT INTO digest_files (delivery_key, n, name, mime_type, content, "
                     "description, width, height, thumbnail, thumbnail_width, thumbnail_height) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};
            for (std::size_t r = 0; r < spec.rooms.size(); ++r) {
                const auto key = "rapport-hebdo-" + std::to_string(seconds_of(occurrence)) + "-" +
                                 std::to_string(r);
                SQLite::bind(insert, key, seconds_of(occurrence), spec.rooms[r], composed.markdown);
                const bool fresh = insert.exec() == 1; // already in the ledger: never twice
                insert.reset();
                if (!fresh)
                    continue;
                for (std::size_t n = 0; n < composed.files.size(); ++n) {
                    const auto& f = composed.files[n];
                    insert_file.bind(1, key);
                    insert_file.bind(2, static_cast<std::int64_t>(n));
                    insert_file.bind(3, f.name);
                    insert_file.bind(4, f.mime_type);
                    insert_file.bind(5, f.content.data(), static_cast<int>(f.content.size()));
                    insert_file.bind(6, f.description);
                    if (f.image) {
                        insert_file.bind(7, f.image->width);
                        insert_file.bind(8, f.image->height);
                        insert_file.bind(9, f.image->thumbnail_png.data(),
                                         static_cast<int>(f.image->thumbnail_png.size()));
                        insert_file.bind(10, f.image->thumbnail_width);
                        insert_file.bind(11, f.image->thumbnail_height);
                    }
                    insert_file.exec();
                    insert_file.reset();
                    insert_file.clearBindings();
                }
                claimed.push_back(
                    {occurrence, spec.rooms[r], composed.markdown, composed.files, key});
            }
            // What this digest saw is what the next one compares with.
            db_.exec("DELETE FROM digest_seen");
            SQLite::Statement seen{db_, "INSERT INTO digest_seen (uai, state) VALUES (?, ?)"};
            for (const auto& [uai, state] : composed.seen) {
                SQLite::bind(seen, uai, state);
                seen.exec();
                seen.reset();
            }
            SQLite::Statement last{db_, "UPDATE digest_state SET last_run = ? WHERE id = 1"};
            last.bind(1, seconds_of(occurrence));
            last.exec();
        } else {
            log::get("commands")->info("weekly digest missed during downtime, skipped");
        }
        const auto next = next_occurrence(spec.schedule, now, *zone.value(), spec.skip_holidays);
        SQLite::Statement advance{db_, "UPDATE digest_state SET next_run = ? WHERE id = 1"};
        if (next)
            advance.bind(1, seconds_of(*next));
        advance.exec();
        transaction.commit();
        return claimed;
    } catch (const std::exception& e) {
        return storage_error(e, "weekly digest: claim due", "commands");
    }
}

Result<std::vector<DigestMessage>> WeeklyDigest::unsent()
{
    const std::lock_guard lock{mutex_};
    try {
        std::vector<DigestMessage> pending;
        SQLite::Statement query{db_, "SELECT delivery_key, occurrence, room, markdown FROM "
                                     "digest_ledger WHERE status = 'pending' ORDER BY occurrence, "
                                     "delivery_key"};
        SQLite::Statement files{
            db_, "SELECT name, mime_type, content, description, width, height, thumbnail, "
                 "thumbnail_width, thumbnail_height FROM digest_files WHERE delivery_key = ? "
                 "ORDER BY n"};
        while (query.executeStep()) {
            DigestMessage message{instant_of(query.getColumn(1).getInt64()),
                                  query.getColumn(2).getString(),
                                  query.getColumn(3).getString(),
                                  {},
                                  query.getColumn(0).getString()};
            files.bind(1, message.delivery_key);
            while (files.executeStep()) {
                OutgoingFile file;
                file.name = files.getColumn(0).getString();
                file.mime_type = files.getColumn(1).getString();
                const auto blob = files.getColumn(2);
                file.content.assign(static_cast<const char*>(blob.getBlob()),
                                    static_cast<std::size_t>(blob.getBytes()));
                file.description = files.getColumn(3).getString();
                if (!files.getColumn(4).isNull()) {
                    OutgoingFile::Image image;
                    image.width = files.getColumn(4).getInt();
                    image.height = files.getColumn(5).getInt();
                    const auto thumb = files.getColumn(6);
                    if (!thumb.isNull())
                        image.thumbnail_png.assign(static_cast<const char*>(thumb.getBlob()),
                                                   static_cast<std::size_t>(thumb.getBytes()));
                    image.thumbnail_width = files.getColumn(7).getInt();
                    image.thumbnail_height = files.getColumn(8).getInt();
                    file.image = std::move(image);
                }
                message.files.push_back(std::move(file));
            }
            files.reset();
            pending.push_back(std::move(message));
        }
        return pending;
    } catch (const std::exception& e) {
        return storage_error(e, "weekly digest: unsent", "commands");
    }
}

Result<Done> WeeklyDigest::mark_sent(const std::string& delivery_key)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement update{db_, "UPDATE digest_ledger SET status = 'sent' WHERE "
                                      "delivery_key = ?"};
        update.bind(1, delivery_key);
        update.exec();
        // The chart was kept only to be resent after a crash.
        SQLite::Statement forget{db_, "DELETE FROM digest_files WHERE delivery_key = ?"};
        forget.bind(1, delivery_key);
        forget.exec();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "weekly digest: mark sent", "commands");
    }
}

void add_digest_commands(Registry& registry, WeeklyDigest& digest, WaveReport report,
                         std::function<Instant()> clock, TicketReport tickets)
{
    if (!clock)
        clock = [] {
            return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
        };
    const auto prefix = registry.prefix();
    const bool added = registry.add(
        {"rapport",
         {},
         prefix + "rapport essai",
         "le rapport hebdomadaire tel qu'il serait publié maintenant, pour vous seul",
         Role::admin,
         [&digest, report = std::move(report), clock, prefix,
          tickets = std::move(tickets)](const Context& c) {
             if (knowledge::fold(c.args) != "essai")
                 return Reply{"Usage : `" + prefix +
                              "rapport essai` (le rapport hebdomadaire tel qu'il serait publié "
                              "maintenant ; sa publication se règle dans `rapports.hebdo` de la "
                              "configuration)."};
             auto preview = digest.preview(clock(), report, tickets);
             if (!preview)
                 return Reply{"Le rapport est indisponible pour le moment (erreur de la base "
                              "d'état, notée dans le journal)."};
             return Reply{"_Essai : ce rapport n'est publié nulle part._\n\n" +
                              std::move(preview.value().markdown),
                          {},
                          std::move(preview.value().files)};
         }});
    if (!added)
        throw std::logic_error("command registered twice: rapport"); // a programming error
}

} // namespace opalebot::commands
