// LogGenerator: a seeded, deterministic source of realistic Kubernetes pod logs for
// benchmarks. It models a small cluster: an ingress-nginx controller, CoreDNS, Go services
// that log logfmt, Node/Python services that log JSON, Spring Boot and Kafka (plain text,
// with multi-line stack traces emitted one line per entry as the container runtime splits
// them), Postgres, Redis, nginx web servers and Istio sidecars (Envoy access logs). Each
// stream is one container of one pod, labelled {app, container, namespace, pod}.
//
// Lines come out in global time order: entry i of `lines` gets a timestamp in
// [end_ns - span_ns, end_ns), increasing with i plus jitter smaller than the spacing, so
// every stream is in order. Streams differ in volume (per-app weights with per-pod jitter).
// Variable fields (client IPs from per-stream pools, ids, durations, trace ids, sizes) are
// drawn from the PRNG, so compression ratios are those of real logs rather than of
// repeated text; trace/request ids are random hex, as they are in reality.
//
// Determinism: the same options give byte-identical output on every platform (own PRNG
// and arithmetic; no <random> distributions). Not thread-safe; one instance per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace logq::bench {

enum class LineKind { kJson = 0, kLogfmt = 1, kNginx = 2, kPlain = 3 };
inline constexpr int kNumLineKinds = 4;
const char* LineKindName(LineKind kind);

struct GeneratorOptions {
  uint64_t seed = 1;          // default 1
  int64_t lines = 1'200'000;  // total entries; default 1.2M
  int streams = 100;          // default 100; must be >= 1
  int64_t end_ns = 0;         // newest timestamp (exclusive); required (> span_ns)
  int64_t span_ns =
      3600LL * 1'000'000'000;  // timestamps cover [end_ns - span_ns, end_ns); default 1h
};

struct StreamInfo {
  std::string labels;  // canonical label text, names sorted: {app="..", container="..", ...}
  std::string app;
  double weight = 0;  // share of all lines, sums to 1 over streams
};

struct GeneratedEntry {
  int stream = 0;  // index into LogGenerator::streams()
  int64_t timestamp_ns = 0;
  LineKind kind = LineKind::kPlain;
  std::string line;  // no trailing newline
};

class LogGenerator {
 public:
  explicit LogGenerator(const GeneratorOptions& options);
  ~LogGenerator();
  LogGenerator(const LogGenerator&) = delete;
  LogGenerator& operator=(const LogGenerator&) = delete;

  const std::vector<StreamInfo>& streams() const;

  // Fills `out` with the next entry (reusing its buffer). Returns false after `lines`
  // entries have been produced.
  bool Next(GeneratedEntry* out);

  int64_t produced() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logq::bench
