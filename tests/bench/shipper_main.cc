// logq_bench_shipper: measures logq-shipper against the real logq-store.
//  1. one big CRI file (default 220 MB) shipped from scratch: MB per shipper CPU-second,
//     peak RSS, lines lost (store count vs lines written; the store deduplicates, so a
//     re-sent line cannot hide a lost one), wall time until every byte is acknowledged;
//  2. 20 files appended at a fixed total rate (default 10k lines/s) with a kubelet-style
//     rotation (rename + reopen) of every file mid-run: CPU, RSS, lost, and end-to-end latency
//     of probe lines (written → visible in a query);
//  3. 1,000 watched files, all shipped, then idle: RSS and CPU per second while idle.
// Usage: logq_bench_shipper --store BIN --shipper BIN --dir DIR [--big-mb N] [--rate N]
//        [--seconds N] [--idle-files N] [--port N]
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/api/push.h"
#include "tests/bench/child_process.h"
#include "tests/bench/http_connection.h"
#include "tests/bench/proc_stats.h"

namespace {

using Clock = std::chrono::steady_clock;
using logq::bench::ChildProcess;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double Secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string Ts(int64_t ns) {
  time_t s = ns / 1'000'000'000;
  struct tm tm;
  gmtime_r(&s, &tm);
  char b[40], o[64];
  strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(o, sizeof(o), "%s.%09lldZ", b, static_cast<long long>(ns % 1'000'000'000));
  return o;
}

std::string UrlEncode(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o.push_back(static_cast<char>(c));
    else {
      char b[4];
      snprintf(b, sizeof(b), "%%%02X", c);
      o += b;
    }
  }
  return o;
}

struct Ctx {
  std::string store_bin, shipper_bin, dir;
  uint16_t port = 3188;
  int64_t big_mb = 220;
  int rate = 10000;
  int seconds = 20;
  int idle_files = 1000;
};

int64_t StoreCount(Ctx& c, const std::string& selector) {
  logq::bench::HttpConnection h("127.0.0.1", c.port, 120000);
  std::string q = "sum(count_over_time(" + selector + "[1h]))";
  auto r = h.Do("GET", "/loki/api/v1/query?query=" + UrlEncode(q), "", "");
  if (!r.ok() || r->status != 200) return -1;
  size_t p = r->body.find("\"value\":[");
  if (p == std::string::npos) return 0;
  p = r->body.find(",\"", p);
  return std::atoll(r->body.c_str() + p + 2);
}

bool Contains(Ctx& c, const std::string& selector, const std::string& needle) {
  logq::bench::HttpConnection h("127.0.0.1", c.port, 10000);
  std::string q = selector + " |= \"" + needle + "\"";
  int64_t now = NowNs();
  auto r = h.Do("GET", "/loki/api/v1/query_range?limit=1&start=" + std::to_string(now - 600'000'000'000LL) +
                           "&end=" + std::to_string(now + 60'000'000'000LL) + "&query=" + UrlEncode(q), "", "");
  return r.ok() && r->status == 200 && r->body.find(needle) != std::string::npos;
}

// Committed offset of `path` in a positions file, -1 if absent.
int64_t PositionOf(const std::string& positions, const std::string& path) {
  std::ifstream f(positions);
  std::string line;
  std::string key = "  \"" + path + "\": \"";
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + key.size());
  }
  return -1;
}

std::string Line(int64_t ts, int64_t seq, const char* stream = "stdout") {
  // ~200-byte CRI lines, JSON-ish payload like an application log.
  char msg[256];
  snprintf(msg, sizeof(msg),
           "{\"level\":\"info\",\"seq\":%lld,\"msg\":\"request served\",\"path\":\"/api/v1/items/%lld\","
           "\"status\":200,\"duration_ms\":%lld,\"user\":\"u%05lld\",\"trace\":\"%016llx\"}",
           static_cast<long long>(seq), static_cast<long long>(seq % 9973), static_cast<long long>(seq % 250),
           static_cast<long long>(seq % 50000), static_cast<unsigned long long>(seq * 0x9E3779B97F4A7C15ULL));
  return Ts(ts) + " " + stream + " F " + msg + "\n";
}

std::unique_ptr<ChildProcess> StartShipper(Ctx& c, const std::string& sdir, const std::string& extra = "") {
  std::ofstream(sdir + "/shipper.yaml")
      << "server: {http_listen_address: 127.0.0.1, http_listen_port: 0}\n"
      << "positions: {filename: " << sdir << "/positions.yaml}\n"
      << "clients:\n  - url: http://127.0.0.1:" << c.port << "/loki/api/v1/push\n" << extra
      << "shipper: {pods_root: " << sdir << "/pods, node_name: bench}\n";
  auto p = ChildProcess::Start({c.shipper_bin, "-config.file=" + sdir + "/shipper.yaml"}, sdir + "/shipper.log");
  if (!p.ok()) {
    fprintf(stderr, "shipper: %s\n", p.status().message().c_str());
    exit(1);
  }
  return std::move(p).value();
}

void Big(Ctx& c) {
  std::string sdir = c.dir + "/big";
  std::string cdir = sdir + "/pods/bench_big-0_u-big/app";
  system(("mkdir -p " + cdir).c_str());
  std::string path = cdir + "/0.log";
  int64_t lines = 0, bytes = 0, target = c.big_mb * 1'000'000, t0 = NowNs() - 600'000'000'000LL;
  {
    std::string buf;
    FILE* f = fopen(path.c_str(), "w");
    while (bytes < target) {
      buf.clear();
      for (int i = 0; i < 1000; ++i) buf += Line(t0 + lines * 1000, lines), ++lines;
      fwrite(buf.data(), 1, buf.size(), f);
      bytes += static_cast<int64_t>(buf.size());
    }
    fclose(f);
  }
  // Floors measured in this run on the same file (the machine is shared and noisy, so compare
  // ratios within one run): reading it (cat > /dev/null) and snappy-compressing it in 1 MiB
  // pieces, both single-threaded CPU time of this process.
  {
    auto thread_cpu = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec + ts.tv_nsec / 1e9;
    };
    std::string chunk(1 << 20, '\0');
    double t_read = thread_cpu();
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    while (read(fd, chunk.data(), chunk.size()) > 0) {
    }
    t_read = thread_cpu() - t_read;
    lseek(fd, 0, SEEK_SET);
    double t_snappy = thread_cpu();
    size_t compressed = 0;
    for (ssize_t n; (n = read(fd, chunk.data(), chunk.size())) > 0;) {
      compressed += logq::api::SnappyCompress(std::string_view(chunk.data(), static_cast<size_t>(n))).size();
    }
    t_snappy = thread_cpu() - t_snappy;
    close(fd);
    printf("big_file floors: read %.2f cpu-s (%.0f MB per cpu-s), read+snappy %.2f cpu-s (%.0f MB per cpu-s, %.1f MB compressed)\n",
           t_read, bytes / 1e6 / t_read, t_snappy, bytes / 1e6 / t_snappy, compressed / 1e6);
    fflush(stdout);
  }
  auto start = Clock::now();
  auto sh = StartShipper(c, sdir);
  int64_t peak = 0;
  while (PositionOf(sdir + "/positions.yaml", path) < bytes) {
    peak = std::max(peak, logq::bench::ReadMemory(sh->pid()).peak_rss);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Secs(Clock::now() - start) > 600) {
      fprintf(stderr, "big: not acknowledged after 600s\n");
      break;
    }
  }
  double wall = Secs(Clock::now() - start);
  auto cpu = logq::bench::ReadProcessCpu(sh->pid());
  peak = std::max(peak, logq::bench::ReadMemory(sh->pid()).peak_rss);
  (void)sh->Stop(SIGTERM, 20000);
  int64_t stored = StoreCount(c, "{pod=\"big-0\"}");
  printf("big_file: %.1f MB, %lld lines, wall %.2f s, shipper cpu %.2f s (user %.2f sys %.2f), %.0f MB per cpu-s, "
         "%.0f MB/s wall, peak RSS %.1f MB, stored %lld, lost %lld\n",
         bytes / 1e6, static_cast<long long>(lines), wall, cpu.total(), cpu.user_s, cpu.system_s,
         bytes / 1e6 / cpu.total(), bytes / 1e6 / wall, peak / 1048576.0, static_cast<long long>(stored),
         static_cast<long long>(lines - stored));
  fflush(stdout);
}

void Steady(Ctx& c) {
  std::string sdir = c.dir + "/steady";
  const int kFiles = 20;
  std::vector<int> fds(kFiles);
  std::vector<std::string> dirs(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    dirs[i] = sdir + "/pods/bench_steady-" + std::to_string(i) + "_u-s" + std::to_string(i) + "/app";
    system(("mkdir -p " + dirs[i] + " " + sdir + "/pods/bench_probe-0_u-probe/probe").c_str());
    fds[i] = open((dirs[i] + "/0.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  auto sh = StartShipper(c, sdir);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto cpu0 = logq::bench::ReadProcessCpu(sh->pid());
  std::atomic<bool> stop{false};
  std::vector<double> latencies;
  std::thread probe([&] {
    int fd = open((sdir + "/pods/bench_probe-0_u-probe/probe/0.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    for (int k = 0; !stop; ++k) {
      std::string needle = "probe-" + std::to_string(k) + "-x";
      std::string l = Ts(NowNs()) + " stdout F " + needle + "\n";
      auto t0 = Clock::now();
      (void)!write(fd, l.data(), l.size());
      while (!Contains(c, "{container=\"probe\"}", needle) && Secs(Clock::now() - t0) < 30) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      latencies.push_back(Secs(Clock::now() - t0));
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    close(fd);
  });
  int64_t written = 0, bytes = 0, peak = 0;
  auto start = Clock::now();
  bool rotated = false;
  std::string buf;
  while (Secs(Clock::now() - start) < c.seconds) {
    int64_t due = static_cast<int64_t>(Secs(Clock::now() - start) * c.rate);
    while (written < due) {
      int f = static_cast<int>(written % kFiles);
      std::string l = Line(NowNs(), written / kFiles);
      (void)!write(fds[f], l.data(), l.size());
      bytes += static_cast<int64_t>(l.size());
      ++written;
    }
    if (!rotated && Secs(Clock::now() - start) > c.seconds / 2.0) {
      for (int i = 0; i < kFiles; ++i) {  // kubelet: rename, the runtime reopens
        rename((dirs[i] + "/0.log").c_str(), (dirs[i] + "/0.log.20261122-120000").c_str());
        close(fds[i]);
        fds[i] = open((dirs[i] + "/0.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      }
      rotated = true;
    }
    peak = std::max(peak, logq::bench::ReadMemory(sh->pid()).peak_rss);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  probe.join();
  auto end = Clock::now();
  int64_t stored = 0;
  while (Secs(Clock::now() - end) < 60 && (stored = StoreCount(c, "{container=\"app\", pod=~\"steady-.*\"}")) < written) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  double drain = Secs(Clock::now() - end);
  auto cpu1 = logq::bench::ReadProcessCpu(sh->pid());
  peak = std::max(peak, logq::bench::ReadMemory(sh->pid()).peak_rss);
  (void)sh->Stop(SIGTERM, 20000);
  std::sort(latencies.begin(), latencies.end());
  double p50 = latencies.empty() ? 0 : latencies[latencies.size() / 2];
  double mx = latencies.empty() ? 0 : latencies.back();
  double cpu = cpu1.total() - cpu0.total();
  printf("steady_20_files: %lld lines (%.1f MB) in %d s at %d lines/s with a rotation of every file mid-run; "
         "shipper cpu %.2f s (%.1f%% of a core, %.0f MB per cpu-s), peak RSS %.1f MB, stored %lld, lost %lld, "
         "drain after stop %.2f s, probe latency p50 %.0f ms max %.0f ms (%zu probes, batchwait 1s)\n",
         static_cast<long long>(written), bytes / 1e6, c.seconds, c.rate, cpu, 100 * cpu / c.seconds,
         bytes / 1e6 / cpu, peak / 1048576.0, static_cast<long long>(stored),
         static_cast<long long>(written - stored), drain, p50 * 1000, mx * 1000, latencies.size());
  fflush(stdout);
  for (int fd : fds) close(fd);
}

void Idle(Ctx& c) {
  std::string sdir = c.dir + "/idle";
  int64_t lines = 0;
  for (int i = 0; i < c.idle_files; ++i) {
    std::string d = sdir + "/pods/bench_idle-" + std::to_string(i / 4) + "_u-i" + std::to_string(i / 4) + "/c" +
                    std::to_string(i % 4);
    system(("mkdir -p " + d).c_str());
    std::ofstream f(d + "/0.log");
    for (int k = 0; k < 5; ++k, ++lines) f << Line(NowNs(), k);
  }
  auto sh = StartShipper(c, sdir);
  auto start = Clock::now();
  int64_t stored = 0;
  while (Secs(Clock::now() - start) < 120 && (stored = StoreCount(c, "{pod=~\"idle-.*\"}")) < lines) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  double ship = Secs(Clock::now() - start);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the last positions write happen
  auto cpu0 = logq::bench::ReadProcessCpu(sh->pid());
  std::this_thread::sleep_for(std::chrono::seconds(10));
  auto cpu1 = logq::bench::ReadProcessCpu(sh->pid());
  auto mem = logq::bench::ReadMemory(sh->pid());
  int fds = 0;
  {
    std::string fd_dir = "/proc/" + std::to_string(sh->pid()) + "/fd";
    std::string cmd = "ls " + fd_dir + " | wc -l";
    FILE* p = popen(cmd.c_str(), "r");
    if (p) {
      if (fscanf(p, "%d", &fds) != 1) fds = 0;
      pclose(p);
    }
  }
  (void)sh->Stop(SIGTERM, 20000);
  printf("idle_%d_files: shipped %lld/%lld lines in %.1f s; idle CPU %.3f%% of a core over 10 s; RSS %.1f MB "
         "(peak %.1f MB); open fds %d\n",
         c.idle_files, static_cast<long long>(stored), static_cast<long long>(lines), ship,
         100 * (cpu1.total() - cpu0.total()) / 10, mem.rss / 1048576.0, mem.peak_rss / 1048576.0, fds);
  fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Ctx c;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--store") c.store_bin = v;
    else if (k == "--shipper") c.shipper_bin = v;
    else if (k == "--dir") c.dir = v;
    else if (k == "--big-mb") c.big_mb = std::atoll(v.c_str());
    else if (k == "--rate") c.rate = std::atoi(v.c_str());
    else if (k == "--seconds") c.seconds = std::atoi(v.c_str());
    else if (k == "--idle-files") c.idle_files = std::atoi(v.c_str());
    else if (k == "--port") c.port = static_cast<uint16_t>(std::atoi(v.c_str()));
    else if (k == "--only") only = v;
    else {
      fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (c.store_bin.empty() || c.shipper_bin.empty() || c.dir.empty()) {
    fprintf(stderr, "usage: logq_bench_shipper --store BIN --shipper BIN --dir DIR [--big-mb N] [--rate N] "
                    "[--seconds N] [--idle-files N] [--port N] [--only big|steady|idle]\n");
    return 2;
  }
  system(("mkdir -p " + c.dir + "/store").c_str());
  auto store = ChildProcess::Start({c.store_bin, "-server.http-listen-address=127.0.0.1",
                                    "-server.http-listen-port=" + std::to_string(c.port),
                                    "-storage.path=" + c.dir + "/store", "-limits-config.ingestion-rate-mb=10000",
                                    "-limits-config.ingestion-burst-size-mb=20000", "-server.log-level=warn"},
                                   c.dir + "/store.log");
  if (!store.ok()) return 1;
  for (int i = 0; i < 200; ++i) {
    logq::bench::HttpConnection h("127.0.0.1", c.port, 1000);
    auto r = h.Do("GET", "/ready", "", "");
    if (r.ok() && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (only.empty() || only == "big") Big(c);
  if (only.empty() || only == "steady") Steady(c);
  if (only.empty() || only == "idle") Idle(c);
  (void)(*store)->Stop(SIGTERM, 30000);
  return 0;
}
