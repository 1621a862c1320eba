// Tests for the Go text/template engine behind line_format / label_format: Go's template
// language (trim markers, comments, pipelines, variables, control structures, comparisons),
// Go's fmt verbs, Loki's function library, and the engine's error texts and limits.
#include "query/pipeline/template.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "query/base/clock.h"

namespace logq::pipeline {
namespace {

// 2023-03-23T13:13:35.123456789Z
constexpr int64_t kTimestamp = 1679577215123456789;
// 2024-01-02T03:04:05Z
constexpr int64_t kNow = 1704164645000000000;

const std::map<std::string, std::string>& Labels() {
  static const auto* labels = new std::map<std::string, std::string>{
      {"app", "foo"},
      {"n", "5"},
      {"num", "42"},
      {"neg", "-7"},
      {"pi", "3.14159"},
      {"path", "/api/v1/users"},
      {"spaced", "  padded  "},
      {"empty", ""},
      {"err", "ErrTimeout happened"},
      {"request_method", "GET"},
      {"cluster", "us-east-cluster"},
      {"ip", "129.168.1.1"},
      {"from", "1679577215"},
      {"createDate", "2021-11-02"},
      {"dur", "1m30s"},
      {"size", "1.5 MiB"},
      {"queries", R"J([{"query":"sum(rate(x[1m]))","ms":12},{"query":"up","ms":3.5}])J"},
      {"obj", R"({"b":2,"a":"x","c":{"d":true},"n":null})"},
      {"multiline", "line one\nline two"},
      {"unicode", "héllo wörld"},
      {"url", "https://example.com/a b?x=1&y=é"},
  };
  return *labels;
}

TemplateContext MakeContext(const Clock* clock) {
  TemplateContext ctx;
  ctx.label = [](std::string_view name) -> const std::string* {
    auto it = Labels().find(std::string(name));
    return it == Labels().end() ? nullptr : &it->second;
  };
  ctx.for_each_label = [](const std::function<void(std::string_view, std::string_view)>& visit) {
    for (const auto& [k, v] : Labels()) visit(k, v);
  };
  ctx.line = R"(level=info msg="hello world" status=200)";
  ctx.timestamp_ns = kTimestamp;
  ctx.clock = clock;
  return ctx;
}

struct Case {
  const char* name;
  const char* tmpl;
  const char* want;  // rendered output, or the error message for error cases
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

std::string CaseName(const testing::TestParamInfo<Case>& info) { return info.param.name; }

Result<std::string> Render(const std::string& source) {
  FakeClock clock(kNow);
  ASSIGN_OR_RETURN(auto tmpl, Template::Parse(source));
  std::string out = "garbage that Execute must clear";
  TemplateContext ctx = MakeContext(&clock);
  RETURN_IF_ERROR(tmpl->Execute(ctx, &out));
  return out;
}

// ---- rendering ---------------------------------------------------------------------------

class TemplateRenderTest : public testing::TestWithParam<Case> {};

TEST_P(TemplateRenderTest, RendersLikeLoki) {
  const Case& c = GetParam();
  Result<std::string> got = Render(c.tmpl);
  ASSERT_TRUE(got.ok()) << c.tmpl << "\n" << got.status().ToString();
  EXPECT_EQ(*got, c.want) << c.tmpl;
}

const Case kSyntaxCases[] = {
    {"PlainText", "just text", "just text"},
    {"Empty", "", ""},
    {"LabelField", "{{.app}}", "foo"},
    {"LabelFieldSpaces", "{{ .app }}-{{ .n }}", "foo-5"},
    {"MissingLabelIsEmpty", "[{{ .missing }}]", "[]"},
    {"EmptyLabel", "[{{ .empty }}]", "[]"},
    {"DotIsLabelMap", "{{ with .app }}{{ . }}{{ end }}", "foo"},
    {"IndexLabelMap", "{{ index . \"app\" }}|{{ index . \"nope\" }}|", "foo||"},
    {"DollarIsData", "{{ with .n }}{{ $.app }}{{ end }}", "foo"},
    {"LineFunction", "{{ __line__ }}", R"(level=info msg="hello world" status=200)"},
    {"LinePiped", "{{ __line__ | count \"l\" }}", "5"},
    {"TimestampPrints", "{{ __timestamp__ }}", "2023-03-23 13:13:35.123456789 +0000 UTC"},
    {"TimestampDate", "{{ __timestamp__ | date \"2006-01-02T15:04:05.00Z-07:00\" }}",
     "2023-03-23T13:13:35.12Z+00:00"},
    {"TimestampUnixEpoch", "{{ __timestamp__ | unixEpoch }}", "1679577215"},
    {"TimestampMethods", "{{ __timestamp__.Unix }} {{ __timestamp__.Format \"15:04\" }}",
     "1679577215 13:13"},
    {"TrimBoth", "a  {{- .app -}}  b", "afoob"},
    {"TrimLeftOnly", "a \n {{- .app }} b", "afoo b"},
    {"TrimRightOnly", "a {{ .app -}} \n\t b", "a foob"},
    {"MinusWithoutSpaceIsNumber", "{{-3}}", "-3"},
    {"Comment", "a{{/* a comment */}}b", "ab"},
    {"CommentTrimmed", "a {{- /* c */ -}} b", "ab"},
    {"MultilineComment", "x{{/* one\ntwo */}}y", "xy"},
    {"StringLiteral", "{{ \"a\\tb\\u00e9\\x41\" }}", "a\tbéA"},
    {"RawString", "{{ `a\\tb` }}", "a\\tb"},
    {"IntLiteral", "{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}",
     "42 -7 31 15 5 1000"},
    {"FloatLiteral", "{{ 1.5 }} {{ 3.0 }} {{ 1e3 }} {{ .5 }} {{ 1e21 }}", "1.5 3 1000 0.5 1e+21"},
    {"CharLiteral", "{{ 'a' }} {{ '\\n' }}", "97 10"},
    {"BoolAndNil", "{{ true }} {{ false }} {{ not nil }}", "true false true"},
    {"Pipeline", "{{ .path | replace \"/\" \"_\" | trunc 5 | upper }}", "_API_"},
    {"ParenthesizedCall", "{{ upper (printf \"%s-%s\" .app .n) }}", "FOO-5"},
    {"ChainOnCall", "{{ (fromJson .obj).c.d }}", "true"},
    {"VariableDeclare", "{{ $x := .app }}{{ $x }}{{ $x }}", "foofoo"},
    {"VariableAssign", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"},
    {"VariableShadowInBlock", "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
     "21"},
    {"VariableFieldChain", "{{ $o := fromJson .obj }}{{ $o.c.d }} {{ $o.a }}", "true x"},
    {"DeclarationPrintsNothing", "[{{ $x := \"v\" }}]", "[]"},
    {"IfTrue", "{{ if .app }}yes{{ end }}", "yes"},
    {"IfEmptyLabelFalse", "{{ if .empty }}yes{{ else }}no{{ end }}", "no"},
    {"IfMissingLabelFalse", "{{ if .missing }}yes{{ else }}no{{ end }}", "no"},
    {"IfElseIfChain",
     "{{ if eq .app \"bar\" }}bar{{ else if eq .app \"foo\" }}foo{{ else }}other{{ end }}", "foo"},
    {"IfElseIfFallsThrough",
     "{{ if eq .n \"1\" }}1{{ else if eq .n \"2\" }}2{{ else if eq .n \"3\" }}3{{ else }}none{{ end }}",
     "none"},
    {"IfZeroNumbers", "{{ if 0 }}a{{ end }}{{ if 0.0 }}b{{ end }}{{ if 1 }}c{{ end }}", "c"},
    {"DocsAndOr", "{{ if and (contains \"he\" \"hello\") (contains \"llo\" \"hello\") }} yes {{end}}",
     " yes "},
    {"DocsElseIf",
     "{{ if contains \"ErrTimeout\" .err }} timeout {{else if contains \"he\" \"hello\"}} yes "
     "{{else}} no {{end}}",
     " timeout "},
    {"WithSetsDot", "{{ with .app }}<{{ . }}>{{ end }}", "<foo>"},
    {"WithElse", "{{ with .missing }}x{{ else }}none{{ end }}", "none"},
    {"WithElseWith", "{{ with .missing }}a{{ else with .app }}{{ . }}{{ end }}", "foo"},
    {"WithVariable", "{{ with $v := .n }}{{ $v }}{{ . }}{{ end }}", "55"},
    {"RangeJsonArray",
     "{{ range $q := fromJson .queries }}[{{ $q.query }}]{{ end }}", "[sum(rate(x[1m]))][up]"},
    {"RangeIndexElement", "{{ range $i, $q := fromJson .queries }}{{ $i }}:{{ $q.ms }} {{ end }}",
     "0:12 1:3.5 "},
    {"RangeDot", "{{ range fromJson \"[1,\\\"a\\\",true,null]\" }}<{{ . }}>{{ end }}",
     "<1><a><true><<no value>>"},
    {"RangeMapSorted", "{{ range $k, $v := fromJson .obj }}{{ $k }}={{ $v }};{{ end }}",
     "a=x;b=2;c=map[d:true];n=<no value>;"},
    {"RangeElse", "{{ range fromJson \"[]\" }}x{{ else }}empty{{ end }}", "empty"},
    {"RangeOverInvalidIsEmpty", "{{ range fromJson \"oops\" }}x{{ else }}none{{ end }}", "none"},
    {"RangeInt", "{{ range 3 }}{{ . }}{{ end }}", "012"},
    {"RangeBreak", "{{ range $i, $e := fromJson \"[1,2,3,4]\" }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $e }}{{ end }}",
     "12"},
    {"RangeContinue", "{{ range $i, $e := fromJson \"[1,2,3]\" }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $e }}{{ end }}",
     "13"},
    {"RangeLabels", "{{ range $k, $v := . }}{{ if hasPrefix \"re\" $k }}{{ $k }}={{ $v }}{{ end }}{{ end }}",
     "request_method=GET"},
    {"RangeAssignExisting", "{{ $last := \"\" }}{{ range $last = fromJson \"[\\\"a\\\",\\\"b\\\"]\" }}{{ end }}{{ $last }}",
     "b"},
    {"NestedRange", "{{ range $a := fromJson \"[[1,2],[3]]\" }}{{ range $a }}{{ . }}{{ end }};{{ end }}",
     "12;3;"},
    {"DefineAndTemplate", "{{ define \"T\" }}<{{ . }}>{{ end }}{{ template \"T\" .app }}", "<foo>"},
    {"Block", "{{ block \"B\" .n }}[{{ . }}]{{ end }}", "[5]"},
    {"PrintLabelMap", "{{ with $m := fromJson .obj }}{{ $m }}{{ end }}",
     "map[a:x b:2 c:map[d:true] n:<nil>]"},
    {"MissingJsonKey", "{{ $o := fromJson .obj }}{{ $o.zzz }}", "<no value>"},
    {"JsonNumbersAreFloats", "{{ $o := fromJson \"{\\\"big\\\":1e21,\\\"x\\\":1000000}\" }}{{ $o.big }} {{ $o.x }}",
     "1e+21 1e+06"},
};

INSTANTIATE_TEST_SUITE_P(Syntax, TemplateRenderTest, testing::ValuesIn(kSyntaxCases), CaseName);

const Case kComparisonCases[] = {
    {"EqStrings", "{{ eq .app \"foo\" }} {{ eq .app \"bar\" }}", "true false"},
    {"EqMultiple", "{{ eq .app \"a\" \"b\" \"foo\" }}", "true"},
    {"EqInts", "{{ eq 1 1 }} {{ eq (len .app) 3 }}", "true true"},
    {"EqIntAndInt64", "{{ eq (add 1 2) 3 }}", "true"},
    {"EqMissingJsonKey", "{{ $o := fromJson .obj }}{{ eq $o.nope \"x\" }}", "false"},
    {"Ne", "{{ ne .app \"bar\" }} {{ ne 1 1 }}", "true false"},
    {"LtLeGtGe", "{{ lt 1 2 }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 1 2 }}", "true true true false"},
    {"StringOrder", "{{ lt \"a\" \"b\" }} {{ gt \"b\" \"ab\" }}", "true true"},
    {"FloatOrder", "{{ lt 1.5 2.5 }} {{ ge (float64 .pi) 3.0 }}", "true true"},
    {"AndReturnsValue", "{{ and 1 \"x\" }}|{{ and 0 \"x\" }}|{{ and .app .empty }}|", "x|0||"},
    {"OrReturnsValue", "{{ or .empty .missing \"fallback\" }}|{{ or 0 \"\" }}|", "fallback||"},
    {"OrShortCircuits", "{{ or .app (div 1 0) }}", "foo"},
    {"AndShortCircuits", "{{ and .empty (div 1 0) }}", ""},
    {"Not", "{{ not .app }} {{ not .empty }} {{ not 0 }}", "false true true"},
    {"NumericLabelNeedsConversion", "{{ gt (int .num) 40 }}", "true"},
};

INSTANTIATE_TEST_SUITE_P(Comparisons, TemplateRenderTest, testing::ValuesIn(kComparisonCases),
                         CaseName);

const Case kPrintfCases[] = {
    {"DocsIp", "{{ printf \"The IP address was %s\" .ip }}", "The IP address was 129.168.1.1"},
    {"DocsPadTruncate", "{{ printf \"%-10.10s|%5.5s|\" .path .request_method }}",
     "/api/v1/us|  GET|"},
    {"DocsFixedWidth", "\"|\" {{printf \"%15.15s\" .ip}} \"|\"", "\"|\"     129.168.1.1 \"|\""},
    {"Strings", "{{ printf \"%s|%q|%v|%x|%X|% x|%#q\" \"hi\" \"a\\\"b\" \"v\" \"hi\" \"hi\" \"hi\" \"h\" }}",
     "hi|\"a\\\"b\"|v|6869|6869|68 69|`h`"},
    {"Width", "[{{ printf \"%5s|%-5s|%05d|%-5d|%5d\" \"ab\" \"ab\" 42 42 -42 }}]",
     "[   ab|ab   |00042|42   |  -42]"},
    {"Ints", "{{ printf \"%d %+d % d %x %X %#x %o %#o %O %b %c %q %U\" 42 42 42 255 255 255 8 8 8 5 65 65 9731 }}",
     "42 +42  42 ff FF 0xff 10 010 0o10 101 A 'A' U+2603"},
    {"IntPrecision", "{{ printf \"%.3d|%6.3d|%.0d|\" 7 7 0 }}", "007|   007||"},
    {"Floats", "{{ printf \"%f %.2f %8.3f %-8.1f| %e %.2E %g %G\" 3.14159 3.14159 3.14159 3.14159 1234.5678 1234.5678 0.000012 1e21 }}",
     "3.141590 3.14    3.142 3.1     | 1.234568e+03 1.23E+03 1.2e-05 1E+21"},
    {"FloatSignAndZero", "{{ printf \"%+.1f|%08.2f|%+08.2f|% .1f\" 2.5 -3.14159 3.14159 2.0 }}",
     "+2.5|-0003.14|+0003.14| 2.0"},
    {"FloatV", "{{ printf \"%v %v %v %v %v\" 0.1 100000.0 1000000.0 1e-5 123456789.0 }}",
     "0.1 100000 1e+06 1e-05 1.23456789e+08"},
    {"GPrecision", "{{ printf \"%.3g %.10g %.1g\" 1234.5678 0.1 0.05 }}", "1.23e+03 0.1 0.05"},
    {"Bool", "{{ printf \"%t %v\" true false }}", "true false"},
    {"Percent", "{{ printf \"100%%\" }}", "100%"},
    {"Type", "{{ printf \"%T %T %T %T %T %T %T\" 1 1.5 \"s\" true (add 1 2) (fromJson \"[]\") __timestamp__ }}",
     "int float64 string bool int64 []interface {} time.Time"},
    {"WrongVerb", "{{ printf \"%d|%s|%t\" \"x\" 1 2 }}", "%!d(string=x)|%!s(int=1)|%!t(int=2)"},
    {"Missing", "{{ printf \"%s %d\" \"a\" }}", "a %!d(MISSING)"},
    {"Extra", "{{ printf \"%s\" \"a\" 1 \"b\" }}", "a%!(EXTRA int=1, string=b)"},
    {"NoVerb", "{{ printf \"abc%\" }}", "abc%!(NOVERB)"},
    {"ArgIndex", "{{ printf \"%[2]s %[1]s\" \"a\" \"b\" }}", "b a"},
    {"StarWidth", "[{{ printf \"%*s|%-*s\" 4 \"a\" 3 \"b\" }}]", "[   a|b  ]"},
    {"Nil", "{{ printf \"%v %s\" nil nil }}", "<nil> %!s(<nil>)"},
    {"Composite", "{{ printf \"%v|%d\" (fromJson \"[1,\\\"a\\\"]\") (fromJson \"[1]\") }}",
     "[1 a]|[%!d(float64=1)]"},
    {"Time", "{{ printf \"%s\" (unixToTime \"1679577215\") }}", "2023-03-23 13:13:35 +0000 UTC"},
    {"PrecisionTruncatesRunes", "{{ printf \"%.3s\" .unicode }}", "hél"},
    {"HugeWidthRejected", "{{ printf \"%99999999d\" 1 }}", "%!(NOVERB)%!(EXTRA int=1)"},
    {"Print", "{{ print \"a\" 1 2 \"b\" }}|{{ println \"x\" 1 }}", "a1 2b|x 1\n"},
};

INSTANTIATE_TEST_SUITE_P(Printf, TemplateRenderTest, testing::ValuesIn(kPrintfCases), CaseName);

const Case kStringFunctionCases[] = {
    {"ToLowerToUpper", "{{ ToLower \"HeLLo\" }} {{ ToUpper .app }}", "hello FOO"},
    {"ReplaceGoOrder", "{{ Replace \"aaaa\" \"a\" \"b\" 2 }} {{ Replace .path \"/\" \"-\" -1 }}",
     "bbaa -api-v1-users"},
    {"ReplaceEmptyOld", "{{ Replace \"ab\" \"\" \"-\" -1 }}", "-a-b-"},
    {"TrimCutset", "{{ Trim \"xxhixx\" \"x\" }} {{ TrimLeft \"xxhix\" \"x\" }} {{ TrimRight \"xhixx\" \"x\" }}",
     "hi hix xhi"},
    {"TrimPrefixSuffixGoOrder", "{{ TrimPrefix .path \"/api\" }} {{ TrimSuffix \"app.log\" \".log\" }}",
     "/v1/users app"},
    {"TrimSpace", "[{{ TrimSpace .spaced }}]", "[padded]"},
    {"LowerUpper", "{{ lower \"HELLO\" }} {{ .request_method | lower }} {{ upper \"hello\" }}",
     "hello get HELLO"},
    {"UnicodeCase", "{{ upper .unicode }} {{ lower \"ÉCOLE\" }}", "HÉLLO WÖRLD école"},
    {"Title", "{{ title \"hello world\" }} {{ .request_method | lower | title }} {{ title \"a-b c_d\" }}",
     "Hello World Get A-B C_d"},
    {"TruncDocs", "{{ trunc 5 \"hello world\" }}|{{ trunc -5 \"hello world\" }}|{{ .path | trunc 2 }}",
     "hello|world|/a"},
    {"TruncEdges", "{{ trunc 50 \"hi\" }}|{{ trunc -50 \"hi\" }}|{{ trunc 0 \"hi\" }}|{{ trunc 2 .unicode }}",
     "hi|hi||hé"},
    {"SubstrDocs", "{{ substr 0 5 \"hello world\" }}|{{ substr 6 11 \"hello world\" }}|{{ .path | substr 2 5 }}",
     "hello|world|pi/"},
    {"SubstrEdges",
     "{{ substr -1 3 \"hello\" }}|{{ substr 2 -1 \"hello\" }}|{{ substr 3 1 \"hello\" }}|{{ substr 2 99 \"hello\" }}|{{ substr -1 -1 \"x\" }}|",
     "hel|llo||llo||"},
    {"ReplaceDocs", "{{ .cluster | replace \"-cluster\" \"\" }} {{ replace \"hello\" \"world\" \"hello world\" }}",
     "us-east world world"},
    {"Repeat", "{{ repeat 3 \"hello\" }}|{{ repeat 0 \"x\" }}|", "hellohellohello||"},
    {"Contains", "{{ contains \"he\" \"hello\" }} {{ contains \"xyz\" \"hello\" }}", "true false"},
    {"HasPrefixSuffix", "{{ hasPrefix \"he\" \"hello\" }} {{ hasSuffix \"lo\" \"hello\" }} {{ hasSuffix .err \"Timeout\" }}",
     "true true false"},
    {"Indent", "{{ indent 4 .multiline }}", "    line one\n    line two"},
    {"Nindent", "{{ nindent 2 .multiline }}", "\n  line one\n  line two"},
    {"TrimSprig", "[{{ trim \"   hello    \" }}] {{ trimAll \"$\" \"$5.00\" }} {{ .path | trimAll \"/\" }}",
     "[hello] 5.00 api/v1/users"},
    {"TrimPrefixSuffixSprigOrder", "{{ trimPrefix \"-\" \"-hello\" }} {{ trimSuffix \"-\" \"hello-\" }} {{ .path | trimPrefix \"/\" }}",
     "hello hello api/v1/users"},
    {"AlignLeft", "[{{ alignLeft 5 \"hello world\" }}][{{ alignLeft 5 \"hi\" }}][{{ alignLeft -1 \"hi\" }}]",
     "[hello][hi   ][hi]"},
    {"AlignRight", "[{{ alignRight 5 \"hello world\" }}][{{ alignRight 5 \"hi\" }}]", "[world][   hi]"},
    {"Default", "{{ default \"-\" \"\" }} {{ default \"-\" \"foo\" }} {{ .missing | default \"-\" }} {{ default \"d\" 0 }} {{ default \"d\" }}",
     "- foo - d d"},
    {"DefaultKeepsValue", "{{ .app | default \"-\" }}", "foo"},
    {"Len", "{{ len .app }} {{ len \"\" }} {{ len (fromJson .queries) }} {{ len (fromJson .obj) }} {{ len .unicode }}",
     "3 0 2 4 13"},
    {"Index", "{{ index (fromJson .queries) 1 \"query\" }} {{ index \"abc\" 1 }} {{ index (fromJson .obj) \"a\" }}",
     "up 98 x"},
    {"Slice", "{{ slice .app 1 }} {{ slice .app 0 2 }} {{ slice (fromJson \"[1,2,3]\") 1 }}",
     "oo fo [2 3]"},
    {"HtmlJsUrlquery", "{{ html \"<a href='x'>&</a>\" }} {{ js \"it's <b>\" }} {{ urlquery \"a b&c\" }}",
     "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; it\\'s \\u003Cb\\u003E a+b%26c"},
    {"Sha256", "{{ sha256 \"abc\" }}",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"Sha256Empty", "{{ sha256 .empty }}",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"Base64", "{{ b64enc \"hello\" }} {{ b64dec \"aGVsbG8=\" }} {{ .app | b64enc | b64dec }} {{ b64enc \"ab\" }}",
     "aGVsbG8= hello foo YWI="},
    {"Base64DecodeErrorIsValue", "{{ b64dec \"aGVsbG8\" }}|{{ b64dec \"a!==\" }}",
     "illegal base64 data at input byte 4|illegal base64 data at input byte 1"},
    {"UrlEncode", "{{ .url | urlencode }}",
     "https%3A%2F%2Fexample.com%2Fa+b%3Fx%3D1%26y%3D%C3%A9"},
    {"UrlDecode", "{{ urldecode \"a+b%26c%3D%C3%A9\" }} {{ .url | urlencode | urldecode }}",
     "a b&c=é https://example.com/a b?x=1&y=é"},
};

INSTANTIATE_TEST_SUITE_P(Strings, TemplateRenderTest, testing::ValuesIn(kStringFunctionCases),
                         CaseName);

const Case kRegexCases[] = {
    {"ReplaceAllGroups", "{{ regexReplaceAll \"(a*)bc\" \"aabcxbc\" \"${1}X\" }}", "aaXxX"},
    {"ReplaceAllNamedGroups",
     "{{ regexReplaceAll \"(?P<k>\\\\w+)=(?P<v>\\\\w+)\" \"a=1 b=2\" \"$v:$k\" }}", "1:a 2:b"},
    {"ReplaceAllDollarNameRunsOn", "{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}", "---"},
    {"ReplaceAllDollarDollar", "{{ regexReplaceAll \"b\" \"abc\" \"$$\" }}", "a$c"},
    {"ReplaceAllEmptyMatches", "{{ regexReplaceAll \"x*\" \"abc\" \"-\" }}", "-a-b-c-"},
    {"ReplaceAllAnchorsSeeWholeText",
     "{{ regexReplaceAll \"^a\" \"aaa\" \"b\" }} {{ regexReplaceAll \"\\\\b\" \"ab cd\" \"|\" }} {{ count \"^a\" \"aaa\" }}",
     "baa |ab| |cd| 1"},
    {"ReplaceAllSkipsEmptyMatchAfterMatch", "{{ regexReplaceAll \"a|\" \"baaac\" \"-\" }}", "-b---c-"},
    {"ReplaceAllOnLabel", "{{ regexReplaceAll \"[0-9]+\" .path \"N\" }}", "/api/vN/users"},
    {"ReplaceAllPatternFromLabel", "{{ regexReplaceAll .request_method \"GET /x\" \"POST\" }}",
     "POST /x"},
    {"ReplaceAllLiteral", "{{ regexReplaceAllLiteral \"(ts=)\" \"ts=1 ts=2\" \"$1timestamp=\" }}",
     "$1timestamp=1 $1timestamp=2"},
    {"CountDocs", "{{ count \"a|b\" \"abab\" }} {{ count \"o\" \"foo\" }} {{ count \"\" \"abc\" }}",
     "4 2 4"},
    {"RegexMatch", "{{ regexMatch \"^f\" .app }} {{ regexMatch \"^x\" .app }} {{ regexMatch \"(\" .app }}",
     "true false false"},
    {"RegexFind", "[{{ regexFind \"o+\" .app }}][{{ regexFind \"z\" .app }}]", "[oo][]"},
    {"RegexFindAll", "{{ regexFindAll \"[a-z]\" \"a1b2c\" -1 }} {{ range regexFindAll \"[0-9]\" \"a1b2\" -1 }}<{{ . }}>{{ end }}",
     "[a b c] <1><2>"},
};

INSTANTIATE_TEST_SUITE_P(Regex, TemplateRenderTest, testing::ValuesIn(kRegexCases), CaseName);

const Case kMathCases[] = {
    {"IntConversions", "{{ int \"3\" }} {{ \"3\" | int }} {{ int \"3.0\" }} {{ int \"3.5\" }} {{ int 3.9 }} {{ int \"0x10\" }} {{ int \"abc\" }}",
     "3 3 3 0 3 16 0"},
    {"Float64Conversions", "{{ \"3.5\" | float64 }} {{ float64 .pi }} {{ float64 \"x\" }} {{ float64 2 }}",
     "3.5 3.14159 0 2"},
    {"AddDocs", "{{ add 3 2 5 }} {{ add .n .num }} {{ add }}", "10 47 0"},
    {"AddfDocs", "{{ addf 3.5 2 5 }} {{ addf 0.1 0.2 }} {{ addf .pi 1 }}", "10.5 0.3 4.14159"},
    {"SubDocs", "{{ sub 5 2 }} {{ sub .n .num }} {{ subf 5.5 2 1.5 }} {{ subf 0.3 0.1 }}",
     "3 -37 2 0.2"},
    {"MulDocs", "{{ mul 5 2 3 }} {{ mulf 5.5 2 2.5 }} {{ mulf 1.1 1.1 }}", "30 27.5 1.21"},
    {"DivDocs", "{{ div 10 2 }} {{ div 7 2 }} {{ div -7 2 }} {{ divf 10 2 4 }} {{ divf 1 3 }}",
     "5 3 -3 1.25 0.3333333333333333"},
    {"ModDocs", "{{ mod 10 3 }} {{ mod -7 3 }}", "1 -1"},
    {"MaxMin", "{{ max 1 2 3 }} {{ min 1 2 3 }} {{ max .num .n }} {{ maxf 1 2.5 3 }} {{ minf 1.5 2.5 3 }}",
     "3 1 42 3 1.5"},
    {"CeilFloor", "{{ ceil 123.001 }} {{ floor 123.9999 }} {{ ceil .pi }} {{ floor \"-1.5\" }}",
     "124 123 4 -2"},
    {"RoundDocs", "{{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }} {{ round 2.5 0 }}",
     "123.556 123.88572 3"},
    {"LabelArithmeticChain", "{{ add (int .num) (mul .n 2) }}", "52"},
    {"Duration", "{{ duration \"1h30m\" }} {{ .dur | duration }} {{ duration_seconds \"1.5s\" }} {{ duration \"-250ms\" }} {{ duration \"1us\" }}",
     "5400 90 1.5 -0.25 1e-06"},
    {"Bytes", "{{ bytes \"1.5 KB\" }} {{ bytes \"2KiB\" }} {{ .size | bytes }} {{ bytes \"1,000 MB\" }} {{ bytes \"42\" }} {{ bytes \"82854982\" }}",
     "1500 2048 1.572864e+06 1e+09 42 8.2854982e+07"},
};

INSTANTIATE_TEST_SUITE_P(Math, TemplateRenderTest, testing::ValuesIn(kMathCases), CaseName);

const Case kDateCases[] = {
    {"DateOfNow", "{{ date \"2006-01-02\" now }}", "2024-01-02"},
    {"NowPrints", "{{ now }}", "2024-01-02 03:04:05 +0000 UTC"},
    {"UnixEpochNow", "{{ unixEpoch now }} {{ unixEpochMillis now }} {{ unixEpochNanos now }}",
     "1704164645 1704164645000 1704164645000000000"},
    {"DateLayoutTokens",
     "{{ date \"Mon Monday Jan January 1 01 2 02 _2 06 2006 15 3 03 4 04 5 05 PM pm\" __timestamp__ }}",
     "Thu Thursday Mar March 3 03 23 23 23 23 2023 13 1 01 13 13 35 35 PM pm"},
    {"DateFractions", "{{ date \"05.000 05.999999999 05,00 05.9 .000000\" __timestamp__ }}",
     "35.123 35.123456789 35,12 35.1 .123456"},
    {"DateZones", "{{ date \"MST Z07:00 -0700 -07 Z0700 -07:00:00\" __timestamp__ }}",
     "UTC Z +0000 +00 Z +00:00:00"},
    {"DateYearDay", "{{ date \"002 __2\" __timestamp__ }}", "082  82"},
    {"DateFromInt", "{{ date \"2006-01-02 15:04\" 86400 }}", "1970-01-02 00:00"},
    {"DateOfStringIsNow", "{{ date \"2006\" .createDate }}", "2024"},
    {"ToDateDocs", "{{ toDate \"2006-01-02\" \"2021-11-02\" }}", "2021-11-02 00:00:00 +0000 UTC"},
    {"ToDateEpochDiff",
     "{{ sub (unixEpoch now) (unixEpoch (toDate \"2006-01-02\" .createDate)) }}", "68353445"},
    {"ToDateFraction", "{{ toDate \"2006-01-02T15:04:05.999999999Z\" \"2021-11-02T10:11:12.5Z\" | unixEpochMillis }}",
     "1635847872500"},
    {"ToDateOffset", "{{ toDate \"2006-01-02 15:04:05 -0700\" \"2021-11-02 10:00:00 +0200\" }}",
     "2021-11-02 10:00:00 +0200 +0200"},
    {"ToDateOffsetEpoch",
     "{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2021-11-02T10:00:00+02:00\" | unixEpoch }}",
     "1635840000"},
    {"ToDateNamedZone", "{{ toDate \"Jan _2 15:04:05 MST 2006\" \"Nov  2 10:00:00 PST 2021\" }}",
     "2021-11-02 10:00:00 +0000 PST"},
    {"ToDateSecondsFractionWithoutLayout", "{{ toDate \"15:04:05\" \"10:11:12.25\" | unixEpochMillis }}",
     "-62167182527750"},
    {"ToDateMonthNames", "{{ toDate \"02 Jan 2006 3PM\" \"05 feb 2020 4pm\" }}",
     "0001-01-01 00:00:00 +0000 UTC"},
    {"ToDateMonthNamesCaseInsensitive", "{{ toDate \"02 Jan 2006 3PM\" \"05 feb 2020 4PM\" }}",
     "2020-02-05 16:00:00 +0000 UTC"},
    {"ToDateInvalidIsZero", "{{ toDate \"2006-01-02\" \"not a date\" }} {{ unixEpoch (toDate \"x\" \"y\") }}",
     "0001-01-01 00:00:00 +0000 UTC -62135596800"},
    {"ToDateDayOutOfRange", "{{ toDate \"2006-01-02\" \"2021-02-30\" | unixEpoch }}", "-62135596800"},
    {"ToDateInZoneDocs", "{{ toDateInZone \"2006-01-02\" \"UTC\" \"2021-11-02\" }}",
     "2021-11-02 00:00:00 +0000 UTC"},
    {"ToDateInZonePiped",
     "{{ \"2021-11-02T10:11:12.123456789Z\" | toDateInZone \"2006-01-02T15:04:05.999999999Z\" \"UTC\" | unixEpochNanos }}",
     "1635847872123456789"},
    {"ToDateInZoneUnknownIsUTC", "{{ toDateInZone \"2006-01-02\" \"Not/AZone\" \"2021-11-02\" | unixEpoch }}",
     "1635811200"},
    {"UnixToTimeDocs", "from=\"{{ date \"2006-01-02\" (unixToTime .from) }}\"", "from=\"2023-03-23\""},
    {"UnixToTimeUnits",
     "{{ unixToTime \"19373\" }}|{{ unixToTime \"1673798889902\" }}|{{ unixToTime \"1673798889902000\" }}|{{ unixToTime \"1673798889902000001\" }}",
     "2023-01-16 00:00:00 +0000 UTC|2023-01-15 16:08:09.902 +0000 UTC|2023-01-15 16:08:09.902 +0000 UTC|2023-01-15 16:08:09.902000001 +0000 UTC"},
};

INSTANTIATE_TEST_SUITE_P(Dates, TemplateRenderTest, testing::ValuesIn(kDateCases), CaseName);

// ---- parse errors ------------------------------------------------------------------------

class TemplateParseErrorTest : public testing::TestWithParam<Case> {};

TEST_P(TemplateParseErrorTest, RejectsWithGoMessage) {
  const Case& c = GetParam();
  auto t = Template::Parse(c.tmpl);
  ASSERT_FALSE(t.ok()) << c.tmpl;
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), c.want) << c.tmpl;
}

const Case kParseErrorCases[] = {
    {"UnexpectedBraceInOperand", "{{ .foo }", "template: line:1: unexpected \"}\" in operand"},
    {"UnexpectedBraceInCommand", "{{ }", "template: line:1: unexpected \"}\" in command"},
    {"UnclosedAction", "{{ .foo", "template: line:1: unclosed action"},
    {"UnclosedActionMultiline", "{{ .foo\n\n",
     "template: line:3: unclosed action started at line:1"},
    {"UndefinedFunction", "{{ foo .x }}", "template: line:1: function \"foo\" not defined"},
    {"UndefinedVariable", "{{ $x }}", "template: line:1: undefined variable \"$x\""},
    {"VariableOutOfScope", "{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}",
     "template: line:1: undefined variable \"$x\""},
    {"EmptyAction", "{{ }}", "template: line:1: missing value for command"},
    {"MissingIfCondition", "{{ if }}x{{ end }}", "template: line:1: missing value for if"},
    {"UnexpectedEnd", "x{{ end }}", "template: line:1: unexpected {{end}}"},
    {"UnexpectedElse", "{{ else }}", "template: line:1: unexpected {{else}}"},
    {"MissingEnd", "{{ if .a }}x", "template: line:1: unexpected EOF"},
    {"MissingEndRange", "{{ range .a }}x", "template: line:1: unexpected EOF"},
    {"ElseAfterElse", "{{ if .a }}{{ else }}{{ else }}{{ end }}",
     "template: line:1: expected end; found {{else}}"},
    {"UnterminatedString", "{{ \"abc }}", "template: line:1: unterminated quoted string"},
    {"UnterminatedRawString", "{{ `abc }}", "template: line:1: unterminated raw quoted string"},
    {"BadEscape", "{{ \"\\q\" }}", "template: line:1: invalid syntax"},
    {"BadNumber", "{{ 1x }}", "template: line:1: bad number syntax: \"1x\""},
    {"IntegerOverflow", "{{ 99999999999999999999 }}",
     "template: line:1: integer overflow: \"99999999999999999999\""},
    {"UnclosedComment", "{{/* abc }}", "template: line:1: unclosed comment"},
    {"CommentNotClosingAction", "{{/* abc */ .x }}",
     "template: line:1: comment ends before closing delimiter"},
    {"NonExecutableStage", "{{ .a | \"x\" }}",
     "template: line:1: non executable command in pipeline stage 2"},
    {"DotAfterLiteral", "{{ \"a\".b }}", "template: line:1: unexpected . after term \"\\\"a\\\"\""},
    {"UnclosedParen", "{{ (upper .a }}", "template: line:1: unclosed left paren"},
    {"UnexpectedRightParen", "{{ upper .a) }}", "template: line:1: unexpected right paren"},
    {"BreakOutsideRange", "{{ break }}", "template: line:1: {{break}} outside {{range}}"},
    {"ContinueOutsideRange", "{{ if true }}{{ continue }}{{ end }}",
     "template: line:1: {{continue}} outside {{range}}"},
    {"TooManyRangeVariables", "{{ range $a, $b, $c := .x }}{{ end }}",
     "template: line:1: too many declarations in range"},
    {"TooManyDeclarations", "{{ $a, $b := .x }}", "template: line:1: too many declarations in command"},
    {"ErrorOnLaterLine", "line one\nline two {{ .a | \"x\" }}",
     "template: line:2: non executable command in pipeline stage 2"},
    {"BadCharacter", "{{ .a# }}", "template: line:1: bad character U+0023 '#'"},
    {"ExpectedDeclare", "{{ $x := 1 }}{{ $x : 2 }}", "template: line:1: expected :="},
    {"TooDeep", "{{ ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))) }}",
     "template: line:1: max expression depth exceeded"},
};

INSTANTIATE_TEST_SUITE_P(Parse, TemplateParseErrorTest, testing::ValuesIn(kParseErrorCases),
                         CaseName);

// ---- execution errors --------------------------------------------------------------------

class TemplateExecErrorTest : public testing::TestWithParam<Case> {};

TEST_P(TemplateExecErrorTest, FailsWithGoMessage) {
  const Case& c = GetParam();
  auto t = Template::Parse(c.tmpl);
  ASSERT_TRUE(t.ok()) << c.tmpl << "\n" << t.status().ToString();
  FakeClock clock(kNow);
  std::string out;
  Status st = (*t)->Execute(MakeContext(&clock), &out);
  ASSERT_FALSE(st.ok()) << c.tmpl << " rendered " << out;
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), c.want) << c.tmpl;
}

const Case kExecErrorCases[] = {
    {"LabelIsNotInt", "{{ trunc .n \"abc\" }}",
     "template: line:1:9: executing \"line\" at <.n>: wrong type for value; expected int; got string"},
    {"LiteralIsNotInt", "{{ trunc \"2\" \"abc\" }}",
     "template: line:1:9: executing \"line\" at <\"2\">: expected integer; found \"2\""},
    {"LiteralIsNotString", "{{ upper 5 }}",
     "template: line:1:9: executing \"line\" at <5>: expected string; found 5"},
    {"Int64IsNotInt", "{{ repeat (add 1 1) \"x\" }}",
     "template: line:1:17: executing \"line\" at <1>: wrong type for value; expected int; got int64"},
    {"PipedIntIsNotString", "{{ 5 | upper }}",
     "template: line:1:7: executing \"line\" at <upper>: wrong type for value; expected string; got int"},
    {"StringIsNotTime", "{{ unixEpoch .from }}",
     "template: line:1:13: executing \"line\" at <.from>: wrong type for value; expected time.Time; got string"},
    {"InvalidIsNotString", "{{ fromJson \"bad\" | upper }}",
     "template: line:1:20: executing \"line\" at <upper>: invalid value; expected string"},
    {"WrongArgCount", "{{ upper \"a\" \"b\" }}",
     "template: line:1:3: executing \"line\" at <upper>: wrong number of args for upper: want 1 got 2"},
    {"WrongVariadicArgCount", "{{ printf }}",
     "template: line:1:3: executing \"line\" at <printf>: wrong number of args for printf: want at least 1 got 0"},
    {"DivideByZero", "{{ div 1 0 }}",
     "template: line:1:3: executing \"line\" at <div 1 0>: error calling div: runtime error: integer divide by zero"},
    {"ModByZero", "{{ mod .n 0 }}",
     "template: line:1:3: executing \"line\" at <mod .n 0>: error calling mod: runtime error: integer divide by zero"},
    {"DivfByZero", "{{ divf 1 0 }}",
     "template: line:1:3: executing \"line\" at <divf 1 0>: error calling divf: decimal division by 0"},
    {"NegativeRepeat", "{{ repeat -1 \"x\" }}",
     "template: line:1:3: executing \"line\" at <repeat -1 \"x\">: error calling repeat: strings: negative Repeat count"},
    {"BadRegex", "{{ regexReplaceAll \"(\" .app \"x\" }}",
     "template: line:1:3: executing \"line\" at <regexReplaceAll \"(\" .app \"x\">: error calling regexReplaceAll: error parsing regexp: missing closing ): `(`"},
    {"BadRegexFromLabel", "{{ count .x .app }}{{ count \"a[\" .app }}",
     "template: line:1:22: executing \"line\" at <count \"a[\" .app>: error calling count: error parsing regexp: missing closing ]: `[`"},
    {"IncompatibleComparison", "{{ eq 1 \"1\" }}",
     "template: line:1:3: executing \"line\" at <eq 1 \"1\">: error calling eq: incompatible types for comparison"},
    {"IncomparableLt", "{{ lt true false }}",
     "template: line:1:3: executing \"line\" at <lt true false>: error calling lt: invalid type for comparison"},
    {"EqNeedsTwoArgs", "{{ eq 1 }}",
     "template: line:1:3: executing \"line\" at <eq 1>: error calling eq: missing argument for comparison"},
    {"FieldOfString", "{{ .app.x }}",
     "template: line:1:7: executing \"line\" at <.app.x>: can't evaluate field x in type string"},
    {"FieldOfNil", "{{ $o := fromJson .obj }}{{ $o.zz.y }}",
     "template: line:1:30: executing \"line\" at <$o.zz.y>: nil pointer evaluating interface {}.y"},
    {"RangeOverString", "{{ range .app }}{{ end }}",
     "template: line:1:9: executing \"line\" at <.app>: range can't iterate over foo"},
    {"ArgumentToNonFunction", "{{ .app 1 }}",
     "template: line:1:3: executing \"line\" at <.app>: app is not a method but has arguments"},
    {"NilCommand", "{{ nil }}", "template: line:1:3: executing \"line\" at <nil>: nil is not a command"},
    {"UrlDecode", "{{ urldecode \"%zz\" }}",
     "template: line:1:3: executing \"line\" at <urldecode \"%zz\">: error calling urldecode: invalid URL escape \"%zz\""},
    {"DurationUnit", "{{ duration \"1d\" }}",
     "template: line:1:3: executing \"line\" at <duration \"1d\">: error calling duration: time: unknown unit \"d\" in duration \"1d\""},
    {"DurationSyntax", "{{ duration \"abc\" }}",
     "template: line:1:3: executing \"line\" at <duration \"abc\">: error calling duration: time: invalid duration \"abc\""},
    {"BytesUnit", "{{ bytes \"10 XB\" }}",
     "template: line:1:3: executing \"line\" at <bytes \"10 XB\">: error calling bytes: unhandled size name: xb"},
    {"UnixToTimeLength", "{{ unixToTime \"123\" }}",
     "template: line:1:3: executing \"line\" at <unixToTime \"123\">: error calling unixToTime: unable to parse time '123': %!w(<nil>)"},
    {"UnixToTimeSyntax", "{{ unixToTime .app }}",
     "template: line:1:3: executing \"line\" at <unixToTime .app>: error calling unixToTime: unable to parse time 'foo': strconv.ParseInt: parsing \"foo\": invalid syntax"},
    {"IndexOutOfRange", "{{ index (fromJson \"[1]\") 3 }}",
     "template: line:1:3: executing \"line\" at <index (fromJson \"[1]\") 3>: error calling index: index out of range: 3"},
    {"LenOfInt", "{{ len 3 }}",
     "template: line:1:3: executing \"line\" at <len 3>: error calling len: len of type int"},
    {"RangeIntTwoVars", "{{ range $i, $e := 3 }}{{ end }}",
     "template: line:1:19: executing \"line\" at <3>: can't use 3 to iterate over more than one variable"},
    {"UnknownTemplate", "{{ template \"nope\" }}",
     "template: line:1:12: executing \"line\" at <{{template \"nope\"}}>: template: no template \"nope\" associated with template \"line\""},
    {"ErrorOnSecondLine", "ok\n  {{ div 1 0 }}",
     "template: line:2:5: executing \"line\" at <div 1 0>: error calling div: runtime error: integer divide by zero"},
    {"RepeatTooLarge", "{{ repeat 100000000 \"x\" }}",
     "template: line:1:3: executing \"line\" at <repeat 100000000 \"x\">: error calling repeat: result exceeds 1048576 bytes"},
    {"OutputTooLarge", "{{ range 2000 }}{{ repeat 1000 \"x\" }}{{ end }}",
     "template: line:1:19: executing \"line\" at <{{repeat 1000 \"x\"}}>: template output exceeds 1048576 bytes (limits_config.max_template_output_size)"},
    {"RecursiveTemplate", "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
     "template: line:1:28: executing \"r\" at <{{template \"r\" .}}>: exceeded maximum template depth (300)"},
};

INSTANTIATE_TEST_SUITE_P(Exec, TemplateExecErrorTest, testing::ValuesIn(kExecErrorCases),
                         CaseName);

// ---- behaviour that needs more than one render ----------------------------------------------

TEST(TemplateTest, ExecuteIsRepeatableAndClearsOutput) {
  auto t = Template::Parse("{{ .app }}-{{ __line__ }}");
  ASSERT_TRUE(t.ok());
  FakeClock clock(kNow);
  TemplateContext ctx = MakeContext(&clock);
  std::string out = "stale";
  for (int i = 0; i < 3; ++i) {
    ctx.line = i == 0 ? "a" : "b";
    ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
    EXPECT_EQ(out, i == 0 ? "foo-a" : "foo-b");
  }
}

TEST(TemplateTest, ExecutesConcurrentlyFromManyThreads) {
  auto t = Template::Parse(
      "{{ $x := .who }}{{ range $i, $e := fromJson .list }}{{ $x }}{{ $i }}{{ $e }}{{ end }}"
      "{{ regexReplaceAll \"[0-9]\" .who \"#\" }}");
  ASSERT_TRUE(t.ok());
  const Template& tmpl = **t;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&tmpl, &mismatches, th] {
      std::string who = "w" + std::to_string(th);
      std::string list = "[" + std::to_string(th) + "," + std::to_string(th + 1) + "]";
      TemplateContext ctx;
      ctx.label = [&](std::string_view n) -> const std::string* {
        if (n == "who") return &who;
        if (n == "list") return &list;
        return nullptr;
      };
      std::string want = who + "0" + std::to_string(th) + who + "1" + std::to_string(th + 1) + "w#";
      std::string out;
      for (int i = 0; i < 2000; ++i) {
        if (!tmpl.Execute(ctx, &out).ok() || out != want) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(TemplateTest, MissingLabelEnumeratorMakesDotAnEmptyMap) {
  auto t = Template::Parse("{{ . }}|{{ range $k, $v := . }}x{{ else }}none{{ end }}|{{ .a }}");
  ASSERT_TRUE(t.ok());
  std::string a = "1";
  TemplateContext ctx;
  ctx.label = [&](std::string_view n) -> const std::string* { return n == "a" ? &a : nullptr; };
  std::string out;
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "map[]|none|1");
}

TEST(TemplateTest, PrintsWholeLabelMapSorted) {
  auto t = Template::Parse("{{ . }}");
  ASSERT_TRUE(t.ok());
  std::map<std::string, std::string> labels = {{"b", "2"}, {"a", "1"}};
  TemplateContext ctx;
  ctx.label = [&](std::string_view n) -> const std::string* {
    auto it = labels.find(std::string(n));
    return it == labels.end() ? nullptr : &it->second;
  };
  ctx.for_each_label = [&](const std::function<void(std::string_view, std::string_view)>& v) {
    for (const auto& [k, x] : labels) v(k, x);
  };
  std::string out;
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "map[a:1 b:2]");
}

TEST(TemplateTest, NowReadsTheContextClock) {
  auto t = Template::Parse("{{ unixEpoch now }}");
  ASSERT_TRUE(t.ok());
  FakeClock clock(1000 * kNanosPerSecond);
  TemplateContext ctx;
  ctx.clock = &clock;
  std::string out;
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "1000");
  clock.Advance(5 * kNanosPerSecond);
  ASSERT_TRUE((*t)->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "1005");
}

TEST(TemplateTest, RangeIterationBudgetStopsRunawayLoops) {
  auto t = Template::Parse("{{ range 100000000 }}{{ end }}");
  ASSERT_TRUE(t.ok());
  std::string out;
  Status st = (*t)->Execute(TemplateContext{}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("range iteration limit exceeded"), std::string::npos)
      << st.message();
}

TEST(TemplateTest, HugeLabelValueHitsOutputCap) {
  auto t = Template::Parse("{{ .big }}{{ .big }}");
  ASSERT_TRUE(t.ok());
  std::string big(600 * 1024, 'x');
  TemplateContext ctx;
  ctx.label = [&](std::string_view) -> const std::string* { return &big; };
  std::string out;
  Status st = (*t)->Execute(ctx, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("template output exceeds 1048576 bytes"), std::string::npos);
}

TEST(TemplateTest, DeepNestingOfBlocksIsRejectedAtParse) {
  std::string src;
  for (int i = 0; i < 200; ++i) src += "{{ if true }}";
  src += "x";
  for (int i = 0; i < 200; ++i) src += "{{ end }}";
  auto t = Template::Parse(src);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "template: line:1: max expression depth exceeded");
}

TEST(TemplateTest, ModerateNestingWorks) {
  std::string src;
  for (int i = 0; i < 50; ++i) src += "{{ if true }}";
  src += "x";
  for (int i = 0; i < 50; ++i) src += "{{ end }}";
  auto got = Render(src);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "x");
}

}  // namespace
}  // namespace logq::pipeline
