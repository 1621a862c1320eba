// Log deletion requests (Loki's `/loki/api/v1/delete`): their persistent store and the
// matcher the compactor runs over a stream's entries.
//
// A request names a tenant, a LogQL log query (selector plus optional pipeline: line
// filters, parsers, label filters) and an inclusive time range [start, end] with millisecond
// precision (Loki's model.Time). It is `received` when created; the user may cancel it
// while it is `received`; the compactor processes it once `delete_request_cancel_period`
// has passed since creation, deleting every matching entry, and marks it `processed`.
//
// Records live in the `meta` column family under
//   "delete_request/" · u8 len(tenant) · tenant · created_at_ms(8, big-endian) · id
// with a small JSON value, so they survive restarts and list in creation order.
//
// Thread-safety: DeleteRequestStore is safe to use from any thread (one mutex orders
// add / cancel / claim / finish). DeleteMatcher::ForStream results are single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"
#include "query/model/matcher.h"
#include "query/pipeline/pipeline.h"
#include "store/index/db.h"

namespace logq::retention {

inline constexpr std::string_view kStatusReceived = "received";
inline constexpr std::string_view kStatusProcessed = "processed";

struct DeleteRequest {
  std::string tenant;
  std::string request_id;  // 8 lowercase hex digits
  int64_t start_ms = 0;    // inclusive
  int64_t end_ms = 0;      // inclusive
  std::string query;
  std::string status = std::string(kStatusReceived);
  int64_t created_at_ms = 0;
  uint64_t deleted_lines = 0;  // filled when processed (not part of Loki's JSON)
};

// Loki's JSON for GET /loki/api/v1/delete: an array ordered by created_at, times in
// seconds with millisecond fractions (`1711380000`, `1711725636.412`).
std::string DeleteRequestsToJson(const std::vector<DeleteRequest>& requests);

// Checks a deletion query as Loki does (a log selector with an optional pipeline that
// builds); InvalidArgument "invalid query expression: ..." otherwise. `*has_filter` is set
// when the pipeline has line or label filters.
Status ValidateDeleteQuery(std::string_view query, bool* has_filter = nullptr);

class DeleteRequestStore {
 public:
  explicit DeleteRequestStore(index::Db* db) : db_(db) {}

  // Validates the query and stores a new `received` request.
  Result<DeleteRequest> Add(std::string_view tenant, std::string_view query, int64_t start_ms, int64_t end_ms,
                            int64_t now_ms);
  // The tenant's requests, oldest first.
  Result<std::vector<DeleteRequest>> List(std::string_view tenant);
  // Every tenant's requests.
  Result<std::vector<DeleteRequest>> ListAll();
  // Cancels a `received` request. NotFound "could not find delete request with given id";
  // FailedPrecondition "deletion of request which is in process or already processed is not
  // allowed" when it is processed or being processed.
  Status Cancel(std::string_view tenant, std::string_view request_id, int64_t now_ms);

  // Claims `received` requests for processing (a claimed request can no longer be
  // cancelled). Returns the ones still present and received.
  std::vector<DeleteRequest> Claim(const std::vector<DeleteRequest>& candidates);
  // Marks claimed requests processed (persisted) and releases the claim. On error the
  // requests stay received and are processed again by a later pass (deletion is idempotent).
  Status Finish(const std::vector<DeleteRequest>& done, bool success, int64_t now_ms);

  // Loki's cache generation number of the tenant: changes whenever its requests change.
  Result<std::string> CacheGenerationNumber(std::string_view tenant);

 private:
  Result<std::vector<DeleteRequest>> ListPrefix(const std::string& prefix);
  Status BumpGeneration(index::WriteBatch* batch, std::string_view tenant, int64_t now_ms);

  index::Db* db_;
  std::mutex mu_;
  std::set<std::string> claimed_;  // tenant + '\0' + id
};

// A request compiled for the compactor: selector matchers, time bounds in ns and the
// pipeline that decides, per line, whether it is deleted.
class DeleteMatcher {
 public:
  static Result<std::unique_ptr<DeleteMatcher>> Make(const DeleteRequest& request);

  const DeleteRequest& request() const { return request_; }
  int64_t start_ns() const { return start_ns_; }
  int64_t end_ns() const { return end_ns_; }
  // True if the request deletes whole streams in its range (no pipeline stages).
  bool deletes_whole_range() const { return pipeline_->IsNoop(); }
  bool MatchesStream(const Labels& labels) const { return MatchesAll(matchers_, labels); }
  bool Overlaps(int64_t min_ts, int64_t max_ts) const { return start_ns_ <= max_ts && end_ns_ >= min_ts; }
  std::unique_ptr<pipeline::StreamPipeline> ForStream(const Labels& labels) const {
    return pipeline_->ForStream(labels);
  }

 private:
  DeleteRequest request_;
  std::vector<Matcher> matchers_;
  std::shared_ptr<const pipeline::Pipeline> pipeline_;
  int64_t start_ns_ = 0;
  int64_t end_ns_ = 0;
};

}  // namespace logq::retention
