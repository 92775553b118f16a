#include "bot/console.hpp"

#include "bot/markdown.hpp"
#include "opalebot/text_hygiene.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <istream>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

namespace opalebot::bot {
namespace {

void print(std::ostream& out, const std::optional<std::string>& markdown)
{
    out << (markdown ? markdown_to_text(*markdown) : std::string{"(pas de réponse)"}) << "\n\n"
        << std::flush;
}

/// One message, or nothing for a blank line.
std::optional<std::string> message_of(std::string line)
{
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
        return std::nullopt;
    return valid_utf8(line); // replies echo it, and the terminal would show raw bytes (issue 15)
}

/// The lines of `in`, read on a thread of their own so that the console keeps ticking while
/// nobody types.
class LineReader {
public:
    explicit LineReader(std::istream& in)
        : thread_{[this, &in] {
              for (std::string line; std::getline(in, line);)
                  push(std::move(line));
              const std::lock_guard lock{mutex_};
              ended_ = true;
              ready_.notify_one();
          }}
    {}

    /// Waits up to `timeout` for lines; returns those read, and false once the input ended and
    /// every line was taken.
    bool take(std::chrono::milliseconds timeout, std::deque<std::string>& lines)
    {
        std::unique_lock lock{mutex_};
        ready_.wait_for(lock, timeout, [this] { return ended_ || !lines_.empty(); });
        lines = std::exchange(lines_, {});
        return !(ended_ && lines.empty());
    }

private:
    void push(std::string line)
    {
        const std::lock_guard lock{mutex_};
        lines_.push_back(std::move(line));
        ready_.notify_one();
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> lines_;
    bool ended_ = false;
    std::jthread thread_; ///< last: it starts once the members it uses exist
};

/// `name` as a file name of its own: no folder, no control character, never "." or "..".
std::string safe_file_name(std::string_view name)
{
    if (const auto slash = name.find_last_of("/\\"); slash != std::string_view::npos)
        name.remove_prefix(slash + 1);
    std::string safe;
    for (const char c : name)
        safe += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '_' : c;
    if (safe.find_first_not_of('.') == std::string::npos)
        return "fichier";
    return safe;
}

} // namespace

Result<std::filesystem::path> save_console_file(const std::filesystem::path& folder,
                                                std::string_view name, std::string_view content)
{
    const auto failed = [&folder](const std::string& why) {
        return Error{Error::Kind::storage,
                     0,
                     {},
                     "impossible d'écrire dans " + folder.string() + " (" + why + ")",
                     {}};
    };
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error)
        return failed(error.message());
    const std::filesystem::path wanted = safe_file_name(name);
    const auto stem = wanted.stem().string();
    const auto extension = wanted.extension().string();
    for (int n = 1; n < 1000; ++n) {
        const auto path =
            folder / (n == 1 ? wanted.string() : stem + "-" + std::to_string(n) + extension);
        if (std::filesystem::exists(path, error))
            continue;
        std::ofstream out{path, std::ios::binary};
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.close();
        if (!out)
            return failed("écriture refusée");
        return path;
    }
    return failed("trop de fichiers du même nom");
}

void run_console(std::istream& in, std::ostream& out, const MessageHandler& handle,
                 const ConsoleTick& tick, std::chrono::milliseconds every)
{
    if (!tick) {
        for (std::string line; std::getline(in, line);)
            if (auto message = message_of(std::move(line)))
                print(out, handle(*message));
        return;
    }
    LineReader reader{in};
    auto next_tick = std::chrono::steady_clock::now();
    std::deque<std::string> lines;
    for (;;) {
        if (const auto now = std::chrono::steady_clock::now(); now >= next_tick) {
            for (const auto& markdown : tick())
                print(out, markdown);
            next_tick = now + every;
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            next_tick - std::chrono::steady_clock::now());
        if (!reader.take(std::max(wait, std::chrono::milliseconds{0}), lines))
            return;
        for (auto& line : lines)
            if (auto message = message_of(std::move(line)))
                print(out, handle(*message));
    }
}

} // namespace opalebot::bot
