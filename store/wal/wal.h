// Wal: logq-store's write-ahead log (next storage engine; not wired into the ingester yet).
//
// Records are opaque payloads with a small type tag, appended to numbered segment files in one
// directory (`00000001.seg`, `00000002.seg`, ...), framed with their length, type and an
// XXH3-64 checksum so a torn or corrupt record is detected. Byte layout, recovery rules and the
// meaning of a corrupt record in the middle: docs/formats/wal.md.
//
// Intended use by the heads (a later change):
//   Open → ReadCheckpoint (load heads) → Replay(checkpoint covers, apply records) → serve:
//   Append each accepted push (ack after it returns) → periodically Roll() = N, snapshot the
//   heads that hold everything of segments < N, WriteCheckpoint(N, ...),
//   DeleteSegmentsBefore(N), DeleteCheckpointsBefore(N).
//
// Group commit: concurrent Appends queue up; the first in the queue becomes the leader and
// writes the records of everyone queued behind it (up to max_batch_bytes) with one write()
// and, with `sync`, one fdatasync; then every one of them returns. An Append returns only
// after its record was written (and synced). A failed write is undone (the segment is cut back
// to the last good record, or, if that fails too, the next append starts a new segment), so a
// later record never follows a half record.
//
// Thread-safety: Append, Roll, Replay, WriteCheckpoint, ReadCheckpoint, the Delete* methods and
// the accessors may be called from any thread. Replay must not run concurrently with
// DeleteSegmentsBefore of the segments it reads. The Wal must outlive every call into it.
#pragma once

#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/metrics.h"
#include "query/base/status.h"
#include "store/wal/file_system.h"

namespace logq::wal {

// Record types 1..kMaxUserRecordType belong to the caller; 0 is never valid (so zero-filled
// bytes never parse as a record) and 128..255 are reserved for the log itself.
inline constexpr uint8_t kMaxUserRecordType = 127;
// Largest payload of one record (256 MiB); a longer length field is corruption.
inline constexpr uint32_t kMaxRecordBytes = 256u << 20;
inline constexpr size_t kSegmentHeaderBytes = 16;
inline constexpr size_t kRecordHeaderBytes = 16;

struct WalOptions {
  std::string dir;                        // directory of the log; created if missing. Required.
  bool sync = false;                      // fdatasync before an Append returns; default false
  uint64_t segment_bytes = 128ull << 20;  // roll to a new segment past this size; 128 MiB
  size_t max_batch_bytes = 8 << 20;       // most record bytes one group commit writes; 8 MiB
  FileSystem* fs = nullptr;               // file operations; default DefaultFileSystem()
  MetricsRegistry* metrics = nullptr;     // logq_wal_* metrics; default none
};

// Where a record starts: segment id and byte offset of its header in that segment file.
struct Position {
  uint64_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const Position&) const = default;
};

// One record seen by Replay. `payload` is valid only during the callback.
struct RecordView {
  Position position;
  uint8_t type = 0;
  std::string_view payload;
};

// What Open found and repaired.
struct RecoveryInfo {
  uint64_t segments = 0;        // segment files found (after removing unusable last ones)
  uint64_t torn_tails = 0;      // last segments whose bad tail was cut off (or removed whole)
  uint64_t dropped_bytes = 0;   // bytes cut off by that
  uint64_t temp_files_removed = 0;  // leftover checkpoint temp files removed
};

struct ReplayStats {
  uint64_t segments = 0;         // segments read
  uint64_t records = 0;          // records handed to the callback
  uint64_t bytes = 0;            // bytes read (framing included)
  uint64_t corrupt_segments = 0; // segments whose rest was skipped at a bad record or header
  uint64_t dropped_bytes = 0;    // bytes skipped because of that
  uint64_t missing_segments = 0; // ids missing between the first and the last segment read
};

// Progress of a replay: bytes read so far, bytes to read in total.
using ReplayProgress = std::function<void(uint64_t done, uint64_t total)>;

// Adds records to a checkpoint being written (see Wal::WriteCheckpoint).
class CheckpointWriter {
 public:
  // `type` in 1..kMaxUserRecordType, payload at most kMaxRecordBytes.
  Status Add(uint8_t type, std::string_view payload);

 private:
  friend class Wal;
  explicit CheckpointWriter(WritableFile* file) : file_(file) {}
  Status Flush();
  WritableFile* file_;
  std::string buf_;
  uint64_t records_ = 0;
};

class Wal {
 public:
  // Opens or creates the log in options.dir. Cuts a torn or corrupt tail of the last segment
  // at its last good record (logged, counted in logq_wal_corruptions_total and recovery()),
  // removes leftover checkpoint temp files, and starts a new segment for appends (or reuses
  // the last one if it holds no record). FailedPrecondition for a segment of an unknown
  // format version; Unavailable for I/O errors.
  static Result<std::unique_ptr<Wal>> Open(WalOptions options);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends one record and returns its position once it is written (and synced with
  // `sync`). InvalidArgument for a type outside 1..kMaxUserRecordType or a payload over
  // kMaxRecordBytes; Unavailable if the write or sync failed ("no space left on device" for
  // ENOSPC): the record is then not in the log and later appends are unaffected.
  // A record larger than segment_bytes gets a segment of its own.
  Result<Position> Append(uint8_t type, std::string_view payload);

  // Starts a new segment unless the current one holds no record, and returns the current
  // segment id N afterwards: every record whose Append returned before Roll was called lies in
  // a segment < N.
  Result<uint64_t> Roll();

  // Calls fn for every record in segments >= from_segment, in log order, up to the end of the
  // log as it was when Replay started. A bad record or header in a segment skips the rest of
  // that segment (counted in the stats and logq_wal_corruptions_total{kind="corrupt_segment"},
  // logged) and replay goes on with the next segment. Returns fn's first error, or Unavailable
  // for I/O errors. `progress` (may be null) is called after each segment and every 16 MiB.
  Result<ReplayStats> Replay(uint64_t from_segment,
                             const std::function<Status(const RecordView&)>& fn,
                             const ReplayProgress& progress = nullptr);

  // Writes checkpoint `covered_before` (it states that it covers every segment < that id)
  // atomically: `fill` adds the records to a temp file, which is synced, renamed into place
  // and the directory synced. On any error (fill's included) the temp file is removed and
  // no checkpoint appears. InvalidArgument if covered_before is 0 or above CurrentSegment().
  Status WriteCheckpoint(uint64_t covered_before,
                         const std::function<Status(CheckpointWriter*)>& fill);

  // Reads the newest checkpoint: calls fn for each of its records in order and returns the
  // segment id it covers up to (exclusive), or nullopt if there is none. DataLoss if that
  // checkpoint is corrupt or incomplete (nothing is skipped silently).
  Result<std::optional<uint64_t>> ReadCheckpoint(
      const std::function<Status(uint8_t type, std::string_view payload)>& fn);

  // Removes the segment files with id < segment (never the current one).
  Status DeleteSegmentsBefore(uint64_t segment);
  // Removes the checkpoints covering fewer segments than `covered_before`.
  Status DeleteCheckpointsBefore(uint64_t covered_before);

  // Ids of the segment files, ascending (the last is the one appended to).
  std::vector<uint64_t> Segments() const;
  uint64_t CurrentSegment() const;
  // Position one past the last written record.
  Position End() const;
  const RecoveryInfo& recovery() const { return recovery_; }

  // File names (exposed for tests and tools).
  static std::string SegmentName(uint64_t id);
  static std::string CheckpointName(uint64_t covered_before);

 private:
  struct Writer {
    uint8_t type;
    std::string_view payload;
    bool done = false;
    Status status;
    Position pos;
    std::condition_variable cv;
  };

  explicit Wal(WalOptions options);
  Status Recover();
  Status StartNewSegment();
  void WriteBatchLocked(Writer* const* batch, size_t n);
  std::string PathOf(const std::string& name) const;

  WalOptions options_;
  FileSystem* fs_;
  RecoveryInfo recovery_;

  std::mutex mu_;  // guards queue_
  std::deque<Writer*> queue_;

  mutable std::mutex io_mu_;  // guards the fields below; held by the leader while writing
  std::vector<uint64_t> segments_;
  std::unique_ptr<WritableFile> file_;
  uint64_t cur_segment_ = 0;
  uint64_t cur_offset_ = 0;
  bool need_roll_ = false;  // the current segment may end in a half record: roll before writing
  std::string buf_;         // leader's batch buffer

  std::mutex checkpoint_mu_;  // one checkpoint writer at a time

  Counter* records_appended_ = nullptr;
  Counter* bytes_appended_ = nullptr;
  Counter* fsyncs_ = nullptr;
  Counter* append_failures_ = nullptr;
  Counter* torn_tails_ = nullptr;
  Counter* corrupt_segments_ = nullptr;
  Counter* missing_segments_ = nullptr;
  Counter* dropped_tail_bytes_ = nullptr;
  Counter* dropped_corrupt_bytes_ = nullptr;
};

}  // namespace logq::wal
