#include "commands/registry.hpp"

#include "knowledge/text.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <algorithm>

namespace opalebot::commands {

std::string_view role_name(Role role)
{
    switch (role) {
    case Role::admin:
        return "administrateur";
    case Role::support:
        return "support";
    case Role::member:
        break;
    }
    return "membre";
}

std::optional<ParsedCommand> parse_command(std::string_view body, std::string_view prefix)
{
    const auto start = body.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos || body.substr(start, prefix.size()) != prefix)
        return std::nullopt;
    body.remove_prefix(start + prefix.size());
    const auto end = body.find_first_of(" \t\r\n");
    const auto raw_name = body.substr(0, end);
    if (raw_name.empty())
        return std::nullopt; // "!" alone, or "! oui": chat, not a command
    auto args = end == std::string_view::npos ? std::string_view{} : body.substr(end);
    const auto first = args.find_first_not_of(" \t\r\n");
    args = first == std::string_view::npos ? std::string_view{} : args.substr(first);
    while (!args.empty() && (args.back() == ' ' || args.back() == '\n' || args.back() == '\r' ||
                             args.back() == '\t'))
        args.remove_suffix(1);
    return ParsedCommand{knowledge::fold(raw_name), args};
}

std::string_view trim(std::string_view text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos)
        return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::pair<std::string_view, std::string_view> split_first_word(std::string_view text)
{
    text = trim(text);
    const auto end = text.find_first_of(" \t\r\n");
    if (end == std::string_view::npos)
        return {text, {}};
    return {text.substr(0, end), trim(text.substr(end))};
}

bool Registry::add(Command command)
{
    const auto taken = [&](const std::string& name) {
        return commands_.contains(name) || aliases_.contains(name);
    };
    if (taken(command.name) || std::any_of(command.aliases.begin(), command.aliases.end(), taken))
        return false;
    for (const auto& alias : command.aliases)
        aliases_.emplace(alias, command.name);
    auto name = command.name;
    return commands_.try_emplace(std::move(name), std::move(command)).second;
}

void Registry::set_free_text(std::function<std::optional<Reply>(const Message&)> handler)
{
    free_text_ = std::move(handler);
}

const Command* Registry::find(std::string_view name) const
{
    if (const auto it = commands_.find(name); it != commands_.end())
        return &it->second;
    if (const auto alias = aliases_.find(name); alias != aliases_.end())
        return &commands_.at(alias->second);
    return nullptr;
}

Reply Registry::unknown(std::string_view name, Role role) const
{
    std::string closest;
    int best = 3; // beyond two edits it is another word, not a typo
    for (const auto& [candidate, command] : commands_) {
        if (command.role > role)
            continue;
        std::vector<std::string_view> names{candidate};
        names.insert(names.end(), command.aliases.begin(), command.aliases.end());
        for (const auto n : names) {
            const int distance = knowledge::edit_distance(name, n, 2);
            const bool prefix_of = name.size() >= 3 && n.substr(0, name.size()) == name;
            if (distance < best || (prefix_of && best > 1)) {
                best = prefix_of ? 1 : distance;
                closest = candidate;
            }
        }
    }
    std::string shown{name}; // inside a code span nothing is markup but the backtick itself
    std::erase(shown, '`');
    std::string text = "Je ne connais pas la commande `" + prefix_ + shown + "`.";
    if (!closest.empty())
        text += " Vouliez-vous dire `" + prefix_ + closest + "` ?";
    text += " Tapez `" + prefix_ + "aide` pour la liste des commandes.";
    return Reply{text, {}};
}

std::optional<Reply> Registry::dispatch(const Message& message) const
{
    const auto parsed = parse_command(message.body, prefix_);
    try {
        if (!parsed)
            return free_text_ ? free_text_(message) : std::nullopt;
        const auto* command = find(parsed->name);
        if (command == nullptr)
            return unknown(parsed->name, message.role);
        // the registered name, never what was typed: the label's values stay a short list
        metrics::bot_metrics().commands.with(command->name).add();
        // Commands fold their arguments, which dropped a NUL: `!sigle E\0J` answered for EJ.
        if (message.body.find('\0') != std::string::npos)
            return Reply{"Cette commande contient un caractère nul (\\0), que je ne peux pas "
                         "lire : retapez-la sans ce caractère.",
                         {}};
        if (command->role > message.role)
            return Reply{"La commande `" + prefix_ + command->name + "` est réservée au rôle « " +
                             std::string{role_name(command->role)} + " » ; vous avez le rôle « " +
                             std::string{role_name(message.role)} + " ». Tapez `" + prefix_ +
                             "aide` pour les commandes que vous pouvez utiliser.",
                         {}};
        return command->handler(Context{message, parsed->args});
    } catch (const std::exception& e) { // a failing command never stops the bot
        log::get("commands")->error("{} failed: {}", parsed ? parsed->name : "question", e.what());
        return Reply{"Désolé, une erreur interne m'empêche de répondre. L'incident est noté ; "
                     "réessayez dans un moment.",
                     {}};
    }
}

void Registry::mark_waits_on_backend(std::string_view name)
{
    waiting_on_backend_.emplace(name);
}

bool Registry::waits_on_backend(std::string_view body) const
{
    const auto parsed = parse_command(body, prefix_);
    const auto* command = parsed ? find(parsed->name) : nullptr;
    return command != nullptr && waiting_on_backend_.contains(command->name);
}

std::string Registry::help(Role role) const
{
    std::string text =
        "**Commandes disponibles** (rôle : " + std::string{role_name(role)} + ")\n\n";
    for (const auto& [name, command] : commands_) {
        if (command.role > role)
            continue;
        text += "- `" + command.usage + "` : " + command.summary + "\n";
    }
    text += "\nPour une question, écrivez-la simplement en français, par exemple « comment créer "
            "le tiers DDFIP ? ».";
    return text;
}

} // namespace opalebot::commands
