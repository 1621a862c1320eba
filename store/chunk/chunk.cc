// Chunk format v1: see docs/formats/chunk.md for the byte layout this file implements.

#include "store/chunk/chunk.h"

#include <fmt/format.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack (EntryHash)
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

namespace logq::chunk {
namespace {

// ---- Layout constants (docs/formats/chunk.md). ----

constexpr char kMagic[4] = {'L', 'Q', 'C', 'K'};
constexpr size_t kHeaderSize = 40;
constexpr size_t kIndexEntrySize = 40;
constexpr size_t kChecksumSize = 8;
// Smallest possible encoded entry: ts delta, line length and metadata count, one byte each.
constexpr size_t kMinEntryBytes = 3;
constexpr size_t kMaxVarintBytes = 10;

// Header field offsets.
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 4;
constexpr size_t kOffCodec = 5;
constexpr size_t kOffReserved = 6;
constexpr size_t kOffMinTs = 8;
constexpr size_t kOffMaxTs = 16;
constexpr size_t kOffNumEntries = 24;
constexpr size_t kOffNumBlocks = 28;
constexpr size_t kOffRawBytes = 32;

// Index entry field offsets.
constexpr size_t kIdxMinTs = 0;
constexpr size_t kIdxMaxTs = 8;
constexpr size_t kIdxChecksum = 16;
constexpr size_t kIdxCompressed = 24;
constexpr size_t kIdxDecoded = 28;
constexpr size_t kIdxNumEntries = 32;
constexpr size_t kIdxRawBytes = 36;

// ---- Little-endian fixed-width helpers (the build targets little-endian hosts only). ----

static_assert(std::endian::native == std::endian::little,
              "chunk format helpers assume a little-endian host");

inline void PutU16(char* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, sizeof v); }
inline uint16_t GetU16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline int64_t GetI64(const char* p) { return static_cast<int64_t>(GetU64(p)); }

// ---- Varints (LEB128, as protobuf / Go's binary.Uvarint). ----

inline char* PutUvarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline size_t UvarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Reads a uvarint from [*p, end). Returns false on truncation or on an encoding longer than
// 10 bytes / overflowing 64 bits; *p is advanced only on success.
inline bool GetUvarint(const char** p, const char* end, uint64_t* v) {
  const char* q = *p;
  if (q < end && static_cast<unsigned char>(*q) < 0x80) {  // fast path: one byte
    *v = static_cast<unsigned char>(*q);
    *p = q + 1;
    return true;
  }
  uint64_t result = 0;
  for (unsigned shift = 0; shift < 64 && q < end; shift += 7) {
    uint64_t byte = static_cast<unsigned char>(*q++);
    if (shift == 63 && byte > 1) return false;  // would overflow 64 bits
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      *v = result;
      *p = q;
      return true;
    }
  }
  return false;
}

uint64_t Checksum(const char* p, size_t n) { return XXH3_64bits(p, n); }

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One compression and one decompression context per thread, each used only within a single
// call (never held across calls, so builders and iterators may move between threads).
// Reusing them keeps zstd's workspaces warm: a fresh context per chunk costs more than
// compressing a small chunk.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

uint64_t EntryHash(std::string_view line, const std::vector<Label>& metadata) {
  if (metadata.empty()) return XXH3_64bits(line.data(), line.size());
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, line.data(), line.size());
  for (const Label& l : metadata) {
    const uint64_t sizes[2] = {l.name.size(), l.value.size()};
    XXH3_64bits_update(&st, sizes, sizeof sizes);
    XXH3_64bits_update(&st, l.name.data(), l.name.size());
    XXH3_64bits_update(&st, l.value.data(), l.value.size());
  }
  return XXH3_64bits_digest(&st);
}

// =====================================================================================
// ChunkBuilder
// =====================================================================================

struct ChunkBuilder::Rep {
  struct ClosedBlock {
    BlockInfo info;  // offset is relative to the start of `compressed`
    uint64_t checksum = 0;
  };

  explicit Rep(ChunkBuilderOptions o) : options(o) {
    level = std::clamp(options.zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    target = std::min(options.target_block_raw, kMaxBlockDecodedBytes);
  }

  // Resets the calling thread's compression context to this builder's parameters.
  Status PrepareCCtx(ZSTD_CCtx* cctx) const {
    if (cctx == nullptr) return Internal("chunk: ZSTD_createCCtx failed");
    size_t rc = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    for (auto [param, value] :
         {std::pair{ZSTD_c_compressionLevel, level},
          std::pair{ZSTD_c_checksumFlag, 0},  // we keep our own
          std::pair{ZSTD_c_contentSizeFlag, 1}, std::pair{ZSTD_c_dictIDFlag, 0}}) {
      if (ZSTD_isError(rc)) break;
      rc = ZSTD_CCtx_setParameter(cctx, param, value);
    }
    if (ZSTD_isError(rc)) {
      return Internal(fmt::format("chunk: zstd parameters: {}", ZSTD_getErrorName(rc)));
    }
    return Status::OK();
  }

  // Compresses the open block and appends it to `compressed`.
  Status CloseBlock() {
    if (open.num_entries == 0) return Status::OK();
    ZSTD_CCtx* cctx = ThreadCCtx();
    RETURN_IF_ERROR(PrepareCCtx(cctx));
    size_t bound = ZSTD_compressBound(block.size());
    size_t old = compressed.size();
    compressed.resize(old + bound);
    size_t n = ZSTD_compress2(cctx, compressed.data() + old, bound, block.data(), block.size());
    if (ZSTD_isError(n)) {
      compressed.resize(old);
      return Internal(fmt::format("chunk: zstd compression failed: {}", ZSTD_getErrorName(n)));
    }
    compressed.resize(old + n);
    ClosedBlock c;
    c.info = open;
    c.info.decoded_bytes = static_cast<uint32_t>(block.size());
    c.info.compressed_bytes = static_cast<uint32_t>(n);
    c.info.offset = old;
    c.checksum = Checksum(compressed.data() + old, n);
    closed.push_back(c);
    open = BlockInfo{};
    block.clear();
    return Status::OK();
  }

  void Reset() {
    open = BlockInfo{};
    block.clear();
    closed.clear();
    compressed = std::string();  // release: a finished builder should not pin a chunk's worth
    num_entries = 0;
    raw_bytes = 0;
    last_ts = 0;
  }

  ChunkBuilderOptions options;
  int level = 3;
  size_t target = 0;
  std::string block;  // encoded entries of the open block
  BlockInfo open;     // min/max/num_entries/raw_bytes of the open block
  std::vector<ClosedBlock> closed;
  std::string compressed;  // closed blocks, concatenated
  uint32_t num_entries = 0;
  uint64_t raw_bytes = 0;
  int64_t last_ts = 0;
};

ChunkBuilder::ChunkBuilder(ChunkBuilderOptions options) : rep_(std::make_unique<Rep>(options)) {}
ChunkBuilder::~ChunkBuilder() = default;

size_t ChunkBuilder::num_entries() const { return rep_->num_entries; }
uint64_t ChunkBuilder::raw_bytes() const { return rep_->raw_bytes; }

Status ChunkBuilder::Add(int64_t ts, std::string_view line, const std::vector<Label>& metadata) {
  Rep& r = *rep_;
  if (r.num_entries > 0 && ts < r.last_ts) {
    return InvalidArgument(fmt::format(
        "chunk: entry timestamp {} is before the previous entry's {} (entries must be added "
        "in non-decreasing timestamp order)",
        ts, r.last_ts));
  }
  if (r.num_entries >= std::numeric_limits<uint32_t>::max() - 1) {
    return InvalidArgument("chunk: too many entries in one chunk");
  }
  // Worst-case encoded size (ts delta counted at 10 bytes), computed in 64 bits.
  uint64_t size =
      kMaxVarintBytes + UvarintSize(line.size()) + line.size() + UvarintSize(metadata.size());
  for (const Label& l : metadata) {
    size +=
        UvarintSize(l.name.size()) + l.name.size() + UvarintSize(l.value.size()) + l.value.size();
  }
  if (size > kMaxBlockDecodedBytes) {
    return InvalidArgument(
        fmt::format("chunk: entry of {} encoded bytes exceeds the block limit of {} bytes", size,
                    kMaxBlockDecodedBytes));
  }
  if (r.block.size() + size > kMaxBlockDecodedBytes) RETURN_IF_ERROR(r.CloseBlock());

  if (r.open.num_entries == 0) {
    r.open.min_ts = ts;
    r.open.max_ts = ts;
  }
  char buf[3 * kMaxVarintBytes];
  char* q = PutUvarint(buf, static_cast<uint64_t>(ts) - static_cast<uint64_t>(r.open.max_ts));
  q = PutUvarint(q, line.size());
  r.block.append(buf, q - buf);
  r.block.append(line);
  q = PutUvarint(buf, metadata.size());
  r.block.append(buf, q - buf);
  for (const Label& l : metadata) {
    q = PutUvarint(buf, l.name.size());
    r.block.append(buf, q - buf);
    r.block.append(l.name);
    q = PutUvarint(buf, l.value.size());
    r.block.append(buf, q - buf);
    r.block.append(l.value);
  }
  r.open.max_ts = ts;
  r.open.num_entries++;
  r.open.raw_bytes += static_cast<uint32_t>(line.size());
  r.num_entries++;
  r.raw_bytes += line.size();
  r.last_ts = ts;
  if (r.block.size() >= r.target) RETURN_IF_ERROR(r.CloseBlock());
  return Status::OK();
}

Status ChunkBuilder::AddBlock(const CompressedBlock& block) {
  Rep& r = *rep_;
  const BlockInfo& b = block.info;
  if (b.num_entries == 0 || b.min_ts > b.max_ts || b.decoded_bytes > kMaxBlockDecodedBytes ||
      b.raw_bytes > b.decoded_bytes || b.compressed_bytes == 0 ||
      b.compressed_bytes != block.bytes.size() ||
      Checksum(block.bytes.data(), block.bytes.size()) != block.checksum) {
    return InvalidArgument("chunk: malformed block handed to AddBlock");
  }
  RETURN_IF_ERROR(r.CloseBlock());
  if (r.num_entries > 0 && b.min_ts < r.last_ts) {
    return InvalidArgument(fmt::format(
        "chunk: block starting at {} is before the previous entry's {} (blocks must be added "
        "in non-decreasing timestamp order)",
        b.min_ts, r.last_ts));
  }
  if (uint64_t{r.num_entries} + b.num_entries >= std::numeric_limits<uint32_t>::max() - 1) {
    return InvalidArgument("chunk: too many entries in one chunk");
  }
  Rep::ClosedBlock c;
  c.info = b;
  c.info.offset = r.compressed.size();
  c.checksum = block.checksum;
  r.compressed.append(block.bytes);
  r.closed.push_back(c);
  r.num_entries += b.num_entries;
  r.raw_bytes += b.raw_bytes;
  r.last_ts = b.max_ts;
  return Status::OK();
}

Result<std::vector<CompressedBlock>> ChunkBuilder::TakeBlocks() {
  Rep& r = *rep_;
  RETURN_IF_ERROR(r.CloseBlock());
  std::vector<CompressedBlock> out;
  out.reserve(r.closed.size());
  for (const auto& c : r.closed) {
    CompressedBlock b;
    b.info = c.info;
    b.info.offset = 0;
    b.checksum = c.checksum;
    b.bytes.assign(r.compressed, c.info.offset, c.info.compressed_bytes);
    out.push_back(std::move(b));
  }
  r.Reset();
  return out;
}

Result<std::string> ChunkBuilder::Finish() {
  Rep& r = *rep_;
  if (r.num_entries == 0) return InvalidArgument("chunk: cannot finish a chunk with no entries");
  RETURN_IF_ERROR(r.CloseBlock());

  const size_t num_blocks = r.closed.size();
  const size_t blocks_start = kHeaderSize + num_blocks * kIndexEntrySize + kChecksumSize;
  std::string out(blocks_start, '\0');
  out.reserve(blocks_start + r.compressed.size());
  char* h = out.data();
  std::memcpy(h + kOffMagic, kMagic, sizeof kMagic);
  h[kOffVersion] = static_cast<char>(kFormatVersion);
  h[kOffCodec] = static_cast<char>(Codec::kZstd);
  PutU16(h + kOffReserved, 0);
  PutU64(h + kOffMinTs, static_cast<uint64_t>(r.closed.front().info.min_ts));
  PutU64(h + kOffMaxTs, static_cast<uint64_t>(r.closed.back().info.max_ts));
  PutU32(h + kOffNumEntries, r.num_entries);
  PutU32(h + kOffNumBlocks, static_cast<uint32_t>(num_blocks));
  PutU64(h + kOffRawBytes, r.raw_bytes);
  for (size_t i = 0; i < num_blocks; ++i) {
    const auto& c = r.closed[i];
    char* e = h + kHeaderSize + i * kIndexEntrySize;
    PutU64(e + kIdxMinTs, static_cast<uint64_t>(c.info.min_ts));
    PutU64(e + kIdxMaxTs, static_cast<uint64_t>(c.info.max_ts));
    PutU64(e + kIdxChecksum, c.checksum);
    PutU32(e + kIdxCompressed, c.info.compressed_bytes);
    PutU32(e + kIdxDecoded, c.info.decoded_bytes);
    PutU32(e + kIdxNumEntries, c.info.num_entries);
    PutU32(e + kIdxRawBytes, c.info.raw_bytes);
  }
  const size_t index_end = blocks_start - kChecksumSize;
  PutU64(h + index_end, Checksum(h, index_end));
  out.append(r.compressed);
  r.Reset();
  return out;
}

// =====================================================================================
// ChunkReader
// =====================================================================================

namespace {

class ZstdChunkReader final : public ChunkReader {
 public:
  ZstdChunkReader(std::string_view data, ChunkMeta meta, std::vector<BlockInfo> blocks,
                  std::vector<uint64_t> checksums)
      : data_(data), meta_(meta), blocks_(std::move(blocks)), checksums_(std::move(checksums)) {}

  const ChunkMeta& meta() const override { return meta_; }
  const std::vector<BlockInfo>& blocks() const override { return blocks_; }
  std::unique_ptr<ChunkIterator> Iterate(int64_t from, int64_t through, bool forward,
                                         const BlockFilter* filter) const override;

  std::string_view data() const { return data_; }
  uint64_t checksum(size_t block) const { return checksums_[block]; }

 private:
  std::string_view data_;
  ChunkMeta meta_;
  std::vector<BlockInfo> blocks_;
  std::vector<uint64_t> checksums_;
};

// One entry parsed from a decompressed block; pointers into the iterator's buffer.
struct ParsedEntry {
  int64_t ts;
  const char* line;
  uint32_t line_len;
  uint32_t md_count;
  const char* md;  // first metadata byte (already validated)
};

class ZstdChunkIterator final : public ChunkIterator {
 public:
  ZstdChunkIterator(const ZstdChunkReader* reader, int64_t from, int64_t through, bool forward,
                    const BlockFilter* filter)
      : reader_(reader), from_(from), through_(through), forward_(forward), filter_(filter) {
    entry_.metadata = &metadata_;
    const auto& blocks = reader_->blocks();
    if (from_ >= through_) {
      done_ = true;
      return;
    }
    if (forward_) {
      // Block max_ts is non-decreasing (validated in Open): first block that reaches `from`.
      auto it = std::partition_point(blocks.begin(), blocks.end(),
                                     [&](const BlockInfo& b) { return b.max_ts < from_; });
      next_block_ = it - blocks.begin();
    } else {
      // Block min_ts is non-decreasing: last block that starts before `through`.
      auto it = std::partition_point(blocks.begin(), blocks.end(),
                                     [&](const BlockInfo& b) { return b.min_ts < through_; });
      next_block_ = (it - blocks.begin()) - 1;  // -1: none
    }
  }

  bool Next() override {
    if (done_) return false;
    return forward_ ? NextForward() : NextBackward();
  }
  const EntryView& entry() const override { return entry_; }
  const Status& status() const override { return status_; }
  const SkippedEntries& skipped() const override { return skipped_; }

 private:
  bool Fail(Status s) {
    status_ = std::move(s);
    done_ = true;
    entry_ = EntryView{};
    entry_.metadata = &metadata_;
    metadata_.clear();
    return false;
  }

  Status Corrupt(std::string_view what) const {
    return DataLoss(fmt::format("chunk block {}: {}", cur_block_, what));
  }

  // Decompresses and verifies block `b` into buf_; sets p_/end_ and per-block state.
  Status LoadBlock(size_t b) {
    const BlockInfo& info = reader_->blocks()[b];
    cur_block_ = b;
    const char* src = reader_->data().data() + info.offset;
    const size_t clen = info.compressed_bytes;
    if (Checksum(src, clen) != reader_->checksum(b)) return Corrupt("checksum mismatch");
    unsigned long long content = ZSTD_getFrameContentSize(src, clen);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
        content != info.decoded_bytes) {
      return Corrupt("zstd frame size does not match the index");
    }
    if (ZSTD_findFrameCompressedSize(src, clen) != clen) {
      return Corrupt("zstd frame length does not match the index");
    }
    if (buf_cap_ < info.decoded_bytes) {
      buf_.reset(new char[info.decoded_bytes]);
      buf_cap_ = info.decoded_bytes;
    }
    ZSTD_DCtx* dctx = ThreadDCtx();
    if (dctx == nullptr) return Internal("chunk: ZSTD_createDCtx failed");
    size_t n = ZSTD_decompressDCtx(dctx, buf_.get(), info.decoded_bytes, src, clen);
    if (ZSTD_isError(n)) {
      return Corrupt(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
    }
    if (n != info.decoded_bytes) return Corrupt("decompressed size does not match the index");
    p_ = buf_.get();
    end_ = buf_.get() + n;
    block_skipped_ = false;
    if (filter_ != nullptr && info.min_ts >= from_ && info.max_ts < through_ &&
        !filter_->MayMatch(std::string_view(buf_.get(), n))) {
      block_skipped_ = true;
      skipped_.entries += info.num_entries;
      skipped_.line_bytes += info.raw_bytes;
    }
    prev_ts_ = info.min_ts;
    seen_ = 0;
    raw_seen_ = 0;
    return Status::OK();
  }

  // Parses the entry at p_, advancing p_. Validates every length against the block end and
  // the timestamp against the block's [min_ts, max_ts].
  Status ParseNext(const BlockInfo& info, ParsedEntry* e) {
    if (seen_ >= info.num_entries) return Corrupt("more entries than the index records");
    const char* p = p_;
    uint64_t delta, len, md_count;
    if (!GetUvarint(&p, end_, &delta)) return Corrupt("bad timestamp varint");
    if (delta > static_cast<uint64_t>(info.max_ts) - static_cast<uint64_t>(prev_ts_)) {
      return Corrupt("entry timestamp beyond the block's max_ts");
    }
    const int64_t ts = static_cast<int64_t>(static_cast<uint64_t>(prev_ts_) + delta);
    if (seen_ == 0 && ts != info.min_ts)
      return Corrupt("first timestamp is not the block's min_ts");
    if (!GetUvarint(&p, end_, &len) || len > static_cast<uint64_t>(end_ - p)) {
      return Corrupt("bad line length");
    }
    e->ts = ts;
    e->line = p;
    e->line_len = static_cast<uint32_t>(len);
    p += len;
    if (!GetUvarint(&p, end_, &md_count) || md_count > static_cast<uint64_t>(end_ - p) / 2) {
      return Corrupt("bad metadata count");
    }
    e->md_count = static_cast<uint32_t>(md_count);
    e->md = p;
    for (uint64_t i = 0; i < 2 * md_count; ++i) {  // name, value, name, value, ...
      uint64_t n;
      if (!GetUvarint(&p, end_, &n) || n > static_cast<uint64_t>(end_ - p)) {
        return Corrupt("bad metadata length");
      }
      p += n;
    }
    p_ = p;
    prev_ts_ = ts;
    seen_++;
    raw_seen_ += len;
    return Status::OK();
  }

  // Checks, once a block has been parsed to its end, that it matched the index.
  Status CheckBlockEnd(const BlockInfo& info) const {
    if (seen_ != info.num_entries) return Corrupt("fewer entries than the index records");
    if (prev_ts_ != info.max_ts) return Corrupt("last timestamp is not the block's max_ts");
    if (raw_seen_ != info.raw_bytes) return Corrupt("line bytes do not match the index");
    return Status::OK();
  }

  // Fills metadata_ from an already validated metadata section, reusing its strings.
  void FillMetadata(const ParsedEntry& e) {
    const size_t k = e.md_count;
    while (metadata_.size() > k) {
      spare_.push_back(std::move(metadata_.back()));
      metadata_.pop_back();
    }
    while (metadata_.size() < k) {
      if (spare_.empty()) {
        metadata_.emplace_back();
      } else {
        metadata_.push_back(std::move(spare_.back()));
        spare_.pop_back();
      }
    }
    const char* p = e.md;
    for (size_t i = 0; i < k; ++i) {
      uint64_t n = 0;
      GetUvarint(&p, end_, &n);  // validated by ParseNext
      metadata_[i].name.assign(p, n);
      p += n;
      GetUvarint(&p, end_, &n);
      metadata_[i].value.assign(p, n);
      p += n;
    }
  }

  void Emit(const ParsedEntry& e) {
    entry_.ts = e.ts;
    entry_.line = std::string_view(e.line, e.line_len);
    FillMetadata(e);  // no work when neither this nor the previous entry has metadata
  }

  bool NextForward() {
    const auto& blocks = reader_->blocks();
    for (;;) {
      if (!in_block_) {
        if (next_block_ < 0 || static_cast<size_t>(next_block_) >= blocks.size() ||
            blocks[next_block_].min_ts >= through_) {
          done_ = true;
          return false;
        }
        if (filter_ != nullptr && filter_->Beyond(blocks[next_block_].min_ts)) {
          done_ = true;
          return false;
        }
        if (Status s = LoadBlock(next_block_); !s.ok()) return Fail(std::move(s));
        next_block_++;
        if (block_skipped_) continue;
        in_block_ = true;
      }
      const BlockInfo& info = blocks[cur_block_];
      if (p_ == end_) {
        if (Status s = CheckBlockEnd(info); !s.ok()) return Fail(std::move(s));
        in_block_ = false;
        continue;
      }
      ParsedEntry e;
      if (Status s = ParseNext(info, &e); !s.ok()) return Fail(std::move(s));
      if (e.ts < from_) continue;
      if (e.ts >= through_) {
        done_ = true;
        return false;
      }
      Emit(e);
      return true;
    }
  }

  bool NextBackward() {
    const auto& blocks = reader_->blocks();
    for (;;) {
      if (!in_block_) {
        if (next_block_ < 0 || blocks[next_block_].max_ts < from_) {
          done_ = true;
          return false;
        }
        if (filter_ != nullptr && filter_->Beyond(blocks[next_block_].max_ts)) {
          done_ = true;
          return false;
        }
        if (Status s = LoadBlock(next_block_); !s.ok()) return Fail(std::move(s));
        const BlockInfo& info = blocks[cur_block_];
        next_block_--;
        if (block_skipped_) continue;
        // Parse the whole block, then walk it backwards.
        entries_.clear();
        while (p_ != end_) {
          ParsedEntry e;
          if (Status s = ParseNext(info, &e); !s.ok()) return Fail(std::move(s));
          entries_.push_back(e);
        }
        if (Status s = CheckBlockEnd(info); !s.ok()) return Fail(std::move(s));
        rpos_ = entries_.size();
        in_block_ = true;
      }
      if (rpos_ == 0) {
        in_block_ = false;
        continue;
      }
      const ParsedEntry& e = entries_[--rpos_];
      if (e.ts >= through_) continue;
      if (e.ts < from_) {
        done_ = true;
        return false;
      }
      Emit(e);
      return true;
    }
  }

  const ZstdChunkReader* reader_;
  const int64_t from_;
  const int64_t through_;
  const bool forward_;
  const BlockFilter* const filter_;
  bool block_skipped_ = false;
  SkippedEntries skipped_;
  bool done_ = false;
  bool in_block_ = false;
  ptrdiff_t next_block_ = 0;
  size_t cur_block_ = 0;

  std::unique_ptr<char[]> buf_;  // decompressed block; entry views point into it
  size_t buf_cap_ = 0;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  int64_t prev_ts_ = 0;
  uint32_t seen_ = 0;
  uint64_t raw_seen_ = 0;

  std::vector<ParsedEntry> entries_;  // backward: the current block's entries
  size_t rpos_ = 0;

  std::vector<Label> metadata_;  // entry_.metadata points here; strings reused
  std::vector<Label> spare_;     // labels kept for reuse when an entry has fewer
  EntryView entry_;
  Status status_;
};

std::unique_ptr<ChunkIterator> ZstdChunkReader::Iterate(int64_t from, int64_t through, bool forward,
                                                        const BlockFilter* filter) const {
  return std::make_unique<ZstdChunkIterator>(this, from, through, forward, filter);
}

}  // namespace

namespace {

// Consistency of one block's index entry on its own; nullptr when fine, else what is wrong.
const char* CheckBlockInfo(const BlockInfo& b) {
  if (b.min_ts > b.max_ts) return "min_ts > max_ts";
  if (b.num_entries == 0) return "no entries";
  if (b.decoded_bytes > kMaxBlockDecodedBytes) return "decoded size over the limit";
  if (uint64_t{b.num_entries} * kMinEntryBytes > b.decoded_bytes) {
    return "more entries than the decoded size can hold";
  }
  if (b.raw_bytes > b.decoded_bytes) return "line bytes exceed the decoded size";
  if (b.compressed_bytes == 0) return "empty compressed block";
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<ChunkReader>> ChunkReader::OpenBlock(const CompressedBlock& block) {
  BlockInfo b = block.info;
  b.offset = 0;
  if (const char* what = CheckBlockInfo(b)) return DataLoss(fmt::format("chunk block: {}", what));
  if (b.compressed_bytes != block.bytes.size()) {
    return DataLoss("chunk block: size does not match its info");
  }
  ChunkMeta meta;
  meta.min_ts = b.min_ts;
  meta.max_ts = b.max_ts;
  meta.num_entries = b.num_entries;
  meta.raw_bytes = b.raw_bytes;
  meta.encoded_bytes = block.bytes.size();
  return std::unique_ptr<ChunkReader>(std::make_unique<ZstdChunkReader>(
      block.bytes, meta, std::vector<BlockInfo>{b}, std::vector<uint64_t>{block.checksum}));
}

Result<std::unique_ptr<ChunkReader>> ChunkReader::Open(std::string_view data) {
  const char* d = data.data();
  const size_t size = data.size();
  if (size < kHeaderSize) {
    return DataLoss(
        fmt::format("chunk truncated: {} bytes, the header alone is {}", size, kHeaderSize));
  }
  if (std::memcmp(d + kOffMagic, kMagic, sizeof kMagic) != 0) {
    return DataLoss("chunk: bad magic (not a logq chunk)");
  }
  const uint8_t version = static_cast<uint8_t>(d[kOffVersion]);
  if (version != kFormatVersion) {
    return DataLoss(fmt::format("chunk: unsupported format version {} (this build reads {})",
                                version, kFormatVersion));
  }
  const uint8_t codec = static_cast<uint8_t>(d[kOffCodec]);
  if (codec != static_cast<uint8_t>(Codec::kZstd)) {
    return DataLoss(fmt::format("chunk: unsupported codec {}", codec));
  }
  if (GetU16(d + kOffReserved) != 0) return DataLoss("chunk: reserved header bits set");
  const uint32_t num_blocks = GetU32(d + kOffNumBlocks);
  const uint64_t index_end = kHeaderSize + uint64_t{num_blocks} * kIndexEntrySize;
  const uint64_t blocks_start = index_end + kChecksumSize;
  if (blocks_start > size) {
    return DataLoss(fmt::format("chunk truncated: {} bytes, header and index of {} blocks need {}",
                                size, num_blocks, blocks_start));
  }
  if (Checksum(d, index_end) != GetU64(d + index_end)) {
    return DataLoss("chunk: header/index checksum mismatch");
  }

  ChunkMeta meta;
  meta.min_ts = GetI64(d + kOffMinTs);
  meta.max_ts = GetI64(d + kOffMaxTs);
  meta.num_entries = GetU32(d + kOffNumEntries);
  meta.raw_bytes = GetU64(d + kOffRawBytes);
  meta.encoded_bytes = size;
  if (num_blocks == 0) return DataLoss("chunk: no blocks");

  std::vector<BlockInfo> blocks(num_blocks);
  std::vector<uint64_t> checksums(num_blocks);
  uint64_t offset = blocks_start, entries = 0, raw = 0;
  for (uint32_t i = 0; i < num_blocks; ++i) {
    const char* e = d + kHeaderSize + uint64_t{i} * kIndexEntrySize;
    BlockInfo& b = blocks[i];
    b.min_ts = GetI64(e + kIdxMinTs);
    b.max_ts = GetI64(e + kIdxMaxTs);
    checksums[i] = GetU64(e + kIdxChecksum);
    b.compressed_bytes = GetU32(e + kIdxCompressed);
    b.decoded_bytes = GetU32(e + kIdxDecoded);
    b.num_entries = GetU32(e + kIdxNumEntries);
    b.raw_bytes = GetU32(e + kIdxRawBytes);
    b.offset = offset;
    if (i > 0 && blocks[i - 1].max_ts > b.min_ts) {
      return DataLoss(fmt::format("chunk: block index entry {}: overlaps the previous block", i));
    }
    if (const char* what = CheckBlockInfo(b)) {
      return DataLoss(fmt::format("chunk: block index entry {}: {}", i, what));
    }
    offset += b.compressed_bytes;
    entries += b.num_entries;
    raw += b.raw_bytes;
  }
  if (offset != size) {
    return DataLoss(
        fmt::format("chunk: size is {} bytes but the index describes {}", size, offset));
  }
  if (meta.min_ts != blocks.front().min_ts || meta.max_ts != blocks.back().max_ts) {
    return DataLoss("chunk: header time range does not match the block index");
  }
  if (meta.num_entries != entries) {
    return DataLoss("chunk: header entry count does not match the block index");
  }
  if (meta.raw_bytes != raw) {
    return DataLoss("chunk: header raw bytes do not match the block index");
  }
  return std::unique_ptr<ChunkReader>(
      std::make_unique<ZstdChunkReader>(data, meta, std::move(blocks), std::move(checksums)));
}

}  // namespace logq::chunk
