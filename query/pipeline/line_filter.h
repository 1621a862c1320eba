// Line filters (`|=`, `!=`, `|~`, `!~`, `|>`, `!>`, `ip(...)`, `or` alternatives) compiled
// into predicates over a line. Semantics follow Loki's filter.go, including its regex
// simplification: a regex that is a literal, an alternation of literals, or such wrapped in
// `.*`, becomes a substring search (`(?i)` → ASCII case-insensitive search); `.*` and the
// empty regex match every line, `.+` every non-empty line. Other regexes run on RE2 behind
// a substring prefilter on a literal every match must contain.
// Filters are immutable after construction and thread-safe; Matches() does not allocate.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/logql/ast.h"

namespace logq::pipeline {

class LineFilter {
 public:
  virtual ~LineFilter() = default;
  virtual bool Matches(std::string_view line) const = 0;
  // True for a filter that accepts every line (Loki drops such stages).
  virtual bool IsTrue() const { return false; }
  // Rough cost class used to order the filters of a group: 0 substring, 1 other, 2 regex.
  virtual int Cost() const { return 1; }
};

// Compiles one line-filter stage (all its `or` alternatives). InvalidArgument for bad
// regexes, patterns or ip() patterns.
Result<std::unique_ptr<LineFilter>> BuildLineFilter(const logql::LineFilterStage& stage);

// The plan for a `|~` regex, exposed for tests.
struct RegexPlan {
  enum class Kind {
    kRegex,     // run RE2 (after the prefilter, if any)
    kTrue,      // matches every line
    kExists,    // matches non-empty lines
    kLiterals,  // matches lines containing any of `literals`
  };
  Kind kind = Kind::kRegex;
  bool case_insensitive = false;      // for kLiterals and `prefilter`
  std::vector<std::string> literals;  // kLiterals
  std::string prefilter;              // kRegex: a substring every match contains ("" = none)
};
RegexPlan AnalyzeRegex(std::string_view pattern);

// Rewrites Go's `(?<name>` group syntax to RE2's `(?P<name>`.
std::string ToRe2Syntax(std::string_view pattern);

}  // namespace logq::pipeline
