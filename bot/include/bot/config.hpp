#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace opalebot::bot {

/// How the bot replies to a question: in a thread (rooted at the question, or the question's
/// own thread) or as a rich reply.
enum class ReplyMode { thread, reply };

/// Where tickets are filed (issue 4): the built-in SQLite store or iTop.
enum class TicketBackendKind { interne, itop };

/// The running bot's settings (`opale-bot run --config FILE`); see deploy/config.example.yaml.
/// A new key must also be sorted in config_reload.cpp: applied on SIGHUP, or after a restart.
struct Config {
    std::string homeserver_url; ///< "https://matrix.agent.education.tchap.gouv.fr"

    std::string user_id;      ///< "@opale-bot-ac-lille.fr:agent.education.tchap.gouv.fr"
    std::string email;        ///< log in with m.id.thirdparty first (Tchap)
    std::string password;     ///< or env OPALEBOT_PASSWORD
    std::string access_token; ///< or env OPALEBOT_ACCESS_TOKEN
    std::string device_name = "opale-bot";

    std::string database = "opale-bot.db";
    /// state.sauvegarde_quotidienne: a copy of the state file each day, taken while the bot runs.
    struct DailyBackup {
        std::string folder; ///< dossier; empty: no daily backup
        int keep = 7;       ///< garder: the newest ones kept, older ones deleted
        std::chrono::minutes time_of_day{2 * 60 + 30}; ///< heure "HH:MM", Paris time
        bool operator==(const DailyBackup&) const = default;
    } daily_backup;
    /// Seals the crypto state (issue 7): from encryption.pickle_key_file or env
    /// OPALEBOT_PICKLE_KEY; empty: end-to-end encryption off, encrypted salons ignored.
    std::string pickle_key;
    bool only_cross_signed_devices = false; ///< room keys only for cross-signed devices
    /// How long an encrypted message waits for its key before its sender is told (§8.5.16).
    std::chrono::seconds undecryptable_after{60};
    std::string knowledge_dir; ///< empty: the built-in default

    std::vector<std::string> allowed_rooms; ///< room ids the bot joins and acts in
    std::vector<std::string> inviters;      ///< "@user:hs" or ":hs" whose invites are accepted

    std::vector<std::string> admins;
    std::vector<std::string> support;
    int admin_power_level = 100; ///< room power level that makes an admin (0: never)
    int support_power_level = 50;
    /// The rooms where a power level gives a role (roles.power_level_rooms); empty: those of
    /// rooms.allowed. Elsewhere (a room someone made and invited the bot to) only the lists do:
    /// the rights are the bot's, not the room's.
    std::vector<std::string> power_level_rooms;
    /// alertes.salon: the admins' room, told when something needs a person (a changed
    /// encryption identity, an event set aside); empty: the log only.
    std::string alerts_room;

    ReplyMode reply_mode = ReplyMode::thread;
    bool answer_without_mention = false; ///< answer clear questions nobody addressed to the bot
    double answer_without_mention_min_score = 0.75;
    bool ignore_bots = true;
    /// Answers are m.text, so that the asker's client notifies them (an m.notice never does,
    /// ".m.rule.suppress_notices"); false: m.notice, silent.
    bool notify_asker = true;
    std::vector<std::string> bots; ///< other bots' user ids, never answered
    std::string command_prefix = "!";
    std::chrono::seconds max_backlog_age{600};
    int question_retention_days = 90;

    /// When an EPLE is to be accompanied (issue 5): at least `signals_needed` of kit rate under
    /// `kit_below` %, fewer payments / EJ / titres de recettes than the thresholds.
    struct Difficulty {
        double kit_below = 10.0;
        int paiements_below = 1;
        int ej_below = 1;
        int titres_below = 1;
        int signals_needed = 2;
        bool operator==(const Difficulty&) const = default;
    } difficulty;

    /// The kit-de-bascule campaign (issue 6): the same French phrase as `!campagne kit …`,
    /// checked by the commands module at start; where its messages go.
    struct KitCampaign {
        std::string phrase; ///< "chaque lundi 9h seuil 80 % retard 15 jours"; empty: none
        std::string room;   ///< "!room:server"
        int line = 0;       ///< where the phrase is, for a located error
        int column = 0;
    } kit_campaign;

    /// The weekly digest (issue 17, `rapports.hebdo`): when ("chaque lundi 8h30", checked by the
    /// commands module at start), where, and which waves (every wave with EPLE when empty).
    struct WeeklyDigest {
        std::string phrase; ///< empty: no digest
        std::vector<std::string> rooms;
        std::vector<int> waves;
        int line = 0; ///< where the phrase is, for a located error
        int column = 0;
    } weekly_digest;

    /// What a member (not admin or support) may set with `!rappel` (issue 15): a repeating
    /// reminder at most every `min_interval_minutes`, and `max_per_user` active ones.
    struct ReminderLimits {
        int min_interval_minutes = 60;
        int max_per_user = 20;
        bool operator==(const ReminderLimits&) const = default;
    } reminder_limits;

    /// Tickets (issue 4): backend, iTop account, follow-up polling, dialogue expiry.
    struct Tickets {
        TicketBackendKind backend = TicketBackendKind::interne;
        struct Itop {
            std::string url;      ///< iTop root: "https://assistance.ac-lille.fr/itop"
            std::string user;     ///< REST account
            std::string password; ///< or env OPALEBOT_ITOP_PASSWORD
            std::string token;    ///< or env OPALEBOT_ITOP_TOKEN (iTop 3.1+)
            /// Matrix id → email, for users whose Tchap id does not give their address.
            std::map<std::string, std::string> emails;
            std::chrono::seconds timeout{30};
            std::string time_zone = "Europe/Paris"; ///< iTop's own (fuseau): its dates are in it
            std::string ticket_link; ///< lien_ticket: "{url}", "{id}"; empty: the user portal
            std::string service = "op@le";
            /// triage.SI2C / triage.DRASI: what an agent needs to assign the ticket.
            struct Triage {
                std::string team;         ///< equipe
                std::string subcategory;  ///< sous_categorie
                std::string request_type; ///< type: incident | service_request
                int urgency = 3;          ///< urgence 1 (critique) … 4 (basse)
                int impact = 3;           ///< impact 1 (département) … 3 (personne)
                bool operator==(const Triage&) const = default;
            };
            Triage si2c{"SI2C", {}, "service_request"};
            Triage drasi{"DRASI", {}, "incident"};
        } itop;
        std::chrono::minutes follow_up_interval{5}; ///< tickets.suivi_minutes
        std::chrono::minutes dialogue_idle{30};     ///< tickets.dialogue_inactif_minutes
    } tickets;

    double requests_per_second = 1.0; ///< outgoing budget, sustained
    int burst = 5;
    std::chrono::seconds sync_timeout{30};

    /// metrics.ecoute: where `opale-bot run` serves /metrics and /sante (issue 16). Loopback
    /// unless metrics.ecoute_hors_boucle_locale says otherwise.
    struct Metrics {
        std::string host; ///< an IP address: "127.0.0.1", "::1"; empty: no metrics server
        int port = 0;
        bool operator==(const Metrics&) const = default;
    } metrics;
};

/// One thing wrong with a config file, located for the person who wrote it.
struct ConfigProblem {
    std::string path; ///< "account.password"
    int line = 0;     ///< 1-based; 0 when the key is missing
    int column = 0;
    std::string message; ///< French
};

struct ConfigLoad {
    Config config;
    std::vector<ConfigProblem> problems; ///< empty when the config can be used
};

/// Reads and checks a YAML config; secrets may come from the environment (OPALEBOT_PASSWORD,
/// OPALEBOT_ACCESS_TOKEN, OPALEBOT_ITOP_PASSWORD, OPALEBOT_ITOP_TOKEN). Reports every problem at
/// once, never throws.
ConfigLoad load_config(const std::string& file);

/// The same, from text (tests); `file` only names it in messages.
ConfigLoad parse_config(const std::string& text, const std::string& file);

/// Reads the file encryption.pickle_key_file names: its bytes, or nothing when it is unreadable.
using KeyFileReader = std::function<std::optional<std::string>(const std::string& path)>;

/// The same, the key file read by `read_key_file` (the fuzz target reads no file the text names).
ConfigLoad parse_config(const std::string& text, const std::string& file,
                        const KeyFileReader& read_key_file);

/// "file:line:column: path: message", one per line.
std::string format_problems(const std::string& file, const std::vector<ConfigProblem>& problems);

} // namespace opalebot::bot
