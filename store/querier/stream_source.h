// StoreStreamSource: one stream's entries for the engine, merged from its chunks and its
// head under one RocksDB snapshot, in either direction, deduplicated by (timestamp, line).
// Chunks are opened lazily as the merge reaches their time range, so memory stays at a few
// decoded blocks however long the range. Internal to store/querier.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "query/engine/querier.h"
#include "store/chunk/chunk.h"
#include "store/index/db.h"
#include "store/index/head_directory.h"

namespace logq::querier {

// Rules out chunk blocks that lack any of the substrings every wanted line contains
// (SelectRequest::required_literals). Null when there are none.
std::shared_ptr<const chunk::BlockFilter> MakeLiteralBlockFilter(const std::vector<std::string>& literals);

class StoreStreamSource final : public engine::StreamSource {
 public:
  StoreStreamSource(std::shared_ptr<index::DbReader> reader, std::string tenant, uint64_t fp,
                    std::shared_ptr<const Labels> labels,
                    index::HeadBounds head = {true, INT64_MIN, INT64_MAX},
                    std::shared_ptr<const chunk::BlockFilter> block_filter = nullptr)
      : reader_(std::move(reader)),
        tenant_(std::move(tenant)),
        fp_(fp),
        labels_(std::move(labels)),
        head_(head),
        block_filter_(std::move(block_filter)) {}

  const Labels& labels() const override { return *labels_; }
  Status ForEach(int64_t from, int64_t through, bool forward, const engine::EntryFn& fn,
                 const engine::BeyondFn& beyond = nullptr) override;
  const engine::ReadStats& stats() const override { return stats_; }

 private:
  std::shared_ptr<index::DbReader> reader_;
  std::string tenant_;
  uint64_t fp_;
  std::shared_ptr<const Labels> labels_;
  index::HeadBounds head_;  // what the ingester knew before the snapshot; skip the scan outside
  std::shared_ptr<const chunk::BlockFilter> block_filter_;  // shared by a query's sources
  engine::ReadStats stats_;
};

}  // namespace logq::querier
