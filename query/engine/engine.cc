#include "query/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include <xxhash.h>

#include "query/base/clock.h"
#include "query/pipeline/pipeline.h"
#include "query/engine/step_eval.h"

namespace logq::engine {
namespace {

struct Deadline {
  int64_t at;
  bool Passed() const { return SystemClock::Default()->MonotonicNanos() > at; }
};

void AddStats(ReadStats* into, const ReadStats& s) {
  into->chunks += s.chunks;
  into->compressed_bytes += s.compressed_bytes;
  into->decompressed_bytes += s.decompressed_bytes;
  into->decompressed_lines += s.decompressed_lines;
  into->head_bytes += s.head_bytes;
  into->head_lines += s.head_lines;
  into->duplicates += s.duplicates;
  into->skipped_lines += s.skipped_lines;
  into->skipped_bytes += s.skipped_bytes;
}

// ---- log queries -------------------------------------------------------------------------

// The global first-`limit` timestamps seen so far across all streams of a log query. Once
// full, an entry beyond its bound (in query direction) cannot be in the result, and since
// each stream yields entries in direction order, that stream can stop.
class Cutoff {
 public:
  Cutoff(size_t limit, bool forward) : limit_(limit), forward_(forward) {}

  // True if `ts` can no longer make the result (ties still can).
  bool Beyond(int64_t ts) const {
    if (!full_.load(std::memory_order_acquire)) return false;
    const int64_t b = bound_.load(std::memory_order_acquire);
    return forward_ ? ts > b : ts < b;
  }

  void Add(int64_t ts) {
    std::lock_guard<std::mutex> l(mu_);
    heap_.push_back(ts);
    auto worse_first = [this](int64_t a, int64_t b) { return forward_ ? a < b : a > b; };
    std::push_heap(heap_.begin(), heap_.end(), worse_first);
    if (heap_.size() > limit_) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.pop_back();
    }
    if (heap_.size() == limit_) {
      bound_.store(heap_.front(), std::memory_order_release);
      full_.store(true, std::memory_order_release);
    }
  }

 private:
  const size_t limit_;
  const bool forward_;
  std::mutex mu_;
  std::vector<int64_t> heap_;  // the worst kept timestamp on top
  std::atomic<int64_t> bound_{0};
  std::atomic<bool> full_{false};
};

// Loki's stream hash (Prometheus labels.Hash: XXH64 over `name 0xff value 0xff ...` of the
// stream's own labels). Loki's entry merge breaks timestamp ties by it, ascending, in both
// directions (iter.lessAscending / lessDescending).
uint64_t LokiStreamHash(const Labels& labels) {
  std::string buf;
  for (const Label& l : labels) {
    buf += l.name;
    buf += '\xff';
    buf += l.value;
    buf += '\xff';
  }
  return XXH64(buf.data(), buf.size(), 0);
}

struct Collected {
  int64_t ts;
  std::string line;
  const pipeline::ResultLabels* labels;
};

Result<QueryResult> RunLogQuery(WorkerPool* pool, Querier* querier, const logql::LogExpr& log, const QueryParams& p,
                                const Deadline& deadline, MemoryBudget* budget) {
  ASSIGN_OR_RETURN(auto pl, pipeline::Pipeline::Make(log.pipeline));
  SelectRequest req;
  req.matchers = log.matchers;
  req.from = p.start;
  req.through = p.end;
  req.required_literals = pl->RequiredLiterals();
  ASSIGN_OR_RETURN(auto sources, querier->Select(req));

  const size_t n = sources.size();
  std::vector<std::unique_ptr<pipeline::StreamPipeline>> pipelines(n);
  std::vector<std::vector<Collected>> collected(n);
  std::vector<Status> errors(n);
  std::vector<uint64_t> lines(n, 0), bytes(n, 0);
  Cutoff cutoff(p.limit, p.forward);
  pool->ParallelFor(n, [&](size_t i) {
    pipelines[i] = pl->ForStream(sources[i]->labels());
    auto& out = collected[i];
    uint64_t seen = 0;
    bool timed_out = false, over_budget = false;
    errors[i] = sources[i]->ForEach(p.start, p.end, p.forward,
                                    [&](int64_t ts, std::string_view line, const std::vector<Label>& md) {
                                      // By time, not by entry count: one line of an expensive
                                      // pipeline can cost milliseconds.
                                      if ((++seen & kDeadlineCheckMask) == 0 && deadline.Passed()) {
                                        timed_out = true;
                                        return false;
                                      }
                                      if (cutoff.Beyond(ts)) return false;
                                      bytes[i] += line.size();
                                      std::string_view out_line;
                                      const pipeline::ResultLabels* rl = nullptr;
                                      if (!pipelines[i]->Process(ts, line, md, &out_line, &rl)) return true;
                                      // Every collected line is held until the merge; stop the
                                      // query once they are over its memory budget.
                                      if (!budget->Charge(static_cast<int64_t>(out_line.size()) + kEntryOverheadBytes)) {
                                        over_budget = true;
                                        return false;
                                      }
                                      out.push_back({ts, std::string(out_line), rl});
                                      cutoff.Add(ts);
                                      return out.size() < p.limit && !budget->exceeded();
                                    },
                                    [&](int64_t ts) {
                                      if (deadline.Passed()) {
                                        timed_out = true;
                                        return true;
                                      }
                                      return cutoff.Beyond(ts);
                                    });
    lines[i] = seen;
    if (errors[i].ok() && timed_out) errors[i] = DeadlineExceeded(std::string(kTimeoutMessage));
    if (errors[i].ok() && (over_budget || budget->exceeded())) errors[i] = budget->Exceeded();
  });
  QueryResult result;
  result.type = QueryResult::Type::kStreams;
  for (size_t i = 0; i < n; ++i) {
    RETURN_IF_ERROR(errors[i]);
    AddStats(&result.stats.read, sources[i]->stats());
    result.stats.lines_processed += lines[i] + sources[i]->stats().skipped_lines;
    result.stats.bytes_processed += bytes[i] + sources[i]->stats().skipped_bytes;
  }

  // Global limit: the first `limit` entries in query direction across all streams, in the
  // order of Loki's merge: by time, ties between streams by stream hash (ascending in both
  // directions), entries of one stream in that stream's order. Every entry that can make the
  // result was collected: a stream yields entries in direction order and stops only after
  // `limit` passing lines or past the shared cutoff (ties are not past it).
  struct Ref {
    int64_t ts;
    uint64_t hash;
    uint32_t src;
    uint32_t idx;
  };
  std::vector<uint64_t> hashes(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!collected[i].empty()) hashes[i] = LokiStreamHash(sources[i]->labels());
  }
  std::vector<Ref> all;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < collected[i].size(); ++j) {
      all.push_back({collected[i][j].ts, hashes[i], static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
    }
  }
  auto before = [&](const Ref& a, const Ref& b) {
    if (a.ts != b.ts) return p.forward ? a.ts < b.ts : a.ts > b.ts;
    if (a.hash != b.hash) return a.hash < b.hash;
    if (a.src != b.src) return a.src < b.src;
    return a.idx < b.idx;
  };
  if (all.size() > p.limit) {
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p.limit), all.end(), before);
    all.resize(p.limit);
  }
  std::sort(all.begin(), all.end(), before);

  // Group by resulting label set; entries stay in query direction.
  std::map<std::string, size_t> by_labels;
  for (const Ref& r : all) {
    Collected& c = collected[r.src][r.idx];
    auto [it, inserted] = by_labels.emplace(c.labels->text, result.streams.size());
    if (inserted) {
      LogStream s;
      s.labels = c.labels->labels;
      s.stream = c.labels->stream;
      result.streams.push_back(std::move(s));
    }
    Entry e;
    e.ts = c.ts;
    e.line = std::move(c.line);
    e.structured_metadata = c.labels->structured_metadata;
    e.parsed = c.labels->parsed;
    result.streams[it->second].entries.push_back(std::move(e));
  }
  // Loki's frontend orders streams by their label text: ascending for forward queries,
  // descending for backward ones.
  std::vector<std::pair<std::string, size_t>> order;
  for (size_t i = 0; i < result.streams.size(); ++i) order.push_back({result.streams[i].labels.ToString(), i});
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    return p.forward ? a.first < b.first : a.first > b.first;
  });
  std::vector<LogStream> sorted;
  sorted.reserve(order.size());
  for (const auto& [_, i] : order) sorted.push_back(std::move(result.streams[i]));
  result.streams = std::move(sorted);
  result.stats.entries_returned = all.size();
  return result;
}

}  // namespace

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  if (r.ec != std::errc()) return fmt::format("{}", v);
  std::string s(buf, r.ptr);
  if (s == "-0") s = "0";
  return s;
}

Result<QueryResult> Engine::Query(Querier* querier, const QueryParams& p) const {
  const int64_t t0 = SystemClock::Default()->MonotonicNanos();
  Deadline deadline{t0 + options_.timeout_ns};
  if (!p.expr) return InvalidArgument("empty query");
  MemoryBudget budget(options_.max_query_memory_bytes);
  Result<QueryResult> r = [&]() -> Result<QueryResult> {
    if (p.expr->kind == logql::Expr::Kind::kLog) {
      return RunLogQuery(pool_, querier, static_cast<const logql::LogExpr&>(*p.expr), p, deadline, &budget);
    }
    // Every range endpoint reaches here: Loki's cap on points per series (each point of
    // every series is materialised per step).
    if (!p.instant && p.step > 0 && (p.end - p.start) / p.step > kMaxPointsPerSeries) {
      return InvalidArgument(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
          "(?step=XX)");
    }
    StepEvaluator ev(pool_, querier, p, options_.max_query_series, options_.series_limit_interval_ns, deadline.at);
    ev.set_memory_budget(&budget);
    return ev.Run();
  }();
  if (r.ok()) r->stats.exec_ns = SystemClock::Default()->MonotonicNanos() - t0;
  return r;
}

}  // namespace logq::engine
