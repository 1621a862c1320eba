#include "store/retention/delete_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "query/base/units.h"

namespace logq::retention {
namespace {

// Go's http.Error: the message and a newline, text/plain.
HttpResponse GoError(int status, std::string_view msg) { return HttpResponse::Text(status, std::string(msg) + "\n"); }

}  // namespace

std::string GoDurationString(int64_t d) {
  if (d == 0) return "0s";
  std::string sign = d < 0 ? "-" : "";
  uint64_t u = d < 0 ? static_cast<uint64_t>(-(d + 1)) + 1 : static_cast<uint64_t>(d);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t r = v % unit;
    if (r == 0) return s;
    std::string f = std::to_string(r);
    f = std::string(std::to_string(unit).size() - 1 - f.size(), '0') + f;
    while (!f.empty() && f.back() == '0') f.pop_back();
    return s + "." + f;
  };
  if (u < 1'000'000'000ULL) {
    if (u < 1000) return sign + std::to_string(u) + "ns";
    if (u < 1'000'000) return sign + frac(u, 1000) + "µs";
    return sign + frac(u, 1'000'000) + "ms";
  }
  uint64_t h = u / 3'600'000'000'000ULL;
  uint64_t rest = u % 3'600'000'000'000ULL;
  uint64_t m = rest / 60'000'000'000ULL;
  uint64_t s = rest % 60'000'000'000ULL;
  std::string out = sign;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += frac(s, 1'000'000'000ULL) + "s";
  return out;
}

Result<int64_t> ParseDeleteTime(std::string_view v, int64_t now_ms) {
  if (v.empty()) return now_ms;
  auto t = ParseRFC3339(v);
  if (t.ok()) return *t / 1'000'000;
  if (v.size() != 10) return InvalidArgument("not unix seconds");
  std::string s(v);
  char* end = nullptr;
  double secs = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(secs)) return InvalidArgument("not unix seconds");
  return static_cast<int64_t>(std::llround(secs * 1000));
}

HttpResponse DeleteApi::HandleDelete(const HttpRequest& req, const std::string& tenant) {
  if (limits_for_(tenant).deletion_mode == "disabled") {
    return GoError(403, "deletion is not available for this tenant");
  }
  const int64_t now_ms = clock_->NowNanos() / 1'000'000;
  if (req.method == "POST" || req.method == "PUT") return Add(req, tenant);
  if (req.method == "GET") {
    auto list = store_->List(tenant);
    if (!list.ok()) return GoError(500, list.status().message());
    std::stable_sort(list->begin(), list->end(),
                     [](const DeleteRequest& a, const DeleteRequest& b) { return a.created_at_ms < b.created_at_ms; });
    return HttpResponse::Json(DeleteRequestsToJson(*list));
  }
  if (req.method == "DELETE") {
    Status st = store_->Cancel(tenant, req.Param("request_id"), now_ms);
    if (st.ok()) {
      spdlog::info("delete request {} of tenant {} cancelled", req.Param("request_id"), tenant);
      return HttpResponse::NoContent();
    }
    if (st.code() == StatusCode::kNotFound) return GoError(404, st.message());
    if (st.code() == StatusCode::kFailedPrecondition) return GoError(400, st.message());
    return GoError(500, st.message());
  }
  return HttpResponse::Text(405, "");
}

HttpResponse DeleteApi::Add(const HttpRequest& req, const std::string& tenant) {
  const int64_t now_ms = clock_->NowNanos() / 1'000'000;
  const std::string query = req.Param("query");
  if (query.empty()) return GoError(400, "query not set");
  bool has_filter = false;
  Status valid = ValidateDeleteQuery(query, &has_filter);
  if (!valid.ok()) return GoError(400, valid.message());
  const std::string start_param = req.Param("start");
  if (start_param.empty()) return GoError(400, "start time not set");
  auto start = ParseDeleteTime(start_param, now_ms);
  if (!start.ok()) return GoError(400, "invalid start time: require unix seconds or RFC3339 format");
  auto end = ParseDeleteTime(req.Param("end"), now_ms);
  if (!end.ok()) return GoError(400, "invalid end time: require unix seconds or RFC3339 format");
  if (*end > now_ms) return GoError(400, "deletes in the future are not allowed");
  if (*start > *end) return GoError(400, "start time can't be greater than end time");
  if (has_filter) {
    // Loki shards requests with line filters by max_interval; logq applies a request in one
    // pass, but validates the parameter the same way.
    const int64_t span_ns = (*end - *start) * 1'000'000;
    const std::string mi = req.Param("max_interval");
    if (mi.empty()) {
      if (span_ns < 1'000'000'000) return GoError(400, "difference between start time and end time must be at least one second");
    } else {
      auto d = ParseDuration(mi);
      if (!d.ok() || *d < 1'000'000'000) return GoError(400, "invalid max_interval: valid time units are 's', 'm', 'h'");
      if (max_interval_ > 0 && *d > max_interval_) {
        return GoError(400, "max_interval can't be greater than " + GoDurationString(max_interval_));
      }
      if (*d > span_ns) {
        return GoError(400, "max_interval can't be greater than the interval to be deleted (" + GoDurationString(span_ns) + ")");
      }
    }
  }
  auto added = store_->Add(tenant, query, *start, *end, now_ms);
  if (!added.ok()) {
    if (added.status().code() == StatusCode::kInvalidArgument) return GoError(400, added.status().message());
    spdlog::error("error adding delete request to the store: {}", added.status().ToString());
    return GoError(500, added.status().message());
  }
  spdlog::info("delete request for user added: delete_request_id={} user={} query={}", added->request_id, tenant, query);
  metrics_->GetCounter("logq_compactor_delete_requests_received_total", "Delete requests received.", {{"tenant", tenant}})
      ->Inc();
  return HttpResponse::NoContent();
}

HttpResponse DeleteApi::HandleGenerationNumbers(const HttpRequest& req, const std::string& tenant) {
  if (req.method != "GET") return HttpResponse::Text(405, "");
  auto gen = store_->CacheGenerationNumber(tenant);
  if (!gen.ok()) return GoError(500, "error getting cache generation number " + gen.status().message());
  return HttpResponse::Json("\"" + *gen + "\"\n");
}

}  // namespace logq::retention
