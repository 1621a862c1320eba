// StoreStreamSource: one stream's entries for the engine, merged from its chunks (RocksDB
// snapshot) and its in-memory head (finished blocks and open block), in either direction,
// deduplicated by (timestamp, line, structured metadata). Chunks and head blocks are opened
// lazily as the merge reaches their time range, so memory stays at a few decoded blocks
// however long the range. Internal to store/querier.
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
  // `head` is what `heads` said before `reader`'s snapshot was taken (head_directory.h);
  // `db` gives a newer snapshot when a cut finished since. `heads` may be null (no heads).
  StoreStreamSource(index::Db* db, std::shared_ptr<index::DbReader> reader, const index::HeadDirectory* heads,
                    std::string tenant, uint64_t fp, std::shared_ptr<const Labels> labels, index::HeadBounds head,
                    std::shared_ptr<const chunk::BlockFilter> block_filter = nullptr)
      : db_(db),
        reader_(std::move(reader)),
        heads_(heads),
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
  index::Db* db_;
  std::shared_ptr<index::DbReader> reader_;
  const index::HeadDirectory* heads_;
  std::string tenant_;
  uint64_t fp_;
  std::shared_ptr<const Labels> labels_;
  index::HeadBounds head_;  // what the ingester said before the snapshot; no head read outside
  std::shared_ptr<const chunk::BlockFilter> block_filter_;  // shared by a query's sources
  engine::ReadStats stats_;
};

}  // namespace logq::querier
