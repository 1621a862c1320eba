// The hand-rolled PushRequest encoder against store/api: byte-identical to the protobuf
// library's serialization, and decoded back by the store's decoder to the same request.
#include "shipper/client/push_encoder.h"

#include <gtest/gtest.h>

#include <random>

#include "store/api/push.h"

namespace logq::shipper {
namespace {

api::PushEntry E(int64_t ts, std::string line, std::vector<Label> md = {}) {
  api::PushEntry e;
  e.timestamp_ns = ts;
  e.line = std::move(line);
  e.structured_metadata = std::move(md);
  return e;
}

void ExpectRoundTrip(const api::PushRequest& req) {
  std::string mine;
  AppendPushRequestProtobuf(req, &mine);
  EXPECT_EQ(mine, api::EncodePushProtobuf(req)) << "differs from the protobuf library's bytes";
  std::string scratch;
  std::string body = EncodePushRequestSnappy(req, &scratch);
  auto got = api::DecodePushRequest(body, "application/x-protobuf", "");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), req.streams.size());
  for (size_t i = 0; i < req.streams.size(); ++i) {
    SCOPED_TRACE("stream " + std::to_string(i));
    EXPECT_EQ(got->streams[i].labels, req.streams[i].labels);
    ASSERT_EQ(got->streams[i].entries.size(), req.streams[i].entries.size());
    for (size_t j = 0; j < req.streams[i].entries.size(); ++j) {
      const auto& a = got->streams[i].entries[j];
      const auto& b = req.streams[i].entries[j];
      EXPECT_EQ(a.timestamp_ns, b.timestamp_ns) << j;
      EXPECT_EQ(a.line, b.line) << j;
      EXPECT_EQ(a.structured_metadata, b.structured_metadata) << j;
    }
  }
}

TEST(PushEncoderTest, EdgeCasesMatchTheProtobufLibraryAndDecode) {
  api::PushRequest req;
  api::PushStream s1;
  s1.labels = "{app=\"web\", stream=\"stdout\"}";
  s1.entries.push_back(E(1700000000123456789, "hello"));
  s1.entries.push_back(E(0, "epoch: empty timestamp message"));
  s1.entries.push_back(E(-1, "one ns before the epoch (negative seconds)"));
  s1.entries.push_back(E(-1500000000, "negative with nanos"));
  s1.entries.push_back(E(5000000000, "whole seconds, nanos omitted"));
  s1.entries.push_back(E(7, "nanos only"));
  s1.entries.push_back(E(1700000000000000001, ""));  // empty line: field omitted
  s1.entries.push_back(E(1700000000000000002, "with metadata",
                         {Label{"trace_id", "abc"}, Label{"empty", ""}, Label{"", "noname"}}));
  s1.entries.push_back(E(1700000000000000003, std::string("bin\0ary\xff\xfe", 10)));
  s1.entries.push_back(E(1700000000000000004, std::string(300, 'x')));     // 2-byte length
  s1.entries.push_back(E(1700000000000000005, std::string(70000, 'y')));   // 3-byte length
  req.streams.push_back(s1);
  api::PushStream s2;  // no entries
  s2.labels = "{a=\"b\"}";
  req.streams.push_back(s2);
  api::PushStream s3;
  s3.labels = std::string(200, 'l');
  s3.entries.push_back(E(INT64_MAX, "max"));
  s3.entries.push_back(E(-(int64_t{1} << 62) - 123, "far before the epoch"));
  req.streams.push_back(s3);
  ExpectRoundTrip(req);
  ExpectRoundTrip(api::PushRequest{});
}

TEST(PushEncoderTest, RandomRequestsMatchTheProtobufLibrary) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    api::PushRequest req;
    int streams = static_cast<int>(rng() % 6);
    for (int s = 0; s < streams; ++s) {
      api::PushStream st;
      st.labels = "{s=\"" + std::to_string(rng() % 1000) + "\"}";
      int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) {
        std::string line(rng() % 400, 'a');
        for (char& c : line) c = static_cast<char>(rng() & 0xff);
        std::vector<Label> md;
        if (rng() % 4 == 0) md.push_back(Label{"k" + std::to_string(rng() % 10), std::string(rng() % 20, 'v')});
        st.entries.push_back(E(static_cast<int64_t>(rng()), std::move(line), std::move(md)));
      }
      req.streams.push_back(std::move(st));
    }
    ExpectRoundTrip(req);
  }
}

TEST(PushEncoderTest, AppendsAfterExistingBytes) {
  api::PushRequest req;
  req.streams.push_back(api::PushStream{});
  req.streams[0].labels = "{a=\"1\"}";
  req.streams[0].entries.push_back(E(1, "x"));
  std::string out = "prefix";
  AppendPushRequestProtobuf(req, &out);
  EXPECT_EQ(out, "prefix" + api::EncodePushProtobuf(req));
}

}  // namespace
}  // namespace logq::shipper
