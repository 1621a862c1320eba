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

struct DecodeOptions {
  // Cap on the output of each decompression stage (Content-Encoding, then snappy for
  // protobuf bodies). Default 5000 MiB (Loki's max_decompressed_size).
  int64_t max_decompressed_bytes = 5000LL << 20;
  PushPathVersion version = PushPathVersion::kV1;
};

// Decodes one push body. `content_type` and `content_encoding` are the raw header values
// ("" when absent). Errors (all InvalidArgument unless noted):
//   `Content-Encoding "br" not supported`; `mime: no media type` (and Go's other media-type
//   errors); `gzip: ...` / `flate: ...` for corrupt, truncated or empty compressed bodies;
//   `snappy: corrupt input`; `invalid protobuf body: ...`; JSON errors naming the field;
//   TooLarge `request body too large: ...` when a decompression stage would exceed
//   options.max_decompressed_bytes (gzip/deflate are stopped at the cap, snappy is checked
//   against its declared length before allocating).
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
