// StepEvaluator: evaluates a metric LogQL expression at every step of a range (or once for
// an instant query). Internal to query/engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/base/worker_pool.h"
#include "query/engine/engine.h"
#include "query/engine/querier.h"
#include "query/logql/ast.h"

namespace logq::engine {

// Readers check the deadline (a steady clock) every kDeadlineCheckMask + 1 entries, so that a
// query stops within a few lines of its timeout even when each line is expensive.
inline constexpr uint64_t kDeadlineCheckMask = 0xF;

// A value per step for a set of series; `has[k]` says whether step k has a sample.
struct StepSeries {
  Labels labels;
  std::string key;  // labels.ToString()
  std::vector<double> v;
  std::vector<uint8_t> has;
};

struct StepValue {
  bool scalar = false;
  double scalar_value = 0;      // literal (same at every step)
  std::vector<StepSeries> series;
};

// The bytes of entries and samples one query holds while it runs (lines, labels, samples),
// shared by its worker threads. limit <= 0 means no budget.
class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t limit) : limit_(limit) {}
  // Adds `bytes`; false once the total is over the limit (the query must then fail with
  // Exceeded()).
  bool Charge(int64_t bytes) {
    if (limit_ <= 0) return true;
    return used_.fetch_add(bytes, std::memory_order_relaxed) + bytes <= limit_;
  }
  bool exceeded() const { return limit_ > 0 && used_.load(std::memory_order_relaxed) > limit_; }
  // 400 naming the limit and its config key.
  Status Exceeded() const;

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

// Approximate bytes one collected log entry costs besides its line (entry, bookkeeping).
inline constexpr int64_t kEntryOverheadBytes = 64;
// Bytes one extracted sample costs while a range aggregation runs.
inline constexpr int64_t kSampleBytes = 16;

class StepEvaluator {
 public:
  // `max_series` applies to an instant query's vector, and to the series of a range query
  // that have points in one window of `series_interval_ns` (0: the whole range).
  StepEvaluator(WorkerPool* pool, Querier* querier, const QueryParams& p, int max_series,
                int64_t series_interval_ns, int64_t deadline_mono);
  // Optional: samples and series are charged to `budget` (not owned; outlives Run).
  void set_memory_budget(MemoryBudget* budget) { budget_ = budget; }
  Result<QueryResult> Run();

 private:
  Result<StepValue> Eval(const logql::Expr& e);
  Result<StepValue> EvalRange(const logql::RangeAggregationExpr& r);
  Result<StepValue> EvalVectorAgg(const logql::VectorAggregationExpr& v);
  Result<StepValue> EvalVectorAggInput(const logql::VectorAggregationExpr& v);
  Result<StepValue> EvalBinary(const logql::BinaryExpr& b);
  Result<StepValue> EvalLabelReplace(const logql::LabelReplaceExpr& l);
  int64_t StepTime(size_t k) const { return start_ + static_cast<int64_t>(k) * step_; }

  WorkerPool* pool_;
  Querier* querier_;
  QueryParams p_;
  bool WithinSeriesLimitPerWindow(const QueryResult& r) const;

  int max_series_;
  int64_t series_interval_ns_;
  int64_t deadline_;
  MemoryBudget* budget_ = nullptr;
  int64_t start_;
  int64_t step_;
  size_t steps_;
  QueryStats stats_;
};

}  // namespace logq::engine
