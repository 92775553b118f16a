#include "knowledge/answerer.hpp"

#include "knowledge/text.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>

namespace opalebot::knowledge {
namespace {

// Longer messages are cut: a question is a few lines, and a pasted 10,000-character log must
// still get a quick answer.
constexpr std::size_t max_question_bytes = 2000;

bool is_thanks(std::string_view word)
{
    return word == "merci" || word == "remercie" || word == "remerciements" || word == "thanks" ||
           word == "thx" || word == "bravo";
}

// Words that turn a message into "what does this acronym mean?".
bool is_definition_word(std::string_view word)
{
    static const std::unordered_set<std::string_view> words{
        "signifie", "signifient", "signification", "definition", "sigle",
        "sigles",   "acronyme",   "abreviation",   "veut",       "veulent",
        "dire",     "quoi",       "estce",         "mot",        "terme",
        "sens",     "designe",    "correspond",    "explique",   "expliquer"};
    return words.contains(word);
}

std::string french_date(const std::string& iso)
{
    if (iso.size() != 10)
        return iso;
    return iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4);
}

/// Whether the message asks something: a question mark, or a question word ("comment",
/// "c'est quoi", "koi"…). A bare "test" or "ressources op@le" names a topic without asking.
bool asks(const std::vector<std::string>& words, std::string_view question)
{
    static const std::set<std::string, std::less<>> asking{
        "comment", "pourquoi", "combien", "quand", "quel",  "quelle", "quels", "quelles",
        "quoi",    "koi",      "ou",      "qui",   "estce", "faut",   "dois",  "peut"};
    return question.find('?') != std::string_view::npos ||
           std::any_of(words.begin(), words.end(),
                       [](const std::string& w) { return asking.contains(w); });
}

/// Whether a message only thanks, wishes or greets ("Merci à tous pour vos réponses sur les
/// prélèvements, c'est réglé ! Bon week-end"): it names a topic but asks nothing, requests
/// nothing ("je cherche", "merci d'avance") and opens with thanks or a wish.
bool only_social(const std::vector<std::string>& words, std::string_view question)
{
    static const std::set<std::string, std::less<>> requesting{
        "sollicite", "souhaite", "souhaiterais", "souhaiterait", "voudrais", "voudrait",
        "aimerais",  "cherche",  "recherche",    "besoin",       "help",     "aidez",
        "svp",       "stp",      "avance",       "pourriez",     "pouvez",   "urgent",
        "bloque",    "bloquee",  "erreur",       "mais",         "toujours", "encore"};
    static const std::set<std::string, std::less<>> wished{
        "weekend",      "week",  "journee", "soiree",  "rentree", "annee",   "vacances",
        "continuation", "fetes", "fin",     "semaine", "courage", "retraite"};
    if (asks(words, question) || std::any_of(words.begin(), words.end(), [](const std::string& w) {
            return requesting.contains(w);
        }))
        return false;
    static const std::set<std::string, std::less<>> greeting{
        "bonjour", "bonsoir", "salut", "coucou", "hello",  "hi",
        "bjr",     "slt",     "re",    "tous",   "toutes", "monde"};
    // It opens with the thanks or the wish: "créer le tiers DDFIP merci" is a request.
    const auto opens_kindly = [](const std::string& w) {
        return is_thanks(w) || w == "bon" || w == "bonne" || w == "ravi" || w == "ravie" ||
               w == "bienvenue";
    };
    std::size_t k = 0;
    while (k < words.size() && !opens_kindly(words[k]) &&
           (greeting.contains(words[k]) || is_stop_word(words[k])))
        ++k;
    if (k == words.size() || !opens_kindly(words[k]))
        return false;
    // "bon" opens a wish only before what is wished: "bon week-end", not "bon de commande".
    if (words[k] != "bon" && words[k] != "bonne")
        return true;
    return k + 1 < words.size() && wished.contains(words[k + 1]);
}

/// Whether the message is about the colleague's own situation ("mon salaire", "ma paie", "mes
/// impôts", "mon IBAN perso"), not the establishment's accounts: a RIB or a DDFIP named there
/// is no op@le question.
bool personal_matter(const std::vector<std::string>& words)
{
    static const std::set<std::string, std::less<>> own{"mon", "ma", "mes"};
    // Not "ma mutation", "ma retraite" or "mes congés": an agent comptable leaving asks how to
    // hand over his habilitations, an op@le question.
    static const std::set<std::string, std::less<>> matters{
        "salaire", "salaires", "paie", "paies", "impot", "impots", "remuneration"};
    // "ma fiche de paie", "mon bulletin de salaire": the possessive is on the payslip.
    static const std::set<std::string, std::less<>> slips{"fiche",     "fiches",  "bulletin",
                                                          "bulletins", "feuille", "feuilles"};
    for (std::size_t k = 0; k < words.size(); ++k) {
        if (words[k] == "perso")
            return true;
        if (k > 0 && own.contains(words[k - 1]) && matters.contains(words[k]))
            return true;
        if (k > 2 && own.contains(words[k - 3]) && slips.contains(words[k - 2]) &&
            words[k - 1] == "de" && matters.contains(words[k]))
            return true;
    }
    return false;
}

enum class Tier { none, probable, sure };

/// The confidence tier of a best candidate (a fiche or a passage), from the signals of
/// Thresholds: its score, its lead over the runner-up, its evidence, its subjects.
Tier tier_of(const Thresholds& t, const SearchHit& best, double runner_up_rank, bool asked)
{
    const double score = best.score;
    const double evidence = best.evidence;
    const double lead = best.rank > 0 ? (best.rank - runner_up_rank) / best.rank : 0;
    if (score >= t.answer && lead >= t.margin && evidence >= t.evidence)
        return Tier::sure;
    if ((score >= t.probable && lead >= t.probable_margin && evidence >= t.probable_evidence) ||
        (score >= t.clear_score && lead >= t.clear_margin && asked) ||
        (evidence >= t.long_evidence && lead >= t.long_margin && score >= t.long_score) ||
        (best.topics >= t.topics && lead >= t.topics_margin && evidence >= t.topics_evidence &&
         score >= t.topics_score))
        return Tier::probable;
    return Tier::none;
}

/// `[Le bac à sable](bac-a-sable.md)` as `Le bac à sable (`!fiche bac-a-sable`)`: a link between
/// fiches is a file name, dead in a chat client; the command opens the fiche from anywhere.
std::string with_fiche_commands(std::string_view body)
{
    const auto is_id_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    };
    std::string out;
    std::size_t copied = 0;
    for (auto middle = body.find("]("); middle != std::string_view::npos;
         middle = body.find("](", middle + 2)) {
        const auto close = body.find(')', middle + 2);
        const auto open = body.rfind('[', middle);
        if (close == std::string_view::npos || open == std::string_view::npos || open < copied)
            continue;
        const auto target = body.substr(middle + 2, close - middle - 2);
        if (!target.ends_with(".md") || target.size() <= 3 ||
            !std::all_of(target.begin(), target.end() - 3, is_id_char))
            continue;
        out += body.substr(copied, open - copied);
        out += std::string{body.substr(open + 1, middle - open - 1)} + " (`!fiche " +
               std::string{target.substr(0, target.size() - 3)} + "`)";
        copied = close + 1;
    }
    out += body.substr(copied);
    return out;
}

constexpr std::string_view ticket_hint =
    "Sinon, posez la question aux collègues du salon, ou ouvrez un ticket d'assistance iTop : "
    "service op@le, titre commençant par **SI2C** (question métier) ou **DRASI** (question "
    "technique), avec tous les détails (`!fiche assistance-ticket`).";

} // namespace

std::string_view to_string(Answer::Kind kind)
{
    switch (kind) {
    case Answer::Kind::entry:
        return "entree";
    case Answer::Kind::probable:
        return "probable";
    case Answer::Kind::glossary:
        return "glossaire";
    case Answer::Kind::greeting:
        return "salutation";
    case Answer::Kind::thanks:
        return "remerciement";
    case Answer::Kind::unknown:
        return "inconnu";
    case Answer::Kind::empty:
        break;
    }
    return "vide";
}

std::string_view confidence_of(const Answer& answer)
{
    switch (answer.kind) {
    case Answer::Kind::entry:
        return "sure";
    case Answer::Kind::probable:
        return "probable";
    default:
        return "none";
    }
}

Answerer::Answerer(KnowledgeBase base, Thresholds thresholds)
    : glossary_(std::move(base.glossary)),
      synonyms_(std::move(base.synonyms)),
      index_(std::move(base.entries), glossary_, synonyms_),
      thresholds_(thresholds),
      documents_(std::move(base.documents))
{
    index_documents();
}

void Answerer::index_documents()
{
    passage_index_.reset();
    passage_refs_.clear();
    std::vector<Entry> passages;
    for (std::size_t d = 0; d < documents_.size(); ++d) {
        const auto& document = documents_[d];
        for (std::size_t p = 0; p < document.passages.size(); ++p) {
            const auto& passage = document.passages[p];
            // The heading says what a passage is about, as a fiche's title does; the document's
            // title, shared by all its passages, is one of its keywords.
            Entry entry;
            entry.id = "document:" + document.file_name + "#" + std::to_string(p);
            entry.titre = passage.heading.value_or(document.metadata.titre);
            entry.mots_cles = {document.metadata.titre};
            entry.body_text = passage.text;
            passages.push_back(std::move(entry));
            passage_refs_.emplace_back(d, p);
        }
    }
    if (!passages.empty())
        passage_index_.emplace(std::move(passages), glossary_, synonyms_);
}

void Answerer::replace(KnowledgeBase base)
{
    for (const auto& [id, question] : learned_)
        for (auto& entry : base.entries)
            if (entry.id == id)
                entry.paraphrases.push_back(question);
    Index index{std::move(base.entries), base.glossary, base.synonyms};
    glossary_ = std::move(base.glossary);
    synonyms_ = std::move(base.synonyms);
    index_ = std::move(index);
    documents_ = std::move(base.documents);
    index_documents();
}

bool Answerer::learn(const std::string& entry_id, const std::string& question)
{
    return learn({{entry_id, question}}) == 1;
}

std::size_t Answerer::learn(const std::vector<std::pair<std::string, std::string>>& questions)
{
    auto entries_now = entries();
    std::size_t learned = 0;
    for (const auto& [entry_id, question] : questions) {
        // an init-capture: clang before 16 cannot capture a structured binding (P1091R3)
        const auto it = std::find_if(entries_now.begin(), entries_now.end(),
                                     [&id = entry_id](const Entry& e) { return e.id == id; });
        if (it == entries_now.end())
            continue;
        it->paraphrases.push_back(question);
        learned_.emplace_back(entry_id, question);
        ++learned;
    }
    if (learned > 0)
        index_ = Index{std::move(entries_now), glossary_, synonyms_};
    return learned;
}

const Entry* Answerer::find_entry(std::string_view id) const
{
    const auto& all = entries();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const Entry& e) { return e.id == id; });
    return it == all.end() ? nullptr : &*it;
}

std::optional<std::string> Answerer::asked_acronym(std::string_view question) const
{
    const auto words = split_words(fold(question));
    bool asks_meaning = false;
    std::vector<std::string> content;
    for (const auto& word : words) {
        if (is_definition_word(word))
            asks_meaning = true;
        else if (!is_stop_word(word) && !is_chatter(word))
            content.push_back(word);
    }
    if (content.size() != 1)
        return std::nullopt;
    if (glossary_.find(content.front()) != nullptr)
        return content.front();
    // An unknown word written in capitals after "que veut dire" is an acronym we do not know.
    if (!asks_meaning)
        return std::nullopt;
    // The word as typed: only capitals and digits make it look like an acronym ("XYZ", "CJOBu" no).
    std::string typed;
    for (std::size_t i = 0; i <= question.size(); ++i) {
        const char c = i < question.size() ? question[i] : ' ';
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            typed += c;
            continue;
        }
        const bool capitals =
            std::none_of(typed.begin(), typed.end(), [](char t) { return t >= 'a' && t <= 'z'; });
        if (!typed.empty() && fold(typed) == content.front())
            return capitals && typed.size() >= 2 && typed.size() <= 8 ? std::optional{typed}
                                                                      : std::nullopt;
        typed.clear();
    }
    return std::nullopt;
}

Answer Answerer::ask(std::string_view raw_question)
{
    const auto question = utf8_prefix(raw_question, max_question_bytes);
    Answer answer;
    const auto words = split_words(fold(question));
    if (words.empty()) {
        answer.kind = Answer::Kind::empty;
        answer.text = "Je n'ai pas trouvé de question dans ce message. Posez-la en quelques mots, "
                      "par exemple « comment créer le tiers DDFIP ? », ou tapez `!aide`.";
        return answer;
    }
    if (const auto sigle = asked_acronym(question)) {
        answer.kind = Answer::Kind::glossary;
        answer.text = explain_acronym(*sigle);
        return answer;
    }
    if (std::all_of(words.begin(), words.end(),
                    [](const auto& w) { return is_stop_word(w) || is_chatter(w); }) ||
        only_social(words, question)) {
        const bool thanks =
            std::any_of(words.begin(), words.end(), [](const auto& w) { return is_thanks(w); });
        answer.kind = thanks ? Answer::Kind::thanks : Answer::Kind::greeting;
        answer.text = thanks
                          ? "Avec plaisir ! Bon courage pour la suite dans op@le."
                          : "Bonjour ! Posez-moi votre question sur op@le, par exemple « comment "
                            "créer le tiers DDFIP ? », ou tapez `!aide` pour voir les commandes.";
        return answer;
    }

    if (personal_matter(words)) {
        answer.kind = Answer::Kind::unknown;
        answer.text = "Cela ressemble à une question sur votre situation personnelle (paie, "
                      "salaire, impôts…) : je ne réponds que sur op@le et la gestion "
                      "financière de l'établissement. Pour votre situation, voyez le service qui "
                      "gère votre dossier (rectorat ou établissement).";
        return answer;
    }
    const auto hits = index_.search(question, 4);
    const auto& all = entries();
    answer.score = hits.empty() ? 0 : hits.front().score;
    answer.runner_up = hits.size() > 1 ? hits[1].score : 0;
    const bool question_asked = asks(words, question);
    const auto tier = hits.empty() ? Tier::none
                                   : tier_of(thresholds_, hits.front(),
                                             hits.size() > 1 ? hits[1].rank : 0, question_asked);
    const bool shown = tier != Tier::none;
    for (std::size_t k = shown ? 1 : 0; k < hits.size() && answer.alternatives.size() < 3; ++k)
        if (hits[k].score >= thresholds_.suggest)
            answer.alternatives.push_back(all[hits[k].entry].id);
    if (shown) {
        const auto& entry = all[hits.front().entry];
        answer.kind = tier == Tier::sure ? Answer::Kind::entry : Answer::Kind::probable;
        answer.entry_id = entry.id;
        // A fiche that sums up documents quotes the steps of the passage asked about.
        std::string quoted;
        if (!entry.documents.empty())
            if (const auto hit = best_passage(question, entry.documents);
                hit && hit->score >= thresholds_.suggest) {
                quoted = quoted_under_fiche(*hit);
                answer.source = source_of(*hit);
            }
        if (tier == Tier::sure) {
            answer.text = entry_reply(entry, quoted);
        } else {
            if (answer.alternatives.size() > 2)
                answer.alternatives.resize(2);
            answer.text = probable_reply(entry, answer.alternatives, quoted);
        }
        return answer;
    }
    // No fiche answers: a passage of the documents may, with the same tiers. A fiche always wins
    // when one answers, so a raw passage never takes a question a curated fiche explains.
    if (passage_index_) {
        const auto passage_hits = passage_index_->search(question, 32);
        if (!passage_hits.empty()) {
            const auto& best = passage_hits.front();
            const auto document = passage_refs_[best.entry].first;
            // The lead is over the best passage of another document: a document's passages
            // share its words, and its next passage is no rival answer.
            double rival = 0;
            double rival_rank = 0;
            for (std::size_t k = 1; k < passage_hits.size(); ++k)
                if (passage_refs_[passage_hits[k].entry].first != document) {
                    rival = passage_hits[k].score;
                    rival_rank = passage_hits[k].rank;
                    break;
                }
            const auto passage_tier = tier_of(thresholds_, best, rival_rank, question_asked);
            if (passage_tier != Tier::none) {
                const PassageHit hit{document, passage_refs_[best.entry].second, best.score};
                answer.kind =
                    passage_tier == Tier::sure ? Answer::Kind::entry : Answer::Kind::probable;
                answer.entry_id = "document:" + documents_[document].file_name;
                answer.source = source_of(hit);
                answer.score = best.score;
                answer.runner_up = rival;
                if (answer.alternatives.size() > 2)
                    answer.alternatives.resize(2);
                answer.text = passage_tier == Tier::sure
                                  ? passage_reply(hit)
                                  : "Je pense que ce passage répond à votre question :\n\n" +
                                        passage_reply(hit) + see_also(answer.alternatives);
                return answer;
            }
        }
    }
    answer.kind = Answer::Kind::unknown;
    answer.text = unknown_reply(answer.alternatives);
    return answer;
}

std::optional<Answerer::PassageHit> Answerer::best_passage(std::string_view question,
                                                           const std::vector<std::string>& within)
{
    if (!passage_index_)
        return std::nullopt;
    for (const auto& hit : passage_index_->search(question, 64)) {
        const auto [document, passage] = passage_refs_[hit.entry];
        if (within.empty() ||
            std::find(within.begin(), within.end(), documents_[document].file_name) != within.end())
            return PassageHit{document, passage, hit.score};
    }
    return std::nullopt;
}

PassageSource Answerer::source_of(const PassageHit& hit) const
{
    const auto& document = documents_[hit.document];
    const auto& passage = document.passages[hit.passage];
    return {document.file_name, passage.page, passage.heading};
}

namespace {

/// "Source : [Titre](lien), page 4": where the colleague finds the whole document.
std::string source_line(const LibraryDocument& document, const Passage& passage)
{
    std::string line = "Source : ";
    const auto title = escape_markdown(document.metadata.titre);
    line += document.metadata.adresse.empty()
                ? title
                : "[" + title + "](" + document.metadata.adresse + ")";
    if (const auto where = location_of(document, passage); !where.empty())
        line += ", " + escape_markdown(where);
    return line;
}

} // namespace

std::string Answerer::passage_reply(const PassageHit& hit) const
{
    const auto& document = documents_[hit.document];
    const auto& passage = document.passages[hit.passage];
    std::string text =
        "**" + escape_markdown(passage.heading.value_or(document.metadata.titre)) + "**\n\n";
    text += quoted_steps(passage) + "\n\n" + source_line(document, passage) + "\n\n";
    text += "_Extrait d'un document de la base, cité tel quel. Utile ? Réagissez 👍 ou 👎._";
    return text;
}

std::string Answerer::quoted_under_fiche(const PassageHit& hit) const
{
    const auto& document = documents_[hit.document];
    const auto& passage = document.passages[hit.passage];
    return "**Les étapes du pas-à-pas**\n\n" + quoted_steps(passage) + "\n\n" +
           source_line(document, passage);
}

std::string Answerer::see_also(const std::vector<std::string>& others) const
{
    std::string list;
    for (const auto& id : others)
        if (const auto* other = find_entry(id))
            list += "- " + other->titre + " (`!fiche " + id + "`)\n";
    return list.empty() ? std::string{} : "\n\nSi ce n'est pas cela, voyez aussi :\n" + list;
}

std::string Answerer::probable_reply(const Entry& entry, const std::vector<std::string>& others,
                                     std::string_view quoted) const
{
    return "Je pense que cette fiche répond à votre question :\n\n" + entry_reply(entry, quoted) +
           see_also(others);
}

std::string Answerer::entry_reply(const Entry& entry, std::string_view quoted) const
{
    std::string text = "**" + entry.titre + "**\n\n";
    std::string body = with_fiche_commands(entry.body);
    while (!body.empty() && (body.back() == '\n' || body.back() == ' '))
        body.pop_back();
    text += body + "\n\n";
    if (!quoted.empty())
        text += std::string{quoted} + "\n\n";
    if (!entry.a_completer.empty())
        text += "_Les écrans et étapes détaillés sont dans la ressource citée ci-dessous ; cette "
                "fiche sera complétée par le bureau du conseil._\n\n";
    text += entry.sources.size() > 1 ? "Sources :\n" : "Source :\n";
    for (const auto& source : entry.sources) {
        if (!source.adresse.empty())
            text += "- [" + source.titre + "](" + source.adresse + ")";
        else
            text += "- " + source.titre;
        if (!source.ressource.empty())
            text += " — " + source.ressource;
        if (!source.perimetre.empty()) // its figures hold for this perimeter only (issue 20)
            text += " — périmètre : " + source.perimetre;
        text += '\n';
    }
    text += "\n_Fiche relue le " + french_date(entry.mis_a_jour) + ". Utile ? Réagissez 👍 ou 👎._";
    return text;
}

std::string Answerer::unknown_reply(const std::vector<std::string>& suggestions) const
{
    std::string text = "Je ne sais pas répondre à coup sûr : aucune fiche de ma base ne correspond "
                       "clairement à cette question.\n\n";
    if (!suggestions.empty()) {
        text += "Vouliez-vous dire :\n";
        for (const auto& id : suggestions)
            if (const auto* entry = find_entry(id))
                text += "- " + entry->titre + " (`!fiche " + id + "`)\n";
        text += '\n';
    }
    text += ticket_hint;
    return text;
}

std::string Answerer::acronym_reply(const Acronym& acronym)
{
    std::string text = "**" + acronym.sigle + "**";
    if (!acronym.developpement.empty())
        text += " : " + acronym.developpement + ".";
    else
        text += " : aucune source publique ne donne le développement de ce sigle ; je préfère ne "
                "pas le deviner.";
    if (!acronym.definition.empty())
        text += "\n\n" + acronym.definition;
    if (!acronym.source.empty())
        text += "\n\n_Source : " + acronym.source + "_";
    std::string see_also;
    for (const auto& hit : index_.search(acronym.sigle, 3))
        if (hit.score >= thresholds_.answer)
            see_also +=
                "\n- " + entries()[hit.entry].titre + " (`!fiche " + entries()[hit.entry].id + "`)";
    if (!see_also.empty())
        text += "\n\nVoir aussi :" + see_also;
    return text;
}

std::string Answerer::explain_acronym(std::string_view sigle)
{
    const auto wanted = utf8_prefix(sigle, 64);
    if (split_words(fold(wanted)).empty())
        return "Indiquez le sigle à expliquer, par exemple `!sigle EJ`.";
    if (const auto* acronym = glossary_.find(wanted))
        return acronym_reply(*acronym);
    std::string text = "Je ne connais pas le sigle « " + escape_markdown(wanted) + " ».";
    std::string close;
    const auto folded = fold(wanted);
    for (const auto& acronym : glossary_.all())
        if (edit_distance(folded, fold(acronym.sigle), 1) <= 1)
            close += (close.empty() ? "" : ", ") + acronym.sigle;
    if (!close.empty())
        text += " Vouliez-vous dire : " + close + " ?";
    text += " S'il concerne op@le, les collègues du salon ou l'assistance (ticket iTop) sauront "
            "vous répondre.";
    return text;
}

} // namespace opalebot::knowledge
