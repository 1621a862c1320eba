// The fixed entries and options behind testdata/chunks/golden_v1.chunk, shared by the
// generator (store/chunk/golden_chunk_gen.cc) and the golden test
// (tests/store/chunk/chunk_test.cc). Changing anything here changes the golden file: do it
// only together with a format version bump (docs/formats/chunk.md, "Versioning").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "query/model/labels.h"
#include "store/chunk/chunk.h"

namespace logq::chunk::golden {

struct GoldenEntry {
  int64_t ts;
  std::string line;
  std::vector<Label> metadata;
};

// A tiny block target so the 10 entries span several blocks.
inline ChunkBuilderOptions GoldenV1Options() {
  ChunkBuilderOptions o;
  o.zstd_level = 3;
  o.target_block_raw = 64;
  return o;
}

inline std::vector<GoldenEntry> GoldenV1Entries() {
  using namespace std::string_literals;
  constexpr int64_t kBase = 1700000000000000000;  // 2023-11-14T22:13:20Z in ns
  return {
      {kBase, "level=info msg=\"starting\"", {}},
      {kBase, "level=info msg=\"same timestamp as the previous entry\"", {}},
      {kBase + 1, "", {}},                                             // empty line
      {kBase + 2, "nul\0byte, invalid utf-8: \xff\xfe\xc3\x28"s, {}},  // NUL, bad UTF-8
      {kBase + 1000,
       "with structured metadata",
       {{"trace_id", "0af7651916cd43dd8448eb211c80319c"}, {"user", "jane"}, {"empty", ""}}},
      {kBase + 1000, "metadata value with bytes", {{"k", "v\0\xff"s}}},
      {kBase + 1000000, std::string(200, 'x'), {}},  // 2-byte line length varint
      {kBase + 1000000000, "level=error msg=\"one second later\"", {}},
      {kBase + 1000000000, "level=error msg=\"duplicate at the end\"", {}},
      {kBase + 3600000000000, "an hour later\n", {}},
  };
}

}  // namespace logq::chunk::golden
