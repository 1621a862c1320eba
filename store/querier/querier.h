// StoreQuerier: the store's read side over the index, chunks and heads. It answers the
// metadata endpoints (labels, label values, series, index stats) and selects log entries
// of matching streams for a time range, merged across chunks and the head, deduplicated
// by (timestamp, line), in the requested direction and capped at a global limit.
//
// Issue 3 puts the LogQL engine on top of SelectLogs; until then log queries are stream
// selectors only. Thread-safety: all methods are const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"
#include "query/engine/querier.h"
#include "query/model/matcher.h"
#include "store/index/db.h"
#include "store/index/head_directory.h"
#include "store/index/registry.h"

namespace logq::querier {

struct LogEntry {
  int64_t ts;
  std::string line;
};

struct StreamResult {
  std::shared_ptr<const Labels> labels;
  std::vector<LogEntry> entries;  // in query direction
};

struct SelectParams {
  std::vector<Matcher> matchers;
  int64_t start = 0;  // inclusive
  int64_t end = 0;    // exclusive
  bool forward = false;
  size_t limit = 100;
};

struct IndexStats {
  uint64_t streams = 0, chunks = 0, bytes = 0, entries = 0;
};

// The engine's Querier for one tenant: matchers → streams (via the registry) → sources that
// read chunks and head under one shared snapshot.
class TenantQuerier final : public engine::Querier {
 public:
  // `heads` (optional) lets reads skip empty heads; without it every head is scanned.
  TenantQuerier(index::Db* db, const index::Registry* registry, std::string tenant,
                const index::HeadDirectory* heads = nullptr)
      : db_(db), registry_(registry), tenant_(std::move(tenant)), heads_(heads) {}
  Result<std::vector<std::unique_ptr<engine::StreamSource>>> Select(const engine::SelectRequest& request) override;

 private:
  index::Db* db_;
  const index::Registry* registry_;
  std::string tenant_;
  const index::HeadDirectory* heads_;
};

class StoreQuerier {
 public:
  StoreQuerier(index::Db* db, const index::Registry* registry, const index::HeadDirectory* heads = nullptr)
      : db_(db), registry_(registry), heads_(heads) {}

  // The engine's querier for one tenant, sharing this querier's head directory.
  TenantQuerier ForTenant(std::string tenant) const { return TenantQuerier(db_, registry_, std::move(tenant), heads_); }

  // Metadata answers follow Loki's: its index answers by index period (a UTC day here) and
  // its ingester from the streams it holds in memory. A stream counts when it has a day
  // posting on a UTC day overlapping [start, end), or when it has head entries (not yet cut
  // into a chunk): for label names and values whatever their times (Loki's ingester does not
  // look at times for them), for series when the head's time span overlaps [start, end)
  // (Loki's shouldConsiderStream). No chunk is listed or read.
  //
  // Sorted, unique label names of streams matching `matchers` (all streams if empty) in
  // [start, end).
  std::vector<std::string> LabelNames(std::string_view tenant, const std::vector<Matcher>& matchers,
                                      int64_t start, int64_t end) const;
  std::vector<std::string> LabelValues(std::string_view tenant, std::string_view name,
                                       const std::vector<Matcher>& matchers, int64_t start, int64_t end) const;
  // Label sets of streams matching any of the selectors (each a conjunction), sorted by text.
  std::vector<std::shared_ptr<const Labels>> Series(std::string_view tenant,
                                                    const std::vector<std::vector<Matcher>>& selectors,
                                                    int64_t start, int64_t end) const;

  Result<std::vector<StreamResult>> SelectLogs(std::string_view tenant, const SelectParams& params) const;

  Result<IndexStats> Stats(std::string_view tenant, const std::vector<Matcher>& matchers, int64_t start,
                           int64_t end) const;

 private:
  // How head entries make a stream count for a metadata answer (see LabelNames).
  enum class HeadRule {
    kAnyTime,      // any head entry, whatever its time (labels, label values)
    kOverlapping,  // the head's [min, max] time span overlaps [start, end) (series)
  };
  // Streams matching `matchers` that count for a metadata answer over [start, end): a day
  // posting on a UTC day overlapping the range, or head entries per `rule`. With a head
  // directory this is in memory only.
  std::vector<index::StreamRef> MatchForMetadata(std::string_view tenant, const std::vector<Matcher>& matchers,
                                                 int64_t start, int64_t end, HeadRule rule) const;

  index::Db* db_;
  const index::Registry* registry_;
  const index::HeadDirectory* heads_;
};

}  // namespace logq::querier
