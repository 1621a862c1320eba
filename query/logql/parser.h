// LogQL parser: text → AST (ast.h). Recursive descent over a small lexer; binary operators
// by precedence climbing with Loki's precedence (or < and/unless < comparisons < + - <
// * / % < ^, ^ right-associative). Errors are InvalidArgument with Loki's shape:
// "parse error at line L, col C: <message>". Pure and thread-safe.
#pragma once

#include <string_view>

#include "query/base/status.h"
#include "query/logql/ast.h"

namespace logq::logql {

struct ParseOptions {
  size_t max_query_bytes = 131072;  // Loki HEAD's cap; 400 "input size too long" above
  // Expression depth cap: every precedence level, chained operator (binary, label filter
  // and/or), parenthesis and aggregation counts one. Bounds the AST's height so that every
  // recursive walk over it stays within a thread's stack; 400 "expression too deep" above.
  int max_depth = 256;
  // Reject selectors whose matchers all accept the empty string (`{a=~".*"}`), as Loki does
  // for queries. Promtail's match stage parses its selector without this check (false).
  bool require_non_empty_matcher = true;
};

Result<ExprPtr> ParseExpr(std::string_view query, const ParseOptions& options = {});

// A log query (selector + pipeline) only; metric queries are an error.
Result<std::shared_ptr<const LogExpr>> ParseLogExpr(std::string_view query, const ParseOptions& options = {});

}  // namespace logq::logql
