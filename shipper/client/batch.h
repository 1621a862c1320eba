// Batch: entries for one tenant, grouped by stream, with a running estimate of the encoded
// protobuf size (what the batch-size limit measures), and the references that let the
// shipper advance positions once the batch is acknowledged.
//
// Thread-safety: none. Built on the event-loop thread, then moved to the sender thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "store/api/push.h"

namespace logq::shipper {

// Where an entry came from: the file (tailer-assigned id), the end of its last source line,
// and a little accounting.
struct EntryRef {
  uint64_t file_id = 0;
  uint64_t end_offset = 0;
  uint32_t bytes = 0;  // line bytes
  uint8_t stream = 0;  // source stream (0 stdout, 1 stderr)
};

class Batch {
 public:
  Batch(std::string tenant, int64_t created_mono) : tenant_(std::move(tenant)), created_mono_(created_mono) {}

  // Encoded bytes this entry would add (including a new stream header if `labels` is new).
  size_t SizeOf(std::string_view labels, std::string_view line, const std::vector<Label>& md) const;
  void Add(std::string_view labels, int64_t ts, std::string line, std::vector<Label> md, EntryRef ref);

  const std::string& tenant() const { return tenant_; }
  int64_t created_mono() const { return created_mono_; }
  size_t encoded_bytes() const { return bytes_; }
  size_t entries() const { return refs_.size(); }
  bool empty() const { return refs_.empty(); }
  const std::vector<EntryRef>& refs() const { return refs_; }
  std::vector<EntryRef> TakeRefs() { return std::move(refs_); }
  // Per stream: labels and entry count (for drop logging).
  std::vector<std::pair<std::string, size_t>> StreamCounts() const;

  // Snappy-compressed logproto.PushRequest; moves the lines out (call once).
  std::string EncodeAndRelease();

 private:
  std::string tenant_;
  int64_t created_mono_;
  api::PushRequest req_;
  std::map<std::string, size_t, std::less<>> index_;
  size_t last_ = SIZE_MAX;
  std::vector<EntryRef> refs_;
  size_t bytes_ = 0;
};

}  // namespace logq::shipper
