// Retry policy of the push client: which responses are retried, and how long to wait.
// Pure functions of their inputs (the random draw is passed in), so tests pin them exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logq::shipper {

struct BackoffConfig {
  int64_t min_period_ns = 500'000'000;        // first delay; default 500ms (Promtail)
  int64_t max_period_ns = 300'000'000'000;    // cap; default 5m (Promtail)
  int max_retries = 0;                        // 0 = retry without limit (default)
};

// Delay before retry number `attempt` (0 = first retry): exponential from min_period,
// capped at max_period, with "equal jitter" (half fixed, half uniform: rand01 in [0,1)).
// A server's Retry-After (`retry_after_ns` >= 0) is honoured: the delay is at least that,
// itself capped at max_period.
int64_t BackoffDelay(const BackoffConfig& c, int attempt, int64_t retry_after_ns, double rand01);

enum class PushOutcome { kAck, kRetry, kDrop };

// 2xx → ack; 0 (no response: refused, reset, timeout), 429 and 5xx → retry; anything else →
// drop (a 400 from Loki is a partial success: retrying it would duplicate the valid entries).
PushOutcome ClassifyStatus(int http_status);

// The drop reason for a non-retryable response, from Loki's messages: "too_old",
// "too_new", "line_too_long", "out_of_order", "stream_limit", "invalid_labels",
// "rate_limited", "too_large" (413), "unauthorized" (401/403), else "http_<status>".
std::string DropReason(int http_status, std::string_view body);

// Parses a Retry-After header value: delta-seconds or an HTTP-date (relative to
// `now_wall_ns`). -1 when absent or invalid.
int64_t ParseRetryAfter(std::string_view value, int64_t now_wall_ns);

}  // namespace logq::shipper
