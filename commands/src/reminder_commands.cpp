#include "commands/reminder_commands.hpp"

#include "knowledge/text.hpp"

#include <cctype>
#include <charconv>
#include <memory>
#include <stdexcept>

#include <date/tz.h>

namespace opalebot::commands {
namespace {

using knowledge::escape_markdown;

struct Shared {
    ReminderStore& store;
    ReminderOptions options;
    const date::time_zone* zone = nullptr;
    std::string prefix;
};

std::optional<std::int64_t> parse_id(std::string_view word)
{
    if (word.starts_with('#'))
        word.remove_prefix(1);
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
    if (word.empty() || ec != std::errc{} || end != word.data() + word.size() || id <= 0)
        return std::nullopt;
    return id;
}

/// "@room" in a body notifies the whole room (push rule .m.rule.roomnotif, case-insensitive):
/// a word joiner after "@" keeps the text readable and pings nobody (issue 6).
std::string defuse_room_mention(std::string text)
{
    constexpr std::string_view word_joiner = "\u2060";
    std::string lower = text;
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto at = lower.rfind("@room"); at != std::string::npos;
         at = at == 0 ? std::string::npos : lower.rfind("@room", at - 1))
        text.insert(at + 1, word_joiner);
    return text;
}

Reply storage_trouble()
{
    return Reply{"Je n'arrive pas à enregistrer cela pour le moment ; réessayez plus tard.", {}};
}

std::string describe(const Reminder& r, const date::time_zone& zone)
{
    std::string line = "**" + std::to_string(r.id) + "** · ";
    line += r.due_at ? format_local(*r.due_at, zone) : std::string{"terminé"};
    line += " · " + escape_markdown(r.text);
    if (r.schedule.recurring())
        line += " · récurrent (`" + r.schedule.cron.text + "`" +
                (r.schedule.working_days_only ? ", jours ouvrés" : "") + ")";
    if (r.target == ReminderTarget::salon)
        line += " · salon";
    return line;
}

Reply create(const Shared& shared, const Message& message, std::string_view args,
             ReminderTarget target)
{
    const auto now = shared.options.clock();
    const auto parsed = parse_when(args, now, *shared.zone);
    if (!parsed)
        return Reply{parsed.error().message, {}};
    NewReminder request;
    request.owner = message.sender;
    request.room = message.room;
    request.target = target;
    request.text = parsed.value().rest;
    request.schedule = parsed.value().schedule;
    request.zone = shared.options.zone;
    const auto stored = shared.store.add(request, now);
    if (!stored)
        return stored.error().kind == Error::Kind::storage ? storage_trouble()
                                                           : Reply{stored.error().message, {}};
    const auto& r = stored.value();
    std::string text = "C'est noté : je rappellerai ";
    text += target == ReminderTarget::salon ? "au salon" : "à vous";
    text +=
        " « " + escape_markdown(r.text) + " » **" + format_local(*r.due_at, *shared.zone) + "**";
    if (r.schedule.recurring())
        text += ", puis à chaque échéance (`" + r.schedule.cron.text + "`" +
                (r.schedule.working_days_only ? ", jours ouvrés" : "") + ")";
    text += ". Rappel n° " + std::to_string(r.id) + " ; pour l'annuler : `" + shared.prefix +
            "rappel annuler " + std::to_string(r.id) + "`.";
    return Reply{text, {}};
}

Reply list(const Shared& shared, const Message& message)
{
    const auto mine = shared.store.list_by_owner(message.sender);
    if (!mine)
        return storage_trouble();
    if (mine.value().empty())
        return Reply{"Vous n'avez aucun rappel. Par exemple : `" + shared.prefix +
                         "rappel demain 9h mettre à jour le kit de bascule`.",
                     {}};
    std::string text = "Vos rappels :\n";
    for (const auto& r : mine.value())
        text += "\n- " + describe(r, *shared.zone);
    return Reply{text, {}};
}

Reply cancel(const Shared& shared, const Message& message, std::string_view args)
{
    const auto id = parse_id(trim(args));
    if (!id)
        return Reply{"Quel rappel ? Par exemple : `" + shared.prefix +
                         "rappel annuler 12` (les numéros sont dans `" + shared.prefix +
                         "rappels`).",
                     {}};
    const auto done = shared.store.cancel(*id, message.sender);
    if (!done)
        return storage_trouble();
    if (!done.value())
        return Reply{"Vous n'avez pas de rappel n° " + std::to_string(*id) + ".", {}};
    return Reply{"Rappel n° " + std::to_string(*id) + " annulé.", {}};
}

Reply snooze(const Shared& shared, const Message& message, std::string_view args)
{
    const auto [id_word, duration_text] = split_first_word(args);
    const auto id = parse_id(id_word);
    const auto duration = parse_duration(duration_text);
    if (!id || !duration)
        return Reply{"Par exemple : `" + shared.prefix +
                         "rappel reporter 12 1h` (ou `10 min`, "
                         "`2 heures`, `1 jour`).",
                     {}};
    const auto until = shared.options.clock() + duration.value();
    const auto done = shared.store.snooze(*id, message.sender, until);
    if (!done)
        return storage_trouble();
    if (!done.value())
        return Reply{"Vous n'avez pas de rappel n° " + std::to_string(*id) + ".", {}};
    return Reply{"Rappel n° " + std::to_string(*id) + " reporté à **" +
                     format_local(until, *shared.zone) + "**.",
                 {}};
}

Reply rappel(const Shared& shared, const Context& context)
{
    const auto [word, rest] = split_first_word(context.args);
    const auto folded = knowledge::fold(word);
    if (folded.empty())
        return Reply{"Usage : `" + shared.prefix + "rappel <quand> <texte>`, par exemple `" +
                         shared.prefix + "rappel demain 9h mettre à jour le kit de bascule`.",
                     {}};
    if (folded == "annuler")
        return cancel(shared, context.message, rest);
    if (folded == "reporter")
        return snooze(shared, context.message, rest);
    if (folded == "salon") {
        if (context.message.role != Role::admin)
            return Reply{"Seuls les administrateurs peuvent programmer un rappel pour le salon.",
                         {}};
        if (context.message.room.empty())
            return Reply{"Un rappel de salon se programme depuis le salon.", {}};
        return create(shared, context.message, rest, ReminderTarget::salon);
    }
    return create(shared, context.message, context.args, ReminderTarget::user);
}

} // namespace

void add_reminder_commands(Registry& registry, ReminderStore& store, ReminderOptions options)
{
    const auto zone = find_zone(options.zone);
    if (!zone)
        throw std::invalid_argument(zone.error().message); // a configuration error, at start
    auto shared = std::make_shared<const Shared>(
        Shared{store, std::move(options), zone.value(), registry.prefix()});
    const auto& prefix = registry.prefix();
    const auto add = [&registry](Command command) {
        auto name = command.name;
        if (!registry.add(std::move(command)))
            throw std::logic_error("command registered twice: " + name); // a programming error
    };
    add({"rappel",
         {},
         prefix + "rappel <quand> <texte> | salon <quand> <texte> | annuler <n°> | reporter <n°> "
                  "<durée>",
         "programmer un rappel : `demain 9h`, `chaque lundi 9h`, `dans 2 heures`…",
         Role::member,
         [shared](const Context& context) { return rappel(*shared, context); }});
    add({"rappels",
         {},
         prefix + "rappels",
         "vos rappels et leur prochaine échéance",
         Role::member,
         [shared](const Context& context) { return list(*shared, context.message); }});
}

std::string format_delivery(const Delivery& delivery)
{
    std::string text =
        "⏰ **Rappel** : " + defuse_room_mention(escape_markdown(delivery.reminder.text));
    if (delivery.reminder.until_acknowledged)
        text += "\n\nRéagissez avec ✅ quand c'est fait (je le répéterai d'ici là).";
    return text;
}

} // namespace opalebot::commands
