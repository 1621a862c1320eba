// HeadDirectory: what the ingester knows about the heads (entries not yet cut into chunks)
// of streams, so readers can skip the head column family for streams whose head is empty
// or outside the queried range. After a cut the head CF holds the cut's delete tombstones
// until compaction; scanning them is the dominant cost of a query that skips this check.
//
// Consistency rule for readers: ask BEFORE taking the RocksDB snapshot. The ingester adds
// a push's entries to its accounting after the push is written and before it is acked, and
// removes them only after the cut that moved them into a chunk was written. So an entry
// acked before the question is either reported here or already in a chunk the snapshot
// sees; only pushes concurrent with the query can be missed, as with any snapshot.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace logq::index {

struct HeadBounds {
  bool present = false;   // false: the stream has no head entries
  int64_t min_ts = 0;     // inclusive bounds of the head's entry timestamps when present
  int64_t max_ts = 0;

  bool Overlaps(int64_t from, int64_t through) const { return present && min_ts < through && max_ts >= from; }
};

class HeadDirectory {
 public:
  virtual ~HeadDirectory() = default;
  // Fills `out` (resized to fps.size()) with the head bounds of each stream of `tenant`.
  virtual void GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                             std::vector<HeadBounds>* out) const = 0;
};

}  // namespace logq::index
