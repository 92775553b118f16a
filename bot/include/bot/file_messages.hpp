#pragma once

#include "bot/crypto/attachment.hpp"
#include "bot/matrix_client.hpp"
#include "bot/state_store.hpp"
#include "opalebot/outgoing_file.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

namespace opalebot::bot {

/// Where an uploaded file is: its mxc address, and in an encrypted room what opens it.
struct UploadedMedia {
    std::string url; ///< mxc://
    std::optional<crypto::EncryptedFile> encrypted;
};

/// The content of the m.image (an image with its thumbnail) or m.file event that shows `file`,
/// without relation: `url` and `info.thumbnail_url` in clear, `file` and `info.thumbnail_file`
/// when encrypted (spec "Sending encrypted attachments").
nlohmann::json file_message_content(const OutgoingFile& file, const UploadedMedia& media,
                                    const std::optional<UploadedMedia>& thumbnail);

/// `content` put in `thread` (when not empty) replying to `reply_to` (when not empty), as every
/// message of the bot (notes/matrix.md §5).
void add_relation(nlohmann::json& content, const std::string& thread, const std::string& reply_to);

/// Uploads `file` (and an image's thumbnail, apart), each encrypted with a key of its own first
/// when `encrypted`, and returns the content of the event that shows it (JSON text).
Result<std::string> upload_file_message(MatrixClient& client, const OutgoingFile& file,
                                        bool encrypted, const std::string& thread,
                                        const std::string& reply_to);

/// The outbox messages that send `files` after the text queued as `text_txn_id`, in the same
/// thread and reply: the n-th file's txn id is txn_id_for(text_txn_id, n), the same after a
/// restart. A file that could not be uploaded becomes a French notice saying so, never nothing.
///
/// The upload happens here, before the message is queued, rather than by the sender from
/// stored bytes: the outbox holds events ready to send (in an encrypted room already Megolm-
/// encrypted with the batch, notes/matrix.md §6), and the sender cannot encrypt. A crash before
/// the batch commits leaves at most an unused file on the server: the batch is handled again and
/// its events queued once; after the commit the stored events are sent once by their txn ids.
std::vector<OutgoingMessage> file_messages(MatrixClient& client, const std::string& room_id,
                                           const std::vector<OutgoingFile>& files, bool encrypted,
                                           const std::string& thread, const std::string& reply_to,
                                           const std::string& text_txn_id, int priority);

} // namespace opalebot::bot
