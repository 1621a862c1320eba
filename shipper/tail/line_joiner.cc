#include "shipper/tail/line_joiner.h"

#include <algorithm>

namespace logq::shipper {
namespace {

size_t Limit(const JoinerOptions& o) {
  if (o.truncate && o.max_line_size > 0) return std::max(o.max_line_size, kTruncationMarker.size() + 1);
  return JoinerOptions::kHardCap;
}

// Largest n' <= n that does not cut a UTF-8 sequence of `s` in the middle.
size_t Utf8Boundary(std::string_view s, size_t n) {
  if (n >= s.size()) return s.size();
  size_t back = 0;
  while (n > 0 && back < 3 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
    ++back;
  }
  return n;
}

}  // namespace

bool LineJoiner::Cap(const JoinerOptions& o, std::string* line) {
  size_t limit = Limit(o);
  if (line->size() <= limit) return false;
  size_t keep = limit == JoinerOptions::kHardCap ? limit : limit - kTruncationMarker.size();
  line->resize(Utf8Boundary(*line, keep));
  if (limit != JoinerOptions::kHardCap) line->append(kTruncationMarker);
  return true;
}

void LineJoiner::Append(Pending& p, std::string_view chunk) {
  if (p.overflow) return;
  size_t limit = Limit(options_);
  if (p.rec.line.size() + chunk.size() <= limit) {
    p.rec.line.append(chunk);
    return;
  }
  // Over the cap: keep what fits (minus the marker when truncating) and mark.
  size_t keep_total = limit == JoinerOptions::kHardCap ? limit : limit - kTruncationMarker.size();
  if (p.rec.line.size() > keep_total) {
    p.rec.line.resize(Utf8Boundary(p.rec.line, keep_total));
  } else {
    size_t room = keep_total - p.rec.line.size();
    p.rec.line.append(chunk.substr(0, Utf8Boundary(chunk, room)));
  }
  if (limit != JoinerOptions::kHardCap) p.rec.line.append(kTruncationMarker);
  p.rec.truncated = true;
  p.overflow = true;
}

bool LineJoiner::Add(const DecodedLine& d, uint64_t start, uint64_t end, int64_t now_mono,
                     Record* out) {
  Pending& p = pending_[d.stream];
  if (!p.active) {
    if (!d.partial) {
      // The common case: a whole line, no joining.
      out->timestamp_ns = d.timestamp_ns;
      out->stream = d.stream;
      out->line.assign(d.content);
      out->start_offset = start;
      out->end_offset = end;
      out->flushed_incomplete = false;
      out->truncated = Cap(options_, &out->line);
      return true;
    }
    p.active = true;
    p.overflow = false;
    p.first_mono = now_mono;
    p.rec = Record{};
    p.rec.timestamp_ns = d.timestamp_ns;
    p.rec.stream = d.stream;
    p.rec.start_offset = start;
  }
  Append(p, d.content);
  p.rec.end_offset = end;
  if (d.partial) return false;
  *out = std::move(p.rec);
  p.active = false;
  p.rec = Record{};
  return true;
}

std::optional<uint64_t> LineJoiner::PendingStart() const {
  std::optional<uint64_t> r;
  for (const Pending& p : pending_) {
    if (p.active && (!r || p.rec.start_offset < *r)) r = p.rec.start_offset;
  }
  return r;
}

void LineJoiner::Flush(bool force, int64_t now_mono, int64_t timeout_ns, std::vector<Record>* out) {
  for (Pending& p : pending_) {
    if (!p.active) continue;
    if (!force && now_mono - p.first_mono < timeout_ns) continue;
    p.rec.flushed_incomplete = true;
    out->push_back(std::move(p.rec));
    p.active = false;
    p.rec = Record{};
  }
}

void LineJoiner::Reset() {
  for (Pending& p : pending_) {
    p.active = false;
    p.rec = Record{};
  }
}

}  // namespace logq::shipper
