// Fuzz target: the strict YAML config walker (query/base/yaml_config.h) through both real
// loaders: logq-store's ParseStoreConfig / ParseRuntimeOverrides and logq-shipper's
// ParseShipperConfig (+ ValidateShipperConfig). The first byte picks the loader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shipper/config.h"
#include "store/server/config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view yaml(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      (void)logq::server::ParseStoreConfig(yaml, "fuzz.yaml");
      break;
    case 1:
      (void)logq::server::ParseRuntimeOverrides(yaml, "overrides.yaml", logq::ingest::Limits{});
      break;
    case 2:
    case 3: {
      auto c =
          logq::shipper::ParseShipperConfig(yaml, "fuzz.yaml", /*expand_env=*/data[0] % 4 == 3);
      if (c.ok()) (void)logq::shipper::ValidateShipperConfig(*c);
      break;
    }
  }
  return 0;
}
