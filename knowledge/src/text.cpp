#include "knowledge/text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace opalebot::knowledge {
namespace {

// Folded forms of U+00C0..U+00FF; '\0' stands for "no letter" (×, ÷), '#' for a two-letter form.
constexpr std::string_view latin1_folds = "aaaaaa#ceeeeiiii"  // ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏ
                                          "dnooooo ouuuuyp#"  // ÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞß
                                          "aaaaaa#ceeeeiiii"  // àáâãäåæçèéêëìíîï
                                          "dnooooo ouuuuypy"; // ðñòóôõö÷øùúûüýþÿ

// Folded forms of U+0100..U+017F (Latin Extended-A); '#' marks a ligature (Ĳ, Œ).
constexpr std::string_view latin_ext_folds =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii##jjkkklllllll"
    "lllnnnnnnnnnoooooo##rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/// Decodes one UTF-8 code point at `i`; returns U+FFFD for a malformed sequence.
char32_t next_code_point(std::string_view s, std::size_t& i)
{
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
        ++i;
        return lead;
    }
    std::size_t length = 0;
    char32_t cp = 0;
    if ((lead & 0xE0U) == 0xC0U) {
        length = 2;
        cp = lead & 0x1FU;
    } else if ((lead & 0xF0U) == 0xE0U) {
        length = 3;
        cp = lead & 0x0FU;
    } else if ((lead & 0xF8U) == 0xF0U) {
        length = 4;
        cp = lead & 0x07U;
    } else {
        ++i;
        return U'\uFFFD';
    }
    if (i + length > s.size()) { // cut short: one replacement, then what follows is read again
        ++i;
        while (i < s.size() && (byte(i) & 0xC0U) == 0x80U)
            ++i;
        return U'\uFFFD';
    }
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0U) != 0x80U) {
            i += k;
            return U'\uFFFD';
        }
        cp = (cp << 6U) | (byte(i + k) & 0x3FU);
    }
    // Overlong forms ("\xC0\xAF" for "/") and surrogates are invalid, not ASCII in disguise.
    static constexpr std::array<char32_t, 5> smallest{0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[length] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        i += length;
        return U'\uFFFD';
    }
    i += length;
    return cp;
}

void append_folded(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        const auto c = static_cast<char>(cp);
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        return;
    }
    switch (cp) {
    case U'\u00C6':
    case U'\u00E6':
        out += "ae";
        return;
    case U'\u00DF':
        out += "ss";
        return;
    case U'\u0152':
    case U'\u0153':
        out += "oe";
        return;
    case U'\u2018': // ‘ ’ ʼ ′: apostrophes, for elisions such as l’intégration
    case U'\u2019':
    case U'\u02BC':
    case U'\u2032':
        out += '\'';
        return;
    case U'\u2010': // hyphens
    case U'\u2011':
        out += '-';
        return;
    default:
        break;
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
        const char c = latin1_folds[cp - 0xC0];
        out += c == '#' ? ' ' : c;
        return;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        const char c = latin_ext_folds[cp - 0x100];
        out += c == '#' ? ' ' : c;
        return;
    }
    out += ' ';
}

bool is_letter(char c)
{
    return c >= 'a' && c <= 'z';
}
bool is_word_char(char c)
{
    return is_letter(c) || (c >= '0' && c <= '9');
}

// Elided articles and pronouns: the part before the apostrophe is dropped.
bool is_elision(std::string_view s)
{
    static constexpr std::array<std::string_view, 13> elisions{
        "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"};
    return std::find(elisions.begin(), elisions.end(), s) != elisions.end();
}

} // namespace

std::string fold(std::string_view utf8)
{
    std::string out;
    out.reserve(utf8.size());
    for (std::size_t i = 0; i < utf8.size();)
        append_folded(out, next_code_point(utf8, i));
    // "@" read as "a" when it sits inside or at the edge of a word: op@le, oper@, @loa.
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] != '@')
            continue;
        const bool letter_before = i > 0 && is_letter(out[i - 1]);
        const bool letter_after = i + 1 < out.size() && is_letter(out[i + 1]);
        if (letter_before || letter_after)
            out[i] = 'a';
    }
    return out;
}

namespace {

// Chat and SMS spellings of common words, folded, with the words they stand for: "cmt" asks
// "comment", "pb" is a "probleme". Collected from public lexicons of French SMS writing
// (abcdufrancais.com "Langage SMS : lexique de base", 2023; fr.wikimini.org "Langage SMS"), plus
// apostrophes left out ("jai", "cest"). Never an acronym of the glossary (AC, DP, TR, SF stay).
const std::unordered_map<std::string_view, std::string_view>& chat_spellings()
{
    static const std::unordered_map<std::string_view, std::string_view> spellings{
        {"bjr", "bonjour"},
        {"bsr", "bonsoir"},
        {"slt", "salut"},
        {"cc", "coucou"},
        {"stp", "s il te plait"},
        {"svp", "s il vous plait"},
        {"mrc", "merci"},
        {"mci", "merci"},
        {"dsl", "desole"},
        {"pb", "probleme"},
        {"pbs", "problemes"},
        {"pbm", "probleme"},
        {"prb", "probleme"},
        {"pr", "pour"},
        {"qq", "quelque"},
        {"qqs", "quelques"},
        {"qqn", "quelqu un"},
        {"qqun", "quelqu un"},
        {"kk1", "quelqu un"},
        {"qqch", "quelque chose"},
        {"qqc", "quelque chose"},
        {"tjrs", "toujours"},
        {"tjr", "toujours"},
        {"tjs", "toujours"},
        {"bcp", "beaucoup"},
        {"tt", "tout"},
        {"tte", "toute"},
        {"ts", "tous"},
        {"ds", "dans"},
        {"dc", "donc"},
        {"vs", "vous"},
        {"ns", "nous"},
        {"mm", "meme"},
        {"mtn", "maintenant"},
        {"mnt", "maintenant"},
        {"auj", "aujourd hui"},
        {"ajd", "aujourd hui"},
        {"aujd", "aujourd hui"},
        {"ojd", "aujourd hui"},
        {"qd", "quand"},
        {"kan", "quand"},
        {"pk", "pourquoi"},
        {"pq", "pourquoi"},
        {"pkoi", "pourquoi"},
        {"pourkoi", "pourquoi"},
        {"koi", "quoi"},
        {"ke", "que"},
        {"ki", "qui"},
        {"kel", "quel"},
        {"kelle", "quelle"},
        {"keske", "qu est ce que"},
        {"cmt", "comment"},
        {"cmnt", "comment"},
        {"koman", "comment"},
        {"komment", "comment"},
        {"cmb", "combien"},
        {"kom", "comme"},
        {"g", "j ai"},
        {"jai", "j ai"},
        {"cest", "c est"},
        {"ct", "c etait"},
        {"quil", "qu il"},
        {"quils", "qu ils"},
        {"quon", "qu on"},
        {"dun", "d un"},
        {"dune", "d une"},
        {"jen", "j en"},
        {"nest", "n est"},
        {"jsp", "je ne sais pas"},
        {"jsais", "je sais"},
        {"chai", "je sais"},
        {"jss", "je suis"},
        {"chui", "je suis"},
        {"chuis", "je suis"},
        {"fo", "faut"},
        {"fodrait", "faudrait"},
        {"avc", "avec"},
        {"b1", "bien"},
        {"bi1", "bien"},
        {"cad", "c est a dire"},
        {"dac", "d accord"},
        {"dacc", "d accord"},
        {"dak", "d accord"},
        {"pcq", "parce que"},
        {"pck", "parce que"},
        {"paske", "parce que"},
        {"tkt", "t inquiete"},
        {"nvx", "nouveaux"},
        {"nvl", "nouvelle"},
        {"nvlle", "nouvelle"},
        {"pdt", "pendant"},
        {"msg", "message"},
        {"doc", "document"},
        {"docs", "documents"},
        {"rdv", "rendez vous"},
        {"ya", "il y a"},
        // More of the common SMS forms (the "langage SMS" lists of French dictionaries and
        // Wikipédia): a negation, question words, time and manner.
        {"pa", "pas"},
        {"kels", "quels"},
        {"kelles", "quelles"},
        {"koa", "quoi"},
        {"avt", "avant"},
        {"apr", "apres"},
        {"tlm", "tout le monde"},
        {"ptet", "peut etre"},
        {"ptetre", "peut etre"},
        {"oci", "aussi"},
        {"ossi", "aussi"},
        {"tps", "temps"},
        {"vx", "veux"},
        {"jve", "je veux"},
        {"jveu", "je veux"},
        {"jvx", "je veux"},
        {"r1", "rien"},
        {"ri1", "rien"},
        {"vla", "voila"},
    };
    return spellings;
}

bool is_consonant(char c)
{
    return is_letter(c) && std::string_view{"aeiouy"}.find(c) == std::string_view::npos;
}

/// The stop words (is_stop_word adds durations and ranks).
const std::unordered_set<std::string_view>& stop_words()
{
    // Snowball's French stop list (folded), plus question words and salon fillers.
    static const std::unordered_set<std::string_view> words{
        "a", "ai", "aie", "aient", "aies", "ait", "alors", "as", "au", "aucun", "aura", "aurai",
        "auraient", "aurais", "aurait", "auras", "aurez", "auriez", "aurions", "aurons", "auront",
        "aussi", "autre", "aux", "avaient", "avais", "avait", "avec", "avez", "aviez", "avions",
        "avoir", "avons", "ayant", "ayez", "ayons", "bah", "ben", "besoin", "bien", "bjr", "bon",
        "bonjour", "bonne", "bonsoir", "c", "ca", "car", "ce", "ceci", "cela", "celle", "celui",
        "ces", "cet", "cette", "chez", "chose", "coucou", "combien", "comme", "comment",
        "cordialement", "d", "dans", "de", "deja", "des", "doit", "doivent", "dois", "donc", "dont",
        "du", "elle", "elles", "en", "encore", "es", "est", "et", "etaient", "etais", "etait",
        "etant", "ete", "etes", "etiez", "etions", "etre", "eu", "eux", "faire", "faut", "hello",
        "hi", "ici", "il", "ils", "j", "je", "jour", "l", "la", "le", "les", "leur", "leurs", "lui",
        "m", "ma", "mais", "me", "meme", "merci", "mes", "moi", "mon", "n", "ne", "nos", "notre",
        "nous", "on", "ont", "ou", "par", "pas", "peu", "peut", "peuvent", "peux", "plait",
        "please", "plus", "possible", "pour", "pourquoi", "pourrais", "pourrait", "pouvez",
        "pouvoir", "puis", "qu", "quand", "que", "quel", "quelle", "quelles", "quelqu", "quelque",
        "quels", "qui", "quoi", "s", "sa", "sais", "sait", "salut", "savez", "savoir", "se", "ses",
        "si", "sil", "slt", "soit", "sommes", "son", "sont", "souhaite", "suis", "sur", "svp",
        "stp", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute", "toutes", "tres",
        "tu", "un", "une", "vers", "veux", "voudrais", "vous", "vos", "votre", "y", "ya",
        // Prepositions and adverbs of time and manner: never what a question is about.
        "entre", "sans", "sous", "chaque", "fois", "depuis", "avant", "apres", "pendant", "lors",
        "afin", "ainsi", "toujours", "jamais", "maintenant", "vraiment", "juste", "aujourd", "hui",
        "hier", "demain", "plusieurs", "certains", "certaines", "quelques", "parce", "voici",
        "voila", "oui", "non", "trop", "assez", "beaucoup",
        // The verbs that carry a request ("on voudrait", "pourriez-vous", "je devrais"), in the
        // forms a question uses: how one asks, never what about.
        "veut", "voulons", "voulez", "veulent", "voudrait", "voudrions", "voudriez", "voudraient",
        "voulais", "voulait", "pouvons", "pourrions", "pourriez", "pourraient", "pouvais",
        "pouvait", "devons", "devez", "devrais", "devrait", "devrions", "devriez", "devraient",
        "devais", "devait", "souhaites", "souhaitons", "souhaitez", "souhaitent", "souhaiterais",
        "souhaiterait", "souhaiterions", "aimerais", "aimerait", "aimerions", "aimeriez", "savons",
        "savent", "saurais", "saurait", "sauriez"};
    return words;
}

/// Stop words of five letters or more with one vowel between two consonants left out, by the
/// form left: "dpuis" -> "depuis". Never a form that is itself a word of the list, nor one next
/// to a vowel ("etat" is a word, not "etait" misspelled), nor a last or first letter dropped
/// ("parc" is a word, not "parce" cut short).
const std::unordered_map<std::string, std::string_view>& vowel_dropped()
{
    static const auto forms = [] {
        std::unordered_map<std::string, std::string_view> by_form;
        for (const auto word : stop_words()) {
            if (word.size() < 5)
                continue;
            for (std::size_t at = 1; at + 1 < word.size(); ++at) {
                if (std::string_view{"aeiou"}.find(word[at]) == std::string_view::npos ||
                    !is_consonant(word[at - 1]) || !is_consonant(word[at + 1]))
                    continue;
                auto form = std::string{word.substr(0, at)} + std::string{word.substr(at + 1)};
                if (stop_words().contains(form))
                    continue;
                // Two words with the same form: the first in alphabetical order, every time.
                const auto [it, fresh] = by_form.try_emplace(std::move(form), word);
                if (!fresh && word < it->second)
                    it->second = word;
            }
        }
        return by_form;
    }();
    return forms;
}

/// The word as French spells it: an SMS form expanded ("cmt" -> "comment"), a "je" whose vowel
/// was dropped restored ("jdois" -> "je dois": no French word starts with j and a consonant).
void append_spelled_out(std::vector<std::string>& words, std::string word)
{
    constexpr std::size_t longest_chat_spelling = 7; // "pourkoi": longer words skip the lookup
    if (const auto it = word.size() <= longest_chat_spelling ? chat_spellings().find(word)
                                                             : chat_spellings().end();
        it != chat_spellings().end()) {
        std::size_t start = 0;
        const auto expansion = it->second;
        while (start < expansion.size()) {
            const auto end = std::min(expansion.find(' ', start), expansion.size());
            words.emplace_back(expansion.substr(start, end - start));
            start = end + 1;
        }
        return;
    }
    // "dpuis": a function word whose vowel between two consonants was left out, as SMS writing
    // does (one lookup: the index reads every word of the base through here).
    if (const auto it = vowel_dropped().find(word); it != vowel_dropped().end()) {
        words.emplace_back(it->second);
        return;
    }
    if (word.size() >= 4 && word[0] == 'j' && is_consonant(word[1]) && word[1] != 'h' &&
        word.find_first_of("aeiouy", 2) != std::string::npos) {
        words.emplace_back("je");
        word.erase(0, 1);
    }
    words.push_back(std::move(word));
}

} // namespace

std::vector<std::string> split_words(std::string_view folded)
{
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < folded.size()) {
        if (!is_word_char(folded[i])) {
            ++i;
            continue;
        }
        // A compound: word characters joined by single hyphens or apostrophes.
        std::vector<std::string> parts;
        std::string part;
        while (i < folded.size()) {
            const char c = folded[i];
            if (is_word_char(c)) {
                part += c;
                ++i;
            } else if (c == '\'' && !part.empty()) {
                if (!is_elision(part))
                    parts.push_back(part); // "aujourd'hui" keeps both halves
                part.clear();
                ++i;
            } else if (c == '-' && !part.empty() && i + 1 < folded.size() &&
                       is_word_char(folded[i + 1])) {
                parts.push_back(std::move(part));
                part.clear();
                parts.emplace_back("-"); // marks a hyphen boundary
                ++i;
            } else {
                break;
            }
        }
        if (!part.empty())
            parts.push_back(std::move(part));
        std::string joined;
        bool hyphenated = false;
        bool inverted = false; // "dois-je", "peut-on", "est-ce": a verb and its pronoun
        for (const auto& p : parts) {
            if (p == "-") {
                hyphenated = true;
                continue;
            }
            inverted = inverted || is_stop_word(p);
            append_spelled_out(words, p);
            joined += p;
        }
        if (hyphenated && !inverted)
            words.push_back(std::move(joined));
    }
    return words;
}

namespace {

/// "2j", "3h", "1er", "6eme", "15min": a duration or a rank, narrative in a question.
bool is_quantity(std::string_view folded_word)
{
    const auto digits = folded_word.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string_view::npos || digits > 4)
        return false;
    static const std::unordered_set<std::string_view> units{
        "j", "h", "e", "er", "ere", "eme", "emes", "min", "mn", "jours", "ans", "an", "mois"};
    return units.contains(folded_word.substr(digits));
}

} // namespace

bool is_stop_word(std::string_view folded_word)
{
    if (is_quantity(folded_word))
        return true;
    return stop_words().contains(folded_word);
}

bool is_chatter(std::string_view folded_word)
{
    // Greetings, thanks, apologies and the narrative around a question: a long message wrapped
    // in them asks the same thing as the bare question.
    static const std::unordered_set<std::string_view> chatter{
        "merci",      "beaucoup",      "remercie",    "remerciant",  "remerciements", "thanks",
        "thx",        "bonjour",       "bonsoir",     "salut",       "coucou",        "hello",
        "hi",         "bjr",           "slt",         "re",          "bonne",         "journee",
        "soiree",     "semaine",       "weekend",     "tous",        "toutes",        "monde",
        "super",      "top",           "parfait",     "genial",      "cool",          "nickel",
        "ok",         "oki",           "okay",        "accord",      "daccord",       "bravo",
        "infiniment", "mille",         "encore",      "bot",         "opale",         "desole",
        "desolee",    "desoles",       "excuse",      "excusez",     "excuses",       "pardon",
        "avance",     "cordialement",  "salutations", "sincerement", "madame",        "monsieur",
        "mesdames",   "messieurs",     "cher",        "chere",       "chers",         "cheres",
        "collegue",   "collegues",     "permets",     "permet",      "permettre",     "solliciter",
        "sollicite",  "sollicitation", "urgent",      "urgence",     "vite",          "rapidement",
        "help",       "sos",           "idee",        "idees",       "galere",        "galerer",
        "galer",      "lol",           "mdr",         "bisous",      "bises",         "posee",
        "pose",       "poser",         "repondre",    "reponse",     "reponses",      "eclairer",
        "eclairage",  "lumieres",      "precieuse",   "precieux",    "tkt",           "inquiete",
        "svp",        "stp",           "plait",       "please",      "question",      "questions",
        "petite"};
    return chatter.contains(folded_word);
}

std::string escape_markdown(std::string_view text)
{
    static constexpr std::string_view special = "\\`*_{}[]()<>#+-.!|~&\"'";
    std::string escaped;
    escaped.reserve(text.size());
    for (const char c : text) {
        if (special.find(c) != std::string_view::npos)
            escaped += '\\';
        escaped += c == '\n' || c == '\r' ? ' ' : c;
    }
    return escaped;
}

namespace {

/// Damerau–Levenshtein distance (optimal string alignment) with a substitution cost of 1 or 2.
template <typename SubstitutionCost>
int alignment_distance(std::string_view a, std::string_view b, int limit,
                       const SubstitutionCost& substitution)
{
    const auto length_gap = static_cast<int>(a.size()) - static_cast<int>(b.size());
    if (std::abs(length_gap) > limit)
        return limit + 1;
    const std::size_t n = b.size();
    std::vector<int> before(n + 1);
    std::vector<int> previous(n + 1);
    std::vector<int> current(n + 1);
    for (std::size_t j = 0; j <= n; ++j)
        previous[j] = static_cast<int>(j);
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = static_cast<int>(i);
        int row_best = current[0];
        for (std::size_t j = 1; j <= n; ++j) {
            const int cost = a[i - 1] == b[j - 1] ? 0 : substitution(a[i - 1], b[j - 1]);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                current[j] = std::min(current[j], before[j - 2] + 1); // transposition
            row_best = std::min(row_best, current[j]);
        }
        if (row_best > limit)
            return limit + 1;
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return std::min(previous[n], limit + 1);
}

using SlipTable = std::array<std::array<bool, 26>, 26>;

/// Neighbours on an AZERTY or a QWERTY keyboard (same row, or the row above or below), and
/// letters French spells alike (c/s, c/k…): built at compile time, read for every pair of
/// letters the typo search compares.
constexpr SlipTable make_slip_table()
{
    SlipTable table{};
    const auto link = [&table](char a, char b) {
        table[static_cast<std::size_t>(a - 'a')][static_cast<std::size_t>(b - 'a')] = true;
        table[static_cast<std::size_t>(b - 'a')][static_cast<std::size_t>(a - 'a')] = true;
    };
    for (const auto layout :
         {std::array<std::string_view, 3>{"azertyuiop", "qsdfghjklm", "wxcvbn"},
          std::array<std::string_view, 3>{"qwertyuiop", "asdfghjkl", "zxcvbnm"}})
        for (std::size_t row = 0; row < layout.size(); ++row)
            for (std::size_t column = 0; column < layout[row].size(); ++column) {
                if (column + 1 < layout[row].size())
                    link(layout[row][column], layout[row][column + 1]);
                // Each row sits half a key to the right of the one above it: a key touches the
                // one below it and the one below to the left.
                if (row + 1 < layout.size()) {
                    if (column < layout[row + 1].size())
                        link(layout[row][column], layout[row + 1][column]);
                    if (column > 0 && column - 1 < layout[row + 1].size())
                        link(layout[row][column], layout[row + 1][column - 1]);
                }
            }
    for (const std::string_view pair : {"cs", "ck", "kq", "sz", "iy", "mn", "gj"})
        link(pair[0], pair[1]);
    return table;
}

constexpr SlipTable slip_table = make_slip_table();

/// Whether a finger slips from one key to the other (see make_slip_table).
bool slips(char typed, char meant)
{
    if (typed < 'a' || typed > 'z' || meant < 'a' || meant > 'z')
        return false;
    return slip_table[static_cast<std::size_t>(typed - 'a')][static_cast<std::size_t>(meant - 'a')];
}

} // namespace

int edit_distance(std::string_view a, std::string_view b, int limit)
{
    return alignment_distance(a, b, limit, [](char, char) { return 1; });
}

int typing_distance(std::string_view typed, std::string_view meant, int limit)
{
    return alignment_distance(typed, meant, limit,
                              [](char a, char b) { return slips(a, b) ? 1 : 2; });
}

} // namespace opalebot::knowledge
