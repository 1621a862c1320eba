#include "query/base/units.h"

#include <gtest/gtest.h>

#include "query/base/clock.h"

namespace logq {
namespace {

TEST(DurationTest, ParsesGoAndPrometheusForms) {
  EXPECT_EQ(*ParseDuration("1h30m"), 90 * kNanosPerMinute);
  EXPECT_EQ(*ParseDuration("500ms"), 500 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500 * kNanosPerMilli);
  EXPECT_EQ(*ParseDuration("7d"), 7 * kNanosPerDay);
  EXPECT_EQ(*ParseDuration("168h"), 7 * kNanosPerDay);
  EXPECT_EQ(*ParseDuration("0"), 0);
}

TEST(DurationTest, RejectsMissingOrUnknownUnits) {
  EXPECT_FALSE(ParseDuration("15").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("3x").ok());
  EXPECT_NE(ParseDuration("3x").status().message().find("unknown unit"), std::string::npos);
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t d : {int64_t{0}, 500 * kNanosPerMilli, 90 * kNanosPerMinute, 168 * kNanosPerHour,
                    kNanosPerSecond + 250 * kNanosPerMilli}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(d)), d) << FormatDuration(d);
  }
  EXPECT_EQ(FormatDuration(2 * kNanosPerHour), "2h");
  EXPECT_EQ(FormatDuration(10 * kNanosPerMinute), "10m");
}

TEST(BytesTest, ParsesDecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseBytes("256KB"), 256000);
  EXPECT_EQ(*ParseBytes("256KiB"), 262144);
  EXPECT_EQ(*ParseBytes("1MiB"), 1048576);
  EXPECT_EQ(*ParseBytes("1.5MB"), 1500000);
  EXPECT_EQ(*ParseBytes("42"), 42);
  EXPECT_EQ(*ParseBytes("20 kb"), 20000);
  EXPECT_FALSE(ParseBytes("12parsecs").ok());
  EXPECT_EQ(FormatBytes(262144), "256KiB");
  EXPECT_EQ(*ParseBytes(FormatBytes(1572864)), 1572864);
}

TEST(TimeTest, Rfc3339RoundTrip) {
  EXPECT_EQ(*ParseRFC3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRFC3339("2024-05-29T16:26:40.123Z"), 1717000000123000000);
  EXPECT_EQ(*ParseRFC3339("2024-05-29T18:26:40+02:00"), 1717000000000000000);
  EXPECT_EQ(FormatRFC3339(1717000000123000000), "2024-05-29T16:26:40Z");
  EXPECT_EQ(FormatRFC3339Nano(1717000000123000000), "2024-05-29T16:26:40.123Z");
  EXPECT_FALSE(ParseRFC3339("2024-05-29").ok());
  EXPECT_FALSE(ParseRFC3339("9999-12-31T23:59:59Z").ok());  // beyond int64 nanoseconds
  EXPECT_TRUE(ParseRFC3339("2262-04-11T00:00:00Z").ok());
}

TEST(TimeTest, LokiTimestampParamRules) {
  EXPECT_EQ(*ParseTimestampParam("", 42, "start"), 42);
  EXPECT_EQ(*ParseTimestampParam("1717000000", 0, "start"), 1717000000 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimestampParam("4000000000", 0, "time"), 4000000000 * kNanosPerSecond);
  EXPECT_EQ(*ParseTimestampParam("1717000000.5", 0, "start"),
            1717000000 * kNanosPerSecond + 500 * kNanosPerMilli);
  EXPECT_EQ(*ParseTimestampParam("1717000000000000000", 0, "start"), 1717000000000000000);
  EXPECT_EQ(*ParseTimestampParam("2024-05-29T16:26:40.123Z", 0, "start"), 1717000000123000000);
  auto bad = ParseTimestampParam("abc", 0, "start");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'start'"), std::string::npos);
}

}  // namespace
}  // namespace logq
