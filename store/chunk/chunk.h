// The chunk format: an immutable, zstd-compressed run of one stream's entries, sorted by
// (timestamp, line hash), cut from the stream's head. Layout and byte diagram:
// docs/formats/chunk.md; pinned by testdata/chunks/golden_v1.chunk.
//
// Thread-safety: ChunkBuilder is single-threaded. ChunkReader is immutable after Open and
// may be shared; each ChunkIterator is single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"

namespace logq::chunk {

// Summary of a chunk, readable without decompressing any block.
struct ChunkMeta {
  int64_t min_ts = 0;         // first entry's timestamp (ns)
  int64_t max_ts = 0;         // last entry's timestamp (ns)
  uint32_t num_entries = 0;
  uint64_t raw_bytes = 0;     // sum of line lengths (Loki's "bytes")
  uint64_t encoded_bytes = 0; // size of the whole serialized chunk
};

struct ChunkBuilderOptions {
  int zstd_level = 3;                // default 3
  size_t target_block_raw = 256 << 10;  // uncompressed bytes per block; default 256 KiB
};

class ChunkBuilder {
 public:
  explicit ChunkBuilder(ChunkBuilderOptions options = {});
  ~ChunkBuilder();
  // Entries must be appended in non-decreasing timestamp order (InvalidArgument otherwise).
  Status Add(int64_t ts, std::string_view line, const std::vector<Label>& metadata = {});
  size_t num_entries() const;
  uint64_t raw_bytes() const;
  // Serializes the chunk. The builder is reset and may be reused.
  Result<std::string> Finish();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// One decoded entry. `line` and `metadata` views stay valid until the iterator that
// produced them is advanced or destroyed.
struct EntryView {
  int64_t ts = 0;
  std::string_view line;
  const std::vector<Label>* metadata = nullptr;  // never null; empty when none
};

class ChunkIterator {
 public:
  virtual ~ChunkIterator() = default;
  // Advances to the next entry in the iterator's direction; false at the end or on error
  // (check status()).
  virtual bool Next() = 0;
  virtual const EntryView& entry() const = 0;
  virtual const Status& status() const = 0;
};

class ChunkReader {
 public:
  // Validates magic, version and header/index checksums; DataLoss on corruption.
  // `data` must outlive the reader and its iterators.
  static Result<std::unique_ptr<ChunkReader>> Open(std::string_view data);
  virtual ~ChunkReader() = default;

  virtual const ChunkMeta& meta() const = 0;
  // Entries with from <= ts < through, ascending (forward) or descending (!forward).
  // Blocks outside the range are not decompressed. Block checksum failures surface as
  // DataLoss in status().
  virtual std::unique_ptr<ChunkIterator> Iterate(int64_t from, int64_t through, bool forward) const = 0;
};

}  // namespace logq::chunk
