#include "bot/file_messages.hpp"

#include "bot/sync_loop.hpp"
#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

namespace opalebot::bot {
namespace {

using nlohmann::json;

/// The bytes uploaded as they are in a plain room, or encrypted with a fresh key.
Result<UploadedMedia> upload_media(MatrixClient& client, std::string_view bytes,
                                   const std::string& mime_type, const std::string& name,
                                   bool encrypted)
{
    if (!encrypted) {
        auto url = client.upload(bytes, mime_type, name);
        if (!url)
            return url.error();
        return UploadedMedia{url.value(), std::nullopt};
    }
    auto sealed = crypto::encrypt_attachment(bytes);
    if (!sealed)
        return Error{Error::Kind::invalid, 0, {}, "le chiffrement du fichier a échoué", {}};
    // The server sees only ciphertext: neither its type nor its name.
    auto url = client.upload(sealed.value().ciphertext, "application/octet-stream", {});
    if (!url)
        return url.error();
    auto file = sealed.value().file;
    file.url = url.value();
    return UploadedMedia{url.value(), std::move(file)};
}

void put_media(json& object, const char* url_key, const char* file_key, const UploadedMedia& media)
{
    if (media.encrypted)
        object[file_key] = crypto::to_json(*media.encrypted);
    else
        object[url_key] = media.url;
}

} // namespace

json file_message_content(const OutgoingFile& file, const UploadedMedia& media,
                          const std::optional<UploadedMedia>& thumbnail)
{
    json info{{"mimetype", file.mime_type}, {"size", file.content.size()}};
    const bool image = file.image.has_value();
    if (image) {
        info["w"] = file.image->width;
        info["h"] = file.image->height;
        if (thumbnail) {
            info["thumbnail_info"] = {{"mimetype", "image/png"},
                                      {"size", file.image->thumbnail_png.size()},
                                      {"w", file.image->thumbnail_width},
                                      {"h", file.image->thumbnail_height}};
            put_media(info, "thumbnail_url", "thumbnail_file", *thumbnail);
        }
    }
    json content{{"msgtype", image ? "m.image" : "m.file"},
                 {"body", image && !file.description.empty() ? file.description : file.name},
                 {"filename", file.name},
                 {"info", std::move(info)},
                 {"m.mentions", json::object()},
                 {std::string{automated_marker}, true}};
    put_media(content, "url", "file", media);
    return content;
}

void add_relation(json& content, const std::string& thread, const std::string& reply_to)
{
    if (!thread.empty())
        content["m.relates_to"] = {
            {"rel_type", "m.thread"},
            {"event_id", thread},
            {"is_falling_back", true},
            {"m.in_reply_to", {{"event_id", reply_to.empty() ? thread : reply_to}}}};
    else if (!reply_to.empty())
        content["m.relates_to"] = {{"m.in_reply_to", {{"event_id", reply_to}}}};
}

Result<std::string> upload_file_message(MatrixClient& client, const OutgoingFile& file,
                                        bool encrypted, const std::string& thread,
                                        const std::string& reply_to)
{
    auto media = upload_media(client, file.content, file.mime_type, file.name, encrypted);
    if (!media)
        return media.error();
    std::optional<UploadedMedia> thumbnail;
    if (file.image && !file.image->thumbnail_png.empty()) {
        // Encrypted apart, with its own key (spec: thumbnail_file is a file object of its own).
        auto thumb = upload_media(client, file.image->thumbnail_png, "image/png",
                                  "miniature-" + file.name, encrypted);
        if (!thumb)
            return thumb.error();
        thumbnail = std::move(thumb.value());
    }
    auto content = file_message_content(file, media.value(), thumbnail);
    add_relation(content, thread, reply_to);
    return content.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<OutgoingMessage> file_messages(MatrixClient& client, const std::string& room_id,
                                           const std::vector<OutgoingFile>& files, bool encrypted,
                                           const std::string& thread, const std::string& reply_to,
                                           const std::string& text_txn_id, int priority)
{
    const auto logger = log::get("bot.sync");
    std::vector<OutgoingMessage> messages;
    int n = 0;
    for (const auto& file : files) {
        OutgoingMessage out;
        out.txn_id = txn_id_for(text_txn_id, ++n);
        out.room_id = room_id;
        out.priority = priority;
        out.source_event = reply_to;
        auto content = upload_file_message(client, file, encrypted, thread, reply_to);
        if (content) {
            out.content = std::move(content.value());
        } else {
            logger->warn("file {} of {} not uploaded: {} {} {}", n, text_txn_id,
                         content.error().code, content.error().errcode, content.error().message);
            out.content = notice_content("Je n'ai pas pu envoyer le fichier « " + file.name +
                                             " » : " + content.error().message +
                                             ". Réessayez dans un moment.",
                                         {}, thread, reply_to);
        }
        messages.push_back(std::move(out));
    }
    return messages;
}

} // namespace opalebot::bot
