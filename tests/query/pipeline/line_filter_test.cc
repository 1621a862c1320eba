// Line filters: |= != |~ !~ |> !> ip(), `or`, Loki's regex simplification, the substring
// searcher, and RequiredLiterals().
#include <gtest/gtest.h>

#include <random>

#include "query/pipeline/line_filter.h"
#include "query/pipeline/substring_search.h"
#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::MakePipeline;
using testing::RunOnce;

struct FilterCase {
  const char* name;
  const char* pipeline;
  const char* line;
  bool kept;
};

class LineFilterTest : public ::testing::TestWithParam<FilterCase> {};

TEST_P(LineFilterTest, KeepsOrDropsTheLine) {
  const FilterCase& c = GetParam();
  auto out = RunOnce(c.pipeline, R"({app="a"})", c.line);
  EXPECT_EQ(out.kept, c.kept) << c.pipeline << " on " << c.line;
  if (out.kept) {
    EXPECT_EQ(out.line, c.line) << "filters never rewrite the line";
  }
}

const FilterCase kFilterCases[] = {
    {"contains", R"(|= "foo")", "a foo b", true},
    {"contains_absent", R"(|= "foo")", "a fo b", false},
    {"contains_is_case_sensitive", R"(|= "foo")", "FOO", false},
    {"contains_empty_matches_all", R"(|= "")", "anything", true},
    {"not_contains", R"(!= "foo")", "bar", true},
    {"not_contains_present", R"(!= "foo")", "xfoox", false},
    {"not_contains_empty_drops_everything", R"(!= "")", "anything", false},
    {"or_first", R"(|= "foo" or "bar")", "xfoo", true},
    {"or_second", R"(|= "foo" or "bar")", "xbar", true},
    {"or_none", R"(|= "foo" or "bar")", "baz", false},
    {"not_or_none", R"(!= "foo" or "bar")", "baz", true},
    {"not_or_first", R"(!= "foo" or "bar")", "foo", false},
    {"not_or_second", R"(!= "foo" or "bar")", "bar", false},
    // Loki's or-chaining drops alternatives that match everything.
    {"or_with_empty_alternative_is_the_other", R"(|= "a" or "")", "b", false},
    {"chained_filters_all_apply", R"(|= "a" |= "b" != "c")", "a b", true},
    {"chained_filters_one_fails", R"(|= "a" |= "b" != "c")", "a b c", false},
    {"regex", R"(|~ "err.r")", "an error here", true},
    {"regex_absent", R"(|~ "err.r")", "an err here", false},
    {"regex_case_insensitive_literal", R"(|~ "(?i)error")", "ERROR: x", true},
    {"regex_case_insensitive_mixed", R"(|~ "(?i)error")", "eRrOr", true},
    {"regex_case_insensitive_absent", R"(|~ "(?i)error")", "erro r", false},
    {"regex_alternation", R"(|~ "foo|bar")", "zzbarzz", true},
    {"regex_alternation_absent", R"(|~ "foo|bar")", "zzbazzz", false},
    {"regex_dotstar_wrapped", R"(|~ ".*foo.*")", "xfoox", true},
    {"regex_dotstar_matches_all", R"(|~ ".*")", "", true},
    {"regex_empty_matches_all", R"(|~ "")", "x", true},
    {"regex_dotplus_nonempty", R"(|~ ".+")", "x", true},
    {"regex_dotplus_empty", R"(|~ ".+")", "", false},
    // Loki simplifies `.+` to "non-empty", so a lone newline passes.
    {"regex_dotplus_newline_is_nonempty", R"(|~ ".+")", "\n", true},
    // Loki drops the empty alternative of `foo|` (the regex alone would match everything).
    {"regex_empty_alternative_dropped", R"(|~ "foo|")", "bar", false},
    {"regex_anchored", R"(|~ "^foo")", "foo x", true},
    {"regex_anchored_not_at_start", R"(|~ "^foo")", "x foo", false},
    {"regex_digits", R"(|~ "\\d+ms")", "took 12ms", true},
    {"regex_digits_absent", R"(|~ "\\d+ms")", "took ms", false},
    {"regex_prefilter_then_regex", R"(|~ "error.*timeout")", "error: a timeout", true},
    {"regex_prefilter_order_matters", R"(|~ "error.*timeout")", "timeout after error", false},
    {"not_regex", R"(!~ "err")", "ok", true},
    {"not_regex_present", R"(!~ "err")", "error", false},
    {"not_regex_dotstar_drops_all", R"(!~ ".*")", "x", false},
    {"regex_or_alternatives", R"(|~ "a+b" or "c+d")", "xccd", true},
    {"regex_class", R"(|~ "[0-9]{3}")", "code 404", true},
    {"regex_optional_char", R"(|~ "colou?r")", "my color", true},
    {"regex_named_group", R"(|~ "(?P<x>ab)c")", "abc", true},
    {"pattern_filter", R"(|> "<_> foo <_>")", "a foo b", true},
    {"pattern_filter_empty_captures", R"(|> "<_> foo <_>")", " foo ", false},
    {"pattern_filter_literal_only_in_middle", R"(|> "<_>foo<_>")", " foo ", true},
    {"pattern_filter_trailing_literal_must_end", R"(|> "<_> bar")", "foo bar baz", false},
    {"pattern_filter_trailing_literal", R"(|> "<_> bar")", "foo bar", true},
    {"pattern_filter_trailing_capture_needs_text", R"(|> "foo <_>")", "foo ", false},
    // Loki only checks the order of literals: a leading literal may appear anywhere.
    {"pattern_filter_leading_literal_anywhere", R"(|> "foo <_>")", "xx foo bar", true},
    {"not_pattern_filter", R"(!> "<_> foo <_>")", "a foo b", false},
    {"not_pattern_filter_miss", R"(!> "<_> foo <_>")", "a bar b", true},
    {"ip_single", R"(|= ip("192.168.0.1"))", "from 192.168.0.1 port", true},
    {"ip_single_longer_address", R"(|= ip("192.168.0.1"))", "from 192.168.0.10 port", false},
    {"ip_cidr", R"(|= ip("192.168.0.0/24"))", "from 192.168.0.77:8080", true},
    {"ip_cidr_outside", R"(|= ip("192.168.0.0/24"))", "from 192.168.1.77:8080", false},
    {"ip_range", R"(|= ip("192.168.0.1-192.168.0.5"))", "ip=192.168.0.3,", true},
    {"ip_range_outside", R"(|= ip("192.168.0.1-192.168.0.5"))", "ip=192.168.0.6,", false},
    {"ip_leading_zero_is_not_an_ip", R"(|= ip("192.168.0.1"))", "x 192.168.000.1 y", false},
    {"ip_second_candidate", R"(|= ip("10.0.0.1"))", "1.2.3.4 and 10.0.0.1 ok", true},
    {"ip_v6", R"(|= ip("::1"))", "addr ::1 end", true},
    {"ip_v6_cidr", R"(|= ip("2001:db8::/32"))", "peer 2001:db8::7 connected", true},
    {"ip_v4_mapped_is_not_v4", R"(|= ip("1.2.3.4"))", "peer ::ffff:1.2.3.4 connected", false},
    {"not_ip", R"(!= ip("10.0.0.0/8"))", "from 10.1.2.3 x", false},
    {"not_ip_miss", R"(!= ip("10.0.0.0/8"))", "from 11.1.2.3 x", true},
};

INSTANTIATE_TEST_SUITE_P(Cases, LineFilterTest, ::testing::ValuesIn(kFilterCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LineFilterErrorsTest, InvalidIpPatternIsRejected) {
  auto p = MakePipeline(R"(|= ip("300.1.1.1"))");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "parse error : stage '|= ip(\"300.1.1.1\")' : ip: invalid pattern: \"300.1.1.1\"");
}

TEST(LineFilterErrorsTest, NamedCaptureInPatternFilterIsRejected) {
  auto p = MakePipeline(R"(|> "<a> foo")");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("named captures are not allowed"), std::string::npos);
}

TEST(LineFilterErrorsTest, ConsecutiveCapturesInPatternFilterAreRejected) {
  auto p = MakePipeline(R"(|> "<_><_> foo")");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "parse error : stage '|> \"<_><_> foo\"' : found consecutive capture '<_><_>': invalid expression");
}

// ---- regex simplification plans ---------------------------------------------------------

TEST(AnalyzeRegexTest, LiteralBecomesSubstringSearch) {
  RegexPlan p = AnalyzeRegex("error");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_FALSE(p.case_insensitive);
  EXPECT_EQ(p.literals, std::vector<std::string>{"error"});
}

TEST(AnalyzeRegexTest, CaseInsensitiveLiteralBecomesCaseInsensitiveSearch) {
  RegexPlan p = AnalyzeRegex("(?i)error");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_TRUE(p.case_insensitive);
  EXPECT_EQ(p.literals, std::vector<std::string>{"error"});
}

TEST(AnalyzeRegexTest, AlternationOfLiteralsBecomesMultiLiteralSearch) {
  RegexPlan p = AnalyzeRegex("(foo|bar|baz)");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_EQ(p.literals, (std::vector<std::string>{"bar", "baz", "foo"}));
}

TEST(AnalyzeRegexTest, EscapedPunctuationIsLiteral) {
  RegexPlan p = AnalyzeRegex(R"(level=\"error\"\.)");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_EQ(p.literals, std::vector<std::string>{"level=\"error\"."});
}

TEST(AnalyzeRegexTest, DotStarAroundLiteral) {
  RegexPlan p = AnalyzeRegex(".*foo.*");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_EQ(p.literals, std::vector<std::string>{"foo"});
}

TEST(AnalyzeRegexTest, OptionalCharacterExpandsToLiteralSet) {
  RegexPlan p = AnalyzeRegex("colou?r");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kLiterals);
  EXPECT_EQ(p.literals, (std::vector<std::string>{"color", "colour"}));
}

TEST(AnalyzeRegexTest, MatchAllForms) {
  EXPECT_EQ(AnalyzeRegex("").kind, RegexPlan::Kind::kTrue);
  EXPECT_EQ(AnalyzeRegex(".*").kind, RegexPlan::Kind::kTrue);
  EXPECT_EQ(AnalyzeRegex("(.*)").kind, RegexPlan::Kind::kTrue);
  EXPECT_EQ(AnalyzeRegex(".+").kind, RegexPlan::Kind::kExists);
}

TEST(AnalyzeRegexTest, ComplexRegexGetsLongestRequiredLiteralAsPrefilter) {
  RegexPlan p = AnalyzeRegex("error.*timeout");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_EQ(p.prefilter, "timeout");
}

TEST(AnalyzeRegexTest, PrefilterStopsAtNonLiteralAtoms) {
  RegexPlan p = AnalyzeRegex(R"((?i)status=5\d\d)");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_TRUE(p.case_insensitive);
  EXPECT_EQ(p.prefilter, "status=5");
}

TEST(AnalyzeRegexTest, RepeatedLiteralCharacterIsNotPartOfTheRun) {
  RegexPlan p = AnalyzeRegex("abc+d");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_EQ(p.prefilter, "ab");
}

TEST(AnalyzeRegexTest, NoPrefilterWithoutLiterals) {
  RegexPlan p = AnalyzeRegex("[a-z]+[0-9]");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_EQ(p.prefilter, "");
}

TEST(AnalyzeRegexTest, NonAsciiCaseInsensitiveLiteralFallsBackToRegex) {
  RegexPlan p = AnalyzeRegex("(?i)h\xC3\xA9llo");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_EQ(p.prefilter, "llo");
}

TEST(AnalyzeRegexTest, FlagsInsideThePatternDisableShortcuts) {
  RegexPlan p = AnalyzeRegex("a(?i)b");
  EXPECT_EQ(p.kind, RegexPlan::Kind::kRegex);
  EXPECT_EQ(p.prefilter, "");
}

TEST(ToRe2SyntaxTest, RewritesGoNamedGroups) {
  EXPECT_EQ(ToRe2Syntax("(?<name>a)(?P<x>b)"), "(?P<name>a)(?P<x>b)");
  EXPECT_EQ(ToRe2Syntax(R"([(?<]\(?<)"), R"([(?<]\(?<)");
}

// ---- substring searcher ---------------------------------------------------------------

std::string LowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  return s;
}

TEST(SubstringSearcherTest, AgreesWithStdFindOnRandomInputs) {
  std::mt19937 rng(42);
  const std::string alphabet = "abcABC-_\xC3\xA9";
  auto random_string = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string hay = random_string(rng() % 200);
    std::string needle = random_string(1 + rng() % 6);
    if (rng() % 3 == 0 && hay.size() > 8) needle = hay.substr(rng() % (hay.size() - 4), 1 + rng() % 4);
    SubstringSearcher cs(needle, false);
    EXPECT_EQ(cs.Find(hay), std::string_view(hay).find(needle)) << hay << " / " << needle;
    SubstringSearcher ci(needle, true);
    EXPECT_EQ(ci.Find(hay), std::string_view(LowerAscii(hay)).find(LowerAscii(needle))) << hay << " / " << needle;
  }
}

TEST(SubstringSearcherTest, FindsAtEveryOffsetAcrossVectorBlocks) {
  const std::string needle = "needle";
  for (size_t pos = 0; pos < 100; ++pos) {
    std::string hay(110, 'x');
    hay.replace(pos, needle.size(), needle);
    EXPECT_EQ(SubstringSearcher(needle, false).Find(hay), pos);
    EXPECT_EQ(SubstringSearcher("NEEDLE", true).Find(hay), pos);
  }
}

TEST(SubstringSearcherTest, EmptyNeedleMatchesAtZero) {
  EXPECT_EQ(SubstringSearcher("", false).Find("abc"), 0u);
  EXPECT_EQ(SubstringSearcher("", true).Find(""), 0u);
  EXPECT_FALSE(SubstringSearcher("abcd", false).Contains("abc"));
}

// ---- RequiredLiterals ---------------------------------------------------------------------

std::vector<std::string> Literals(std::string_view pipeline) {
  auto p = MakePipeline(pipeline);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? (*p)->RequiredLiterals() : std::vector<std::string>{};
}

TEST(RequiredLiteralsTest, LeadingContainsFilters) {
  EXPECT_EQ(Literals(R"(|= "a" |= "b")"), (std::vector<std::string>{"a", "b"}));
}

TEST(RequiredLiteralsTest, OrAlternativesAreNotRequired) {
  EXPECT_TRUE(Literals(R"(|= "a" or "b")").empty());
}

TEST(RequiredLiteralsTest, NegativeRegexAndIpFiltersAreNotLiterals) {
  EXPECT_TRUE(Literals(R"(!= "a" |~ "b" |= ip("1.2.3.4") |= "")").empty());
}

TEST(RequiredLiteralsTest, FiltersAfterParsersAreHoistedLikeLoki) {
  EXPECT_EQ(Literals(R"(| json | label_format a=b |= "x")"), std::vector<std::string>{"x"});
}

TEST(RequiredLiteralsTest, FiltersAfterLineFormatAreNotRequired) {
  EXPECT_EQ(Literals(R"(|= "a" | line_format "{{.b}}" |= "x")"), std::vector<std::string>{"a"});
}

TEST(RequiredLiteralsTest, FiltersAfterUnpackAreNotRequired) {
  EXPECT_TRUE(Literals(R"(| unpack |= "x")").empty());
}

TEST(RequiredLiteralsTest, FiltersAfterALabelFilterStayRequired) {
  EXPECT_EQ(Literals(R"(| level="x" |= "y")"), std::vector<std::string>{"y"});
}

TEST(PipelineTest, IsNoopOnlyWithoutEffectiveStages) {
  auto empty = MakePipeline("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE((*empty)->IsNoop());
  auto trivial = MakePipeline(R"(|= "" |~ ".*")");
  ASSERT_TRUE(trivial.ok());
  EXPECT_TRUE((*trivial)->IsNoop());
  auto real = MakePipeline(R"(|= "x")");
  ASSERT_TRUE(real.ok());
  EXPECT_FALSE((*real)->IsNoop());
}

}  // namespace
}  // namespace logq::pipeline
