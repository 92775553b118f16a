#include "commands/profile_commands.hpp"

#include "commands/reminder_time.hpp"
#include "commands/ticket_fields.hpp"
#include "knowledge/text.hpp"

#include <cctype>
#include <memory>
#include <stdexcept>

namespace opalebot::commands {
namespace {

using knowledge::escape_markdown;

struct Shared {
    UserProfileStore& profiles;
    EpleStore* eple = nullptr;
    std::string prefix;
};

Reply storage_trouble()
{
    return Reply{"Je n'arrive pas à enregistrer cela pour le moment ; réessayez plus tard.", {}};
}

std::string upper(std::string_view text)
{
    std::string out{text};
    for (auto& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

/// "0020013D (Collège Jean Moulin, vague 6)", or the UAI alone when the referential lacks it.
std::string describe_uai(const Shared& shared, const std::string& uai)
{
    if (shared.eple == nullptr)
        return "`" + uai + "`";
    const auto status = shared.eple->status(uai);
    if (!status || !status.value())
        return "`" + uai + "` (absent du référentiel)";
    const auto& e = status.value()->etablissement;
    return "`" + uai + "` (" + escape_markdown(e.nom) +
           (e.vague > 0 ? ", vague " + std::to_string(e.vague) : std::string{}) + ")";
}

Reply show(const Shared& shared, const Message& message)
{
    const auto profile = shared.profiles.get(message.sender);
    if (!profile)
        return storage_trouble();
    const auto& p = profile.value();
    std::string text = "**Votre profil**\n\n- EPLE : ";
    if (p.uais.empty())
        text += "aucun (`" + shared.prefix + "moi eple 0020013D` pour vous rattacher à un EPLE)";
    for (std::size_t i = 0; i < p.uais.size(); ++i)
        text += (i == 0 ? "" : ", ") + describe_uai(shared, p.uais[i]);
    text += "\n- Relances du kit de bascule : ";
    text += p.kit_opt_out ? "non (`" + shared.prefix + "rappels on` pour les recevoir)"
                          : "oui (`" + shared.prefix + "rappels off` pour ne plus les recevoir)";
    text +=
        "\n- Fuseau horaire : " + (p.zone ? *p.zone : std::string{default_zone} + " (par défaut)");
    text += "\n\nAussi : `" + shared.prefix + "moi eple retirer <UAI>`, `" + shared.prefix +
            "moi fuseau America/Cayenne`.";
    return Reply{text, {}};
}

Reply eple(const Shared& shared, const Message& message, std::string_view args)
{
    auto [word, rest] = split_first_word(args);
    const bool remove = knowledge::fold(word) == "retirer";
    const auto uai_text = remove ? rest : args;
    if (trim(uai_text).empty())
        return Reply{"Quel EPLE ? Par exemple : `" + shared.prefix + "moi eple 0020013D` ou `" +
                         shared.prefix + "moi eple retirer 0020013D`.",
                     {}};
    if (const auto reason = uai_reason(uai_text))
        return Reply{*reason, {}};
    const auto uai = upper(trim(uai_text));
    if (remove) {
        const auto done = shared.profiles.unlink(message.sender, uai);
        if (!done)
            return storage_trouble();
        return Reply{done.value() ? "Vous n'êtes plus rattaché·e à l'EPLE `" + uai + "`."
                                  : "Vous n'étiez pas rattaché·e à l'EPLE `" + uai + "`.",
                     {}};
    }
    const auto done = shared.profiles.link(message.sender, uai);
    if (!done)
        return storage_trouble();
    std::string text =
        done.value()
            ? "C'est noté : vous êtes rattaché·e à l'EPLE " + describe_uai(shared, uai) + "."
            : "Vous étiez déjà rattaché·e à l'EPLE " + describe_uai(shared, uai) + ".";
    if (shared.eple != nullptr) {
        const auto status = shared.eple->status(uai);
        if (status && !status.value())
            text += " Cet UAI n'est pas (encore) dans le référentiel des EPLE : je le garde, "
                    "mais les relances du kit de bascule ne le concerneront qu'une fois l'EPLE "
                    "importé.";
    }
    return Reply{text, {}};
}

Reply zone(const Shared& shared, const Message& message, std::string_view args)
{
    const auto name = trim(args);
    if (name.empty()) {
        if (!shared.profiles.set_zone(message.sender, std::nullopt))
            return storage_trouble();
        return Reply{"Fuseau horaire remis à " + std::string{default_zone} + ".", {}};
    }
    const auto found = find_zone(name);
    if (!found)
        return Reply{found.error().message, {}};
    if (!shared.profiles.set_zone(message.sender, std::string{name}))
        return storage_trouble();
    return Reply{"Fuseau horaire : " + std::string{name} +
                     ". Vos prochains rappels suivront l'heure de ce fuseau (ceux déjà "
                     "programmés gardent le leur).",
                 {}};
}

Reply moi(const Shared& shared, const Context& context)
{
    const auto [word, rest] = split_first_word(context.args);
    const auto folded = knowledge::fold(word);
    if (folded.empty())
        return show(shared, context.message);
    if (folded == "eple")
        return eple(shared, context.message, rest);
    if (folded == "fuseau")
        return zone(shared, context.message, rest);
    return Reply{"Usage : `" + shared.prefix + "moi`, `" + shared.prefix + "moi eple <UAI>`, `" +
                     shared.prefix + "moi eple retirer <UAI>`, `" + shared.prefix +
                     "moi fuseau <Zone/IANA>`.",
                 {}};
}

} // namespace

void add_profile_commands(Registry& registry, UserProfileStore& profiles, EpleStore* eple)
{
    auto shared = std::make_shared<const Shared>(Shared{profiles, eple, registry.prefix()});
    if (!registry.add(
            {"moi",
             {},
             registry.prefix() + "moi | eple <UAI> | eple retirer <UAI> | fuseau [<zone>]",
             "votre profil : vos EPLE (relances du kit), votre fuseau horaire",
             Role::member,
             [shared](const Context& context) { return moi(*shared, context); }}))
        throw std::logic_error("command registered twice: moi"); // a programming error
}

} // namespace opalebot::commands
