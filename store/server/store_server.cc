#include "store/server/store_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "query/base/units.h"
#include "query/logql/selector.h"
#include "store/api/push.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/ingest/ingester.h"
#include "store/querier/querier.h"
#include "store/server/tenant.h"

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

json ZeroStats(int64_t exec_nanos, size_t returned) {
  json chunk = {{"headChunkBytes", 0}, {"headChunkLines", 0}, {"decompressedBytes", 0},
                {"decompressedLines", 0}, {"compressedBytes", 0}, {"totalDuplicates", 0}};
  json store = {{"totalChunksRef", 0}, {"totalChunksDownloaded", 0}, {"chunksDownloadTime", 0}, {"chunk", chunk}};
  json cache = {{"entriesFound", 0}, {"entriesRequested", 0}, {"entriesStored", 0},
                {"bytesReceived", 0}, {"bytesSent", 0}, {"requests", 0}};
  return {{"summary",
           {{"bytesProcessedPerSecond", 0}, {"linesProcessedPerSecond", 0}, {"totalBytesProcessed", 0},
            {"totalLinesProcessed", 0}, {"execTime", static_cast<double>(exec_nanos) / 1e9}, {"queueTime", 0},
            {"subqueries", 0}, {"totalEntriesReturned", returned}}},
          {"querier", {{"store", store}}},
          {"ingester",
           {{"totalReached", 0}, {"totalChunksMatched", 0}, {"totalBatches", 0}, {"totalLinesSent", 0},
            {"store", store}}},
          {"cache", {{"chunk", cache}, {"index", cache}, {"result", cache}}}};
}

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
  ingest::IngesterOptions io;
  io.sync_writes = config_.storage.sync_writes;
  io.chunk_target_size = config_.ingester.chunk_target_size;
  io.max_chunk_age = config_.ingester.max_chunk_age;
  io.chunk_idle_period = config_.ingester.chunk_idle_period;
  io.chunk.zstd_level = config_.ingester.chunk_compression_level;
  const ingest::Limits limits = config_.limits_config;
  ingester_ = std::make_unique<ingest::Ingester>(
      db_.get(), registry_.get(), [limits](std::string_view) { return limits; }, clock_, &metrics_, io);
  {
    std::lock_guard<std::mutex> l(mu_);
    not_ready_reason_ = "recovering stream heads";
  }
  RETURN_IF_ERROR(ingester_->Recover([](uint64_t n) {
    if (n > 0) spdlog::info("recovering heads: {} entries scanned", n);
  }));
  querier_ = std::make_unique<querier::StoreQuerier>(db_.get(), registry_.get());

  metrics_.AddCollector([this] {
    metrics_.GetGauge("logq_streams", "Streams in the index.")->Set(static_cast<double>(registry_->TotalStreams()));
    metrics_.GetGauge("logq_head_entries", "Entries in stream heads, not yet cut into chunks.")
        ->Set(static_cast<double>(ingester_->HeadEntries()));
    metrics_.GetGauge("logq_disk_bytes", "Bytes of RocksDB files on disk (SST, blob, WAL).")
        ->Set(static_cast<double>(db_->DiskBytes()));
  });
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
    l.lock();
  }
}

Status StoreServer::CutAllChunks() {
  if (!ready_) return Unavailable("not ready");
  auto n = ingester_->CutChunks(true);
  return n.ok() ? Status::OK() : n.status();
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
  if (cutter_.joinable()) cutter_.join();
  if (db_) {
    Status s = db_->Flush();
    if (!s.ok()) spdlog::error("flush on shutdown failed: {}", s.ToString());
  }
  querier_.reset();
  ingester_.reset();
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
  if (suffix(kV1Label)) values = true;
  else if (suffix(kLegacyLabel)) values = legacy_values = true;

  const bool known = push || values || p == "/loki/api/v1/labels" || p == "/loki/api/v1/label" ||
                     p == "/api/prom/label" || p == "/loki/api/v1/series" || p == "/api/prom/series" ||
                     p == "/loki/api/v1/index/stats" || p == "/loki/api/v1/query_range" || p == "/api/prom/query";
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
  *route = "query_range";
  return HandleQueryRange(req);
}

HttpResponse StoreServer::HandleReady() {
  if (ready_) return HttpResponse::Text(200, "ready\n");
  std::lock_guard<std::mutex> l(mu_);
  return HttpResponse::Text(503, "Ingester not ready: " + not_ready_reason_ + "\n");
}

HttpResponse StoreServer::HandleBuildInfo() {
  json j = {{"version", LOGQ_VERSION}, {"revision", LOGQ_REVISION}, {"branch", "HEAD"},
            {"buildUser", "logq"},     {"buildDate", ""},            {"goVersion", ""}};
  return HttpResponse::Json(Dump(j));
}

HttpResponse StoreServer::HandlePush(HttpRequest& req, bool legacy) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), /*allow_multi=*/false);
  if (!tenant.ok()) return Error(tenant.status());
  api::DecodeOptions opts;
  opts.max_decompressed_bytes = config_.distributor.max_decompressed_size;
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

HttpResponse StoreServer::HandleLabels(HttpRequest& req, bool legacy) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  int64_t start, end;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
  auto matchers = OptionalSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto names = querier_->LabelNames(*tenant, *matchers, start, end + 1);
  if (legacy) return HttpResponse::Json(Dump({{"values", names}}));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", names}}));
}

HttpResponse StoreServer::HandleLabelValues(HttpRequest& req, const std::string& name, bool legacy) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  int64_t start, end;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
  auto matchers = OptionalSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto values = querier_->LabelValues(*tenant, name, *matchers, start, end + 1);
  if (legacy) return HttpResponse::Json(Dump({{"values", values}}));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", values}}));
}

HttpResponse StoreServer::HandleSeries(HttpRequest& req) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  int64_t start, end;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
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
  for (const auto& l : querier_->Series(*tenant, selectors, start, end + 1)) data.push_back(LabelsJson(*l));
  return HttpResponse::Json(Dump({{"status", "success"}, {"data", data}}));
}

HttpResponse StoreServer::HandleIndexStats(HttpRequest& req) {
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  int64_t start, end;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
  auto matchers = logql::ParseSelector(req.Param("query"));
  if (!matchers.ok()) return Error(matchers.status());
  auto stats = querier_->Stats(*tenant, *matchers, start, end + 1);
  if (!stats.ok()) return Error(stats.status());
  return HttpResponse::Json(Dump(
      {{"streams", stats->streams}, {"chunks", stats->chunks}, {"bytes", stats->bytes}, {"entries", stats->entries}}));
}

HttpResponse StoreServer::HandleQueryRange(HttpRequest& req) {
  const int64_t t0 = clock_->MonotonicNanos();
  auto tenant = ResolveTenant(config_.auth_enabled, req.Header("X-Scope-OrgID"), true);
  if (!tenant.ok()) return Error(tenant.status());
  const ingest::Limits& limits = config_.limits_config;
  int64_t start, end;
  Status st = ParseBounds(req, clock_->NowNanos(), &start, &end);
  if (!st.ok()) return Error(st);
  if (end < start) return Error(InvalidArgument("end timestamp must not be before or equal to start time"));
  int limit = 100;
  if (req.HasParam("limit")) {
    char* e = nullptr;
    std::string v = req.Param("limit");
    long n = std::strtol(v.c_str(), &e, 10);
    if (v.empty() || *e) return Error(InvalidArgument("strconv.Atoi: parsing \"" + v + "\": invalid syntax"));
    if (n <= 0) return Error(InvalidArgument("limit must be a positive value"));
    if (n > limits.max_entries_limit_per_query) {
      return Error(InvalidArgument(fmt::format("max entries limit per query exceeded, limit > max_entries_limit ({} > {})",
                                               n, limits.max_entries_limit_per_query)));
    }
    limit = static_cast<int>(n);
  }
  bool forward = false;
  if (req.HasParam("direction")) {
    std::string d = req.Param("direction");
    std::string up;
    for (char c : d) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "FORWARD") forward = true;
    else if (up != "BACKWARD") return Error(InvalidArgument("invalid direction '" + d + "'"));
  }
  if (req.HasParam("step")) {
    auto step = ParseStep(req.Param("step"));
    if (!step.ok()) return Error(step.status());
    if (*step <= 0) {
      return Error(InvalidArgument("zero or negative query resolution step widths are not accepted. Try a positive integer"));
    }
    if ((end - start) / *step > 11000) {
      return Error(InvalidArgument("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"));
    }
  }
  if (limits.max_query_length > 0 && end - start > limits.max_query_length) {
    return Error(InvalidArgument(fmt::format("the query time range exceeds the limit (query length: {}, limit: {})",
                                             FormatDuration(end - start), FormatDuration(limits.max_query_length))));
  }
  const std::string q = req.Param("query");
  if (q.size() > 131072) {
    return Error(InvalidArgument(fmt::format("parse error : input size too long ({} > {})", q.size(), 131072)));
  }
  auto matchers = logql::ParseSelector(q);
  // Until the LogQL engine lands (issue 3) log queries are stream selectors only; anything
  // else gets the selector parser's error, which names the position.
  if (!matchers.ok()) return Error(matchers.status());
  querier::SelectParams sp;
  sp.matchers = std::move(matchers).value();
  sp.start = start;
  sp.end = end;
  sp.forward = forward;
  sp.limit = static_cast<size_t>(limit);
  auto res = querier_->SelectLogs(*tenant, sp);
  if (!res.ok()) return Error(res.status());
  json result = json::array();
  size_t returned = 0;
  for (const auto& s : *res) {
    json values = json::array();
    for (const auto& e : s.entries) values.push_back(json::array({std::to_string(e.ts), e.line}));
    returned += s.entries.size();
    result.push_back({{"stream", LabelsJson(*s.labels)}, {"values", std::move(values)}});
  }
  json body = {{"status", "success"},
               {"data", {{"resultType", "streams"}, {"result", std::move(result)},
                         {"stats", ZeroStats(clock_->MonotonicNanos() - t0, returned)}}}};
  return HttpResponse::Json(Dump(body));
}

}  // namespace logq::server
