// Loki push API wire formats: decoding of push bodies exactly as Promtail, Grafana Alloy
// and the Loki clients send them, and encoders used by the shipper, the CLI, tests and
// benchmarks.
//
// Decoding order (Loki's): Content-Encoding (none | snappy (tolerated no-op) | gzip |
// deflate (raw RFC 1951)), then Content-Type: application/json → JSON (v1 or legacy form),
// anything else → snappy-block-compressed logproto.PushRequest protobuf. A missing
// Content-Type is an error ("mime: no media type").
//
// All functions are pure and thread-safe. Errors are InvalidArgument (400) with a message
// naming what was wrong, or TooLarge (413) when decompression exceeds the cap.
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
};

struct PushStream {
  // Label-set text as received (`{a="b", c="d"}`); for JSON bodies it is built from the
  // `stream` object. Parsed and validated by ingest, so every format shares one path.
  std::string labels;
  std::vector<PushEntry> entries;
};

struct PushRequest {
  std::vector<PushStream> streams;
};

enum class PushPathVersion { kV1, kLegacy };  // /loki/api/v1/push vs /api/prom/push

struct DecodeOptions {
  // Cap on the body after Content-Encoding and snappy decompression. Default 5000 MiB.
  int64_t max_decompressed_bytes = 5000LL << 20;
  PushPathVersion version = PushPathVersion::kV1;
};

Result<PushRequest> DecodePushRequest(std::string_view body, std::string_view content_type,
                                      std::string_view content_encoding,
                                      const DecodeOptions& options = {});

// Serializes to logproto.PushRequest protobuf bytes (not compressed).
std::string EncodePushProtobuf(const PushRequest& req);
// Raw snappy block format, as Loki expects for protobuf bodies.
std::string SnappyCompress(std::string_view data);
Result<std::string> SnappyUncompress(std::string_view data, int64_t max_bytes);
// JSON v1 push body (`{"streams":[{"stream":{...},"values":[["ns","line"],...]}]}`);
// entries with structured metadata get the third element.
std::string EncodePushJson(const PushRequest& req);
// gzip (RFC 1952) for tests and clients.
std::string GzipCompress(std::string_view data);

}  // namespace logq::api
