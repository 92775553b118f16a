#include "knowledge/glossary.hpp"

#include "knowledge/text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>

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
        if (acronym.sigle.empty()) {
            problems.push_back({file_name, line, "élément sans « sigle »", true});
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

std::vector<std::vector<std::string>> parse_synonyms(const std::string& file_name,
                                                     const std::string& text,
                                                     std::vector<Diagnostic>& problems)
{
    std::vector<std::vector<std::string>> groups;
    const auto root = load_yaml(file_name, text, problems);
    if (!root || root->IsNull())
        return groups;
    for (const auto& item : *root) {
        std::vector<std::string> group;
        if (item.IsSequence())
            for (const auto& word : item)
                if (word.IsScalar() && !word.Scalar().empty())
                    group.push_back(word.Scalar());
        if (group.size() < 2) {
            problems.push_back({file_name, item.Mark().line + (item.IsNull() ? 0 : 1),
                                "un groupe de synonymes doit lister au moins deux mots : [a, b]",
                                true});
            continue;
        }
        groups.push_back(std::move(group));
    }
    return groups;
}

} // namespace opalebot::knowledge
