#pragma once

#include "bot/config.hpp"
#include "bot/matrix_client.hpp"
#include "bot/state_store.hpp"

namespace opalebot::bot {

/// The bot's session: the configured access token, else the stored one (checked with whoami,
/// renewed on the same device after a soft logout), else a password login that is stored.
/// Never logs in when a stored session works: each login is a new device (notes/matrix.md §0).
/// `new_login` forgets the stored session first. Errors are French, for the operator.
Result<Session> open_session(MatrixClient& client, StateStore& store, const Config& config,
                             bool new_login = false);

} // namespace opalebot::bot
