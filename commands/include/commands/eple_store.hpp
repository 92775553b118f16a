#pragma once

#include "opalebot/result.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// Where an EPLE entered its budget (issue 5: `budget_saisie`, GFC or OPALE).
enum class BudgetSaisie { gfc, opale };

/// One line of the EPLE referential (issue 5, `etablissements` file).
struct Etablissement {
    std::string uai; ///< "0020013D", upper case
    std::string nom;
    std::string commune;              ///< may be empty
    std::string type;                 ///< "Collège", "LP"…; may be empty
    std::string academie;             ///< may be empty
    int vague = 0;                    ///< 1 to 9
    std::string uai_agence_comptable; ///< empty when not given
};

/// The indicators of one EPLE on one day. A new day is a new snapshot: history is kept.
struct Snapshot {
    std::string uai;
    std::chrono::year_month_day date{};
    double kit_taux = 0; ///< share of the kit de bascule's actions finished, 0 to 100
    bool budget_integre = false;
    std::optional<BudgetSaisie> budget_saisie; ///< unknown when the file does not say
    int paiements = 0;
    int ej = 0;
    int titres_recettes = 0;
    std::optional<bool> prelevements; ///< unknown when the file does not say
};

/// An EPLE with its two most recent snapshots, for the status and the trend.
struct EpleStatus {
    Etablissement etablissement;
    std::optional<Snapshot> latest;
    std::optional<Snapshot> previous;
};

/// The EPLE referential and its indicator history, in tables prefixed `eple_` of the bot's state
/// file (component "eple" of its schema versions). Every call is serialised; every write is one
/// transaction, so a failed write leaves the tables as they were.
class EpleStore {
public:
    /// Creates or migrates its tables in `state`; throws on failure, which stops start-up.
    explicit EpleStore(StateDatabase& state);

    /// Adds the EPLE, or updates those whose UAI is already known; all or none.
    Result<Done> save_etablissements(const std::vector<Etablissement>& etablissements);

    /// Adds the snapshots; one for an UAI and a day already stored replaces it. All or none.
    Result<Done> save_snapshots(const std::vector<Snapshot>& snapshots);

    /// The whole referential, by UAI.
    Result<std::vector<Etablissement>> etablissements();

    /// Calls `visit` with each UAI of the referential, one at a time, by UAI.
    Result<Done> for_each_uai(const std::function<void(const std::string&)>& visit);

    /// One EPLE with its last two snapshots, or nothing when the UAI is unknown.
    Result<std::optional<EpleStatus>> status(std::string_view uai);

    /// Every EPLE (of one wave, if given) with its last two snapshots, by wave, then name.
    Result<std::vector<EpleStatus>> statuses(std::optional<int> vague = std::nullopt);

    /// Every snapshot of the EPLE of wave `vague`, oldest day first, then by UAI (the charts).
    Result<std::vector<Snapshot>> history(int vague);

    /// The number of EPLE of each wave that has any.
    Result<std::map<int, int>> count_by_wave();

    /// The number of snapshots stored, all days together.
    Result<std::int64_t> snapshot_count();

private:
    friend class EpleImportWriter;
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
};

/// The writes of one import, batch by batch, in one transaction (issue 15): begun by the first
/// batch, it holds the store's lock until commit() or until the writer is destroyed, which rolls
/// it back. Each statement is prepared once and reused.
class EpleImportWriter {
public:
    explicit EpleImportWriter(EpleStore& store)
        : store_(store), lock_(store.mutex_, std::defer_lock)
    {}

    /// Adds the EPLE, or updates those whose UAI is already known.
    Result<Done> add(std::span<const Etablissement> batch);

    /// Adds the snapshots; one for an UAI and a day already stored replaces it.
    Result<Done> add(std::span<const Snapshot> batch);

    /// Makes every batch written so far permanent (nothing to do when none was); refused once a
    /// batch has failed.
    Result<Done> commit();

private:
    /// Begins the transaction if need be, prepares `statement` from `sql` if need be, then runs
    /// `write_batch` with it; `what` names the write in an error.
    Result<Done> write(std::optional<SQLite::Statement>& statement, const char* sql,
                       std::string_view what,
                       const std::function<void(SQLite::Statement&)>& write_batch);

    EpleStore& store_;
    std::unique_lock<std::recursive_mutex> lock_;    // released last
    std::optional<SQLite::Transaction> transaction_; // rolls back unless committed
    std::optional<SQLite::Statement> etablissement_insert_;
    std::optional<SQLite::Statement> snapshot_insert_;
    bool failed_ = false; ///< a batch failed: it may be half-written, never commit
};

} // namespace opalebot::commands
