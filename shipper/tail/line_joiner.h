// LineJoiner: reassembles records split by the container runtime (CRI `P` chunks, docker
// json-file lines without a trailing newline) per stream of ONE file, with a size cap.
//
// A record's timestamp is the one of its first chunk; its offsets span from the first byte
// of the first chunk to the end (after '\n') of the last. Records longer than the cap are
// truncated: the first bytes up to the cap minus the marker (cut at a UTF-8 boundary), then
// kTruncationMarker; the remaining chunks are consumed and discarded, so the file is never
// skipped. Unfinished records are released by Flush() after a timeout or at EOF.
//
// Thread-safety: none; owned by one FileReader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shipper/tail/decode.h"

namespace logq::shipper {

inline constexpr std::string_view kTruncationMarker = "...[truncated]";

struct Record {
  int64_t timestamp_ns = 0;
  StreamIndex stream = kStdout;
  std::string line;
  uint64_t start_offset = 0;  // first byte of the first source line
  uint64_t end_offset = 0;    // one past the '\n' of the last source line
  bool truncated = false;
  bool flushed_incomplete = false;  // released by timeout/EOF without its final chunk
};

struct JoinerOptions {
  // Cap on a record's bytes (marker included). 0 = no cap except kHardCap. Default 256 KiB.
  size_t max_line_size = 256 << 10;
  // true: truncate with kTruncationMarker; false: pass records whole up to kHardCap (the
  // store may then reject them, which is counted). Default true.
  bool truncate = true;
  static constexpr size_t kHardCap = 64 << 20;  // memory bound when not truncating
};

class LineJoiner {
 public:
  explicit LineJoiner(JoinerOptions options = {}) : options_(options) {}

  // Adds one decoded chunk found at [start, end) of the file. Returns true and fills `*out`
  // when it completes a record (a final chunk, joined with the pending partial ones).
  bool Add(const DecodedLine& d, uint64_t start, uint64_t end, int64_t now_mono, Record* out);

  // Offset where the oldest unfinished record starts, if any.
  std::optional<uint64_t> PendingStart() const;

  // Releases unfinished records whose first chunk is older than `timeout_ns` (all when
  // `force`), appending them to `out`.
  void Flush(bool force, int64_t now_mono, int64_t timeout_ns, std::vector<Record>* out);

  // Forgets unfinished records (the file was truncated).
  void Reset();

  // Applies the cap to a complete line (also used for lines that need no joining).
  // Returns true when it truncated.
  static bool Cap(const JoinerOptions& o, std::string* line);

 private:
  struct Pending {
    bool active = false;
    Record rec;
    int64_t first_mono = 0;
    bool overflow = false;  // cap reached: later chunks are discarded
  };
  void Append(Pending& p, std::string_view chunk);

  JoinerOptions options_;
  Pending pending_[kStreamCount];
};

}  // namespace logq::shipper
