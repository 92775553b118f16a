#pragma once

#include <spdlog/logger.h>

#include <initializer_list>
#include <memory>
#include <string_view>

namespace opalebot::log {

/// Creates the named loggers (to stderr) before any thread starts: spdlog throws on a duplicate
/// name, so lazy creation would race (notes/style.md §6.4). Honours SPDLOG_LEVEL.
void init(std::initializer_list<std::string_view> names);

/// The logger called `name`; a logger that init() did not create falls back to the default one.
std::shared_ptr<spdlog::logger> get(std::string_view name);

} // namespace opalebot::log
