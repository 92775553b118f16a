#pragma once

// A knowledge entry for the tests that build a small base by hand (search, registry, documents).
#include "knowledge/entry.hpp"

#include <string>
#include <utility>
#include <vector>

namespace opalebot::testing {

inline knowledge::Entry make_entry(std::string id, std::string titre, std::string domaine,
                                   std::vector<std::string> mots_cles, std::string body)
{
    knowledge::Entry entry;
    entry.id = std::move(id);
    entry.titre = std::move(titre);
    entry.domaine = std::move(domaine);
    entry.mots_cles = std::move(mots_cles);
    entry.profils = {"gestionnaire"};
    entry.sources = {{"Pas à pas du bureau du conseil", "", "Espace Tribu utilisateurs op@le"}};
    entry.mis_a_jour = "2024-02-19";
    entry.body = body + "\n";
    entry.body_text = std::move(body);
    return entry;
}

} // namespace opalebot::testing
