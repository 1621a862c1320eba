#include "shipper/tail/offset_tracker.h"

#include <algorithm>

namespace logq::shipper {

void OffsetTracker::Add(uint64_t start, uint64_t end, int stream) {
  Slot s;
  s.start = start;
  s.end = end;
  s.stream = stream;
  if (start < max_end_) {
    s.interleaved = true;
    interleaved_starts_.insert(start);
  }
  max_end_ = std::max(max_end_, end);
  if (slots_.empty() || end > slots_.back().end) {
    slots_.push_back(s);
  } else {
    // A record released out of end order (a partial flushed by timeout or at EOF).
    auto it = std::lower_bound(slots_.begin(), slots_.end(), end,
                               [](const Slot& x, uint64_t e) { return x.end < e; });
    slots_.insert(it, s);
  }
  ++held_;
}

OffsetTracker::Slot* OffsetTracker::Find(uint64_t end) {
  // Acknowledgements arrive in read order: try the slot after the last one found first
  // (a binary search over a deque of ~10^5 slots per second was a third of the CPU).
  if (hint_ < slots_.size() && slots_[hint_].end == end) return &slots_[hint_++];
  auto it = std::lower_bound(slots_.begin(), slots_.end(), end,
                             [](const Slot& s, uint64_t e) { return s.end < e; });
  if (it == slots_.end() || it->end != end) return nullptr;
  hint_ = static_cast<size_t>(it - slots_.begin()) + 1;
  return &*it;
}

bool OffsetTracker::Emitted(uint64_t end, int refs) {
  // Usually the record just added (no pipeline stage holds records).
  auto it = !slots_.empty() && slots_.back().end == end
                ? std::prev(slots_.end())
                : std::lower_bound(slots_.begin(), slots_.end(), end,
                                   [](const Slot& s, uint64_t e) { return s.end < e; });
  if (it == slots_.end() || it->end != end) return false;
  Slot& s = *it;
  if (s.state == State::kHeld) --held_;
  if (s.state == State::kHeld || s.state == State::kMerged) s.state = State::kInFlight;
  s.refs += refs;
  // Records of the same stream held before this one were merged into this entry.
  if (held_ > 0) {
    for (auto jt = slots_.begin(); jt != it; ++jt) {
      if (jt->state == State::kHeld && jt->stream == s.stream) {
        jt->state = State::kMerged;
        jt->cover_end = s.end;
        s.covers = true;
        --held_;
      }
    }
  }
  if (s.state == State::kInFlight && s.refs == 0) MarkDone(s);
  return true;
}

void OffsetTracker::MarkDone(Slot& s) {
  s.state = State::kDone;
  if (s.covers) {
    for (Slot& o : slots_) {
      if (o.end >= s.end) break;
      if (o.state == State::kMerged && o.cover_end == s.end) o.state = State::kDone;
    }
  }
}

void OffsetTracker::Done(uint64_t end) {
  Slot* s = Find(end);
  if (!s || s->state != State::kInFlight) return;
  if (--s->refs <= 0) MarkDone(*s);
}

uint64_t OffsetTracker::Committed() {
  while (!slots_.empty() && slots_.front().state == State::kDone) {
    const Slot& f = slots_.front();
    if (f.interleaved) interleaved_starts_.erase(interleaved_starts_.find(f.start));
    slots_.pop_front();
    if (hint_ > 0) --hint_;
  }
  uint64_t c = slots_.empty() ? consumed_ : slots_.front().start;
  if (!interleaved_starts_.empty()) c = std::min(c, *interleaved_starts_.begin());
  if (pending_start_) c = std::min(c, *pending_start_);
  if (c > committed_) committed_ = c;
  return committed_;
}

}  // namespace logq::shipper
