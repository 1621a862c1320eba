#include "query/engine/step_eval.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "query/base/clock.h"
#include "query/base/units.h"
#include "query/pipeline/pipeline.h"

namespace logq::engine {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Sample {
  int64_t ts;
  double v;
};

// Merges time-ordered vectors into one, pairwise (O(n log k)); on equal timestamps samples
// of earlier vectors come first, as a stable sort of their concatenation would order them.
std::vector<Sample> MergeByTime(std::vector<std::vector<Sample>> parts) {
  if (parts.empty()) return {};
  auto by_ts = [](const Sample& a, const Sample& b) { return a.ts < b.ts; };
  while (parts.size() > 1) {
    std::vector<std::vector<Sample>> next;
    next.reserve((parts.size() + 1) / 2);
    for (size_t i = 0; i + 1 < parts.size(); i += 2) {
      std::vector<Sample> m;
      m.reserve(parts[i].size() + parts[i + 1].size());
      std::merge(parts[i].begin(), parts[i].end(), parts[i + 1].begin(), parts[i + 1].end(), std::back_inserter(m), by_ts);
      next.push_back(std::move(m));
    }
    if (parts.size() % 2 == 1) next.push_back(std::move(parts.back()));
    parts = std::move(next);
  }
  return std::move(parts[0]);
}

Labels ReduceLabels(const Labels& in, const logql::Grouping* g) {
  Labels out;
  if (!g) return out;
  for (const Label& l : in) {
    bool listed = std::find(g->labels.begin(), g->labels.end(), l.name) != g->labels.end();
    if (listed != g->without) out.Add(l.name, l.value);
  }
  return out;
}

double Quantile(double q, std::vector<double> vals) {
  if (vals.empty()) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(vals.begin(), vals.end());
  double rank = q * static_cast<double>(vals.size() - 1);
  size_t lower = static_cast<size_t>(std::max(0.0, std::floor(rank)));
  size_t upper = std::min(vals.size() - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return vals[lower] * (1 - weight) + vals[upper] * weight;
}

// Aggregates the samples of one window.
// `window_end` is the window's upper bound (ns, inclusive), `range_ns` its length.
double AggregateWindow(logql::RangeOp op, const Sample* b, const Sample* e, int64_t window_end, int64_t range_ns,
                       bool unwrapped, std::optional<double> param) {
  const double range_s = static_cast<double>(range_ns) / 1e9;
  using O = logql::RangeOp;
  const size_t n = static_cast<size_t>(e - b);
  switch (op) {
    case O::kCountOverTime: return static_cast<double>(n);
    case O::kRate: {
      if (!unwrapped) return static_cast<double>(n) / range_s;
      double s = 0;
      for (auto* x = b; x != e; ++x) s += x->v;
      return s / range_s;
    }
    case O::kBytesOverTime:
    case O::kSumOverTime: {
      double s = 0;
      for (auto* x = b; x != e; ++x) s += x->v;
      return s;
    }
    case O::kBytesRate: {
      double s = 0;
      for (auto* x = b; x != e; ++x) s += x->v;
      return s / range_s;
    }
    case O::kAvgOverTime: {
      // Loki's avgOverTime: once the mean is infinite, a finite sample or an infinity of
      // the same sign leaves it as is (the incremental update would make it NaN).
      double mean = 0, count = 0;
      for (auto* x = b; x != e; ++x) {
        count++;
        if (std::isinf(mean)) {
          if (std::isinf(x->v) && (mean > 0) == (x->v > 0)) continue;
          if (!std::isinf(x->v) && !std::isnan(x->v)) continue;
        }
        mean += x->v / count - mean / count;
      }
      return mean;
    }
    case O::kMinOverTime: {
      double m = b->v;
      for (auto* x = b; x != e; ++x) m = (x->v < m || std::isnan(m)) ? x->v : m;
      return m;
    }
    case O::kMaxOverTime: {
      double m = b->v;
      for (auto* x = b; x != e; ++x) m = (x->v > m || std::isnan(m)) ? x->v : m;
      return m;
    }
    case O::kStdvarOverTime:
    case O::kStddevOverTime: {
      double count = 0, mean = 0, m2 = 0;
      for (auto* x = b; x != e; ++x) {
        count++;
        double d = x->v - mean;
        mean += d / count;
        m2 += d * (x->v - mean);
      }
      double var = m2 / count;
      return op == O::kStdvarOverTime ? var : std::sqrt(var);
    }
    case O::kQuantileOverTime: {
      std::vector<double> vals;
      vals.reserve(n);
      for (auto* x = b; x != e; ++x) vals.push_back(x->v);
      return Quantile(param.value_or(0), std::move(vals));
    }
    case O::kFirstOverTime: return b->v;
    case O::kLastOverTime: return (e - 1)->v;
    case O::kRateCounter: {
      // Prometheus' extrapolatedRate(isCounter, isRate) over the window (end - range, end],
      // with nanosecond timestamps, as Loki computes it since its fix of rate_counter
      // (grafana/loki#23684): counter resets are added back; each edge is extrapolated to
      // the window boundary when the gap is under 1.1 average sample intervals, else by
      // half an interval; the start is capped at the counter's zero point.
      if (n < 2) return 0;
      double result = (e - 1)->v - b->v;
      double last = 0;
      for (auto* x = b; x != e; ++x) {
        if (x->v < last) result += last;
        last = x->v;
      }
      const double sampled = static_cast<double>((e - 1)->ts - b->ts) / 1e9;
      if (sampled == 0) return 0;
      const double avg_gap = sampled / static_cast<double>(n - 1);
      const double threshold = avg_gap * 1.1;
      double to_start = static_cast<double>(b->ts - (window_end - range_ns)) / 1e9;
      double to_end = static_cast<double>(window_end - (e - 1)->ts) / 1e9;
      if (to_start >= threshold) to_start = avg_gap / 2;
      if (result > 0 && b->v >= 0) to_start = std::min(to_start, sampled * (b->v / result));
      if (to_end >= threshold) to_end = avg_gap / 2;
      double factor = (sampled + to_start + to_end) / sampled;
      factor /= range_s;
      return result * factor;
    }
    case O::kAbsentOverTime: return 1;
  }
  return kNaN;
}

// Loki's Sortable: whether sort or sort_desc appears anywhere in the expression.
bool ContainsSort(const logql::Expr& e) {
  using K = logql::Expr::Kind;
  switch (e.kind) {
    case K::kVectorAggregation: {
      const auto& v = static_cast<const logql::VectorAggregationExpr&>(e);
      return v.op == logql::VectorOp::kSort || v.op == logql::VectorOp::kSortDesc || ContainsSort(*v.inner);
    }
    case K::kBinary: {
      const auto& b = static_cast<const logql::BinaryExpr&>(e);
      return ContainsSort(*b.lhs) || ContainsSort(*b.rhs);
    }
    case K::kLabelReplace: return ContainsSort(*static_cast<const logql::LabelReplaceExpr&>(e).inner);
    default: return false;
  }
}

std::string MatchKey(const Labels& l, const logql::VectorMatching& m) {
  Labels k;
  for (const Label& x : l) {
    bool listed = std::find(m.matching.begin(), m.matching.end(), x.name) != m.matching.end();
    if (m.on ? listed : !listed) k.Add(x.name, x.value);
  }
  return k.ToString();
}

bool IsComparison(logql::BinOp op) {
  using B = logql::BinOp;
  return op == B::kEq || op == B::kNe || op == B::kGt || op == B::kGe || op == B::kLt || op == B::kLe;
}

// Returns the arithmetic result, or for comparisons 1/0 (truth). As in Loki (not
// Prometheus), division and modulo by zero are NaN, for scalars and vectors alike.
double Apply(logql::BinOp op, double a, double b) {
  using B = logql::BinOp;
  switch (op) {
    case B::kAdd: return a + b;
    case B::kSub: return a - b;
    case B::kMul: return a * b;
    case B::kDiv: return b == 0 ? kNaN : a / b;
    case B::kMod: return b == 0 ? kNaN : std::fmod(a, b);
    case B::kPow: return std::pow(a, b);
    case B::kEq: return a == b;
    case B::kNe: return a != b;
    case B::kGt: return a > b;
    case B::kGe: return a >= b;
    case B::kLt: return a < b;
    case B::kLe: return a <= b;
    default: return kNaN;
  }
}

// Go's regexp.Expand: $1, ${1}, $name, ${name}; $$ is a literal $. Unknown groups expand
// to "".
std::string ExpandTemplate(const std::string& tmpl, const RE2& re, const std::vector<re2::StringPiece>& groups) {
  std::string out;
  const auto& names = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) {
      out += tmpl[i];
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      size_t close = tmpl.find('}', j);
      if (close == std::string::npos) {
        out += tmpl[i];
        continue;
      }
      name = tmpl.substr(j + 1, close - j - 1);
      j = close + 1;
    } else {
      while (j < tmpl.size() && (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) name += tmpl[j++];
    }
    if (name.empty()) {
      out += tmpl[i];
      continue;
    }
    int idx = -1;
    if (std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      idx = std::atoi(name.c_str());
    } else if (auto it = names.find(name); it != names.end()) {
      idx = it->second;
    }
    if (idx >= 0 && static_cast<size_t>(idx) < groups.size()) out.append(groups[idx].data(), groups[idx].size());
    i = j - 1;
  }
  return out;
}

std::string PipelineErrorMessage(const std::string& err, const std::string& series) {
  return fmt::format(
      "pipeline error: '{}' for series: '{}'.\nUse a label filter to intentionally skip this error. (e.g | "
      "__error__!=\"{}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label "
      "filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )",
      err, series, err);
}

}  // namespace

// True when a range query's series, counted per window of series_interval_ns_ (the windows
// Loki's frontend splits a range query into, each a separate querier query with its own
// limit), stay within max_series_ in every window.
bool StepEvaluator::WithinSeriesLimitPerWindow(const QueryResult& r) const {
  if (p_.instant || series_interval_ns_ <= 0) return false;
  const int64_t window_ms = std::max<int64_t>(series_interval_ns_ / 1'000'000, 1);
  auto window_of = [&](int64_t t_ms) { return t_ms >= 0 ? t_ms / window_ms : (t_ms - window_ms + 1) / window_ms; };
  std::unordered_map<int64_t, int> per_window;
  for (const Series& s : r.series) {
    int64_t last = INT64_MIN;
    for (const auto& pt : s.points) {
      const int64_t w = window_of(pt.t_ms);
      if (w == last) continue;
      last = w;
      if (++per_window[w] > max_series_) return false;
    }
  }
  return true;
}

StepEvaluator::StepEvaluator(WorkerPool* pool, Querier* querier, const QueryParams& p, int max_series,
                             int64_t series_interval_ns, int64_t deadline_mono)
    : pool_(pool),
      querier_(querier),
      p_(p),
      max_series_(max_series),
      series_interval_ns_(series_interval_ns),
      deadline_(deadline_mono) {
  if (p.instant || p.step <= 0) {
    start_ = p.end;
    step_ = 1;
    steps_ = 1;
  } else {
    start_ = p.start;
    step_ = p.step;
    steps_ = static_cast<size_t>((p.end - p.start) / p.step) + 1;
  }
}

Status MemoryBudget::Exceeded() const {
  return InvalidArgument(fmt::format(
      "the query needs more than {} of memory for its entries and samples (limits_config.max_query_memory_size); "
      "reduce the time range, the limit or the size of the lines it returns",
      FormatBytes(limit_)));
}

Result<StepValue> StepEvaluator::Eval(const logql::Expr& e) {
  using K = logql::Expr::Kind;
  // Every node costs up to steps x series of CPU: the deadline is checked per node as well
  // as while reading.
  if (SystemClock::Default()->MonotonicNanos() > deadline_) return DeadlineExceeded(std::string(kTimeoutMessage));
  switch (e.kind) {
    case K::kRangeAggregation: return EvalRange(static_cast<const logql::RangeAggregationExpr&>(e));
    case K::kVectorAggregation: return EvalVectorAgg(static_cast<const logql::VectorAggregationExpr&>(e));
    case K::kBinary: return EvalBinary(static_cast<const logql::BinaryExpr&>(e));
    case K::kLabelReplace: return EvalLabelReplace(static_cast<const logql::LabelReplaceExpr&>(e));
    case K::kLiteral: {
      StepValue v;
      v.scalar = true;
      v.scalar_value = static_cast<const logql::LiteralExpr&>(e).value;
      return v;
    }
    case K::kVector: {
      StepValue v;
      StepSeries s;
      s.key = "{}";
      s.v.assign(steps_, static_cast<const logql::VectorExpr&>(e).value);
      s.has.assign(steps_, 1);
      v.series.push_back(std::move(s));
      return v;
    }
    case K::kLog: return InvalidArgument("a log query cannot be used inside a metric expression");
  }
  return Internal("unknown expression");
}

// Loki's canInjectVectorGrouping: `sum` of a range aggregation that is linear in its samples
// (count_over_time, rate, bytes_over_time, bytes_rate, sum_over_time) and has no grouping
// of its own gets the sum's grouping pushed into sample extraction (`by ()` when the sum has
// none, as Loki's parser defaults it). The series are then reduced as
// lines are read instead of one series per parsed label set (a json parser's request ids
// would make one per line). Lines with `__error__` keep their full labels either way, so
// pipeline errors are reported the same.
Result<StepValue> StepEvaluator::EvalVectorAggInput(const logql::VectorAggregationExpr& a) {
  using O = logql::RangeOp;
  if (a.op == logql::VectorOp::kSum && a.inner->kind == logql::Expr::Kind::kRangeAggregation) {
    const auto& r = static_cast<const logql::RangeAggregationExpr&>(*a.inner);
    const bool linear = r.op == O::kCountOverTime || r.op == O::kRate || r.op == O::kBytesOverTime ||
                        r.op == O::kBytesRate || r.op == O::kSumOverTime;
    if (linear && !r.grouping) {
      logql::RangeAggregationExpr injected = r;
      injected.grouping = a.grouping ? *a.grouping : logql::Grouping{};
      return EvalRange(injected);
    }
  }
  return Eval(*a.inner);
}

Result<StepValue> StepEvaluator::EvalRange(const logql::RangeAggregationExpr& r) {
  ASSIGN_OR_RETURN(auto extractor, pipeline::SampleExtractor::Make(r));
  // Samples for the window of step k: (t_k - offset - range, t_k - offset].
  const int64_t first_lo = StepTime(0) - r.offset_ns - r.range_ns;
  const int64_t last_hi = StepTime(steps_ - 1) - r.offset_ns;
  SelectRequest req;
  req.matchers = r.log->matchers;
  req.from = first_lo + 1;
  req.through = last_hi + 1;
  req.required_literals = extractor->RequiredLiterals();
  ASSIGN_OR_RETURN(auto sources, querier_->Select(req));

  struct PerSource {
    std::map<std::string, std::pair<Labels, std::vector<Sample>>> series;
    Status status;
    uint64_t lines = 0, bytes = 0;
  };
  std::vector<PerSource> per(sources.size());
  const int64_t deadline = deadline_;
  pool_->ParallelFor(sources.size(), [&](size_t i) {
    auto se = extractor->ForStream(sources[i]->labels());
    PerSource& ps = per[i];
    const pipeline::ResultLabels* last_rl = nullptr;
    std::vector<Sample>* last_vec = nullptr;
    bool timed_out = false, over_budget = false;
    int64_t uncharged = 0;  // bytes not yet charged to the budget (charged in batches)
    auto charge = [&](int64_t bytes) {
      uncharged += bytes;
      if (budget_ == nullptr || uncharged < (16 << 10)) return true;
      const bool ok = budget_->Charge(uncharged);
      uncharged = 0;
      return ok;
    };
    ps.status = sources[i]->ForEach(req.from, req.through, true,
                                    [&](int64_t ts, std::string_view line, const std::vector<Label>& md) {
                                      // By time, not by entry count: one line of an expensive
                                      // pipeline can cost milliseconds.
                                      if ((++ps.lines & kDeadlineCheckMask) == 0 &&
                                          SystemClock::Default()->MonotonicNanos() > deadline) {
                                        timed_out = true;
                                        return false;
                                      }
                                      ps.bytes += line.size();
                                      double v;
                                      const pipeline::ResultLabels* rl = nullptr;
                                      if (!se->Process(ts, line, md, &v, &rl)) return true;
                                      if (rl != last_rl) {
                                        auto& slot = ps.series[rl->text];
                                        if (slot.second.empty()) {
                                          slot.first = rl->labels;
                                          if (!charge(static_cast<int64_t>(2 * rl->text.size()) + 128)) {
                                            over_budget = true;
                                            return false;
                                          }
                                        }
                                        last_rl = rl;
                                        last_vec = &slot.second;
                                      }
                                      last_vec->push_back({ts, v});
                                      if (!charge(kSampleBytes) || (budget_ != nullptr && budget_->exceeded())) {
                                        over_budget = true;
                                        return false;
                                      }
                                      return true;
                                    },
                                    [&](int64_t) {
                                      if (SystemClock::Default()->MonotonicNanos() > deadline) {
                                        timed_out = true;
                                        return true;
                                      }
                                      return false;
                                    });
    if (ps.status.ok() && timed_out) ps.status = DeadlineExceeded(std::string(kTimeoutMessage));
    if (ps.status.ok() && over_budget) ps.status = budget_->Exceeded();
  });
  // Per series key, the time-ordered sample vectors of every source that produced it (more
  // than one when streams reduce to the same labels, e.g. under a pushed-down grouping).
  struct Merged {
    Labels labels;
    std::vector<std::vector<Sample>> parts;
  };
  std::map<std::string, Merged> merged;
  for (size_t i = 0; i < per.size(); ++i) {
    RETURN_IF_ERROR(per[i].status);
    const ReadStats& rs = sources[i]->stats();
    stats_.lines_processed += per[i].lines + rs.skipped_lines;
    stats_.bytes_processed += per[i].bytes + rs.skipped_bytes;
    stats_.read.skipped_lines += rs.skipped_lines;
    stats_.read.skipped_bytes += rs.skipped_bytes;
    stats_.read.chunks += rs.chunks;
    stats_.read.compressed_bytes += rs.compressed_bytes;
    stats_.read.decompressed_bytes += rs.decompressed_bytes;
    stats_.read.decompressed_lines += rs.decompressed_lines;
    stats_.read.head_bytes += rs.head_bytes;
    stats_.read.head_lines += rs.head_lines;
    for (auto& [key, lv] : per[i].series) {
      Merged& m = merged[key];
      if (m.parts.empty()) m.labels = std::move(lv.first);
      m.parts.push_back(std::move(lv.second));
    }
  }
  for (const auto& [key, m] : merged) {
    if (const std::string* err = m.labels.Get("__error__")) {
      return InvalidArgument(PipelineErrorMessage(*err, key));
    }
  }

  // Calls on_window(k, begin, end) for every step whose window holds samples of `s`.
  auto for_each_window = [&](const std::vector<Sample>& s, auto&& on_window) {
    size_t lo = 0, hi = 0;
    for (size_t k = 0; k < steps_; ++k) {
      const int64_t t = StepTime(k) - r.offset_ns;
      while (hi < s.size() && s[hi].ts <= t) ++hi;
      while (lo < hi && s[lo].ts <= t - r.range_ns) ++lo;
      if (hi > lo) on_window(k, s.data() + lo, s.data() + hi);
    }
  };

  StepValue out;
  const double range_s = static_cast<double>(r.range_ns) / 1e9;
  const bool unwrapped = r.unwrap.has_value();
  if (r.op == logql::RangeOp::kAbsentOverTime) {
    std::vector<uint8_t> present(steps_, 0);
    for (const auto& [key, m] : merged) {
      for (const auto& part : m.parts) for_each_window(part, [&](size_t k, const Sample*, const Sample*) { present[k] = 1; });
    }
    StepSeries ss;
    for (const Matcher& m : r.log->matchers) {
      if (m.type() == MatchType::kEqual) ss.labels.Add(m.name(), m.value());
    }
    ss.labels.Sort();
    ss.key = ss.labels.ToString();
    ss.v.assign(steps_, 1);
    ss.has.resize(steps_);
    bool any = false;
    for (size_t k = 0; k < steps_; ++k) {
      ss.has[k] = !present[k];
      any |= ss.has[k];
    }
    if (any) out.series.push_back(std::move(ss));
    return out;
  }
  // Window values that are exact integer sums over the samples (count, bytes, and rate
  // without unwrap) are computed per part and added, without merging the parts.
  using O = logql::RangeOp;
  const bool additive = !unwrapped && (r.op == O::kCountOverTime || r.op == O::kBytesOverTime ||
                                       r.op == O::kBytesRate || r.op == O::kRate);
  for (auto& [key, m] : merged) {
    StepSeries ss;
    ss.labels = std::move(m.labels);
    ss.key = key;
    ss.v.assign(steps_, 0);
    ss.has.assign(steps_, 0);
    bool any = false;
    if (additive) {
      std::vector<double> sum(steps_, 0);
      for (const auto& part : m.parts) {
        for_each_window(part, [&](size_t k, const Sample* b, const Sample* e) {
          // count and bytes are integers in the samples; sum them, then apply the op's
          // scaling once (rate = count / range).
          if (r.op == O::kCountOverTime || r.op == O::kRate) {
            sum[k] += static_cast<double>(e - b);
          } else {
            for (const Sample* x = b; x != e; ++x) sum[k] += x->v;
          }
          ss.has[k] = 1;
          any = true;
        });
      }
      for (size_t k = 0; k < steps_; ++k) {
        if (!ss.has[k]) continue;
        ss.v[k] = (r.op == O::kRate || r.op == O::kBytesRate) ? sum[k] / range_s : sum[k];
      }
    } else {
      const std::vector<Sample> s = MergeByTime(std::move(m.parts));
      for_each_window(s, [&](size_t k, const Sample* b, const Sample* e) {
        ss.v[k] = AggregateWindow(r.op, b, e, StepTime(k) - r.offset_ns, r.range_ns, unwrapped, r.param);
        ss.has[k] = 1;
        any = true;
      });
    }
    if (any) out.series.push_back(std::move(ss));
  }
  return out;
}

Result<StepValue> StepEvaluator::EvalVectorAgg(const logql::VectorAggregationExpr& a) {
  ASSIGN_OR_RETURN(StepValue in, EvalVectorAggInput(a));
  if (in.scalar) return InvalidArgument("parse error : aggregations need a vector, not a scalar");
  using O = logql::VectorOp;
  StepValue out;
  if (a.op == O::kSort || a.op == O::kSortDesc) {
    // Loki orders an instant result by value here (NaN last either way) and keeps that
    // order through the operations above (see ContainsSort); a range result is by labels.
    if (steps_ == 1) {
      const bool desc = a.op == O::kSortDesc;
      std::stable_sort(in.series.begin(), in.series.end(), [&](const StepSeries& x, const StepSeries& y) {
        const double vx = x.v[0], vy = y.v[0];
        if (std::isnan(vx) || std::isnan(vy)) return !std::isnan(vx) && std::isnan(vy);
        return desc ? vx > vy : vx < vy;
      });
    }
    return in;
  }
  if (a.op == O::kApproxTopK && !p_.instant) {
    // Loki computes approx_topk with count-min sketches, for instant queries only.
    return InvalidArgument("approx_topk error: count min sketches are only supported on instant queries");
  }
  if (a.op == O::kTopK || a.op == O::kBottomK || a.op == O::kApproxTopK) {
    const size_t k_param = static_cast<size_t>(*a.param);
    std::vector<uint8_t> keep_any(in.series.size(), 0);
    std::vector<std::vector<uint8_t>> keep(in.series.size(), std::vector<uint8_t>(steps_, 0));
    for (size_t k = 0; k < steps_; ++k) {
      std::map<std::string, std::vector<size_t>> groups;
      for (size_t i = 0; i < in.series.size(); ++i) {
        if (!in.series[i].has[k]) continue;
        groups[ReduceLabels(in.series[i].labels, a.grouping ? &*a.grouping : nullptr).ToString()].push_back(i);
      }
      for (auto& [_, idx] : groups) {
        std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
          double vx = in.series[x].v[k], vy = in.series[y].v[k];
          if (std::isnan(vx)) return false;
          if (std::isnan(vy)) return true;
          return a.op == O::kBottomK ? vx < vy : vx > vy;
        });
        for (size_t j = 0; j < idx.size() && j < k_param; ++j) {
          keep[idx[j]][k] = 1;
          keep_any[idx[j]] = 1;
        }
      }
    }
    for (size_t i = 0; i < in.series.size(); ++i) {
      if (!keep_any[i]) continue;
      StepSeries s = std::move(in.series[i]);
      for (size_t k = 0; k < steps_; ++k) s.has[k] = s.has[k] && keep[i][k];
      out.series.push_back(std::move(s));
    }
    return out;
  }
  // Grouping aggregations.
  std::map<std::string, StepSeries> groups;
  std::map<std::string, std::vector<std::vector<double>>> values;  // per group, per step
  for (auto& s : in.series) {
    Labels gl = ReduceLabels(s.labels, a.grouping ? &*a.grouping : nullptr);
    gl.Sort();
    std::string key = gl.ToString();
    auto& g = groups[key];
    if (g.v.empty()) {
      g.labels = std::move(gl);
      g.key = key;
      g.v.assign(steps_, 0);
      g.has.assign(steps_, 0);
      values[key].resize(steps_);
    }
    auto& vals = values[key];
    for (size_t k = 0; k < steps_; ++k) {
      if (s.has[k]) vals[k].push_back(s.v[k]);
    }
  }
  for (auto& [key, g] : groups) {
    auto& vals = values[key];
    for (size_t k = 0; k < steps_; ++k) {
      const auto& v = vals[k];
      if (v.empty()) continue;
      double r = 0;
      switch (a.op) {
        case O::kSum:
          for (double x : v) r += x;
          break;
        case O::kAvg: {
          double mean = 0, c = 0;
          for (double x : v) {
            c++;
            mean += (x - mean) / c;
          }
          r = mean;
          break;
        }
        case O::kCount: r = static_cast<double>(v.size()); break;
        case O::kMax:
          r = v[0];
          for (double x : v) r = (x > r || std::isnan(r)) ? x : r;
          break;
        case O::kMin:
          r = v[0];
          for (double x : v) r = (x < r || std::isnan(r)) ? x : r;
          break;
        case O::kStddev:
        case O::kStdvar: {
          double c = 0, mean = 0, m2 = 0;
          for (double x : v) {
            c++;
            double d = x - mean;
            mean += d / c;
            m2 += d * (x - mean);
          }
          r = m2 / c;
          if (a.op == O::kStddev) r = std::sqrt(r);
          break;
        }
        default: break;
      }
      g.v[k] = r;
      g.has[k] = 1;
    }
    out.series.push_back(std::move(g));
  }
  return out;
}

Result<StepValue> StepEvaluator::EvalBinary(const logql::BinaryExpr& b) {
  using B = logql::BinOp;
  ASSIGN_OR_RETURN(StepValue lhs, Eval(*b.lhs));
  ASSIGN_OR_RETURN(StepValue rhs, Eval(*b.rhs));
  const bool cmp = IsComparison(b.op);
  if (lhs.scalar && rhs.scalar) {
    StepValue v;
    v.scalar = true;
    v.scalar_value = Apply(b.op, lhs.scalar_value, rhs.scalar_value);
    return v;
  }
  if (lhs.scalar || rhs.scalar) {
    const bool scalar_left = lhs.scalar;
    StepValue out = scalar_left ? std::move(rhs) : std::move(lhs);
    const double sv = scalar_left ? lhs.scalar_value : rhs.scalar_value;
    std::vector<StepSeries> kept;
    for (auto& s : out.series) {
      bool any = false;
      for (size_t k = 0; k < steps_; ++k) {
        if (!s.has[k]) continue;
        const double a = scalar_left ? sv : s.v[k];
        const double c = scalar_left ? s.v[k] : sv;
        const double r = Apply(b.op, a, c);
        if (cmp && !b.return_bool) {
          if (r == 0) {
            s.has[k] = 0;
            continue;
          }
          // Filtering keeps the vector's value.
        } else {
          s.v[k] = r;
        }
        any = true;
      }
      if (any) kept.push_back(std::move(s));
    }
    out.series = std::move(kept);
    return out;
  }
  // vector op vector
  const logql::VectorMatching& m = b.matching;
  StepValue out;
  if (b.op == B::kAnd || b.op == B::kOr || b.op == B::kUnless) {
    std::map<std::string, std::vector<uint8_t>> rhs_present;
    for (const auto& s : rhs.series) {
      auto& pres = rhs_present[MatchKey(s.labels, m)];
      pres.resize(steps_, 0);
      for (size_t k = 0; k < steps_; ++k) pres[k] |= s.has[k];
    }
    std::map<std::string, std::vector<uint8_t>> lhs_present;
    for (auto& s : lhs.series) {
      const std::string key = MatchKey(s.labels, m);
      auto& lp = lhs_present[key];
      lp.resize(steps_, 0);
      for (size_t k = 0; k < steps_; ++k) lp[k] |= s.has[k];
      auto it = rhs_present.find(key);
      bool any = false;
      for (size_t k = 0; k < steps_; ++k) {
        if (!s.has[k]) continue;
        const bool in_rhs = it != rhs_present.end() && it->second[k];
        if (b.op == B::kAnd && !in_rhs) s.has[k] = 0;
        if (b.op == B::kUnless && in_rhs) s.has[k] = 0;
        any |= s.has[k];
      }
      if (any) out.series.push_back(std::move(s));
    }
    if (b.op == B::kOr) {
      // A right-hand series with the labels of a left-hand one fills that series' missing
      // steps: one series per label set, as Loki's result (`sum(rate(...)) or vector(0)`
      // is one `{}` series).
      std::unordered_map<std::string, size_t> out_index;
      for (size_t i = 0; i < out.series.size(); ++i) out_index.emplace(out.series[i].key, i);
      for (auto& s : rhs.series) {
        auto it = lhs_present.find(MatchKey(s.labels, m));
        bool any = false;
        for (size_t k = 0; k < steps_; ++k) {
          if (s.has[k] && it != lhs_present.end() && it->second[k]) s.has[k] = 0;
          any |= s.has[k];
        }
        if (!any) continue;
        auto same = out_index.find(s.key);
        if (same == out_index.end()) {
          out_index.emplace(s.key, out.series.size());
          out.series.push_back(std::move(s));
          continue;
        }
        StepSeries& into = out.series[same->second];
        for (size_t k = 0; k < steps_; ++k) {
          if (s.has[k] && !into.has[k]) {
            into.v[k] = s.v[k];
            into.has[k] = 1;
          }
        }
      }
    }
    return out;
  }
  using Card = logql::VectorMatching::Card;
  const bool right_many = m.card == Card::kOneToMany;
  std::vector<StepSeries>& many = right_many ? rhs.series : lhs.series;
  std::vector<StepSeries>& one = right_many ? lhs.series : rhs.series;
  // Index the "one" side by matching key; duplicates per step are an error.
  std::unordered_map<std::string, std::vector<size_t>> one_idx;
  for (size_t i = 0; i < one.size(); ++i) one_idx[MatchKey(one[i].labels, m)].push_back(i);
  std::map<std::string, StepSeries> results;
  for (auto& ms : many) {
    auto it = one_idx.find(MatchKey(ms.labels, m));
    if (it == one_idx.end()) continue;
    for (size_t k = 0; k < steps_; ++k) {
      if (!ms.has[k]) continue;
      const StepSeries* match = nullptr;
      for (size_t oi : it->second) {
        if (!one[oi].has[k]) continue;
        if (match) {
          // Loki's (Prometheus') text for two series of the "one" side in one match group.
          return InvalidArgument(fmt::format(
              "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];"
              "many-to-many matching not allowed: matching labels must be unique on one side",
              MatchKey(ms.labels, m), right_many ? "left" : "right", one[oi].labels.ToString(),
              match->labels.ToString()));
        }
        match = &one[oi];
      }
      if (!match) continue;
      const double lv = right_many ? match->v[k] : ms.v[k];
      const double rv = right_many ? ms.v[k] : match->v[k];
      double r = Apply(b.op, lv, rv);
      double value = r;
      if (cmp && !b.return_bool) {
        if (r == 0) continue;
        value = lv;
      }
      // Result labels as in Prometheus' resultMetric.
      Labels rl;
      const Labels& base = right_many ? match->labels : ms.labels;
      if (m.card == Card::kOneToOne) {
        for (const Label& l : right_many ? ms.labels : base) {
          bool listed = std::find(m.matching.begin(), m.matching.end(), l.name) != m.matching.end();
          if (!m.has_matching || (m.on ? listed : !listed)) rl.Add(l.name, l.value);
        }
      } else {
        rl = ms.labels;
        for (const std::string& inc : m.include) {
          Labels tmp;
          for (const Label& l : rl) {
            if (l.name != inc) tmp.Add(l.name, l.value);
          }
          if (const std::string* v = match->labels.Get(inc)) tmp.Add(inc, *v);
          rl = std::move(tmp);
        }
      }
      rl.Sort();
      std::string key = rl.ToString();
      auto& rs = results[key];
      if (rs.v.empty()) {
        rs.labels = rl;
        rs.key = key;
        rs.v.assign(steps_, 0);
        rs.has.assign(steps_, 0);
      }
      if (rs.has[k]) {
        // Two series of the "many" side give one result series: Loki's texts.
        return InvalidArgument(m.card == Card::kOneToOne
                                   ? "multiple matches for labels: many-to-one matching must be explicit "
                                     "(group_left/group_right)"
                                   : "multiple matches for labels: grouping labels must ensure unique matches");
      }
      rs.v[k] = value;
      rs.has[k] = 1;
    }
  }
  for (auto& [_, s] : results) out.series.push_back(std::move(s));
  return out;
}

Result<StepValue> StepEvaluator::EvalLabelReplace(const logql::LabelReplaceExpr& l) {
  ASSIGN_OR_RETURN(StepValue in, Eval(*l.inner));
  RE2 re("^(?:" + l.regex + ")$");
  if (!re.ok()) return InvalidArgument("invalid regular expression in label_replace(): " + l.regex);
  std::map<std::string, StepSeries> out_map;
  for (auto& s : in.series) {
    const std::string* src = s.labels.Get(l.src);
    std::string value = src ? *src : "";
    std::vector<re2::StringPiece> groups(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
    if (re.Match(value, 0, value.size(), RE2::ANCHOR_BOTH, groups.data(), static_cast<int>(groups.size()))) {
      std::string rewritten = ExpandTemplate(l.replacement, re, groups);
      Labels nl;
      for (const Label& x : s.labels) {
        if (x.name != l.dst) nl.Add(x.name, x.value);
      }
      if (!rewritten.empty()) nl.Add(l.dst, rewritten);
      nl.Sort();
      s.labels = std::move(nl);
      s.key = s.labels.ToString();
    }
    auto& slot = out_map[s.key];
    if (slot.v.empty()) {
      slot = std::move(s);
    } else {
      return InvalidArgument("vector cannot contain metrics with the same labelset");
    }
  }
  StepValue out;
  for (auto& [_, s] : out_map) out.series.push_back(std::move(s));
  return out;
}

Result<QueryResult> StepEvaluator::Run() {
  ASSIGN_OR_RETURN(StepValue v, Eval(*p_.expr));
  QueryResult r;
  r.stats = stats_;
  auto to_ms = [](int64_t ns) { return ns / 1'000'000; };
  if (v.scalar) {
    if (p_.instant) {
      r.type = QueryResult::Type::kScalar;
      r.scalar = {to_ms(start_), v.scalar_value};
      return r;
    }
    StepSeries s;
    s.key = "{}";
    s.v.assign(steps_, v.scalar_value);
    s.has.assign(steps_, 1);
    v.series.push_back(std::move(s));
  }
  r.type = p_.instant ? QueryResult::Type::kVector : QueryResult::Type::kMatrix;
  for (auto& s : v.series) {
    Series out;
    out.labels = std::move(s.labels);
    for (size_t k = 0; k < steps_; ++k) {
      if (s.has[k]) out.points.push_back({to_ms(StepTime(k)), s.v[k]});
    }
    if (!out.points.empty()) r.series.push_back(std::move(out));
  }
  // Ordering: by labels, as Loki's JoinSampleVector (topk/bottomk included), except instant
  // results of a query holding sort/sort_desc anywhere (Loki's Sortable: the evaluator's
  // order is kept, so `sort(x) + 1` stays sorted) and of a top-level approx_topk (by value).
  const logql::Expr* top = p_.expr.get();
  bool by_value = false, desc = false;
  if (p_.instant && top->kind == logql::Expr::Kind::kVectorAggregation) {
    by_value = static_cast<const logql::VectorAggregationExpr*>(top)->op == logql::VectorOp::kApproxTopK;
    desc = true;
  }
  if (p_.instant && ContainsSort(*top)) {
    // keep the evaluator's order
  } else if (by_value) {
    std::stable_sort(r.series.begin(), r.series.end(), [&](const Series& a, const Series& b) {
      return desc ? a.points[0].v > b.points[0].v : a.points[0].v < b.points[0].v;
    });
  } else {
    // Prometheus' labels.Compare: pairwise by name then value; a prefix (e.g. {}) first.
    std::sort(r.series.begin(), r.series.end(), [](const Series& a, const Series& b) {
      return std::lexicographical_compare(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end(),
                                          [](const Label& x, const Label& y) {
                                            return x.name != y.name ? x.name < y.name : x.value < y.value;
                                          });
    });
  }
  if (static_cast<int>(r.series.size()) > max_series_ && !WithinSeriesLimitPerWindow(r)) {
    return InvalidArgument(fmt::format("maximum of series ({}) reached for a single query", max_series_));
  }
  return r;
}

}  // namespace logq::engine
