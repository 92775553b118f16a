#include "bot/curl_http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <memory>
#include <new>
#include <stdexcept>

#include <libssh2.h>

namespace opalebot::bot {
namespace {

struct EasyDeleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct ListDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

size_t write_body(char* data, size_t size, size_t count, void* target)
{
    static_cast<std::string*>(target)->append(data, size * count);
    return size * count;
}

size_t write_header(char* data, size_t size, size_t count, void* target)
{
    const std::string_view line{data, size * count};
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        std::string name{line.substr(0, colon)};
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() &&
               (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
            value.remove_suffix(1);
        (*static_cast<std::map<std::string, std::string>*>(target))[name] = std::string{value};
    }
    return size * count;
}

int check_cancel(void* token, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    return static_cast<const std::stop_token*>(token)->stop_requested() ? 1 : 0;
}

} // namespace

CurlGlobal::CurlGlobal()
{
    // Debian's libcurl links libssh2, whose first init loads OpenSSL's ciphers and engines
    // (1.5 MB of memory) for SCP/SFTP that the bot never uses (only http and https are allowed
    // below). Initialising it first without crypto makes curl's own call a no-op.
    static_cast<void>(libssh2_init(LIBSSH2_INIT_NO_CRYPTO));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        throw std::runtime_error("curl_global_init failed");
}

CurlGlobal::~CurlGlobal()
{
    curl_global_cleanup();
}

Result<Response> CurlHttpClient::send(const Request& request)
{
    // One handle per thread, reset between requests: it keeps its connections alive, so a reply
    // does not pay for a new TCP (and TLS) handshake. Threads never share a transfer.
    thread_local const std::unique_ptr<CURL, EasyDeleter> easy{curl_easy_init()};
    if (!easy)
        return Error{Error::Kind::transport, CURLE_FAILED_INIT, {}, "curl_easy_init failed", {}};
    CURL* h = easy.get();
    curl_easy_reset(h);
    std::array<char, CURL_ERROR_SIZE> error_text{};
    Response response;
    std::unique_ptr<curl_slist, ListDeleter> headers;
    for (const auto& [name, value] : request.headers) {
        const std::string line = name + ": " + value;
        curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
        if (appended == nullptr)
            return Error{Error::Kind::transport, CURLE_OUT_OF_MEMORY, {}, "curl_slist_append", {}};
        static_cast<void>(headers.release());
        headers.reset(appended);
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); // required with threads
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text.data());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "opale-bot");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); // whatever curl decodes
    if (request.method != "GET" && request.method != "DELETE") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, write_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    if (request.cancel.stop_possible()) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, check_cancel);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &request.cancel);
    }
    if (const CURLcode rc = curl_easy_perform(h); rc != CURLE_OK)
        return Error{Error::Kind::transport,
                     static_cast<int>(rc),
                     {},
                     error_text[0] != '\0' ? error_text.data() : curl_easy_strerror(rc),
                     {}};
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

std::string url_encode(std::string_view text)
{
    struct CurlFree {
        void operator()(char* escaped) const noexcept { curl_free(escaped); }
    };
    if (text.size() > static_cast<std::size_t>(INT_MAX))
        throw std::length_error("text too long to percent-encode");
    const std::unique_ptr<char, CurlFree> escaped{
        curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()))};
    if (!escaped)
        throw std::bad_alloc{};
    return escaped.get();
}

} // namespace opalebot::bot
