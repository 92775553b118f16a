// Issue 19: the conversation rules the Matrix bot and the console share (bot/app/conversations).
#include "conversations.hpp"

#include "commands/ticket_store.hpp"
#include "knowledge/knowledge_base.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/state_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using namespace opalebot;
using namespace std::chrono;

namespace {

const std::string salon = "!salon:hs.test";
const std::string marie = "@marie:hs.test";
const std::string admin = "@admin:hs.test";

knowledge::Answerer& shipped_answerer()
{
    static knowledge::Answerer answerer{
        knowledge::load_knowledge_base(OPALEBOT_SOURCE_DIR "/knowledge/content")};
    return answerer;
}

bool says(const std::optional<bot::OutgoingReply>& reply, std::string_view part)
{
    return reply && reply->markdown.find(part) != std::string::npos;
}

/// The built-in store behind a gate the test can close: an iTop that hangs, without a clock.
class GatedBackend final : public commands::TicketBackend {
public:
    explicit GatedBackend(commands::TicketBackend& inner) : inner_(inner) {}

    void close()
    {
        const std::lock_guard lock{mutex_};
        closed_ = true;
    }
    void open()
    {
        {
            const std::lock_guard lock{mutex_};
            closed_ = false;
        }
        changed_.notify_all();
    }
    /// Waits (5 s at most) until a call is held at the closed gate.
    bool wait_until_held()
    {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, 5s, [this] { return held_ > 0; });
    }

    Result<commands::Ticket> create(const commands::NewTicket& t) override
    {
        pass();
        return inner_.create(t);
    }
    Result<std::optional<commands::Ticket>> find(std::string_view ref) override
    {
        pass();
        return inner_.find(ref);
    }
    Result<std::vector<commands::Ticket>> open_tickets_of(std::string_view requester) override
    {
        pass();
        return inner_.open_tickets_of(requester);
    }
    Result<commands::Ticket> update(std::string_view ref,
                                    std::optional<commands::TicketStatus> status,
                                    std::string_view text, std::string_view author) override
    {
        pass();
        return inner_.update(ref, status, text, author);
    }
    Result<std::vector<commands::Ticket>> filed_between(commands::TimePoint from,
                                                        commands::TimePoint to) override
    {
        pass();
        return inner_.filed_between(from, to);
    }

private:
    void pass()
    {
        std::unique_lock lock{mutex_};
        ++held_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !closed_; });
        --held_;
    }

    commands::TicketBackend& inner_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool closed_ = false;
    int held_ = 0;
};

/// Counts the backend thread's nudges, and waits for them.
struct Nudges {
    std::mutex mutex;
    std::condition_variable changed;
    int count = 0;
    std::function<void()> callback()
    {
        return [this] {
            {
                const std::lock_guard lock{mutex};
                ++count;
            }
            changed.notify_all();
        };
    }
    bool wait_for(int n)
    {
        std::unique_lock lock{mutex};
        return changed.wait_for(lock, 5s, [&] { return count >= n; });
    }
};

/// Every store on one state file, and the conversations over them, at a clock the test moves.
struct Bench {
    Bench() = default;
    explicit Bench(std::string file) : path(std::move(file)) {} ///< a restart on that file

    opalebot::testing::TempDir dir;
    std::string path = dir.file("state.db");
    StateDatabase state{path};
    bot::Config config;
    commands::Instant now = sys_days{year{2026} / 11 / 20} + hours{12}; // a Friday, 13h in Paris
    commands::EpleStore eple{state};
    commands::TicketStore tickets{state};
    GatedBackend gated{tickets};
    commands::TicketFollowUp follow_up{state, gated, {minutes{5}, [this] { return now; }}};
    commands::TicketDialogues dialogues{state, gated, dialogue_options()};
    commands::ReminderStore reminders{state};
    commands::UserProfileStore profiles{state};
    commands::KitCampaign campaign{state, eple, profiles};
    bot::Alerts alerts;
    app::StatusReport status_report; ///< what `!statut` is given
    app::Conversations conversations{config, services()};
    std::vector<app::Notice> posted;
    bool outbox_full = false; ///< the sink refuses (an encrypted room while encryption is off)
    app::NoticeSink sink = [this](const std::vector<app::Notice>& notices) {
        if (outbox_full)
            return false;
        posted.insert(posted.end(), notices.begin(), notices.end());
        return true;
    };
    int events = 0;

    commands::DialogueOptions dialogue_options()
    {
        commands::DialogueOptions options;
        options.clock = [this] { return now; };
        return options;
    }

    app::ConversationServices services()
    {
        commands::ReminderOptions reminder_options;
        reminder_options.clock = [this] { return now; };
        reminder_options.profiles = &profiles;
        return {shipped_answerer(),
                OPALEBOT_SOURCE_DIR "/knowledge/content",
                nullptr,
                eple,
                {},
                gated,
                dialogues,
                follow_up,
                reminders,
                reminder_options,
                profiles,
                campaign,
                &alerts,
                [this] { return status_report; }};
    }

    /// A message of `sender` in `conversation`; its event id is "$1", "$2"…
    bot::IncomingMessage message(const std::string& text, bool addressed = true,
                                 const std::string& sender = marie,
                                 bot::Conversation conversation = {salon, "$fil"})
    {
        return {salon, "$" + std::to_string(++events), sender,      text, false, addressed,
                0,     std::move(conversation),        std::nullopt};
    }

    std::optional<bot::OutgoingReply> say(const std::string& text, bool addressed = true)
    {
        return conversations.on_message(message(text, addressed));
    }

    /// A reaction of `sender` to the bot message sent with `txn_id`, in the thread.
    std::optional<bot::OutgoingReply> react(const std::string& key, const std::string& txn_id,
                                            const std::string& sender = marie)
    {
        return conversations.on_reaction({salon, "$r" + std::to_string(++events), sender, key,
                                          "$card", txn_id, bot::Conversation{salon, "$fil"}, 0});
    }

    /// A ticket dialogue brought to its summary card; returns the card's txn id.
    std::string to_summary_card()
    {
        REQUIRE(says(say("!ticket nouveau service=DRASI titre=\"Écran blanc à la connexion au "
                         "pré-sas\" uai=0020013D env=production sphere=ordonnateur "
                         "profil=gestionnaire nom=Dupont prenom=Marie description=\"Depuis ce "
                         "matin la page du pré-sas reste blanche.\""),
                     "fonction"));
        REQUIRE(say("gestionnaire", false));
        REQUIRE(say("connexion puis ouverture du pré-sas", false));
        const auto card = say("aucun", false);
        REQUIRE(says(card, "Récapitulatif du ticket"));
        const auto dialogue = dialogues.get(marie, salon + "|$fil");
        REQUIRE(dialogue.has_value());
        REQUIRE(dialogue->stage == commands::DialogueStage::confirming);
        return bot::txn_id_for("$" + std::to_string(events));
    }
};

/// Collège Jean Moulin, its kit at 12 % on 20/11/2026, Marie linked to it: late for any
/// campaign with a threshold above that.
void link_marie_to_a_late_eple(Bench& b)
{
    commands::Etablissement moulin;
    moulin.uai = "0020013D";
    moulin.nom = "Collège Jean Moulin";
    moulin.vague = 6;
    REQUIRE(b.eple.save_etablissements({moulin}));
    commands::Snapshot low;
    low.uai = moulin.uai;
    low.date = year{2026} / 11 / 20;
    low.kit_taux = 12;
    REQUIRE(b.eple.save_snapshots({low}));
    REQUIRE(b.profiles.link(marie, moulin.uai));
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("an open ticket dialogue takes plain answers before the commands")
    {
        Bench b;
        CHECK_FALSE(b.conversations.in_dialogue(marie, {salon, "$fil"}));
        REQUIRE(
            says(b.say("!ticket nouveau titre=\"Écran blanc à la connexion au pré-sas\""), "?"));
        CHECK(b.conversations.in_dialogue(marie, {salon, "$fil"}));
        CHECK_FALSE(b.conversations.in_dialogue(marie, {salon, ""})); // another conversation
        CHECK_FALSE(b.conversations.in_dialogue("@paul:hs.test", {salon, "$fil"}));
        // Not addressed, yet answered: the dialogue asked for it.
        const auto answer = b.say("DRASI", false);
        REQUIRE(answer.has_value());
        CHECK_FALSE(answer->question.has_value()); // a dialogue answer is no question
        // A command in the middle of a dialogue is a command.
        CHECK(says(b.conversations.on_message(b.message("!sigle EJ", true, marie, {salon, ""})),
                   "Engagement juridique")); // Marie herself, elsewhere in the salon
        CHECK(b.conversations.in_dialogue(marie, {salon, "$fil"}));
    }

    TEST_CASE("unaddressed chat gets only a clear answer and its question is recorded")
    {
        Bench b;
        CHECK_FALSE(b.say("bonne journée à tous", false).has_value());
        const auto answer = b.say("Comment créer le tiers DDFIP ?", false);
        REQUIRE(answer.has_value());
        CHECK(answer->entry_id == "tiers-ddfip");
        REQUIRE(answer->question.has_value());
        CHECK(answer->question->entry_id == "tiers-ddfip");
        CHECK(answer->question->room == salon + "|$fil");
        CHECK(answer->question->sender == marie);
        b.config.answer_without_mention_min_score = 2.0; // above any score
        CHECK_FALSE(b.say("Comment créer le tiers DDFIP ?", false).has_value());
        // Addressed, the same question is answered through the commands, and recorded.
        const auto asked = b.say("Comment créer le tiers DDFIP ?");
        REQUIRE(asked.has_value());
        CHECK(asked->question.has_value());
        CHECK_FALSE(b.say("!aide")->question.has_value());
    }

    TEST_CASE("questions answers by tier abstentions commands and tickets are counted")
    {
        auto& m = opalebot::metrics::bot_metrics();
        const auto questions = m.questions.value();
        const auto sure = m.answers.with("sure").value();
        const auto none = m.answers.with("none").value();
        const auto abstentions = m.abstentions.value();
        const auto sigle = m.commands.with("sigle").value();
        const auto tickets = m.tickets_created.value();
        Bench b;
        REQUIRE(b.say("Comment créer le tiers DDFIP ?")->entry_id == "tiers-ddfip");
        CHECK(m.questions.value() == questions + 1);
        CHECK(m.answers.with("sure").value() == sure + 1);
        REQUIRE(b.say("Quel temps fera-t-il demain à Brest pour la régate ?").has_value());
        CHECK(m.questions.value() == questions + 2);
        CHECK(m.answers.with("none").value() == none + 1);
        CHECK(m.abstentions.value() == abstentions + 1);

        REQUIRE(b.say("!sigle EJ").has_value());
        REQUIRE(b.say("!SIGLE dgfip").has_value()); // folded to the registered name
        CHECK(m.commands.with("sigle").value() == sigle + 2);
        REQUIRE(b.say("!mot-de-passe-secret 1234").has_value()); // unknown: never a label
        const auto labels = m.commands.values();
        CHECK(std::none_of(labels.begin(), labels.end(), [](const auto& label) {
            return label.first.find("secret") != std::string::npos;
        }));
        CHECK(m.questions.value() == questions + 2); // commands are no questions

        const auto card = b.to_summary_card();
        REQUIRE(says(b.react("✅", card), "R-000001"));
        CHECK(m.tickets_created.value() == tickets + 1);
    }

    TEST_CASE("a check mark confirms the ticket only on its summary card")
    {
        Bench b;
        // While fields are still collected, a ✅ is no answer.
        REQUIRE(
            says(b.say("!ticket nouveau titre=\"Écran blanc à la connexion au pré-sas\""), "?"));
        CHECK_FALSE(b.react("✅", bot::txn_id_for("$1")).has_value());
        CHECK(b.conversations.in_dialogue(marie, {salon, "$fil"}));
        Bench fresh;
        const auto card = fresh.to_summary_card();
        CHECK_FALSE(fresh.react("✅", bot::txn_id_for("$2")).has_value()); // an older message
        CHECK_FALSE(fresh.react("🎉", card).has_value());
        CHECK_FALSE(fresh.react("✅", card, "@paul:hs.test").has_value()); // not his dialogue
        const auto created = fresh.react("\u2714\uFE0F", card); // ✔️ with its selector
        CHECK(says(created, "R-000001"));
        CHECK_FALSE(fresh.conversations.in_dialogue(marie, {salon, "$fil"}));
    }

    TEST_CASE("a cross on the summary card cancels the ticket")
    {
        Bench b;
        const auto card = b.to_summary_card();
        REQUIRE(b.react("❌", card).has_value());
        CHECK_FALSE(b.conversations.in_dialogue(marie, {salon, "$fil"}));
        CHECK(b.tickets.open_tickets_of(marie).value().empty());
    }

    TEST_CASE("due reminders are posted once between syncs and kept when the sink refuses")
    {
        Bench b;
        REQUIRE(says(b.say("!rappel dans 1 minute appeler la DDFIP"), "C'est noté"));
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.empty()); // not yet
        b.now += minutes{1};
        b.outbox_full = true;
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.empty());
        b.outbox_full = false;
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.empty()); // claimed already: only the next start gives it back
        b.conversations.resend_unsent(b.sink);
        REQUIRE(b.posted.size() == 1);
        const auto& notice = b.posted[0];
        CHECK(notice.conversation == bot::Conversation{salon, "$fil"});
        CHECK(notice.mentions == std::vector<std::string>{marie});
        CHECK(notice.markdown.find("appeler la DDFIP") != std::string::npos);
        CHECK(notice.style.notify); // an m.text: reminders must notify
        CHECK_FALSE(notice.style.mention_room);
        b.conversations.resend_unsent(b.sink);
        b.now += minutes{5};
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.size() == 1); // marked sent: never twice

        // ⏰ on the delivery snoozes it, ✅ acknowledges it: the delivery key is its txn id.
        CHECK(says(b.react("⏰", notice.txn_id), "reporté"));
        CHECK(says(b.react("✅", notice.txn_id), "✅"));
        CHECK_FALSE(b.react("⏰", notice.txn_id, "@paul:hs.test").has_value()); // not his
    }

    TEST_CASE("an idle ticket dialogue expires between syncs with a notice")
    {
        Bench b;
        REQUIRE(
            says(b.say("!ticket nouveau titre=\"Écran blanc à la connexion au pré-sas\""), "?"));
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.empty());
        b.now += minutes{31};
        b.conversations.between_syncs(b.now, b.sink);
        REQUIRE(b.posted.size() == 1);
        CHECK(b.posted[0].conversation == bot::Conversation{salon, "$fil"});
        CHECK(b.posted[0].mentions == std::vector<std::string>{marie});
        CHECK_FALSE(b.conversations.in_dialogue(marie, {salon, "$fil"}));
    }

    TEST_CASE("the kit campaign writes to each linked user and reports to the salon once")
    {
        Bench b;
        link_marie_to_a_late_eple(b);
        const auto spec = commands::parse_campaign("chaque lundi 9h seuil 80 %");
        REQUIRE(spec);
        REQUIRE(b.campaign.start(spec.value(), salon + "|$fil", admin, b.now));
        b.now = sys_days{year{2026} / 11 / 23} + hours{8} + minutes{1}; // Monday 9h01 in Paris
        b.conversations.between_syncs(b.now, b.sink);
        REQUIRE(b.posted.size() == 2); // Moulin to Marie, then the admins' report
        CHECK(b.posted[0].direct_to == marie);
        CHECK(b.posted[0].conversation.room_id.empty());
        CHECK(b.posted[0].mentions.empty());
        CHECK(b.posted[0].style.notify);
        CHECK(b.posted[1].direct_to.empty());
        CHECK(b.posted[1].conversation == bot::Conversation{salon, "$fil"});
        CHECK(b.posted[1].mentions.empty());
        CHECK_FALSE(b.posted[1].style.notify); // the report is a notice
        b.conversations.between_syncs(b.now + minutes{1}, b.sink);
        b.conversations.resend_unsent(b.sink);
        CHECK(b.posted.size() == 2);
        // Marie's ✅ on it (from her direct chat): noted, and no repeat the next day.
        CHECK(says(b.react("\u2705", b.posted[0].txn_id), "Bien noté"));
        CHECK_FALSE(b.react("\u2705", b.posted[0].txn_id, admin)); // not hers
        b.conversations.between_syncs(b.now + days{1}, b.sink);
        CHECK(b.posted.size() == 2);
    }

    TEST_CASE("the kit campaign's direct message waits for its chat and is repeated without a ✅")
    {
        Bench b;
        link_marie_to_a_late_eple(b);
        REQUIRE(b.campaign.start(commands::parse_campaign("chaque lundi 9h seuil 80 %").value(),
                                 salon, admin, b.now));
        // The direct chat is not ready (just opened): only the report goes.
        bool chat_ready = false;
        const app::NoticeSink sink = [&](const std::vector<app::Notice>& notices) {
            for (const auto& n : notices)
                if (!n.direct_to.empty() && !chat_ready)
                    return false;
            b.posted.insert(b.posted.end(), notices.begin(), notices.end());
            return true;
        };
        b.now = sys_days{year{2026} / 11 / 23} + hours{8};
        b.conversations.between_syncs(b.now, sink);
        REQUIRE(b.posted.size() == 1);
        CHECK(b.posted[0].conversation.room_id == salon);
        // Tried again a little later, once the chat is there.
        chat_ready = true;
        b.conversations.between_syncs(b.now + seconds{5}, sink);
        CHECK(b.posted.size() == 1);
        b.conversations.between_syncs(b.now + seconds{15}, sink);
        REQUIRE(b.posted.size() == 2);
        CHECK(b.posted[1].direct_to == marie);
        // No ✅: the next day, once more, with its own txn id.
        b.conversations.between_syncs(b.now + days{1}, sink);
        REQUIRE(b.posted.size() == 3);
        CHECK(b.posted[2].direct_to == marie);
        CHECK(b.posted[2].txn_id == b.posted[1].txn_id + "-r1");
        CHECK(b.posted[2].markdown.find("Rappel") != std::string::npos);
    }

    TEST_CASE("the kit campaign's direct message that cannot go is tried less and less often")
    {
        Bench b;
        link_marie_to_a_late_eple(b);
        REQUIRE(b.campaign.start(commands::parse_campaign("chaque lundi 9h seuil 80 %").value(),
                                 salon, admin, b.now));
        int attempts = 0;
        const app::NoticeSink sink = [&](const std::vector<app::Notice>& notices) {
            for (const auto& n : notices)
                if (!n.direct_to.empty()) {
                    ++attempts;
                    return false; // the chat never opens
                }
            return true;
        };
        const auto monday = sys_days{year{2026} / 11 / 23} + hours{8};
        for (int s = 0; s <= 80; ++s)
            b.conversations.between_syncs(monday + seconds{s}, sink);
        // At 0, then 10, 30 (20 later) and 70 (40 later) seconds.
        CHECK(attempts == 4);
    }

    TEST_CASE("roles come from the config lists or the power level of a trusted salon")
    {
        bot::Config config;
        config.admins = {admin};
        config.support = {"@support:hs.test"};
        config.allowed_rooms = {salon};
        CHECK(app::role_of(config, admin, salon, 0) == commands::Role::admin);
        CHECK(app::role_of(config, "@support:hs.test", salon, 0) == commands::Role::support);
        CHECK(app::role_of(config, marie, salon, 0) == commands::Role::member);
        CHECK(app::role_of(config, marie, salon, 50) == commands::Role::support);
        CHECK(app::role_of(config, marie, salon, 100) == commands::Role::admin);
        // her own room, made with power 100, lends her nothing; the lists count everywhere
        const std::string hers = "!a-elle:hs.test";
        CHECK(app::role_of(config, marie, hers, 100) == commands::Role::member);
        CHECK(app::role_of(config, admin, hers, 0) == commands::Role::admin);
        config.power_level_rooms = {hers}; // the admins say otherwise
        CHECK(app::role_of(config, marie, hers, 100) == commands::Role::admin);
        CHECK(app::role_of(config, marie, salon, 100) == commands::Role::member);
        config.power_level_rooms.clear();
        config.admin_power_level = 0; // never from the power level
        CHECK(app::role_of(config, marie, salon, 100) == commands::Role::support);
    }

    TEST_CASE("a reloaded configuration changes roles and limits from the next message on")
    {
        Bench b;
        b.config.allowed_rooms = {salon};
        CHECK(says(b.say("!kb"), "réservée"));
        CHECK(says(b.say("!rappel demain 9h kit"), "Rappel n° 1"));
        auto reloaded = std::make_shared<bot::Config>(b.config);
        reloaded->admins = {marie};
        reloaded->reminder_limits.max_per_user = 1;
        reloaded->difficulty.signals_needed = 4;
        b.conversations.reconfigure(reloaded);
        CHECK(says(b.say("!kb"), "Usage")); // an admin now
        b.config.admins = {admin};          // the config given at start is no longer read
        CHECK(says(b.say("!kb"), "Usage"));
        // admins are not limited: a member at the new limit is
        auto limited = std::make_shared<bot::Config>(*reloaded);
        limited->admins.clear();
        b.conversations.reconfigure(limited);
        CHECK(says(b.say("!rappel demain 10h kit"), "le maximum est de 1"));
        CHECK(says(b.say("!difficultes"), "4 signaux"));
    }

    TEST_CASE("power 100 in a room of one's own does not open another user's data")
    {
        Bench b;
        b.config.allowed_rooms = {salon};
        b.config.inviters = {":hs.test"}; // anyone of the server may invite the bot
        // claire's ticket, in the salon
        const auto card = b.to_summary_card();
        REQUIRE(says(b.react("✅", card), "R-000001"));
        // mallory made a room, is 100 there, and invited the bot
        const std::string own = "!mallory:hs.test";
        const auto as_mallory = [&](const std::string& text) {
            auto m = b.message(text, true, "@mallory:hs.test", {own, ""});
            m.room_id = own;
            m.power_level = 100;
            return b.conversations.on_message(m);
        };
        const auto ticket = as_mallory("!ticket R-000001");
        REQUIRE(ticket.has_value());
        CHECK(ticket->markdown.find("Je ne trouve pas de ticket") != std::string::npos);
        const auto stats = as_mallory("!kb stats");
        REQUIRE(stats.has_value());
        CHECK(stats->markdown.find("réservée") != std::string::npos);
        const auto ticket_stats = as_mallory("!tickets stats");
        REQUIRE(ticket_stats.has_value());
        CHECK(ticket_stats->markdown.find("réservées au support") != std::string::npos);
        const auto import = as_mallory("!import etablissements");
        REQUIRE(import.has_value());
        CHECK(import->markdown.find("réservée") != std::string::npos);
    }

    TEST_CASE("statut is for admins and shows the state it is given")
    {
        Bench b;
        b.config.admins = {admin};
        b.status_report.version = "opale-bot 9.9";
        b.status_report.started = std::chrono::system_clock::now() - hours{26};
        b.status_report.entries = 31;
        b.status_report.documents = 2;
        b.status_report.homeserver = app::StatusReport::Homeserver{
            std::chrono::system_clock::now() - seconds{5}, 0, {}, seconds{30}};
        b.status_report.tickets.itop = true;
        b.status_report.tickets.failures_in_a_row = 4;
        b.status_report.tickets.last_cause = "Connection refused";
        b.status_report.problems.push_back(
            {std::chrono::system_clock::now(), "bot.itop", "iTop find refused: `code` 1", true});
        const auto refused = b.say("!statut");
        REQUIRE(refused.has_value());
        CHECK(refused->markdown.find("réservée") != std::string::npos);
        CHECK(refused->markdown.find("opale-bot 9.9") == std::string::npos);

        auto m = b.message("!statut", true, admin);
        const auto shown = b.conversations.on_message(m);
        REQUIRE(shown.has_value());
        const auto& text = shown->markdown;
        CHECK(text.find("opale-bot 9.9") != std::string::npos);
        CHECK(text.find("En service depuis 1 j 2 h") != std::string::npos);
        CHECK(text.find("Serveur Matrix : joignable") != std::string::npos);
        CHECK(text.find("il y a 5 s") != std::string::npos);
        CHECK(text.find("Fiches chargées : 31 ; documents : 2") != std::string::npos);
        CHECK(text.find("iTop **injoignable** (4 échec(s) de suite, dernier : `Connection "
                        "refused`)") != std::string::npos);
        // a backtick in a log line cannot end its code span
        CHECK(text.find("`iTop find refused: 'code' 1`") != std::string::npos);
    }

    TEST_CASE("a refused import is told in the alerts without the file's contents")
    {
        Bench b;
        b.config.admins = {admin};
        auto m = b.message("!import indicateurs", true, admin);
        m.attachment = {"kit.csv", "uai;date;kit_taux\n0590001X;hier;secret-value\n"};
        const auto reply = b.conversations.on_message(m);
        REQUIRE(reply.has_value());
        const auto due = b.alerts.take_due(std::chrono::system_clock::now());
        REQUIRE(due.size() == 1);
        CHECK(due[0].kind == "import");
        REQUIRE(due[0].details.size() == 1);
        CHECK(due[0].details[0].rfind("indicateurs : kit.csv, ", 0) == 0);
        CHECK(bot::alert_message(due[0]).find("secret-value") == std::string::npos);
    }

    TEST_CASE("the console and the bot share one registry with every command")
    {
        Bench b;
        const auto help = b.conversations.registry().help(commands::Role::admin);
        for (const std::string name :
             {"aide", "sigle", "fiche", "kb", "eple", "vague", "import", "ticket", "tickets", "moi",
              "rappel", "rappels", "campagne", "statut"})
            CHECK_MESSAGE(help.find("!" + name) != std::string::npos, name);
    }

    TEST_CASE("while the ticket backend hangs other questions are answered at once")
    {
        Bench b;
        Nudges nudges;
        b.conversations.start_backend_thread(b.state, nudges.callback());
        b.gated.close();                            // iTop stops answering
        CHECK_FALSE(b.say("!tickets").has_value()); // $1: the backend thread will answer
        REQUIRE(b.gated.wait_until_held());
        // Meanwhile the salon is served: the answer comes back with the gate still closed.
        CHECK(says(b.conversations.on_message(b.message("!sigle EJ", true, marie, {salon, ""})),
                   "Engagement juridique")); // Marie herself, elsewhere in the salon
        const auto other = b.conversations.on_message(
            b.message("Comment créer le tiers DDFIP ?", true, "@paul:hs.test"));
        REQUIRE(other.has_value());
        CHECK(other->entry_id == "tiers-ddfip");
        // Marie's next message in that thread waits behind her first: order is kept.
        CHECK_FALSE(b.say("!ticket R-000001").has_value()); // $4
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.empty()); // nothing ready yet

        b.gated.open();
        REQUIRE(nudges.wait_for(2)); // one per reply, each ends the long-poll
        b.conversations.between_syncs(b.now, b.sink);
        REQUIRE(b.posted.size() == 2);
        CHECK(b.posted[0].txn_id == bot::txn_id_for("$1"));
        CHECK(b.posted[0].reply_to == "$1");
        CHECK(b.posted[0].conversation.thread_root == "$fil");
        CHECK(b.posted[0].mentions == std::vector<std::string>{marie});
        CHECK(b.posted[0].priority == 0); // a reply: before background work
        CHECK(b.posted[0].markdown.find("ticket") != std::string::npos);
        CHECK(b.posted[1].txn_id == bot::txn_id_for("$4"));
        CHECK(b.posted[1].markdown.find("Je ne trouve pas de ticket") != std::string::npos);
        // posted: finished, never posted again
        b.conversations.between_syncs(b.now, b.sink);
        CHECK(b.posted.size() == 2);
        CHECK_FALSE(b.say("!sigle DP").value().markdown.empty()); // the lane is free again
    }

    TEST_CASE("a question queued behind a hung command is answered on the backend thread")
    {
        Bench b;
        Nudges nudges;
        std::mutex recorded_mutex;
        std::vector<bot::QuestionRecord> recorded; // what the bot keeps for !kb stats
        b.conversations.start_backend_thread(b.state, nudges.callback(),
                                             [&](const bot::QuestionRecord& question) {
                                                 const std::lock_guard lock{recorded_mutex};
                                                 recorded.push_back(question);
                                             });
        b.gated.close();                            // iTop stops answering
        CHECK_FALSE(b.say("!tickets").has_value()); // $1: held on the backend thread
        REQUIRE(b.gated.wait_until_held());
        // Marie's question in the same thread waits behind her command: order is kept
        CHECK_FALSE(b.say("Comment créer le tiers DDFIP ?").has_value()); // $2
        // Paul's question is answered at once on this thread, with his own record
        const auto paul = b.conversations.on_message(
            b.message("Comment mettre en place le prélèvement ?", true, "@paul:hs.test"));
        REQUIRE(paul.has_value());
        REQUIRE(paul->question.has_value());
        CHECK(paul->question->sender == "@paul:hs.test");
        CHECK(paul->question->question.find("prélèvement") != std::string::npos);
        b.gated.open();
        REQUIRE(nudges.wait_for(2));
        b.conversations.between_syncs(b.now, b.sink);
        REQUIRE(b.posted.size() == 2);
        CHECK(b.posted[1].txn_id == bot::txn_id_for("$2"));
        CHECK(b.posted[1].markdown.find("DDFIP") != std::string::npos);
        CHECK(b.posted[1].entry_id == "tiers-ddfip"); // its 👍 and 👎 count for the fiche
        CHECK(b.posted[0].entry_id.empty());
        {
            // the question answered on the backend thread is kept like any other: its event (for
            // a 👎), room, sender and the fiche that answered it
            const std::lock_guard lock{recorded_mutex};
            REQUIRE(recorded.size() == 1);
            CHECK(recorded[0].event_id == "$2");
            CHECK(recorded[0].room == salon);
            CHECK(recorded[0].sender == marie);
            CHECK(recorded[0].entry_id == "tiers-ddfip");
            CHECK(recorded[0].question.find("DDFIP") != std::string::npos);
        }
        // the sync thread's next question gets its own record, not the backend thread's
        const auto next =
            b.conversations.on_message(b.message("!sigle EJ", true, "@paul:hs.test", {salon, ""}));
        REQUIRE(next.has_value());
        CHECK_FALSE(next->question.has_value());
    }

    TEST_CASE("a ticket confirmed while the backend hangs is created once and survives a restart")
    {
        opalebot::testing::TempDir dir;
        const auto path = dir.file("state.db");
        {
            Bench b{path};
            const auto card = b.to_summary_card(); // in the foreground: nothing waits yet
            Nudges nudges;
            b.conversations.start_backend_thread(b.state, nudges.callback());
            b.gated.close();
            CHECK_FALSE(b.react("✅", card).has_value()); // deferred: created over there
            REQUIRE(b.gated.wait_until_held());
            b.outbox_full = true; // the reply cannot be queued: the job must stay
            b.gated.open();
            REQUIRE(nudges.wait_for(1));
            b.conversations.between_syncs(b.now, b.sink);
            CHECK(b.posted.empty());
            b.conversations.stop_backend_thread(); // then the bot stops
            CHECK(b.tickets.find("R-000001").value().has_value());
        }
        Bench restarted{path};
        Nudges nudges;
        restarted.conversations.start_backend_thread(restarted.state, nudges.callback());
        REQUIRE(nudges.wait_for(1)); // the job left over, with the reply it had computed
        restarted.conversations.between_syncs(restarted.now, restarted.sink);
        REQUIRE(restarted.posted.size() == 1);
        CHECK(restarted.posted[0].markdown.find("R-000001") != std::string::npos);
        CHECK(restarted.posted[0].conversation.thread_root == "$fil");
        CHECK_FALSE(restarted.tickets.find("R-000002").value().has_value()); // created once
        restarted.conversations.stop_backend_thread();
        app::BackendQueue queue{restarted.state};
        CHECK(queue.pending().value().empty());
    }

    TEST_CASE("the requester's messages in the ticket's thread are added to the ticket")
    {
        Bench b;
        const auto card = b.to_summary_card();
        REQUIRE(says(b.react("✅", card), "R-000001"));
        const auto ticket = b.tickets.find("R-000001").value();
        REQUIRE(ticket.has_value());
        REQUIRE(static_cast<bool>(b.follow_up.watch(*ticket))); // as main does on creation
        CHECK(b.conversations.in_conversation(marie, {salon, "$fil"}));
        CHECK_FALSE(b.conversations.in_conversation("@paul:hs.test", {salon, "$fil"}));

        const auto added = b.say("Voici la référence du mandat : 2026-42", false);
        REQUIRE(added.has_value());
        CHECK(added->reaction == "✅");
        CHECK(added->markdown.find("R-000001") != std::string::npos);
        auto file = b.message("capture.png", false);
        file.attachment = std::pair{std::string{"capture.png"}, std::string{"\x89PNG"}};
        REQUIRE(b.conversations.on_message(file).has_value());
        const auto log = b.tickets.find("R-000001").value()->log;
        REQUIRE(log.size() == 2); // the file once, not its name again as text
        CHECK(log[0].text == "Voici la référence du mandat : 2026-42");
        CHECK(log[0].author == marie);
        CHECK(log[1].text == "Fichier envoyé dans le fil : capture.png");
        // someone else in the thread is only salon chatter
        CHECK_FALSE(
            b.conversations.on_message(b.message("merci !", false, "@paul:hs.test")).has_value());
        CHECK(b.tickets.find("R-000001").value()->log.size() == 2);

        // on the backend thread the acknowledgement is a reaction on the message itself
        Nudges nudges;
        b.conversations.start_backend_thread(b.state, nudges.callback());
        const auto deferred = b.message("Et le bordereau aussi", false);
        CHECK_FALSE(b.conversations.on_message(deferred).has_value());
        REQUIRE(nudges.wait_for(1));
        b.conversations.between_syncs(b.now, b.sink);
        REQUIRE(b.posted.size() == 1);
        CHECK(b.posted[0].reaction == "✅");
        CHECK(b.posted[0].reply_to == deferred.event_id);
        CHECK(b.tickets.find("R-000001").value()->log.size() == 3);
    }
}
