// Helpers of the logq-shipper end-to-end tests: the real logq-shipper binary as a process,
// container log writers that behave like a container runtime plus kubelet's rotation
// (rename + reopen, gzip of older generations, deletion of excess ones) or logrotate's
// copytruncate, and a checker that counts lost / duplicated / corrupted lines per stream by
// sequence number from what the store returns.
// Header-only, test-only; writers run on their own threads, everything else on the test thread.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/process.h"

namespace logq::e2e {

// A TCP port that was free a moment ago (bind to 0, read it, close).
inline uint16_t FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  close(s);
  return port;
}

// A logq-store with its default config listening on 127.0.0.1:`port` (the shipper tests'
// store: they write the port into the shipper's client URL).
inline Result<std::unique_ptr<StoreProcess>> StartStoreOnPort(uint16_t port) {
  StoreOptions so;
  so.flags = {"-server.http-listen-port=" + std::to_string(port)};
  return StoreProcess::Start(so);
}

inline std::string ShipperBinary() {
  if (const char* b = std::getenv("LOGQ_SHIPPER_BINARY")) return b;
  return std::string(LOGQ_BINARY_DIR) + "/shipper/logq-shipper";
}

// The real logq-shipper with a config file in `dir`; each start logs to shipper-<n>.log.
class ShipperProcess {
 public:
  ShipperProcess(std::string dir, std::string config_yaml) : dir_(std::move(dir)) {
    std::ofstream(dir_ + "/shipper.yaml") << config_yaml;
  }
  // Runs the shipper through `wrapper` (argv prefix, e.g. {"/usr/bin/prlimit", "--nofile=64:64"}
  // or setpriv to drop privileges); empty: directly.
  void SetWrapper(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }
  Status Start() {
    ++starts_;
    log_ = dir_ + "/shipper-" + std::to_string(starts_) + ".log";
    std::vector<std::string> args = {"-config.file=" + dir_ + "/shipper.yaml", "-server.http-listen-address=127.0.0.1",
                                     "-server.http-listen-port=0", "-log.level=info"};
    std::string binary = ShipperBinary();
    if (!wrapper_.empty()) {
      args.insert(args.begin(), binary);
      args.insert(args.begin(), wrapper_.begin() + 1, wrapper_.end());
      binary = wrapper_[0];
    }
    auto p = testing::Process::Start(binary, args, log_);
    if (!p.ok()) return p.status();
    proc_ = std::move(p).value();
    // Learn the metrics port from "listening on 127.0.0.1:<port>".
    bool ok = PollUntil([&] {
      std::string l = testing::ReadFileOrEmpty(log_);
      size_t pos = l.find("listening on 127.0.0.1:");
      if (pos == std::string::npos) return !proc_->Running();
      port_ = static_cast<uint16_t>(std::stoi(l.substr(pos + 23)));
      return true;
    }, std::chrono::seconds(20));
    if (!ok || port_ == 0) return Internal("shipper did not start: " + testing::ReadFileOrEmpty(log_));
    return Status::OK();
  }
  void Kill() {
    if (proc_) proc_->Kill();
  }
  Result<int> Terminate() { return proc_->Terminate(std::chrono::seconds(20)); }
  bool Running() { return proc_ && proc_->Running(); }
  std::string Metrics() {
    TestHttpClient c("http://127.0.0.1:" + std::to_string(port_), std::chrono::seconds(5));
    return c.Get("/metrics").body;
  }
  int ReadyStatus() {
    TestHttpClient c("http://127.0.0.1:" + std::to_string(port_), std::chrono::seconds(5));
    return c.Get("/ready").status;
  }
  // GET `path` on the shipper's HTTP server (e.g. "/targets"): the body.
  std::string Get(const std::string& path) {
    TestHttpClient c("http://127.0.0.1:" + std::to_string(port_), std::chrono::seconds(5));
    return c.Get(path).body;
  }
  std::string ReadyBody() {
    TestHttpClient c("http://127.0.0.1:" + std::to_string(port_), std::chrono::seconds(5));
    return c.Get("/ready").body;
  }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  std::string Log() const { return testing::ReadFileOrEmpty(log_); }
  std::string AllLogs() const {
    std::string s;
    for (int i = 1; i <= starts_; ++i) s += testing::ReadFileOrEmpty(dir_ + "/shipper-" + std::to_string(i) + ".log");
    return s.size() > 6000 ? s.substr(s.size() - 6000) : s;
  }

 private:
  std::string dir_;
  std::string log_;
  std::unique_ptr<testing::Process> proc_;
  uint16_t port_ = 0;
  int starts_ = 0;
  std::vector<std::string> wrapper_;
};

// The message of line `seq` of stream `id`: deterministic, so corruption is detectable.
inline std::string Message(const std::string& id, int64_t seq) {
  std::string m = "seq=" + std::to_string(seq) + " id=" + id + " ";
  uint64_t h = std::hash<std::string>{}(id) ^ (static_cast<uint64_t>(seq) * 0x9E3779B97F4A7C15ULL);
  size_t len = 10 + h % 180;
  for (size_t i = 0; i < len; ++i) m.push_back("abcdefghijklmnopqrstuvwxyz0123456789"[(h >> (i % 50)) % 36]);
  return m;
}

enum class RotateMode { kNone, kKubelet, kCopyTruncate };

// One container's log: a thread appending CRI lines (stdout, some stderr, some split into
// P/F chunks), rotating as kubelet or logrotate would.
class ContainerWriter {
 public:
  ContainerWriter(std::string dir, std::string id, RotateMode mode, int lines_per_sec, int rotate_every_lines)
      : dir_(std::move(dir)), id_(std::move(id)), mode_(mode), rate_(lines_per_sec), rotate_every_(rotate_every_lines) {
    mkdir(dir_.c_str(), 0755);
    fd_ = ::open((dir_ + "/0.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~ContainerWriter() {
    Stop();
    if (fd_ >= 0) close(fd_);
  }
  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Lines written per stream ("stdout"/"stderr") so far.
  int64_t written(const std::string& stream) const { return stream == "stderr" ? err_seq_ : out_seq_; }
  int rotations() const { return rotations_; }
  const std::string& id() const { return id_; }
  // Writes `n` lines right away (no pacing).
  void WriteBurst(int n) {
    for (int i = 0; i < n; ++i) WriteOne();
  }

 private:
  void WriteRaw(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t w = write(fd_, s.data() + off, s.size() - off);
      if (w <= 0) return;
      off += static_cast<size_t>(w);
    }
  }
  static std::string Ts() {
    static std::atomic<int64_t> last{0};
    int64_t now = NowNs();
    int64_t prev = last.load();
    while (true) {
      int64_t next = std::max(now, prev + 1);
      if (last.compare_exchange_weak(prev, next)) {
        now = next;
        break;
      }
    }
    time_t secs = now / kSecond;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    char out[80];
    snprintf(out, sizeof(out), "%s.%09lldZ", buf, static_cast<long long>(now % kSecond));
    return out;
  }
  void WriteOne() {
    bool err = (n_ % 7) == 3;
    int64_t seq = err ? err_seq_ : out_seq_;
    std::string msg = Message(id_ + (err ? "/stderr" : "/stdout"), seq);
    const char* stream = err ? "stderr" : "stdout";
    if (n_ % 11 == 5 && msg.size() > 12) {
      // Split as the runtime does for long lines: P chunks then F.
      size_t a = msg.size() / 3, b = 2 * msg.size() / 3;
      WriteRaw(Ts() + " " + stream + " P " + msg.substr(0, a) + "\n");
      WriteRaw(Ts() + " " + stream + " P " + msg.substr(a, b - a) + "\n");
      WriteRaw(Ts() + " " + stream + " F " + msg.substr(b) + "\n");
    } else {
      WriteRaw(Ts() + " " + stream + " F " + msg + "\n");
    }
    if (err) ++err_seq_;
    else ++out_seq_;
    ++n_;
    if (mode_ != RotateMode::kNone && rotate_every_ > 0 && n_ % rotate_every_ == 0) Rotate();
  }
  static void Gzip(const std::string& from, const std::string& to) {
    std::string tmp = to + ".tmp";
    std::string data = testing::ReadFileOrEmpty(from);
    gzFile gz = gzopen(tmp.c_str(), "wb");
    gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
    gzclose(gz);
    rename(tmp.c_str(), to.c_str());
  }
  void Rotate() {
    ++rotations_;
    std::string cur = dir_ + "/0.log";
    if (mode_ == RotateMode::kCopyTruncate) {
      // logrotate copytruncate: copy (to a name the shipper does not tail), then truncate.
      std::string data = testing::ReadFileOrEmpty(cur);
      std::ofstream(dir_ + "/0.log.1", std::ios::trunc) << data;
      ftruncate(fd_, 0);
      return;
    }
    // kubelet: gzip older plain generations, delete excess, rename, reopen.
    char ts[32];
    snprintf(ts, sizeof(ts), "20261122-%06d", rotations_.load());
    for (const std::string& g : generations_) {
      if (g.size() > 3 && g.substr(g.size() - 3) == ".gz") continue;
      Gzip(dir_ + "/" + g, dir_ + "/" + g + ".gz");
      unlink((dir_ + "/" + g).c_str());
    }
    for (auto& g : generations_) {
      if (g.size() <= 3 || g.substr(g.size() - 3) != ".gz") g += ".gz";
    }
    while (generations_.size() > 3) {  // containerLogMaxFiles=5: current + 4 older
      unlink((dir_ + "/" + generations_.front()).c_str());
      generations_.erase(generations_.begin());
    }
    std::string rotated = std::string("0.log.") + ts;
    rename(cur.c_str(), (dir_ + "/" + rotated).c_str());
    generations_.push_back(rotated);
    // The runtime writes a little more to the old fd before it reopens.
    WriteRaw(Ts() + " stdout F " + Message(id_ + "/stdout", out_seq_) + "\n");
    ++out_seq_;
    ++n_;
    close(fd_);
    fd_ = ::open(cur.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  void Run() {
    auto start = std::chrono::steady_clock::now();
    int64_t done = 0;
    while (!stop_) {
      auto elapsed = std::chrono::steady_clock::now() - start;
      int64_t due = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() * rate_ / 1000;
      while (done < due && !stop_) {
        WriteOne();
        ++done;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::string dir_, id_;
  RotateMode mode_;
  int rate_, rotate_every_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<int64_t> out_seq_{0}, err_seq_{0};
  int64_t n_ = 0;
  std::atomic<int> rotations_{0};
  std::vector<std::string> generations_;  // oldest first
};

struct StreamCheck {
  int64_t expected = 0, received = 0, lost = 0, duplicated = 0, corrupt = 0;
  std::string first_problem;
};

// Fetches every entry of {namespace=ns, container=c, stream=s} and checks it against the
// writer's sequence: each seq in [0, expected) exactly once, with the exact message.
inline StreamCheck CheckStream(TestHttpClient& c, const std::string& ns, const std::string& container,
                               const std::string& stream, const std::string& id, int64_t expected,
                               int64_t start, int64_t end) {
  StreamCheck r;
  r.expected = expected;
  Entries entries;
  std::string err;
  std::string sel = "{namespace=\"" + ns + "\", container=\"" + container + "\", stream=\"" + stream + "\"}";
  if (!QueryAll(c, sel, start, end, 5000, &entries, &err)) {
    r.first_problem = err;
    r.lost = expected;
    return r;
  }
  std::map<int64_t, int> seen;
  for (const auto& [ts, line] : entries) {
    ++r.received;
    int64_t seq = -1;
    if (line.rfind("seq=", 0) == 0) seq = std::atoll(line.c_str() + 4);
    if (seq < 0 || line != Message(id + "/" + stream, seq)) {
      ++r.corrupt;
      if (r.first_problem.empty()) r.first_problem = "corrupt line: " + line.substr(0, 200);
      continue;
    }
    if (++seen[seq] == 2) {
      ++r.duplicated;
      if (r.first_problem.empty()) r.first_problem = "duplicate seq " + std::to_string(seq);
    }
  }
  for (int64_t s = 0; s < expected; ++s) {
    if (!seen.count(s)) {
      ++r.lost;
      if (r.first_problem.empty()) r.first_problem = "lost seq " + std::to_string(s);
    }
  }
  return r;
}

// Total entries the store holds for `selector` (a count_over_time over the window).
inline int64_t CountInStore(TestHttpClient& c, const std::string& selector, int64_t start, int64_t end) {
  std::string q = "sum(count_over_time(" + selector + "[1h]))";
  auto reply = c.Get(testing::PathWithQuery("/loki/api/v1/query",
                                            {{"query", q}, {"time", std::to_string(end)}}));
  (void)start;
  if (reply.status != 200) return -1;
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded()) return -1;
  auto& res = j["data"]["result"];
  if (!res.is_array() || res.empty()) return 0;
  return std::atoll(res[0]["value"][1].get<std::string>().c_str());
}

}  // namespace logq::e2e
