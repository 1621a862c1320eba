// Sample extraction for range aggregations: count/rate/bytes/absent values, unwrap with
// float/duration/bytes conversions and their errors, post-unwrap filters, and the series
// labels after by/without grouping.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::L;

Result<std::shared_ptr<const SampleExtractor>> MakeExtractor(std::string_view query) {
  auto e = logql::ParseExpr(query);
  if (!e.ok()) return e.status();
  if ((*e)->kind != logql::Expr::Kind::kRangeAggregation) return InvalidArgument("not a range aggregation");
  return SampleExtractor::Make(static_cast<const logql::RangeAggregationExpr&>(**e));
}

struct Sample {
  bool ok = false;
  double value = 0;
  std::string labels;
  const ResultLabels* result = nullptr;
};

Sample Extract(StreamSampleExtractor* se, std::string_view line, const std::vector<Label>& md = {}) {
  Sample s;
  const ResultLabels* rl = nullptr;
  s.ok = se->Process(0, line, md, &s.value, &rl);
  if (s.ok) {
    s.labels = rl->text;
    s.result = rl;
  }
  return s;
}

struct ExtractCase {
  const char* name;
  const char* query;
  const char* stream;
  const char* line;
  bool ok;
  double value;
  const char* labels;
};

class SampleExtractorTest : public ::testing::TestWithParam<ExtractCase> {};

TEST_P(SampleExtractorTest, ExtractsValueAndSeriesLabels) {
  const ExtractCase& c = GetParam();
  auto ex = MakeExtractor(c.query);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  auto se = (*ex)->ForStream(L(c.stream));
  Sample s = Extract(se.get(), c.line);
  ASSERT_EQ(s.ok, c.ok) << c.query << " on " << c.line;
  if (!c.ok) return;
  EXPECT_DOUBLE_EQ(s.value, c.value);
  EXPECT_EQ(s.labels, c.labels);
}

const ExtractCase kCases[] = {
    {"count", R"(count_over_time({app="a"} |= "x" [1m]))", R"({app="a"})", "x1", true, 1, R"({app="a"})"},
    {"count_filtered_out", R"(count_over_time({app="a"} |= "x" [1m]))", R"({app="a"})", "y", false, 0, ""},
    {"rate", R"(rate({app="a"} | logfmt [1m]))", R"({app="a"})", "level=info", true, 1, R"({app="a", level="info"})"},
    {"bytes_over_time", R"(bytes_over_time({app="a"}[1m]))", R"({app="a"})", "hello", true, 5, R"({app="a"})"},
    {"bytes_rate_counts_formatted_line", R"(bytes_rate({app="a"} | line_format "xy" [1m]))", R"({app="a"})",
     "hello", true, 2, R"({app="a"})"},
    {"absent_has_no_labels", R"(absent_over_time({app="a"} | logfmt [1m]))", R"({app="a"})", "level=info", true, 1,
     "{}"},
    {"count_keeps_parser_errors", R"(count_over_time({app="a"} | json [1m]))", R"({app="a"})", "oops", true, 1,
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="a"})"},
    {"unwrap_float_drops_the_label", R"(sum_over_time({app="a"} | logfmt | unwrap latency [1m]))", R"({app="a"})",
     "latency=1.5 x=y", true, 1.5, R"({app="a", x="y"})"},
    {"unwrap_by", R"(max_over_time({app="a"} | logfmt | unwrap latency [1m]) by (x))", R"({app="a"})",
     "latency=2 x=y z=w", true, 2, R"({x="y"})"},
    {"unwrap_by_stream_label", R"(max_over_time({app="a"} | logfmt | unwrap latency [1m]) by (app, nope))",
     R"({app="a", env="p"})", "latency=2 x=y", true, 2, R"({app="a"})"},
    {"unwrap_without", R"(max_over_time({app="a"} | logfmt | unwrap latency [1m]) without (x))",
     R"({app="a", env="p"})", "latency=3 x=y z=w", true, 3, R"({app="a", env="p", z="w"})"},
    {"unwrap_by_nothing", R"(max_over_time({app="a"} | logfmt | unwrap latency [1m]) by ())", R"({app="a"})",
     "latency=3 x=y", true, 3, "{}"},
    {"unwrap_stream_label", R"(avg_over_time({app="a"} | unwrap n [1m]))", R"({app="a", n="7"})", "x", true, 7,
     R"({app="a"})"},
    {"unwrap_scientific", R"(sum_over_time({app="a"} | logfmt | unwrap v [1m]))", "{}", "v=1e-3", true, 0.001, "{}"},
    {"unwrap_duration", R"(sum_over_time({app="a"} | logfmt | unwrap duration(latency) [1m]))", "{}",
     "latency=250ms", true, 0.25, "{}"},
    {"unwrap_duration_seconds", R"(sum_over_time({app="a"} | logfmt | unwrap duration_seconds(latency) [1m]))", "{}",
     "latency=1m30s", true, 90, "{}"},
    {"unwrap_bytes", R"(sum_over_time({app="a"} | logfmt | unwrap bytes(size) [1m]))", "{}", "size=1KiB", true, 1024,
     "{}"},
    {"unwrap_bytes_si", R"(sum_over_time({app="a"} | logfmt | unwrap bytes(size) [1m]))", "{}", "size=1.5MB", true,
     1500000, "{}"},
    {"unwrap_missing_label_no_sample", R"(sum_over_time({app="a"} | logfmt | unwrap latency [1m]))", "{}", "x=1",
     false, 0, ""},
    {"unwrap_empty_value_no_sample", R"(sum_over_time({app="a"} | logfmt --keep-empty | unwrap latency [1m]))", "{}",
     "latency= x=1", false, 0, ""},
    // A conversion failure keeps the sample (value 0) with the error and all labels, so the
    // engine can report Loki's pipeline error.
    {"unwrap_conversion_error", R"(max_over_time({app="a"} | logfmt | unwrap latency [1m]) by (x))", R"({app="a"})",
     "latency=abc x=y", true, 0,
     R"({__error__="SampleExtractionErr", __error_details__="strconv.ParseFloat: parsing \"abc\": invalid syntax", app="a", latency="abc", x="y"})"},
    {"unwrap_duration_error", R"(sum_over_time({app="a"} | logfmt | unwrap duration(d) [1m]))", "{}", "d=5", true, 0,
     R"({__error__="SampleExtractionErr", __error_details__="time: missing unit in duration \"5\"", d="5"})"},
    {"unwrap_bytes_error", R"(sum_over_time({app="a"} | logfmt | unwrap bytes(b) [1m]))", "{}", "b=5QB", true, 0,
     R"({__error__="SampleExtractionErr", __error_details__="unhandled size name: qb", b="5QB"})"},
    {"post_filter_drops_errors", R"(sum_over_time({app="a"} | logfmt | unwrap latency | __error__="" [1m]))", "{}",
     "latency=abc", false, 0, ""},
    {"post_filter_keeps_good", R"(sum_over_time({app="a"} | logfmt | unwrap latency | __error__="" [1m]))", "{}",
     "latency=4", true, 4, "{}"},
    {"post_filter_on_labels", R"(sum_over_time({app="a"} | logfmt | unwrap latency | x="y" [1m]))", "{}",
     "latency=4 x=z", false, 0, ""},
    {"post_filter_sees_the_unwrapped_label", R"(sum_over_time({app="a"} | logfmt | unwrap latency | latency > 3 [1m]))",
     "{}", "latency=4", true, 4, "{}"},
    {"quantile_unwrap", R"(quantile_over_time(0.99, {app="a"} | logfmt | unwrap v [1m]) by (app))", R"({app="a"})",
     "v=9", true, 9, R"({app="a"})"},
    {"unwrap_inf", R"(sum_over_time({app="a"} | logfmt | unwrap v [1m]))", "{}", "v=+Inf", true, INFINITY, "{}"},
};

INSTANTIATE_TEST_SUITE_P(Cases, SampleExtractorTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SampleExtractorBuildTest, UnsupportedOperationWithoutUnwrap) {
  logql::RangeAggregationExpr r;
  r.op = logql::RangeOp::kSumOverTime;
  auto log = std::make_shared<logql::LogExpr>();
  r.log = log;
  auto ex = SampleExtractor::Make(r);
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.status().message(), "unsupported range vector aggregation operation: sum_over_time");
}

TEST(SampleExtractorBuildTest, GroupingOnLineExtractorReducesLabels) {
  auto e = logql::ParseLogExpr(R"({app="a"} | logfmt)");
  ASSERT_TRUE(e.ok());
  logql::RangeAggregationExpr r;
  r.op = logql::RangeOp::kCountOverTime;
  r.log = *e;
  r.grouping = logql::Grouping{false, {"level"}};
  auto ex = SampleExtractor::Make(r);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  auto se = (*ex)->ForStream(L(R"({app="a"})"));
  EXPECT_EQ(Extract(se.get(), "level=error x=1").labels, R"({level="error"})");
  // Unchanged lines take the base-group shortcut.
  EXPECT_EQ(Extract(se.get(), "").labels, "{}");
}

TEST(SampleExtractorBuildTest, RequiredLiteralsComeFromTheLogPipeline) {
  auto ex = MakeExtractor(R"(count_over_time({app="a"} |= "needle" | json [1m]))");
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ((*ex)->RequiredLiterals(), std::vector<std::string>{"needle"});
}

TEST(SampleExtractorStateTest, SeriesLabelsAreStablePointers) {
  auto ex = MakeExtractor(R"(max_over_time({app="a"} | logfmt | unwrap v [1m]) by (level))");
  ASSERT_TRUE(ex.ok());
  auto se = (*ex)->ForStream(L(R"({app="a"})"));
  Sample a = Extract(se.get(), "v=1 level=info id=1");
  Sample b = Extract(se.get(), "v=2 level=info id=2");
  Sample c = Extract(se.get(), "v=3 level=warn id=3");
  ASSERT_TRUE(a.ok && b.ok && c.ok);
  EXPECT_EQ(a.result, b.result);
  EXPECT_NE(a.result, c.result);
  EXPECT_EQ(a.labels, R"({level="info"})");
}

TEST(SampleExtractorStateTest, StreamExtractorOutlivesTheExtractor) {
  std::unique_ptr<StreamSampleExtractor> se;
  {
    auto ex = MakeExtractor(R"(count_over_time({app="a"} |= "x" [1m]))");
    ASSERT_TRUE(ex.ok());
    se = (*ex)->ForStream(L(R"({app="a"})"));
  }
  EXPECT_TRUE(Extract(se.get(), "x").ok);
}

}  // namespace
}  // namespace logq::pipeline
