#include "knowledge/glossary.hpp"

#include "knowledge/text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>

namespace opalebot::knowledge {
namespace {

std::string key_of(std::string_view sigle)
{
    std::string key;
    for (const char c : fold(sigle)) // "EJ ?", "Dém'Act", "C.G.R." all find their acronym
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            key += c;
    return key;
}

/// True when two phrases are the same words, plural or not: "demi-pensionnaire" and
/// "Demi-pensionnaires", "service général" and "services généraux".
bool same_phrase(std::string_view a, std::string_view b)
{
    const auto words = [](std::string_view text) {
        std::vector<std::string> found;
        std::string word;
        for (const char c : fold(text) + ' ') {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                word += c;
                continue;
            }
            if (word.size() > 3 && word.ends_with("aux"))
                word.replace(word.size() - 3, 3, "al"); // généraux -> general
            else if (word.size() > 2 && (word.back() == 's' || word.back() == 'x'))
                word.pop_back();
            if (!word.empty())
                found.push_back(word);
            word.clear();
        }
        return found;
    };
    const auto left = words(a);
    return !left.empty() && left == words(b);
}

std::string scalar_or_empty(const YAML::Node& node)
{
    return node && node.IsScalar() ? node.Scalar() : std::string{};
}

/// Loads a YAML document, or reports where it is broken.
std::optional<YAML::Node> load_yaml(const std::string& file_name, const std::string& text,
                                    std::vector<Diagnostic>& problems)
{
    try {
        auto root = YAML::Load(text);
        if (!root.IsNull() && !root.IsSequence()) {
            problems.push_back(
                {file_name, 1, "le fichier doit être une liste (lignes « - … »)", true});
            return std::nullopt;
        }
        return root;
    } catch (const YAML::Exception& e) {
        problems.push_back(
            {file_name, e.mark.line + 1,
             "YAML illisible (colonne " + std::to_string(e.mark.column + 1) + ") : " + e.msg,
             true});
        return std::nullopt;
    }
}

} // namespace

bool Glossary::add(Acronym acronym)
{
    const auto clashes = [&](const Acronym& known) {
        const auto same = [&](std::string_view a) {
            if (key_of(a) == key_of(known.sigle))
                return true;
            return std::any_of(known.variantes.begin(), known.variantes.end(),
                               [&](const auto& v) { return key_of(v) == key_of(a); });
        };
        return same(acronym.sigle) ||
               std::any_of(acronym.variantes.begin(), acronym.variantes.end(), same);
    };
    if (std::any_of(acronyms_.begin(), acronyms_.end(), clashes))
        return false;
    acronyms_.push_back(std::move(acronym));
    return true;
}

const Acronym* Glossary::find(std::string_view sigle) const
{
    const auto key = key_of(sigle);
    if (key.empty())
        return nullptr;
    for (const auto& acronym : acronyms_) {
        if (key_of(acronym.sigle) == key)
            return &acronym;
        for (const auto& variant : acronym.variantes)
            if (key_of(variant) == key)
                return &acronym;
    }
    return nullptr;
}

Glossary parse_glossary(const std::string& file_name, const std::string& text,
                        std::vector<Diagnostic>& problems)
{
    Glossary glossary;
    const auto root = load_yaml(file_name, text, problems);
    if (!root || root->IsNull())
        return glossary;
    for (const auto& item : *root) {
        // An empty item ("-" alone) is null, and yaml-cpp places it on the next token's line.
        const int line = item.Mark().line + (item.IsNull() ? 0 : 1);
        if (!item.IsMap()) {
            problems.push_back(
                {file_name, line, "élément invalide : il faut « - sigle: … »", true});
            continue;
        }
        Acronym acronym;
        acronym.sigle = scalar_or_empty(item["sigle"]);
        acronym.developpement = scalar_or_empty(item["developpement"]);
        acronym.definition = scalar_or_empty(item["definition"]);
        acronym.source = scalar_or_empty(item["source"]);
        if (const auto variants = item["variantes"]; variants && variants.IsSequence())
            for (const auto& v : variants)
                if (v.IsScalar() && !v.Scalar().empty())
                    acronym.variantes.push_back(v.Scalar());
        if (const auto others = item["autres-sens"]; others && others.IsSequence())
            for (const auto& o : others)
                if (o.IsScalar() && !o.Scalar().empty())
                    acronym.autres_sens.push_back(o.Scalar());
        if (acronym.sigle.empty()) {
            problems.push_back({file_name, line, "élément sans « sigle »", true});
            continue;
        }
        if (key_of(acronym.sigle).empty()) { // « !sigle » could never find it
            problems.push_back(
                {file_name, line, "sigle « " + acronym.sigle + " » sans lettre ni chiffre", true});
            continue;
        }
        if (acronym.developpement.empty() && acronym.definition.empty())
            problems.push_back({file_name, line,
                                "sigle « " + acronym.sigle + " » sans développement ni définition",
                                false});
        const auto sigle = acronym.sigle;
        if (!glossary.add(std::move(acronym)))
            problems.push_back({file_name, line, "sigle « " + sigle + " » en double", true});
    }
    return glossary;
}

std::vector<SynonymGroup> read_synonym_groups(const std::string& file_name, const std::string& text,
                                              std::vector<Diagnostic>& problems)
{
    std::vector<SynonymGroup> groups;
    const auto root = load_yaml(file_name, text, problems);
    if (!root || root->IsNull())
        return groups;
    for (const auto& item : *root) {
        SynonymGroup group{{}, item.Mark().line + (item.IsNull() ? 0 : 1)};
        if (item.IsSequence())
            for (const auto& word : item)
                if (word.IsScalar() && !word.Scalar().empty())
                    group.words.push_back(word.Scalar());
        if (group.words.size() < 2) {
            problems.push_back({file_name, group.line,
                                "un groupe de synonymes doit lister au moins deux mots : [a, b]",
                                true});
            continue;
        }
        groups.push_back(std::move(group));
    }
    return groups;
}

std::vector<std::vector<std::string>> parse_synonyms(const std::string& file_name,
                                                     const std::string& text,
                                                     std::vector<Diagnostic>& problems)
{
    std::vector<std::vector<std::string>> groups;
    for (auto& group : read_synonym_groups(file_name, text, problems))
        groups.push_back(std::move(group.words));
    return groups;
}

void check_synonym_meanings(const std::string& file_name, const std::vector<SynonymGroup>& groups,
                            const Glossary& glossary, std::vector<Diagnostic>& problems)
{
    for (const auto& acronym : glossary.all()) {
        if (acronym.autres_sens.empty())
            continue;
        // Meaning 0 is the expansion (or the acronym when none is known), then autres_sens.
        std::vector<std::string> meanings{acronym.developpement.empty() ? acronym.sigle
                                                                        : acronym.developpement};
        meanings.insert(meanings.end(), acronym.autres_sens.begin(), acronym.autres_sens.end());
        for (const auto& group : groups) {
            // The meanings the group says: the acronym itself stands for its expansion.
            std::set<std::size_t> said;
            for (const auto& word : group.words) {
                if (glossary.find(word) == &acronym)
                    said.insert(0);
                for (std::size_t k = 0; k < meanings.size(); ++k)
                    if (same_phrase(word, meanings[k]))
                        said.insert(k);
            }
            if (said.size() < 2)
                continue;
            problems.push_back({file_name, group.line,
                                "ce groupe joint deux sens du sigle « " + acronym.sigle +
                                    " » du glossaire, « " + meanings[*said.begin()] + " » et « " +
                                    meanings[*std::next(said.begin())] +
                                    " » : une question sur l'un recevrait la réponse de l'autre",
                                false});
        }
    }
}

} // namespace opalebot::knowledge
