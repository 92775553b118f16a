#pragma once

// JSON from the homeserver, from peers (decrypted payloads) and from iTop. Copying, comparing and
// dumping nlohmann values recurse, so an event nested 100,000 deep overflowed the stack and, its
// batch never saved, crashed the bot again at every start (issue 15, item 1). The bound is put at
// parse time, so that every value the bot holds is shallow and nothing downstream has to check.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace opalebot::bot {

/// Deeper than any message of the protocol or answer of iTop's REST API.
inline constexpr std::size_t max_json_depth = 64;

/// `text` parsed as by `json::parse(text, nullptr, false)` (a discarded value when it is not
/// JSON, never a throw), except that an array or object nested deeper than max_json_depth is
/// replaced by null, and a warning names `what`: the rest of the document (the other events of a
/// /sync batch) is kept. Linear in the size of `text` whatever its depth.
nlohmann::json parse_untrusted(std::string_view text, std::string_view what = "JSON");

} // namespace opalebot::bot
