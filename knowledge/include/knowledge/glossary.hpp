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

/// Reads synonymes.yaml: a list of groups of words or expressions taken as equivalent.
std::vector<std::vector<std::string>> parse_synonyms(const std::string& file_name,
                                                     const std::string& text,
                                                     std::vector<Diagnostic>& problems);

} // namespace opalebot::knowledge
