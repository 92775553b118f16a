#include "bot/matrix_client.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using namespace std::chrono_literals;
using nlohmann::json;
using opalebot::Error;
using opalebot::testing::FakeHttpClient;

namespace {

const std::string base = "https://hs.test";

Response response(long status, std::string body, std::map<std::string, std::string> headers = {})
{
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

json body_of(const Request& request)
{
    const auto j = json::parse(request.body, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
}

std::string login_ok(const std::string& device = "DEVICE1")
{
    return json{{"user_id", "@opale:hs.test"}, {"device_id", device}, {"access_token", "syt_new"}}
        .dump();
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("url_encode keeps unreserved characters and encodes the rest")
    {
        CHECK(url_encode("!room:hs.test") == "%21room%3Ahs.test");
        CHECK(url_encode("aZ09-_.~") == "aZ09-_.~");
        CHECK(url_encode("$event/id?x=1&y") == "%24event%2Fid%3Fx%3D1%26y");
        CHECK(url_encode("é ") == "%C3%A9%20");
        CHECK(url_encode("") == "");
    }

    TEST_CASE("error_from_response reads errcode message and soft_logout")
    {
        const auto error = error_from_response(response(
            401, R"({"errcode":"M_UNKNOWN_TOKEN","error":"Token expired","soft_logout":true})"));
        CHECK(error.kind == Error::Kind::matrix);
        CHECK(error.code == 401);
        CHECK(error.errcode == "M_UNKNOWN_TOKEN");
        CHECK(error.message == "Token expired");
        CHECK(error.soft_logout);
        CHECK_FALSE(error.retry_after.has_value());

        const auto hard = error_from_response(response(401, R"({"errcode":"M_UNKNOWN_TOKEN"})"));
        CHECK_FALSE(hard.soft_logout);
    }

    TEST_CASE("error_from_response of a body that is not JSON is an http error")
    {
        const auto error = error_from_response(response(502, "<html>Bad Gateway</html>"));
        CHECK(error.kind == Error::Kind::http);
        CHECK(error.code == 502);
        CHECK(error.errcode.empty());
        CHECK_FALSE(error.retry_after.has_value());
    }

    TEST_CASE("error_from_response takes the larger of Retry-After and retry_after_ms")
    {
        const std::string limited = R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500})";
        SUBCASE("the header is larger")
        {
            const auto e = error_from_response(response(429, limited, {{"retry-after", "2"}}));
            REQUIRE(e.retry_after.has_value());
            CHECK(*e.retry_after == 2000ms);
            CHECK(e.errcode == "M_LIMIT_EXCEEDED");
        }
        SUBCASE("the body is larger")
        {
            const auto e = error_from_response(
                response(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":5000})",
                         {{"retry-after", "2"}}));
            REQUIRE(e.retry_after.has_value());
            CHECK(*e.retry_after == 5000ms);
        }
        SUBCASE("only the body")
        {
            const auto e = error_from_response(response(429, limited));
            REQUIRE(e.retry_after.has_value());
            CHECK(*e.retry_after == 1500ms);
        }
        SUBCASE("only the header and no JSON body")
        {
            const auto e = error_from_response(response(429, "", {{"retry-after", "3"}}));
            REQUIRE(e.retry_after.has_value());
            CHECK(*e.retry_after == 3000ms);
        }
        SUBCASE("a header that is not a number of seconds is ignored")
        {
            const auto e = error_from_response(
                response(429, limited, {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}));
            REQUIRE(e.retry_after.has_value());
            CHECK(*e.retry_after == 1500ms);
        }
    }

    TEST_CASE("replacing the cross-signing keys answers the password question once")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_tok");
        const json keys = {{"master_key", {{"user_id", "@opale:hs.test"}}}};
        const auto challenge = R"({"session":"uia-1","flows":[{"stages":["m.login.password"]}],
                                   "params":{}})";
        http.reply(401, challenge);
        http.reply(200, "{}");
        CHECK(static_cast<bool>(
            client.device_signing_upload(keys, {"@opale:hs.test", "mot de passe"})));
        REQUIRE(http.request_count() == 2);
        CHECK_FALSE(body_of(http.request(0)).contains("auth"));
        const auto auth = body_of(http.request(1)).at("auth");
        CHECK(auth.at("type") == "m.login.password");
        CHECK(auth.at("session") == "uia-1");
        CHECK(auth.at("password") == "mot de passe");
        CHECK(auth.at("identifier").at("user") == "@opale:hs.test");
        CHECK(body_of(http.request(1)).at("master_key") == keys.at("master_key"));

        // a wrong password is an error, not a loop; without a password nothing is answered
        http.forget_requests();
        http.reply(401, challenge);
        http.reply(401, R"({"errcode":"M_FORBIDDEN","error":"Invalid password"})");
        const auto refused = client.device_signing_upload(keys, {"@opale:hs.test", "faux"});
        REQUIRE_FALSE(static_cast<bool>(refused));
        CHECK(refused.error().code == 401);
        CHECK(http.request_count() == 2);
        http.forget_requests();
        http.reply(401, challenge);
        CHECK_FALSE(static_cast<bool>(client.device_signing_upload(keys)));
        CHECK(http.request_count() == 1);
    }

    TEST_CASE("the encryption endpoints carry the engine's bodies")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_tok");
        http.reply(200, R"({"one_time_key_counts":{"signed_curve25519":50}})");
        http.reply(200, R"({"device_keys":{}})");
        http.reply(200, R"({"one_time_keys":{}})");
        http.reply(200, R"({"changed":["@a:hs.test"],"left":[]})");
        http.reply(200, "{}");
        http.reply(200, R"({"chunk":[
            {"type":"m.room.member","state_key":"@a:hs.test","content":{"membership":"join"}},
            {"type":"m.room.member","state_key":"@b:hs.test","content":{"membership":"invite"}},
            {"type":"m.room.member","state_key":"@c:hs.test","content":{"membership":"ban"}},
            {"type":"m.room.member","state_key":"@opale:hs.test","content":{"membership":"join"}},
            {"type":"m.room.member","content":{"membership":"join"}}, 7]})");
        http.reply(200, "[]"); // not an object: a parse error, never a crash
        const auto upload = client.keys_upload({{"device_keys", json::object()}});
        REQUIRE(static_cast<bool>(upload));
        CHECK(upload.value().signed_curve25519_count() == 50);
        CHECK(static_cast<bool>(
            client.keys_query({{"device_keys", {{"@a:hs.test", json::array()}}}})));
        CHECK(static_cast<bool>(client.keys_claim({{"one_time_keys", json::object()}})));
        const auto changes = client.keys_changes("s1", "s2");
        REQUIRE(static_cast<bool>(changes));
        CHECK(changes.value().changed == std::vector<std::string>{"@a:hs.test"});
        CHECK(static_cast<bool>(client.send_to_device(
            "m.room.encrypted", "txn 1", {{"@a:hs.test", {{"DEV", {{"ciphertext", "x"}}}}}})));
        const auto members = client.room_members("!salon:hs.test");
        REQUIRE(static_cast<bool>(members));
        CHECK(members.value().joined == std::vector<std::string>{"@a:hs.test", "@opale:hs.test"});
        CHECK(members.value().invited == std::vector<std::string>{"@b:hs.test"});
        const auto broken = client.signatures_upload(json::object());
        REQUIRE_FALSE(static_cast<bool>(broken));
        CHECK(broken.error().kind == Error::Kind::parse);
        REQUIRE(http.request_count() == 7);
        CHECK(http.request(0).url == base + "/_matrix/client/v3/keys/upload");
        CHECK(http.request(1).url == base + "/_matrix/client/v3/keys/query");
        CHECK(body_of(http.request(1))["device_keys"].contains("@a:hs.test"));
        CHECK(http.request(2).url == base + "/_matrix/client/v3/keys/claim");
        CHECK(http.request(3).method == "GET");
        CHECK(http.request(3).url == base + "/_matrix/client/v3/keys/changes?from=s1&to=s2");
        CHECK(http.request(4).method == "PUT");
        CHECK(http.request(4).url ==
              base + "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn%201");
        CHECK(body_of(http.request(4))["messages"]["@a:hs.test"]["DEV"]["ciphertext"] == "x");
        CHECK(http.request(5).url ==
              base + "/_matrix/client/v3/rooms/%21salon%3Ahs.test/members?not_membership=leave");
        CHECK(http.request(6).url == base + "/_matrix/client/v3/keys/signatures/upload");
        CHECK(http.request(0).headers.at("Authorization") == "Bearer syt_tok");
    }

    TEST_CASE("login tries the email first with the stored device id")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, login_ok("KEEPME"));
        const auto session =
            client.login({"@opale:hs.test", "opale@ac-lille.fr"}, "pw", "KEEPME", "opale-bot");
        REQUIRE(static_cast<bool>(session));
        CHECK(session.value().user_id == "@opale:hs.test");
        CHECK(session.value().device_id == "KEEPME");
        CHECK(session.value().access_token == "syt_new");
        REQUIRE(http.request_count() == 1);
        const auto request = http.request(0);
        CHECK(request.method == "POST");
        CHECK(request.url == base + "/_matrix/client/v3/login");
        const auto body = body_of(request);
        CHECK(body["type"] == "m.login.password");
        CHECK(body["identifier"] == json{{"type", "m.id.thirdparty"},
                                         {"medium", "email"},
                                         {"address", "opale@ac-lille.fr"}});
        CHECK(body["password"] == "pw");
        CHECK(body["device_id"] == "KEEPME");
        CHECK(body["initial_device_display_name"] == "opale-bot");
    }

    TEST_CASE("login falls back to the user id when the server refuses email identifiers")
    {
        for (const char* errcode : {"M_UNKNOWN", "M_UNRECOGNIZED"}) {
            CAPTURE(errcode);
            FakeHttpClient http;
            MatrixClient client{http, base};
            http.reply(
                400, json{{"errcode", errcode}, {"error", "Unsupported login identifier"}}.dump());
            http.reply(200, login_ok("DEV9"));
            const auto session =
                client.login({"@opale:hs.test", "opale@ac-lille.fr"}, "pw", "DEV9", "opale-bot");
            REQUIRE(static_cast<bool>(session));
            CHECK(session.value().device_id == "DEV9");
            REQUIRE(http.request_count() == 2);
            const auto second = body_of(http.request(1));
            CHECK(second["identifier"] == json{{"type", "m.id.user"}, {"user", "@opale:hs.test"}});
            CHECK(second["device_id"] == "DEV9"); // the same device on both attempts
        }
    }

    TEST_CASE("login does not fall back on a wrong password")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(403, R"({"errcode":"M_FORBIDDEN","error":"Invalid password"})");
        const auto session =
            client.login({"@opale:hs.test", "opale@ac-lille.fr"}, "bad", "", "opale-bot");
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(session.error().errcode == "M_FORBIDDEN");
        CHECK(http.request_count() == 1);
    }

    TEST_CASE("login without email uses m.id.user and sends no device_id for a new device")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, login_ok());
        const auto session = client.login({"@opale:hs.test", ""}, "pw", "", "opale-bot");
        REQUIRE(static_cast<bool>(session));
        REQUIRE(http.request_count() == 1);
        const auto body = body_of(http.request(0));
        CHECK(body["identifier"] == json{{"type", "m.id.user"}, {"user", "@opale:hs.test"}});
        CHECK_FALSE(body.contains("device_id"));
    }

    TEST_CASE("login without an access token in the response is an error")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"user_id":"@opale:hs.test","device_id":"D"})");
        const auto session = client.login({"@opale:hs.test", ""}, "pw", "", "opale-bot");
        REQUIRE_FALSE(static_cast<bool>(session));
        CHECK(session.error().kind == Error::Kind::parse);
    }

    TEST_CASE("whoami sends the token in the Authorization header only")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_secret");
        http.reply(200, R"({"user_id":"@opale:hs.test","device_id":"DEV"})");
        const auto me = client.whoami();
        REQUIRE(static_cast<bool>(me));
        CHECK(me.value().user_id == "@opale:hs.test");
        CHECK(me.value().device_id == "DEV");
        REQUIRE(http.request_count() == 1);
        const auto request = http.request(0);
        CHECK(request.method == "GET");
        CHECK(request.url == base + "/_matrix/client/v3/account/whoami");
        CHECK(request.headers.at("Authorization") == "Bearer syt_secret");
        CHECK(request.url.find("syt_secret") == std::string::npos);
    }

    TEST_CASE("whoami passes a 401 on as a matrix error")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(401, R"({"errcode":"M_UNKNOWN_TOKEN","soft_logout":true})");
        const auto me = client.whoami();
        REQUIRE_FALSE(static_cast<bool>(me));
        CHECK(me.error().errcode == "M_UNKNOWN_TOKEN");
        CHECK(me.error().soft_logout);
    }

    TEST_CASE("sync puts timeout since and filter in the URL and the token in the header")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_secret");
        http.reply(200, R"({"next_batch":"s2"})");
        http.reply(200, R"({"next_batch":"s3"})");

        const auto first = client.sync("", "7", 0ms, "@opale:hs.test");
        REQUIRE(static_cast<bool>(first));
        CHECK(first.value().next_batch == "s2");
        const auto second = client.sync("s2_1/x", "7", 30'000ms, "@opale:hs.test");
        REQUIRE(static_cast<bool>(second));
        CHECK(second.value().next_batch == "s3");

        REQUIRE(http.request_count() == 2);
        const auto initial = http.request(0);
        CHECK(initial.method == "GET");
        CHECK(initial.url.rfind(base + "/_matrix/client/v3/sync?", 0) == 0);
        CHECK(initial.url.find("timeout=0") != std::string::npos);
        CHECK(initial.url.find("filter=7") != std::string::npos);
        CHECK(initial.url.find("since=") == std::string::npos);
        const auto next = http.request(1);
        CHECK(next.url.find("timeout=30000") != std::string::npos);
        CHECK(next.url.find("since=s2_1%2Fx") != std::string::npos);
        CHECK(next.timeout > 30'000ms); // curl waits longer than the server's long-poll
        for (const auto& request : http.requests()) {
            CHECK(request.headers.at("Authorization") == "Bearer syt_secret");
            CHECK(request.url.find("syt_secret") == std::string::npos);
            CHECK(request.url.find("access_token") == std::string::npos);
        }
    }

    TEST_CASE("sync returns a transport error and an unparsable body as errors")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.fail();
        http.reply(200, "not json");
        const auto dropped = client.sync("s1", "", 30'000ms, "@opale:hs.test");
        REQUIRE_FALSE(static_cast<bool>(dropped));
        CHECK(dropped.error().kind == Error::Kind::transport);
        const auto garbage = client.sync("s1", "", 30'000ms, "@opale:hs.test");
        REQUIRE_FALSE(static_cast<bool>(garbage));
        CHECK(garbage.error().kind == Error::Kind::parse);
        CHECK(http.request(0).url.find("filter=") == std::string::npos); // no filter id: none sent
    }

    TEST_CASE("send PUTs the content on an encoded room and txn path")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_secret");
        http.reply(200, R"({"event_id":"$sent1"})");
        const json content{{"msgtype", "m.notice"}, {"body", "réponse"}};
        const auto sent = client.send("!salon:hs.test", "m.room.message", "opb-1/2", content);
        REQUIRE(static_cast<bool>(sent));
        CHECK(sent.value() == "$sent1");
        REQUIRE(http.request_count() == 1);
        const auto request = http.request(0);
        CHECK(request.method == "PUT");
        CHECK(request.url ==
              base + "/_matrix/client/v3/rooms/%21salon%3Ahs.test/send/m.room.message/opb-1%2F2");
        CHECK(body_of(request) == content);
        CHECK(request.headers.at("Content-Type") == "application/json");
        CHECK(request.headers.at("Authorization") == "Bearer syt_secret");
    }

    TEST_CASE("send returns the 429 error with its delay")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":700})");
        http.reply(200, "{}");
        const auto limited = client.send("!r:hs.test", "m.room.message", "t", json::object());
        REQUIRE_FALSE(static_cast<bool>(limited));
        CHECK(limited.error().code == 429);
        REQUIRE(limited.error().retry_after.has_value());
        CHECK(*limited.error().retry_after == 700ms);
        const auto no_id = client.send("!r:hs.test", "m.room.message", "t", json::object());
        REQUIRE_FALSE(static_cast<bool>(no_id)); // 200 without event_id
        CHECK(no_id.error().kind == Error::Kind::parse);
    }

    TEST_CASE("join and leave POST on the encoded room")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"room_id":"!r:hs.test"})");
        http.reply(403, R"({"errcode":"M_FORBIDDEN"})");
        CHECK(static_cast<bool>(client.join("!r:hs.test")));
        const auto left = client.leave("!r:hs.test");
        REQUIRE_FALSE(static_cast<bool>(left));
        CHECK(left.error().errcode == "M_FORBIDDEN");
        REQUIRE(http.request_count() == 2);
        CHECK(http.request(0).method == "POST");
        CHECK(http.request(0).url == base + "/_matrix/client/v3/rooms/%21r%3Ahs.test/join");
        CHECK(http.request(1).url == base + "/_matrix/client/v3/rooms/%21r%3Ahs.test/leave");
    }

    TEST_CASE("create_filter POSTs to the encoded user and returns the filter id")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"filter_id":"12"})");
        const auto id = client.create_filter("@opale:hs.test", json{{"presence", json::object()}});
        REQUIRE(static_cast<bool>(id));
        CHECK(id.value() == "12");
        CHECK(http.request(0).url == base + "/_matrix/client/v3/user/%40opale%3Ahs.test/filter");
    }

    TEST_CASE("error_from_response refuses a negative or overflowing delay")
    {
        const auto negative = error_from_response(
            response(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":-4000})"));
        CHECK((!negative.retry_after || *negative.retry_after >= 0ms));
        // 10^16 s: seconds * 1000 overflows a long long (UBSan: signed overflow).
        const auto huge =
            error_from_response(response(429, "", {{"retry-after", "10000000000000000"}}));
        CHECK((!huge.retry_after || *huge.retry_after >= 0ms));
    }

    TEST_CASE("upload posts the raw bytes with their type and returns the mxc address")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        client.set_access_token("syt_tok");
        http.reply(200, R"({"content_uri":"mxc://hs.test/AbCd"})");
        const auto mxc = client.upload(std::string{"a;b\r\n\0x", 7}, "text/csv", "vague 6.csv");
        REQUIRE(static_cast<bool>(mxc));
        CHECK(mxc.value() == "mxc://hs.test/AbCd");
        const auto sent = http.request(0);
        CHECK(sent.method == "POST");
        CHECK(sent.url == base + "/_matrix/media/v3/upload?filename=vague%206.csv");
        CHECK(sent.headers.at("Content-Type") == "text/csv");
        CHECK(sent.headers.at("Authorization") == "Bearer syt_tok");
        CHECK(sent.body == std::string{"a;b\r\n\0x", 7});
    }

    TEST_CASE("upload refuses an empty or oversized file without calling the server")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        const auto empty = client.upload("", "text/csv", "vide.csv");
        REQUIRE_FALSE(static_cast<bool>(empty));
        CHECK(empty.error().message == "le fichier est vide");
        const std::string big(MatrixClient::max_upload_bytes + 1, 'x');
        const auto too_big = client.upload(big, "image/png", "gros.png");
        REQUIRE_FALSE(static_cast<bool>(too_big));
        CHECK(too_big.error().errcode == "M_TOO_LARGE");
        CHECK(too_big.error().message.find("Mo") != std::string::npos);
        CHECK(http.request_count() == 0);
    }

    TEST_CASE("upload errors say in French what the server did")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(413, R"({"errcode":"M_TOO_LARGE","error":"Upload request body is too large"})");
        http.reply(403, R"({"errcode":"M_FORBIDDEN","error":"no uploads"})");
        http.fail();
        http.reply(200, R"({"nothing":"here"})");
        http.reply(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":2000})");

        const auto too_large = client.upload("x", "text/csv", "a.csv");
        REQUIRE_FALSE(static_cast<bool>(too_large));
        CHECK(too_large.error().errcode == "M_TOO_LARGE");
        CHECK(too_large.error().message == "le serveur Matrix refuse un fichier de cette taille");

        const auto forbidden = client.upload("x", "text/csv", "a.csv");
        REQUIRE_FALSE(static_cast<bool>(forbidden));
        CHECK(forbidden.error().code == 403);
        CHECK(forbidden.error().message == "le serveur Matrix a refusé le fichier (no uploads)");

        const auto unreachable = client.upload("x", "text/csv", "a.csv");
        REQUIRE_FALSE(static_cast<bool>(unreachable));
        CHECK(unreachable.error().kind == Error::Kind::transport);
        CHECK(unreachable.error().message.starts_with("le serveur Matrix est injoignable"));

        const auto no_uri = client.upload("x", "text/csv", "a.csv");
        REQUIRE_FALSE(static_cast<bool>(no_uri));
        CHECK(no_uri.error().kind == Error::Kind::parse);

        const auto limited = client.upload("x", "text/csv", "a.csv");
        REQUIRE_FALSE(static_cast<bool>(limited));
        CHECK(limited.error().code == 429);
        REQUIRE(limited.error().retry_after.has_value());
        CHECK(*limited.error().retry_after == 2000ms);
    }
}
