#pragma once

#include "bot/http_client.hpp"

namespace opalebot::bot {

/// curl_global_init for the process lifetime; create one in main before any thread.
class CurlGlobal {
public:
    CurlGlobal();
    ~CurlGlobal();
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

/// HttpClient over libcurl; one easy handle per request, so threads never share a transfer.
class CurlHttpClient final : public HttpClient {
public:
    Result<Response> send(const Request& request) override;
};

} // namespace opalebot::bot
