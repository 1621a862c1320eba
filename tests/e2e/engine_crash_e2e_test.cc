// kill -9 end-to-end test of storage engine v2 (issue 11, "Tests"): the real logq-store is
// killed during ingest, during a chunk cut, during a checkpoint (while the temp file is
// written, or right after its rename) and during the deletion of the log segments a
// checkpoint covers, over ten kill/restart cycles; after each restart every acknowledged line
// must be served exactly once, byte-exact, and no push may be half there.
//
// The moments are found with inotify, so the kill lands right after the event that marks
// them, while the store is still inside that step:
//  * cut: logq_chunks_cut_total moved (cuts write to RocksDB memtables only, which a
//    checkpoint persists; polled, so the kill lands within a few ms of a cut);
//  * checkpoint: creation of / a write to wal/checkpoint.N.tmp, or the rename to
//    wal/checkpoint.N (before the covered segments are deleted);
//  * segment deletion: removal of a wal/NNNNNNNN.seg;
//  * ingest: right after a seeded number of acknowledgements, with pushes in flight.
// Cuts and checkpoints are made frequent by the config (100 ms cut checks, 32 KB chunks, 8 KB
// blocks, a checkpoint every 200 ms, 1 MiB segments). Which step a kill interrupted is
// checked afterwards from the files it left (leftover temp checkpoint, segments older than
// the newest checkpoint) and printed; the oracle holds whatever was interrupted.
//
// After the cycles every batch that was never acknowledged is pushed again, the heads are cut
// (POST /flush) and /loki/api/v1/index/stats must count every line once: a line replayed from
// the log after its chunk was cut must not be stored twice. A last kill -9 and restart must
// serve the same.
//
// Deterministic inputs: the data, the kill modes, the ack counts before arming a kill and
// the event counts come from one seeded RNG; waits are bounded polls or inotify waits with a
// deadline. Not deterministic: which requests a kill interrupts (the oracle allows either).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "tests/e2e/engine_e2e_util.h"

namespace logq::e2e::engine {
namespace {

constexpr uint64_t kSeed = 0xC0A5E11;
constexpr int kCycles = 10;
constexpr int kClientThreads = 2;
constexpr int kMaxBatches = 4000;  // bound on fresh batches over the whole test

constexpr const char* kConfig = R"(ingester:
  chunk_target_size: 32KB
  chunk_block_size: 8KB
  flush_check_period: 100ms
  wal:
    checkpoint_duration: 200ms
    segment_size: 1MiB
limits_config:
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 1000
  max_entries_limit_per_query: 1000000
  reject_old_samples_max_age: 24h
)";

enum class KillAt { kIngest, kCut, kCheckpointWrite, kCheckpointRenamed, kSegmentDelete };

const char* Name(KillAt k) {
  switch (k) {
    case KillAt::kIngest: return "ingest";
    case KillAt::kCut: return "cut";
    case KillAt::kCheckpointWrite: return "checkpoint-write";
    case KillAt::kCheckpointRenamed: return "checkpoint-renamed";
    case KillAt::kSegmentDelete: return "segment-delete";
  }
  return "?";
}

// Pushes batches from kClientThreads clients: first the queued ones, then (if allowed) fresh
// ones. Stops a client at the first reply that is not a 204 (the store was killed).
class Pushers {
 public:
  Pushers(const Corpus& corpus, std::vector<Expect>* expect) : corpus_(corpus), expect_(expect) {}

  void Start(const std::string& url, std::deque<int> queue, bool fresh, bool paced) {
    queue_ = std::move(queue);
    fresh_ = fresh;
    paced_ = paced;
    acks_ = 0;
    finished_ = 0;
    for (int t = 0; t < kClientThreads; ++t) threads_.emplace_back([this, url] { Run(url); });
  }
  // Waits until `n` pushes of this round were acknowledged or every client stopped.
  bool WaitAcks(int n, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, deadline, [&] { return acks_ >= n || finished_ == kClientThreads; });
  }
  void Join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  int acks() {
    std::lock_guard<std::mutex> l(mu_);
    return acks_;
  }
  int interrupted() const { return interrupted_; }
  int unexpected() const { return unexpected_; }
  int batches() {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(expect_->size());
  }

 private:
  void Run(const std::string& url) {
    TestHttpClient client(url, std::chrono::seconds(30));
    for (;;) {
      int b;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!queue_.empty()) {
          b = queue_.front();
          queue_.pop_front();
        } else if (fresh_ && static_cast<int>(expect_->size()) < kMaxBatches) {
          b = static_cast<int>(expect_->size());
          expect_->push_back(Expect::kMay);
        } else {
          break;
        }
      }
      HttpReply r = client.Post("/loki/api/v1/push", corpus_.Body(b), ProtoHeaders());
      {
        std::lock_guard<std::mutex> l(mu_);
        if (r.status != 204) {
          if (r.status == 0) {
            ++interrupted_;
          } else {
            ++unexpected_;
            std::fprintf(stderr, "unexpected push reply for batch %d: %s\n", b, r.Describe().c_str());
          }
          break;
        }
        (*expect_)[b] = Expect::kPresent;
        ++acks_;
        cv_.notify_all();
      }
      // Pacing (not a wait for an event): keeps the data per cycle small so that ten
      // cycles with a full check each stay within the time budget.
      if (paced_) std::this_thread::sleep_for(std::chrono::milliseconds(6));
    }
    std::lock_guard<std::mutex> l(mu_);
    ++finished_;
    cv_.notify_all();
  }

  const Corpus& corpus_;
  std::vector<Expect>* expect_;  // guarded by mu_ while clients run
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> queue_;
  bool fresh_ = false, paced_ = false;
  int acks_ = 0, finished_ = 0;
  std::atomic<int> interrupted_{0}, unexpected_{0};
  std::vector<std::thread> threads_;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

TEST(EngineCrashTest, KillDuringIngestCutCheckpointAndSegmentDeletionKeepsEveryAckedLineOnce) {
  const auto t_begin = std::chrono::steady_clock::now();
  std::mt19937_64 rng(kSeed);
  Corpus corpus;
  corpus.seed = kSeed;
  corpus.t0 = NowNs() - 30 * kMinute;
  corpus.job = "enginecrash";

  LOGQ_ASSERT_START(store, StoreOptions{.config_yaml = kConfig});
  const std::string data_dir = store->storage_dir();
  const std::string wal_dir = data_dir + "/wal";

  // Two cycles of each mode, in a seeded order.
  std::vector<KillAt> modes = {KillAt::kIngest,          KillAt::kCut,
                               KillAt::kCheckpointWrite, KillAt::kCheckpointRenamed,
                               KillAt::kSegmentDelete,   KillAt::kIngest,
                               KillAt::kCut,             KillAt::kCheckpointWrite,
                               KillAt::kCheckpointRenamed, KillAt::kSegmentDelete};
  static_assert(kCycles == 10);
  std::shuffle(modes.begin(), modes.end(), rng);

  std::vector<Expect> expect;
  Pushers pushers(corpus, &expect);
  TestHttpClient client(store->base_url(), std::chrono::seconds(60));
  std::string report;
  int left_temp = 0, left_covered = 0;

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const KillAt mode = modes[cycle];
    // Unacknowledged batches first (a client retrying), plus up to three acknowledged ones
    // again (a retry whose 204 was lost), then fresh batches until the kill.
    std::deque<int> queue;
    std::vector<int> acked;
    for (int b = 0; b < static_cast<int>(expect.size()); ++b) {
      if (expect[b] == Expect::kPresent) acked.push_back(b);
      else queue.push_back(b);
    }
    std::shuffle(acked.begin(), acked.end(), rng);
    for (size_t i = 0; i < 3 && i < acked.size(); ++i) {
      queue.insert(queue.begin() + static_cast<long>(rng() % (queue.size() + 1)), acked[i]);
    }
    const int min_acks = static_cast<int>(4 + rng() % 20);
    const int events = static_cast<int>(1 + rng() % 3);

    DirWatch watch;
    pushers.Start(store->base_url(), std::move(queue), /*fresh=*/true, /*paced=*/true);
    ASSERT_TRUE(pushers.WaitAcks(min_acks, std::chrono::seconds(60)))
        << "cycle " << cycle << ": no " << min_acks << " acks in 60 s";
    bool fired = true;
    switch (mode) {
      case KillAt::kIngest:
        break;
      case KillAt::kCut: {
        // Cuts write chunks to RocksDB memtables only (no file event): poll the cut counter and
        // kill as soon as it moved `events` times; with cuts every 100 ms the kill usually lands
        // inside a later cut or between a cut and the checkpoint that persists it.
        TestHttpClient metrics(store->base_url(), std::chrono::seconds(5));
        auto cuts = [&] { return MetricValue(metrics.Get("/metrics").body, "logq_chunks_cut_total"); };
        const double base = cuts();
        fired = PollUntil([&] { return cuts() >= base + events; }, std::chrono::seconds(15));
        break;
      }
      case KillAt::kCheckpointWrite:
        ASSERT_TRUE(watch.Add(wal_dir, IN_CREATE | IN_MODIFY));
        fired = watch.Wait([](const std::string&, std::string_view n, uint32_t) {
          return n.starts_with("checkpoint.") && EndsWith(n, ".tmp");
        }, events, std::chrono::seconds(15));
        break;
      case KillAt::kCheckpointRenamed:
        ASSERT_TRUE(watch.Add(wal_dir, IN_MOVED_TO));
        fired = watch.Wait([](const std::string&, std::string_view n, uint32_t) {
          return n.starts_with("checkpoint.") && !EndsWith(n, ".tmp");
        }, 1, std::chrono::seconds(15));
        break;
      case KillAt::kSegmentDelete:
        ASSERT_TRUE(watch.Add(wal_dir, IN_DELETE));
        fired = watch.Wait([](const std::string&, std::string_view n,
                              uint32_t) { return EndsWith(n, ".seg"); },
                           1, std::chrono::seconds(15));
        break;
    }
    store->Kill();
    pushers.Join();
    EXPECT_TRUE(fired) << "cycle " << cycle << ": no " << Name(mode) << " event within 15 s";

    const WalDir after = ListWal(wal_dir);
    int covered = 0;
    for (uint64_t s : after.segments) covered += s < after.checkpoint ? 1 : 0;
    left_temp += after.temp_files;
    left_covered += covered > 0 ? 1 : 0;
    report += std::string(" ") + Name(mode) + "(acks=" + std::to_string(pushers.acks()) +
              ",tmp=" + std::to_string(after.temp_files) + ",covered_segs=" +
              std::to_string(covered) + ")";

    Status st = store->Restart();
    ASSERT_TRUE(st.ok()) << "cycle " << cycle << ": " << st.message();
    client.set_base_url(store->base_url());
    CheckResult c = Check(client, corpus, expect);
    EXPECT_TRUE(c.ok()) << "cycle " << cycle << " (killed during " << Name(mode)
                        << "): " << c.Summary() << "\n" << store->LogTail();
    if (!c.ok()) break;
    // A batch that is there is there to stay: from now on it must be served exactly once.
    for (size_t b = 0; b < c.batch_present.size(); ++b) {
      if (c.batch_present[b]) expect[b] = Expect::kPresent;
    }
  }
  EXPECT_EQ(pushers.unexpected(), 0);

  // Every batch never acknowledged, without a kill: all must be acknowledged now.
  std::deque<int> rest;
  for (int b = 0; b < static_cast<int>(expect.size()); ++b) {
    if (expect[b] != Expect::kPresent) rest.push_back(b);
  }
  pushers.Start(store->base_url(), rest, /*fresh=*/false, /*paced=*/false);
  pushers.Join();
  for (int b = 0; b < static_cast<int>(expect.size()); ++b) {
    EXPECT_EQ(expect[b], Expect::kPresent) << "batch " << b << " never acknowledged";
  }
  const int batches = static_cast<int>(expect.size());
  const int64_t total = static_cast<int64_t>(batches) * Corpus::kLines;

  // Cut every head: afterwards everything is in chunks, and index/stats (which sums the
  // chunks' entry counts) must count each line once.
  HttpReply flush = client.Post("/flush", "");
  ASSERT_TRUE(flush.status == 204 || flush.status == 200) << flush.Describe();
  CheckResult c = Check(client, corpus, expect);
  EXPECT_TRUE(c.ok()) << "after /flush: " << c.Summary();
  EXPECT_EQ(static_cast<int64_t>(c.present_lines), total);
  EXPECT_EQ(IndexStatsEntries(client, corpus, batches), total)
      << "chunks hold a line more than once (or miss one)";

  // And once more after a kill -9: the chunks and the checkpoint written by /flush.
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  client.set_base_url(store->base_url());
  c = Check(client, corpus, expect);
  EXPECT_TRUE(c.ok()) << "after the last restart: " << c.Summary();
  EXPECT_EQ(static_cast<int64_t>(c.present_lines), total);
  EXPECT_EQ(IndexStatsEntries(client, corpus, batches), total);

  std::fprintf(stderr,
               "engine crash test: %d batches (%lld lines), %d requests interrupted; kills:%s; "
               "kills leaving a temp checkpoint: %d, leaving covered segments: %d; %.1fs\n",
               batches, static_cast<long long>(total), pushers.interrupted(), report.c_str(),
               left_temp, left_covered,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_begin).count());
}

}  // namespace
}  // namespace logq::e2e::engine
