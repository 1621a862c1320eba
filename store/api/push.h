// Loki push API wire formats: decoding of push bodies exactly as Promtail, Grafana Alloy
// and the Loki clients send them, and encoders used by the shipper, the CLI, tests and
// benchmarks.
//
// Decoding order (Loki's): Content-Encoding (none | snappy (tolerated no-op) | gzip |
// deflate (raw RFC 1951)), then Content-Type: application/json → JSON (v1 or legacy form),
// anything else → snappy-block-compressed logproto.PushRequest protobuf. A missing
// Content-Type is an error ("mime: no media type").
//
// All functions are pure and thread-safe; every result owns its bytes (no views into the
// input survive a call). Errors are InvalidArgument (400) with a message naming what was
// wrong (JSON errors name the field, e.g. `streams[3].values[7][0]: ...`), or TooLarge (413)
// when decompression exceeds the cap.
//
// Deliberate choices where Loki is silent or lenient:
//  * Content-Encoding is matched case-insensitively; Content-Type parameters are ignored
//    (not validated), the media type itself is checked like Go's mime.ParseMediaType.
//  * Protobuf text fields are not required to be valid UTF-8 (Loki's gogo code does not
//    check either); JSON strings must be valid UTF-8.
//  * JSON: `"streams"` missing is an error, `"streams": null`, null streams, null `values`
//    and null entries are skipped; a repeated known key (`streams`, `stream`, `values`, ...)
//    is an error rather than last-one-wins.
//  * Legacy JSON: an entry without `ts` is an error; RFC3339 years outside 1678..2261 (not
//    representable as int64 ns) are an error. Protobuf timestamps out of that range saturate
//    (ingest then rejects the entry as too old / too new, not the whole request).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"

namespace logq::api {

struct PushEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::vector<Label> structured_metadata;  // in the order received
  bool operator==(const PushEntry&) const = default;
};

struct PushStream {
  // Label-set text as received (`{a="b", c="d"}`); for JSON bodies it is built from the
  // `stream` object (names sorted, printed by Labels::ToString(); `{}` when the object is
  // empty or missing; a name that is not a valid label name is printed Go-quoted so that it
  // cannot be mistaken for valid label text). Parsed and validated by ingest, so every
  // format shares one path.
  std::string labels;
  std::vector<PushEntry> entries;
  bool operator==(const PushStream&) const = default;
};

struct PushRequest {
  std::vector<PushStream> streams;
  bool operator==(const PushRequest&) const = default;
};

enum class PushPathVersion { kV1, kLegacy };  // /loki/api/v1/push vs /api/prom/push

// Bytes that concurrent decodes may hold in decompressed buffers, across requests: a
// counting semaphore that never waits. A decode that does not fit fails at once with
// ResourceExhausted (429, which push clients retry), so compression bombs fail fast instead
// of queueing and normal pushes are delayed by a retry, not starved. Thread-safe.
class DecodeBudget {
 public:
  explicit DecodeBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  // Takes `n` bytes if they fit; false (and nothing taken) otherwise.
  bool TryAcquire(int64_t n);
  void Release(int64_t n);
  int64_t in_use() const { return used_.load(std::memory_order_relaxed); }
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  std::atomic<int64_t> used_{0};
};

// The bytes one request holds from a DecodeBudget, given back by the destructor. The caller
// keeps it until the decoded request is no longer needed (the decoded PushRequest is about
// as large as the decompressed body). Not thread-safe (one request, one thread).
class DecodeReservation {
 public:
  explicit DecodeReservation(DecodeBudget* budget) : budget_(budget) {}
  ~DecodeReservation();
  DecodeReservation(const DecodeReservation&) = delete;
  DecodeReservation& operator=(const DecodeReservation&) = delete;
  // Takes `n` more bytes. ResourceExhausted (429, retry later) naming the budget's key if
  // they do not fit now; TooLarge (413) if this request's total exceeds the whole budget.
  Status Grow(int64_t n);
  int64_t bytes() const { return bytes_; }

 private:
  DecodeBudget* budget_;
  int64_t bytes_ = 0;
};

// Config keys named in decode errors.
inline constexpr const char* kMaxDecompressedKey = "distributor.max_decompressed_size";
inline constexpr const char* kMaxDecompressedInflightKey =
    "distributor.max_decompressed_inflight_bytes";

struct DecodeOptions {
  // Cap on the output of each decompression stage (Content-Encoding, then snappy for
  // protobuf bodies), checked while inflating. Default 100 MiB (logq's
  // distributor.max_decompressed_size default; Loki's is 5000 MiB, too much for a pod).
  int64_t max_decompressed_bytes = 100LL << 20;
  // When set, every decompressed buffer is first reserved here (gzip/deflate as the output
  // grows, snappy for its declared length before allocating); a reservation that does not
  // fit fails the decode with ResourceExhausted.
  DecodeReservation* reservation = nullptr;
  PushPathVersion version = PushPathVersion::kV1;
};

// Decodes one push body. `content_type` and `content_encoding` are the raw header values
// ("" when absent). Errors (all InvalidArgument unless noted):
//   `Content-Encoding "br" not supported`; `mime: no media type` (and Go's other media-type
//   errors); `gzip: ...` / `flate: ...` for corrupt, truncated or empty compressed bodies;
//   `snappy: corrupt input`; `invalid protobuf body: ...`; JSON errors naming the field;
//   TooLarge `request body too large: ... (distributor.max_decompressed_size)` when a
//   decompression stage would exceed options.max_decompressed_bytes (gzip/deflate are stopped
//   at the cap, snappy is checked against its declared length before allocating);
//   ResourceExhausted `... (distributor.max_decompressed_inflight_bytes)` when
//   options.reservation cannot grow.
Result<PushRequest> DecodePushRequest(std::string_view body, std::string_view content_type,
                                      std::string_view content_encoding,
                                      const DecodeOptions& options = {});

// Serializes to logproto.PushRequest protobuf bytes (not compressed). Every entry gets a
// timestamp message (seconds, nanos in [0, 1e9)), as Promtail sends it.
std::string EncodePushProtobuf(const PushRequest& req);
// Raw snappy block format, as Loki expects for protobuf bodies.
std::string SnappyCompress(std::string_view data);
// Inverse of SnappyCompress. InvalidArgument "snappy: corrupt input" for anything that is
// not one valid snappy block (including the framed `sNaPpY` stream format); TooLarge when
// the declared uncompressed length exceeds `max_bytes` (checked before allocating).
Result<std::string> SnappyUncompress(std::string_view data, int64_t max_bytes);
// JSON v1 push body (`{"streams":[{"stream":{...},"values":[["ns","line"],...]}]}`);
// entries with structured metadata get the third element. `labels` must be label text that
// ParseLabels accepts; a stream whose labels do not parse is written with `"stream":{}` (the
// server then rejects it for missing labels). Invalid UTF-8 in lines or labels is replaced
// by U+FFFD, since JSON cannot carry it.
std::string EncodePushJson(const PushRequest& req);
// gzip (RFC 1952) for tests and clients.
std::string GzipCompress(std::string_view data);
// Raw DEFLATE (RFC 1951, no zlib or gzip wrapper): what `Content-Encoding: deflate` means
// to Loki (Go's compress/flate). For tests and clients.
std::string DeflateCompress(std::string_view data);

}  // namespace logq::api
