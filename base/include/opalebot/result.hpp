#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace opalebot {

/// What went wrong, as a value that crosses module boundaries (notes/style.md §2).
struct Error {
    enum class Kind { transport, http, matrix, parse, storage, invalid, not_found };
    Kind kind = Kind::invalid;
    int code = 0;        ///< CURLcode or HTTP status, when there is one
    std::string errcode; ///< "M_LIMIT_EXCEEDED"
    std::string message; ///< for logs and users; never a token or a message body
    std::optional<std::chrono::milliseconds> retry_after;
    bool soft_logout = false; ///< 401 M_UNKNOWN_TOKEN that a new login on the same device fixes
};

/// Either a value or an Error; test it with `if (result)` before calling value().
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : data_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
    Result(Error error) : data_(std::move(error)) {} // NOLINT(google-explicit-constructor)

    explicit operator bool() const noexcept { return data_.index() == 0; }
    const T& value() const& { return std::get<0>(data_); }
    T& value() & { return std::get<0>(data_); }
    T&& value() && { return std::get<0>(std::move(data_)); }
    const Error& error() const& { return std::get<1>(data_); }

private:
    std::variant<T, Error> data_;
};

/// The value of a Result that only says "it worked".
struct Done {};

} // namespace opalebot
