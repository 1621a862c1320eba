// Hostile stored lines and queries against the pipeline: deep JSON, huge template output.
// Each case used to crash the process (stack overflow) or grow without bound.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::MakePipeline;
using testing::RunOnce;

// {"a":{"a":...{"a":"x"}...}} with `levels` objects.
std::string NestedObjects(int levels) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "{\"a\":";
  s += "\"x\"";
  for (int i = 0; i < levels; ++i) s += "}";
  return s;
}

// Restores the process-wide limits a test changed.
class LimitsGuard {
 public:
  LimitsGuard() : saved_(GetPipelineLimits()) {}
  ~LimitsGuard() { SetPipelineLimits(saved_); }

 private:
  PipelineLimits saved_;
};

// 30,000 levels (180 KB, under the default line limit) overflowed the stack of every `| json`
// query; now the line gets JSONParserErr naming the limit, and keeps its labels so far.
TEST(HostileInputTest, DeepJsonLineIsAParserErrorNotACrash) {
  const std::string line = NestedObjects(30000);
  const auto t0 = std::chrono::steady_clock::now();
  auto o = RunOnce("| json", R"({app="x"})", line);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(o.kept);
  EXPECT_NE(o.labels.find(R"(__error__="JSONParserErr")"), std::string::npos) << o.labels.substr(0, 300);
  EXPECT_NE(o.labels.find("more than 128 levels of objects (limits_config.max_json_depth)"), std::string::npos)
      << o.labels.substr(0, 300);
  // Linear in the line: the old scanner took seconds (quadratic) for 20,000 levels.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 3000);
  // Arrays are skipped, not descended: deep arrays never recursed.
  o = RunOnce("| json", R"({app="x"})", "{\"b\":" + std::string(30000, '[') + std::string(30000, ']') + ",\"c\":1}");
  EXPECT_EQ(o.labels, R"({app="x", c="1"})");
}

TEST(HostileInputTest, JsonDepthLimitIsExact) {
  LimitsGuard guard;
  PipelineLimits l;
  l.max_json_depth = 3;
  SetPipelineLimits(l);
  auto o = RunOnce("| json", R"({app="x"})", NestedObjects(3));
  EXPECT_EQ(o.labels, R"({a_a_a="x", app="x"})");
  o = RunOnce("| json", R"({app="x"})", R"({"z":"1","a":{"a":{"a":{"a":"x"}}}})");
  EXPECT_EQ(o.labels, R"x({__error__="JSONParserErr", __error_details__="Value is nested too deeply: more than 3 )x"
                      R"x(levels of objects (limits_config.max_json_depth)", app="x", z="1"})x");
  // `| json` filtered by __error__ drops it like any malformed line.
  o = RunOnce(R"(| json | __error__="")", R"({app="x"})", NestedObjects(4));
  EXPECT_FALSE(o.kept);
}

// Every other JSON consumer on the deep line: unpack (top level only), expressions, logfmt
// fallbacks and the deep line as a plain value.
TEST(HostileInputTest, OtherJsonStagesSurviveDeepLines) {
  const std::string line = NestedObjects(30000);
  auto o = RunOnce("| unpack", R"({app="x"})", line);
  EXPECT_TRUE(o.kept);
  o = RunOnce(R"(| json x="a.a.a")", R"({app="x"})", line);
  EXPECT_TRUE(o.kept);
  EXPECT_NE(o.labels.find("x="), std::string::npos) << o.labels.substr(0, 200);
  o = RunOnce(R"(| json x="a[0]", y="b")", R"({app="x"})", line);
  EXPECT_TRUE(o.kept);
  // An expression deeper than the cap is refused when the query is built.
  std::string path = "a";
  for (int i = 0; i < 200; ++i) path += ".a";
  auto p = MakePipeline("| json x=\"" + path + "\"");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("limits_config.max_json_depth"), std::string::npos) << p.status().message();
}

// line_format output is capped per line by limits_config.max_template_output_size; beyond
// it the line keeps its text and gets TemplateFormatErr (Loki's template error handling).
TEST(HostileInputTest, TemplateOutputIsCappedByTheConfiguredLimit) {
  LimitsGuard guard;
  PipelineLimits l;
  l.max_template_output_bytes = 1000;
  SetPipelineLimits(l);
  auto o = RunOnce(R"(| line_format "{{ repeat 1001 \"z\" }}")", R"({app="x"})", "orig");
  EXPECT_TRUE(o.kept);
  EXPECT_EQ(o.line, "orig");
  EXPECT_NE(o.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos) << o.labels;
  EXPECT_NE(o.labels.find("template output exceeds 1000 bytes (limits_config.max_template_output_size)"),
            std::string::npos)
      << o.labels;
  o = RunOnce(R"(| line_format "{{ repeat 1000 \"z\" }}")", R"({app="x"})", "orig");
  EXPECT_EQ(o.line, std::string(1000, 'z'));
  // The plain field path (no evaluation) too.
  o = RunOnce(R"(| line_format "{{.app}}{{.app}}")", R"({app=")" + std::string(600, 'q') + "\"}", "orig");
  EXPECT_EQ(o.line, "orig");
  EXPECT_NE(o.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos);
  // label_format values as well.
  o = RunOnce(R"(| label_format y=`{{ repeat 2000 "z" }}`)", R"({app="x"})", "orig");
  EXPECT_NE(o.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos) << o.labels.substr(0, 200);
}

// Submatch extraction grows with the square of the groups and cannot be interrupted within a
// line (3,000 groups: minutes for one 2 KB line): the regexp parser takes at most 128.
TEST(HostileInputTest, RegexpParserCapsCaptureGroups) {
  auto groups = [](int n) {
    std::string re;
    for (int i = 0; i < n; ++i) re += "(?P<g" + std::to_string(i) + ">a?)";
    return "| regexp \"" + re + "\"";
  };
  EXPECT_TRUE(MakePipeline(groups(128)).ok());
  auto p = MakePipeline(groups(3000));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("invalid regexp parser: more than 128 capture groups (3000)"), std::string::npos)
      << p.status().message();
}

}  // namespace
}  // namespace logq::pipeline
