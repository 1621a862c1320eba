// logq_bench_gen: prints the benchmark's synthetic pod logs (for inspection or for feeding
// other tools) or a summary of them, including what zstd and gzip make of them in
// chunk-like blocks: the compression a store could reach on this data, before any
// storage-engine overhead.
//
//   logq_bench_gen [--lines=N] [--streams=N] [--seed=N] [--span=SECONDS]
//                  [--output=stats|tsv] [--block-bytes=N]
//
// tsv: one entry per line, `<timestamp ns>\t<labels>\t<line>`, in generation order.
#include <fmt/format.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/bench/log_generator.h"

namespace {

using logq::bench::GeneratedEntry;
using logq::bench::GeneratorOptions;
using logq::bench::LineKind;
using logq::bench::LogGenerator;

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "logq_bench_gen: %s\nusage: logq_bench_gen [--lines=N] [--streams=N] [--seed=N] "
               "[--span=SECONDS] "
               "[--output=stats|tsv] [--block-bytes=N]\n",
               msg);
  std::exit(2);
}

int64_t ParseInt(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0) Usage(("invalid value for " + flag + ": " + v).c_str());
  return n;
}

size_t ZstdSize(const std::string& block) {
  std::string out(ZSTD_compressBound(block.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), block.data(), block.size(), 3);
  return ZSTD_isError(n) ? block.size() : n;
}

size_t GzipSize(const std::string& block) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return block.size();
  std::string out(deflateBound(&z, block.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  GeneratorOptions o;
  std::string output = "stats";
  size_t block_bytes = 256 << 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    std::string name = a.substr(0, eq), value = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (name == "--lines")
      o.lines = ParseInt(name, value);
    else if (name == "--streams")
      o.streams = static_cast<int>(ParseInt(name, value));
    else if (name == "--seed")
      o.seed = static_cast<uint64_t>(ParseInt(name, value));
    else if (name == "--span")
      o.span_ns = ParseInt(name, value) * 1'000'000'000;
    else if (name == "--output")
      output = value;
    else if (name == "--block-bytes")
      block_bytes = static_cast<size_t>(ParseInt(name, value));
    else if (name == "--help" || name == "-h")
      Usage("help");
    else
      Usage(("unknown flag " + a).c_str());
  }
  if (o.streams < 1 || o.span_ns <= 0 || block_bytes == 0)
    Usage("--streams, --span and --block-bytes must be > 0");
  if (output != "stats" && output != "tsv") Usage("--output must be stats or tsv");
  o.end_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();

  LogGenerator gen(o);
  GeneratedEntry e;
  if (output == "tsv") {
    std::string buf;
    while (gen.Next(&e)) {
      buf.clear();
      fmt::format_to(std::back_inserter(buf), "{}\t{}\t{}\n", e.timestamp_ns,
                     gen.streams()[e.stream].labels, e.line);
      std::fwrite(buf.data(), 1, buf.size(), stdout);
    }
    return 0;
  }

  const auto t0 = std::chrono::steady_clock::now();
  int64_t kind_lines[logq::bench::kNumLineKinds] = {}, kind_bytes[logq::bench::kNumLineKinds] = {};
  std::vector<int64_t> stream_lines(gen.streams().size()), stream_bytes(gen.streams().size());
  std::vector<std::string> blocks(gen.streams().size());
  int64_t raw = 0, lines = 0, max_line = 0;
  size_t zstd_total = 0, gzip_total = 0;
  while (gen.Next(&e)) {
    const auto k = static_cast<int>(e.kind);
    kind_lines[k]++;
    kind_bytes[k] += static_cast<int64_t>(e.line.size());
    stream_lines[e.stream]++;
    stream_bytes[e.stream] += static_cast<int64_t>(e.line.size());
    raw += static_cast<int64_t>(e.line.size());
    max_line = std::max<int64_t>(max_line, static_cast<int64_t>(e.line.size()));
    ++lines;
    std::string& b = blocks[e.stream];
    b.append(e.line);
    b.push_back('\n');
    if (b.size() >= block_bytes) {
      zstd_total += ZstdSize(b);
      gzip_total += GzipSize(b);
      b.clear();
    }
  }
  for (auto& b : blocks) {
    if (b.empty()) continue;
    zstd_total += ZstdSize(b);
    gzip_total += GzipSize(b);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf(
      "seed %llu: %lld lines, %zu streams, %.1f MB raw (MB = 10^6 B), avg line %.1f B, max %lld "
      "B\n",
      static_cast<unsigned long long>(o.seed), static_cast<long long>(lines), gen.streams().size(),
      raw / 1e6, lines ? static_cast<double>(raw) / lines : 0.0, static_cast<long long>(max_line));
  for (int k = 0; k < logq::bench::kNumLineKinds; ++k) {
    std::printf("  %-7s %9lld lines (%4.1f%%)  %7.1f MB (%4.1f%%)  avg %5.1f B\n",
                logq::bench::LineKindName(static_cast<LineKind>(k)),
                static_cast<long long>(kind_lines[k]), lines ? 100.0 * kind_lines[k] / lines : 0.0,
                kind_bytes[k] / 1e6, raw ? 100.0 * kind_bytes[k] / raw : 0.0,
                kind_lines[k] ? static_cast<double>(kind_bytes[k]) / kind_lines[k] : 0.0);
  }
  std::printf(
      "per-stream blocks of %zu B, each compressed alone: zstd-3 %.4f of raw (1/%.1f), gzip-6 %.4f "
      "(1/%.1f)\n",
      block_bytes, raw ? static_cast<double>(zstd_total) / raw : 0.0,
      zstd_total ? static_cast<double>(raw) / zstd_total : 0.0,
      raw ? static_cast<double>(gzip_total) / raw : 0.0,
      gzip_total ? static_cast<double>(raw) / gzip_total : 0.0);
  std::printf("streams (lines, MB):\n");
  for (size_t s = 0; s < gen.streams().size(); ++s) {
    std::printf("  %8lld %7.2f  %s\n", static_cast<long long>(stream_lines[s]),
                stream_bytes[s] / 1e6, gen.streams()[s].labels.c_str());
  }
  std::printf("generated and compressed in %.2f s\n", secs);
  return 0;
}
