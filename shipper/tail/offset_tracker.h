// OffsetTracker: which offset of one file may be checkpointed, given records that are still
// in the pipeline, in a batch, or waiting for the store's acknowledgement.
//
// Every record handed to the pipeline becomes a slot [start, end). A slot is done when each
// entry emitted for it has been acknowledged (or dropped by policy). The checkpoint is
//   min(start of the first slot not done, start of any unfinished partial record,
//       consumed offset when no slot is pending)
// so it never passes a byte that is not yet delivered, and never lands inside a record
// (partial CRI chunks of one stream can interleave with lines of the other stream, so a
// later record may start before an earlier one ends).
//
// Pipeline stages may hold records (multiline) and emit one entry whose cursor is the end of
// its LAST source record: held records of the same stream before that end are then covered
// by that entry and become done with it.
//
// Thread-safety: none; the event-loop thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>

namespace logq::shipper {

class OffsetTracker {
 public:
  explicit OffsetTracker(uint64_t start_offset = 0) : consumed_(start_offset), committed_(start_offset) {}

  // A record [start, end) of `stream` entered the pipeline (ends are unique per file).
  void Add(uint64_t start, uint64_t end, int stream);
  // An entry whose cursor is `end` left the pipeline towards `refs` clients (0 = dropped by
  // the pipeline). Returns false if no slot ends at `end` (ignored).
  bool Emitted(uint64_t end, int refs);
  // One client acknowledged (or dropped) the entry with cursor `end`.
  void Done(uint64_t end);
  // Reader progress: offset after the last complete line, and where the oldest unfinished
  // record starts.
  void SetConsumed(uint64_t consumed) { consumed_ = consumed; }
  void SetPendingStart(std::optional<uint64_t> p) { pending_start_ = p; }

  // The checkpoint offset (monotonic). Also releases the slots before it: call it often
  // (the agent does after every round of acknowledgements) to keep memory bounded.
  uint64_t Committed();
  size_t pending_slots() const { return slots_.size(); }
  bool idle() const { return slots_.empty() && !pending_start_; }

 private:
  enum class State : uint8_t { kHeld, kInFlight, kDone, kMerged };
  struct Slot {
    uint64_t start;
    uint64_t end;
    uint64_t cover_end = 0;  // kMerged: the slot whose entry carries this record
    int refs = 0;
    int stream;
    State state = State::kHeld;
    bool interleaved = false;  // start < end of an earlier slot
    bool covers = false;       // other slots are merged into this one
  };
  Slot* Find(uint64_t end);
  void MarkDone(Slot& s);

  std::deque<Slot> slots_;
  std::multiset<uint64_t> interleaved_starts_;
  uint64_t max_end_ = 0;
  uint64_t consumed_;
  uint64_t committed_;
  size_t held_ = 0;
  size_t hint_ = 0;  // index where Find looks first (the slot after the last one found)
  std::optional<uint64_t> pending_start_;
};

}  // namespace logq::shipper
