// What RocksDB wrote, per column family, read back from the EVENT_LOG_v1 lines of its info
// LOG file (<db>/LOG): bytes of SST files created by memtable flushes and by compactions,
// and bytes of blob files. Together with the raw bytes ingested this gives the write
// amplification of each column family without instrumenting the store.
//
// Stateless and thread-safe. A missing or unreadable LOG yields an empty result.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace logq::bench {

struct ColumnFamilyWrites {
  int flushes = 0;
  int64_t flush_bytes = 0;  // SST bytes written by flush jobs
  int compactions = 0;
  int64_t compaction_bytes = 0;  // SST bytes written by compaction jobs
  int64_t blob_bytes = 0;        // blob file bytes (payload) written by either
  int64_t total() const { return flush_bytes + compaction_bytes + blob_bytes; }
};

// Keyed by column family name ("head", "chunks", ...).
std::map<std::string, ColumnFamilyWrites> ParseRocksDbLog(const std::string& log_path);

}  // namespace logq::bench
