// logq_bench_ingest: the ingest benchmark. Generates the synthetic pod logs
// (tests/bench/log_generator.h), cuts them into Promtail-like batches (~1 MiB of line bytes,
// entries grouped per stream, several streams per request) and serializes every push body
// in memory before the clock starts, so the client costs almost nothing. Then it starts
// logq-store on a fresh storage directory and a free loopback port, pushes all bodies over
// N keep-alive connections, and reports:
//
//   wall MB/s and lines/s (first request sent .. last reply read), server CPU seconds and
//   raw MB per server CPU-second (utime+stime from /proc/<pid>/stat), per-request latency
//   p50/p99/max, peak RSS (VmHWM), then POST /flush (cuts every head into chunks) and the
//   disk bytes per raw byte (logq_disk_bytes and a walk of the directory), and again at rest
//   after a graceful shutdown.
//
// MB = 10^6 bytes throughout; "raw" bytes are line bytes, as Loki counts them.
// Exit status 0 only if every push got 204 and the store counted every line.
//
// The cut's CPU counts the POST /flush and whatever the server does after it until it is idle
// again (under 2 % of a core over a second: background checkpoint, compactions), so
// "MB per CPU-second including the cut" is raw MB / (ingest + all of that).
//
// --kill-restart replaces the flush: after the ingest the store is killed with SIGKILL,
// started again on the same directory, and the write-ahead log replay is timed (start ..
// /ready 200, and the store's own "wal: replayed ..." line); then POST /flush and every raw
// byte must be in a chunk exactly once.
//
// --steady=SECONDS pushes the corpus (--lines; timestamps spread over SECONDS ending at the
// run's end) at --rate MB raw per second over one connection, each body sent when its
// share of the rate is due, so age/size cuts and checkpoints run as in production; every
// --sample seconds (default 10) it prints the data directory's size (du) against the raw
// bytes acknowledged so far, the WAL segments, checkpoints, RocksDB files and the server's
// RSS and CPU. --lines defaults to what the rate and duration need.
//
// Usage: logq_bench_ingest [--format=protobuf|json] [--sync-writes] [--lines=N] [--streams=N]
//          [--seed=N] [--span=SECONDS] [--batch-bytes=N] [--concurrency=N] [--store=PATH]
//          [--dir=PARENT] [--keep] [--json] [--perf=PREFIX] [--store-flag=-name=value ...]
//          [--kill-restart] [--steady=SECONDS [--rate=MB_PER_S] [--sample=SECONDS]]
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/api/push.h"
#include "tests/bench/child_process.h"
#include "tests/bench/http_connection.h"
#include "tests/bench/log_generator.h"
#include "tests/bench/proc_stats.h"
#include "tests/bench/rocksdb_log.h"

namespace logq::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
  std::string format = "protobuf";  // protobuf (snappy) | json
  bool sync_writes = false;
  GeneratorOptions gen;
  int64_t batch_bytes = 1 << 20;  // line bytes per push, like Promtail's batchsize
  int concurrency = 4;
  std::string store_bin = LOGQ_STORE_BIN;
  std::string dir;  // parent of the temporary storage directory; default $TMPDIR or /tmp
  bool keep = false;
  bool json = false;
  std::string perf_prefix;  // if set: perf record the server during ingest and flush
  std::vector<std::string> store_flags;
  // Instead of POST /flush: kill -9 the store after the ingest, restart it on the same
  // directory and time the write-ahead log replay (until /ready is 200).
  bool kill_restart = false;
  // Steady mode (> 0): push at --rate MB raw per second for this many seconds, timestamps
  // following the wall clock, and sample the data directory every --sample seconds.
  int64_t steady_s = 0;
  double rate_mb_s = 1.0;
  int64_t sample_s = 10;
  bool lines_given = false;  // --lines was passed
};

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(
      stderr,
      "logq_bench_ingest: %s\n"
      "usage: logq_bench_ingest [--format=protobuf|json] [--sync-writes] [--lines=N] "
      "[--streams=N]\n"
      "         [--seed=N] [--span=SECONDS] [--batch-bytes=N] [--concurrency=N] [--store=PATH]\n"
      "         [--dir=PARENT] [--keep] [--json] [--perf=PREFIX] [--store-flag=-name=value ...]\n"
      "         [--kill-restart] [--steady=SECONDS [--rate=MB_PER_S] [--sample=SECONDS]]\n",
      msg.c_str());
  std::exit(2);
}

int64_t ParsePositive(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n <= 0) Usage("invalid value for " + flag + ": \"" + v + "\"");
  return n;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    std::string name = a.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (name == "--format")
      o.format = value;
    else if (name == "--sync-writes")
      o.sync_writes = value.empty() || value == "true";
    else if (name == "--lines") {
      o.gen.lines = ParsePositive(name, value);
      o.lines_given = true;
    } else if (name == "--streams")
      o.gen.streams = static_cast<int>(ParsePositive(name, value));
    else if (name == "--seed")
      o.gen.seed = static_cast<uint64_t>(ParsePositive(name, value));
    else if (name == "--span")
      o.gen.span_ns = ParsePositive(name, value) * 1'000'000'000;
    else if (name == "--batch-bytes")
      o.batch_bytes = ParsePositive(name, value);
    else if (name == "--concurrency")
      o.concurrency = static_cast<int>(ParsePositive(name, value));
    else if (name == "--store")
      o.store_bin = value;
    else if (name == "--dir")
      o.dir = value;
    else if (name == "--keep")
      o.keep = true;
    else if (name == "--json")
      o.json = true;
    else if (name == "--perf")
      o.perf_prefix = value;
    else if (name == "--store-flag")
      o.store_flags.push_back(value);
    else if (name == "--kill-restart")
      o.kill_restart = true;
    else if (name == "--steady")
      o.steady_s = ParsePositive(name, value);
    else if (name == "--sample")
      o.sample_s = ParsePositive(name, value);
    else if (name == "--rate") {
      o.rate_mb_s = std::strtod(value.c_str(), nullptr);
      if (!(o.rate_mb_s > 0)) Usage("invalid value for --rate: \"" + value + "\"");
    } else if (name == "--help" || name == "-h")
      Usage("help");
    else
      Usage("unknown flag " + a);
  }
  if (o.format != "protobuf" && o.format != "json") Usage("--format must be protobuf or json");
  if (o.gen.span_ns > 6LL * 24 * 3600 * 1'000'000'000)
    Usage("--span must stay inside the 7-day acceptance window");
  if (o.dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    o.dir = t && *t ? t : "/tmp";
  }
  return o;
}

// ---- input --------------------------------------------------------------------------------

struct Body {
  std::string data;
  int64_t lines = 0;
  int64_t raw_bytes = 0;
};

struct Input {
  std::vector<Body> bodies;
  int64_t lines = 0;
  int64_t raw_bytes = 0;
  int64_t wire_bytes = 0;
  size_t streams = 0;
  int64_t kind_bytes[kNumLineKinds] = {};
  double seconds = 0;
};

// Cuts the generator's entries into Promtail-like push bodies (entries grouped per stream,
// >= batch_bytes of line bytes each, the last one smaller), serialized as --format says.
class BodyBuilder {
 public:
  BodyBuilder(const std::string& format, int64_t batch_bytes, const GeneratorOptions& g)
      : json_(format == "json"),
        batch_bytes_(batch_bytes),
        gen_(g),
        slot_(gen_.streams().size(), -1) {}

  size_t streams() const { return gen_.streams().size(); }
  // Raw line bytes produced so far, by LineKind.
  const int64_t* kind_bytes() const { return kind_bytes_; }

  // The next body; false once the generator is exhausted.
  bool Next(Body* out) {
    Body cur;
    api::PushRequest req;
    std::fill(slot_.begin(), slot_.end(), -1);
    GeneratedEntry e;
    while (cur.raw_bytes < batch_bytes_ && gen_.Next(&e)) {
      int& s = slot_[static_cast<size_t>(e.stream)];
      if (s < 0) {
        s = static_cast<int>(req.streams.size());
        req.streams.emplace_back();
        req.streams.back().labels = gen_.streams()[static_cast<size_t>(e.stream)].labels;
      }
      const int64_t size = static_cast<int64_t>(e.line.size());
      kind_bytes_[static_cast<int>(e.kind)] += size;
      api::PushEntry pe;
      pe.timestamp_ns = e.timestamp_ns;
      pe.line = std::move(e.line);
      req.streams[static_cast<size_t>(s)].entries.push_back(std::move(pe));
      e.line = std::string();
      cur.lines++;
      cur.raw_bytes += size;
    }
    if (cur.lines == 0) return false;
    cur.data = json_ ? api::EncodePushJson(req) : api::SnappyCompress(api::EncodePushProtobuf(req));
    *out = std::move(cur);
    return true;
  }

 private:
  bool json_;
  int64_t batch_bytes_;
  LogGenerator gen_;
  std::vector<int> slot_;  // stream -> index in the request's streams
  int64_t kind_bytes_[kNumLineKinds] = {};
};

Input BuildInput(const Options& o) {
  const auto t0 = Clock::now();
  BodyBuilder b(o.format, o.batch_bytes, o.gen);
  Input in;
  in.streams = b.streams();
  Body body;
  while (b.Next(&body)) {
    in.lines += body.lines;
    in.raw_bytes += body.raw_bytes;
    in.wire_bytes += static_cast<int64_t>(body.data.size());
    in.bodies.push_back(std::move(body));
  }
  for (int k = 0; k < kNumLineKinds; ++k) in.kind_bytes[k] = b.kind_bytes()[k];
  in.seconds = Since(t0);
  return in;
}

// ---- helpers ------------------------------------------------------------------------------

std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Sums every sample of each metric name in Prometheus text format.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    size_t sp = line.rfind(' ');
    if (name_end == std::string::npos || sp == std::string::npos) continue;
    out[line.substr(0, name_end)] += std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double CpuSeconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double SelfCpu() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  return CpuSeconds(r);
}

std::string ThreadSummary(const std::map<std::string, double>& by_name) {
  std::vector<std::pair<double, std::string>> v;
  for (const auto& [name, s] : by_name) {
    if (s >= 0.005) v.emplace_back(s, name);
  }
  std::sort(v.rbegin(), v.rend());
  std::string out;
  for (const auto& [s, name] : v)
    out += fmt::format("{}{} {:.2f}s", out.empty() ? "" : ", ", name, s);
  return out.empty() ? "-" : out;
}

struct PhaseCpu {
  CpuTimes process;
  std::map<std::string, double> by_thread;
  double run_queue_wait_s = 0;  // summed over threads
};

struct Snapshot {
  CpuTimes cpu;
  std::map<pid_t, ThreadCpu> threads;
};

Snapshot Snap(pid_t pid) { return Snapshot{ReadProcessCpu(pid), ReadThreadCpu(pid)}; }

PhaseCpu Between(const Snapshot& a, const Snapshot& b) {
  PhaseCpu p;
  p.process.user_s = b.cpu.user_s - a.cpu.user_s;
  p.process.system_s = b.cpu.system_s - a.cpu.system_s;
  p.by_thread = CpuByThreadName(a.threads, b.threads);
  p.run_queue_wait_s = RunQueueWait(a.threads, b.threads);
  return p;
}

nlohmann::json ToJson(const PhaseCpu& p) {
  nlohmann::json threads = nlohmann::json::object();
  for (const auto& [name, s] : p.by_thread) threads[name] = s;
  return {{"user_s", p.process.user_s},
          {"system_s", p.process.system_s},
          {"threads", threads},
          {"run_queue_wait_s", p.run_queue_wait_s}};
}

nlohmann::json CfWritesJson(const std::map<std::string, ColumnFamilyWrites>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [cf, w] : m) {
    j[cf] = {{"flushes", w.flushes},
             {"flush_bytes", w.flush_bytes},
             {"compactions", w.compactions},
             {"compaction_bytes", w.compaction_bytes},
             {"blob_bytes", w.blob_bytes}};
  }
  return j;
}

nlohmann::json ToJson(const DiskUsage& d) {
  return {{"sst", d.sst},
          {"blob", d.blob},
          {"wal", d.wal},
          {"wal_segments", d.segments},
          {"checkpoints", d.checkpoints},
          {"other", d.other},
          {"apparent", d.apparent()},
          {"allocated", d.allocated}};
}

std::string DiskLine(const DiskUsage& d, int64_t raw) {
  return fmt::format(
      "{:.1f} MB = {:.3f} of raw (sst {:.1f}, blob {:.1f}, rocksdb wal {:.1f}, wal segments "
      "{:.1f}, checkpoints {:.1f}, other {:.1f} MB; du {:.1f} MB = {:.3f} of raw)",
      d.apparent() / 1e6, static_cast<double>(d.apparent()) / static_cast<double>(raw), d.sst / 1e6,
      d.blob / 1e6, d.wal / 1e6, d.segments / 1e6, d.checkpoints / 1e6, d.other / 1e6,
      d.allocated / 1e6, static_cast<double>(d.allocated) / static_cast<double>(raw));
}

// ---- the server ---------------------------------------------------------------------------

// Starts logq-store on `data_dir` (its output appended to `log_path`), reads its port from
// the "listening on" line and waits up to `ready_timeout_s` for /ready 200. Null (and the
// log on stderr) if it does not get there.
std::unique_ptr<ChildProcess> StartStore(const Options& o, const std::string& data_dir,
                                         const std::string& log_path, int ready_timeout_s,
                                         uint16_t* port) {
  std::vector<std::string> argv = {
      o.store_bin,
      "-storage.path=" + data_dir,
      "-server.http-listen-address=127.0.0.1",
      "-server.http-listen-port=0",
      std::string("-storage.sync-writes=") + (o.sync_writes ? "true" : "false"),
      "-limits-config.ingestion-rate-mb=100000",
      "-limits-config.ingestion-burst-size-mb=100000"};
  for (const auto& f : o.store_flags) argv.push_back(f);
  const size_t log_start = std::filesystem::exists(log_path)
                               ? static_cast<size_t>(std::filesystem::file_size(log_path))
                               : 0;
  auto started = ChildProcess::Start(argv, log_path);
  if (!started.ok()) {
    std::fprintf(stderr, "starting %s: %s\n", o.store_bin.c_str(),
                 started.status().message().c_str());
    return nullptr;
  }
  std::unique_ptr<ChildProcess> store = std::move(started).value();
  *port = 0;
  for (auto deadline = Clock::now() + std::chrono::seconds(30); *port == 0;) {
    std::string log = ReadWholeFile(log_path);
    size_t p = log.find("listening on 127.0.0.1:", std::min(log_start, log.size()));
    if (p != std::string::npos) *port = static_cast<uint16_t>(std::atoi(log.c_str() + p + 23));
    if (*port != 0) break;
    if (store->Exited() || Clock::now() > deadline) {
      std::fprintf(stderr, "logq-store did not start listening; its log:\n%s\n", log.c_str());
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  HttpConnection c("127.0.0.1", *port, 2000);
  for (auto deadline = Clock::now() + std::chrono::seconds(ready_timeout_s);;) {
    auto r = c.Do("GET", "/ready", "", "");
    if (r.ok() && r->status == 200) break;
    if (store->Exited() || Clock::now() > deadline) {
      std::fprintf(stderr, "logq-store never became ready; its log:\n%s\n",
                   ReadWholeFile(log_path).c_str());
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return store;
}

// Waits until `pid` uses less than 2 % of a core over a second (background work after a
// cut: checkpoint, compactions), at most `max_s`. Returns the seconds waited.
double Settle(pid_t pid, double max_s) {
  const auto t0 = Clock::now();
  while (Since(t0) < max_s) {
    const double c0 = ReadProcessCpu(pid).total();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (ReadProcessCpu(pid).total() - c0 < 0.02) break;
  }
  return Since(t0);
}

// The numbers of the store's "wal: replayed N records (B bytes) from S segments in X.XXs"
// log line after `from` in `log`; false if there is none.
struct ReplayLine {
  double records = 0, bytes = 0, segments = 0, seconds = 0;
};
bool ParseReplayLine(const std::string& log, size_t from, ReplayLine* out) {
  size_t p = log.find("wal: replayed ", std::min(from, log.size()));
  if (p == std::string::npos) return false;
  return std::sscanf(log.c_str() + p, "wal: replayed %lf records (%lf bytes) from %lf segments in %lfs",
                     &out->records, &out->bytes, &out->segments, &out->seconds) == 4;
}

// ---- the run ------------------------------------------------------------------------------

int Run(const Options& o) {
  const int64_t start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  Options opts = o;
  opts.gen.end_ns = start_ns;  // timestamps end at the run's start: inside the acceptance window
  std::fprintf(stderr, "generating %lld lines and serializing %s bodies...\n",
               static_cast<long long>(opts.gen.lines), o.format.c_str());
  const Input in = BuildInput(opts);
  std::fprintf(stderr, "%zu bodies, %.1f MB raw, %.1f MB on the wire, prepared in %.1f s\n",
               in.bodies.size(), in.raw_bytes / 1e6, in.wire_bytes / 1e6, in.seconds);

  // Fresh storage directory and the server.
  std::string tmpl = o.dir + "/logq-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "cannot create a temporary directory under %s\n", o.dir.c_str());
    return 1;
  }
  const std::string work = tmpl, data_dir = work + "/data", log_path = work + "/store.log";
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{work, o.keep};

  const auto boot = Clock::now();
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> store = StartStore(o, data_dir, log_path, 60, &port);
  if (!store) return 1;
  pid_t pid = store->pid();
  const double boot_s = Since(boot);
  const Memory mem_idle = ReadMemory(pid);

  std::unique_ptr<ChildProcess> perf;
  auto start_perf = [&](const std::string& phase) {
    if (o.perf_prefix.empty()) return;
    auto p = ChildProcess::Start({"perf", "record", "-F", "999", "-g", "-p", std::to_string(pid),
                                  "-o", o.perf_prefix + "." + phase + ".data"},
                                 work + "/perf.log");
    if (p.ok())
      perf = std::move(p).value();
    else
      std::fprintf(stderr, "perf: %s\n", p.status().message().c_str());
  };
  auto stop_perf = [&] {
    if (perf) (void)perf->Stop(SIGINT, 60'000);
    perf.reset();
  };

  // ---- ingest ----
  const size_t n = in.bodies.size();
  std::vector<double> latency(n, 0);
  std::vector<int> status(n, 0);
  std::vector<std::string> errors(n);
  std::atomic<size_t> next{0};
  const std::string content_type =
      o.format == "json" ? "application/json" : "application/x-protobuf";
  start_perf("ingest");
  const Snapshot s0 = Snap(pid);
  const MachineCpu machine0 = ReadMachineCpu();
  const double client_cpu0 = SelfCpu();
  const auto t0 = Clock::now();
  {
    std::vector<std::thread> senders;
    for (int w = 0; w < o.concurrency; ++w) {
      senders.emplace_back([&] {
        HttpConnection c("127.0.0.1", port, 120'000);
        for (size_t i = next++; i < n; i = next++) {
          const auto r0 = Clock::now();
          auto r = c.Do("POST", "/loki/api/v1/push", content_type, in.bodies[i].data);
          latency[i] = Since(r0);
          status[i] = r.ok() ? r->status : -1;
          if (!r.ok())
            errors[i] = r.status().message();
          else if (r->status != 204)
            errors[i] = r->body.substr(0, 500);
        }
      });
    }
    for (auto& t : senders) t.join();
  }
  const double wall = Since(t0);
  const double client_cpu = SelfCpu() - client_cpu0;
  const MachineCpu machine1 = ReadMachineCpu();
  const Snapshot s1 = Snap(pid);
  stop_perf();
  const Memory mem_ingest = ReadMemory(pid);
  auto admin = std::make_unique<HttpConnection>("127.0.0.1", port, 600'000);
  std::map<std::string, double> m_ingest;
  if (auto r = admin->Do("GET", "/metrics", "", ""); r.ok() && r->status == 200)
    m_ingest = ParseMetrics(r->body);
  const DiskUsage du_ingest = ScanDirectory(data_dir);

  // ---- --kill-restart: SIGKILL, start again on the same directory, time the replay ----
  struct {
    double ready_s = 0, cpu_s = 0;
    int64_t vmhwm = 0;
    ReplayLine line;
    bool logged = false;
  } replay;
  if (o.kill_restart) {
    (void)store->Stop(SIGKILL, 60'000);
    const size_t log_at = static_cast<size_t>(std::filesystem::file_size(log_path));
    const auto r0 = Clock::now();
    store = StartStore(o, data_dir, log_path, 1800, &port);
    if (!store) return 1;
    replay.ready_s = Since(r0);
    pid = store->pid();
    replay.cpu_s = ReadProcessCpu(pid).total();
    replay.vmhwm = ReadMemory(pid).peak_rss;
    replay.logged = ParseReplayLine(ReadWholeFile(log_path), log_at, &replay.line);
    admin = std::make_unique<HttpConnection>("127.0.0.1", port, 600'000);
  }

  // ---- flush: cut every head into chunks; then until the server is idle again ----
  start_perf("flush");
  const Snapshot s2 = Snap(pid);
  const auto f0 = Clock::now();
  auto fr = admin->Do("POST", "/flush", "", "");
  const double flush_s = Since(f0);
  const Snapshot s3 = Snap(pid);
  const double settle_s = Settle(pid, 120);
  const Snapshot s4 = Snap(pid);
  stop_perf();
  const int flush_status = fr.ok() ? fr->status : -1;
  const Memory mem_flush = ReadMemory(pid);
  std::map<std::string, double> m_flush;
  if (auto r = admin->Do("GET", "/metrics", "", ""); r.ok() && r->status == 200)
    m_flush = ParseMetrics(r->body);
  const DiskUsage du_flush = ScanDirectory(data_dir);
  // Every line exactly once, read back: sum(count_over_time) over the whole corpus (the
  // generator's timestamps lie in the hour before start_ns). After --kill-restart the
  // chunk metrics cover only the restarted process, so this is the check that counts.
  double counted_lines = -1;
  {
    const std::string q = "sum(count_over_time({namespace=~\".+\"}[2h]))";
    std::string enc;
    for (unsigned char ch : q) {
      if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
        enc += static_cast<char>(ch);
      else
        enc += fmt::format("%{:02X}", ch);
    }
    auto r = admin->Do("GET", fmt::format("/loki/api/v1/query?query={}&time={}", enc, start_ns),
                       "", "");
    if (r.ok() && r->status == 200) {
      nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_discarded() && j.contains("data") && !j["data"]["result"].empty())
        counted_lines = std::strtod(
            j["data"]["result"][0]["value"][1].get<std::string>().c_str(), nullptr);
    }
  }

  // ---- graceful shutdown: memtables flushed, WAL retired ----
  const auto q0 = Clock::now();
  Status stopped = store->Stop(SIGTERM, 300'000);
  const double shutdown_s = Since(q0);
  const double server_cpu_total = store->Exited() ? CpuSeconds(store->usage()) : 0;
  const DiskUsage du_rest = ScanDirectory(data_dir);
  const std::map<std::string, ColumnFamilyWrites> cf_writes = ParseRocksDbLog(data_dir + "/LOG");

  // ---- report ----
  const PhaseCpu ingest = Between(s0, s1), flush = Between(s2, s3), cut = Between(s2, s4);
  std::vector<double> lat_ms;
  int ok = 0, bad = 0;
  std::string first_error;
  for (size_t i = 0; i < n; ++i) {
    lat_ms.push_back(latency[i] * 1e3);
    if (status[i] == 204) {
      ++ok;
    } else {
      ++bad;
      if (first_error.empty())
        first_error = fmt::format("request {}: status {}: {}", i, status[i], errors[i]);
    }
  }
  const double raw_mb = in.raw_bytes / 1e6;
  // After --kill-restart the restarted store's counter starts at zero: the ingest's count.
  const double received_lines = !o.kill_restart && m_flush.count("logq_received_lines_total")
                                    ? m_flush["logq_received_lines_total"]
                                    : m_ingest["logq_received_lines_total"];
  const double disk_flush = m_flush["logq_disk_bytes"];
  const double disk_ingest = m_ingest["logq_disk_bytes"];
  const double chunk_raw = m_flush["logq_chunk_raw_bytes_total"],
               chunk_enc = m_flush["logq_chunk_encoded_bytes_total"];
  const double ingest_cpu = ingest.process.total(), flush_cpu = flush.process.total(),
               cut_cpu = cut.process.total();
  const double mbps_cpu = ingest_cpu > 0 ? raw_mb / ingest_cpu : 0;
  // The cut's CPU: the /flush request and the background work until idle again.
  const double mbps_cpu_with_flush = ingest_cpu + cut_cpu > 0 ? raw_mb / (ingest_cpu + cut_cpu) : 0;
  // Every raw byte in a chunk exactly once (a replayed log must not duplicate or lose); after
  // --kill-restart the chunks cut before the kill are in the first process's counter.
  const double chunk_raw_before_kill = o.kill_restart ? m_ingest["logq_chunk_raw_bytes_total"] : 0;
  const bool chunks_match =
      static_cast<int64_t>(chunk_raw + chunk_raw_before_kill + 0.5) == in.raw_bytes;
  const bool count_match = static_cast<int64_t>(counted_lines + 0.5) == in.lines;
  const double machine_busy = machine1.busy_s - machine0.busy_s;
  const double others_cpu = std::max(0.0, machine_busy - ingest_cpu - client_cpu);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const bool lines_match = static_cast<int64_t>(received_lines + 0.5) == in.lines;

  const std::string title =
      fmt::format("{} sync_writes={}", o.format == "json" ? "json" : "protobuf+snappy",
                  o.sync_writes ? "on" : "off");
  std::printf("== logq ingest benchmark: %s ==\n", title.c_str());
  std::printf(
      "input       %lld lines, %zu streams, %.1f MB raw (json %.0f%%, logfmt %.0f%%, nginx %.0f%%, "
      "plain "
      "%.0f%% of bytes), seed %llu\n",
      static_cast<long long>(in.lines), in.streams, raw_mb, 100.0 * in.kind_bytes[0] / in.raw_bytes,
      100.0 * in.kind_bytes[1] / in.raw_bytes, 100.0 * in.kind_bytes[2] / in.raw_bytes,
      100.0 * in.kind_bytes[3] / in.raw_bytes, static_cast<unsigned long long>(o.gen.seed));
  std::printf(
      "requests    %zu bodies of ~%lld B raw, %.1f MB on the wire (%.3f of raw), %d connections; "
      "prepared in %.1f s\n",
      n, static_cast<long long>(o.batch_bytes), in.wire_bytes / 1e6,
      static_cast<double>(in.wire_bytes) / static_cast<double>(in.raw_bytes), o.concurrency,
      in.seconds);
  std::printf("responses   204: %d, other: %d%s%s\n", ok, bad,
              first_error.empty() ? "" : "  first: ", first_error.c_str());
  std::printf("stored      logq_received_lines_total %.0f (%s)\n", received_lines,
              lines_match ? "all lines" : "MISMATCH");
  std::printf("wall        %.2f s  %.1f MB/s  %.0f lines/s\n", wall, raw_mb / wall,
              static_cast<double>(in.lines) / wall);
  std::printf(
      "server CPU  ingest %.2f s (user %.2f, sys %.2f) = %.1f MB raw per CPU-second; %.2f cores "
      "busy\n",
      ingest_cpu, ingest.process.user_s, ingest.process.system_s, mbps_cpu, ingest_cpu / wall);
  std::printf(
      "            by thread: %s; runnable but waiting for a CPU %.2f s (summed over threads)\n",
      ThreadSummary(ingest.by_thread).c_str(), ingest.run_queue_wait_s);
  std::printf("latency     p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", Percentile(lat_ms, 0.5),
              Percentile(lat_ms, 0.99), Percentile(lat_ms, 1.0));
  std::printf(
      "memory      VmHWM %.1f MB after ingest, %.1f MB after flush (idle at start: VmRSS %.1f "
      "MB)\n",
      mem_ingest.peak_rss / 1e6, mem_flush.peak_rss / 1e6, mem_idle.rss / 1e6);
  std::printf(
      "machine     during ingest: %.2f of %ld cores busy; other processes used %.2f cores\n",
      machine_busy / wall, cores, others_cpu / wall);
  std::printf(
      "flush       POST /flush -> %d in %.2f s, server CPU %.2f s (%s; waiting for a CPU %.2f s); "
      "until idle %.1f s later: %.2f s (%s)\n",
      flush_status, flush_s, flush_cpu, ThreadSummary(flush.by_thread).c_str(),
      flush.run_queue_wait_s, settle_s, cut_cpu, ThreadSummary(cut.by_thread).c_str());
  std::printf("incl. cut   ingest + cut = %.2f CPU-s = %.1f MB raw per server CPU-second\n",
              ingest_cpu + cut_cpu, mbps_cpu_with_flush);
  if (o.kill_restart) {
    std::printf(
        "replay      kill -9 after the ingest, restart: /ready 200 after %.2f s (server CPU %.2f s, "
        "VmHWM %.1f MB); ",
        replay.ready_s, replay.cpu_s, replay.vmhwm / 1e6);
    if (replay.logged) {
      std::printf(
          "store: %.0f records, %.1f MB of log from %.0f segments in %.2f s = %.0f MB/s "
          "(%.0f MB/s of log until ready)\n",
          replay.line.records, replay.line.bytes / 1e6, replay.line.segments, replay.line.seconds,
          replay.line.seconds > 0 ? replay.line.bytes / 1e6 / replay.line.seconds : 0,
          replay.line.bytes / 1e6 / replay.ready_s);
    } else {
      std::printf("no \"wal: replayed\" line in the store's log\n");
    }
    std::printf("            WAL before the kill: %s\n", DiskLine(du_ingest, in.raw_bytes).c_str());
  }
  std::printf(
      "chunks      %.0f cut (%.0f of them by the cutter during ingest), encoded %.1f MB for %.1f "
      "MB raw = %.3f of raw (zstd, chunk bytes only)%s\n",
      m_flush["logq_chunks_cut_total"], m_ingest["logq_chunks_cut_total"], chunk_enc / 1e6,
      chunk_raw / 1e6, chunk_raw > 0 ? chunk_enc / chunk_raw : 0,
      chunks_match ? ""
                   : fmt::format("; MISMATCH: chunk raw bytes {:.0f} (+{:.0f} before the kill) != "
                                 "{} raw bytes sent",
                                 chunk_raw, chunk_raw_before_kill, in.raw_bytes)
                         .c_str());
  std::printf("read back   sum(count_over_time) over the corpus = %.0f of %lld lines (%s)\n",
              counted_lines, static_cast<long long>(in.lines), count_match ? "all" : "MISMATCH");
  std::printf("disk        after ingest: logq_disk_bytes %.1f MB = %.3f of raw; files %s\n",
              disk_ingest / 1e6, disk_ingest / in.raw_bytes,
              DiskLine(du_ingest, in.raw_bytes).c_str());
  std::printf("            after flush:  logq_disk_bytes %.1f MB = %.3f of raw; files %s\n",
              disk_flush / 1e6, disk_flush / in.raw_bytes,
              DiskLine(du_flush, in.raw_bytes).c_str());
  std::printf("            at rest (after shutdown, %.1f s): files %s\n", shutdown_s,
              DiskLine(du_rest, in.raw_bytes).c_str());
  {
    int64_t total = 0;
    std::string detail;
    for (const auto& [cf, w] : cf_writes) {
      total += w.total();
      if (w.total() < 1'000'000) continue;
      detail += fmt::format("{}{}: {} flushes {:.1f} MB, {} compactions {:.1f} MB",
                            detail.empty() ? "" : "; ", cf, w.flushes, w.flush_bytes / 1e6,
                            w.compactions, w.compaction_bytes / 1e6);
      if (w.blob_bytes > 0) detail += fmt::format(", blobs {:.1f} MB", w.blob_bytes / 1e6);
    }
    if (cf_writes.empty()) {
      // logq-store sends RocksDB's info log to its own log at debug level (no <data>/LOG).
      std::printf("rocksdb     no <data>/LOG to read what RocksDB wrote (the store logs it at "
                  "debug level)\n");
    } else {
      std::printf(
          "rocksdb     SST+blob bytes written over the run: %.1f MB = %.2f of raw (WAL not "
          "included)\n",
          total / 1e6, static_cast<double>(total) / static_cast<double>(in.raw_bytes));
      std::printf("            %s\n", detail.empty() ? "-" : detail.c_str());
    }
  }
  std::printf(
      "other       server startup %.2f s; server CPU over its life %.2f s; client CPU while "
      "sending %.2f s\n",
      boot_s, server_cpu_total, client_cpu);
  if (!stopped.ok()) std::printf("warning     %s\n", stopped.message().c_str());
  if (o.keep) std::printf("kept        %s (store log: %s)\n", work.c_str(), log_path.c_str());

  if (o.json) {
    nlohmann::json j = {
        {"format", o.format},
        {"sync_writes", o.sync_writes},
        {"lines", in.lines},
        {"streams", in.streams},
        {"raw_bytes", in.raw_bytes},
        {"wire_bytes", in.wire_bytes},
        {"requests", n},
        {"concurrency", o.concurrency},
        {"batch_bytes", o.batch_bytes},
        {"seed", o.gen.seed},
        {"responses_204", ok},
        {"responses_other", bad},
        {"received_lines", received_lines},
        {"wall_s", wall},
        {"wall_mb_s", raw_mb / wall},
        {"lines_per_s", static_cast<double>(in.lines) / wall},
        {"server_cpu_ingest", ToJson(ingest)},
        {"mb_per_server_cpu_s", mbps_cpu},
        {"mb_per_server_cpu_s_with_flush", mbps_cpu_with_flush},
        {"server_cpu_cut", ToJson(cut)},
        {"settle_after_flush_s", settle_s},
        {"latency_ms",
         {{"p50", Percentile(lat_ms, 0.5)},
          {"p99", Percentile(lat_ms, 0.99)},
          {"max", Percentile(lat_ms, 1.0)}}},
        {"vmhwm_ingest_bytes", mem_ingest.peak_rss},
        {"vmhwm_flush_bytes", mem_flush.peak_rss},
        {"flush_status", flush_status},
        {"flush_s", flush_s},
        {"server_cpu_flush", ToJson(flush)},
        {"chunks_cut", m_flush["logq_chunks_cut_total"]},
        {"chunks_cut_during_ingest", m_ingest["logq_chunks_cut_total"]},
        {"chunk_raw_bytes", chunk_raw},
        {"chunk_encoded_bytes", chunk_enc},
        {"disk_bytes_after_ingest", disk_ingest},
        {"disk_bytes_after_flush", disk_flush},
        {"disk_ratio_after_flush", disk_flush / in.raw_bytes},
        {"files_after_ingest", ToJson(du_ingest)},
        {"files_after_flush", ToJson(du_flush)},
        {"du_ratio_after_flush",
         static_cast<double>(du_flush.allocated) / static_cast<double>(in.raw_bytes)},
        {"chunks_match", chunks_match},
        {"counted_lines", counted_lines},
        {"files_at_rest", ToJson(du_rest)},
        {"rocksdb_writes", CfWritesJson(cf_writes)},
        {"shutdown_s", shutdown_s},
        {"server_cpu_life_s", server_cpu_total},
        {"client_cpu_s", client_cpu},
        {"machine_cores", cores},
        {"machine_busy_cores_ingest", machine_busy / wall},
        {"other_processes_cores_ingest", others_cpu / wall},
    };
    if (o.kill_restart) {
      j["replay"] = {{"ready_s", replay.ready_s},
                     {"server_cpu_s", replay.cpu_s},
                     {"vmhwm_bytes", replay.vmhwm},
                     {"logged", replay.logged},
                     {"records", replay.line.records},
                     {"bytes", replay.line.bytes},
                     {"segments", replay.line.segments},
                     {"seconds", replay.line.seconds}};
    }
    std::printf("BENCH_JSON %s\n", j.dump().c_str());
  }
  std::fflush(stdout);
  return bad == 0 && lines_match && chunks_match && count_match && flush_status == 204 &&
                 (!o.kill_restart || replay.logged)
             ? 0
             : 1;
}

// ---- steady mode --------------------------------------------------------------------------

int RunSteady(const Options& o) {
  const int64_t start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  GeneratorOptions g = o.gen;
  g.span_ns = o.steady_s * 1'000'000'000;
  g.end_ns = start_ns + g.span_ns;  // entry i's timestamp follows the wall clock when sent
  if (!o.lines_given) {
    // 188.6 B per line on average (docs/benchmarks.md).
    g.lines = static_cast<int64_t>(o.rate_mb_s * 1e6 * static_cast<double>(o.steady_s) / 188.6);
  }
  std::string tmpl = o.dir + "/logq-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "cannot create a temporary directory under %s\n", o.dir.c_str());
    return 1;
  }
  const std::string work = tmpl, data_dir = work + "/data", log_path = work + "/store.log";
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{work, o.keep};
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> store = StartStore(o, data_dir, log_path, 60, &port);
  if (!store) return 1;
  const pid_t pid = store->pid();

  std::printf(
      "== logq steady ingest: %s, sync_writes=%s, %.2f MB/s raw for %lld s (%lld lines), du of "
      "the data directory every %lld s ==\n",
      o.format.c_str(), o.sync_writes ? "on" : "off", o.rate_mb_s,
      static_cast<long long>(o.steady_s), static_cast<long long>(g.lines),
      static_cast<long long>(o.sample_s));
  std::printf("store flags: %s\n", [&] {
    std::string f;
    for (const auto& x : o.store_flags) f += (f.empty() ? "" : " ") + x;
    return f.empty() ? std::string("(defaults)") : f;
  }().c_str());
  std::printf(
      "%7s %9s %9s %7s %9s %9s %8s %8s %8s %8s %8s %9s %7s %7s\n", "t s", "acked MB", "du MB",
      "du/raw", "wal seg", "checkpt", "sst", "blob", "rdb wal", "rss MB", "cpu s", "MB/cpu-s",
      "chunks", "ckpts");
  std::fflush(stdout);

  std::atomic<int64_t> acked_raw{0}, acked_lines{0};
  std::atomic<int> bad{0};
  std::atomic<bool> done{false};
  std::string first_error;
  const auto t0 = Clock::now();
  const double cpu0 = ReadProcessCpu(pid).total();
  std::thread sender([&] {
    BodyBuilder b(o.format, o.batch_bytes, g);
    HttpConnection c("127.0.0.1", port, 120'000);
    const std::string content_type =
        o.format == "json" ? "application/json" : "application/x-protobuf";
    int64_t due_raw = 0;
    Body body;
    while (b.Next(&body)) {
      // Send when the bytes before this body are due at the rate.
      const auto due = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                static_cast<double>(due_raw) / (o.rate_mb_s * 1e6)));
      std::this_thread::sleep_until(due);
      due_raw += body.raw_bytes;
      auto r = c.Do("POST", "/loki/api/v1/push", content_type, body.data);
      if (r.ok() && r->status == 204) {
        acked_raw += body.raw_bytes;
        acked_lines += body.lines;
      } else if (bad++ == 0) {
        first_error = r.ok() ? fmt::format("{}: {}", r->status, r->body.substr(0, 300))
                             : r.status().message();
      }
    }
    done = true;
  });

  struct Sample {
    double t, acked, du, ratio, rocksdb_wal;
  };
  std::vector<Sample> samples;
  double max_ratio_after_first_checkpoint = 0;
  bool seen_checkpoint = false;
  auto sample = [&] {
    const double t = Since(t0);
    const DiskUsage d = ScanDirectory(data_dir);
    const double acked = static_cast<double>(acked_raw.load());
    const double cpu = ReadProcessCpu(pid).total() - cpu0;
    std::map<std::string, double> m;
    {
      HttpConnection c("127.0.0.1", port, 10'000);
      if (auto r = c.Do("GET", "/metrics", "", ""); r.ok() && r->status == 200)
        m = ParseMetrics(r->body);
    }
    const double ratio = acked > 0 ? static_cast<double>(d.allocated) / acked : 0;
    const double ckpts = m["logq_wal_checkpoints_total"];
    if (seen_checkpoint) max_ratio_after_first_checkpoint = std::max(max_ratio_after_first_checkpoint, ratio);
    if (ckpts > 0) seen_checkpoint = true;
    samples.push_back({t, acked, static_cast<double>(d.allocated), ratio, static_cast<double>(d.wal)});
    std::printf("%7.0f %9.1f %9.1f %7.3f %9.1f %9.1f %8.1f %8.1f %8.1f %8.1f %8.2f %9.1f %7.0f %7.0f\n",
                t, acked / 1e6, d.allocated / 1e6, ratio, d.segments / 1e6, d.checkpoints / 1e6,
                d.sst / 1e6, d.blob / 1e6, d.wal / 1e6, ReadMemory(pid).rss / 1e6, cpu,
                cpu > 0 ? acked / 1e6 / cpu : 0, m["logq_chunks_cut_total"], ckpts);
    std::fflush(stdout);
  };
  for (int64_t k = 1; !done.load(); ++k) {
    const auto next = t0 + std::chrono::seconds(k * o.sample_s);
    while (!done.load() && Clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) sample();
  }
  sender.join();
  sample();
  const double wall = Since(t0);
  const double cpu = ReadProcessCpu(pid).total() - cpu0;
  const Memory mem = ReadMemory(pid);
  double max_ratio = 0, max_du = 0;
  for (const auto& x : samples) {
    if (x.acked >= 0.05 * static_cast<double>(acked_raw.load())) max_ratio = std::max(max_ratio, x.ratio);
    max_du = std::max(max_du, x.du);
  }
  std::printf(
      "summary     %.1f MB raw acked (%lld lines) in %.0f s, %d pushes not 204%s%s; server CPU %.2f s "
      "= %.1f MB raw per CPU-second (ingest, cuts and checkpoints); VmHWM %.1f MB\n",
      acked_raw.load() / 1e6, static_cast<long long>(acked_lines.load()), wall, bad.load(),
      first_error.empty() ? "" : " first: ", first_error.c_str(), cpu,
      cpu > 0 ? acked_raw.load() / 1e6 / cpu : 0, mem.peak_rss / 1e6);
  std::printf(
      "            du/raw: max %.3f (samples after 5 %% of the run's bytes), max %.3f after the "
      "first checkpoint, %.3f at the end; largest du %.1f MB\n",
      max_ratio, max_ratio_after_first_checkpoint, samples.empty() ? 0 : samples.back().ratio,
      max_du / 1e6);
  if (o.json) {
    nlohmann::json curve = nlohmann::json::array();
    for (const auto& x : samples) curve.push_back({x.t, x.acked, x.du, x.rocksdb_wal});
    nlohmann::json j = {{"mode", "steady"},
                        {"format", o.format},
                        {"sync_writes", o.sync_writes},
                        {"rate_mb_s", o.rate_mb_s},
                        {"seconds", o.steady_s},
                        {"acked_raw_bytes", acked_raw.load()},
                        {"acked_lines", acked_lines.load()},
                        {"pushes_not_204", bad.load()},
                        {"server_cpu_s", cpu},
                        {"vmhwm_bytes", mem.peak_rss},
                        {"max_du_ratio", max_ratio},
                        {"max_du_ratio_after_first_checkpoint", max_ratio_after_first_checkpoint},
                        {"curve_t_acked_du_rocksdbwal", curve}};
    std::printf("BENCH_JSON %s\n", j.dump().c_str());
  }
  std::fflush(stdout);
  (void)store->Stop(SIGTERM, 300'000);
  return bad.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace logq::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const logq::bench::Options o = logq::bench::ParseFlags(argc, argv);
  return o.steady_s > 0 ? logq::bench::RunSteady(o) : logq::bench::Run(o);
}
