#pragma once

// Members of JSON that comes from the server or from peers: a member that is missing or of
// another type reads as empty, and nothing throws (one malformed event must never stop the bot;
// nlohmann's value() throws on a type mismatch).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "untrusted_json.hpp" // parse_untrusted: how such JSON is read

namespace opalebot::bot {

inline std::string string_at(const nlohmann::json& j, const char* key)
{
    const auto it = j.find(key); // end() for a value that is not an object
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

inline std::optional<std::int64_t> integer_at(const nlohmann::json& j, const char* key)
{
    const auto it = j.find(key);
    if (it != j.end() && it->is_number_integer())
        return it->get<std::int64_t>();
    return std::nullopt;
}

/// The object at `key`, or null.
inline const nlohmann::json* object_at(const nlohmann::json& j, const char* key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_object() ? &*it : nullptr;
}

/// The object at `key`, or an empty object.
inline const nlohmann::json& object_or_empty(const nlohmann::json& j, const char* key)
{
    static const nlohmann::json empty = nlohmann::json::object();
    const auto* object = object_at(j, key);
    return object != nullptr ? *object : empty;
}

} // namespace opalebot::bot
