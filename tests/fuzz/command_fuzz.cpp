// What anyone in a salon can type: the command line (`!name args`, commands/src/registry.cpp)
// and the one-line ticket form (`service=DRASI titre="…" uai=…`, commands/src/ticket_fields.cpp).
#include "commands/registry.hpp"
#include "commands/ticket_fields.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

namespace commands = opalebot::commands;

/// The referential's side of the form: one known EPLE, found by any part of its name.
std::optional<commands::EpleMatch> find_eple(std::string_view name)
{
    constexpr std::string_view known = "Lycée Fictif A";
    if (!name.empty() && known.find(name) != std::string_view::npos)
        return commands::EpleMatch{"0750655E", std::string{known}};
    return std::nullopt;
}

void check_command(std::string_view text, std::string_view prefix)
{
    const auto parsed = commands::parse_command(text, prefix);
    if (!parsed)
        return;
    OPALEBOT_FUZZ_CHECK(!parsed->name.empty());
    // args is a view into the message, trimmed
    OPALEBOT_FUZZ_CHECK(parsed->args.empty() ||
                        (parsed->args.data() >= text.data() &&
                         parsed->args.data() + parsed->args.size() <= text.data() + text.size()));
    OPALEBOT_FUZZ_CHECK(commands::trim(parsed->args) == parsed->args);
    const auto [word, rest] = commands::split_first_word(parsed->args);
    OPALEBOT_FUZZ_CHECK(commands::trim(word) == word && commands::trim(rest) == rest);
}

/// The stored form of a ticket (serialize_fields) reads back to the same ticket.
void check_fields_round_trip(const commands::TicketFields& fields)
{
    const auto stored = commands::serialize_fields(fields);
    OPALEBOT_FUZZ_CHECK(commands::serialize_fields(commands::deserialize_fields(stored)) == stored);
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    check_command(text, "!");
    check_command(text, "opale ");

    const auto form = commands::parse_one_line(text, find_eple);
    check_fields_round_trip(form.fields);
    (void)commands::summary_card(form.fields);
    (void)commands::ticket_title(form.fields);
    (void)commands::propose_service(form.fields);
    (void)commands::first_missing(form.fields);
    auto merged = commands::deserialize_fields(text); // a stored form that was edited by hand
    check_fields_round_trip(merged);
    commands::merge_fields(merged, form.fields);
    check_fields_round_trip(merged);

    // The dialogue's answers: the whole message is the value of the field asked for.
    for (const auto field : commands::field_order()) {
        commands::TicketFields fields;
        if (!commands::set_field(fields, field, text, find_eple))
            OPALEBOT_FUZZ_CHECK(commands::has_field(fields, field));
    }
    (void)commands::vague_title_reason(text);
    (void)commands::uai_reason(text);
    (void)commands::parse_environment(text);
    (void)commands::parse_service(text);
    return 0;
}
