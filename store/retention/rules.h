// Retention rules: which period applies to a stream, with Loki's precedence.
//
// A tenant's effective limits are the global `limits_config` overlaid with the tenant's
// block of the runtime overrides file (ingest::Limits; see RuntimeConfig). As in Loki, a
// tenant block that sets `retention_stream` replaces the global list; one that does not
// inherits it. The period of a stream is then:
//   1. the matching `retention_stream` rule with the highest priority; among equal
//      priorities, the shortest period (tenant rules if the tenant has its own list, else
//      the global rules);
//   2. otherwise the tenant's `retention_period` (the global one unless overridden);
//   3. 0 = keep forever.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "query/model/labels.h"
#include "store/ingest/limits.h"

namespace logq::retention {

// Loki's minimum for a `retention_stream` period (pkg/validation Limits.Validate).
inline constexpr int64_t kMinStreamRetention = 24LL * 3600 * 1'000'000'000;

// The retention period (ns) of a stream with `labels` under `limits`; 0 = keep forever.
int64_t RetentionPeriodFor(const ingest::Limits& limits, const Labels& labels);

// The rule that decided RetentionPeriodFor, or nullptr when the tenant period applies.
const ingest::StreamRetention* MatchingStreamRule(const ingest::Limits& limits, const Labels& labels);

}  // namespace logq::retention
