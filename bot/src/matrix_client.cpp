#include "bot/matrix_client.hpp"

#include "opalebot/bot_metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <type_traits>

#include "json_fields.hpp"

namespace opalebot::bot {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto call_timeout = 30'000ms;
// A server's wait is obeyed up to a minute (matrix.md §6: backoff ≤ 60 s); a longer or garbled
// one is asked again then, never trusted to stall the bot for hours or to overflow.
constexpr auto max_retry_after = 60'000ms;
constexpr long long max_retry_after_s = 60;

Error parse_error(std::string what)
{
    return Error{Error::Kind::parse, 0, {}, std::move(what), {}};
}

} // namespace

Error error_from_response(const Response& response)
{
    if (response.status == 429) // every rate limit the homeserver imposes, whatever the call
        metrics::bot_metrics().rate_limited.add();
    Error error{Error::Kind::http,
                static_cast<int>(response.status),
                {},
                "HTTP " + std::to_string(response.status),
                {}};
    const auto body = parse_untrusted(response.body, "error answer");
    if (body.is_object()) {
        error.errcode = string_at(body, "errcode");
        if (!error.errcode.empty())
            error.kind = Error::Kind::matrix;
        if (const auto text = string_at(body, "error"); !text.empty())
            error.message = text.substr(0, 300);
        if (const auto it = body.find("retry_after_ms");
            it != body.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0)
            error.retry_after =
                std::min(std::chrono::milliseconds{it->get<std::int64_t>()}, max_retry_after);
        if (const auto it = body.find("soft_logout"); it != body.end() && it->is_boolean())
            error.soft_logout = it->get<bool>();
    }
    // Retry-After (seconds) is preferred since v1.10; take the larger of the two.
    if (const auto it = response.headers.find("retry-after"); it != response.headers.end()) {
        long long seconds = 0;
        const auto& v = it->second;
        if (std::from_chars(v.data(), v.data() + v.size(), seconds).ec == std::errc{} &&
            seconds >= 0) {
            const auto header = std::min(std::chrono::milliseconds{std::chrono::seconds{
                                             std::min<long long>(seconds, max_retry_after_s)}},
                                         max_retry_after);
            if (!error.retry_after || *error.retry_after < header)
                error.retry_after = header;
        }
    }
    return error;
}

MatrixClient::MatrixClient(HttpClient& http, std::string homeserver_url)
    : http_(http), base_(std::move(homeserver_url))
{}

void MatrixClient::set_access_token(std::string token)
{
    const std::lock_guard lock{token_mutex_};
    token_ = std::move(token);
}

Result<std::string> MatrixClient::call(const std::string& method, const std::string& path,
                                       const std::string& body, std::chrono::milliseconds timeout,
                                       std::stop_token cancel, bool authenticated)
{
    auto response = exchange(method, path, body, timeout, std::move(cancel), authenticated);
    if (!response)
        return response.error();
    if (response.value().status < 200 || response.value().status >= 300)
        return error_from_response(response.value());
    return std::move(response.value().body);
}

Result<Response> MatrixClient::exchange(const std::string& method, const std::string& path,
                                        const std::string& body, std::chrono::milliseconds timeout,
                                        std::stop_token cancel, bool authenticated,
                                        const std::string& content_type)
{
    Request request;
    request.method = method;
    request.url = base_ + path;
    request.body = body;
    request.timeout = timeout;
    request.cancel = std::move(cancel);
    if (method != "GET")
        request.headers["Content-Type"] = content_type;
    if (authenticated) {
        const std::lock_guard lock{token_mutex_};
        if (!token_.empty())
            request.headers["Authorization"] = "Bearer " + token_;
    }
    return http_.send(request);
}

Result<Session> MatrixClient::login(const LoginIdentity& who, const std::string& password,
                                    const std::string& device_id, const std::string& device_name)
{
    const auto attempt = [&](const json& identifier) -> Result<Session> {
        json body{{"type", "m.login.password"},
                  {"identifier", identifier},
                  {"password", password},
                  {"initial_device_display_name", device_name}};
        if (!device_id.empty())
            body["device_id"] = device_id;
        // A login never carries the old, refused token.
        auto text = call("POST", "/_matrix/client/v3/login", body.dump(), call_timeout, {}, false);
        if (!text)
            return text.error();
        const auto j = parse_untrusted(text.value());
        Session session{string_at(j, "user_id"), string_at(j, "device_id"),
                        string_at(j, "access_token")};
        if (session.access_token.empty() || session.device_id.empty())
            return parse_error("/login: no access_token or device_id in the response");
        return session;
    };
    if (!who.email.empty()) {
        auto by_email =
            attempt(json{{"type", "m.id.thirdparty"}, {"medium", "email"}, {"address", who.email}});
        // MAS's compatibility login accepts only m.id.user (notes/matrix.md §2).
        const bool unsupported = !by_email && (by_email.error().errcode == "M_UNKNOWN" ||
                                               by_email.error().errcode == "M_UNRECOGNIZED");
        if (by_email || !unsupported || who.user_id.empty())
            return by_email;
    }
    return attempt(json{{"type", "m.id.user"}, {"user", who.user_id}});
}

Result<Session> MatrixClient::whoami()
{
    auto text = call("GET", "/_matrix/client/v3/account/whoami", {}, call_timeout);
    if (!text)
        return text.error();
    const auto j = parse_untrusted(text.value());
    Session session{string_at(j, "user_id"), string_at(j, "device_id"), {}};
    if (session.user_id.empty())
        return parse_error("/account/whoami: no user_id");
    return session;
}

Result<Done> MatrixClient::logout()
{
    auto text = call("POST", "/_matrix/client/v3/logout", "{}", call_timeout);
    if (!text)
        return text.error();
    return Done{};
}

Result<std::string> MatrixClient::create_filter(const std::string& user_id, const json& filter)
{
    auto text = call("POST", "/_matrix/client/v3/user/" + url_encode(user_id) + "/filter",
                     filter.dump(), call_timeout);
    if (!text)
        return text.error();
    const auto id = string_at(parse_untrusted(text.value()), "filter_id");
    if (id.empty())
        return parse_error("/filter: no filter_id");
    return id;
}

Result<SyncBatch> MatrixClient::sync(const std::string& since, const std::string& filter_id,
                                     std::chrono::milliseconds timeout, const std::string& me,
                                     std::stop_token cancel)
{
    std::string path =
        "/_matrix/client/v3/sync?set_presence=offline&timeout=" + std::to_string(timeout.count());
    if (!filter_id.empty())
        path += "&filter=" + url_encode(filter_id);
    if (!since.empty())
        path += "&since=" + url_encode(since);
    // curl waits for the server's own timeout plus a margin (notes/style.md §6.3).
    auto text = call("GET", path, {}, timeout + 15'000ms, std::move(cancel));
    if (!text)
        return text.error();
    return parse_sync(text.value(), me);
}

Result<std::string> MatrixClient::send(const std::string& room_id, const std::string& type,
                                       const std::string& txn_id, const json& content,
                                       std::stop_token cancel)
{
    auto text = call("PUT",
                     "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/send/" +
                         url_encode(type) + "/" + url_encode(txn_id),
                     content.dump(-1, ' ', false, json::error_handler_t::replace), call_timeout,
                     std::move(cancel));
    if (!text)
        return text.error();
    const auto id = string_at(parse_untrusted(text.value()), "event_id");
    if (id.empty())
        return parse_error("/send: no event_id");
    return id;
}

Result<Done> MatrixClient::join(const std::string& room_id)
{
    auto text = call("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/join", "{}",
                     call_timeout);
    if (!text)
        return text.error();
    return Done{};
}

Result<Done> MatrixClient::leave(const std::string& room_id)
{
    auto text = call("POST", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/leave", "{}",
                     call_timeout);
    if (!text)
        return text.error();
    return Done{};
}

Result<MessagesPage> MatrixClient::messages(const std::string& room_id, const std::string& from,
                                            int limit, std::stop_token cancel)
{
    auto text = call("GET",
                     "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/messages?dir=b&limit=" +
                         std::to_string(limit) + "&from=" + url_encode(from),
                     {}, call_timeout, std::move(cancel));
    if (!text)
        return text.error();
    return parse_messages(text.value());
}

Result<std::string> MatrixClient::room_event(const std::string& room_id,
                                             const std::string& event_id)
{
    return call(
        "GET", "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/event/" + url_encode(event_id),
        {}, call_timeout);
}

Result<std::string> MatrixClient::download(const std::string& mxc_url, std::size_t max_bytes)
{
    constexpr std::string_view scheme = "mxc://";
    const auto slash = mxc_url.find('/', scheme.size());
    if (mxc_url.rfind(scheme, 0) != 0 || slash == std::string::npos || slash + 1 >= mxc_url.size())
        return Error{Error::Kind::invalid, 0, {}, "adresse de fichier invalide", {}};
    const auto server = mxc_url.substr(scheme.size(), slash - scheme.size());
    const auto media = mxc_url.substr(slash + 1);
    auto bytes = call(
        "GET", "/_matrix/client/v1/media/download/" + url_encode(server) + "/" + url_encode(media),
        {}, 120'000ms);
    if (bytes && bytes.value().size() > max_bytes)
        return Error{Error::Kind::invalid, 413, "M_TOO_LARGE", "fichier trop gros", {}};
    return bytes;
}

Result<std::string> MatrixClient::upload(std::string_view bytes, const std::string& content_type,
                                         const std::string& file_name)
{
    const auto refused = [](int code, std::string errcode, std::string message) {
        return Error{Error::Kind::invalid, code, std::move(errcode), std::move(message), {}};
    };
    if (bytes.empty())
        return refused(0, {}, "le fichier est vide");
    const auto limit_text =
        "le fichier dépasse " + std::to_string(max_upload_bytes / (1024 * 1024)) + " Mo";
    if (bytes.size() > max_upload_bytes)
        return refused(413, "M_TOO_LARGE", limit_text);
    std::string path = "/_matrix/media/v3/upload";
    if (!file_name.empty()) // none for ciphertext: the server need not know the name
        path += "?filename=" + url_encode(file_name);
    auto response = exchange("POST", path, std::string{bytes}, 120'000ms, {}, true,
                             content_type.empty() ? "application/octet-stream" : content_type);
    if (!response) {
        auto error = response.error();
        error.message = "le serveur Matrix est injoignable (" + error.message + ")";
        return error;
    }
    if (response.value().status < 200 || response.value().status >= 300) {
        auto error = error_from_response(response.value());
        // A homeserver's own limit (m.upload.size) may be lower than ours.
        if (error.code == 413 || error.errcode == "M_TOO_LARGE")
            error.message = "le serveur Matrix refuse un fichier de cette taille";
        else if (error.code == 429)
            error.message = "le serveur Matrix demande de patienter";
        else
            error.message = "le serveur Matrix a refusé le fichier (" + error.message + ")";
        return error;
    }
    auto mxc = string_at(parse_untrusted(response.value().body), "content_uri");
    if (!mxc.starts_with("mxc://"))
        return Error{
            Error::Kind::parse, 0, {}, "le serveur Matrix n'a pas donné l'adresse du fichier", {}};
    return mxc;
}

Result<std::string> MatrixClient::display_name(const std::string& user_id)
{
    auto text = call("GET", "/_matrix/client/v3/profile/" + url_encode(user_id) + "/displayname",
                     {}, call_timeout);
    if (!text)
        return text.error();
    return string_at(parse_untrusted(text.value()), "displayname");
}

Result<std::string> MatrixClient::state_event(const std::string& room_id, const std::string& type,
                                              const std::string& state_key)
{
    return call("GET",
                "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/state/" + url_encode(type) +
                    "/" + url_encode(state_key),
                {}, call_timeout);
}

namespace {

Result<json> parse_json_object(Result<std::string> text, std::string_view what)
{
    if (!text)
        return text.error();
    auto j = parse_untrusted(text.value());
    if (j.is_discarded() || !j.is_object())
        return Error{Error::Kind::parse, 0, {}, std::string{what} + ": not a JSON object", {}};
    return j;
}

} // namespace

namespace {

/// The JSON object of an answer, read by `parse` into its type.
template <class Parse>
auto parsed_object(Result<std::string> text, std::string_view what, Parse parse)
    -> Result<std::decay_t<decltype(parse(json{}))>>
{
    auto object = parse_json_object(std::move(text), what);
    if (!object)
        return object.error();
    return parse(object.value());
}

} // namespace

Result<crypto::KeysUploadResponse> MatrixClient::keys_upload(const json& body)
{
    return parsed_object(call("POST", "/_matrix/client/v3/keys/upload", body.dump(), call_timeout),
                         "/keys/upload", crypto::parse_keys_upload_response);
}

Result<crypto::KeysQueryResponse> MatrixClient::keys_query(const json& body)
{
    auto object = parse_json_object(
        call("POST", "/_matrix/client/v3/keys/query", body.dump(), call_timeout), "/keys/query");
    if (!object)
        return object.error();
    return crypto::parse_keys_query_response(object.value()); // an Error without device_keys
}

Result<crypto::KeysClaimResponse> MatrixClient::keys_claim(const json& body)
{
    return parsed_object(call("POST", "/_matrix/client/v3/keys/claim", body.dump(), call_timeout),
                         "/keys/claim", crypto::parse_keys_claim_response);
}

Result<crypto::KeysChanges> MatrixClient::keys_changes(const std::string& from,
                                                       const std::string& to)
{
    return parsed_object(
        call("GET",
             "/_matrix/client/v3/keys/changes?from=" + url_encode(from) + "&to=" + url_encode(to),
             {}, call_timeout),
        "/keys/changes", crypto::parse_keys_changes);
}

Result<Done> MatrixClient::send_to_device(const std::string& type, const std::string& txn_id,
                                          const json& messages)
{
    return send_to_device_serialized(type, txn_id, messages.dump());
}

Result<Done> MatrixClient::send_to_device_serialized(const std::string& type,
                                                     const std::string& txn_id,
                                                     std::string_view messages_json)
{
    std::string body;
    body.reserve(messages_json.size() + 16);
    body.append(R"({"messages":)").append(messages_json).append("}");
    auto sent = call(
        "PUT", "/_matrix/client/v3/sendToDevice/" + url_encode(type) + "/" + url_encode(txn_id),
        body, call_timeout);
    if (!sent)
        return sent.error();
    return Done{};
}

Result<json> MatrixClient::device_signing_upload(const json& body, const PasswordAuth& auth)
{
    constexpr std::string_view path = "/_matrix/client/v3/keys/device_signing/upload";
    auto response = exchange("POST", std::string{path}, body.dump(), call_timeout);
    if (!response)
        return response.error();
    // Replacing keys the server holds asks who we are (spec "User-interactive authentication"):
    // answered once with the account's password, in the session the 401 names.
    if (response.value().status == 401 && !auth.password.empty()) {
        const auto challenge = parse_untrusted(response.value().body, "UIA challenge");
        const auto session = string_at(challenge, "session");
        bool password_flow = false;
        if (const auto flows = challenge.find("flows");
            flows != challenge.end() && flows->is_array())
            for (const auto& flow : *flows) {
                const auto stages = flow.is_object() ? flow.find("stages") : flow.end();
                if (stages != flow.end() && stages->is_array())
                    for (const auto& stage : *stages)
                        password_flow = password_flow || stage == "m.login.password";
            }
        if (!session.empty() && password_flow) {
            auto answered = body;
            answered["auth"] = {{"type", "m.login.password"},
                                {"identifier", {{"type", "m.id.user"}, {"user", auth.user_id}}},
                                {"password", auth.password},
                                {"session", session}};
            response = exchange("POST", std::string{path}, answered.dump(), call_timeout);
            if (!response)
                return response.error();
        }
    }
    if (response.value().status < 200 || response.value().status >= 300)
        return error_from_response(response.value());
    return parse_json_object(std::move(response.value().body), "/keys/device_signing/upload");
}

Result<json> MatrixClient::signatures_upload(const json& body)
{
    return parse_json_object(
        call("POST", "/_matrix/client/v3/keys/signatures/upload", body.dump(), call_timeout),
        "/keys/signatures/upload");
}

Result<std::string> MatrixClient::create_direct_room(const std::string& user, bool encrypted)
{
    // Tchap's server gives an is_direct room its "direct" access rule (two members at most) by
    // itself; the preset gives the invited user the same power as the bot, as in a Tchap DM.
    nlohmann::json body{{"preset", "trusted_private_chat"},
                        {"is_direct", true},
                        {"invite", nlohmann::json::array({user})},
                        {"initial_state", nlohmann::json::array()}};
    if (encrypted)
        body["initial_state"].push_back({{"type", "m.room.encryption"},
                                         {"state_key", ""},
                                         {"content", {{"algorithm", "m.megolm.v1.aes-sha2"}}}});
    auto j = parse_json_object(
        call("POST", "/_matrix/client/v3/createRoom", body.dump(), call_timeout), "/createRoom");
    if (!j)
        return j.error();
    auto room_id = string_at(j.value(), "room_id");
    if (room_id.empty())
        return Error{Error::Kind::invalid, 0, {}, "/createRoom: no room_id", {}, false};
    return room_id;
}

Result<RoomMembers> MatrixClient::room_members(const std::string& room_id)
{
    auto j = parse_json_object(
        call("GET",
             "/_matrix/client/v3/rooms/" + url_encode(room_id) + "/members?not_membership=leave",
             {}, call_timeout),
        "/members");
    if (!j)
        return j.error();
    RoomMembers members;
    if (const auto chunk = j.value().find("chunk"); chunk != j.value().end() && chunk->is_array())
        for (const auto& event : *chunk) {
            if (!event.is_object() || string_at(event, "type") != "m.room.member")
                continue;
            const auto user = string_at(event, "state_key");
            const auto membership = string_at(object_or_empty(event, "content"), "membership");
            if (user.empty())
                continue;
            if (membership == "join")
                members.joined.push_back(user);
            else if (membership == "invite")
                members.invited.push_back(user);
        }
    return members;
}

} // namespace opalebot::bot
