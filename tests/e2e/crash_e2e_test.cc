// kill -9 end-to-end test of logq-store (RELIABILITY §4.1 oracle, §4.2 A1/C4 in small):
// 200,000 lines over 10 streams are pushed in 400 batches of 500 from two client threads;
// the store is SIGKILLed mid-ingest with requests in flight, restarted on the same storage,
// and checked: every line of every acknowledged (204) batch is present exactly once and
// byte-exact; lines of unacknowledged batches may be present or absent, never twice. Then
// every unacknowledged batch plus a few acknowledged ones (client retries) are pushed again
// with one more kill -9 and restart in the middle, and the final state must be exactly the
// 200,000 lines, each once.
//
// Deterministic: the data, the batch order and the kill points come from one seeded RNG;
// the kill waits on a condition variable with a deadline, never on a sleep. What is not
// deterministic is which in-flight requests the kill interrupts, which the oracle allows.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

constexpr uint64_t kSeed = 0x5eed2024;
constexpr int kStreams = 10;
constexpr int kLinesPerStream = 20000;
constexpr int kBatchLines = 500;
constexpr int kPerStreamPerBatch = kBatchLines / kStreams;          // 50
constexpr int kBatches = kStreams * kLinesPerStream / kBatchLines;  // 400
constexpr int kClientThreads = 2;
constexpr int kQueryPage = 8000;  // < lines per stream, so verification pages

constexpr const char* kConfig = R"(ingester:
  chunk_target_size: 64KB
  flush_check_period: 200ms
limits_config:
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 1000
  max_entries_limit_per_query: 1000000
  reject_old_samples_max_age: 24h
)";

std::string StreamSelector(int s) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), R"({job="crash", stream="s%02d"})", s);
  return buf;
}

struct GenLine {
  int64_t ts = 0;
  std::string text;
};

// The data set: lines[stream][seq] and one encoded push body per batch. Batch b holds seq
// [b*50, b*50+50) of every stream.
struct Corpus {
  std::vector<std::vector<GenLine>> lines;
  std::vector<std::string> bodies;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
};

Corpus Generate(std::mt19937_64& rng) {
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  Corpus c;
  const int64_t t0 = NowNs() - 50 * kMinute;  // 20,000 lines 120 ms apart end 10 minutes ago
  c.lines.resize(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    auto& v = c.lines[s];
    v.resize(kLinesPerStream);
    for (int seq = 0; seq < kLinesPerStream; ++seq) {
      int64_t ts = t0 + seq * 120'000'000LL + s * 1000;
      if (seq % 97 == 1) {
        ts = v[seq - 1].ts;  // identical timestamp, different line: both must be kept
      } else if (rng() % 50 == 0) {
        ts -= static_cast<int64_t>(1 + rng() % 300) * kSecond;  // out of order, up to 5 min back
      }
      std::string pad(20 + rng() % 180, ' ');
      for (char& ch : pad) ch = kAlnum[rng() % (sizeof(kAlnum) - 1)];
      if (rng() % 100 == 0) pad += " \"quoted\" back\\slash\ttab é ü ✓";
      v[seq].ts = ts;
      v[seq].text = "run=" + std::to_string(kSeed) + " s=" + std::to_string(s) +
                    " seq=" + std::to_string(seq) + " pad=" + pad;
      c.min_ts = std::min(c.min_ts, ts);
      c.max_ts = std::max(c.max_ts, ts);
    }
  }
  for (int b = 0; b < kBatches; ++b) {
    api::PushRequest req;
    for (int s = 0; s < kStreams; ++s) {
      std::vector<api::PushEntry> entries;
      for (int seq = b * kPerStreamPerBatch; seq < (b + 1) * kPerStreamPerBatch; ++seq) {
        entries.push_back(Entry(c.lines[s][seq].ts, c.lines[s][seq].text));
      }
      if (rng() % 10 == 0)
        std::shuffle(entries.begin(), entries.end(), rng);  // unordered within a push
      req.streams.push_back(Stream(StreamSelector(s), std::move(entries)));
    }
    c.bodies.push_back(ProtoBody(req));
  }
  return c;
}

// Pushes the batches in `order` from kClientThreads threads. With kill_after >= 0 the store
// is SIGKILLed as soon as that many pushes were acknowledged (the other thread is then
// typically mid-request). Returns the HTTP status per position of `order`: 204 acked, 0 a
// transport error (killed mid-request), -1 never sent.
std::vector<int> PushPhase(StoreProcess& store, const Corpus& corpus, const std::vector<int>& order,
                           int kill_after) {
  std::vector<std::atomic<int>> status(order.size());
  for (auto& s : status) s = -1;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  int acked = 0, finished = 0;
  const std::string url = store.base_url();

  auto worker = [&] {
    TestHttpClient client(url, std::chrono::seconds(30));
    for (;;) {
      if (kill_after >= 0) {
        // Bound the progress past the kill point in case the killing thread is slow to run.
        std::lock_guard<std::mutex> l(mu);
        if (acked >= kill_after + 4 * kClientThreads) break;
      }
      const size_t i = next.fetch_add(1);
      if (i >= order.size()) break;
      HttpReply r = client.Post("/loki/api/v1/push", corpus.bodies[order[i]], ProtoHeaders());
      status[i] = r.status;
      if (r.status == 204) {
        std::lock_guard<std::mutex> l(mu);
        ++acked;
        cv.notify_all();
        continue;
      }
      if (r.status != 0) std::fprintf(stderr, "unexpected push reply: %s\n", r.Describe().c_str());
      break;  // the store is gone (or misbehaves): stop this client
    }
    std::lock_guard<std::mutex> l(mu);
    ++finished;
    cv.notify_all();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kClientThreads; ++t) threads.emplace_back(worker);
  if (kill_after >= 0) {
    std::unique_lock<std::mutex> l(mu);
    const bool reached = cv.wait_for(l, std::chrono::seconds(120), [&] {
      return acked >= kill_after || finished == kClientThreads;
    });
    l.unlock();
    EXPECT_TRUE(reached) << "pushes did not reach " << kill_after << " acks in 120 s";
    store.Kill();  // kill -9 with requests in flight
  }
  for (auto& t : threads) t.join();
  std::vector<int> out;
  for (auto& s : status) out.push_back(s.load());
  return out;
}

struct CheckResult {
  size_t torn = 0;        // batches partly present: a push is one atomic write, all or nothing
  size_t present = 0;     // lines found exactly once
  size_t lost_acked = 0;  // lines of acked batches missing
  size_t dup = 0;         // lines returned more than once
  size_t corrupt = 0;     // lines not byte-identical to one generated line (or wrong ts/stream)
  size_t ooo = 0;         // forward results going back in time
  std::vector<std::string> examples;
  std::string Summary() const {
    std::string s = "present=" + std::to_string(present) +
                    " lost_acked=" + std::to_string(lost_acked) + " dup=" + std::to_string(dup) +
                    " corrupt=" + std::to_string(corrupt) + " ooo=" + std::to_string(ooo) +
                    " torn=" + std::to_string(torn);
    for (const auto& e : examples) s += "\n  " + e;
    return s;
  }
};

CheckResult Check(TestHttpClient& client, const Corpus& corpus, const std::vector<bool>& acked) {
  CheckResult res;
  auto example = [&](std::string e) {
    if (res.examples.size() < 10) res.examples.push_back(std::move(e));
  };
  std::vector<int> batch_lines(kBatches, 0);
  for (int s = 0; s < kStreams; ++s) {
    Entries got;
    std::string error;
    if (!QueryAll(client, StreamSelector(s), corpus.min_ts - kMinute, corpus.max_ts + 1, kQueryPage,
                  &got, &error)) {
      ADD_FAILURE() << error;
      return res;
    }
    std::vector<int> count(kLinesPerStream, 0);
    int64_t prev = INT64_MIN;
    for (const auto& [ts, line] : got) {
      if (ts < prev) ++res.ooo;
      prev = ts;
      unsigned long long run = 0;
      int ls = -1, seq = -1;
      if (std::sscanf(line.c_str(), "run=%llu s=%d seq=%d ", &run, &ls, &seq) != 3 || ls != s ||
          seq < 0 || seq >= kLinesPerStream || corpus.lines[s][seq].text != line ||
          corpus.lines[s][seq].ts != ts) {
        ++res.corrupt;
        example("corrupt in stream " + std::to_string(s) + ": ts=" + std::to_string(ts) +
                " line=" + line.substr(0, 120));
        continue;
      }
      ++count[seq];
    }
    for (int seq = 0; seq < kLinesPerStream; ++seq) {
      if (count[seq] >= 1) ++batch_lines[seq / kPerStreamPerBatch];
      if (count[seq] == 1) ++res.present;
      if (count[seq] > 1) {
        ++res.dup;
        example("dup: s=" + std::to_string(s) + " seq=" + std::to_string(seq) + " x" +
                std::to_string(count[seq]));
      }
      if (count[seq] == 0 && acked[seq / kPerStreamPerBatch]) {
        ++res.lost_acked;
        example("lost acked: s=" + std::to_string(s) + " seq=" + std::to_string(seq) +
                " batch=" + std::to_string(seq / kPerStreamPerBatch));
      }
    }
  }
  for (int b = 0; b < kBatches; ++b) {
    if (batch_lines[b] != 0 && batch_lines[b] != kBatchLines) {
      ++res.torn;
      example("torn batch " + std::to_string(b) + ": " + std::to_string(batch_lines[b]) + " of " +
              std::to_string(kBatchLines) + " lines present");
    }
  }
  return res;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

TEST(CrashTest, KillDashNineNeverLosesAckedLinesNorDuplicatesRetries) {
  const auto t_begin = std::chrono::steady_clock::now();
  std::vector<std::string> timings;
  auto lap = [&, t = t_begin](const std::string& what) mutable {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s=%.2fs", what.c_str(), Seconds(t));
    timings.push_back(buf);
    t = std::chrono::steady_clock::now();
  };
  std::mt19937_64 rng(kSeed);
  const Corpus corpus = Generate(rng);
  lap("generate");

  LOGQ_ASSERT_START(store, StoreOptions{.config_yaml = kConfig});
  std::vector<bool> acked(kBatches, false);
  int interrupted = 0;  // requests cut off by a kill (transport error), over all phases
  auto record = [&](const std::vector<int>& order, const std::vector<int>& status, int* acks) {
    *acks = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      EXPECT_TRUE(status[i] == 204 || status[i] == 0 || status[i] == -1)
          << "batch " << order[i] << " got HTTP " << status[i];
      if (status[i] == 204) {
        acked[order[i]] = true;
        ++*acks;
      }
      if (status[i] == 0) ++interrupted;
    }
  };
  auto restart = [&]() -> bool {
    Status st = store->Restart();
    EXPECT_TRUE(st.ok()) << st.message();
    return st.ok();
  };

  // Phase 1: ingest in order, kill -9 after a seeded number of acks (20%..60% of batches).
  std::vector<int> order1(kBatches);
  for (int b = 0; b < kBatches; ++b) order1[b] = b;
  const int kill1 = kBatches / 5 + static_cast<int>(rng() % (2 * kBatches / 5));
  int acks1 = 0;
  record(order1, PushPhase(*store, corpus, order1, kill1), &acks1);
  lap("phase1_push");
  EXPECT_GE(acks1, kill1);
  ASSERT_LT(acks1, kBatches) << "the kill came after the whole ingest";
  ASSERT_TRUE(restart()) << store->LogTail();
  lap("restart1");
  TestHttpClient client(store->base_url(), std::chrono::seconds(60));
  CheckResult c1 = Check(client, corpus, acked);
  lap("check1");
  EXPECT_EQ(c1.lost_acked, 0u) << c1.Summary();
  EXPECT_EQ(c1.dup, 0u) << c1.Summary();
  EXPECT_EQ(c1.corrupt, 0u) << c1.Summary();
  EXPECT_EQ(c1.ooo, 0u) << c1.Summary();
  EXPECT_EQ(c1.torn, 0u) << c1.Summary();
  EXPECT_GE(c1.present, static_cast<size_t>(acks1) * kBatchLines) << c1.Summary();

  // Phase 2: every unacked batch plus 8 acked ones (retries of lost 204s), shuffled; kill -9
  // again after a quarter to a half of them were acked.
  std::vector<int> order2, acked_list;
  for (int b = 0; b < kBatches; ++b) (acked[b] ? acked_list : order2).push_back(b);
  std::shuffle(acked_list.begin(), acked_list.end(), rng);
  for (int i = 0; i < 8 && i < static_cast<int>(acked_list.size()); ++i)
    order2.push_back(acked_list[i]);
  std::shuffle(order2.begin(), order2.end(), rng);
  const int kill2 = static_cast<int>(order2.size() / 4 + rng() % (order2.size() / 4 + 1));
  std::vector<int> status2 = PushPhase(*store, corpus, order2, kill2);
  int acks2 = 0;
  record(order2, status2, &acks2);
  lap("phase2_push");
  ASSERT_TRUE(restart()) << store->LogTail();
  lap("restart2");
  client.set_base_url(store->base_url());
  CheckResult c2 = Check(client, corpus, acked);
  lap("check2");
  EXPECT_EQ(c2.lost_acked, 0u) << c2.Summary();
  EXPECT_EQ(c2.dup, 0u) << c2.Summary();
  EXPECT_EQ(c2.corrupt, 0u) << c2.Summary();
  EXPECT_EQ(c2.ooo, 0u) << c2.Summary();
  EXPECT_EQ(c2.torn, 0u) << c2.Summary();

  // Phase 3: the batches phase 2 did not get acked, no kill: all must be acked now.
  std::vector<int> order3;
  for (size_t i = 0; i < order2.size(); ++i) {
    if (status2[i] != 204) order3.push_back(order2[i]);
  }
  std::vector<int> status3 = PushPhase(*store, corpus, order3, -1);
  int acks3 = 0;
  record(order3, status3, &acks3);
  lap("phase3_push");
  EXPECT_EQ(acks3, static_cast<int>(order3.size()));
  for (int b = 0; b < kBatches; ++b) EXPECT_TRUE(acked[b]) << "batch " << b << " never acked";

  // The final check reads chunks as well as heads: wait (bounded) until the cutter has cut
  // some (heads over 64 KB are cut every 200 ms).
  EXPECT_TRUE(PollUntil(
      [&] { return MetricValue(client.Get("/metrics").body, "logq_chunks_cut_total") > 0; },
      std::chrono::seconds(20)));
  CheckResult c3 = Check(client, corpus, acked);
  lap("check3");
  EXPECT_EQ(c3.present, static_cast<size_t>(kStreams * kLinesPerStream)) << c3.Summary();
  EXPECT_EQ(c3.lost_acked, 0u) << c3.Summary();
  EXPECT_EQ(c3.dup, 0u) << c3.Summary();
  EXPECT_EQ(c3.corrupt, 0u) << c3.Summary();
  EXPECT_EQ(c3.ooo, 0u) << c3.Summary();
  EXPECT_EQ(c3.torn, 0u) << c3.Summary();

  // The index agrees: 10 streams, and the whole selector returns 200k lines in one query.
  QueryResult all =
      QueryRange(client, R"({job="crash"})", corpus.min_ts, corpus.max_ts + 1, 1000000, "forward");
  ASSERT_TRUE(all.ok()) << all.Describe();
  EXPECT_EQ(all.streams.size(), static_cast<size_t>(kStreams));
  EXPECT_EQ(all.total, static_cast<size_t>(kStreams * kLinesPerStream));
  lap("final_query");

  std::string t;
  for (const auto& x : timings) t += x + " ";
  std::fprintf(stderr,
               "crash test: kill 1 after %d acks (acked %d), phase 2 %zu batches, kill 2 after %d "
               "acks (acked %d), "
               "phase 3 %zu batches, %d requests interrupted by the kills; total %.1fs: %s\n",
               kill1, acks1, order2.size(), kill2, acks2, order3.size(), interrupted,
               Seconds(t_begin), t.c_str());
  RecordProperty("timings", t);
}

}  // namespace
}  // namespace logq::e2e
