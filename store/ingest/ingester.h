// Ingester: validates pushed streams against the tenant's limits, writes accepted entries
// durably to the head column family (the RocksDB WAL makes the ack durable), keeps the
// label index current, and cuts heads into zstd chunks by size, span and idleness.
//
// Semantics of a push (documented in docs/api.md):
//  * Each entry is keyed by (tenant, stream, timestamp, hash(line)): a retried push of the
//    same entries overwrites itself, so retries never duplicate. Identical (ts, line) pairs
//    in one stream collapse into one, as in Loki.
//  * Any order of timestamps is accepted within [now - reject_old_samples_max_age,
//    now + creation_grace_period].
//  * Partial acceptance (Loki's): invalid streams/entries are dropped and counted, valid
//    ones are stored, and the result is InvalidArgument (400) naming every rejected stream
//    and rule (up to 10 lines) and how many entries were stored.
//  * Rate limit (429): judged on the whole request before anything is written; nothing of a
//    rate-limited request is stored. Stream limit (429): entries of new streams beyond the
//    tenant's limit are not stored; the rest are, and a retry is harmless.
//  * Storage failure → Unavailable (503): nothing is acknowledged.
//
// Thread-safety: Push, CutChunks and the accessors may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "store/api/push.h"
#include "store/chunk/chunk.h"
#include "store/index/db.h"
#include "store/index/head_directory.h"
#include "store/index/registry.h"
#include "store/ingest/limits.h"
#include "store/ingest/push_observer.h"
#include "store/ingest/rate_limiter.h"

namespace logq::ingest {

struct IngesterOptions {
  bool sync_writes = false;                         // fsync the WAL before acking; default false
  int64_t chunk_target_size = 1536 << 10;           // raw bytes per chunk; default 1.5 MiB
  int64_t max_chunk_age = 2 * kNanosPerHour;        // cut when the head spans/has lived this long; 2h
  int64_t chunk_idle_period = 30 * kNanosPerMinute; // cut when no entry arrived for this long; 30m
  chunk::ChunkBuilderOptions chunk;
};

struct PushStats {
  size_t entries_received = 0;
  size_t entries_accepted = 0;
  size_t bytes_accepted = 0;
};

class Ingester final : public index::HeadDirectory {
 public:
  // `limits_for` returns the limits of a tenant (global defaults plus overrides).
  Ingester(index::Db* db, index::Registry* registry, std::function<Limits(std::string_view)> limits_for,
           const Clock* clock, MetricsRegistry* metrics, IngesterOptions options);

  // Rebuilds per-stream head accounting from the head column family. Call once after the
  // registry is loaded and before Push. `progress` is called with entries scanned so far.
  Status Recover(const std::function<void(uint64_t)>& progress = nullptr);

  // Validates and stores a decoded push request for `tenant` (already validated id).
  Status Push(std::string_view tenant, api::PushRequest&& request, PushStats* stats = nullptr);

  // Cuts every head that is due (or every non-empty head if `force`). Returns the number
  // of chunks written.
  Result<int> CutChunks(bool force);

  size_t HeadEntries() const;

  // Live tailing: after each successful write the accepted entries are handed to `observer`
  // (if it Wants the tenant). Not owned; nullptr turns it off. Set before serving pushes.
  void SetPushObserver(PushObserver* observer) { observer_.store(observer); }

  // Retention support (store/retention's compactor) -------------------------------------
  // Runs `fn` while no chunk cut runs; inside it the caller may call CutStreamLocked.
  Status WithCutsPaused(const std::function<Status()>& fn);
  // Cuts one stream's head into chunks now and recomputes its head accounting, exactly as a
  // due cut does. Only inside WithCutsPaused (retention calls it after deleting head entries).
  Result<int> CutStreamLocked(const std::string& tenant, uint64_t fp) { return CutStream(tenant, fp); }
  // Runs `fn` while no push is between resolving its streams and committing them to the
  // registry, so `fn` may delete the stream records and postings of streams without data.
  Status WithPushesPaused(const std::function<Status()>& fn);

  // index::HeadDirectory: bounds of the heads of `fps` (see head_directory.h for the order
  // readers must follow).
  void GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                     std::vector<index::HeadBounds>* out) const override;

 private:
  struct HeadStats {
    std::string tenant;
    uint64_t fp = 0;
    int64_t entries = 0;
    int64_t bytes = 0;
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    int64_t first_append_mono = 0;
    int64_t last_append_mono = 0;
    uint64_t appends = 0;  // pushes accounted into this head; lets a cut know it was alone
  };
  using HeadKey = std::pair<std::string, uint64_t>;
  struct HeadKeyHash {
    size_t operator()(const HeadKey& k) const { return std::hash<std::string>()(k.first) ^ (k.second * 0x9E3779B97F4A7C15ULL); }
  };

  Result<int> CutStream(const std::string& tenant, uint64_t fp);
  void CountDiscarded(std::string_view tenant, std::string_view reason, double entries, double bytes);

  index::Db* db_;
  index::Registry* registry_;
  std::function<Limits(std::string_view)> limits_for_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  IngesterOptions options_;
  RateLimiter rate_limiter_;

  mutable std::mutex heads_mu_;
  std::unordered_map<HeadKey, HeadStats, HeadKeyHash> heads_;
  std::mutex cut_mu_;  // one cutter at a time
  // Shared by Push from resolving streams until the registry commit; exclusive in
  // WithPushesPaused.
  std::shared_mutex streams_mu_;

  Counter* chunks_cut_;
  Counter* chunk_raw_bytes_;
  Counter* chunk_encoded_bytes_;
  std::atomic<PushObserver*> observer_{nullptr};
};

}  // namespace logq::ingest
