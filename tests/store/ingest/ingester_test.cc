#include "store/ingest/ingester.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/logql/selector.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/querier/querier.h"
#include "tests/testing/temp_dir.h"

namespace logq::ingest {
namespace {

constexpr int64_t kNow = 1'800'000'000LL * kNanosPerSecond;

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    index::DbOptions o;
    o.path = dir_.path() + "/db";
    auto db = index::Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    registry_ = std::make_unique<index::Registry>();
    ASSERT_TRUE(registry_->Load(db_.get()).ok());
    IngesterOptions io;
    io.chunk_target_size = target_size_;
    io.chunk.target_block_raw = block_size_;
    io.head_memory_limit = head_memory_limit_;
    io.wal_dir = dir_.path() + "/wal";
    ingester_ = std::make_unique<Ingester>(db_.get(), registry_.get(), [this](std::string_view) { return limits_; },
                                           &clock_, &metrics_, io);
    Status st = ingester_->Open();
    ASSERT_TRUE(st.ok()) << st.ToString();
    // Reads skip empty heads through the ingester, as in the server.
    querier_ = std::make_unique<querier::StoreQuerier>(db_.get(), registry_.get(), ingester_.get());
  }

  void Reopen() {
    querier_.reset();
    ingester_.reset();
    registry_.reset();
    db_.reset();
    Open();
  }

  static api::PushRequest One(const std::string& labels, int64_t ts, std::string line) {
    api::PushRequest r;
    r.streams.push_back({labels, {{ts, std::move(line), {}}}});
    return r;
  }

  std::vector<querier::LogEntry> All(const std::string& selector) {
    querier::SelectParams p;
    p.matchers = *logql::ParseSelector(selector);
    p.start = 0;
    p.end = kNow + kNanosPerDay;
    p.forward = true;
    p.limit = 1'000'000;
    auto r = querier_->SelectLogs("fake", p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<querier::LogEntry> out;
    for (auto& s : *r) out.insert(out.end(), s.entries.begin(), s.entries.end());
    return out;
  }

  double Discarded(const std::string& reason) {
    return metrics_.GetCounter("logq_discarded_lines_total", "", {{"reason", reason}, {"tenant", "fake"}})->Value();
  }

  testing::TempDir dir_;
  FakeClock clock_{kNow};
  MetricsRegistry metrics_;
  Limits limits_;
  int64_t target_size_ = 1536 << 10;
  size_t block_size_ = 256 << 10;
  int64_t head_memory_limit_ = 512 << 20;
  std::unique_ptr<index::Db> db_;
  std::unique_ptr<index::Registry> registry_;
  std::unique_ptr<Ingester> ingester_;
  std::unique_ptr<querier::StoreQuerier> querier_;
};

TEST_F(IngesterTest, StoresAndIndexesValidEntries) {
  ASSERT_TRUE(ingester_->Push("fake", One(R"({job="a", app="x"})", kNow, "hello")).ok());
  EXPECT_EQ(registry_->NumStreams("fake"), 1u);
  auto names = querier_->LabelNames("fake", {}, kNow - kNanosPerHour, kNow + 1);
  EXPECT_EQ(names, (std::vector<std::string>{"app", "job"}));
  auto got = All(R"({job="a"})");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "hello");
  EXPECT_EQ(got[0].ts, kNow);
}

TEST_F(IngesterTest, LineSizeBoundary) {
  limits_.max_line_size = 100;
  EXPECT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow, std::string(100, 'x'))).ok());
  Status st = ingester_->Push("fake", One(R"({a="1"})", kNow + 1, std::string(101, 'x')));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("Max entry size '100' bytes exceeded for stream '{a=\"1\"}' while adding an entry "
                              "with length '101' bytes"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(Discarded("line_too_long"), 1);
}

TEST_F(IngesterTest, TruncatesLongLinesWhenConfigured) {
  limits_.max_line_size = 10;
  limits_.max_line_size_truncate = true;
  ASSERT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow, "0123456789abcdef")).ok());
  EXPECT_EQ(All(R"({a="1"})")[0].line, "0123456789");
}

TEST_F(IngesterTest, LabelBoundaries) {
  std::string name1024(1024, 'n'), name1025(1025, 'n');
  EXPECT_TRUE(ingester_->Push("fake", One("{" + name1024 + "=\"v\"}", kNow, "x")).ok());
  Status st = ingester_->Push("fake", One("{" + name1025 + "=\"v\"}", kNow, "x"));
  EXPECT_NE(st.message().find("has label name too long: '" + name1025.substr(0, 160) + "...(1025 bytes)'"),
            std::string::npos)
      << st.message();

  std::string v2048(2048, 'v'), v2049(2049, 'v');
  EXPECT_TRUE(ingester_->Push("fake", One("{a=\"" + v2048 + "\"}", kNow, "x")).ok());
  st = ingester_->Push("fake", One("{a=\"" + v2049 + "\"}", kNow, "x"));
  EXPECT_NE(st.message().find("has label value too long"), std::string::npos);

  auto labels = [](int n) {
    std::string s = "{";
    for (int i = 0; i < n; ++i) s += (i ? ", l" : "l") + std::to_string(i) + "=\"v\"";
    return s + "}";
  };
  EXPECT_TRUE(ingester_->Push("fake", One(labels(15), kNow, "x")).ok());
  st = ingester_->Push("fake", One(labels(16), kNow, "x"));
  EXPECT_NE(st.message().find("has 16 label names; limit 15"), std::string::npos) << st.message();
}

TEST_F(IngesterTest, RejectsBadLabelSets) {
  struct Case {
    const char* labels;
    const char* want;
  } cases[] = {
      {"{}", "error at least one label pair is required per stream"},
      {R"({a="1", a="2"})", "has duplicate label name: 'a'"},
      {R"({__x="y"})", "reserved"},
      {R"({a=})", "Error parsing labels '{a=}'"},
      {R"({1a="x"})", "Error parsing labels"},
  };
  for (const auto& c : cases) {
    Status st = ingester_->Push("fake", One(c.labels, kNow, "x"));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.labels;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << c.labels << ": " << st.message();
  }
  EXPECT_EQ(registry_->NumStreams("fake"), 0u);
}

TEST_F(IngesterTest, TimestampWindowBoundaries) {
  const int64_t oldest = kNow - limits_.reject_old_samples_max_age;
  const int64_t newest = kNow + limits_.creation_grace_period;
  EXPECT_TRUE(ingester_->Push("fake", One(R"({a="1"})", oldest, "oldest ok")).ok());
  Status st = ingester_->Push("fake", One(R"({a="1"})", oldest - 1, "too old"));
  EXPECT_NE(st.message().find("has timestamp too old"), std::string::npos);
  EXPECT_TRUE(ingester_->Push("fake", One(R"({a="1"})", newest, "newest ok")).ok());
  st = ingester_->Push("fake", One(R"({a="1"})", newest + 1, "too new"));
  EXPECT_NE(st.message().find("has timestamp too new"), std::string::npos);
  EXPECT_EQ(All(R"({a="1"})").size(), 2u);
  EXPECT_EQ(Discarded("greater_than_max_sample_age"), 1);
  EXPECT_EQ(Discarded("too_far_in_future"), 1);
}

TEST_F(IngesterTest, PartialAcceptanceStoresValidEntriesAndNamesTheRest) {
  api::PushRequest r;
  api::PushStream s{R"({app="a"})", {}};
  for (int i = 0; i < 9; ++i) s.entries.push_back({kNow + i, "ok " + std::to_string(i), {}});
  s.entries.push_back({kNow - 8 * kNanosPerDay, "too old", {}});
  r.streams.push_back(s);
  api::PushRequest retry = r;
  Status st = ingester_->Push("fake", std::move(r));
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("entry for stream '{app=\"a\"}' has timestamp too old"), std::string::npos);
  EXPECT_NE(st.message().find("total ignored: 1 out of 10 entries; the other 9 entries were stored"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(All(R"({app="a"})").size(), 9u);
  // A retry of the same request changes nothing.
  EXPECT_EQ(ingester_->Push("fake", std::move(retry)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(All(R"({app="a"})").size(), 9u);
}

TEST_F(IngesterTest, RateLimitRejectsWholeRequestAndRefills) {
  limits_.ingestion_rate_mb = 1.0 / 1024;  // 1 KiB/s
  limits_.ingestion_burst_size_mb = 2.0 / 1024;  // 2 KiB burst
  ASSERT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow, std::string(2048, 'x'))).ok());
  Status st = ingester_->Push("fake", One(R"({a="1"})", kNow + 1, std::string(1024, 'y')));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("Ingestion rate limit exceeded for user fake (limit: 1024 bytes/sec)"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(All(R"({a="1"})").size(), 1u);
  clock_.Advance(kNanosPerSecond);  // refills 1 KiB
  EXPECT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow + 1, std::string(1024, 'y'))).ok());
  EXPECT_EQ(Discarded("rate_limited"), 1);
}

TEST_F(IngesterTest, StreamLimitRejectsOnlyNewStreams) {
  limits_.max_global_streams_per_user = 2;
  ASSERT_TRUE(ingester_->Push("fake", One(R"({s="1"})", kNow, "a")).ok());
  ASSERT_TRUE(ingester_->Push("fake", One(R"({s="2"})", kNow, "b")).ok());
  api::PushRequest r;
  r.streams.push_back({R"({s="1"})", {{kNow + 1, "existing stream", {}}}});
  r.streams.push_back({R"({s="3"})", {{kNow + 1, "new stream", {}}}});
  Status st = ingester_->Push("fake", std::move(r));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("Maximum active stream limit exceeded"), std::string::npos);
  EXPECT_EQ(All(R"({s="1"})").size(), 2u);
  EXPECT_EQ(All(R"({s="3"})").size(), 0u);
  EXPECT_EQ(registry_->NumStreams("fake"), 2u);
}

TEST_F(IngesterTest, RetriedPushNeverDuplicatesEvenAcrossChunkCuts) {
  auto push = [&] {
    api::PushRequest r;
    api::PushStream s{R"({app="a"})", {}};
    for (int i = 0; i < 100; ++i) s.entries.push_back({kNow - i, "line " + std::to_string(i), {}});
    s.entries.push_back({kNow, "same ts other line", {}});
    r.streams.push_back(s);
    return ingester_->Push("fake", std::move(r));
  };
  ASSERT_TRUE(push().ok());
  ASSERT_TRUE(push().ok());
  EXPECT_EQ(All(R"({app="a"})").size(), 101u);
  auto cut = ingester_->CutChunks(true);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 1);
  EXPECT_EQ(ingester_->HeadEntries(), 0u);
  ASSERT_TRUE(push().ok());  // lands in the head again, duplicates the chunk's content
  auto got = All(R"({app="a"})");
  EXPECT_EQ(got.size(), 101u);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LE(got[i - 1].ts, got[i].ts);
}

TEST_F(IngesterTest, HeadBoundsFollowPushesAndCutsAndReadsSkipEmptyHeads) {
  auto fp_of = [&](const std::string& sel) {
    auto m = registry_->Match("fake", *logql::ParseSelector(sel), 0, kNow + kNanosPerDay);
    EXPECT_EQ(m.size(), 1u);
    return m.empty() ? 0 : m[0].fp;
  };
  auto bounds = [&](uint64_t fp) {
    std::vector<index::HeadBounds> b;
    const uint64_t fps[] = {fp};
    ingester_->GetHeadBounds("fake", fps, &b);
    return b[0];
  };
  api::PushRequest r;
  r.streams.push_back({R"({app="a"})", {{kNow - 50, "a1", {}}, {kNow - 10, "a2", {}}}});
  ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  const uint64_t fp = fp_of(R"({app="a"})");
  index::HeadBounds b = bounds(fp);
  ASSERT_TRUE(b.present);
  EXPECT_EQ(b.min_ts, kNow - 50);
  EXPECT_EQ(b.max_ts, kNow - 10);
  EXPECT_TRUE(b.Overlaps(kNow - 10, kNow));
  EXPECT_FALSE(b.Overlaps(kNow - 9, kNow));
  EXPECT_FALSE(b.Overlaps(0, kNow - 50));
  EXPECT_FALSE(bounds(fp + 12345).present);

  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  EXPECT_FALSE(bounds(fp).present);
  // After the cut the entries come from the chunk.
  engine::SelectRequest req;
  req.matchers = *logql::ParseSelector(R"({app="a"})");
  req.from = 0;
  req.through = kNow + 1;
  auto tq = querier_->ForTenant("fake");
  auto sources = tq.Select(req);
  ASSERT_TRUE(sources.ok());
  ASSERT_EQ(sources->size(), 1u);
  std::vector<std::string> lines;
  ASSERT_TRUE((*sources)[0]->ForEach(0, kNow + 1, true, [&](int64_t, std::string_view l, const std::vector<Label>&) {
    lines.emplace_back(l);
    return true;
  }).ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ((*sources)[0]->stats().head_lines, 0u);
  EXPECT_EQ((*sources)[0]->stats().chunks, 1u);

  // A push after the cut re-creates the head; it is read again.
  api::PushRequest r2;
  r2.streams.push_back({R"({app="a"})", {{kNow - 30, "a3", {}}}});
  ASSERT_TRUE(ingester_->Push("fake", std::move(r2)).ok());
  b = bounds(fp);
  ASSERT_TRUE(b.present);
  EXPECT_EQ(b.min_ts, kNow - 30);
  EXPECT_EQ(b.max_ts, kNow - 30);
  auto got = All(R"({app="a"})");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].line, "a3");
}

TEST_F(IngesterTest, CutsBySizeAndKeepsEveryEntryInOrder) {
  target_size_ = 4096;
  block_size_ = 1024;  // chunks are cut at block boundaries
  Reopen();
  api::PushRequest r;
  api::PushStream s{R"({app="big"})", {}};
  for (int i = 0; i < 1000; ++i) s.entries.push_back({kNow - 1000 + i, "entry " + std::to_string(i), {}});
  r.streams.push_back(s);
  ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  auto cut = ingester_->CutChunks(false);
  ASSERT_TRUE(cut.ok());
  EXPECT_GT(*cut, 1);
  EXPECT_EQ(ingester_->HeadEntries(), 0u);
  auto got = All(R"({app="big"})");
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[i].line, "entry " + std::to_string(i));
  auto stats = querier_->Stats("fake", *logql::ParseSelector(R"({app="big"})"), 0, kNow + 1);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->entries, 1000u);
  EXPECT_EQ(stats->chunks, static_cast<uint64_t>(*cut));
}

TEST_F(IngesterTest, CutsIdleHeadsOnlyAfterTheIdlePeriod) {
  ASSERT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow, "x")).ok());
  EXPECT_EQ(*ingester_->CutChunks(false), 0);
  clock_.Advance(30 * kNanosPerMinute);
  EXPECT_EQ(*ingester_->CutChunks(false), 1);
  EXPECT_EQ(All(R"({a="1"})").size(), 1u);
}

TEST_F(IngesterTest, RecoversHeadsAndIndexAfterReopen) {
  ASSERT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow, "before restart")).ok());
  Reopen();  // from the log alone
  EXPECT_EQ(registry_->NumStreams("fake"), 1u);
  EXPECT_EQ(ingester_->HeadEntries(), 1u);
  EXPECT_EQ(*ingester_->CutChunks(true), 1);
  // The log still holds the cut entry (no checkpoint yet): it comes back into the head, is
  // seen once, and is not cut a second time.
  Reopen();
  EXPECT_EQ(ingester_->HeadEntries(), 1u);
  auto got = All(R"({a="1"})");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, "before restart");
  EXPECT_EQ(*ingester_->CutChunks(true), 0);
  EXPECT_EQ(metrics_.GetCounter("logq_head_duplicates_dropped_total", "")->Value(), 1);
  // A checkpoint lets the log go: the next start has nothing in the heads.
  ASSERT_TRUE(ingester_->Push("fake", One(R"({a="1"})", kNow + 1, "in the checkpoint")).ok());
  ASSERT_TRUE(ingester_->Checkpoint().ok());
  Reopen();
  EXPECT_EQ(ingester_->HeadEntries(), 1u);
  got = All(R"({a="1"})");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].line, "in the checkpoint");
  auto stats = querier_->Stats("fake", *logql::ParseSelector(R"({a="1"})"), 0, kNow + 10);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->entries, 2u);
}

TEST_F(IngesterTest, TenantsAreIsolated) {
  ASSERT_TRUE(ingester_->Push("a", One(R"({app="x"})", kNow, "tenant a")).ok());
  ASSERT_TRUE(ingester_->Push("b", One(R"({app="x"})", kNow, "tenant b")).ok());
  EXPECT_EQ(querier_->LabelValues("a", "app", {}, 0, kNow + 1).size(), 1u);
  querier::SelectParams p;
  p.matchers = *logql::ParseSelector(R"({app="x"})");
  p.start = 0;
  p.end = kNow + 1;
  auto r = querier_->SelectLogs("a", p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].entries.size(), 1u);
  EXPECT_EQ((*r)[0].entries[0].line, "tenant a");
}

TEST_F(IngesterTest, StructuredMetadataLimits) {
  limits_.max_structured_metadata_entries_count = 1;
  api::PushRequest r;
  r.streams.push_back({R"({a="1"})", {{kNow, "x", {{"k1", "v"}, {"k2", "v"}}}}});
  Status st = ingester_->Push("fake", std::move(r));
  EXPECT_NE(st.message().find("too many structured metadata"), std::string::npos) << st.message();
}

TEST_F(IngesterTest, GlobalLimitAcrossStreamsTakesNewestOverall) {
  for (int s = 0; s < 2; ++s) {
    api::PushRequest r;
    api::PushStream ps{"{s=\"" + std::to_string(s) + "\"}", {}};
    for (int i = 0; i < 3; ++i) ps.entries.push_back({kNow + i * 10 + s, "s" + std::to_string(s) + "e" + std::to_string(i), {}});
    r.streams.push_back(ps);
    ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  }
  querier::SelectParams p;
  p.matchers = *logql::ParseSelector(R"({s=~".+"})");
  p.start = 0;
  p.end = kNow + 100;
  p.limit = 2;
  auto res = querier_->SelectLogs("fake", p);
  ASSERT_TRUE(res.ok());
  std::vector<std::string> lines;
  for (auto& s : *res) for (auto& e : s.entries) lines.push_back(e.line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"s0e2", "s1e2"}));
}

TEST_F(IngesterTest, OutOfOrderEntriesAcrossBlocksAreMergedIntoSortedChunks) {
  block_size_ = 512;  // many small blocks that overlap in time
  Reopen();
  std::mt19937_64 rng(42);
  std::vector<int64_t> ts;
  for (int i = 0; i < 600; ++i) ts.push_back(kNow - 1'000'000 + static_cast<int64_t>(rng() % 900'000));
  for (int i = 0; i < 600; i += 50) {  // 12 pushes in random time order
    api::PushRequest r;
    api::PushStream s{R"({app="ooo"})", {}};
    for (int k = i; k < i + 50; ++k) s.entries.push_back({ts[k], "e" + std::to_string(k), {}});
    r.streams.push_back(s);
    ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  }
  auto before = All(R"({app="ooo"})");
  ASSERT_EQ(before.size(), 600u);
  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  EXPECT_GT(metrics_.GetCounter("logq_head_blocks_reencoded_total", "")->Value(), 0);
  EXPECT_EQ(ingester_->HeadEntries(), 0u);
  auto after = All(R"({app="ooo"})");
  ASSERT_EQ(after.size(), 600u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].ts, before[i].ts);
    EXPECT_EQ(after[i].line, before[i].line);
    if (i > 0) {
      EXPECT_LE(after[i - 1].ts, after[i].ts);
    }
  }
}

TEST_F(IngesterTest, SameTimestampEntriesKeepPushOrderInHeadsAndChunks) {
  api::PushRequest r;
  api::PushStream s{R"({app="order"})", {}};
  for (const char* l : {"zeta", "alpha", "mid"}) s.entries.push_back({kNow, l, {}});
  r.streams.push_back(s);
  ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  auto lines = [&] {
    std::vector<std::string> out;
    for (auto& e : All(R"({app="order"})")) out.push_back(e.line);
    return out;
  };
  const std::vector<std::string> want = {"zeta", "alpha", "mid"};
  EXPECT_EQ(lines(), want);
  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  EXPECT_EQ(lines(), want);
}

TEST_F(IngesterTest, HeadMemoryLimitRefusesPushesUntilCutsFreeMemory) {
  head_memory_limit_ = 1 << 20;
  Reopen();
  int woken = 0;
  ingester_->SetCutWakeup([&] { ++woken; });
  const std::string line(900, 'x');
  Status st;
  int accepted = 0;
  for (int i = 0; i < 5000 && st.ok(); ++i) {
    api::PushRequest r;
    api::PushStream ps{"{s=\"" + std::to_string(i % 50) + "\"}", {}};
    for (int k = 0; k < 10; ++k) ps.entries.push_back({kNow - 100000 + i * 10 + k, line + std::to_string(i * 10 + k), {}});
    r.streams.push_back(ps);
    st = ingester_->Push("fake", std::move(r));
    if (st.ok()) ++accepted;
  }
  ASSERT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find("ingester.head_memory_limit"), std::string::npos) << st.message();
  EXPECT_GT(woken, 0);
  EXPECT_GE(ingester_->HeadMemoryBytes(), head_memory_limit_);
  EXPECT_EQ(Discarded("head_memory_limit"), 10);
  // The cutter frees memory (largest heads first, down to half the limit).
  ASSERT_TRUE(ingester_->CutChunks(false).ok());
  EXPECT_LE(ingester_->HeadMemoryBytes(), head_memory_limit_ / 2);
  ASSERT_TRUE(ingester_->Push("fake", One(R"({s="0"})", kNow, "after the cut")).ok());
  EXPECT_EQ(All(R"({s=~".+"})").size(), static_cast<size_t>(accepted) * 10 + 1);
}

// A cut that finishes between a query's snapshot and its read of a stream: the entries left
// the head after the snapshot was taken, so the reader must take a newer one (cut generation).
TEST_F(IngesterTest, ReaderSeesEntriesCutAfterItsSnapshot) {
  api::PushRequest r;
  r.streams.push_back({R"({app="gen"})", {{kNow - 20, "g1", {}}, {kNow - 10, "g2", {}}}});
  ASSERT_TRUE(ingester_->Push("fake", std::move(r)).ok());
  engine::SelectRequest req;
  req.matchers = *logql::ParseSelector(R"({app="gen"})");
  req.from = 0;
  req.through = kNow + 1;
  auto tq = querier_->ForTenant("fake");
  auto sources = tq.Select(req);
  ASSERT_TRUE(sources.ok());
  ASSERT_EQ(sources->size(), 1u);
  ASSERT_EQ(*ingester_->CutChunks(true), 1);  // after the snapshot, before the read
  std::vector<std::string> lines;
  ASSERT_TRUE((*sources)[0]->ForEach(0, kNow + 1, true, [&](int64_t, std::string_view l, const std::vector<Label>&) {
    lines.emplace_back(l);
    return true;
  }).ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"g1", "g2"}));
}

// Readers racing pushes and cuts see every entry acknowledged before they started, once.
TEST_F(IngesterTest, ConcurrentCutsNeverHideOrDuplicateAcknowledgedEntries) {
  block_size_ = 2048;
  target_size_ = 8192;
  Reopen();
  std::atomic<int64_t> acked{0};
  std::atomic<bool> stop{false}, pushed{false};
  std::thread pusher([&] {
    for (int i = 0; i < 400 && !stop; ++i) {
      api::PushRequest r;
      api::PushStream ps{R"({app="race"})", {}};
      for (int k = 0; k < 10; ++k) ps.entries.push_back({kNow - 10'000'000 + i * 10 + k, "line " + std::to_string(i * 10 + k), {}});
      r.streams.push_back(ps);
      Status st = ingester_->Push("fake", std::move(r));
      if (!st.ok()) {
        ADD_FAILURE() << st.ToString();
        break;
      }
      acked = (i + 1) * 10;
    }
    pushed = true;
  });
  std::thread cutter([&] {
    while (!stop) {
        auto cut = ingester_->CutChunks(true);
      if (!cut.ok()) {
        ADD_FAILURE() << cut.status().ToString();
        break;
      }
    }
  });
  int checks = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!pushed && std::chrono::steady_clock::now() < deadline) {
    const int64_t before = acked.load();
    auto got = All(R"({app="race"})");
    ASSERT_GE(static_cast<int64_t>(got.size()), before);
    for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].ts, got[i].ts) << "duplicate or disorder at " << i;
    ++checks;
  }
  stop = true;
  pusher.join();
  cutter.join();
  EXPECT_EQ(acked.load(), 4000);
  EXPECT_EQ(All(R"({app="race"})").size(), static_cast<size_t>(acked.load())) << checks << " checks, head entries "
                                                                               << ingester_->HeadEntries();
}

}  // namespace
}  // namespace logq::ingest
