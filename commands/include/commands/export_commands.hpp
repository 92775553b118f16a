#pragma once

#include "commands/eple_commands.hpp"
#include "commands/eple_store.hpp"
#include "commands/registry.hpp"
#include "commands/ticket_backend.hpp"

#include <string>
#include <vector>

namespace opalebot::commands {

/// The CSV of a wave: one row per EPLE with its latest indicators (empty cells when none were
/// imported) and whether it is to accompany under `rule`.
std::string wave_csv(const std::vector<EpleStatus>& statuses, const DifficultyRule& rule);

/// The CSV of tickets, oldest first; times in Europe/Paris.
std::string tickets_csv(std::vector<Ticket> tickets);

/// Registers `!export vague N` (members, as `!vague`) and `!export tickets [du JJ/MM/AAAA]
/// [au JJ/MM/AAAA]` (support, as `!tickets stats`): a short text and a CSV file for
/// spreadsheets (commands/csv_writer.hpp). The stores must outlive the registry; the command
/// waits on `tickets` (it may be iTop).
void add_export_commands(Registry& registry, EpleStore& eple, TicketBackend& tickets,
                         EpleOptions options = {});

} // namespace opalebot::commands
