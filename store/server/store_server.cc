#include "store/server/store_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <set>

#include "query/base/units.h"
#include "query/base/worker_pool.h"
#include "query/pipeline/pipeline.h"
#include "query/engine/engine.h"
#include "query/logql/parser.h"
#include "query/logql/selector.h"
#include "store/api/push.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/ingest/ingester.h"
#include "store/retention/compactor.h"
#include "store/retention/delete_api.h"
#include "store/retention/runtime_config.h"
#include "store/querier/querier.h"
#include "store/server/query_json.h"
#include "store/server/tenant.h"
#include "store/tail/tail_registry.h"

#ifndef LOGQ_VERSION
#define LOGQ_VERSION "0.0.0"
#endif
#ifndef LOGQ_REVISION
#define LOGQ_REVISION "unknown"
#endif

namespace logq::server {
namespace {

using json = nlohmann::ordered_json;  // keys in the order written: Loki's {"status":...,"data":...}

constexpr int64_t kDefaultSince = 3600LL * 1'000'000'000;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

HttpResponse Error(const Status& s) { return HttpResponse::Text(HttpStatusFor(s), s.message()); }

json LabelsJson(const Labels& l) {
  json o = json::object();
  for (const Label& x : l) o[x.name] = x.value;
  return o;
}

// Parses start/end (and `since`) with Loki's defaults: end = now, start = end - since (1h).
Status ParseBounds(const HttpRequest& req, int64_t now, int64_t* start, int64_t* end) {
  ASSIGN_OR_RETURN(*end, ParseTimestampParam(req.Param("end"), now, "end"));
  int64_t since = kDefaultSince;
  if (req.HasParam("since")) {
    auto d = ParseDuration(req.Param("since"));
    if (!d.ok()) return InvalidArgument("could not parse 'since' parameter: " + d.status().message());
    since = *d;
  }
  ASSIGN_OR_RETURN(*start, ParseTimestampParam(req.Param("start"), std::min(*end, now) - since, "start"));
  return Status::OK();
}

Result<std::vector<Matcher>> OptionalSelector(const std::string& q) {
  if (q.empty()) return std::vector<Matcher>{};
  return logql::ParseSelector(q, {.require_non_empty_matcher = false});
}

// Loki's parseSecondsOrDuration for `step`/`interval`.
Result<int64_t> ParseStep(const std::string& v) {
  char* end = nullptr;
  double f = std::strtod(v.c_str(), &end);
  if (!v.empty() && end == v.c_str() + v.size()) return static_cast<int64_t>(f * 1e9);
  auto d = ParseDuration(v);
  if (!d.ok() || v.find('.') != std::string::npos) {
    return InvalidArgument("cannot parse \"" + v + "\" to a valid duration");
  }
  return *d;
}

}  // namespace

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kCancelled: return 499;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

StoreServer::StoreServer(StoreConfig config, const Clock* clock) : config_(std::move(config)), clock_(clock) {}

StoreServer::~StoreServer() { Stop(); }

uint16_t StoreServer::port() const { return http_ ? http_->port() : 0; }

Status StoreServer::Start() {
  HttpServerOptions ho;
  ho.address = config_.server.http_listen_address;
  ho.port = static_cast<uint16_t>(config_.server.http_listen_port);
  ho.io_threads = config_.server.io_threads;
  ho.worker_threads = config_.server.worker_threads;
  ho.max_body_bytes = config_.distributor.max_recv_msg_size;
  ho.read_timeout_ms = config_.server.http_server_read_timeout / 1'000'000;
  ho.idle_timeout_ms = config_.server.http_server_idle_timeout / 1'000'000;
  ho.write_timeout_ms = std::max<int64_t>(config_.server.http_server_write_timeout / 1'000'000, 1);
  ho.max_header_bytes = config_.server.http_server_max_header_bytes;
  ho.max_body_bytes_key = "distributor.max_recv_msg_size";
  ho.max_header_bytes_key = "server.http_server_max_header_bytes";
  ho.log_error = [](const std::string& m) { spdlog::error("http: {}", m); };
  decode_budget_ = std::make_unique<api::DecodeBudget>(config_.distributor.max_decompressed_inflight_bytes);
  ASSIGN_OR_RETURN(http_, HttpServer::Start(ho, [this](HttpRequest& r) { return Handle(r); }));
  spdlog::info("listening on {}:{}", ho.address, http_->port());

  metrics_.GetGauge("logq_build_info", "Build information.", {{"version", LOGQ_VERSION}, {"revision", LOGQ_REVISION}})
      ->Set(1);
  index::DbOptions dbo;
  dbo.path = config_.StoragePath();
  dbo.block_cache_bytes = static_cast<size_t>(config_.storage.block_cache_size);
  dbo.write_buffer_bytes = static_cast<size_t>(config_.storage.write_buffer_size);
  spdlog::info("opening storage at {}", dbo.path);
  {
    std::lock_guard<std::mutex> l(mu_);
    not_ready_reason_ = "opening storage and replaying the write-ahead log";
  }
  ASSIGN_OR_RETURN(db_, index::Db::Open(dbo));
  registry_ = std::make_unique<index::Registry>();
  RETURN_IF_ERROR(registry_->Load(db_.get()));
  runtime_config_ = std::make_unique<retention::RuntimeConfig>(config_.limits_config, config_.runtime_config.file,
                                                               ParseRuntimeOverrides, &metrics_);
  RETURN_IF_ERROR(runtime_config_->Reload());
  runtime_config_->Start(config_.runtime_config.period);
  ingest::IngesterOptions io;
  io.sync_writes = config_.storage.sync_writes;
  io.chunk_target_size = config_.ingester.chunk_target_size;
  io.max_chunk_age = config_.ingester.max_chunk_age;
  io.chunk_idle_period = config_.ingester.chunk_idle_period;
  io.chunk.zstd_level = config_.ingester.chunk_compression_level;
  io.chunk.target_block_raw = static_cast<size_t>(config_.ingester.chunk_block_size);
  io.wal_dir = config_.WalDir();
  io.wal_segment_bytes = static_cast<uint64_t>(config_.ingester.wal.segment_size);
  io.head_memory_limit = config_.ingester.head_memory_limit;
  io.checkpoint_interval = config_.ingester.wal.checkpoint_duration;
  io.checkpoint_wal_bytes = config_.ingester.wal.checkpoint_size;
  retention::RuntimeConfig* limits = runtime_config_.get();
  ingester_ = std::make_unique<ingest::Ingester>(
      db_.get(), registry_.get(), [limits](std::string_view t) { return limits->LimitsFor(t); }, clock_, &metrics_,
      io);
  {
    std::lock_guard<std::mutex> l(mu_);
    not_ready_reason_ = "replaying the write-ahead log";
  }
  spdlog::info("opening the write-ahead log at {}", io.wal_dir);
  RETURN_IF_ERROR(ingester_->Open([this, last = std::chrono::steady_clock::time_point()](uint64_t done,
                                                                                         uint64_t total) mutable {
    std::string msg = fmt::format("replaying the write-ahead log: {:.1f} of {:.1f} MiB", done / 1048576.0,
                                  total / 1048576.0);
    const auto now = std::chrono::steady_clock::now();
    if (now - last >= std::chrono::seconds(5) || done == total) {
      last = now;
      spdlog::info("{}", msg);
    }
    std::lock_guard<std::mutex> l(mu_);
    not_ready_reason_ = std::move(msg);
  }));
  ingester_->SetCutWakeup([this] { cv_.notify_all(); });
  started_ingester_ = true;
  querier_ = std::make_unique<querier::StoreQuerier>(db_.get(), registry_.get(), ingester_.get());
  query_pool_ = std::make_unique<WorkerPool>(std::max(1u, std::thread::hardware_concurrency()) - 1);
  engine::EngineOptions eo;
  eo.max_query_series = config_.limits_config.max_query_series;
  eo.series_limit_interval_ns = config_.limits_config.split_queries_by_interval;
  eo.timeout_ns = config_.limits_config.query_timeout;
  eo.max_query_memory_bytes = config_.limits_config.max_query_memory_size;
  engine_ = std::make_unique<engine::Engine>(query_pool_.get(), eo);
  // Process-wide: every pipeline built from now on (queries, tails, deletes, detected fields).
  pipeline::PipelineLimits pl;
  pl.max_json_depth = config_.limits_config.max_json_depth;
  pl.max_template_output_bytes = static_cast<size_t>(config_.limits_config.max_template_output_size);
  pipeline::SetPipelineLimits(pl);
  tail::TailOptions to;
  to.max_duration_ns = config_.querier.tail_max_duration;
  to.max_buffered_bytes = static_cast<size_t>(config_.querier.tail_max_buffered_bytes);
  tails_ = tail::TailRegistry::Create(
      clock_, &metrics_,
      [this](const tail::TailRequest& r, int64_t end) -> Result<engine::QueryResult> {
        engine::QueryParams qp;
        qp.expr = r.expr;
        qp.start = r.start;
        qp.end = end;
        qp.forward = false;
        qp.limit = r.limit;
        querier::TenantQuerier tq = querier_->ForTenant(r.tenant);  // skips empty heads like queries
        return engine_->Query(&tq, qp);
      },
      to);
  ingester_->SetPushObserver(tails_.get());

  metrics_.AddCollector([this] {
    metrics_.GetGauge("logq_streams", "Streams in the index.")->Set(static_cast<double>(registry_->TotalStreams()));
    metrics_.GetGauge("logq_head_entries", "Entries in stream heads, not yet cut into chunks.")
        ->Set(static_cast<double>(ingester_->HeadEntries()));
    metrics_.GetGauge("logq_disk_bytes", "Bytes of RocksDB files on disk (SST, blob, WAL).")
        ->Set(static_cast<double>(db_->DiskBytes()));
    metrics_.GetGauge("logq_chunks", "Chunks stored (RocksDB estimate).")->Set(static_cast<double>(db_->EstimateChunks()));
  });
  delete_requests_ = std::make_unique<retention::DeleteRequestStore>(db_.get());
  delete_api_ = std::make_unique<retention::DeleteApi>(
      delete_requests_.get(), [limits](std::string_view t) { return limits->LimitsFor(t); }, clock_, &metrics_,
      config_.compactor.delete_max_interval);
  retention::CompactorOptions co;
  co.retention_enabled = config_.compactor.retention_enabled;
  co.compaction_interval = config_.compactor.apply_retention_interval > 0 ? config_.compactor.apply_retention_interval
                                                                          : config_.compactor.compaction_interval;
  co.delete_request_cancel_period = config_.compactor.delete_request_cancel_period;
  co.chunk = io.chunk;
  co.test_only_stream_delay = config_.compactor.test_only_stream_delay;
  compactor_ = std::make_unique<retention::Compactor>(
      db_.get(), registry_.get(), ingester_.get(), delete_requests_.get(),
      [limits](std::string_view t) { return limits->LimitsFor(t); }, clock_, &metrics_, co);
  compactor_->Start();
  cutter_ = std::thread([this] { CutterLoop(); });
  ready_ = true;
  spdlog::info("ready: {} streams, {} head entries", registry_->TotalStreams(), ingester_->HeadEntries());
  return Status::OK();
}

void StoreServer::CutterLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    cv_.wait_for(l, std::chrono::nanoseconds(config_.ingester.flush_check_period));
    if (stopping_) break;
    l.unlock();
    auto n = ingester_->CutChunks(false);
    if (!n.ok()) spdlog::error("cutting chunks failed: {}", n.status().ToString());
    else if (*n > 0) spdlog::debug("cut {} chunks", *n);
    if (ingester_->CheckpointDue()) {
      Status st = ingester_->Checkpoint();
      if (!st.ok()) spdlog::error("writing a WAL checkpoint failed: {}", st.ToString());
    }
    l.lock();
  }
}

Status StoreServer::CutAllChunks() {
  if (!ready_) return Unavailable("not ready");
  auto n = ingester_->CutChunks(true);
  if (!n.ok()) return n.status();
  return ingester_->Checkpoint();  // the log the cut made redundant goes
}

void StoreServer::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  ready_ = false;
  if (http_) http_->Stop();
  if (tails_) tails_->Stop();
  if (cutter_.joinable()) cutter_.join();
  if (compactor_) compactor_->Stop();
  if (ingester_ && started_ingester_) {
    // Heads are durable in the log either way; a checkpoint makes the next start fast.
    if (config_.ingester.wal.flush_on_shutdown) {
      auto n = ingester_->CutChunks(true);
      if (!n.ok()) spdlog::error("cutting heads on shutdown failed: {}", n.status().ToString());
    }
    Status s = ingester_->Checkpoint();
    if (!s.ok()) spdlog::error("checkpoint on shutdown failed: {}", s.ToString());
  }
  if (runtime_config_) runtime_config_->Stop();
  if (db_) {
    Status s = db_->Flush();
    if (!s.ok()) spdlog::error("flush on shutdown failed: {}", s.ToString());
  }
  compactor_.reset();
  delete_api_.reset();
  delete_requests_.reset();
  engine_.reset();
  query_pool_.reset();
  querier_.reset();
  ingester_.reset();
  tails_.reset();
  registry_.reset();
  db_.reset();
  spdlog::info("storage closed");
}

HttpResponse StoreServer::Handle(HttpRequest& req) {
  const int64_t t0 = clock_->MonotonicNanos();
  std::string route = "other";
  HttpResponse resp = Route(req, &route);
  const double secs = static_cast<double>(clock_->MonotonicNanos() - t0) / 1e9;
  metrics_
      .GetHistogram("logq_request_duration_seconds", "Time to serve HTTP requests, by route, method and status code.",
                    {{"method", req.method}, {"route", route}, {"status_code", std::to_string(resp.status)}})
      ->Observe(secs);
  if (resp.status >= 500) spdlog::warn("{} {} -> {}: {}", req.method, route, resp.status, resp.body);
  return resp;
}

HttpResponse StoreServer::Route(HttpRequest& req, std::string* route) {
  const std::string& p = req.path;
  const bool get_or_post = req.method == "GET" || req.method == "POST";
  auto method_not_allowed = [] { return HttpResponse::Text(405, ""); };

  if (p == "/ready") {
    *route = "ready";
    return HandleReady();
  }
  if (p == "/metrics") {
    *route = "metrics";
    HttpResponse r = HttpResponse::Text(200, metrics_.Render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (p == "/loki/api/v1/status/buildinfo") {
    *route = "buildinfo";
    return HandleBuildInfo();
  }
  if (p == "/config") {
    *route = "config";
    HttpResponse r = HttpResponse::Text(200, StoreConfigToYaml(config_));
    r.content_type = "text/plain; charset=utf-8";
    return r;
  }

  if (p == "/flush") {
    *route = "flush";
    if (req.method != "POST" && req.method != "GET") return method_not_allowed();
    Status st = CutAllChunks();
    return st.ok() ? HttpResponse::NoContent() : Error(st);
  }

  // Two X-Scope-OrgID headers are ambiguous (Loki takes the first, a proxy may have added
  // the second): refuse rather than guess the tenant.
  if (config_.auth_enabled && req.HeaderRepeated("X-Scope-OrgID")) {
    return Error(InvalidArgument("more than one X-Scope-OrgID header: send exactly one (several tenants are "
                                 "written as one header, \"a|b\")"));
  }

  if (p == "/loki/api/v1/tail" || p == "/api/prom/tail") {
    *route = "tail";
    if (!ready_) return HttpResponse::Text(503, "store not ready");
    if (req.method != "GET") return method_not_allowed();
    return HandleTail(req, p == "/api/prom/tail");
  }

  if (p == "/loki/api/v1/drilldown-limits") {
    *route = "drilldown_limits";
    return HandleDrilldownLimits(req);
  }
  if (p == "/loki/api/v1/delete" || p == "/loki/api/v1/cache/generation_numbers") {
    *route = p == "/loki/api/v1/delete" ? "delete" : "cache_generation_numbers";
    return HandleDeleteApi(req, p != "/loki/api/v1/delete");
  }

  const bool push = p == "/loki/api/v1/push" || p == "/api/prom/push";
  std::string label_name;
  static const std::string kV1Label = "/loki/api/v1/label/", kLegacyLabel = "/api/prom/label/";
  bool values = false, legacy_values = false;
  auto suffix = [&](const std::string& prefix) {
    if (p.rfind(prefix, 0) == 0 && p.size() > prefix.size() + 7 && p.compare(p.size() - 7, 7, "/values") == 0) {
      label_name = p.substr(prefix.size(), p.size() - prefix.size() - 7);
      return true;
    }
    return false;
  };
  bool detected_field_values = false;
  if (suffix(kV1Label)) values = true;
  else if (suffix(kLegacyLabel)) values = legacy_values = true;
  else if (suffix("/loki/api/v1/detected_field/")) detected_field_values = true;

  const bool known = push || values || p == "/loki/api/v1/labels" || p == "/loki/api/v1/label" ||
                     p == "/api/prom/label" || p == "/loki/api/v1/series" || p == "/api/prom/series" ||
                     p == "/loki/api/v1/index/stats" || p == "/loki/api/v1/query_range" ||
                     p == "/loki/api/v1/query" || p == "/api/prom/query" || p == "/loki/api/v1/format_query" ||
                     p == "/loki/api/v1/index/volume" || p == "/loki/api/v1/index/volume_range" ||
                     p == "/loki/api/v1/detected_labels" || p == "/loki/api/v1/detected_fields" ||
                     detected_field_values || p == "/loki/api/v1/patterns";
  if (!known) {
    *route = "notfound";
    return HttpResponse::Text(404, "404 page not found\n");
  }
  if (!ready_) {
    *route = "notready";
    std::lock_guard<std::mutex> l(mu_);
    return HttpResponse::Text(503, "store not ready: " + not_ready_reason_);
  }
  if (push) {
    *route = "push";
    if (req.method != "POST") return method_not_allowed();
    return HandlePush(req, p == "/api/prom/push");
  }
  if (!get_or_post) return method_not_allowed();
  if (values) {
    *route = "label_values";
    return HandleLabelValues(req, label_name, legacy_values);
  }
  if (p == "/loki/api/v1/labels" || p == "/loki/api/v1/label" || p == "/api/prom/label") {
    *route = "labels";
    return HandleLabels(req, p == "/api/prom/label");
  }
  if (p == "/loki/api/v1/series" || p == "/api/prom/series") {
    *route = "series";
    return HandleSeries(req);
  }
  if (p == "/loki/api/v1/index/stats") {
    *route = "index_stats";
    return HandleIndexStats(req);
  }
  if (p == "/loki/api/v1/format_query") {
    *route = "format_query";
    return HandleFormatQuery(req);
  }
  if (p == "/loki/api/v1/index/volume" || p == "/loki/api/v1/index/volume_range") {
    *route = p == "/loki/api/v1/index/volume" ? "index_volume" : "index_volume_range";
    return HandleVolume(req, p == "/loki/api/v1/index/volume_range");
  }
  if (p == "/loki/api/v1/detected_labels") {
    *route = "detected_labels";
    return HandleDetectedLabels(req);
  }
  if (p == "/loki/api/v1/detected_fields" || detected_field_values) {
    *route = detected_field_values ? "detected_field_values" : "detected_fields";
    return HandleDetectedFields(req, detected_field_values ? label_name : "");
  }
  if (p == "/loki/api/v1/patterns") {
    *route = "patterns";
    return HttpResponse::Json("{\"status\":\"success\",\"data\":[]}\n");
  }
  if (p == "/api/prom/query") {
    *route = "legacy_query";
    return HandleLegacyQuery(req);
  }
  const bool instant = p == "/loki/api/v1/query";
  *route = instant ? "query" : "query_range";
  return HandleQuery(req, instant);
}

// Live tail (WebSocket). Parameters as Loki's ParseTailQuery: query (+ legacy regexp),
// limit (default 100), start (default now - 1h), delay_for (seconds, 0..5). Errors are
// answered with HTTP 400 before the upgrade; see docs/api.md.
HttpResponse StoreServer::HandleTail(HttpRequest& req, bool legacy) {
  if (!req.websocket_upgrade) {
    return Error(InvalidArgument("tail needs a WebSocket connection (Connection: Upgrade, Upgrade: websocket)"));
  }
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), /*allow_multi=*/false);
  if (!tenant.ok()) return Error(tenant.status());
  const ingest::Limits& limits = config_.limits_config;
  tail::TailRequest tr;
  tr.tenant = *tenant;
  tr.legacy = legacy;
  tr.query = req.Param("query");
  if (req.HasParam("regexp") && !req.Param("regexp").empty()) {
    std::string re;
    AppendGoQuoted(req.Param("regexp"), &re);
    tr.query += " |~ " + re;
  }
  auto expr = logql::ParseExpr(tr.query);
  if (!expr.ok()) return Error(expr.status());
  if ((*expr)->kind != logql::Expr::Kind::kLog) {
    return Error(InvalidArgument("tail supports log queries only, not metric queries"));
  }
  tr.expr = std::static_pointer_cast<const logql::LogExpr>(*expr);
  if (req.HasParam("limit")) {
    std::string v = req.Param("limit");
    char* e = nullptr;
    long n = std::strtol(v.c_str(), &e, 10);
    if (v.empty() || *e) return Error(InvalidArgument("strconv.Atoi: parsing \"" + v + "\": invalid syntax"));
    if (n <= 0) return Error(InvalidArgument("limit must be a positive value"));
    if (n > limits.max_entries_limit_per_query) {
      return Error(InvalidArgument(fmt::format("max entries limit per query exceeded, limit > max_entries_limit ({} > {})",
                                               n, limits.max_entries_limit_per_query)));
    }
    tr.limit = static_cast<size_t>(n);
  }
  int64_t start = 0, end = 0;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
  tr.start = start;
  if (req.HasParam("delay_for")) {
    std::string v = req.Param("delay_for");
    char* e = nullptr;
    long n = std::strtol(v.c_str(), &e, 10);
    if (v.empty() || *e) return Error(InvalidArgument("strconv.Atoi: parsing \"" + v + "\": invalid syntax"));
    if (n > 5) return Error(InvalidArgument("delay_for can't be greater than 5"));
    if (n < 0) return Error(InvalidArgument("delay_for must not be negative"));
    tr.delay_for_ns = n * kNanosPerSecond;
  }
  auto handle = tails_->Open(std::move(tr), limits.max_concurrent_tail_requests);
  if (!handle.ok()) return Error(handle.status());
  return HttpResponse::AcceptWebSocket([tails = tails_, h = *handle](std::shared_ptr<WebSocket> ws) {
    tails->Attach(h->id(), std::move(ws));
    WebSocketCallbacks cb;
    // The session ends with this callback: it holds the last reference to the handle.
    cb.on_close = [h](int, const std::string&) {};
    return cb;
  });
}

HttpResponse StoreServer::HandleReady() {
  if (ready_) return HttpResponse::Text(200, "ready\n");
  std::lock_guard<std::mutex> l(mu_);
  return HttpResponse::Text(503, "Ingester not ready: " + not_ready_reason_ + "\n");
}

// Loki's log deletion API (store/retention/delete_api.h).
HttpResponse StoreServer::HandleDeleteApi(HttpRequest& req, bool generation_numbers) {
  if (!ready_) {
    std::lock_guard<std::mutex> l(mu_);
    return HttpResponse::Text(503, "store not ready: " + not_ready_reason_);
  }
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), /*allow_multi=*/false);
  if (!tenant.ok()) return Error(tenant.status());
  return generation_numbers ? delete_api_->HandleGenerationNumbers(req, *tenant) : delete_api_->HandleDelete(req, *tenant);
}

Status StoreServer::RunCompaction() {
  if (!ready_) return Unavailable("not ready");
  auto r = compactor_->RunPass();
  return r.ok() ? Status::OK() : r.status();
}

HttpResponse StoreServer::HandleBuildInfo() {
  json j = {{"version", LOGQ_VERSION}, {"revision", LOGQ_REVISION}, {"branch", "HEAD"},
            {"buildUser", "logq"},     {"buildDate", ""},            {"goVersion", ""}};
  return HttpResponse::Json(Dump(j));
}

HttpResponse StoreServer::HandlePush(HttpRequest& req, bool legacy) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), /*allow_multi=*/false);
  if (!tenant.ok()) return Error(tenant.status());
  // Held until the decoded request is ingested: it is about as large as what was inflated.
  api::DecodeReservation reservation(decode_budget_.get());
  api::DecodeOptions opts;
  opts.max_decompressed_bytes = config_.distributor.max_decompressed_size;
  opts.reservation = &reservation;
  opts.version = legacy ? api::PushPathVersion::kLegacy : api::PushPathVersion::kV1;
  auto decoded = api::DecodePushRequest(req.body, req.Header("Content-Type"), req.Header("Content-Encoding"), opts);
  if (!decoded.ok()) {
    metrics_
        .GetCounter("logq_discarded_requests_total", "Push requests whose body could not be decoded.",
                    {{"tenant", *tenant}})
        ->Inc();
    return Error(decoded.status());
  }
  Status st = ingester_->Push(*tenant, std::move(decoded).value());
  if (!st.ok()) return Error(st);
  return HttpResponse::NoContent();
}

Result<StoreServer::ReadScope> StoreServer::ParseReadScope(const HttpRequest& req) const {
  ReadScope scope;
  ASSIGN_OR_RETURN(scope.tenant, ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true));
  RETURN_IF_ERROR(ParseBounds(req, clock_->NowNanos(), &scope.start, &scope.end));
  return scope;
}

HttpResponse StoreServer::HandleLabels(HttpRequest& req, bool legacy) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  auto matchers = OptionalSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto names = querier_->LabelNames(tenant, *matchers, start, end + 1);
  if (legacy) return HttpResponse::Json(Dump({{"values", names}}));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", names}}));
}

HttpResponse StoreServer::HandleLabelValues(HttpRequest& req, const std::string& name, bool legacy) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  auto matchers = OptionalSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto values = querier_->LabelValues(tenant, name, *matchers, start, end + 1);
  if (legacy) return HttpResponse::Json(Dump({{"values", values}}));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", values}}));
}

HttpResponse StoreServer::HandleSeries(HttpRequest& req) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  std::vector<std::string> raw = req.Params("match[]");
  for (auto& m : req.Params("match")) raw.push_back(m);
  std::vector<std::vector<Matcher>> selectors;
  for (const auto& m : raw) {
    std::string compact;
    for (char c : m) {
      if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
    }
    if (compact == "{}" || compact.empty()) continue;
    auto ms = logql::ParseSelector(m, {.require_non_empty_matcher = false});
    if (!ms.ok()) return Error(ms.status());
    selectors.push_back(std::move(ms).value());
  }
  json data = json::array();
  for (const auto& l : querier_->Series(tenant, selectors, start, end + 1)) data.push_back(LabelsJson(*l));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", data}}));
}

HttpResponse StoreServer::HandleIndexStats(HttpRequest& req) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  auto matchers = logql::ParseSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto stats = querier_->Stats(tenant, *matchers, start, end + 1);
  if (!stats.ok()) return Error(stats.status());
  return HttpResponse::Json(Dump(
      {{"streams", stats->streams}, {"chunks", stats->chunks}, {"bytes", stats->bytes}, {"entries", stats->entries}}));
}

namespace {

struct QueryRequestParams {
  int64_t start = 0, end = 0, step = 0;
  bool forward = false;
  int limit = 100;
  std::string query;
};

// Loki's query parameter rules (loghttp ParseRangeQuery / ParseInstantQuery).
Result<QueryRequestParams> ParseQueryParams(const HttpRequest& req, bool instant, int64_t now,
                                            const ingest::Limits& limits) {
  QueryRequestParams q;
  q.query = req.Param("query");
  if (instant) {
    ASSIGN_OR_RETURN(q.end, ParseTimestampParam(req.Param("time"), now, "time"));
    q.start = q.end;
  } else {
    RETURN_IF_ERROR(ParseBounds(req, now, &q.start, &q.end));
    if (q.end < q.start) return InvalidArgument("end timestamp must not be before or equal to start time");
  }
  if (req.HasParam("limit")) {
    std::string v = req.Param("limit");
    char* e = nullptr;
    long n = std::strtol(v.c_str(), &e, 10);
    if (v.empty() || *e) return InvalidArgument("strconv.Atoi: parsing \"" + v + "\": invalid syntax");
    if (n <= 0) return InvalidArgument("limit must be a positive value");
    q.limit = static_cast<int>(std::min<long>(n, INT32_MAX));
  }
  if (req.HasParam("direction")) {
    std::string d = req.Param("direction"), up;
    for (char c : d) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "FORWARD") q.forward = true;
    else if (up != "BACKWARD") return InvalidArgument("invalid direction '" + d + "'");
  }
  if (!instant) {
    if (req.HasParam("step")) {
      ASSIGN_OR_RETURN(q.step, ParseStep(req.Param("step")));
    } else {
      q.step = std::max<int64_t>((q.end - q.start) / 250 / kNanosPerSecond, 1) * kNanosPerSecond;
    }
    if (q.step <= 0) {
      return InvalidArgument("zero or negative query resolution step widths are not accepted. Try a positive integer");
    }
    if ((q.end - q.start) / q.step > 11000) {
      return InvalidArgument(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)");
    }
    if (req.HasParam("interval")) {
      ASSIGN_OR_RETURN(int64_t interval, ParseStep(req.Param("interval")));
      if (interval < 0) return InvalidArgument("interval must be >= 0");
    }
    if (limits.max_query_length > 0 && q.end - q.start > limits.max_query_length) {
      return InvalidArgument(fmt::format("the query time range exceeds the limit (query length: {}, limit: {})",
                                         FormatDuration(q.end - q.start), FormatDuration(limits.max_query_length)));
    }
  }
  return q;
}

// Step alignment of a metric range query, as Loki's query frontend applies it: with
// `align_queries_with_step` (its step-align middleware) start and end are first rounded down
// to a multiple of step; then, with `align_metric_queries_to_step` (its interval splitter,
// on by default), start is rounded down and end up. Points are then at multiples of step
// since the epoch, whatever start a client sends.
void AlignToStep(const StoreConfig::QueryRange& cfg, int64_t step, int64_t* start, int64_t* end) {
  // Floor/ceil toward -inf/+inf so timestamps before 1970 align the same way.
  auto floor_to = [step](int64_t t) { return t - (((t % step) + step) % step); };
  if (cfg.align_queries_with_step) {
    *start = floor_to(*start);
    *end = floor_to(*end);
  }
  if (cfg.align_metric_queries_to_step) {
    *start = floor_to(*start);
    const int64_t down = floor_to(*end);
    if (down != *end) *end = down + step;
  }
}

bool WantsCategorizedLabels(const HttpRequest& req) {
  std::string flags = req.Header("X-Loki-Response-Encoding-Flags");
  size_t pos = 0;
  while (pos <= flags.size()) {
    size_t comma = flags.find(',', pos);
    std::string f = flags.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!f.empty() && f.front() == ' ') f.erase(f.begin());
    while (!f.empty() && f.back() == ' ') f.pop_back();
    if (f == "categorize-labels") return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

HttpResponse StoreServer::HandleQuery(HttpRequest& req, bool instant) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  const ingest::Limits& limits = config_.limits_config;
  auto params = ParseQueryParams(req, instant, clock_->NowNanos(), limits);
  if (!params.ok()) return Error(params.status());
  auto expr = logql::ParseExpr(params->query);
  if (!expr.ok()) return Error(expr.status());
  const bool log_query = (*expr)->kind == logql::Expr::Kind::kLog;
  if (log_query && params->limit > limits.max_entries_limit_per_query) {
    return Error(InvalidArgument(fmt::format("max entries limit per query exceeded, limit > max_entries_limit ({} > {})",
                                             params->limit, limits.max_entries_limit_per_query)));
  }
  engine::QueryParams qp;
  qp.expr = *expr;
  qp.start = params->start;
  qp.end = params->end;
  qp.step = params->step;
  if (!instant && !log_query) AlignToStep(config_.query_range, qp.step, &qp.start, &qp.end);
  qp.instant = instant;
  qp.forward = params->forward;
  qp.limit = static_cast<size_t>(params->limit);
  if (log_query && instant) qp.start = qp.end;  // v2.7.5: an instant log query reads [time, time)
  querier::TenantQuerier tq = querier_->ForTenant(*tenant);
  auto result = engine_->Query(&tq, qp);
  if (!result.ok()) return Error(result.status());
  return HttpResponse::Json(EncodeQueryResponse(*result, WantsCategorizedLabels(req)));
}

HttpResponse StoreServer::HandleLegacyQuery(HttpRequest& req) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  auto params = ParseQueryParams(req, false, clock_->NowNanos(), config_.limits_config);
  if (!params.ok()) return Error(params.status());
  std::string q = params->query;
  if (req.HasParam("regexp")) {
    std::string re;
    AppendGoQuoted(req.Param("regexp"), &re);
    q += " |~ " + re;
  }
  auto expr = logql::ParseExpr(q);
  if (!expr.ok()) return Error(expr.status());
  if ((*expr)->kind != logql::Expr::Kind::kLog) {
    return Error(InvalidArgument("legacy endpoints only support log queries"));
  }
  engine::QueryParams qp;
  qp.expr = *expr;
  qp.start = params->start;
  qp.end = params->end;
  qp.forward = params->forward;
  qp.limit = static_cast<size_t>(std::min(params->limit, config_.limits_config.max_entries_limit_per_query));
  querier::TenantQuerier tq = querier_->ForTenant(*tenant);
  auto result = engine_->Query(&tq, qp);
  if (!result.ok()) return Error(result.status());
  std::string out = "{\"streams\":[";
  for (size_t i = 0; i < result->streams.size(); ++i) {
    const auto& s = result->streams[i];
    if (i) out += ",";
    out += "{\"labels\":";
    AppendJsonString(s.labels.ToString(), &out);
    out += ",\"entries\":[";
    for (size_t j = 0; j < s.entries.size(); ++j) {
      if (j) out += ",";
      out += "{\"ts\":";
      AppendJsonString(FormatRFC3339Nano(s.entries[j].ts), &out);
      out += ",\"line\":";
      AppendJsonString(s.entries[j].line, &out);
      out += "}";
    }
    out += "]}";
  }
  out += "]}\n";
  return HttpResponse::Json(std::move(out));
}

HttpResponse StoreServer::HandleFormatQuery(HttpRequest& req) {
  auto expr = logql::ParseExpr(req.Param("query"));
  if (!expr.ok()) {
    std::string body = "{\"status\":\"invalid-query\",\"error\":";
    AppendJsonString(expr.status().message(), &body);
    body += "}\n";
    return HttpResponse::Json(std::move(body), 400);
  }
  std::string body = "{\"status\":\"success\",\"data\":";
  AppendJsonString(logql::ToString(**expr), &body);
  body += "}\n";
  return HttpResponse::Json(std::move(body));
}

HttpResponse StoreServer::HandleVolume(HttpRequest& req, bool range) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  auto matchers = logql::ParseSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  int limit = 100;
  if (req.HasParam("limit")) {
    limit = std::atoi(req.Param("limit").c_str());
    if (limit < 0) return Error(InvalidArgument("limit must be a positive value"));
    if (limit == 0) limit = 100;
  }
  std::string aggregate_by = req.HasParam("aggregateBy") ? req.Param("aggregateBy") : "series";
  if (aggregate_by != "series" && aggregate_by != "labels") return Error(InvalidArgument("invalid aggregation option"));
  // Grouping labels: targetLabels, else the names in the selector.
  std::vector<std::string> group;
  if (req.HasParam("targetLabels") && !req.Param("targetLabels").empty()) {
    std::string t = req.Param("targetLabels");
    size_t pos = 0;
    while (pos <= t.size()) {
      size_t c = t.find(',', pos);
      std::string name = t.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      if (!name.empty()) group.push_back(name);
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  } else {
    for (const Matcher& m : *matchers) {
      if (std::find(group.begin(), group.end(), m.name()) == group.end()) group.push_back(m.name());
    }
  }
  // Volume is bytes_over_time summed per group, evaluated by the engine (exact, one mechanism).
  std::string by;
  for (size_t i = 0; i < group.size(); ++i) by += (i ? "," : "") + group[i];
  std::string selector = "{";
  for (size_t i = 0; i < matchers->size(); ++i) selector += (i ? ", " : "") + (*matchers)[i].ToString();
  selector += "}";
  const int64_t step = range ? [&]() -> int64_t {
    if (!req.HasParam("step")) return std::max<int64_t>((end - start) / 250 / kNanosPerSecond, 1) * kNanosPerSecond;
    auto s = ParseStep(req.Param("step"));
    return s.ok() ? *s : 0;
  }() : 0;
  if (range && step <= 0) return Error(InvalidArgument("zero or negative query resolution step widths are not accepted. Try a positive integer"));
  const int64_t window = range ? step : std::max<int64_t>(end - start, kNanosPerMilli);
  // aggregateBy=labels is derived from the per-series result below.
  const std::string q = "sum by (" + by + ") (bytes_over_time(" + selector + "[" + FormatDuration(window) + "]))";
  auto expr = logql::ParseExpr(q);
  if (!expr.ok()) return Error(expr.status());
  engine::QueryParams qp;
  qp.expr = *expr;
  qp.start = range ? start : end;
  qp.end = end;
  qp.step = step;
  qp.instant = !range;
  querier::TenantQuerier tq = querier_->ForTenant(tenant);
  auto result = engine_->Query(&tq, qp);
  if (!result.ok()) return Error(result.status());
  if (aggregate_by == "labels") {
    // Per label name, the sum of its series' values per timestamp (a map: up to 11,000 points).
    std::map<std::string, std::map<int64_t, double>> per_name;
    for (const auto& s : result->series) {
      for (const Label& l : s.labels) {
        auto& agg = per_name[l.name];
        for (const auto& p : s.points) agg[p.t_ms] += p.v;
      }
    }
    result->series.clear();
    for (auto& [name, points] : per_name) {
      engine::Series s;
      s.labels.Add(name, "");
      s.points.reserve(points.size());
      for (const auto& [t, v] : points) s.points.push_back({t, v});
      result->series.push_back(std::move(s));
    }
  }
  if (!range) {
    std::stable_sort(result->series.begin(), result->series.end(), [](const engine::Series& a, const engine::Series& b) {
      if (a.points[0].v != b.points[0].v) return a.points[0].v > b.points[0].v;
      return a.labels.ToString() < b.labels.ToString();
    });
  }
  if (static_cast<int>(result->series.size()) > limit) result->series.resize(static_cast<size_t>(limit));
  return HttpResponse::Json(EncodeQueryResponse(*result, false));
}

HttpResponse StoreServer::HandleDetectedLabels(HttpRequest& req) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  auto matchers = OptionalSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  std::map<std::string, std::set<std::string>> values;
  for (const auto& l : querier_->Series(tenant, {*matchers}, start, end + 1)) {
    for (const Label& x : *l) values[x.name].insert(x.value);
  }
  json arr = json::array();
  for (const auto& [name, vals] : values) arr.push_back({{"label", name}, {"cardinality", vals.size()}});
  if (arr.empty()) return HttpResponse::Json("{}\n");
  return HttpResponse::Json(Dump({{"detectedLabels", arr}}));
}

HttpResponse StoreServer::HandleDetectedFields(HttpRequest& req, const std::string& field) {
  auto scope = ParseReadScope(req);
  if (!scope.ok()) return Error(scope.status());
  const std::string& tenant = scope->tenant;
  const int64_t start = scope->start, end = scope->end;
  int field_limit = 1000, line_limit = 1000;
  if (req.HasParam("limit")) field_limit = std::max(1, std::atoi(req.Param("limit").c_str()));
  if (req.HasParam("field_limit")) field_limit = std::max(1, std::atoi(req.Param("field_limit").c_str()));
  if (req.HasParam("line_limit")) line_limit = std::max(1, std::atoi(req.Param("line_limit").c_str()));
  auto expr = logql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return Error(expr.status());
  if ((*expr)->kind != logql::Expr::Kind::kLog) return Error(InvalidArgument("detected fields need a log query"));
  engine::QueryParams qp;
  qp.expr = *expr;
  qp.start = start;
  qp.end = end;
  qp.limit = static_cast<size_t>(line_limit);
  querier::TenantQuerier tq = querier_->ForTenant(tenant);
  auto result = engine_->Query(&tq, qp);
  if (!result.ok()) return Error(result.status());
  // Each line is parsed as JSON when it looks like an object, otherwise as logfmt.
  auto json_stage = logql::ParseLogExpr("{x=\"y\"} | json");
  auto logfmt_stage = logql::ParseLogExpr("{x=\"y\"} | logfmt");
  auto json_pl = pipeline::Pipeline::Make((*json_stage)->pipeline);
  auto logfmt_pl = pipeline::Pipeline::Make((*logfmt_stage)->pipeline);
  if (!json_pl.ok() || !logfmt_pl.ok()) return Error(Internal("cannot build field parsers"));
  struct Field {
    std::set<std::string> values;
    std::set<std::string> parsers;
    std::string type;
  };
  std::map<std::string, Field> fields;
  auto type_of = [](const std::string& v) -> std::string {
    if (v == "true" || v == "false") return "boolean";
    char* e = nullptr;
    std::strtoll(v.c_str(), &e, 10);
    if (!v.empty() && *e == 0) return "int";
    std::strtod(v.c_str(), &e);
    if (!v.empty() && *e == 0) return "float";
    if (ParseDuration(v).ok()) return "duration";
    if (ParseBytes(v).ok() && !v.empty() && !std::isdigit(static_cast<unsigned char>(v.back()))) return "bytes";
    return "string";
  };
  // Parsing the returned lines costs CPU as well: same timeout as the query, by time.
  const int64_t deadline = clock_->MonotonicNanos() + config_.limits_config.query_timeout;
  for (const auto& s : result->streams) {
    // Parse against the indexed labels only: fields the query itself parsed arrive in
    // e.parsed and would otherwise clash into `_extracted` names.
    auto jsp = (*json_pl)->ForStream(s.stream);
    auto lfp = (*logfmt_pl)->ForStream(s.stream);
    for (const auto& e : s.entries) {
      if (clock_->MonotonicNanos() > deadline) return Error(DeadlineExceeded(std::string(engine::kTimeoutMessage)));
      const bool is_json = !e.line.empty() && e.line.find_first_not_of(" \t") != std::string::npos &&
                           e.line[e.line.find_first_not_of(" \t")] == '{';
      std::string_view out;
      const pipeline::ResultLabels* rl = nullptr;
      std::vector<Label> md;
      for (const Label& l : e.structured_metadata) md.push_back(l);
      if (!(is_json ? jsp : lfp)->Process(e.ts, e.line, md, &out, &rl)) continue;
      std::vector<const Label*> found;  // parsed by the query, then by the detection parser
      for (const Label& l : e.parsed) found.push_back(&l);
      if (!rl->labels.Has("__error__")) {
        for (const Label& l : rl->parsed) found.push_back(&l);
      }
      for (const Label* lp : found) {
        const Label& l = *lp;
        if (l.name == "__error__" || l.name == "__error_details__") continue;
        Field& f = fields[l.name];
        f.values.insert(l.value);
        f.parsers.insert(is_json ? "json" : "logfmt");
        std::string t = type_of(l.value);
        f.type = f.type.empty() || f.type == t ? t : "string";
      }
      for (const Label& l : rl->structured_metadata) {
        Field& f = fields[l.name];
        f.values.insert(l.value);
        f.type = f.type.empty() || f.type == type_of(l.value) ? type_of(l.value) : "string";
      }
    }
  }
  if (!field.empty()) {
    json vals = json::array();
    auto it = fields.find(field);
    if (it != fields.end()) {
      for (const auto& v : it->second.values) {
        if (static_cast<int>(vals.size()) >= field_limit) break;
        vals.push_back(v);
      }
    }
    return HttpResponse::Json(Dump({{"values", vals}, {"limit", field_limit}}));
  }
  json arr = json::array();
  for (const auto& [name, f] : fields) {
    if (static_cast<int>(arr.size()) >= field_limit) break;
    json parsers = f.parsers.empty() ? json(nullptr) : json(std::vector<std::string>(f.parsers.begin(), f.parsers.end()));
    arr.push_back({{"label", name}, {"type", f.type}, {"cardinality", f.values.size()}, {"parsers", parsers}});
  }
  return HttpResponse::Json(Dump({{"fields", arr}, {"limit", field_limit}}));
}

HttpResponse StoreServer::HandleDrilldownLimits(HttpRequest& req) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  const auto& l = config_.limits_config;
  json limits = {{"discover_log_levels", false},
                 {"discover_service_name", json::array()},
                 {"log_level_fields", json::array()},
                 {"max_entries_limit_per_query", l.max_entries_limit_per_query},
                 {"max_line_size_truncate", l.max_line_size_truncate},
                 {"max_query_bytes_read", "0B"},
                 {"max_query_length", FormatDuration(l.max_query_length)},
                 {"max_query_lookback", "0s"},
                 {"max_query_range", "0s"},
                 {"max_query_series", l.max_query_series},
                 {"metric_aggregation_enabled", false},
                 {"pattern_persistence_enabled", false},
                 {"query_timeout", FormatDuration(l.query_timeout)},
                 {"retention_period", "0s"},
                 {"retention_stream", json::array()},
                 {"volume_enabled", true},
                 {"volume_max_series", 1000}};
  return HttpResponse::Json(Dump({{"limits", limits}, {"pattern_ingester_enabled", false}, {"version", LOGQ_VERSION}}));
}

}  // namespace logq::server
