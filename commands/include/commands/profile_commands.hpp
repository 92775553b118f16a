#pragma once

#include "commands/eple_store.hpp"
#include "commands/registry.hpp"
#include "commands/user_profile_store.hpp"

namespace opalebot::commands {

/// Registers `!moi`, `!moi eple <UAI>`, `!moi eple retirer <UAI>` and `!moi fuseau [<zone>]`
/// (issue 6). With `eple`, a UAI unknown to the referential is still linked, with a warning,
/// since the referential may be imported later. The stores must outlive the registry.
void add_profile_commands(Registry& registry, UserProfileStore& profiles,
                          EpleStore* eple = nullptr);

} // namespace opalebot::commands
