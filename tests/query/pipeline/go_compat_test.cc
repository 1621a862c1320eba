// Go-compatible conversions used by label filters and unwrap: values and error texts.
#include "query/pipeline/go_compat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "query/pipeline/ip_filter.h"
#include "query/pipeline/pattern.h"

namespace logq::pipeline {
namespace {

TEST(GoParseFloatTest, AcceptsGoSyntax) {
  struct {
    const char* in;
    double want;
  } cases[] = {
      {"1", 1},         {"-1.5e3", -1500}, {".5", 0.5},     {"5.", 5},         {"+2", 2},
      {"1E2", 100},     {"0x1p-2", 0.25},  {"0X1.8P1", 3},  {"1e-400", 0},     {"007", 7},
  };
  for (const auto& c : cases) {
    double v = -1;
    std::string err;
    EXPECT_TRUE(gocompat::ParseFloat(c.in, &v, &err)) << c.in << ": " << err;
    EXPECT_DOUBLE_EQ(v, c.want) << c.in;
  }
  double v;
  std::string err;
  ASSERT_TRUE(gocompat::ParseFloat("inf", &v, &err));
  EXPECT_TRUE(std::isinf(v) && v > 0);
  ASSERT_TRUE(gocompat::ParseFloat("-Infinity", &v, &err));
  EXPECT_TRUE(std::isinf(v) && v < 0);
  ASSERT_TRUE(gocompat::ParseFloat("NaN", &v, &err));
  EXPECT_TRUE(std::isnan(v));
}

TEST(GoParseFloatTest, RejectsWithGoErrors) {
  for (const char* in : {"", "abc", "1_000", "1e", "0x10", "1.2.3", " 1", "1 ", "+nan", "infin", "--1"}) {
    double v;
    std::string err;
    EXPECT_FALSE(gocompat::ParseFloat(in, &v, &err)) << in;
    EXPECT_EQ(err, std::string("strconv.ParseFloat: parsing \"") + in + "\": invalid syntax");
  }
  double v;
  std::string err;
  EXPECT_FALSE(gocompat::ParseFloat("1e400", &v, &err));
  EXPECT_EQ(err, "strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_TRUE(std::isinf(v));
}

TEST(GoParseDurationTest, Values) {
  struct {
    const char* in;
    int64_t want;
  } cases[] = {
      {"0", 0},
      {"1s", 1000000000},
      {"1.5s", 1500000000},
      {"250ms", 250000000},
      {"-2us", -2000},
      {"1h30m", 5400000000000},
      {"1\xC2\xB5s", 1000},
      {"1\xCE\xBCs", 1000},
      {".5m", 30000000000},
      {"+3ns", 3},
  };
  for (const auto& c : cases) {
    int64_t ns = -1;
    std::string err;
    EXPECT_TRUE(gocompat::ParseDuration(c.in, &ns, &err)) << c.in << ": " << err;
    EXPECT_EQ(ns, c.want) << c.in;
  }
  EXPECT_DOUBLE_EQ(gocompat::DurationSeconds(1500000000), 1.5);
}

TEST(GoParseDurationTest, Errors) {
  struct {
    const char* in;
    const char* err;
  } cases[] = {
      {"", "time: invalid duration \"\""},
      {"fast", "time: invalid duration \"fast\""},
      {"10", "time: missing unit in duration \"10\""},
      {"1d", "time: unknown unit \"d\" in duration \"1d\""},
      {".s", "time: invalid duration \".s\""},
      {"1s2", "time: missing unit in duration \"1s2\""},
      {"99999999999h", "time: invalid duration \"99999999999h\""},
      {"1\xC3\xA9", "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\""},
  };
  for (const auto& c : cases) {
    int64_t ns;
    std::string err;
    EXPECT_FALSE(gocompat::ParseDuration(c.in, &ns, &err)) << c.in;
    EXPECT_EQ(err, c.err);
  }
}

TEST(HumanizeParseBytesTest, Values) {
  struct {
    const char* in;
    uint64_t want;
  } cases[] = {
      {"42", 42},        {"42B", 42},          {"1KB", 1000},    {"1kb", 1000},   {"1KiB", 1024},
      {"1.5 MB", 1500000}, {"1,000 KB", 1000000}, {"2 MiB", 2097152}, {"1k", 1000}, {"1Ki", 1024},
      {"1EB", 1000000000000000000ULL},
  };
  for (const auto& c : cases) {
    uint64_t b = 0;
    std::string err;
    EXPECT_TRUE(gocompat::ParseBytes(c.in, &b, &err)) << c.in << ": " << err;
    EXPECT_EQ(b, c.want) << c.in;
  }
}

TEST(HumanizeParseBytesTest, Errors) {
  struct {
    const char* in;
    const char* err;
  } cases[] = {
      {"big", "strconv.ParseFloat: parsing \"\": invalid syntax"},
      {"12XB", "unhandled size name: xb"},
      {"1.2.3KB", "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax"},
      {"20EB", "too large: 20EB"},
  };
  for (const auto& c : cases) {
    uint64_t b;
    std::string err;
    EXPECT_FALSE(gocompat::ParseBytes(c.in, &b, &err)) << c.in;
    EXPECT_EQ(err, c.err);
  }
}

TEST(IpAddrTest, ParsesLikeNetip) {
  IpAddr a;
  EXPECT_TRUE(ParseIpAddr("192.168.0.1", &a));
  EXPECT_EQ(a.bits, 32);
  EXPECT_TRUE(ParseIpAddr("::", &a));
  EXPECT_TRUE(ParseIpAddr("2001:db8::1", &a));
  EXPECT_TRUE(ParseIpAddr("::ffff:10.0.0.1", &a));
  EXPECT_EQ(a.bits, 128);
  EXPECT_TRUE(ParseIpAddr("fe80::1%eth0", &a));
  EXPECT_EQ(a.zone, "eth0");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1..2.3", "1:2", ":::1",
                          "1::2::3", "12345::1", "fe80::1%", "1.2.3.4:80", "abc"}) {
    EXPECT_FALSE(ParseIpAddr(bad, &a)) << bad;
  }
}

TEST(IpMatcherTest, PatternsAndContainment) {
  auto cidr = IpMatcher::Make("10.0.0.0/8");
  ASSERT_TRUE(cidr.ok());
  IpAddr a;
  ASSERT_TRUE(ParseIpAddr("10.255.0.1", &a));
  EXPECT_TRUE(cidr->Contains(a));
  ASSERT_TRUE(ParseIpAddr("11.0.0.1", &a));
  EXPECT_FALSE(cidr->Contains(a));
  auto range = IpMatcher::Make("::1-::5");
  ASSERT_TRUE(range.ok());
  ASSERT_TRUE(ParseIpAddr("::3", &a));
  EXPECT_TRUE(range->Contains(a));
  EXPECT_FALSE(IpMatcher::Make("10.0.0.5-10.0.0.1").ok()) << "reversed range";
  EXPECT_FALSE(IpMatcher::Make("10.0.0.1-::1").ok()) << "mixed families";
  EXPECT_FALSE(IpMatcher::Make("10.0.0.0/33").ok());
  EXPECT_FALSE(IpMatcher::Make("10.0.0.0/08").ok()) << "leading zero in bits";
  auto host_bits = IpMatcher::Make("192.168.1.7/24");
  ASSERT_TRUE(host_bits.ok()) << "netip accepts non-masked prefixes";
  ASSERT_TRUE(ParseIpAddr("192.168.1.200", &a));
  EXPECT_TRUE(host_bits->Contains(a));
}

// Loki's ipFilter.filter, position by position, as the reference for the skipping scan.
bool ReferenceMatchesIn(const IpMatcher& m, std::string_view line) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto hex = [&](char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  auto span = [&](size_t start, bool v6) {
    size_t k = start;
    while (k < line.size() && (v6 ? (hex(line[k]) || line[k] == ':' || line[k] == '.') : (digit(line[k]) || line[k] == '.'))) ++k;
    return k - start;
  };
  const size_t n = line.size();
  for (size_t i = 0; i < n; ++i) {
    const char* p = line.data() + i;
    bool v4 = i + 3 < n && digit(p[0]) && (p[1] == '.' || p[2] == '.' || p[3] == '.');
    bool v6 = !v4 && i + 4 < n &&
              ((p[0] == ':' && p[1] == ':' && hex(p[2])) || (hex(p[0]) && p[1] == ':') ||
               (hex(p[0]) && hex(p[1]) && p[2] == ':') || (hex(p[0]) && hex(p[1]) && hex(p[2]) && p[3] == ':') ||
               (hex(p[0]) && hex(p[1]) && hex(p[2]) && hex(p[3]) && p[4] == ':'));
    if (!v4 && !v6) continue;
    const size_t len = span(i, v6);
    IpAddr a;
    if (ParseIpAddr(line.substr(i, len), &a) && m.Contains(a)) return true;
    i += len;
  }
  return false;
}

TEST(IpMatcherTest, SkippingScanAgreesWithLokisPositionScan) {
  std::mt19937 rng(7);
  const std::string alphabet = "0123456789abcdef.:x -/";
  const char* inserts[] = {"10.1.2.3", "192.168.0.1", "::1", "fe80::1", "2001:db8::7", "1.2.3.4:80", "10.0.0.1.5"};
  std::vector<IpMatcher> matchers;
  for (const char* pat : {"10.0.0.0/8", "192.168.0.1", "::1", "2001:db8::/32", "1.0.0.0-2.0.0.0"}) {
    auto m = IpMatcher::Make(pat);
    ASSERT_TRUE(m.ok());
    matchers.push_back(std::move(m).value());
  }
  for (int iter = 0; iter < 5000; ++iter) {
    std::string line;
    const size_t len = rng() % 60;
    for (size_t k = 0; k < len; ++k) {
      if (rng() % 12 == 0) line += inserts[rng() % 7];
      else line += alphabet[rng() % alphabet.size()];
    }
    for (const IpMatcher& m : matchers) {
      EXPECT_EQ(m.MatchesIn(line), ReferenceMatchesIn(m, line)) << line;
    }
  }
}

TEST(PatternTest, MatchesAndNames) {
  auto p = Pattern::ParseForParser("<ip> - <_> [<ts>] \"<method> <path>\"");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->names(), (std::vector<std::string>{"ip", "ts", "method", "path"}));
  std::vector<std::string_view> caps;
  p->Matches("1.2.3.4 - frank [now] \"GET /x\"", &caps);
  EXPECT_EQ(caps, (std::vector<std::string_view>{"1.2.3.4", "now", "GET", "/x"}));
}

TEST(PatternTest, NonIdentifierAngleBracketsAreLiterals) {
  auto p = Pattern::ParseForParser("<1> <a> <b");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->names(), std::vector<std::string>{"a"});
  std::vector<std::string_view> caps;
  p->Matches("<1> x <b", &caps);
  EXPECT_EQ(caps, std::vector<std::string_view>{"x"});
}

TEST(PatternTest, ParserErrors) {
  EXPECT_EQ(Pattern::ParseForParser("no captures").status().message(), "at least one capture is required");
  EXPECT_EQ(Pattern::ParseForParser("<_> only unnamed").status().message(), "at least one capture is required");
}

}  // namespace
}  // namespace logq::pipeline
