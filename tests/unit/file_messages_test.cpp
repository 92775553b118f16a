#include "bot/file_messages.hpp"

#include "bot/crypto/attachment.hpp"
#include "bot/sync_loop.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "support/checks.hpp"
#include "support/fake_http_client.hpp"

using namespace opalebot::bot;
using nlohmann::json;
using opalebot::testing::contains;
using opalebot::testing::FakeHttpClient;

namespace {

const std::string base = "https://hs.test";

opalebot::OutgoingFile csv_export()
{
    return {"vague-6-2026-12-06.csv", "text/csv", "\xEF\xBB\xBFUAI;Nom\r\n0809001Z;Collège\r\n",
            std::nullopt, "EPLE de la vague 6"};
}

opalebot::OutgoingFile chart()
{
    opalebot::OutgoingFile png{"vague-6.png", "image/png", std::string{"\x89PNG\r\n\x1a\n big", 12},
                               std::nullopt,
                               "Kit de bascule de la vague 6 : 15 EPLE au-dessus de 30 %"};
    png.image = opalebot::OutgoingFile::Image{800, 500, std::string{"\x89PNG\r\n\x1a\n tiny", 13},
                                              320, 200};
    return png;
}

json parsed(const std::string& text)
{
    auto j = json::parse(text, nullptr, false);
    REQUIRE(j.is_object());
    return j;
}

} // namespace

TEST_SUITE("unit")
{
    TEST_CASE("a file in a plain room is an m.file with its url")
    {
        const auto file = csv_export();
        const auto content = file_message_content(file, {"mxc://hs.test/csv", std::nullopt}, {});
        CHECK(content["msgtype"] == "m.file");
        CHECK(content["body"] == "vague-6-2026-12-06.csv");
        CHECK(content["filename"] == "vague-6-2026-12-06.csv");
        CHECK(content["url"] == "mxc://hs.test/csv");
        CHECK_FALSE(content.contains("file"));
        CHECK(content["info"]["mimetype"] == "text/csv");
        CHECK(content["info"]["size"] == file.content.size());
        CHECK_FALSE(content["info"].contains("w"));
        CHECK(content[std::string{automated_marker}] == true);
    }

    TEST_CASE("an image in a plain room is an m.image with size and thumbnail")
    {
        const auto png = chart();
        const auto content = file_message_content(png, {"mxc://hs.test/big", std::nullopt},
                                                  UploadedMedia{"mxc://hs.test/tiny", {}});
        CHECK(content["msgtype"] == "m.image");
        CHECK(content["body"] == png.description); // the alt text
        CHECK(content["filename"] == "vague-6.png");
        CHECK(content["url"] == "mxc://hs.test/big");
        const auto& info = content["info"];
        CHECK(info["mimetype"] == "image/png");
        CHECK(info["size"] == 12);
        CHECK(info["w"] == 800);
        CHECK(info["h"] == 500);
        CHECK(info["thumbnail_url"] == "mxc://hs.test/tiny");
        CHECK(info["thumbnail_info"] ==
              json{{"mimetype", "image/png"}, {"size", 13}, {"w", 320}, {"h", 200}});
    }

    TEST_CASE("an image in an encrypted room carries file objects that decrypt back")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"content_uri":"mxc://hs.test/big"})");
        http.reply(200, R"({"content_uri":"mxc://hs.test/tiny"})");
        const auto png = chart();
        const auto text = upload_file_message(client, png, true, "$root", "$question");
        REQUIRE(static_cast<bool>(text));
        const auto content = parsed(text.value());
        CHECK(content["msgtype"] == "m.image");
        CHECK_FALSE(content.contains("url"));
        CHECK_FALSE(content["info"].contains("thumbnail_url"));
        CHECK(content["m.relates_to"]["rel_type"] == "m.thread");
        CHECK(content["m.relates_to"]["event_id"] == "$root");
        CHECK(content["m.relates_to"]["m.in_reply_to"]["event_id"] == "$question");

        REQUIRE(http.request_count() == 2);
        for (std::size_t i = 0; i < 2; ++i) {
            const auto sent = http.request(i);
            CHECK(sent.url == base + "/_matrix/media/v3/upload"); // no name for the server
            CHECK(sent.headers.at("Content-Type") == "application/octet-stream");
        }
        const auto file = crypto::parse_encrypted_file(content["file"]);
        REQUIRE(static_cast<bool>(file));
        CHECK(file.value().url == "mxc://hs.test/big");
        CHECK(content["file"]["v"] == "v2");
        CHECK(http.request(0).body != png.content);
        const auto plain = crypto::decrypt_attachment(http.request(0).body, file.value());
        REQUIRE(static_cast<bool>(plain));
        CHECK(plain.value() == png.content);

        const auto thumb = crypto::parse_encrypted_file(content["info"]["thumbnail_file"]);
        REQUIRE(static_cast<bool>(thumb));
        CHECK(thumb.value().url == "mxc://hs.test/tiny");
        CHECK(thumb.value().key != file.value().key); // a key of its own
        const auto thumb_plain = crypto::decrypt_attachment(http.request(1).body, thumb.value());
        REQUIRE(static_cast<bool>(thumb_plain));
        CHECK(thumb_plain.value() == png.image->thumbnail_png);
    }

    TEST_CASE("a csv in an encrypted room is an m.file whose file object decrypts back")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"content_uri":"mxc://hs.test/csv"})");
        const auto csv = csv_export();
        const auto text = upload_file_message(client, csv, true, "", "$question");
        REQUIRE(static_cast<bool>(text));
        const auto content = parsed(text.value());
        CHECK(content["msgtype"] == "m.file");
        CHECK(content["body"] == csv.name);
        CHECK_FALSE(content.contains("url"));
        CHECK(content["m.relates_to"] == json{{"m.in_reply_to", {{"event_id", "$question"}}}});
        const auto file = crypto::parse_encrypted_file(content["file"]);
        REQUIRE(static_cast<bool>(file));
        const auto plain = crypto::decrypt_attachment(http.request(0).body, file.value());
        REQUIRE(static_cast<bool>(plain));
        CHECK(plain.value() == csv.content);
    }

    TEST_CASE("file messages follow the text with stable txn ids and say when an upload fails")
    {
        FakeHttpClient http;
        MatrixClient client{http, base};
        http.reply(200, R"({"content_uri":"mxc://hs.test/csv"})");
        http.reply(413, R"({"errcode":"M_TOO_LARGE","error":"too large"})");
        const auto messages = file_messages(client, "!salon:hs.test", {csv_export(), chart()},
                                            false, "$root", "$question", "opb-text-0", 0);
        REQUIRE(messages.size() == 2);
        CHECK(messages[0].txn_id == txn_id_for("opb-text-0", 1));
        CHECK(messages[1].txn_id == txn_id_for("opb-text-0", 2));
        CHECK(messages[0].txn_id != messages[1].txn_id);
        for (const auto& m : messages) {
            CHECK(m.room_id == "!salon:hs.test");
            CHECK(m.event_type == "m.room.message");
            CHECK(m.priority == 0);
            CHECK(parsed(m.content)["m.relates_to"]["event_id"] == "$root");
        }
        CHECK(parsed(messages[0].content)["url"] == "mxc://hs.test/csv");
        const auto notice = parsed(messages[1].content);
        CHECK(notice["msgtype"] == "m.notice");
        const auto body = notice["body"].get<std::string>();
        CHECK(contains(body, "Je n'ai pas pu envoyer le fichier « vague-6.png »"));
        CHECK(contains(body, "refuse un fichier de cette taille"));
    }
}
