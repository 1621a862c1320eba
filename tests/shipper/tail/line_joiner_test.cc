#include "shipper/tail/line_joiner.h"

#include <gtest/gtest.h>

namespace logq::shipper {
namespace {

DecodedLine Chunk(StreamIndex s, bool partial, std::string_view content, int64_t ts = 1) {
  DecodedLine d;
  d.stream = s;
  d.partial = partial;
  d.content = content;
  d.timestamp_ns = ts;
  return d;
}

TEST(LineJoinerTest, JoinsPartialChunksPerStreamWithFirstTimestamp) {
  LineJoiner j;
  Record r;
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, "hel", 10), 0, 10, 0, &r));
  EXPECT_EQ(j.PendingStart(), 0u);
  // A stderr line in between completes on its own.
  ASSERT_TRUE(j.Add(Chunk(kStderr, false, "err", 11), 10, 20, 0, &r));
  EXPECT_EQ(r.line, "err");
  EXPECT_EQ(r.start_offset, 10u);
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, "lo ", 12), 20, 30, 0, &r));
  ASSERT_TRUE(j.Add(Chunk(kStdout, false, "world", 13), 30, 40, 0, &r));
  EXPECT_EQ(r.line, "hello world");
  EXPECT_EQ(r.timestamp_ns, 10);
  EXPECT_EQ(r.start_offset, 0u);
  EXPECT_EQ(r.end_offset, 40u);
  EXPECT_FALSE(r.truncated);
  EXPECT_FALSE(j.PendingStart().has_value());
}

TEST(LineJoinerTest, CapsJoinedRecordWithMarkerAndConsumesTheRest) {
  JoinerOptions o;
  o.max_line_size = 32;
  LineJoiner j(o);
  Record r;
  std::string part(20, 'a');
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, part), 0, 1, 0, &r));
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, part), 1, 2, 0, &r));
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, part), 2, 3, 0, &r));
  ASSERT_TRUE(j.Add(Chunk(kStdout, false, "tail"), 3, 4, 0, &r));
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.line.size(), 32u);
  EXPECT_EQ(r.line, std::string(32 - kTruncationMarker.size(), 'a') + std::string(kTruncationMarker));
  EXPECT_EQ(r.end_offset, 4u);
  // The next record is unaffected.
  ASSERT_TRUE(j.Add(Chunk(kStdout, false, "next"), 4, 5, 0, &r));
  EXPECT_EQ(r.line, "next");
  EXPECT_FALSE(r.truncated);
}

TEST(LineJoinerTest, TruncationDoesNotSplitUtf8) {
  JoinerOptions o;
  o.max_line_size = kTruncationMarker.size() + 4;
  std::string l2 = "a\xe2\x82\xac\xe2\x82\xac" + std::string(20, 'x');  // cut at 4 keeps "a€"
  EXPECT_TRUE(LineJoiner::Cap(o, &l2));
  EXPECT_EQ(l2, "a\xe2\x82\xac" + std::string(kTruncationMarker));
  std::string l3 = "abc\xe2\x82\xac" + std::string(20, 'x');  // cut at 4 would split €: keeps "abc"
  EXPECT_TRUE(LineJoiner::Cap(o, &l3));
  EXPECT_EQ(l3, "abc" + std::string(kTruncationMarker));
  std::string fits = "abcd";
  EXPECT_FALSE(LineJoiner::Cap(o, &fits));
  EXPECT_EQ(fits, "abcd");
}

TEST(LineJoinerTest, FlushReleasesOnlyOldPartialsUnlessForced) {
  LineJoiner j;
  Record r;
  EXPECT_FALSE(j.Add(Chunk(kStdout, true, "old"), 0, 10, /*now=*/100, &r));
  EXPECT_FALSE(j.Add(Chunk(kStderr, true, "new"), 10, 20, /*now=*/900, &r));
  std::vector<Record> out;
  j.Flush(false, /*now=*/1000, /*timeout=*/500, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].line, "old");
  EXPECT_TRUE(out[0].flushed_incomplete);
  EXPECT_EQ(j.PendingStart(), 10u);
  j.Flush(true, 1000, 500, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].line, "new");
  EXPECT_FALSE(j.PendingStart().has_value());
}

TEST(LineJoinerTest, NoCapWhenNotTruncating) {
  JoinerOptions o;
  o.max_line_size = 8;
  o.truncate = false;
  LineJoiner j(o);
  Record r;
  ASSERT_TRUE(j.Add(Chunk(kStdout, false, "0123456789abcdef"), 0, 1, 0, &r));
  EXPECT_EQ(r.line, "0123456789abcdef");
  EXPECT_FALSE(r.truncated);
}

}  // namespace
}  // namespace logq::shipper
