#include "bot/sender.hpp"

#include "bot/sync_loop.hpp"
#include "opalebot/bot_metrics.hpp"
#include "opalebot/log.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include "json_fields.hpp"

namespace opalebot::bot {
namespace {

using namespace std::chrono_literals;

std::chrono::milliseconds with_jitter(std::chrono::milliseconds base)
{
    thread_local std::mt19937 random{std::random_device{}()};
    std::uniform_int_distribution<long long> spread{0, base.count() / 5 + 50};
    return base + std::chrono::milliseconds{spread(random)};
}

/// A reply the homeserver refused as too large (fit_in_event should prevent it, but a server
/// may have a lower limit) is replaced by a short notice in the same thread, so that the user is
/// not left without an answer (issue 15). Nothing for a notice that was itself refused.
std::optional<OutgoingMessage> too_large_notice(const OutgoingMessage& refused,
                                                const nlohmann::json& content)
{
    constexpr std::string_view suffix = "-trop-long";
    if (refused.txn_id.ends_with(suffix))
        return std::nullopt;
    std::string thread;
    std::string reply_to;
    if (const auto* relates = object_at(content, "m.relates_to")) { // in clear when encrypted
        if (string_at(*relates, "rel_type") == "m.thread")
            thread = string_at(*relates, "event_id");
        reply_to = string_at(object_or_empty(*relates, "m.in_reply_to"), "event_id");
    }
    OutgoingMessage notice = refused;
    notice.id = 0;
    notice.txn_id = refused.txn_id + std::string{suffix};
    notice.event_type = "m.room.message";
    notice.entry_id.clear();
    notice.attempts = 0;
    notice.content = notice_content(
        "Désolé, ma réponse était trop longue : le serveur l'a refusée. Précisez la demande "
        "pour une réponse plus courte, ou prévenez un administrateur.",
        {}, thread, reply_to);
    return notice;
}

} // namespace

TokenBucket::TokenBucket(double rate, int burst, TimePoint now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now)
{}

std::chrono::milliseconds TokenBucket::take(TimePoint now)
{
    const std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return 0ms;
    }
    const auto wait = std::chrono::duration<double>((1.0 - tokens_) / rate_);
    return std::chrono::ceil<std::chrono::milliseconds>(wait);
}

Sender::Sender(MatrixClient& client, StateStore& store, double rate, int burst, SteadyClock clock)
    : client_(client), store_(store), clock_(std::move(clock)), bucket_(rate, burst, clock_())
{}

void Sender::wake()
{
    {
        const std::lock_guard lock{mutex_};
        pending_wake_ = true;
    }
    woken_.notify_all();
}

std::optional<std::chrono::milliseconds> Sender::send_next(std::stop_token stop)
{
    const auto logger = log::get("bot.sender");
    auto next = store_.next_outgoing();
    if (!next) {
        logger->error("outbox unreadable: {}", next.error().message);
        return 5'000ms;
    }
    if (!next.value())
        return std::nullopt;
    const auto& message = *next.value();
    if (const auto wait = bucket_.take(clock_()); wait > 0ms)
        return wait;
    if (is_to_device(message)) {
        // Written by the bot itself and possibly megabytes long: sent as stored, unparsed.
        const auto type = message.event_type.substr(to_device_prefix.size());
        auto sent = client_.send_to_device_serialized(type, message.txn_id, message.content);
        if (sent) {
            backoff_ = 0ms;
            note_rate_limited(false);
            if (auto saved = store_.drop_outgoing(message.id); !saved)
                logger->error("sent {} but not recorded: {}", message.txn_id,
                              saved.error().message);
            logger->debug("sent to-device {} ({})", message.txn_id, type);
            return 0ms;
        }
        return after_failure(message, nlohmann::json{}, sent.error(), stop);
    }
    const auto content = nlohmann::json::parse(message.content, nullptr, false);
    if (content.is_discarded()) {
        logger->error("outgoing {} is not JSON: dropped", message.txn_id);
        static_cast<void>(store_.drop_outgoing(message.id));
        return 0ms;
    }
    // A message stored in clear before its room turned encrypted is never sent so (§4).
    if (message.event_type != "m.room.encrypted")
        if (auto room = store_.room(message.room_id);
            room && room.value() && room.value()->encrypted) {
            logger->error("message {} to {} dropped: stored in clear, and the room is now "
                          "encrypted",
                          message.txn_id, message.room_id);
            static_cast<void>(store_.drop_outgoing(message.id));
            return 0ms;
        }
    auto sent = client_.send(message.room_id, message.event_type, message.txn_id, content, stop);
    if (sent) {
        backoff_ = 0ms;
        note_rate_limited(false);
        if (auto saved = store_.mark_sent(message, sent.value()); !saved)
            logger->error("sent {} but not recorded: {}", message.txn_id, saved.error().message);
        logger->debug("sent {} as {} in {}", message.txn_id, sent.value(), message.room_id);
        return 0ms;
    }
    return after_failure(message, content, sent.error(), stop);
}

void Sender::note_rate_limited(bool limited)
{
    const auto now = clock_();
    if (!limited) {
        if (rate_limit_alerted_ && alerts_ != nullptr && limited_since_)
            alerts_->raise("rate-limit-ok",
                           "après " +
                               std::to_string(std::chrono::duration_cast<std::chrono::minutes>(
                                                  now - *limited_since_)
                                                  .count()) +
                               " min");
        limited_since_.reset();
        rate_limit_alerted_ = false;
        return;
    }
    if (!limited_since_)
        limited_since_ = now;
    if (!rate_limit_alerted_ && now - *limited_since_ >= rate_limit_alert_after_) {
        rate_limit_alerted_ = true;
        if (alerts_ != nullptr)
            alerts_->raise("rate-limit",
                           "depuis " +
                               std::to_string(std::chrono::duration_cast<std::chrono::minutes>(
                                                  now - *limited_since_)
                                                  .count()) +
                               " min");
    }
}

std::chrono::milliseconds Sender::after_failure(const OutgoingMessage& message,
                                                const nlohmann::json& content, const Error& error,
                                                std::stop_token stop)
{
    const auto logger = log::get("bot.sender");
    if (stop.stop_requested())
        return 0ms;
    static_cast<void>(store_.count_attempt(message.id));
    if (error.code == 429 || error.errcode == "M_LIMIT_EXCEEDED") {
        note_rate_limited(true);
        const auto wait = with_jitter(error.retry_after.value_or(1'000ms));
        logger->info("rate limited (429 {}): retry in {} ms", error.errcode, wait.count());
        return wait;
    }
    const bool retryable = error.kind == Error::Kind::transport || error.code >= 500 ||
                           error.code == 401 || error.kind == Error::Kind::parse;
    if (!retryable) { // 403 not in the room, 400 bad event, 413 too large: final
        logger->error("message {} to {} refused for good ({} {} {}): dropped", message.txn_id,
                      message.room_id, error.code, error.errcode, error.message);
        if (!is_to_device(message) && (error.code == 413 || error.errcode == "M_TOO_LARGE"))
            if (auto notice = too_large_notice(message, content)) {
                static_cast<void>(store_.replace_outgoing(
                    message.id, *notice, message.event_type == "m.room.encrypted"));
                return 0ms;
            }
        static_cast<void>(store_.drop_outgoing(message.id));
        return 0ms;
    }
    backoff_ = std::clamp(backoff_ * 2, 500ms, 30'000ms);
    logger->warn("sending {} failed ({} {} {}): retry in {} ms", message.txn_id, error.code,
                 error.errcode, error.message, backoff_.count());
    return with_jitter(backoff_);
}

void Sender::run(std::stop_token stop)
{
    auto& outbox = metrics::bot_metrics().outbox_messages;
    while (!stop.stop_requested()) {
        const auto delay = send_next(stop);
        if (!delay) // nothing to send: no need to count
            outbox.set(0);
        else if (const auto waiting = store_.outgoing_count())
            outbox.set(static_cast<double>(waiting.value()));
        if (delay && *delay == 0ms)
            continue;
        std::unique_lock lock{mutex_};
        const auto woken = [this] { return pending_wake_; };
        if (!delay) // empty outbox: sleep until something is queued (a minute at most)
            woken_.wait_for(lock, stop, 60s, woken);
        else // waiting for the budget or the server: a wake does not shorten it
            woken_.wait_for(lock, stop, *delay, [] { return false; });
        pending_wake_ = false;
    }
}

} // namespace opalebot::bot
