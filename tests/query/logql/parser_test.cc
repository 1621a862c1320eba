#include "query/logql/parser.h"

#include <gtest/gtest.h>

namespace logq::logql {
namespace {

struct RoundTrip {
  const char* query;
  const char* canonical;  // nullptr: same as query
};

class ParserRoundTripTest : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(ParserRoundTripTest, PrintsCanonicallyAndReparsesToTheSame) {
  const RoundTrip& c = GetParam();
  auto e = ParseExpr(c.query);
  ASSERT_TRUE(e.ok()) << c.query << ": " << e.status().message();
  std::string printed = ToString(**e);
  EXPECT_EQ(printed, c.canonical ? c.canonical : c.query);
  auto again = ParseExpr(printed);
  ASSERT_TRUE(again.ok()) << printed << ": " << again.status().message();
  EXPECT_EQ(ToString(**again), printed);
}

INSTANTIATE_TEST_SUITE_P(
    Queries, ParserRoundTripTest,
    ::testing::Values(
        RoundTrip{R"({app="a"})", nullptr},
        RoundTrip{R"({app="a",env!="dev", ns=~"p.*", pod!~`x`})", R"({app="a", env!="dev", ns=~"p.*", pod!~"x"})"},
        RoundTrip{R"({app="a"} |= "error" != "timeout" |~ "(?i)fail" !~ "x+" |> "<_> err" !> "a<_>")", nullptr},
        RoundTrip{R"({app="a"} |= "a" or "b" |= ip("10.0.0.0/8"))", nullptr},
        RoundTrip{R"({app="a"} | json)", nullptr},
        RoundTrip{R"({app="a"} | json first="servers[0]", ua="request.headers[\"User-Agent\"]")", nullptr},
        RoundTrip{R"({app="a"} | logfmt --strict --keep-empty)", nullptr},
        RoundTrip{R"({app="a"} | logfmt msg, lvl="level")", R"({app="a"} | logfmt msg="msg", lvl="level")"},
        RoundTrip{R"x({app="a"} | regexp "(?P<ip>\\S+) (?P<verb>\\w+)")x", nullptr},
        RoundTrip{R"({app="a"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status>")", nullptr},
        RoundTrip{R"({app="a"} | unpack)", nullptr},
        RoundTrip{R"({app="a"} | json | level="error")", nullptr},
        RoundTrip{R"({app="a"} | logfmt | status >= 400 and duration > 1.5s or size < 20KB)",
                  R"({app="a"} | logfmt | status>=400, duration>1s500ms or size<20KB)"},
        RoundTrip{R"({app="a"} | logfmt | (a="1" or b="2"), c!="3")", nullptr},
        RoundTrip{R"({app="a"} | logfmt | a="1" b="2")", R"({app="a"} | logfmt | a="1", b="2")"},
        RoundTrip{R"({app="a"} | logfmt | addr=ip("192.168.0.0/16"))", nullptr},
        RoundTrip{R"({app="a"} | line_format "{{.level}}: {{.msg}}")", nullptr},
        RoundTrip{R"({app="a"} | label_format dst=src, msg="{{ .m | ToUpper }}")",
                  R"({app="a"} | label_format dst=src,msg="{{ .m | ToUpper }}")"},
        RoundTrip{R"({app="a"} | drop __error__, __error_details__, level="debug")",
                  R"({app="a"} | drop __error__,__error_details__,level="debug")"},
        RoundTrip{R"({app="a"} | keep app, level)", R"({app="a"} | keep app,level)"},
        RoundTrip{R"({app="a"} | decolorize)", nullptr},
        RoundTrip{R"(count_over_time({app="a"}[5m]))", nullptr},
        RoundTrip{R"(rate({app="a"} |= "x" [1m] offset 1h))", R"(rate({app="a"} |= "x"[1m] offset 1h))"},
        RoundTrip{R"(count_over_time({app="a"}[5m] |= "x"))", R"(count_over_time({app="a"} |= "x"[5m]))"},
        RoundTrip{R"(count_over_time(({app="a"} |= "x")[5m]))", R"(count_over_time({app="a"} |= "x"[5m]))"},
        RoundTrip{R"(avg_over_time({app="a"} | logfmt | unwrap bytes(size) | __error__="" [5m]) by (host))",
                  R"(avg_over_time({app="a"} | logfmt | unwrap bytes(size) | __error__=""[5m]) by (host))"},
        RoundTrip{R"(quantile_over_time(0.99, {app="a"} | json | unwrap duration(latency) [1m]) by (path))",
                  R"(quantile_over_time(0.99,{app="a"} | json | unwrap duration(latency)[1m]) by (path))"},
        RoundTrip{R"(sum by (level) (count_over_time({app="a"} | json[1m])))",
                  R"(sum by (level)(count_over_time({app="a"} | json[1m])))"},
        RoundTrip{R"(sum(count_over_time({app="a"}[1m])) by (level))",
                  R"(sum by (level)(count_over_time({app="a"}[1m])))"},
        RoundTrip{R"(topk(3, sum by (app) (rate({app=~".+"}[5m]))))",
                  R"(topk(3,sum by (app)(rate({app=~".+"}[5m]))))"},
        RoundTrip{R"(vector(1)+vector(1))", R"((vector(1) + vector(1)))"},
        RoundTrip{R"(1 + 2 * 3 ^ 2 ^ 2)", R"((1 + (2 * (3 ^ (2 ^ 2)))))"},
        RoundTrip{R"(sum(rate({a="b"}[1m])) / on(x) group_left(y) sum(rate({a="c"}[1m])))",
                  R"((sum(rate({a="b"}[1m])) / on(x) group_left(y) sum(rate({a="c"}[1m]))))"},
        RoundTrip{R"(count_over_time({a="b"}[1m]) > bool 2)", R"((count_over_time({a="b"}[1m]) > bool 2))"},
        RoundTrip{R"(rate({a="b"}[1m]) or rate({a="c"}[1m]) and rate({a="d"}[1m]))",
                  R"((rate({a="b"}[1m]) or (rate({a="c"}[1m]) and rate({a="d"}[1m]))))"},
        RoundTrip{R"x(label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)"))x",
                  R"x(label_replace(rate({a="b"}[1m]),"dst","$1","src","(.*)"))x"},
        RoundTrip{R"(-1)", nullptr},
        RoundTrip{R"(1+1--1)", R"(((1 + 1) - -1))"},
        RoundTrip{R"(0x1p3 * 2)", R"((8 * 2))"},
        RoundTrip{R"(1 < 2)", R"((1 < 2))"},
        RoundTrip{R"(sort_desc(sum by (a) (rate({a="b"}[1m]))))", R"(sort_desc(sum by (a)(rate({a="b"}[1m]))))"},
        RoundTrip{"{app=\"a\"} # a comment\n|= \"x\"", R"({app="a"} |= "x")"}));

struct Bad {
  const char* query;
  const char* want;  // substring of the error
};

class ParserErrorTest : public ::testing::TestWithParam<Bad> {};

TEST_P(ParserErrorTest, RejectsWithPositionedMessage) {
  auto e = ParseExpr(GetParam().query);
  ASSERT_FALSE(e.ok()) << GetParam().query;
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find(GetParam().want), std::string::npos)
      << GetParam().query << " -> " << e.status().message();
  EXPECT_EQ(e.status().message().rfind("parse error", 0), 0u) << e.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Queries, ParserErrorTest,
    ::testing::Values(Bad{"{", "parse error at line 1, col 2"}, Bad{R"({a="b"} |=)", "expecting STRING"},
                      Bad{R"({a=~".*"})", "empty-compatible value"}, Bad{R"({a="b")", "parse error at line 1, col 7"},
                      Bad{R"x({a="b"} | regexp "(?P<a>x)\\1")x", "parse error : invalid regexp parser: error parsing regexp: invalid escape"}, Bad{R"(foo({a="b"}))", "IDENTIFIER"},
                      Bad{R"(count_over_time({a="b"}))", "expecting ["},
                      Bad{R"(avg_over_time({a="b"}[1m]))", "without unwrap"},
                      Bad{R"(count_over_time({a="b"} | unwrap x [1m]))", "with unwrap"},
                      Bad{R"(topk(sum(rate({a="b"}[1m]))))", "parameter required"},
                      Bad{R"(sum(3, rate({a="b"}[1m])))", "unsupported parameter"},
                      Bad{R"(count_over_time({a="b"}[1m]) by (x))", "grouping not allowed"},
                      Bad{R"({a="b"}[5m])", "range aggregation"}, Bad{R"({a="b"} + 1)", "metric expressions"},
                      Bad{R"(1 > 0b1010)", "unable to parse literal as a float"}, Bad{"{a=\"b\"}\n| json | x >", "line 2"},
                      Bad{R"x({a="b"} | regexp "(\\w+)")x", "named capture"},
                      Bad{R"({a="b"} | logfmt --nope)", "expecting NUMBER"}, Bad{"", "unexpected end"},
                      Bad{R"(sum(rate({a="b"}[1m])) and 1)", "literal"}));

TEST(ParserTest, RejectsOversizedInput) {
  std::string q = "{a=\"" + std::string(200000, 'x') + "\"}";
  auto e = ParseExpr(q);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("input size too long (200006 > 131072)"), std::string::npos);
}

TEST(ParserTest, CapsNestingDepth) {
  std::string q;
  for (int i = 0; i < 10000; ++i) q += "(";
  q += "1";
  for (int i = 0; i < 10000; ++i) q += ")";
  auto e = ParseExpr(q);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("nesting too deep"), std::string::npos);
}

TEST(ParserTest, ParsesGrafanaHealthCheckAndVolumeQueries) {
  EXPECT_TRUE(ParseExpr("vector(1)+vector(1)").ok());
  EXPECT_TRUE(ParseExpr(R"(sum by (level, detected_level) (count_over_time({app="api"} | drop __error__[2s])))").ok());
  EXPECT_TRUE(ParseExpr(R"({app="api"} | drop __stream_shard__)").ok());
}

}  // namespace
}  // namespace logq::logql
