#include "store/chunk/chunk.h"

#include <gtest/gtest.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/chunk/golden_v1.h"
#include "tests/testing/temp_dir.h"

namespace logq::chunk {
namespace {

using golden::GoldenEntry;

// Layout constants from docs/formats/chunk.md, restated here so the test pins the document.
constexpr size_t kHeaderSize = 40;
constexpr size_t kIndexEntrySize = 40;
constexpr size_t kHdrMaxTs = 16;
constexpr size_t kHdrNumEntries = 24;
constexpr size_t kHdrNumBlocks = 28;
constexpr size_t kHdrRawBytes = 32;
constexpr size_t kIdxMinTs = 0;
constexpr size_t kIdxMaxTs = 8;
constexpr size_t kIdxDecoded = 28;
constexpr size_t kIdxNumEntries = 32;
constexpr size_t kIdxRawBytes = 36;

bool SameEntry(const GoldenEntry& a, const GoldenEntry& b) {
  return a.ts == b.ts && a.line == b.line && a.metadata == b.metadata;
}

std::string Describe(const GoldenEntry& e) {
  std::ostringstream os;
  os << e.ts << " \"";
  std::string quoted;
  AppendGoQuoted(e.line, &quoted);
  os << quoted << "\" md=" << e.metadata.size();
  return os.str();
}

void ExpectEntriesEqual(const std::vector<GoldenEntry>& got, const std::vector<GoldenEntry>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(SameEntry(got[i], want[i]))
        << "entry " << i << ": got " << Describe(got[i]) << ", want " << Describe(want[i]);
  }
}

std::string Build(const std::vector<GoldenEntry>& entries, ChunkBuilderOptions options) {
  ChunkBuilder b(options);
  for (const auto& e : entries) {
    Status s = b.Add(e.ts, e.line, e.metadata);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  auto chunk = b.Finish();
  EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
  return chunk.ok() ? *chunk : std::string();
}

// Drains an iterator; returns its final status in *status.
std::vector<GoldenEntry> Drain(ChunkIterator& it, Status* status) {
  std::vector<GoldenEntry> out;
  while (it.Next()) {
    const EntryView& e = it.entry();
    EXPECT_NE(e.metadata, nullptr);
    out.push_back({e.ts, std::string(e.line), *e.metadata});
  }
  *status = it.status();
  return out;
}

std::vector<GoldenEntry> ReadRange(const ChunkReader& r, int64_t from, int64_t through,
                                   bool forward, Status* status) {
  auto it = r.Iterate(from, through, forward);
  return Drain(*it, status);
}

std::vector<GoldenEntry> Filter(const std::vector<GoldenEntry>& all, int64_t from, int64_t through,
                                bool forward) {
  std::vector<GoldenEntry> out;
  for (const auto& e : all) {
    if (e.ts >= from && e.ts < through) out.push_back(e);
  }
  if (!forward) std::reverse(out.begin(), out.end());
  return out;
}

// Deterministic entries: duplicate timestamps, empty lines, binary bytes, some metadata.
std::vector<GoldenEntry> MakeEntries(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<GoldenEntry> out;
  int64_t ts = 1'700'000'000'000'000'000;
  for (size_t i = 0; i < n; ++i) {
    uint32_t r = rng();
    if (r % 4 != 0) ts += 1 + rng() % 5'000'000;  // 1 in 4 entries repeats the timestamp
    GoldenEntry e;
    e.ts = ts;
    size_t len = rng() % 7 == 0 ? 0 : rng() % 300;
    e.line.resize(len);
    for (auto& c : e.line) c = static_cast<char>(i % 3 == 0 ? rng() : 'a' + rng() % 26);
    if (r % 5 == 0) {
      e.metadata = {{"trace_id", std::to_string(rng())}};
      if (r % 10 == 0) e.metadata.push_back({"user", std::string("u\0\xff", 3)});
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ChunkTest, RoundTripsForwardAndBackward) {
  auto entries = MakeEntries(2000, 1);
  std::string data = Build(entries, {.zstd_level = 3, .target_block_raw = 8 << 10});
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT((*r)->blocks().size(), 10u);
  Status st;
  ExpectEntriesEqual(ReadRange(**r, INT64_MIN, INT64_MAX, true, &st), entries);
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto reversed = entries;
  std::reverse(reversed.begin(), reversed.end());
  ExpectEntriesEqual(ReadRange(**r, INT64_MIN, INT64_MAX, false, &st), reversed);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(ChunkTest, RoundTripsWithDefaultOptions) {
  auto entries = MakeEntries(20000, 2);
  std::string data = Build(entries, {});
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT((*r)->blocks().size(), 1u);
  Status st;
  ExpectEntriesEqual(ReadRange(**r, INT64_MIN, INT64_MAX, true, &st), entries);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(ChunkTest, MetaAndBlockIndexDescribeTheChunk) {
  auto entries = MakeEntries(500, 3);
  ChunkBuilder b({.zstd_level = 1, .target_block_raw = 4096});
  uint64_t raw = 0;
  for (const auto& e : entries) {
    ASSERT_TRUE(b.Add(e.ts, e.line, e.metadata).ok());
    raw += e.line.size();
  }
  EXPECT_EQ(b.num_entries(), entries.size());
  EXPECT_EQ(b.raw_bytes(), raw);
  auto data = b.Finish();
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(b.num_entries(), 0u);  // reset by Finish
  auto r = ChunkReader::Open(*data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ChunkMeta& m = (*r)->meta();
  EXPECT_EQ(m.min_ts, entries.front().ts);
  EXPECT_EQ(m.max_ts, entries.back().ts);
  EXPECT_EQ(m.num_entries, entries.size());
  EXPECT_EQ(m.raw_bytes, raw);
  EXPECT_EQ(m.encoded_bytes, data->size());
  const auto& blocks = (*r)->blocks();
  ASSERT_GT(blocks.size(), 1u);
  uint64_t n = 0, offset = kHeaderSize + blocks.size() * kIndexEntrySize + 8;
  for (const auto& bl : blocks) {
    EXPECT_EQ(bl.offset, offset);
    EXPECT_LE(bl.min_ts, bl.max_ts);
    EXPECT_LE(bl.decoded_bytes, 4096u + 400u);  // target plus at most one entry
    offset += bl.compressed_bytes;
    n += bl.num_entries;
  }
  EXPECT_EQ(offset, data->size());
  EXPECT_EQ(n, entries.size());
}

TEST(ChunkTest, RangeIsFromInclusiveThroughExclusive) {
  // Duplicate timestamps straddle block boundaries (2 entries per block).
  std::vector<GoldenEntry> entries;
  for (int64_t ts : {10, 10, 10, 20, 21, 21, 30, 40, 40, 40, 40, 50}) {
    entries.push_back({ts, "line " + std::to_string(entries.size()), {}});
  }
  std::string data = Build(entries, {.zstd_level = 3, .target_block_raw = 20});
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GE((*r)->blocks().size(), 4u);
  std::vector<int64_t> points = {INT64_MIN, 0,  9,  10, 11, 19, 20, 21, 22,       29,
                                 30,        31, 39, 40, 41, 49, 50, 51, INT64_MAX};
  for (int64_t from : points) {
    for (int64_t through : points) {
      for (bool forward : {true, false}) {
        SCOPED_TRACE(::testing::Message()
                     << "from=" << from << " through=" << through << " forward=" << forward);
        Status st;
        auto got = ReadRange(**r, from, through, forward, &st);
        EXPECT_TRUE(st.ok()) << st.ToString();
        ExpectEntriesEqual(got, Filter(entries, from, through, forward));
      }
    }
  }
}

TEST(ChunkTest, SkipsBlocksOutsideTheRange) {
  // One entry per block, timestamps 0, 10, ..., 90. Corrupt block 5 (ts 50): ranges that do
  // not touch it must succeed (so it was not decompressed); ranges that do must fail.
  std::vector<GoldenEntry> entries;
  for (int64_t i = 0; i < 10; ++i) entries.push_back({i * 10, "entry " + std::to_string(i), {}});
  std::string data = Build(entries, {.zstd_level = 3, .target_block_raw = 1});
  {
    auto r = ChunkReader::Open(data);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ((*r)->blocks().size(), 10u);
    const BlockInfo& b5 = (*r)->blocks()[5];
    data[b5.offset + b5.compressed_bytes / 2] ^= 0x40;
  }
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok()) << "block checksums are checked lazily: " << r.status().ToString();
  struct Case {
    int64_t from, through;
    bool ok;
  };
  for (Case c : {Case{0, 50, true}, Case{51, 100, true}, Case{49, 50, true}, Case{50, 51, false},
                 Case{0, 100, false}, Case{45, 55, false}}) {
    for (bool forward : {true, false}) {
      SCOPED_TRACE(::testing::Message()
                   << "[" << c.from << ", " << c.through << ") forward=" << forward);
      Status st;
      auto got = ReadRange(**r, c.from, c.through, forward, &st);
      if (c.ok) {
        EXPECT_TRUE(st.ok()) << st.ToString();
        ExpectEntriesEqual(got, Filter(entries, c.from, c.through, forward));
      } else {
        EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
        EXPECT_NE(st.message().find("block 5"), std::string::npos) << st.message();
      }
    }
  }
}

TEST(ChunkTest, EmptyOrInvertedRangeYieldsNothing) {
  std::string data = Build(MakeEntries(50, 4), {});
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok());
  for (bool forward : {true, false}) {
    auto it = (*r)->Iterate(100, 100, forward);
    EXPECT_FALSE(it->Next());
    EXPECT_TRUE(it->status().ok());
    it = (*r)->Iterate(INT64_MAX, INT64_MIN, forward);
    EXPECT_FALSE(it->Next());
    EXPECT_FALSE(it->Next());  // stays at the end
    EXPECT_TRUE(it->status().ok());
  }
}

TEST(ChunkTest, MetadataIsEmptyForEntriesWithoutIt) {
  std::vector<GoldenEntry> entries = {
      {1, "a", {{"k1", "v1"}, {"k2", "a value longer than the small string buffer"}}},
      {2, "b", {}},
      {3, "c", {{"k3", "v3"}}},
      {4, "d", {}},
      {5, "e", {{"x", ""}, {"y", "1"}, {"z", "2"}}},
  };
  std::string data = Build(entries, {});
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok());
  for (bool forward : {true, false}) {
    Status st;
    auto want = entries;
    if (!forward) std::reverse(want.begin(), want.end());
    ExpectEntriesEqual(ReadRange(**r, 0, 10, forward, &st), want);
    EXPECT_TRUE(st.ok());
  }
}

TEST(ChunkBuilderTest, RejectsOutOfOrderAdd) {
  ChunkBuilder b;
  ASSERT_TRUE(b.Add(100, "a").ok());
  ASSERT_TRUE(b.Add(100, "tie is fine").ok());
  Status s = b.Add(99, "earlier");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(b.num_entries(), 2u);  // the rejected entry left no trace
  ASSERT_TRUE(b.Add(101, "later").ok());
  auto data = b.Finish();
  ASSERT_TRUE(data.ok());
  auto r = ChunkReader::Open(*data);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->meta().num_entries, 3u);
}

TEST(ChunkBuilderTest, FinishOnEmptyBuilderIsInvalidArgument) {
  ChunkBuilder b;
  auto data = b.Finish();
  EXPECT_EQ(data.status().code(), StatusCode::kInvalidArgument);
  // Still usable afterwards, and reusable after a successful Finish.
  ASSERT_TRUE(b.Add(5, "x").ok());
  auto first = b.Finish();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(b.Finish().status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(b.Add(1, "earlier than the previous chunk is fine").ok());
  auto second = b.Finish();
  ASSERT_TRUE(second.ok());
  auto r = ChunkReader::Open(*second);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->meta().num_entries, 1u);
  EXPECT_EQ((*r)->meta().min_ts, 1);
}

TEST(ChunkBuilderTest, RejectsEntryOverTheBlockLimit) {
  ChunkBuilder b;
  std::string huge(kMaxBlockDecodedBytes, 'x');
  EXPECT_EQ(b.Add(1, huge).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.num_entries(), 0u);
  // Just under the limit is accepted and gets a block of its own.
  huge.resize(kMaxBlockDecodedBytes - 32);
  ASSERT_TRUE(b.Add(1, "small").ok());
  ASSERT_TRUE(b.Add(2, huge).ok());
  auto data = b.Finish();
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  auto r = ChunkReader::Open(*data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Status st;
  auto got = ReadRange(**r, 2, 3, true, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, huge);
}

// ---- Corruption: the reader treats its input as untrusted. ----

// Opens and fully reads `data` both ways. Returns OK only if everything decoded equals
// `want`; DataLoss (or another error) otherwise.
Status OpenAndReadAll(std::string_view data, const std::vector<GoldenEntry>& want) {
  auto r = ChunkReader::Open(data);
  if (!r.ok()) return r.status();
  for (bool forward : {true, false}) {
    Status st;
    auto got = ReadRange(**r, INT64_MIN, INT64_MAX, forward, &st);
    if (!st.ok()) return st;
    auto expect = Filter(want, INT64_MIN, INT64_MAX, forward);
    if (got.size() != expect.size() ||
        !std::equal(got.begin(), got.end(), expect.begin(), SameEntry)) {
      return Internal("decoded different entries without reporting corruption");
    }
  }
  return Status::OK();
}

TEST(ChunkReaderTest, EverySingleByteFlipIsDataLoss) {
  // Every byte of the format is covered by a checksum (there is no padding), so every flip
  // must be reported, never decoded into wrong entries.
  auto entries = golden::GoldenV1Entries();
  const std::string data = Build(entries, golden::GoldenV1Options());
  ASSERT_TRUE(OpenAndReadAll(data, entries).ok());
  for (size_t i = 0; i < data.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string bad = data;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      Status s = OpenAndReadAll(bad, entries);
      EXPECT_EQ(s.code(), StatusCode::kDataLoss)
          << "byte " << i << " ^ " << int{mask} << ": " << s.ToString();
    }
  }
}

TEST(ChunkReaderTest, EveryTruncationIsDataLoss) {
  auto entries = golden::GoldenV1Entries();
  const std::string data = Build(entries, golden::GoldenV1Options());
  for (size_t len = 0; len < data.size(); ++len) {
    auto r = ChunkReader::Open(std::string_view(data).substr(0, len));
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << "length " << len;
  }
  EXPECT_EQ(ChunkReader::Open(data + '\0').status().code(), StatusCode::kDataLoss);
}

// Rewrites the header/index checksum after a deliberate edit, as a forger would.
void Reseal(std::string* data) {
  uint32_t num_blocks;
  std::memcpy(&num_blocks, data->data() + kHdrNumBlocks, 4);
  size_t index_end = kHeaderSize + size_t{num_blocks} * kIndexEntrySize;
  if (index_end + 8 > data->size()) return;  // nothing to seal: the chunk is too short
  uint64_t sum = XXH3_64bits(data->data(), index_end);
  std::memcpy(data->data() + index_end, &sum, 8);
}

template <typename T>
void Poke(std::string* data, size_t offset, T value) {
  std::memcpy(data->data() + offset, &value, sizeof value);
}
template <typename T>
T Peek(const std::string& data, size_t offset) {
  T v;
  std::memcpy(&v, data.data() + offset, sizeof v);
  return v;
}

TEST(ChunkReaderTest, ForgedIndexWithValidChecksumIsDataLoss) {
  auto entries = golden::GoldenV1Entries();
  const std::string good = Build(entries, golden::GoldenV1Options());
  ASSERT_GE(Peek<uint32_t>(good, kHdrNumBlocks), 3u);
  const size_t b0 = kHeaderSize, b1 = kHeaderSize + kIndexEntrySize;
  const size_t last = kHeaderSize + (Peek<uint32_t>(good, kHdrNumBlocks) - 1) * kIndexEntrySize;

  struct Forgery {
    const char* name;
    std::function<void(std::string*)> edit;
  };
  const std::vector<Forgery> forgeries = {
      {"num_blocks 0", [](std::string* d) { Poke<uint32_t>(d, kHdrNumBlocks, 0); }},
      {"num_blocks huge", [](std::string* d) { Poke<uint32_t>(d, kHdrNumBlocks, 0xffffffff); }},
      {"header entry count",
       [](std::string* d) {
         Poke<uint32_t>(d, kHdrNumEntries, Peek<uint32_t>(*d, kHdrNumEntries) + 1);
       }},
      {"header raw bytes",
       [](std::string* d) {
         Poke<uint64_t>(d, kHdrRawBytes, Peek<uint64_t>(*d, kHdrRawBytes) - 1);
       }},
      {"header max_ts", [](std::string* d) { Poke<int64_t>(d, kHdrMaxTs, INT64_MAX); }},
      {"decoded size over the limit",
       [=](std::string* d) { Poke<uint32_t>(d, b1 + kIdxDecoded, 0xfffffff0); }},
      {"decoded size off by one",
       [=](std::string* d) {
         Poke<uint32_t>(d, b1 + kIdxDecoded, Peek<uint32_t>(*d, b1 + kIdxDecoded) + 1);
       }},
      {"block min_ts > max_ts",
       [=](std::string* d) {
         Poke<int64_t>(d, b1 + kIdxMinTs, Peek<int64_t>(*d, b1 + kIdxMaxTs) + 1);
       }},
      {"blocks overlap",
       [=](std::string* d) {
         Poke<int64_t>(d, b0 + kIdxMaxTs, Peek<int64_t>(*d, b1 + kIdxMinTs) + 1);
       }},
      {"block entry count +1 (header adjusted)",
       [=](std::string* d) {
         Poke<uint32_t>(d, b1 + kIdxNumEntries, Peek<uint32_t>(*d, b1 + kIdxNumEntries) + 1);
         Poke<uint32_t>(d, kHdrNumEntries, Peek<uint32_t>(*d, kHdrNumEntries) + 1);
       }},
      {"block entry count -1 (header adjusted)",
       [=](std::string* d) {
         Poke<uint32_t>(d, b1 + kIdxNumEntries, Peek<uint32_t>(*d, b1 + kIdxNumEntries) - 1);
         Poke<uint32_t>(d, kHdrNumEntries, Peek<uint32_t>(*d, kHdrNumEntries) - 1);
       }},
      {"block raw bytes (header adjusted)",
       [=](std::string* d) {
         Poke<uint32_t>(d, b1 + kIdxRawBytes, Peek<uint32_t>(*d, b1 + kIdxRawBytes) + 1);
         Poke<uint64_t>(d, kHdrRawBytes, Peek<uint64_t>(*d, kHdrRawBytes) + 1);
       }},
      {"last block max_ts later (header adjusted)",
       [=](std::string* d) {
         Poke<int64_t>(d, last + kIdxMaxTs, Peek<int64_t>(*d, last + kIdxMaxTs) + 5);
         Poke<int64_t>(d, kHdrMaxTs, Peek<int64_t>(*d, kHdrMaxTs) + 5);
       }},
      {"first block min_ts earlier (header adjusted)",
       [=](std::string* d) {
         Poke<int64_t>(d, b0 + kIdxMinTs, Peek<int64_t>(*d, b0 + kIdxMinTs) - 5);
         Poke<int64_t>(d, 8, Peek<int64_t>(*d, 8) - 5);
       }},
  };
  for (const auto& f : forgeries) {
    std::string bad = good;
    f.edit(&bad);
    Reseal(&bad);
    Status s = OpenAndReadAll(bad, entries);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << f.name << ": " << s.ToString();
  }
}

TEST(ChunkReaderTest, RandomGarbageIsDataLoss) {
  std::mt19937 rng(7);
  const std::string good = Build(golden::GoldenV1Entries(), golden::GoldenV1Options());
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 300, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0 && junk.size() >= 8) std::memcpy(junk.data(), good.data(), 8);  // magic ok
    if (i % 4 == 0) {
      junk.resize(std::max(junk.size(), size_t{kHeaderSize}));
      uint32_t blocks = rng() % 4;
      Poke<uint32_t>(&junk, kHdrNumBlocks, blocks);
      junk.resize(std::max(junk.size(), kHeaderSize + blocks * kIndexEntrySize + 8));
      Reseal(&junk);  // valid checksum, nonsense index
    }
    auto r = ChunkReader::Open(junk);
    if (r.ok()) {  // only possible if the nonsense happens to be consistent
      Status st;
      ReadRange(**r, INT64_MIN, INT64_MAX, true, &st);
      EXPECT_EQ(st.code(), StatusCode::kDataLoss);
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    }
  }
}

// ---- Golden file: pins the v1 byte format. ----

TEST(ChunkGoldenTest, DecodesGoldenV1) {
  const std::string data = ReadFile(testing::TestDataPath("chunks/golden_v1.chunk"));
  ASSERT_FALSE(data.empty()) << "missing testdata/chunks/golden_v1.chunk";
  auto r = ChunkReader::Open(data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto want = golden::GoldenV1Entries();
  const ChunkMeta& m = (*r)->meta();
  EXPECT_EQ(m.min_ts, want.front().ts);
  EXPECT_EQ(m.max_ts, want.back().ts);
  EXPECT_EQ(m.num_entries, want.size());
  uint64_t raw = 0;
  for (const auto& e : want) raw += e.line.size();
  EXPECT_EQ(m.raw_bytes, raw);
  EXPECT_EQ(m.encoded_bytes, data.size());
  EXPECT_GE((*r)->blocks().size(), 2u);
  for (bool forward : {true, false}) {
    Status st;
    auto got = ReadRange(**r, INT64_MIN, INT64_MAX, forward, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ExpectEntriesEqual(got, Filter(want, INT64_MIN, INT64_MAX, forward));
  }
}

TEST(ChunkGoldenTest, ReencodingReproducesGoldenV1ByteForByte) {
  const std::string golden_bytes = ReadFile(testing::TestDataPath("chunks/golden_v1.chunk"));
  ASSERT_FALSE(golden_bytes.empty());
  const std::string fresh = Build(golden::GoldenV1Entries(), golden::GoldenV1Options());
  if (fresh == golden_bytes) return;
  // Tell a format change apart from a compressor change (a zstd upgrade may change the
  // compressed bytes of the same payload, which is not a format change).
  auto a = ChunkReader::Open(golden_bytes);
  auto b = ChunkReader::Open(fresh);
  ASSERT_TRUE(a.ok() && b.ok());
  bool same_structure = (*a)->blocks().size() == (*b)->blocks().size();
  for (size_t i = 0; same_structure && i < (*a)->blocks().size(); ++i) {
    const BlockInfo &x = (*a)->blocks()[i], &y = (*b)->blocks()[i];
    same_structure = x.min_ts == y.min_ts && x.max_ts == y.max_ts &&
                     x.num_entries == y.num_entries && x.decoded_bytes == y.decoded_bytes &&
                     x.raw_bytes == y.raw_bytes;
  }
  ADD_FAILURE() << "the encoder no longer reproduces testdata/chunks/golden_v1.chunk ("
                << fresh.size() << " vs " << golden_bytes.size() << " bytes). "
                << (same_structure
                        ? "Block structure is identical, so only the compressed bytes differ: "
                          "probably a different zstd version, not a format change."
                        : "The block structure differs: the v1 format changed. Bump the "
                          "version instead (docs/formats/chunk.md).");
}

}  // namespace
}  // namespace logq::chunk

namespace logq::chunk {
namespace {

// Rules out blocks whose payload lacks a substring.
class NeedleFilter final : public BlockFilter {
 public:
  explicit NeedleFilter(std::string needle) : needle_(std::move(needle)) {}
  bool MayMatch(std::string_view payload) const override { return payload.find(needle_) != std::string_view::npos; }

 private:
  std::string needle_;
};

TEST(ChunkBlockFilterTest, SkipsOnlyBlocksWithoutTheNeedleAndCountsThem) {
  // 40 blocks of 10 lines; the needle is in blocks 3, 17 and 39 only.
  std::vector<GoldenEntry> all;
  for (int b = 0; b < 40; ++b) {
    for (int i = 0; i < 10; ++i) {
      std::string line = "block " + std::to_string(b) + " line " + std::to_string(i) + " ";
      if (i == 4 && (b == 3 || b == 17 || b == 39)) line += "NEEDLE ";
      line.resize(100, 'x');  // ~104 framed bytes: a 1000-byte block target closes after 10
      all.push_back({int64_t(b) * 1000 + i, line, {}});
    }
  }
  ChunkBuilderOptions o;
  o.target_block_raw = 1000;
  std::string bytes = Build(all, o);
  auto r = ChunkReader::Open(bytes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->blocks().size(), 40u);
  NeedleFilter filter("NEEDLE");

  for (bool forward : {true, false}) {
    SCOPED_TRACE(forward ? "forward" : "backward");
    // Whole range: only the three blocks with the needle are iterated.
    auto it = (*r)->Iterate(0, 40000, forward, &filter);
    Status st;
    auto got = Drain(*it, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<GoldenEntry> want;
    for (const auto& e : all) {
      const int64_t b = e.ts / 1000;
      if (b == 3 || b == 17 || b == 39) want.push_back(e);
    }
    if (!forward) std::reverse(want.begin(), want.end());
    ExpectEntriesEqual(got, want);
    EXPECT_EQ(it->skipped().entries, 370u);
    uint64_t skipped_bytes = 0;
    for (const auto& e : all) {
      const int64_t b = e.ts / 1000;
      if (b != 3 && b != 17 && b != 39) skipped_bytes += e.line.size();
    }
    EXPECT_EQ(it->skipped().line_bytes, skipped_bytes);

    // A range that cuts blocks 5 and 20: the partial blocks are iterated (not ruled out),
    // the blocks entirely inside are.
    it = (*r)->Iterate(5005, 20005, forward, &filter);
    got = Drain(*it, &st);
    ASSERT_TRUE(st.ok()) << st.ToString();
    want.clear();
    for (const auto& e : all) {
      const int64_t b = e.ts / 1000;
      if (e.ts < 5005 || e.ts >= 20005) continue;
      if (b == 5 || b == 20 || b == 17) want.push_back(e);
    }
    if (!forward) std::reverse(want.begin(), want.end());
    ExpectEntriesEqual(got, want);
    EXPECT_EQ(it->skipped().entries, 130u);  // blocks 6..19 except 17
  }
}


// Ends iteration before blocks that start beyond a bound (a log query's limit cut-off).
class BoundFilter final : public BlockFilter {
 public:
  BoundFilter(int64_t bound, bool forward) : bound_(bound), forward_(forward) {}
  bool MayMatch(std::string_view) const override { return false; }  // rule out every block
  bool Beyond(int64_t ts) const override { return forward_ ? ts > bound_ : ts < bound_; }

 private:
  int64_t bound_;
  bool forward_;
};

TEST(ChunkBlockFilterTest, BeyondStopsBeforeDecompressingFurtherBlocks) {
  std::vector<GoldenEntry> all;
  for (int b = 0; b < 20; ++b) {
    for (int i = 0; i < 10; ++i) {
      std::string line = "b" + std::to_string(b) + " " + std::to_string(i) + " ";
      line.resize(100, 'y');
      all.push_back({int64_t(b) * 1000 + i, line, {}});
    }
  }
  ChunkBuilderOptions o;
  o.target_block_raw = 1000;
  std::string bytes = Build(all, o);
  auto r = ChunkReader::Open(bytes);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->blocks().size(), 20u);
  // Backward with a bound inside block 15: blocks 19..15 are read (and ruled out), block 14
  // ends at 14009 < 15005, so the iteration stops before it.
  BoundFilter back(15005, false);
  auto it = (*r)->Iterate(0, 20000, false, &back);
  Status st;
  EXPECT_TRUE(Drain(*it, &st).empty());
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(it->skipped().entries, 50u);
  // Forward with a bound inside block 3: blocks 0..3 are read, block 4 starts at 4000.
  BoundFilter fwd(3005, true);
  it = (*r)->Iterate(0, 20000, true, &fwd);
  EXPECT_TRUE(Drain(*it, &st).empty());
  EXPECT_EQ(it->skipped().entries, 40u);
}

}  // namespace
}  // namespace logq::chunk
