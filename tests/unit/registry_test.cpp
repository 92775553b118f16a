#include "commands/registry.hpp"

#include "commands/builtin.hpp"
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/kb_entry.hpp"
#include "support/temp_dir.hpp"

using namespace opalebot::commands;
namespace knowledge = opalebot::knowledge;
namespace fs = std::filesystem;

namespace {

using opalebot::testing::contains;
using opalebot::testing::TempDir;

Message message(std::string body, Role role = Role::member)
{
    return Message{"@marie.dupont:agent.education.tchap.gouv.fr", "!salon:tchap.gouv.fr",
                   std::move(body), role, std::nullopt};
}

Command command(std::string name, Role role = Role::member, std::vector<std::string> aliases = {})
{
    Command c;
    c.usage = "!" + name;
    c.summary = "résumé de " + name;
    c.name = std::move(name);
    c.aliases = std::move(aliases);
    c.role = role;
    c.handler = [name = c.name](const Context& context) {
        return Reply{name + "(" + std::string{context.args} + ")", {}};
    };
    return c;
}

/// A hand-made entry whose source has an address (the replies show it as a link).
knowledge::Entry make_entry(std::string id, std::string titre, std::string domaine,
                            std::vector<std::string> mots_cles, std::string body)
{
    auto entry = opalebot::testing::make_entry(std::move(id), std::move(titre), std::move(domaine),
                                               std::move(mots_cles), std::move(body));
    entry.sources = {{"Pas à pas", "https://exemple.fr/pas-a-pas", ""}};
    return entry;
}

knowledge::KnowledgeBase small_base()
{
    knowledge::KnowledgeBase base;
    base.entries = {
        make_entry("budget-dbm", "Préparer une décision budgétaire modificative", "Budget", {"DBM"},
                   "Une DBM se prépare dans le module Budget."),
        make_entry("tiers-ddfip", "Créer le tiers DDFIP", "Tiers", {"DDFIP", "trésorerie"},
                   "Le tiers DDFIP se crée une seule fois dans le module Tiers."),
    };
    base.glossary.add({"EJ",
                       "Engagement juridique",
                       "Acte qui crée une obligation de dépense.",
                       "Terme standard",
                       {}});
    base.glossary.add({"CGR", "", "Libellé d'un niveau des exports.", "", {}});
    return base;
}

const std::string reloaded_entry = "---\n"
                                   "id: recettes-regie\n"
                                   "titre: Ouvrir une régie de recettes\n"
                                   "domaine: Recettes\n"
                                   "mots-cles: [régie, régisseur]\n"
                                   "profils: [agent comptable]\n"
                                   "sources:\n"
                                   "  - titre: Instruction\n"
                                   "    ressource: Espace Tribu\n"
                                   "mis-a-jour: 2024-03-01\n"
                                   "---\n"
                                   "\n"
                                   "Le régisseur est nommé par arrêté.\n";

struct FakeQuestionLog final : QuestionLog {
    struct Seen {
        Message message;
        knowledge::Answer answer;
    };
    std::vector<Seen> seen;
    void record(const Message& m, const knowledge::Answer& answer) override
    {
        seen.push_back({m, answer});
    }
};

/// The state file's side of `!kb stats` and `!kb lier`: questions by number, links kept.
struct FakeStats final : StatsSource {
    std::map<long long, std::string> questions;
    std::vector<std::pair<std::string, std::string>> links;
    bool store_fails = false;
    std::optional<KnowledgeStats> knowledge_stats(int /*days*/) override
    {
        KnowledgeStats stats;
        for (const auto& [number, text] : questions)
            stats.unanswered.push_back({text, "inconnu", 0, 0, number, {}, false});
        return stats;
    }
    std::optional<std::string> question_text(long long number) override
    {
        if (store_fails)
            return std::nullopt;
        const auto it = questions.find(number);
        return it == questions.end() ? std::string{} : it->second;
    }
    bool link_question(const std::string& entry_id, const std::string& question) override
    {
        if (store_fails)
            return false;
        links.emplace_back(entry_id, question);
        return true;
    }
};

/// A registry with the knowledge commands, as `main` builds it.
struct Bot {
    explicit Bot(fs::path kb_dir = {})
    {
        add_knowledge_commands(registry, answerer, std::move(kb_dir), &log);
    }
    knowledge::Answerer answerer{small_base()};
    Registry registry;
    FakeQuestionLog log;

    std::string reply(const std::string& body, Role role = Role::member) const
    {
        const auto r = registry.dispatch(message(body, role));
        REQUIRE(r.has_value());
        return r->markdown;
    }
};

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("parse_command splits the name and the arguments")
    {
        const auto parsed = parse_command("!sigle EJ", "!");
        REQUIRE(parsed.has_value());
        CHECK(parsed->name == "sigle");
        CHECK(parsed->args == "EJ");

        const auto alone = parse_command("!aide", "!");
        REQUIRE(alone.has_value());
        CHECK(alone->name == "aide");
        CHECK(alone->args.empty());
    }

    TEST_CASE("parse_command trims spaces around the name and the arguments")
    {
        const auto parsed = parse_command("  \t!fiche    tiers-ddfip  \n", "!");
        REQUIRE(parsed.has_value());
        CHECK(parsed->name == "fiche");
        CHECK(parsed->args == "tiers-ddfip");

        const auto inner = parse_command("!kb\trecharger   la  base", "!");
        REQUIRE(inner.has_value());
        CHECK(inner->name == "kb");
        CHECK(inner->args == "recharger   la  base");
    }

    TEST_CASE("parse_command folds accents and case in the name only")
    {
        const auto parsed = parse_command("!Difficultés Créer Le TIERS", "!");
        REQUIRE(parsed.has_value());
        CHECK(parsed->name == "difficultes");
        CHECK(parsed->args == "Créer Le TIERS");
        CHECK(parse_command("!AIDE", "!")->name == "aide");
        CHECK(parse_command("!Pas-À-Pas x", "!")->name == "pas-a-pas");
    }

    TEST_CASE("parse_command leaves ordinary chat alone")
    {
        CHECK_FALSE(parse_command("!", "!").has_value());
        CHECK_FALSE(parse_command("  !  ", "!").has_value());
        CHECK_FALSE(parse_command("! oui", "!").has_value());
        CHECK_FALSE(parse_command("bonjour", "!").has_value());
        CHECK_FALSE(parse_command("comment faire !aide", "!").has_value());
        CHECK_FALSE(parse_command("", "!").has_value());
        CHECK_FALSE(parse_command("   ", "!").has_value());
    }

    TEST_CASE("parse_command honours another prefix")
    {
        REQUIRE(parse_command("?aide", "?").has_value());
        CHECK(parse_command("?aide", "?")->name == "aide");
        CHECK_FALSE(parse_command("!aide", "?").has_value());
        const auto long_prefix = parse_command("opale: sigle EJ", "opale:");
        CHECK_FALSE(long_prefix.has_value()); // a space after the prefix: not a command
        REQUIRE(parse_command("opale:sigle EJ", "opale:").has_value());
        CHECK(parse_command("opale:sigle EJ", "opale:")->args == "EJ");
    }

    TEST_CASE("registry add refuses a duplicate name")
    {
        Registry registry;
        CHECK(registry.add(command("aide")));
        CHECK_FALSE(registry.add(command("aide")));
        CHECK(registry.add(command("sigle")));
    }

    TEST_CASE("registry add refuses alias clashes")
    {
        Registry registry;
        REQUIRE(registry.add(command("aide", Role::member, {"help", "commandes"})));
        CHECK_FALSE(registry.add(command("help"))); // a name taken as alias
        CHECK_FALSE(
            registry.add(command("autre", Role::member, {"aide"}))); // an alias taken as name
        CHECK_FALSE(registry.add(command("encore", Role::member, {"x", "commandes"})));
        // A refused command leaves nothing behind: neither its name nor its other aliases.
        CHECK(registry.add(command("encore")));
        CHECK(registry.add(command("x")));
    }

    TEST_CASE("registry dispatch routes to the handler with the args")
    {
        Registry registry;
        std::string seen_args;
        std::string seen_sender;
        Command sigle = command("sigle");
        sigle.handler = [&](const Context& context) {
            seen_args = std::string{context.args};
            seen_sender = context.message.sender;
            return Reply{"ok", "une-fiche"};
        };
        REQUIRE(registry.add(std::move(sigle)));
        REQUIRE(registry.add(command("aide", Role::member, {"help"})));

        const auto reply = registry.dispatch(message("  !Sigle   EJ  "));
        REQUIRE(reply.has_value());
        CHECK(reply->markdown == "ok");
        CHECK(reply->entry_id == "une-fiche");
        CHECK(seen_args == "EJ");
        CHECK(seen_sender == "@marie.dupont:agent.education.tchap.gouv.fr");

        const auto alias = registry.dispatch(message("!help moi"));
        REQUIRE(alias.has_value());
        CHECK(alias->markdown == "aide(moi)");
    }

    TEST_CASE("registry sends ordinary chat to the free text handler")
    {
        Registry registry;
        REQUIRE(registry.add(command("aide")));
        CHECK_FALSE(registry.dispatch(message("bonjour")).has_value()); // no handler: no reply

        std::vector<std::string> questions;
        registry.set_free_text([&](const Message& m) -> std::optional<Reply> {
            questions.push_back(m.body);
            return Reply{"réponse", {}};
        });
        const auto reply = registry.dispatch(message("comment créer le tiers ?"));
        REQUIRE(reply.has_value());
        CHECK(reply->markdown == "réponse");
        CHECK(questions == std::vector<std::string>{"comment créer le tiers ?"});
        CHECK(registry.dispatch(message("!aide"))->markdown == "aide()");
        CHECK(questions.size() == 1); // commands do not reach it
    }

    TEST_CASE("registry suggests the closest command in French")
    {
        Registry registry;
        REQUIRE(registry.add(command("sigle")));
        REQUIRE(registry.add(command("fiche")));
        REQUIRE(registry.add(command("aide")));
        bool called = false;
        registry.set_free_text([&](const Message&) -> std::optional<Reply> {
            called = true;
            return std::nullopt;
        });

        const auto reply = registry.dispatch(message("!sigel EJ"));
        REQUIRE(reply.has_value());
        CHECK(contains(reply->markdown, "Je ne connais pas la commande `!sigel`"));
        CHECK(contains(reply->markdown, "Vouliez-vous dire `!sigle` ?"));
        CHECK(contains(reply->markdown, "`!aide`"));
        CHECK_FALSE(called);

        const auto prefix = registry.dispatch(message("!fic"));
        REQUIRE(prefix.has_value());
        CHECK(contains(prefix->markdown, "Vouliez-vous dire `!fiche` ?"));

        const auto far = registry.dispatch(message("!xyzzyq"));
        REQUIRE(far.has_value());
        CHECK(contains(far->markdown, "Je ne connais pas la commande"));
        CHECK_FALSE(contains(far->markdown, "Vouliez-vous dire"));
    }

    TEST_CASE("registry shows an unknown command name inert in a code span")
    {
        Registry registry;
        const auto reply = registry.dispatch(message("!*gras*"));
        REQUIRE(reply.has_value());
        CHECK(contains(reply->markdown, "la commande `!*gras*`."));
        const auto tick = registry.dispatch(message("!a`b`c"));
        REQUIRE(tick.has_value());
        CHECK(contains(tick->markdown, "la commande `!abc`.")); // a backtick would close the span
    }

    TEST_CASE("registry does not suggest a command above the sender's role")
    {
        Registry registry;
        REQUIRE(registry.add(command("kb", Role::admin)));
        const auto member = registry.dispatch(message("!kv"));
        REQUIRE(member.has_value());
        CHECK_FALSE(contains(member->markdown, "!kb"));
        const auto admin = registry.dispatch(message("!kv", Role::admin));
        REQUIRE(admin.has_value());
        CHECK(contains(admin->markdown, "Vouliez-vous dire `!kb` ?"));
    }

    TEST_CASE("registry refuses a command above the sender's role in French")
    {
        Registry registry;
        bool called = false;
        Command kb = command("kb", Role::admin);
        kb.handler = [&](const Context&) {
            called = true;
            return Reply{"fait", {}};
        };
        REQUIRE(registry.add(std::move(kb)));
        REQUIRE(registry.add(command("stats", Role::support)));

        const auto refused = registry.dispatch(message("!kb recharger", Role::member));
        REQUIRE(refused.has_value());
        CHECK_FALSE(called);
        CHECK(contains(refused->markdown,
                       "La commande `!kb` est réservée au rôle « administrateur »"));
        CHECK(contains(refused->markdown, "vous avez le rôle « membre »"));

        const auto support = registry.dispatch(message("!kb recharger", Role::support));
        REQUIRE(support.has_value());
        CHECK_FALSE(called);
        CHECK(contains(support->markdown, "vous avez le rôle « support »"));

        CHECK(registry.dispatch(message("!kb", Role::admin))->markdown == "fait");
        CHECK(called);
        CHECK(registry.dispatch(message("!stats", Role::support))->markdown == "stats()");
        CHECK(registry.dispatch(message("!stats", Role::admin))->markdown == "stats()");
        CHECK(
            contains(registry.dispatch(message("!stats", Role::member))->markdown, "« support »"));
    }

    TEST_CASE("registry contains a throwing handler")
    {
        Registry registry;
        Command broken = command("panne");
        broken.handler = [](const Context&) -> Reply { throw std::runtime_error("base absente"); };
        REQUIRE(registry.add(std::move(broken)));
        registry.set_free_text(
            [](const Message&) -> std::optional<Reply> { throw std::out_of_range("index"); });

        std::optional<Reply> reply;
        CHECK_NOTHROW(reply = registry.dispatch(message("!panne")));
        REQUIRE(reply.has_value());
        CHECK(contains(reply->markdown, "Désolé, une erreur interne"));
        CHECK_FALSE(contains(reply->markdown, "base absente")); // no internals in the room

        std::optional<Reply> question;
        CHECK_NOTHROW(question = registry.dispatch(message("une question")));
        REQUIRE(question.has_value());
        CHECK(contains(question->markdown, "Désolé, une erreur interne"));
    }

    TEST_CASE("registry help lists only the commands a role may run")
    {
        Registry registry;
        REQUIRE(registry.add(command("sigle")));
        REQUIRE(registry.add(command("aide")));
        REQUIRE(registry.add(command("stats", Role::support)));
        REQUIRE(registry.add(command("kb", Role::admin)));

        const auto member = registry.help(Role::member);
        CHECK(contains(member, "(rôle : membre)"));
        CHECK(contains(member, "`!aide` : résumé de aide"));
        CHECK(contains(member, "`!sigle`"));
        CHECK_FALSE(contains(member, "`!stats`"));
        CHECK_FALSE(contains(member, "`!kb`"));
        CHECK(member.find("`!aide`") < member.find("`!sigle`")); // sorted by name

        const auto support = registry.help(Role::support);
        CHECK(contains(support, "`!stats`"));
        CHECK_FALSE(contains(support, "`!kb`"));

        const auto admin = registry.help(Role::admin);
        CHECK(contains(admin, "(rôle : administrateur)"));
        CHECK(contains(admin, "`!kb`"));
        CHECK(contains(admin, "`!stats`"));
        CHECK(contains(admin, "`!sigle`"));
    }

    TEST_CASE("role names are French")
    {
        CHECK(role_name(Role::member) == "membre");
        CHECK(role_name(Role::support) == "support");
        CHECK(role_name(Role::admin) == "administrateur");
    }

    TEST_CASE("knowledge commands answer aide")
    {
        const Bot bot;
        const auto help = bot.reply("!aide");
        CHECK(contains(help, "`!sigle <SIGLE>`"));
        CHECK(contains(help, "`!fiche <id>`"));
        CHECK(contains(help, "`!fiches [domaine]`"));
        CHECK_FALSE(contains(help, "`!kb recharger`"));
        CHECK(bot.reply("!help") == help);
        CHECK(contains(bot.reply("!aide", Role::admin), "`!kb recharger`"));
    }

    TEST_CASE("knowledge commands explain an acronym with sigle")
    {
        const Bot bot;
        CHECK(contains(bot.reply("!sigle EJ"), "**EJ** : Engagement juridique."));
        CHECK(contains(bot.reply("!sigle ej"), "Engagement juridique"));
        CHECK(contains(bot.reply("!acronyme EJ"), "Engagement juridique"));
        CHECK(contains(bot.reply("!sigle CGR"), "aucune source publique"));
        CHECK(contains(bot.reply("!sigle ZZQ"), "Je ne connais pas le sigle « ZZQ »"));
    }

    TEST_CASE("knowledge commands ask for an acronym when sigle has none")
    {
        const Bot bot;
        const auto reply = bot.reply("!sigle");
        CHECK(contains(reply, "Indiquez un sigle, par exemple `!sigle EJ`."));
        CHECK(contains(reply, "Sigles connus : EJ, CGR."));
    }

    TEST_CASE("knowledge commands show an entry with fiche")
    {
        const Bot bot;
        const auto reply = bot.registry.dispatch(message("!fiche tiers-ddfip"));
        REQUIRE(reply.has_value());
        CHECK(reply->entry_id == "tiers-ddfip");
        CHECK(reply->markdown.find("**Créer le tiers DDFIP**") == 0);
        CHECK(contains(reply->markdown, "une seule fois"));
        CHECK(contains(reply->markdown, "[Pas à pas](https://exemple.fr/pas-a-pas)"));
        CHECK(bot.registry.dispatch(message("!fiche TIERS-DDFIP"))->entry_id == "tiers-ddfip");
    }

    TEST_CASE("knowledge commands suggest the id of a mistyped fiche")
    {
        const Bot bot;
        const auto reply = bot.registry.dispatch(message("!fiche tiers-dfip"));
        REQUIRE(reply.has_value());
        CHECK(reply->entry_id.empty());
        CHECK(contains(reply->markdown, "Je ne connais pas la fiche « tiers\\-dfip »"));
        CHECK(contains(reply->markdown, "Vouliez-vous dire : `tiers-ddfip` ?"));
        CHECK_FALSE(contains(reply->markdown, "`budget-dbm`"));
        CHECK(contains(reply->markdown, "`!fiches`"));

        const auto empty = bot.reply("!fiche");
        CHECK(contains(empty, "Indiquez l'identifiant d'une fiche."));
    }

    TEST_CASE("knowledge commands list entries by domain")
    {
        const Bot bot;
        const auto all = bot.reply("!fiches");
        CHECK(contains(
            all,
            "**Budget**\n- Préparer une décision budgétaire modificative (`!fiche budget-dbm`)"));
        CHECK(contains(all, "**Tiers**\n- Créer le tiers DDFIP (`!fiche tiers-ddfip`)"));
        CHECK_FALSE(contains(all, "**Recettes**"));            // no entry there
        CHECK(all.find("**Tiers**") < all.find("**Budget**")); // the order of known_domains()

        const auto tiers = bot.reply("!fiches tiers");
        CHECK(contains(tiers, "tiers-ddfip"));
        CHECK_FALSE(contains(tiers, "budget-dbm"));

        CHECK(contains(bot.reply("!fiches Paie"), "Domaine inconnu. Domaines : Tiers, Budget"));
    }

    TEST_CASE("knowledge commands refuse kb recharger to a member")
    {
        const TempDir dir;
        dir.write("recettes-regie.md", reloaded_entry);
        Bot bot{dir.path()};
        const auto reply = bot.reply("!kb recharger", Role::member);
        CHECK(contains(reply, "réservée au rôle « administrateur »"));
        CHECK(bot.answerer.find_entry("recettes-regie") == nullptr);
        CHECK(bot.answerer.find_entry("tiers-ddfip") != nullptr);
    }

    TEST_CASE("knowledge commands reload the base for an admin")
    {
        const TempDir dir;
        dir.write("recettes-regie.md", reloaded_entry);
        dir.write("cassee.md", "pas d'en-tête\n");
        dir.write("glossaire.yaml", "- sigle: DP\n  developpement: Demande de paiement\n");
        Bot bot{dir.path()};

        const auto reply = bot.reply("!kb recharger", Role::admin);
        CHECK(contains(reply, "Base rechargée : 1 fiches, 1 sigles, 0 documents."));
        CHECK(contains(reply, "cassee.md:1"));
        REQUIRE(bot.answerer.find_entry("recettes-regie") != nullptr);
        CHECK(bot.answerer.find_entry("tiers-ddfip") == nullptr);
        CHECK(contains(bot.reply("!sigle DP"), "Demande de paiement"));
        CHECK(contains(bot.reply("!kb", Role::admin),
                       "Usage : `!kb recharger`, `!kb stats [jours]` ou `!kb lier <n°> <fiche>`."));
    }

    TEST_CASE("kb lier makes a salon question lead to its entry at once")
    {
        knowledge::Answerer answerer{small_base()};
        Registry registry;
        FakeStats stats;
        add_knowledge_commands(registry, answerer, {}, nullptr, &stats);
        const auto entry = answerer.entries().front(); // a copy: learning rebuilds the index
        const std::string question = "la paperasse du vendredi pour les cousins";
        stats.questions[7] = question;
        const auto ask = [&](const std::string& body, Role role = Role::admin) {
            const auto r = registry.dispatch(message(body, role));
            REQUIRE(r.has_value());
            return r->markdown;
        };
        REQUIRE(answerer.ask(question).kind == knowledge::Answer::Kind::unknown);
        CHECK(contains(ask("!kb stats"), "n° 7"));
        CHECK(contains(ask("!kb lier 7 " + entry.id, Role::member), "administrateur"));
        CHECK(contains(ask("!kb lier sept " + entry.id), "Usage : `!kb lier <n°> <fiche>`"));
        CHECK(contains(ask("!kb lier 7 pas-une-fiche"), "Je ne connais pas la fiche"));
        CHECK(contains(ask("!kb lier 8 " + entry.id), "Aucune question n° 8"));
        CHECK(stats.links.empty());
        stats.store_fails = true;
        CHECK(contains(ask("!kb lier 7 " + entry.id), "rien n'a été lié"));
        CHECK(answerer.ask(question).kind == knowledge::Answer::Kind::unknown);
        stats.store_fails = false;
        CHECK(contains(ask("!kb lier 7 " + entry.id), "C'est noté"));
        REQUIRE(stats.links.size() == 1);
        CHECK(stats.links[0] == std::pair{entry.id, question});
        const auto answer = answerer.ask(question);
        CHECK(answer.kind == knowledge::Answer::Kind::entry);
        CHECK(answer.entry_id == entry.id);
    }

    TEST_CASE("knowledge commands keep the old base when the new one has no entry")
    {
        const TempDir dir;
        dir.write("cassee.md", "pas d'en-tête\n");
        Bot bot{dir.path()};
        const auto reply = bot.reply("!kb recharger", Role::admin);
        CHECK(contains(reply, "Rechargement refusé"));
        CHECK(contains(reply, "cassee.md:1"));
        CHECK(bot.answerer.find_entry("tiers-ddfip") != nullptr);

        Bot missing{dir.path() / "absent"};
        CHECK(contains(missing.reply("!kb recharger", Role::admin), "Rechargement refusé"));
        CHECK(missing.answerer.entries().size() == 2);
    }

    TEST_CASE("knowledge commands answer free text and record the question")
    {
        Bot bot;
        const auto reply = bot.registry.dispatch(message("Comment créer le tiers DDFIP ?"));
        REQUIRE(reply.has_value());
        CHECK(reply->entry_id == "tiers-ddfip");
        CHECK(reply->markdown.find("**Créer le tiers DDFIP**") == 0);
        REQUIRE(bot.log.seen.size() == 1);
        CHECK(bot.log.seen.front().message.body == "Comment créer le tiers DDFIP ?");
        CHECK(bot.log.seen.front().message.sender == "@marie.dupont:agent.education.tchap.gouv.fr");
        CHECK(bot.log.seen.front().answer.kind == knowledge::Answer::Kind::entry);
        CHECK(bot.log.seen.front().answer.entry_id == "tiers-ddfip");

        const auto unknown = bot.registry.dispatch(message("quelle est la recette de la tarte ?"));
        REQUIRE(unknown.has_value());
        CHECK(unknown->entry_id.empty());
        REQUIRE(bot.log.seen.size() == 2);
        CHECK(bot.log.seen.back().answer.kind == knowledge::Answer::Kind::unknown);

        bot.reply("!aide");
        CHECK(bot.log.seen.size() == 2); // commands are not questions
    }

    TEST_CASE("knowledge commands work without a question log")
    {
        knowledge::Answerer answerer{small_base()};
        Registry registry;
        add_knowledge_commands(registry, answerer, {});
        const auto reply = registry.dispatch(message("que veut dire EJ ?"));
        REQUIRE(reply.has_value());
        CHECK(contains(reply->markdown, "Engagement juridique"));
    }

    TEST_CASE("knowledge commands cannot be registered twice")
    {
        knowledge::Answerer answerer{small_base()};
        Registry registry;
        add_knowledge_commands(registry, answerer, {});
        CHECK_THROWS_AS(add_knowledge_commands(registry, answerer, {}), std::logic_error);
    }
}
