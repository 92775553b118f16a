#include "commands/builtin.hpp"

#include "commands/document_shelf.hpp"
#include "knowledge/knowledge_base.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <date/date.h>

namespace opalebot::commands {
namespace {

std::string entry_list(const knowledge::Answerer& answerer, std::string_view domain)
{
    std::string text;
    for (const auto& name : knowledge::known_domains()) {
        if (!domain.empty() && knowledge::fold(name) != knowledge::fold(domain))
            continue;
        std::string lines;
        for (const auto& entry : answerer.entries())
            if (entry.domaine == name)
                lines += "- " + entry.titre + " (`!fiche " + entry.id + "`)\n";
        if (!lines.empty())
            text += "**" + name + "**\n" + lines + "\n";
    }
    return text;
}

} // namespace

knowledge::KnowledgeBase load_served_base(const std::filesystem::path& dir,
                                          const std::filesystem::path& salon_documents)
{
    auto base = knowledge::load_knowledge_base(dir);
    if (!salon_documents.empty())
        for (auto& document : knowledge::load_documents(salon_documents, true, base.problems))
            base.documents.push_back(std::move(document));
    return base;
}

KnowledgeReload reload_knowledge(knowledge::Answerer& answerer, const std::filesystem::path& dir,
                                 const std::filesystem::path& salon_documents)
{
    auto base = load_served_base(dir, salon_documents);
    KnowledgeReload out;
    out.problems = base.problems.size();
    std::string problems;
    for (const auto& p : base.problems)
        problems += "- " + std::filesystem::path{p.file}.filename().string() + ":" +
                    std::to_string(p.line) + " : " + knowledge::escape_markdown(p.message) + "\n";
    if (base.entries.empty()) {
        out.markdown =
            "Rechargement refusé : aucune fiche valide dans la base ; je garde l'ancienne.\n\n" +
            problems;
        return out;
    }
    out.entries = base.entries.size();
    out.acronyms = base.glossary.all().size();
    const auto documents = base.documents.size();
    answerer.replace(std::move(base));
    out.replaced = true;
    log::get("commands")
        ->info("knowledge base reloaded: {} entries, {} acronyms, {} documents", out.entries,
               out.acronyms, documents);
    out.markdown = "Base rechargée : " + std::to_string(out.entries) + " fiches, " +
                   std::to_string(out.acronyms) + " sigles, " + std::to_string(documents) +
                   " documents.";
    if (!problems.empty())
        out.markdown += "\n\nFichiers ou éléments ignorés :\n" + problems;
    return out;
}

namespace {

std::string one_line(std::string_view text, std::size_t limit)
{
    std::string out;
    for (const char c : text)
        out += c == '\n' || c == '\r' ? ' ' : c;
    if (out.size() > limit) {
        out.resize(limit);
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
            out.pop_back(); // never cut a UTF-8 character in two
        if (!out.empty())
            out.pop_back();
        out += "…";
    }
    return out;
}

std::string percent(long long part, long long whole)
{
    if (whole == 0)
        return "–";
    const long long tenths = (part * 1000 + whole / 2) / whole;
    std::string text = std::to_string(tenths / 10);
    if (tenths % 10 != 0)
        text += "," + std::to_string(tenths % 10);
    return text + " %";
}

} // namespace

std::string format_knowledge_stats(const KnowledgeStats& stats, int days,
                                   const knowledge::Answerer& answerer)
{
    std::string text =
        "**Statistiques de la base, " + std::to_string(days) + " derniers jours**\n\n";
    text += "- Questions : " + std::to_string(stats.questions) + "\n";
    text += "- Répondues par une fiche : " + std::to_string(stats.answered) + " (" +
            percent(stats.answered, stats.questions) + ")\n\n";
    if (!stats.entries.empty()) {
        text += "**Fiches les plus demandées** (demandes, 👍, 👎)\n\n";
        for (const auto& e : stats.entries) {
            const auto* entry = answerer.find_entry(e.id);
            text += "- " +
                    (entry != nullptr ? knowledge::escape_markdown(entry->titre)
                                      : std::string{"(fiche retirée)"}) +
                    " (`" + e.id + "`) : " + std::to_string(e.asked) + ", 👍 " +
                    std::to_string(e.up) + ", 👎 " + std::to_string(e.down) + "\n";
        }
        text += "\n";
    }
    if (stats.unanswered.empty()) {
        text += "Aucune question sans réponse sur la période.";
        return text;
    }
    text += "**Questions sans réponse ou incertaines** (les plus récentes) : de quoi écrire les "
            "prochains pas-à-pas\n\n";
    for (const auto& q : stats.unanswered) {
        const auto shown = q.text.empty() ? std::string{"(texte effacé)"}
                                          : knowledge::escape_markdown(one_line(q.text, 140));
        std::string outcome;
        if (q.disliked)
            outcome = "👎 sur la fiche `" + q.entry_id + "`";
        else if (q.kind == "inconnu")
            outcome = "sans réponse";
        else if (q.kind == "probable")
            outcome = "réponse probable : `" + q.entry_id + "`";
        else
            outcome = "réponse incertaine (score " +
                      std::to_string(static_cast<int>(q.score * 100)) + " %)";
        text += "- n° " + std::to_string(q.number) + " « " + shown + " » : " + outcome + "\n";
    }
    text += "\nPour qu'une question trouve sa fiche la prochaine fois : `!kb lier <n°> <fiche>`.";
    return text;
}

namespace {

/// `!kb lier 42 tiers-ddfip`: question n° 42 of `!kb stats` becomes a paraphrase of the entry,
/// saved first (it survives a restart), then learned by the answerer at once.
std::string link_question(knowledge::Answerer& answerer, StatsSource& stats, std::string_view args,
                          const std::string& prefix)
{
    const std::string usage = "Usage : `" + prefix +
                              "kb lier <n°> <fiche>`, avec le numéro d'une question de `" + prefix +
                              "kb stats` et l'identifiant d'une fiche (`" + prefix + "fiches`).";
    std::istringstream in{std::string{args}};
    std::string verb;
    std::string number_text;
    std::string entry_id;
    std::string extra;
    in >> verb >> number_text >> entry_id >> extra;
    if (number_text.empty() || entry_id.empty() || !extra.empty() || number_text.size() > 12 ||
        number_text.find_first_not_of("0123456789") != std::string::npos)
        return usage;
    const auto* entry = answerer.find_entry(entry_id);
    if (entry == nullptr)
        return "Je ne connais pas la fiche `" + knowledge::escape_markdown(entry_id) +
               "`. La liste : `" + prefix + "fiches`.";
    const auto question = stats.question_text(std::stoll(number_text));
    if (!question)
        return "La base d'état est indisponible pour le moment (erreur notée dans le journal) : "
               "rien n'a été lié.";
    if (question->empty())
        return "Aucune question n° " + number_text +
               " (ou son texte a déjà été effacé). Les "
               "numéros sont ceux de `" +
               prefix + "kb stats`.";
    // Copies: learning rebuilds the index, and with it the entries `entry` points into.
    const std::string id = entry->id;
    const std::string titre = entry->titre;
    if (!stats.link_question(id, *question))
        return "La base d'état est indisponible pour le moment (erreur notée dans le journal) : "
               "rien n'a été lié.";
    answerer.learn(id, *question);
    return "C'est noté : la question n° " + number_text + " « " +
           knowledge::escape_markdown(one_line(*question, 140)) +
           " » relève désormais de la "
           "fiche « " +
           knowledge::escape_markdown(titre) + " » (`" + id +
           "`). Elle y mène dès maintenant, y compris après un redémarrage ou un `" + prefix +
           "kb recharger`.";
}

} // namespace

namespace {

std::string french_day(std::int64_t unix_seconds)
{
    return date::format("%d/%m/%Y", std::chrono::sys_seconds{std::chrono::seconds{unix_seconds}});
}

/// The part of the arguments after the subcommand's word, as typed (accents kept).
std::string_view after_word(std::string_view args)
{
    return trim(split_first_word(trim(args)).second);
}

/// `!kb ajouter`, `!kb documents`, `!kb retirer`: the shelf of documents added from the salon.
std::string shelf_command(knowledge::Answerer& answerer, DocumentShelf& shelf,
                          const std::filesystem::path& dir, const Context& c,
                          const std::string& prefix)
{
    const auto words = knowledge::fold(c.args);
    if (words == "documents") {
        const auto& documents = answerer.documents();
        if (documents.empty())
            return "Aucun document dans la base. Un admin en ajoute un en l'envoyant avec la "
                   "légende `" +
                   prefix + "kb ajouter`.";
        const auto shelved = shelf.list();
        std::string text = "**Documents de la base** (" + std::to_string(documents.size()) + ")\n";
        for (const auto& d : documents) {
            text +=
                "- " + knowledge::escape_markdown(d.metadata.titre) + " — `" + d.file_name + "` — ";
            if (d.page_count > 0)
                text += std::to_string(d.page_count) +
                        (d.format == knowledge::DocumentFormat::odp ||
                                 d.format == knowledge::DocumentFormat::pptx
                             ? " diapositives, "
                             : " pages, ");
            text += std::to_string(d.passages.size()) + " passages";
            if (d.added_from_salon && shelved)
                for (const auto& s : shelved.value())
                    if (s.file_name == d.file_name)
                        text += " — ajouté par " + s.added_by + " le " + french_day(s.added_at);
            if (!d.added_from_salon)
                text += " — base relue";
            text += "\n";
        }
        return text;
    }
    if (words.rfind("retirer", 0) == 0) {
        const auto name = after_word(c.args);
        if (name.empty())
            return "Indiquez le fichier à retirer : `" + prefix + "kb retirer <fichier>` (voir `" +
                   prefix + "kb documents`).";
        const auto removed = shelf.remove(name);
        if (!removed)
            return "Je n'ai pas pu retirer ce document : " + removed.error().message + ".";
        if (!removed.value())
            return "Aucun document ajouté depuis le salon ne s'appelle « " +
                   knowledge::escape_markdown(name) + " » (voir `" + prefix +
                   "kb documents` ; les documents de la base relue se retirent du dépôt).";
        reload_knowledge(answerer, dir, shelf.folder());
        return "Document « " + knowledge::escape_markdown(name) +
               " » retiré ; il ne répond plus aux questions.";
    }
    // ajouter
    if (!c.message.attachment)
        return "Envoyez le document (PDF, ODT, DOCX, ODP, PPTX, HTML, Markdown ou texte) avec la "
               "légende `" +
               prefix + "kb ajouter`, ou répondez `" + prefix +
               "kb ajouter` au message qui contient le document.";
    knowledge::DocumentMetadata given;
    given.titre = std::string{after_word(c.args)};
    const auto added = shelf.add(c.message.attachment->name, c.message.attachment->content,
                                 c.message.sender, given);
    if (!added)
        return "Document refusé : " + added.error().message + ".";
    const auto& a = added.value();
    const auto reloaded = reload_knowledge(answerer, dir, shelf.folder());
    std::string text = "Document « " + knowledge::escape_markdown(a.titre) + " » " +
                       (a.replaced ? "remplacé" : "ajouté") + " : " + std::to_string(a.passages) +
                       " passages";
    if (a.pages > 0)
        text += " sur " + std::to_string(a.pages) + " pages";
    text += ", interrogeables dès maintenant.";
    if (!a.headings.empty()) {
        text += "\n\nPremiers titres :\n";
        for (const auto& heading : a.headings)
            text += "- " + knowledge::escape_markdown(heading) + "\n";
    }
    for (const auto& warning : a.warnings)
        text += "\n_" + knowledge::escape_markdown(warning) + "_";
    if (!reloaded.replaced)
        text += "\n\n" + reloaded.markdown;
    return text;
}

} // namespace

void add_knowledge_commands(Registry& registry, knowledge::Answerer& answerer,
                            std::filesystem::path kb_dir, QuestionLog* questions,
                            StatsSource* stats, DocumentShelf* shelf)
{
    const auto& prefix = registry.prefix();
    const auto add = [&registry](Command command) {
        const auto name = command.name;
        if (!registry.add(std::move(command)))
            throw std::logic_error("command registered twice: " + name); // a programming error
    };
    add({"aide",
         {"help", "commandes", "aides"},
         prefix + "aide",
         "les commandes que vous pouvez utiliser",
         Role::member,
         [&registry](const Context& c) {
             return Reply{registry.help(c.message.role), {}};
         }});

    add({"sigle",
         {"sigles", "acronyme"},
         prefix + "sigle <SIGLE>",
         "le sens d'un sigle (EJ, DP, CGR…)",
         Role::member,
         [&answerer, prefix](const Context& c) {
             if (!c.args.empty())
                 return Reply{answerer.explain_acronym(c.args), {}};
             std::string known;
             for (const auto& a : answerer.glossary().all())
                 known += (known.empty() ? "" : ", ") + a.sigle;
             return Reply{"Indiquez un sigle, par exemple `" + prefix +
                              "sigle EJ`.\n\nSigles connus : " + known + ".",
                          {}};
         }});

    add({"fiche",
         {"pas-a-pas"},
         prefix + "fiche <id>",
         "affiche une fiche par son identifiant",
         Role::member,
         [&answerer, prefix](const Context& c) {
             const std::string id = knowledge::fold(c.args);
             if (const auto* entry = answerer.find_entry(id)) {
                 auto answer = answerer.show(*entry);
                 return Reply{std::move(answer), entry->id};
             }
             std::string text = id.empty() ? "Indiquez l'identifiant d'une fiche."
                                           : "Je ne connais pas la fiche « " +
                                                 knowledge::escape_markdown(c.args) + " ».";
             std::string closest;
             for (const auto& entry : answerer.entries())
                 if (!id.empty() && knowledge::edit_distance(id, entry.id, 3) <= 3)
                     closest += (closest.empty() ? "" : ", ") + ("`" + entry.id + "`");
             if (!closest.empty())
                 text += " Vouliez-vous dire : " + closest + " ?";
             text += " La liste : `" + prefix + "fiches`.";
             return Reply{text, {}};
         }});

    add({"fiches",
         {"liste"},
         prefix + "fiches [domaine]",
         "la liste des fiches, par domaine",
         Role::member,
         [&answerer](const Context& c) {
             auto text = entry_list(answerer, c.args);
             if (text.empty()) {
                 std::string domains;
                 for (const auto& d : knowledge::known_domains())
                     domains += (domains.empty() ? "" : ", ") + d;
                 text = "Domaine inconnu. Domaines : " + domains + ".";
             }
             return Reply{text, {}};
         }});

    add({"kb",
         {},
         prefix + "kb recharger` · `" + prefix + "kb stats [jours]` · `" + prefix +
             "kb lier <n°> <fiche>` · `" + prefix + "kb ajouter [titre]` · `" + prefix +
             "kb documents` · `" + prefix + "kb retirer <fichier>",
         "relit la base de connaissances ; statistiques des questions et avis ; apprend qu'une "
         "question du salon relève d'une fiche ; ajoute, liste ou retire un document pas-à-pas",
         Role::admin,
         [&answerer, dir = std::move(kb_dir), prefix, stats, shelf](const Context& c) {
             const auto words = knowledge::fold(c.args);
             const auto shelf_folder = shelf != nullptr ? shelf->folder() : std::filesystem::path{};
             if (words == "recharger")
                 return Reply{reload_knowledge(answerer, dir, shelf_folder).markdown, {}};
             if (shelf != nullptr && (words.rfind("ajouter", 0) == 0 || words == "documents" ||
                                      words.rfind("retirer", 0) == 0))
                 return Reply{shelf_command(answerer, *shelf, dir, c, prefix), {}};
             if (words.rfind("lier", 0) == 0 && stats != nullptr)
                 return Reply{link_question(answerer, *stats, c.args, prefix), {}};
             if (words.rfind("stats", 0) == 0 && stats != nullptr) {
                 int days = 30;
                 const auto rest = std::string_view{words}.substr(5);
                 const auto first = rest.find_first_not_of(' ');
                 if (first != std::string_view::npos) {
                     const auto number = rest.substr(first);
                     if (number.size() > 4 ||
                         number.find_first_not_of("0123456789") != std::string_view::npos ||
                         std::stoi(std::string{number}) < 1)
                         return Reply{"La période s'écrit en jours, par exemple `" + prefix +
                                          "kb stats 7`.",
                                      {}};
                     days = std::stoi(std::string{number});
                 }
                 const auto figures = stats->knowledge_stats(days);
                 if (!figures)
                     return Reply{"Les statistiques sont indisponibles pour le moment (erreur "
                                  "de la base d'état, notée dans le journal).",
                                  {}};
                 return Reply{format_knowledge_stats(*figures, days, answerer), {}};
             }
             if (shelf != nullptr)
                 return Reply{"Usage : `" + prefix + "kb recharger`, `" + prefix +
                              "kb stats [jours]`, `" + prefix + "kb lier <n°> <fiche>`, `" +
                              prefix + "kb ajouter [titre]` (avec un document), `" + prefix +
                              "kb documents` ou `" + prefix + "kb retirer <fichier>`."};
             return Reply{"Usage : `" + prefix + "kb recharger`, `" + prefix +
                              "kb stats [jours]` ou `" + prefix + "kb lier <n°> <fiche>`.",
                          {}};
         }});

    registry.set_free_text([&answerer, questions](const Message& message) -> std::optional<Reply> {
        auto answer = answerer.ask(message.body);
        if (questions != nullptr)
            questions->record(message, answer);
        log::get("knowledge")
            ->debug("question answered: kind={} entry={} score={:.3f}",
                    knowledge::to_string(answer.kind), answer.entry_id, answer.score);
        return Reply{std::move(answer.text), std::move(answer.entry_id)};
    });
}

} // namespace opalebot::commands
