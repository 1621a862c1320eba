#include "tests/bench/rocksdb_log.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace logq::bench {

std::map<std::string, ColumnFamilyWrites> ParseRocksDbLog(const std::string& log_path) {
  std::map<std::string, ColumnFamilyWrites> out;
  std::ifstream in(log_path);
  std::set<int64_t> flush_jobs, compaction_jobs;
  std::map<int64_t, std::string> job_cf;  // compaction jobs' column family, from their outputs
  std::string line;
  static constexpr std::string_view kMarker = "EVENT_LOG_v1 ";
  // Flush and compaction jobs share one job-id counter; a job's table_file_creation events
  // follow its *_started event, so one pass suffices.
  while (std::getline(in, line)) {
    size_t p = line.find(kMarker);
    if (p == std::string::npos) continue;
    nlohmann::json j =
        nlohmann::json::parse(line.substr(p + kMarker.size()), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("event")) continue;
    const std::string event = j.value("event", "");
    const int64_t job = j.value("job", int64_t{-1});
    if (event == "flush_started") {
      flush_jobs.insert(job);
    } else if (event == "compaction_started") {
      compaction_jobs.insert(job);
    } else if (event == "table_file_creation") {
      ColumnFamilyWrites& w = out[j.value("cf_name", "?")];
      const int64_t size = j.value("file_size", int64_t{0});
      if (compaction_jobs.count(job)) {
        w.compaction_bytes += size;
        if (job_cf.emplace(job, j.value("cf_name", "?")).second) ++w.compactions;
      } else {
        w.flush_bytes += size;
        if (flush_jobs.erase(job)) ++w.flushes;
      }
    } else if (event == "blob_file_creation") {
      out[j.value("cf_name", "?")].blob_bytes += j.value("total_blob_bytes", int64_t{0});
    }
  }
  return out;
}

}  // namespace logq::bench
