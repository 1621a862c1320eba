// Fuzz target: the LogQL parser and printer (query/logql). Property: whatever parses prints
// to canonical text that parses again and prints identically (parse(print(ast)) == ast,
// compared through the printer, which covers every AST field).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "query/logql/ast.h"
#include "query/logql/parser.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  auto e = logq::logql::ParseExpr(query);
  if (!e.ok()) return 0;
  const std::string printed = logq::logql::ToString(**e);
  auto again = logq::logql::ParseExpr(printed);
  if (!again.ok()) {
    std::fprintf(stderr, "printed query does not parse: %s\n  printed: %s\n",
                 again.status().message().c_str(), printed.c_str());
  }
  LOGQ_FUZZ_CHECK(again.ok());
  const std::string reprinted = logq::logql::ToString(**again);
  if (reprinted != printed) {
    std::fprintf(stderr, "printer not stable:\n  first:  %s\n  second: %s\n", printed.c_str(),
                 reprinted.c_str());
  }
  LOGQ_FUZZ_CHECK(reprinted == printed);
  // The log-query entry point must agree with ParseExpr on what is a log query.
  auto log = logq::logql::ParseLogExpr(query);
  LOGQ_FUZZ_CHECK(log.ok() == ((*e)->kind == logq::logql::Expr::Kind::kLog));
  return 0;
}
