// The chunk format: an immutable, zstd-compressed run of one stream's entries in
// non-decreasing timestamp order, cut from the stream's head. Entries with equal timestamps
// keep the order in which they were added (the cutter adds them sorted by line hash).
// Layout and byte diagram: docs/formats/chunk.md; pinned by testdata/chunks/golden_v1.chunk.
//
// A chunk is split into blocks of about `target_block_raw` uncompressed bytes, each
// compressed on its own, with an uncompressed block index (per-block min/max timestamp) so a
// reader decompresses only the blocks that overlap the queried range.
//
// Input to ChunkReader is untrusted: every offset and length is validated, checksums are
// checked (XXH3-64 over header+index and over each compressed block) and any inconsistency
// is reported as DataLoss, never a crash or an out-of-bounds read.
//
// Thread-safety: ChunkBuilder is single-threaded. ChunkReader is immutable after Open and
// may be shared; each ChunkIterator is single-threaded. Builders and iterators may move
// between threads between calls. Each thread that compresses or decompresses keeps one zstd
// context of each kind (thread_local, reused across builders and iterators, freed at thread
// exit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"

namespace logq::chunk {

// Persisted format constants. Values of persisted enums are never renumbered.
inline constexpr uint8_t kFormatVersion = 1;
enum class Codec : uint8_t {
  // 0 is reserved (never written; a reader rejects it).
  kZstd = 1,
};

// Upper bound on the uncompressed size of one block. The builder never writes a bigger
// block (a single entry that would not fit is rejected with InvalidArgument) and a reader
// rejects an index that claims one, so a forged chunk cannot make a reader allocate more.
inline constexpr size_t kMaxBlockDecodedBytes = 64u << 20;

// Identity of an entry's content within one timestamp: XXH3-64 over the line and its
// structured metadata (names and values, length-framed). Two entries of a stream with the same
// timestamp and EntryHash are one entry (Loki's deduplication, which includes metadata).
uint64_t EntryHash(std::string_view line, const std::vector<Label>& metadata);

// Summary of a chunk, readable without decompressing any block.
struct ChunkMeta {
  int64_t min_ts = 0;  // first entry's timestamp (ns)
  int64_t max_ts = 0;  // last entry's timestamp (ns)
  uint32_t num_entries = 0;
  uint64_t raw_bytes = 0;      // sum of line lengths (Loki's "bytes")
  uint64_t encoded_bytes = 0;  // size of the whole serialized chunk
};

// One entry of the block index, as validated by ChunkReader::Open.
struct BlockInfo {
  int64_t min_ts = 0;  // first entry's timestamp in the block
  int64_t max_ts = 0;  // last entry's timestamp in the block
  uint32_t num_entries = 0;
  uint32_t raw_bytes = 0;      // sum of line lengths in the block
  uint32_t decoded_bytes = 0;  // size of the decompressed block payload
  uint32_t compressed_bytes = 0;
  uint64_t offset = 0;  // of the compressed block from the start of the chunk
};

// A finished block outside a chunk: what a stream head keeps in memory once its open block is
// full, and what ChunkBuilder::AddBlock copies into a chunk without recompressing it. The
// bytes are one zstd frame of the block payload (docs/formats/chunk.md, "Block payload");
// `checksum` is XXH3-64 of `bytes`. `info.offset` is unused (0). Immutable once built.
struct CompressedBlock {
  BlockInfo info;
  uint64_t checksum = 0;
  std::string bytes;
};

struct ChunkBuilderOptions {
  int zstd_level = 3;                   // default 3
  size_t target_block_raw = 256 << 10;  // uncompressed bytes per block; default 256 KiB
                                        // (capped at kMaxBlockDecodedBytes; 0 = one entry
                                        // per block)
};

class ChunkBuilder {
 public:
  explicit ChunkBuilder(ChunkBuilderOptions options = {});
  ~ChunkBuilder();
  ChunkBuilder(const ChunkBuilder&) = delete;
  ChunkBuilder& operator=(const ChunkBuilder&) = delete;

  // Entries must be appended in non-decreasing timestamp order (InvalidArgument otherwise).
  // InvalidArgument also if one encoded entry (line plus metadata plus a few varint bytes)
  // exceeds kMaxBlockDecodedBytes, or the chunk already holds UINT32_MAX - 1 entries; a
  // rejected Add leaves the builder unchanged. Internal if the compressor fails (the entry
  // is then kept and compression is retried by the next Add or Finish).
  Status Add(int64_t ts, std::string_view line, const std::vector<Label>& metadata = {});
  size_t num_entries() const;
  uint64_t raw_bytes() const;
  // Appends a block built elsewhere (ChunkBuilder::TakeBlocks) as is: its bytes are copied,
  // not recompressed. Closes the open block first. InvalidArgument if the block starts before
  // the last entry added (block.info.min_ts < the previous max_ts) or is malformed (no
  // entries, sizes over the limits, bytes whose size or checksum disagree with the info).
  Status AddBlock(const CompressedBlock& block);
  // Closes the open block and hands out every block built so far (in order) instead of a
  // chunk; the builder is reset. Empty when no entry was added.
  Result<std::vector<CompressedBlock>> TakeBlocks();
  // Serializes the chunk. The builder is reset and may be reused.
  // InvalidArgument if no entry was added (an empty chunk is not representable; the builder
  // stays usable).
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

// Lets an iterator skip whole blocks no wanted entry can be in, after decompression and
// before any entry is parsed (e.g. a line filter's required substring is not in the block).
class BlockFilter {
 public:
  virtual ~BlockFilter() = default;
  // `payload` is the decompressed block (entry framing included). False: no entry of the
  // block is wanted.
  virtual bool MayMatch(std::string_view payload) const = 0;
  // Asked before a block is decompressed with the timestamp of its first entry in the
  // iteration direction; true ends the iteration there (nothing further is wanted).
  virtual bool Beyond(int64_t /*ts*/) const { return false; }
};

// Entries of blocks a BlockFilter ruled out (only blocks entirely inside the iterated range
// are ruled out, so these are exact counts of entries in range).
struct SkippedEntries {
  uint64_t entries = 0;
  uint64_t line_bytes = 0;
};

class ChunkIterator {
 public:
  virtual ~ChunkIterator() = default;
  virtual const SkippedEntries& skipped() const = 0;
  // Advances to the next entry in the iterator's direction; false at the end or on error
  // (check status()).
  virtual bool Next() = 0;
  virtual const EntryView& entry() const = 0;
  virtual const Status& status() const = 0;
};

class ChunkReader {
 public:
  // Validates magic, version, codec, header/index checksum and the consistency of the
  // index with the data size; DataLoss on corruption (including an unsupported version or
  // codec: this binary cannot read the bytes). Block checksums are checked lazily, when a
  // block is first needed by an iterator.
  // `data` must outlive the reader and its iterators.
  static Result<std::unique_ptr<ChunkReader>> Open(std::string_view data);
  // A reader over one block held outside a chunk (a head's finished block), validated like a
  // chunk's index entry. `block` must outlive the reader and its iterators.
  static Result<std::unique_ptr<ChunkReader>> OpenBlock(const CompressedBlock& block);
  virtual ~ChunkReader() = default;

  virtual const ChunkMeta& meta() const = 0;
  // The block index in chunk order (at least one block). Valid as long as the reader.
  virtual const std::vector<BlockInfo>& blocks() const = 0;
  // Entries with from <= ts < through, ascending (forward) or descending (!forward; entries
  // with equal timestamps then come in exactly the reverse of their forward order).
  // Blocks outside the range are not decompressed. Block checksum failures and malformed
  // block contents surface as DataLoss in status(). The iterator must not outlive this
  // reader (nor the reader's `data`). Each iterator holds one decompressed block.
  // `filter` (optional, must outlive the iterator) rules out blocks entirely inside
  // [from, through); their entries are counted in skipped() instead of being returned. Its
  // Beyond() ends the iteration before a block that starts beyond what is wanted.
  virtual std::unique_ptr<ChunkIterator> Iterate(int64_t from, int64_t through, bool forward,
                                                 const BlockFilter* filter = nullptr) const = 0;
};

}  // namespace logq::chunk
