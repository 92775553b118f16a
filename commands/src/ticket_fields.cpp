#include "commands/ticket_fields.hpp"

#include "commands/eple_import.hpp"
#include "knowledge/text.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace opalebot::commands {
namespace {

constexpr std::size_t min_title_length = 12;
constexpr std::size_t max_value_length = 4000; // characters: a ticket field, not a file
// iTop stores at most 255 characters of title (notes/itop.md §13), "DRASI - " included.
constexpr std::size_t max_title_length = 240;

/// Characters, not bytes: "é" is one for the user and for iTop.
std::size_t characters(std::string_view text)
{
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; // not a continuation byte
    }));
}

/// Words that say something is wrong without saying what (issue 4: « problème », « bug »…).
const std::set<std::string, std::less<>> generic_title_words = {
    "probleme", "problemes", "bug",    "bugs",    "urgent",   "urgence",    "aide",
    "help",     "question",  "souci",  "soucis",  "pb",       "svp",        "bloque",
    "bloquee",  "bloquant",  "erreur", "erreurs", "marche",   "fonctionne", "ca",
    "demande",  "ticket",    "test",   "opale",   "incident", "besoin",     "pas",
    "plus",     "rien",      "tres",   "merci",   "grave",    "important"};

/// Words of business questions (SI2C): budget, expenses, revenue, accounting acts.
const std::set<std::string, std::less<>> business_words = {
    "budget",       "budgetaire",    "dbm",          "mandat",
    "mandats",      "mandatement",   "paiement",     "paiements",
    "facture",      "factures",      "recette",      "recettes",
    "liquidation",  "engagement",    "engagements",  "ej",
    "compte",       "comptes",       "comptable",    "comptabilite",
    "ecriture",     "ecritures",     "cofi",         "regie",
    "tiers",        "fournisseur",   "fournisseurs", "prelevement",
    "prelevements", "famille",       "familles",     "bourse",
    "bourses",      "rapprochement", "bancaire",     "immobilisation",
    "inventaire",   "amortissement", "asap",         "titres",
    "depense",      "depenses",      "credit",       "credits",
    "imputation",   "visa",          "rejet",        "encaissement",
    "tresorerie"};

/// Words of technical questions (DRASI): access, tools, performance, files.
const std::set<std::string, std::less<>> technical_words = {
    "connexion",   "connecter",  "connecte",
    "deconnexion", "mot",        "passe",
    "acces",       "navigateur", "firefox",
    "chrome",      "edge",       "lenteur",
    "lent",        "lente",      "plantage",
    "plante",      "certificat", "authentification",
    "url",         "chargement", "charge",
    "timeout",     "serveur",    "installation",
    "imprimante",  "impression", "telechargement",
    "pdf",         "blanc",      "blanche",
    "500",         "404",        "503",
    "http",        "session",    "identifiant",
    "proxy",       "reseau",     "cache",
    "affichage",   "ecran"};

std::string trim(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string{text.substr(first, last - first + 1)};
}

std::string upper(std::string_view text)
{
    std::string out{text};
    for (auto& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

/// Whether `text` looks like an UAI someone meant to type: 7 digits and a letter.
bool looks_like_uai(std::string_view text)
{
    if (text.size() != 8)
        return false;
    return std::all_of(text.begin(), text.begin() + 7,
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) &&
           std::isalpha(static_cast<unsigned char>(text[7])) != 0;
}

struct Assignment {
    std::string key;
    std::string value;
};

/// `key=value key="a \"b\""` split; syntax problems go to `problems`.
std::vector<Assignment> split_assignments(std::string_view text, std::vector<std::string>& problems)
{
    std::vector<Assignment> out;
    std::size_t i = 0;
    const auto skip_spaces = [&] {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0)
            ++i;
    };
    for (skip_spaces(); i < text.size(); skip_spaces()) {
        const auto start = i;
        while (i < text.size() && text[i] != '=' &&
               std::isspace(static_cast<unsigned char>(text[i])) == 0)
            ++i;
        Assignment a;
        a.key = std::string{text.substr(start, i - start)};
        if (i >= text.size() || text[i] != '=') {
            problems.push_back("« " + a.key + " » n'a pas de valeur (écrire clé=valeur).");
            continue;
        }
        ++i; // '='
        if (i < text.size() && text[i] == '"') {
            ++i;
            bool closed = false;
            while (i < text.size()) {
                const char c = text[i++];
                if (c == '\\' && i < text.size() && (text[i] == '"' || text[i] == '\\')) {
                    a.value += text[i++];
                } else if (c == '"') {
                    closed = true;
                    break;
                } else {
                    a.value += c;
                }
            }
            if (!closed) {
                problems.push_back("Le guillemet ouvert après « " + a.key + "= » n'est pas fermé.");
                continue;
            }
        } else {
            const auto value_start = i;
            while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0)
                ++i;
            a.value = std::string{text.substr(value_start, i - value_start)};
        }
        out.push_back(std::move(a));
    }
    return out;
}

std::string quote(std::string_view value)
{
    std::string out = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

/// A field's value as stored text ("": not given), and back: the member of a text field, or the
/// code of the EPLE's UAI, the environment and the service.
struct Member {
    std::string (*get)(const TicketFields&);
    void (*set)(TicketFields&, std::string_view stored);
};

template <std::string TicketFields::*text>
constexpr Member text_member()
{
    return {[](const TicketFields& f) { return f.*text; },
            [](TicketFields& f, std::string_view stored) { f.*text = stored; }};
}

/// One detail of a ticket. The table below, in the order the dialogue asks, drives that order,
/// the one-line form's keys, the labels and questions, serialisation and merge.
struct Descriptor {
    Field field;
    std::string_view key;                    ///< in the one-line form and in storage
    std::array<std::string_view, 2> aliases; ///< other keys of the one-line form, folded
    std::string_view label;
    std::string_view question;
    Member member;
    /// Stored and merged with the field: the EPLE's name beside its UAI (key "eple_nom").
    std::string TicketFields::*companion = nullptr;
};

constexpr std::string_view companion_key = "eple_nom";

constexpr std::array<Descriptor, 12> descriptors = {{
    {Field::titre,
     "titre",
     {"title"},
     "Titre",
     "Quel est le **titre** du ticket ? Soyez précis : ce qui ne va pas et où.",
     text_member<&TicketFields::titre>()},
    {Field::eple,
     "uai",
     {"eple", "etablissement"},
     "EPLE",
     "Quel **EPLE** est concerné ? Donnez son UAI (ex. 0020013D) ou son nom.",
     text_member<&TicketFields::uai>(),
     &TicketFields::eple_nom},
    {Field::env,
     "env",
     {"environnement"},
     "Environnement",
     "Dans quel **environnement** ? `production`, `bac à sable` ou `FM1`.",
     {[](const TicketFields& f) {
          return f.env ? std::string{environment_code(*f.env)} : std::string{};
      },
      [](TicketFields& f, std::string_view stored) { f.env = parse_environment(stored); }}},
    {Field::sphere,
     "sphere",
     {},
     "Sphère",
     "Dans quelle **sphère** ? `ordonnateur`, `agent comptable` ou `régie`.",
     text_member<&TicketFields::sphere>()},
    {Field::profil,
     "profil",
     {},
     "Profil",
     "Avec quel **profil** Op@le étiez-vous connecté (gestionnaire, ordonnateur, comptable…) ?",
     text_member<&TicketFields::profil>()},
    {Field::nom,
     "nom",
     {},
     "Nom",
     "Quel est le **nom** de la personne connectée ?",
     text_member<&TicketFields::nom>()},
    {Field::prenom,
     "prenom",
     {},
     "Prénom",
     "Quel est son **prénom** ?",
     text_member<&TicketFields::prenom>()},
    {Field::fonction,
     "fonction",
     {},
     "Fonction",
     "Quelle est sa **fonction** (secrétaire général, agent comptable…) ?",
     text_member<&TicketFields::fonction>()},
    {Field::description,
     "description",
     {},
     "Description",
     "**Décrivez** le problème : ce que vous attendiez, ce qui s'est passé.",
     text_member<&TicketFields::description>()},
    {Field::operations,
     "operations",
     {},
     "Opérations effectuées",
     "Quelles **opérations** avez-vous faites avant le problème (écran, menu, actions) ? "
     "Répondez « aucune » s'il n'y en a pas.",
     text_member<&TicketFields::operations>()},
    {Field::erreurs,
     "erreurs",
     {"erreur", "messages"},
     "Messages d'erreur",
     "Quels **messages d'erreur** se sont affichés (texte exact) ? Répondez « aucun » s'il n'y "
     "en a pas.",
     text_member<&TicketFields::erreurs>()},
    {Field::service,
     "service",
     {},
     "Service",
     "À quel **service** envoyer le ticket : `SI2C` ou `DRASI` ?",
     {[](const TicketFields& f) {
          return f.service ? std::string{service_name(*f.service)} : std::string{};
      },
      [](TicketFields& f, std::string_view stored) { f.service = parse_service(stored); }}},
}};

constexpr bool in_enum_order()
{
    for (std::size_t i = 0; i < descriptors.size(); ++i)
        if (static_cast<std::size_t>(descriptors[i].field) != i)
            return false;
    return true;
}
static_assert(in_enum_order(), "descriptor(field) indexes the table by the enum");

const Descriptor& descriptor(Field field)
{
    return descriptors[static_cast<std::size_t>(field)]; // the table is in the enum's order
}

/// The field a one-line key names ("prenom", "prénom", "etablissement"…).
const Descriptor* descriptor_of_key(std::string_view key)
{
    const auto folded = knowledge::fold(key);
    if (folded.empty())
        return nullptr; // unused aliases are empty
    for (const auto& d : descriptors)
        if (folded == d.key ||
            std::find(d.aliases.begin(), d.aliases.end(), folded) != d.aliases.end())
            return &d;
    return nullptr;
}

/// "service, titre, uai…": the keys of the one-line form, for an unknown key's message.
std::string known_keys()
{
    std::string keys;
    for (const auto& d : descriptors)
        keys += (keys.empty() ? "" : ", ") + std::string{d.key};
    return keys;
}

} // namespace

const std::array<Field, 12>& field_order()
{
    static const auto order = [] {
        std::array<Field, descriptors.size()> fields{};
        for (std::size_t i = 0; i < descriptors.size(); ++i)
            fields[i] = descriptors[i].field;
        return fields;
    }();
    return order;
}

const std::array<std::string_view, 3>& spheres()
{
    static const std::array<std::string_view, 3> list = {"ordonnateur", "agent comptable", "régie"};
    return list;
}

bool has_field(const TicketFields& fields, Field field)
{
    const auto& d = descriptor(field);
    return !d.member.get(fields).empty() || (d.companion && !(fields.*d.companion).empty());
}

std::optional<Field> first_missing(const TicketFields& fields)
{
    for (const auto field : field_order())
        if (!has_field(fields, field))
            return field;
    return std::nullopt;
}

std::optional<std::string> vague_title_reason(std::string_view titre)
{
    const auto text = trim(titre);
    if (const auto length = characters(text); length > max_title_length)
        return "Le titre est trop long (" + std::to_string(length) + " caractères, " +
               std::to_string(max_title_length) +
               " au plus) : gardez ce qui ne va pas et où, les détails vont dans la description.";
    if (characters(text) < min_title_length)
        return "Le titre est trop court : il doit dire ce qui ne va pas et où (au moins " +
               std::to_string(min_title_length) +
               " caractères), par exemple « Mandat rejeté au visa : RIB fournisseur absent ».";
    std::size_t precise = 0;
    for (const auto& word : knowledge::split_words(knowledge::fold(text)))
        if (!knowledge::is_stop_word(word) && !generic_title_words.contains(word))
            ++precise;
    if (precise < 2)
        return std::string{"Le titre ne contient que des mots généraux (« problème », « bug », "
                           "« urgent », « aide »…) : dites ce qui ne va pas et dans quel écran, "
                           "par exemple « Écran blanc à l'ouverture des mandats »."};
    return std::nullopt;
}

std::optional<std::string> uai_reason(std::string_view text)
{
    const auto uai = upper(trim(text));
    if (!looks_like_uai(uai))
        return "« " + std::string{trim(text)} +
               " » n'est pas un UAI : il faut 7 chiffres suivis d'une lettre clé (ex. 0020013D).";
    if (!is_valid_uai(uai)) {
        const auto key = uai_key(std::string_view{uai}.substr(0, 7));
        return "La lettre clé de l'UAI " + uai + " est fausse : pour " + uai.substr(0, 7) +
               " ce serait « " + std::string(1, key.value_or('?')) + " ».";
    }
    return std::nullopt;
}

std::optional<Environment> parse_environment(std::string_view text)
{
    auto folded = knowledge::fold(trim(text));
    std::replace(folded.begin(), folded.end(), '-', ' ');
    std::replace(folded.begin(), folded.end(), '_', ' ');
    if (folded == "production" || folded == "prod")
        return Environment::production;
    if (folded == "bac a sable" || folded == "bacasable" || folded == "sandbox" || folded == "bas")
        return Environment::bac_a_sable;
    if (folded == "fm1" || folded == "fm 1" || folded == "formation")
        return Environment::fm1;
    return std::nullopt;
}

std::optional<Service> parse_service(std::string_view text)
{
    const auto folded = knowledge::fold(trim(text));
    if (folded == "si2c")
        return Service::si2c;
    if (folded == "drasi")
        return Service::drasi;
    return std::nullopt;
}

std::string_view service_name(Service service)
{
    return service == Service::si2c ? "SI2C" : "DRASI";
}

std::string_view environment_label(Environment env)
{
    switch (env) {
    case Environment::production:
        return "production";
    case Environment::bac_a_sable:
        return "bac à sable";
    case Environment::fm1:
        return "FM1";
    }
    return "";
}

std::string_view environment_code(Environment env)
{
    switch (env) {
    case Environment::production:
        return "production";
    case Environment::bac_a_sable:
        return "bac-a-sable";
    case Environment::fm1:
        return "fm1";
    }
    return "";
}

std::string_view field_key(Field field)
{
    return descriptor(field).key;
}

std::string_view field_label(Field field)
{
    return descriptor(field).label;
}

std::string_view field_question(Field field)
{
    return descriptor(field).question;
}

std::optional<std::string> set_field(TicketFields& fields, Field field, std::string_view value,
                                     const EpleFinder& find_eple)
{
    const auto text = trim(value);
    if (text.empty())
        return std::string{"La réponse est vide."};
    if (const auto length = characters(text); length > max_value_length)
        return "La réponse est trop longue (" + std::to_string(length) + " caractères, " +
               std::to_string(max_value_length) +
               " au plus) : résumez, et joignez les détails en pièce jointe.";
    switch (field) {
    case Field::titre: {
        // Shown to others and sent to iTop: no bidi control reorders it (issue 15).
        auto title = clean_name(text);
        if (auto reason = vague_title_reason(title))
            return reason;
        fields.titre = std::move(title);
        return std::nullopt;
    }
    case Field::eple: {
        const auto candidate = upper(text);
        if (looks_like_uai(candidate)) {
            if (auto reason = uai_reason(candidate))
                return reason;
            fields.uai = candidate;
            fields.eple_nom.clear();
            if (find_eple)
                if (const auto match = find_eple(candidate))
                    fields.eple_nom = match->nom;
            return std::nullopt;
        }
        if (!find_eple)
            return uai_reason(text);
        const auto match = find_eple(text);
        if (!match)
            return "Je ne trouve pas l'EPLE « " + text +
                   " » dans le référentiel : donnez son UAI (7 chiffres et une lettre clé).";
        fields.uai = match->uai;
        fields.eple_nom = match->nom;
        return std::nullopt;
    }
    case Field::env: {
        const auto env = parse_environment(text);
        if (!env)
            return "« " + text +
                   " » n'est pas un environnement : répondez `production`, "
                   "`bac à sable` ou `FM1`.";
        fields.env = env;
        return std::nullopt;
    }
    case Field::sphere: {
        const auto folded = knowledge::fold(text);
        if (folded == "ordonnateur" || folded == "ordo")
            fields.sphere = "ordonnateur";
        else if (folded == "agent comptable" || folded == "comptable" ||
                 folded == "agence comptable" || folded == "ac")
            fields.sphere = "agent comptable";
        else if (folded == "regie" || folded == "regisseur")
            fields.sphere = "régie";
        else
            return "« " + text +
                   " » n'est pas une sphère : répondez `ordonnateur`, "
                   "`agent comptable` ou `régie`.";
        return std::nullopt;
    }
    case Field::service: {
        const auto service = parse_service(text);
        if (!service)
            return "« " + text +
                   " » n'est pas un service : répondez `SI2C` (question métier) "
                   "ou `DRASI` (question technique).";
        fields.service = service;
        return std::nullopt;
    }
    case Field::nom:
    case Field::prenom:
        if (std::any_of(text.begin(), text.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
            return "Un nom ne contient pas de chiffres : « " + text + " ».";
        descriptor(field).member.set(fields, text);
        return std::nullopt;
    case Field::description:
        if (text.size() < 20)
            return std::string{"La description est trop courte : dites ce que vous attendiez et "
                               "ce qui s'est passé (au moins 20 caractères)."};
        fields.description = text;
        return std::nullopt;
    default:
        descriptor(field).member.set(fields, text);
        return std::nullopt;
    }
}

ServiceProposal propose_service(const TicketFields& fields)
{
    ServiceProposal proposal;
    const auto text = fields.titre + " " + fields.description + " " + fields.erreurs;
    std::set<std::string> seen;
    for (const auto& word : knowledge::split_words(knowledge::fold(text))) {
        if (!seen.insert(word).second)
            continue;
        if (business_words.contains(word))
            proposal.business_words.push_back(word);
        else if (technical_words.contains(word))
            proposal.technical_words.push_back(word);
    }
    const auto list = [](const std::vector<std::string>& words) {
        std::string out;
        for (const auto& w : words)
            out += (out.empty() ? "« " : ", « ") + w + " »";
        return out;
    };
    if (proposal.technical_words.size() > proposal.business_words.size()) {
        proposal.service = Service::drasi;
        proposal.reason = "question technique (" + list(proposal.technical_words) + ")";
    } else if (!proposal.business_words.empty()) {
        proposal.reason = "question métier (" + list(proposal.business_words) + ")";
    } else {
        proposal.reason = "aucun mot technique reconnu : une question commence par SI2C";
    }
    return proposal;
}

OneLineForm parse_one_line(std::string_view text, const EpleFinder& find_eple)
{
    OneLineForm form;
    for (const auto& a : split_assignments(text, form.problems)) {
        const auto* d = descriptor_of_key(a.key);
        if (d == nullptr) {
            form.problems.push_back("Clé inconnue « " + a.key + " » (clés : " + known_keys() +
                                    ").");
            continue;
        }
        if (auto reason = set_field(form.fields, d->field, a.value, find_eple))
            form.problems.push_back(std::string{d->key} + " : " + *reason);
    }
    return form;
}

std::string serialize_fields(const TicketFields& f)
{
    std::string out;
    const auto add = [&out](std::string_view key, std::string_view value) {
        if (value.empty())
            return;
        if (!out.empty())
            out += ' ';
        out += key;
        out += '=';
        out += quote(value);
    };
    for (const auto& d : descriptors) {
        add(d.key, d.member.get(f));
        if (d.companion)
            add(companion_key, f.*d.companion);
    }
    return out;
}

TicketFields deserialize_fields(std::string_view text)
{
    TicketFields f;
    std::vector<std::string> ignored;
    for (auto& a : split_assignments(text, ignored)) {
        if (a.key == companion_key)
            f.eple_nom = std::move(a.value);
        else if (const auto* d = descriptor_of_key(a.key))
            d->member.set(f, a.value);
    }
    return f;
}

void merge_fields(TicketFields& into, const TicketFields& from)
{
    for (const auto& d : descriptors) {
        if (!has_field(from, d.field))
            continue;
        d.member.set(into, d.member.get(from));
        if (d.companion)
            into.*d.companion = from.*d.companion;
    }
}

std::string ticket_title(const TicketFields& fields)
{
    return std::string{service_name(fields.service.value_or(Service::si2c))} + " - " + fields.titre;
}

std::string summary_card(const TicketFields& f)
{
    using knowledge::escape_markdown;
    std::string eple = f.uai;
    if (!f.eple_nom.empty())
        eple += (eple.empty() ? "" : " – ") + f.eple_nom;
    std::string card = "**Récapitulatif du ticket** (service op@le)\n\n";
    const auto line = [&card](std::string_view label, std::string_view value) {
        card += "- **";
        card += label;
        card += "** : ";
        card += value.empty() ? std::string{"—"} : escape_markdown(value);
        card += '\n';
    };
    line("Titre", ticket_title(f));
    line("Service", f.service ? service_name(*f.service) : "");
    line("EPLE", eple);
    line("Environnement", f.env ? environment_label(*f.env) : "");
    line("Sphère", f.sphere);
    line("Profil", f.profil);
    line("Personne connectée",
         f.prenom + " " + f.nom + (f.fonction.empty() ? "" : ", " + f.fonction));
    line("Description", f.description);
    line("Opérations effectuées", f.operations);
    line("Messages d'erreur", f.erreurs);
    card += "\nJe crée ce ticket ? Répondez **oui** ou **non** (ou ✅ / ❌).";
    return card;
}

} // namespace opalebot::commands
