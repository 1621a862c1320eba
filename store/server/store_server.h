// StoreServer: logq-store as a running service. It serves the Loki HTTP API from the
// moment Start() returns (answering 503 "not ready" while RocksDB opens and the heads are
// recovered), runs the chunk cutter in the background, and shuts down gracefully.
//
// Thread-safety: Start/Stop from one thread (main); everything else is internal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "query/base/clock.h"
#include "query/base/http_server.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "store/server/config.h"

namespace logq::api {
class DecodeBudget;
}
namespace logq::index {
class Db;
class Registry;
}  // namespace logq::index
namespace logq::ingest {
class Ingester;
}
namespace logq::querier {
class StoreQuerier;
}
namespace logq::tail {
class TailRegistry;
}
namespace logq::engine {
class Engine;
}
namespace logq::retention {
class Compactor;
class DeleteApi;
class DeleteRequestStore;
class RuntimeConfig;
}  // namespace logq::retention
namespace logq {
class WorkerPool;
}

namespace logq::server {

class StoreServer {
 public:
  StoreServer(StoreConfig config, const Clock* clock);
  ~StoreServer();

  // Binds the HTTP port, then opens storage and recovers; returns once ready (or failed).
  Status Start();
  // Stops serving, cuts nothing (heads are durable), flushes and closes RocksDB.
  void Stop();

  uint16_t port() const;
  bool ready() const { return ready_.load(); }

  // Cuts every head into chunks now (tests and benchmarks).
  Status CutAllChunks();
  // Runs one retention/deletion pass of the compactor now (tests).
  Status RunCompaction();

  // Handles one request (exposed for in-process tests).
  HttpResponse Handle(HttpRequest& req);

 private:
  // Tenant and [start, end] of a read request, with Loki's defaults and errors.
  struct ReadScope {
    std::string tenant;
    int64_t start = 0;
    int64_t end = 0;
  };
  Result<ReadScope> ParseReadScope(const HttpRequest& req) const;

  HttpResponse Route(HttpRequest& req, std::string* route);
  HttpResponse HandlePush(HttpRequest& req, bool legacy);
  HttpResponse HandleLabels(HttpRequest& req, bool legacy);
  HttpResponse HandleLabelValues(HttpRequest& req, const std::string& name, bool legacy);
  HttpResponse HandleSeries(HttpRequest& req);
  HttpResponse HandleIndexStats(HttpRequest& req);
  HttpResponse HandleQuery(HttpRequest& req, bool instant);
  HttpResponse HandleLegacyQuery(HttpRequest& req);
  HttpResponse HandleFormatQuery(HttpRequest& req);
  HttpResponse HandleVolume(HttpRequest& req, bool range);
  HttpResponse HandleDetectedLabels(HttpRequest& req);
  HttpResponse HandleDetectedFields(HttpRequest& req, const std::string& field);
  HttpResponse HandleDrilldownLimits(HttpRequest& req);
  HttpResponse HandleTail(HttpRequest& req, bool legacy);
  HttpResponse HandleReady();
  HttpResponse HandleBuildInfo();
  HttpResponse HandleDeleteApi(HttpRequest& req, bool generation_numbers);
  void CutterLoop();

  StoreConfig config_;
  const Clock* clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpServer> http_;
  // Decompressed push bytes being decoded across requests (distributor.max_decompressed_inflight_bytes).
  std::unique_ptr<api::DecodeBudget> decode_budget_;
  std::unique_ptr<index::Db> db_;
  std::unique_ptr<index::Registry> registry_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<querier::StoreQuerier> querier_;
  std::unique_ptr<WorkerPool> query_pool_;
  std::unique_ptr<engine::Engine> engine_;
  std::shared_ptr<tail::TailRegistry> tails_;  // live tails; fed by the ingester
  std::atomic<bool> ready_{false};
  std::string not_ready_reason_ = "starting";
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread cutter_;
  bool started_ingester_ = false;  // Open succeeded: Stop writes a checkpoint
  // Retention and deletion (store/retention).
  std::unique_ptr<retention::RuntimeConfig> runtime_config_;
  std::unique_ptr<retention::DeleteRequestStore> delete_requests_;
  std::unique_ptr<retention::Compactor> compactor_;
  std::unique_ptr<retention::DeleteApi> delete_api_;
};

// Maps a Status to its HTTP status code (400, 401, 404, 413, 429, 499, 500, 501, 503, 504).
int HttpStatusFor(const Status& s);

}  // namespace logq::server
