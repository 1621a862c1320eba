#include "store/index/db.h"

#include <gtest/gtest.h>

#include "store/index/keys.h"
#include "store/index/registry.h"
#include "tests/testing/temp_dir.h"

namespace logq::index {
namespace {

TEST(KeysTest, TimestampsSortInByteOrder) {
  std::vector<int64_t> ts = {INT64_MIN, -5, -1, 0, 1, 1'700'000'000'000'000'000, INT64_MAX};
  for (size_t i = 1; i < ts.size(); ++i) {
    EXPECT_LT(keys::HeadKey("t", 1, ts[i - 1], 0), keys::HeadKey("t", 1, ts[i], 0));
    EXPECT_EQ(keys::DecodeTs(keys::EncodeTs(ts[i])), ts[i]);
  }
  // A tenant is never a prefix of another tenant's keys.
  EXPECT_NE(keys::StreamKey("ab", 0).rfind(keys::TenantPrefix("a"), 0), 0u);
}

TEST(HeadValueTest, RoundTripsLineAndMetadata) {
  std::string line("a\0b\xff", 4);
  std::vector<Label> md = {{"trace_id", "abc"}, {"user", ""}};
  std::string v = EncodeHeadValue(line, md);
  std::string_view got;
  std::vector<Label> got_md;
  ASSERT_TRUE(DecodeHeadValue(v, &got, &got_md).ok());
  EXPECT_EQ(got, line);
  EXPECT_EQ(got_md, md);
  EXPECT_EQ(DecodeHeadValue("\x07", &got, &got_md).code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeHeadValue(std::string("\x01\x05", 2), &got, &got_md).code(), StatusCode::kDataLoss);
}

TEST(DbTest, PersistsStreamsPostingsHeadAndChunks) {
  testing::TempDir dir;
  DbOptions o;
  o.path = dir.path() + "/db";
  {
    auto db = std::move(Db::Open(o)).value();
    auto b = db->NewWriteBatch();
    b->PutStream("t", 42, R"({a="1"})");
    b->PutPosting("t", 20000, 42);
    b->PutHead("t", 42, 100, 7, EncodeHeadValue("first", {}));
    b->PutHead("t", 42, 50, 8, EncodeHeadValue("earlier", {}));
    b->PutHead("u", 42, 60, 9, EncodeHeadValue("other tenant", {}));
    ChunkRef ref{42, 10, 20, 3, 30, 5, 99};
    b->PutChunk("t", ref, "chunk");
    ASSERT_TRUE(db->Write(b.get(), true).ok());
  }
  auto db = std::move(Db::Open(o)).value();
  int streams = 0;
  ASSERT_TRUE(db->ForEachStream([&](std::string_view t, uint64_t fp, std::string_view l) {
                  EXPECT_EQ(t, "t");
                  EXPECT_EQ(fp, 42u);
                  EXPECT_EQ(l, R"({a="1"})");
                  ++streams;
                }).ok());
  EXPECT_EQ(streams, 1);
  auto reader = db->NewReader();
  std::vector<int64_t> seen;
  ASSERT_TRUE(reader->ScanHead("t", 42, 0, 1000, [&](const HeadRecord& r) {
                        seen.push_back(r.ts);
                        return true;
                      }).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{50, 100}));
  seen.clear();
  ASSERT_TRUE(reader->ScanHead("t", 42, 50, 100, [&](const HeadRecord& r) {
                        seen.push_back(r.ts);
                        return true;
                      }).ok());
  EXPECT_EQ(seen, (std::vector<int64_t>{50}));  // end exclusive
  auto refs = reader->ListChunks("t", 42, 0, 100);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].entries, 3u);
  EXPECT_EQ(*reader->GetChunk("t", (*refs)[0]), "chunk");
  EXPECT_TRUE(reader->ListChunks("t", 42, 21, 100)->empty());  // ends before the range
  EXPECT_TRUE(reader->ListChunks("t", 42, 0, 10)->empty());    // starts at the exclusive end
  EXPECT_TRUE(reader->ListChunks("u", 42, 0, 100)->empty());
}

TEST(RegistryTest, TwoPhaseCommitAndCollisionProbing) {
  testing::TempDir dir;
  DbOptions o;
  o.path = dir.path() + "/db";
  auto db = std::move(Db::Open(o)).value();
  Registry reg;
  ASSERT_TRUE(reg.Load(db.get()).ok());
  Labels l = *ParseLabels(R"({a="1"})");
  auto r = reg.Resolve("t", l.ToString());
  EXPECT_TRUE(r.new_stream);
  EXPECT_EQ(reg.NumStreams("t"), 0u);  // nothing until Commit
  reg.Commit("t", r.fp, l, l.ToString(), 5);
  EXPECT_FALSE(reg.Resolve("t", l.ToString()).new_stream);
  EXPECT_FALSE(reg.NeedsPosting("t", r.fp, 5));
  EXPECT_TRUE(reg.NeedsPosting("t", r.fp, 6));
  // Day postings bound matches by time.
  const int64_t day = 86400LL * 1'000'000'000;
  EXPECT_EQ(reg.Match("t", {}, 5 * day, 6 * day).size(), 1u);
  EXPECT_EQ(reg.Match("t", {}, 6 * day, 7 * day).size(), 0u);
  // A different label set whose hash is taken gets the next free fingerprint.
  Labels other = *ParseLabels(R"({b="2"})");
  const uint64_t hash = reg.Resolve("t", other.ToString()).fp;
  Labels squatter = *ParseLabels(R"({c="3"})");
  reg.Commit("t", hash, squatter, squatter.ToString(), 5);  // simulate a collision
  auto probed = reg.Resolve("t", other.ToString());
  EXPECT_TRUE(probed.new_stream);
  EXPECT_EQ(probed.fp, hash + 1);
}

}  // namespace
}  // namespace logq::index
