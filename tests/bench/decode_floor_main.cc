// logq_chunk_decode_floor: the physical floor under the query benchmark. The store's
// chunks cannot be read from outside the store (they live in RocksDB blob files), so this
// program rebuilds the same chunks from the same corpus: the generator's lines per stream,
// in timestamp order, through store/chunk's ChunkBuilder with the store's defaults (256 KiB
// blocks, zstd level 3, a chunk cut once it holds >= 1.5 MiB raw, as the ingester's
// CutStream does). Then it times iterating every entry of every chunk (ChunkReader::Open,
// Iterate over the whole range, touching each line), with 1 and 2 threads: decompression
// and entry decoding only, no merge, no pipeline, no HTTP. That is the fastest any query
// that reads every line can be on this machine. A "zstd" row times the decompression of
// the same blocks alone (no checksums, no entry parsing): the codec's share.
//
// With --query=LOGQL (repeatable) it also times decode + that query's log pipeline or
// sample extraction (query/pipeline, the engine's own stages) over the chunks of the
// streams the query selects: the floor plus the pipeline, still without the store's merge,
// deduplication, engine and HTTP. The difference to logq_bench_query is what those cost.
//
// GB = 10^9 raw line bytes. Prints a table, and JSON lines (BENCH_JSON {...}) with --json.
//
// Usage: logq_chunk_decode_floor [--lines=N] [--streams=N] [--seed=N] [--span=SECONDS]
//          [--repeat=N] [--threads=1,2] [--chunk-bytes=N] [--block-bytes=N] [--zstd-level=N]
//          [--query=LOGQL ...] [--json]
#include <fmt/format.h>
#include <sys/resource.h>
#include <time.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "query/logql/ast.h"
#include "query/logql/parser.h"
#include "query/model/labels.h"
#include "query/model/matcher.h"
#include "query/pipeline/pipeline.h"
#include "store/chunk/chunk.h"
#include "tests/bench/log_generator.h"

namespace logq::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of this process (all threads).
double ProcessCpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Options {
  GeneratorOptions gen;
  int repeat = 5;
  std::vector<int> threads = {1, 2};
  int64_t chunk_bytes = 1536 << 10;    // the store's chunk_target_size (raw), default 1.5 MiB
  chunk::ChunkBuilderOptions builder;  // the store's defaults: 256 KiB blocks, zstd 3
  std::vector<std::string> queries;
  bool json = false;
};

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr,
               "logq_chunk_decode_floor: %s\n"
               "usage: logq_chunk_decode_floor [--lines=N] [--streams=N] [--seed=N] "
               "[--span=SECONDS]\n"
               "         [--repeat=N] [--threads=1,2] [--chunk-bytes=N] [--block-bytes=N] "
               "[--zstd-level=N]\n"
               "         [--query=LOGQL ...] [--json]\n",
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
      o.gen.span_ns = ParseInt(name, value, 1) * 1'000'000'000;
    else if (name == "--repeat")
      o.repeat = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--threads") {
      o.threads.clear();
      std::stringstream ss(value);
      for (std::string t; std::getline(ss, t, ',');)
        o.threads.push_back(static_cast<int>(ParseInt(name, t, 1)));
      if (o.threads.empty()) Usage("--threads needs at least one count");
    } else if (name == "--chunk-bytes")
      o.chunk_bytes = ParseInt(name, value, 1);
    else if (name == "--block-bytes")
      o.builder.target_block_raw = static_cast<size_t>(ParseInt(name, value, 0));
    else if (name == "--zstd-level")
      o.builder.zstd_level = static_cast<int>(ParseInt(name, value, 1));
    else if (name == "--query")
      o.queries.push_back(value);
    else if (name == "--json")
      o.json = true;
    else if (name == "--help" || name == "-h")
      Usage("help");
    else
      Usage("unknown flag " + a);
  }
  return o;
}

struct Chunk {
  size_t stream = 0;
  std::string bytes;
  uint64_t raw_bytes = 0;
  uint32_t entries = 0;
};

struct Built {
  std::vector<Labels> stream_labels;
  std::vector<Chunk> chunks;
  int64_t lines = 0;
  uint64_t raw_bytes = 0, encoded_bytes = 0;
  double generate_s = 0, build_s = 0, build_cpu_s = 0;
};

// Generates the corpus and cuts it into chunks per stream as the store does. Lines are
// generated in global time order, so each stream's lines arrive in its own order.
Built Build(const Options& o) {
  Built b;
  GeneratorOptions g = o.gen;
  g.end_ns = 1'800'000'000'000'000'000;  // fixed: chunk contents do not depend on it
  LogGenerator gen(g);
  for (const StreamInfo& s : gen.streams()) {
    auto l = ParseLabels(s.labels);
    if (!l.ok()) {
      std::fprintf(stderr, "labels %s: %s\n", s.labels.c_str(), l.status().message().c_str());
      std::exit(1);
    }
    b.stream_labels.push_back(std::move(l).value());
  }
  // Keep every stream's lines first (generation and compression timed apart).
  struct Pending {
    std::vector<int64_t> ts;
    std::vector<std::string> lines;
  };
  std::vector<Pending> per(gen.streams().size());
  const auto g0 = Clock::now();
  GeneratedEntry e;
  while (gen.Next(&e)) {
    Pending& p = per[static_cast<size_t>(e.stream)];
    p.ts.push_back(e.timestamp_ns);
    p.lines.push_back(std::move(e.line));
    e.line = std::string();
    b.lines++;
  }
  b.generate_s = Since(g0);

  const auto t0 = Clock::now();
  const double c0 = ProcessCpu();
  chunk::ChunkBuilder builder(o.builder);
  for (size_t s = 0; s < per.size(); ++s) {
    auto finish = [&] {
      if (builder.num_entries() == 0) return;
      Chunk c;
      c.stream = s;
      c.entries = static_cast<uint32_t>(builder.num_entries());
      c.raw_bytes = builder.raw_bytes();
      auto bytes = builder.Finish();
      if (!bytes.ok()) {
        std::fprintf(stderr, "chunk: %s\n", bytes.status().message().c_str());
        std::exit(1);
      }
      c.bytes = std::move(bytes).value();
      b.raw_bytes += c.raw_bytes;
      b.encoded_bytes += c.bytes.size();
      b.chunks.push_back(std::move(c));
    };
    for (size_t i = 0; i < per[s].lines.size(); ++i) {
      if (Status st = builder.Add(per[s].ts[i], per[s].lines[i]); !st.ok()) {
        std::fprintf(stderr, "chunk add: %s\n", st.message().c_str());
        std::exit(1);
      }
      if (static_cast<int64_t>(builder.raw_bytes()) >= o.chunk_bytes) finish();
    }
    finish();
    per[s] = Pending();
  }
  b.build_s = Since(t0);
  b.build_cpu_s = ProcessCpu() - c0;
  return b;
}

// What one pass over a set of chunks does per entry.
class EntrySink {
 public:
  virtual ~EntrySink() = default;
  virtual void BeginStream(size_t stream) = 0;
  virtual void Entry(int64_t ts, std::string_view line) = 0;
  virtual uint64_t matched() const = 0;
};

// Decode only: touch the line so the iteration cannot be optimized away.
class TouchSink final : public EntrySink {
 public:
  void BeginStream(size_t) override {}
  void Entry(int64_t ts, std::string_view line) override {
    acc_ += static_cast<uint64_t>(ts) ^ line.size() ^ (line.empty() ? 0 : line.back());
  }
  uint64_t matched() const override { return acc_ & 1; }

 private:
  uint64_t acc_ = 0;
};

// Decode + the query's pipeline (log query) or sample extractor (metric query).
class PipelineSink final : public EntrySink {
 public:
  PipelineSink(std::shared_ptr<const pipeline::Pipeline> pl,
               std::shared_ptr<const pipeline::SampleExtractor> se, const Built* b)
      : pl_(std::move(pl)), se_(std::move(se)), b_(b) {}
  void BeginStream(size_t stream) override {
    if (pl_)
      sp_ = pl_->ForStream(b_->stream_labels[stream]);
    else
      sx_ = se_->ForStream(b_->stream_labels[stream]);
  }
  void Entry(int64_t ts, std::string_view line) override {
    const pipeline::ResultLabels* rl = nullptr;
    if (sp_) {
      std::string_view out;
      if (sp_->Process(ts, line, kNoMetadata, &out, &rl)) ++matched_;
    } else {
      double v;
      if (sx_->Process(ts, line, kNoMetadata, &v, &rl)) ++matched_;
    }
  }
  uint64_t matched() const override { return matched_; }

 private:
  static inline const std::vector<Label> kNoMetadata;
  std::shared_ptr<const pipeline::Pipeline> pl_;
  std::shared_ptr<const pipeline::SampleExtractor> se_;
  const Built* b_;
  std::unique_ptr<pipeline::StreamPipeline> sp_;
  std::unique_ptr<pipeline::StreamSampleExtractor> sx_;
  uint64_t matched_ = 0;
};

struct Pass {
  double wall_s = 0, cpu_s = 0;
  uint64_t entries = 0, raw_bytes = 0, matched = 0;
};

// Iterates every entry of chunks[idx] on `threads` threads (chunks handed out in order from
// a shared counter; each thread makes its own sink per chunk's stream).
Pass RunPass(const Built& b, const std::vector<size_t>& idx, int threads,
             const std::function<std::unique_ptr<EntrySink>()>& make_sink) {
  std::atomic<size_t> next{0};
  std::vector<Pass> per(static_cast<size_t>(threads));
  std::atomic<bool> failed{false};
  const double c0 = ProcessCpu();
  const auto t0 = Clock::now();
  auto work = [&](size_t t) {
    std::unique_ptr<EntrySink> sink = make_sink();
    size_t cur_stream = SIZE_MAX;
    for (size_t i = next++; i < idx.size(); i = next++) {
      const Chunk& c = b.chunks[idx[i]];
      if (c.stream != cur_stream) {
        sink->BeginStream(c.stream);
        cur_stream = c.stream;
      }
      auto reader = chunk::ChunkReader::Open(c.bytes);
      if (!reader.ok()) {
        failed = true;
        return;
      }
      auto it = (*reader)->Iterate(std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(), true);
      while (it->Next()) {
        const chunk::EntryView& e = it->entry();
        per[t].entries++;
        per[t].raw_bytes += e.line.size();
        sink->Entry(e.ts, e.line);
      }
      if (!it->status().ok()) failed = true;
    }
    per[t].matched = sink->matched();
  };
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back(work, static_cast<size_t>(t));
  work(0);
  for (auto& t : ts) t.join();
  Pass p;
  p.wall_s = Since(t0);
  p.cpu_s = ProcessCpu() - c0;
  for (const Pass& x : per) {
    p.entries += x.entries;
    p.raw_bytes += x.raw_bytes;
    p.matched += x.matched;
  }
  if (failed) {
    std::fprintf(stderr, "a chunk failed to decode\n");
    std::exit(1);
  }
  return p;
}

// zstd only: decompresses every block of chunks[idx] (ZSTD_decompressDCtx into a reused
// buffer), without checksums or entry parsing: the codec's share of "decode".
Pass RunZstdPass(const Built& b, const std::vector<size_t>& idx, int threads) {
  std::atomic<size_t> next{0};
  std::vector<Pass> per(static_cast<size_t>(threads));
  std::atomic<bool> failed{false};
  const double c0 = ProcessCpu();
  const auto t0 = Clock::now();
  auto work = [&](size_t t) {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    std::vector<char> buf;
    for (size_t i = next++; i < idx.size(); i = next++) {
      const Chunk& c = b.chunks[idx[i]];
      auto reader = chunk::ChunkReader::Open(c.bytes);
      if (!reader.ok()) {
        failed = true;
        break;
      }
      for (const chunk::BlockInfo& blk : (*reader)->blocks()) {
        if (buf.size() < blk.decoded_bytes) buf.resize(blk.decoded_bytes);
        size_t n = ZSTD_decompressDCtx(dctx, buf.data(), buf.size(), c.bytes.data() + blk.offset,
                                       blk.compressed_bytes);
        if (ZSTD_isError(n) || n != blk.decoded_bytes) failed = true;
        per[t].entries += blk.num_entries;
        per[t].raw_bytes += blk.raw_bytes;
      }
    }
    ZSTD_freeDCtx(dctx);
  };
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back(work, static_cast<size_t>(t));
  work(0);
  for (auto& t : ts) t.join();
  Pass p;
  p.wall_s = Since(t0);
  p.cpu_s = ProcessCpu() - c0;
  for (const Pass& x : per) {
    p.entries += x.entries;
    p.raw_bytes += x.raw_bytes;
  }
  if (failed) {
    std::fprintf(stderr, "a block failed to decompress\n");
    std::exit(1);
  }
  return p;
}

struct Mode {
  std::string name;  // "zstd", "decode" or the query
  std::vector<size_t> chunks;
  std::function<std::unique_ptr<EntrySink>()> make_sink;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int Run(const Options& o) {
  std::fprintf(stderr, "generating %lld lines and building chunks...\n",
               static_cast<long long>(o.gen.lines));
  const Built b = Build(o);
  std::printf("== logq chunk decode floor ==\n");
  std::printf("corpus      %lld lines, %zu streams, %.1f MB raw, seed %llu (generated in %.1f s)\n",
              static_cast<long long>(b.lines), b.stream_labels.size(), b.raw_bytes / 1e6,
              static_cast<unsigned long long>(o.gen.seed), b.generate_s);
  std::printf(
      "chunks      %zu chunks (cut at >= %lld raw bytes, %zu B blocks, zstd %d): %.1f MB = %.3f of "
      "raw; built in %.2f s (%.0f MB/s raw per CPU-second)\n",
      b.chunks.size(), static_cast<long long>(o.chunk_bytes), o.builder.target_block_raw,
      o.builder.zstd_level, b.encoded_bytes / 1e6,
      static_cast<double>(b.encoded_bytes) / static_cast<double>(b.raw_bytes), b.build_s,
      b.raw_bytes / 1e6 / b.build_cpu_s);

  std::vector<Mode> modes;
  std::vector<size_t> all(b.chunks.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  modes.push_back({"zstd", all, nullptr});
  modes.push_back({"decode", all, [] { return std::make_unique<TouchSink>(); }});
  for (const std::string& q : o.queries) {
    auto expr = logql::ParseExpr(q);
    if (!expr.ok()) {
      std::fprintf(stderr, "--query %s: %s\n", q.c_str(), expr.status().message().c_str());
      return 2;
    }
    // The range aggregation (metric) or the log expression at the query's core.
    const logql::Expr* e = expr->get();
    while (e->kind == logql::Expr::Kind::kVectorAggregation)
      e = static_cast<const logql::VectorAggregationExpr*>(e)->inner.get();
    std::shared_ptr<const pipeline::Pipeline> pl;
    std::shared_ptr<const pipeline::SampleExtractor> se;
    const std::vector<Matcher>* matchers = nullptr;
    if (e->kind == logql::Expr::Kind::kLog) {
      const auto* log = static_cast<const logql::LogExpr*>(e);
      auto p = pipeline::Pipeline::Make(log->pipeline);
      if (!p.ok()) {
        std::fprintf(stderr, "--query %s: %s\n", q.c_str(), p.status().message().c_str());
        return 2;
      }
      pl = *p;
      matchers = &log->matchers;
    } else if (e->kind == logql::Expr::Kind::kRangeAggregation) {
      const auto* r = static_cast<const logql::RangeAggregationExpr*>(e);
      auto s = pipeline::SampleExtractor::Make(*r);
      if (!s.ok()) {
        std::fprintf(stderr, "--query %s: %s\n", q.c_str(), s.status().message().c_str());
        return 2;
      }
      se = *s;
      matchers = &r->log->matchers;
    } else {
      std::fprintf(stderr,
                   "--query %s: only log queries and [vector aggregations of] range "
                   "aggregations\n",
                   q.c_str());
      return 2;
    }
    Mode m;
    m.name = q;
    for (size_t i = 0; i < b.chunks.size(); ++i) {
      if (MatchesAll(*matchers, b.stream_labels[b.chunks[i].stream])) m.chunks.push_back(i);
    }
    m.make_sink = [pl, se, &b] { return std::make_unique<PipelineSink>(pl, se, &b); };
    modes.push_back(std::move(m));
  }

  std::printf("\n%-8s %8s %8s %8s %9s %9s %10s %10s  %s\n", "threads", "min s", "median s", "GB/s",
              "GB/s best", "GB/CPU-s", "lines", "matched", "mode");
  std::vector<nlohmann::json> out;
  for (const Mode& m : modes) {
    uint64_t raw = 0;
    for (size_t i : m.chunks) raw += b.chunks[i].raw_bytes;
    for (int threads : o.threads) {
      auto pass = [&] {
        return m.make_sink ? RunPass(b, m.chunks, threads, m.make_sink)
                           : RunZstdPass(b, m.chunks, threads);
      };
      (void)pass();  // warm-up: caches, zstd contexts
      std::vector<double> walls, cpus;
      Pass last;
      for (int r = 0; r < o.repeat; ++r) {
        last = pass();
        walls.push_back(last.wall_s);
        cpus.push_back(last.cpu_s);
      }
      const double med = Median(walls), best = *std::min_element(walls.begin(), walls.end());
      const double cpu = Median(cpus);
      std::printf(
          "%-8d %8.3f %8.3f %8.3f %9.3f %9.3f %10llu %10llu  %s\n", threads, best, med,
          raw / 1e9 / med, raw / 1e9 / best, raw / 1e9 / cpu,
          static_cast<unsigned long long>(last.entries),
          static_cast<unsigned long long>(m.make_sink && m.name != "decode" ? last.matched : 0),
          m.name.c_str());
      const bool pipeline = m.name != "decode" && m.name != "zstd";
      out.push_back({{"bench", "decode_floor"},
                     {"mode", pipeline ? "pipeline" : m.name},
                     {"query", pipeline ? m.name : ""},
                     {"threads", threads},
                     {"chunks", m.chunks.size()},
                     {"raw_bytes", raw},
                     {"lines", last.entries},
                     {"matched", pipeline ? last.matched : 0},
                     {"wall_s", {{"min", best}, {"median", med}, {"all", walls}}},
                     {"cpu_s_median", cpu},
                     {"gb_per_s_median", raw / 1e9 / med},
                     {"gb_per_s_best", raw / 1e9 / best},
                     {"gb_per_cpu_s", raw / 1e9 / cpu}});
    }
  }
  if (o.json) {
    nlohmann::json setup = {
        {"bench", "decode_floor_setup"},      {"lines", b.lines},
        {"streams", b.stream_labels.size()},  {"raw_bytes", b.raw_bytes},
        {"chunks", b.chunks.size()},          {"encoded_bytes", b.encoded_bytes},
        {"chunk_bytes", o.chunk_bytes},       {"block_bytes", o.builder.target_block_raw},
        {"zstd_level", o.builder.zstd_level}, {"build_s", b.build_s},
        {"build_cpu_s", b.build_cpu_s}};
    std::printf("BENCH_JSON %s\n", setup.dump().c_str());
    for (const auto& j : out) std::printf("BENCH_JSON %s\n", j.dump().c_str());
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace logq::bench

int main(int argc, char** argv) { return logq::bench::Run(logq::bench::ParseFlags(argc, argv)); }
