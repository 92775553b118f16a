// opale-bot: the composition root, the only file that sees every module (notes/style.md §3).
#include "bot/console.hpp"
#include "bot/markdown.hpp"
#include "bot/state_store.hpp"
#include "commands/builtin.hpp"
#include "commands/registry.hpp"
#include "knowledge/analyzer.hpp"
#include "knowledge/answerer.hpp"
#include "knowledge/knowledge_base.hpp"
#include "opalebot/log.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace {

using namespace opalebot;

std::filesystem::path default_kb_dir()
{
    if (const char* dir = std::getenv("OPALEBOT_KB"); dir != nullptr && *dir != '\0')
        return dir;
    return OPALEBOT_DEFAULT_KB;
}

/// Loads the base for serving: bad files are logged and skipped, never fatal.
knowledge::KnowledgeBase load_for_serving(const std::filesystem::path& dir)
{
    auto base = knowledge::load_knowledge_base(dir);
    const auto logger = log::get("knowledge");
    for (const auto& p : base.problems)
        logger->warn("{}:{}: {}{}", p.file, p.line, p.is_error ? "ignoré : " : "", p.message);
    logger->info("{} entries and {} acronyms loaded from {}", base.entries.size(),
                 base.glossary.all().size(), dir.string());
    return base;
}

class StoredQuestionLog final : public commands::QuestionLog {
public:
    explicit StoredQuestionLog(bot::StateStore& store) : store_(store) {}
    void record(const commands::Message& message, const knowledge::Answer& answer) override
    {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        const auto saved = store_.record_question({now, message.room, message.sender, message.body,
                                                   std::string{knowledge::to_string(answer.kind)},
                                                   answer.entry_id, answer.score});
        if (!saved)
            log::get("main")->error("question not recorded: {}", saved.error().message);
    }

private:
    bot::StateStore& store_;
};

int run_console_mode(const std::filesystem::path& kb_dir, const std::string& db_path,
                     const std::string& user, bool admin)
{
    knowledge::Answerer answerer{load_for_serving(kb_dir)};
    bot::StateStore store{db_path};
    StoredQuestionLog questions{store};
    commands::Registry registry;
    commands::add_knowledge_commands(registry, answerer, kb_dir, &questions);
    const commands::Message sender{
        user, {}, {}, admin ? commands::Role::admin : commands::Role::member};
    log::get("main")->info("console mode: one message per line, Ctrl-D to quit");
    bot::run_console(std::cin, std::cout, [&](std::string_view text) -> std::optional<std::string> {
        auto message = sender;
        message.body = text;
        auto reply = registry.dispatch(message);
        return reply ? std::optional{std::move(reply->markdown)} : std::nullopt;
    });
    return EXIT_SUCCESS;
}

int run_ask(const std::filesystem::path& kb_dir, const std::string& question, bool as_json)
{
    knowledge::Answerer answerer{load_for_serving(kb_dir)};
    const auto answer = answerer.ask(question);
    const auto text = bot::markdown_to_text(answer.text);
    if (!as_json) {
        std::cout << text << '\n';
        return EXIT_SUCCESS;
    }
    nlohmann::json out{{"answer", nullptr},
                       {"kind", knowledge::to_string(answer.kind)},
                       {"score", answer.score},
                       {"runner_up", answer.runner_up},
                       {"alternatives", answer.alternatives},
                       {"text", text}};
    if (!answer.entry_id.empty())
        out["answer"] = answer.entry_id;
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return EXIT_SUCCESS;
}

int run_kb_check(const std::filesystem::path& dir)
{
    const auto base = knowledge::load_knowledge_base(dir);
    int errors = 0;
    int warnings = 0;
    for (const auto& p : base.problems) {
        std::cout << p.file << ':' << p.line << ": " << (p.is_error ? "" : "avertissement : ")
                  << p.message << '\n';
        (p.is_error ? errors : warnings) += 1;
    }
    if (base.entries.empty() && errors == 0) {
        std::cout << dir.string() << ":0: aucune fiche (*.md) dans ce dossier\n";
        ++errors;
    }
    std::cout << base.entries.size() << " fiches valides, " << base.glossary.all().size()
              << " sigles, " << base.synonyms.size() << " groupes de synonymes ; " << errors
              << " erreur(s), " << warnings << " avertissement(s).\n";
    return errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int run_kb_list(const std::filesystem::path& dir, bool as_json)
{
    const auto base = load_for_serving(dir);
    if (!as_json) {
        for (const auto& e : base.entries)
            std::cout << e.id << '\t' << e.domaine << '\t' << e.titre << '\n';
        return EXIT_SUCCESS;
    }
    auto list = nlohmann::json::array();
    for (const auto& e : base.entries) {
        auto sources = nlohmann::json::array();
        for (const auto& s : e.sources) {
            nlohmann::json source{{"titre", s.titre}};
            if (!s.adresse.empty())
                source["adresse"] = s.adresse;
            if (!s.ressource.empty())
                source["ressource"] = s.ressource;
            sources.push_back(std::move(source));
        }
        list.push_back(
            {{"id", e.id}, {"titre", e.titre}, {"domaine", e.domaine}, {"sources", sources}});
    }
    std::cout << list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv)
try {
    opalebot::log::init({"main", "knowledge", "commands", "bot.console"});
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");

    CLI::App app{"opale-bot : le bot d'entraide op@le du salon Tchap (Hauts-de-France)",
                 "opale-bot"};
    app.set_version_flag("--version", std::string{"opale-bot "} + OPALEBOT_VERSION);
    app.require_subcommand(1);
    std::string kb_dir = default_kb_dir().string();

    auto* console = app.add_subcommand(
        "console", "Dialogue en console : un message par ligne sur l'entrée standard");
    std::string db_path = "opale-bot.db";
    std::string user = "@console:localhost";
    bool admin = false;
    console->add_option("--db", db_path, "Base d'état SQLite")->capture_default_str();
    console->add_option("--kb", kb_dir, "Dossier de la base de connaissances")
        ->capture_default_str();
    console->add_option("--user", user, "Identifiant Matrix de l'expéditeur simulé")
        ->capture_default_str();
    console->add_flag("--admin", admin, "L'expéditeur a le rôle administrateur");

    auto* ask = app.add_subcommand(
        "ask", "Pose une question à la base de connaissances et affiche la réponse");
    std::string question;
    bool ask_json = false;
    ask->add_option("question", question, "La question, en français")->required();
    ask->add_option("--kb", kb_dir, "Dossier de la base de connaissances")->capture_default_str();
    ask->add_flag("--json", ask_json,
                  R"(Sortie JSON : {"answer", "kind", "score", "alternatives", "text"})");

    auto* kb = app.add_subcommand("kb", "Outils de la base de connaissances");
    kb->require_subcommand(1);
    auto* check = kb->add_subcommand("check", "Vérifie les fiches, le glossaire et les synonymes "
                                              "(code de sortie non nul en cas d'erreur)");
    std::string check_dir = kb_dir;
    check->add_option("DIR", check_dir, "Dossier à vérifier")->capture_default_str();
    auto* list = kb->add_subcommand("list", "Liste les fiches valides");
    bool list_json = false;
    list->add_option("--kb", kb_dir, "Dossier de la base de connaissances")->capture_default_str();
    list->add_flag("--json", list_json, R"(Sortie JSON : [{"id", "titre", "domaine", "sources"}])");

    auto* analyze = kb->add_subcommand(
        "analyze", "Montre comment la recherche lit un texte (mots retenus et racines)");
    std::string analyze_text;
    analyze->add_option("TEXT", analyze_text, "Le texte à analyser")->required();

    CLI11_PARSE(app, argc, argv);

    if (*console || *ask || *list) {
        // Tool output goes to stdout; keep stderr quiet unless asked (SPDLOG_LEVEL).
        if (!*console && std::getenv("SPDLOG_LEVEL") == nullptr)
            spdlog::apply_all([](const auto& logger) { logger->set_level(spdlog::level::err); });
    }
    if (*console)
        return run_console_mode(kb_dir, db_path, user, admin);
    if (*ask)
        return run_ask(kb_dir, question, ask_json);
    if (*check)
        return run_kb_check(check_dir);
    if (*list)
        return run_kb_list(kb_dir, list_json);
    if (*analyze) {
        for (const auto& term : knowledge::Analyzer{}.analyze(analyze_text))
            std::cout << term.word << " → " << term.stem << '\n';
        return EXIT_SUCCESS;
    }
    return EXIT_FAILURE;
} catch (const std::exception& e) {
    spdlog::critical("arrêt : {}", e.what());
    return EXIT_FAILURE;
}
