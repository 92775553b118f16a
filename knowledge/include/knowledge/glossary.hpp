#pragma once

#include "knowledge/entry.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace opalebot::knowledge {

/// One acronym of glossaire.yaml. An empty expansion means none is publicly sourced.
struct Acronym {
    std::string sigle;
    std::string developpement;
    std::string definition;
    std::string source;
    std::vector<std::string> variantes;
    /// Other common meanings of the acronym ("demi-pensionnaires" for DP = demande de paiement).
    std::vector<std::string> autres_sens{};
};

/// The acronyms, found whatever their case, accents or spelling variant (DGFiP, dgfip).
class Glossary {
public:
    /// False when the acronym or one of its variants is already known.
    bool add(Acronym acronym);
    const Acronym* find(std::string_view sigle) const;
    const std::vector<Acronym>& all() const { return acronyms_; }

private:
    std::vector<Acronym> acronyms_;
};

/// Reads glossaire.yaml; each bad item is reported and skipped.
Glossary parse_glossary(const std::string& file_name, const std::string& text,
                        std::vector<Diagnostic>& problems);

/// One line of synonymes.yaml: words or expressions taken as equivalent.
struct SynonymGroup {
    std::vector<std::string> words;
    int line = 0; ///< in synonymes.yaml, 1-based
};

/// Reads synonymes.yaml with the line of each group; each bad group is reported and skipped.
std::vector<SynonymGroup> read_synonym_groups(const std::string& file_name, const std::string& text,
                                              std::vector<Diagnostic>& problems);

/// Reads synonymes.yaml: a list of groups of words or expressions taken as equivalent.
std::vector<std::vector<std::string>> parse_synonyms(const std::string& file_name,
                                                     const std::string& text,
                                                     std::vector<Diagnostic>& problems);

/// Warns about each group that joins two meanings of one acronym of the glossary, its expansion
/// and one of its `autres_sens` (DP with demi-pensionnaires): questions about one would be
/// answered with the other (issue 20).
void check_synonym_meanings(const std::string& file_name, const std::vector<SynonymGroup>& groups,
                            const Glossary& glossary, std::vector<Diagnostic>& problems);

} // namespace opalebot::knowledge
