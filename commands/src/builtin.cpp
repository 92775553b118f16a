#include "commands/builtin.hpp"

#include "knowledge/knowledge_base.hpp"
#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

#include <algorithm>
#include <stdexcept>

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

std::string reload(knowledge::Answerer& answerer, const std::filesystem::path& dir)
{
    auto base = knowledge::load_knowledge_base(dir);
    std::string problems;
    for (const auto& p : base.problems)
        problems += "- " + std::filesystem::path{p.file}.filename().string() + ":" +
                    std::to_string(p.line) + " : " + knowledge::escape_markdown(p.message) + "\n";
    if (base.entries.empty())
        return "Rechargement refusé : aucune fiche valide dans la base ; je garde l'ancienne.\n\n" +
               problems;
    const auto entries = base.entries.size();
    const auto acronyms = base.glossary.all().size();
    answerer.replace(std::move(base));
    log::get("commands")
        ->info("knowledge base reloaded: {} entries, {} acronyms", entries, acronyms);
    std::string text = "Base rechargée : " + std::to_string(entries) + " fiches, " +
                       std::to_string(acronyms) + " sigles.";
    if (!problems.empty())
        text += "\n\nFichiers ou éléments ignorés :\n" + problems;
    return text;
}

} // namespace

void add_knowledge_commands(Registry& registry, knowledge::Answerer& answerer,
                            std::filesystem::path kb_dir, QuestionLog* questions)
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
         prefix + "kb recharger",
         "relit la base de connaissances (fiches, sigles)",
         Role::admin,
         [&answerer, dir = std::move(kb_dir), prefix](const Context& c) {
             if (knowledge::fold(c.args) == "recharger")
                 return Reply{reload(answerer, dir), {}};
             return Reply{"Usage : `" + prefix + "kb recharger`.", {}};
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
