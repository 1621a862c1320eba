// RuntimeConfig: per-tenant limits from Loki's runtime overrides file, reloaded while the
// store runs (`runtime_config.file`, checked every `runtime_config.period`).
//
// The file has Loki's shape:
//
//   overrides:
//     "tenant-a":
//       retention_period: 168h
//       retention_stream:
//         - selector: '{namespace="prod"}'
//           priority: 2
//           period: 336h
//
// A tenant's limits are the global `limits_config` with the keys of its block applied on
// top (a list such as `retention_stream` is replaced, not merged). Parsing is injected (the
// YAML schema of limits lives with the rest of the config in store/server).
//
// Reload policy (Loki's): at startup a bad file is an error; later a bad file is logged,
// counted (`logq_runtime_config_last_reload_successful` 0) and the previous overrides stay.
//
// Thread-safety: LimitsFor and Reload may be called concurrently; Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "query/base/metrics.h"
#include "query/base/status.h"
#include "store/ingest/limits.h"

namespace logq::retention {

using TenantLimits = std::map<std::string, ingest::Limits, std::less<>>;
// Parses the file's text into per-tenant limits, each starting from `defaults`.
// InvalidArgument naming the file, line and key on bad input.
using OverridesParser = std::function<Result<TenantLimits>(std::string_view yaml, std::string_view source,
                                                           const ingest::Limits& defaults)>;

class RuntimeConfig {
 public:
  // `file` empty: no overrides (every tenant gets `defaults`); Reload is then a no-op.
  RuntimeConfig(ingest::Limits defaults, std::string file, OverridesParser parse, MetricsRegistry* metrics);
  ~RuntimeConfig();

  // Reads and parses the file now. On success the new overrides apply to every later
  // LimitsFor call; on failure the previous ones stay and the error is returned.
  // Unchanged content is not parsed again.
  Status Reload();

  // The effective limits of `tenant`.
  ingest::Limits LimitsFor(std::string_view tenant) const;
  // Tenants with a block in the overrides file.
  std::vector<std::string> OverriddenTenants() const;
  const ingest::Limits& defaults() const { return defaults_; }

  // Reloads every `period_ns` on a background thread until Stop (no-op without a file).
  void Start(int64_t period_ns);
  void Stop();

 private:
  const ingest::Limits defaults_;
  const std::string file_;
  OverridesParser parse_;
  MetricsRegistry* metrics_;

  mutable std::mutex mu_;
  std::shared_ptr<const TenantLimits> overrides_;
  uint64_t content_hash_ = 0;
  bool loaded_ = false;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace logq::retention
