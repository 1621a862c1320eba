#include "store/querier/stream_source.h"

#include <algorithm>
#include <queue>

#include "query/pipeline/substring_search.h"
#include "store/chunk/chunk.h"

namespace logq::querier {
namespace {

// One input of the merge: a chunk iterator or the head (pre-sorted vector).
struct Input {
  virtual ~Input() = default;
  virtual bool Valid() const = 0;
  virtual int64_t ts() const = 0;
  virtual std::string_view line() const = 0;
  virtual const std::vector<Label>& metadata() const = 0;
  virtual void Next() = 0;
  virtual Status status() const { return Status::OK(); }
  virtual bool from_chunk() const { return false; }
};

// A chunk or a head's finished block.
class ChunkInput final : public Input {
 public:
  // The bytes (`bytes` or `block`) must outlive the reader and iterator, so the input owns them.
  ChunkInput(std::unique_ptr<std::string> bytes, std::shared_ptr<const chunk::CompressedBlock> block,
             std::unique_ptr<chunk::ChunkReader> reader, int64_t from, int64_t through, bool fwd,
             const chunk::BlockFilter* filter)
      : bytes_(std::move(bytes)),
        block_(std::move(block)),
        reader_(std::move(reader)),
        it_(reader_->Iterate(from, through, fwd, filter)) {
    valid_ = it_->Next();
  }
  const chunk::SkippedEntries& skipped() const { return it_->skipped(); }
  bool head_block() const { return block_ != nullptr; }
  bool from_chunk() const override { return block_ == nullptr; }
  bool Valid() const override { return valid_; }
  int64_t ts() const override { return it_->entry().ts; }
  std::string_view line() const override { return it_->entry().line; }
  const std::vector<Label>& metadata() const override { return *it_->entry().metadata; }
  void Next() override { valid_ = it_->Next(); }
  Status status() const override { return it_->status(); }

 private:
  std::unique_ptr<std::string> bytes_;
  std::shared_ptr<const chunk::CompressedBlock> block_;
  std::unique_ptr<chunk::ChunkReader> reader_;
  std::unique_ptr<chunk::ChunkIterator> it_;
  bool valid_;
};

class HeadInput final : public Input {
 public:
  // `entries` sorted by timestamp ascending.
  HeadInput(std::vector<index::HeadEntry> entries, bool forward) : e_(std::move(entries)), forward_(forward) {
    i_ = 0;
    if (!forward_) std::reverse(e_.begin(), e_.end());
  }
  bool Valid() const override { return i_ < e_.size(); }
  int64_t ts() const override { return e_[i_].ts; }
  std::string_view line() const override { return e_[i_].line; }
  const std::vector<Label>& metadata() const override { return e_[i_].metadata; }
  void Next() override { ++i_; }

 private:
  std::vector<index::HeadEntry> e_;
  bool forward_;
  size_t i_;
};

class LiteralBlockFilter final : public chunk::BlockFilter {
 public:
  explicit LiteralBlockFilter(const std::vector<std::string>& literals) {
    for (const auto& l : literals) searchers_.emplace_back(l, false);
  }
  bool MayMatch(std::string_view payload) const override {
    for (const auto& s : searchers_) {
      if (!s.Contains(payload)) return false;
    }
    return true;
  }

 private:
  std::vector<pipeline::SubstringSearcher> searchers_;
};

}  // namespace

// The query's shared literal filter plus this call's `beyond`.
class CallBlockFilter final : public chunk::BlockFilter {
 public:
  CallBlockFilter(const chunk::BlockFilter* literals, const engine::BeyondFn& beyond)
      : literals_(literals), beyond_(beyond) {}
  bool MayMatch(std::string_view payload) const override {
    return literals_ == nullptr || literals_->MayMatch(payload);
  }
  bool Beyond(int64_t ts) const override { return beyond_ && beyond_(ts); }
  bool active() const { return literals_ != nullptr || beyond_ != nullptr; }

 private:
  const chunk::BlockFilter* literals_;
  const engine::BeyondFn& beyond_;
};

std::shared_ptr<const chunk::BlockFilter> MakeLiteralBlockFilter(const std::vector<std::string>& literals) {
  if (literals.empty()) return nullptr;
  return std::make_shared<LiteralBlockFilter>(literals);
}

Status StoreStreamSource::ForEach(int64_t from, int64_t through, bool forward, const engine::EntryFn& fn,
                                  const engine::BeyondFn& beyond) {
  if (through <= from) return Status::OK();
  const CallBlockFilter call_filter(block_filter_.get(), beyond);
  const chunk::BlockFilter* filter = call_filter.active() ? &call_filter : nullptr;

  // The head first, then (if a cut finished since the query's snapshot) a newer snapshot.
  std::shared_ptr<index::DbReader> reader = reader_;
  index::HeadSnapshot head;
  if (heads_ != nullptr && head_.Overlaps(from, through)) {
    heads_->SnapshotHead(tenant_, fp_, from, through, &head);
    if (head.cut_generation != head_.cut_generation) reader = db_->NewReader();
  }
  ASSIGN_OR_RETURN(auto refs, reader->ListChunks(tenant_, fp_, from, through));

  // Chunks and head blocks, in the order the merge reaches them: min_ts ascending (forward)
  // or max_ts descending (backward).
  struct Pending {
    int64_t min_ts, max_ts;
    const index::ChunkRef* ref;                         // a chunk, or
    std::shared_ptr<const chunk::CompressedBlock> block;  // a head block
  };
  std::vector<Pending> pending;
  pending.reserve(refs.size() + head.blocks.size());
  for (const auto& r : refs) pending.push_back({r.min_ts, r.max_ts, &r, nullptr});
  for (auto& b : head.blocks) pending.push_back({b->info.min_ts, b->info.max_ts, nullptr, std::move(b)});
  if (forward) {
    std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.min_ts < b.min_ts; });
  } else {
    std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.max_ts > b.max_ts; });
  }

  std::vector<std::unique_ptr<Input>> inputs;
  if (!head.open.empty()) {
    inputs.push_back(std::make_unique<HeadInput>(std::move(head.open), forward));
  }

  auto before = [forward](int64_t a, int64_t b) { return forward ? a < b : a > b; };
  // Heap of input indexes ordered by current ts in direction.
  auto cmp = [&](size_t a, size_t b) { return before(inputs[b]->ts(), inputs[a]->ts()); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(cmp)> heap(cmp);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->Valid()) heap.push(i);
  }
  size_t next = 0;
  std::vector<const ChunkInput*> chunk_inputs;
  auto open_pending = [&](const Pending& p) -> Status {
    std::unique_ptr<ChunkInput> in;
    if (p.ref != nullptr) {
      ASSIGN_OR_RETURN(std::string raw, reader->GetChunk(tenant_, *p.ref));
      auto bytes = std::make_unique<std::string>(std::move(raw));
      stats_.chunks++;
      stats_.compressed_bytes += bytes->size();
      ASSIGN_OR_RETURN(auto cr, chunk::ChunkReader::Open(*bytes));
      in = std::make_unique<ChunkInput>(std::move(bytes), nullptr, std::move(cr), from, through, forward, filter);
    } else {
      ASSIGN_OR_RETURN(auto cr, chunk::ChunkReader::OpenBlock(*p.block));
      in = std::make_unique<ChunkInput>(nullptr, p.block, std::move(cr), from, through, forward, filter);
    }
    RETURN_IF_ERROR(in->status());
    chunk_inputs.push_back(in.get());
    inputs.push_back(std::move(in));
    if (inputs.back()->Valid()) heap.push(inputs.size() - 1);
    return Status::OK();
  };

  // Entries of blocks the filter ruled out, counted once the merge is done.
  auto count_skipped = [&] {
    for (const ChunkInput* c : chunk_inputs) {
      stats_.skipped_lines += c->skipped().entries;
      stats_.skipped_bytes += c->skipped().line_bytes;
      if (c->head_block()) {
        stats_.head_lines += c->skipped().entries;
        stats_.head_bytes += c->skipped().line_bytes;
      } else {
        stats_.decompressed_lines += c->skipped().entries;
        stats_.decompressed_bytes += c->skipped().line_bytes;
      }
    }
  };
  int64_t cur_ts = 0;
  bool have_cur = false;
  std::vector<uint64_t> seen_at_ts;
  while (true) {
    // Open every chunk or head block that could hold the next entry in direction.
    while (next < pending.size()) {
      const Pending& p = pending[next];
      const int64_t edge = forward ? p.min_ts : p.max_ts;
      if (!heap.empty() && before(inputs[heap.top()]->ts(), edge)) break;
      if (beyond && beyond(edge)) {  // neither this one nor any later one is wanted
        next = pending.size();
        break;
      }
      RETURN_IF_ERROR(open_pending(p));
      ++next;
    }
    if (heap.empty()) break;
    const size_t i = heap.top();
    heap.pop();
    Input& in = *inputs[i];
    const int64_t ts = in.ts();
    const std::string_view line = in.line();
    const uint64_t h = chunk::EntryHash(line, in.metadata());
    if (!have_cur || ts != cur_ts) {
      have_cur = true;
      cur_ts = ts;
      seen_at_ts.clear();
    }
    bool dup = std::find(seen_at_ts.begin(), seen_at_ts.end(), h) != seen_at_ts.end();
    bool keep_going = true;
    if (dup) {
      stats_.duplicates++;
    } else {
      seen_at_ts.push_back(h);
      if (in.from_chunk()) {
        stats_.decompressed_lines++;
        stats_.decompressed_bytes += line.size();
      } else {
        stats_.head_lines++;
        stats_.head_bytes += line.size();
      }
      keep_going = fn(ts, line, in.metadata());
    }
    in.Next();
    RETURN_IF_ERROR(in.status());
    if (!keep_going) break;
    if (in.Valid()) heap.push(i);
  }
  count_skipped();
  return Status::OK();
}

}  // namespace logq::querier
