#include "commands/eple_store.hpp"

#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <tuple>

namespace opalebot::commands {
namespace {

constexpr std::array<const char*, 1> schema_steps = {R"sql(
CREATE TABLE eple_etablissements (
    uai TEXT PRIMARY KEY,
    nom TEXT NOT NULL,
    commune TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT '',
    academie TEXT NOT NULL DEFAULT '',
    vague INTEGER NOT NULL CHECK (vague BETWEEN 1 AND 9),
    uai_agence_comptable TEXT NOT NULL DEFAULT ''
);
CREATE INDEX eple_etablissements_by_vague ON eple_etablissements (vague);
CREATE TABLE eple_indicateurs (
    uai TEXT NOT NULL REFERENCES eple_etablissements (uai),
    date TEXT NOT NULL,
    kit_taux REAL NOT NULL CHECK (kit_taux BETWEEN 0 AND 100),
    budget_integre INTEGER NOT NULL,
    budget_saisie TEXT CHECK (budget_saisie IN ('GFC', 'OPALE')),
    paiements INTEGER NOT NULL CHECK (paiements >= 0),
    ej INTEGER NOT NULL CHECK (ej >= 0),
    titres_recettes INTEGER NOT NULL CHECK (titres_recettes >= 0),
    prelevements INTEGER,
    PRIMARY KEY (uai, date)
);
)sql"};
constexpr Schema schema{"eple", schema_steps, "eple_schema"};

/// ISO 8601, so that the text order of the column is the date order.
std::string iso_date(std::chrono::year_month_day date)
{
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    return text;
}

std::chrono::year_month_day parse_iso_date(const std::string& text)
{
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    if (std::sscanf(text.c_str(), "%d-%u-%u", &year, &month, &day) != 3)
        throw std::runtime_error("malformed date in eple_indicateurs: " + text);
    return std::chrono::year_month_day{std::chrono::year{year}, std::chrono::month{month},
                                       std::chrono::day{day}};
}

std::string text_or_empty(const SQLite::Column& column)
{
    return column.isNull() ? std::string{} : column.getString();
}

/// An établissement from the first seven columns of a row: uai, nom, commune, type, academie,
/// vague, uai_agence_comptable (both queries select them in that order).
Etablissement read_etablissement(SQLite::Statement& row)
{
    Etablissement e;
    e.uai = row.getColumn(0).getString();
    e.nom = row.getColumn(1).getString();
    e.commune = text_or_empty(row.getColumn(2));
    e.type = text_or_empty(row.getColumn(3));
    e.academie = text_or_empty(row.getColumn(4));
    e.vague = row.getColumn(5).getInt();
    e.uai_agence_comptable = text_or_empty(row.getColumn(6));
    return e;
}

/// A snapshot of `uai` from the eight columns from `first`: date, kit_taux, budget_integre,
/// budget_saisie, paiements, ej, titres_recettes, prelevements (the table's order).
Snapshot read_snapshot(SQLite::Statement& row, const std::string& uai, int first)
{
    Snapshot s;
    s.uai = uai;
    s.date = parse_iso_date(row.getColumn(first).getString());
    s.kit_taux = row.getColumn(first + 1).getDouble();
    s.budget_integre = row.getColumn(first + 2).getInt() != 0;
    if (!row.getColumn(first + 3).isNull())
        s.budget_saisie =
            row.getColumn(first + 3).getString() == "GFC" ? BudgetSaisie::gfc : BudgetSaisie::opale;
    s.paiements = row.getColumn(first + 4).getInt();
    s.ej = row.getColumn(first + 5).getInt();
    s.titres_recettes = row.getColumn(first + 6).getInt();
    if (!row.getColumn(first + 7).isNull())
        s.prelevements = row.getColumn(first + 7).getInt() != 0;
    return s;
}

constexpr std::string_view status_query = R"sql(
WITH ranked AS (
    SELECT i.*, ROW_NUMBER() OVER (PARTITION BY i.uai ORDER BY i.date DESC) AS rank
    FROM eple_indicateurs i JOIN eple_etablissements e ON e.uai = i.uai
    WHERE {filter}
)
SELECT e.uai, e.nom, e.commune, e.type, e.academie, e.vague, e.uai_agence_comptable,
       r.rank, r.date, r.kit_taux, r.budget_integre, r.budget_saisie, r.paiements, r.ej,
       r.titres_recettes, r.prelevements
FROM eple_etablissements e LEFT JOIN ranked r ON r.uai = e.uai AND r.rank <= 2
WHERE {filter}
ORDER BY e.uai, r.rank
)sql";

/// The EPLE matching `filter` (SQL on alias `e`, one `?` bound by `bind`) with their last two
/// snapshots, by wave, then name as a reader expects it (accents ignored).
std::vector<EpleStatus> read_statuses(SQLite::Database& db, std::string_view filter,
                                      const std::function<void(SQLite::Statement&)>& bind)
{
    std::string sql{status_query};
    for (auto at = sql.find("{filter}"); at != std::string::npos; at = sql.find("{filter}"))
        sql.replace(at, 8, filter);
    SQLite::Statement query{db, sql};
    bind(query);
    std::vector<EpleStatus> statuses;
    while (query.executeStep()) {
        const auto uai = query.getColumn(0).getString();
        if (statuses.empty() || statuses.back().etablissement.uai != uai) {
            EpleStatus status;
            status.etablissement = read_etablissement(query);
            statuses.push_back(std::move(status));
        }
        if (query.getColumn(7).isNull())
            continue; // no snapshot yet
        auto& status = statuses.back();
        (query.getColumn(7).getInt() == 1 ? status.latest : status.previous) =
            read_snapshot(query, uai, 8);
    }
    std::vector<std::pair<std::string, std::size_t>> keys; // fold once per EPLE, not per compare
    keys.reserve(statuses.size());
    for (std::size_t i = 0; i < statuses.size(); ++i)
        keys.emplace_back(knowledge::fold(statuses[i].etablissement.nom), i);
    std::sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
        const auto& ea = statuses[a.second].etablissement;
        const auto& eb = statuses[b.second].etablissement;
        return std::tie(ea.vague, a.first, ea.uai) < std::tie(eb.vague, b.first, eb.uai);
    });
    std::vector<EpleStatus> sorted;
    sorted.reserve(statuses.size());
    for (const auto& key : keys)
        sorted.push_back(std::move(statuses[key.second]));
    return sorted;
}

} // namespace

EpleStore::EpleStore(StateDatabase& state) : db_(state.connection()), mutex_(state.mutex())
{
    state.migrate(schema);
}

Result<Done> EpleStore::save_etablissements(const std::vector<Etablissement>& etablissements)
{
    EpleImportWriter writer{*this};
    if (auto written = writer.add(etablissements); !written)
        return written;
    return writer.commit();
}

Result<Done> EpleStore::save_snapshots(const std::vector<Snapshot>& snapshots)
{
    EpleImportWriter writer{*this};
    if (auto written = writer.add(snapshots); !written)
        return written;
    return writer.commit();
}

Result<std::vector<Etablissement>> EpleStore::etablissements()
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, "SELECT uai, nom, commune, type, academie, vague, "
                                     "uai_agence_comptable FROM eple_etablissements ORDER BY uai"};
        std::vector<Etablissement> all;
        while (query.executeStep())
            all.push_back(read_etablissement(query));
        return all;
    } catch (const std::exception& e) {
        return storage_error(e, "lecture des établissements", "commands");
    }
}

Result<Done> EpleStore::for_each_uai(const std::function<void(const std::string&)>& visit)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, "SELECT uai FROM eple_etablissements ORDER BY uai"};
        while (query.executeStep())
            visit(query.getColumn(0).getString());
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "lecture des établissements", "commands");
    }
}

Result<std::optional<EpleStatus>> EpleStore::status(std::string_view uai)
{
    const std::lock_guard lock{mutex_};
    try {
        auto found = read_statuses(db_, "e.uai = ?", [uai](SQLite::Statement& query) {
            SQLite::bind(query, std::string{uai}, std::string{uai});
        });
        if (found.empty())
            return std::optional<EpleStatus>{};
        return std::optional<EpleStatus>{std::move(found.front())};
    } catch (const std::exception& e) {
        return storage_error(e, "lecture d'un établissement", "commands");
    }
}

Result<std::vector<EpleStatus>> EpleStore::statuses(std::optional<int> vague)
{
    const std::lock_guard lock{mutex_};
    try {
        if (!vague)
            return read_statuses(db_, "1", [](SQLite::Statement&) {});
        return read_statuses(db_, "e.vague = ?", [vague](SQLite::Statement& query) {
            SQLite::bind(query, *vague, *vague);
        });
    } catch (const std::exception& e) {
        return storage_error(e, "lecture des établissements", "commands");
    }
}

Result<std::vector<Snapshot>> EpleStore::history(int vague)
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{db_, R"sql(
SELECT i.uai, i.date, i.kit_taux, i.budget_integre, i.budget_saisie, i.paiements, i.ej,
       i.titres_recettes, i.prelevements
FROM eple_indicateurs i JOIN eple_etablissements e ON e.uai = i.uai
WHERE e.vague = ?
ORDER BY i.date, i.uai
)sql"};
        query.bind(1, vague);
        std::vector<Snapshot> snapshots;
        while (query.executeStep())
            snapshots.push_back(read_snapshot(query, query.getColumn(0).getString(), 1));
        return snapshots;
    } catch (const std::exception& e) {
        return storage_error(e, "lecture de l'historique d'une vague", "commands");
    }
}

Result<std::map<int, int>> EpleStore::count_by_wave()
{
    const std::lock_guard lock{mutex_};
    try {
        SQLite::Statement query{
            db_, "SELECT vague, count(*) FROM eple_etablissements GROUP BY vague ORDER BY vague"};
        std::map<int, int> counts;
        while (query.executeStep())
            counts[query.getColumn(0).getInt()] = query.getColumn(1).getInt();
        return counts;
    } catch (const std::exception& e) {
        return storage_error(e, "décompte des vagues", "commands");
    }
}

Result<std::int64_t> EpleStore::snapshot_count()
{
    const std::lock_guard lock{mutex_};
    try {
        return db_.execAndGet("SELECT count(*) FROM eple_indicateurs").getInt64();
    } catch (const std::exception& e) {
        return storage_error(e, "décompte des relevés", "commands");
    }
}

Result<Done> EpleImportWriter::write(std::optional<SQLite::Statement>& statement, const char* sql,
                                     std::string_view what,
                                     const std::function<void(SQLite::Statement&)>& write_batch)
{
    try {
        if (failed_) // a batch half-written: only a rollback may follow
            throw std::runtime_error("an earlier batch of this import failed");
        if (!transaction_) {
            lock_.lock();
            transaction_.emplace(store_.db_);
        }
        if (!statement)
            statement.emplace(store_.db_, sql);
        write_batch(*statement);
        return Done{};
    } catch (const std::exception& e) {
        failed_ = true;
        return storage_error(e, what, "commands");
    }
}

Result<Done> EpleImportWriter::add(std::span<const Etablissement> batch)
{
    constexpr auto sql = R"sql(
INSERT INTO eple_etablissements (uai, nom, commune, type, academie, vague, uai_agence_comptable)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (uai) DO UPDATE SET nom = excluded.nom, commune = excluded.commune,
    type = excluded.type, academie = excluded.academie, vague = excluded.vague,
    uai_agence_comptable = excluded.uai_agence_comptable
)sql";
    return write(etablissement_insert_, sql, "enregistrement des établissements",
                 [batch](SQLite::Statement& insert) {
                     for (const auto& e : batch) {
                         SQLite::bind(insert, e.uai, e.nom, e.commune, e.type, e.academie, e.vague,
                                      e.uai_agence_comptable);
                         insert.exec();
                         insert.reset();
                     }
                 });
}

Result<Done> EpleImportWriter::add(std::span<const Snapshot> batch)
{
    constexpr auto sql = R"sql(
INSERT OR REPLACE INTO eple_indicateurs (uai, date, kit_taux, budget_integre, budget_saisie,
    paiements, ej, titres_recettes, prelevements)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
)sql";
    return write(snapshot_insert_, sql, "enregistrement des indicateurs",
                 [batch](SQLite::Statement& insert) {
                     for (const auto& s : batch) {
                         SQLite::bind(insert, s.uai, iso_date(s.date), s.kit_taux, s.budget_integre,
                                      s.budget_saisie == BudgetSaisie::gfc ? "GFC" : "OPALE",
                                      s.paiements, s.ej, s.titres_recettes,
                                      s.prelevements.value_or(false));
                         if (!s.budget_saisie)
                             insert.bind(5); // unknown: NULL
                         if (!s.prelevements)
                             insert.bind(9);
                         insert.exec();
                         insert.reset();
                     }
                 });
}

Result<Done> EpleImportWriter::commit()
{
    try {
        if (failed_)
            throw std::runtime_error("an earlier batch of this import failed");
        if (transaction_)
            transaction_->commit();
        return Done{};
    } catch (const std::exception& e) {
        return storage_error(e, "enregistrement de l'import", "commands");
    }
}

} // namespace opalebot::commands
