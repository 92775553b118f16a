#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opalebot::commands {

/// The first level of support a ticket goes to (comité 22/01/2024): SI2C for business questions,
/// DRASI for technical ones.
enum class Service { si2c, drasi };

/// The Op@le environment the problem happened in (issue 4: production, bac-a-sable, fm1).
enum class Environment { production, bac_a_sable, fm1 };

/// Every detail the académie asks of a ticket, in the order the dialogue asks for them.
enum class Field {
    titre,
    eple,
    env,
    sphere,
    profil,
    nom,
    prenom,
    fonction,
    description,
    operations,
    erreurs,
    service,
};

/// The fields in the order the dialogue asks for them (service last: it is proposed from the text).
const std::array<Field, 12>& field_order();

/// The details of a ticket being prepared; empty text (or nothing) means "not given yet".
struct TicketFields {
    std::optional<Service> service;
    std::string titre;    ///< without the "SI2C - " prefix
    std::string uai;      ///< "0020013D"; filled when the EPLE was given by UAI or found by name
    std::string eple_nom; ///< the EPLE's name when given by name (or known from the referential)
    std::optional<Environment> env;
    std::string sphere; ///< "ordonnateur", "agent comptable" or "régie"
    std::string profil; ///< the Op@le profile used ("gestionnaire"…), free text
    std::string nom;
    std::string prenom;
    std::string fonction;
    std::string description;
    std::string operations; ///< what was done before the problem; "aucune" is an answer
    std::string erreurs;    ///< the error messages, as shown; "aucun" is an answer
};

/// True when `field` has a value in `fields`.
bool has_field(const TicketFields& fields, Field field);

/// The first field still missing, in `field_order()`; nothing when the ticket is complete.
std::optional<Field> first_missing(const TicketFields& fields);

/// Finds an EPLE by (part of) its name in the referential; returns its UAI and full name.
struct EpleMatch {
    std::string uai;
    std::string nom;
};
using EpleFinder = std::function<std::optional<EpleMatch>(std::string_view name)>;

/// Validates `value` for `field` and stores it in `fields`. Returns the reason of a refusal, in
/// French, and leaves `fields` unchanged in that case. Without `find_eple`, an EPLE can only be
/// given by UAI.
std::optional<std::string> set_field(TicketFields& fields, Field field, std::string_view value,
                                     const EpleFinder& find_eple = {});

/// Why a title is too vague to be useful (too short, or only generic words such as « problème »,
/// « bug », « urgent »), or nothing when it is precise enough.
std::optional<std::string> vague_title_reason(std::string_view titre);

/// Why `text` is not a valid UAI (with the expected key letter when only the key is wrong).
std::optional<std::string> uai_reason(std::string_view text);

/// "production", "bac-a-sable", "FM1" and their French spellings (« bac à sable »…).
std::optional<Environment> parse_environment(std::string_view text);
std::optional<Service> parse_service(std::string_view text);

std::string_view service_name(Service service);      ///< "SI2C", "DRASI"
std::string_view environment_label(Environment env); ///< "production", "bac à sable", "FM1"
std::string_view environment_code(Environment env);  ///< "production", "bac-a-sable", "fm1"
std::string_view field_key(Field field);             ///< "titre", "uai", "env"…
std::string_view field_label(Field field);           ///< "Titre", "EPLE"… (French)
std::string_view field_question(Field field);        ///< the question the dialogue asks

/// The sphères accepted (decided from notes/opale.md, « Roles, habilitations »: the chef
/// d'établissement is ordonnateur, the agent comptable alone handles funds, and régies act for
/// the comptable): "ordonnateur", "agent comptable", "régie".
const std::array<std::string_view, 3>& spheres();

/// The destination proposed from the text, and why.
struct ServiceProposal {
    Service service = Service::si2c;
    std::vector<std::string> business_words;  ///< folded words that point to SI2C
    std::vector<std::string> technical_words; ///< folded words that point to DRASI
    std::string reason;                       ///< in French, for the user
};

/// SI2C unless the title, description and errors hold strictly more technical words (connexion,
/// navigateur, lenteur, écran blanc…) than business ones (mandat, budget, titre de recette…):
/// the académie starts every business question at SI2C, and most are.
ServiceProposal propose_service(const TicketFields& fields);

/// What the one-line form gave: the fields accepted and a French line per problem.
struct OneLineForm {
    TicketFields fields;
    std::vector<std::string> problems; ///< unknown keys, bad values, syntax (unclosed quote)
};

/// Parses `service=DRASI titre="…" uai=0020013D env=production …`: values quoted with "…" may
/// hold spaces and \" or \\. Each value is validated like a dialogue answer.
OneLineForm parse_one_line(std::string_view text, const EpleFinder& find_eple = {});

/// The fields as one line of `key="value"` (all quoted), for storage; `deserialize_fields` reads
/// it back without validating again.
std::string serialize_fields(const TicketFields& fields);
TicketFields deserialize_fields(std::string_view text);

/// Copies into `into` every field `from` has (a correction in the one-line form).
void merge_fields(TicketFields& into, const TicketFields& from);

/// The summary card shown before creation, in Markdown, user text escaped.
std::string summary_card(const TicketFields& fields);

/// "SI2C - <titre>" or "DRASI - <titre>" (issue 4); SI2C when the service is not chosen yet.
std::string ticket_title(const TicketFields& fields);

} // namespace opalebot::commands
