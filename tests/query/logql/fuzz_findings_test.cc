// Regression tests for what the LogQL fuzz target (tests/fuzz/logql_fuzz.cc) found: every
// query that parses must print to text that parses back to the same query.
#include <gtest/gtest.h>

#include "query/logql/ast.h"
#include "query/logql/parser.h"

namespace logq::logql {
namespace {

// Found by fuzz_logql: `a>1 and by>=0` parsed (after `and` a keyword-named label is a label)
// but printed as `a>1, by>=0`, which did not parse after `or` (`,` refused a keyword label).
TEST(LogqlFuzzFindingsTest, AndOfKeywordNamedLabelPrintsAndReadsBack) {
  for (const char* q : {R"({a="b"} | duration > 1s and bytes <= 2KB or statusation > 1s and by>= 000, x="y")",
                        R"({a="b"} | x="1" or y>1 and without="2")", R"({a="b"} | x>1, offset<3)"}) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    const std::string printed = ToString(**e);
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << printed << ": " << again.status().message();
    EXPECT_EQ(ToString(**again), printed);
  }
}

// Found by fuzz_logql: `2 % 9…9e999…` parsed as +Inf and printed as `+Inf`, which does not
// parse. Loki (strconv.ParseFloat) rejects such literals.
TEST(LogqlFuzzFindingsTest, NumberLiteralOutOfRangeIsAParseError) {
  for (const char* q : {"1 + 2 % 99999999999999999999e999", "1e309", R"({a="b"} | x > 1e400)",
                        R"(sum(rate({a="b"}[1m])) > 2e999)"}) {
    auto e = ParseExpr(q);
    ASSERT_FALSE(e.ok()) << q << " parsed as " << ToString(**e);
    EXPECT_NE(e.status().message().find("unable to parse literal as a float"), std::string::npos)
        << e.status().message();
    EXPECT_NE(e.status().message().find("value out of range"), std::string::npos)
        << e.status().message();
  }
  // The largest finite doubles and underflow to zero stay numbers, as in Go.
  for (const char* q : {"1.7976931348623157e308", "-1e308", "1e-400"}) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().message();
    auto again = ParseExpr(ToString(**e));
    ASSERT_TRUE(again.ok()) << ToString(**e) << ": " << again.status().message();
    EXPECT_EQ(ToString(**again), ToString(**e));
  }
}

}  // namespace
}  // namespace logq::logql
