// Writes testdata/chunks/golden_v1.chunk from the fixed entries in golden_v1.h.
// Usage: logq_chunk_golden_gen <output path>
// See docs/formats/chunk.md ("Golden file") for when regenerating is legitimate.

#include <cstdio>
#include <fstream>

#include "store/chunk/chunk.h"
#include "store/chunk/golden_v1.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output path>\n", argv[0]);
    return 2;
  }
  logq::chunk::ChunkBuilder builder(logq::chunk::golden::GoldenV1Options());
  for (const auto& e : logq::chunk::golden::GoldenV1Entries()) {
    if (auto s = builder.Add(e.ts, e.line, e.metadata); !s.ok()) {
      std::fprintf(stderr, "add: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  auto chunk = builder.Finish();
  if (!chunk.ok()) {
    std::fprintf(stderr, "finish: %s\n", chunk.status().ToString().c_str());
    return 1;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out.write(chunk->data(), static_cast<std::streamsize>(chunk->size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "write %s failed\n", argv[1]);
    return 1;
  }
  std::printf("wrote %zu bytes to %s\n", chunk->size(), argv[1]);
  return 0;
}
