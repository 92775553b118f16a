#pragma once

#include "commands/chart.hpp"
#include "commands/registry.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace opalebot::commands {

/// `args` without its last word when that is "graphique" (case and accents ignored): the
/// command's usual arguments; nothing when the chart was not asked for.
std::optional<std::string_view> chart_request(std::string_view args);

/// `markdown` with `chart` as a PNG named `file_name`, its description as alt text; when the
/// chart cannot be drawn, the markdown says so (the failure is logged).
Reply chart_reply(std::string markdown, const Chart& chart, std::string file_name);

} // namespace opalebot::commands
