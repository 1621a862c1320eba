// Parser stages: json (flattening and expressions), logfmt (plain, --strict, --keep-empty,
// expressions), regexp, pattern and unpack. Expected labels follow Loki's own test tables
// (pkg/logql/log/parser_test.go), including error details and `_extracted` renames.
#include <gtest/gtest.h>

#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::MakePipeline;
using testing::RunOnce;

struct ParserCase {
  const char* name;
  const char* pipeline;
  const char* stream;
  std::string line;
  std::vector<Label> md;
  const char* want_labels;
  const char* want_line = nullptr;  // nullptr: the input line
};

class ParserTest : public ::testing::TestWithParam<ParserCase> {};

TEST_P(ParserTest, ExtractsLabels) {
  const ParserCase& c = GetParam();
  auto out = RunOnce(c.pipeline, c.stream, c.line, c.md);
  ASSERT_TRUE(out.kept);
  EXPECT_EQ(out.labels, c.want_labels);
  EXPECT_EQ(out.line, c.want_line ? std::string(c.want_line) : c.line);
}

const std::string kJsonExprLine =
    R"({"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,"bool_field":false,)"
    R"("namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar", "params": [1,2,3,"string_value"]}}})";
const std::string kLogfmtExprLine =
    R"(app=foo level=error spaces="value with ÜFT8👌" ts=2021-02-12T19:18:10.037940878Z)";
const std::string kApacheLine =
    R"(127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326)";
const char* kApachePattern = R"(| pattern `<ip> <userid> <user> [<_>] "<method> <path> <_>" <status> <size>`)";

const ParserCase kCases[] = {
    // ---- json ----
    {"json_multi_depth", "| json", "{}",
     R"({"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}})", {},
     R"({app="foo", namespace="prod", pod_deployment_ref="foobar", pod_uuid="foo"})"},
    {"json_clash_with_stream_labels", "| json", R"({app="foo", pod_uuid="foo"})",
     R"({"app":"bar","namespace":"prod","pod":{"uuid":"bar","deployment":{"ref":"foobar"}}})", {},
     R"({app="foo", app_extracted="bar", namespace="prod", pod_deployment_ref="foobar", pod_uuid="foo", pod_uuid_extracted="bar"})"},
    {"json_numbers_kept_verbatim", "| json", "{}", R"({"counter":1, "price": {"_net_":5.56909}, "e":1e3})", {},
     R"({counter="1", e="1e3", price__net_="5.56909"})"},
    {"json_whitespace_parent_key", "| json", "{}", R"({" ": {"foo":"bar"}})", {}, R"({foo="bar"})"},
    {"json_whitespace_keys_make_empty_name", "| json", "{}", R"({" ": {" ":"bar"}})", {}, R"({="bar"})"},
    {"json_escapes", "| json", "{}", R"({"counter":1,"foo":"foo\\\"bar"})", {}, R"({counter="1", foo="foo\\\"bar"})"},
    {"json_unicode_escapes", "| json", "{}", R"({"a":"\u00e9\ud83d\ude00\n"})", {}, "{a=\"\xC3\xA9\xF0\x9F\x98\x80\\n\"}"},
    {"json_invalid_escape_gives_empty_value", "| json", "{}", R"({"a":"x\qy","b":"2"})", {}, R"({a="", b="2"})"},
    {"json_rune_error_becomes_space", "| json", "{}", "{\"counter\":1,\"foo\":\"\xEF\xBF\xBD\",\"bad\":\"a\xFFz\"}", {},
     R"({bad="a z", counter="1", foo=" "})"},
    {"json_skips_arrays_and_nulls", "| json", "{}", R"({"counter":1, "price": {"net_":["10","20"]}, "n":null})", {},
     R"({counter="1"})"},
    {"json_booleans", "| json", "{}", R"({"t":true,"f":false})", {}, R"({f="false", t="true"})"},
    {"json_bad_key_characters", "| json", "{}", R"({"cou-nter":1,"a.b":{"c d":2}})", {},
     R"({a_b_c_d="2", cou_nter="1"})"},
    {"json_digit_keys_get_underscore", "| json", "{}", R"({"1a":"x","b":{"2c":"y"}})", {}, R"({_1a="x", b__2c="y"})"},
    {"json_trailing_garbage_ignored", "| json", "{}", R"({"foo":{"cou-nter":1}}")", {}, R"({foo_cou_nter="1"})"},
    {"json_duplicate_key_first_wins", "| json", "{}", R"({"a":"1","a":"2"})", {}, R"({a="1"})"},
    {"json_error_bad_object", "| json", "{}", "{n}", {},
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})"},
    {"json_error_not_json", "| json", R"({app="x"})", "plain text line", {},
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", app="x"})"},
    {"json_error_empty_line", "| json", "{}", "", {},
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})"},
    {"json_error_truncated_keeps_earlier_labels", "| json", "{}", R"({"a":"x","b":1)", {},
     R"({__error__="JSONParserErr", __error_details__="Value is array, but can't find closing ']' symbol", a="x", b="1"})"},
    {"json_error_unterminated_string", "| json", "{}", R"({"a":"x)", {},
     R"({__error__="JSONParserErr", __error_details__="Value is string, but can't find closing '\"' symbol"})"},
    {"json_error_unknown_value", "| json", "{}", R"({"a":tru})", {},
     R"({__error__="JSONParserErr", __error_details__="Unknown value type"})"},
    {"json_error_missing_colon", "| json", "{}", R"({"a" 1})", {},
     R"({__error__="JSONParserErr", __error_details__="Malformed JSON error"})"},
    {"json_clash_with_structured_metadata", "| json", "{}", R"({"app":"foo","namespace":"prod","pod":"pod_parsed"})",
     {{"pod", "pod_sm"}}, R"({app="foo", namespace="prod", pod="pod_sm", pod_extracted="pod_parsed"})"},
    // ---- json expressions ----
    {"jsonexpr_single_field", "| json app", "{}", kJsonExprLine, {}, R"({app="foo"})"},
    {"jsonexpr_quoted_key", R"(| json test="[\"field with space\"]")", "{}", kJsonExprLine, {}, R"({test="value"})"},
    {"jsonexpr_utf8_key", "| json utf8=`[\"field with ÜFT8👌\"]`", "{}", kJsonExprLine, {}, R"({utf8="value"})"},
    {"jsonexpr_nested", R"(| json uuid="pod.uuid")", "{}", kJsonExprLine, {}, R"({uuid="foo"})"},
    {"jsonexpr_nested_bracket", R"(| json uuid="pod[\"uuid\"]")", "{}", kJsonExprLine, {}, R"({uuid="foo"})"},
    {"jsonexpr_nested_brackets_only", R"(| json uuid="[\"pod\"][\"uuid\"]")", "{}", kJsonExprLine, {}, R"({uuid="foo"})"},
    {"jsonexpr_bracket_then_dot", R"(| json uuid="[\"pod\"].uuid")", "{}", kJsonExprLine, {}, R"({uuid="foo"})"},
    {"jsonexpr_array_element", R"(| json param="pod.deployment.params[0]")", "{}", kJsonExprLine, {}, R"({param="1"})"},
    {"jsonexpr_array_string_element", R"(| json param="pod.deployment.params[3]")", "{}", kJsonExprLine, {},
     R"({param="string_value"})"},
    {"jsonexpr_missing_key_is_empty", R"(| json undefined="pod[\"\"]")", "{}", kJsonExprLine, {}, R"({undefined=""})"},
    {"jsonexpr_key_on_array_is_empty", R"(| json param="pod.deployment.params[\"\"]")", "{}", kJsonExprLine, {},
     R"({param=""})"},
    {"jsonexpr_full_array", R"(| json params="pod.deployment.params")", "{}", kJsonExprLine, {},
     R"({params="[1,2,3,\"string_value\"]"})"},
    {"jsonexpr_full_object", R"(| json deployment="pod.deployment")", "{}", kJsonExprLine, {},
     R"({deployment="{\"ref\":\"foobar\", \"params\": [1,2,3,\"string_value\"]}"})"},
    {"jsonexpr_no_match_is_empty", R"(| json nope="pod.nope")", "{}", kJsonExprLine, {}, R"({nope=""})"},
    {"jsonexpr_null_is_empty", R"(| json nf="null_field")", "{}", kJsonExprLine, {}, R"({nf=""})"},
    {"jsonexpr_bool", R"(| json bool="bool_field")", "{}", kJsonExprLine, {}, R"({bool="false"})"},
    {"jsonexpr_clash_with_stream", R"(| json uuid="pod.uuid")", R"({uuid="bar"})", kJsonExprLine, {},
     R"({uuid="bar", uuid_extracted="foo"})"},
    {"jsonexpr_empty_object", R"(| json uuid="pod.uuid")", "{}", "{}", {}, R"({uuid=""})"},
    {"jsonexpr_existing_labels_untouched", R"(| json uuid="will.not.work")", R"({foo="bar"})", kJsonExprLine, {},
     R"({foo="bar", uuid=""})"},
    {"jsonexpr_not_json_sets_error_without_details", R"(| json uuid="will.not.work")", R"({foo="bar"})", "invalid json",
     {}, R"({__error__="JSONParserErr", foo="bar"})"},
    {"jsonexpr_empty_line_untouched", R"(| json uuid="will.not.work")", R"({foo="bar"})", "", {}, R"({foo="bar"})"},
    {"jsonexpr_escaped_json_string", "| json app", R"({foo="bar"})",
     R"({"app":"{ \"key\": \"value\", \"key2\":\"value2\"}"})", {},
     R"({app="{ \"key\": \"value\", \"key2\":\"value2\"}", foo="bar"})"},
    {"jsonexpr_object_kept_raw", "| json app", R"({foo="bar"})", R"({"app":{"name":"great \"loki\""}})", {},
     R"({app="{\"name\":\"great \\\"loki\\\"\"}", foo="bar"})"},
    {"jsonexpr_duplicate_takes_first", "| json app", R"({foo="bar"})", R"({"app":"foo","app":"duplicate"})", {},
     R"({app="foo", foo="bar"})"},
    {"jsonexpr_duplicate_key_in_later_object", R"(| json b="a.b")", "{}", R"({"a":{"x":1},"a":{"b":2}})", {},
     R"({b="2"})"},
    {"jsonexpr_clash_with_structured_metadata", "| json app", "{}", kJsonExprLine, {{"app", "app_sm"}},
     R"({app="app_sm", app_extracted="foo"})"},
    {"jsonexpr_multiple", R"(| json app, ns="namespace", ref="pod.deployment.ref")", "{}", kJsonExprLine, {},
     R"({app="foo", ns="prod", ref="foobar"})"},
    // ---- logfmt ----
    {"logfmt_not_logfmt", "| logfmt", R"({foo="bar"})", "foobar====wqe=sdad1r", {}, R"({foo="bar"})"},
    {"logfmt_strict_not_logfmt", "| logfmt --strict", R"({foo="bar"})", "foobar====wqe=sdad1r", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 8 : unexpected '='", foo="bar"})"},
    {"logfmt_rune_error", "| logfmt", "{}", "buzz=foo bar=\xEF\xBF\xBD" "f", {}, R"({bar=" f", buzz="foo"})"},
    {"logfmt_key_alone_skipped", "| logfmt", R"({foo="bar"})", "buzz bar=foo", {}, R"({bar="foo", foo="bar"})"},
    {"logfmt_quoted", "| logfmt", R"({foo="bar"})", R"(foobar="foo bar")", {}, R"({foo="bar", foobar="foo bar"})"},
    {"logfmt_escaped_control_chars", "| logfmt", "{}", R"(foobar="foo\nbar\tbaz")", {}, R"({foobar="foo\nbar\tbaz"})"},
    {"logfmt_literal_control_chars", "| logfmt", "{}", "foobar=\"foo\nbar\tbaz\"", {}, R"({foobar="foo\nbar\tbaz"})"},
    {"logfmt_escaped_backslash", "| logfmt", "{}", R"(foobar="foo ba\\r baz")", {}, R"({foobar="foo ba\\r baz"})"},
    {"logfmt_literal_newline_and_escape", "| logfmt", "{}", "foobar=\"foo bar\nb\\\\az\"", {},
     R"({foobar="foo bar\nb\\az"})"},
    {"logfmt_duplicate_key_first_wins", "| logfmt", R"({foo="bar"})", R"(foobar="foo bar" foobar=10ms)", {},
     R"({foo="bar", foobar="foo bar"})"},
    {"logfmt_empty_value_then_value", "| logfmt", "{}", "v= v=abc", {}, R"({v="abc"})"},
    {"logfmt_clash_with_stream", "| logfmt", R"({foo="bar"})", R"(foo="foo bar" foobar=10ms)", {},
     R"({foo="bar", foo_extracted="foo bar", foobar="10ms"})"},
    {"logfmt_invalid_key_names", "| logfmt", R"({foo="bar"})", R"(foo="foo bar" foo.bar=10ms test-dash=foo)", {},
     R"({foo="bar", foo_bar="10ms", foo_extracted="foo bar", test_dash="foo"})"},
    {"logfmt_empty_key_skipped", "| logfmt", R"({foo="bar"})", R"(foo="foo bar" =notkey bar=10ms)", {},
     R"({bar="10ms", foo="bar", foo_extracted="foo bar"})"},
    {"logfmt_strict_empty_key", "| logfmt --strict", R"({foo="bar"})", R"(foo="foo bar" =notkey bar=10ms)", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 15 : unexpected '='", foo="bar", foo_extracted="foo bar"})"},
    {"logfmt_strict_rune_error_in_key", "| logfmt --strict", R"({foo="bar"})",
     "foo=\"foo bar\" b\xEF\xBF\xBDr=10ms", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 20 : invalid key", foo="bar", foo_extracted="foo bar"})"},
    {"logfmt_strict_quote_in_key", "| logfmt --strict", R"({foo="bar"})", R"(foo="foo bar" bu"zz=10ms)", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 17 : unexpected '\"'", foo="bar", foo_extracted="foo bar"})"},
    {"logfmt_equal_in_value", "| logfmt", R"({foo="bar"})", R"(bar=bu=zz foo="foo bar")", {},
     R"({foo="bar", foo_extracted="foo bar"})"},
    {"logfmt_strict_equal_in_value", "| logfmt --strict", R"({foo="bar"})", R"(bar=bu=zz foo="foo bar")", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : unexpected '='", foo="bar"})"},
    {"logfmt_strict_unterminated_quote", "| logfmt --strict", "{}", R"(a=1 b="x)", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 9 : unterminated quoted value", a="1"})"},
    {"logfmt_clash_with_structured_metadata", "| logfmt", "{}", "app=foo level=error", {{"app", "foo_sm"}},
     R"({app="foo_sm", app_extracted="foo", level="error"})"},
    {"logfmt_keep_empty", "| logfmt --keep-empty", R"({foo="bar"})", "foo bar=buzz", {},
     R"({bar="buzz", foo="bar", foo_extracted=""})"},
    {"logfmt_keep_empty_strict", "| logfmt --strict --keep-empty", R"({foo="bar"})", "foo bar=buzz", {},
     R"({bar="buzz", foo="bar", foo_extracted=""})"},
    {"logfmt_keep_empty_rune_error", "| logfmt --keep-empty", R"({foo="bar"})", "foo=b\xEF\xBF\xBDr bar=buzz", {},
     R"({bar="buzz", foo="bar", foo_extracted="b r"})"},
    // ---- logfmt expressions ----
    {"logfmtexpr_single", "| logfmt app", "{}", kLogfmtExprLine, {}, R"({app="foo"})"},
    {"logfmtexpr_multiple", "| logfmt app, level, ts", "{}", kLogfmtExprLine, {},
     R"({app="foo", level="error", ts="2021-02-12T19:18:10.037940878Z"})"},
    {"logfmtexpr_rename", R"(| logfmt test="level")", "{}", kLogfmtExprLine, {}, R"({test="error"})"},
    {"logfmtexpr_utf8_value", "| logfmt spaces", "{}", kLogfmtExprLine, {}, R"({spaces="value with ÜFT8👌"})"},
    {"logfmtexpr_missing_is_empty", "| logfmt nope", "{}", kLogfmtExprLine, {}, R"({nope=""})"},
    {"logfmtexpr_clash_with_stream", "| logfmt app", R"({app="bar"})", kLogfmtExprLine, {},
     R"({app="bar", app_extracted="foo"})"},
    {"logfmtexpr_rename_no_clash", R"(| logfmt lvl="level")", R"({level="debug"})", kLogfmtExprLine, {},
     R"({level="debug", lvl="error"})"},
    {"logfmtexpr_clash_with_structured_metadata", "| logfmt app", "{}", kLogfmtExprLine, {{"app", "foo_sm"}},
     R"({app="foo_sm", app_extracted="foo"})"},
    {"logfmtexpr_strict_error", "| logfmt --strict app", "{}", "app=1 =x", {},
     R"({__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : unexpected '='", app="1"})"},
    // ---- regexp ----
    {"regexp_named_groups", R"x(| regexp "(?P<method>\\w+) (?P<path>[\\w/]+) \\((?P<status>\\d+)\\)")x", "{}",
     "POST /api/v1/push (204) 1.2ms", {}, R"({method="POST", path="/api/v1/push", status="204"})"},
    {"regexp_no_match_no_labels", R"x(| regexp "(?P<a>x+)y")x", R"({s="1"})", "zzz", {}, R"({s="1"})"},
    {"regexp_unmatched_optional_group_is_empty", R"x(| regexp "(?P<a>a)(?P<b>b)?")x", "{}", "xa", {},
     R"({a="a", b=""})"},
    {"regexp_clash_with_stream", R"x(| regexp "(?P<app>\\w+)")x", R"({app="x"})", "hello", {},
     R"({app="x", app_extracted="hello"})"},
    // ---- pattern ----
    {"pattern_apache", kApachePattern, R"({foo="bar"})", kApacheLine, {},
     R"({foo="bar", ip="127.0.0.1", method="GET", path="/apache_pb.gif", size="2326", status="200", user="frank", userid="user-identifier"})"},
    {"pattern_clash_with_stream", R"(| pattern `<_> msg="<method> <path> (<status>) <duration>"`)",
     R"({method="bar"})",
     R"(level=debug ts=2021-05-19T07:54:26.864644382Z caller=logging.go:66 traceID=7fbb92fd0eb9c65d msg="POST /loki/api/v1/push (204) 1.238734ms")",
     {}, R"({duration="1.238734ms", method="bar", method_extracted="POST", path="/loki/api/v1/push", status="204"})"},
    {"pattern_leading_literal_mismatch", R"(| pattern `foo <f>"`)", R"({method="bar"})", "bar", {},
     R"({method="bar"})"},
    {"pattern_short_line_fills_first_captures", R"(| pattern "<a> <b> <c>")", "{}", "x y", {}, R"({a="x", b="y"})"},
    {"pattern_clash_with_structured_metadata", kApachePattern, "{}", kApacheLine, {{"user", "not_frank"}},
     R"({ip="127.0.0.1", method="GET", path="/apache_pb.gif", size="2326", status="200", user="not_frank", user_extracted="frank", userid="user-identifier"})"},
    // ---- unpack ----
    {"unpack_entry", "| unpack", R"({cluster="us-central1"})",
     R"({"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}})", {},
     R"({app="foo", cluster="us-central1", namespace="prod"})", "some message"},
    {"unpack_not_an_object", "| unpack", "{}", R"("app":"foo","_entry":"x")", {},
     R"({__error__="JSONParserErr", __error_details__="expecting json object(6), but it is not"})"},
    {"unpack_array", "| unpack", R"({cluster="us-central1"})", R"(["foo","bar"])", {},
     R"({__error__="JSONParserErr", __error_details__="expecting json object(6), but it is not", cluster="us-central1"})"},
    {"unpack_empty_line", "| unpack", R"({cluster="us-central1"})", "", {}, R"({cluster="us-central1"})"},
    {"unpack_clash_with_stream", "| unpack", R"({app="bar", cluster="us-central1"})",
     R"({"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}})", {},
     R"({app="bar", app_extracted="foo", cluster="us-central1", namespace="prod"})", "some message"},
    {"unpack_without_entry_changes_nothing", "| unpack", R"({app="bar", cluster="us-central1"})",
     R"({"bar":1,"app":"foo","namespace":"prod","pod":{"uid":"1"}})", {}, R"({app="bar", cluster="us-central1"})"},
    {"unpack_escaped_entry", "| unpack", R"({app="bar"})",
     R"({"_entry":"I0303 kubelet] \"Pod status updated\" pod=\"etcd\" status=Running"})", {}, R"({app="bar"})",
     R"(I0303 kubelet] "Pod status updated" pod="etcd" status=Running)"},
    {"unpack_invalid_key_names", "| unpack", R"({foo="bar"})",
     R"({"foo.bar":"10ms","test-dash":"foo","_entry":"some message"})", {},
     R"({foo="bar", foo_bar="10ms", test_dash="foo"})", "some message"},
    {"unpack_clash_with_structured_metadata", "| unpack", "{}",
     R"({"app":"foo","namespace":"prod","_entry":"some message"})", {{"app", "foo_sm"}},
     R"({app="foo_sm", app_extracted="foo", namespace="prod"})", "some message"},
    {"unpack_then_filter_on_entry", R"(| unpack |= "some")", "{}", R"({"a":"b","_entry":"some message"})", {},
     R"({a="b"})", "some message"},
    // ---- several parsers ----
    {"parsers_continue_after_an_error", "| json | logfmt", "{}", "a=1 b=2", {},
     R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", a="1", b="2"})"},
    {"later_parser_overwrites_earlier", "| logfmt | regexp \"x(?P<a>\\\\d)\"", "{}", "a=1 x2", {}, R"({a="2"})"},
};

INSTANTIATE_TEST_SUITE_P(Cases, ParserTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- construction errors --------------------------------------------------------------------

TEST(ParserErrorsTest, JsonExpressionSyntaxErrorsUseLokiWording) {
  struct {
    const char* expr;
    const char* error;
  } cases[] = {
      {R"(| json app="field with space")", "cannot parse expression [field with space]: syntax error: unexpected FIELD"},
      {R"(| json app="\"pod\"]")", "cannot parse expression [\"pod\"]]: syntax error: unexpected STRING, expecting LSB or FIELD"},
      {R"(| json app="[\"pod\"")", "cannot parse expression [[\"pod\"]: syntax error: unexpected $end, expecting RSB"},
      {R"(| json app="[\"pod\"\"uuid\"]")", "cannot parse expression [[\"pod\"\"uuid\"]]: syntax error: unexpected STRING, expecting RSB"},
      {R"(| json app="pod..uuid")", "cannot parse expression [pod..uuid]: syntax error: unexpected DOT, expecting FIELD"},
  };
  for (const auto& c : cases) {
    auto p = MakePipeline(c.expr);
    ASSERT_FALSE(p.ok()) << c.expr;
    // Loki's NewStageError: `parse error : stage '<the stage>' : <error>`.
    EXPECT_EQ(p.status().message(), "parse error : stage '" + std::string(c.expr) + "' : " + c.error);
  }
}

TEST(ParserErrorsTest, PatternWithDuplicateNamesIsRejected) {
  auto p = MakePipeline(R"(| pattern "<a> <a>")");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "parse error : invalid pattern parser: duplicate capture name (a): invalid expression");
}

TEST(ParserErrorsTest, PatternWithConsecutiveCapturesIsRejected) {
  auto p = MakePipeline(R"(| pattern "<a><b> x")");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "parse error : invalid pattern parser: found consecutive capture '<a><b>': invalid expression");
}

TEST(ParserErrorsTest, RegexpWithoutNamedGroupIsRejected) {
  auto p = MakePipeline(R"x(| regexp "(a)")x");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("at least one named capture must be supplied"), std::string::npos);
}

TEST(ParserStateTest, NameClashesAreDecidedPerStream) {
  auto p = MakePipeline("| logfmt");
  ASSERT_TRUE(p.ok());
  auto with_foo = (*p)->ForStream(testing::L(R"({foo="bar"})"));
  auto without = (*p)->ForStream(testing::L("{}"));
  EXPECT_EQ(testing::Feed(with_foo.get(), "foo=1").labels, R"({foo="bar", foo_extracted="1"})");
  EXPECT_EQ(testing::Feed(without.get(), "foo=1").labels, R"({foo="1"})");
}

TEST(ParserStateTest, StructuredMetadataClashIsDecidedPerLine) {
  auto p = MakePipeline("| logfmt");
  ASSERT_TRUE(p.ok());
  auto sp = (*p)->ForStream(testing::L("{}"));
  EXPECT_EQ(testing::Feed(sp.get(), "a=1", {{"a", "sm"}}).labels, R"({a="sm", a_extracted="1"})");
  EXPECT_EQ(testing::Feed(sp.get(), "a=1").labels, R"({a="1"})");
}

TEST(ParserStateTest, NamesBeyondTheInternCacheStillWork) {
  auto p = MakePipeline("| logfmt");
  ASSERT_TRUE(p.ok());
  auto sp = (*p)->ForStream(testing::L("{}"));
  std::string warm;
  for (int i = 0; i < 1100; ++i) warm += "w" + std::to_string(i) + "=1 ";
  ASSERT_TRUE(testing::Feed(sp.get(), warm).kept);
  // Keys now miss the full cache; the first value of a repeated key still wins.
  auto out = testing::Feed(sp.get(), "x1=a x2=b x1=c x3=d x2=e");
  EXPECT_EQ(out.labels, R"({x1="a", x2="b", x3="d"})");
}

TEST(ParserStateTest, LabelsDoNotLeakBetweenLines) {
  auto p = MakePipeline("| json");
  ASSERT_TRUE(p.ok());
  auto sp = (*p)->ForStream(testing::L(R"({s="1"})"));
  EXPECT_EQ(testing::Feed(sp.get(), R"({"a":"1","b":"2"})").labels, R"({a="1", b="2", s="1"})");
  EXPECT_EQ(testing::Feed(sp.get(), R"({"c":"3"})").labels, R"({c="3", s="1"})");
  EXPECT_EQ(testing::Feed(sp.get(), "oops").labels,
            R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol", s="1"})");
  EXPECT_EQ(testing::Feed(sp.get(), R"({"a":"1","b":"2"})").labels, R"({a="1", b="2", s="1"})");
}

}  // namespace
}  // namespace logq::pipeline
