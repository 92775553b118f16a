#include "bot/console.hpp"

#include "bot/markdown.hpp"

#include <istream>
#include <ostream>
#include <string>

namespace opalebot::bot {

void run_console(std::istream& in, std::ostream& out, const MessageHandler& handle)
{
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        const auto reply = handle(line);
        out << (reply ? markdown_to_text(*reply) : std::string{"(pas de réponse)"}) << "\n\n"
            << std::flush;
    }
}

} // namespace opalebot::bot
