// Fuzz target: the container log line decoders (shipper/tail/decode.h): CRI, docker
// json-file, raw fallback and the RFC3339 timestamp parser. Properties: CRI content is a view
// into the line; a raw line's content is the line minus one trailing '\r'; a known format is
// tried first and kept.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shipper/tail/decode.h"
#include "tests/fuzz/fuzz_check.h"

namespace s = logq::shipper;

namespace {

bool Within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() &&
                           inner.data() + inner.size() <= outer.data() + outer.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  int64_t ns = 0;
  (void)s::ParseLogTimestamp(line, &ns);

  s::DecodedLine out;
  if (s::DecodeCri(line, &out)) LOGQ_FUZZ_CHECK(Within(out.content, line));

  std::string scratch;
  s::DecodedLine docker;
  if (s::DecodeDocker(line, &scratch, &docker)) LOGQ_FUZZ_CHECK(Within(docker.content, scratch));

  s::LogFormat format = s::LogFormat::kUnknown;
  s::DecodedLine any;
  const s::LogFormat used = s::DecodeLine(line, &format, &scratch, &any);
  LOGQ_FUZZ_CHECK(used != s::LogFormat::kUnknown);
  if (used == s::LogFormat::kRaw) {
    std::string_view want = line;
    if (!want.empty() && want.back() == '\r') want.remove_suffix(1);
    LOGQ_FUZZ_CHECK(any.content == want);
  }
  // A file already known to be CRI (docker) decodes the line with its own format first and
  // never changes the file's format.
  const bool cri_ok = s::DecodeCri(line, &out);
  const bool docker_ok = s::DecodeDocker(line, &scratch, &docker);
  for (s::LogFormat known : {s::LogFormat::kCri, s::LogFormat::kDocker, s::LogFormat::kRaw}) {
    s::LogFormat f = known;
    const s::LogFormat got = s::DecodeLine(line, &f, &scratch, &any);
    LOGQ_FUZZ_CHECK(f == known);
    if (known == s::LogFormat::kCri) LOGQ_FUZZ_CHECK((got == s::LogFormat::kCri) == cri_ok);
    if (known == s::LogFormat::kDocker)
      LOGQ_FUZZ_CHECK((got == s::LogFormat::kDocker) == docker_ok);
    if (known == s::LogFormat::kRaw) LOGQ_FUZZ_CHECK(got == s::LogFormat::kRaw);
  }
  return 0;
}
