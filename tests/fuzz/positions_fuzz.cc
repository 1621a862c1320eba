// Fuzz target: the shipper's positions file parser (shipper/positions/positions.h).
// Property: what parses formats to text that parses back to the same data.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shipper/positions/positions.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto p = logq::shipper::ParsePositions(yaml);
  if (!p.ok()) return 0;
  const std::string text = logq::shipper::FormatPositions(*p);
  auto again = logq::shipper::ParsePositions(text);
  if (!again.ok())
    std::fprintf(stderr, "formatted positions do not parse: %s\n%s\n",
                 again.status().message().c_str(), text.c_str());
  LOGQ_FUZZ_CHECK(again.ok());
  LOGQ_FUZZ_CHECK(*again == *p);
  return 0;
}
