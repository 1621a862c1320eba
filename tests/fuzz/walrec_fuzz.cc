// Fuzz target: the payload decoders of logq-store's WAL records (store/ingest/wal_records.h).
// A record passed the log's checksum but its bytes are still untrusted (a foreign or buggy
// writer). Properties: a decoded kPush record re-encodes to bytes that decode to the same
// record (varints may be written longer than needed, so not always to the same bytes); a decoded
// kHeadBlock's block can be iterated without a crash (its content may still be DataLoss).
// The first input byte picks the decoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/chunk/chunk.h"
#include "store/ingest/wal_records.h"
#include "tests/fuzz/fuzz_check.h"

namespace w = logq::ingest::walrec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    w::DecodedPush rec;
    if (!w::DecodePush(payload, &rec).ok()) return 0;
    w::PushEncoder enc(rec.tenant, rec.streams.size());
    for (const auto& s : rec.streams) {
      enc.Stream(s.labels_text, s.entries.size());
      for (const auto& e : s.entries) enc.Entry(e.ts, e.line, e.metadata);
    }
    w::DecodedPush again;
    LOGQ_FUZZ_CHECK(w::DecodePush(enc.payload(), &again).ok());
    LOGQ_FUZZ_CHECK(again.tenant == rec.tenant && again.streams.size() == rec.streams.size());
    for (size_t i = 0; i < rec.streams.size(); ++i) {
      const auto& a = rec.streams[i];
      const auto& b = again.streams[i];
      LOGQ_FUZZ_CHECK(a.labels_text == b.labels_text && a.entries.size() == b.entries.size());
      for (size_t k = 0; k < a.entries.size(); ++k) {
        LOGQ_FUZZ_CHECK(a.entries[k].ts == b.entries[k].ts && a.entries[k].line == b.entries[k].line &&
                        a.entries[k].metadata == b.entries[k].metadata);
      }
    }
  } else {
    std::string tenant, labels;
    logq::chunk::CompressedBlock block;
    if (!w::DecodeHeadBlock(payload, &tenant, &labels, &block).ok()) return 0;
    auto reader = logq::chunk::ChunkReader::OpenBlock(block);
    LOGQ_FUZZ_CHECK(reader.ok());  // DecodeHeadBlock validated the block's info
    auto it = (*reader)->Iterate(INT64_MIN, INT64_MAX, data[0] & 2);
    uint32_t n = 0;
    while (it->Next()) ++n;
    LOGQ_FUZZ_CHECK(n <= block.info.num_entries);
  }
  return 0;
}
