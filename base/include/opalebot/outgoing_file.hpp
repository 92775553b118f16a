#pragma once

#include <optional>
#include <string>

namespace opalebot {

/// A file the bot sends with its answer: a chart (PNG) or an export (CSV). The commands make it
/// (commands::Reply::files); the transport uploads it (encrypted in an encrypted room) and sends
/// it after the text, or the console writes it to a folder and prints its path. One shape for
/// both, here because `bot` never sees `commands`.
struct OutgoingFile {
    std::string name;      ///< "vague-6.png", shown to the user
    std::string mime_type; ///< "image/png", "text/csv"
    std::string content;   ///< the bytes
    /// Images only (m.image): the picture's size, and a smaller PNG for the timeline.
    struct Image {
        int width = 0;
        int height = 0;
        std::string thumbnail_png;
        int thumbnail_width = 0;
        int thumbnail_height = 0;
    };
    std::optional<Image> image;
    /// What the file shows, as text (the message body of an m.image: its alt text).
    std::string description;
};

} // namespace opalebot
