// The records logq-store writes to its write-ahead log (store/wal) and checkpoints. Byte
// layout: docs/formats/wal.md, "Record payloads". Payloads are checksummed by the log; the
// decoders still validate every length and count, so a payload that passed the checksum but
// was written by a buggy or foreign writer is DataLoss, never a crash.
// Internal to store/ingest and its tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "store/chunk/chunk.h"
#include "store/index/head_directory.h"

namespace logq::ingest::walrec {

// Record types (persisted: never renumber).
inline constexpr uint8_t kPush = 1;       // accepted entries of one push (log and checkpoints)
inline constexpr uint8_t kHeadBlock = 2;  // a head's finished block (checkpoints only)

// Builds a kPush payload: Begin, then per stream Stream + its entries.
class PushEncoder {
 public:
  PushEncoder(std::string_view tenant, size_t num_streams);
  void Stream(std::string_view labels_text, size_t num_entries);
  void Entry(int64_t ts, std::string_view line, const std::vector<Label>& metadata);
  const std::string& payload() const { return out_; }
  std::string& mutable_payload() { return out_; }

 private:
  std::string out_;
};

struct DecodedStream {
  std::string labels_text;
  std::vector<index::HeadEntry> entries;
};
struct DecodedPush {
  std::string tenant;
  std::vector<DecodedStream> streams;
};
Status DecodePush(std::string_view payload, DecodedPush* out);

std::string EncodeHeadBlock(std::string_view tenant, std::string_view labels_text,
                            const chunk::CompressedBlock& block);
Status DecodeHeadBlock(std::string_view payload, std::string* tenant, std::string* labels_text,
                       chunk::CompressedBlock* block);

}  // namespace logq::ingest::walrec
