// Measurements of another process and of a directory, from /proc and the file system, for
// benchmarks: CPU time (whole process and per thread name), peak and current RSS, and the
// bytes a storage directory takes, split by RocksDB file kind.
//
// All functions are stateless and thread-safe. They return zeros/empty results when the
// process or directory is gone (the benchmark reports what it could read).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace logq::bench {

struct CpuTimes {
  double user_s = 0;
  double system_s = 0;
  double total() const { return user_s + system_s; }
};

// utime and stime of `pid` (all its threads, including exited ones), from /proc/<pid>/stat.
CpuTimes ReadProcessCpu(pid_t pid);

// CPU seconds (user+system) of each live thread of `pid`, keyed by tid.
struct ThreadCpu {
  std::string name;  // /proc/<pid>/task/<tid>/comm, e.g. "logq-store", "rocksdb:low"
  double seconds = 0;
  // Time the thread was runnable but waiting for a CPU (schedstat run_delay): on a shared
  // machine, how much other processes held the server back.
  double wait_seconds = 0;
};
std::map<pid_t, ThreadCpu> ReadThreadCpu(pid_t pid);

// CPU seconds per thread name spent between two ReadThreadCpu snapshots. Threads that
// started after `before` count from zero; threads that exited before `after` are missing
// (the process total still has them).
// Sum of wait_seconds deltas over threads present in `after` (new threads count from zero).
double RunQueueWait(const std::map<pid_t, ThreadCpu>& before,
                    const std::map<pid_t, ThreadCpu>& after);

std::map<std::string, double> CpuByThreadName(const std::map<pid_t, ThreadCpu>& before,
                                              const std::map<pid_t, ThreadCpu>& after);

// Machine-wide CPU seconds from the first line of /proc/stat, summed over all cores.
struct MachineCpu {
  double busy_s = 0;  // user+nice+system+irq+softirq+steal
  double idle_s = 0;  // idle+iowait
};
MachineCpu ReadMachineCpu();

// VmHWM (peak resident set) and VmRSS of `pid` in bytes, from /proc/<pid>/status.
struct Memory {
  int64_t peak_rss = 0;
  int64_t rss = 0;
};
Memory ReadMemory(pid_t pid);

// Bytes under a directory, recursively: apparent sizes by file kind, and what is allocated.
struct DiskUsage {
  int64_t sst = 0;        // *.sst
  int64_t blob = 0;       // *.blob
  int64_t wal = 0;        // *.log (RocksDB write-ahead log)
  int64_t segments = 0;   // *.seg (logq-store's write-ahead log, store/wal)
  int64_t checkpoints = 0;  // checkpoint.* (store/wal checkpoints, temp files included)
  int64_t other = 0;      // MANIFEST, OPTIONS, info LOG, ...
  int64_t allocated = 0;  // st_blocks * 512 over all files (what `du` reports)
  int64_t apparent() const { return sst + blob + wal + segments + checkpoints + other; }
};
DiskUsage ScanDirectory(const std::string& path);

}  // namespace logq::bench
