// /sync responses, /messages pages, single events and the JSON reader under all of them
// (bot/src/events.cpp, bot/src/untrusted_json.cpp): what the homeserver and every room member
// can put in front of the bot.
#include "bot/events.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "untrusted_json.hpp"

namespace {

using nlohmann::json;
using opalebot::bot::max_json_depth;

/// How many arrays and objects deep `root` nests; walks without recursion.
std::size_t depth_of(const json& root)
{
    std::size_t deepest = 0;
    std::vector<std::pair<const json*, std::size_t>> stack{{&root, 0}};
    while (!stack.empty()) {
        const auto [node, depth] = stack.back();
        stack.pop_back();
        if (!node->is_structured())
            continue;
        deepest = std::max(deepest, depth + 1);
        for (const auto& child : *node)
            stack.emplace_back(&child, depth + 1);
    }
    return deepest;
}

/// parse_untrusted is nlohmann's parser with a depth bound: the same verdict, the same value when
/// the text is shallow, and never deeper than the bound.
void check_untrusted(std::string_view text)
{
    const auto bounded = opalebot::bot::parse_untrusted(text, "fuzz");
    const auto plain = json::parse(text, nullptr, false); // iterative: deep input is fine
    OPALEBOT_FUZZ_CHECK(bounded.is_discarded() == plain.is_discarded());
    if (bounded.is_discarded())
        return;
    OPALEBOT_FUZZ_CHECK(depth_of(bounded) <= max_json_depth);
    if (depth_of(plain) <= max_json_depth)
        OPALEBOT_FUZZ_CHECK(bounded == plain);
}

void check_power_levels_round_trip(const opalebot::bot::PowerLevels& levels)
{
    const auto stored = opalebot::bot::power_levels_json(levels);
    OPALEBOT_FUZZ_CHECK(opalebot::bot::parse_power_levels(stored) == levels);
}

void use(const opalebot::bot::Event& event)
{
    if (const auto* text = std::get_if<opalebot::bot::TextMessage>(&event.content)) {
        (void)opalebot::bot::strip_reply_fallback(text->body);
        if (!text->encrypted_file.empty()) // written by dump(): must read back
            OPALEBOT_FUZZ_CHECK(!json::parse(text->encrypted_file, nullptr, false).is_discarded());
    } else if (const auto* levels = std::get_if<opalebot::bot::PowerLevels>(&event.content)) {
        check_power_levels_round_trip(*levels);
    }
}

} // namespace

OPALEBOT_FUZZ_QUIET_LOGS()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = opalebot::fuzz::text_of(data, size);
    check_untrusted(text);
    if (const auto batch = opalebot::bot::parse_sync(text, "@opale-bot:example.org")) {
        for (const auto& room : batch.value().joined) {
            for (const auto& event : room.state)
                use(event);
            for (const auto& event : room.timeline)
                use(event);
        }
    }
    if (const auto page = opalebot::bot::parse_messages(text))
        for (const auto& event : page.value().chunk)
            use(event);
    use(opalebot::bot::parse_timeline_event(text));
    check_power_levels_round_trip(opalebot::bot::parse_power_levels(text));
    (void)opalebot::bot::strip_reply_fallback(text);
    return 0;
}
