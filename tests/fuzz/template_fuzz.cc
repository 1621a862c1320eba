// Fuzz target: the Go text/template engine of line_format/label_format
// (query/pipeline/template.h). Input: template source, then optionally "\n\x00\n" and the log
// line. Every template that parses is executed against a fixed label set and a fixed clock.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "query/base/clock.h"
#include "query/pipeline/template.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view src(reinterpret_cast<const char*>(data), size);
  std::string_view line = "level=info msg=\"hello\" {\"a\":{\"b\":[1,2]}} 10.0.0.1 5s 3KB";
  if (const size_t sep = src.find(std::string_view("\n\0\n", 3)); sep != std::string_view::npos) {
    line = src.substr(sep + 3);
    src = src.substr(0, sep);
  }
  auto t = logq::pipeline::Template::Parse(src, "line");
  if (!t.ok()) return 0;
  static const std::map<std::string, std::string, std::less<>> kLabels = {
      {"app", "api"},
      {"level", "warn"},
      {"n", "42"},
      {"f", "-1.5e3"},
      {"json", "{\"k\":[\"v\",1,{\"z\":null}]}"},
      {"dur", "1h30m"},
      {"ts", "2024-05-01T10:00:00Z"},
      {"empty", ""},
      {"utf8", "h\xc3\xa9llo\xff"}};
  static logq::FakeClock kClock(1714557600LL * 1000000000LL);
  logq::pipeline::TemplateContext ctx;
  ctx.label = [](std::string_view name) -> const std::string* {
    auto it = kLabels.find(name);
    return it == kLabels.end() ? nullptr : &it->second;
  };
  ctx.for_each_label = [](const std::function<void(std::string_view, std::string_view)>& visit) {
    for (const auto& [k, v] : kLabels) visit(k, v);
  };
  ctx.line = line;
  ctx.timestamp_ns = 1714557600123456789LL;
  ctx.clock = &kClock;
  std::string out;
  (void)(*t)->Execute(ctx, &out);
  return 0;
}
