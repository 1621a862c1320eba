// Internal to store/api, exposed for tests only: the JSON push-body decoder with a choice of
// reader. Production code calls DecodePushRequest (push.h), which uses JsonReader::kAuto.
//
// kAuto runs a fast reader that accepts a strict subset of JSON (everything well-formed
// that push clients send, including escapes and UTF-8) and builds the request directly;
// on anything it does not accept it starts over with nlohmann's SAX parser, which is the
// authority on what is valid JSON and produces the error messages with line and column.
// Both readers drive the same handler, so the results are identical; tests pin that.
#pragma once

#include <string_view>

#include "query/base/status.h"
#include "store/api/push.h"

namespace logq::api::internal {

enum class JsonReader {
  kAuto,      // fast reader, nlohmann on anything unusual
  kFastOnly,  // fast reader; Unimplemented("fast JSON reader bailed out") where kAuto falls back
  kNlohmann,  // nlohmann's SAX parser only
};

Result<PushRequest> DecodePushJson(std::string_view body, PushPathVersion version,
                                   JsonReader reader);

}  // namespace logq::api::internal
