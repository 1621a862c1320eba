#include "shipper/client/push_encoder.h"

#include <cstring>

namespace logq::shipper {
namespace {

// Field tags (field number << 3 | wire type).
constexpr uint8_t kTagStreams = (1 << 3) | 2;        // PushRequest.streams
constexpr uint8_t kTagLabels = (1 << 3) | 2;         // StreamAdapter.labels
constexpr uint8_t kTagEntries = (2 << 3) | 2;        // StreamAdapter.entries
constexpr uint8_t kTagTimestamp = (1 << 3) | 2;      // EntryAdapter.timestamp
constexpr uint8_t kTagLine = (2 << 3) | 2;           // EntryAdapter.line
constexpr uint8_t kTagMetadata = (3 << 3) | 2;       // EntryAdapter.structuredMetadata
constexpr uint8_t kTagName = (1 << 3) | 2;           // LabelPairAdapter.name
constexpr uint8_t kTagValue = (2 << 3) | 2;          // LabelPairAdapter.value
constexpr uint8_t kTagSeconds = (1 << 3) | 0;        // Timestamp.seconds
constexpr uint8_t kTagNanos = (2 << 3) | 0;          // Timestamp.nanos

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
// A length-delimited field that proto3 omits when empty.
inline size_t BytesFieldSize(size_t len) { return len == 0 ? 0 : 1 + VarintSize(len) + len; }
// A length-delimited submessage (always written).
inline size_t MessageFieldSize(size_t len) { return 1 + VarintSize(len) + len; }

// Go's time.Unix normalisation: nanos in [0, 1e9).
inline void SplitTimestamp(int64_t ts, int64_t* secs, int32_t* nanos) {
  int64_t s = ts / 1000000000;
  int64_t n = ts % 1000000000;
  if (n < 0) {
    n += 1000000000;
    s -= 1;
  }
  *secs = s;
  *nanos = static_cast<int32_t>(n);
}

inline size_t TimestampSize(int64_t secs, int32_t nanos) {
  size_t n = 0;
  if (secs != 0) n += 1 + VarintSize(static_cast<uint64_t>(secs));
  if (nanos != 0) n += 1 + VarintSize(static_cast<uint64_t>(static_cast<int64_t>(nanos)));
  return n;
}

inline size_t PairSize(const Label& l) { return BytesFieldSize(l.name.size()) + BytesFieldSize(l.value.size()); }

inline size_t EntrySize(const api::PushEntry& e) {
  int64_t secs;
  int32_t nanos;
  SplitTimestamp(e.timestamp_ns, &secs, &nanos);
  size_t n = MessageFieldSize(TimestampSize(secs, nanos)) + BytesFieldSize(e.line.size());
  for (const Label& l : e.structured_metadata) n += MessageFieldSize(PairSize(l));
  return n;
}

class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  void Byte(uint8_t b) { *p_++ = static_cast<char>(b); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Bytes(uint8_t tag, std::string_view s) {
    if (s.empty()) return;
    Byte(tag);
    Varint(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Header(uint8_t tag, size_t len) {
    Byte(tag);
    Varint(len);
  }
  char* pos() const { return p_; }

 private:
  char* p_;
};

}  // namespace

void AppendPushRequestProtobuf(const api::PushRequest& req, std::string* out) {
  // Pass 1: sizes of every stream body (entry sizes are recomputed in pass 2; they are a
  // few additions each, cheaper than storing them).
  size_t total = 0;
  std::vector<size_t> stream_sizes;
  stream_sizes.reserve(req.streams.size());
  for (const api::PushStream& s : req.streams) {
    size_t n = BytesFieldSize(s.labels.size());
    for (const api::PushEntry& e : s.entries) n += MessageFieldSize(EntrySize(e));
    stream_sizes.push_back(n);
    total += MessageFieldSize(n);
  }
  size_t start = out->size();
  out->resize(start + total);
  Writer w(out->data() + start);
  for (size_t i = 0; i < req.streams.size(); ++i) {
    const api::PushStream& s = req.streams[i];
    w.Header(kTagStreams, stream_sizes[i]);
    w.Bytes(kTagLabels, s.labels);
    for (const api::PushEntry& e : s.entries) {
      w.Header(kTagEntries, EntrySize(e));
      int64_t secs;
      int32_t nanos;
      SplitTimestamp(e.timestamp_ns, &secs, &nanos);
      w.Header(kTagTimestamp, TimestampSize(secs, nanos));
      if (secs != 0) {
        w.Byte(kTagSeconds);
        w.Varint(static_cast<uint64_t>(secs));
      }
      if (nanos != 0) {
        w.Byte(kTagNanos);
        w.Varint(static_cast<uint64_t>(static_cast<int64_t>(nanos)));
      }
      w.Bytes(kTagLine, e.line);
      for (const Label& l : e.structured_metadata) {
        w.Header(kTagMetadata, PairSize(l));
        w.Bytes(kTagName, l.name);
        w.Bytes(kTagValue, l.value);
      }
    }
  }
  out->resize(static_cast<size_t>(w.pos() - out->data()));
}

std::string EncodePushRequestSnappy(const api::PushRequest& req, std::string* scratch) {
  std::string local;
  std::string* buf = scratch ? scratch : &local;
  buf->clear();
  AppendPushRequestProtobuf(req, buf);
  std::string out = api::SnappyCompress(*buf);
  if (scratch && scratch->capacity() > (8u << 20)) {  // do not keep a huge buffer around
    std::string().swap(*scratch);
  }
  return out;
}

}  // namespace logq::shipper
