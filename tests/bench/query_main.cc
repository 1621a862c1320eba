// logq_bench_query: the query benchmark. Generates the ingest benchmark's corpus
// (tests/bench/log_generator.h: 1.2M lines, ~226 MB raw, 100 streams), starts logq-store on
// a fresh storage directory and a free loopback port (ingestion limits raised, as
// logq_bench_ingest does), pushes the corpus as protobuf+snappy, POST /flush so that every
// line sits in a zstd chunk, waits until the store's background work (compactions) has
// settled, and then runs each query `--repeat` times over the corpus' whole time range:
//
//   metric queries   /loki/api/v1/query_range, step --step (default 5m), range [step], so
//                    every line is counted exactly once;
//   log queries      /loki/api/v1/query_range, direction=backward, limit 100.
//
// For each query it reports wall time (request sent .. reply read) first / min / median,
// server CPU seconds (utime+stime deltas from /proc/<pid>/stat, all threads), and GB/s =
// raw bytes of the selected streams (index/stats of the query's selector) / wall. The
// first run of each query is reported apart (caches cold for that query) and left out of
// min/median. Then the metadata endpoints (labels, label values, series): p50/p99 over
// --meta-requests sequential requests, on this store (100 streams) and on a second store
// holding --big-streams streams (default 10,000) with a few lines each.
//
// --restart restarts the store gracefully between the flush and the queries: the cut's
// delete tombstones in the head column family are then flushed and compacted away, which
// is the store at rest rather than right after a cut (docs/benchmarks.md shows both).
//
// --heads skips the flush: every line stays in the ingester's in-memory heads (the store is
// started with ingester.chunk_target_size at 4GiB so that the cutter leaves them alone), and
// the queries read the heads — the most recent data, what users query most. The load checks
// that no chunk was cut. Not combined with --restart (a restart would replay the log into
// the same heads).
//
// GB = 10^9 bytes of raw line text, as Loki counts bytes. Exit status 0 only if every
// request succeeded and the sanity checks held (count_over_time sums to the corpus' line
// count, the absent needle finds nothing, limit queries return `limit` entries).
//
// Usage: logq_bench_query [--lines=N] [--streams=N] [--seed=N] [--span=SECONDS]
//          [--repeat=N] [--step=SECONDS] [--only=name,name] [--meta-requests=N]
//          [--big-streams=N] [--big-lines-per-stream=N] [--store=PATH] [--dir=PARENT]
//          [--restart | --heads] [--keep] [--json] [--perf=PREFIX]
//          [--perf-call-graph=fp|dwarf] [--store-flag=-name=value ...] [--list-queries]
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/api/push.h"
#include "tests/bench/child_process.h"
#include "tests/bench/http_connection.h"
#include "tests/bench/log_generator.h"
#include "tests/bench/proc_stats.h"

namespace logq::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
  GeneratorOptions gen;
  int repeat = 5;                 // timed runs per query, after one first (cold) run
  int64_t step_s = 300;           // metric query step and range window; default 5m
  std::set<std::string> only;     // query names to run; empty = all
  int meta_requests = 200;        // per metadata endpoint
  int big_streams = 10'000;       // second store for the metadata endpoints; 0 = skip
  int big_lines_per_stream = 10;  // lines per stream in the second store
  int64_t batch_bytes = 1 << 20;  // line bytes per push (as logq_bench_ingest)
  int concurrency = 4;            // push connections
  std::string store_bin = LOGQ_STORE_BIN;
  std::string dir;  // parent of the temporary storage directories; default $TMPDIR or /tmp
  bool keep = false;
  bool json = false;
  bool restart = false;       // restart the store (graceful) between the flush and the queries
  bool heads = false;         // no flush: query the in-memory heads
  bool list_queries = false;  // print "name<TAB>full_scan<TAB>query" per query and exit
  std::string perf_prefix;    // if set: perf record the server during each query's timed runs
  std::string perf_call_graph = "fp";  // perf record --call-graph (fp, dwarf, lbr)
  std::vector<std::string> store_flags;
};

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(
      stderr,
      "logq_bench_query: %s\n"
      "usage: logq_bench_query [--lines=N] [--streams=N] [--seed=N] [--span=SECONDS]\n"
      "         [--repeat=N] [--step=SECONDS] [--only=name,name] [--meta-requests=N]\n"
      "         [--big-streams=N] [--big-lines-per-stream=N] [--store=PATH] "
      "[--dir=PARENT]\n"
      "         [--restart | --heads] [--keep] [--json] [--perf=PREFIX] "
      "[--perf-call-graph=fp|dwarf]\n"
      "         [--store-flag=-name=value ...] [--list-queries]\n",
      msg.c_str());
  std::exit(2);
}

int64_t ParseInt(const std::string& flag, const std::string& v, int64_t min) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < min) Usage("invalid value for " + flag + ": \"" + v + "\"");
  return n;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    std::string name = a.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (name == "--lines")
      o.gen.lines = ParseInt(name, value, 1);
    else if (name == "--streams")
      o.gen.streams = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--seed")
      o.gen.seed = static_cast<uint64_t>(ParseInt(name, value, 1));
    else if (name == "--span")
      o.gen.span_ns = ParseInt(name, value, 60) * 1'000'000'000;
    else if (name == "--repeat")
      o.repeat = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--step")
      o.step_s = ParseInt(name, value, 1);
    else if (name == "--only") {
      std::stringstream ss(value);
      for (std::string q; std::getline(ss, q, ',');)
        if (!q.empty()) o.only.insert(q);
    } else if (name == "--meta-requests")
      o.meta_requests = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--big-streams")
      o.big_streams = static_cast<int>(ParseInt(name, value, 0));
    else if (name == "--big-lines-per-stream")
      o.big_lines_per_stream = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--store")
      o.store_bin = value;
    else if (name == "--dir")
      o.dir = value;
    else if (name == "--keep")
      o.keep = true;
    else if (name == "--restart")
      o.restart = true;
    else if (name == "--heads")
      o.heads = true;
    else if (name == "--json")
      o.json = true;
    else if (name == "--list-queries")
      o.list_queries = true;
    else if (name == "--perf")
      o.perf_prefix = value;
    else if (name == "--perf-call-graph")
      o.perf_call_graph = value;
    else if (name == "--store-flag")
      o.store_flags.push_back(value);
    else if (name == "--help" || name == "-h")
      Usage("help");
    else
      Usage("unknown flag " + a);
  }
  if (o.gen.span_ns > 6LL * 24 * 3600 * 1'000'000'000)
    Usage("--span must stay inside the 7-day acceptance window");
  if (o.step_s * 1'000'000'000 > o.gen.span_ns) Usage("--step must not exceed --span");
  if (o.dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    o.dir = t && *t ? t : "/tmp";
  }
  if (o.heads && o.restart) Usage("--heads and --restart exclude each other");
  return o;
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

double Median(const std::vector<double>& v) {
  if (v.empty()) return 0;
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double Min(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

double SelfCpu() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Resets VmHWM so that the next ReadMemory() reports the peak since now (Linux >= 4.0);
// a no-op where /proc/<pid>/clear_refs is not writable.
void ResetPeakRss(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  if (f) f << "5";
}

// ---- the corpus ---------------------------------------------------------------------------

struct Corpus {
  std::vector<std::string> bodies;  // protobuf+snappy push bodies
  int64_t lines = 0;
  int64_t raw_bytes = 0;
  int64_t wire_bytes = 0;
  size_t streams = 0;
  double seconds = 0;
};

// Batches entries into pushes of ~batch_bytes of line bytes, entries grouped per stream.
class BodyBuilder {
 public:
  BodyBuilder(Corpus* out, int64_t batch_bytes) : out_(out), batch_bytes_(batch_bytes) {}
  void Add(const std::string& labels, int64_t ts, std::string line) {
    auto [it, inserted] = slot_.emplace(labels, req_.streams.size());
    if (inserted) {
      req_.streams.emplace_back();
      req_.streams.back().labels = labels;
    }
    const int64_t size = static_cast<int64_t>(line.size());
    api::PushEntry pe;
    pe.timestamp_ns = ts;
    pe.line = std::move(line);
    req_.streams[it->second].entries.push_back(std::move(pe));
    out_->lines++;
    out_->raw_bytes += size;
    cur_ += size;
    if (cur_ >= batch_bytes_) Finish();
  }
  void Finish() {
    if (cur_ == 0 && req_.streams.empty()) return;
    out_->bodies.push_back(api::SnappyCompress(api::EncodePushProtobuf(req_)));
    out_->wire_bytes += static_cast<int64_t>(out_->bodies.back().size());
    req_.streams.clear();
    slot_.clear();
    cur_ = 0;
  }

 private:
  Corpus* out_;
  int64_t batch_bytes_;
  api::PushRequest req_;
  std::map<std::string, size_t> slot_;
  int64_t cur_ = 0;
};

// The ingest benchmark's corpus, as generated.
Corpus BuildCorpus(const GeneratorOptions& g, int64_t batch_bytes) {
  const auto t0 = Clock::now();
  LogGenerator gen(g);
  Corpus c;
  c.streams = gen.streams().size();
  BodyBuilder b(&c, batch_bytes);
  GeneratedEntry e;
  while (gen.Next(&e)) {
    b.Add(gen.streams()[static_cast<size_t>(e.stream)].labels, e.timestamp_ns, std::move(e.line));
    e.line = std::string();
  }
  b.Finish();
  c.seconds = Since(t0);
  return c;
}

// Many streams, few lines each: the generator's label sets for `streams` streams, its lines
// dealt round-robin so every stream gets `per_stream` lines (timestamps stay in order per
// stream because they increase globally).
Corpus BuildWideCorpus(const GeneratorOptions& base, int streams, int per_stream,
                       int64_t batch_bytes) {
  const auto t0 = Clock::now();
  GeneratorOptions g = base;
  g.streams = streams;
  g.lines = static_cast<int64_t>(streams) * per_stream;
  LogGenerator gen(g);
  Corpus c;
  c.streams = gen.streams().size();
  BodyBuilder b(&c, batch_bytes);
  GeneratedEntry e;
  for (int64_t i = 0; gen.Next(&e); ++i) {
    b.Add(gen.streams()[static_cast<size_t>(i % streams)].labels, e.timestamp_ns,
          std::move(e.line));
    e.line = std::string();
  }
  b.Finish();
  c.seconds = Since(t0);
  return c;
}

// ---- the store under test -----------------------------------------------------------------

class Store {
 public:
  // Starts logq-store on `data_dir` (created or reopened), its output appended to
  // `log_path`, and waits for its port and /ready.
  static std::unique_ptr<Store> Start(const Options& o, const std::string& data_dir,
                                      const std::string& log_path,
                                      const std::vector<std::string>& extra_flags) {
    auto s = std::unique_ptr<Store>(new Store());
    s->data_dir_ = data_dir;
    s->log_path_ = log_path;
    std::vector<std::string> argv = {o.store_bin,
                                     "-storage.path=" + s->data_dir_,
                                     "-server.http-listen-address=127.0.0.1",
                                     "-server.http-listen-port=0",
                                     "-limits-config.ingestion-rate-mb=100000",
                                     "-limits-config.ingestion-burst-size-mb=100000"};
    for (const auto& f : extra_flags) argv.push_back(f);
    for (const auto& f : o.store_flags) argv.push_back(f);
    auto started = ChildProcess::Start(argv, s->log_path_);
    if (!started.ok()) {
      std::fprintf(stderr, "starting %s: %s\n", o.store_bin.c_str(),
                   started.status().message().c_str());
      return nullptr;
    }
    s->proc_ = std::move(started).value();
    for (auto deadline = Clock::now() + std::chrono::seconds(30); s->port_ == 0;) {
      std::string log = ReadWholeFile(s->log_path_);
      size_t p = log.find("listening on 127.0.0.1:");
      if (p != std::string::npos) s->port_ = static_cast<uint16_t>(std::atoi(log.c_str() + p + 23));
      if (s->port_ != 0) break;
      if (s->proc_->Exited() || Clock::now() > deadline) {
        std::fprintf(stderr, "logq-store did not start listening; its log:\n%s\n", log.c_str());
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    HttpConnection c("127.0.0.1", s->port_, 2000);
    for (auto deadline = Clock::now() + std::chrono::seconds(60);;) {
      auto r = c.Do("GET", "/ready", "", "");
      if (r.ok() && r->status == 200) break;
      if (s->proc_->Exited() || Clock::now() > deadline) {
        std::fprintf(stderr, "logq-store never became ready; its log:\n%s\n",
                     ReadWholeFile(s->log_path_).c_str());
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return s;
  }

  pid_t pid() const { return proc_->pid(); }
  uint16_t port() const { return port_; }
  const std::string& log_path() const { return log_path_; }

  // Pushes every body over `concurrency` connections; the number of non-204 replies (the
  // first error goes to stderr).
  int Push(const Corpus& c, int concurrency) {
    std::atomic<size_t> next{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> senders;
    for (int w = 0; w < concurrency; ++w) {
      senders.emplace_back([&] {
        HttpConnection conn("127.0.0.1", port_, 120'000);
        for (size_t i = next++; i < c.bodies.size(); i = next++) {
          auto r = conn.Do("POST", "/loki/api/v1/push", "application/x-protobuf", c.bodies[i]);
          if (!r.ok() || r->status != 204) {
            if (bad++ == 0)
              std::fprintf(stderr, "push %zu: %s\n", i,
                           r.ok() ? fmt::format("{}: {}", r->status, r->body.substr(0, 300)).c_str()
                                  : r.status().message().c_str());
          }
        }
      });
    }
    for (auto& t : senders) t.join();
    return bad.load();
  }

  std::map<std::string, double> Metrics() {
    HttpConnection c("127.0.0.1", port_, 60'000);
    auto r = c.Do("GET", "/metrics", "", "");
    return r.ok() && r->status == 200 ? ParseMetrics(r->body) : std::map<std::string, double>{};
  }

  // Waits until the server uses less than 2% of a core over a second (background
  // compactions after the flush done), at most `max_s`. Returns the seconds waited.
  double Settle(double max_s) {
    const auto t0 = Clock::now();
    while (Since(t0) < max_s) {
      const double c0 = ReadProcessCpu(pid()).total();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (ReadProcessCpu(pid()).total() - c0 < 0.02) break;
    }
    return Since(t0);
  }

  Status Stop() { return proc_->Stop(SIGTERM, 300'000); }

 private:
  Store() = default;
  std::unique_ptr<ChildProcess> proc_;
  uint16_t port_ = 0;
  std::string data_dir_, log_path_;
};

struct Loaded {
  double push_s = 0, flush_s = 0, settle_s = 0;
  double push_cpu_s = 0, flush_cpu_s = 0;
  double chunks = 0, chunk_raw = 0, chunk_encoded = 0;
  bool ok = false;
};

// Push, check every line arrived, POST /flush (unless `heads`), check the heads are empty
// (with `heads`: that no chunk was cut), settle.
Loaded Load(Store* s, const Corpus& c, int concurrency, bool heads = false) {
  Loaded l;
  const double cpu0 = ReadProcessCpu(s->pid()).total();
  auto t0 = Clock::now();
  const int bad = s->Push(c, concurrency);
  l.push_s = Since(t0);
  const double cpu1 = ReadProcessCpu(s->pid()).total();
  HttpConnection admin("127.0.0.1", s->port(), 600'000);
  t0 = Clock::now();
  Result<HttpReply> fr = HttpReply{};
  fr->status = 204;
  if (!heads) fr = admin.Do("POST", "/flush", "", "");
  l.flush_s = Since(t0);
  l.push_cpu_s = cpu1 - cpu0;
  l.flush_cpu_s = ReadProcessCpu(s->pid()).total() - cpu1;
  auto m = s->Metrics();
  l.chunks = m["logq_chunks_cut_total"];
  l.chunk_raw = m["logq_chunk_raw_bytes_total"];
  l.chunk_encoded = m["logq_chunk_encoded_bytes_total"];
  const double received = m["logq_received_lines_total"];
  l.ok = bad == 0 && fr.ok() && fr->status == 204 &&
         static_cast<int64_t>(received + 0.5) == c.lines &&
         (heads ? l.chunks == 0 : static_cast<int64_t>(l.chunk_raw + 0.5) == c.raw_bytes);
  if (!l.ok) {
    std::fprintf(stderr,
                 "load failed: %d pushes not 204, /flush -> %d, received %.0f of %lld lines, chunk "
                 "raw bytes %.0f of %lld\n",
                 bad, fr.ok() ? fr->status : -1, received, static_cast<long long>(c.lines),
                 l.chunk_raw, static_cast<long long>(c.raw_bytes));
  }
  l.settle_s = s->Settle(60);
  return l;
}

// ---- queries ------------------------------------------------------------------------------

struct QuerySpec {
  std::string name;
  bool metric = true;  // query_range metric query; else a log query with `limit`
  std::string query;
  std::string selector;  // its stream selector (for index/stats: raw bytes selected)
  int limit = 100;
  bool full_scan = true;  // every selected line must be read (GB/s is meaningful)
  // The target on 2 cores, as text and as a check (0 = none).
  std::string target;
  double target_max_s = 0;
  double target_min_gbps = 0;
  double loki_s = 0;  // Loki 2.7.5 on 2 cores, from the issue; 0 = not given
};

std::vector<QuerySpec> Queries(int64_t step_s) {
  const std::string all = "{namespace=~\".+\"}";
  // The streams that log JSON: pino (frontend, user-profile) and structlog
  // (fraud-detector, notifications); their istio-proxy sidecars log Envoy text.
  const std::string json_streams =
      "{app=~\"frontend|user-profile|fraud-detector|notifications\", "
      "container!=\"istio-proxy\"}";
  const std::string r = fmt::format("[{}s]", step_s);
  const std::string metric = "sum(count_over_time(" + all;
  std::vector<QuerySpec> q;
  q.push_back({.name = "count_over_time",
               .query = metric + r + "))",
               .selector = all,
               .target = "<= 0.3 s",
               .target_max_s = 0.3,
               .loki_s = 3.0});
  q.push_back({.name = "absent_needle",
               .metric = false,
               .query = all + " |= \"absent-needle\"",
               .selector = all,
               .target = ">= 1 GB/s",
               .target_min_gbps = 1.0,
               .loki_s = 1.0});
  q.push_back({.name = "common_phrase",
               .query = metric + " |= \"request completed\" " + r + "))",
               .selector = all});
  q.push_back({.name = "common_phrase_limit100",
               .metric = false,
               .query = all + " |= \"request completed\"",
               .selector = all,
               .full_scan = false,
               .target = "<= 20 ms",
               .target_max_s = 0.020});
  q.push_back({.name = "regex_ci_error",
               .query = metric + " |~ \"(?i)error\" " + r + "))",
               .selector = all,
               .target = "<= 0.4 s",
               .target_max_s = 0.4,
               .loki_s = 2.1});
  q.push_back({.name = "regex_alternation",
               .query = metric + " |~ \"refused|timed out\" " + r + "))",
               .selector = all,
               .target = "<= 0.4 s",
               .target_max_s = 0.4});
  // The JSON query. No line of the corpus has level="error" (pino logs numeric
  // levels, structlog info/warning): every selected line is parsed, no series results.
  q.push_back({.name = "json_level_error",
               .query = "sum by (level) (count_over_time(" + json_streams +
                        " | json | level=\"error\" " + r + "))",
               .selector = json_streams,
               .target = "<= 0.2 s",
               .target_max_s = 0.2});
  // The usual dashboard panel over the same streams: lines per level.
  q.push_back({.name = "json_by_level",
               .query = "sum by (level) (count_over_time(" + json_streams +
                        " | json | __error__=\"\" " + r + "))",
               .selector = json_streams,
               .target = "(<= 0.2 s)",
               .target_max_s = 0.2});
  return q;
}

struct Run {
  double wall_s = 0;
  CpuTimes server_cpu;
  double other_cores = 0;  // other processes' CPU during the run, in cores
  int64_t peak_rss = 0;    // server VmHWM during the run (after a reset)
};

struct QueryOutcome {
  QuerySpec spec;
  Run first;
  std::vector<Run> runs;
  double selected_raw_bytes = 0;  // index/stats bytes of the selector
  double selected_streams = 0;
  // From the last reply.
  double series = 0, points = 0, value_sum = 0, entries = 0;
  double bytes_processed = 0, lines_processed = 0, chunks = 0, compressed_bytes = 0;
  std::string error;
};

// Summarizes a query_range reply: series/streams, points/entries, the sum of all values.
void Summarize(const json& j, QueryOutcome* q) {
  q->series = q->points = q->value_sum = q->entries = 0;
  const json& data = j.at("data");
  for (const auto& r : data.at("result")) {
    q->series++;
    if (r.contains("values") && data.at("resultType") == "matrix") {
      for (const auto& v : r.at("values")) {
        q->points++;
        q->value_sum += std::strtod(v.at(1).get<std::string>().c_str(), nullptr);
      }
    } else if (r.contains("values")) {
      q->entries += static_cast<double>(r.at("values").size());
    }
  }
  if (data.contains("stats")) {
    const json& s = data.at("stats");
    q->bytes_processed = s.at("summary").at("totalBytesProcessed").get<double>();
    q->lines_processed = s.at("summary").at("totalLinesProcessed").get<double>();
    const json& st = s.at("querier").at("store");
    q->chunks = st.at("totalChunksRef").get<double>();
    q->compressed_bytes = st.at("chunk").at("compressedBytes").get<double>();
  }
}

struct Range {
  int64_t start_ns, end_ns;
};

std::string QueryTarget(const QuerySpec& q, const Range& r, int64_t step_s) {
  std::string t = fmt::format("/loki/api/v1/query_range?query={}&start={}&end={}",
                              UrlEncode(q.query), r.start_ns, r.end_ns);
  if (q.metric)
    t += fmt::format("&step={}", step_s);
  else
    t += fmt::format("&limit={}&direction=backward", q.limit);
  return t;
}

class PerfRecorder {
 public:
  PerfRecorder(const std::string& path, const std::string& call_graph, pid_t pid,
               const std::string& log) {
    if (path.empty()) return;
    auto p = ChildProcess::Start({"perf", "record", "-F", "999", "--call-graph", call_graph, "-p",
                                  std::to_string(pid), "-o", path},
                                 log);
    if (p.ok()) {
      perf_ = std::move(p).value();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let perf attach
    } else {
      std::fprintf(stderr, "perf: %s\n", p.status().message().c_str());
    }
  }
  ~PerfRecorder() {
    if (perf_) (void)perf_->Stop(SIGINT, 120'000);
  }

 private:
  std::unique_ptr<ChildProcess> perf_;
};

// One timed request; `reply` gets the body.
Result<Run> TimedRequest(HttpConnection* c, pid_t pid, const std::string& target,
                         std::string* reply) {
  ResetPeakRss(pid);
  const CpuTimes s0 = ReadProcessCpu(pid);
  const MachineCpu m0 = ReadMachineCpu();
  const double self0 = SelfCpu();
  const auto t0 = Clock::now();
  auto r = c->Do("GET", target, "", "");
  Run run;
  run.wall_s = Since(t0);
  const CpuTimes s1 = ReadProcessCpu(pid);
  const MachineCpu m1 = ReadMachineCpu();
  run.server_cpu.user_s = s1.user_s - s0.user_s;
  run.server_cpu.system_s = s1.system_s - s0.system_s;
  const double others = (m1.busy_s - m0.busy_s) - run.server_cpu.total() - (SelfCpu() - self0);
  run.other_cores = std::max(0.0, others) / std::max(run.wall_s, 1e-3);
  run.peak_rss = ReadMemory(pid).peak_rss;
  if (!r.ok()) return r.status();
  if (r->status != 200)
    return Internal(fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 500)));
  *reply = std::move(r->body);
  return run;
}

QueryOutcome RunQuery(const Options& o, Store* s, const QuerySpec& spec, const Range& range,
                      const std::string& work) {
  QueryOutcome q;
  q.spec = spec;
  HttpConnection c("127.0.0.1", s->port(), 300'000);
  {
    auto r = c.Do("GET",
                  fmt::format("/loki/api/v1/index/stats?query={}&start={}&end={}",
                              UrlEncode(spec.selector), range.start_ns, range.end_ns),
                  "", "");
    if (r.ok() && r->status == 200) {
      json j = json::parse(r->body, nullptr, false);
      if (!j.is_discarded()) {
        q.selected_raw_bytes = j.value("bytes", 0.0);
        q.selected_streams = j.value("streams", 0.0);
      }
    }
  }
  const std::string target = QueryTarget(spec, range, o.step_s);
  std::string body;
  auto first = TimedRequest(&c, s->pid(), target, &body);
  if (!first.ok()) {
    q.error = first.status().message();
    return q;
  }
  q.first = *first;
  {
    PerfRecorder perf(o.perf_prefix.empty() ? "" : o.perf_prefix + "." + spec.name + ".data",
                      o.perf_call_graph, s->pid(), work + "/perf.log");
    for (int i = 0; i < o.repeat; ++i) {
      auto r = TimedRequest(&c, s->pid(), target, &body);
      if (!r.ok()) {
        q.error = r.status().message();
        return q;
      }
      q.runs.push_back(*r);
    }
  }
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") {
    q.error = "unexpected reply: " + body.substr(0, 300);
    return q;
  }
  try {
    Summarize(j, &q);
  } catch (const json::exception& e) {
    q.error = std::string("unexpected reply shape: ") + e.what();
  }
  return q;
}

// Checks what the corpus implies; "" if fine.
std::string Check(const QueryOutcome& q, const Corpus& c) {
  const std::string& n = q.spec.name;
  if (n == "count_over_time" && static_cast<int64_t>(q.value_sum + 0.5) != c.lines)
    return fmt::format("sum of counts {} != {} lines", q.value_sum, c.lines);
  if (n == "absent_needle" && q.entries != 0) return fmt::format("{} entries found", q.entries);
  if (!q.spec.metric && n != "absent_needle" && q.entries != q.spec.limit)
    return fmt::format("{} entries, expected {}", q.entries, q.spec.limit);
  if ((n == "common_phrase" || n == "regex_ci_error" || n == "regex_alternation" ||
       n == "json_by_level") &&
      q.value_sum <= 0)
    return "no matches";
  if (q.spec.full_scan && q.spec.selector == "{namespace=~\".+\"}" &&
      static_cast<int64_t>(q.lines_processed + 0.5) != c.lines)
    return fmt::format("server processed {} lines of {}", q.lines_processed, c.lines);
  return "";
}

// ---- metadata endpoints -------------------------------------------------------------------

struct MetaOutcome {
  std::string endpoint;
  int streams = 0;
  std::vector<double> latency_ms;
  double server_cpu_s = 0;
  double other_cores = 0;
  double wall_s = 0;  // all requests of the endpoint, back to back
  size_t reply_bytes = 0;
  size_t items = 0;  // names, values or series in the reply
  std::string error;
};

std::vector<MetaOutcome> RunMetadata(const Options& o, Store* s, const Range& range, int streams) {
  const std::string bounds = fmt::format("start={}&end={}", range.start_ns, range.end_ns);
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"labels", "/loki/api/v1/labels?" + bounds},
      {"label_values", "/loki/api/v1/label/pod/values?" + bounds},
      {"series", "/loki/api/v1/series?match[]=" + UrlEncode("{namespace=~\".+\"}") + "&" + bounds},
  };
  std::vector<MetaOutcome> out;
  HttpConnection c("127.0.0.1", s->port(), 60'000);
  for (const auto& [name, target] : endpoints) {
    MetaOutcome m;
    m.endpoint = name;
    m.streams = streams;
    std::string body;
    for (int i = 0; i < 10; ++i) (void)TimedRequest(&c, s->pid(), target, &body);  // warm-up
    const CpuTimes c0 = ReadProcessCpu(s->pid());
    const MachineCpu m0 = ReadMachineCpu();
    const double self0 = SelfCpu();
    const auto t0 = Clock::now();
    for (int i = 0; i < o.meta_requests; ++i) {
      const auto r0 = Clock::now();
      auto r = c.Do("GET", target, "", "");
      m.latency_ms.push_back(Since(r0) * 1e3);
      if (!r.ok() || r->status != 200) {
        m.error = r.ok() ? fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 300))
                         : r.status().message();
        break;
      }
      if (i == 0) body = std::move(r->body);
    }
    const double wall = Since(t0);
    m.wall_s = wall;
    m.server_cpu_s = ReadProcessCpu(s->pid()).total() - c0.total();
    m.other_cores =
        std::max(0.0, ReadMachineCpu().busy_s - m0.busy_s - m.server_cpu_s - (SelfCpu() - self0)) /
        std::max(wall, 1e-3);
    m.reply_bytes = body.size();
    json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.contains("data") && j["data"].is_array()) m.items = j["data"].size();
    out.push_back(std::move(m));
  }
  return out;
}

// ---- report -------------------------------------------------------------------------------

std::vector<double> Walls(const QueryOutcome& q) {
  std::vector<double> v;
  for (const auto& r : q.runs) v.push_back(r.wall_s);
  return v;
}

std::vector<double> Cpus(const QueryOutcome& q) {
  std::vector<double> v;
  for (const auto& r : q.runs) v.push_back(r.server_cpu.total());
  return v;
}

std::string Verdict(const QueryOutcome& q) {
  const double med = Median(Walls(q));
  if (q.spec.target_max_s > 0) return med <= q.spec.target_max_s ? "met" : "MISSED";
  if (q.spec.target_min_gbps > 0)
    return q.selected_raw_bytes / 1e9 / med >= q.spec.target_min_gbps ? "met" : "MISSED";
  return "-";
}

json ToJson(const QueryOutcome& q, const char* state) {
  std::vector<double> walls = Walls(q), cpus = Cpus(q), others, rss;
  for (const auto& r : q.runs) {
    others.push_back(r.other_cores);
    rss.push_back(static_cast<double>(r.peak_rss));
  }
  const double med = Median(walls);
  return {
      {"bench", "query"},
      {"store_state", state},
      {"name", q.spec.name},
      {"query", q.spec.query},
      {"kind", q.spec.metric ? "metric" : "log"},
      {"limit", q.spec.metric ? 0 : q.spec.limit},
      {"full_scan", q.spec.full_scan},
      {"runs", walls.size()},
      {"wall_s", {{"first", q.first.wall_s}, {"min", Min(walls)}, {"median", med}, {"all", walls}}},
      {"server_cpu_s",
       {{"first", q.first.server_cpu.total()}, {"min", Min(cpus)}, {"median", Median(cpus)}}},
      {"selected_raw_bytes", q.selected_raw_bytes},
      {"selected_streams", q.selected_streams},
      {"gb_per_s_median", med > 0 ? q.selected_raw_bytes / 1e9 / med : 0},
      {"gb_per_s_best", Min(walls) > 0 ? q.selected_raw_bytes / 1e9 / Min(walls) : 0},
      {"gb_per_server_cpu_s", Median(cpus) > 0 ? q.selected_raw_bytes / 1e9 / Median(cpus) : 0},
      {"bytes_processed", q.bytes_processed},
      {"lines_processed", q.lines_processed},
      {"chunks", q.chunks},
      {"compressed_bytes", q.compressed_bytes},
      {"result_series", q.series},
      {"result_points", q.points},
      {"result_value_sum", q.value_sum},
      {"result_entries", q.entries},
      {"peak_rss_bytes_median", Median(rss)},
      {"other_processes_cores_median", Median(others)},
      {"target", q.spec.target},
      {"loki_2_7_5_s", q.spec.loki_s},
      {"verdict", Verdict(q)},
      {"error", q.error}};
}

// /proc CPU times tick every 10 ms: CPU per request and other processes' load are only
// reported when the endpoint's requests took long enough to measure them (else null).
bool CpuMeasurable(const MetaOutcome& m) { return m.wall_s >= 0.5; }

json ToJson(const MetaOutcome& m) {
  const bool cpu_ok = CpuMeasurable(m);
  return {{"bench", "metadata"},
          {"endpoint", m.endpoint},
          {"streams", m.streams},
          {"requests", m.latency_ms.size()},
          {"latency_ms",
           {{"p50", Percentile(m.latency_ms, 0.5)},
            {"p99", Percentile(m.latency_ms, 0.99)},
            {"max", Percentile(m.latency_ms, 1.0)}}},
          {"server_cpu_ms_per_request",
           cpu_ok ? json(m.server_cpu_s * 1e3 / static_cast<double>(m.latency_ms.size()))
                  : json(nullptr)},
          {"reply_bytes", m.reply_bytes},
          {"items", m.items},
          {"wall_s", m.wall_s},
          {"other_processes_cores", cpu_ok ? json(m.other_cores) : json(nullptr)},
          {"error", m.error}};
}

void PrintQueryTable(const std::vector<QueryOutcome>& qs) {
  std::printf("\n%-24s %8s %8s %8s %9s %8s %9s %10s %6s %8s  %-10s %s\n", "query", "first s",
              "min s", "median s", "srv CPU s", "GB/s", "GB/CPU-s", "lines", "others", "RSS MB",
              "target", "verdict");
  for (const auto& q : qs) {
    if (!q.error.empty()) {
      std::printf("%-24s ERROR %s\n", q.spec.name.c_str(), q.error.c_str());
      continue;
    }
    const auto walls = Walls(q), cpus = Cpus(q);
    std::vector<double> others, rss;
    for (const auto& r : q.runs) {
      others.push_back(r.other_cores);
      rss.push_back(static_cast<double>(r.peak_rss));
    }
    const double med = Median(walls), cpu = Median(cpus);
    std::string gbps = q.spec.full_scan ? fmt::format("{:.3f}", q.selected_raw_bytes / 1e9 / med)
                                        : std::string("(early)");
    std::string gbcpu =
        q.spec.full_scan && cpu > 0 ? fmt::format("{:.3f}", q.selected_raw_bytes / 1e9 / cpu) : "-";
    std::printf("%-24s %8.3f %8.3f %8.3f %9.2f %8s %9s %10.0f %6.2f %8.0f  %-10s %s\n",
                q.spec.name.c_str(), q.first.wall_s, Min(walls), med, cpu, gbps.c_str(),
                gbcpu.c_str(), q.lines_processed, Median(others), Median(rss) / 1e6,
                q.spec.target.empty() ? "-" : q.spec.target.c_str(), Verdict(q).c_str());
  }
}

void PrintMetaTable(const std::vector<MetaOutcome>& ms) {
  std::printf("\n%-14s %8s %8s %8s %8s %12s %10s %8s %6s\n", "endpoint", "streams", "p50 ms",
              "p99 ms", "max ms", "CPU ms/req", "reply B", "items", "others");
  for (const auto& m : ms) {
    if (!m.error.empty()) {
      std::printf("%-14s %8d ERROR %s\n", m.endpoint.c_str(), m.streams, m.error.c_str());
      continue;
    }
    const bool cpu_ok = CpuMeasurable(m);
    std::printf(
        "%-14s %8d %8.2f %8.2f %8.2f %12s %10zu %8zu %6s\n", m.endpoint.c_str(), m.streams,
        Percentile(m.latency_ms, 0.5), Percentile(m.latency_ms, 0.99),
        Percentile(m.latency_ms, 1.0),
        cpu_ok
            ? fmt::format("{:.3f}", m.server_cpu_s * 1e3 / static_cast<double>(m.latency_ms.size()))
                  .c_str()
            : "-",
        m.reply_bytes, m.items, cpu_ok ? fmt::format("{:.2f}", m.other_cores).c_str() : "-");
  }
}

// ---- the run ------------------------------------------------------------------------------

int Run(const Options& o) {
  if (o.list_queries) {
    for (const QuerySpec& q : Queries(o.step_s))
      std::printf("%s\t%d\t%s\n", q.name.c_str(), q.full_scan ? 1 : 0, q.query.c_str());
    return 0;
  }
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  GeneratorOptions g = o.gen;
  g.end_ns = now_ns / 1'000'000'000 * 1'000'000'000;  // whole seconds: round query bounds
  const Range range{g.end_ns - g.span_ns, g.end_ns};

  std::fprintf(stderr, "generating %lld lines and serializing protobuf bodies...\n",
               static_cast<long long>(g.lines));
  const Corpus corpus = BuildCorpus(g, o.batch_bytes);

  std::string tmpl = o.dir + "/logq-qbench-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "cannot create a temporary directory under %s\n", o.dir.c_str());
    return 1;
  }
  const std::string work = tmpl;
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{work, o.keep};

  bool failed = false;
  std::vector<std::string> head_flags;
  if (o.heads) head_flags.push_back("-ingester.chunk-target-size=4GiB");
  std::unique_ptr<Store> store = Store::Start(o, work + "/data", work + "/data.log", head_flags);
  if (!store) return 1;
  const Loaded loaded = Load(store.get(), corpus, o.concurrency, o.heads);
  if (!loaded.ok) failed = true;
  // --restart: a graceful restart flushes the memtables; what the store then compacts on
  // open (the cut's delete tombstones in the head column family) is gone before the queries.
  double restart_s = 0, restart_settle_s = 0;
  if (o.restart) {
    const auto r0 = Clock::now();
    if (Status st = store->Stop(); !st.ok()) {
      std::fprintf(stderr, "stop before restart: %s\n", st.message().c_str());
      return 1;
    }
    store = Store::Start(o, work + "/data", work + "/data.restart.log", {});
    if (!store) return 1;
    restart_s = Since(r0);
    restart_settle_s = store->Settle(60);
  }
  const Memory mem_loaded = ReadMemory(store->pid());

  std::printf("== logq query benchmark ==\n");
  std::printf(
      "corpus      %lld lines, %zu streams, %.1f MB raw, seed %llu, span %llds; %zu protobuf "
      "bodies (%.1f MB), generated in %.1f s\n",
      static_cast<long long>(corpus.lines), corpus.streams, corpus.raw_bytes / 1e6,
      static_cast<unsigned long long>(g.seed), static_cast<long long>(g.span_ns / 1'000'000'000),
      corpus.bodies.size(), corpus.wire_bytes / 1e6, corpus.seconds);
  std::printf(
      "load        push %.2f s (server CPU %.2f s), /flush %.2f s (server CPU %.2f s), settled "
      "after %.1f s; %.0f chunks, %.1f MB encoded = %.3f of raw; VmRSS %.0f MB\n",
      loaded.push_s, loaded.push_cpu_s, loaded.flush_s, loaded.flush_cpu_s, loaded.settle_s,
      loaded.chunks, loaded.chunk_encoded / 1e6,
      loaded.chunk_raw > 0 ? loaded.chunk_encoded / loaded.chunk_raw : 0, mem_loaded.rss / 1e6);
  if (o.restart)
    std::printf("restart     graceful restart before the queries: %.2f s, settled after %.1f s\n",
                restart_s, restart_settle_s);
  if (o.heads)
    std::printf("heads       no flush: every line is in the in-memory heads (0 chunks cut)\n");
  std::printf(
      "method      %d timed runs per query after one first run; metric queries step %llds range "
      "[%llds]; log queries limit 100 backward; GB = 10^9 raw bytes of the selected streams\n",
      o.repeat, static_cast<long long>(o.step_s), static_cast<long long>(o.step_s));
  std::fflush(stdout);

  std::vector<QueryOutcome> outcomes;
  for (const QuerySpec& spec : Queries(o.step_s)) {
    if (!o.only.empty() && !o.only.count(spec.name)) continue;
    std::fprintf(stderr, "query %s: %s\n", spec.name.c_str(), spec.query.c_str());
    QueryOutcome q = RunQuery(o, store.get(), spec, range, work);
    if (q.error.empty()) q.error = Check(q, corpus);
    if (!q.error.empty()) failed = true;
    outcomes.push_back(std::move(q));
  }
  const Memory mem_queries = ReadMemory(store->pid());

  std::vector<MetaOutcome> meta;
  if (o.only.empty() || o.only.count("metadata")) {
    std::fprintf(stderr, "metadata endpoints, %zu streams\n", corpus.streams);
    for (auto& m : RunMetadata(o, store.get(), range, static_cast<int>(corpus.streams)))
      meta.push_back(std::move(m));
  }
  if (Status st = store->Stop(); !st.ok()) std::fprintf(stderr, "stop: %s\n", st.message().c_str());
  store.reset();

  Loaded wide_loaded;
  Corpus wide;
  if (o.big_streams > 0 && (o.only.empty() || o.only.count("metadata"))) {
    std::fprintf(stderr, "second store: %d streams x %d lines...\n", o.big_streams,
                 o.big_lines_per_stream);
    wide = BuildWideCorpus(g, o.big_streams, o.big_lines_per_stream, o.batch_bytes);
    std::unique_ptr<Store> big = Store::Start(o, work + "/wide", work + "/wide.log",
                                              {"-limits-config.max-global-streams-per-user=0"});
    if (!big) return 1;
    wide_loaded = Load(big.get(), wide, o.concurrency);
    if (!wide_loaded.ok) failed = true;
    for (auto& m : RunMetadata(o, big.get(), range, static_cast<int>(wide.streams)))
      meta.push_back(std::move(m));
    if (Status st = big->Stop(); !st.ok()) std::fprintf(stderr, "stop: %s\n", st.message().c_str());
  }
  for (const auto& m : meta) {
    if (!m.error.empty()) failed = true;
  }

  PrintQueryTable(outcomes);
  std::printf("\nresults     ");
  for (const auto& q : outcomes) {
    std::printf("%s: %.0f series, %.0f points, sum %.0f, %.0f entries, %.0f chunks read; ",
                q.spec.name.c_str(), q.series, q.points, q.value_sum, q.entries, q.chunks);
  }
  std::printf("\nmemory      server VmRSS %.0f MB after load, %.0f MB after the queries\n",
              mem_loaded.rss / 1e6, mem_queries.rss / 1e6);
  if (!meta.empty()) {
    PrintMetaTable(meta);
    if (o.big_streams > 0)
      std::printf(
          "\nwide store  %lld lines in %zu streams, %.1f MB raw; push %.2f s, /flush %.2f s, %.0f "
          "chunks\n",
          static_cast<long long>(wide.lines), wide.streams, wide.raw_bytes / 1e6,
          wide_loaded.push_s, wide_loaded.flush_s, wide_loaded.chunks);
  }
  if (o.keep) std::printf("kept        %s\n", work.c_str());

  if (o.json) {
    const char* state = o.heads ? "heads" : o.restart ? "restarted" : "after_flush";
    json setup = {{"bench", "query_setup"},
                  {"lines", corpus.lines},
                  {"streams", corpus.streams},
                  {"raw_bytes", corpus.raw_bytes},
                  {"seed", g.seed},
                  {"span_s", g.span_ns / 1'000'000'000},
                  {"step_s", o.step_s},
                  {"repeat", o.repeat},
                  {"push_s", loaded.push_s},
                  {"flush_s", loaded.flush_s},
                  {"settle_s", loaded.settle_s},
                  {"chunks", loaded.chunks},
                  {"chunk_raw_bytes", loaded.chunk_raw},
                  {"chunk_encoded_bytes", loaded.chunk_encoded},
                  {"vmrss_after_load_bytes", mem_loaded.rss},
                  {"store_state", state},
                  {"restart_s", restart_s},
                  {"restart_settle_s", restart_settle_s},
                  {"machine_cores", sysconf(_SC_NPROCESSORS_ONLN)},
                  {"wide_streams", wide.streams},
                  {"wide_lines", wide.lines}};
    std::printf("BENCH_JSON %s\n", setup.dump().c_str());
    for (const auto& q : outcomes)
      std::printf("BENCH_JSON %s\n", ToJson(q, state).dump().c_str());
    for (const auto& m : meta) std::printf("BENCH_JSON %s\n", ToJson(m).dump().c_str());
  }
  for (const auto& q : outcomes) {
    if (!q.error.empty()) std::printf("FAILED      %s: %s\n", q.spec.name.c_str(), q.error.c_str());
  }
  std::fflush(stdout);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace logq::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return logq::bench::Run(logq::bench::ParseFlags(argc, argv));
}
