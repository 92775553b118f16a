#pragma once

#include "opalebot/metrics.hpp"

namespace opalebot::metrics {

/// The metrics of opale-bot (issue 16), all named here so that a review sees at once that none
/// holds a user id, a secret or a message text. They live in the process's registry: every
/// module counts without being handed a sink, and `opale-bot run` serves them (metrics.ecoute).
struct BotMetrics {
    Counter& questions;       ///< opalebot_questions_total
    CounterFamily& answers;   ///< opalebot_answers_total{tier="sure|probable|none"}
    Counter& abstentions;     ///< opalebot_abstentions_total
    CounterFamily& commands;  ///< opalebot_commands_total{command}: registered names only
    Counter& tickets_created; ///< opalebot_tickets_created_total
    Counter& reminders_sent;  ///< opalebot_reminders_sent_total
    Counter& sync_errors;     ///< opalebot_sync_errors_total
    Counter& rate_limited;    ///< opalebot_http_429_total
    Gauge& outbox_messages;   ///< opalebot_outbox_messages
    Gauge& last_sync;         ///< opalebot_last_successful_sync_timestamp_seconds
    Histogram& reply_latency; ///< opalebot_reply_latency_seconds
};

/// The process's registry, created on first use.
Registry& process_registry();

/// The bot's metrics, added to process_registry() on first use (thread-safe).
BotMetrics& bot_metrics();

} // namespace opalebot::metrics
