#include "store/ingest/head.h"

#include <algorithm>

namespace logq::ingest {
namespace {

int64_t EntryCharge(const index::HeadEntry& e) {
  int64_t n = kHeadEntryOverhead + static_cast<int64_t>(e.line.size());
  for (const Label& l : e.metadata) n += static_cast<int64_t>(l.name.size() + l.value.size()) + 32;
  return n;
}

int64_t EntryEncoded(const index::HeadEntry& e) {
  int64_t n = 4 + static_cast<int64_t>(e.line.size());
  for (const Label& l : e.metadata) n += static_cast<int64_t>(l.name.size() + l.value.size()) + 2;
  return n;
}

int64_t BlockCharge(const chunk::CompressedBlock& b) {
  return static_cast<int64_t>(b.bytes.size()) + static_cast<int64_t>(sizeof(chunk::CompressedBlock)) + 32;
}

bool MinTsLess(const std::shared_ptr<const chunk::CompressedBlock>& a,
               const std::shared_ptr<const chunk::CompressedBlock>& b) {
  return a->info.min_ts < b->info.min_ts;
}

}  // namespace

void SortAndDedup(std::vector<index::HeadEntry>* entries) {
  auto& v = *entries;
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
  size_t out = 0;
  std::vector<uint64_t> hashes;  // of the kept entries at the current timestamp
  for (size_t i = 0; i < v.size(); ++i) {
    if (out == 0 || v[i].ts != v[out - 1].ts) hashes.clear();
    const uint64_t h = chunk::EntryHash(v[i].line, v[i].metadata);
    bool dup = false;
    for (size_t k = 0; k < hashes.size() && !dup; ++k) {
      if (hashes[k] != h) continue;
      // Same hash: compare the content (kept entries at this ts are the last hashes.size()).
      const index::HeadEntry& kept = v[out - hashes.size() + k];
      dup = kept.line == v[i].line && kept.metadata == v[i].metadata;
    }
    if (dup) continue;
    hashes.push_back(h);
    if (out != i) v[out] = std::move(v[i]);
    ++out;
  }
  v.resize(out);
}

Status StreamHead::SealLocked() {
  if (open_.empty()) return Status::OK();
  std::vector<index::HeadEntry> sorted = std::move(open_);
  open_.clear();
  int64_t removed_charge = 0, removed_raw = 0;
  const int64_t removed_entries = static_cast<int64_t>(sorted.size());
  for (const auto& e : sorted) {
    removed_charge += EntryCharge(e);
    removed_raw += static_cast<int64_t>(e.line.size());
  }
  SortAndDedup(&sorted);
  chunk::ChunkBuilderOptions o = *options_;
  chunk::ChunkBuilder builder(o);
  Status st;
  for (const auto& e : sorted) {
    st = builder.Add(e.ts, e.line, e.metadata);
    if (!st.ok()) break;
  }
  Result<std::vector<chunk::CompressedBlock>> blocks =
      st.ok() ? builder.TakeBlocks() : Result<std::vector<chunk::CompressedBlock>>(st);
  if (!blocks.ok()) {
    open_ = std::move(sorted);  // keep the entries; the next seal retries
    return blocks.status();
  }
  stats_.mem_bytes -= removed_charge;
  stats_.entries -= removed_entries;
  stats_.raw_bytes -= removed_raw;
  for (auto& b : *blocks) {
    auto sb = std::make_shared<const chunk::CompressedBlock>(std::move(b));
    stats_.mem_bytes += BlockCharge(*sb);
    stats_.entries += sb->info.num_entries;
    stats_.raw_bytes += sb->info.raw_bytes;
    blocks_.insert(std::upper_bound(blocks_.begin(), blocks_.end(), sb, MinTsLess), std::move(sb));
  }
  open_encoded_ = 0;
  return Status::OK();
}

Result<int64_t> StreamHead::Append(std::vector<index::HeadEntry>&& entries, int64_t mono) {
  std::lock_guard<std::mutex> l(mu_);
  const int64_t before = stats_.mem_bytes;
  if (stats_.entries == 0) stats_.first_append_mono = mono;
  stats_.last_append_mono = mono;
  const int64_t block_size = static_cast<int64_t>(std::max<size_t>(options_->target_block_raw, 1));
  Status st;
  for (auto& e : entries) {
    stats_.entries++;
    stats_.raw_bytes += static_cast<int64_t>(e.line.size());
    stats_.mem_bytes += EntryCharge(e);
    stats_.min_ts = std::min(stats_.min_ts, e.ts);
    stats_.max_ts = std::max(stats_.max_ts, e.ts);
    open_encoded_ += EntryEncoded(e);
    open_.push_back(std::move(e));
    if (open_encoded_ >= block_size && st.ok()) st = SealLocked();
  }
  entries.clear();
  RETURN_IF_ERROR(st);
  return stats_.mem_bytes - before;
}

int64_t StreamHead::AddBlock(std::shared_ptr<const chunk::CompressedBlock> block, int64_t mono) {
  std::lock_guard<std::mutex> l(mu_);
  if (stats_.entries == 0) stats_.first_append_mono = mono;
  stats_.last_append_mono = mono;
  const int64_t charge = BlockCharge(*block);
  stats_.mem_bytes += charge;
  stats_.entries += block->info.num_entries;
  stats_.raw_bytes += block->info.raw_bytes;
  stats_.min_ts = std::min(stats_.min_ts, block->info.min_ts);
  stats_.max_ts = std::max(stats_.max_ts, block->info.max_ts);
  blocks_.insert(std::upper_bound(blocks_.begin(), blocks_.end(), block, MinTsLess), std::move(block));
  return charge;
}

Result<int64_t> StreamHead::PrepareCut(std::vector<std::shared_ptr<const chunk::CompressedBlock>>* blocks) {
  std::lock_guard<std::mutex> l(mu_);
  const int64_t before = stats_.mem_bytes;
  RETURN_IF_ERROR(SealLocked());
  *blocks = blocks_;
  return stats_.mem_bytes - before;
}

int64_t StreamHead::FinishCut(const std::vector<std::shared_ptr<const chunk::CompressedBlock>>& cut,
                              int64_t mono) {
  std::lock_guard<std::mutex> l(mu_);
  const int64_t before = stats_.mem_bytes;
  std::vector<std::shared_ptr<const chunk::CompressedBlock>> keep;
  keep.reserve(blocks_.size());
  for (auto& b : blocks_) {
    // `cut` is sorted by min_ts like blocks_; blocks are identified by address.
    const bool was_cut = std::find(cut.begin(), cut.end(), b) != cut.end();
    if (was_cut) {
      stats_.mem_bytes -= BlockCharge(*b);
      stats_.entries -= b->info.num_entries;
      stats_.raw_bytes -= b->info.raw_bytes;
    } else {
      keep.push_back(std::move(b));
    }
  }
  blocks_ = std::move(keep);
  stats_.cut_generation++;
  stats_.first_append_mono = mono;
  RecomputeBoundsLocked();
  return stats_.mem_bytes - before;
}

void StreamHead::RecomputeBoundsLocked() {
  stats_.min_ts = INT64_MAX;
  stats_.max_ts = INT64_MIN;
  for (const auto& b : blocks_) {
    stats_.min_ts = std::min(stats_.min_ts, b->info.min_ts);
    stats_.max_ts = std::max(stats_.max_ts, b->info.max_ts);
  }
  for (const auto& e : open_) {
    stats_.min_ts = std::min(stats_.min_ts, e.ts);
    stats_.max_ts = std::max(stats_.max_ts, e.ts);
  }
}

void StreamHead::ForCheckpoint(std::vector<std::shared_ptr<const chunk::CompressedBlock>>* blocks,
                               std::vector<index::HeadEntry>* open) const {
  std::lock_guard<std::mutex> l(mu_);
  *blocks = blocks_;
  *open = open_;
}

bool StreamHead::Snapshot(int64_t from, int64_t through, index::HeadSnapshot* out) const {
  out->blocks.clear();
  out->open.clear();
  out->entries = 0;
  out->line_bytes = 0;
  std::lock_guard<std::mutex> l(mu_);
  out->cut_generation = stats_.cut_generation;
  if (stats_.entries == 0 || stats_.min_ts >= through || stats_.max_ts < from) return false;
  for (const auto& b : blocks_) {
    if (b->info.min_ts >= through || b->info.max_ts < from) continue;
    out->blocks.push_back(b);
    out->entries += b->info.num_entries;
    out->line_bytes += b->info.raw_bytes;
  }
  for (const auto& e : open_) {
    if (e.ts < from || e.ts >= through) continue;
    out->open.push_back(e);
    out->entries++;
    out->line_bytes += e.line.size();
  }
  std::stable_sort(out->open.begin(), out->open.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
  return !out->blocks.empty() || !out->open.empty();
}

HeadStats StreamHead::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace logq::ingest
