#include "shipper/client/batch.h"

#include "shipper/client/push_encoder.h"

namespace logq::shipper {
namespace {

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
inline size_t FieldSize(size_t len) { return 1 + VarintSize(len) + len; }

}  // namespace

size_t Batch::SizeOf(std::string_view labels, std::string_view line, const std::vector<Label>& md) const {
  // EntryAdapter: timestamp (≤ 2+11+5), line, structured metadata pairs.
  size_t e = 2 + 11 + 6 + FieldSize(line.size());
  for (const Label& l : md) e += FieldSize(FieldSize(l.name.size()) + FieldSize(l.value.size()));
  size_t n = FieldSize(e);
  bool known = (last_ != SIZE_MAX && req_.streams[last_].labels == labels) || index_.count(labels) > 0;
  if (!known) n += 1 + 5 + FieldSize(labels.size());  // stream header (length prefix bound)
  return n;
}

void Batch::Add(std::string_view labels, int64_t ts, std::string line, std::vector<Label> md, EntryRef ref) {
  bytes_ += SizeOf(labels, line, md);
  size_t idx;
  if (last_ != SIZE_MAX && req_.streams[last_].labels == labels) {
    idx = last_;
  } else {
    auto it = index_.find(labels);
    if (it == index_.end()) {
      idx = req_.streams.size();
      req_.streams.emplace_back();
      req_.streams.back().labels.assign(labels);
      index_.emplace(std::string(labels), idx);
    } else {
      idx = it->second;
    }
    last_ = idx;
  }
  api::PushEntry& e = req_.streams[idx].entries.emplace_back();
  e.timestamp_ns = ts;
  e.line = std::move(line);
  e.structured_metadata = std::move(md);
  refs_.push_back(ref);
}

std::vector<std::pair<std::string, size_t>> Batch::StreamCounts() const {
  std::vector<std::pair<std::string, size_t>> out;
  for (const auto& s : req_.streams) out.emplace_back(s.labels, s.entries.size());
  return out;
}

std::string Batch::EncodeAndRelease() {
  thread_local std::string scratch;  // the sender thread's encode buffer
  std::string out = EncodePushRequestSnappy(req_, &scratch);
  req_ = api::PushRequest();
  index_.clear();
  last_ = SIZE_MAX;
  return out;
}

}  // namespace logq::shipper
