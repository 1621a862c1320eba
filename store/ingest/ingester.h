// Ingester: validates pushed streams against the tenant's limits, logs accepted entries to
// the write-ahead log (store/wal), keeps them in per-stream heads in memory
// (store/ingest/head.h), keeps the label index current, and cuts heads into zstd chunks by
// size, span, idleness and memory pressure (storage engine v2, docs/architecture.md).
//
// Semantics of a push (documented in docs/api.md):
//  * The 204 is sent only after the push's record is in the WAL (written; with
//    `storage.sync_writes` also fsynced, group-committed with concurrent pushes).
//  * A retried push never duplicates what readers see: entries of one stream with the same
//    timestamp, line and structured metadata are one entry (Loki's rule). Heads drop such
//    duplicates when a block is sealed; readers drop them across blocks and chunks.
//  * Any order of timestamps is accepted within [now - reject_old_samples_max_age,
//    now + creation_grace_period].
//  * Partial acceptance (Loki's): invalid streams/entries are dropped and counted, valid
//    ones are stored, and the result is InvalidArgument (400) naming every rejected stream
//    and rule (up to 10 lines) and how many entries were stored.
//  * Rate limit (429): judged on the whole request before anything is written; nothing of a
//    rate-limited request is stored. Stream limit (429): entries of new streams beyond the
//    tenant's limit are not stored; the rest are, and a retry is harmless.
//  * Head memory limit (429): when heads hold `head_memory_limit` bytes, pushes are refused
//    until cuts free memory (cuts start at 3/4 of the limit, largest heads first).
//  * Storage failure (WAL write, e.g. disk full) → Unavailable (503): nothing is acknowledged.
//
// Durability: WAL segments hold every acknowledged push; a checkpoint (written every
// `checkpoint_interval`, after `checkpoint_wal_bytes` of log, after a forced flush and at
// shutdown) holds every head, and the segments it covers are deleted. Open() restores the
// heads from the newest checkpoint plus the segments after it.
//
// Thread-safety: Push, CutChunks, Checkpoint and the accessors may be called concurrently
// after Open returned.
#pragma once

#include <atomic>
#include <condition_variable>
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
#include "store/ingest/head.h"
#include "store/ingest/limits.h"
#include "store/ingest/push_observer.h"
#include "store/ingest/rate_limiter.h"
#include "store/wal/wal.h"

namespace logq::ingest {

struct IngesterOptions {
  bool sync_writes = false;                         // fsync the WAL before acking; default false
  int64_t chunk_target_size = 1536 << 10;           // raw bytes per chunk; default 1.5 MiB
  int64_t max_chunk_age = 2 * kNanosPerHour;        // cut when the head spans/has lived this long; 2h
  int64_t chunk_idle_period = 30 * kNanosPerMinute; // cut when no entry arrived for this long; 30m
  chunk::ChunkBuilderOptions chunk;                 // block size (target_block_raw) and zstd level
  std::string wal_dir;                              // required
  uint64_t wal_segment_bytes = 128ull << 20;        // default 128 MiB
  wal::FileSystem* wal_fs = nullptr;                // default: the real file system
  int64_t head_memory_limit = 512ll << 20;          // bytes of heads in memory; default 512 MiB
  int64_t checkpoint_interval = 5 * kNanosPerMinute;  // default 5m (Loki's checkpoint_duration)
  int64_t checkpoint_wal_bytes = 64ll << 20;        // log bytes that trigger a checkpoint; 64 MiB
};

struct PushStats {
  size_t entries_received = 0;
  size_t entries_accepted = 0;
  size_t bytes_accepted = 0;
};

// Progress of Open: bytes of checkpoint/log read so far and in total.
using OpenProgress = std::function<void(uint64_t done, uint64_t total)>;

class Ingester final : public index::HeadDirectory {
 public:
  // `limits_for` returns the limits of a tenant (global defaults plus overrides).
  Ingester(index::Db* db, index::Registry* registry, std::function<Limits(std::string_view)> limits_for,
           const Clock* clock, MetricsRegistry* metrics, IngesterOptions options);
  ~Ingester() override;

  // Opens the WAL, loads the newest checkpoint, replays the segments after it, and moves the
  // entries of a data directory written before the WAL existed (the RocksDB `head` column
  // family) into the heads (then checkpoints and drops them). Call once after the registry is
  // loaded and before Push. A torn or corrupt log tail is cut off (logged, counted); a corrupt
  // record in the middle of a segment loses the rest of that segment (docs/formats/wal.md).
  Status Open(const OpenProgress& progress = nullptr);

  // Validates and stores a decoded push request for `tenant` (already validated id).
  Status Push(std::string_view tenant, api::PushRequest&& request, PushStats* stats = nullptr);

  // Cuts every head that is due (or every non-empty head if `force`), and the largest heads
  // while head memory is above 3/4 of the limit. Returns the number of chunks written.
  Result<int> CutChunks(bool force);

  // Writes a checkpoint of every head and deletes the log segments and older checkpoints it
  // covers. CheckpointDue: the interval passed or enough log was written since the last one.
  Status Checkpoint();
  bool CheckpointDue() const;

  size_t HeadEntries() const;
  int64_t HeadMemoryBytes() const { return head_mem_.load(); }
  // Called (from a push) when head memory crosses 3/4 of the limit: wake the cutter.
  void SetCutWakeup(std::function<void()> fn) { cut_wakeup_ = std::move(fn); }

  // Live tailing: after each successful write the accepted entries are handed to `observer`
  // (if it Wants the tenant). Not owned; nullptr turns it off. Set before serving pushes.
  void SetPushObserver(PushObserver* observer) { observer_.store(observer); }

  // Retention support (store/retention's compactor) -------------------------------------
  // Runs `fn` while no chunk cut runs; inside it the caller may call CutStreamLocked.
  Status WithCutsPaused(const std::function<Status()>& fn);
  // Cuts one stream's head into chunks now, exactly as a due cut does. Only inside
  // WithCutsPaused (retention cuts a head before it rewrites the stream's chunks).
  Result<int> CutStreamLocked(const std::string& tenant, uint64_t fp) { return CutStream(tenant, fp); }
  // Runs `fn` while no push is between resolving its streams and committing them to the
  // registry, so `fn` may delete the stream records and postings of streams without data.
  Status WithPushesPaused(const std::function<Status()>& fn);

  // index::HeadDirectory (see head_directory.h for the order readers must follow).
  void GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                     std::vector<index::HeadBounds>* out) const override;
  bool SnapshotHead(std::string_view tenant, uint64_t fp, int64_t from, int64_t through,
                    index::HeadSnapshot* out) const override;

 private:
  using HeadKey = std::pair<std::string, uint64_t>;
  struct HeadKeyHash {
    size_t operator()(const HeadKey& k) const { return std::hash<std::string>()(k.first) ^ (k.second * 0x9E3779B97F4A7C15ULL); }
  };
  // One stream of a push or replayed record, ready to be committed.
  struct StreamWrite {
    uint64_t fp = 0;
    bool new_stream = false;
    const Labels* labels = nullptr;
    const std::string* text = nullptr;
    std::vector<uint32_t> new_days;  // posting days not yet recorded
  };

  std::shared_ptr<StreamHead> GetOrCreateHead(std::string_view tenant, uint64_t fp, const std::string& text);
  std::shared_ptr<StreamHead> FindHead(std::string_view tenant, uint64_t fp) const;
  // Adds `day` to w->new_days unless it is there already or the registry has the posting.
  void NotePostingDay(std::string_view tenant, uint32_t day, StreamWrite* w) const;
  // Writes new stream records and postings (one RocksDB batch) and commits them to the registry.
  Status CommitStreams(std::string_view tenant, std::vector<StreamWrite>& writes);
  // Applies a replayed or checkpointed kPush record.
  Status ApplyRecord(std::string_view payload);
  Status ApplyBlockRecord(std::string_view payload);
  Status MigrateHeadColumnFamily();
  void ChargeMemory(int64_t delta);
  Result<int> CutStream(const std::string& tenant, uint64_t fp);
  void CountDiscarded(std::string_view tenant, std::string_view reason, double entries, double bytes);

  index::Db* db_;
  index::Registry* registry_;
  std::function<Limits(std::string_view)> limits_for_;
  const Clock* clock_;
  MetricsRegistry* metrics_;
  IngesterOptions options_;
  RateLimiter rate_limiter_;
  std::unique_ptr<wal::Wal> wal_;

  mutable std::mutex heads_mu_;  // guards the map only; each head has its own lock
  std::unordered_map<HeadKey, std::shared_ptr<StreamHead>, HeadKeyHash> heads_;
  std::atomic<int64_t> head_mem_{0};
  std::function<void()> cut_wakeup_;

  std::mutex cut_mu_;  // one cutter at a time
  // Shared by Push from resolving streams until the registry commit; exclusive in
  // WithPushesPaused.
  std::shared_mutex streams_mu_;

  // Checkpoint epochs: a push registers in the current epoch before its WAL append and leaves
  // after its entries are in the heads; a checkpoint rolls the log, opens a new epoch and waits
  // for the old one to drain, so every record of the covered segments is in the heads.
  std::mutex epoch_mu_;
  std::condition_variable epoch_cv_;
  uint64_t epoch_ = 0;
  std::map<uint64_t, int64_t> epoch_pending_;
  std::mutex checkpoint_mu_;  // one checkpoint at a time
  std::atomic<int64_t> wal_bytes_since_checkpoint_{0};
  std::atomic<int64_t> last_checkpoint_mono_{0};

  Counter* chunks_cut_;
  Counter* chunk_raw_bytes_;
  Counter* chunk_encoded_bytes_;
  Counter* blocks_reencoded_;
  Counter* checkpoints_;
  Counter* replay_bad_records_;
  std::atomic<PushObserver*> observer_{nullptr};
};

}  // namespace logq::ingest
