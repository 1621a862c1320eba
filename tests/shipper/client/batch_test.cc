#include "shipper/client/batch.h"

#include <gtest/gtest.h>

#include "store/api/push.h"

namespace logq::shipper {
namespace {

TEST(BatchTest, GroupsByStreamAndEncodesWhatLokiDecodes) {
  Batch b("tenant-a", 0);
  b.Add("{a=\"1\"}", 10, "x", {}, EntryRef{1, 10, 1, 0});
  b.Add("{a=\"2\"}", 11, "y", {Label{"trace_id", "abc"}}, EntryRef{1, 20, 1, 1});
  b.Add("{a=\"1\"}", 12, "z", {}, EntryRef{2, 5, 1, 0});
  EXPECT_EQ(b.entries(), 3u);
  auto counts = b.StreamCounts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].second, 2u);
  size_t estimate = b.encoded_bytes();
  std::string body = b.EncodeAndRelease();
  auto raw = api::SnappyUncompress(body, 1 << 20);
  ASSERT_TRUE(raw.ok());
  // The running estimate is an upper bound close to the real encoded size.
  EXPECT_GE(estimate, raw->size());
  EXPECT_LE(estimate, raw->size() + 64);
  auto req = api::DecodePushRequest(body, "application/x-protobuf", "");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_EQ(req->streams.size(), 2u);
  EXPECT_EQ(req->streams[0].labels, "{a=\"1\"}");
  ASSERT_EQ(req->streams[0].entries.size(), 2u);
  EXPECT_EQ(req->streams[0].entries[1].line, "z");
  EXPECT_EQ(req->streams[0].entries[1].timestamp_ns, 12);
  ASSERT_EQ(req->streams[1].entries[0].structured_metadata.size(), 1u);
  EXPECT_EQ(b.refs().size(), 3u);
}

TEST(BatchTest, EstimateTracksLargeBatches) {
  Batch b("", 0);
  std::string line(200, 'l');
  for (int i = 0; i < 5000; ++i) {
    b.Add("{container=\"c" + std::to_string(i % 7) + "\", namespace=\"ns\"}",
          1795255200LL * 1'000'000'000 + i, line, {}, EntryRef{1, static_cast<uint64_t>(i + 1), 200, 0});
  }
  size_t estimate = b.encoded_bytes();
  auto raw = api::SnappyUncompress(b.EncodeAndRelease(), 64 << 20);
  ASSERT_TRUE(raw.ok());
  EXPECT_GE(estimate, raw->size());
  EXPECT_LE(static_cast<double>(estimate), raw->size() * 1.05);
}

}  // namespace
}  // namespace logq::shipper
