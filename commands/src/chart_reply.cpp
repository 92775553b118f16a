#include "commands/chart_reply.hpp"

#include "knowledge/text.hpp"
#include "opalebot/log.hpp"

namespace opalebot::commands {

std::optional<std::string_view> chart_request(std::string_view args)
{
    args = trim(args);
    const auto space = args.find_last_of(" \t\n");
    const auto last = space == std::string_view::npos ? args : args.substr(space + 1);
    if (knowledge::fold(last) != "graphique")
        return std::nullopt;
    return trim(args.substr(0, args.size() - last.size()));
}

Reply chart_reply(std::string markdown, const Chart& chart, std::string file_name)
{
    Reply reply;
    const auto rendered = render_chart(chart);
    if (!rendered) {
        log::get("commands")->error("chart {} not drawn: {}", file_name, rendered.error().message);
        reply.markdown = std::move(markdown) +
                         "\n\nLe graphique n'a pas pu être dessiné (erreur notée dans le journal).";
        return reply;
    }
    const auto& r = rendered.value();
    OutgoingFile file;
    file.name = std::move(file_name);
    file.mime_type = "image/png";
    file.content = r.png;
    file.image = OutgoingFile::Image{r.width, r.height, r.thumbnail_png, r.thumbnail_width,
                                     r.thumbnail_height};
    file.description = describe_chart(chart);
    reply.markdown = std::move(markdown);
    reply.files.push_back(std::move(file));
    return reply;
}

} // namespace opalebot::commands
