#include "bot/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <arpa/inet.h>
#include <date/tz.h>

namespace opalebot::bot {
namespace {

/// Walks the YAML tree, reading each known key and collecting every problem.
class Reader {
public:
    explicit Reader(std::vector<ConfigProblem>& problems) : problems_(problems) {}

    void problem(const YAML::Node& node, const std::string& path, std::string message)
    {
        const auto mark = node.Mark();
        problems_.push_back({path, mark.line + 1, mark.column + 1, std::move(message)});
    }
    void missing(const std::string& path, std::string message)
    {
        problems_.push_back({path, 0, 0, std::move(message)});
    }

    /// The mapping at `key` of `parent`; unknown keys of it are reported.
    /// `path` names it in messages when it is not at the top ("tickets.itop").
    YAML::Node section(const YAML::Node& parent, const std::string& key,
                       const std::set<std::string>& known, const std::string& path = {})
    {
        const auto& name = path.empty() ? key : path;
        YAML::Node node = parent[key];
        if (!node || node.IsNull())
            return YAML::Node{};
        if (!node.IsMap()) {
            problem(node, name, "doit être une section (clé: valeur)");
            return YAML::Node{};
        }
        unknown_keys(node, name + ".", known);
        return node;
    }

    void unknown_keys(const YAML::Node& map, const std::string& prefix,
                      const std::set<std::string>& known)
    {
        for (const auto& item : map) {
            const auto name = item.first.Scalar();
            if (!known.contains(name))
                problem(item.first, prefix + name, "clé inconnue « " + name + " »");
        }
    }

    void text(const YAML::Node& node, const std::string& path, std::string& out)
    {
        if (!node || node.IsNull())
            return;
        if (!node.IsScalar())
            return problem(node, path, "doit être un texte");
        out = node.Scalar();
    }

    void boolean(const YAML::Node& node, const std::string& path, bool& out)
    {
        if (!node || node.IsNull())
            return;
        bool value = false;
        if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
            return problem(node, path, "doit valoir true ou false, pas « " + shown(node) + " »");
        out = value;
    }

    template <class Number>
    void number(const YAML::Node& node, const std::string& path, Number& out, Number min,
                Number max)
    {
        if (!node || node.IsNull())
            return;
        Number value{};
        if (!node.IsScalar() || !YAML::convert<Number>::decode(node, value))
            return problem(node, path, "doit être un nombre, pas « " + shown(node) + " »");
        if (!(value >= min && value <= max)) { // NaN too: `.nan` would turn the rate limit off
            std::ostringstream range;
            range << "doit être entre " << min << " et " << max << ", pas " << node.Scalar();
            return problem(node, path, range.str());
        }
        out = value;
    }

    void list(const YAML::Node& node, const std::string& path, std::vector<std::string>& out,
              const std::function<bool(const std::string&)>& valid, const std::string& expected)
    {
        if (!node || node.IsNull())
            return;
        if (!node.IsSequence())
            return problem(node, path, "doit être une liste [\"…\", \"…\"]");
        out.clear();
        for (std::size_t i = 0; i < node.size(); ++i) {
            const auto item = node[i];
            const auto item_path = path + "[" + std::to_string(i) + "]";
            if (!item.IsScalar())
                problem(item, item_path, "doit être un texte");
            else if (!valid(item.Scalar()))
                problem(item, item_path, "« " + item.Scalar() + " » n'est pas " + expected);
            else
                out.push_back(item.Scalar());
        }
    }

private:
    static std::string shown(const YAML::Node& node)
    {
        return node.IsScalar() ? node.Scalar() : std::string{"(structure)"};
    }
    std::vector<ConfigProblem>& problems_;
};

bool is_user_id(const std::string& id)
{
    const auto colon = id.find(':');
    return id.size() > 3 && id[0] == '@' && colon != std::string::npos && colon > 1 &&
           colon + 1 < id.size() && id.find(' ') == std::string::npos;
}

/// "!opaque:server", or from room version 12 on (what Synapse 1.163 creates by default) the
/// create event's reference hash: "!" and 43 characters of unpadded URL-safe base64, no server.
bool is_room_id(const std::string& id)
{
    const auto colon = id.find(':');
    if (id.size() > 3 && id[0] == '!' && colon != std::string::npos && colon > 1 &&
        colon + 1 < id.size())
        return true;
    constexpr std::size_t hash_length = 43;
    return id.size() == 1 + hash_length && id[0] == '!' &&
           std::all_of(id.begin() + 1, id.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

bool is_user_or_domain(const std::string& id)
{
    return is_user_id(id) || (id.size() > 1 && id[0] == ':' && id.find(' ') == std::string::npos);
}

void read_secret_from_env(const char* name, std::string& out)
{
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0')
        out = value;
}

bool is_email(const std::string& text)
{
    const auto at = text.find('@');
    return at != std::string::npos && at > 0 && text.find('.', at) != std::string::npos &&
           text.find(' ') == std::string::npos && text.find('@', at + 1) == std::string::npos;
}

bool is_time_zone(const std::string& name)
{
    try {
        static_cast<void>(date::locate_zone(name));
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

/// tickets.itop.triage.SI2C / .DRASI: how iTop files a ticket of that service.
void read_triage(Reader& r, const YAML::Node& triage, const std::string& name,
                 Config::Tickets::Itop::Triage& t)
{
    const auto path = "tickets.itop.triage." + name;
    const auto node =
        r.section(triage, name, {"equipe", "sous_categorie", "type", "urgence", "impact"}, path);
    r.text(node["equipe"], path + ".equipe", t.team);
    r.text(node["sous_categorie"], path + ".sous_categorie", t.subcategory);
    r.text(node["type"], path + ".type", t.request_type);
    if (!t.request_type.empty() && t.request_type != "incident" &&
        t.request_type != "service_request")
        r.problem(node["type"], path + ".type",
                  "doit valoir incident ou service_request, pas « " + t.request_type + " »");
    r.number(node["urgence"], path + ".urgence", t.urgency, 1, 4);
    r.number(node["impact"], path + ".impact", t.impact, 1, 3);
}

/// The `tickets:` section (issue 4); secrets may come from the environment.
void read_tickets(Reader& r, const YAML::Node& root, Config::Tickets& t)
{
    const auto tickets = r.section(
        root, "tickets", {"backend", "itop", "suivi_minutes", "dialogue_inactif_minutes"});
    std::string backend = "interne";
    r.text(tickets["backend"], "tickets.backend", backend);
    if (backend == "interne")
        t.backend = TicketBackendKind::interne;
    else if (backend == "itop")
        t.backend = TicketBackendKind::itop;
    else
        r.problem(tickets["backend"], "tickets.backend",
                  "doit valoir interne ou itop, pas « " + backend + " »");
    long long follow_up = t.follow_up_interval.count();
    r.number(tickets["suivi_minutes"], "tickets.suivi_minutes", follow_up, 1LL, 24LL * 60);
    t.follow_up_interval = std::chrono::minutes{follow_up};
    long long idle = t.dialogue_idle.count();
    r.number(tickets["dialogue_inactif_minutes"], "tickets.dialogue_inactif_minutes", idle, 1LL,
             24LL * 60);
    t.dialogue_idle = std::chrono::minutes{idle};

    auto& i = t.itop;
    const auto itop = r.section(tickets, "itop",
                                {"url", "user", "password", "token", "emails", "timeout_seconds",
                                 "fuseau", "lien_ticket", "service", "triage"},
                                "tickets.itop");
    r.text(itop["fuseau"], "tickets.itop.fuseau", i.time_zone);
    if (itop["fuseau"] && !is_time_zone(i.time_zone))
        r.problem(itop["fuseau"], "tickets.itop.fuseau",
                  "fuseau horaire inconnu « " + i.time_zone + " » (exemple : Europe/Paris)");
    r.text(itop["lien_ticket"], "tickets.itop.lien_ticket", i.ticket_link);
    if (!i.ticket_link.empty() && i.ticket_link.find("{id}") == std::string::npos)
        r.problem(itop["lien_ticket"], "tickets.itop.lien_ticket",
                  "doit contenir {id} (la clé du ticket dans iTop)");
    r.text(itop["service"], "tickets.itop.service", i.service);
    const auto triage = r.section(itop, "triage", {"SI2C", "DRASI"}, "tickets.itop.triage");
    for (auto [name, rules] : {std::pair{"SI2C", &i.si2c}, std::pair{"DRASI", &i.drasi}})
        read_triage(r, triage, name, *rules);
    r.text(itop["url"], "tickets.itop.url", i.url);
    while (!i.url.empty() && i.url.back() == '/')
        i.url.pop_back();
    r.text(itop["user"], "tickets.itop.user", i.user);
    r.text(itop["password"], "tickets.itop.password", i.password);
    r.text(itop["token"], "tickets.itop.token", i.token);
    read_secret_from_env("OPALEBOT_ITOP_PASSWORD", i.password);
    read_secret_from_env("OPALEBOT_ITOP_TOKEN", i.token);
    long long timeout = i.timeout.count();
    r.number(itop["timeout_seconds"], "tickets.itop.timeout_seconds", timeout, 1LL, 300LL);
    i.timeout = std::chrono::seconds{timeout};
    if (const auto emails = itop["emails"]; emails && !emails.IsNull()) {
        if (!emails.IsMap()) {
            r.problem(emails, "tickets.itop.emails",
                      "doit être une section \"@utilisateur:serveur\": adresse");
        } else {
            for (const auto& item : emails) {
                const auto id = item.first.Scalar();
                const auto path = "tickets.itop.emails." + id;
                if (!is_user_id(id))
                    r.problem(item.first, path,
                              "« " + id + " » n'est pas un identifiant Matrix (@nom:serveur)");
                else if (!item.second.IsScalar() || !is_email(item.second.Scalar()))
                    r.problem(item.second, path, "doit être une adresse électronique");
                else
                    i.emails[id] = item.second.Scalar();
            }
        }
    }
    if (t.backend != TicketBackendKind::itop)
        return;
    if (i.url.empty())
        r.missing("tickets.itop.url", "adresse d'iTop manquante (https://…/itop)");
    else if (i.url.rfind("https://", 0) != 0 && i.url.rfind("http://", 0) != 0)
        r.problem(itop["url"], "tickets.itop.url",
                  "doit commencer par https:// (ou http:// pour un iTop local de test)");
    if (i.token.empty() && (i.user.empty() || i.password.empty()))
        r.missing("tickets.itop.user",
                  "ni jeton ni compte complet : indiquez tickets.itop.user et "
                  "tickets.itop.password (ou OPALEBOT_ITOP_PASSWORD), ou tickets.itop.token "
                  "(OPALEBOT_ITOP_TOKEN)");
}

/// "HH:MM" as minutes since midnight; nothing when it is not a time of day.
std::optional<int> minutes_of_day(const std::string& text)
{
    if (text.size() != 5 || text[2] != ':')
        return std::nullopt;
    for (const std::size_t i : {0U, 1U, 3U, 4U})
        if (text[i] < '0' || text[i] > '9')
            return std::nullopt;
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours > 23 || minutes > 59)
        return std::nullopt;
    return hours * 60 + minutes;
}

/// state.sauvegarde_quotidienne: where, how many and when (issue 16).
void read_daily_backup(Reader& r, const YAML::Node& state, Config::DailyBackup& b)
{
    const std::string path = "state.sauvegarde_quotidienne";
    const auto node =
        r.section(state, "sauvegarde_quotidienne", {"dossier", "garder", "heure"}, path);
    if (!node || node.IsNull())
        return;
    r.text(node["dossier"], path + ".dossier", b.folder);
    if (b.folder.empty())
        r.missing(path + ".dossier", "le dossier des sauvegardes est manquant "
                                     "(par exemple /var/lib/opale-bot/sauvegardes)");
    r.number(node["garder"], path + ".garder", b.keep, 1, 366);
    std::string time = "02:30";
    r.text(node["heure"], path + ".heure", time);
    if (const auto minutes = minutes_of_day(time))
        b.time_of_day = std::chrono::minutes{*minutes};
    else
        r.problem(node["heure"], path + ".heure",
                  "doit être une heure HH:MM (par exemple 02:30), pas « " + time + " »");
}

/// Whether `host` is an IP address of the loopback: 127.0.0.0/8, ::1 or ::ffff:127.x.y.z.
std::optional<bool> is_loopback_ip(const std::string& host)
{
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1)
        return std::nullopt;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

/// The `rapports:` section (issue 17): `hebdo: {quand, salons, vagues}`.
void read_weekly_digest(Reader& r, const YAML::Node& root, Config::WeeklyDigest& d)
{
    const auto reports = r.section(root, "rapports", {"hebdo"});
    if (!reports)
        return;
    const auto weekly =
        r.section(reports, "hebdo", {"quand", "salons", "vagues"}, "rapports.hebdo");
    if (!weekly)
        return;
    r.text(weekly["quand"], "rapports.hebdo.quand", d.phrase);
    if (weekly["quand"]) {
        d.line = weekly["quand"].Mark().line + 1;
        d.column = weekly["quand"].Mark().column + 1;
    }
    r.list(weekly["salons"], "rapports.hebdo.salons", d.rooms, is_room_id,
           "un identifiant de salon (!salon:serveur)");
    if (const auto waves = weekly["vagues"]; waves && !waves.IsNull()) {
        if (!waves.IsSequence()) {
            r.problem(waves, "rapports.hebdo.vagues", "doit être une liste de vagues, [6, 7, 8]");
        } else {
            for (std::size_t i = 0; i < waves.size(); ++i) {
                int wave = 0;
                r.number(waves[i], "rapports.hebdo.vagues[" + std::to_string(i) + "]", wave, 1, 9);
                if (wave >= 1)
                    d.waves.push_back(wave);
            }
        }
    }
    if (!d.phrase.empty() && d.rooms.empty())
        r.missing(
            "rapports.hebdo.salons",
            "les salons où publier le rapport hebdomadaire sont manquants ([\"!salon:serveur\"])");
}

/// The `metrics:` section (issue 16): "ADRESSE:PORT", loopback unless said otherwise, since the
/// figures tell anyone who reads them how the salon is used.
void read_metrics(Reader& r, const YAML::Node& root, Config::Metrics& m)
{
    const auto metrics = r.section(root, "metrics", {"ecoute", "ecoute_hors_boucle_locale"});
    if (!metrics || metrics.IsNull()) // absent (or not a section, reported): no metrics server
        return;
    std::string listen;
    bool beyond_loopback = false;
    r.text(metrics["ecoute"], "metrics.ecoute", listen);
    r.boolean(metrics["ecoute_hors_boucle_locale"], "metrics.ecoute_hors_boucle_locale",
              beyond_loopback);
    if (listen.empty())
        return r.missing("metrics.ecoute",
                         "adresse d'écoute des métriques manquante (par exemple 127.0.0.1:9464)");
    const auto node = metrics["ecoute"];
    const auto fail = [&](const std::string& why) {
        r.problem(node, "metrics.ecoute", "« " + listen + " » : " + why);
    };
    std::string host;
    std::string port;
    if (listen.front() == '[') { // [::1]:9464
        const auto close = listen.find("]:");
        if (close == std::string::npos)
            return fail("une adresse IPv6 s'écrit [::1]:9464");
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
    } else {
        const auto colon = listen.rfind(':');
        if (colon == std::string::npos)
            return fail("le port manque (par exemple 127.0.0.1:9464)");
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
        if (host.find(':') != std::string::npos)
            return fail("une adresse IPv6 s'écrit entre crochets : [::1]:9464");
    }
    const auto loopback = is_loopback_ip(host);
    if (!loopback)
        return fail("« " + host + " » n'est pas une adresse IP (par exemple 127.0.0.1 ou [::1])");
    int number = 0;
    const auto parsed = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || parsed.ec != std::errc{} || parsed.ptr != port.data() + port.size() ||
        number < 1 || number > 65535)
        return fail("le port doit être un nombre entre 1 et 65535");
    if (!*loopback && !beyond_loopback)
        return fail("cette adresse n'est pas celle de la boucle locale : les métriques seraient "
                    "lisibles depuis le réseau. Écoutez sur 127.0.0.1 (un proxy ou l'agent de "
                    "collecte sur la machine les lit), ou ajoutez "
                    "metrics.ecoute_hors_boucle_locale: true si c'est voulu");
    m.host = host;
    m.port = number;
}

/// The pickle key file's bytes; nothing when it cannot be opened or read.
std::optional<std::string> file_bytes(const std::string& path)
{
    std::ifstream in{path, std::ios::binary};
    std::ostringstream key;
    key << in.rdbuf();
    if (!in)
        return std::nullopt;
    return key.str();
}

} // namespace

ConfigLoad parse_config(const std::string& text, const std::string& file)
{
    return parse_config(text, file, file_bytes);
}

ConfigLoad parse_config(const std::string& text, const std::string& file,
                        const KeyFileReader& read_key_file)
{
    ConfigLoad load;
    auto& c = load.config;
    Reader r{load.problems};
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        load.problems.push_back(
            {"", e.mark.line + 1, e.mark.column + 1, "YAML illisible : " + e.msg});
        return load;
    }
    if (!root.IsMap()) {
        load.problems.push_back({"", 1, 1, "le fichier doit contenir des sections (clé: valeur)"});
        return load;
    }
    static_cast<void>(file);
    r.unknown_keys(root, "",
                   {"homeserver", "account", "state", "knowledge", "rooms", "roles", "behaviour",
                    "rate_limit", "sync", "difficultes", "rappels", "tickets", "encryption",
                    "alertes", "metrics", "rapports"});

    const auto homeserver = r.section(root, "homeserver", {"url"});
    r.text(homeserver["url"], "homeserver.url", c.homeserver_url);
    while (!c.homeserver_url.empty() && c.homeserver_url.back() == '/')
        c.homeserver_url.pop_back();
    if (c.homeserver_url.empty())
        r.missing("homeserver.url", "adresse du serveur Matrix manquante (https://…)");
    else if (c.homeserver_url.rfind("https://", 0) != 0 &&
             c.homeserver_url.rfind("http://", 0) != 0)
        r.problem(homeserver["url"], "homeserver.url",
                  "doit commencer par https:// (ou http:// pour un serveur local de test)");

    const auto account =
        r.section(root, "account", {"user_id", "email", "password", "access_token", "device_name"});
    r.text(account["user_id"], "account.user_id", c.user_id);
    r.text(account["email"], "account.email", c.email);
    r.text(account["password"], "account.password", c.password);
    r.text(account["access_token"], "account.access_token", c.access_token);
    r.text(account["device_name"], "account.device_name", c.device_name);
    read_secret_from_env("OPALEBOT_PASSWORD", c.password);
    read_secret_from_env("OPALEBOT_ACCESS_TOKEN", c.access_token);
    if (!c.user_id.empty() && !is_user_id(c.user_id))
        r.problem(account["user_id"], "account.user_id",
                  "« " + c.user_id + " » n'est pas un identifiant Matrix (@nom:serveur)");
    if (!c.email.empty() && c.email.find('@') == std::string::npos)
        r.problem(account["email"], "account.email", "« " + c.email + " » n'est pas une adresse");
    if (c.access_token.empty() && c.password.empty())
        r.missing("account.password",
                  "ni mot de passe ni jeton : indiquez account.password (ou la variable "
                  "OPALEBOT_PASSWORD) ou account.access_token (OPALEBOT_ACCESS_TOKEN)");
    if (c.access_token.empty() && !c.password.empty() && c.user_id.empty() && c.email.empty())
        r.missing("account.user_id", "pour se connecter par mot de passe, indiquez "
                                     "account.user_id ou account.email");

    const auto state = r.section(root, "state", {"database", "sauvegarde_quotidienne"});
    r.text(state["database"], "state.database", c.database);
    read_daily_backup(r, state, c.daily_backup);
    const auto encryption =
        r.section(root, "encryption",
                  {"pickle_key_file", "only_cross_signed_devices", "undecryptable_after_seconds"});
    std::string key_file;
    r.text(encryption["pickle_key_file"], "encryption.pickle_key_file", key_file);
    if (!key_file.empty()) {
        const auto key = read_key_file(key_file);
        c.pickle_key = key.value_or(std::string{});
        while (!c.pickle_key.empty() &&
               (c.pickle_key.back() == '\n' || c.pickle_key.back() == '\r'))
            c.pickle_key.pop_back();
        if (!key)
            r.problem(encryption["pickle_key_file"], "encryption.pickle_key_file",
                      "fichier « " + key_file + " » illisible");
    }
    read_secret_from_env("OPALEBOT_PICKLE_KEY", c.pickle_key);
    if (!c.pickle_key.empty() && c.pickle_key.size() < 16)
        r.problem(encryption["pickle_key_file"], "encryption.pickle_key_file",
                  "la clé de chiffrement de l'état doit faire au moins 16 caractères");
    r.boolean(encryption["only_cross_signed_devices"], "encryption.only_cross_signed_devices",
              c.only_cross_signed_devices);
    long long key_wait = c.undecryptable_after.count();
    r.number(encryption["undecryptable_after_seconds"], "encryption.undecryptable_after_seconds",
             key_wait, 1LL, 3600LL);
    c.undecryptable_after = std::chrono::seconds{key_wait};

    const auto knowledge = r.section(root, "knowledge", {"directory"});
    r.text(knowledge["directory"], "knowledge.directory", c.knowledge_dir);

    const auto rooms = r.section(root, "rooms", {"allowed", "inviters"});
    r.list(rooms["allowed"], "rooms.allowed", c.allowed_rooms, is_room_id,
           "un identifiant de salon (!abc:serveur)");
    r.list(rooms["inviters"], "rooms.inviters", c.inviters, is_user_or_domain,
           "un utilisateur (@nom:serveur) ou un serveur (:serveur)");
    if (c.allowed_rooms.empty() && c.inviters.empty())
        r.missing("rooms", "aucun salon autorisé : indiquez rooms.allowed ou rooms.inviters, "
                           "sinon le bot n'accepte aucune invitation");

    const auto alerts = r.section(root, "alertes", {"salon"});
    r.text(alerts["salon"], "alertes.salon", c.alerts_room);
    if (!c.alerts_room.empty() && !is_room_id(c.alerts_room))
        r.problem(alerts["salon"], "alertes.salon",
                  "doit être un identifiant de salon (!abc:serveur), pas « " + c.alerts_room +
                      " »");
    else if (!c.alerts_room.empty() && std::find(c.allowed_rooms.begin(), c.allowed_rooms.end(),
                                                 c.alerts_room) == c.allowed_rooms.end())
        r.problem(alerts["salon"], "alertes.salon",
                  "ajoutez aussi ce salon à rooms.allowed : le bot n'agit que dans les salons "
                  "autorisés");

    const auto roles = r.section(
        root, "roles",
        {"admins", "support", "admin_power_level", "support_power_level", "power_level_rooms"});
    r.list(roles["power_level_rooms"], "roles.power_level_rooms", c.power_level_rooms, is_room_id,
           "un identifiant de salon (!abc:serveur)");
    r.list(roles["admins"], "roles.admins", c.admins, is_user_id, "un utilisateur (@nom:serveur)");
    r.list(roles["support"], "roles.support", c.support, is_user_id,
           "un utilisateur (@nom:serveur)");
    r.number(roles["admin_power_level"], "roles.admin_power_level", c.admin_power_level, 0, 100);
    r.number(roles["support_power_level"], "roles.support_power_level", c.support_power_level, 0,
             100);

    const auto behaviour =
        r.section(root, "behaviour",
                  {"reply_mode", "answer_without_mention", "answer_without_mention_min_score",
                   "ignore_bots", "bots", "command_prefix", "max_backlog_age_seconds",
                   "question_retention_days", "notify_asker"});
    r.boolean(behaviour["notify_asker"], "behaviour.notify_asker", c.notify_asker);
    std::string mode = "thread";
    r.text(behaviour["reply_mode"], "behaviour.reply_mode", mode);
    if (mode == "thread")
        c.reply_mode = ReplyMode::thread;
    else if (mode == "reply")
        c.reply_mode = ReplyMode::reply;
    else
        r.problem(behaviour["reply_mode"], "behaviour.reply_mode",
                  "doit valoir thread ou reply, pas « " + mode + " »");
    r.boolean(behaviour["answer_without_mention"], "behaviour.answer_without_mention",
              c.answer_without_mention);
    r.number(behaviour["answer_without_mention_min_score"],
             "behaviour.answer_without_mention_min_score", c.answer_without_mention_min_score, 0.0,
             1.0);
    r.boolean(behaviour["ignore_bots"], "behaviour.ignore_bots", c.ignore_bots);
    r.list(behaviour["bots"], "behaviour.bots", c.bots, is_user_id,
           "un utilisateur (@nom:serveur)");
    r.text(behaviour["command_prefix"], "behaviour.command_prefix", c.command_prefix);
    if (c.command_prefix.empty() || c.command_prefix.size() > 3 ||
        c.command_prefix.find(' ') != std::string::npos)
        r.problem(behaviour["command_prefix"], "behaviour.command_prefix",
                  "doit faire 1 à 3 caractères sans espace");
    long long backlog = c.max_backlog_age.count();
    r.number(behaviour["max_backlog_age_seconds"], "behaviour.max_backlog_age_seconds", backlog,
             0LL, 7LL * 24 * 3600);
    c.max_backlog_age = std::chrono::seconds{backlog};
    r.number(behaviour["question_retention_days"], "behaviour.question_retention_days",
             c.question_retention_days, 1, 3650);

    const auto difficulty =
        r.section(root, "difficultes",
                  {"kit_below", "paiements_below", "ej_below", "titres_below", "signals_needed"});
    auto& d = c.difficulty;
    r.number(difficulty["kit_below"], "difficultes.kit_below", d.kit_below, 0.0, 100.0);
    r.number(difficulty["paiements_below"], "difficultes.paiements_below", d.paiements_below, 0,
             1'000'000);
    r.number(difficulty["ej_below"], "difficultes.ej_below", d.ej_below, 0, 1'000'000);
    r.number(difficulty["titres_below"], "difficultes.titres_below", d.titres_below, 0, 1'000'000);
    r.number(difficulty["signals_needed"], "difficultes.signals_needed", d.signals_needed, 1, 4);

    const auto reminders = r.section(root, "rappels",
                                     {"campagne_kit", "campagne_kit_salon",
                                      "intervalle_minimum_minutes", "max_par_utilisateur"});
    auto& limits = c.reminder_limits;
    r.number(reminders["intervalle_minimum_minutes"], "rappels.intervalle_minimum_minutes",
             limits.min_interval_minutes, 1, 7 * 24 * 60);
    r.number(reminders["max_par_utilisateur"], "rappels.max_par_utilisateur", limits.max_per_user,
             1, 10'000);
    auto& kit = c.kit_campaign;
    r.text(reminders["campagne_kit"], "rappels.campagne_kit", kit.phrase);
    r.text(reminders["campagne_kit_salon"], "rappels.campagne_kit_salon", kit.room);
    if (reminders["campagne_kit"]) {
        kit.line = reminders["campagne_kit"].Mark().line + 1;
        kit.column = reminders["campagne_kit"].Mark().column + 1;
    }
    if (!kit.phrase.empty() && kit.room.empty())
        r.missing("rappels.campagne_kit_salon",
                  "le salon où la campagne du kit de bascule écrit est manquant (!salon:serveur)");
    else if (!kit.room.empty() && kit.room.front() != '!')
        r.problem(reminders["campagne_kit_salon"], "rappels.campagne_kit_salon",
                  "« " + kit.room + " » n'est pas un identifiant de salon (!salon:serveur)");

    read_weekly_digest(r, root, c.weekly_digest);

    read_tickets(r, root, c.tickets);

    const auto rate = r.section(root, "rate_limit", {"per_second", "burst"});
    r.number(rate["per_second"], "rate_limit.per_second", c.requests_per_second, 0.01, 100.0);
    r.number(rate["burst"], "rate_limit.burst", c.burst, 1, 100);

    const auto sync = r.section(root, "sync", {"timeout_seconds"});
    long long timeout = c.sync_timeout.count();
    r.number(sync["timeout_seconds"], "sync.timeout_seconds", timeout, 1LL, 120LL);
    c.sync_timeout = std::chrono::seconds{timeout};

    read_metrics(r, root, c.metrics);
    return load;
}

ConfigLoad load_config(const std::string& file)
{
    std::ifstream in{file, std::ios::binary};
    if (!in) {
        ConfigLoad load;
        load.problems.push_back({"", 0, 0, "fichier illisible ou absent"});
        return load;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), file);
}

std::string format_problems(const std::string& file, const std::vector<ConfigProblem>& problems)
{
    std::string out;
    for (const auto& p : problems) {
        out += file + ":";
        if (p.line > 0) // a missing key has no place in the file
            out += std::to_string(p.line) + ":" + std::to_string(p.column) + ":";
        out += " ";
        if (!p.path.empty())
            out += p.path + " : ";
        out += p.message + "\n";
    }
    return out;
}

} // namespace opalebot::bot
