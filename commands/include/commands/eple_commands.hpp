#pragma once

#include "commands/eple_import.hpp"
#include "commands/eple_store.hpp"
#include "commands/french_format.hpp" // format_percent, format_rate, format_date
#include "commands/registry.hpp"

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// Where `!eple` reads an EPLE's open tickets; `main` implements it once a ticket backend exists.
class TicketSource {
public:
    virtual ~TicketSource() = default;
    /// The open tickets of the EPLE `uai`, or nothing when the backend cannot tell.
    virtual std::optional<int> open_tickets(std::string_view uai) = 0;
};

/// When an EPLE is to be accompanied: "au croisement de ces 4 indicateurs" (comité de suivi of
/// 19/02/2024). Each indicator under its threshold is a signal.
struct DifficultyRule {
    double kit_below = 10.0; ///< kit de bascule rate (%) strictly under this
    int paiements_below = 1; ///< fewer payments than this (1: none)
    int ej_below = 1;        ///< fewer engagements juridiques than this
    int titres_below = 1;    ///< fewer titres de recettes than this
    int signals_needed = 2;  ///< signals that make an EPLE one to accompany
};

/// The indicators that put an EPLE among those to accompany, most telling first.
enum class DifficultySignal { kit_low, no_paiement, no_ej, no_titre };

/// The signals `snapshot` raises under `rule`.
std::vector<DifficultySignal> difficulty_signals(const Snapshot& snapshot,
                                                 const DifficultyRule& rule);

/// True when `snapshot` raises at least `rule.signals_needed` signals.
bool to_accompany(const Snapshot& snapshot, const DifficultyRule& rule);

/// The comité's kit de bascule buckets; 10 and 30 belong to the middle one.
enum class KitBucket { more_than_30, from_10_to_30, less_than_10 };
KitBucket kit_bucket(double kit_taux);

/// One wave of the deployment calendar.
struct Wave {
    int number = 0;
    std::optional<std::string_view> start; ///< "01/2024"; nothing when not published
};

/// The calendar published at the comité de suivi of 22/01/2024 (waves 1 to 9).
const std::array<Wave, 9>& deployment_calendar();

/// What the EPLE commands need besides the store.
struct EpleOptions {
    DifficultyRule rule;
    /// When set, read at each command instead of `rule` (the configuration reloaded while the
    /// bot runs); called from the threads that run the commands.
    std::function<DifficultyRule()> current_rule;
    TicketSource* tickets = nullptr; ///< null: no ticket backend, tickets are not mentioned
    std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
};

/// Registers `!eple`, `!vague`, `!difficultes` and `!vagues` for members of the salon (issue 5).
/// `store` (and `options.tickets`, if any) must outlive the registry.
void add_eple_commands(Registry& registry, EpleStore& store, EpleOptions options = {});

/// Registers `!import etablissements|indicateurs` for admins: the CSV is the message's
/// attachment (a file sent with the command as its caption, or the file the command replies to).
/// `on_refused` hears of each import refused or failed (the admins' alerts).
void add_eple_import_command(Registry& registry, EpleStore& store,
                             std::function<void(const ImportReport&)> on_refused = {});

} // namespace opalebot::commands
