#pragma once

#include <string>
#include <vector>

namespace opalebot::knowledge {

/// Where an entry's content comes from: a public address or the name of a resource (Tribu, MF2).
struct Source {
    std::string titre;
    std::string adresse;   ///< https://…, or empty
    std::string ressource; ///< "Espace Tribu utilisateurs op@le HDF", or empty
    /// Whose figures the source gives ("académie d'Amiens"), so that figures of two perimeters
    /// are never read as one (issue 20); empty when the source gives no figure.
    std::string perimetre{};
    /// Menu paths ("A > B > C", « A » → « B ») this source gives word for word.
    std::vector<std::string> chemins{};
};

/// One pas-à-pas of knowledge/content/, as its front matter and Markdown body describe it.
struct Entry {
    std::string id;
    std::string titre;
    std::string domaine;
    std::vector<std::string> mots_cles;
    std::vector<std::string> profils;
    std::vector<Source> sources;
    std::string mis_a_jour;  ///< ISO date, AAAA-MM-JJ
    std::string a_completer; ///< what a curator still has to add; empty when complete
    std::string body;        ///< Markdown, as written
    std::string body_text;   ///< the body's words without Markdown, for the index
    /// Questions of the salon linked to this entry by an admin (`!kb lier`): searched like
    /// keywords. Not in the file: they live in the bot's state.
    std::vector<std::string> paraphrases;
    /// Files of the base's documents/ folder this entry sums up (`documents: [x.pdf]`): when the
    /// entry answers, the steps of the best passage of these documents are quoted under it.
    std::vector<std::string> documents{};
};

/// A problem found in a knowledge file, reported as `file:line: message`.
struct Diagnostic {
    std::string file;
    int line = 0; ///< 1-based; 0 when the problem is the whole file
    std::string message;
    bool is_error = true; ///< false for a warning that does not stop the file loading
};

/// The domains an entry may belong to (kb-topics.tsv).
const std::vector<std::string>& known_domains();

} // namespace opalebot::knowledge
