// Engine: evaluates LogQL over a Querier.
//
//   log queries     every matching stream runs the pipeline (in parallel on the worker pool)
//                   in the requested direction and stops after `limit` passing lines; the
//                   results are merged into the global first `limit` entries by time.
//   metric queries  range aggregations fold samples per series and step window in one pass
//                   over each stream; vector aggregations, binary operations (with on/
//                   ignoring, group_left/right, bool), label_replace, vector() and literals
//                   are applied per step.
//
// Semantics follow Loki: log results are [start, end); a metric point at t covers
// (t - range - offset, t - offset]; points are at start + k*step <= end; steps without
// samples are omitted; instant queries evaluate once at `end` (= time).
// Thread-safety: Engine is stateless apart from its options; Query may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/base/worker_pool.h"
#include "query/engine/querier.h"
#include "query/logql/ast.h"
#include "query/model/labels.h"

namespace logq::engine {

struct EngineOptions {
  int max_query_series = 500;       // 400 "maximum of series (N) reached for a single query"
  // A range query's series are counted per window of this length (aligned to multiples of it
  // since the epoch), as Loki's querier counts them per sub-query of its frontend's
  // split_queries_by_interval; 0 counts over the whole range. Default 1h (Loki's).
  int64_t series_limit_interval_ns = 3600LL * 1'000'000'000;
  int64_t timeout_ns = 60LL * 1'000'000'000;  // 504 after this (checked by time while reading)
  // Bytes of lines, labels and samples one query may hold while it runs; 400 naming
  // limits_config.max_query_memory_size above. <= 0: no budget.
  int64_t max_query_memory_bytes = 64LL << 20;
};

// Loki's answer to a query past its timeout (504, DeadlineExceeded).
inline constexpr std::string_view kTimeoutMessage =
    "Request timed out, decrease the duration of the request or add more label matchers (prefer exact match over "
    "regex match) to reduce the amount of data processed.";

// Loki's maximum resolution: a range query has at most this many steps per series; 400
// "exceeded maximum resolution of 11,000 points per timeseries" above.
inline constexpr int64_t kMaxPointsPerSeries = 11000;

struct QueryParams {
  logql::ExprPtr expr;
  int64_t start = 0;  // ns
  int64_t end = 0;    // ns (log queries: exclusive)
  int64_t step = 0;   // ns; 0 for instant queries
  bool instant = false;
  bool forward = false;
  size_t limit = 100;
};

struct Entry {
  int64_t ts;
  std::string line;
  Labels structured_metadata;  // categorized view
  Labels parsed;               // categorized view
};

struct LogStream {
  Labels labels;   // full label set (stream + metadata + parsed)
  Labels stream;   // categorized: indexed labels only
  std::vector<Entry> entries;  // in query direction
};

struct Point {
  int64_t t_ms;
  double v;
};

struct Series {
  Labels labels;
  std::vector<Point> points;  // ascending
};

struct QueryStats {
  ReadStats read;
  uint64_t lines_processed = 0;
  uint64_t bytes_processed = 0;
  uint64_t entries_returned = 0;
  int64_t exec_ns = 0;
};

struct QueryResult {
  enum class Type { kStreams, kMatrix, kVector, kScalar };
  Type type = Type::kStreams;
  std::vector<LogStream> streams;
  std::vector<Series> series;  // matrix, or vector (one point each)
  Point scalar{0, 0};
  QueryStats stats;
};

class Engine {
 public:
  Engine(WorkerPool* pool, EngineOptions options) : pool_(pool), options_(options) {}
  Result<QueryResult> Query(Querier* querier, const QueryParams& params) const;

 private:
  WorkerPool* pool_;
  EngineOptions options_;
};

// Formats a sample value as Go's strconv.FormatFloat(v, 'f', -1, 64) ("3", "0.25", "NaN",
// "+Inf"), as Loki's JSON does.
std::string FormatSampleValue(double v);

}  // namespace logq::engine
