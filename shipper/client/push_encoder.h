// Hand-rolled protobuf wire encoding of logproto.PushRequest (store/api/push.proto), written
// straight into one output buffer: no protobuf objects, no arena, each line copied once.
// The output is byte-identical to api::EncodePushProtobuf (proto3 rules: empty labels, lines
// and metadata values are omitted; the timestamp message is always present) and is checked
// against store/api's decoder in tests/shipper/client/push_encoder_test.cc.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "store/api/push.h"

namespace logq::shipper {

// Appends the encoding of `req` to `*out` (which is not cleared).
void AppendPushRequestProtobuf(const api::PushRequest& req, std::string* out);

// Snappy-compressed encoding of `req`, as sent with Content-Type application/x-protobuf.
// `scratch` is reused between calls to avoid an allocation per batch (may be null).
std::string EncodePushRequestSnappy(const api::PushRequest& req, std::string* scratch);

}  // namespace logq::shipper
