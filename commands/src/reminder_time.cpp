#include "commands/reminder_time.hpp"

#include "knowledge/text.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <exception>
#include <regex>
#include <vector>

#include <date/tz.h>

namespace opalebot::commands {
namespace {

using namespace std::chrono;

constexpr std::string_view examples =
    "Exemples : `demain 9h`, `lundi 14h30`, `le 31/12 à 10h`, `dans 2 heures`, "
    "`chaque lundi 9h`, `chaque jour ouvré 8h30`, `le 1er de chaque mois 9h`, "
    "`cron 0 9 * * 1-5` ; après l'heure, `hors fériés` (ni week-end ni jour férié) et "
    "`jusqu'à confirmation` (répété jusqu'à ✅), par exemple "
    "`chaque lundi 9h hors fériés jusqu'à confirmation`.";

Error invalid(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}, false};
}

Error not_understood(std::string_view what)
{
    return invalid("Je ne comprends pas « " + std::string{what} + " ». " + std::string{examples});
}

/// A word of the user's text, folded for matching, with where the original ends.
struct Token {
    std::string folded;
    std::size_t end = 0; ///< offset just past the word in the original text
};

std::vector<Token> tokenize(std::string_view text)
{
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0)
            ++i;
        const auto start = i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0)
            ++i;
        if (i > start)
            tokens.push_back({knowledge::fold(text.substr(start, i - start)), i});
    }
    return tokens;
}

std::optional<int> to_int(std::string_view digits)
{
    int value = 0;
    // from_chars takes a leading '-': "à -6h" gave an hour of -6, then a cron rule it refused
    if (digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size())
        return std::nullopt;
    return value;
}

/// "9h", "9h30", "09h00", "14:30", "midi", "minuit" as minutes after midnight.
std::optional<minutes> parse_clock(std::string_view word)
{
    if (word == "midi")
        return hours{12};
    if (word == "minuit")
        return hours{0};
    const auto separator = word.find_first_of("h:");
    if (separator == std::string_view::npos)
        return std::nullopt;
    const auto hour = to_int(word.substr(0, separator));
    const auto after = word.substr(separator + 1);
    const auto minute = after.empty() && word[separator] == 'h' ? std::optional<int>{0}
                        : after.size() == 2                     ? to_int(after)
                                                                : std::nullopt;
    if (!hour || !minute || *hour > 23 || *minute > 59)
        return std::nullopt;
    return hours{*hour} + minutes{*minute};
}

/// The weekday named by `word` ("lundi", or "lundis" when `plural_ok`), 0 = dimanche.
std::optional<unsigned> parse_weekday(std::string_view word, bool plural_ok)
{
    static constexpr std::array<std::string_view, 7> names{
        "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"};
    if (plural_ok && word.size() > 1 && word.back() == 's')
        word.remove_suffix(1);
    for (unsigned i = 0; i < names.size(); ++i)
        if (word == names[i])
            return i;
    return std::nullopt;
}

bool cron_like(std::string_view word)
{
    return !word.empty() && word.find_first_not_of("0123456789*,/-") == std::string_view::npos;
}

/// One cron field into `bits`; `low`..`high` is its range.
template <std::size_t N>
bool parse_cron_field(std::string_view field, int low, int high, std::bitset<N>& bits)
{
    while (!field.empty()) {
        const auto comma = field.find(',');
        auto item = field.substr(0, comma);
        field = comma == std::string_view::npos ? std::string_view{} : field.substr(comma + 1);
        int step = 1;
        if (const auto slash = item.find('/'); slash != std::string_view::npos) {
            const auto parsed = to_int(item.substr(slash + 1));
            if (!parsed || *parsed < 1)
                return false;
            step = *parsed;
            item = item.substr(0, slash);
        }
        int first = low;
        int last = high;
        if (item != "*") {
            const auto dash = item.find('-');
            const auto a = to_int(item.substr(0, dash));
            const auto b = dash == std::string_view::npos ? a : to_int(item.substr(dash + 1));
            if (!a || !b || *a < low || *b > high || *a > *b)
                return false;
            first = *a;
            last = step > 1 && dash == std::string_view::npos ? high : *b; // "5/15": 5, 20, 35…
        }
        for (int v = first; v <= last; v += step)
            bits.set(static_cast<std::size_t>(v));
        if (comma == std::string_view::npos)
            break;
    }
    return bits.any();
}

date::local_seconds local_at(date::local_days day, minutes time_of_day)
{
    return date::local_seconds{day} + time_of_day;
}

/// Local wall-clock time to UTC with the DST rule of next_occurrence().
Instant to_instant(const date::time_zone& zone, date::local_seconds local)
{
    return zone.to_sys(local, date::choose::earliest);
}

std::string two_digits(unsigned value)
{
    return {static_cast<char>('0' + value / 10U % 10U), static_cast<char>('0' + value % 10U)};
}

/// The reminder's text after token `next`, or an error when there is none.
Result<ParsedWhen> finish(Schedule schedule, std::string_view text,
                          const std::vector<Token>& tokens, std::size_t next)
{
    const auto from = next == 0 ? 0 : tokens[next - 1].end;
    auto rest = std::string{text.substr(from)};
    const auto first = rest.find_first_not_of(" \t\n\r");
    rest = first == std::string::npos ? std::string{} : rest.substr(first);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back())) != 0)
        rest.pop_back();
    if (rest.empty())
        return invalid("Que dois-je vous rappeler ? Par exemple : `!rappel demain 9h envoyer le "
                       "kit de bascule`.");
    return ParsedWhen{std::move(schedule), std::move(rest)};
}

Schedule cron_schedule(const std::string& expression, bool working_days_only)
{
    Schedule schedule;
    schedule.cron = parse_cron(expression).value(); // built here, always valid
    schedule.working_days_only = working_days_only;
    return schedule;
}

std::string cron_at(minutes time_of_day, std::string_view day, std::string_view weekday)
{
    const auto h = duration_cast<hours>(time_of_day);
    return std::to_string((time_of_day - h).count()) + " " + std::to_string(h.count()) + " " +
           std::string{day} + " * " + std::string{weekday};
}

} // namespace

Result<const date::time_zone*> find_zone(std::string_view name)
{
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return invalid("Fuseau horaire inconnu : " + std::string{name} +
                       " (exemple : Europe/Paris).");
    }
}

Result<CronRule> parse_cron(std::string_view expression)
{
    const auto tokens = tokenize(expression);
    CronRule rule;
    bool ok = tokens.size() == 5;
    std::bitset<8> weekdays;
    ok = ok && parse_cron_field(tokens[0].folded, 0, 59, rule.minutes);
    ok = ok && parse_cron_field(tokens[1].folded, 0, 23, rule.hours);
    ok = ok && parse_cron_field(tokens[2].folded, 1, 31, rule.days);
    ok = ok && parse_cron_field(tokens[3].folded, 1, 12, rule.months);
    ok = ok && parse_cron_field(tokens[4].folded, 0, 7, weekdays);
    if (!ok)
        return invalid("Expression cron invalide : « " + std::string{expression} +
                       " ». Cinq champs, minute heure jour mois jour-de-semaine, par exemple "
                       "`cron 30 8 * * 1-5` (8h30 du lundi au vendredi).");
    for (std::size_t d = 0; d < 7; ++d)
        rule.weekdays[d] = weekdays[d];
    if (weekdays[7])
        rule.weekdays.set(0); // 7 is Sunday too
    rule.any_day = tokens[2].folded == "*";
    rule.any_weekday = tokens[4].folded == "*";
    for (const auto& token : tokens)
        rule.text += (rule.text.empty() ? "" : " ") + token.folded;
    return rule;
}

namespace {

/// The options after the `<quand>` ("hors fériés", "jusqu'à confirmation") taken off `parsed`.
Result<ParsedWhen> take_options(ParsedWhen parsed)
{
    const std::string rest = parsed.rest;
    const auto tokens = tokenize(rest);
    const auto word = [&](std::size_t i) -> std::string_view {
        return i < tokens.size() ? std::string_view{tokens[i].folded} : std::string_view{};
    };
    std::size_t i = 0;
    for (bool more = true; more;) {
        more = false;
        if (word(i) == "hors" || word(i) == "sauf") {
            std::size_t j = i + 1;
            if (word(j) == "week-end" || word(j) == "week-ends" || word(j) == "weekend" ||
                word(j) == "weekends" || word(j) == "we") {
                if (word(j + 1) == "et" || word(j + 1) == "ni")
                    j += 2;
                else
                    j = 0; // "hors week-end" alone: not an option
            }
            if (j != 0 && word(j) == "jours")
                ++j;
            if (j != 0 && (word(j) == "feries" || word(j) == "ferie")) {
                parsed.skip_holidays = true;
                i = j + 1;
                more = true;
            }
        } else if ((word(i) == "jusqu'a" || word(i) == "jusqu'au") &&
                   (word(i + 1) == "confirmation" || word(i + 1) == "\u2705")) {
            parsed.until_acknowledged = true;
            i += 2;
            more = true;
        }
    }
    if (i == 0)
        return parsed;
    if (parsed.skip_holidays && !parsed.schedule.recurring())
        return invalid("« hors fériés » ne vaut que pour un rappel récurrent, par exemple "
                       "`chaque lundi 9h hors fériés`.");
    auto left = i < tokens.size() ? rest.substr(tokens[i - 1].end) : std::string{};
    const auto first = left.find_first_not_of(" \t\n\r");
    left = first == std::string::npos ? std::string{} : left.substr(first);
    if (left.empty())
        return invalid("Que dois-je vous rappeler ? Par exemple : `!rappel chaque lundi 9h hors "
                       "fériés jusqu'à confirmation mettre à jour le kit de bascule`.");
    parsed.rest = std::move(left);
    return parsed;
}

Result<ParsedWhen> parse_when_only(std::string_view text, Instant now, const date::time_zone& zone)
{
    const auto tokens = tokenize(text);
    if (tokens.empty())
        return invalid(std::string{"Quand ? "} + std::string{examples});
    const auto word = [&](std::size_t i) -> std::string_view {
        return i < tokens.size() ? std::string_view{tokens[i].folded} : std::string_view{};
    };
    // "[à] 9h30" at token i: the time and the index after it.
    const auto clock_at = [&](std::size_t i) -> std::optional<std::pair<minutes, std::size_t>> {
        if (word(i) == "a")
            ++i;
        if (const auto t = parse_clock(word(i)))
            return std::pair{*t, i + 1};
        return std::nullopt;
    };
    const auto missing_clock = [&](std::string_view example) {
        return invalid("Il manque l'heure, ou je ne la comprends pas : par exemple `" +
                       std::string{example} + "`.");
    };
    const auto today = floor<days>(zone.to_local(now));

    // Power users: "cron 0 9 * * 1" or the five fields alone.
    if (word(0) == "cron" || (cron_like(word(0)) && tokens.size() >= 5 && cron_like(word(1)) &&
                              cron_like(word(2)) && cron_like(word(3)) && cron_like(word(4)))) {
        const std::size_t first = word(0) == "cron" ? 1 : 0;
        if (tokens.size() < first + 5)
            return parse_cron(text).error();
        // A sixth field is not read as the start of the text: a line of 1,000 fields was
        // (issue 15), and so would a Quartz expression, whose first field is the seconds.
        if (cron_like(word(first + 5)))
            return invalid("Une expression cron a cinq champs exactement (minute heure jour mois "
                           "jour-de-semaine) ; celle-ci en a davantage. Si le texte du rappel "
                           "commence par un nombre, commencez-le par un mot : par exemple "
                           "`cron 0 9 * * 1 penser aux 3 factures`.");
        const auto from = first == 0 ? 0 : tokens[first - 1].end;
        auto rule = parse_cron(text.substr(from, tokens[first + 4].end - from));
        if (!rule)
            return rule.error();
        Schedule schedule;
        schedule.cron = std::move(rule).value();
        return finish(std::move(schedule), text, tokens, first + 5);
    }

    // "dans 2 heures", "dans 30 minutes", "dans 3 jours".
    if (word(0) == "dans") {
        std::string spoken{word(1)};
        std::size_t next = 2;
        auto duration = parse_duration(spoken);
        if (!duration && !word(2).empty()) {
            spoken += " " + std::string{word(2)};
            duration = parse_duration(spoken);
            next = 3;
        }
        if (!duration)
            return invalid("Je ne comprends pas la durée « dans " + spoken +
                           " ». Par exemple : `dans 2 heures`, `dans 30 minutes`.");
        const auto seconds_later = duration.value();
        Schedule schedule;
        if (seconds_later % days{1} == seconds{0}) // whole days keep the wall-clock time
            schedule.once = to_instant(zone, zone.to_local(now) + seconds_later);
        else
            schedule.once = now + seconds_later;
        return finish(std::move(schedule), text, tokens, next);
    }

    // "demain 9h", "après-demain 9h", "aujourd'hui 17h".
    const std::array<std::pair<std::string_view, int>, 4> relative_days{
        {{"aujourd'hui", 0}, {"demain", 1}, {"apres-demain", 2}, {"apres", 2}}};
    for (const auto& [name, offset] : relative_days) {
        if (word(0) != name)
            continue;
        std::size_t i = 1;
        if (name == "apres") {
            if (word(1) != "demain")
                return not_understood(text);
            i = 2;
        }
        const auto clock = clock_at(i);
        if (!clock)
            return missing_clock(std::string{tokens[0].folded} + " 9h");
        Schedule schedule;
        schedule.once = to_instant(zone, local_at(today + days{offset}, clock->first));
        if (*schedule.once <= now)
            return invalid("Cette heure est déjà passée aujourd'hui. Par exemple : `demain 9h`.");
        return finish(std::move(schedule), text, tokens, clock->second);
    }

    // "lundi 14h30", "lundi prochain 14h30".
    if (const auto wanted = parse_weekday(word(0), false)) {
        std::size_t i = 1;
        const bool next_week = word(1) == "prochain";
        if (next_week)
            ++i;
        const auto clock = clock_at(i);
        if (!clock)
            return missing_clock(std::string{word(0)} + " 14h30");
        const unsigned current = weekday{sys_days{today.time_since_epoch()}}.c_encoding();
        const auto clock_word = std::string{word(clock->second - 1)};
        if (current == *wanted && !next_week) // today or in a week: ask, never guess
            return invalid("C'est aujourd'hui : voulez-vous dire `aujourd'hui " + clock_word +
                           "` ou `" + std::string{word(0)} + " prochain " + clock_word + "` ?");
        auto ahead = (*wanted + 7 - current) % 7;
        if (ahead == 0)
            ahead = 7;
        Schedule schedule;
        schedule.once = to_instant(zone, local_at(today + days{ahead}, clock->first));
        return finish(std::move(schedule), text, tokens, clock->second);
    }

    // "chaque jour 18h", "chaque jour ouvré 8h30", "chaque lundi 9h", "tous les lundis 9h".
    if (word(0) == "chaque" || (word(0) == "tous" && word(1) == "les")) {
        const bool plural = word(0) == "tous";
        std::size_t i = plural ? 2 : 1;
        const auto what = word(i);
        bool working = false;
        std::string weekday_field = "*";
        if (what == (plural ? "jours" : "jour")) {
            if (word(i + 1) == (plural ? "ouvres" : "ouvre")) {
                working = true;
                weekday_field = "1-5";
                ++i;
            }
        } else if (const auto named = parse_weekday(what, plural)) {
            weekday_field = std::to_string(*named);
        } else {
            return not_understood(text);
        }
        const auto clock = clock_at(i + 1);
        if (!clock)
            return missing_clock(std::string{plural ? "tous les " : "chaque "} + std::string{what} +
                                 " 9h");
        return finish(cron_schedule(cron_at(clock->first, "*", weekday_field), working), text,
                      tokens, clock->second);
    }

    // "le 1er de chaque mois 9h", "le 31/12 à 10h", "le 31/12/2026 à 10h".
    if (word(0) == "le") {
        const auto day_word = word(1);
        if (word(2) == "de" && word(3) == "chaque" && word(4) == "mois") {
            const auto day = day_word == "1er" ? std::optional<int>{1} : to_int(day_word);
            if (!day || *day < 1 || *day > 28)
                return invalid("Choisissez un jour de 1 à 28, présent dans tous les mois : "
                               "par exemple `le 1er de chaque mois 9h`.");
            const auto clock = clock_at(5);
            if (!clock)
                return missing_clock("le 1er de chaque mois 9h");
            return finish(cron_schedule(cron_at(clock->first, std::to_string(*day), "*"), false),
                          text, tokens, clock->second);
        }
        int d = 0;
        int m = 0;
        int y = 0;
        char tail = 0;
        const std::string date_text{day_word};
        static const std::regex date_pattern{R"(^\d{1,2}/\d{1,2}(/\d{2}|/\d{4})?$)"};
        if (!std::regex_match(date_text, date_pattern))
            return not_understood(text);
        const int fields = std::sscanf(date_text.c_str(), "%d/%d/%d%c", &d, &m, &y, &tail);
        if (fields == 3 && y < 100)
            y += 2000;
        const auto current_year =
            static_cast<int>(year_month_day{sys_days{today.time_since_epoch()}}.year());
        const auto clock = clock_at(2);
        if (!clock)
            return missing_clock("le " + date_text + " à 10h");
        const auto build = [&](int year_number) -> std::optional<Instant> {
            const year_month_day date{year{year_number}, month{static_cast<unsigned>(m)},
                                      day{static_cast<unsigned>(d)}};
            if (m < 1 || m > 12 || d < 1 || !date.ok())
                return std::nullopt;
            return to_instant(
                zone, local_at(date::local_days{sys_days{date}.time_since_epoch()}, clock->first));
        };
        auto when = build(fields == 3 ? y : current_year);
        if (!when)
            return invalid("La date " + date_text +
                           " n'existe pas. Par exemple : `le 31/12 à 10h`.");
        if (*when <= now) {
            if (fields == 3)
                return invalid("La date " + date_text + " est déjà passée.");
            when = build(current_year + 1); // "le 15/01" in December is next January
            if (!when)
                return invalid("La date " + date_text + " n'existe pas l'an prochain.");
        }
        Schedule schedule;
        schedule.once = when;
        return finish(std::move(schedule), text, tokens, clock->second);
    }
    return not_understood(word(0));
}

} // namespace

Result<ParsedWhen> parse_when(std::string_view text, Instant now, const date::time_zone& zone)
{
    auto parsed = parse_when_only(text, now, zone);
    if (!parsed)
        return parsed;
    return take_options(std::move(parsed).value());
}

std::optional<Instant> next_occurrence(const Schedule& schedule, Instant after,
                                       const date::time_zone& zone, bool skip_weekends_and_holidays)
{
    if (schedule.once) // an explicit date is kept even on a holiday: the user chose it
        return *schedule.once > after ? schedule.once : std::nullopt;
    const auto& rule = schedule.cron;
    const bool skip = skip_weekends_and_holidays || schedule.working_days_only;
    auto day = floor<days>(zone.to_local(after));
    constexpr int horizon = 366 * 8 + 2; // "29 février" recurs within 8 years
    for (int n = 0; n < horizon; ++n, day += days{1}) {
        const sys_days civil{day.time_since_epoch()};
        const year_month_day date{civil};
        const auto weekday_number = weekday{civil}.c_encoding();
        const bool day_ok = rule.days[static_cast<unsigned>(date.day())];
        const bool weekday_ok = rule.weekdays[weekday_number];
        // Cron: when both day fields are restricted, either one matching is enough.
        const bool matches = rule.months[static_cast<unsigned>(date.month())] &&
                             (rule.any_day && rule.any_weekday ? true
                              : rule.any_day                   ? weekday_ok
                              : rule.any_weekday               ? day_ok
                                                               : day_ok || weekday_ok);
        if (!matches)
            continue;
        if (skip && (weekday_number == 0 || weekday_number == 6 || is_french_public_holiday(date)))
            continue;
        for (std::size_t h = 0; h < 24; ++h) {
            if (!rule.hours[h])
                continue;
            for (std::size_t m = 0; m < 60; ++m) {
                if (!rule.minutes[m])
                    continue;
                const auto candidate = to_instant(zone, local_at(day, hours{h} + minutes{m}));
                if (candidate > after)
                    return candidate;
            }
        }
    }
    return std::nullopt;
}

year_month_day easter_sunday(int y)
{
    // Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    const int a = y % 19;
    const int b = y / 100;
    const int c = y % 100;
    const int d = b / 4;
    const int e = b % 4;
    const int f = (b + 8) / 25;
    const int g = (b - f + 1) / 3;
    const int h = (19 * a + b - d - g + 15) % 30;
    const int i = c / 4;
    const int k = c % 4;
    const int l = (32 + 2 * e + 2 * i - h - k) % 7;
    const int m = (a + 11 * h + 22 * l) / 451;
    const int month_number = (h + l - 7 * m + 114) / 31;
    const int day_number = (h + l - 7 * m + 114) % 31 + 1;
    return year_month_day{year{y}, month{static_cast<unsigned>(month_number)},
                          day{static_cast<unsigned>(day_number)}};
}

bool is_french_public_holiday(year_month_day date)
{
    const auto m = static_cast<unsigned>(date.month());
    const auto d = static_cast<unsigned>(date.day());
    static constexpr std::array<std::pair<unsigned, unsigned>, 8> fixed{
        {{1, 1}, {5, 1}, {5, 8}, {7, 14}, {8, 15}, {11, 1}, {11, 11}, {12, 25}}};
    for (const auto& [fm, fd] : fixed)
        if (m == fm && d == fd)
            return true;
    const sys_days easter{easter_sunday(static_cast<int>(date.year()))};
    const auto offset = (sys_days{date} - easter).count();
    return offset == 1 || offset == 39 || offset == 50; // lundi de Pâques, Ascension, Pentecôte
}

std::string to_storage(const Schedule& schedule)
{
    if (schedule.once)
        return "once:" + std::to_string(schedule.once->time_since_epoch().count());
    return "cron:" + schedule.cron.text + (schedule.working_days_only ? "|ouvre" : "");
}

Result<Schedule> schedule_from_storage(std::string_view text)
{
    Schedule schedule;
    if (text.starts_with("once:")) {
        long long value = 0;
        const auto digits = text.substr(5);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (ec != std::errc{} || end != digits.data() + digits.size())
            return invalid("stored schedule is malformed: " + std::string{text});
        schedule.once = Instant{seconds{value}};
        return schedule;
    }
    if (text.starts_with("cron:")) {
        auto expression = text.substr(5);
        if (expression.ends_with("|ouvre")) {
            schedule.working_days_only = true;
            expression.remove_suffix(6);
        }
        auto rule = parse_cron(expression);
        if (!rule)
            return rule.error();
        schedule.cron = std::move(rule).value();
        return schedule;
    }
    return invalid("stored schedule is malformed: " + std::string{text});
}

std::chrono::year_month_day local_day(Instant instant, const date::time_zone& zone)
{
    return year_month_day{sys_days{floor<days>(zone.to_local(instant)).time_since_epoch()}};
}

std::string format_local_day(Instant instant, const date::time_zone& zone)
{
    static constexpr std::array<std::string_view, 7> names{
        "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"};
    const auto date = local_day(instant, zone);
    return std::string{names[weekday{sys_days{date}}.c_encoding()]} + " " +
           two_digits(static_cast<unsigned>(date.day())) + "/" +
           two_digits(static_cast<unsigned>(date.month())) + "/" +
           std::to_string(static_cast<int>(date.year()));
}

std::string format_local(Instant instant, const date::time_zone& zone)
{
    const auto local = zone.to_local(instant);
    const hh_mm_ss<seconds> time{local - floor<days>(local)};
    return format_local_day(instant, zone) + " à " + std::to_string(time.hours().count()) + "h" +
           two_digits(static_cast<unsigned>(time.minutes().count()));
}

Result<std::chrono::seconds> parse_duration(std::string_view text)
{
    const auto folded = knowledge::fold(text);
    std::string compact;
    for (const char c : folded)
        if (std::isspace(static_cast<unsigned char>(c)) == 0)
            compact += c;
    static const std::regex hours_and_minutes{R"(^(\d{1,3})h(\d{2})$)"};
    static const std::regex amount_and_unit{
        R"(^(\d{1,4})(mn|min|mins|minute|minutes|h|heure|heures|j|jour|jours|semaine|semaines)$)"};
    std::smatch match;
    if (std::regex_match(compact, match, hours_and_minutes)) {
        const auto h = std::stoi(match[1].str());
        const auto m = std::stoi(match[2].str());
        if (m < 60 && h * 60 + m > 0)
            return seconds{hours{h} + minutes{m}};
    } else if (std::regex_match(compact, match, amount_and_unit)) {
        const auto amount = std::stoi(match[1].str());
        const auto unit = match[2].str();
        seconds per{};
        if (unit.starts_with("m"))
            per = minutes{1};
        else if (unit.starts_with("h"))
            per = hours{1};
        else if (unit.starts_with("j"))
            per = days{1};
        else
            per = weeks{1};
        if (amount > 0)
            return per * amount;
    }
    return invalid("Durée incomprise : « " + std::string{text} +
                   " ». Par exemple : `10 min`, `2 heures`, `1h30`, `1 jour`.");
}

} // namespace opalebot::commands
