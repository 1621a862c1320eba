#include "store/ingest/rate_limiter.h"

#include <algorithm>

namespace logq::ingest {

bool RateLimiter::Allow(std::string_view tenant, double rate, double burst, double bytes) {
  if (rate <= 0) return true;
  std::lock_guard<std::mutex> l(mu_);
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) it = buckets_.emplace(std::string(tenant), Bucket{}).first;
  Bucket& b = it->second;
  int64_t now = clock_->MonotonicNanos();
  if (!b.init) {
    b.tokens = burst;
    b.last = now;
    b.init = true;
  }
  double elapsed = static_cast<double>(now - b.last) / 1e9;
  b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate);
  b.last = now;
  if (bytes > b.tokens) return false;
  b.tokens -= bytes;
  return true;
}

}  // namespace logq::ingest
