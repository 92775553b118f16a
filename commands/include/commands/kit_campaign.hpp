#pragma once

#include "commands/eple_store.hpp"
#include "commands/registry.hpp"
#include "commands/reminder_time.hpp"
#include "commands/user_profile_store.hpp"
#include "opalebot/result.hpp"
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

/// A kit de bascule campaign, from one French phrase (issue 6), the same in the config and in
/// `!campagne kit …`: "chaque lundi 9h seuil 80 % retard 15 jours".
struct CampaignSpec {
    Schedule schedule;               ///< recurring only
    bool skip_holidays = false;      ///< "hors fériés" after the time
    std::optional<double> threshold; ///< "seuil 80 %": a kit rate below it is late
    std::optional<int> stale_days;   ///< "retard 15 jours": no progress for longer is late
    std::string phrase;              ///< as given, trimmed
};

/// The spec in `phrase`, or an error whose message is the French reason, with an example.
Result<CampaignSpec> parse_campaign(std::string_view phrase);

/// One message of a campaign occurrence: a reminder for one late EPLE sent to one linked user by
/// direct message, or the admins' report in the room the campaign was started from.
struct CampaignMessage {
    enum class Kind { eple, report };
    Kind kind = Kind::eple;
    Instant occurrence;
    /// The report's conversation ("!r" or "!r|$t"); empty for a direct message. (Reminders
    /// claimed before direct messages existed were posted in the room, mentions included.)
    std::string room;
    std::string uai;                   ///< empty for the report
    std::vector<std::string> mentions; ///< only on those older reminders
    std::string direct_to;             ///< the user a direct message goes to
    std::string markdown;
    /// The txn id: "campagne-kit-<unix>-<UAI>-<user's hash>" (a repeat adds "-r<n>"), or
    /// "campagne-kit-<unix>-rapport".
    std::string delivery_key;
};

/// What a ✅ on a campaign's direct message did.
enum class CampaignAcknowledgement { noted, already_noted };

/// The campaign as stored.
struct CampaignState {
    CampaignSpec spec;
    std::string room;
    std::string started_by; ///< a user, or "configuration"
    std::optional<Instant> next_run;
    bool from_config = false;
};

struct KitCampaignOptions {
    std::string zone{default_zone};
    std::chrono::seconds grace{std::chrono::hours{1}}; ///< later than this after downtime: skipped
    /// The kit's address (comité de suivi HDF, 19/02/2024; knowledge entry kit-bascule).
    std::string kit_url{"https://kit-bascule-opale.in.forge.education.gouv.fr/login_page.php"};
    std::string prefix{"!"};
    /// A direct message without ✅ is repeated this long after the last one (never on a Saturday
    /// or a Sunday), at most max_repeats times, while the EPLE is still late and until the next
    /// occurrence.
    std::chrono::hours repeat_after{24};
    int max_repeats = 2;
};

/// The kit campaign and its ledgers, tables `campaign_*` of the shared state file. Each linked
/// user of a late EPLE gets a direct message; the room the campaign was started from gets only
/// the admins' report. The ledgers are unique per (occurrence, UAI, user) and (occurrence,
/// report): each is sent once per occurrence, even across restarts (claim before send, as the
/// reminder store); a ✅ stops its repeats. Thread-safe.
class KitCampaign {
public:
    /// Creates or migrates its tables in `state`. Throws on a start-up failure.
    KitCampaign(StateDatabase& state, EpleStore& eple, UserProfileStore& profiles,
                KitCampaignOptions options = {});

    /// Starts (or replaces) the campaign, run from `room`; its first run is after `now`.
    Result<CampaignState> start(const CampaignSpec& spec, const std::string& room,
                                const std::string& started_by, Instant now,
                                bool from_config = false);

    /// The config's phrase: applied unless an admin started or stopped a campaign by command
    /// since (the command wins over the file). False when the stored one was kept.
    Result<bool> load_from_config(std::string_view phrase, const std::string& room, Instant now);

    /// `!campagne kit arrêter`; false when none was running.
    Result<bool> stop();

    /// The running campaign, if any.
    Result<std::optional<CampaignState>> current();

    /// What a run at `now` would send (`!campagne kit essai`), without claiming anything.
    Result<std::vector<CampaignMessage>> preview(Instant now);

    /// Claims the due occurrence, if any: writes its messages to the ledger (each at most once)
    /// and moves the campaign to its next run, in one transaction. Send them, then mark_sent().
    Result<std::vector<CampaignMessage>> due(Instant now);

    /// Claimed messages not yet marked sent (a crash in between): resend them, same key.
    Result<std::vector<CampaignMessage>> unsent();

    /// Marks a claimed message as sent (queued in the outbox).
    Result<Done> mark_sent(const std::string& delivery_key);

    /// Direct messages still unsent a day after they were claimed (their room could not be
    /// opened, or encryption is off): given up, so that they are not retried for ever. Their
    /// number.
    Result<int> give_up_undelivered(Instant now);

    /// ✅ by `user` on the direct message sent with txn id `delivery_key` (or one of its
    /// repeats): that reminder is not repeated. Nothing when it is no campaign message of theirs.
    Result<std::optional<CampaignAcknowledgement>>
    acknowledge(const std::string& delivery_key, const std::string& user, Instant now);

private:
    std::vector<CampaignMessage> evaluate(const CampaignState& state, Instant occurrence,
                                          Instant now, const std::string& last_time = {});
    /// Repeats of the direct messages not acknowledged, claimed in the caller's transaction.
    std::vector<CampaignMessage> claim_repeats(const CampaignState& state, Instant now);
    /// "Relance précédente : …", the acknowledgements of the occurrence before `occurrence`.
    std::string acknowledgements_before(Instant occurrence);
    std::optional<CampaignState> read_locked();

    EpleStore& eple_;
    UserProfileStore& profiles_;
    KitCampaignOptions options_;
    SQLite::Database& db_;
    std::recursive_mutex& mutex_;
};

/// Registers `!campagne kit [<phrase> | arrêter | essai]` (admins). `clock` gives now.
void add_campaign_commands(Registry& registry, KitCampaign& campaign,
                           std::function<Instant()> clock = {});

} // namespace opalebot::commands
