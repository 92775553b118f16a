#include "commands/reminder_commands.hpp"

#include "knowledge/text.hpp"

#include <algorithm>
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

/// The reminder's own zone (it keeps the one it was created with), or the default one.
const date::time_zone& zone_of(const Shared& shared, const Reminder& r)
{
    const auto zone = find_zone(r.zone);
    return zone ? *zone.value() : *shared.zone;
}

/// ", jours ouvrés, hors week-ends et fériés, jusqu'à confirmation" as it applies.
std::string options_text(const Reminder& r)
{
    std::string text;
    if (r.schedule.working_days_only)
        text += ", jours ouvrés";
    if (r.skip_holidays)
        text += ", hors week-ends et fériés";
    if (r.until_acknowledged)
        text += ", jusqu'à confirmation ✅";
    if (r.ping_room)
        text += ", notifie tout le salon";
    return text;
}

std::string describe(const Shared& shared, const Reminder& r)
{
    const auto& zone = zone_of(shared, r);
    std::string line = "**" + std::to_string(r.id) + "** · ";
    line += r.due_at ? format_local(*r.due_at, zone) : std::string{"terminé"};
    if (r.zone != shared.options.zone)
        line += " (" + r.zone + ")";
    line += " · " + escape_markdown(r.text);
    if (r.schedule.recurring())
        line += " · récurrent (`" + r.schedule.cron.text + "`" + options_text(r) + ")";
    else if (r.until_acknowledged)
        line += " · jusqu'à confirmation ✅";
    if (r.target == ReminderTarget::salon)
        line += " · salon";
    return line;
}

/// The sender's zone name (`!moi fuseau`), else the default one.
std::string user_zone(const Shared& shared, const std::string& user)
{
    if (shared.options.profiles != nullptr)
        if (const auto profile = shared.options.profiles->get(user);
            profile && profile.value().zone)
            if (find_zone(*profile.value().zone))
                return *profile.value().zone;
    return shared.options.zone;
}

/// The shortest time between two firings of `rule`, in local time: between two times of a day,
/// or from the last time of a day to the first of the next (as if every day matched).
std::chrono::minutes shortest_gap(const CronRule& rule)
{
    constexpr int day = 24 * 60;
    int first = -1;
    int previous = -1;
    int gap = day;
    for (int h = 0; h < 24; ++h)
        for (int m = 0; m < 60; ++m)
            if (rule.hours[static_cast<std::size_t>(h)] &&
                rule.minutes[static_cast<std::size_t>(m)]) {
                const int at = h * 60 + m;
                if (previous >= 0)
                    gap = std::min(gap, at - previous);
                else
                    first = at;
                previous = at;
            }
    if (first >= 0)
        gap = std::min(gap, day - previous + first);
    return std::chrono::minutes{gap};
}

std::string in_minutes(std::chrono::minutes duration)
{
    return std::to_string(duration.count()) + (duration.count() > 1 ? " minutes" : " minute");
}

/// The members' limits in force now: the shortest interval, the most active reminders.
std::pair<std::chrono::minutes, int> member_limits(const ReminderOptions& options)
{
    if (options.current_member_limits)
        return options.current_member_limits();
    return {options.member_min_interval, options.member_max_reminders};
}

/// A member's reminders are limited in number and frequency (issue 15: `!rappel * * * * * x`
/// posted every minute for ever); admins and support are not. Why this one is refused, or nothing.
std::optional<Reply> too_many_reminders(const Shared& shared, const Message& message)
{
    if (message.role != Role::member)
        return std::nullopt;
    const auto limit = member_limits(shared.options).second;
    const auto mine = shared.store.list_by_owner(message.sender);
    if (!mine)
        return storage_trouble();
    if (mine.value().size() < static_cast<std::size_t>(limit))
        return std::nullopt;
    return Reply{"Vous avez déjà " + std::to_string(mine.value().size()) +
                     " rappels actifs, le maximum est de " + std::to_string(limit) +
                     " par personne : annulez-en un (`" + shared.prefix +
                     "rappel annuler <n°>`, les numéros sont dans `" + shared.prefix +
                     "rappels`) avant d'en programmer un autre.",
                 {}};
}

std::optional<Reply> too_frequent(const Shared& shared, const Message& message,
                                  const Schedule& schedule)
{
    if (message.role != Role::member || !schedule.recurring())
        return std::nullopt;
    const auto minimum = member_limits(shared.options).first;
    const auto gap = shortest_gap(schedule.cron);
    if (gap >= minimum)
        return std::nullopt;
    return Reply{"Intervalle trop court : un rappel revient au plus souvent toutes les " +
                     in_minutes(minimum) + ", celui-ci reviendrait après " + in_minutes(gap) +
                     ". Espacez les échéances, par exemple `" + shared.prefix +
                     "rappel chaque jour ouvré 9h …`.",
                 {}};
}

Reply create(const Shared& shared, const Message& message, std::string_view args,
             ReminderTarget target)
{
    if (auto refused = too_many_reminders(shared, message))
        return *refused;
    const auto now = shared.options.clock();
    bool ping_room = false;
    if (target == ReminderTarget::salon) {
        // Only an explicit "@room"/"@salon" first word notifies the whole salon (issue 6).
        const auto [first, rest] = split_first_word(args);
        std::string lower{first};
        for (auto& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "@room" || lower == "@salon") {
            ping_room = true;
            args = rest;
        }
    }
    const auto zone_name = user_zone(shared, message.sender);
    const auto* zone = find_zone(zone_name).value();
    const auto parsed = parse_when(args, now, *zone);
    if (!parsed)
        return Reply{parsed.error().message, {}};
    if (auto refused = too_frequent(shared, message, parsed.value().schedule))
        return *refused;
    NewReminder request;
    request.owner = message.sender;
    request.room = message.room;
    request.target = target;
    request.text = parsed.value().rest;
    request.schedule = parsed.value().schedule;
    request.zone = zone_name;
    request.skip_holidays = parsed.value().skip_holidays;
    request.until_acknowledged = parsed.value().until_acknowledged;
    request.ping_room = ping_room;
    const auto stored = shared.store.add(request, now);
    if (!stored)
        return stored.error().kind == Error::Kind::storage ? storage_trouble()
                                                           : Reply{stored.error().message, {}};
    const auto& r = stored.value();
    std::string text = "C'est noté : je rappellerai ";
    text += target == ReminderTarget::salon ? "au salon" : "à vous";
    text += " « " + escape_markdown(r.text) + " » **" + format_local(*r.due_at, *zone) + "**";
    if (zone_name != shared.options.zone)
        text += " (heure de " + zone_name + ")";
    if (r.schedule.recurring())
        text += ", puis à chaque échéance (`" + r.schedule.cron.text + "`" + options_text(r) + ")";
    else if (r.until_acknowledged)
        text += ", puis toutes les heures jusqu'à ce que vous réagissiez avec ✅";
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
        text += "\n- " + describe(shared, r);
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
                     format_local(until, *find_zone(user_zone(shared, message.sender)).value()) +
                     "**.",
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

Reply rappels(const Shared& shared, const Context& context)
{
    const auto word = knowledge::fold(trim(context.args));
    if (word.empty())
        return list(shared, context.message);
    if (word != "off" && word != "on")
        return Reply{"Usage : `" + shared.prefix + "rappels`, `" + shared.prefix +
                         "rappels off` ou `" + shared.prefix + "rappels on`.",
                     {}};
    if (shared.options.profiles == nullptr)
        return Reply{"Les relances du kit de bascule ne sont pas activées sur ce bot.", {}};
    const bool off = word == "off";
    if (!shared.options.profiles->set_kit_opt_out(context.message.sender, off))
        return storage_trouble();
    return Reply{off ? "C'est noté : vous ne recevrez plus les relances du kit de bascule (vos "
                       "rappels personnels continuent). `" +
                           shared.prefix + "rappels on` pour les recevoir à nouveau."
                     : "C'est noté : vous recevrez les relances du kit de bascule pour vos EPLE "
                       "(`" +
                           shared.prefix + "moi` pour les voir).",
                 {}};
}

/// The emoji without its variation selectors (U+FE0E, U+FE0F), so that ✔ and ✔️ are one.
std::string bare_emoji(std::string_view emoji)
{
    std::string out{emoji};
    for (const std::string_view selector : {"\uFE0F", "\uFE0E"})
        for (auto at = out.find(selector); at != std::string::npos; at = out.find(selector))
            out.erase(at, selector.size());
    return out;
}

} // namespace

std::optional<std::string> on_reminder_reaction(ReminderStore& store,
                                                const ReminderOptions& options,
                                                std::string_view delivery_key,
                                                std::string_view sender, Role role,
                                                std::string_view emoji, Instant now)
{
    const auto bare = bare_emoji(emoji);
    const bool acknowledge = bare == "\u2705" || bare == "\u2714" || bare == "\u2611";
    const bool snooze = bare == "\u23F0" || bare == "\U0001F4A4";
    if (!acknowledge && !snooze)
        return std::nullopt;
    const auto found = store.find_delivery(delivery_key);
    if (!found || !found.value())
        return std::nullopt;
    const auto& reminder = found.value()->reminder;
    const bool allowed = reminder.owner == sender ||
                         (reminder.target == ReminderTarget::salon && role == Role::admin);
    if (!allowed || reminder.cancelled)
        return std::nullopt; // someone else's reminder: no answer, no effect
    const auto number = "Rappel n° " + std::to_string(reminder.id);
    if (acknowledge) {
        const auto done = store.acknowledge(reminder.id, now);
        if (!done || !done.value())
            return std::nullopt;
        if (!reminder.until_acknowledged)
            return "✅ " + number + " : bien noté.";
        return "✅ " + number + " confirmé : je ne le répète plus" +
               (reminder.schedule.recurring() ? " avant sa prochaine échéance." : ".");
    }
    const auto until = now + options.snooze;
    const auto done = store.snooze(reminder.id, reminder.owner, until);
    if (!done || !done.value())
        return std::nullopt;
    const auto zone = find_zone(reminder.zone);
    const auto* shown = zone ? zone.value() : find_zone(options.zone).value();
    return "⏰ " + number + " reporté à **" + format_local(until, *shown) + "**.";
}

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
         prefix + "rappel <quand> [hors fériés] [jusqu'à confirmation] <texte> | salon [@room] "
                  "<quand> <texte> | annuler <n°> | reporter <n°> <durée>",
         "programmer un rappel : `demain 9h`, `chaque lundi 9h hors fériés`, `chaque jour 9h "
         "jusqu'à confirmation` (répété jusqu'à ✅, ⏰ reporte), `dans 2 heures`… ; au salon, "
         "personne n'est notifié sauf avec `@room`",
         Role::member,
         [shared](const Context& context) { return rappel(*shared, context); }});
    add({"rappels",
         {},
         prefix + "rappels | off | on",
         "vos rappels ; `off`/`on` : ne plus recevoir / recevoir les relances du kit de bascule",
         Role::member,
         [shared](const Context& context) { return rappels(*shared, context); }});
}

std::string format_delivery(const Delivery& delivery)
{
    std::string text =
        "⏰ **Rappel** : " + defuse_room_mention(escape_markdown(delivery.reminder.text));
    if (delivery.reminder.ping_room && delivery.reminder.target == ReminderTarget::salon)
        text = "@room " + text; // asked for with `!rappel salon @room …`
    if (delivery.reminder.until_acknowledged)
        text += "\n\nRéagissez avec ✅ quand c'est fait (je le répéterai d'ici là), ou ⏰ pour "
                "le reporter.";
    return text;
}

} // namespace opalebot::commands
