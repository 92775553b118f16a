#pragma once

#include "opalebot/outgoing_file.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opalebot::commands {

/// Who may run a command; each role may run what the roles before it may.
enum class Role { member, support, admin };

/// A file that came with a message (the message's own file, or the file it replies to).
struct Attachment {
    std::string name;    ///< "indicateurs.csv"
    std::string content; ///< the bytes
};

/// A message as the router sees it, whatever the transport (console, Matrix).
struct Message {
    std::string sender; ///< "@marie.dupont-ac-lille.fr:agent.education.tchap.gouv.fr"
    /// The conversation, a key the commands never split: "!room" or "!room|$thread" (see
    /// bot::Conversation); empty in the console.
    std::string room;
    std::string body; ///< plain text, the bot's mention already removed
    Role role = Role::member;
    std::optional<Attachment> attachment;
};

/// A file the bot sends with its answer (a chart, an export): the shape the transports share.
using OutgoingFile = opalebot::OutgoingFile;

/// What the bot answers: Markdown (the transport renders it), the entry it came from, and the
/// files that go with it.
struct Reply {
    Reply() = default;
    // A constructor, not an aggregate: the many `Reply{text, {}}` stay short without a warning
    // for the files they do not name.
    Reply(std::string markdown_text, std::string entry = {}, std::vector<OutgoingFile> sent = {})
        : markdown(std::move(markdown_text)), entry_id(std::move(entry)), files(std::move(sent))
    {}

    std::string markdown;
    std::string entry_id; ///< the knowledge entry answered, for feedback; empty otherwise
    std::vector<OutgoingFile> files;
};

/// What a handler receives: the message and the text after the command name.
struct Context {
    const Message& message;
    std::string_view args;
};

struct Command {
    std::string name;                 ///< without the prefix, lower case: "sigle"
    std::vector<std::string> aliases; ///< other names: "help" for "aide"
    std::string usage;                ///< "!sigle <SIGLE>"
    std::string summary;              ///< one French line for !aide
    Role role = Role::member;
    std::function<Reply(const Context&)> handler;
};

/// `!name args` split in two, or nothing when the text is ordinary chat.
struct ParsedCommand {
    std::string name; ///< folded: "difficultés" and "Difficultes" give "difficultes"
    std::string_view args;
};
std::optional<ParsedCommand> parse_command(std::string_view body, std::string_view prefix);

/// `text` without the spaces and line breaks around it.
std::string_view trim(std::string_view text);

/// The first word of `text` and what follows it, both trimmed: "annuler 3" → {"annuler", "3"}.
std::pair<std::string_view, std::string_view> split_first_word(std::string_view text);

/// Routes a message to its command, or to the free-text handler; contains every failure.
class Registry {
public:
    explicit Registry(std::string prefix = "!") : prefix_(std::move(prefix)) {}

    /// False if the name or an alias is already taken.
    bool add(Command command);

    /// Handles messages that are not commands (questions); without it they get no reply.
    void set_free_text(std::function<std::optional<Reply>(const Message&)> handler);

    /// The reply to `message`, if any. Never throws.
    std::optional<Reply> dispatch(const Message& message) const;

    /// Marks the command `name` as one whose handler may wait on a remote service (iTop: up to
    /// its timeout per call): the bot runs it away from the thread that answers the salon.
    void mark_waits_on_backend(std::string_view name);
    /// Whether `body` is such a command.
    bool waits_on_backend(std::string_view body) const;

    /// The commands `role` may run, one per line, sorted by name.
    std::string help(Role role) const;

    const std::string& prefix() const { return prefix_; }

private:
    const Command* find(std::string_view name) const;
    Reply unknown(std::string_view name, Role role) const;

    std::string prefix_;
    std::map<std::string, Command, std::less<>> commands_;
    std::map<std::string, std::string, std::less<>> aliases_; ///< alias → name
    std::set<std::string, std::less<>> waiting_on_backend_;
    std::function<std::optional<Reply>(const Message&)> free_text_;
};

/// "administrateur", "support", "membre".
std::string_view role_name(Role role);

} // namespace opalebot::commands
