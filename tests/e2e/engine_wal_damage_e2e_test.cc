// Damaged write-ahead log, end to end (issue 11, "Tests"): the real logq-store is killed
// (kill -9, no flush, no checkpoint: the config keeps every push in the log) and its WAL files
// are damaged on disk before the restart. The store must start, report what it dropped
// (metric and log line) and serve exactly what was before the damage. Every push is one
// log record (one client pushes one batch at a time), so the test knows, from the record
// frames (docs/formats/wal.md), which batches the damage costs.
//
// What is expected (docs/formats/wal.md, "Recovery rules"):
//  * Torn tail (the last segment truncated at a random offset inside a record): Open cuts the
//    segment at the start of that record. The records before it are served; that record and
//    the ones after it are gone (in a real crash they are records whose push was never
//    acknowledged). logq_wal_corruptions_total{kind="torn_tail"} = 1 and
//    logq_wal_dropped_bytes_total{kind="torn_tail"} = the bytes cut; a warning names the
//    offset.
//  * A corrupt record in the middle of the log (a byte flipped in a record of an older
//    segment): replay skips the rest of THAT segment, from the bad record to its end, and
//    goes on with the next segment. So the records before the bad one in that segment and
//    every record of the other segments are served; the bad record and the rest of its
//    segment are lost although they were acknowledged (disk damage: reported, not hidden).
//    logq_wal_corruptions_total{kind="corrupt_segment"} = 1, an error log line names the
//    segment and offset, and the segment file is left as it is (reported again on each
//    restart until a checkpoint covers it).
//  * A corrupt checkpoint (a byte flipped in its first record of one stream): the records
//    before the bad one are applied, the rest of the checkpoint is lost (the segments it
//    covered are already deleted), the remaining segments are replayed;
//    logq_wal_replay_bad_records_total >= 1 and an error log line. The checkpoint holds
//    each head's records together, so the streams whose records come before the bad one are
//    served whole and the others are empty. A later restart reads the same checkpoint and
//    serves the same.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "tests/e2e/engine_e2e_util.h"

namespace logq::e2e::engine {
namespace {

constexpr uint64_t kSeed = 0xDA3A6E;

// No cut (64 MB chunks, 2 h age) and no checkpoint (1 h, 1 GB) until the test asks for one:
// everything pushed stays in the log segments (1 MB each).
constexpr const char* kConfig = R"(ingester:
  chunk_target_size: 64MB
  flush_check_period: 1s
  wal:
    checkpoint_duration: 1h
    checkpoint_size: 1GB
    segment_size: 1MiB
limits_config:
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 1000
  max_entries_limit_per_query: 1000000
  reject_old_samples_max_age: 24h
)";

class EngineWalDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_.seed = kSeed;
    corpus_.t0 = NowNs() - 40 * kMinute;
    corpus_.job = "walengine";
    auto started = StoreProcess::Start(StoreOptions{.config_yaml = kConfig});
    ASSERT_TRUE(started.ok()) << started.status().message();
    store_ = std::move(started).value();
    client_ = std::make_unique<TestHttpClient>(store_->base_url(), std::chrono::seconds(60));
    wal_dir_ = store_->storage_dir() + "/wal";
  }

  // Pushes the next `n` batches one at a time; each must be acknowledged.
  void Push(int n) {
    for (int k = 0; k < n; ++k) {
      const int b = static_cast<int>(expect_.size());
      HttpReply r = client_->Post("/loki/api/v1/push", corpus_.Body(b), ProtoHeaders());
      ASSERT_EQ(r.status, 204) << "batch " << b << ": " << r.Describe();
      expect_.push_back(Expect::kPresent);
    }
  }

  void Restart() {
    Status st = store_->Restart();
    ASSERT_TRUE(st.ok()) << st.message();
    client_->set_base_url(store_->base_url());
  }

  double Metric(const std::string& series) {
    return MetricValue(client_->Get("/metrics").body, series);
  }

  // Marks the batches of frames [from, end) of a segment file's bytes as lost.
  void MarkLost(const std::string& bytes, const std::vector<Frame>& frames, size_t from) {
    for (size_t j = from; j < frames.size(); ++j) {
      const int b = BatchOf(std::string_view(bytes).substr(frames[j].offset + 16, frames[j].len));
      ASSERT_GE(b, 0) << "record without a batch marker at " << frames[j].offset;
      ASSERT_LT(b, static_cast<int>(expect_.size()));
      expect_[b] = Expect::kAbsent;
    }
  }

  void ExpectServed(const std::string& when, const std::vector<bool>& lost_streams = {}) {
    CheckResult c = Check(*client_, corpus_, expect_, lost_streams);
    EXPECT_TRUE(c.ok()) << when << ": " << c.Summary() << "\n" << store_->LogTail();
    size_t want = 0;
    int kept = 0;
    for (int s = 0; s < Corpus::kStreams; ++s) {
      kept += (s < static_cast<int>(lost_streams.size()) && lost_streams[s]) ? 0 : 1;
    }
    for (Expect e : expect_) want += e == Expect::kPresent ? kept * Corpus::kPerStream : 0;
    EXPECT_EQ(c.present_lines, want) << when;
  }

  std::mt19937_64 rng_{kSeed};
  Corpus corpus_;
  std::unique_ptr<StoreProcess> store_;
  std::unique_ptr<TestHttpClient> client_;
  std::string wal_dir_;
  std::vector<Expect> expect_;
};

TEST_F(EngineWalDamageTest, TornTailsCorruptMiddleRecordAndCorruptCheckpoint) {
  // ---- Torn tails: three rounds of push, kill -9, truncate the last segment. -------------
  ASSERT_NO_FATAL_FAILURE(Push(150));  // ~1.8 MB of log: two segments
  for (int round = 0; round < 3; ++round) {
    if (round > 0) {
      ASSERT_NO_FATAL_FAILURE(Push(40));
    }
    store_->Kill();
    const WalDir w = ListWal(wal_dir_);
    ASSERT_FALSE(w.segments.empty());
    const std::string path = SegmentPath(wal_dir_, w.segments.back());
    const std::string bytes = ReadFile(path);
    const std::vector<Frame> frames = Frames(bytes);
    ASSERT_FALSE(frames.empty()) << path;
    ASSERT_EQ(frames.back().end(), bytes.size()) << "the store left a partial record in " << path;
    // Strictly inside record k (header or payload), so the cut is a torn record.
    const size_t k = rng_() % frames.size();
    const uint64_t cut = frames[k].offset + 1 + rng_() % (frames[k].len + 15);
    std::filesystem::resize_file(path, cut);
    ASSERT_NO_FATAL_FAILURE(MarkLost(bytes, frames, k));

    ASSERT_NO_FATAL_FAILURE(Restart());
    const std::string when = "torn tail round " + std::to_string(round) + " (record " +
                             std::to_string(k) + " of " + std::to_string(frames.size()) +
                             ", cut at " + std::to_string(cut) + ")";
    EXPECT_EQ(Metric(R"(logq_wal_corruptions_total{kind="torn_tail"})"), 1) << when;
    EXPECT_EQ(Metric(R"(logq_wal_dropped_bytes_total{kind="torn_tail"})"),
              static_cast<double>(cut - frames[k].offset))
        << when;
    EXPECT_CONTAINS(store_->Log(), "torn or corrupt record at offset " +
                                       std::to_string(frames[k].offset));
    ExpectServed(when);
  }

  // ---- A corrupt record in the middle: flip a byte in a record of an older segment. --------
  ASSERT_NO_FATAL_FAILURE(Push(200));  // ~2.4 MB: at least two more segments
  store_->Kill();
  {
    const WalDir w = ListWal(wal_dir_);
    ASSERT_GE(w.segments.size(), 3u);
    const uint64_t id = w.segments[w.segments.size() - 2];  // full, not the last
    const std::string path = SegmentPath(wal_dir_, id);
    std::string bytes = ReadFile(path);
    const std::vector<Frame> frames = Frames(bytes);
    ASSERT_GE(frames.size(), 3u) << path;
    const size_t k = 1 + rng_() % (frames.size() - 1);  // record 0 survives
    const uint64_t pos = frames[k].offset + 16 + rng_() % frames[k].len;
    ASSERT_NO_FATAL_FAILURE(MarkLost(bytes, frames, k));
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x5A);
    WriteFileBytes(path, bytes);

    ASSERT_NO_FATAL_FAILURE(Restart());
    const std::string when = "corrupt record " + std::to_string(k) + " of " +
                             std::to_string(frames.size()) + " in segment " + std::to_string(id);
    EXPECT_EQ(Metric(R"(logq_wal_corruptions_total{kind="corrupt_segment"})"), 1) << when;
    EXPECT_EQ(Metric(R"(logq_wal_dropped_bytes_total{kind="corrupt_segment"})"),
              static_cast<double>(bytes.size() - frames[k].offset))
        << when;
    EXPECT_CONTAINS(store_->Log(), "is corrupt at offset " + std::to_string(frames[k].offset));
    ExpectServed(when);
    // The segment is not rewritten: the same loss is reported again on the next start.
    EXPECT_EQ(ReadFile(path), bytes);
  }

  // ---- A corrupt checkpoint. ----------------------------------------------------------------
  // SIGTERM: the shutdown checkpoint holds every head and the segments go.
  ASSERT_NO_FATAL_FAILURE(Push(20));
  auto term = store_->Terminate();
  ASSERT_TRUE(term.ok()) << term.status().message();
  const WalDir w = ListWal(wal_dir_);
  ASSERT_GT(w.checkpoint, 0u) << "no checkpoint after a graceful shutdown";
  const std::string cp_path = CheckpointPath(wal_dir_, w.checkpoint);
  std::string cp = ReadFile(cp_path);
  const std::vector<Frame> frames = Frames(cp);
  // The streams in the order the checkpoint holds them, and the first record of each.
  std::vector<int> order;
  std::vector<size_t> first_frame;
  for (size_t j = 0; j < frames.size(); ++j) {
    if (frames[j].type >= 128) continue;  // the end record
    const std::string_view payload = std::string_view(cp).substr(frames[j].offset + 16, frames[j].len);
    const size_t p = payload.find("stream=\"s");
    ASSERT_NE(p, std::string_view::npos) << "checkpoint record " << j << " names no stream";
    const int s = payload[p + 9] - '0';
    ASSERT_TRUE(s >= 0 && s < Corpus::kStreams);
    if (order.empty() || order.back() != s) {
      ASSERT_EQ(std::count(order.begin(), order.end(), s), 0)
          << "records of stream s" << s << " are not together in the checkpoint";
      order.push_back(s);
      first_frame.push_back(j);
    }
  }
  ASSERT_EQ(order.size(), static_cast<size_t>(Corpus::kStreams));
  const size_t t = 1 + rng_() % (order.size() - 1);  // the first stream survives
  const Frame& bad = frames[first_frame[t]];
  cp[bad.offset + 16 + rng_() % bad.len] ^= 0x21;
  WriteFileBytes(cp_path, cp);
  std::vector<bool> lost(Corpus::kStreams, false);
  for (size_t i = t; i < order.size(); ++i) lost[order[i]] = true;

  ASSERT_NO_FATAL_FAILURE(Restart());
  const std::string when = "corrupt checkpoint record " + std::to_string(first_frame[t]) +
                           " (stream s" + std::to_string(order[t]) + ")";
  EXPECT_GE(Metric("logq_wal_replay_bad_records_total"), 1) << when;
  EXPECT_CONTAINS(store_->Log(), "is corrupt: bad record at offset " + std::to_string(bad.offset));
  ExpectServed(when, lost);

  // Stable: a kill -9 and another start read the same checkpoint and serve the same.
  store_->Kill();
  ASSERT_NO_FATAL_FAILURE(Restart());
  ExpectServed(when + ", after another restart", lost);
}

}  // namespace
}  // namespace logq::e2e::engine
