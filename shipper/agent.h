// Agent: the logq-shipper event loop. One thread runs discovery (inotify on directories),
// tailing, decoding, the pipeline stages and batching; one sender thread per client pushes
// batches. Positions advance only with acknowledgements (see OffsetTracker) and are written
// atomically every positions.sync_period.
//
//   discovery → target labels (+ pod metadata) → relabel → FileReader (CRI/docker, joining)
//     → StagePipeline → Batch per (client, tenant) → Client (retry) → ack → OffsetTracker
//     → positions file
//
// Backpressure: when the bytes read but not yet resolved (acked or dropped) reach
// shipper.max_pending_bytes per client, reading pauses; the log files are the buffer.
//
// Thread-safety: Run() on one thread; RequestStop() and the metrics registry from any.
#pragma once

#include <atomic>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "shipper/config.h"

namespace logq::shipper {

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Create(const ShipperConfig& config, const Clock& clock,
                                               MetricsRegistry& metrics);
  virtual ~Agent() = default;
  // Runs until SIGTERM/SIGINT (the caller blocks them in every thread first) or
  // RequestStop(); then stops reading, sends what is in flight (up to
  // shipper.shutdown_timeout), saves positions and returns.
  virtual Status Run() = 0;
  virtual void RequestStop() = 0;
  // "ok" or why the pipeline is not healthy (for /ready). Any thread.
  virtual std::string Readiness() const = 0;
  // The targets per scrape config as JSON (for /targets; refreshed every 2 s by the event
  // loop): {"scrape_configs":[{"job_name", "kind" ("files" | "pods"), "paths", "path_excludes",
  // "files" (count), "targets":[{"path", "labels", "position", "size"}] (at most 1000)}]}.
  // Any thread.
  virtual std::string TargetsJson() const = 0;
};

// -dry-run: reads the given files completely (no positions, nothing sent) and prints what
// would be sent, one entry per line: "<RFC3339Nano ts>\t<stream labels>\t<line>".
Status DryRun(const ShipperConfig& config, const std::vector<std::string>& files, std::ostream& out);

// Label text as the push API carries it: {a="b", c="d"} (names sorted, values Go-quoted).
std::string RenderLabels(const std::map<std::string, std::string, std::less<>>& labels);

}  // namespace logq::shipper
