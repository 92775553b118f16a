// opale-bot: the composition root, the only file that sees every module (notes/style.md §3).
#include "bot/config.hpp"
#include "bot/config_reload.hpp"
#include "bot/console.hpp"
#include "bot/crypto/engine.hpp"
#include "bot/crypto_coordinator.hpp"
#include "bot/curl_http_client.hpp"
#include "bot/direct_chats.hpp"
#include "bot/markdown.hpp"
#include "bot/matrix_client.hpp"
#include "bot/metrics_server.hpp"
#include "bot/sender.hpp"
#include "bot/service_notifier.hpp"
#include "bot/session.hpp"
#include "bot/state_backup.hpp"
#include "bot/state_store.hpp"
#include "bot/sync_loop.hpp"
#include "commands/builtin.hpp"
#include "commands/document_shelf.hpp"
#include "commands/eple_commands.hpp"
#include "commands/eple_import.hpp"
#include "commands/kit_campaign.hpp"
#include "commands/reminder_store.hpp"
#include "commands/ticket_dialogue.hpp"
#include "commands/ticket_follow_up.hpp"
#include "commands/ticket_store.hpp"
#include "commands/user_profile_store.hpp"
#include "commands/weekly_digest.hpp"
#include "knowledge/analyzer.hpp"
#include "knowledge/answerer.hpp"
#include "knowledge/index.hpp"
#include "knowledge/knowledge_base.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "conversations.hpp"
#include "itop_ticket_backend.hpp"
#include <date/tz.h>
#include <malloc.h>
#include <sqlite3.h>

namespace {

using namespace opalebot;

std::filesystem::path default_kb_dir()
{
    if (const char* dir = std::getenv("OPALEBOT_KB"); dir != nullptr && *dir != '\0')
        return dir;
    // The build tree's base, else the Debian package's (the binary installed elsewhere).
    std::error_code error;
    if (std::filesystem::is_directory(OPALEBOT_DEFAULT_KB, error))
        return OPALEBOT_DEFAULT_KB;
    return "/usr/share/opale-bot/knowledge";
}

/// The folder of the documents added from the salon: beside the state file, since it is state
/// the bot writes (/var/lib/opale-bot/documents), never in the curated base.
std::filesystem::path salon_documents_folder(const std::string& db_path)
{
    return std::filesystem::path{db_path}.parent_path() / "documents";
}

/// Loads the base for serving, with the salon's documents when `salon_documents` is given: bad
/// files are logged and skipped, never fatal.
knowledge::KnowledgeBase load_for_serving(const std::filesystem::path& dir,
                                          const std::filesystem::path& salon_documents = {})
{
    auto base = commands::load_served_base(dir, salon_documents);
    const auto logger = log::get("knowledge");
    for (const auto& p : base.problems)
        logger->warn("{}:{}: {}{}", p.file, p.line, p.is_error ? "ignoré : " : "", p.message);
    logger->info("{} entries, {} acronyms and {} documents loaded from {}", base.entries.size(),
                 base.glossary.all().size(), base.documents.size(), dir.string());
    return base;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class StoredStats final : public commands::StatsSource {
public:
    explicit StoredStats(bot::StateStore& store) : store_(store) {}
    std::optional<commands::KnowledgeStats> knowledge_stats(int days) override
    {
        const auto figures = store_.kb_stats(unix_now() - std::int64_t{days} * 86'400, 0.6);
        if (!figures) {
            log::get("main")->error("statistics unavailable: {}", figures.error().message);
            return std::nullopt;
        }
        commands::KnowledgeStats stats;
        stats.questions = figures.value().questions;
        stats.answered = figures.value().answered;
        for (const auto& e : figures.value().entries)
            stats.entries.push_back({e.entry_id, e.asked, e.up, e.down});
        for (const auto& q : figures.value().unanswered)
            stats.unanswered.push_back(
                {q.question, q.kind, q.score, q.asked_at, q.id, q.entry_id, q.disliked});
        return stats;
    }
    std::optional<std::string> question_text(long long number) override
    {
        auto text = store_.question_text(number);
        if (!text) {
            log::get("main")->error("question not read: {}", text.error().message);
            return std::nullopt;
        }
        return std::move(text).value();
    }
    bool link_question(const std::string& entry_id, const std::string& question) override
    {
        const auto linked = store_.link_question({entry_id, question}, unix_now());
        if (!linked)
            log::get("main")->error("question not linked: {}", linked.error().message);
        return static_cast<bool>(linked);
    }

private:
    bot::StateStore& store_;
};

commands::Instant now_in_seconds()
{
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

bot::ItopSettings itop_settings_of(const bot::Config& config)
{
    const auto& itop = config.tickets.itop;
    return {itop.url, itop.user, itop.password, itop.token, "Créé par opale-bot", itop.timeout};
}

app::ItopBackendOptions itop_options_of(const bot::Config& config)
{
    const auto& itop = config.tickets.itop;
    app::ItopBackendOptions options;
    options.emails.insert(itop.emails.begin(), itop.emails.end());
    options.itop_url = itop.url;
    options.ticket_link = itop.ticket_link;
    options.zone = date::locate_zone(itop.time_zone); // checked by load_config
    options.service = itop.service;
    for (auto [from, to] :
         {std::pair{&itop.si2c, &options.si2c}, std::pair{&itop.drasi, &options.drasi}})
        *to = {from->team, from->subcategory, from->request_type, std::to_string(from->urgency),
               std::to_string(from->impact)};
    return options;
}

/// What the admins are told and shown (alertes.salon, `!statut`); none in the console.
struct Watch {
    bot::Alerts* alerts = nullptr;
    bot::ServiceHealth* itop = nullptr;       ///< iTop's calls, when tickets go there
    bot::ServiceHealth* homeserver = nullptr; ///< the sync loop's /sync calls
};

/// Builds the stores of the state file (config.database), the ticket backend and the
/// conversations over them, then runs `mode` (the Matrix bot or the console) with them: both
/// modes get the same commands and rules.
template <class Mode>
int with_conversations(const bot::Config& config, StateDatabase& state, bot::StateStore& store,
                       knowledge::Answerer& answerer, const std::filesystem::path& kb_dir,
                       bot::HttpClient* http, Watch watch, Mode&& mode)
{
    StoredStats stats{store};
    // Questions admins linked to an entry (!kb lier) are learned again at every start.
    if (auto links = store.linked_questions()) {
        std::vector<std::pair<std::string, std::string>> questions;
        for (auto& link : links.value())
            questions.emplace_back(std::move(link.entry_id), std::move(link.question));
        answerer.learn(questions);
    } else {
        log::get("main")->error("linked questions not read: {}", links.error().message);
    }
    commands::EpleStore eple{state};
    commands::DocumentShelf shelf{state, salon_documents_folder(config.database)};
    // The weekly digest (issue 17): configured at each start from rapports.hebdo.
    commands::WeeklyDigestOptions digest_options;
    digest_options.rule = [rule = app::difficulty_rule_of(config)] { return rule; };
    commands::WeeklyDigest digest{state, eple, digest_options};
    std::optional<commands::DigestSpec> digest_spec;
    if (!config.weekly_digest.phrase.empty()) {
        auto parsed = commands::parse_digest_schedule(config.weekly_digest.phrase);
        if (!parsed) {
            std::cerr << "rapports.hebdo.quand (ligne " << config.weekly_digest.line << ", colonne "
                      << config.weekly_digest.column << ") : " << parsed.error().message << '\n';
            return 2;
        }
        digest_spec = std::move(parsed.value());
        digest_spec->rooms = config.weekly_digest.rooms;
        digest_spec->waves = config.weekly_digest.waves;
    }
    if (auto configured = digest.configure(digest_spec, now_in_seconds()); !configured)
        log::get("main")->error("weekly digest not configured: {}", configured.error().message);
    commands::EpleOptions eple_options;
    eple_options.rule = app::difficulty_rule_of(config);
    // Tickets (issue 4): the built-in store, or iTop when configured.
    commands::TicketStore builtin_tickets{state};
    std::optional<bot::ItopClient> itop_client;
    std::optional<app::ItopTicketBackend> itop_tickets;
    std::jthread itop_check; // joined before the client goes
    commands::TicketBackend* tickets = &builtin_tickets;
    commands::TicketSource* ticket_source = &builtin_tickets;
    if (config.tickets.backend == bot::TicketBackendKind::itop && http != nullptr) {
        itop_client.emplace(*http, itop_settings_of(config));
        itop_client->set_health(watch.itop);
        itop_tickets.emplace(*itop_client, state, itop_options_of(config));
        tickets = &*itop_tickets;
        ticket_source = &*itop_tickets;
        log::get("main")->info("tickets go to iTop at {}", config.tickets.itop.url);
        // A wrong password or a renamed team is told to the admins now, not on a user's ticket;
        // on a thread of its own, since iTop may take its whole timeout to answer.
        itop_check = std::jthread{[&client = *itop_client, options = itop_options_of(config)] {
            for (const auto& check : app::check_itop_online(client, options))
                if (check.ok)
                    log::get("main")->info("iTop: {}", check.text);
                else
                    log::get("main")->warn("iTop: {}", check.text);
        }};
    }
    eple_options.tickets = ticket_source; // !eple counts the EPLE's open tickets
    commands::TicketFollowUp follow_up{state, *tickets, {config.tickets.follow_up_interval}};
    commands::DialogueOptions dialogue_options;
    dialogue_options.find_eple = app::eple_finder(eple);
    dialogue_options.idle_timeout = config.tickets.dialogue_idle;
    dialogue_options.on_created = [&follow_up](const commands::Ticket& ticket) {
        if (auto watched = follow_up.watch(ticket); !watched)
            log::get("main")->error("ticket {} not followed: {}", ticket.ref,
                                    watched.error().message);
    };
    commands::TicketDialogues dialogues{state, *tickets, dialogue_options};

    // Reminders, the users' EPLE links and zones, the kit campaign (issue 6).
    commands::ReminderStore reminders{state};
    commands::UserProfileStore profiles{state};
    commands::ReminderOptions reminder_options;
    reminder_options.profiles = &profiles;
    reminder_options.member_min_interval =
        std::chrono::minutes{config.reminder_limits.min_interval_minutes};
    reminder_options.member_max_reminders = config.reminder_limits.max_per_user;
    commands::KitCampaignOptions campaign_options;
    campaign_options.prefix = config.command_prefix;
    commands::KitCampaign campaign{state, eple, profiles, campaign_options};
    // !statut (issue 16): read at each request, from the parts that know.
    const auto started = std::chrono::system_clock::now();
    const auto status = [&, started, itop_on = itop_tickets.has_value()] {
        const auto now = std::chrono::system_clock::now();
        app::StatusReport report;
        report.version = std::string{"opale-bot "} + OPALEBOT_VERSION;
        report.started = started;
        if (watch.homeserver != nullptr) {
            const auto seen = watch.homeserver->snapshot();
            report.homeserver = app::StatusReport::Homeserver{
                seen.last_success, seen.failures_in_a_row, seen.last_cause,
                std::chrono::milliseconds{config.sync_timeout}};
        }
        if (auto waiting = store.outgoing_count())
            report.waiting_messages = waiting.value();
        if (auto rooms = store.room_counts())
            std::tie(report.rooms, report.encrypted_rooms) = rooms.value();
        report.encryption_on = !config.pickle_key.empty();
        report.entries = answerer.entries().size();
        report.documents = answerer.documents().size();
        report.tickets.itop = itop_on;
        if (itop_on && watch.itop != nullptr) {
            const auto seen = watch.itop->snapshot();
            report.tickets.last_success = seen.last_success;
            report.tickets.last_failure = seen.last_failure;
            report.tickets.failures_in_a_row = seen.failures_in_a_row;
            report.tickets.last_cause = seen.last_cause;
        }
        const auto in_seconds = std::chrono::floor<std::chrono::seconds>(now);
        if (auto due = reminders.due(
                commands::Instant{in_seconds.time_since_epoch()} + std::chrono::hours{24}, 1000))
            report.reminders_next_24h = due.value().size();
        if (auto running = campaign.current();
            running && running.value() && running.value()->next_run)
            report.campaign_next_run = std::chrono::system_clock::time_point{
                running.value()->next_run->time_since_epoch()};
        report.problems = log::recent_problems(5);
        return report;
    };
    app::Conversations conversations{config,
                                     {answerer, kb_dir, &stats, eple, eple_options, *tickets,
                                      dialogues, follow_up, reminders, reminder_options, profiles,
                                      campaign, watch.alerts, status,
                                      // a reload changes the triage, not the client
                                      [&itop_tickets](const bot::Config& next) {
                                          if (itop_tickets)
                                              itop_tickets->set_triage(itop_options_of(next));
                                      },
                                      &shelf, &digest}};
    return mode(conversations, campaign);
}

/// Queues notices in the outbox (encrypted for encrypted rooms), where the sender sends them
/// after the replies. False when they could not be stored (logged), or when one goes to a
/// direct chat that is not ready yet (opened now, usable after the next sync).
bool queue_notices(const std::vector<app::Notice>& notices, bot::SyncLoop& loop,
                   bot::DirectChats& direct_chats)
{
    bot::SyncBatchWrites writes;
    for (const auto& n : notices) {
        bot::OutgoingMessage out;
        out.txn_id = n.txn_id;
        out.room_id = n.conversation.room_id;
        if (!n.direct_to.empty()) {
            auto room = direct_chats.room_for(n.direct_to);
            if (!room || !room.value())
                return false;
            out.room_id = *room.value();
        }
        if (!n.reaction.empty()) { // an acknowledgement, not a message
            out.event_type = "m.reaction";
            out.content =
                nlohmann::json{
                    {"m.relates_to",
                     {{"rel_type", "m.annotation"}, {"event_id", n.reply_to}, {"key", n.reaction}}}}
                    .dump();
        } else {
            out.content = bot::notice_content(n.markdown, n.mentions, n.conversation.thread_root,
                                              n.reply_to, n.style);
            // An answer to a message, as the sync loop's replies: a 👎 on it finds the question.
            out.source_event = n.reply_to;
            out.entry_id = n.entry_id;
        }
        out.priority = n.priority; // background work waits behind replies
        const auto text_txn_id = out.txn_id;
        const auto room_id = out.room_id; // the files follow the text there
        writes.outgoing.push_back(std::move(out));
        for (auto& file : loop.file_messages_for(room_id, n.files, n.conversation.thread_root,
                                                 n.reply_to, text_txn_id, n.priority, writes))
            writes.outgoing.push_back(std::move(file));
    }
    if (writes.outgoing.empty())
        return true;
    if (auto saved = loop.queue(std::move(writes)); !saved) {
        log::get("main")->error("{} notices not queued: {}", notices.size(), saved.error().message);
        return false;
    }
    return true;
}

int run_config_check(const std::string& file, bool online)
{
    const auto load = bot::load_config(file);
    if (!load.problems.empty()) {
        std::cout << bot::format_problems(file, load.problems) << load.problems.size()
                  << " problème(s) dans la configuration.\n";
        return EXIT_FAILURE;
    }
    std::cout << file << " : configuration valide (serveur " << load.config.homeserver_url
              << ", compte "
              << (load.config.user_id.empty() ? load.config.email : load.config.user_id) << ").\n";
    if (!online || load.config.tickets.backend != bot::TicketBackendKind::itop)
        return EXIT_SUCCESS;
    // --en-ligne: what a user's first ticket would find out otherwise
    const bot::CurlGlobal curl;
    bot::CurlHttpClient http;
    bot::ItopClient itop{http, itop_settings_of(load.config)};
    bool all_ok = true;
    std::cout << "iTop (" << load.config.tickets.itop.url << ") :\n";
    for (const auto& check : app::check_itop_online(itop, itop_options_of(load.config))) {
        std::cout << (check.ok ? "  ✓ " : "  ✗ ") << check.text << '\n';
        all_ok = all_ok && check.ok;
    }
    return all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/// GET /metrics and /sante on metrics.ecoute (issue 16); none when it is not set or cannot be
/// bound (logged: the salon's answers matter more than the figures).
std::unique_ptr<bot::MetricsServer> serve_metrics(const bot::Config& config)
{
    if (config.metrics.host.empty())
        return nullptr;
    auto started = bot::MetricsServer::start(
        config.metrics.host, config.metrics.port, metrics::process_registry(),
        bot::sync_health_check(metrics::bot_metrics().last_sync, config.sync_timeout));
    if (!started) {
        log::get("main")->error("metrics not served: {}", started.error().message);
        return nullptr;
    }
    log::get("main")->info("metrics served on {}:{} (/metrics, /sante)", config.metrics.host,
                           started.value()->port());
    return std::move(started).value();
}

// Configuration reload (SIGHUP, issue 16). The main thread reads and checks the file; the sync
// thread applies it between two syncs, where it reads the configuration most and no message is
// being handled: the SyncLoop and its Addressing switch to the new Config (a shared_ptr they
// keep alive), the Conversations swap their snapshot under a mutex (the backend thread reads it
// once per job, so a job never sees half of each), the iTop triage is set under its own lock,
// and the knowledge base is reloaded on the thread that answers questions, as `!kb recharger`
// is. No Config is ever changed in place: whoever still reads the old one reads it whole.

/// The configuration the main thread read, until the sync thread takes it.
class PendingReload {
public:
    /// The latest wins; its report adds to one not taken yet.
    void put(std::shared_ptr<const bot::Config> config, std::string report)
    {
        const std::lock_guard lock{mutex_};
        config_ = std::move(config);
        report_ += (report_.empty() ? "" : " ; puis ") + report;
    }
    std::optional<std::pair<std::shared_ptr<const bot::Config>, std::string>> take()
    {
        const std::lock_guard lock{mutex_};
        if (!config_)
            return std::nullopt;
        return std::pair{std::exchange(config_, nullptr), std::exchange(report_, {})};
    }

private:
    std::mutex mutex_;
    std::shared_ptr<const bot::Config> config_;
    std::string report_;
};

/// "`a`, `b`": keys or problems as the alert lists them (a backtick would end the code span).
std::string code_list(const std::vector<std::string>& items)
{
    std::string out;
    for (auto item : items) {
        std::replace(item.begin(), item.end(), '`', '\'');
        out += (out.empty() ? "`" : ", `") + item + "`";
    }
    return out;
}

/// SIGHUP, on the main thread: a file with problems is refused (logged, told in alertes.salon),
/// a valid one is handed to the sync thread; `running` is what it was compared with.
void read_config_again(const std::string& file, std::shared_ptr<const bot::Config>& running,
                       PendingReload& pending, bot::Alerts& alerts, bot::SyncLoop& loop,
                       bot::ServiceNotifier& notifier)
{
    const auto logger = log::get("main");
    notifier.reloading();
    auto reload = bot::reload_config(file, *running);
    if (const auto& problems = reload.problems; !problems.empty()) {
        logger->error("configuration not reloaded, the running one is kept; {} problem(s):\n{}",
                      problems.size(), bot::format_problems(file, problems));
        std::vector<std::string> first;
        for (const auto& p : problems)
            if (first.size() < 3)
                first.push_back(file + ":" + std::to_string(p.line) + ": " + p.path + " : " +
                                p.message);
        alerts.raise("reload", "refusée, la configuration en cours est gardée : " +
                                   std::to_string(problems.size()) + " problème(s), " +
                                   code_list(first) + (problems.size() > 3 ? "…" : ""));
        loop.nudge(); // the alert goes now
        notifier.reloaded("Configuration refusée, l'ancienne est gardée");
        return;
    }
    std::string report = reload.changed.empty() ? "appliquée, aucune clé modifiée"
                                                : "appliquée : " + code_list(reload.changed);
    if (!reload.restart_needed.empty()) {
        std::string keys;
        for (const auto& key : reload.restart_needed)
            keys += (keys.empty() ? "" : ", ") + key;
        logger->warn("redémarrage nécessaire pour : {} (running values kept)", keys);
        report += " ; redémarrage nécessaire pour : " + code_list(reload.restart_needed);
    }
    running = std::make_shared<const bot::Config>(std::move(reload.config));
    pending.put(running, std::move(report));
    loop.nudge(); // applied between this sync and the next, not a long-poll later
    notifier.reloaded("Connecté, à l'écoute des salons (configuration relue)");
}

/// On the sync thread, between two syncs: the reloaded configuration in force, the knowledge
/// base read again, the admins told.
void apply_reload(std::shared_ptr<const bot::Config> config, std::string report,
                  bot::SyncLoop& loop, app::Conversations& conversations, bot::Alerts& alerts)
{
    loop.use_config(config);
    conversations.reconfigure(std::move(config));
    const auto kb = conversations.reload_knowledge();
    report += kb.replaced ? " ; base de connaissances rechargée : " + std::to_string(kb.entries) +
                                " fiches, " + std::to_string(kb.acronyms) + " sigles" +
                                (kb.problems > 0
                                     ? ", " + std::to_string(kb.problems) + " élément(s) ignoré(s)"
                                     : std::string{})
                          : " ; base de connaissances refusée (aucune fiche valide), "
                            "l'ancienne est gardée";
    log::get("main")->info("configuration reloaded{}", kb.replaced ? "" : " (knowledge base kept)");
    alerts.raise("reload", report);
    loop.nudge(); // posted at the next sync, not a long-poll later
}

/// What the Matrix bot runs with once logged in.
struct MatrixRun {
    const std::string& config_file;
    const bot::Config& config;
    bot::MatrixClient& client;
    bot::StateStore& store;
    const bot::Session& session;
    const sigset_t& signals; ///< blocked in every thread, for sigwait
    StateDatabase& state;
    Watch watch;
};

/// The sync and sender threads over `conversations`, until SIGTERM/SIGINT or a fatal error;
/// SIGHUP reloads the configuration meanwhile.
int serve_matrix(const MatrixRun& run, app::Conversations& conversations,
                 commands::KitCampaign& campaign)
{
    const auto& config = run.config;
    auto& client = run.client;
    auto& store = run.store;
    const auto& session = run.session;
    const auto logger = log::get("main");
    if (!config.kit_campaign.phrase.empty()) {
        if (auto loaded = campaign.load_from_config(config.kit_campaign.phrase,
                                                    config.kit_campaign.room, now_in_seconds());
            !loaded) {
            std::cerr << bot::format_problems(
                run.config_file, {{"rappels.campagne_kit", config.kit_campaign.line,
                                   config.kit_campaign.column, loaded.error().message}});
            return 2;
        }
    }

    bot::Sender sender{client, store, config.requests_per_second, config.burst};
    sender.report_to(run.watch.alerts);
    std::mutex fatal_mutex;
    std::string fatal_reason;
    bot::SyncLoop loop{client,
                       store,
                       config,
                       session,
                       [&](const bot::IncomingMessage& in) { return conversations.on_message(in); },
                       [&sender] { sender.wake(); },
                       [&](const std::string& reason) {
                           {
                               const std::lock_guard lock{fatal_mutex};
                               fatal_reason = reason;
                           }
                           kill(getpid(), SIGTERM); // wakes sigwait below
                       }};
    loop.use_alerts(*run.watch.alerts);
    loop.use_homeserver_health(*run.watch.homeserver);
    // End-to-end encryption (issue 7): Tchap's private salons are encrypted.
    std::unique_ptr<bot::crypto::Engine> engine;
    std::optional<bot::CryptoCoordinator> crypto;
    if (config.pickle_key.empty()) {
        logger->warn("encryption off (no encryption.pickle_key_file): encrypted salons are "
                     "ignored");
    } else {
        bot::crypto::EngineOptions crypto_options;
        crypto_options.only_cross_signed_devices = config.only_cross_signed_devices;
        auto opened =
            bot::crypto::Engine::open(store.database(), session.user_id, session.device_id,
                                      config.pickle_key, crypto_options);
        if (!opened) {
            logger->critical("crypto state unusable: {}", opened.error().message);
            return EXIT_FAILURE;
        }
        engine = std::move(opened).value();
        store.attach_crypto(engine.get());
        crypto.emplace(client, store, *engine,
                       bot::MatrixClient::PasswordAuth{session.user_id, config.password});
        if (auto started = crypto->start(); !started) {
            logger->critical("encryption keys not published: {} {}", started.error().code,
                             started.error().message);
            store.attach_crypto(nullptr);
            return EXIT_FAILURE;
        }
        loop.set_crypto(&*crypto);
        logger->info("end-to-end encryption on (device {}, key {})", engine->device_id(),
                     engine->ed25519_key());
    }
    // "opale-bot : question" addresses the bot too; Tchap appends " [Organisation]" to names.
    if (auto name = client.display_name(session.user_id); name && !name.value().empty())
        loop.set_display_name(name.value().substr(0, name.value().find(" [")));
    loop.set_conversation_check(
        [&](const std::string& user, const bot::Conversation& conversation) {
            return conversations.in_conversation(user, conversation);
        });
    loop.set_reaction_router(
        [&](const bot::IncomingReaction& reaction) { return conversations.on_reaction(reaction); });
    // The kit reminders go to each person's direct chat (issue 17), encrypted as Tchap's are.
    bot::DirectChats direct_chats{client, store, session.user_id, crypto.has_value()};
    const app::NoticeSink outbox = [&loop, &direct_chats](const std::vector<app::Notice>& notices) {
        return queue_notices(notices, loop, direct_chats);
    };
    conversations.resend_unsent(outbox);
    PendingReload pending_reload; // SIGHUP: from the main thread to the sync thread
    run.watch.alerts->set_interval("reload", std::chrono::minutes{0}); // each one is told
    loop.set_between_syncs([&] {
        if (auto reload = pending_reload.take())
            apply_reload(std::move(reload->first), std::move(reload->second), loop, conversations,
                         *run.watch.alerts);
        conversations.between_syncs(now_in_seconds(), outbox);
    });
    // iTop may take its whole timeout per call: that work gets a thread of its own, so the
    // salon's questions are still answered meanwhile (issue 13).
    conversations.start_backend_thread(
        run.state, [&loop] { loop.nudge(); },
        [&store, logger](const bot::QuestionRecord& question) {
            if (auto saved = store.record_question(question); !saved)
                logger->error("question not recorded: {}", saved.error().message);
        });
    // systemd (Type=notify): READY=1 after the first saved sync, then the watchdog's pings.
    bot::ServiceNotifier notifier;
    notifier.check_watchdog(config.sync_timeout);
    notifier.status("Connecté, première synchronisation");
    loop.set_heartbeat([&notifier](bot::SyncOutcome outcome) { notifier.sync_iteration(outcome); });
    const auto metrics_server = serve_metrics(config);
    std::jthread sender_thread{[&sender](const std::stop_token& stop) { sender.run(stop); }};
    std::jthread sync_thread{[&loop](const std::stop_token& stop) { loop.run(stop); }};
    // state.sauvegarde_quotidienne (issue 16): its own thread and connection, never the sync's.
    std::optional<bot::DailyBackups> daily_backups;
    std::jthread backup_thread;
    if (const auto& daily = config.daily_backup; !daily.folder.empty()) {
        daily_backups.emplace(config.database, daily);
        daily_backups->report_to(run.watch.alerts);
        logger->info("daily backups of the state file in {} after {:02}:{:02} (Paris), {} kept",
                     daily.folder, daily.time_of_day.count() / 60, daily.time_of_day.count() % 60,
                     daily.keep);
        backup_thread = std::jthread{
            [&backups = *daily_backups](const std::stop_token& stop) { backups.run(stop); }};
    }

    int signal_number = 0;
    auto running = std::make_shared<const bot::Config>(config); // what a reload is compared with
    while (sigwait(&run.signals, &signal_number) == 0 && signal_number == SIGHUP)
        read_config_again(run.config_file, running, pending_reload, *run.watch.alerts, loop,
                          notifier);
    logger->info("stopping (signal {})", signal_number);
    notifier.stopping();
    sync_thread.request_stop(); // aborts the long-poll in flight
    sender_thread.request_stop();
    backup_thread.request_stop();        // a copy in progress ends first: it takes seconds at most
    conversations.stop_backend_thread(); // it nudges the loop, which ends here
    sync_thread.join();
    sender_thread.join();
    if (backup_thread.joinable())
        backup_thread.join();
    const std::lock_guard lock{fatal_mutex};
    if (!fatal_reason.empty()) {
        logger->critical("{}", fatal_reason);
        return EXIT_FAILURE;
    }
    logger->info("stopped");
    return EXIT_SUCCESS;
}

/// The Matrix bot: a sync thread, a sender thread, and main waiting for SIGTERM/SIGINT (and
/// SIGHUP, which reloads the configuration).
int run_matrix(const std::string& config_file, bool new_login)
{
    // Before any thread starts, so every thread inherits the mask and only sigwait sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP); // reads the config file again
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // Two threads that allocate little: one malloc arena is enough, and saves a heap per thread.
    mallopt(M_ARENA_MAX, 1);

    const auto load = bot::load_config(config_file);
    if (!load.problems.empty()) {
        std::cerr << bot::format_problems(config_file, load.problems);
        return 2;
    }
    const auto& config = load.config;
    const auto logger = log::get("main");
    const bot::CurlGlobal curl;
    bot::CurlHttpClient http;
    bot::MatrixClient client{http, config.homeserver_url};
    StateDatabase state{config.database};
    bot::StateStore store{state};
    // whoever copies the state file without the secret cannot use the bot's account (issue 14)
    store.seal_tokens_with(config.pickle_key);
    const auto session = bot::open_session(client, store, config, new_login);
    if (!session) {
        logger->critical("{}", session.error().message);
        return EXIT_FAILURE;
    }

    const std::filesystem::path kb_dir = config.knowledge_dir.empty()
                                             ? default_kb_dir()
                                             : std::filesystem::path{config.knowledge_dir};
    knowledge::Answerer answerer{load_for_serving(kb_dir, salon_documents_folder(config.database))};
    // Outlive every thread that raises them (sync, sender, iTop).
    bot::Alerts alerts;
    bot::ServiceHealth itop_health{"itop", 3};
    itop_health.report_to(&alerts);
    bot::ServiceHealth homeserver_health{"homeserver", 5}; // the sync loop reports it
    const Watch watch{&alerts, &itop_health, &homeserver_health};
    const MatrixRun run{config_file, config, client, store, session.value(), signals, state, watch};
    return with_conversations(
        config, state, store, answerer, kb_dir, &http, watch,
        [&run](app::Conversations& conversations, commands::KitCampaign& campaign) {
            return serve_matrix(run, conversations, campaign);
        });
}

/// "835 Ko", "12,4 Mo": a size as the French read it.
std::string french_size(std::uintmax_t bytes)
{
    constexpr std::array<const char*, 4> units = {"octets", "Ko", "Mo", "Go"};
    auto value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    std::string out = text;
    if (const auto dot = out.find('.'); dot != std::string::npos)
        out[dot] = ',';
    return out;
}

/// `opale-bot sauvegarde FICHIER`: a consistent copy of the state file while the bot runs
/// (issue 16). The state file is --db, or state.database of --config; only problems of that
/// section stop it, since the admin running it may lack the bot's secrets.
int run_backup(const std::string& file, const std::string& config_file, std::string db_path,
               bool replace)
{
    if (db_path.empty()) {
        const auto load = bot::load_config(config_file);
        std::vector<bot::ConfigProblem> blocking;
        for (const auto& p : load.problems)
            if (p.path.empty() || p.path.starts_with("state."))
                blocking.push_back(p);
        if (!blocking.empty()) {
            std::cerr << bot::format_problems(config_file, blocking);
            return EXIT_FAILURE;
        }
        db_path = load.config.database;
    }
    const auto copied = bot::back_up_state(db_path, file, replace);
    if (!copied) {
        std::cerr << "Sauvegarde impossible : " << copied.error().message << '\n';
        return EXIT_FAILURE;
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f",
                  static_cast<double>(copied.value().took.count()) / 1000.0);
    std::string took = seconds;
    took[took.find('.')] = ',';
    std::cout << "Sauvegarde de " << db_path << " écrite dans " << file << " ("
              << french_size(copied.value().bytes) << ", en " << took << " s).\n";
    return EXIT_SUCCESS;
}

/// `opale-bot import etablissements|indicateurs FILE`: all or nothing, the first 50 errors
/// listed. The file is read in chunks, never whole (issue 15).
int run_import(const std::string& kind, const std::string& file, const std::string& db_path)
{
    std::ifstream in{file, std::ios::binary};
    if (!in) {
        std::cerr << file << " : fichier illisible ou absent\n";
        return EXIT_FAILURE;
    }
    StateDatabase state{db_path};
    commands::EpleStore store{state};
    const auto name = std::filesystem::path{file}.filename().string();
    const auto report = kind == "etablissements" ? commands::import_etablissements(store, in, name)
                                                 : commands::import_indicateurs(store, in, name);
    std::cout << commands::format_import_report_text(report);
    return report.ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/// The console's loop over `conversations`: one simulated user in a direct chat (room ""), every
/// line for the bot; due reminders and other notices are printed while it runs.
int serve_console(const std::string& user, bot::StateStore& store,
                  app::Conversations& conversations, const std::filesystem::path& files_dir)
{
    const auto logger = log::get("main");
    // The files a reply carries (a chart, an export) go to files_dir; the reply says where.
    const auto with_files = [&files_dir](std::string markdown,
                                         const std::vector<OutgoingFile>& files) {
        for (const auto& file : files) {
            const auto saved = bot::save_console_file(files_dir, file.name, file.content);
            markdown += saved ? "\n\nFichier enregistré : `" +
                                    std::filesystem::absolute(saved.value()).string() + "`"
                              : "\n\nFichier « " + file.name +
                                    " » non enregistré : " + saved.error().message + ".";
        }
        return markdown;
    };
    std::vector<std::string> to_print;
    const app::NoticeSink screen = [&](const std::vector<app::Notice>& notices) {
        for (const auto& n : notices)
            to_print.push_back((n.direct_to.empty()
                                    ? std::string{}
                                    : "_Message direct à " + n.direct_to + " :_\n\n") +
                               with_files(n.markdown, n.files));
        return true;
    };
    conversations.resend_unsent(screen);
    int lines = 0;
    const auto handle = [&](std::string_view text) -> std::optional<std::string> {
        bot::IncomingMessage message;
        message.event_id = "console-" + std::to_string(++lines);
        message.sender = user;
        message.text = text;
        message.is_direct = true;
        message.addressed = true;
        std::optional<bot::OutgoingReply> reply;
        try {
            reply = conversations.on_message(message);
        } catch (const std::exception& e) { // as in the sync loop: a failure never stops it
            logger->error("message not handled: {}", e.what());
            return std::nullopt;
        }
        if (!reply)
            return std::nullopt;
        if (reply->question)
            if (auto saved = store.record_question(*reply->question); !saved)
                logger->error("question not recorded: {}", saved.error().message);
        return with_files(std::move(reply->markdown), reply->files);
    };
    const auto tick = [&] {
        conversations.between_syncs(now_in_seconds(), screen);
        return std::exchange(to_print, {});
    };
    logger->info("console mode: one message per line, Ctrl-D to quit");
    bot::run_console(std::cin, std::cout, handle, tick);
    return EXIT_SUCCESS;
}

/// The console: the Matrix bot's conversations, for a user given on the command line.
int run_console_mode(const std::filesystem::path& kb_dir, const std::string& db_path,
                     const std::string& user, bool admin, std::filesystem::path files_dir)
{
    if (files_dir.empty()) // beside the state file, as the service's state directory
        files_dir = std::filesystem::path{db_path}.parent_path() / "fichiers";
    bot::Config config;
    config.database = db_path;
    if (admin)
        config.admins = {user};
    knowledge::Answerer answerer{load_for_serving(kb_dir, salon_documents_folder(db_path))};
    StateDatabase state{db_path};
    bot::StateStore store{state};
    return with_conversations(config, state, store, answerer, kb_dir, nullptr, Watch{},
                              [&](app::Conversations& conversations, commands::KitCampaign&) {
                                  return serve_console(user, store, conversations, files_dir);
                              });
}

int run_ask(const std::filesystem::path& kb_dir, const std::string& question, bool as_json)
{
    knowledge::Answerer answerer{load_for_serving(kb_dir)};
    const auto answer = answerer.ask(question);
    const auto text = bot::markdown_to_text(answer.text);
    if (!as_json) {
        std::cout << text << '\n';
        return EXIT_SUCCESS;
    }
    nlohmann::json out{{"answer", nullptr},
                       {"kind", knowledge::to_string(answer.kind)},
                       {"confidence", knowledge::confidence_of(answer)},
                       {"score", answer.score},
                       {"runner_up", answer.runner_up},
                       {"alternatives", answer.alternatives},
                       {"text", text}};
    // "answer" names a fiche only; a passage that answers by itself is told by "source" alone.
    if (!answer.entry_id.empty() && !answer.entry_id.starts_with("document:"))
        out["answer"] = answer.entry_id;
    if (answer.source)
        out["source"] = {{"document", answer.source->document},
                         {"page", answer.source->page > 0 ? nlohmann::json(answer.source->page)
                                                          : nlohmann::json(nullptr)},
                         {"section", answer.source->section
                                         ? nlohmann::json(*answer.source->section)
                                         : nlohmann::json(nullptr)}};
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return EXIT_SUCCESS;
}

int run_kb_check(const std::filesystem::path& dir)
{
    const auto base = knowledge::load_knowledge_base(dir);
    int errors = 0;
    int warnings = 0;
    for (const auto& p : base.problems) {
        if (!p.file.empty()) // a sidecar's problems carry their own file:line:column
            std::cout << p.file << ':' << p.line << ": ";
        std::cout << (p.is_error ? "" : "avertissement : ") << p.message << '\n';
        (p.is_error ? errors : warnings) += 1;
    }
    if (base.entries.empty() && errors == 0) {
        std::cout << dir.string() << ":0: aucune fiche (*.md) dans ce dossier\n";
        ++errors;
    }
    std::size_t passages = 0;
    for (const auto& document : base.documents)
        passages += document.passages.size();
    std::cout << base.entries.size() << " fiches valides, " << base.documents.size()
              << " documents (" << passages << " passages), " << base.glossary.all().size()
              << " sigles, " << base.synonyms.size() << " groupes de synonymes ; " << errors
              << " erreur(s), " << warnings << " avertissement(s).\n";
    return errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/// `opale-bot kb analyze TEXTE`: the stems, then how the index reads the text (each idea's role
/// and weight) and the best fiches with what each matched: why a question got its answer.
int run_kb_analyze(const std::filesystem::path& dir, const std::string& text)
{
    for (const auto& term : knowledge::Analyzer{}.analyze(text))
        std::cout << term.word << " → " << term.stem << '\n';
    auto base = knowledge::load_knowledge_base(dir);
    if (base.entries.empty()) {
        std::cout << "\n(aucune fiche valide dans " << dir.string()
                  << " : seulement les racines ; voir `opale-bot kb check`)\n";
        return EXIT_SUCCESS;
    }
    knowledge::Index index{base.entries, base.glossary, base.synonyms};
    const auto explanation = index.explain(text, 4);
    std::cout << "\nLecture de la recherche (idée : rôle, poids) :\n";
    for (const auto& word : explanation.words)
        std::cout << "  " << word.text << " : " << knowledge::to_string(word.role) << ", "
                  << fmt::format("{:.2f}", word.weight) << '\n';
    std::cout
        << "\nFiches, par rang (score, évidence, sujets en titre ou mots-clés, rang : le score où "
           "une expression des mots-clés dite en entier compte plus qu'un titre ; idées "
           "trouvées : T titre, M mots-clés, C corps) :\n";
    for (std::size_t h = 0; h < explanation.hits.size(); ++h) {
        const auto& hit = explanation.hits[h];
        std::string found;
        for (std::size_t w = 0; w < explanation.words.size(); ++w) {
            const auto place = explanation.places[h][w];
            if (place == knowledge::MatchPlace::none)
                continue;
            const char mark = place == knowledge::MatchPlace::title      ? 'T'
                              : place == knowledge::MatchPlace::keywords ? 'M'
                                                                         : 'C';
            found += fmt::format(" {}:{}", explanation.words[w].text, mark);
        }
        std::cout << fmt::format("  {} ({:.2f}, {:.2f}, {}, {:.2f}) :{}\n",
                                 index.entries()[hit.entry].id, hit.score, hit.evidence, hit.topics,
                                 hit.rank, found);
    }
    // What the bot would do with it, as `ask` (the same base, its documents included).
    knowledge::Answerer answerer{std::move(base)};
    const auto answer = answerer.ask(text);
    std::cout << "\nRéponse : " << knowledge::to_string(answer.kind) << " ("
              << knowledge::confidence_of(answer) << ")"
              << (answer.entry_id.empty() ? std::string{} : " : " + answer.entry_id) << '\n';
    return EXIT_SUCCESS;
}

/// `opale-bot kb ajouter FICHIER`: what `!kb ajouter` does, from the command line; the running
/// bot serves it after `!kb recharger` or a reload (SIGHUP).
int run_kb_add(const std::string& file, const std::string& db_path,
               const knowledge::DocumentMetadata& given)
{
    std::ifstream in{file, std::ios::binary};
    if (!in) {
        std::cerr << file << ": fichier illisible\n";
        return EXIT_FAILURE;
    }
    const std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    StateDatabase state{db_path};
    commands::DocumentShelf shelf{state, salon_documents_folder(db_path)};
    const auto added = shelf.add(std::filesystem::path{file}.filename().string(), bytes,
                                 "ligne de commande", given);
    if (!added) {
        std::cerr << file << ": document refusé : " << added.error().message << '\n';
        return EXIT_FAILURE;
    }
    const auto& a = added.value();
    std::cout << a.file_name << " " << (a.replaced ? "remplacé" : "ajouté") << " dans "
              << shelf.folder().string() << " : « " << a.titre << " », " << a.passages
              << " passages";
    if (a.pages > 0)
        std::cout << ", " << a.pages << " pages";
    std::cout << ".\n";
    for (const auto& heading : a.headings)
        std::cout << "  - " << heading << '\n';
    for (const auto& warning : a.warnings)
        std::cout << "avertissement : " << warning << '\n';
    std::cout << "Le bot en marche le sert après `!kb recharger` ou un rechargement (SIGHUP).\n";
    return EXIT_SUCCESS;
}

int run_kb_paraphrases(const std::string& db_path)
{
    if (!std::filesystem::exists(db_path)) {
        std::cerr << db_path << ": base d'état introuvable (option --db)\n";
        return EXIT_FAILURE;
    }
    StateDatabase state{db_path};
    bot::StateStore store{state};
    const auto links = store.linked_questions();
    if (!links) {
        std::cerr << db_path << ": " << links.error().message << '\n';
        return EXIT_FAILURE;
    }
    std::map<std::string, std::vector<std::string>> by_entry;
    for (const auto& link : links.value())
        by_entry[link.entry_id].push_back(link.question);
    if (by_entry.empty())
        std::cout << "Aucune question liée (`!kb lier <n°> <fiche>` dans le salon).\n";
    for (const auto& [entry_id, questions] : by_entry) {
        std::cout << entry_id << " (" << questions.size() << ")\n";
        for (const auto& question : questions)
            std::cout << "  - " << question << '\n';
    }
    return EXIT_SUCCESS;
}

int run_kb_list(const std::filesystem::path& dir, bool as_json)
{
    const auto base = load_for_serving(dir);
    if (!as_json) {
        for (const auto& e : base.entries)
            std::cout << e.id << '\t' << e.domaine << '\t' << e.titre << '\n';
        for (const auto& d : base.documents)
            std::cout << "document:" << d.file_name << '\t' << d.metadata.domaine << '\t'
                      << d.metadata.titre << '\n';
        return EXIT_SUCCESS;
    }
    auto list = nlohmann::json::array();
    for (const auto& e : base.entries) {
        auto sources = nlohmann::json::array();
        for (const auto& s : e.sources) {
            nlohmann::json source{{"titre", s.titre}};
            if (!s.adresse.empty())
                source["adresse"] = s.adresse;
            if (!s.ressource.empty())
                source["ressource"] = s.ressource;
            if (!s.perimetre.empty())
                source["perimetre"] = s.perimetre;
            sources.push_back(std::move(source));
        }
        list.push_back(
            {{"id", e.id}, {"titre", e.titre}, {"domaine", e.domaine}, {"sources", sources}});
    }
    // The documents after the fiches, with "document" (their file) to tell them apart.
    for (const auto& d : base.documents) {
        nlohmann::json document{{"id", "document:" + d.file_name},
                                {"document", d.file_name},
                                {"titre", d.metadata.titre},
                                {"pages", d.page_count},
                                {"passages", d.passages.size()}};
        if (!d.metadata.domaine.empty())
            document["domaine"] = d.metadata.domaine;
        if (!d.metadata.adresse.empty())
            document["adresse"] = d.metadata.adresse;
        list.push_back(std::move(document));
    }
    std::cout << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv)
try {
    // Three SQLite connections are open (the state store's, the one the commands' stores share,
    // the in-memory index): by default each one reserves a page cache up front (~90 KB) that
    // the bot's small databases never fill. Pages are then allocated as they are read. Must
    // come before SQLite is first used.
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
    opalebot::log::init({"main", "knowledge", "commands", "bot.console", "bot.sync", "bot.sender",
                         "bot.session", "bot.events", "bot.itop", "bot.crypto"});
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");

    CLI::App app{"opale-bot : le bot d'entraide op@le du salon Tchap (Hauts-de-France)",
                 "opale-bot"};
    app.set_version_flag("--version", std::string{"opale-bot "} + OPALEBOT_VERSION);
    app.require_subcommand(1);
    std::string kb_dir = default_kb_dir().string();

    auto* console = app.add_subcommand(
        "console", "Dialogue en console : un message par ligne sur l'entrée standard");
    std::string db_path = "opale-bot.db";
    std::string user = "@console:localhost";
    bool admin = false;
    console->add_option("--db", db_path, "Base d'état SQLite")->capture_default_str();
    console->add_option("--kb", kb_dir, "Dossier de la base de connaissances")
        ->capture_default_str();
    console->add_option("--user", user, "Identifiant Matrix de l'expéditeur simulé")
        ->capture_default_str();
    console->add_flag("--admin", admin, "L'expéditeur a le rôle administrateur");
    std::string console_files;
    console->add_option("--fichiers", console_files,
                        "Dossier où écrire les fichiers envoyés (exports, graphiques) ; par "
                        "défaut « fichiers » à côté de la base d'état");

    auto* ask = app.add_subcommand(
        "ask", "Pose une question à la base de connaissances et affiche la réponse");
    std::string question;
    bool ask_json = false;
    ask->add_option("question", question, "La question, en français")->required();
    ask->add_option("--kb", kb_dir, "Dossier de la base de connaissances")->capture_default_str();
    ask->add_flag(
        "--json", ask_json,
        R"(Sortie JSON : {"answer", "kind", "confidence", "score", "alternatives", "text"}, et "source": {"document", "page", "section"} quand un passage de document répond)");

    auto* kb = app.add_subcommand("kb", "Outils de la base de connaissances");
    kb->require_subcommand(1);
    auto* check = kb->add_subcommand("check", "Vérifie les fiches, le glossaire et les synonymes "
                                              "(code de sortie non nul en cas d'erreur)");
    std::string check_dir = kb_dir;
    check->add_option("DIR", check_dir, "Dossier à vérifier")->capture_default_str();
    auto* list = kb->add_subcommand("list", "Liste les fiches valides");
    bool list_json = false;
    list->add_option("--kb", kb_dir, "Dossier de la base de connaissances")->capture_default_str();
    list->add_flag("--json", list_json, R"(Sortie JSON : [{"id", "titre", "domaine", "sources"}])");

    auto* analyze = kb->add_subcommand(
        "analyze", "Montre comment la recherche lit un texte : mots retenus et racines, rôle "
                   "et poids de chaque idée, meilleures fiches et ce qu'elles ont trouvé");
    std::string analyze_text;
    analyze->add_option("TEXT", analyze_text, "Le texte à analyser")->required();
    analyze->add_option("--kb", kb_dir, "Dossier de la base de connaissances")
        ->capture_default_str();

    auto* paraphrases = kb->add_subcommand(
        "paraphrases", "Les questions du salon liées à une fiche par `!kb lier`, fiche par fiche "
                       "(à reprendre dans ses mots-clés)");
    std::string paraphrases_db = "opale-bot.db";
    paraphrases->add_option("--db", paraphrases_db, "Base d'état SQLite du bot")
        ->capture_default_str();

    auto* kb_add = kb->add_subcommand(
        "ajouter",
        "Ajoute un document pas-à-pas (PDF, ODT, DOCX, ODP, PPTX, HTML, Markdown, texte) "
        "aux documents du salon, comme `!kb ajouter`");
    std::string kb_add_file;
    std::string kb_add_db = "opale-bot.db";
    knowledge::DocumentMetadata kb_add_given;
    kb_add->add_option("FICHIER", kb_add_file, "Le document")->required();
    kb_add->add_option("--titre", kb_add_given.titre, "Son titre (sinon celui du document)");
    kb_add->add_option("--adresse", kb_add_given.adresse, "Son lien Tribu (https://…)");
    kb_add
        ->add_option("--db", kb_add_db,
                     "Base d'état SQLite du bot (les documents vont dans le dossier documents/ "
                     "à côté)")
        ->capture_default_str();

    auto* run = app.add_subcommand("run", "Lance le bot Matrix (connexion, synchronisation, "
                                          "réponses) ; SIGTERM ou Ctrl-C l'arrête");
    std::string config_file;
    bool new_login = false;
    run->add_option("--config", config_file, "Fichier de configuration YAML")->required();
    run->add_flag("--new-login", new_login,
                  "Oublie la session enregistrée et se connecte de nouveau (nouvel appareil)");

    auto* config = app.add_subcommand("config", "Outils de configuration");
    config->require_subcommand(1);
    auto* config_check = config->add_subcommand(
        "check", "Vérifie un fichier de configuration (chaque clé invalide ou manquante)");
    std::string check_file;
    config_check->add_option("FILE", check_file, "Fichier de configuration YAML")->required();
    bool check_online = false;
    config_check->add_flag("--en-ligne", check_online,
                           "Se connecte aussi à iTop et y cherche le service, les équipes, les "
                           "sous-catégories et une organisation");

    auto* import = app.add_subcommand(
        "import",
        "Importe un fichier CSV d'EPLE (tout ou rien ; les 50 premières erreurs listées)");
    import->require_subcommand(1);
    std::string import_file;
    std::string import_db = "opale-bot.db";
    for (const auto* kind : {"etablissements", "indicateurs"}) {
        auto* sub = import->add_subcommand(
            kind, std::string{kind} == "etablissements"
                      ? "uai;nom;commune;type;academie;vague;uai_agence_comptable"
                      : "uai;date;kit_taux;budget_integre;budget_saisie;paiements;ej;"
                        "titres_recettes;prelevements");
        sub->add_option("FILE", import_file, "Fichier CSV (; ou ,)")->required();
        sub->add_option("--db", import_db, "Base d'état SQLite du bot")->capture_default_str();
    }

    auto* backup = app.add_subcommand(
        "sauvegarde", "Copie le fichier d'état, même pendant que le bot tourne (copie cohérente, "
                      "droits 0600) ; pour restaurer, voir le README");
    std::string backup_file;
    std::string backup_config = "/etc/opale-bot/config.yaml"; // the systemd unit's
    std::string backup_db;
    bool backup_replace = false;
    backup->add_option("FICHIER", backup_file, "Fichier de sauvegarde à écrire")->required();
    auto* backup_config_option =
        backup
            ->add_option("--config", backup_config,
                         "Configuration du bot : le fichier d'état est son state.database")
            ->capture_default_str();
    backup->add_option("--db", backup_db, "Fichier d'état à copier (au lieu de --config)")
        ->excludes(backup_config_option);
    backup->add_flag("--remplacer", backup_replace, "Écrase FICHIER s'il existe déjà");

    CLI11_PARSE(app, argc, argv);

    if (*import) {
        const auto kind = import->get_subcommands().front()->get_name();
        return run_import(kind, import_file, import_db);
    }

    if (*run)
        return run_matrix(config_file, new_login);
    if (*config_check)
        return run_config_check(check_file, check_online);

    if (*console || *ask || *list || *backup || *kb_add) {
        // Tool output goes to stdout; keep stderr quiet unless asked (SPDLOG_LEVEL).
        if (!*console && std::getenv("SPDLOG_LEVEL") == nullptr)
            spdlog::apply_all([](const auto& logger) { logger->set_level(spdlog::level::err); });
    }
    if (*console)
        return run_console_mode(kb_dir, db_path, user, admin, console_files);
    if (*backup)
        return run_backup(backup_file, backup_config, backup_db, backup_replace);
    if (*ask)
        return run_ask(kb_dir, question, ask_json);
    if (*check)
        return run_kb_check(check_dir);
    if (*list)
        return run_kb_list(kb_dir, list_json);
    if (*paraphrases)
        return run_kb_paraphrases(paraphrases_db);
    if (*kb_add)
        return run_kb_add(kb_add_file, kb_add_db, kb_add_given);
    if (*analyze)
        return run_kb_analyze(kb_dir, analyze_text);
    return EXIT_FAILURE;
} catch (const std::exception& e) {
    spdlog::critical("arrêt : {}", e.what());
    return EXIT_FAILURE;
}
