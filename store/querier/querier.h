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

  // Metadata answers are exact as Loki's are for the data it holds: a stream counts when one
  // of its chunks or its head spans time overlapping [start, end) (Loki's ingester
  // shouldConsiderStream; its index, chunk bounds), not merely when it had entries that UTC day.
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
  // Registry::Match refined to streams with data overlapping [start, end). Streams with a
  // posting day wholly inside the range are taken as they are (no I/O); only the others have
  // their head bounds and chunk refs checked.
  std::vector<index::StreamRef> MatchInRange(std::string_view tenant, const std::vector<Matcher>& matchers,
                                             int64_t start, int64_t end) const;

  index::Db* db_;
  const index::Registry* registry_;
  const index::HeadDirectory* heads_;
};

}  // namespace logq::querier
