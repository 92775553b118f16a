#include "bot/sync_loop.hpp"

#include "bot/crypto/attachment.hpp"
#include "bot/file_messages.hpp"
#include "bot/markdown.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>

namespace opalebot::bot {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view thumbs_up = "\xF0\x9F\x91\x8D";   // U+1F44D
constexpr std::string_view thumbs_down = "\xF0\x9F\x91\x8E"; // U+1F44E

std::int64_t unix_seconds(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::chrono::milliseconds jitter(std::chrono::milliseconds base)
{
    thread_local std::mt19937 random{std::random_device{}()};
    std::uniform_int_distribution<long long> spread{0, base.count() / 4 + 1};
    return base + std::chrono::milliseconds{spread(random)};
}

} // namespace

std::string txn_id_for(std::string_view event_id, int n)
{
    std::uint64_t hash = 14695981039346656037ULL; // FNV-1a: stable across builds and restarts
    for (const char c : event_id) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    std::array<char, 17> hex{};
    std::snprintf(hex.data(), hex.size(), "%016llx", static_cast<unsigned long long>(hash));
    return "opb-" + std::string{hex.data()} + "-" + std::to_string(n);
}

std::string sync_filter_json(int timeline_limit)
{
    const json filter{{"presence", {{"not_types", {"*"}}}},
                      {"account_data", {{"not_types", {"*"}}}},
                      {"room",
                       {{"state", {{"lazy_load_members", true}}},
                        {"timeline", {{"limit", timeline_limit}, {"lazy_load_members", true}}},
                        {"ephemeral", {{"not_types", {"*"}}}},
                        {"account_data", {{"not_types", {"*"}}}}}}};
    return filter.dump();
}

SyncLoop::SyncLoop(MatrixClient& client, StateStore& store, const Config& config, Session session,
                   MessageRouter router, std::function<void()> wake_sender, FatalHandler fatal,
                   Clock clock)
    : client_(client),
      store_(store),
      config_(&config),
      session_(std::move(session)),
      addressing_(config, session_.user_id),
      router_(std::move(router)),
      wake_sender_(std::move(wake_sender)),
      fatal_(std::move(fatal)),
      clock_(std::move(clock))
{
    use_alerts(own_alerts_);
    if (auto token = store_.sync_token())
        since_ = token.value();
    if (auto filter = store_.filter_id())
        filter_id_ = filter.value();
}

std::chrono::milliseconds SyncLoop::handle_error(const Error& error)
{
    const auto logger = log::get("bot.sync");
    last_outcome_ = SyncOutcome::failed;
    metrics::bot_metrics().sync_errors.add();
    if (error.errcode == "M_UNKNOWN_TOKEN" || error.errcode == "M_MISSING_TOKEN" ||
        error.errcode == "M_USER_DEACTIVATED") {
        if (error.soft_logout && !config_->password.empty()) {
            logger->warn("session expired (soft logout): logging in again on device {}",
                         session_.device_id);
            auto login = client_.login({config_->user_id, config_->email}, config_->password,
                                       session_.device_id, config_->device_name);
            if (login) {
                session_.access_token = login.value().access_token;
                client_.set_access_token(session_.access_token);
                static_cast<void>(
                    store_.save_session({config_->homeserver_url, session_.user_id,
                                         login.value().device_id, login.value().access_token}));
                return 0ms;
            }
            logger->error("login failed: {} {}", login.error().errcode, login.error().message);
        }
        if (fatal_)
            fatal_("le serveur refuse le jeton de connexion (" + error.errcode +
                   ") : l'appareil a été déconnecté ou le compte désactivé. Relancez avec "
                   "--new-login pour ouvrir une nouvelle session.");
        return 60'000ms;
    }
    if (error.retry_after) {
        backoff_ = *error.retry_after;
        logger->info("sync rate limited (429 {}): retry in {} ms", error.errcode, backoff_.count());
        return jitter(backoff_);
    }
    backoff_ = std::clamp(backoff_ * 2, 1'000ms, 30'000ms);
    logger->warn("sync failed ({} {} {}): retry in {} ms", error.code, error.errcode, error.message,
                 backoff_.count());
    return jitter(backoff_);
}

Result<SyncBatch> SyncLoop::long_poll(std::chrono::milliseconds timeout, std::stop_token poll)
{
    const auto sync = [&] {
        return client_.sync(since_, filter_id_, timeout, session_.user_id, std::move(poll));
    };
    // A room's next session is prepared while the long-poll waits (issue 15): that Olm work
    // would otherwise stand in front of the next question. Not after a batch that was not
    // saved: the preparation's commit would save that batch's crypto half without it.
    if (crypto_ == nullptr || timeout == 0ms || !last_batch_saved_ ||
        !crypto_->has_preparation_work())
        return sync();
    std::future<Result<SyncBatch>> polled;
    try {
        polled = std::async(std::launch::async, sync);
    } catch (const std::system_error&) { // no thread to be had: just wait
        return sync();
    }
    // The poll's thread only does HTTP; the engine and the store stay on this one.
    while (polled.wait_for(0ms) != std::future_status::ready &&
           crypto_->prepare_ahead(std::chrono::steady_clock::now() + 20ms)) {
    }
    return polled.get();
}

std::chrono::milliseconds SyncLoop::run_once(std::stop_token stop)
{
    stop_ = stop;
    last_batch_had_events_ = false;
    last_outcome_ = SyncOutcome::interrupted;
    reply_latencies_.clear();
    if (filter_id_.empty()) {
        auto filter = client_.create_filter(session_.user_id, json::parse(sync_filter_json()));
        if (!filter)
            return handle_error(filter.error());
        filter_id_ = filter.value();
        static_cast<void>(store_.save_filter_id(filter_id_));
    }
    const bool history = since_.empty();
    std::stop_source poll; // stopped by the run's stop token or by nudge()
    bool nudged = false;
    {
        const std::lock_guard lock{poll_mutex_};
        current_poll_ = &poll;
        nudged = std::exchange(nudged_, false);
    }
    const std::stop_callback forward{stop, [&poll] { poll.request_stop(); }};
    // Ready once the session is valid and the first live long-poll goes out: what is sent from
    // now on is answered (the first sync of a new state file is history, never answered).
    if (!ready_ && !history) {
        log::get("bot.sync")
            ->info("ready: syncing as {} (device {})", session_.user_id, session_.device_id);
        ready_ = true;
    }
    const auto timeout = history || nudged ? 0ms : std::chrono::milliseconds{config_->sync_timeout};
    auto batch = long_poll(timeout, poll.get_token());
    {
        const std::lock_guard lock{poll_mutex_};
        current_poll_ = nullptr;
    }
    if (!batch) {
        if (poll.stop_requested()) // stopping, or nudged: the work between syncs runs now
            return 0ms;
        if (!batch.error().retry_after) // slowed down is not unreachable
            homeserver_health_->failed(clock_(), batch.error().kind == Error::Kind::http
                                                     ? "HTTP " + std::to_string(batch.error().code)
                                                     : batch.error().message.substr(0, 120));
        return handle_error(batch.error());
    }
    homeserver_health_->succeeded(clock_());
    last_batch_had_events_ = !batch.value().joined.empty() || !batch.value().invited.empty() ||
                             !batch.value().left.empty();
    Result<Done> done = Done{};
    try {
        done = process(batch.value(), history);
    } catch (const std::exception& e) { // a bug must not kill the sync thread (std::terminate)
        done = Error{Error::Kind::invalid, 0, {}, std::string{"unexpected: "} + e.what(), {}};
    }
    last_batch_saved_ = static_cast<bool>(done);
    if (!done) {
        if (!stop.stop_requested())
            log::get("bot.sync")
                ->error("batch not saved, it will be handled again: {}", done.error().message);
        last_outcome_ = SyncOutcome::failed;
        return 1'000ms;
    }
    last_outcome_ = SyncOutcome::saved;
    auto& metrics = metrics::bot_metrics();
    metrics.last_sync.set(static_cast<double>(unix_seconds(clock_())));
    for (const auto latency : reply_latencies_)
        metrics.reply_latency.observe(std::chrono::duration<double>{latency}.count());
    reply_latencies_.clear();
    backoff_ = 0ms;
    housekeeping();
    return 0ms;
}

void SyncLoop::nudge()
{
    const std::lock_guard lock{poll_mutex_};
    nudged_ = true;
    if (current_poll_ != nullptr)
        current_poll_->request_stop();
}

void SyncLoop::run(std::stop_token stop)
{
    std::mutex mutex;
    std::condition_variable_any wake; // only the stop token wakes it
    while (!stop.stop_requested()) {
        auto delay = run_once(stop);
        // Not after a batch that was not saved: a commit of its own would save the crypto
        // engine's half of that batch (events it handed out) without the batch.
        if (between_syncs_ && last_batch_saved_)
            between_syncs_();
        if (crypto_ != nullptr && last_batch_saved_) {
            crypto_->share_ahead(); // saves the room keys it queues
            if (wake_sender_)
                wake_sender_();
        }
        // A batch with events is followed at once (the next question may already be there);
        // an empty or failed one waits a little, so a server that ignores the timeout never
        // makes the loop spin (style.md §6.3).
        if (!last_batch_had_events_)
            delay = std::max(delay, 50ms);
        if (heartbeat_)
            heartbeat_(last_outcome_);
        // A retry may wait up to a minute: the heartbeat goes on meanwhile, so that only a loop
        // stuck in a call or a batch misses it.
        constexpr auto heartbeat_every = 10'000ms;
        std::unique_lock lock{mutex};
        while (delay > 0ms && !stop.stop_requested()) {
            const auto slice = std::min(delay, heartbeat_every);
            wake.wait_for(lock, stop, slice, [] { return false; });
            delay -= slice;
            if (delay > 0ms && heartbeat_ && !stop.stop_requested())
                heartbeat_(SyncOutcome::waiting);
        }
    }
}

void SyncLoop::begin_batch()
{
    const auto logger = log::get("bot.sync");
    quarantine_ = {};
    auto attempt = store_.begin_batch(since_);
    if (!attempt) {
        logger->warn("batch start not recorded: {}", attempt.error().message);
        return;
    }
    if (!attempt.value().died_in.empty()) {
        alerts_->raise("set-aside", attempt.value().died_in);
        logger->error("{} set aside: the bot stopped while handling it (poison-batch quarantine); "
                      "the rest of the batch is handled without it",
                      attempt.value().died_in);
    }
    if (attempt.value().attempts > poison_batch_starts) {
        logger->warn("this batch was started {} times without finishing: it is handled one event "
                     "at a time, to find and set aside the one that stops the bot",
                     attempt.value().attempts - 1);
        quarantine_.active = true;
        quarantine_.set_aside = std::move(attempt.value().set_aside);
    }
}

bool SyncLoop::enter(const std::string& key)
{
    if (!quarantine_.active)
        return true;
    if (quarantine_.set_aside.contains(key))
        return false;
    if (auto marked = store_.mark_in_progress(key); !marked)
        log::get("bot.sync")->warn("{} not marked in progress: {}", key, marked.error().message);
    return true;
}

Result<Done> SyncLoop::process(const SyncBatch& batch, bool history)
{
    begin_batch();
    Result<Done> done = Done{};
    try {
        done = process_batch(batch, history);
    } catch (...) { // not a crash: nothing to set aside
        if (quarantine_.active)
            static_cast<void>(store_.mark_in_progress(""));
        throw;
    }
    if (quarantine_.active && !done)
        static_cast<void>(store_.mark_in_progress(""));
    return done;
}

Result<Done> SyncLoop::process_batch(const SyncBatch& batch, bool history)
{
    SyncBatchWrites writes;
    writes.next_batch = batch.next_batch;
    // Keys first: a room key sent with the message it opens arrives in the same batch.
    if (crypto_ != nullptr && !quarantine_.active) {
        crypto_->receive(batch.crypto, since_, batch.next_batch);
    } else if (crypto_ != nullptr) { // one to-device event at a time, then the device lists
        CryptoSync lists = batch.crypto;
        lists.to_device.clear();
        for (std::size_t i = 0; i < batch.crypto.to_device.size(); ++i) {
            const auto& event = batch.crypto.to_device[i];
            if (!enter("to-device " + std::to_string(i) + " " + event.type + " " + event.sender))
                continue;
            CryptoSync one;
            one.to_device.push_back(event);
            crypto_->receive(one, since_, batch.next_batch);
        }
        crypto_->receive(lists, since_, batch.next_batch);
    }
    if (crypto_ != nullptr)
        for (const auto& user : crypto_->take_identity_changes())
            alerts_->raise("identity", user);
    for (const auto& invite : batch.invited)
        if (enter("invite " + invite.room_id))
            accept_invite(invite, writes);
    for (const auto& room : batch.joined)
        if (enter("room " + room.room_id))
            handle_room(room, history, writes);
    undecryptable_telling_.clear();
    if (crypto_ != nullptr && !history)
        handle_crypto_queue(writes);
    if (quarantine_.active) // what follows is not one event's doing
        static_cast<void>(store_.mark_in_progress(""));
    writes.rooms_left = batch.left;
    if (stop_.stop_requested()) // a wait was cut short: the batch is synced again next run
        return Error{Error::Kind::transport, 0, {}, "stopping", {}};
    // A reply whose room key cannot be shared now (network) waits in the state file; the batch
    // is saved anyway, so that its commands never run twice.
    queue_alerts(writes);
    encrypt_outgoing(writes, true);
    retry_awaiting_encryption(writes);
    auto saved = commit(writes);
    if (!saved)
        return saved.error();
    since_ = batch.next_batch;
    if (!writes.outgoing.empty() && wake_sender_)
        wake_sender_();
    for (const auto& [sender, at] : undecryptable_telling_)
        undecryptable_told_.insert_or_assign(sender, at);
    if (crypto_ != nullptr) {
        crypto_->batch_saved();
        crypto_->after_commit(batch.crypto); // may queue and save an m.dummy
        if (wake_sender_)
            wake_sender_();
    }
    return Done{};
}

void SyncLoop::use_homeserver_health(ServiceHealth& shared)
{
    homeserver_health_ = &shared;
    homeserver_health_->report_to(alerts_);
}

void SyncLoop::use_alerts(Alerts& shared)
{
    alerts_ = &shared;
    homeserver_health_->report_to(alerts_);
    alerts_->set_minimum("undecryptable", 3); // one lost key happens; a pattern is worth telling
}

void SyncLoop::queue_alerts(SyncBatchWrites& writes)
{
    alerts_in_batch_.clear();
    if (config_->alerts_room.empty())
        return;
    const auto now = clock_();
    alerts_in_batch_ = alerts_->take_due(now);
    for (const auto& due : alerts_in_batch_) {
        OutgoingMessage out;
        out.txn_id = "alert-" + due.kind + "-" +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        now.time_since_epoch())
                                        .count());
        out.room_id = config_->alerts_room;
        out.content = notice_content(alert_message(due), {}, {}, {}, {true, false});
        out.priority = 1; // after the replies
        writes.outgoing.push_back(std::move(out));
    }
}

Result<Done> SyncLoop::commit(SyncBatchWrites& writes)
{
    // The to-device messages (room keys first) leave only once saved with the ratchet steps
    // they took; the outbox sends them before the room messages they open.
    const bool with_crypto = crypto_ != nullptr;
    if (with_crypto)
        for (auto& message : crypto_->to_device_messages())
            writes.outgoing.push_back(std::move(message));
    auto saved = store_.commit(writes);
    if (saved && with_crypto)
        crypto_->to_device_saved();
    if (saved) {
        alerts_in_batch_.clear(); // posted with this commit
    } else {
        alerts_->put_back(std::exchange(alerts_in_batch_, {}));
        alerts_->raise("storage", saved.error().message.substr(0, 160));
    }
    return saved;
}

Result<Done> SyncLoop::queue(SyncBatchWrites writes)
{
    if (!encrypt_outgoing(writes, false))
        return Error{
            Error::Kind::transport, 0, {}, "the room is encrypted and encryption is off", {}};
    auto saved = commit(writes);
    if (saved && !writes.outgoing.empty() && wake_sender_)
        wake_sender_();
    return saved;
}

std::vector<OutgoingMessage>
SyncLoop::file_messages_for(const std::string& room_id, const std::vector<OutgoingFile>& files,
                            const std::string& thread, const std::string& reply_to,
                            const std::string& text_txn_id, int priority,
                            const SyncBatchWrites& writes)
{
    if (files.empty())
        return {};
    // In doubt, encrypted: a `file` object is read in a plain room too, a `url` would leak.
    const bool encrypted = room_info(room_id, writes).encrypted ||
                           (crypto_ != nullptr && crypto_->is_encrypted(room_id));
    return file_messages(client_, room_id, files, encrypted, thread, reply_to, text_txn_id,
                         priority);
}

bool SyncLoop::can_reply_in(const RoomInfo& room) const
{
    return !room.encrypted || (crypto_ != nullptr && crypto_->is_encrypted(room.room_id));
}

RoomInfo SyncLoop::room_info(const std::string& room_id, const SyncBatchWrites& writes)
{
    for (const auto& pending : writes.rooms)
        if (pending.room_id == room_id)
            return pending;
    if (auto stored = store_.room(room_id); stored && stored.value())
        return *stored.value();
    return RoomInfo{room_id, {}, false, {}, {}, false};
}

bool SyncLoop::encrypt_outgoing(SyncBatchWrites& writes, bool drop_fail_closed)
{
    const auto logger = log::get("bot.sync");
    for (auto it = writes.outgoing.begin(); it != writes.outgoing.end();) {
        const auto room = room_info(it->room_id, writes);
        if (!can_reply_in(room)) { // fail closed (notes/matrix.md §4)
            logger->warn("message for {} not stored: the room is encrypted and encryption is "
                         "off (encryption.pickle_key_file)",
                         it->room_id);
            if (!drop_fail_closed)
                return false; // the caller keeps them all for later
            it = writes.outgoing.erase(it);
            continue;
        }
        if (crypto_ == nullptr) {
            ++it;
            continue;
        }
        if (auto prepared = crypto_->prepare(*it); !prepared) {
            logger->warn("message {} for {} waits for encryption: {} {}", it->txn_id, it->room_id,
                         prepared.error().code, prepared.error().message);
            writes.awaiting_encryption.push_back(std::move(*it));
            it = writes.outgoing.erase(it);
            continue;
        }
        ++it;
    }
    return true;
}

void SyncLoop::retry_awaiting_encryption(SyncBatchWrites& writes)
{
    constexpr int max_attempts = 30; // about as many syncs: minutes, then it is given up
    if (crypto_ == nullptr)
        return;
    const auto logger = log::get("bot.sync");
    auto waiting = store_.awaiting_encryption();
    if (!waiting) {
        logger->warn("messages waiting for encryption unreadable: {}", waiting.error().message);
        return;
    }
    for (auto& message : waiting.value()) {
        if (std::any_of(writes.awaiting_encryption.begin(), writes.awaiting_encryption.end(),
                        [&](const auto& m) { return m.txn_id == message.txn_id; }))
            continue;
        if (crypto_->prepare(message)) {
            writes.no_longer_awaiting.push_back(message.txn_id);
            writes.outgoing.push_back(std::move(message));
        } else if (++message.attempts >= max_attempts) {
            logger->error("message {} for {} given up: it could not be encrypted", message.txn_id,
                          message.room_id);
            writes.no_longer_awaiting.push_back(message.txn_id);
        } else {
            writes.awaiting_encryption.push_back(std::move(message));
        }
    }
}

void SyncLoop::handle_encrypted(const Event& event, const Encrypted& encrypted,
                                const RoomInfo& room, SyncBatchWrites& writes)
{
    const auto logger = log::get("bot.sync");
    auto decrypted = crypto_->decrypt(room.room_id, encrypted);
    if (decrypted) {
        handle_decrypted(decrypted.value(), room, writes);
        return;
    }
    const auto& error = decrypted.error();
    if (error.errcode == crypto::errcode::missing_key) {
        logger->info("{} in {} waits for its room key", event.event_id, room.room_id);
        return; // queued by the engine; not in the ledger, so handled when the key comes
    }
    logger->warn("{} in {} not decrypted ({}): {}", event.event_id, room.room_id, error.errcode,
                 error.message);
    writes.handled.push_back(
        {event.event_id, room.room_id,
         error.errcode == crypto::errcode::replay ? "replay" : "undecryptable"});
}

void SyncLoop::handle_decrypted(const Event& event, const RoomInfo& room, SyncBatchWrites& writes)
{
    if (event.event_id.empty() || event.sender == session_.user_id)
        return;
    if (auto handled = store_.is_handled(event.event_id); !handled || handled.value())
        return;
    if (const auto* message = std::get_if<TextMessage>(&event.content))
        handle_message(event, *message, room, writes);
    else if (const auto* reaction = std::get_if<Reaction>(&event.content))
        handle_reaction(event, *reaction, room, writes);
}

void SyncLoop::handle_crypto_queue(SyncBatchWrites& writes)
{
    for (const auto& [room_id, event] : crypto_->take_decryptable()) {
        if (!enter(event.event_id)) {
            writes.handled.push_back({event.event_id, room_id, "set-aside"});
            continue;
        }
        const auto room = room_info(room_id, writes);
        if (addressing_.room_allowed(room))
            handle_decrypted(event, room, writes);
    }
    // A key that never came (matrix.md §8.5.16): the sender is told, in French, at most once an
    // hour, what to do.
    const auto now = clock_();
    for (const auto& lost : crypto_->take_undecryptable(config_->undecryptable_after)) {
        writes.handled.push_back({lost.event_id, lost.room_id, "undecryptable"});
        alerts_->raise("undecryptable", lost.sender);
        const auto told = undecryptable_told_.find(lost.sender);
        if ((told != undecryptable_told_.end() && now - told->second < std::chrono::hours{1}) ||
            undecryptable_telling_.contains(lost.sender))
            continue;
        if (!addressing_.room_allowed(room_info(lost.room_id, writes)))
            continue;
        undecryptable_telling_[lost.sender] = now;
        OutgoingMessage out;
        out.txn_id = txn_id_for(lost.event_id);
        out.room_id = lost.room_id;
        out.content = notice_content(
            "Je n'ai pas pu lire votre message : il est chiffré et la clé ne m'est pas "
            "parvenue. Envoyez-le à nouveau. Si cela se reproduit, vérifiez vos sessions dans "
            "les paramètres de Tchap (Sécurité et vie privée), ou déconnectez-vous puis "
            "reconnectez-vous.",
            {lost.sender}, lost.thread_root, lost.event_id);
        out.source_event = lost.event_id;
        writes.outgoing.push_back(std::move(out));
    }
}

void SyncLoop::accept_invite(const InvitedRoom& invite, SyncBatchWrites& writes)
{
    const auto logger = log::get("bot.sync");
    RoomInfo room{invite.room_id, invite.inviter, invite.is_direct, {}, {}, false};
    if (!addressing_.room_allowed(room)) {
        logger->info("invitation to {} from {} ignored: neither the room nor the inviter is "
                     "allowed (rooms.allowed, rooms.inviters)",
                     invite.room_id, invite.inviter);
        return;
    }
    for (int attempt = 1; attempt <= 3; ++attempt) {
        auto joined = client_.join(invite.room_id);
        if (joined) {
            logger->info("joined {} (invited by {})", invite.room_id, invite.inviter);
            writes.rooms.push_back(room);
            return;
        }
        const auto& error = joined.error();
        const bool retry =
            error.code == 429 || error.code >= 500 || error.kind == Error::Kind::transport;
        logger->warn("joining {} failed ({} {} {})", invite.room_id, error.code, error.errcode,
                     error.message);
        if (!retry)
            break;
        std::mutex mutex;
        std::condition_variable_any stopped;
        std::unique_lock lock{mutex};
        if (stopped.wait_for(lock, stop_,
                             std::min(error.retry_after.value_or(1'000ms * attempt), 10'000ms),
                             [this] { return stop_.stop_requested(); }))
            return; // stopping: process() does not commit, the batch comes again next run
    }
    // Leave nothing half-joined: decline the invite so the inviter sees it failed.
    if (auto left = client_.leave(invite.room_id); !left)
        logger->warn("declining {} failed too: {}", invite.room_id, left.error().message);
}

void SyncLoop::handle_room(const JoinedRoom& joined, bool history, SyncBatchWrites& writes)
{
    const auto logger = log::get("bot.sync");
    RoomInfo room{joined.room_id, {}, false, {}, {}, false};
    bool known = false;
    for (const auto& pending : writes.rooms)
        if (pending.room_id == joined.room_id) {
            room = pending;
            known = true;
        }
    if (!known)
        if (auto stored = store_.room(joined.room_id); stored && stored.value())
            room = *stored.value();
    const auto before = std::make_tuple(room.inviter, room.is_direct, room.joined_members,
                                        room.power_levels, room.encrypted);
    const auto apply_state = [&](const Event& e) {
        if (crypto_ != nullptr)
            crypto_->observe(joined.room_id, e);
        if (const auto* levels = std::get_if<PowerLevels>(&e.content)) {
            auto creators =
                room.power_levels ? room.power_levels->creators : std::vector<std::string>{};
            room.power_levels = *levels;
            room.power_levels->creators = std::move(creators); // from m.room.create only
        } else if (const auto* create = std::get_if<RoomCreate>(&e.content);
                   create != nullptr && !create->creators.empty()) {
            if (!room.power_levels)
                room.power_levels = PowerLevels{};
            room.power_levels->creators = create->creators;
        }
        if (std::holds_alternative<Encryption>(e.content))
            room.encrypted = true;
        else if (const auto* member = std::get_if<Membership>(&e.content);
                 member != nullptr && e.state_key == session_.user_id && member->is_direct)
            room.is_direct = true;
    };
    for (const auto& e : joined.state)
        if (e.event_id.empty() || enter(e.event_id))
            apply_state(e);
    if (joined.joined_member_count)
        room.joined_members = joined.joined_member_count;

    const bool acts = addressing_.room_allowed(room);
    if (!acts && !joined.timeline.empty())
        logger->debug("room {} is not allowed: its events are ignored", joined.room_id);
    // A limited timeline skipped events (a restart, a burst): fetch the ones still worth an
    // answer, or they would be lost; the ledger and the txn ids keep it exactly once.
    auto events = joined.limited && acts && !history ? missed_events(joined) : std::vector<Event>{};
    events.insert(events.end(), joined.timeline.begin(), joined.timeline.end());
    for (const auto& event : events) {
        if (!event.event_id.empty() && !enter(event.event_id)) {
            writes.handled.push_back({event.event_id, room.room_id, "set-aside"});
            continue;
        }
        apply_state(event);
        if (!acts || history || event.event_id.empty() || event.sender == session_.user_id)
            continue;
        if (auto handled = store_.is_handled(event.event_id); !handled || handled.value())
            continue;
        if (const auto* message = std::get_if<TextMessage>(&event.content))
            handle_message(event, *message, room, writes);
        else if (const auto* encrypted = std::get_if<Encrypted>(&event.content);
                 encrypted != nullptr && crypto_ != nullptr)
            handle_encrypted(event, *encrypted, room, writes);
        else if (const auto* reaction = std::get_if<Reaction>(&event.content))
            handle_reaction(event, *reaction, room, writes);
    }
    if (before != std::make_tuple(room.inviter, room.is_direct, room.joined_members,
                                  room.power_levels, room.encrypted) ||
        !known) {
        std::erase_if(writes.rooms, [&](const auto& r) { return r.room_id == room.room_id; });
        writes.rooms.push_back(room);
    }
}

void SyncLoop::handle_reaction(const Event& event, const Reaction& reaction, const RoomInfo& room,
                               SyncBatchWrites& writes)
{
    const bool up = reaction.key.rfind(thumbs_up, 0) == 0;
    const bool down = reaction.key.rfind(thumbs_down, 0) == 0;
    if (!up && !down && !reaction_router_)
        return;
    auto txn_id = store_.sent_txn_id(reaction.target);
    if (!txn_id || !txn_id.value())
        return; // not one of the bot's messages
    if (up || down) {
        writes.feedback.push_back(
            {event.event_id, reaction.target, event.sender, up ? 1 : -1, unix_seconds(clock_())});
        writes.handled.push_back({event.event_id, room.room_id, "feedback"});
        return;
    }
    if (addressing_.too_old(age_of(event))) {
        writes.handled.push_back({event.event_id, room.room_id, "backlog"});
        return;
    }
    const IncomingReaction incoming{room.room_id,
                                    event.event_id,
                                    event.sender,
                                    reaction.key,
                                    reaction.target,
                                    *txn_id.value(),
                                    conversation_of(room.room_id, reaction.target),
                                    power_level_of(room, event.sender)};
    std::optional<OutgoingReply> reply;
    try {
        reply = reaction_router_(incoming);
    } catch (const std::exception& e) {
        log::get("bot.sync")->error("reaction router failed on {}: {}", event.event_id, e.what());
    }
    if (!reply) {
        writes.handled.push_back({event.event_id, room.room_id, "reaction-ignored"});
        return;
    }
    const auto place = reaction_reply_place(incoming.conversation, reaction.target);
    OutgoingMessage out;
    out.txn_id = txn_id_for(event.event_id);
    out.room_id = room.room_id;
    out.content = notice_content(reply->markdown, {event.sender}, place.thread_root,
                                 place.in_reply_to, {config_->notify_asker, false});
    out.priority = 0;
    out.source_event = event.event_id;
    writes.outgoing.push_back(std::move(out));
    writes.handled.push_back({event.event_id, room.room_id, "reaction"});
}

Conversation SyncLoop::conversation_of(const std::string& room_id, const std::string& event_id)
{
    auto target = client_.room_event(room_id, event_id);
    if (!target) {
        log::get("bot.sync")
            ->warn("reacted-to event {} unreadable: {} {}", event_id, target.error().code,
                   target.error().errcode);
        return {room_id, {}};
    }
    return bot::conversation_of(room_id, parse_timeline_event(target.value()));
}

bool SyncLoop::replies_to_bot(const TextMessage& message)
{
    if (message.in_reply_to.empty() || message.reply_is_fallback)
        return false;
    const auto sent = store_.sent_message(message.in_reply_to);
    return sent && sent.value();
}

void SyncLoop::handle_message(const Event& event, const TextMessage& message, const RoomInfo& room,
                              SyncBatchWrites& writes)
{
    const auto logger = log::get("bot.sync");
    const auto ignore = [&](std::string_view why) {
        logger->debug("{} in {} ignored: {}", event.event_id, room.room_id, why);
    };
    if (const auto why = addressing_.never_answered(event, message); !why.empty())
        return ignore(why);
    if (!can_reply_in(room)) { // fail closed (notes/matrix.md §4): no plaintext reply there
        logger->warn("{} in {} not answered: the room is encrypted, and a plaintext reply "
                     "there is never sent",
                     event.event_id, room.room_id);
        writes.handled.push_back({event.event_id, room.room_id, "encrypted-room"});
        return;
    }
    auto address = addressing_.address(message, is_direct(room), replies_to_bot(message));
    const auto conversation = addressing_.reply_conversation(event, message, room);
    const bool in_conversation = in_conversation_ && in_conversation_(event.sender, conversation);
    address.addressed = address.addressed || in_conversation;
    if (const auto verdict =
            addressing_.verdict(address, in_conversation, !message.file_url.empty());
        !verdict.answer)
        return ignore(verdict.why);

    const auto age = age_of(event);
    if (addressing_.too_old(age)) {
        logger->info("{} in {} not answered: sent {} s ago, older than the backlog limit",
                     event.event_id, room.room_id,
                     std::chrono::duration_cast<std::chrono::seconds>(age).count());
        writes.handled.push_back({event.event_id, room.room_id, "backlog"});
        return;
    }

    IncomingMessage incoming{room.room_id,
                             event.event_id,
                             event.sender,
                             address.text,
                             is_direct(room),
                             address.addressed,
                             power_level_of(room, event.sender),
                             conversation,
                             {}};
    std::optional<OutgoingReply> reply;
    // A command's file (CSV imports), or a screenshot sent during a conversation (issue 4).
    constexpr std::int64_t screenshot_max_bytes = 10 * 1024 * 1024;
    const bool command = address.text.rfind(config_->command_prefix, 0) == 0;
    auto file = command ? command_file(room.room_id, message)
                : in_conversation && !message.file_url.empty()
                    ? command_file(room.room_id, message, screenshot_max_bytes)
                    : Result<std::optional<std::pair<std::string, std::string>>>{std::nullopt};
    if (!file)
        reply = OutgoingReply{
            "Je n'ai pas pu lire le fichier : " + file.error().message + ".", {}, std::nullopt};
    else
        try {
            incoming.attachment = std::move(file.value());
            reply = router_(incoming);
        } catch (const std::exception& e) {
            logger->error("router failed on {}: {}", event.event_id, e.what());
        }
    if (!reply) {
        if (address.addressed)
            writes.handled.push_back({event.event_id, room.room_id, "no-reply"});
        return;
    }
    if (reply->question) {
        reply->question->room = room.room_id;
        reply->question->event_id = event.event_id;
        writes.questions.push_back(*reply->question);
    }
    OutgoingMessage out;
    out.txn_id = txn_id_for(event.event_id);
    out.room_id = room.room_id;
    out.content =
        notice_content(reply->markdown, {event.sender}, conversation.thread_root, event.event_id,
                       {config_->notify_asker, false}); // the asker is told the answer came
    out.priority = 0;
    out.source_event = event.event_id;
    out.entry_id = reply->entry_id;
    const auto text_txn_id = out.txn_id;
    writes.outgoing.push_back(std::move(out));
    for (auto& file_message :
         file_messages_for(room.room_id, reply->files, conversation.thread_root, event.event_id,
                           text_txn_id, 0, writes))
        writes.outgoing.push_back(std::move(file_message));
    writes.handled.push_back({event.event_id, room.room_id, "answered"});
    // from the server's timestamp of the question: what the asker waited, restarts included
    const auto asked_at =
        std::chrono::system_clock::time_point{std::chrono::milliseconds{event.origin_server_ts}};
    reply_latencies_.push_back(
        std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - asked_at)));
}

std::chrono::milliseconds SyncLoop::age_of(const Event& event) const
{
    if (event.age) // the server's clock: immune to skew between the bot and the server
        return std::chrono::milliseconds{*event.age};
    const auto sent_at =
        std::chrono::system_clock::time_point{std::chrono::milliseconds{event.origin_server_ts}};
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - sent_at);
}

std::vector<Event> SyncLoop::missed_events(const JoinedRoom& room)
{
    constexpr int page_size = 100;
    constexpr int max_pages = 10; // a salon never needs more; a flood is cut, and logged
    const auto logger = log::get("bot.sync");
    std::vector<Event> missed; // newest first while paging
    std::string from = room.prev_batch;
    for (int page = 0; page < max_pages && !from.empty(); ++page) {
        auto messages = client_.messages(room.room_id, from, page_size, stop_);
        if (!messages) {
            logger->warn("events left out of a limited sync in {} not fetched: {} {}", room.room_id,
                         messages.error().code, messages.error().errcode);
            break;
        }
        for (auto& event : messages.value().chunk) {
            if (addressing_.too_old(age_of(event))) {
                from.clear(); // older ones are not answered anyway
                break;
            }
            missed.push_back(std::move(event));
        }
        if (!from.empty())
            from = messages.value().chunk.empty() ? std::string{} : messages.value().end;
        if (page + 1 == max_pages && !from.empty())
            logger->warn("more than {} events left out in {}: older ones are not answered",
                         page_size * max_pages, room.room_id);
    }
    logger->info("limited sync in {}: {} earlier events fetched", room.room_id, missed.size());
    std::reverse(missed.begin(), missed.end());
    return missed;
}

Result<std::optional<std::pair<std::string, std::string>>>
SyncLoop::command_file(const std::string& room_id, const TextMessage& message,
                       std::int64_t max_bytes)
{
    using File = std::optional<std::pair<std::string, std::string>>;
    const auto logger = log::get("bot.sync");
    std::string url = message.file_url;
    std::string encrypted = message.encrypted_file;
    std::string name = message.file_name;
    std::int64_t size = message.file_size;
    if (url.empty() && !message.in_reply_to.empty() && !message.reply_is_fallback) {
        auto replied = client_.room_event(room_id, message.in_reply_to);
        if (!replied) {
            logger->warn("replied-to event {} unreadable: {} {}", message.in_reply_to,
                         replied.error().code, replied.error().errcode);
            return File{}; // not a file: the command says what it misses
        }
        // The replied-to event, decrypted first in an encrypted room.
        auto event = parse_timeline_event(replied.value());
        if (const auto* sealed = std::get_if<Encrypted>(&event.content);
            sealed != nullptr && crypto_ != nullptr) {
            auto decrypted = crypto_->decrypt(room_id, *sealed);
            if (!decrypted) {
                logger->warn("replied-to event {} not decrypted: {}", message.in_reply_to,
                             decrypted.error().message);
                return File{};
            }
            event = std::move(decrypted).value();
        }
        if (const auto* file = std::get_if<TextMessage>(&event.content);
            file != nullptr && file->msgtype == "m.file") {
            url = file->file_url;
            encrypted = file->encrypted_file;
            name = file->file_name;
            size = file->file_size;
        }
    }
    if (url.empty())
        return File{};
    const auto too_big = "il dépasse " + std::to_string(max_bytes / (1024 * 1024)) + " Mo";
    if (size > max_bytes)
        return Error{Error::Kind::invalid, 413, {}, too_big, {}};
    auto bytes = client_.download(url, static_cast<std::size_t>(max_bytes));
    if (!bytes) {
        logger->warn("download of {} failed: {} {} {}", url, bytes.error().code,
                     bytes.error().errcode, bytes.error().message);
        return Error{Error::Kind::transport,
                     bytes.error().code,
                     {},
                     bytes.error().errcode == "M_TOO_LARGE"
                         ? too_big
                         : "le serveur ne l'a pas donné (réessayez dans un moment)",
                     {}};
    }
    if (!encrypted.empty()) { // sent in an encrypted room: the server holds only ciphertext
        auto file = crypto::parse_encrypted_file(json::parse(encrypted, nullptr, false));
        auto plain = file ? crypto::decrypt_attachment(bytes.value(), file.value())
                          : Result<std::string>{file.error()};
        if (!plain) {
            logger->warn("encrypted file {} unreadable: {}", url, plain.error().message);
            return Error{Error::Kind::invalid, 0, {}, "il est chiffré et illisible", {}};
        }
        return File{std::pair{name, std::move(plain.value())}};
    }
    return File{std::pair{name, std::move(bytes.value())}};
}

std::string notice_content(std::string_view markdown, const std::vector<std::string>& mentions,
                           const std::string& thread, const std::string& reply_to,
                           NoticeStyle style)
{
    const auto fitting = fit_in_event(markdown); // a 413 would lose the whole reply
    json content{{"msgtype", style.notify ? "m.text" : "m.notice"},
                 {"body", markdown_to_text(fitting)},
                 {"format", "org.matrix.custom.html"},
                 {"formatted_body", markdown_to_html(fitting)},
                 {"m.mentions", {{"user_ids", mentions}}},
                 // says "a bot wrote this" to every opale-bot: answers that notify (m.text)
                 // can then never start a conversation between two bots
                 {std::string{automated_marker}, true}};
    if (style.mention_room)
        content["m.mentions"]["room"] = true;
    add_relation(content, thread, reply_to);
    return content.dump(-1, ' ', false, json::error_handler_t::replace);
}

void SyncLoop::housekeeping()
{
    const auto now = clock_();
    if (now - last_housekeeping_ < std::chrono::hours{6})
        return;
    last_housekeeping_ = now;
    const auto logger = log::get("bot.sync");
    const auto days = std::chrono::hours{24} * config_->question_retention_days;
    if (auto purged = store_.purge_questions(unix_seconds(now - days)); !purged)
        logger->warn("question texts not purged: {}", purged.error().message);
    else if (purged.value() > 0)
        logger->info("{} question texts older than {} days deleted", purged.value(),
                     config_->question_retention_days);
    // The ledger only guards against replays of recent batches.
    if (auto purged = store_.purge_ledger(unix_seconds(now - std::chrono::hours{24 * 30})); !purged)
        logger->warn("ledger not purged: {}", purged.error().message);
}

} // namespace opalebot::bot
