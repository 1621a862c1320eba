#include "query/pipeline/label_filter.h"

#include "query/pipeline/go_compat.h"
#include "query/pipeline/ip_filter.h"
#include "query/pipeline/line_filter.h"

namespace logq::pipeline {
namespace {

constexpr std::string_view kLabelFilterErr = "LabelFilterErr";

template <typename T>
bool Compare(logql::CmpOp op, T a, T b) {
  switch (op) {
    case logql::CmpOp::kEq: return a == b;
    case logql::CmpOp::kNe: return a != b;
    case logql::CmpOp::kGt: return a > b;
    case logql::CmpOp::kGe: return a >= b;
    case logql::CmpOp::kLt: return a < b;
    case logql::CmpOp::kLe: return a <= b;
  }
  return false;
}

void SetFilterError(LabelsBuilder* lbs, const std::string& details) {
  // Don't overwrite what might be a more useful error.
  if (lbs->HasErr()) return;
  lbs->SetErr(kLabelFilterErr);
  lbs->SetErrDetails(details);
}

class ConstPredicate final : public LabelPredicate {
 public:
  explicit ConstPredicate(bool v) : v_(v) {}
  bool Eval(LabelsBuilder*) const override { return v_; }
  bool IsNoop() const override { return v_; }

 private:
  bool v_;
};

class StringPredicate final : public LabelPredicate {
 public:
  explicit StringPredicate(Matcher m) : m_(std::move(m)), is_error_(m_.name() == kErrorLabel) {}
  bool Eval(LabelsBuilder* lbs) const override {
    if (is_error_) return m_.Matches(lbs->err());
    const std::string* v = lbs->Get(m_.name());
    return m_.Matches(v ? std::string_view(*v) : std::string_view());
  }

 private:
  Matcher m_;
  bool is_error_;
};

class NumberPredicate final : public LabelPredicate {
 public:
  NumberPredicate(std::string name, logql::CmpOp op, double value) : name_(std::move(name)), op_(op), value_(value) {}
  bool Eval(LabelsBuilder* lbs) const override {
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    double x;
    std::string err;
    if (!gocompat::ParseFloat(*v, &x, &err)) {
      SetFilterError(lbs, err);
      return true;
    }
    return Compare(op_, x, value_);
  }

 private:
  std::string name_;
  logql::CmpOp op_;
  double value_;
};

class DurationPredicate final : public LabelPredicate {
 public:
  DurationPredicate(std::string name, logql::CmpOp op, int64_t value) : name_(std::move(name)), op_(op), value_(value) {}
  bool Eval(LabelsBuilder* lbs) const override {
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    int64_t x;
    std::string err;
    if (!gocompat::ParseDuration(*v, &x, &err)) {
      SetFilterError(lbs, err);
      return true;
    }
    return Compare(op_, x, value_);
  }

 private:
  std::string name_;
  logql::CmpOp op_;
  int64_t value_;
};

class BytesPredicate final : public LabelPredicate {
 public:
  BytesPredicate(std::string name, logql::CmpOp op, uint64_t value) : name_(std::move(name)), op_(op), value_(value) {}
  bool Eval(LabelsBuilder* lbs) const override {
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    uint64_t x;
    std::string err;
    if (!gocompat::ParseBytes(*v, &x, &err)) {
      SetFilterError(lbs, err);
      return true;
    }
    return Compare(op_, x, value_);
  }

 private:
  std::string name_;
  logql::CmpOp op_;
  uint64_t value_;
};

class IpPredicate final : public LabelPredicate {
 public:
  IpPredicate(std::string name, bool equal, IpMatcher m) : name_(std::move(name)), equal_(equal), m_(std::move(m)) {}
  bool Eval(LabelsBuilder* lbs) const override {
    if (lbs->HasErr()) return true;  // only string matchers can filter out errored lines
    const std::string* v = lbs->Get(name_);
    if (v == nullptr) return false;
    const bool in = m_.MatchesIn(*v);
    return equal_ ? in : !in;
  }

 private:
  std::string name_;
  bool equal_;
  IpMatcher m_;
};

class BinaryPredicate final : public LabelPredicate {
 public:
  BinaryPredicate(bool is_and, std::unique_ptr<LabelPredicate> l, std::unique_ptr<LabelPredicate> r)
      : and_(is_and), l_(std::move(l)), r_(std::move(r)) {}
  bool Eval(LabelsBuilder* lbs) const override {
    const bool lok = l_->Eval(lbs);
    if (!and_ && lok) return true;
    const bool rok = r_->Eval(lbs);
    return and_ ? (lok && rok) : (lok || rok);
  }

 private:
  bool and_;
  std::unique_ptr<LabelPredicate> l_, r_;
};

// Loki turns `=~".*"` and `=~""` (any regex its simplifier reduces to "match everything")
// into a no-op and the `!~` forms into "match nothing", whatever the label's value.
bool RegexMatchesEverything(std::string_view re) {
  return AnalyzeRegex(re).kind == RegexPlan::Kind::kTrue && re.find('?') == std::string_view::npos &&
         re.find('|') == std::string_view::npos;
}

}  // namespace

Result<std::unique_ptr<LabelPredicate>> BuildLabelPredicate(const logql::LabelFilterExpr& e) {
  using K = logql::LabelFilterExpr::Kind;
  switch (e.kind) {
    case K::kString: {
      if (!e.matcher) return InvalidArgument("label filter without a matcher");
      const Matcher& m = *e.matcher;
      if ((m.type() == MatchType::kRegexMatch || m.type() == MatchType::kRegexNoMatch) &&
          RegexMatchesEverything(m.value())) {
        return std::unique_ptr<LabelPredicate>(new ConstPredicate(m.type() == MatchType::kRegexMatch));
      }
      return std::unique_ptr<LabelPredicate>(new StringPredicate(m));
    }
    case K::kNumber:
      return std::unique_ptr<LabelPredicate>(new NumberPredicate(e.name, e.op, e.number));
    case K::kDuration:
      return std::unique_ptr<LabelPredicate>(new DurationPredicate(e.name, e.op, e.duration_ns));
    case K::kBytes:
      return std::unique_ptr<LabelPredicate>(new BytesPredicate(e.name, e.op, static_cast<uint64_t>(e.bytes)));
    case K::kIp: {
      ASSIGN_OR_RETURN(IpMatcher m, IpMatcher::Make(e.ip));
      return std::unique_ptr<LabelPredicate>(new IpPredicate(e.name, e.op != logql::CmpOp::kNe, std::move(m)));
    }
    case K::kAnd:
    case K::kOr: {
      if (!e.left || !e.right) return InvalidArgument("binary label filter without operands");
      ASSIGN_OR_RETURN(auto l, BuildLabelPredicate(*e.left));
      ASSIGN_OR_RETURN(auto r, BuildLabelPredicate(*e.right));
      return std::unique_ptr<LabelPredicate>(new BinaryPredicate(e.kind == K::kAnd, std::move(l), std::move(r)));
    }
  }
  return InvalidArgument("unknown label filter");
}

LabelCondition::LabelCondition(const logql::LabelFilterExpr& leaf)
    : leaf_(leaf), name_(leaf.kind == logql::LabelFilterExpr::Kind::kString ? leaf.matcher->name() : leaf.name) {}

bool LabelCondition::Rejects(std::string_view v) const {
  using K = logql::LabelFilterExpr::Kind;
  const logql::LabelFilterExpr& e = leaf_;
  std::string err;
  switch (e.kind) {
    case K::kString:
      return !e.matcher->Matches(v);
    case K::kNumber: {
      double x;
      return gocompat::ParseFloat(v, &x, &err) && !Compare(e.op, x, e.number);
    }
    case K::kDuration: {
      int64_t x;
      return gocompat::ParseDuration(v, &x, &err) && !Compare(e.op, x, e.duration_ns);
    }
    case K::kBytes: {
      uint64_t x;
      return gocompat::ParseBytes(v, &x, &err) && !Compare(e.op, x, static_cast<uint64_t>(e.bytes));
    }
    default:
      return false;
  }
}

namespace {

void CollectConditions(const std::shared_ptr<const logql::LabelFilterExpr>& p, std::vector<LabelCondition>* out) {
  using K = logql::LabelFilterExpr::Kind;
  if (!p) return;
  const logql::LabelFilterExpr& e = *p;
  switch (e.kind) {
    case K::kAnd:
      CollectConditions(e.left, out);
      CollectConditions(e.right, out);
      return;
    case K::kString: {
      if (!e.matcher || e.matcher->name() == kErrorLabel || e.matcher->name() == kErrorDetailsLabel) return;
      const Matcher& m = *e.matcher;
      const bool regex = m.type() == MatchType::kRegexMatch || m.type() == MatchType::kRegexNoMatch;
      if (!(regex && RegexMatchesEverything(m.value()))) out->emplace_back(e);
      return;
    }
    case K::kNumber:
    case K::kDuration:
    case K::kBytes:
      out->emplace_back(e);
      return;
    default:
      return;  // ip() lets errored lines pass, `or` has no necessary leaf
  }
}

}  // namespace

std::vector<LabelCondition> NecessaryConditions(const std::shared_ptr<const logql::LabelFilterExpr>& expr) {
  std::vector<LabelCondition> out;
  CollectConditions(expr, &out);
  return out;
}

}  // namespace logq::pipeline
