#pragma once

#include "opalebot/result.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace opalebot::bot::crypto {

/// The spec's Canonical JSON (appendices, "Signing JSON"): keys sorted by code point, no
/// whitespace, UTF-8 unescaped, integers only. A float with an integral value in
/// [-(2^53)+1, 2^53-1] is written as that integer (the spec's `1e10` vector); any other float,
/// or an integer out of that range, is an Error.
Result<std::string> canonical_json(const nlohmann::json& value);

/// The bytes a signature covers: `object` without `signatures` and `unsigned`, canonical.
Result<std::string> signing_bytes(const nlohmann::json& object);

} // namespace opalebot::bot::crypto
