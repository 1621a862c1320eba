// Label filter predicates (`| status >= 400`, `| level="error" or latency > 1s`, `| addr =
// ip("10.0.0.0/8")`), compiled from the AST with Loki 3's semantics:
//  - string matchers compare the label's value ("" when absent); on `__error__` they see the
//    current error, which makes `__error__=""` the way to drop failed lines;
//  - number/duration/bytes comparisons reject a line without the label; a value that does
//    not convert sets `__error__=LabelFilterErr` and `__error_details__` (unless an error is
//    already set) and lets the line pass;
//  - `and` evaluates both sides, `or` stops at the first true side.
// Immutable; thread-safe; Eval mutates only the builder it is given.
#pragma once

#include <memory>
#include <vector>

#include "query/base/status.h"
#include "query/logql/ast.h"
#include "query/pipeline/labels_builder.h"

namespace logq::pipeline {

class LabelPredicate {
 public:
  virtual ~LabelPredicate() = default;
  virtual bool Eval(LabelsBuilder* lbs) const = 0;
  // True when the predicate accepts every line without side effects (Loki drops it).
  virtual bool IsNoop() const { return false; }
};

// InvalidArgument for an invalid ip() pattern.
Result<std::unique_ptr<LabelPredicate>> BuildLabelPredicate(const logql::LabelFilterExpr& expr);

// A condition on one label that every line passing a label filter meets: one conjunct of a
// chain of `and`s (string matchers other than on `__error__`/`__error_details__` and
// Loki's "match everything" forms; number, duration and bytes comparisons). A parser directly
// followed by the filter may drop a line as soon as it sets such a label to a rejected value
// (Loki's ShouldContinueParsingLine); the filter would drop it anyway, since parsers keep
// the first value of a key.
class LabelCondition {
 public:
  explicit LabelCondition(const logql::LabelFilterExpr& leaf);  // a copy: no reference to the AST
  const std::string& name() const { return name_; }
  // True when the filter certainly rejects a line whose label `name()` has this value
  // (a value that does not convert is not rejected: the filter lets such lines pass).
  bool Rejects(std::string_view value) const;

 private:
  logql::LabelFilterExpr leaf_;
  std::string name_;
};
std::vector<LabelCondition> NecessaryConditions(const std::shared_ptr<const logql::LabelFilterExpr>& expr);

}  // namespace logq::pipeline
