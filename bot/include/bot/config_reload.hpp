#pragma once

#include "bot/config.hpp"

#include <string>
#include <vector>

namespace opalebot::bot {

/// The config file read again while the bot runs (SIGHUP, issue 16), set against the running
/// configuration.
struct ConfigReload {
    /// What the bot runs with from now on: the new file, except the keys that need a restart,
    /// which keep their running values (the connections, threads and files they set up stay).
    Config config;
    std::vector<std::string> changed;        ///< keys applied at once, as the file names them
    std::vector<std::string> restart_needed; ///< keys that differ but wait for a restart
    /// Why the file was refused: then `config` is `running` and nothing else is set.
    std::vector<ConfigProblem> problems;
};

/// Compares `next` (a file load_config accepted) with `running`, key by key.
ConfigReload reconcile_reload(const Config& running, Config next);

/// Reads `file` again (load_config) for a bot running with `running`: refused whole when it has
/// any problem, reconciled key by key otherwise.
ConfigReload reload_config(const std::string& file, const Config& running);

} // namespace opalebot::bot
