#include "store/wal/wal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "query/base/metrics.h"
#include "tests/store/wal/fault_file_system.h"
#include "tests/testing/temp_dir.h"

namespace logq::wal {
namespace {

namespace fs = std::filesystem;
using testing::FaultFileSystem;

struct Rec {
  uint8_t type;
  std::string payload;
  Position pos;
  bool operator==(const Rec& o) const {
    return type == o.type && payload == o.payload && pos == o.pos;
  }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::unique_ptr<Wal> OpenWal(const std::string& dir, WalOptions o = {}) {
  o.dir = dir;
  auto wal = Wal::Open(o);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  return wal.ok() ? std::move(wal).value() : nullptr;
}

std::vector<Rec> ReplayAll(Wal* wal, uint64_t from = 0, ReplayStats* stats = nullptr) {
  std::vector<Rec> out;
  auto st = wal->Replay(from, [&](const RecordView& r) {
    out.push_back(Rec{r.type, std::string(r.payload), r.position});
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  if (st.ok() && stats != nullptr) *stats = *st;
  return out;
}

std::string Payload(int i, size_t size) {
  std::string s = "record-" + std::to_string(i) + ":";
  while (s.size() < size) s += static_cast<char>('a' + (s.size() * 7 + i) % 26);
  s.resize(size);
  return s;
}

double CounterValue(MetricsRegistry* m, const std::string& name, const std::string& kind) {
  return m->GetCounter(name, "", {{"kind", kind}})->Value();
}

TEST(WalTest, RoundTripAcrossReopen) {
  logq::testing::TempDir tmp;
  std::vector<Rec> want;
  {
    auto wal = OpenWal(tmp.path());
    ASSERT_NE(wal, nullptr);
    const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 100000, 3 << 20};
    int i = 0;
    for (size_t size : sizes) {
      std::string p = Payload(i, size);
      uint8_t type = static_cast<uint8_t>(1 + i % kMaxUserRecordType);
      auto pos = wal->Append(type, p);
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      want.push_back(Rec{type, p, *pos});
      ++i;
    }
    EXPECT_EQ(ReplayAll(wal.get()), want);  // replay of a live log sees what was appended
  }
  auto wal = OpenWal(tmp.path());
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->recovery().torn_tails, 0u);
  EXPECT_EQ(ReplayAll(wal.get()), want);
  // Appends after reopening go to a new segment after the old records.
  auto pos = wal->Append(7, "after");
  ASSERT_TRUE(pos.ok());
  EXPECT_GT(*pos, want.back().pos);
  EXPECT_EQ(ReplayAll(wal.get()).back().payload, "after");
}

TEST(WalTest, RejectsBadTypeAndOversizedRecord) {
  logq::testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  EXPECT_EQ(wal->Append(0, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wal->Append(128, "x").status().code(), StatusCode::kInvalidArgument);
  std::string big(kMaxRecordBytes + 1, 'x');
  EXPECT_EQ(wal->Append(1, big).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ReplayAll(wal.get()).empty());
}

TEST(WalTest, RollsSegmentsAtTheSizeLimit) {
  logq::testing::TempDir tmp;
  WalOptions o;
  o.segment_bytes = 4096;
  auto wal = OpenWal(tmp.path(), o);
  std::vector<Rec> want;
  for (int i = 0; i < 100; ++i) {
    std::string p = Payload(i, i == 50 ? 10000 : 300);  // one record larger than a segment
    auto pos = wal->Append(1, p);
    ASSERT_TRUE(pos.ok());
    want.push_back(Rec{1, p, *pos});
  }
  std::vector<uint64_t> segs = wal->Segments();
  ASSERT_GT(segs.size(), 8u);
  for (size_t i = 0; i < segs.size(); ++i) EXPECT_EQ(segs[i], i + 1);
  for (uint64_t id : segs) {
    uint64_t size = fs::file_size(tmp.path() + "/" + Wal::SegmentName(id));
    if (size > 4096) {  // only the big record's own segment
      EXPECT_EQ(size, kSegmentHeaderBytes + kRecordHeaderBytes + 10000);
    }
  }
  EXPECT_EQ(want[50].pos.offset, kSegmentHeaderBytes);
  EXPECT_EQ(ReplayAll(wal.get()), want);
  // Replay from a later segment skips the earlier ones.
  auto from3 = ReplayAll(wal.get(), 3);
  ASSERT_FALSE(from3.empty());
  EXPECT_EQ(from3.front().pos, (Position{3, kSegmentHeaderBytes}));
  wal.reset();
  wal = OpenWal(tmp.path(), o);
  EXPECT_EQ(ReplayAll(wal.get()), want);
}

TEST(WalTest, RollStartsANewSegmentOnlyWhenTheCurrentHoldsRecords) {
  logq::testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  EXPECT_EQ(*wal->Roll(), 1u);
  ASSERT_TRUE(wal->Append(1, "a").ok());
  EXPECT_EQ(*wal->Roll(), 2u);
  EXPECT_EQ(*wal->Roll(), 2u);
  auto pos = wal->Append(1, "b");
  EXPECT_EQ(pos->segment, 2u);
}

// Many appenders: every acknowledged record is replayed exactly once, each thread's records
// in its order, and a record acknowledged before another was appended comes first.
void ConcurrentAppenders(bool sync, int threads, int per_thread) {
  logq::testing::TempDir tmp;
  MetricsRegistry metrics;
  WalOptions o;
  o.sync = sync;
  o.segment_bytes = 64 << 10;  // rolls while appending
  o.metrics = &metrics;
  auto wal = OpenWal(tmp.path(), o);
  struct Ack {
    Position pos;
    uint64_t started;
    uint64_t acked;
  };
  std::atomic<uint64_t> clock{0};
  std::vector<std::vector<Ack>> acks(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::string p = "t" + std::to_string(t) + "-" + std::to_string(i) + "-" +
                        std::string(static_cast<size_t>((i * 37 + t) % 700), 'x');
        uint64_t started = clock.fetch_add(1);
        auto pos = wal->Append(static_cast<uint8_t>(t + 1), p);
        ASSERT_TRUE(pos.ok()) << pos.status().ToString();
        acks[t].push_back(Ack{*pos, started, clock.fetch_add(1)});
      }
    });
  }
  for (auto& th : ts) th.join();
  wal.reset();
  wal = OpenWal(tmp.path(), o);
  auto got = ReplayAll(wal.get());
  ASSERT_EQ(got.size(), static_cast<size_t>(threads * per_thread));
  std::map<Position, size_t> index;
  std::set<std::string> seen;
  for (size_t k = 0; k < got.size(); ++k) {
    index[got[k].pos] = k;
    EXPECT_TRUE(seen.insert(got[k].payload).second) << "duplicate " << got[k].payload;
  }
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < per_thread; ++i) {
      auto it = index.find(acks[t][i].pos);
      ASSERT_NE(it, index.end());
      const Rec& r = got[it->second];
      EXPECT_EQ(r.type, t + 1);
      EXPECT_EQ(r.payload.substr(0, r.payload.find('-', r.payload.find('-') + 1)),
                "t" + std::to_string(t) + "-" + std::to_string(i));
      if (i > 0) {
        EXPECT_LT(acks[t][i - 1].pos, acks[t][i].pos);
      }
    }
  }
  // Acknowledged before started → earlier in the log (across threads).
  std::vector<Ack> all;
  for (auto& v : acks) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(),
            [](const Ack& a, const Ack& b) { return a.started < b.started; });
  Position max_acked_before{0, 0};
  std::vector<Ack> by_ack = all;
  std::sort(by_ack.begin(), by_ack.end(),
            [](const Ack& a, const Ack& b) { return a.acked < b.acked; });
  size_t k = 0;
  for (const Ack& b : all) {  // in start order
    while (k < by_ack.size() && by_ack[k].acked < b.started) {
      max_acked_before = std::max(max_acked_before, by_ack[k].pos);
      ++k;
    }
    EXPECT_LT(max_acked_before, b.pos);
  }
  EXPECT_GT(wal->Segments().size(), 2u);
  if (sync) {
    double fsyncs = metrics.GetCounter("logq_wal_fsyncs_total", "")->Value();
    EXPECT_GT(fsyncs, 0);
    EXPECT_LE(fsyncs, threads * per_thread + 0.0);
  }
}

TEST(WalTest, ConcurrentAppendersNoSync) { ConcurrentAppenders(false, 16, 400); }
TEST(WalTest, ConcurrentAppendersSync) { ConcurrentAppenders(true, 8, 60); }

// Builds a one-segment log of `n` records; returns their end offsets.
std::vector<uint64_t> BuildLog(const std::string& dir, int n, size_t size,
                               std::vector<Rec>* recs = nullptr) {
  auto wal = OpenWal(dir);
  std::vector<uint64_t> ends;
  for (int i = 0; i < n; ++i) {
    std::string p = Payload(i, size + static_cast<size_t>(i));
    auto pos = wal->Append(static_cast<uint8_t>(1 + i % 3), p);
    EXPECT_TRUE(pos.ok());
    ends.push_back(pos->offset + kRecordHeaderBytes + p.size());
    if (recs != nullptr) recs->push_back(Rec{static_cast<uint8_t>(1 + i % 3), p, *pos});
  }
  return ends;
}

TEST(WalTest, TornTailAtEveryByteOfTheLastRecordIsCutAtTheLastGoodRecord) {
  logq::testing::TempDir src;
  std::vector<Rec> recs;
  std::vector<uint64_t> ends = BuildLog(src.path(), 3, 120, &recs);
  const std::string seg = ReadFile(src.path() + "/" + Wal::SegmentName(1));
  ASSERT_EQ(seg.size(), ends.back());
  for (uint64_t cut = ends[1]; cut <= ends[2]; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    logq::testing::TempDir tmp;
    WriteFile(tmp.path() + "/" + Wal::SegmentName(1), std::string_view(seg).substr(0, cut));
    MetricsRegistry metrics;
    WalOptions o;
    o.metrics = &metrics;
    auto wal = OpenWal(tmp.path(), o);
    ASSERT_NE(wal, nullptr);
    const bool whole = cut == ends[2];
    const bool torn = cut != ends[1] && !whole;
    EXPECT_EQ(wal->recovery().torn_tails, torn ? 1u : 0u);
    EXPECT_EQ(wal->recovery().dropped_bytes, torn ? cut - ends[1] : 0u);
    EXPECT_EQ(CounterValue(&metrics, "logq_wal_corruptions_total", "torn_tail"), torn ? 1 : 0);
    EXPECT_EQ(fs::file_size(tmp.path() + "/" + Wal::SegmentName(1)), whole ? ends[2] : ends[1]);
    ASSERT_TRUE(wal->Append(9, "new").ok());
    auto got = ReplayAll(wal.get());
    std::vector<Rec> want(recs.begin(), recs.begin() + (whole ? 3 : 2));
    ASSERT_EQ(got.size(), want.size() + 1);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin()));
    EXPECT_EQ(got.back().payload, "new");
    // A second open finds nothing more to repair.
    wal.reset();
    wal = OpenWal(tmp.path());
    EXPECT_EQ(wal->recovery().torn_tails, 0u);
    EXPECT_EQ(ReplayAll(wal.get()).size(), want.size() + 1);
  }
}

TEST(WalTest, TornSegmentHeaderRemovesTheSegment) {
  logq::testing::TempDir src;
  std::vector<Rec> recs;
  BuildLog(src.path(), 2, 50, &recs);
  const std::string seg1 = ReadFile(src.path() + "/" + Wal::SegmentName(1));
  for (size_t cut = 0; cut < kSegmentHeaderBytes; ++cut) {
    logq::testing::TempDir tmp;
    WriteFile(tmp.path() + "/" + Wal::SegmentName(1), seg1);
    // Segment 2 was being created when the process died.
    WriteFile(tmp.path() + "/" + Wal::SegmentName(2), seg1.substr(0, cut));
    auto wal = OpenWal(tmp.path());
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(wal->recovery().torn_tails, 1u);
    EXPECT_EQ(ReplayAll(wal.get()), recs);
    ASSERT_TRUE(wal->Append(1, "x").ok());
    EXPECT_EQ(ReplayAll(wal.get()).size(), 3u);
  }
}

TEST(WalTest, RandomByteFlipsInTheLastSegmentKeepExactlyTheRecordsBeforeTheFlip) {
  logq::testing::TempDir src;
  std::vector<Rec> recs;
  std::vector<uint64_t> ends = BuildLog(src.path(), 20, 40, &recs);
  const std::string seg = ReadFile(src.path() + "/" + Wal::SegmentName(1));
  std::mt19937_64 rng(20261207);
  for (int iter = 0; iter < 300; ++iter) {
    std::string bad = seg;
    size_t at = kSegmentHeaderBytes + rng() % (seg.size() - kSegmentHeaderBytes);
    bad[at] = static_cast<char>(bad[at] ^ static_cast<char>(1 + rng() % 255));
    SCOPED_TRACE("flip at " + std::to_string(at));
    logq::testing::TempDir tmp;
    WriteFile(tmp.path() + "/" + Wal::SegmentName(1), bad);
    auto wal = OpenWal(tmp.path());
    ASSERT_NE(wal, nullptr);
    size_t keep = 0;
    while (keep < ends.size() && ends[keep] <= at) ++keep;
    EXPECT_EQ(wal->recovery().torn_tails, 1u);
    EXPECT_EQ(wal->recovery().dropped_bytes, seg.size() - (keep ? ends[keep - 1] : 16));
    auto got = ReplayAll(wal.get());
    EXPECT_EQ(got, std::vector<Rec>(recs.begin(), recs.begin() + keep));
  }
}

TEST(WalTest, UnknownSegmentVersionRefusesToOpen) {
  logq::testing::TempDir tmp;
  BuildLog(tmp.path(), 1, 10);
  std::string seg = ReadFile(tmp.path() + "/" + Wal::SegmentName(1));
  seg[4] = 2;
  WriteFile(tmp.path() + "/" + Wal::SegmentName(1), seg);
  WalOptions o;
  o.dir = tmp.path();
  auto wal = Wal::Open(o);
  EXPECT_EQ(wal.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(tmp.path() + "/" + Wal::SegmentName(1)), seg);  // left alone
}

// A corrupt record in an older segment: the rest of that segment is skipped and counted,
// replay goes on with the next segment, and the file is not modified.
TEST(WalTest, CorruptRecordInAMiddleSegmentSkipsTheRestOfThatSegment) {
  logq::testing::TempDir tmp;
  WalOptions o;
  o.segment_bytes = 1024;
  std::vector<Rec> recs;
  {
    auto wal = OpenWal(tmp.path(), o);
    for (int i = 0; i < 30; ++i) {
      std::string p = Payload(i, 100);
      auto pos = wal->Append(1, p);
      ASSERT_TRUE(pos.ok());
      recs.push_back(Rec{1, p, *pos});
    }
  }
  // Segment 2's fourth record gets a flipped payload byte.
  auto victim = std::find_if(recs.begin(), recs.end(), [](const Rec& r) {
    return r.pos.segment == 2 && r.pos.offset > kSegmentHeaderBytes + 3 * 100;
  });
  ASSERT_NE(victim, recs.end());
  const std::string path2 = tmp.path() + "/" + Wal::SegmentName(2);
  std::string seg2 = ReadFile(path2);
  seg2[victim->pos.offset + kRecordHeaderBytes + 5] ^= 0x40;
  WriteFile(path2, seg2);

  MetricsRegistry metrics;
  o.metrics = &metrics;
  auto wal = OpenWal(tmp.path(), o);
  EXPECT_EQ(wal->recovery().torn_tails, 0u);
  ReplayStats stats;
  auto got = ReplayAll(wal.get(), 0, &stats);
  std::vector<Rec> want;
  for (const Rec& r : recs) {
    if (r.pos.segment != 2 || r.pos < victim->pos) want.push_back(r);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(stats.corrupt_segments, 1u);
  EXPECT_EQ(stats.dropped_bytes, seg2.size() - victim->pos.offset);
  EXPECT_EQ(CounterValue(&metrics, "logq_wal_corruptions_total", "corrupt_segment"), 1);
  EXPECT_EQ(CounterValue(&metrics, "logq_wal_dropped_bytes_total", "corrupt_segment"),
            static_cast<double>(seg2.size() - victim->pos.offset));
  EXPECT_EQ(ReadFile(path2), seg2);

  // A missing middle segment is reported and the rest is replayed.
  fs::remove(path2);
  wal.reset();
  wal = OpenWal(tmp.path(), o);
  got = ReplayAll(wal.get(), 0, &stats);
  EXPECT_EQ(stats.missing_segments, 1u);
  want.clear();
  for (const Rec& r : recs) {
    if (r.pos.segment != 2) want.push_back(r);
  }
  EXPECT_EQ(got, want);
}

TEST(WalTest, ReplayReportsProgress) {
  logq::testing::TempDir tmp;
  WalOptions o;
  o.segment_bytes = 1 << 20;
  auto wal = OpenWal(tmp.path(), o);
  std::string p(100000, 'p');
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(wal->Append(1, p).ok());
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  auto st = wal->Replay(
      0, [](const RecordView&) { return Status::OK(); },
      [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });
  ASSERT_TRUE(st.ok());
  ASSERT_FALSE(calls.empty());
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i - 1].first, calls[i].first);
  EXPECT_EQ(calls.back().first, calls.back().second);
  EXPECT_EQ(calls.back().second, st->bytes);
}

TEST(WalTest, ReplayStopsAtTheCallbacksError) {
  logq::testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wal->Append(1, "x").ok());
  int n = 0;
  auto st = wal->Replay(0, [&](const RecordView&) {
    return ++n == 3 ? Internal("stop") : Status::OK();
  });
  EXPECT_EQ(st.status().code(), StatusCode::kInternal);
  EXPECT_EQ(n, 3);
}

TEST(WalTest, DiskFullFailsTheAppendAndLeavesNoHalfRecord) {
  logq::testing::TempDir tmp;
  FaultFileSystem faults;
  MetricsRegistry metrics;
  WalOptions o;
  o.fs = &faults;
  o.metrics = &metrics;
  auto wal = OpenWal(tmp.path(), o);
  std::vector<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    acked.push_back(Payload(i, 200));
    ASSERT_TRUE(wal->Append(1, acked.back()).ok());
  }
  const uint64_t size = fs::file_size(tmp.path() + "/" + Wal::SegmentName(1));
  faults.write_budget = 100;  // the next record is written halfway, then ENOSPC
  auto failed = wal->Append(1, Payload(99, 200));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("no space left on device"), std::string::npos)
      << failed.status().message();
  EXPECT_EQ(fs::file_size(tmp.path() + "/" + Wal::SegmentName(1)), size);  // cut back
  EXPECT_EQ(metrics.GetCounter("logq_wal_append_failures_total", "")->Value(), 1);
  // Still full: fails again, nothing written.
  faults.write_budget = 0;
  EXPECT_FALSE(wal->Append(1, "again").ok());
  // Space returns: appends continue right after the good records.
  faults.write_budget = -1;
  for (int i = 5; i < 8; ++i) {
    acked.push_back(Payload(i, 200));
    auto pos = wal->Append(1, acked.back());
    ASSERT_TRUE(pos.ok());
    EXPECT_EQ(pos->segment, 1u);
  }
  wal.reset();
  wal = OpenWal(tmp.path());
  ReplayStats stats;
  auto got = ReplayAll(wal.get(), 0, &stats);
  std::vector<std::string> payloads;
  for (auto& r : got) payloads.push_back(r.payload);
  EXPECT_EQ(payloads, acked);
  EXPECT_EQ(wal->recovery().torn_tails, 0u);
  EXPECT_EQ(stats.corrupt_segments, 0u);
}

TEST(WalTest, FailedCutBackAfterAFailedWriteRollsToANewSegment) {
  logq::testing::TempDir tmp;
  FaultFileSystem faults;
  WalOptions o;
  o.fs = &faults;
  auto wal = OpenWal(tmp.path(), o);
  ASSERT_TRUE(wal->Append(1, "first").ok());
  faults.write_budget = 10;
  faults.fail_truncate = true;
  EXPECT_FALSE(wal->Append(1, "half written").ok());
  faults.write_budget = -1;
  faults.fail_truncate = false;
  auto pos = wal->Append(1, "second");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->segment, 2u);  // not after the half record
  wal.reset();
  wal = OpenWal(tmp.path());
  ReplayStats stats;
  auto got = ReplayAll(wal.get(), 0, &stats);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "first");
  EXPECT_EQ(got[1].payload, "second");
  // The half record at the end of segment 1 is reported as a corrupt segment end.
  EXPECT_EQ(stats.corrupt_segments, 1u);
  EXPECT_EQ(stats.dropped_bytes, 10u);
}

TEST(WalTest, FailedSyncIsNotAcknowledgedAndTheNextRecordGoesToANewSegment) {
  logq::testing::TempDir tmp;
  FaultFileSystem faults;
  WalOptions o;
  o.fs = &faults;
  o.sync = true;
  auto wal = OpenWal(tmp.path(), o);
  ASSERT_TRUE(wal->Append(1, "first").ok());
  faults.fail_sync = true;
  auto failed = wal->Append(1, "unsynced");
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  faults.fail_sync = false;
  auto pos = wal->Append(1, "second");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->segment, 2u);
  auto got = ReplayAll(wal.get());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].payload, "second");
}

TEST(WalTest, SegmentCreationFailureFailsAppendsUntilSpaceReturns) {
  logq::testing::TempDir tmp;
  FaultFileSystem faults;
  WalOptions o;
  o.fs = &faults;
  o.segment_bytes = 256;
  auto wal = OpenWal(tmp.path(), o);
  ASSERT_TRUE(wal->Append(1, std::string(200, 'a')).ok());
  faults.fail_create = true;
  EXPECT_EQ(wal->Append(1, std::string(200, 'b')).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::SegmentName(2)));
  faults.fail_create = false;
  auto pos = wal->Append(1, std::string(200, 'c'));
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->segment, 2u);
  auto got = ReplayAll(wal.get());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].payload[0], 'c');
}

Status AddRecords(CheckpointWriter* w, int n, const std::string& tag) {
  for (int i = 0; i < n; ++i) RETURN_IF_ERROR(w->Add(2, tag + std::to_string(i)));
  return Status::OK();
}

std::vector<std::string> ReadCheckpointPayloads(Wal* wal, std::optional<uint64_t>* covered) {
  std::vector<std::string> out;
  auto r = wal->ReadCheckpoint([&](uint8_t type, std::string_view p) {
    EXPECT_EQ(type, 2);
    out.emplace_back(p);
    return Status::OK();
  });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (r.ok()) *covered = *r;
  return out;
}

TEST(WalTest, CheckpointWriteReadAndDeleteCoveredSegments) {
  logq::testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  std::optional<uint64_t> covered;
  EXPECT_TRUE(ReadCheckpointPayloads(wal.get(), &covered).empty());
  EXPECT_FALSE(covered.has_value());
  ASSERT_TRUE(wal->Append(1, "in segment 1").ok());
  uint64_t n = *wal->Roll();
  ASSERT_EQ(n, 2u);
  ASSERT_TRUE(wal->Append(1, "in segment 2").ok());
  EXPECT_EQ(wal->WriteCheckpoint(3, [](CheckpointWriter*) { return Status::OK(); }).code(),
            StatusCode::kInvalidArgument);  // would cover the current segment's future
  ASSERT_TRUE(wal->WriteCheckpoint(n, [](CheckpointWriter* w) {
    return AddRecords(w, 1000, "head-");
  }).ok());
  auto got = ReadCheckpointPayloads(wal.get(), &covered);
  EXPECT_EQ(covered, 2u);
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(got[999], "head-999");
  ASSERT_TRUE(wal->DeleteSegmentsBefore(n).ok());
  EXPECT_EQ(wal->Segments(), std::vector<uint64_t>{2});
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::SegmentName(1)));
  auto rest = ReplayAll(wal.get(), n);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].payload, "in segment 2");

  // A newer checkpoint replaces the older one.
  ASSERT_EQ(*wal->Roll(), 3u);
  ASSERT_TRUE(wal->WriteCheckpoint(3, [](CheckpointWriter* w) { return AddRecords(w, 2, "b"); })
                  .ok());
  ASSERT_TRUE(wal->DeleteCheckpointsBefore(3).ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::CheckpointName(2)));
  got = ReadCheckpointPayloads(wal.get(), &covered);
  EXPECT_EQ(covered, 3u);
  EXPECT_EQ(got, (std::vector<std::string>{"b0", "b1"}));
  // DeleteSegmentsBefore never removes the current segment.
  ASSERT_TRUE(wal->DeleteSegmentsBefore(100).ok());
  EXPECT_EQ(wal->Segments(), std::vector<uint64_t>{3});
  ASSERT_TRUE(wal->Append(1, "still works").ok());
}

TEST(WalTest, OpenAfterEverySegmentWasDeletedAppendsAfterTheCheckpoint) {
  logq::testing::TempDir tmp;
  {
    auto wal = OpenWal(tmp.path());
    ASSERT_TRUE(wal->Append(1, "x").ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(wal->Append(1, "x").ok() && wal->Roll().ok());
    ASSERT_TRUE(wal->WriteCheckpoint(5, [](CheckpointWriter*) { return Status::OK(); }).ok());
  }
  for (int id = 1; id <= 5; ++id) fs::remove(tmp.path() + "/" + Wal::SegmentName(id));
  auto wal = OpenWal(tmp.path());
  EXPECT_GE(wal->CurrentSegment(), 5u);
  auto pos = wal->Append(1, "new");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(ReplayAll(wal.get(), 5).size(), 1u);
}

TEST(WalTest, CheckpointCrashPointsLeaveThePreviousCheckpoint) {
  logq::testing::TempDir tmp;
  FaultFileSystem faults;
  WalOptions o;
  o.fs = &faults;
  auto wal = OpenWal(tmp.path(), o);
  ASSERT_TRUE(wal->Append(1, "a").ok());
  ASSERT_EQ(*wal->Roll(), 2u);
  ASSERT_TRUE(wal->WriteCheckpoint(2, [](CheckpointWriter* w) { return AddRecords(w, 3, "old"); })
                  .ok());
  ASSERT_TRUE(wal->Append(1, "b").ok());
  ASSERT_EQ(*wal->Roll(), 3u);
  auto expect_old = [&] {
    std::optional<uint64_t> covered;
    EXPECT_EQ(ReadCheckpointPayloads(wal.get(), &covered),
              (std::vector<std::string>{"old0", "old1", "old2"}));
    EXPECT_EQ(covered, 2u);
    EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::CheckpointName(3) + ".tmp"));
  };
  // The filler fails.
  EXPECT_EQ(wal->WriteCheckpoint(3, [](CheckpointWriter*) { return Internal("boom"); }).code(),
            StatusCode::kInternal);
  expect_old();
  // Disk full while writing it.
  faults.write_budget = 30;
  EXPECT_FALSE(wal->WriteCheckpoint(3, [](CheckpointWriter* w) {
    return AddRecords(w, 100, "new");
  }).ok());
  faults.write_budget = -1;
  expect_old();
  // fsync fails.
  faults.fail_sync = true;
  EXPECT_FALSE(wal->WriteCheckpoint(3, [](CheckpointWriter* w) { return AddRecords(w, 1, "n"); })
                   .ok());
  faults.fail_sync = false;
  expect_old();
  // rename fails.
  faults.fail_rename = true;
  EXPECT_FALSE(wal->WriteCheckpoint(3, [](CheckpointWriter* w) { return AddRecords(w, 1, "n"); })
                   .ok());
  faults.fail_rename = false;
  expect_old();
  // The process died after writing the temp file: Open removes it, the old checkpoint stands.
  WriteFile(tmp.path() + "/" + Wal::CheckpointName(3) + ".tmp", "partial garbage");
  {
    std::optional<uint64_t> covered;
    EXPECT_EQ(ReadCheckpointPayloads(wal.get(), &covered).size(), 3u);  // temp file ignored
    EXPECT_EQ(covered, 2u);
  }
  wal.reset();
  wal = OpenWal(tmp.path(), o);
  EXPECT_EQ(wal->recovery().temp_files_removed, 1u);
  expect_old();
}

// The process died while deleting covered segments: the ones left are ignored by a replay
// from the checkpoint and removed by the next round.
TEST(WalTest, SegmentsLeftByAnInterruptedDeletionAreIgnoredAndRemovedLater) {
  logq::testing::TempDir tmp;
  {
    auto wal = OpenWal(tmp.path());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(wal->Append(1, "old" + std::to_string(i)).ok());
      ASSERT_TRUE(wal->Roll().ok());
    }
    ASSERT_EQ(wal->CurrentSegment(), 4u);
    ASSERT_TRUE(wal->Append(1, "new").ok());
    ASSERT_TRUE(wal->WriteCheckpoint(4, [](CheckpointWriter*) { return Status::OK(); }).ok());
  }
  fs::remove(tmp.path() + "/" + Wal::SegmentName(1));  // only the first removal happened
  auto wal = OpenWal(tmp.path());
  std::optional<uint64_t> covered;
  ReadCheckpointPayloads(wal.get(), &covered);
  ASSERT_EQ(covered, 4u);
  ReplayStats stats;
  auto got = ReplayAll(wal.get(), *covered, &stats);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "new");
  EXPECT_EQ(stats.missing_segments, 0u);
  ASSERT_TRUE(wal->DeleteSegmentsBefore(*covered).ok());
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::SegmentName(2)));
  EXPECT_FALSE(fs::exists(tmp.path() + "/" + Wal::SegmentName(3)));
  EXPECT_EQ(wal->Segments().front(), 4u);
}

TEST(WalTest, CorruptCheckpointIsDataLoss) {
  logq::testing::TempDir tmp;
  auto wal = OpenWal(tmp.path());
  ASSERT_TRUE(wal->Append(1, "a").ok());
  ASSERT_EQ(*wal->Roll(), 2u);
  ASSERT_TRUE(wal->WriteCheckpoint(2, [](CheckpointWriter* w) { return AddRecords(w, 5, "r"); })
                  .ok());
  const std::string path = tmp.path() + "/" + Wal::CheckpointName(2);
  const std::string good = ReadFile(path);
  for (size_t cut : {size_t{0}, size_t{10}, size_t{16}, good.size() - 30, good.size() - 1}) {
    WriteFile(path, std::string_view(good).substr(0, cut));
    auto r = wal->ReadCheckpoint([](uint8_t, std::string_view) { return Status::OK(); });
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << cut;
  }
  std::string flipped = good;
  flipped[good.size() / 2] ^= 1;
  WriteFile(path, flipped);
  EXPECT_EQ(wal->ReadCheckpoint([](uint8_t, std::string_view) { return Status::OK(); })
                .status()
                .code(),
            StatusCode::kDataLoss);
  WriteFile(path, good + "x");
  EXPECT_EQ(wal->ReadCheckpoint([](uint8_t, std::string_view) { return Status::OK(); })
                .status()
                .code(),
            StatusCode::kDataLoss);
}

// The format is pinned: these records, appended to a new log, must give exactly the bytes of
// testdata/wal/golden_v1.seg, and that file must replay to these records. Regenerate (only for
// a deliberate, documented format change) with LOGQ_WAL_WRITE_GOLDEN=1.
std::vector<std::pair<uint8_t, std::string>> GoldenRecords() {
  return {{1, ""},
          {1, "hello, wal"},
          {2, std::string("\x00\x01\x02\xff", 4)},
          {127, std::string(40, 'z')},
          {3, "{\"stream\":{\"app\":\"api\"},\"values\":[[\"1700000000000000000\",\"GET /\"]]}"}};
}

TEST(WalTest, GoldenSegmentV1) {
  logq::testing::TempDir tmp;
  {
    auto wal = OpenWal(tmp.path());
    for (auto& [type, payload] : GoldenRecords()) ASSERT_TRUE(wal->Append(type, payload).ok());
  }
  const std::string written = ReadFile(tmp.path() + "/" + Wal::SegmentName(1));
  const std::string golden_path = logq::testing::TestDataPath("wal/golden_v1.seg");
  if (std::getenv("LOGQ_WAL_WRITE_GOLDEN") != nullptr) WriteFile(golden_path, written);
  const std::string golden = ReadFile(golden_path);
  ASSERT_FALSE(golden.empty());
  EXPECT_EQ(written, golden) << "the WAL segment format changed; see docs/formats/wal.md";
  // Header bytes spelled out (docs/formats/wal.md).
  EXPECT_EQ(golden.substr(0, 8), std::string("LQWL\x01\x00\x00\x00", 8));
  EXPECT_EQ(golden.substr(8, 8), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(golden.substr(16, 8), std::string("\x00\x00\x00\x00\x01\x00\x00\x00", 8));

  logq::testing::TempDir copy;
  WriteFile(copy.path() + "/" + Wal::SegmentName(1), golden);
  auto wal = OpenWal(copy.path());
  EXPECT_EQ(wal->recovery().torn_tails, 0u);
  auto got = ReplayAll(wal.get());
  auto want = GoldenRecords();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].first);
    EXPECT_EQ(got[i].payload, want[i].second);
  }
}

}  // namespace
}  // namespace logq::wal
