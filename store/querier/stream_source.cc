#include "store/querier/stream_source.h"

#include <xxhash.h>

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

class ChunkInput final : public Input {
 public:
  // `bytes` must outlive the reader and iterator, so the input owns both.
  ChunkInput(std::unique_ptr<std::string> bytes, std::unique_ptr<chunk::ChunkReader> reader, int64_t from,
             int64_t through, bool fwd, const chunk::BlockFilter* filter)
      : bytes_(std::move(bytes)), reader_(std::move(reader)), it_(reader_->Iterate(from, through, fwd, filter)) {
    valid_ = it_->Next();
  }
  const chunk::SkippedEntries& skipped() const { return it_->skipped(); }
  bool from_chunk() const override { return true; }
  bool Valid() const override { return valid_; }
  int64_t ts() const override { return it_->entry().ts; }
  std::string_view line() const override { return it_->entry().line; }
  const std::vector<Label>& metadata() const override { return *it_->entry().metadata; }
  void Next() override { valid_ = it_->Next(); }
  Status status() const override { return it_->status(); }

 private:
  std::unique_ptr<std::string> bytes_;
  std::unique_ptr<chunk::ChunkReader> reader_;
  std::unique_ptr<chunk::ChunkIterator> it_;
  bool valid_;
};

struct HeadEntry {
  int64_t ts;
  std::string line;
  std::vector<Label> metadata;
};

class HeadInput final : public Input {
 public:
  HeadInput(std::vector<HeadEntry> entries, bool forward) : e_(std::move(entries)), forward_(forward) {
    i_ = 0;
    if (!forward_) std::reverse(e_.begin(), e_.end());
  }
  bool Valid() const override { return i_ < e_.size(); }
  int64_t ts() const override { return e_[i_].ts; }
  std::string_view line() const override { return e_[i_].line; }
  const std::vector<Label>& metadata() const override { return e_[i_].metadata; }
  void Next() override { ++i_; }

 private:
  std::vector<HeadEntry> e_;
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
  ASSIGN_OR_RETURN(auto refs, reader_->ListChunks(tenant_, fp_, from, through));
  // Order refs by when the merge reaches them: min_ts ascending (forward) or max_ts
  // descending (backward).
  if (forward) {
    std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) { return a.min_ts < b.min_ts; });
  } else {
    std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) { return a.max_ts > b.max_ts; });
  }

  std::vector<std::unique_ptr<Input>> inputs;
  if (head_.Overlaps(from, through)) {
    std::vector<HeadEntry> head;
    std::vector<Label> md;
    Status st;
    RETURN_IF_ERROR(reader_->ScanHead(tenant_, fp_, from, through, [&](const index::HeadRecord& r) {
      std::string_view line;
      st = index::DecodeHeadValue(r.value, &line, &md);
      if (!st.ok()) return false;
      head.push_back({r.ts, std::string(line), md});
      stats_.head_lines++;
      stats_.head_bytes += line.size();
      return true;
    }));
    RETURN_IF_ERROR(st);
    if (!head.empty()) inputs.push_back(std::make_unique<HeadInput>(std::move(head), forward));
  }

  auto before = [forward](int64_t a, int64_t b) { return forward ? a < b : a > b; };
  // Heap of input indexes ordered by current ts in direction.
  auto cmp = [&](size_t a, size_t b) { return before(inputs[b]->ts(), inputs[a]->ts()); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(cmp)> heap(cmp);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i]->Valid()) heap.push(i);
  }
  size_t next_ref = 0;
  std::vector<const ChunkInput*> chunk_inputs;
  auto open_ref = [&](const index::ChunkRef& ref) -> Status {
    ASSIGN_OR_RETURN(std::string raw, reader_->GetChunk(tenant_, ref));
    auto bytes = std::make_unique<std::string>(std::move(raw));
    stats_.chunks++;
    stats_.compressed_bytes += bytes->size();
    ASSIGN_OR_RETURN(auto cr, chunk::ChunkReader::Open(*bytes));
    auto in = std::make_unique<ChunkInput>(std::move(bytes), std::move(cr), from, through, forward, filter);
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
      stats_.decompressed_lines += c->skipped().entries;
      stats_.decompressed_bytes += c->skipped().line_bytes;
    }
  };
  int64_t cur_ts = 0;
  bool have_cur = false;
  std::vector<uint64_t> seen_at_ts;
  while (true) {
    // Open every chunk that could hold the next entry in direction.
    while (next_ref < refs.size()) {
      const auto& ref = refs[next_ref];
      const int64_t edge = forward ? ref.min_ts : ref.max_ts;
      if (!heap.empty() && before(inputs[heap.top()]->ts(), edge)) break;
      if (beyond && beyond(edge)) {  // neither this chunk nor any later one is wanted
        next_ref = refs.size();
        break;
      }
      RETURN_IF_ERROR(open_ref(ref));
      ++next_ref;
    }
    if (heap.empty()) break;
    const size_t i = heap.top();
    heap.pop();
    Input& in = *inputs[i];
    const int64_t ts = in.ts();
    const std::string_view line = in.line();
    const uint64_t h = XXH3_64bits(line.data(), line.size());
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
