// Compactor: applies retention and log deletion requests to the stored data, exactly per
// entry, and reclaims the space. logq's counterpart of Loki's compactor (a singleton there;
// here a background loop inside logq-store).
//
// A pass at time T (Clock::NowNanos at the start of the pass) does, per tenant and stream:
//   * retention (when enabled): deletes every entry with ts < T - period(stream), where
//     period comes from rules.h (0 = keep forever);
//   * deletion: deletes every entry matched by a `received` delete request of the tenant
//     whose cancel period is over (created_at + delete_request_cancel_period <= T), then
//     marks the request `processed`.
// Chunks wholly older than the cut-off are deleted; chunks that straddle it (or that a
// request touches) are decoded and rewritten without the deleted entries — the new chunk is
// written and the old one deleted in one RocksDB WriteBatch, so a crash (kill -9) at any
// point leaves either the old or the new chunk, never both or neither. Writes are made durable
// at the end of each tenant (Db::Persist); a crash before loses that tenant's part of the pass,
// which the next pass redoes. A stream head that
// may hold deletable entries is cut into chunks first (Ingester::CutStreamLocked), which are
// then handled like any chunk; after a tenant whose heads were cut, a WAL checkpoint is
// written so the deleted entries cannot return from the log at restart. No younger entry is
// touched.
// Passes are idempotent: a second pass at the same T deletes nothing.
//
// Streams left without data lose their stream record and postings, and postings of days
// before a stream's oldest remaining entry are dropped, so labels/series stop showing them.
// This runs with pushes paused (Ingester::WithPushesPaused) so that it never races a push.
// Afterwards the tenant's key ranges are compacted (RocksDB CompactRange with forced blob
// garbage collection) so the bytes leave the disk.
//
// Thread-safety: RunPass is serialized internally and may be called from any thread (the
// background loop, tests, POST /compactor/run); Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "store/chunk/chunk.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/ingest/ingester.h"
#include "store/ingest/limits.h"
#include "store/retention/delete_requests.h"

namespace logq::retention {

struct CompactorOptions {
  bool retention_enabled = false;                             // apply retention periods; default false
  int64_t compaction_interval = 10LL * 60 * 1'000'000'000;     // time between passes; default 10m
  int64_t delete_request_cancel_period = 24LL * 3600 * 1'000'000'000;  // default 24h
  chunk::ChunkBuilderOptions chunk;                           // for rewritten chunks
  int64_t test_only_stream_delay = 0;                         // test only: sleep after each stream
};

struct PassStats {
  int64_t now = 0;  // T of the pass
  uint64_t tenants = 0, streams = 0;
  uint64_t retention_entries = 0, retention_bytes = 0;    // deleted by retention
  uint64_t request_entries = 0, request_bytes = 0;        // deleted by delete requests
  uint64_t chunks_deleted = 0, chunks_rewritten = 0;
  uint64_t heads_cut = 0;  // stream heads cut into chunks so the pass could delete from them
  uint64_t streams_removed = 0, requests_processed = 0;
};

class Compactor {
 public:
  using LimitsFn = std::function<ingest::Limits(std::string_view tenant)>;
  // Every pointer must outlive the compactor.
  Compactor(index::Db* db, index::Registry* registry, ingest::Ingester* ingester, DeleteRequestStore* requests,
            LimitsFn limits_for, const Clock* clock, MetricsRegistry* metrics, CompactorOptions options);
  ~Compactor();

  // Runs one pass now (see above). Errors stop the pass; what was done stays done and the
  // next pass continues (idempotent).
  Result<PassStats> RunPass();

  // Runs a pass at once, then every compaction_interval, on a background thread.
  void Start();
  void Stop();

 private:
  struct StreamWork;
  // Applies retention and `requests` (claimed, of this tenant) to the tenant's streams;
  // fills each request's deleted_lines.
  Status RunTenant(const std::string& tenant, std::vector<DeleteRequest>& requests, PassStats* stats);
  Status ProcessStream(const std::string& tenant, StreamWork& work, PassStats* stats);
  Status DropEmpty(const std::string& tenant, const std::vector<uint64_t>& fps, PassStats* stats);
  void CountDeleted(const std::string& tenant, bool by_request, uint64_t entries, uint64_t bytes, PassStats* stats);
  bool SleepForTest();

  index::Db* db_;
  index::Registry* registry_;
  ingest::Ingester* ingester_;
  DeleteRequestStore* requests_;
  LimitsFn limits_for_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  CompactorOptions options_;

  std::mutex pass_mu_;  // one pass at a time

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace logq::retention
