// Fuzz target: the logfmt decoder (query/pipeline/logfmt_decoder.h) and the `| logfmt`
// stages built on it. The whole input is the log line. Property: the decoder always makes
// progress (at most one ScanKeyval per input byte, plus one).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "query/pipeline/logfmt_decoder.h"
#include "tests/fuzz/pipeline_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  logq::pipeline::LogfmtDecoder dec;
  dec.Reset(line);
  size_t steps = 0;
  while (!dec.EOL()) {
    LOGQ_FUZZ_CHECK(++steps <= line.size() + 1);
    if (dec.ScanKeyval()) {
      // key/value views point into the line or the decoder's own unquote buffer.
      (void)dec.key().size();
      (void)dec.value().size();
    }
  }
  static const auto kLogfmt = logq::fuzz::MakePipeline(R"({app="fuzz"} | logfmt)");
  static const auto kStrict =
      logq::fuzz::MakePipeline(R"({app="fuzz"} | logfmt --strict --keep-empty a, b="c")");
  logq::fuzz::RunLine(*kLogfmt, line);
  logq::fuzz::RunLine(*kStrict, line);
  return 0;
}
