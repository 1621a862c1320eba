// multiline stage: merges the lines of a block that starts with a line matching `firstline`
// into one entry (lines joined by '\n'), per stream of one file.
#include <fmt/format.h>
#include <re2/re2.h>

#include "query/pipeline/go_compat.h"
#include "shipper/stages/stage.h"

namespace logq::shipper::stages {
namespace {

class MultilineStage final : public Stage {
 public:
  MultilineStage(std::unique_ptr<RE2> firstline, int64_t max_wait_ns, uint64_t max_lines,
                 const Clock* clock)
      : firstline_(std::move(firstline)), max_wait_ns_(max_wait_ns), max_lines_(max_lines), clock_(clock) {}

  Outcome Process(Item& item, Downstream& next) override {
    Block& b = blocks_[Key{item.entry.cursor.file_id, LabelsHash(item.entry.labels)}];
    const std::string& line = item.entry.line;
    if (firstline_->Match(line, 0, line.size(), RE2::UNANCHORED, nullptr, 0)) FlushBlock(b, next);
    if (b.lines == 0) {
      // The block's first entry gives the merged entry its timestamp, labels and extracted
      // data; its line starts the buffer.
      b.buffer = std::move(item.entry.line);
      b.first = std::move(item);
    } else {
      b.buffer.push_back('\n');
      b.buffer.append(line);
      b.first.entry.cursor = item.entry.cursor;  // the merged entry ends where this part ends
    }
    ++b.lines;
    ++held_;
    b.last_append = clock_->MonotonicNanos();
    if (b.lines >= max_lines_) FlushBlock(b, next);
    return Outcome::kDone;
  }

  void Flush(bool force, Downstream& next) override {
    int64_t now = clock_->MonotonicNanos();
    for (auto it = blocks_.begin(); it != blocks_.end();) {
      Block& b = it->second;
      if (b.lines > 0 && (force || now - b.last_append >= max_wait_ns_)) FlushBlock(b, next);
      it = b.lines == 0 ? blocks_.erase(it) : std::next(it);
    }
  }

  void FlushFile(uint64_t file_id, Downstream& next) override {
    for (auto it = blocks_.lower_bound(Key{file_id, 0}); it != blocks_.end() && it->first.file_id == file_id;) {
      FlushBlock(it->second, next);
      it = blocks_.erase(it);
    }
  }

  size_t Held() const override { return held_; }

 private:
  struct Key {
    uint64_t file_id;
    uint64_t labels;
    bool operator<(const Key& o) const {
      return file_id < o.file_id || (file_id == o.file_id && labels < o.labels);
    }
  };
  struct Block {
    Item first;
    std::string buffer;
    uint64_t lines = 0;
    int64_t last_append = 0;
  };

  static uint64_t LabelsHash(const std::map<std::string, std::string, std::less<>>& labels) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::string_view s) {
      for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    };
    for (const auto& [k, v] : labels) {
      mix(k);
      mix(v);
    }
    return h;
  }

  void FlushBlock(Block& b, Downstream& next) {
    if (b.lines == 0) return;
    held_ -= b.lines;
    b.lines = 0;
    Item out = std::move(b.first);
    out.entry.line = std::move(b.buffer);
    b.buffer = std::string();
    next.Push(std::move(out));
  }

  std::unique_ptr<RE2> firstline_;
  int64_t max_wait_ns_;
  uint64_t max_lines_;
  const Clock* clock_;
  std::map<Key, Block> blocks_;
  size_t held_ = 0;
};

}  // namespace

Result<std::unique_ptr<Stage>> MakeMultilineStage(const YAML::Node& node, const std::string&,
                                                  BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"firstline", "max_wait_time", "max_lines"}));
  ASSIGN_OR_RETURN(auto firstline, OptString(node, "firstline"));
  if (!firstline || firstline->empty()) {
    return InvalidArgument("firstline: multiline stage config must define `firstline` regular expression");
  }
  ASSIGN_OR_RETURN(auto re, CompileGoRegex(*firstline, "firstline"));
  int64_t max_wait = 3 * kNanosPerSecond;
  ASSIGN_OR_RETURN(auto wait, OptString(node, "max_wait_time"));
  if (wait) {
    std::string err;
    if (!pipeline::gocompat::ParseDuration(*wait, &max_wait, &err)) {
      return InvalidArgument(fmt::format("max_wait_time: multiline stage config has an invalid max_wait_time: {}", err));
    }
  }
  uint64_t max_lines = 128;
  if (YAML::Node m = node["max_lines"]; m && !m.IsNull()) {
    if (!m.IsScalar() || !YAML::convert<uint64_t>::decode(m, max_lines) || max_lines == 0) {
      return InvalidArgument("max_lines: expected an integer > 0");
    }
  }
  return std::unique_ptr<Stage>(new MultilineStage(std::move(re), max_wait, max_lines, ctx->clock));
}

}  // namespace logq::shipper::stages
