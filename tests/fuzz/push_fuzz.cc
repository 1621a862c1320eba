// Fuzz target: the push body decoders (store/api/push.h). The first input byte picks the
// wire format; the rest is the body. Modes that compress the rest themselves reach the
// protobuf/JSON decoders behind valid snappy/gzip framing; the others feed raw bytes to the
// decompressors. Property: a decoded protobuf request re-encodes to a body that decodes to
// the same request.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/api/push.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using logq::api::DecodeOptions;
using logq::api::DecodePushRequest;
using logq::api::PushPathVersion;

constexpr std::string_view kProto = "application/x-protobuf";
constexpr std::string_view kJson = "application/json";

void CheckProtoRoundTrip(const logq::api::PushRequest& req, const DecodeOptions& opts) {
  const std::string body = logq::api::SnappyCompress(logq::api::EncodePushProtobuf(req));
  auto again = DecodePushRequest(body, kProto, "", opts);
  LOGQ_FUZZ_CHECK(again.ok());
  LOGQ_FUZZ_CHECK(*again == req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  DecodeOptions opts;
  opts.max_decompressed_bytes = 1 << 20;  // keeps bombs cheap; the cap itself is checked
  if (mode & 0x80) opts.version = PushPathVersion::kLegacy;
  switch (mode & 0x7) {
    case 0: {  // JSON, no Content-Encoding
      (void)DecodePushRequest(body, kJson, "", opts);
      break;
    }
    case 1: {  // protobuf: raw bytes as the snappy block
      auto r = DecodePushRequest(body, kProto, "", opts);
      if (r.ok()) CheckProtoRoundTrip(*r, opts);
      break;
    }
    case 2: {  // protobuf: the bytes are the message, snappy framing made here
      auto r = DecodePushRequest(logq::api::SnappyCompress(body), kProto, "snappy", opts);
      if (r.ok()) CheckProtoRoundTrip(*r, opts);
      break;
    }
    case 3:  // raw bytes as a gzip stream around JSON
      (void)DecodePushRequest(body, "application/json; charset=utf-8", "gzip", opts);
      break;
    case 4:  // raw bytes as a raw DEFLATE stream around protobuf
      (void)DecodePushRequest(body, kProto, "deflate", opts);
      break;
    case 5:  // JSON inside valid gzip framing
      (void)DecodePushRequest(logq::api::GzipCompress(body), kJson, "GZIP", opts);
      break;
    case 6: {  // the bytes are the message, snappy + deflate framing made here
      auto r = DecodePushRequest(logq::api::DeflateCompress(logq::api::SnappyCompress(body)),
                                 kProto, "deflate", opts);
      if (r.ok()) CheckProtoRoundTrip(*r, opts);
      break;
    }
    case 7: {  // header parsing: the body splits into content type, encoding and payload
      const size_t a = body.find('\n');
      if (a == std::string_view::npos) break;
      const size_t b = body.find('\n', a + 1);
      if (b == std::string_view::npos) break;
      (void)DecodePushRequest(body.substr(b + 1), body.substr(0, a), body.substr(a + 1, b - a - 1),
                              opts);
      break;
    }
  }
  return 0;
}
