// Helpers of the storage-engine-v2 failure tests (engine_crash_e2e_test.cc,
// engine_wal_damage_e2e_test.cc, engine_disk_full_e2e_test.cc): a deterministic corpus of
// push batches, the "every acknowledged line exactly once, byte-exact" oracle over
// query_range, a WAL segment/checkpoint frame parser (docs/formats/wal.md) and an inotify
// watch that lets a test kill -9 the store at a chosen file-system event.
// Header-only and test-only; drive everything from the test's main thread unless noted.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e::engine {

inline uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The data: batch b (any b >= 0, generated on demand) is one push of kStreams streams with
// kPerStream entries each. Every line names its batch, stream and index ("batch=000042 s=1
// i=07 pad=..."), so the oracle can tell which push a line came from. Within a batch, entry 5
// has the timestamp of entry 4 (same timestamp, different line: both kept); about one line in
// 40 is out of order by up to 2 minutes; some batches list a stream's entries backwards.
struct Corpus {
  static constexpr int kStreams = 4;
  static constexpr int kPerStream = 25;
  static constexpr int kLines = kStreams * kPerStream;
  static constexpr int64_t kStep = 2'000'000;  // 2 ms between consecutive lines of a stream

  uint64_t seed = 0;
  int64_t t0 = 0;  // timestamp of batch 0, entry 0
  std::string job = "engine";

  std::string Selector(int s) const {
    return "{job=\"" + job + "\", stream=\"s" + std::to_string(s) + "\"}";
  }
  std::string Text(int b, int s, int i) const {
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t h = Mix(seed ^ (static_cast<uint64_t>(b) << 20) ^ (static_cast<uint64_t>(s) << 8) ^
                     static_cast<uint64_t>(i));
    char head[64];
    std::snprintf(head, sizeof(head), "batch=%06d s=%d i=%02d pad=", b, s, i);
    std::string out = head;
    const size_t n = 30 + h % 120;
    for (size_t k = 0; k < n; ++k) {
      h = Mix(h);
      out += kAlnum[h % (sizeof(kAlnum) - 1)];
    }
    if (h % 50 == 0) out += " \"quoted\" back\\slash\ttab é ü ✓";
    return out;
  }
  int64_t Ts(int b, int s, int i) const {
    if (i == 5) return Ts(b, s, 4);
    const int64_t base = t0 + (static_cast<int64_t>(b) * kPerStream + i) * kStep + s * 1000;
    const uint64_t h = Mix(seed ^ 0xABCDEF ^ (static_cast<uint64_t>(b) << 20) ^
                           (static_cast<uint64_t>(s) << 8) ^ static_cast<uint64_t>(i));
    if (h % 40 == 0) return base - static_cast<int64_t>(1 + h % 120) * kSecond;
    return base;
  }
  // Query bounds covering batches [0, batches).
  int64_t Start() const { return t0 - 10 * kMinute; }
  int64_t End(int batches) const {
    return t0 + static_cast<int64_t>(batches + 1) * kPerStream * kStep + kMinute;
  }
  api::PushRequest Request(int b) const {
    api::PushRequest r;
    const bool backwards = Mix(seed ^ 0x77 ^ static_cast<uint64_t>(b)) % 8 == 0;
    for (int s = 0; s < kStreams; ++s) {
      std::vector<api::PushEntry> entries;
      for (int i = 0; i < kPerStream; ++i) entries.push_back(Entry(Ts(b, s, i), Text(b, s, i)));
      if (backwards) std::reverse(entries.begin(), entries.end());
      r.streams.push_back(Stream(Selector(s), std::move(entries)));
    }
    return r;
  }
  std::string Body(int b) const { return ProtoBody(Request(b)); }
};

// Per batch: what the oracle requires.
enum class Expect : int8_t {
  kMay = 0,      // not acknowledged: all of its lines or none
  kPresent = 1,  // acknowledged (and not knowingly damaged): every line exactly once
  kAbsent = 2,   // lost to deliberate damage: none of its lines
};

struct CheckResult {
  size_t present_lines = 0;  // lines found exactly once
  size_t lost = 0;           // lines of kPresent batches missing
  size_t unexpected = 0;     // lines of kAbsent batches found
  size_t dup = 0;            // lines returned more than once
  size_t corrupt = 0;        // lines not byte-identical to a generated one (or wrong ts/stream)
  size_t torn = 0;           // batches partly present: a push is one WAL record, all or nothing
  std::vector<bool> batch_present;  // per batch: any line found
  std::vector<std::string> examples;
  bool ok() const { return lost == 0 && unexpected == 0 && dup == 0 && corrupt == 0 && torn == 0; }
  std::string Summary() const {
    std::string s = "present_lines=" + std::to_string(present_lines) +
                    " lost=" + std::to_string(lost) + " unexpected=" + std::to_string(unexpected) +
                    " dup=" + std::to_string(dup) + " corrupt=" + std::to_string(corrupt) +
                    " torn=" + std::to_string(torn);
    for (const auto& e : examples) s += "\n  " + e;
    return s;
  }
};

// Reads every stream of the corpus back (forward, paged) and checks it against `expect`
// (one entry per batch ever pushed). Streams s with lost_streams[s] (deliberate damage) must
// be empty; a batch is then whole when its other streams are. A failed query is reported
// with ADD_FAILURE.
inline CheckResult Check(TestHttpClient& client, const Corpus& corpus,
                         const std::vector<Expect>& expect,
                         const std::vector<bool>& lost_streams = {}) {
  CheckResult res;
  const int batches = static_cast<int>(expect.size());
  auto example = [&](std::string e) {
    if (res.examples.size() < 12) res.examples.push_back(std::move(e));
  };
  std::vector<int> found_lines(batches, 0);
  int kept_streams = 0;
  for (int s = 0; s < Corpus::kStreams; ++s) {
    const bool lost_stream = s < static_cast<int>(lost_streams.size()) && lost_streams[s];
    if (!lost_stream) ++kept_streams;
    Entries got;
    std::string error;
    if (!QueryAll(client, corpus.Selector(s), corpus.Start(), corpus.End(batches), 20000, &got,
                  &error)) {
      ADD_FAILURE() << error;
      return res;
    }
    std::vector<uint8_t> count(static_cast<size_t>(batches) * Corpus::kPerStream, 0);
    for (const auto& [ts, line] : got) {
      int b = -1, ls = -1, i = -1;
      if (std::sscanf(line.c_str(), "batch=%d s=%d i=%d ", &b, &ls, &i) != 3 || ls != s ||
          b < 0 || b >= batches || i < 0 || i >= Corpus::kPerStream ||
          corpus.Text(b, s, i) != line || corpus.Ts(b, s, i) != ts) {
        ++res.corrupt;
        example("corrupt in stream " + std::to_string(s) + ": ts=" + std::to_string(ts) +
                " line=" + line.substr(0, 100));
        continue;
      }
      uint8_t& c = count[static_cast<size_t>(b) * Corpus::kPerStream + i];
      if (c < 255) ++c;
    }
    for (int b = 0; b < batches; ++b) {
      for (int i = 0; i < Corpus::kPerStream; ++i) {
        const int c = count[static_cast<size_t>(b) * Corpus::kPerStream + i];
        if (c > 0) ++found_lines[b];
        if (c == 1) ++res.present_lines;
        if (c > 1) {
          ++res.dup;
          example("dup: batch=" + std::to_string(b) + " s=" + std::to_string(s) +
                  " i=" + std::to_string(i) + " x" + std::to_string(c));
        }
        if (c > 0 && lost_stream) {
          ++res.unexpected;
          example("present but its stream was expected lost: batch=" + std::to_string(b) +
                  " s=" + std::to_string(s) + " i=" + std::to_string(i));
        }
        if (c == 0 && expect[b] == Expect::kPresent && !lost_stream) {
          ++res.lost;
          example("lost acknowledged: batch=" + std::to_string(b) + " s=" + std::to_string(s) +
                  " i=" + std::to_string(i));
        }
        if (c > 0 && expect[b] == Expect::kAbsent) {
          ++res.unexpected;
          example("present but expected lost: batch=" + std::to_string(b) +
                  " s=" + std::to_string(s) + " i=" + std::to_string(i));
        }
      }
    }
  }
  res.batch_present.assign(batches, false);
  for (int b = 0; b < batches; ++b) {
    res.batch_present[b] = found_lines[b] > 0;
    const int whole = kept_streams * Corpus::kPerStream;
    if (found_lines[b] != 0 && found_lines[b] != whole) {
      ++res.torn;
      example("torn batch " + std::to_string(b) + ": " + std::to_string(found_lines[b]) + " of " +
              std::to_string(whole) + " lines");
    }
  }
  return res;
}

// GET /loki/api/v1/index/stats for the corpus' job: the "entries" field, or -1.
inline int64_t IndexStatsEntries(TestHttpClient& client, const Corpus& corpus, int batches) {
  HttpReply r = client.Get(testing::PathWithQuery(
      "/loki/api/v1/index/stats", {{"query", "{job=\"" + corpus.job + "\"}"},
                                   {"start", std::to_string(corpus.Start())},
                                   {"end", std::to_string(corpus.End(batches))}}));
  if (r.status != 200) {
    ADD_FAILURE() << "index/stats: " << r.Describe();
    return -1;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("entries") || !j["entries"].is_number()) {
    ADD_FAILURE() << "index/stats body: " << r.body;
    return -1;
  }
  return j["entries"].get<int64_t>();
}

// ---- WAL files (docs/formats/wal.md) -----------------------------------------------------

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// One record frame of a segment or checkpoint file: header at `offset`, 16 + len bytes.
struct Frame {
  uint64_t offset = 0;
  uint32_t len = 0;
  uint8_t type = 0;
  uint64_t end() const { return offset + 16 + len; }
};

// Frames of a WAL file, from byte 16 on, as long as their lengths fit in the file (no
// checksum verification: the files parsed are ones the store wrote, before the test damages
// them).
inline std::vector<Frame> Frames(const std::string& bytes) {
  std::vector<Frame> out;
  uint64_t off = 16;
  while (off + 16 <= bytes.size()) {
    Frame f;
    f.offset = off;
    std::memcpy(&f.len, bytes.data() + off, 4);  // little-endian host (x86-64, arm64)
    f.type = static_cast<uint8_t>(bytes[off + 4]);
    if (f.end() > bytes.size()) break;
    out.push_back(f);
    off = f.end();
  }
  return out;
}

// The batch of the first line in a push record's payload ("batch=NNNNNN"), or -1.
inline int BatchOf(std::string_view payload) {
  const size_t p = payload.find("batch=");
  if (p == std::string_view::npos || p + 12 > payload.size()) return -1;
  return std::atoi(std::string(payload.substr(p + 6, 6)).c_str());
}

// Segment ids (ascending) and the newest checkpoint's N (0 if none) in a WAL directory, and
// leftover checkpoint temp files.
struct WalDir {
  std::vector<uint64_t> segments;
  uint64_t checkpoint = 0;
  int temp_files = 0;
};
inline WalDir ListWal(const std::string& dir) {
  WalDir w;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 4 && n.ends_with(".seg")) {
      w.segments.push_back(std::stoull(n.substr(0, n.size() - 4)));
    } else if (n.starts_with("checkpoint.") && n.ends_with(".tmp")) {
      ++w.temp_files;
    } else if (n.starts_with("checkpoint.")) {
      w.checkpoint = std::max<uint64_t>(w.checkpoint, std::stoull(n.substr(11)));
    }
  }
  std::sort(w.segments.begin(), w.segments.end());
  return w;
}
inline std::string SegmentPath(const std::string& wal_dir, uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%08llu.seg", static_cast<unsigned long long>(id));
  return wal_dir + buf;
}
inline std::string CheckpointPath(const std::string& wal_dir, uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "/checkpoint.%08llu", static_cast<unsigned long long>(n));
  return wal_dir + buf;
}

// ---- inotify ------------------------------------------------------------------------------

// Watches directories for file events; Wait blocks (poll with a deadline, no sleep) until
// an event matches. Events that happened before the watch was added are not seen.
class DirWatch {
 public:
  DirWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  ~DirWatch() {
    if (fd_ >= 0) close(fd_);
  }
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  bool Add(const std::string& dir, uint32_t mask) {
    if (fd_ < 0) return false;
    const int wd = inotify_add_watch(fd_, dir.c_str(), mask);
    if (wd < 0) return false;
    dirs_.emplace_back(wd, dir);
    return true;
  }
  // Waits until `match(dir, name, mask)` returned true for `count` events, or the deadline.
  bool Wait(const std::function<bool(const std::string&, std::string_view, uint32_t)>& match,
            int count, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    alignas(inotify_event) char buf[16384];
    int seen = 0;
    while (fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = read(fd_, buf, sizeof(buf));
      for (ssize_t off = 0; n > 0 && off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        std::string dir;
        for (const auto& [wd, d] : dirs_) {
          if (wd == ev->wd) dir = d;
        }
        const std::string_view name = ev->len > 0 ? std::string_view(ev->name) : "";
        if (match(dir, name, ev->mask) && ++seen >= count) return true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    return false;
  }

 private:
  int fd_;
  std::vector<std::pair<int, std::string>> dirs_;
};

}  // namespace logq::e2e::engine
