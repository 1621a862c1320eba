#include "store/retention/delete_requests.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "query/logql/parser.h"

namespace logq::retention {
namespace {

constexpr std::string_view kRequestPrefix = "delete_request/";
constexpr std::string_view kGenerationPrefix = "delete_request_gen/";

void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string TenantPart(std::string_view tenant) {
  std::string k;
  k.push_back(static_cast<char>(tenant.size()));
  k.append(tenant);
  return k;
}

std::string TenantPrefix(std::string_view tenant) { return std::string(kRequestPrefix) + TenantPart(tenant); }

std::string RequestKey(const DeleteRequest& r) {
  std::string k = TenantPrefix(r.tenant);
  PutU64(&k, static_cast<uint64_t>(r.created_at_ms) ^ (1ULL << 63));
  k.append(r.request_id);
  return k;
}

std::string EncodeValue(const DeleteRequest& r) {
  nlohmann::json j = {{"tenant", r.tenant},   {"request_id", r.request_id}, {"start_ms", r.start_ms},
                      {"end_ms", r.end_ms},   {"query", r.query},           {"status", r.status},
                      {"created_at_ms", r.created_at_ms}, {"deleted_lines", r.deleted_lines}};
  return j.dump();
}

Result<DeleteRequest> DecodeValue(std::string_view v) {
  auto j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return DataLoss("malformed delete request record");
  DeleteRequest r;
  try {
    r.tenant = j.at("tenant").get<std::string>();
    r.request_id = j.at("request_id").get<std::string>();
    r.start_ms = j.at("start_ms").get<int64_t>();
    r.end_ms = j.at("end_ms").get<int64_t>();
    r.query = j.at("query").get<std::string>();
    r.status = j.at("status").get<std::string>();
    r.created_at_ms = j.at("created_at_ms").get<int64_t>();
    r.deleted_lines = j.value("deleted_lines", uint64_t{0});
  } catch (const nlohmann::json::exception&) {
    return DataLoss("malformed delete request record");
  }
  return r;
}

// Go's strconv.FormatFloat(ms/1000, 'f', -1, 64) for millisecond times: "1711380000",
// "1711725636.412", "1711725636.5".
std::string SecondsJson(int64_t ms) {
  std::string sign = ms < 0 ? "-" : "";
  uint64_t a = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  uint64_t secs = a / 1000, frac = a % 1000;
  if (frac == 0) return fmt::format("{}{}", sign, secs);
  std::string f = fmt::format("{:03d}", frac);
  while (f.back() == '0') f.pop_back();
  return fmt::format("{}{}.{}", sign, secs, f);
}

std::string ClaimKey(std::string_view tenant, std::string_view id) {
  std::string k(tenant);
  k.push_back('\0');
  k.append(id);
  return k;
}

}  // namespace

std::string DeleteRequestsToJson(const std::vector<DeleteRequest>& requests) {
  // Written by hand: times are JSON numbers in Go's shortest float form.
  std::string out = "[";
  for (size_t i = 0; i < requests.size(); ++i) {
    const DeleteRequest& r = requests[i];
    if (i > 0) out += ',';
    out += fmt::format("{{\"request_id\":{},\"start_time\":{},\"end_time\":{},\"query\":{},\"status\":{},\"created_at\":{}}}",
                       nlohmann::json(r.request_id).dump(), SecondsJson(r.start_ms), SecondsJson(r.end_ms),
                       nlohmann::json(r.query).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       nlohmann::json(r.status).dump(), SecondsJson(r.created_at_ms));
  }
  out += "]\n";
  return out;
}

Status ValidateDeleteQuery(std::string_view query, bool* has_filter) {
  auto parsed = logql::ParseLogExpr(query);
  if (!parsed.ok()) return InvalidArgument("invalid query expression: " + parsed.status().message());
  auto p = pipeline::Pipeline::Make((*parsed)->pipeline);
  if (!p.ok()) return InvalidArgument("invalid query expression: " + p.status().message());
  if (has_filter) {
    *has_filter = false;
    for (const auto& st : (*parsed)->pipeline) {
      if (st.kind == logql::Stage::Kind::kLineFilter || st.kind == logql::Stage::Kind::kLabelFilter) {
        *has_filter = true;
      }
    }
  }
  return Status::OK();
}

Result<DeleteRequest> DeleteRequestStore::Add(std::string_view tenant, std::string_view query, int64_t start_ms,
                                              int64_t end_ms, int64_t now_ms) {
  RETURN_IF_ERROR(ValidateDeleteQuery(query));
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(std::vector<DeleteRequest> existing, ListPrefix(TenantPrefix(tenant)));
  DeleteRequest r;
  r.tenant = std::string(tenant);
  r.query = std::string(query);
  r.start_ms = start_ms;
  r.end_ms = end_ms;
  r.created_at_ms = now_ms;
  // Loki's IDs are 8 hex digits; derive them from the request and probe past collisions.
  std::string seed = fmt::format("{}\n{}\n{}\n{}\n{}", tenant, query, start_ms, end_ms, now_ms);
  uint64_t h = XXH3_64bits(seed.data(), seed.size());
  for (;; ++h) {
    r.request_id = fmt::format("{:08x}", static_cast<uint32_t>(h));
    bool taken = std::any_of(existing.begin(), existing.end(),
                             [&](const DeleteRequest& e) { return e.request_id == r.request_id; });
    if (!taken) break;
  }
  auto batch = db_->NewWriteBatch();
  batch->PutMeta(RequestKey(r), EncodeValue(r));
  RETURN_IF_ERROR(BumpGeneration(batch.get(), tenant, now_ms));
  RETURN_IF_ERROR(db_->Write(batch.get(), /*sync=*/true));
  return r;
}

Result<std::vector<DeleteRequest>> DeleteRequestStore::ListPrefix(const std::string& prefix) {
  std::vector<DeleteRequest> out;
  Status bad;
  RETURN_IF_ERROR(db_->ForEachMeta(prefix, [&](std::string_view, std::string_view value) {
    auto r = DecodeValue(value);
    if (!r.ok()) {
      bad = r.status();
      return;
    }
    out.push_back(std::move(r).value());
  }));
  RETURN_IF_ERROR(bad);
  return out;
}

Result<std::vector<DeleteRequest>> DeleteRequestStore::List(std::string_view tenant) {
  std::lock_guard<std::mutex> l(mu_);
  return ListPrefix(TenantPrefix(tenant));
}

Result<std::vector<DeleteRequest>> DeleteRequestStore::ListAll() {
  std::lock_guard<std::mutex> l(mu_);
  return ListPrefix(std::string(kRequestPrefix));
}

Status DeleteRequestStore::Cancel(std::string_view tenant, std::string_view request_id, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(std::vector<DeleteRequest> all, ListPrefix(TenantPrefix(tenant)));
  for (const DeleteRequest& r : all) {
    if (r.request_id != request_id) continue;
    if (r.status != kStatusReceived || claimed_.count(ClaimKey(tenant, request_id))) {
      return Status(StatusCode::kFailedPrecondition,
                    "deletion of request which is in process or already processed is not allowed");
    }
    auto batch = db_->NewWriteBatch();
    batch->DeleteMeta(RequestKey(r));
    RETURN_IF_ERROR(BumpGeneration(batch.get(), tenant, now_ms));
    return db_->Write(batch.get(), /*sync=*/true);
  }
  return NotFound("could not find delete request with given id");
}

std::vector<DeleteRequest> DeleteRequestStore::Claim(const std::vector<DeleteRequest>& candidates) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<DeleteRequest> out;
  for (const DeleteRequest& c : candidates) {
    auto current = ListPrefix(TenantPrefix(c.tenant));
    if (!current.ok()) continue;
    for (const DeleteRequest& r : *current) {
      if (r.request_id == c.request_id && r.status == kStatusReceived) {
        claimed_.insert(ClaimKey(r.tenant, r.request_id));
        out.push_back(r);
      }
    }
  }
  return out;
}

Status DeleteRequestStore::Finish(const std::vector<DeleteRequest>& done, bool success, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  Status st;
  if (success && !done.empty()) {
    auto batch = db_->NewWriteBatch();
    std::set<std::string> tenants;
    for (DeleteRequest r : done) {
      r.status = std::string(kStatusProcessed);
      batch->PutMeta(RequestKey(r), EncodeValue(r));
      tenants.insert(r.tenant);
    }
    for (const auto& t : tenants) {
      if (st.ok()) st = BumpGeneration(batch.get(), t, now_ms);
    }
    if (st.ok()) st = db_->Write(batch.get(), /*sync=*/true);
  }
  for (const DeleteRequest& r : done) claimed_.erase(ClaimKey(r.tenant, r.request_id));
  return st;
}

Status DeleteRequestStore::BumpGeneration(index::WriteBatch* batch, std::string_view tenant, int64_t now_ms) {
  batch->PutMeta(std::string(kGenerationPrefix) + TenantPart(tenant), std::to_string(now_ms));
  return Status::OK();
}

Result<std::string> DeleteRequestStore::CacheGenerationNumber(std::string_view tenant) {
  std::lock_guard<std::mutex> l(mu_);
  std::string key = std::string(kGenerationPrefix) + TenantPart(tenant);
  std::string gen;
  RETURN_IF_ERROR(db_->ForEachMeta(key, [&](std::string_view k, std::string_view v) {
    if (k == key) gen = std::string(v);
  }));
  return gen;
}

Result<std::unique_ptr<DeleteMatcher>> DeleteMatcher::Make(const DeleteRequest& request) {
  auto parsed = logql::ParseLogExpr(request.query);
  if (!parsed.ok()) return InvalidArgument("invalid query expression: " + parsed.status().message());
  auto m = std::make_unique<DeleteMatcher>();
  ASSIGN_OR_RETURN(m->pipeline_, pipeline::Pipeline::Make((*parsed)->pipeline));
  m->request_ = request;
  m->matchers_ = (*parsed)->matchers;
  m->start_ns_ = request.start_ms * 1'000'000;
  m->end_ns_ = request.end_ms * 1'000'000;
  return m;
}

}  // namespace logq::retention
