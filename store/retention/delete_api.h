// DeleteApi: Loki's log deletion endpoints, served by logq-store.
//
//   POST|PUT /loki/api/v1/delete?query=<LogQL>&start=<t>[&end=<t>][&max_interval=<d>] → 204
//   GET      /loki/api/v1/delete                     → 200 JSON list (DeleteRequestsToJson)
//   DELETE   /loki/api/v1/delete?request_id=<id>     → 204; 404 unknown id; 400 when processed
//   GET      /loki/api/v1/cache/generation_numbers   → 200 JSON string
//
// Parameters, validation messages and status codes follow Loki's compactor
// (pkg/compactor/deletion/request_handler.go): times are Unix seconds (10 digits) or RFC3339,
// kept with millisecond precision; `end` defaults to now and may not be in the future.
// The caller resolves the tenant. Thread-safety: safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "query/base/clock.h"
#include "query/base/http_server.h"
#include "query/base/metrics.h"
#include "store/ingest/limits.h"
#include "store/retention/delete_requests.h"

namespace logq::retention {

class DeleteApi {
 public:
  using LimitsFn = std::function<ingest::Limits(std::string_view tenant)>;
  // `max_interval_ns`: compactor.delete_max_interval (0 = unlimited).
  DeleteApi(DeleteRequestStore* store, LimitsFn limits_for, const Clock* clock, MetricsRegistry* metrics,
            int64_t max_interval_ns)
      : store_(store), limits_for_(std::move(limits_for)), clock_(clock), metrics_(metrics), max_interval_(max_interval_ns) {}

  HttpResponse HandleDelete(const HttpRequest& req, const std::string& tenant);
  HttpResponse HandleGenerationNumbers(const HttpRequest& req, const std::string& tenant);

 private:
  HttpResponse Add(const HttpRequest& req, const std::string& tenant);

  DeleteRequestStore* store_;
  LimitsFn limits_for_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  int64_t max_interval_;
};

// Loki's deletion time parameter: "" → `now_ms`; RFC3339; or exactly 10 characters of
// (float) Unix seconds. Milliseconds. InvalidArgument otherwise.
Result<int64_t> ParseDeleteTime(std::string_view v, int64_t now_ms);
// Go's time.Duration.String() ("24h0m0s", "1m30s", "1.5s", "500ms", "0s").
std::string GoDurationString(int64_t nanos);

}  // namespace logq::retention
