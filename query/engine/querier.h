// The engine's view of storage. The store implements Querier; tests implement it in memory.
//
// A Querier resolves matchers to streams; each StreamSource yields that stream's entries in
// time order (ascending or descending), already deduplicated by (timestamp, line).
// Thread-safety: Select may be called from any thread; each StreamSource is used by one
// thread at a time, but different sources of one Select may be read concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"
#include "query/model/matcher.h"

namespace logq::engine {

// Called per entry; return false to stop early. Views are valid only during the call.
using EntryFn = std::function<bool(int64_t ts, std::string_view line, const std::vector<Label>& metadata)>;

// Asked by a source before it reads further: true when no entry at `ts` or beyond it in the
// iteration direction can be used any more (a log query's global limit is reached), so the
// source may stop without handing those entries to the EntryFn. Must be thread-safe.
using BeyondFn = std::function<bool(int64_t ts)>;

// Storage-level counters a source accumulates (feed the `stats` block).
struct ReadStats {
  uint64_t chunks = 0;
  uint64_t compressed_bytes = 0;
  uint64_t decompressed_bytes = 0;
  uint64_t decompressed_lines = 0;
  uint64_t head_bytes = 0;
  uint64_t head_lines = 0;
  uint64_t duplicates = 0;
  // Entries a source ruled out without handing them to the callback because they cannot
  // contain a required literal (SelectRequest::required_literals). They were read, so they
  // count as processed; they are included in decompressed_lines/bytes too.
  uint64_t skipped_lines = 0;
  uint64_t skipped_bytes = 0;
};

class StreamSource {
 public:
  virtual ~StreamSource() = default;
  virtual const Labels& labels() const = 0;
  // Entries with from <= ts < through, in the given direction.
  // `beyond` (optional) lets the source stop early where it would otherwise read entries
  // without calling `fn` (e.g. skipped blocks).
  virtual Status ForEach(int64_t from, int64_t through, bool forward, const EntryFn& fn,
                         const BeyondFn& beyond = nullptr) = 0;
  virtual const ReadStats& stats() const = 0;
};

struct SelectRequest {
  std::vector<Matcher> matchers;
  int64_t from = 0;     // inclusive
  int64_t through = 0;  // exclusive
  // Substrings every wanted line contains (from the pipeline); a source may skip lines
  // without them. Empty = no hint.
  std::vector<std::string> required_literals;
};

class Querier {
 public:
  virtual ~Querier() = default;
  virtual Result<std::vector<std::unique_ptr<StreamSource>>> Select(const SelectRequest& request) = 0;
};

}  // namespace logq::engine
