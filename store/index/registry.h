// Registry: the in-memory label index of every stream, rebuilt from the `streams` and
// `postings` column families at open. It maps a tenant's label sets to fingerprints and
// answers "which streams match these matchers and had entries in [from, through)".
//
// Writes are two-phase so memory never runs ahead of disk: Resolve() (read-only) tells the
// ingester whether a stream or a (stream, day) posting is new; the ingester writes those
// records in the same RocksDB batch as the entries, and only after the write succeeds calls
// Commit(). Thread-safety: all methods are safe to call concurrently (shared mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"
#include "query/model/matcher.h"
#include "store/index/db.h"

namespace logq::index {

// UTC day number of a timestamp (ns): the posting bucket.
inline uint32_t DayOf(int64_t ts_ns) {
  int64_t d = ts_ns / (86400LL * 1'000'000'000);
  if (ts_ns < 0 && ts_ns % (86400LL * 1'000'000'000) != 0) --d;
  return d < 0 ? 0 : static_cast<uint32_t>(d);
}

struct StreamRef {
  uint64_t fp;
  std::shared_ptr<const Labels> labels;  // sorted
  // The stream has a posting on a UTC day overlapping the queried [from, through). Always
  // true from Match; MatchAnyDay also returns streams without one.
  bool day_in_range = true;
};

class Registry {
 public:
  // Rebuilds from disk. Call once before serving.
  Status Load(Db* db);

  struct Resolution {
    uint64_t fp = 0;
    bool new_stream = false;
  };
  // Finds the stream's fingerprint, or the one it will get (hash of the canonical text,
  // probing +1 past collisions with other label sets). `text` must be labels.ToString().
  Resolution Resolve(std::string_view tenant, const std::string& text) const;
  // True if the (stream, day) posting is not yet recorded.
  bool NeedsPosting(std::string_view tenant, uint64_t fp, uint32_t day) const;
  // Records a persisted stream and/or posting. Idempotent.
  void Commit(std::string_view tenant, uint64_t fp, const Labels& sorted_labels, const std::string& text,
              uint32_t day);

  size_t NumStreams(std::string_view tenant) const;
  size_t TotalStreams() const;
  std::vector<std::string> Tenants() const;

  // Every stream of `tenant` with its posting days (sorted), in no particular order.
  struct StreamInfo {
    uint64_t fp;
    std::shared_ptr<const Labels> labels;
    std::vector<uint32_t> days;
  };
  std::vector<StreamInfo> Streams(std::string_view tenant) const;
  // Forgets postings of days before `day` (retention removed the stream's data there).
  // Call only after the postings were deleted on disk.
  void RemoveDaysBefore(std::string_view tenant, uint64_t fp, uint32_t day);
  // Forgets a stream whose data is all gone. Call only after its stream record and postings
  // were deleted on disk, with no push of that stream in flight.
  void RemoveStream(std::string_view tenant, uint64_t fp);

  // Streams of `tenant` matching all matchers (empty list = all) with a posting on a day
  // overlapping [from, through) (day granularity).
  std::vector<StreamRef> Match(std::string_view tenant, const std::vector<Matcher>& matchers,
                               int64_t from, int64_t through) const;
  // Every stream of `tenant` matching all matchers, whatever its days; day_in_range tells
  // which have a posting on a day overlapping [from, through). In memory, no I/O.
  std::vector<StreamRef> MatchAnyDay(std::string_view tenant, const std::vector<Matcher>& matchers,
                                     int64_t from, int64_t through) const;

 private:
  struct Stream {
    uint64_t fp;
    std::shared_ptr<const Labels> labels;
    std::string text;
    std::vector<uint32_t> days;  // sorted, unique
  };
  struct Tenant {
    std::unordered_map<uint64_t, Stream> by_fp;
    std::unordered_map<std::string, uint64_t> by_text;
  };
  Tenant* GetOrCreateTenantLocked(std::string_view tenant);

  mutable std::shared_mutex mu_;
  std::map<std::string, Tenant, std::less<>> tenants_;
};

}  // namespace logq::index
