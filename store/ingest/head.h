// StreamHead: one stream's entries that are not yet cut into a chunk, kept in memory in the
// shape of a chunk under construction (storage engine v2, docs/architecture.md "Heads"):
//
//   * an open block: entries as pushed (any timestamp order), uncompressed;
//   * finished blocks: when the open block's encoded size reaches the block size it is sorted
//     by timestamp (stable: equal timestamps keep push order), exact duplicates (same
//     timestamp, line and structured metadata) are dropped, and it is compressed with the
//     chunk format's block encoding (chunk::CompressedBlock). Finished blocks are immutable
//     and shared with readers; they may overlap each other in time.
//
// A cut (store/ingest/ingester.cc) seals the open block, copies the finished blocks into
// chunks without recompressing those that do not overlap, writes the chunks and only then
// removes the blocks it wrote (FinishCut), bumping the cut generation that readers check
// (store/index/head_directory.h).
//
// Durability is not this class's concern: every entry here was first written to the
// write-ahead log (store/wal) or loaded from a checkpoint.
//
// Thread-safety: every method locks the head's own mutex; heads of different streams never
// contend.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "query/base/status.h"
#include "store/chunk/chunk.h"
#include "store/index/head_directory.h"

namespace logq::ingest {

// Bytes of memory one open-block entry is charged (besides its line and metadata bytes).
inline constexpr int64_t kHeadEntryOverhead = 64;

struct HeadStats {
  int64_t entries = 0;     // entries in the head (finished blocks + open block)
  int64_t raw_bytes = 0;   // their line bytes
  int64_t mem_bytes = 0;   // memory charged: compressed block bytes + open entries
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  int64_t first_append_mono = 0;  // monotonic time of the first entry since the last cut
  int64_t last_append_mono = 0;   // monotonic time of the last append
  uint64_t cut_generation = 0;
};

class StreamHead {
 public:
  // `options` (block size in target_block_raw, zstd level) must outlive the head.
  StreamHead(std::string tenant, uint64_t fp, std::string labels_text,
             const chunk::ChunkBuilderOptions* options)
      : tenant_(std::move(tenant)), fp_(fp), labels_text_(std::move(labels_text)), options_(options) {}

  const std::string& tenant() const { return tenant_; }
  uint64_t fp() const { return fp_; }
  const std::string& labels_text() const { return labels_text_; }

  // Appends entries (moved from) in any timestamp order; seals the open block whenever it
  // reaches the block size. Returns the change of mem_bytes. Internal if compression failed
  // (the entries then stay in the open block; nothing is lost).
  Result<int64_t> Append(std::vector<index::HeadEntry>&& entries, int64_t mono);
  // Adds a finished block (checkpoint load). Returns the change of mem_bytes.
  int64_t AddBlock(std::shared_ptr<const chunk::CompressedBlock> block, int64_t mono);

  // A cut's input: seals the open block and returns every finished block sorted by min_ts.
  // Returns the change of mem_bytes (sealing compresses the open block).
  Result<int64_t> PrepareCut(std::vector<std::shared_ptr<const chunk::CompressedBlock>>* blocks);
  // After the chunks holding `cut` were written: removes exactly those blocks (blocks sealed
  // since PrepareCut stay), bumps the cut generation and recomputes the bounds. Returns the
  // change of mem_bytes (≤ 0).
  int64_t FinishCut(const std::vector<std::shared_ptr<const chunk::CompressedBlock>>& cut, int64_t mono);

  // Copies what a checkpoint needs: every finished block and the open block's entries.
  void ForCheckpoint(std::vector<std::shared_ptr<const chunk::CompressedBlock>>* blocks,
                     std::vector<index::HeadEntry>* open) const;

  // Readers (head_directory.h).
  bool Snapshot(int64_t from, int64_t through, index::HeadSnapshot* out) const;
  HeadStats stats() const;

 private:
  Status SealLocked();
  void RecomputeBoundsLocked();

  const std::string tenant_;
  const uint64_t fp_;
  const std::string labels_text_;
  const chunk::ChunkBuilderOptions* const options_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const chunk::CompressedBlock>> blocks_;  // sorted by min_ts
  std::vector<index::HeadEntry> open_;
  int64_t open_encoded_ = 0;  // approximate encoded size of open_ (block size check)
  HeadStats stats_;
};

// Sorts entries by timestamp (stable) and removes exact duplicates (same timestamp, line and
// metadata), keeping the first. Exposed for tests.
void SortAndDedup(std::vector<index::HeadEntry>* entries);

}  // namespace logq::ingest
