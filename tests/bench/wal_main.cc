// logq_bench_wal: throughput of store/wal (the next storage engine's write-ahead log) on this
// machine's disk. Appends `--mb` MB of records of `--record-bytes` bytes with 1, 4 and 16
// appender threads, with sync off (page cache) and on (fdatasync before each ack, grouped),
// then replays the largest log: once warm (segments in the page cache) and once cold (the
// segments' pages dropped with posix_fadvise(DONTNEED) first, so they are read from disk).
// The callback touches every payload byte (sums them), as a real replay decodes them.
//
// MB = 10^6 bytes of record payload+framing as written. Prints a table and, with --json,
// machine-readable lines (BENCH_JSON {...}). Results: docs/benchmarks.md "WAL".
//
// Usage: logq_bench_wal [--dir=PATH] [--mb=N] [--sync-mb=N] [--record-bytes=N]
//          [--threads=1,4,16] [--segment-mb=N] [--json]
#include <fcntl.h>
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "store/wal/wal.h"

namespace logq::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

double ProcessCpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Options {
  std::string dir;
  double mb = 512;       // MB appended per run with sync off
  double sync_mb = 32;   // MB appended per run with sync on
  size_t record_bytes = 4096;
  std::vector<int> threads = {1, 4, 16};
  uint64_t segment_mb = 128;
  bool json = false;
};

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr,
               "logq_bench_wal: %s\nusage: logq_bench_wal [--dir=PATH] [--mb=N] [--sync-mb=N] "
               "[--record-bytes=N] [--threads=1,4,16] [--segment-mb=N] [--json]\n",
               msg.c_str());
  std::exit(2);
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](std::string_view flag) -> std::optional<std::string> {
      std::string p = std::string(flag) + "=";
      if (a.rfind(p, 0) == 0) return a.substr(p.size());
      return std::nullopt;
    };
    if (auto v = val("--dir")) {
      o.dir = *v;
    } else if (auto v = val("--mb")) {
      o.mb = std::stod(*v);
    } else if (auto v = val("--sync-mb")) {
      o.sync_mb = std::stod(*v);
    } else if (auto v = val("--record-bytes")) {
      o.record_bytes = std::stoul(*v);
    } else if (auto v = val("--segment-mb")) {
      o.segment_mb = std::stoull(*v);
    } else if (auto v = val("--threads")) {
      o.threads.clear();
      size_t pos = 0;
      while (pos <= v->size()) {
        size_t comma = v->find(',', pos);
        if (comma == std::string::npos) comma = v->size();
        o.threads.push_back(std::stoi(v->substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (a == "--json") {
      o.json = true;
    } else {
      Usage("unknown flag " + a);
    }
  }
  if (o.record_bytes == 0 || o.threads.empty()) Usage("bad flags");
  return o;
}

struct AppendResult {
  double seconds = 0;
  double cpu = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

AppendResult RunAppend(const Options& o, const std::string& dir, bool sync, int threads) {
  std::filesystem::remove_all(dir);
  wal::WalOptions wo;
  wo.dir = dir;
  wo.sync = sync;
  wo.segment_bytes = o.segment_mb << 20;
  auto opened = wal::Wal::Open(wo);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<wal::Wal> w = std::move(opened).value();
  const uint64_t total_records =
      static_cast<uint64_t>((sync ? o.sync_mb : o.mb) * 1e6) /
      (o.record_bytes + wal::kRecordHeaderBytes);
  std::atomic<uint64_t> next{0};
  std::string payload(o.record_bytes, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7) % 26);
  double cpu0 = ProcessCpu();
  auto t0 = SteadyClock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      while (next.fetch_add(1) < total_records) {
        auto pos = w->Append(1, payload);
        if (!pos.ok()) {
          std::fprintf(stderr, "append: %s\n", pos.status().ToString().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  AppendResult r;
  r.seconds = Since(t0);
  r.cpu = ProcessCpu() - cpu0;
  r.records = total_records;
  r.bytes = total_records * (o.record_bytes + wal::kRecordHeaderBytes);
  return r;
}

struct ReplayResult {
  double seconds = 0;
  double cpu = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
};

ReplayResult RunReplay(const std::string& dir, bool cold) {
  if (cold) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      int fd = ::open(e.path().c_str(), O_RDONLY);
      if (fd < 0) continue;
      ::fdatasync(fd);
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
  }
  wal::WalOptions wo;
  wo.dir = dir;
  double cpu0 = ProcessCpu();
  auto t0 = SteadyClock::now();
  auto opened = wal::Wal::Open(wo);  // includes checking the last segment's records
  if (!opened.ok()) std::exit(1);
  uint64_t sum = 0;
  auto stats = (*opened)->Replay(0, [&](const wal::RecordView& r) {
    for (char c : r.payload) sum += static_cast<unsigned char>(c);
    return Status::OK();
  });
  ReplayResult r;
  r.seconds = Since(t0);
  r.cpu = ProcessCpu() - cpu0;
  if (!stats.ok()) std::exit(1);
  r.bytes = stats->bytes;
  r.records = stats->records;
  if (sum == 42) std::fprintf(stderr, " ");  // keep the sum alive
  return r;
}

int Run(const Options& o) {
  std::string base = o.dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = fmt::format("{}/logq_bench_wal.{}", tmp != nullptr ? tmp : "/tmp", getpid());
  }
  std::filesystem::create_directories(base);
  std::printf("record %zu bytes (+%zu framing), segment %llu MiB, dir %s\n", o.record_bytes,
              wal::kRecordHeaderBytes, static_cast<unsigned long long>(o.segment_mb),
              base.c_str());
  std::printf("%-8s %-5s %8s %10s %10s %10s %12s\n", "sync", "thr", "MB", "seconds", "MB/s",
              "records/s", "MB/CPU-s");
  std::string largest;
  for (bool sync : {false, true}) {
    for (int threads : o.threads) {
      std::string dir = fmt::format("{}/{}_{}", base, sync ? "sync" : "nosync", threads);
      AppendResult r = RunAppend(o, dir, sync, threads);
      double mb = static_cast<double>(r.bytes) / 1e6;
      std::printf("%-8s %-5d %8.1f %10.3f %10.1f %10.0f %12.1f\n", sync ? "on" : "off", threads,
                  mb, r.seconds, mb / r.seconds, static_cast<double>(r.records) / r.seconds,
                  mb / r.cpu);
      if (o.json) {
        nlohmann::json j = {{"bench", "wal_append"}, {"sync", sync},
                            {"threads", threads},    {"record_bytes", o.record_bytes},
                            {"mb", mb},              {"seconds", r.seconds},
                            {"mb_per_s", mb / r.seconds},
                            {"records_per_s", static_cast<double>(r.records) / r.seconds},
                            {"cpu_seconds", r.cpu}};
        std::printf("BENCH_JSON %s\n", j.dump().c_str());
      }
      if (!sync && largest.empty()) largest = dir;
      if (dir != largest) std::filesystem::remove_all(dir);
    }
  }
  std::printf("\n%-8s %8s %10s %10s %12s\n", "replay", "MB", "seconds", "MB/s", "MB/CPU-s");
  for (bool cold : {false, true}) {
    ReplayResult r = RunReplay(largest, cold);
    double mb = static_cast<double>(r.bytes) / 1e6;
    std::printf("%-8s %8.1f %10.3f %10.1f %12.1f\n", cold ? "cold" : "warm", mb, r.seconds,
                mb / r.seconds, mb / r.cpu);
    if (o.json) {
      nlohmann::json j = {{"bench", "wal_replay"}, {"cold", cold}, {"mb", mb},
                          {"seconds", r.seconds},  {"mb_per_s", mb / r.seconds},
                          {"cpu_seconds", r.cpu}};
      std::printf("BENCH_JSON %s\n", j.dump().c_str());
    }
  }
  if (o.dir.empty()) std::filesystem::remove_all(base);
  return 0;
}

}  // namespace
}  // namespace logq::bench

int main(int argc, char** argv) { return logq::bench::Run(logq::bench::ParseFlags(argc, argv)); }
