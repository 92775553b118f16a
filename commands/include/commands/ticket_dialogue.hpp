#pragma once

#include "commands/ticket_backend.hpp"
#include "commands/ticket_fields.hpp"
#include "opalebot/state_database.hpp"

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// Where a dialogue stands.
enum class DialogueStage {
    collecting,         ///< asking for the missing fields, one at a time
    confirming_service, ///< SI2C or DRASI proposed, waiting for the user to confirm or change it
    confirming,         ///< summary card shown, waiting for oui / non
};

/// A ticket being prepared by one user in one room (or thread).
struct Dialogue {
    std::string user;
    std::string room; ///< the key the caller chose: room id, or room id and thread root
    TicketFields fields;
    DialogueStage stage = DialogueStage::collecting;
    std::optional<Field> asking;     ///< the field asked, while collecting
    std::optional<Service> proposed; ///< while confirming the service
    std::string idempotency_key;     ///< the same for every attempt to create this ticket
    TimePoint last_activity;
};

struct DialogueOptions {
    std::size_t max_attachments = 5;                     ///< per ticket
    std::size_t max_attachment_bytes = 10 * 1024 * 1024; ///< per file
    std::chrono::minutes idle_timeout{30}; ///< a dialogue idle longer expires (issue 4)
    std::function<TimePoint()> clock = std::chrono::system_clock::now;
    EpleFinder find_eple;                 ///< the EPLE referential; empty: UAI only
    std::function<std::string()> new_key; ///< idempotency keys; empty: 128 random bits in hex
    /// Called with each ticket created (e.g. TicketFollowUp::watch); a throw is logged only.
    std::function<void(const Ticket&)> on_created;
};

/// A dialogue that expired, and the message to send to its room.
struct ExpiredDialogue {
    std::string user;
    std::string room;
    std::string markdown;
};

/// The guided ticket dialogues (issue 4), stored in table `ticket_dialogues` so that they
/// survive a restart. At most one per user and room. Replies are French Markdown.
class TicketDialogues {
public:
    /// Creates or migrates its tables in `state`. Throws on failure.
    TicketDialogues(StateDatabase& state, TicketBackend& backend, DialogueOptions options = {});

    /// `!ticket nouveau [key=value…]`: starts a dialogue with what the one-line form gave, and
    /// asks for the first missing field. An open dialogue in the room is shown again instead.
    std::string start(std::string_view user, std::string_view room, std::string_view form);

    /// True when `user` has a dialogue in `room` that has not expired.
    bool is_open(std::string_view user, std::string_view room);

    /// Feeds an answer ("oui"/"non" for ✅/❌); nothing when `user` has no dialogue in `room`.
    /// An expired dialogue is removed and its expiry message returned.
    std::optional<std::string> answer(std::string_view user, std::string_view room,
                                      std::string_view text);

    /// Keeps a file (a screenshot sent in the thread) for the ticket of `user`'s open dialogue in
    /// `room`. The reply, or nothing when there is no open dialogue there.
    std::optional<std::string> add_attachment(std::string_view user, std::string_view room,
                                              const Attachment& attachment);

    /// The files kept for the dialogue, in the order they came.
    std::vector<Attachment> attachments(std::string_view user, std::string_view room);

    /// Removes the dialogues idle for longer than the timeout; the caller sends the messages.
    std::vector<ExpiredDialogue> expire_idle();

    /// The stored dialogue, for tests and diagnostics.
    std::optional<Dialogue> get(std::string_view user, std::string_view room);

private:
    void save(const Dialogue& dialogue);
    void remove(std::string_view user, std::string_view room);
    std::string advance(Dialogue& dialogue);
    /// Creates the ticket; `lock` (held) is released while the backend works.
    std::string confirm(Dialogue& dialogue, std::unique_lock<std::recursive_mutex>& lock);
    std::string expiry_message() const;
    bool expired(const Dialogue& dialogue) const;

    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
    TicketBackend& backend_;
    DialogueOptions options_;
};

} // namespace opalebot::commands
