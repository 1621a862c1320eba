#include "store/retention/compactor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "store/retention/rules.h"

namespace logq::retention {
namespace {

constexpr size_t kMaxBatchBytes = 32u << 20;  // flush a stream's batch between chunks above this

enum Verdict { kKeep = 0, kRetention = 1, kRequest = 2 };

// Deleted entries and bytes, split by reason; committed to the stats after the write.
struct Tally {
  uint64_t n[3] = {0, 0, 0};
  uint64_t bytes[3] = {0, 0, 0};
  void Add(int verdict, uint64_t entries, uint64_t b) {
    n[verdict] += entries;
    bytes[verdict] += b;
  }
  bool empty() const { return n[kRetention] == 0 && n[kRequest] == 0; }
};

}  // namespace

struct Compactor::StreamWork {
  struct Request {
    const DeleteMatcher* matcher;
    std::unique_ptr<pipeline::StreamPipeline> pipeline;
    uint64_t* deleted_lines;
  };
  uint64_t fp = 0;
  std::shared_ptr<const Labels> labels;
  int64_t cutoff = INT64_MIN;  // entries with ts < cutoff are past retention
  std::vector<Request> requests;
  bool changed = false;
  uint64_t chunk_bytes = 0;  // encoded bytes of the stream's chunks after the pass
  bool head_cut = false;     // the stream's head was cut so deletions could apply to it

  int Classify(int64_t ts, std::string_view line, const std::vector<Label>& metadata) {
    if (ts < cutoff) return kRetention;
    for (Request& r : requests) {
      if (ts < r.matcher->start_ns() || ts > r.matcher->end_ns()) continue;
      if (!r.matcher->deletes_whole_range()) {
        std::string_view out;
        const pipeline::ResultLabels* out_labels = nullptr;
        if (!r.pipeline->Process(ts, line, metadata, &out, &out_labels)) continue;
      }
      ++*r.deleted_lines;
      return kRequest;
    }
    return kKeep;
  }
};

Compactor::Compactor(index::Db* db, index::Registry* registry, ingest::Ingester* ingester,
                     DeleteRequestStore* requests, LimitsFn limits_for, const Clock* clock, MetricsRegistry* metrics,
                     CompactorOptions options)
    : db_(db),
      registry_(registry),
      ingester_(ingester),
      requests_(requests),
      limits_for_(std::move(limits_for)),
      clock_(clock),
      metrics_(metrics),
      options_(options) {}

Compactor::~Compactor() { Stop(); }

void Compactor::CountDeleted(const std::string& tenant, bool by_request, uint64_t entries, uint64_t bytes,
                             PassStats* stats) {
  if (entries == 0) return;
  MetricLabels l = {{"reason", by_request ? "delete_request" : "retention"}, {"tenant", tenant}};
  metrics_->GetCounter("logq_retention_deleted_entries_total", "Entries deleted by the compactor, by reason.", l)
      ->Inc(static_cast<double>(entries));
  metrics_->GetCounter("logq_retention_deleted_bytes_total", "Line bytes deleted by the compactor, by reason.", l)
      ->Inc(static_cast<double>(bytes));
  if (by_request) {
    stats->request_entries += entries;
    stats->request_bytes += bytes;
  } else {
    stats->retention_entries += entries;
    stats->retention_bytes += bytes;
  }
}

Status Compactor::ProcessStream(const std::string& tenant, StreamWork& w, PassStats* stats) {
  return ingester_->WithCutsPaused([&]() -> Status {
    // A head that may hold deletable entries is cut first, so the chunk pass below applies
    // retention and requests to its entries like to any chunk's.
    std::vector<index::HeadBounds> hb;
    const uint64_t fp = w.fp;
    ingester_->GetHeadBounds(tenant, std::span<const uint64_t>(&fp, 1), &hb);
    if (hb[0].present) {
      bool deletable = hb[0].min_ts < w.cutoff;
      for (const auto& r : w.requests) deletable |= r.matcher->Overlaps(hb[0].min_ts, hb[0].max_ts);
      if (deletable) {
        ASSIGN_OR_RETURN(int cut, ingester_->CutStreamLocked(tenant, w.fp));
        if (cut > 0) {
          w.head_cut = true;
          stats->heads_cut++;
        }
      }
    }
    auto reader = db_->NewReader();
    ASSIGN_OR_RETURN(std::vector<index::ChunkRef> refs, reader->ListChunks(tenant, w.fp, INT64_MIN, INT64_MAX));
    auto batch = db_->NewWriteBatch();
    Tally pending;
    uint64_t pending_deleted = 0, pending_rewritten = 0;
    auto flush = [&]() -> Status {
      if (batch->Count() == 0) return Status::OK();
      RETURN_IF_ERROR(db_->Write(batch.get(), /*sync=*/false));
      batch = db_->NewWriteBatch();
      CountDeleted(tenant, false, pending.n[kRetention], pending.bytes[kRetention], stats);
      CountDeleted(tenant, true, pending.n[kRequest], pending.bytes[kRequest], stats);
      stats->chunks_deleted += pending_deleted;
      stats->chunks_rewritten += pending_rewritten;
      pending = Tally{};
      pending_deleted = pending_rewritten = 0;
      return Status::OK();
    };

    for (const index::ChunkRef& ref : refs) {
      w.chunk_bytes += ref.encoded_bytes;
      if (ref.max_ts < w.cutoff) {  // wholly past retention
        batch->DeleteChunk(tenant, ref);
        pending.Add(kRetention, ref.entries, ref.raw_bytes);
        ++pending_deleted;
        w.chunk_bytes -= ref.encoded_bytes;
        w.changed = true;
        continue;
      }
      bool touched = ref.min_ts < w.cutoff;
      for (const auto& r : w.requests) touched |= r.matcher->Overlaps(ref.min_ts, ref.max_ts);
      if (!touched) continue;

      ASSIGN_OR_RETURN(std::string bytes, reader->GetChunk(tenant, ref));
      ASSIGN_OR_RETURN(std::unique_ptr<chunk::ChunkReader> cr, chunk::ChunkReader::Open(bytes));
      auto it = cr->Iterate(INT64_MIN, INT64_MAX, /*forward=*/true);
      chunk::ChunkBuilder builder(options_.chunk);
      Tally t;
      int64_t kept_min = 0, kept_max = 0;
      while (it->Next()) {
        const chunk::EntryView& e = it->entry();
        int v = w.Classify(e.ts, e.line, *e.metadata);
        if (v != kKeep) {
          t.Add(v, 1, e.line.size());
          continue;
        }
        if (builder.num_entries() == 0) kept_min = e.ts;
        kept_max = e.ts;
        RETURN_IF_ERROR(builder.Add(e.ts, e.line, *e.metadata));
      }
      RETURN_IF_ERROR(it->status());
      if (t.empty()) continue;
      // The rewrite and the delete of the old chunk go into the same batch: atomic.
      batch->DeleteChunk(tenant, ref);
      w.chunk_bytes -= ref.encoded_bytes;
      if (builder.num_entries() > 0) {
        index::ChunkRef nr;
        nr.fp = w.fp;
        nr.min_ts = kept_min;
        nr.max_ts = kept_max;
        nr.entries = static_cast<uint32_t>(builder.num_entries());
        nr.raw_bytes = builder.raw_bytes();
        ASSIGN_OR_RETURN(std::string out, builder.Finish());
        nr.encoded_bytes = out.size();
        nr.content_hash = XXH3_64bits(out.data(), out.size());
        batch->PutChunk(tenant, nr, out);
        w.chunk_bytes += out.size();
        ++pending_rewritten;
      } else {
        ++pending_deleted;
      }
      for (int v : {kRetention, kRequest}) pending.Add(v, t.n[v], t.bytes[v]);
      w.changed = true;
      if (batch->ByteSize() >= kMaxBatchBytes) RETURN_IF_ERROR(flush());
    }
    return flush();
  });
}

Status Compactor::DropEmpty(const std::string& tenant, const std::vector<uint64_t>& fps, PassStats* stats) {
  if (fps.empty()) return Status::OK();
  return ingester_->WithPushesPaused([&]() -> Status {
    std::unordered_map<uint64_t, std::vector<uint32_t>> days;
    for (auto& s : registry_->Streams(tenant)) days[s.fp] = std::move(s.days);
    auto reader = db_->NewReader();
    auto batch = db_->NewWriteBatch();
    std::vector<uint64_t> removed;
    std::vector<std::pair<uint64_t, uint32_t>> trimmed;
    for (uint64_t fp : fps) {
      auto dit = days.find(fp);
      if (dit == days.end()) continue;
      int64_t min_ts = INT64_MAX;
      ASSIGN_OR_RETURN(std::vector<index::ChunkRef> refs, reader->ListChunks(tenant, fp, INT64_MIN, INT64_MAX));
      if (!refs.empty()) min_ts = refs.front().min_ts;  // ordered by min_ts
      std::vector<index::HeadBounds> hb;
      ingester_->GetHeadBounds(tenant, std::span<const uint64_t>(&fp, 1), &hb);
      if (hb[0].present) min_ts = std::min(min_ts, hb[0].min_ts);
      if (min_ts == INT64_MAX) {
        batch->DeleteStream(tenant, fp);
        for (uint32_t d : dit->second) batch->DeletePosting(tenant, d, fp);
        removed.push_back(fp);
        continue;
      }
      const uint32_t first_day = index::DayOf(min_ts);
      bool any = false;
      for (uint32_t d : dit->second) {
        if (d >= first_day) break;
        batch->DeletePosting(tenant, d, fp);
        any = true;
      }
      if (any) trimmed.emplace_back(fp, first_day);
    }
    if (batch->Count() > 0) RETURN_IF_ERROR(db_->Write(batch.get(), /*sync=*/false));
    for (uint64_t fp : removed) registry_->RemoveStream(tenant, fp);
    for (const auto& [fp, day] : trimmed) registry_->RemoveDaysBefore(tenant, fp, day);
    stats->streams_removed += removed.size();
    return Status::OK();
  });
}

bool Compactor::SleepForTest() {
  std::unique_lock<std::mutex> l(loop_mu_);
  if (options_.test_only_stream_delay > 0) {
    loop_cv_.wait_for(l, std::chrono::nanoseconds(options_.test_only_stream_delay), [&] { return stopping_; });
  }
  return !stopping_;
}

Status Compactor::RunTenant(const std::string& tenant, std::vector<DeleteRequest>& requests, PassStats* stats) {
  const ingest::Limits limits = limits_for_(tenant);
  std::vector<std::unique_ptr<DeleteMatcher>> matchers;
  std::vector<uint64_t> deleted_lines(requests.size(), 0);
  std::vector<size_t> index_of;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto m = DeleteMatcher::Make(requests[i]);
    if (!m.ok()) {  // validated when added; cannot happen unless the LogQL dialect changed
      spdlog::error("delete request {} of tenant {} cannot be applied: {}", requests[i].request_id, tenant,
                    m.status().message());
      continue;
    }
    matchers.push_back(std::move(m).value());
    index_of.push_back(i);
  }
  std::vector<uint64_t> changed;
  uint64_t chunk_bytes = 0;
  bool heads_cut = false;
  for (const auto& s : registry_->Streams(tenant)) {
    StreamWork w;
    w.fp = s.fp;
    w.labels = s.labels;
    if (options_.retention_enabled) {
      const int64_t period = RetentionPeriodFor(limits, *s.labels);
      if (period > 0) w.cutoff = stats->now - period;
    }
    for (size_t i = 0; i < matchers.size(); ++i) {
      if (matchers[i]->MatchesStream(*s.labels)) {
        w.requests.push_back({matchers[i].get(), matchers[i]->ForStream(*s.labels), &deleted_lines[index_of[i]]});
      }
    }
    RETURN_IF_ERROR(ProcessStream(tenant, w, stats));
    if (w.changed) changed.push_back(s.fp);
    heads_cut |= w.head_cut;
    chunk_bytes += w.chunk_bytes;
    ++stats->streams;
    if (!SleepForTest()) return Cancelled("compactor stopped during a pass");
  }
  RETURN_IF_ERROR(DropEmpty(tenant, changed, stats));
  // The pass's writes skip RocksDB's log (Db::Write): make the tenant's deletions durable
  // before its requests are marked processed. A crash before this point loses the tenant's
  // part of the pass, which the next pass redoes (passes are idempotent).
  if (!changed.empty()) RETURN_IF_ERROR(db_->Persist());
  // Entries deleted from cut heads are still in the WAL segments: a checkpoint (which holds
  // the heads without them) lets those segments go, so a restart cannot bring them back.
  if (heads_cut) RETURN_IF_ERROR(ingester_->Checkpoint());
  if (!changed.empty()) RETURN_IF_ERROR(db_->CompactTenant(tenant));
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].deleted_lines = deleted_lines[i];
    if (deleted_lines[i] > 0) {
      metrics_->GetCounter("logq_compactor_deleted_lines_total", "Lines deleted by delete requests.",
                           {{"tenant", tenant}})
          ->Inc(static_cast<double>(deleted_lines[i]));
    }
  }
  metrics_->GetGauge("logq_tenant_disk_bytes",
                     "Approximate bytes the tenant occupies on disk (chunks plus index and head records), "
                     "as of the last compactor pass.",
                     {{"tenant", tenant}})
      ->Set(static_cast<double>(chunk_bytes + db_->ApproximateTenantBytes(tenant)));
  return Status::OK();
}

Result<PassStats> Compactor::RunPass() {
  std::lock_guard<std::mutex> pass_lock(pass_mu_);
  PassStats stats;
  stats.now = clock_->NowNanos();
  const int64_t started = clock_->MonotonicNanos();
  const int64_t now_ms = stats.now / 1'000'000;
  const int64_t cancel_ms = options_.delete_request_cancel_period / 1'000'000;

  auto fail = [&](const Status& s) -> Status {
    metrics_->GetCounter("logq_compactor_runs_total", "Compactor passes, by outcome.", {{"status", "failure"}})->Inc();
    spdlog::error("compactor pass failed: {}", s.ToString());
    return s;
  };

  auto all = requests_->ListAll();
  if (!all.ok()) return fail(all.status());
  std::map<std::string, std::vector<DeleteRequest>> due;
  uint64_t pending = 0;
  for (const DeleteRequest& r : *all) {
    if (r.status != kStatusReceived) continue;
    ++pending;
    if (r.created_at_ms + cancel_ms > now_ms) continue;  // still cancellable
    if (limits_for_(r.tenant).deletion_mode != "filter-and-delete") continue;
    due[r.tenant].push_back(r);
  }
  std::set<std::string> tenants;
  for (auto& t : registry_->Tenants()) tenants.insert(std::move(t));
  for (const auto& [t, _] : due) tenants.insert(t);

  Status first_error;
  for (const std::string& tenant : tenants) {
    std::vector<DeleteRequest> claimed = requests_->Claim(due[tenant]);
    std::vector<DeleteRequest> work = claimed;
    Status st = RunTenant(tenant, work, &stats);
    Status fin = requests_->Finish(work, st.ok(), now_ms);
    if (st.ok() && fin.ok()) {
      stats.requests_processed += claimed.size();
      pending -= std::min<uint64_t>(pending, claimed.size());
      if (!claimed.empty()) {
        metrics_->GetCounter("logq_compactor_delete_requests_processed_total", "Delete requests processed.",
                             {{"tenant", tenant}})
            ->Inc(static_cast<double>(claimed.size()));
      }
      for (const DeleteRequest& r : claimed) {
        spdlog::info("delete request {} of tenant {} processed: query {}, [{}, {}] ms", r.request_id, tenant, r.query,
                     r.start_ms, r.end_ms);
      }
    }
    ++stats.tenants;
    if (!st.ok()) {
      first_error = st;
      if (st.code() == StatusCode::kCancelled) break;
    } else if (!fin.ok() && first_error.ok()) {
      first_error = fin;
    }
  }
  metrics_->GetGauge("logq_compactor_pending_delete_requests", "Delete requests received and not yet processed.")
      ->Set(static_cast<double>(pending));
  metrics_->GetCounter("logq_compactor_chunks_deleted_total", "Chunks deleted whole by the compactor.")
      ->Inc(static_cast<double>(stats.chunks_deleted));
  metrics_->GetCounter("logq_compactor_chunks_rewritten_total",
                       "Chunks rewritten without their deleted entries by the compactor.")
      ->Inc(static_cast<double>(stats.chunks_rewritten));
  metrics_->GetCounter("logq_compactor_streams_removed_total", "Streams removed because no data was left.")
      ->Inc(static_cast<double>(stats.streams_removed));
  if (!first_error.ok()) return fail(first_error);

  const double secs = static_cast<double>(clock_->MonotonicNanos() - started) / 1e9;
  metrics_->GetCounter("logq_compactor_runs_total", "Compactor passes, by outcome.", {{"status", "success"}})->Inc();
  metrics_->GetGauge("logq_compactor_last_successful_run_timestamp_seconds",
                     "Wall time (T) of the last compactor pass that completed.")
      ->Set(static_cast<double>(stats.now) / 1e9);
  metrics_->GetGauge("logq_compactor_last_run_duration_seconds", "Duration of the last completed compactor pass.")
      ->Set(secs);
  spdlog::info(
      "compactor pass done in {:.3f}s: {} tenants, {} streams; retention deleted {} entries ({} bytes), delete "
      "requests deleted {} entries ({} bytes); {} chunks deleted, {} rewritten, {} heads cut first, {} streams "
      "removed, {} delete requests processed",
      secs, stats.tenants, stats.streams, stats.retention_entries, stats.retention_bytes, stats.request_entries,
      stats.request_bytes, stats.chunks_deleted, stats.chunks_rewritten, stats.heads_cut,
      stats.streams_removed, stats.requests_processed);
  return stats;
}

void Compactor::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> l(loop_mu_);
    while (!stopping_) {
      l.unlock();
      spdlog::info("compactor pass started");
      auto r = RunPass();
      (void)r;  // logged and counted by RunPass
      l.lock();
      loop_cv_.wait_for(l, std::chrono::nanoseconds(options_.compaction_interval), [&] { return stopping_; });
    }
  });
}

void Compactor::Stop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace logq::retention
