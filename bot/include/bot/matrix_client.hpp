#pragma once

#include "bot/crypto/messages.hpp"
#include "bot/events.hpp"
#include "bot/http_client.hpp"
#include "opalebot/result.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <mutex>
#include <stop_token>
#include <string>

namespace opalebot::bot {

/// What a login gives, and what the state store keeps so the bot never logs in again.
struct Session {
    std::string user_id;
    std::string device_id;
    std::string access_token;
};

/// How the bot names itself at login.
struct LoginIdentity {
    std::string user_id; ///< m.id.user
    std::string email;   ///< m.id.thirdparty, tried first (Tchap); falls back to user_id
};

/// The Matrix client-server API, one method per endpoint (notes/matrix.md §1). Thread-safe:
/// the sync thread and the sender each call it with their own transfers.
/// The members of a room that count for its room key.
struct RoomMembers {
    std::vector<std::string> joined;
    std::vector<std::string> invited;
};

class MatrixClient {
public:
    MatrixClient(HttpClient& http, std::string homeserver_url);

    void set_access_token(std::string token);

    /// POST /login with a password; `device_id` reuses a known device (soft logout).
    Result<Session> login(const LoginIdentity& who, const std::string& password,
                          const std::string& device_id, const std::string& device_name);
    /// GET /account/whoami: checks a stored or configured token.
    Result<Session> whoami();
    /// POST /logout: the access token in use and its device end on the server.
    Result<Done> logout();
    /// POST /user/{me}/filter; returns the filter id.
    Result<std::string> create_filter(const std::string& user_id, const nlohmann::json& filter);
    /// GET /sync; `since` empty for the first sync. `cancel` aborts the long-poll.
    Result<SyncBatch> sync(const std::string& since, const std::string& filter_id,
                           std::chrono::milliseconds timeout, const std::string& me,
                           std::stop_token cancel = {});
    /// PUT /rooms/{room}/send/{type}/{txn}; returns the event id. A retry with the same txn id
    /// returns the first event id (the server de-duplicates).
    Result<std::string> send(const std::string& room_id, const std::string& type,
                             const std::string& txn_id, const nlohmann::json& content,
                             std::stop_token cancel = {});
    Result<Done> join(const std::string& room_id);
    Result<Done> leave(const std::string& room_id);
    /// POST /createRoom: a direct chat with `user` (preset trusted_private_chat, is_direct, the
    /// user invited; encrypted with Megolm when `encrypted`, as Tchap's direct chats are). The
    /// new room's id.
    Result<std::string> create_direct_room(const std::string& user, bool encrypted);
    /// GET /rooms/{room}/messages backwards from `from`: the events a limited sync left out.
    Result<MessagesPage> messages(const std::string& room_id, const std::string& from, int limit,
                                  std::stop_token cancel = {});
    /// GET /rooms/{room}/event/{event} as JSON text.
    Result<std::string> room_event(const std::string& room_id, const std::string& event_id);
    /// The bytes of an mxc:// file (authenticated media, v1.11), at most `max_bytes`.
    Result<std::string> download(const std::string& mxc_url, std::size_t max_bytes);
    /// The largest file upload() sends; a homeserver may accept less (413 M_TOO_LARGE).
    static constexpr std::size_t max_upload_bytes = 20 * 1024 * 1024;
    /// POST /_matrix/media/v3/upload?filename=…: the bytes as they are, under `content_type`;
    /// returns the mxc:// address. Errors carry a French `message` for the user (too large,
    /// refused, unreachable).
    Result<std::string> upload(std::string_view bytes, const std::string& content_type,
                               const std::string& file_name);
    /// GET /profile/{user}/displayname; empty when the user has none.
    Result<std::string> display_name(const std::string& user_id);
    /// GET /rooms/{room}/state/{type}/{state_key} as JSON text.
    Result<std::string> state_event(const std::string& room_id, const std::string& type,
                                    const std::string& state_key = "");

    // End-to-end encryption (notes/matrix.md §8): the crypto engine builds the request bodies,
    // the answers come back typed (bot/crypto/messages.hpp).
    /// POST /keys/upload: device keys, one-time keys, fallback keys; returns the OTK counts.
    Result<crypto::KeysUploadResponse> keys_upload(const nlohmann::json& body);
    /// POST /keys/query {"device_keys": {"@u": []}}.
    Result<crypto::KeysQueryResponse> keys_query(const nlohmann::json& body);
    /// POST /keys/claim {"one_time_keys": {"@u": {"DEV": "signed_curve25519"}}}.
    Result<crypto::KeysClaimResponse> keys_claim(const nlohmann::json& body);
    /// GET /keys/changes?from=&to=: the users whose devices changed while the bot was away.
    Result<crypto::KeysChanges> keys_changes(const std::string& from, const std::string& to);
    /// PUT /sendToDevice/{type}/{txn} {"messages": {"@u": {"DEV": content}}}.
    Result<Done> send_to_device(const std::string& type, const std::string& txn_id,
                                const nlohmann::json& messages);
    /// The same with `messages` already serialised (the outbox keeps it so): a room key for a
    /// thousand devices is 1.4 MB that need not be parsed and written again (issue 15).
    Result<Done> send_to_device_serialized(const std::string& type, const std::string& txn_id,
                                           std::string_view messages_json);
    /// Who the bot is, for a server that asks again (user-interactive authentication).
    struct PasswordAuth {
        std::string user_id;
        std::string password; ///< empty: the question is not answered
    };
    /// POST /keys/device_signing/upload: the cross-signing keys. The first upload needs no
    /// UIA; replacing them (a new device signs the master key) asks for the password.
    Result<nlohmann::json> device_signing_upload(const nlohmann::json& body,
                                                 const PasswordAuth& auth = {});
    /// POST /keys/signatures/upload: the bot's device signed by its self-signing key.
    Result<nlohmann::json> signatures_upload(const nlohmann::json& body);
    /// GET /rooms/{room}/members?not_membership=leave: the joined and the invited user ids
    /// (lazy loading hides some in /sync).
    Result<RoomMembers> room_members(const std::string& room_id);

private:
    Result<std::string> call(const std::string& method, const std::string& path,
                             const std::string& body, std::chrono::milliseconds timeout,
                             std::stop_token cancel = {}, bool authenticated = true);
    /// The same, with the answer whatever its status.
    Result<Response> exchange(const std::string& method, const std::string& path,
                              const std::string& body, std::chrono::milliseconds timeout,
                              std::stop_token cancel = {}, bool authenticated = true,
                              const std::string& content_type = "application/json");

    HttpClient& http_;
    std::string base_;
    mutable std::mutex token_mutex_;
    std::string token_;
};

/// The Error of a non-2xx response: errcode, message, Retry-After / retry_after_ms, soft_logout.
Error error_from_response(const Response& response);

} // namespace opalebot::bot
