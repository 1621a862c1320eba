// StepEvaluator: evaluates a metric LogQL expression at every step of a range (or once for
// an instant query). Internal to query/engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "query/base/status.h"
#include "query/base/worker_pool.h"
#include "query/engine/engine.h"
#include "query/engine/querier.h"
#include "query/logql/ast.h"

namespace logq::engine {

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

class StepEvaluator {
 public:
  StepEvaluator(WorkerPool* pool, Querier* querier, const QueryParams& p, int max_series, int64_t deadline_mono);
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
  int max_series_;
  int64_t deadline_;
  int64_t start_;
  int64_t step_;
  size_t steps_;
  QueryStats stats_;
};

}  // namespace logq::engine
