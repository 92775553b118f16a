#include "bot/crypto/canonical_json.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>

namespace opalebot::bot::crypto {
namespace {

constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53) - 1;

Error not_canonical(std::string message)
{
    return Error{Error::Kind::invalid, 0, {}, std::move(message), {}, false};
}

/// Replaces integral floats by integers and rejects what canonical JSON cannot hold.
Result<Done> normalise(nlohmann::json& value)
{
    switch (value.type()) {
    case nlohmann::json::value_t::object:
    case nlohmann::json::value_t::array:
        for (auto& child : value)
            if (auto done = normalise(child); !done)
                return done;
        return Done{};
    case nlohmann::json::value_t::number_float: {
        const double number = value.get<double>();
        if (!std::isfinite(number) || std::trunc(number) != number ||
            std::fabs(number) > static_cast<double>(max_safe_integer))
            return not_canonical("canonical JSON has no floats");
        value = static_cast<std::int64_t>(number); // -0.0 becomes 0
        return Done{};
    }
    case nlohmann::json::value_t::number_integer:
        if (const auto n = value.get<std::int64_t>(); n > max_safe_integer || n < -max_safe_integer)
            return not_canonical("integer out of the canonical JSON range");
        return Done{};
    case nlohmann::json::value_t::number_unsigned:
        if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(max_safe_integer))
            return not_canonical("integer out of the canonical JSON range");
        return Done{};
    default:
        return Done{};
    }
}

} // namespace

Result<std::string> canonical_json(const nlohmann::json& value)
{
    auto copy = value;
    if (auto done = normalise(copy); !done)
        return done.error();
    // nlohmann::json keeps objects in a std::map (byte order = code point order for UTF-8),
    // dump() adds no whitespace, keeps UTF-8 as is and uses the short escapes and \u00XX.
    try {
        return copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::exception&) {
        return not_canonical("invalid UTF-8 in JSON");
    }
}

Result<std::string> signing_bytes(const nlohmann::json& object)
{
    if (!object.is_object())
        return not_canonical("only objects are signed");
    auto copy = object;
    copy.erase("signatures");
    copy.erase("unsigned");
    return canonical_json(copy);
}

} // namespace opalebot::bot::crypto
