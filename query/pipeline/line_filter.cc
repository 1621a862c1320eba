#include "query/pipeline/line_filter.h"

#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "query/model/matcher.h"
#include "query/pipeline/ip_filter.h"
#include "query/pipeline/pattern.h"
#include "query/pipeline/substring_search.h"
#include "query/pipeline/text_util.h"

namespace logq::pipeline {
namespace {

// ---- predicates --------------------------------------------------------------------------

class TrueFilter final : public LineFilter {
 public:
  bool Matches(std::string_view) const override { return true; }
  bool IsTrue() const override { return true; }
  int Cost() const override { return 0; }
};

class ExistsFilter final : public LineFilter {
 public:
  bool Matches(std::string_view line) const override { return !line.empty(); }
  int Cost() const override { return 0; }
};

class ContainsFilter final : public LineFilter {
 public:
  ContainsFilter(std::string_view needle, bool ci) : s_(needle, ci) {}
  bool Matches(std::string_view line) const override { return s_.Contains(line); }
  int Cost() const override { return 0; }

 private:
  SubstringSearcher s_;
};

class ContainsAnyFilter final : public LineFilter {
 public:
  ContainsAnyFilter(const std::vector<std::string>& needles, bool ci) {
    for (const std::string& n : needles) s_.emplace_back(n, ci);
  }
  bool Matches(std::string_view line) const override {
    for (const SubstringSearcher& s : s_) {
      if (s.Contains(line)) return true;
    }
    return false;
  }
  int Cost() const override { return 0; }

 private:
  std::vector<SubstringSearcher> s_;
};

class RegexFilter final : public LineFilter {
 public:
  RegexFilter(std::unique_ptr<RE2> re, std::string_view prefilter, bool ci)
      : re_(std::move(re)), prefilter_(prefilter, ci), has_prefilter_(!prefilter.empty()) {}
  bool Matches(std::string_view line) const override {
    if (has_prefilter_ && !prefilter_.Contains(line)) return false;
    return RE2::PartialMatch(line, *re_);
  }
  int Cost() const override { return 2; }

 private:
  std::unique_ptr<RE2> re_;
  SubstringSearcher prefilter_;
  bool has_prefilter_;
};

class PatternFilter final : public LineFilter {
 public:
  explicit PatternFilter(Pattern p) : p_(std::move(p)) {}
  bool Matches(std::string_view line) const override { return p_.Test(line); }

 private:
  Pattern p_;
};

class IpLineFilter final : public LineFilter {
 public:
  explicit IpLineFilter(IpMatcher m) : m_(std::move(m)) {}
  bool Matches(std::string_view line) const override { return m_.MatchesIn(line); }

 private:
  IpMatcher m_;
};

class NotFilter final : public LineFilter {
 public:
  explicit NotFilter(std::unique_ptr<LineFilter> f) : f_(std::move(f)) {}
  bool Matches(std::string_view line) const override { return !f_->Matches(line); }
  int Cost() const override { return f_->Cost(); }

 private:
  std::unique_ptr<LineFilter> f_;
};

class OrFilter final : public LineFilter {
 public:
  explicit OrFilter(std::vector<std::unique_ptr<LineFilter>> fs) : fs_(std::move(fs)) {}
  bool Matches(std::string_view line) const override {
    for (const auto& f : fs_) {
      if (f->Matches(line)) return true;
    }
    return false;
  }
  int Cost() const override {
    int c = 0;
    for (const auto& f : fs_) c = std::max(c, f->Cost());
    return c;
  }

 private:
  std::vector<std::unique_ptr<LineFilter>> fs_;
};

class AndFilter final : public LineFilter {
 public:
  explicit AndFilter(std::vector<std::unique_ptr<LineFilter>> fs) : fs_(std::move(fs)) {}
  bool Matches(std::string_view line) const override {
    for (const auto& f : fs_) {
      if (!f->Matches(line)) return false;
    }
    return true;
  }
  int Cost() const override {
    int c = 0;
    for (const auto& f : fs_) c = std::max(c, f->Cost());
    return c;
  }

 private:
  std::vector<std::unique_ptr<LineFilter>> fs_;
};

// ---- regex analysis ----------------------------------------------------------------------

struct RNode {
  enum class Kind { kLit, kAny, kOpaque, kAnchor, kGroup, kConcat, kAlt, kRepeat };
  Kind kind = Kind::kConcat;
  std::string lit;  // kLit: one character (UTF-8 encoded)
  std::vector<RNode> kids;
  int min = 1, max = 1;  // kRepeat; max -1 = unbounded
};

constexpr size_t kMaxSetSize = 32;
constexpr size_t kMaxLiteral = 4096;

// Parses the subset of RE2 syntax needed to find literals. Anything else fails (ok_ false),
// which only disables the shortcuts: the regex still runs on RE2.
class RegexAnalyzer {
 public:
  explicit RegexAnalyzer(std::string_view s) : s_(s) {}

  bool Parse(RNode* root) {
    // Leading flag groups: (?i), (?s), (?im) ...
    while (s_.substr(i_, 2) == "(?") {
      size_t j = i_ + 2;
      std::string flags;
      while (j < s_.size() && (s_[j] == 'i' || s_[j] == 'm' || s_[j] == 's' || s_[j] == 'U')) flags += s_[j++];
      if (j >= s_.size() || s_[j] != ')' || flags.empty()) break;
      if (flags.find('i') != std::string::npos) ci_ = true;
      i_ = j + 1;
    }
    *root = ParseAlt(0);
    return ok_ && i_ == s_.size();
  }
  bool ci() const { return ci_; }

 private:
  RNode ParseAlt(int depth) {
    RNode first = ParseConcat(depth);
    if (i_ >= s_.size() || s_[i_] != '|') return first;
    RNode alt;
    alt.kind = RNode::Kind::kAlt;
    alt.kids.push_back(std::move(first));
    while (ok_ && i_ < s_.size() && s_[i_] == '|') {
      ++i_;
      alt.kids.push_back(ParseConcat(depth));
    }
    return alt;
  }

  RNode ParseConcat(int depth) {
    RNode cat;
    cat.kind = RNode::Kind::kConcat;
    while (ok_ && i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')') {
      RNode atom;
      if (!ParseAtom(depth, &atom)) {
        ok_ = false;
        break;
      }
      ParseQuantifiers(&atom);
      cat.kids.push_back(std::move(atom));
    }
    if (depth == 0 && i_ < s_.size() && s_[i_] == ')') ok_ = false;
    return cat;
  }

  bool ParseRepeatBraces(size_t at, int* min, int* max, size_t* end) const {
    // {n}, {n,}, {n,m}
    size_t j = at + 1;
    auto number = [&](int* v) {
      size_t start = j;
      long long x = 0;
      while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9' && x < 100000) x = x * 10 + (s_[j++] - '0');
      *v = static_cast<int>(x);
      return j > start;
    };
    if (!number(min)) return false;
    if (j < s_.size() && s_[j] == '}') {
      *max = *min;
      *end = j + 1;
      return true;
    }
    if (j >= s_.size() || s_[j] != ',') return false;
    ++j;
    if (j < s_.size() && s_[j] == '}') {
      *max = -1;
      *end = j + 1;
      return true;
    }
    if (!number(max) || j >= s_.size() || s_[j] != '}') return false;
    *end = j + 1;
    return true;
  }

  void ParseQuantifiers(RNode* atom) {
    bool quantified = false;
    while (ok_ && i_ < s_.size()) {
      int min = 1, max = 1;
      const char c = s_[i_];
      size_t end = i_ + 1;
      if (c == '*') {
        min = 0;
        max = -1;
      } else if (c == '+') {
        min = 1;
        max = -1;
      } else if (c == '?') {
        min = 0;
        max = 1;
      } else if (c == '{') {
        if (!ParseRepeatBraces(i_, &min, &max, &end)) return;  // a literal '{' follows
      } else {
        return;
      }
      if (quantified) {
        ok_ = false;  // RE2 rejects a doubled repetition operator
        return;
      }
      if (atom->kind == RNode::Kind::kAnchor) {
        ok_ = false;
        return;
      }
      i_ = end;
      if (i_ < s_.size() && s_[i_] == '?') ++i_;  // non-greedy
      RNode rep;
      rep.kind = RNode::Kind::kRepeat;
      rep.min = min;
      rep.max = max;
      rep.kids.push_back(std::move(*atom));
      *atom = std::move(rep);
      quantified = true;
    }
  }

  bool ParseAtom(int depth, RNode* out) {
    const char c = s_[i_];
    switch (c) {
      case '(': {
        ++i_;
        if (s_.substr(i_, 2) == "?:") {
          i_ += 2;
        } else if (s_.substr(i_, 3) == "?P<" || (s_.substr(i_, 2) == "?<" && i_ + 2 < s_.size() &&
                                                 s_[i_ + 2] != '=' && s_[i_ + 2] != '!')) {
          const size_t close = s_.find('>', i_);
          if (close == std::string_view::npos) return false;
          i_ = close + 1;
        } else if (i_ < s_.size() && s_[i_] == '?') {
          return false;  // flags inside the pattern, lookarounds
        }
        RNode inner = ParseAlt(depth + 1);
        if (!ok_ || i_ >= s_.size() || s_[i_] != ')') return false;
        ++i_;
        out->kind = RNode::Kind::kGroup;
        out->kids.push_back(std::move(inner));
        return true;
      }
      case '[': {
        size_t j = i_ + 1;
        if (j < s_.size() && s_[j] == '^') ++j;
        if (j < s_.size() && s_[j] == ']') ++j;
        while (j < s_.size() && s_[j] != ']') {
          if (s_[j] == '\\') {
            j += 2;
          } else if (s_.substr(j, 2) == "[:") {
            const size_t e = s_.find(":]", j + 2);
            if (e == std::string_view::npos) return false;
            j = e + 2;
          } else {
            ++j;
          }
        }
        if (j >= s_.size()) return false;
        i_ = j + 1;
        out->kind = RNode::Kind::kOpaque;
        return true;
      }
      case '.':
        ++i_;
        out->kind = RNode::Kind::kAny;
        return true;
      case '^':
      case '$':
        ++i_;
        out->kind = RNode::Kind::kAnchor;
        return true;
      case '*':
      case '+':
      case '?':
        return false;
      case '\\':
        return ParseEscape(out);
      default: {
        bool err;
        const size_t w = GoDecodeRune(s_, i_, &err);
        out->kind = RNode::Kind::kLit;
        out->lit = std::string(s_.substr(i_, w));
        i_ += w;
        return true;
      }
    }
  }

  bool ParseEscape(RNode* out) {
    if (i_ + 1 >= s_.size()) return false;
    const char e = s_[i_ + 1];
    i_ += 2;
    auto lit = [&](std::string_view v) {
      out->kind = RNode::Kind::kLit;
      out->lit = std::string(v);
      return true;
    };
    switch (e) {
      case 'a': return lit("\a");
      case 'f': return lit("\f");
      case 't': return lit("\t");
      case 'n': return lit("\n");
      case 'r': return lit("\r");
      case 'v': return lit("\v");
      case 'd': case 'D': case 's': case 'S': case 'w': case 'W': case 'C':
        out->kind = RNode::Kind::kOpaque;
        return true;
      case 'b': case 'B': case 'A': case 'z':
        out->kind = RNode::Kind::kAnchor;
        return true;
      case 'p': case 'P':
        if (i_ < s_.size() && s_[i_] == '{') {
          const size_t close = s_.find('}', i_);
          if (close == std::string_view::npos) return false;
          i_ = close + 1;
        } else {
          ++i_;
        }
        out->kind = RNode::Kind::kOpaque;
        return true;
      case 'x': {
        uint32_t cp = 0;
        auto hex = [](char h) {
          if (h >= '0' && h <= '9') return h - '0';
          if (h >= 'a' && h <= 'f') return h - 'a' + 10;
          if (h >= 'A' && h <= 'F') return h - 'A' + 10;
          return -1;
        };
        if (i_ < s_.size() && s_[i_] == '{') {
          size_t j = i_ + 1;
          int digits = 0;
          while (j < s_.size() && s_[j] != '}') {
            const int v = hex(s_[j++]);
            if (v < 0 || ++digits > 6) return false;
            cp = cp * 16 + static_cast<uint32_t>(v);
          }
          if (j >= s_.size() || digits == 0) return false;
          i_ = j + 1;
        } else {
          if (i_ + 2 > s_.size()) return false;
          const int h1 = hex(s_[i_]), h2 = hex(s_[i_ + 1]);
          if (h1 < 0 || h2 < 0) return false;
          cp = static_cast<uint32_t>(h1 * 16 + h2);
          i_ += 2;
        }
        if (cp > 0x10FFFF) return false;
        std::string enc;
        AppendUtf8(cp, &enc);
        return lit(enc);
      }
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9') ||
            static_cast<unsigned char>(e) >= 0x80) {
          return false;  // octal, \Q..\E and anything unusual: leave it to RE2
        }
        return lit(std::string_view(&e, 1));
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  bool ok_ = true;
  bool ci_ = false;
};

const RNode& Unwrap(const RNode& n) {
  const RNode* p = &n;
  while (true) {
    if (p->kind == RNode::Kind::kGroup && p->kids.size() == 1) {
      p = &p->kids[0];
    } else if (p->kind == RNode::Kind::kConcat && p->kids.size() == 1) {
      p = &p->kids[0];
    } else {
      return *p;
    }
  }
}

bool IsRepeatOfAny(const RNode& n, int min) {
  const RNode& u = Unwrap(n);
  return u.kind == RNode::Kind::kRepeat && u.min == min && u.max == -1 && Unwrap(u.kids[0]).kind == RNode::Kind::kAny;
}
bool IsEmpty(const RNode& n) {
  const RNode& u = Unwrap(n);
  return u.kind == RNode::Kind::kConcat && u.kids.empty();
}

// The finite set of strings `n` matches exactly, if small.
bool ExactSet(const RNode& n, std::vector<std::string>* out) {
  out->clear();
  switch (n.kind) {
    case RNode::Kind::kLit:
      out->push_back(n.lit);
      return true;
    case RNode::Kind::kGroup:
      return ExactSet(n.kids[0], out);
    case RNode::Kind::kConcat: {
      out->push_back("");
      std::vector<std::string> kid, next;
      for (const RNode& k : n.kids) {
        if (!ExactSet(k, &kid)) return false;
        if (out->size() * kid.size() > kMaxSetSize) return false;
        next.clear();
        for (const std::string& a : *out) {
          for (const std::string& b : kid) {
            if (a.size() + b.size() > kMaxLiteral) return false;
            next.push_back(a + b);
          }
        }
        out->swap(next);
      }
      return true;
    }
    case RNode::Kind::kAlt: {
      std::vector<std::string> kid;
      for (const RNode& k : n.kids) {
        if (!ExactSet(k, &kid)) return false;
        out->insert(out->end(), kid.begin(), kid.end());
        if (out->size() > kMaxSetSize) return false;
      }
      return true;
    }
    case RNode::Kind::kRepeat:
      if (n.min == 1 && n.max == 1) return ExactSet(n.kids[0], out);
      if (n.min == 0 && n.max == 1) {
        if (!ExactSet(n.kids[0], out)) return false;
        out->push_back("");
        return out->size() <= kMaxSetSize;
      }
      return false;
    default:
      return false;
  }
}

// Literals that every match of `n` contains (a conjunction).
void MustLiterals(const RNode& n, std::vector<std::string>* must) {
  std::vector<std::string> set;
  switch (n.kind) {
    case RNode::Kind::kLit:
      must->push_back(n.lit);
      return;
    case RNode::Kind::kGroup:
      MustLiterals(n.kids[0], must);
      return;
    case RNode::Kind::kRepeat:
      if (n.min >= 1) MustLiterals(n.kids[0], must);
      return;
    case RNode::Kind::kConcat: {
      std::string run;
      for (const RNode& k : n.kids) {
        if (ExactSet(k, &set) && set.size() == 1) {
          run += set[0];
          continue;
        }
        if (!run.empty()) must->push_back(run);
        run.clear();
        MustLiterals(k, must);
      }
      if (!run.empty()) must->push_back(run);
      return;
    }
    default:
      return;
  }
}

enum class Shape { kNone, kTrue, kExists, kLiterals };

// Loki's RegexSimplifier outcome, as a semantic shape.
Shape Classify(const RNode& node, std::vector<std::string>* lits) {
  lits->clear();
  const RNode& n = Unwrap(node);
  if (IsEmpty(n) || IsRepeatOfAny(n, 0)) return Shape::kTrue;
  if (IsRepeatOfAny(n, 1)) return Shape::kExists;
  if (n.kind == RNode::Kind::kAlt) {
    // Loki's or-chaining drops alternatives that match everything unless all do.
    bool all_true = true, exists = false;
    std::vector<std::string> kid;
    for (const RNode& k : n.kids) {
      const Shape s = Classify(k, &kid);
      if (s == Shape::kNone) return Shape::kNone;
      if (s == Shape::kTrue) continue;
      all_true = false;
      if (s == Shape::kExists) exists = true;
      else lits->insert(lits->end(), kid.begin(), kid.end());
    }
    if (all_true) return Shape::kTrue;
    if (exists) return Shape::kExists;
    return Shape::kLiterals;
  }
  // Concatenation: strip `.*` at both ends; the rest must be a finite set of strings.
  RNode core;
  core.kind = RNode::Kind::kConcat;
  if (n.kind == RNode::Kind::kConcat) {
    size_t b = 0, e = n.kids.size();
    while (b < e && (IsRepeatOfAny(n.kids[b], 0) || IsEmpty(n.kids[b]))) ++b;
    while (e > b && (IsRepeatOfAny(n.kids[e - 1], 0) || IsEmpty(n.kids[e - 1]))) --e;
    if (b == e) return Shape::kTrue;
    core.kids.assign(n.kids.begin() + static_cast<std::ptrdiff_t>(b), n.kids.begin() + static_cast<std::ptrdiff_t>(e));
  } else {
    core.kids.push_back(n);
  }
  if (!ExactSet(core, lits)) return Shape::kNone;
  for (const std::string& l : *lits) {
    if (l.empty()) return Shape::kTrue;
  }
  return Shape::kLiterals;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

Result<std::unique_ptr<LineFilter>> BuildRegexFilter(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<RE2>(ToRe2Syntax(pattern), opts);
  if (!re->ok()) {
    return InvalidArgument(GoRegexpError(pattern));
  }
  const RegexPlan plan = AnalyzeRegex(pattern);
  switch (plan.kind) {
    case RegexPlan::Kind::kTrue:
      return std::unique_ptr<LineFilter>(new TrueFilter());
    case RegexPlan::Kind::kExists:
      return std::unique_ptr<LineFilter>(new ExistsFilter());
    case RegexPlan::Kind::kLiterals:
      if (plan.literals.size() == 1) {
        return std::unique_ptr<LineFilter>(new ContainsFilter(plan.literals[0], plan.case_insensitive));
      }
      return std::unique_ptr<LineFilter>(new ContainsAnyFilter(plan.literals, plan.case_insensitive));
    case RegexPlan::Kind::kRegex:
      break;
  }
  return std::unique_ptr<LineFilter>(new RegexFilter(std::move(re), plan.prefilter, plan.case_insensitive));
}

Result<std::unique_ptr<LineFilter>> BuildOne(logql::LineFilterOp op, const logql::LineFilterValue& v) {
  using Op = logql::LineFilterOp;
  std::unique_ptr<LineFilter> f;
  if (v.ip) {
    if (op != Op::kContains && op != Op::kNotContains) return InvalidArgument("ip: invalid operation");
    ASSIGN_OR_RETURN(IpMatcher m, IpMatcher::Make(v.value));
    f = std::make_unique<IpLineFilter>(std::move(m));
  } else {
    switch (op) {
      case Op::kContains:
      case Op::kNotContains:
        if (v.value.empty()) f = std::make_unique<TrueFilter>();
        else f = std::make_unique<ContainsFilter>(v.value, false);
        break;
      case Op::kRegex:
      case Op::kNotRegex: {
        ASSIGN_OR_RETURN(f, BuildRegexFilter(v.value));
        break;
      }
      case Op::kPattern:
      case Op::kNotPattern: {
        ASSIGN_OR_RETURN(Pattern p, Pattern::ParseForLineFilter(v.value));
        f = std::make_unique<PatternFilter>(std::move(p));
        break;
      }
    }
  }
  if (op == Op::kNotContains || op == Op::kNotRegex || op == Op::kNotPattern) {
    f = std::make_unique<NotFilter>(std::move(f));
  }
  return f;
}

}  // namespace

std::string ToRe2Syntax(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 4);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      out += c;
      out += p[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == '(' && p.substr(i, 3) == "(?<" && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!') {
      out += "(?P<";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

RegexPlan AnalyzeRegex(std::string_view pattern) {
  RegexPlan plan;
  RegexAnalyzer a(pattern);
  RNode root;
  if (!a.Parse(&root)) return plan;
  plan.case_insensitive = a.ci();
  std::vector<std::string> lits;
  switch (Classify(root, &lits)) {
    case Shape::kTrue:
      plan.kind = RegexPlan::Kind::kTrue;
      return plan;
    case Shape::kExists:
      plan.kind = RegexPlan::Kind::kExists;
      return plan;
    case Shape::kLiterals: {
      bool usable = true;
      for (const std::string& l : lits) usable = usable && (!plan.case_insensitive || IsAscii(l));
      if (usable) {
        std::sort(lits.begin(), lits.end());
        lits.erase(std::unique(lits.begin(), lits.end()), lits.end());
        plan.kind = RegexPlan::Kind::kLiterals;
        plan.literals = std::move(lits);
        return plan;
      }
      break;
    }
    case Shape::kNone:
      break;
  }
  std::vector<std::string> must;
  MustLiterals(root, &must);
  for (const std::string& m : must) {
    if (!plan.case_insensitive) {
      if (m.size() > plan.prefilter.size()) plan.prefilter = m;
      continue;
    }
    // Case-insensitively only ASCII runs can be searched byte-wise.
    size_t start = 0;
    for (size_t i = 0; i <= m.size(); ++i) {
      if (i == m.size() || static_cast<unsigned char>(m[i]) >= 0x80) {
        if (i - start > plan.prefilter.size()) plan.prefilter = m.substr(start, i - start);
        start = i + 1;
      }
    }
  }
  return plan;
}

Result<std::unique_ptr<LineFilter>> BuildLineFilter(const logql::LineFilterStage& stage) {
  using Op = logql::LineFilterOp;
  if (stage.alternatives.empty()) return InvalidArgument("line filter without a value");
  const bool positive = stage.op == Op::kContains || stage.op == Op::kRegex || stage.op == Op::kPattern;
  std::vector<std::unique_ptr<LineFilter>> parts;
  for (const logql::LineFilterValue& v : stage.alternatives) {
    // Every member keeps its own kind, `ip(...)` included (Loki since grafana/loki#23940):
    // `|= ip("10.0.0.0/8") or "zzz"` matches lines holding an address in 10/8 or "zzz".
    ASSIGN_OR_RETURN(auto f, BuildOne(stage.op, v));
    parts.push_back(std::move(f));
  }
  if (parts.size() == 1) return std::move(parts[0]);
  if (!positive) {
    // `!= a or b` means neither a nor b.
    return std::unique_ptr<LineFilter>(new AndFilter(std::move(parts)));
  }
  // Loki's or-chaining skips alternatives that match everything (unless all of them do).
  std::vector<std::unique_ptr<LineFilter>> kept;
  for (auto& p : parts) {
    if (!p->IsTrue()) kept.push_back(std::move(p));
  }
  if (kept.empty()) return std::unique_ptr<LineFilter>(new TrueFilter());
  if (kept.size() == 1) return std::move(kept[0]);
  return std::unique_ptr<LineFilter>(new OrFilter(std::move(kept)));
}

}  // namespace logq::pipeline
