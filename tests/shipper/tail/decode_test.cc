#include "shipper/tail/decode.h"

#include <gtest/gtest.h>

namespace logq::shipper {
namespace {

constexpr int64_t kTs = 1795255200LL * 1'000'000'000 + 123456789;  // 2026-11-21T...

TEST(ParseLogTimestampTest, ParsesNanosAndOffsets) {
  int64_t ns;
  ASSERT_TRUE(ParseLogTimestamp("2026-11-21T10:00:00.123456789Z", &ns));
  EXPECT_EQ(ns % 1'000'000'000, 123456789);
  int64_t plus2;
  ASSERT_TRUE(ParseLogTimestamp("2026-11-21T12:00:00.123456789+02:00", &plus2));
  EXPECT_EQ(plus2, ns);
  int64_t short_frac;
  ASSERT_TRUE(ParseLogTimestamp("2026-11-21T10:00:00.5Z", &short_frac));
  EXPECT_EQ(short_frac % 1'000'000'000, 500000000);
  ASSERT_TRUE(ParseLogTimestamp("1970-01-01T00:00:01Z", &ns));
  EXPECT_EQ(ns, 1'000'000'000);
  EXPECT_FALSE(ParseLogTimestamp("2026-11-21 garbage", &ns));
  EXPECT_FALSE(ParseLogTimestamp("2026-13-21T10:00:00Z", &ns));
  EXPECT_FALSE(ParseLogTimestamp("2026-11-21T10:00:00.Z", &ns));
  EXPECT_FALSE(ParseLogTimestamp("2026-11-21T10:00:00", &ns));
}

// Found by tests/fuzz/decode_fuzz.cc: years past 2262 overflowed int64 nanoseconds (signed
// overflow, UBSan); such a line is not a CRI line we can carry (it is shipped raw).
TEST(ParseLogTimestampTest, OutsideTheNanosecondRangeIsNotATimestamp) {
  int64_t ns = 0;
  EXPECT_FALSE(ParseLogTimestamp("9999-12-31T23:59:59.999999999Z", &ns));
  EXPECT_FALSE(ParseLogTimestamp("2262-04-11T23:47:16.854775808Z", &ns));
  EXPECT_FALSE(ParseLogTimestamp("1677-09-21T00:12:43.145224191Z", &ns));
  ASSERT_TRUE(ParseLogTimestamp("2262-04-11T23:47:16.854775807Z", &ns));
  EXPECT_EQ(ns, INT64_MAX);
  ASSERT_TRUE(ParseLogTimestamp("1677-09-21T00:12:43.145224192Z", &ns));
  EXPECT_EQ(ns, INT64_MIN);
  DecodedLine d;
  EXPECT_FALSE(DecodeCri("9999-12-31T23:59:59Z stdout F far", &d));
}

TEST(DecodeCriTest, FullAndPartialLines) {
  DecodedLine d;
  ASSERT_TRUE(DecodeCri("2026-11-21T10:00:00.000000001Z stdout F hello world", &d));
  EXPECT_EQ(d.stream, kStdout);
  EXPECT_FALSE(d.partial);
  EXPECT_EQ(d.content, "hello world");
  ASSERT_TRUE(DecodeCri("2026-11-21T10:00:00.000000001Z stderr P part", &d));
  EXPECT_EQ(d.stream, kStderr);
  EXPECT_TRUE(d.partial);
  EXPECT_EQ(d.content, "part");
}

TEST(DecodeCriTest, EmptyMessageWithAndWithoutSeparator) {
  DecodedLine d;
  ASSERT_TRUE(DecodeCri("2026-11-21T10:00:00Z stdout F ", &d));
  EXPECT_EQ(d.content, "");
  ASSERT_TRUE(DecodeCri("2026-11-21T10:00:00Z stdout F", &d));
  EXPECT_EQ(d.content, "");
}

TEST(DecodeCriTest, KeepsCarriageReturnInvalidUtf8AndNul) {
  DecodedLine d;
  std::string line = std::string("2026-11-21T10:00:00Z stdout F a\xff\xfe") + '\0' + "b\r";
  ASSERT_TRUE(DecodeCri(line, &d));
  EXPECT_EQ(d.content, std::string("a\xff\xfe") + '\0' + "b\r");
}

TEST(DecodeCriTest, AcceptsTagListAndRejectsOtherShapes) {
  DecodedLine d;
  ASSERT_TRUE(DecodeCri("2026-11-21T10:00:00Z stdout F:x msg", &d));
  EXPECT_EQ(d.content, "msg");
  EXPECT_FALSE(DecodeCri("2026-11-21T10:00:00Z stdin F msg", &d));
  EXPECT_FALSE(DecodeCri("2026-11-21T10:00:00Z stdout X msg", &d));
  EXPECT_FALSE(DecodeCri("2026-11-21T10:00:00Z stdout Fx msg", &d));
  EXPECT_FALSE(DecodeCri("not a timestamp stdout F msg", &d));
  EXPECT_FALSE(DecodeCri("", &d));
}

TEST(DecodeDockerTest, FinalPartialAndEscapes) {
  DecodedLine d;
  std::string scratch;
  ASSERT_TRUE(DecodeDocker(R"({"log":"hi \"there\"\t\u00e9\ud83d\ude00\n","stream":"stderr","time":"2026-11-21T10:00:00.5Z"})",
                           &scratch, &d));
  EXPECT_EQ(d.stream, kStderr);
  EXPECT_FALSE(d.partial);
  EXPECT_EQ(d.content, "hi \"there\"\t\xc3\xa9\xf0\x9f\x98\x80");
  ASSERT_TRUE(DecodeDocker(R"({"log":"first 16k","stream":"stdout","attrs":{"a":[1,2]},"time":"2026-11-21T10:00:00Z"})",
                           &scratch, &d));
  EXPECT_TRUE(d.partial);
  EXPECT_EQ(d.content, "first 16k");
  // CRLF written by the app: the \r stays, the \n terminates.
  ASSERT_TRUE(DecodeDocker(R"({"log":"win\r\n","stream":"stdout","time":"2026-11-21T10:00:00Z"})", &scratch, &d));
  EXPECT_EQ(d.content, "win\r");
  EXPECT_FALSE(d.partial);
  // An empty line the app wrote ("\n") is an empty final message.
  ASSERT_TRUE(DecodeDocker(R"({"log":"\n","stream":"stdout","time":"2026-11-21T10:00:00Z"})", &scratch, &d));
  EXPECT_EQ(d.content, "");
  EXPECT_FALSE(d.partial);
}

TEST(DecodeDockerTest, RejectsBrokenObjects) {
  DecodedLine d;
  std::string scratch;
  EXPECT_FALSE(DecodeDocker(R"({"log":"x\n","stream":"stdout"})", &scratch, &d));  // no time
  EXPECT_FALSE(DecodeDocker(R"({"log":"x\n","time":"nope"})", &scratch, &d));
  EXPECT_FALSE(DecodeDocker(R"({"log":"unterminated)", &scratch, &d));
  EXPECT_FALSE(DecodeDocker(R"({"log":"x\q","time":"2026-11-21T10:00:00Z"})", &scratch, &d));
}

TEST(DecodeLineTest, DetectsFormatAndFallsBackToRaw) {
  LogFormat f = LogFormat::kUnknown;
  std::string scratch;
  DecodedLine d;
  EXPECT_EQ(DecodeLine("2026-11-21T10:00:00Z stdout F x", &f, &scratch, &d), LogFormat::kCri);
  EXPECT_EQ(f, LogFormat::kCri);
  EXPECT_EQ(DecodeLine("garbage line\r", &f, &scratch, &d), LogFormat::kRaw);
  EXPECT_EQ(d.content, "garbage line");  // raw: CRLF line ending stripped
  EXPECT_EQ(d.timestamp_ns, 0);
  EXPECT_EQ(f, LogFormat::kCri);  // one bad line does not change the file's format
  LogFormat g = LogFormat::kUnknown;
  EXPECT_EQ(DecodeLine(R"({"log":"a\n","stream":"stdout","time":"2026-11-21T10:00:00Z"})", &g, &scratch, &d),
            LogFormat::kDocker);
  EXPECT_EQ(g, LogFormat::kDocker);
  (void)kTs;
}

}  // namespace
}  // namespace logq::shipper
