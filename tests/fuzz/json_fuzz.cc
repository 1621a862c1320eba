// Fuzz target: the lenient JSON scanner (query/pipeline/json_scan.h) and the `| json`,
// `| json a="path"` and `| unpack` stages built on it. The whole input is the log line; the
// first byte also picks a JSON expression path from a fixed list for PathLookup.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/pipeline/json_scan.h"
#include "tests/fuzz/pipeline_parsers.h"

namespace json = logq::pipeline::json;

namespace {

class CountingSink : public json::PathSink {
 public:
  void OnPath(size_t path, std::string_view, json::Type, json::Error) override {
    LOGQ_FUZZ_CHECK(path < 4);
    ++calls;
  }
  int calls = 0;
};

std::vector<json::PathElement> Path(std::string_view expr) {
  std::vector<json::PathElement> out;
  std::string err;
  LOGQ_FUZZ_CHECK(json::ParsePath(expr, &out, &err));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string_view value;
  json::Type type;
  size_t end = 0;
  if (json::GetValue(in, &value, &type, &end) == json::Error::kNone)
    LOGQ_FUZZ_CHECK(end <= in.size());

  std::string key_scratch;
  std::string unescaped;
  int members = 0;
  (void)json::ForEachMember(
      in,
      [&](std::string_view, std::string_view v, json::Type t) {
        if (t == json::Type::kString) (void)json::UnescapeForLabel(v, &unescaped);
        ++members;
        return json::Error::kNone;
      },
      &key_scratch);

  std::string out;
  (void)json::Unescape(in, &out);
  std::vector<json::PathElement> path;
  std::string err;
  (void)json::ParsePath(in, &path, &err);

  static const std::vector<std::vector<json::PathElement>> kPaths = {
      Path("a"), Path("a.b"), Path("a[0]"), Path(R"(["x y"].z[1])")};
  json::PathLookup lookup(kPaths);
  CountingSink sink;
  lookup.Run(in, &sink);
  LOGQ_FUZZ_CHECK(sink.calls <= 4);

  static const auto kJson = logq::fuzz::MakePipeline(R"({app="fuzz"} | json)");
  static const auto kJsonPaths =
      logq::fuzz::MakePipeline(R"({app="fuzz"} | json x="a.b", y="a[0]", z=`["x y"].z[1]`, w="w")");
  static const auto kUnpack = logq::fuzz::MakePipeline(R"({app="fuzz"} | unpack)");
  logq::fuzz::RunLine(*kJson, in);
  logq::fuzz::RunLine(*kJsonPaths, in);
  logq::fuzz::RunLine(*kUnpack, in);
  return 0;
}
