// HeadDirectory: the read side's view of the heads (entries not yet cut into chunks), which
// live in the ingester's memory (store/ingest/head.h).
//
// Consistency rule for readers: learn a stream's cut generation (GetHeadBounds or
// SnapshotHead) BEFORE taking the RocksDB snapshot the stream's chunks are read from. A cut
// writes its chunk first and only then removes the blocks from the head and bumps the
// stream's cut generation. So an entry acknowledged before the question is either in the head
// as read, or already in a chunk the later snapshot sees. If SnapshotHead reports a newer cut
// generation than the one learned before the RocksDB snapshot, a cut finished in between:
// the reader takes a new RocksDB snapshot (after the head snapshot) for that stream. An entry
// may be seen twice (head and chunk) while a cut runs; readers drop exact duplicates, which
// they do anyway (retried pushes).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "query/model/labels.h"
#include "store/chunk/chunk.h"

namespace logq::index {

struct HeadBounds {
  bool present = false;   // false: the stream has no head entries
  int64_t min_ts = 0;     // inclusive bounds of the head's entry timestamps when present
  int64_t max_ts = 0;
  uint64_t cut_generation = 0;  // bumped by every cut of the stream (see above)

  bool Overlaps(int64_t from, int64_t through) const { return present && min_ts < through && max_ts >= from; }
};

// One entry of a head's open (not yet compressed) block.
struct HeadEntry {
  int64_t ts = 0;
  std::string line;
  std::vector<Label> metadata;
};

// What a reader sees of one stream's head.
struct HeadSnapshot {
  uint64_t cut_generation = 0;
  // Finished blocks overlapping the asked range, sorted by min_ts. They may overlap each
  // other in time (entries arrive out of order); each is sorted within.
  std::vector<std::shared_ptr<const chunk::CompressedBlock>> blocks;
  // Copies of the open block's entries in the asked range, sorted by timestamp (entries with
  // equal timestamps in push order).
  std::vector<HeadEntry> open;
  // Line bytes and entries of `open` plus `blocks` (for statistics).
  uint64_t entries = 0;
  uint64_t line_bytes = 0;
};

class HeadDirectory {
 public:
  virtual ~HeadDirectory() = default;
  // Fills `out` (resized to fps.size()) with the head bounds of each stream of `tenant`.
  virtual void GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                             std::vector<HeadBounds>* out) const = 0;
  // Fills `out` with the head of one stream restricted to [from, through); false (and `out`
  // empty but for the generation) when the stream has no head entries there.
  virtual bool SnapshotHead(std::string_view tenant, uint64_t fp, int64_t from, int64_t through,
                            HeadSnapshot* out) const = 0;
};

}  // namespace logq::index
