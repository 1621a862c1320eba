// line_format, label_format, drop, keep and decolorize.
#include <gtest/gtest.h>

#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::MakePipeline;
using testing::RunOnce;

struct FormatCase {
  const char* name;
  const char* pipeline;
  const char* stream;
  std::string line;
  std::string want_line;
  const char* want_labels;
  int64_t ts = 0;
};

class FormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatTest, RewritesLineAndLabels) {
  const FormatCase& c = GetParam();
  auto out = RunOnce(c.pipeline, c.stream, c.line, {}, c.ts);
  ASSERT_TRUE(out.kept);
  EXPECT_EQ(out.line, c.want_line);
  EXPECT_EQ(out.labels, c.want_labels);
}

const FormatCase kCases[] = {
    // line_format
    {"line_format_single_field", R"(| logfmt | line_format "{{.a}}")", "{}", "a=1 b=2", "1", R"({a="1", b="2"})"},
    {"line_format_single_field_spaced", R"(| logfmt | line_format "{{ .b }}")", "{}", "a=1 b=2", "2",
     R"({a="1", b="2"})"},
    {"line_format_absent_field_is_empty", R"(| line_format "{{.missing}}")", "{}", "x", "", "{}"},
    {"line_format_template", R"(| logfmt | line_format "{{.a}}-{{.b}}")", "{}", "a=1 b=2", "1-2",
     R"({a="1", b="2"})"},
    {"line_format_stream_labels", R"(| line_format "app={{.app}}")", R"({app="web"})", "x", "app=web",
     R"({app="web"})"},
    {"line_format_function", R"(| logfmt | line_format "{{ .a | ToUpper }}")", "{}", "a=x", "X", R"({a="x"})"},
    {"line_format_line_function", R"(| line_format "[{{ __line__ }}]")", "{}", "hello", "[hello]", "{}"},
    {"line_format_sees_errors", R"(| json | line_format "err={{.__error__}}")", "{}", "oops", "err=JSONParserErr",
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})"},
    {"line_format_twice", R"(| logfmt | line_format "{{.a}} {{.b}}" | line_format "<{{__line__}}>")", "{}", "a=1 b=2",
     "<1 2>", R"({a="1", b="2"})"},
    {"line_format_whole_map", R"(| logfmt | line_format "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}")",
     R"({app="w"})", "b=2 a=1", "a=1;app=w;b=2;", R"({a="1", app="w", b="2"})"},
    {"label_format_whole_map", R"(| logfmt | label_format all="{{ range $k, $v := . }}{{ $k }}{{ end }}")", "{}",
     "b=2 a=1", "b=2 a=1", R"({a="1", all="ab", b="2"})"},
    {"line_format_then_filter", R"(| logfmt | line_format "{{.msg}}" |= "hello")", "{}", R"(msg="hello world")",
     "hello world", R"({msg="hello world"})"},
    // label_format
    {"label_format_rename", R"(| logfmt | label_format dst=a)", "{}", "a=1 b=2", "a=1 b=2", R"({b="2", dst="1"})"},
    {"label_format_rename_stream_label", R"(| label_format svc=app)", R"({app="web", env="prod"})", "x", "x",
     R"({env="prod", svc="web"})"},
    {"label_format_rename_missing_source", R"(| label_format dst=nope)", R"({app="web"})", "x", "x", R"({app="web"})"},
    {"label_format_rename_to_itself_removes_it", R"(| logfmt | label_format a=a)", "{}", "a=1 b=2", "a=1 b=2",
     R"({b="2"})"},
    {"label_format_template", R"(| logfmt | label_format c="{{.a}}-{{.b}}")", "{}", "a=1 b=2", "a=1 b=2",
     R"({a="1", b="2", c="1-2"})"},
    {"label_format_overrides_stream_label", R"(| label_format app="{{.app}}-x")", R"({app="web"})", "x", "x",
     R"({app="web-x"})"},
    {"label_format_templates_see_labels_before_the_stage", R"(| logfmt | label_format a="{{.b}}", c="{{.a}}")", "{}",
     "a=1 b=2", "a=1 b=2", R"({a="2", b="2", c="1"})"},
    {"label_format_line_and_timestamp", R"(| label_format l="{{__line__}}")", "{}", "hello", "hello",
     R"({l="hello"})"},
    // drop
    {"drop_parsed", R"(| logfmt | drop a)", "{}", "a=1 b=2", "a=1 b=2", R"({b="2"})"},
    {"drop_stream_label", R"(| drop env)", R"({app="web", env="prod"})", "x", "x", R"({app="web"})"},
    {"drop_several", R"(| logfmt | drop a, b)", R"({app="web"})", "a=1 b=2 c=3", "a=1 b=2 c=3",
     R"({app="web", c="3"})"},
    {"drop_matcher_matches", R"(| logfmt | drop a="1")", "{}", "a=1 b=2", "a=1 b=2", R"({b="2"})"},
    {"drop_matcher_no_match", R"(| logfmt | drop a="9")", "{}", "a=1 b=2", "a=1 b=2", R"({a="1", b="2"})"},
    {"drop_regex_matcher", R"(| logfmt | drop a=~"[0-9]+", b!="2")", "{}", "a=1 b=2", "a=1 b=2", R"({b="2"})"},
    {"drop_error", R"(| json | drop __error__, __error_details__)", R"({app="web"})", "oops", "oops",
     R"({app="web"})"},
    {"drop_error_matcher", R"(| json | drop __error__="JSONParserErr" | logfmt)", "{}", "a=1", "a=1",
     R"({__error_details__="Value looks like object, but can't find closing '}' symbol", a="1"})"},
    {"drop_error_matcher_no_match", R"(| json | drop __error__="Other")", "{}", "oops", "oops",
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})"},
    // keep
    {"keep_names", R"(| logfmt | keep a)", R"({app="web"})", "a=1 b=2", "a=1 b=2", R"({a="1"})"},
    {"keep_stream_and_parsed", R"(| logfmt | keep app, b)", R"({app="web", env="prod"})", "a=1 b=2", "a=1 b=2",
     R"({app="web", b="2"})"},
    {"keep_matcher", R"(| logfmt | keep a="1", b="9")", "{}", "a=1 b=2", "a=1 b=2", R"({a="1"})"},
    {"keep_never_drops_errors", R"(| json | keep app)", R"({app="web", env="prod"})", "oops", "oops",
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="web"})"},
    // decolorize
    {"decolorize_sgr", "| decolorize", "{}", "\x1b[31mERROR\x1b[0m done", "ERROR done", "{}"},
    {"decolorize_c1_csi", "| decolorize", "{}", "\xC2\x9B" "31mX", "X", "{}"},
    {"decolorize_osc_title", "| decolorize", "{}", "\x1b]0;title\x07rest", "rest", "{}"},
    {"decolorize_plain_line_unchanged", "| decolorize", "{}", "plain", "plain", "{}"},
    // Loki moves line filters in front of decolorize: the filter sees the colored line.
    {"decolorize_filters_run_first", R"(| decolorize |= "31m")", "{}", "\x1b[31mX", "X", "{}"},
};

INSTANTIATE_TEST_SUITE_P(Cases, FormatTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(FormatErrorsTest, LineFormatExecutionErrorKeepsLineAndSetsError) {
  auto out = RunOnce(R"(| line_format "{{ regexReplaceAll \"(\" __line__ \"x\" }}")", "{}", "abc");
  ASSERT_TRUE(out.kept);
  EXPECT_EQ(out.line, "abc");
  EXPECT_NE(out.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos) << out.labels;
  EXPECT_NE(out.labels.find("__error_details__="), std::string::npos) << out.labels;
}

TEST(FormatErrorsTest, LabelFormatExecutionErrorKeepsOtherLabels) {
  auto out = RunOnce(R"(| label_format bad="{{ regexReplaceAll \"(\" __line__ \"x\" }}", good="ok")", "{}", "abc");
  ASSERT_TRUE(out.kept);
  EXPECT_NE(out.labels.find(R"(__error__="TemplateFormatErr")"), std::string::npos) << out.labels;
  EXPECT_NE(out.labels.find(R"(good="ok")"), std::string::npos) << out.labels;
  EXPECT_EQ(out.labels.find("bad="), std::string::npos) << out.labels;
}

TEST(FormatErrorsTest, InvalidTemplatesAreRejectedAtBuild) {
  auto line = MakePipeline(R"(| line_format "{{ .a ")");
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.status().message().rfind("parse error : stage '| line_format \"{{ .a \"' : invalid line template: ", 0), 0u) << line.status().message();
  auto label = MakePipeline(R"(| label_format x="{{ .a ")");
  ASSERT_FALSE(label.ok());
  EXPECT_EQ(label.status().message().rfind("parse error : stage '| label_format x=\"{{ .a \"' : invalid template for label 'x': template: label:1: ", 0), 0u) << label.status().message();
}

TEST(FormatErrorsTest, LabelFormatValidation) {
  auto err = MakePipeline(R"(| label_format __error__="x")");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(), "parse error : stage '| label_format __error__=\"x\"' : __error__ cannot be formatted");
  auto dup = MakePipeline(R"(| label_format a="x", a=b)");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(),
            "parse error : stage '| label_format a=\"x\",a=b' : multiple label name 'a' not allowed in a single format "
            "operation");
}

TEST(FormatStateTest, LineFormatOutputIsValidUntilNextLine) {
  auto p = MakePipeline(R"(| logfmt | line_format "{{.a}}!")");
  ASSERT_TRUE(p.ok());
  auto sp = (*p)->ForStream(testing::L("{}"));
  EXPECT_EQ(testing::Feed(sp.get(), "a=first").line, "first!");
  EXPECT_EQ(testing::Feed(sp.get(), "a=second").line, "second!");
  // A simple-field line_format copies the value: changing the label later does not alter it.
  auto p2 = MakePipeline(R"(| logfmt | line_format "{{.a}}" | label_format a="changed")");
  ASSERT_TRUE(p2.ok());
  auto sp2 = (*p2)->ForStream(testing::L("{}"));
  auto out = testing::Feed(sp2.get(), "a=orig");
  EXPECT_EQ(out.line, "orig");
  EXPECT_EQ(out.labels, R"({a="changed"})");
}

TEST(FormatStateTest, TimestampReachesTemplates) {
  auto out = RunOnce(R"(| line_format "{{ __timestamp__ | unixEpochNanos }}")", "{}", "x", {}, 1700000000123456789);
  ASSERT_TRUE(out.kept);
  EXPECT_EQ(out.line, "1700000000123456789");
}

}  // namespace
}  // namespace logq::pipeline
