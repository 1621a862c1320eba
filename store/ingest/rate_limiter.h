// RateLimiter: per-tenant token buckets for Loki's ingestion_rate_mb / ingestion_burst_size_mb.
// Time comes from the Clock passed in, so tests drive it. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "query/base/clock.h"

namespace logq::ingest {

class RateLimiter {
 public:
  explicit RateLimiter(const Clock* clock) : clock_(clock) {}
  // Takes `bytes` tokens from the tenant's bucket (rate bytes/s, capacity burst bytes) if
  // available; returns false (taking nothing) otherwise. A request larger than the burst
  // can never pass.
  bool Allow(std::string_view tenant, double rate, double burst, double bytes);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last = 0;
    bool init = false;
  };
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace logq::ingest
