#pragma once

#include "opalebot/result.hpp"

#include <chrono>
#include <map>
#include <stop_token>
#include <string>
#include <string_view>

namespace opalebot::bot {

/// One HTTP exchange, as the Matrix client needs it.
struct Request {
    std::string method = "GET";
    std::string url;
    std::map<std::string, std::string> headers; ///< "Authorization" holds the token, never the URL
    std::string body;
    std::chrono::milliseconds timeout{30'000};
    std::stop_token cancel; ///< a stop request aborts the transfer (shutdown mid long-poll)
};

/// Any HTTP status is a Response; only transport failures are Errors.
struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers; ///< lower-case names
};

/// The seam between the bot and the network: the real one is curl, tests script a fake.
class HttpClient {
public:
    virtual ~HttpClient() = default;
    virtual Result<Response> send(const Request& request) = 0;
};

/// RFC 3986 percent-encoding, every character but the unreserved ones: "!room:hs" ->
/// "%21room%3Ahs", for a URL path segment, a query value or a form field (libcurl's escape).
std::string url_encode(std::string_view text);

} // namespace opalebot::bot
