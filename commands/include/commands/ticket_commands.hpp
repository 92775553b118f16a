#pragma once

#include "commands/registry.hpp"
#include "commands/ticket_backend.hpp"
#include "commands/ticket_dialogue.hpp"

#include <functional>
#include <optional>

namespace opalebot::commands {

struct TicketCommandOptions {
    std::function<TimePoint()> clock = std::chrono::system_clock::now;
};

/// Registers `!ticket` (nouveau [clé=valeur…] | R-000123 | R-000123 statut <statut> "texte")
/// and `!tickets` (the sender's open ones | stats [du JJ/MM/AAAA] [au JJ/MM/AAAA]) (issue 4).
/// A ticket is shown to its requester and to support staff only: it holds personal data.
/// Dialogues are keyed by `Message::room`: the caller puts the thread in it when there is one.
/// `backend` and `dialogues` must outlive the registry.
void add_ticket_commands(Registry& registry, TicketBackend& backend, TicketDialogues& dialogues,
                         TicketCommandOptions options = {});

/// The dialogue's reply when `message` answers an open ticket dialogue of its sender in its room,
/// nothing otherwise (then the message is ordinary chat). "✅" counts as oui, "❌" as non. Call it
/// for every message that is not a command, before the free-text handler.
std::optional<Reply> answer_ticket_dialogue(TicketDialogues& dialogues, const Message& message);

} // namespace opalebot::commands
