#include "knowledge/index.hpp"

#include "knowledge/analyzer.hpp"
#include "knowledge/text.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <unordered_map>
#include <unordered_set>

namespace opalebot::knowledge {
namespace {

using TermId = std::uint32_t;
constexpr TermId unknown_term = std::numeric_limits<TermId>::max();

// How much a match counts, by where it is: the title and keywords say what an entry is about,
// the body only mentions things.
constexpr double title_match = 1.0;
constexpr double keyword_match = 0.8;
constexpr double body_match = 0.4;
// The words of a keyword phrase said whole in the question rank the entry as if its title had
// them, and a little more: "tiers inactif" is the fiche that lists it, not every tiers fiche.
// Ranking only (and the lead): the thresholds judge the plain coverage. Measured on kb-dev and
// the training sets, the right fiche comes first 624 times in 661 instead of 612 and wrong
// answers fall from 18 to 14; scored, not only ranked, it also answered near-misses that say a
// title whole ("le bac à sable du jardin").
constexpr double phrase_rank = 1.2;
// An alternative the user did not type counts a little less than the words typed.
constexpr double synonym_factor = 0.9;
constexpr double typo_factor = 0.85;
constexpr double elision_factor = 0.95;     // "lintegration": the apostrophe left out
constexpr double abbreviation_factor = 0.8; // "fctr": the vowels left out
// Words that say "how do I" rather than what about: they weigh little either way.
constexpr double generic_factor = 0.25;
// A word only entry bodies mention is context ("collège", "septembre"), seldom the topic.
constexpr double context_factor = 0.5;
// A word the base never uses weighs more than the rarest word of the base: two or three of them
// mean the question is about something else ("ticket de cantine perdu"). Narrative around a
// question is mostly chatter or stop words, which weigh nothing.
constexpr double unknown_factor = 1.3;
// In the narrative around a question, such a word says where the colleague is, not what they
// ask: it weighs a third as much there (measured on kb-train2, long salon messages).
constexpr double narrative_unknown_factor = 0.35;
// The alternative a colleague sets aside ("plutôt que d'en créer un") weighs as context does.
constexpr double rejected_factor = 0.5;
constexpr std::size_t max_match_terms = 8;

bool is_generic(std::string_view word)
{
    static const std::unordered_set<std::string_view> generic{
        "procedure", "procedures", "demarche",    "demarches",   "etape",        "etapes",
        "tuto",      "tutoriel",   "methode",     "manip",       "manipulation", "explication",
        "expliquer", "info",       "infos",       "information", "informations", "renseignement",
        "question",  "questions",  "probleme",    "problemes",   "souci",        "soucis",
        "opale",     "logiciel",   "application", "utiliser",    "trouver",      "aider",
        "aide",      "mettre",     "place",       "fonctionne",  "fait",         "dire",
        "fais",      "faites",     "faisons",     "font",        "faudrait",     "arrive",
        "sert",      "servir",     "quelqu",      "moyen",       "suivre"};
    return generic.contains(word);
}

struct Alternative {
    std::vector<TermId> terms;
    double factor = 1.0;
};

/// One idea of the question: the words typed, or any of their synonyms or corrections.
struct Concept {
    std::vector<Alternative> alternatives;
    double weight = 0;
    WordRole role = WordRole::unknown;
};

bool has_unknown(const Alternative& alternative)
{
    return std::find(alternative.terms.begin(), alternative.terms.end(), unknown_term) !=
           alternative.terms.end();
}

bool is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

struct Document {
    std::vector<TermId> title;  ///< sorted, unique
    std::vector<TermId> strong; ///< title and keywords, sorted, unique
    std::vector<TermId> all;    ///< every field, sorted, unique
    /// Keywords of two stems or more, each as its length then its stems, sorted: one block per
    /// entry (3.5 MiB less than a vector each for 10 000 entries).
    std::vector<TermId> phrases;
};

bool contains_all(const std::vector<TermId>& sorted, const std::vector<TermId>& terms)
{
    return std::all_of(terms.begin(), terms.end(), [&](TermId t) {
        return std::binary_search(sorted.begin(), sorted.end(), t);
    });
}

std::vector<TermId> sorted_unique(std::vector<TermId> ids)
{
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

std::string join_stems(const std::vector<Term>& terms)
{
    std::string joined;
    for (const auto& t : terms) {
        if (!joined.empty())
            joined += ' ';
        joined += t.stem;
    }
    return joined;
}

} // namespace

struct Index::Impl {
    std::vector<Entry> entries;
    Analyzer analyzer;
    SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
    std::unique_ptr<SQLite::Statement> query;

    std::unordered_map<std::string, TermId> term_ids;
    std::vector<std::uint32_t> doc_freq;    ///< entries having the term, by TermId
    std::vector<std::uint32_t> strong_freq; ///< entries having it in title or keywords
    std::vector<Document> documents;
    std::vector<std::string> stems; ///< by TermId, for the FTS query

    /// One way of saying an idea: its stems, and the stop words it needs where they are ("premiers
    /// pas" is not any "premier"), at their place from the first stem.
    struct Phrase {
        std::vector<std::string> stems;
        std::vector<std::pair<std::ptrdiff_t, std::string>> stop_words;
    };
    /// Synonym groups of phrases; groups are found by a phrase's first stem.
    std::vector<std::vector<Phrase>> groups;
    std::unordered_map<std::string, std::vector<std::pair<std::size_t, std::size_t>>> phrase_starts;

    /// Folded words of the base by first letter, then length, for typo correction: typos rarely
    /// touch the first letter, and scanning one letter's words keeps a correction cheap.
    std::array<std::vector<std::vector<std::string>>, 26> words_by_start;

    TermId intern(const std::string& stem)
    {
        const auto [it, fresh] = term_ids.try_emplace(stem, static_cast<TermId>(stems.size()));
        if (fresh) {
            stems.push_back(stem);
            doc_freq.push_back(0);
            strong_freq.push_back(0);
        }
        return it->second;
    }

    TermId lookup(const std::string& stem) const
    {
        const auto it = term_ids.find(stem);
        return it == term_ids.end() ? unknown_term : it->second;
    }

    double idf(TermId id) const
    {
        const auto n = static_cast<double>(documents.size());
        // A word no entry has is informative, but a question's stray words must not drown it.
        const double df = id == unknown_term ? 2.0 : static_cast<double>(doc_freq[id]);
        return std::log(1.0 + n / df);
    }

    void add_word(std::unordered_set<std::string>& seen, const std::string& word)
    {
        if (word.size() < 4 || word[0] < 'a' || word[0] > 'z' || !seen.insert(word).second)
            return;
        auto& by_length = words_by_start[static_cast<std::size_t>(word[0] - 'a')];
        if (word.size() >= by_length.size())
            by_length.resize(word.size() + 1);
        by_length[word.size()].push_back(word);
    }

    void build(const Glossary& glossary, const std::vector<std::vector<std::string>>& synonyms);
    void add_group(const std::vector<std::string>& members, std::unordered_set<std::string>& seen);
    std::vector<Concept> concepts_of(std::string_view question);
    void add_concepts(std::string_view text, double sentence_weight, bool narrative,
                      const std::unordered_set<std::string>& wished, std::vector<std::string>& seen,
                      std::vector<Concept>& concepts);
    std::string correct(const std::string& word) const;
    std::string without_elision(const std::string& word) const;
    std::string expand_abbreviation(const std::string& word) const;
    void weigh(Concept& idea, std::string_view word,
               const std::unordered_set<std::string>& wished) const;
    struct Match {
        double weight = 0;
        MatchPlace place = MatchPlace::none;
    };
    Match match(const Concept& idea, const Document& document) const;
    std::vector<SearchHit> rank(const std::vector<Concept>& concepts, std::size_t limit);
    bool ideas_in_phrases(const std::vector<Concept>& concepts, const Document& document,
                          std::vector<std::uint8_t>& in_phrase) const;
    void mark_said(const std::vector<Concept>& concepts, std::uint8_t value);
    std::vector<std::uint8_t> said; ///< by TermId: the question being ranked says it (scratch)
};

void Index::Impl::add_group(const std::vector<std::string>& members,
                            std::unordered_set<std::string>& seen)
{
    std::vector<Phrase> phrases;
    for (const auto& member : members) {
        Phrase phrase;
        const auto terms = analyzer.analyze(member);
        for (const auto& term : terms) {
            add_word(seen, term.word);
            phrase.stems.push_back(term.stem);
        }
        const auto same_stems = [&](const Phrase& other) { return other.stems == phrase.stems; };
        if (phrase.stems.empty() || std::any_of(phrases.begin(), phrases.end(), same_stems))
            continue; // a phrase of the same stems is there already, without stop words first
        // A phrase that the stop words reduce to one stem needs them: "premiers pas" is not any
        // "premier". Longer phrases are told by their stems ("bon commande" is a bon de commande).
        const auto words = split_words(fold(member));
        for (auto k = terms.front().position + 1; terms.size() == 1 && k < words.size(); ++k)
            if (is_stop_word(words[k]))
                phrase.stop_words.emplace_back(
                    static_cast<std::ptrdiff_t>(k - terms.front().position), words[k]);
        phrases.push_back(std::move(phrase));
    }
    if (phrases.size() < 2)
        return;
    const auto group = groups.size();
    for (std::size_t p = 0; p < phrases.size(); ++p)
        phrase_starts[phrases[p].stems.front()].emplace_back(group, p);
    groups.push_back(std::move(phrases));
}

void Index::Impl::build(const Glossary& glossary,
                        const std::vector<std::vector<std::string>>& synonyms)
{
    // FTS5 only finds candidate rows (rowid, column filters): no copy of the stems (content),
    // no sizes (columnsize, for bm25) and no positions (phrases of one stem need none).
    // 18 MiB less for 10 000 entries.
    db.exec("CREATE VIRTUAL TABLE docs USING fts5(titre, motscles, corps, "
            "tokenize = 'unicode61 remove_diacritics 2', content = '', columnsize = 0, "
            "detail = column)");

    std::unordered_set<std::string> seen_words;
    SQLite::Transaction transaction{db};
    SQLite::Statement insert{db,
                             "INSERT INTO docs(rowid, titre, motscles, corps) VALUES (?, ?, ?, ?)"};
    documents.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& entry = entries[i];
        Document document;
        const auto title_terms = analyzer.analyze(entry.titre);
        const auto body_terms = analyzer.analyze(entry.body_text);

        const auto add = [&](const std::vector<Term>& terms, std::vector<TermId>& into) {
            for (const auto& t : terms) {
                into.push_back(intern(t.stem));
                add_word(seen_words, t.word);
            }
        };
        add(title_terms, document.title);
        document.strong = document.title;
        std::string keyword_stems; // for FTS5
        for (const auto& keyword : entry.mots_cles) {
            const auto terms = analyzer.analyze(keyword);
            const auto first = static_cast<std::ptrdiff_t>(document.strong.size());
            add(terms, document.strong);
            keyword_stems += (keyword_stems.empty() ? "" : " ") + join_stems(terms);
            // The curated phrases; the salon's questions linked by `!kb lier` are none.
            auto phrase = sorted_unique({document.strong.begin() + first, document.strong.end()});
            if (phrase.size() >= 2) {
                document.phrases.push_back(static_cast<TermId>(phrase.size()));
                document.phrases.insert(document.phrases.end(), phrase.begin(), phrase.end());
            }
        }
        for (const auto& question : entry.paraphrases) {
            const auto terms = analyzer.analyze(question);
            add(terms, document.strong);
            keyword_stems += (keyword_stems.empty() ? "" : " ") + join_stems(terms);
        }
        document.all = document.strong;
        add(body_terms, document.all);
        document.title = sorted_unique(std::move(document.title));
        document.strong = sorted_unique(std::move(document.strong));
        document.all = sorted_unique(std::move(document.all));
        for (const auto id : document.all)
            ++doc_freq[id];
        for (const auto id : document.strong)
            ++strong_freq[id];
        documents.push_back(std::move(document));

        insert.bind(1, static_cast<std::int64_t>(i + 1));
        insert.bind(2, join_stems(title_terms));
        insert.bind(3, keyword_stems);
        insert.bind(4, join_stems(body_terms));
        insert.exec();
        insert.reset();
    }
    // One b-tree segment instead of dozens: queries read each doclist once.
    db.exec("INSERT INTO docs(docs) VALUES('optimize')");
    transaction.commit();

    for (const auto& group : synonyms)
        add_group(group, seen_words);
    for (const auto& acronym : glossary.all()) {
        std::vector<std::string> members{acronym.sigle};
        members.insert(members.end(), acronym.variantes.begin(), acronym.variantes.end());
        if (!acronym.developpement.empty())
            members.push_back(acronym.developpement);
        add_group(members, seen_words);
    }
    query = std::make_unique<SQLite::Statement>(db, "SELECT rowid FROM docs WHERE docs MATCH ?");
    said.assign(stems.size(), 0);
}

std::string Index::Impl::correct(const std::string& word) const
{
    const bool alphabetic =
        std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    if (!alphabetic || word.size() < 5)
        return {};
    const int limit = word.size() >= 8 ? 2 : 1;
    std::string best;
    int best_distance = limit + 1;
    const auto& by_length = words_by_start[static_cast<std::size_t>(word[0] - 'a')];
    const std::size_t from = word.size() - static_cast<std::size_t>(limit);
    const std::size_t to = word.size() + static_cast<std::size_t>(limit);
    for (std::size_t length = from; length <= to && length < by_length.size(); ++length) {
        for (const auto& candidate : by_length[length]) {
            const int bound = std::min(limit, best_distance - 1); // only a better one counts
            if (bound < 0)
                return best;
            const int distance = typing_distance(word, candidate, bound);
            if (distance <= bound) {
                best_distance = distance;
                best = candidate;
            }
        }
    }
    return best_distance <= limit ? best : std::string{};
}

std::string Index::Impl::without_elision(const std::string& word) const
{
    // "lintegration", "dengagement": l', d', j', m', n', s', t', c', qu' typed without the
    // apostrophe, before a vowel or a mute h.
    for (const std::string_view prefix : {"qu", "l", "d", "j", "m", "n", "s", "t", "c"}) {
        if (word.size() < prefix.size() + 4 || word.compare(0, prefix.size(), prefix) != 0)
            continue;
        const char next = word[prefix.size()];
        if (!is_vowel(next) && next != 'h')
            continue;
        auto rest = word.substr(prefix.size());
        if (lookup(analyzer.stem(rest)) != unknown_term)
            return rest;
    }
    return {};
}

std::string Index::Impl::expand_abbreviation(const std::string& word) const
{
    // "fctr", "prlvmt": a word of consonants only, read as the one word of the base that has
    // those letters in that order and starts with the same letter. Two candidates: no guess.
    if (word.size() < 3 || word[0] < 'a' || word[0] > 'z' ||
        std::any_of(word.begin(), word.end(),
                    [](char c) { return is_vowel(c) || c < 'a' || c > 'z'; }))
        return {};
    const auto& by_length = words_by_start[static_cast<std::size_t>(word[0] - 'a')];
    std::string found;
    std::string found_stem;
    for (std::size_t length = word.size() + 1; length < by_length.size(); ++length)
        for (const auto& candidate : by_length[length]) {
            std::size_t k = 0;
            for (const char c : candidate)
                if (k < word.size() && c == word[k])
                    ++k;
            if (k != word.size())
                continue;
            auto candidate_stem = analyzer.stem(candidate);
            if (found.empty()) {
                found = candidate;
                found_stem = std::move(candidate_stem);
            } else if (candidate_stem != found_stem) {
                return {};
            }
        }
    return found;
}

namespace {

/// The words a message wishes rather than asks about: "bonne année", "bonnes vacances",
/// "bon courage", "meilleurs vœux".
std::unordered_set<std::string> wished_words(std::string_view question)
{
    static const std::unordered_set<std::string_view> wishes{
        "bonne",     "bonnes",     "bon",       "bons",  "joyeux", "joyeuses",
        "meilleurs", "excellente", "excellent", "belle", "beau"};
    std::unordered_set<std::string> wished;
    const auto words = split_words(fold(question));
    // "le bon profil", "la bonne procédure", "un bon de commande" choose, they do not wish.
    static const std::unordered_set<std::string_view> determiners{
        "le",  "la",   "les",   "l",  "un",  "une",   "des", "du",   "au",     "aux",   "mon",
        "ma",  "mes",  "ton",   "ta", "tes", "son",   "sa",  "ses",  "notre",  "nos",   "votre",
        "vos", "leur", "leurs", "ce", "cet", "cette", "ces", "quel", "quelle", "quels", "quelles"};
    for (std::size_t k = 0; k + 1 < words.size(); ++k) {
        const bool chosen = k > 0 && determiners.contains(words[k - 1]);
        if (wishes.contains(words[k]) && !chosen && !is_stop_word(words[k + 1]))
            wished.insert(words[k + 1]);
        // "ça marche", "ça fonctionne", "ça va": how things go, not what they are about.
        if (words[k] == "ca" && (words[k + 1] == "marche" || words[k + 1] == "va"))
            wished.insert(words[k + 1]);
    }
    return wished;
}

struct Sentence {
    std::string_view text;
    double weight = 1.0;
    bool asked = true;
};

bool is_asking(std::string_view folded_word)
{
    static const std::unordered_set<std::string_view> asking{
        "comment", "pourquoi", "combien", "quand", "quel",    "quelle", "quels", "quelles",
        "qui",     "ou",       "est",     "peut",  "peuton",  "faut",   "dois",  "doit",
        "pouvez",  "pourriez", "savez",   "sait",  "connait", "existe", "estce", "qd"};
    return asking.contains(folded_word);
}

/// Words that only join a clause to the one before ("et comment…", "mais où…").
bool is_joining(std::string_view folded_word)
{
    return folded_word == "et" || folded_word == "mais" || folded_word == "donc" ||
           folded_word == "alors" || folded_word == "du" || folded_word == "coup";
}

/// Where the question starts in a question sentence that does not start with it: "j'ai reçu la
/// livraison, comment je constate le service fait ?" asks from "comment", the clause before is
/// narrative.
std::size_t question_start(std::string_view sentence)
{
    std::size_t start = 0;
    for (std::size_t i = sentence.find_first_of(",:()"); i != std::string_view::npos;
         i = sentence.find_first_of(",:()", start)) {
        start = i + 1;
        const auto end = sentence.find_first_of(",:()", start);
        const auto words = split_words(fold(sentence.substr(start, end - start)));
        std::size_t k = 0;
        while (k < words.size() && is_joining(words[k]))
            ++k;
        if (k < words.size() && is_asking(words[k]))
            return start;
    }
    return 0; // the sentence asks from its start (or asks nothing clearly)
}

/// Whether a clause tells what happened to someone ("j'ai reçu la livraison", "on vient de
/// basculer") rather than naming the subject ("iban passé en actif par erreur").
bool tells(std::string_view clause)
{
    static const std::unordered_set<std::string_view> subjects{
        "je", "j", "ai", "suis", "on", "nous", "il", "elle", "ils", "elles", "vous", "ont"};
    const auto words = split_words(fold(clause));
    return std::any_of(words.begin(), words.end(),
                       [](const std::string& w) { return subjects.contains(w); });
}

/// The sentences of a message, the questions first: in "Bonjour, je suis SG dans un collège de
/// la Somme. Comment créer le tiers DDFIP ? Merci", the question says what it is about and the
/// rest is context, which weighs half.
template <typename NamesTopic>
std::vector<Sentence> sentences_of(std::string_view message, const NamesTopic& names_topic)
{
    std::vector<Sentence> asked;
    std::vector<Sentence> told;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= message.size(); ++i) {
        const char c = i < message.size() ? message[i] : '\n';
        if (c != '.' && c != '!' && c != '?' && c != '\n' && c != ';')
            continue;
        const auto text = message.substr(start, i - start);
        start = i + 1;
        const auto words = split_words(fold(text));
        if (words.empty())
            continue;
        const auto first = std::find_if_not(words.begin(), words.end(),
                                            [](const std::string& w) { return is_joining(w); });
        if (c == '?' && (first == words.end() || !is_asking(*first))) {
            const auto from = question_start(text);
            if (from > 0 && tells(text.substr(0, from)) && names_topic(text.substr(from))) {
                told.push_back({text.substr(0, from), 1.0, false});
                asked.push_back({text.substr(from), 1.0, true});
                continue;
            }
        }
        if (c == '?' || is_asking(words.front()))
            asked.push_back({text, 1.0, true});
        else
            told.push_back({text, 1.0, false});
    }
    if (told.empty())
        return asked;
    if (asked.empty()) { // no question found: the whole message is what it is about
        for (auto& sentence : told)
            sentence.asked = true;
        return told;
    }
    constexpr double context_sentence = 0.5;
    for (auto& sentence : told) {
        sentence.weight = context_sentence;
        asked.push_back(sentence);
    }
    return asked;
}

} // namespace

void Index::Impl::weigh(Concept& idea, std::string_view word,
                        const std::unordered_set<std::string>& wished) const
{
    // The rarest known way of saying it weighs; words of the base that only bodies use, and
    // words it never uses, weigh less (see the factors above).
    double rarest_known = 0;
    bool known = false;
    bool strong = false;
    for (const auto& alternative : idea.alternatives) {
        if (has_unknown(alternative))
            continue;
        known = true;
        double rarest = 0;
        for (const auto id : alternative.terms) {
            rarest = std::max(rarest, idf(id));
            strong = strong || strong_freq[id] > 0;
        }
        rarest_known = std::max(rarest_known, rarest);
    }
    if (is_chatter(word) || (!word.empty() && wished.contains(std::string{word}))) {
        idea.role = WordRole::chatter;
        idea.weight = 0;
    } else if (is_generic(word)) {
        idea.role = WordRole::generic;
        idea.weight = (known ? rarest_known : idf(unknown_term)) * generic_factor;
    } else if (!known) {
        idea.role = WordRole::unknown;
        idea.weight = idf(unknown_term) * unknown_factor;
    } else if (!strong) {
        idea.role = WordRole::context;
        idea.weight = rarest_known * context_factor;
    } else {
        idea.role = WordRole::topic;
        idea.weight = rarest_known;
    }
}

std::vector<Concept> Index::Impl::concepts_of(std::string_view question)
{
    const auto wished = wished_words(question);
    std::vector<Concept> concepts;
    std::vector<std::string> seen; // a word asked twice counts once: where it is asked
    // A question clause that names no subject of the base ("comment revenir en arrière ?")
    // asks about the clause before it, which is then no narrative.
    const auto names_topic = [&](std::string_view clause) {
        for (const auto& term : analyzer.analyze(clause)) {
            const auto id = lookup(term.stem);
            if (id != unknown_term && strong_freq[id] > 0 && !is_chatter(term.word) &&
                !is_generic(term.word))
                return true;
        }
        return false;
    };
    for (const auto& sentence : sentences_of(question, names_topic))
        add_concepts(sentence.text, sentence.weight, !sentence.asked, wished, seen, concepts);
    return concepts;
}

void Index::Impl::add_concepts(std::string_view text, double sentence_weight, bool narrative,
                               const std::unordered_set<std::string>& wished,
                               std::vector<std::string>& seen, std::vector<Concept>& concepts)
{
    const auto terms = analyzer.analyze(text);
    // A word the base does not know, read as the word of the base it likely stands for: the
    // apostrophe left out, a typo, the vowels left out. Phrases are matched with these readings
    // too ("compte finacier" is the compte financier).
    struct Reading {
        std::string stem;
        double factor = 0;
    };
    std::vector<Reading> readings(terms.size());
    for (std::size_t k = 0; k < terms.size(); ++k) {
        const auto& term = terms[k];
        if (lookup(term.stem) != unknown_term || is_chatter(term.word))
            continue;
        if (const auto rest = without_elision(term.word); !rest.empty())
            readings[k] = {analyzer.stem(rest), elision_factor};
        else if (const auto fixed = correct(term.word); !fixed.empty())
            readings[k] = {analyzer.stem(fixed), typo_factor};
        else if (const auto full = expand_abbreviation(term.word); !full.empty())
            readings[k] = {analyzer.stem(full), abbreviation_factor};
    }
    const auto reads_as = [&](std::size_t k, const std::string& stem) {
        return terms[k].stem == stem || (readings[k].factor > 0 && readings[k].stem == stem);
    };
    const auto words = split_words(fold(text));
    // "le réactiver plutôt que d'en créer un nouveau": what follows "plutôt que" or "au lieu de"
    // is the way the colleague does not want, context rather than the question.
    auto rejected_from = words.size();
    for (std::size_t k = 0; k + 1 < words.size() && rejected_from == words.size(); ++k)
        if ((words[k] == "plutot" && (words[k + 1] == "que" || words[k + 1] == "qu")) ||
            (words[k] == "lieu" && k > 0 && words[k - 1] == "au"))
            rejected_from = k + 2;
    const auto has_stop_words = [&](std::size_t first_term, const Phrase& phrase) {
        return std::all_of(phrase.stop_words.begin(), phrase.stop_words.end(), [&](const auto& s) {
            const auto at = static_cast<std::ptrdiff_t>(terms[first_term].position) + s.first;
            return at >= 0 && static_cast<std::size_t>(at) < words.size() &&
                   words[static_cast<std::size_t>(at)] == s.second;
        });
    };
    for (std::size_t i = 0; i < terms.size();) {
        const std::size_t start = i;
        // The longest synonym phrase that starts here, if any.
        std::size_t matched_group = groups.size();
        std::size_t matched_length = 0;
        std::size_t matched_phrase = 0;
        double matched_factor = 1.0; // lower when a word of it was read as another
        for (const std::string* first :
             {&terms[i].stem, static_cast<const std::string*>(&readings[i].stem)}) {
            const auto it = phrase_starts.find(*first);
            if (first->empty() || it == phrase_starts.end())
                continue;
            for (const auto& [group, phrase] : it->second) {
                const auto& stems_of_phrase = groups[group][phrase].stems;
                if (stems_of_phrase.size() <= matched_length ||
                    i + stems_of_phrase.size() > terms.size())
                    continue;
                bool same = true;
                double factor = 1.0;
                std::size_t exact = 0;
                for (std::size_t k = 0; k < stems_of_phrase.size() && same; ++k) {
                    same = reads_as(i + k, stems_of_phrase[k]);
                    if (same && terms[i + k].stem != stems_of_phrase[k])
                        factor = std::min(factor, readings[i + k].factor);
                    else if (same)
                        ++exact;
                }
                // A word read as another joins a phrase only beside a word typed as the phrase
                // has it: "crepes" read as "creees" is no reason to look for "ajouter".
                if (same && factor < 1.0 && exact == 0)
                    same = false;
                if (same && !has_stop_words(i, groups[group][phrase]))
                    same = false;
                if (same) {
                    matched_group = group;
                    matched_length = stems_of_phrase.size();
                    matched_phrase = phrase;
                    matched_factor = factor;
                }
            }
        }
        Concept idea;
        if (matched_length > 0) {
            const auto& phrases = groups[matched_group];
            for (std::size_t p = 0; p < phrases.size(); ++p) {
                // A phrase that needs its stop words cannot be checked in an entry (no word
                // positions there): "commencer" must not find every entry that says "premier".
                if (p != matched_phrase && !phrases[p].stop_words.empty())
                    continue;
                Alternative alternative;
                for (const auto& stem : phrases[p].stems)
                    alternative.terms.push_back(lookup(stem));
                alternative.factor = (p == matched_phrase ? 1.0 : synonym_factor) * matched_factor;
                idea.alternatives.push_back(std::move(alternative));
            }
            i += matched_length;
        } else {
            idea.alternatives.push_back({{lookup(terms[i].stem)}, 1.0});
            if (readings[i].factor > 0)
                idea.alternatives.push_back({{lookup(readings[i].stem)}, readings[i].factor});
            ++i;
        }
        // A phrase of one word typed is still judged by that word ("opale" is chatter even though
        // the glossary makes it a phrase).
        weigh(idea, i - start == 1 ? std::string_view{terms[start].word} : std::string_view{},
              wished);
        idea.weight *= sentence_weight;
        if (terms[start].position >= rejected_from)
            idea.weight *= rejected_factor;
        // Narrative around a question tells where the colleague is ("livraison", "collectivité"):
        // words the base never uses say little there, and must not drown the question.
        if (narrative && idea.role == WordRole::unknown)
            idea.weight *= narrative_unknown_factor;
        // The words typed identify the idea (unknown words included, each by itself).
        std::string key;
        for (std::size_t k = start; k < i; ++k)
            key += terms[k].stem + ' ';
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            continue;
        seen.push_back(std::move(key));
        concepts.push_back(std::move(idea));
    }
}

Index::Impl::Match Index::Impl::match(const Concept& idea, const Document& document) const
{
    Match best;
    for (const auto& alternative : idea.alternatives) {
        if (has_unknown(alternative))
            continue;
        Match here;
        if (contains_all(document.title, alternative.terms))
            here = {title_match, MatchPlace::title};
        else if (contains_all(document.strong, alternative.terms))
            here = {keyword_match, MatchPlace::keywords};
        else if (contains_all(document.all, alternative.terms))
            here = {body_match, MatchPlace::body};
        here.weight *= alternative.factor;
        if (here.weight > best.weight)
            best = here;
    }
    return best;
}

/// Marks in `in_phrase`, by idea of the question, the words of the entry's keyword phrases that
/// the question says whole (`said`); false when it says none (most entries).
bool Index::Impl::ideas_in_phrases(const std::vector<Concept>& concepts, const Document& document,
                                   std::vector<std::uint8_t>& in_phrase) const
{
    bool any = false;
    for (std::size_t at = 0; at < document.phrases.size(); at += 1 + document.phrases[at]) {
        const std::span phrase{document.phrases.data() + at + 1, document.phrases[at]};
        if (!std::all_of(phrase.begin(), phrase.end(), [&](TermId t) { return said[t] != 0; }))
            continue;
        if (!any)
            in_phrase.assign(concepts.size(), 0);
        any = true;
        for (std::size_t c = 0; c < concepts.size(); ++c)
            for (const auto& alternative : concepts[c].alternatives)
                if (std::any_of(alternative.terms.begin(), alternative.terms.end(), [&](TermId t) {
                        return std::binary_search(phrase.begin(), phrase.end(), t);
                    }))
                    in_phrase[c] = 1;
    }
    return any;
}

/// Marks (1) or clears (0) in `said` every known stem of the question, synonyms included.
void Index::Impl::mark_said(const std::vector<Concept>& concepts, std::uint8_t value)
{
    for (const auto& idea : concepts)
        if (idea.weight > 0)
            for (const auto& alternative : idea.alternatives)
                for (const auto t : alternative.terms)
                    if (t != unknown_term)
                        said[t] = value;
}

Index::Index(std::vector<Entry> entries, const Glossary& glossary,
             const std::vector<std::vector<std::string>>& synonyms)
    : impl_(std::make_unique<Impl>())
{
    impl_->entries = std::move(entries);
    impl_->build(glossary, synonyms);
}

Index::~Index() = default;
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;

const std::vector<Entry>& Index::entries() const
{
    return impl_->entries;
}

std::vector<SearchHit> Index::Impl::rank(const std::vector<Concept>& concepts, std::size_t limit)
{
    // The FTS5 query is built from known stems only, each quoted: user text never reaches
    // FTS5 syntax (quotes, *, ^, NEAR, column filters), and MATCH '' is never sent.
    // Each way of saying an idea is found by its rarest stem (an entry that has the phrase has
    // that stem), and the ideas that weigh most choose the candidates: a key word of the
    // question must not lose its place to the many stems of a synonym group.
    struct Wanted {
        TermId id;
        double weight;
    };
    std::vector<Wanted> wanted;
    double total = 0;
    for (const auto& idea : concepts) {
        total += idea.weight;
        if (idea.weight <= 0)
            continue; // chatter finds nothing
        for (const auto& alternative : idea.alternatives) {
            if (has_unknown(alternative))
                continue;
            const auto rarest =
                *std::min_element(alternative.terms.begin(), alternative.terms.end(),
                                  [&](TermId a, TermId b) { return doc_freq[a] < doc_freq[b]; });
            wanted.push_back({rarest, idea.weight});
        }
    }
    if (wanted.empty() || total <= 0 || limit == 0)
        return {};
    std::sort(wanted.begin(), wanted.end(), [&](const Wanted& a, const Wanted& b) {
        if (a.weight != b.weight)
            return a.weight > b.weight;
        return doc_freq[a.id] < doc_freq[b.id];
    });
    // Candidates come from selective stems: FTS5 ranks every row a stem matches, and a stem found
    // in hundreds of entries adds little to any one entry's coverage (it still counts there).
    const auto common = std::max<std::size_t>(100, documents.size() / 100);
    std::vector<TermId> chosen;
    for (const auto& w : wanted)
        if (doc_freq[w.id] <= common && chosen.size() < max_match_terms &&
            std::find(chosen.begin(), chosen.end(), w.id) == chosen.end())
            chosen.push_back(w.id);
    const bool selective = !chosen.empty();
    if (!selective) // only common stems: the entries that are about the rarest one
        chosen.push_back(
            std::min_element(wanted.begin(), wanted.end(), [&](const Wanted& a, const Wanted& b) {
                return doc_freq[a.id] < doc_freq[b.id];
            })->id);
    std::string match_query;
    for (const auto id : chosen) // stems are [a-z0-9]
        match_query += (match_query.empty() ? "\"" : " OR \"") + stems[id] + '"';
    if (!selective) // only common words: the entries that are about the rarest one
        match_query = "{titre motscles} : " + match_query;

    // FTS5 finds the entries; coverage ranks them (cheaper than bm25, which reads each row's size).
    std::vector<SearchHit> hits;
    // The best plain scores so far, lowest first: a phrase lifts an idea the entry matches to
    // phrase_rank at most, so an entry whose matched ideas all at phrase_rank stay under the
    // `limit`-th of them is not kept whatever its phrases. Most candidates of a large base are
    // never looked at twice.
    std::vector<double> best_scores;
    std::vector<std::uint8_t> in_phrase;
    std::vector<double> wheres(concepts.size()); // by idea: how the entry matches it
    // The question's stems marked for the phrases, and cleared whatever happens (even an SQLite
    // error): the marks are kept between questions.
    struct SaidMarks {
        Impl& impl;
        const std::vector<Concept>& concepts;
        SaidMarks(Impl& i, const std::vector<Concept>& c) : impl{i}, concepts{c}
        {
            impl.mark_said(concepts, 1);
        }
        ~SaidMarks() { impl.mark_said(concepts, 0); }
        SaidMarks(const SaidMarks&) = delete;
        SaidMarks& operator=(const SaidMarks&) = delete;
    } const marks{*this, concepts};
    query->bind(1, match_query);
    while (query->executeStep()) {
        const auto entry = static_cast<std::size_t>(query->getColumn(0).getInt64()) - 1;
        const auto& document = documents[entry];
        double evidence = 0;
        double matched = 0;
        int topics = 0;
        for (std::size_t c = 0; c < concepts.size(); ++c) {
            const auto& idea = concepts[c];
            wheres[c] = idea.weight > 0 ? match(idea, document).weight : 0;
            evidence += idea.weight * wheres[c];
            matched += wheres[c] > 0 ? idea.weight : 0;
            // Body matches are at most body_match; any title or keyword match is above it.
            topics += idea.role == WordRole::topic && wheres[c] > body_match ? 1 : 0;
        }
        const double score = evidence / total;
        const bool can_be_kept =
            best_scores.size() < limit || phrase_rank * matched / total >= best_scores.front();
        double ranked = score;
        if (can_be_kept && ideas_in_phrases(concepts, document, in_phrase)) {
            double lifted = 0;
            for (std::size_t c = 0; c < concepts.size(); ++c) // ideas the entry has
                lifted += concepts[c].weight * (in_phrase[c] != 0 && wheres[c] > 0
                                                    ? std::max(wheres[c], phrase_rank)
                                                    : wheres[c]);
            ranked = lifted / total;
        }
        // Evidence in units of the rarest word's weight, so that thresholds hold for any size.
        hits.push_back({entry, score, evidence / idf(unknown_term), topics, ranked});
        if (best_scores.size() < limit || score > best_scores.front()) {
            if (best_scores.size() == limit)
                best_scores.erase(best_scores.begin());
            best_scores.insert(std::upper_bound(best_scores.begin(), best_scores.end(), score),
                               score);
        }
    }
    query->reset();
    // Best ranked first; on a tie, the more focused (shorter) entry, as bm25 would.
    const auto better = [&](const SearchHit& a, const SearchHit& b) {
        if (a.rank != b.rank)
            return a.rank > b.rank;
        return documents[a.entry].all.size() < documents[b.entry].all.size();
    };
    const auto kept = std::min(limit, hits.size());
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(kept), hits.end(),
                      better);
    hits.resize(kept);
    return hits;
}

std::string_view to_string(WordRole role)
{
    switch (role) {
    case WordRole::topic:
        return "sujet";
    case WordRole::context:
        return "contexte";
    case WordRole::unknown:
        return "inconnu";
    case WordRole::generic:
        return "générique";
    case WordRole::chatter:
        break;
    }
    return "bavardage";
}

std::vector<SearchHit> Index::search(std::string_view question, std::size_t limit)
{
    return impl_->rank(impl_->concepts_of(question), limit);
}

Explanation Index::explain(std::string_view question, std::size_t limit)
{
    auto& impl = *impl_;
    const auto concepts = impl.concepts_of(question);
    Explanation explanation;
    for (const auto& idea : concepts) {
        QueryWord word;
        for (const auto& alternative : idea.alternatives) {
            word.text += word.text.empty() ? "" : " | ";
            for (std::size_t k = 0; k < alternative.terms.size(); ++k)
                word.text += (k > 0 ? " " : "") + (alternative.terms[k] == unknown_term
                                                       ? std::string{"?"}
                                                       : impl.stems[alternative.terms[k]]);
        }
        word.role = idea.role;
        word.weight = idea.weight;
        explanation.words.push_back(std::move(word));
    }
    explanation.hits = impl.rank(concepts, limit);
    for (const auto& hit : explanation.hits) {
        std::vector<double> matches;
        std::vector<MatchPlace> places;
        for (const auto& idea : concepts) {
            const auto found = impl.match(idea, impl.documents[hit.entry]);
            matches.push_back(found.weight);
            places.push_back(found.place);
        }
        explanation.matches.push_back(std::move(matches));
        explanation.places.push_back(std::move(places));
    }
    return explanation;
}

} // namespace opalebot::knowledge
