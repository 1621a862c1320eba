// Upgrade from the previous storage engine (issue 11, "Upgrade"): a data directory written by
// the release before storage engine v2 keeps unflushed entries in RocksDB's `head` column
// family, one key per entry, written as that release's ingester did (stream record, day
// postings and PutHead with index::EncodeHeadValue in one batch; see
// `git show 8dedf53:store/ingest/ingester.cc`). The first Ingester::Open on it must move every
// entry into the new heads (served at once), checkpoint them and empty the column family; a
// later start must serve them from the checkpoint alone; and a cut must write each of them
// into a chunk exactly once, byte-exact, structured metadata included.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/logql/selector.h"
#include "store/chunk/chunk.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/ingest/ingester.h"
#include "store/querier/querier.h"
#include "tests/testing/temp_dir.h"

namespace logq::ingest {
namespace {

constexpr int64_t kNow = 1'800'000'000LL * kNanosPerSecond;

struct OldEntry {
  std::string tenant;
  std::string labels;  // canonical text
  int64_t ts;
  std::string line;
  std::vector<Label> metadata;
};
using Row = std::tuple<std::string, std::string, int64_t, std::string, std::string>;

std::string MetadataText(const std::vector<Label>& md) {
  std::string s;
  for (const Label& l : md) s += l.name + "=" + l.value + ";";
  return s;
}

class UpgradeTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.path() + "/db"; }
  std::string WalDir() const { return dir_.path() + "/wal"; }

  static std::string Canonical(const std::string& text) {
    auto parsed = ParseLabels(text);
    EXPECT_TRUE(parsed.ok()) << text;
    Labels l = std::move(parsed).value();
    l.Sort();
    return l.ToString();
  }

  // Writes `entries` as the previous release did: a data directory with no WAL at all.
  void WriteOldDataDir(const std::vector<OldEntry>& entries) {
    index::DbOptions o;
    o.path = DbPath();
    auto db = index::Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    index::Registry registry;
    ASSERT_TRUE(registry.Load(db->get()).ok());
    auto batch = (*db)->NewWriteBatch();
    std::vector<std::pair<std::string, uint64_t>> streams;
    std::vector<std::tuple<std::string, uint32_t, uint64_t>> postings;
    for (const OldEntry& e : entries) {
      const uint64_t fp = registry.Resolve(e.tenant, e.labels).fp;
      if (std::find(streams.begin(), streams.end(), std::make_pair(e.tenant, fp)) == streams.end()) {
        streams.emplace_back(e.tenant, fp);
        batch->PutStream(e.tenant, fp, e.labels);
      }
      const uint32_t day = index::DayOf(e.ts);
      if (std::find(postings.begin(), postings.end(), std::make_tuple(e.tenant, day, fp)) == postings.end()) {
        postings.emplace_back(e.tenant, day, fp);
        batch->PutPosting(e.tenant, day, fp);
      }
      batch->PutHead(e.tenant, fp, e.ts, XXH3_64bits(e.line.data(), e.line.size()),
                     index::EncodeHeadValue(e.line, e.metadata));
    }
    ASSERT_TRUE((*db)->Write(batch.get(), /*sync=*/true).ok());
    size_t heads = 0;
    ASSERT_TRUE((*db)->ForEachHead([&](const index::HeadRecord&) { ++heads; }).ok());
    ASSERT_EQ(heads, entries.size());
    ASSERT_FALSE(std::filesystem::exists(WalDir()));
  }

  void Open() {
    index::DbOptions o;
    o.path = DbPath();
    auto db = index::Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    registry_ = std::make_unique<index::Registry>();
    ASSERT_TRUE(registry_->Load(db_.get()).ok());
    IngesterOptions io;
    io.chunk.target_block_raw = 4096;  // several sealed blocks per stream in the checkpoint
    io.wal_dir = WalDir();
    metrics_ = std::make_unique<MetricsRegistry>();
    ingester_ = std::make_unique<Ingester>(db_.get(), registry_.get(), [](std::string_view) { return Limits(); },
                                           &clock_, metrics_.get(), io);
    Status st = ingester_->Open();
    ASSERT_TRUE(st.ok()) << st.ToString();
    querier_ = std::make_unique<querier::StoreQuerier>(db_.get(), registry_.get(), ingester_.get());
  }

  void Close() {
    querier_.reset();
    ingester_.reset();
    registry_.reset();
    db_.reset();
  }

  size_t OldHeadEntries() {
    size_t n = 0;
    EXPECT_TRUE(db_->ForEachHead([&](const index::HeadRecord&) { ++n; }).ok());
    return n;
  }

  // (tenant, labels, ts, line) of every entry the querier serves for the tenants, sorted.
  std::vector<Row> Served(const std::vector<std::string>& tenants) {
    std::vector<Row> out;
    for (const std::string& t : tenants) {
      querier::SelectParams p;
      p.matchers = *logql::ParseSelector(R"({job=~".+"})");
      p.start = 0;
      p.end = kNow + kNanosPerDay;
      p.forward = true;
      p.limit = 1'000'000;
      auto r = querier_->SelectLogs(t, p);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) continue;
      for (const auto& s : *r) {
        for (const auto& e : s.entries) out.emplace_back(t, s.labels->ToString(), e.ts, e.line, "");
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Every entry of every chunk of the entries' streams, metadata included, sorted.
  std::vector<Row> InChunks(const std::vector<OldEntry>& entries) {
    std::vector<std::pair<std::string, std::string>> streams;
    for (const auto& e : entries) {
      if (std::find(streams.begin(), streams.end(), std::make_pair(e.tenant, e.labels)) == streams.end()) {
        streams.emplace_back(e.tenant, e.labels);
      }
    }
    std::vector<Row> out;
    auto reader = db_->NewReader();
    for (const auto& [tenant, labels] : streams) {
      const uint64_t fp = registry_->Resolve(tenant, labels).fp;
      auto refs = reader->ListChunks(tenant, fp, 0, INT64_MAX);
      EXPECT_TRUE(refs.ok());
      if (!refs.ok()) continue;
      for (const auto& ref : *refs) {
        auto bytes = reader->GetChunk(tenant, ref);
        EXPECT_TRUE(bytes.ok());
        if (!bytes.ok()) continue;
        auto cr = chunk::ChunkReader::Open(*bytes);
        EXPECT_TRUE(cr.ok());
        if (!cr.ok()) continue;
        auto it = (*cr)->Iterate(INT64_MIN, INT64_MAX, /*forward=*/true);
        while (it->Next()) {
          out.emplace_back(tenant, labels, it->entry().ts, std::string(it->entry().line),
                           MetadataText(*it->entry().metadata));
        }
        EXPECT_TRUE(it->status().ok());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_{kNow};
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<index::Db> db_;
  std::unique_ptr<index::Registry> registry_;
  std::unique_ptr<Ingester> ingester_;
  std::unique_ptr<querier::StoreQuerier> querier_;
};

TEST_F(UpgradeTest, HeadColumnFamilyIsMovedIntoHeadsCheckpointedAndEmptied) {
  // Two tenants, three streams, two days, out-of-order timestamps, same-timestamp entries
  // with different lines, structured metadata, and enough lines for several sealed blocks.
  std::vector<OldEntry> entries;
  const std::string a = Canonical(R"({job="api", env="prod"})");
  const std::string b = Canonical(R"({job="db"})");
  for (int i = 0; i < 600; ++i) {
    const int64_t ts = kNow - kNanosPerDay + static_cast<int64_t>((i * 7919) % 600) * kNanosPerMinute * 3;
    entries.push_back({"fake", a, ts, "GET /api/" + std::to_string(i) + " " + std::string(i % 50, 'x'), {}});
    if (i % 3 == 0) {
      std::vector<Label> md = {{"trace_id", "t" + std::to_string(i)}};
      entries.push_back({"fake", b, ts, "query " + std::to_string(i) + " é ✓ \"q\"", md});
    }
  }
  entries.push_back({"fake", a, kNow - kNanosPerHour, "same ts 1", {}});
  entries.push_back({"fake", a, kNow - kNanosPerHour, "same ts 2", {}});
  entries.push_back({"other", a, kNow - 2 * kNanosPerHour, "other tenant, same labels", {}});
  ASSERT_NO_FATAL_FAILURE(WriteOldDataDir(entries));

  std::vector<Row> want_served, want_chunks;
  for (const auto& e : entries) {
    want_served.emplace_back(e.tenant, e.labels, e.ts, e.line, "");
    want_chunks.emplace_back(e.tenant, e.labels, e.ts, e.line, MetadataText(e.metadata));
  }
  std::sort(want_served.begin(), want_served.end());
  std::sort(want_chunks.begin(), want_chunks.end());
  const std::vector<std::string> tenants = {"fake", "other"};

  // First start of the new engine: moved, served, checkpointed, column family empty.
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(ingester_->HeadEntries(), entries.size());
  EXPECT_EQ(Served(tenants), want_served);
  EXPECT_EQ(OldHeadEntries(), 0u) << "the head column family still holds entries";
  bool checkpoint = false;
  for (const auto& f : std::filesystem::directory_iterator(WalDir())) {
    const std::string n = f.path().filename().string();
    checkpoint |= n.rfind("checkpoint.", 0) == 0 && n.find(".tmp") == std::string::npos;
  }
  EXPECT_TRUE(checkpoint) << "no checkpoint after the upgrade";
  EXPECT_EQ(metrics_->GetCounter("logq_wal_checkpoints_total", "")->Value(), 1);

  // A restart serves them from the checkpoint (the column family is empty and stays so).
  Close();
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(OldHeadEntries(), 0u);
  EXPECT_EQ(ingester_->HeadEntries(), entries.size());
  EXPECT_EQ(Served(tenants), want_served);
  EXPECT_EQ(metrics_->GetCounter("logq_wal_checkpoints_total", "")->Value(), 0)
      << "the second start migrated again";

  // Cut: every entry once in the chunks, byte-exact with its structured metadata.
  auto cut = ingester_->CutChunks(/*force=*/true);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  EXPECT_GT(*cut, 0);
  EXPECT_EQ(ingester_->HeadEntries(), 0u);
  EXPECT_EQ(InChunks(entries), want_chunks);
  EXPECT_EQ(Served(tenants), want_served);
  ASSERT_TRUE(ingester_->Checkpoint().ok());

  // And after another restart nothing comes back twice.
  Close();
  ASSERT_NO_FATAL_FAILURE(Open());
  EXPECT_EQ(ingester_->HeadEntries(), 0u);
  EXPECT_EQ(Served(tenants), want_served);
  EXPECT_EQ(InChunks(entries), want_chunks);
}

}  // namespace
}  // namespace logq::ingest
