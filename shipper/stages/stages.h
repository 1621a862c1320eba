// StagePipeline: Promtail-compatible `pipeline_stages` for logq-shipper.
//
// A pipeline is built once per scrape config from its YAML (`Make`) and then processes the
// entries of the files of that scrape config. Each stage reads and writes the entry (line,
// labels, timestamp, structured metadata, tenant) and a per-entry "extracted" map, as
// Promtail's stages do. Stages that hold entries (multiline) release them through `Flush`.
//
// Thread-safety: a StagePipeline is NOT thread-safe; it is owned and driven by one thread
// (the shipper's event loop). Entries handed to a sink are moved out and owned by the sink.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "query/base/clock.h"
#include "query/base/status.h"

namespace logq::shipper {

// Where an entry ends in its source file; positions advance to it once the entry is acked.
struct Cursor {
  uint64_t file_id = 0;     // assigned by the tailer
  uint64_t end_offset = 0;  // byte offset just past the entry's last source line
};

struct LogEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::map<std::string, std::string, std::less<>> labels;  // stream labels after relabeling
  std::vector<std::pair<std::string, std::string>> structured_metadata;
  std::string tenant;  // empty: the client's tenant_id
  Cursor cursor;       // end of the entry's last source line
};

// Receives what a pipeline produces. Every entry given to Process ends in exactly one Emit or
// Dropped call (entries merged by multiline: the merged entry is emitted with the cursor of
// its last part; the parts before it are reported neither emitted nor dropped, because the
// emitted entry's cursor covers them).
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  virtual void Emit(LogEntry&& entry) = 0;
  // `reason` is the drop stage's drop_counter_reason (default "drop_stage"), "limit" or
  // "match". The entry counts as done for positions.
  virtual void Dropped(const LogEntry& entry, std::string_view reason) = 0;
};

class StagePipeline {
 public:
  // `stages` is the YAML sequence scrape_configs[].pipeline_stages (may be null/empty).
  // Errors name the stage index and key. `cri: {}` and `docker: {}` stages are accepted
  // and are no-ops because the tailer already decodes CRI/docker. `clock` must outlive the
  // pipeline.
  static Result<std::unique_ptr<StagePipeline>> Make(const YAML::Node& stages, const Clock& clock);
  virtual ~StagePipeline() = default;
  // Entries of one file arrive in file order.
  virtual void Process(LogEntry entry, EntrySink& sink) = 0;
  // Releases entries held by multiline stages whose max_wait expired; force = all (EOF of a
  // removed file, shutdown).
  virtual void Flush(bool force, EntrySink& sink) = 0;
  // Releases the entries held for one file (Cursor::file_id) only: the file reached its end.
  // Blocks of other files stay held (releasing them would split their records).
  virtual void FlushFile(uint64_t file_id, EntrySink& sink) = 0;
  // Entries currently held (multiline blocks, entries delayed by a `limit` stage without
  // `drop`). The caller may pause reading while this is large; Flush releases them.
  virtual size_t Held() const { return 0; }
};

}  // namespace logq::shipper
