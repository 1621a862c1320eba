#include "query/model/labels.h"

#include <gtest/gtest.h>

#include "query/logql/selector.h"
#include "query/model/matcher.h"

namespace logq {
namespace {

TEST(LabelsTest, ParsesAndPrintsCanonically) {
  auto l = ParseLabels(R"({job="varlogs", app = "a\"b\\c\n"})");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  Labels labels = *l;
  labels.Sort();
  EXPECT_EQ(labels.ToString(), R"({app="a\"b\\c\n", job="varlogs"})");
  EXPECT_EQ(*labels.Get("job"), "varlogs");
}

TEST(LabelsTest, EmptySetAndTrailingComma) {
  EXPECT_TRUE(ParseLabels("{}")->empty());
  EXPECT_EQ(ParseLabels(R"({a="1",})")->size(), 1u);
}

TEST(LabelsTest, RejectsMalformedText) {
  for (const char* bad : {"", "a=\"b\"", "{a=}", "{1a=\"x\"}", "{a=\"x\"", "{a=\"x\"} junk",
                          "{a=\"\\q\"}", "{a-b=\"x\"}"}) {
    EXPECT_FALSE(ParseLabels(bad).ok()) << bad;
  }
}

TEST(LabelsTest, DetectsDuplicatesAfterSort) {
  Labels l = *ParseLabels(R"({b="1", a="1", b="2"})");
  l.Sort();
  EXPECT_EQ(l.FirstDuplicate(), "b");
}

TEST(LabelsTest, QuotesInvalidUtf8AndControlBytes) {
  std::string out;
  AppendGoQuoted(std::string("a\x01\xff", 3), &out);
  EXPECT_EQ(out, R"("a\x01\xff")");
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
}

TEST(MatcherTest, RegexIsAnchored) {
  auto m = *Matcher::Make(MatchType::kRegexMatch, "app", "ap+");
  EXPECT_TRUE(m.Matches("app"));
  EXPECT_FALSE(m.Matches("xapp"));
  EXPECT_FALSE(Matcher::Make(MatchType::kRegexMatch, "a", "(").ok());
}

TEST(SelectorTest, ParsesAllMatcherTypes) {
  auto ms = logql::ParseSelector(R"({app="a", env!="dev", ns=~"prod|stage", pod!~`x.*`})");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 4u);
  EXPECT_EQ((*ms)[2].ToString(), R"(ns=~"prod|stage")");
}

TEST(SelectorTest, ErrorsCarryLineAndColumn) {
  auto r = logql::ParseSelector(R"({app="a")");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("parse error at line 1, col 9", 0), 0u) << r.status().message();
}

TEST(SelectorTest, RejectsEmptyCompatibleUnlessAllowed) {
  auto r = logql::ParseSelector(R"({app=~".*"})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty-compatible"), std::string::npos);
  EXPECT_TRUE(logql::ParseSelector("{}", {.require_non_empty_matcher = false}).ok());
}

}  // namespace
}  // namespace logq
