#include "bot/config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

using namespace opalebot::bot;
using namespace std::chrono_literals;

namespace {

/// Sets (or unsets) an environment variable for one scope, then puts the old value back.
class EnvVar {
public:
    EnvVar(const char* name, const char* value) : name_(name)
    {
        if (const char* old = std::getenv(name))
            old_ = old;
        if (value != nullptr)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~EnvVar()
    {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    EnvVar(const EnvVar&) = delete;
    EnvVar& operator=(const EnvVar&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

/// Both secrets unset for the scope, so that the developer's environment never leaks in.
struct NoSecretsInEnv {
    EnvVar password{"OPALEBOT_PASSWORD", nullptr};
    EnvVar token{"OPALEBOT_ACCESS_TOKEN", nullptr};
    EnvVar itop_password{"OPALEBOT_ITOP_PASSWORD", nullptr};
    EnvVar itop_token{"OPALEBOT_ITOP_TOKEN", nullptr};
};

const std::string valid_config = R"(homeserver:
  url: "https://matrix.agent.education.tchap.gouv.fr/"
account:
  user_id: "@opale-bot-ac-lille.fr:agent.education.tchap.gouv.fr"
  email: "opale-bot@ac-lille.fr"
  password: "secret-du-fichier"
rooms:
  allowed: ["!salon:agent.education.tchap.gouv.fr"]
  inviters: ["@conseil:agent.education.tchap.gouv.fr", ":agent.education.tchap.gouv.fr"]
behaviour:
  reply_mode: reply
  answer_without_mention: true
  bots: ["@autre-bot:agent.tchap.gouv.fr"]
  command_prefix: "?"
  max_backlog_age_seconds: 20
rate_limit:
  per_second: 0.5
  burst: 3
sync:
  timeout_seconds: 25
)";

/// The three sections a config cannot do without; lines 1 to 3.
const std::string minimal_config = "homeserver: {url: \"https://hs.test\"}\n"
                                   "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                   "rooms: {inviters: [\":hs.test\"]}\n";

const ConfigProblem* find_problem(const ConfigLoad& load, const std::string& path)
{
    const auto it = std::find_if(load.problems.begin(), load.problems.end(),
                                 [&](const ConfigProblem& p) { return p.path == path; });
    return it == load.problems.end() ? nullptr : &*it;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_config reads a complete file without problems")
    {
        const NoSecretsInEnv env;
        const auto load = parse_config(valid_config, "bot.yaml");
        CHECK(load.problems.empty());
        const auto& c = load.config;
        CHECK(c.homeserver_url == "https://matrix.agent.education.tchap.gouv.fr"); // no slash
        CHECK(c.user_id == "@opale-bot-ac-lille.fr:agent.education.tchap.gouv.fr");
        CHECK(c.email == "opale-bot@ac-lille.fr");
        CHECK(c.password == "secret-du-fichier");
        CHECK(c.access_token.empty());
        REQUIRE(c.allowed_rooms.size() == 1);
        CHECK(c.allowed_rooms[0] == "!salon:agent.education.tchap.gouv.fr");
        REQUIRE(c.inviters.size() == 2);
        CHECK(c.inviters[1] == ":agent.education.tchap.gouv.fr");
        CHECK(c.reply_mode == ReplyMode::reply);
        CHECK(c.answer_without_mention);
        REQUIRE(c.bots.size() == 1);
        CHECK(c.command_prefix == "?");
        CHECK(c.max_backlog_age == 20s);
        CHECK(c.requests_per_second == doctest::Approx(0.5));
        CHECK(c.burst == 3);
        CHECK(c.sync_timeout == 25s);
    }

    TEST_CASE("alertes.salon must be a room id among the allowed rooms")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {allowed: [\"!salon:hs.test\", \"!admins:hs.test\"]}\n";
        const auto good = parse_config(base + "alertes: {salon: \"!admins:hs.test\"}\n", "b.yaml");
        CHECK(good.problems.empty());
        CHECK(good.config.alerts_room == "!admins:hs.test");

        const auto alias = parse_config(base + "alertes: {salon: \"#admins:hs.test\"}\n", "b.yaml");
        const auto* bad = find_problem(alias, "alertes.salon");
        REQUIRE(bad != nullptr);
        CHECK(bad->line == 4);
        CHECK(bad->message.find("#admins:hs.test") != std::string::npos);

        const auto elsewhere =
            parse_config(base + "alertes: {salon: \"!ailleurs:hs.test\"}\n", "b.yaml");
        const auto* outside = find_problem(elsewhere, "alertes.salon");
        REQUIRE(outside != nullptr);
        CHECK(outside->message.find("rooms.allowed") != std::string::npos);
    }

    TEST_CASE("room ids of room version 12 have no server and are accepted")
    {
        const NoSecretsInEnv env;
        // Synapse 1.163 makes such rooms by default: "!" and the create event's hash.
        const std::string v12 = "!bQ5x4ehiUcIWa4lJuiJHDX4ufg6CTtolh8SpJ5nJHTw";
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n";
        const auto good = parse_config(base + "rooms: {allowed: [\"" + v12 + "\"]}\n" +
                                           "roles: {power_level_rooms: [\"" + v12 + "\"]}\n" +
                                           "alertes: {salon: \"" + v12 + "\"}\n",
                                       "b.yaml");
        CHECK(good.problems.empty());
        CHECK(good.config.alerts_room == v12);
        REQUIRE(good.config.allowed_rooms.size() == 1);
        CHECK(good.config.allowed_rooms[0] == v12);

        for (const std::string wrong : {"!short", "!bQ5x4ehiUcIWa4lJuiJHDX4ufg6CTtolh8SpJ5nJHT=",
                                        "!bQ5x4ehiUcIWa4lJuiJHDX4ufg6CTtolh8SpJ5nJHTwx"}) {
            CAPTURE(wrong);
            const auto load =
                parse_config(base + "rooms: {allowed: [\"" + wrong + "\"]}\n", "b.yaml");
            CHECK(find_problem(load, "rooms.allowed[0]") != nullptr);
        }
    }

    TEST_CASE("state.sauvegarde_quotidienne is read and each bad key located by line")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n"
                                 "state:\n"
                                 "  database: /var/lib/opale-bot/state.db\n";
        const auto none = parse_config(base, "b.yaml");
        CHECK(none.problems.empty());
        CHECK(none.config.daily_backup.folder.empty()); // off unless asked for
        // The section at line 6, its keys from line 7 on.
        const auto with_backup = [&](const std::string& keys) {
            return parse_config(base + "  sauvegarde_quotidienne:\n" + keys, "b.yaml");
        };

        const auto defaults = with_backup("    dossier: /var/lib/opale-bot/sauvegardes\n");
        CHECK(defaults.problems.empty());
        CHECK(defaults.config.daily_backup.folder == "/var/lib/opale-bot/sauvegardes");
        CHECK(defaults.config.daily_backup.keep == 7);
        CHECK(defaults.config.daily_backup.time_of_day == 2h + 30min);

        const auto set = with_backup("    dossier: /srv/sauvegardes\n    garder: 30\n"
                                     "    heure: \"23:05\"\n");
        CHECK(set.problems.empty());
        CHECK(set.config.daily_backup.keep == 30);
        CHECK(set.config.daily_backup.time_of_day == 23h + 5min);

        const auto bad = with_backup("    garder: 0\n    heure: \"24:00\"\n    jours: 3\n");
        const auto* keep = find_problem(bad, "state.sauvegarde_quotidienne.garder");
        REQUIRE(keep != nullptr);
        CHECK(keep->line == 7);
        const auto* time = find_problem(bad, "state.sauvegarde_quotidienne.heure");
        REQUIRE(time != nullptr);
        CHECK(time->line == 8);
        CHECK(time->message.find("HH:MM") != std::string::npos);
        CHECK(time->message.find("24:00") != std::string::npos);
        const auto* unknown = find_problem(bad, "state.sauvegarde_quotidienne.jours");
        REQUIRE(unknown != nullptr);
        CHECK(unknown->line == 9);
        const auto* folder = find_problem(bad, "state.sauvegarde_quotidienne.dossier");
        REQUIRE(folder != nullptr); // a missing key has no line
        CHECK(folder->line == 0);
        CHECK(format_problems("b.yaml", bad.problems).find("b.yaml:8:") != std::string::npos);

        for (const std::string wrong : {"2h30", "2:30", "02:60", "ab:cd"}) {
            const auto load = with_backup("    dossier: /s\n    heure: \"" + wrong + "\"\n");
            CHECK_MESSAGE(find_problem(load, "state.sauvegarde_quotidienne.heure") != nullptr,
                          wrong);
        }
    }

    TEST_CASE("metrics.ecoute is an address and port on the loopback unless said otherwise")
    {
        const NoSecretsInEnv env;
        const auto& base = minimal_config;
        const auto absent = parse_config(base, "m.yaml");
        CHECK(absent.problems.empty());
        CHECK(absent.config.metrics.host.empty()); // no metrics server

        const auto v4 = parse_config(base + "metrics: {ecoute: \"127.0.0.1:9464\"}\n", "m.yaml");
        CHECK(v4.problems.empty());
        CHECK(v4.config.metrics.host == "127.0.0.1");
        CHECK(v4.config.metrics.port == 9464);
        const auto v6 = parse_config(base + "metrics: {ecoute: \"[::1]:9100\"}\n", "m.yaml");
        CHECK(v6.problems.empty());
        CHECK(v6.config.metrics.host == "::1");
        CHECK(v6.config.metrics.port == 9100);

        const auto everywhere =
            parse_config(base + "metrics:\n  ecoute: \"0.0.0.0:9464\"\n", "m.yaml");
        const auto* refused = find_problem(everywhere, "metrics.ecoute");
        REQUIRE(refused != nullptr);
        CHECK(refused->line == 5);
        CHECK(refused->message.find("boucle locale") != std::string::npos);
        CHECK(refused->message.find("metrics.ecoute_hors_boucle_locale: true") !=
              std::string::npos);
        CHECK(everywhere.config.metrics.host.empty());
        const auto said = parse_config(base + "metrics:\n  ecoute: \"0.0.0.0:9464\"\n"
                                              "  ecoute_hors_boucle_locale: true\n",
                                       "m.yaml");
        CHECK(said.problems.empty());
        CHECK(said.config.metrics.host == "0.0.0.0");

        for (const auto* wrong : {"localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                                  "127.0.0.1:94a", "::1:9464", "[::1]9464", "10.0.0.300:80"}) {
            const auto load = parse_config(
                base + "metrics: {ecoute: \"" + std::string{wrong} + "\"}\n", "m.yaml");
            const auto* problem = find_problem(load, "metrics.ecoute");
            REQUIRE_MESSAGE(problem != nullptr, wrong);
            CHECK(problem->line == 4);
            CHECK(problem->message.find(wrong) != std::string::npos);
            CHECK(load.config.metrics.host.empty());
        }
        const auto empty = parse_config(base + "metrics: {}\n", "m.yaml");
        REQUIRE(find_problem(empty, "metrics.ecoute") != nullptr);
        const auto unknown =
            parse_config(base + "metrics: {ecoute: \"127.0.0.1:1\", port: 2}\n", "m.yaml");
        CHECK(find_problem(unknown, "metrics.port") != nullptr);
        CHECK(format_problems("m.yaml", everywhere.problems).rfind("m.yaml:5:", 0) == 0);
    }

    TEST_CASE("parse_config keeps the defaults of keys left out")
    {
        const NoSecretsInEnv env;
        const auto load = parse_config("homeserver: {url: \"https://hs.test\"}\n"
                                       "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                       "rooms: {inviters: [\":hs.test\"]}\n",
                                       "bot.yaml");
        CHECK(load.problems.empty());
        const Config defaults;
        CHECK(load.config.reply_mode == ReplyMode::thread);
        CHECK_FALSE(load.config.answer_without_mention);
        CHECK(load.config.ignore_bots);
        CHECK(load.config.command_prefix == "!");
        CHECK(load.config.max_backlog_age == defaults.max_backlog_age);
        CHECK(load.config.burst == defaults.burst);
        CHECK(load.config.device_name == "opale-bot");
    }

    TEST_CASE("parse_config locates an unknown key by line and column")
    {
        const NoSecretsInEnv env;
        const std::string text = "homeserver:\n"
                                 "  url: \"https://hs.test\"\n"
                                 "account:\n"
                                 "  user_id: \"@bot:hs.test\"\n"
                                 "  pasword: \"oups\"\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        const auto load = parse_config(text, "bot.yaml");
        const auto* typo = find_problem(load, "account.pasword");
        REQUIRE(typo != nullptr);
        CHECK(typo->line == 5);
        CHECK(typo->column == 3);
        CHECK(typo->message.find("pasword") != std::string::npos);
        // The misspelt password does not count: no secret at all is a second problem.
        CHECK(find_problem(load, "account.password") != nullptr);
    }

    TEST_CASE("parse_config reports a wrong boolean and an out of range number where they are")
    {
        const NoSecretsInEnv env;
        const std::string text = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n"
                                 "behaviour:\n"
                                 "  answer_without_mention: peut-être\n"
                                 "rate_limit:\n"
                                 "  burst: 0\n";
        const auto load = parse_config(text, "bot.yaml");
        CHECK(load.problems.size() == 2);
        const auto* boolean = find_problem(load, "behaviour.answer_without_mention");
        REQUIRE(boolean != nullptr);
        CHECK(boolean->line == 5);
        CHECK(boolean->column == 27);
        CHECK(boolean->message.find("peut-être") != std::string::npos);
        const auto* burst = find_problem(load, "rate_limit.burst");
        REQUIRE(burst != nullptr);
        CHECK(burst->line == 7);
        CHECK(burst->column == 10);
        CHECK(load.config.burst == Config{}.burst); // the bad value is not taken
    }

    TEST_CASE("parse_config reports the bad item of a list by its index")
    {
        const NoSecretsInEnv env;
        const std::string text = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms:\n"
                                 "  allowed:\n"
                                 "    - \"!bon:hs.test\"\n"
                                 "    - \"#alias:hs.test\"\n";
        const auto load = parse_config(text, "bot.yaml");
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].path == "rooms.allowed[1]");
        CHECK(load.problems[0].line == 6);
        CHECK(load.problems[0].column == 7);
        REQUIRE(load.config.allowed_rooms.size() == 1);
        CHECK(load.config.allowed_rooms[0] == "!bon:hs.test");
    }

    TEST_CASE("parse_config reports missing keys with line zero and every problem at once")
    {
        const NoSecretsInEnv env;
        const auto load = parse_config("account: {}\n", "bot.yaml");
        const auto* url = find_problem(load, "homeserver.url");
        REQUIRE(url != nullptr);
        CHECK(url->line == 0);
        CHECK(url->column == 0);
        CHECK(find_problem(load, "account.password") != nullptr);
        CHECK(find_problem(load, "rooms") != nullptr);
    }

    TEST_CASE("parse_config refuses a homeserver url without a scheme")
    {
        const NoSecretsInEnv env;
        const auto load = parse_config("homeserver:\n  url: matrix.hs.test\n"
                                       "account: {access_token: tok}\n"
                                       "rooms: {inviters: [\":hs.test\"]}\n",
                                       "bot.yaml");
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].path == "homeserver.url");
        CHECK(load.problems[0].line == 2);
    }

    TEST_CASE("parse_config reports unreadable YAML with its position and never throws")
    {
        const NoSecretsInEnv env;
        ConfigLoad load;
        CHECK_NOTHROW(load = parse_config("homeserver:\n  url: [unclosed\n", "bot.yaml"));
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].path.empty());
        CHECK(load.problems[0].line >= 2);

        const auto scalar = parse_config("just text", "bot.yaml");
        REQUIRE(scalar.problems.size() == 1);
        CHECK(scalar.problems[0].line == 1);
    }

    TEST_CASE("OPALEBOT_PASSWORD and OPALEBOT_ACCESS_TOKEN override the file")
    {
        const EnvVar password{"OPALEBOT_PASSWORD", "secret-de-l-environnement"};
        const EnvVar token{"OPALEBOT_ACCESS_TOKEN", "syt_environnement"};
        const auto load = parse_config(valid_config, "bot.yaml");
        CHECK(load.problems.empty());
        CHECK(load.config.password == "secret-de-l-environnement");
        CHECK(load.config.access_token == "syt_environnement");
    }

    TEST_CASE("a secret from the environment satisfies a file without one")
    {
        const std::string text = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\"}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        {
            const NoSecretsInEnv env;
            CHECK(find_problem(parse_config(text, "bot.yaml"), "account.password") != nullptr);
        }
        {
            const EnvVar token{"OPALEBOT_ACCESS_TOKEN", nullptr};
            const EnvVar password{"OPALEBOT_PASSWORD", "pw"};
            const auto load = parse_config(text, "bot.yaml");
            CHECK(load.problems.empty());
            CHECK(load.config.password == "pw");
        }
        {
            const EnvVar token{"OPALEBOT_ACCESS_TOKEN", ""}; // empty: as if unset
            const EnvVar password{"OPALEBOT_PASSWORD", ""};
            CHECK(find_problem(parse_config(text, "bot.yaml"), "account.password") != nullptr);
        }
    }

    TEST_CASE("the environment guard of these tests restores the previous value")
    {
        const EnvVar outer{"OPALEBOT_PASSWORD", "avant"};
        {
            const EnvVar inner{"OPALEBOT_PASSWORD", "pendant"};
            CHECK(std::string{std::getenv("OPALEBOT_PASSWORD")} == "pendant");
        }
        REQUIRE(std::getenv("OPALEBOT_PASSWORD") != nullptr);
        CHECK(std::string{std::getenv("OPALEBOT_PASSWORD")} == "avant");
    }

    TEST_CASE("format_problems writes file line column path and message")
    {
        const std::vector<ConfigProblem> problems{
            {"rate_limit.burst", 7, 10, "doit être entre 1 et 100, pas 0"},
            {"homeserver.url", 0, 0, "adresse manquante"},
            {"", 2, 3, "YAML illisible"}};
        CHECK(format_problems("bot.yaml", problems) ==
              "bot.yaml:7:10: rate_limit.burst : doit être entre 1 et 100, pas 0\n"
              "bot.yaml: homeserver.url : adresse manquante\n"
              "bot.yaml:2:3: YAML illisible\n");
        CHECK(format_problems("bot.yaml", {}).empty());
    }

    TEST_CASE("parse_config reads the difficulty thresholds and refuses bad ones")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        const auto defaults = parse_config(base, "bot.yaml");
        CHECK(defaults.config.difficulty.kit_below == doctest::Approx(10.0));
        CHECK(defaults.config.difficulty.signals_needed == 2);
        const auto set = parse_config(
            base + "difficultes: {kit_below: 15,5, signals_needed: 3, ej_below: 2}\n", "bot.yaml");
        // "15,5" is YAML for two items of a flow map: the French comma is reported, not guessed.
        CHECK_FALSE(set.problems.empty());
        const auto good = parse_config(
            base + "difficultes: {kit_below: 15.5, signals_needed: 3, ej_below: 2}\n", "bot.yaml");
        CHECK(good.problems.empty());
        CHECK(good.config.difficulty.kit_below == doctest::Approx(15.5));
        CHECK(good.config.difficulty.signals_needed == 3);
        CHECK(good.config.difficulty.ej_below == 2);
        const auto bad = parse_config(base + "difficultes:\n  signals_needed: 7\n", "bot.yaml");
        const auto* problem = find_problem(bad, "difficultes.signals_needed");
        REQUIRE(problem != nullptr);
        CHECK(problem->line == 5);
        CHECK(problem->message.find("entre 1 et 4") != std::string::npos);
    }

    TEST_CASE("parse_config refuses a number that is not a number")
    {
        // Found by tests/fuzz/config_fuzz.cpp: YAML's .nan passed every range check, and a NaN
        // rate made the sender's token bucket always full (no outgoing budget at all).
        const NoSecretsInEnv env;
        const auto load = parse_config(minimal_config + "rate_limit: {per_second: .nan}\n"
                                                        "behaviour:\n"
                                                        "  answer_without_mention_min_score: .NaN\n"
                                                        "difficultes: {kit_below: .nan}\n",
                                       "bot.yaml");
        for (const auto* path :
             {"rate_limit.per_second", "behaviour.answer_without_mention_min_score",
              "difficultes.kit_below"}) {
            const auto* problem = find_problem(load, path);
            REQUIRE_MESSAGE(problem != nullptr, path);
            CHECK(problem->message.find("doit être entre") != std::string::npos);
        }
        CHECK(load.config.requests_per_second == doctest::Approx(1.0));
        CHECK(load.config.answer_without_mention_min_score == doctest::Approx(0.75));
        CHECK(load.config.difficulty.kit_below == doctest::Approx(10.0));
    }

    TEST_CASE("parse_config reads the pickle key file through the reader it is given")
    {
        const NoSecretsInEnv env;
        const auto text = minimal_config + "encryption: {pickle_key_file: /etc/opale-bot/key}\n";
        std::string asked;
        const auto read = parse_config(text, "bot.yaml", [&asked](const std::string& path) {
            asked = path;
            return std::optional<std::string>{"0123456789abcdef\r\n"};
        });
        CHECK(asked == "/etc/opale-bot/key");
        CHECK(read.problems.empty());
        CHECK(read.config.pickle_key == "0123456789abcdef");
        const auto unreadable = parse_config(
            text, "bot.yaml", [](const std::string&) { return std::optional<std::string>{}; });
        REQUIRE(find_problem(unreadable, "encryption.pickle_key_file") != nullptr);
        CHECK(find_problem(unreadable, "encryption.pickle_key_file")->message.find("illisible") !=
              std::string::npos);
        CHECK(unreadable.config.pickle_key.empty());
    }

    TEST_CASE("parse_config reads the tickets section and its defaults")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        const auto defaults = parse_config(base, "bot.yaml");
        REQUIRE(defaults.problems.empty());
        CHECK(defaults.config.tickets.backend == TicketBackendKind::interne);
        CHECK(defaults.config.tickets.follow_up_interval == 5min);
        CHECK(defaults.config.tickets.dialogue_idle == 30min);
        const auto itop = parse_config(base + R"(tickets:
  backend: itop
  suivi_minutes: 2
  dialogue_inactif_minutes: 45
  itop:
    url: "https://itop.test/itop/"
    user: matrix-bot
    password: "du-fichier"
    timeout_seconds: 10
    emails:
      "@claire:hs.test": "claire.durand@ac-lille.fr"
)",
                                       "bot.yaml");
        REQUIRE(itop.problems.empty());
        const auto& t = itop.config.tickets;
        CHECK(t.backend == TicketBackendKind::itop);
        CHECK(t.follow_up_interval == 2min);
        CHECK(t.dialogue_idle == 45min);
        CHECK(t.itop.url == "https://itop.test/itop");
        CHECK(t.itop.user == "matrix-bot");
        CHECK(t.itop.password == "du-fichier");
        CHECK(t.itop.timeout == 10s);
        CHECK(t.itop.emails.at("@claire:hs.test") == "claire.durand@ac-lille.fr");
        CHECK(t.itop.time_zone == "Europe/Paris"); // iTop's default
        CHECK(t.itop.service == "op@le");
        CHECK(t.itop.si2c.team == "SI2C");
        CHECK(t.itop.si2c.request_type == "service_request");
        CHECK(t.itop.drasi.request_type == "incident");
    }

    TEST_CASE("parse_config reads the iTop triage time zone and link and locates mistakes")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n"
                                 "tickets:\n"
                                 "  backend: itop\n"
                                 "  itop:\n"
                                 "    url: https://itop.test\n"
                                 "    user: bot\n"
                                 "    password: pw\n";
        const auto good = parse_config(base + R"(    fuseau: Europe/Brussels
    lien_ticket: "{url}/pages/UI.php?operation=details&class=UserRequest&id={id}"
    service: "Op@le EPLE"
    triage:
      DRASI: {equipe: "DRASI N2", sous_categorie: "Problème technique", type: incident, urgence: 2, impact: 3}
)",
                                       "bot.yaml");
        REQUIRE(good.problems.empty());
        const auto& i = good.config.tickets.itop;
        CHECK(i.time_zone == "Europe/Brussels");
        CHECK(i.ticket_link.find("{id}") != std::string::npos);
        CHECK(i.service == "Op@le EPLE");
        CHECK(i.drasi.team == "DRASI N2");
        CHECK(i.drasi.subcategory == "Problème technique");
        CHECK(i.drasi.urgency == 2);
        CHECK(i.si2c.team == "SI2C"); // the other service keeps its defaults

        const auto bad = parse_config(base + R"(    fuseau: Europe/Lile
    lien_ticket: "https://itop.test/portail"
    triage:
      DRASI: {type: probleme, urgence: 5, equipe_bis: x}
      SIC2: {}
)",
                                      "bot.yaml");
        const auto* zone = find_problem(bad, "tickets.itop.fuseau");
        REQUIRE(zone != nullptr);
        CHECK(zone->line == 10);
        CHECK(zone->column == 13);
        CHECK(zone->message.find("Europe/Lile") != std::string::npos);
        CHECK(find_problem(bad, "tickets.itop.lien_ticket") != nullptr);
        const auto* type = find_problem(bad, "tickets.itop.triage.DRASI.type");
        REQUIRE(type != nullptr);
        CHECK(type->line == 13);
        CHECK(type->message.find("incident ou service_request") != std::string::npos);
        CHECK(find_problem(bad, "tickets.itop.triage.DRASI.urgence") != nullptr);
        CHECK(find_problem(bad, "tickets.itop.triage.DRASI.equipe_bis") != nullptr);
        CHECK(find_problem(bad, "tickets.itop.triage.SIC2") != nullptr); // a typo, not ignored
    }

    TEST_CASE("parse_config locates bad ticket settings")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        const auto load = parse_config(base + R"(tickets:
  backend: glpi
  suivi_minutes: 0
  itop:
    url: itop.test
    secret: x
    emails:
      "claire": "claire@ac-lille.fr"
      "@bob:hs.test": "pas-une-adresse"
)",
                                       "bot.yaml");
        const auto* backend = find_problem(load, "tickets.backend");
        REQUIRE(backend != nullptr);
        CHECK(backend->line == 5);
        CHECK(backend->message.find("interne ou itop") != std::string::npos);
        const auto* interval = find_problem(load, "tickets.suivi_minutes");
        REQUIRE(interval != nullptr);
        CHECK(interval->line == 6);
        const auto* unknown = find_problem(load, "tickets.itop.secret");
        REQUIRE(unknown != nullptr);
        CHECK(unknown->line == 9);
        CHECK(find_problem(load, "tickets.itop.emails.claire") != nullptr);
        const auto* email = find_problem(load, "tickets.itop.emails.@bob:hs.test");
        REQUIRE(email != nullptr);
        CHECK(email->line == 12);

        const auto itop =
            parse_config(base + "tickets:\n  backend: itop\n  itop: {url: ftp://x}\n", "bot.yaml");
        CHECK(find_problem(itop, "tickets.itop.url") != nullptr);
        CHECK(find_problem(itop, "tickets.itop.user") != nullptr); // no credentials at all
    }

    TEST_CASE("OPALEBOT_ITOP_PASSWORD and OPALEBOT_ITOP_TOKEN override the file")
    {
        const NoSecretsInEnv env;
        const std::string text = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n"
                                 "tickets: {backend: itop, itop: {url: \"https://itop.test\", "
                                 "user: bot, password: fichier}}\n";
        const EnvVar password{"OPALEBOT_ITOP_PASSWORD", "de-l-env"};
        const EnvVar token{"OPALEBOT_ITOP_TOKEN", "jeton"};
        const auto load = parse_config(text, "bot.yaml");
        REQUIRE(load.problems.empty());
        CHECK(load.config.tickets.itop.password == "de-l-env");
        CHECK(load.config.tickets.itop.token == "jeton");
    }

    TEST_CASE("parse_config reads the kit campaign phrase with its place and needs its salon")
    {
        const NoSecretsInEnv env;
        const std::string base = "homeserver: {url: \"https://hs.test\"}\n"
                                 "account: {user_id: \"@bot:hs.test\", password: pw}\n"
                                 "rooms: {inviters: [\":hs.test\"]}\n";
        const auto good = parse_config(base + "rappels:\n  campagne_kit: \"chaque lundi 9h\"\n"
                                              "  campagne_kit_salon: \"!s:hs.test\"\n",
                                       "bot.yaml");
        CHECK(good.problems.empty());
        CHECK(good.config.kit_campaign.phrase == "chaque lundi 9h");
        CHECK(good.config.kit_campaign.room == "!s:hs.test");
        CHECK(good.config.kit_campaign.line == 5);
        CHECK(good.config.kit_campaign.column == 17);
        const auto no_room =
            parse_config(base + "rappels: {campagne_kit: \"chaque lundi 9h\"}\n", "bot.yaml");
        CHECK(find_problem(no_room, "rappels.campagne_kit_salon") != nullptr);
        const auto bad_room = parse_config(
            base + "rappels: {campagne_kit: x, campagne_kit_salon: \"#alias:hs\"}\n", "bot.yaml");
        CHECK(find_problem(bad_room, "rappels.campagne_kit_salon") != nullptr);
    }

    TEST_CASE("config reads the weekly digest and locates a bad room or wave")
    {
        const NoSecretsInEnv env;
        const auto good = parse_config(minimal_config + "rapports:\n  hebdo:\n"
                                                        "    quand: \"chaque lundi 8h30\"\n"
                                                        "    salons: [\"!comite:hs.test\"]\n"
                                                        "    vagues: [6, 7]\n",
                                       "bot.yaml");
        CHECK(good.problems.empty());
        CHECK(good.config.weekly_digest.phrase == "chaque lundi 8h30");
        CHECK(good.config.weekly_digest.rooms == std::vector<std::string>{"!comite:hs.test"});
        CHECK(good.config.weekly_digest.waves == std::vector<int>{6, 7});
        const auto no_room = parse_config(
            minimal_config + "rapports: {hebdo: {quand: \"chaque lundi 8h30\"}}\n", "bot.yaml");
        CHECK(find_problem(no_room, "rapports.hebdo.salons") != nullptr);
        const auto bad =
            parse_config(minimal_config + "rapports: {hebdo: {quand: x, salons: [\"#alias:hs\"], "
                                          "vagues: [6, 10]}}\n",
                         "bot.yaml");
        CHECK(find_problem(bad, "rapports.hebdo.salons[0]") != nullptr);
        CHECK(find_problem(bad, "rapports.hebdo.vagues[1]") != nullptr);
        const auto unknown =
            parse_config(minimal_config + "rapports: {mensuel: {quand: x}}\n", "bot.yaml");
        CHECK(find_problem(unknown, "rapports.mensuel") != nullptr);
    }

    TEST_CASE("config reads the reminder limits of members and locates a bad one")
    {
        const NoSecretsInEnv env;
        const auto limits = [](const std::string& section) {
            const auto load = parse_config(minimal_config + section, "bot.yaml");
            CHECK(load.problems.empty());
            return std::pair{load.config.reminder_limits.min_interval_minutes,
                             load.config.reminder_limits.max_per_user};
        };
        CHECK(limits("") == std::pair{60, 20});
        CHECK(limits("rappels:\n  intervalle_minimum_minutes: 240\n  max_par_utilisateur: 5\n") ==
              std::pair{240, 5});
        const auto bad = parse_config(minimal_config + "rappels:\n  intervalle_minimum_minutes: 0\n"
                                                       "  max_par_utilisateur: beaucoup\n",
                                      "bot.yaml");
        const auto* interval = find_problem(bad, "rappels.intervalle_minimum_minutes");
        REQUIRE(interval != nullptr);
        CHECK(interval->line == 5);
        const auto* count = find_problem(bad, "rappels.max_par_utilisateur");
        REQUIRE(count != nullptr);
        CHECK(count->line == 6);
    }
}
