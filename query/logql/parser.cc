#include "query/logql/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include "query/logql/lexer.h"
#include "query/logql/selector.h"

namespace logq::logql {
namespace {

const std::map<std::string_view, RangeOp>& RangeOps() {
  static const std::map<std::string_view, RangeOp> m = {
      {"count_over_time", RangeOp::kCountOverTime}, {"rate", RangeOp::kRate},
      {"rate_counter", RangeOp::kRateCounter},       {"bytes_over_time", RangeOp::kBytesOverTime},
      {"bytes_rate", RangeOp::kBytesRate},           {"avg_over_time", RangeOp::kAvgOverTime},
      {"sum_over_time", RangeOp::kSumOverTime},      {"min_over_time", RangeOp::kMinOverTime},
      {"max_over_time", RangeOp::kMaxOverTime},      {"stdvar_over_time", RangeOp::kStdvarOverTime},
      {"stddev_over_time", RangeOp::kStddevOverTime}, {"quantile_over_time", RangeOp::kQuantileOverTime},
      {"first_over_time", RangeOp::kFirstOverTime},  {"last_over_time", RangeOp::kLastOverTime},
      {"absent_over_time", RangeOp::kAbsentOverTime}};
  return m;
}

const std::map<std::string_view, VectorOp>& VectorOps() {
  static const std::map<std::string_view, VectorOp> m = {
      {"sum", VectorOp::kSum},       {"avg", VectorOp::kAvg},         {"count", VectorOp::kCount},
      {"max", VectorOp::kMax},       {"min", VectorOp::kMin},         {"stddev", VectorOp::kStddev},
      {"stdvar", VectorOp::kStdvar}, {"bottomk", VectorOp::kBottomK}, {"topk", VectorOp::kTopK},
      {"approx_topk", VectorOp::kApproxTopK},
      {"sort", VectorOp::kSort},     {"sort_desc", VectorOp::kSortDesc}};
  return m;
}

// The first capture group name that appears twice in a regexp (`(?P<n>` or `(?<n>`).
std::optional<std::string> DuplicateCaptureName(std::string_view re) {
  std::vector<std::string> seen;
  for (size_t i = 0; i + 3 < re.size(); ++i) {
    if (re[i] == '\\') {
      ++i;
      continue;
    }
    if (re[i] != '(' || re[i + 1] != '?') continue;
    size_t j = i + 2;
    if (re[j] == 'P') ++j;
    if (j >= re.size() || re[j] != '<') continue;
    const size_t close = re.find('>', j + 1);
    if (close == std::string_view::npos) break;
    std::string name(re.substr(j + 1, close - j - 1));
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) return name;
    seen.push_back(std::move(name));
  }
  return std::nullopt;
}

// Words Loki's lexer always reads as tokens (its `tokens` map).
bool IsKeywordToken(std::string_view w) {
  static const char* const kWords[] = {"by",     "without",     "bool",       "offset",       "on",     "ignoring",
                                       "group_left", "group_right", "or",     "and",          "unless", "json",
                                       "regexp", "logfmt",      "unpack",     "pattern",      "label_format",
                                       "line_format", "ip",     "decolorize", "drop",         "keep",   "unwrap"};
  for (const char* k : kWords) {
    if (w == k) return true;
  }
  return false;
}

// Words Loki's lexer reads as tokens when a call follows (its `functionTokens` map).
bool IsFunctionToken(std::string_view w) {
  static const char* const kWords[] = {"vector", "label_replace", "bytes", "duration", "duration_seconds",
                                       "approx_topk"};
  for (const char* k : kWords) {
    if (w == k) return true;
  }
  return RangeOps().count(w) > 0 || VectorOps().count(w) > 0;
}

bool IsLabelFilterCmp(Tok t) {
  return t == Tok::kEq || t == Tok::kNeq || t == Tok::kRe || t == Tok::kNre || t == Tok::kCmpEq || t == Tok::kGt ||
         t == Tok::kGte || t == Tok::kLt || t == Tok::kLte;
}

class Parser {
 public:
  Parser(std::string_view q, std::vector<Token> toks, const ParseOptions& o) : q_(q), toks_(std::move(toks)), o_(o) {}

  Result<ExprPtr> ParseTop() {
    ASSIGN_OR_RETURN(ExprPtr e, ParseBinary(0));
    if (Peek().type != Tok::kEof) return Unexpected();
    return e;
  }

 private:
  // ---- token helpers ----
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool Accept(Tok t) {
    if (Peek().type == t) {
      Next();
      return true;
    }
    return false;
  }
  bool PeekIdent(std::string_view s, size_t ahead = 0) const {
    return Peek(ahead).type == Tok::kIdent && Peek(ahead).text == s;
  }
  Status Err(const Token& at, const std::string& msg) const { return ParseErrorAt(q_, at.pos, msg); }
  // Consumes a NUMBER token and returns its value; a text that is no Go float (0x10,
  // 0b1010, 1_000) fails as in Loki: "parse error : unable to parse <what> as a float: ...".
  Result<double> NextNumber(std::string_view what = "literal") {
    const Token& t = Next();
    if (!t.number_error.empty()) {
      return InvalidArgument(fmt::format("parse error : unable to parse {} as a float: {}", what, t.number_error));
    }
    return t.number;
  }
  Status Unexpected(const std::string& expecting = "") const {
    const Token& t = Peek();
    std::string m = "syntax error: unexpected " + TokenName(t);
    if (t.type == Tok::kIdent) {
      // Loki's lexer turns keywords (and function names before `(`) into tokens, and its
      // yacc errors name them as written: "syntax error: unexpected bool".
      std::string lower;
      for (char c : t.text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const bool call = Peek(1).type == Tok::kLParen || PeekIdent("by", 1) || PeekIdent("without", 1);
      if (IsKeywordToken(lower) || (call && IsFunctionToken(lower))) {
        m = "syntax error: unexpected " + lower;
      } else {
        m = "syntax error: unexpected IDENTIFIER \"" + t.text + "\"";
      }
    }
    if (!expecting.empty()) m += ", expecting " + expecting;
    return Err(t, m);
  }
  Status Expect(Tok t) {
    if (Accept(t)) return Status::OK();
    Token want;
    want.type = t;
    return Unexpected(TokenName(want));
  }
  // Counts one level of expression depth: a precedence level, each operator of a chain
  // (`a + b + c` nests as `(a + b) + c`), parentheses, aggregations, label filter and/or.
  // The count bounds the height of every AST the parser returns, hence the recursion of
  // every walk over it (printer, evaluator, pipeline builder, destructors).
  Status Enter() {
    if (++depth_ > o_.max_depth) {
      return Err(Peek(), fmt::format("expression too deep: more than {} nested operators, parentheses or "
                                     "aggregations (limit {})", o_.max_depth, o_.max_depth));
    }
    return Status::OK();
  }
  void Leave() { --depth_; }

  // ---- binary expressions ----
  struct BinInfo {
    BinOp op;
    int prec;
    bool right;
  };
  std::optional<BinInfo> PeekBinOp() const {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kAdd: return BinInfo{BinOp::kAdd, 4, false};
      case Tok::kSub: return BinInfo{BinOp::kSub, 4, false};
      case Tok::kMul: return BinInfo{BinOp::kMul, 5, false};
      case Tok::kDiv: return BinInfo{BinOp::kDiv, 5, false};
      case Tok::kMod: return BinInfo{BinOp::kMod, 5, false};
      case Tok::kPow: return BinInfo{BinOp::kPow, 6, true};
      case Tok::kCmpEq: return BinInfo{BinOp::kEq, 3, false};
      case Tok::kNeq: return BinInfo{BinOp::kNe, 3, false};
      case Tok::kGt: return BinInfo{BinOp::kGt, 3, false};
      case Tok::kGte: return BinInfo{BinOp::kGe, 3, false};
      case Tok::kLt: return BinInfo{BinOp::kLt, 3, false};
      case Tok::kLte: return BinInfo{BinOp::kLe, 3, false};
      case Tok::kIdent:
        if (t.text == "or") return BinInfo{BinOp::kOr, 1, false};
        if (t.text == "and") return BinInfo{BinOp::kAnd, 2, false};
        if (t.text == "unless") return BinInfo{BinOp::kUnless, 2, false};
        return std::nullopt;
      default: return std::nullopt;
    }
  }

  Result<ExprPtr> ParseBinary(int min_prec) {
    RETURN_IF_ERROR(Enter());
    ASSIGN_OR_RETURN(ExprPtr lhs, ParseUnary());
    int chained = 0;  // operators wrapped around lhs: each is one level of the tree
    while (true) {
      auto info = PeekBinOp();
      if (!info || info->prec < min_prec) break;
      if (!info->right) {  // a right-associative rhs nests through the recursion below
        RETURN_IF_ERROR(Enter());
        ++chained;
      }
      const Token op_tok = Next();
      auto bin = std::make_shared<BinaryExpr>();
      bin->op = info->op;
      RETURN_IF_ERROR(ParseBinModifiers(bin.get()));
      ASSIGN_OR_RETURN(ExprPtr rhs, ParseBinary(info->right ? info->prec : info->prec + 1));
      if (!lhs->is_sample() || !rhs->is_sample()) {
        return Err(op_tok, "syntax error: unexpected " + std::string(BinOpName(info->op)) +
                               ": binary operations need metric expressions on both sides");
      }
      bool lhs_lit = lhs->kind == Expr::Kind::kLiteral, rhs_lit = rhs->kind == Expr::Kind::kLiteral;
      if ((info->op == BinOp::kOr || info->op == BinOp::kAnd || info->op == BinOp::kUnless) && (lhs_lit || rhs_lit)) {
        // Loki's mustNewBinOpExpr: the left leg is checked first; the value prints as %f.
        const auto& lit = static_cast<const LiteralExpr&>(lhs_lit ? *lhs : *rhs);
        return InvalidArgument(fmt::format("parse error : unexpected literal for {} leg of logical/set binary "
                                           "operation ({}): {:f}",
                                           lhs_lit ? "left" : "right", BinOpName(info->op), lit.value));
      }
      // Loki's grammar takes `bool` after any binary operator; it only changes comparisons.
      // Unlike Prometheus, Loki accepts a comparison of two scalars without `bool`: it folds
      // to 1 or 0 (its reduceBinOp never filters).
      bin->lhs = std::move(lhs);
      bin->rhs = std::move(rhs);
      lhs = std::move(bin);
    }
    depth_ -= chained;
    Leave();
    return lhs;
  }

  Status ParseBinModifiers(BinaryExpr* b) {
    if (PeekIdent("bool")) {
      Next();
      b->return_bool = true;
    }
    if (PeekIdent("on") || PeekIdent("ignoring")) {
      b->matching.on = Next().text == "on";
      b->matching.has_matching = true;
      ASSIGN_OR_RETURN(b->matching.matching, ParseLabelList());
      if (PeekIdent("group_left") || PeekIdent("group_right")) {
        b->matching.card = Next().text == "group_left" ? VectorMatching::Card::kManyToOne
                                                       : VectorMatching::Card::kOneToMany;
        if (Peek().type == Tok::kLParen) {
          ASSIGN_OR_RETURN(b->matching.include, ParseLabelList());
        }
      }
    }
    return Status::OK();
  }

  Result<std::vector<std::string>> ParseLabelList() {
    RETURN_IF_ERROR(Expect(Tok::kLParen));
    std::vector<std::string> out;
    if (Accept(Tok::kRParen)) return out;
    while (true) {
      if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
      out.push_back(Next().text);
      if (Accept(Tok::kComma)) continue;
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      return out;
    }
  }

  Result<std::optional<Grouping>> MaybeGrouping() {
    if (!PeekIdent("by") && !PeekIdent("without")) return std::optional<Grouping>();
    Grouping g;
    g.without = Next().text == "without";
    ASSIGN_OR_RETURN(g.labels, ParseLabelList());
    return std::optional<Grouping>(std::move(g));
  }

  // ---- unary / primary ----
  Result<ExprPtr> ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      // Loki has no unary operator: a sign belongs to a number literal only.
      bool neg = Next().type == Tok::kSub;
      if (Peek().type != Tok::kNumber) return Unexpected("NUMBER");
      auto lit = std::make_shared<LiteralExpr>();
      ASSIGN_OR_RETURN(double v, NextNumber());
      lit->value = neg ? -v : v;
      return ExprPtr(lit);
    }
    switch (t.type) {
      case Tok::kNumber: {
        auto lit = std::make_shared<LiteralExpr>();
        ASSIGN_OR_RETURN(lit->value, NextNumber());
        return ExprPtr(lit);
      }
      case Tok::kLBrace: {
        ASSIGN_OR_RETURN(auto log, ParseLogSelectorAndPipeline());
        if (Peek().type == Tok::kLBracket) {
          return Err(Peek(), "syntax error: unexpected RANGE: a range vector must be inside a range aggregation "
                             "such as count_over_time");
        }
        return ExprPtr(log);
      }
      case Tok::kLParen: {
        Next();
        ASSIGN_OR_RETURN(ExprPtr inner, ParseBinary(0));  // one level, counted there
        RETURN_IF_ERROR(Expect(Tok::kRParen));
        return inner;
      }
      case Tok::kIdent: {
        auto r = RangeOps().find(t.text);
        if (r != RangeOps().end()) {
          const Token fn = Next();
          return ParseRangeAggregation(fn, r->second);
        }
        auto v = VectorOps().find(t.text);
        if (v != VectorOps().end()) {
          const Token fn = Next();
          return ParseVectorAggregation(fn, v->second);
        }
        if (t.text == "vector") {
          Next();
          RETURN_IF_ERROR(Expect(Tok::kLParen));
          auto vec = std::make_shared<VectorExpr>();
          bool neg = Accept(Tok::kSub);
          if (!neg) Accept(Tok::kAdd);
          if (Peek().type != Tok::kNumber) return Unexpected("NUMBER");
          ASSIGN_OR_RETURN(double v, NextNumber("vectorExpr"));
          vec->value = neg ? -v : v;
          RETURN_IF_ERROR(Expect(Tok::kRParen));
          return ExprPtr(vec);
        }
        if (t.text == "label_replace") return ParseLabelReplace();
        return Unexpected();
      }
      default: return Unexpected();
    }
  }

  Result<ExprPtr> ParseLabelReplace() {
    Next();
    RETURN_IF_ERROR(Expect(Tok::kLParen));
    auto lr = std::make_shared<LabelReplaceExpr>();
    const Token& at = Peek();
    ASSIGN_OR_RETURN(lr->inner, ParseBinary(0));
    if (!lr->inner->is_sample()) return Err(at, "label_replace needs a metric expression");
    std::string* args[] = {&lr->dst, &lr->replacement, &lr->src, &lr->regex};
    for (std::string* a : args) {
      RETURN_IF_ERROR(Expect(Tok::kComma));
      if (Peek().type != Tok::kString) return Unexpected("STRING");
      *a = Next().text;
    }
    RETURN_IF_ERROR(Expect(Tok::kRParen));
    if (!IsValidLabelName(lr->dst)) return Err(at, "invalid destination label name in label_replace(): " + lr->dst);
    auto re = Matcher::Make(MatchType::kRegexMatch, "x", lr->regex);
    if (!re.ok()) return Err(at, "invalid regular expression in label_replace(): " + lr->regex);
    return ExprPtr(lr);
  }

  Result<ExprPtr> ParseVectorAggregation(const Token& fn, VectorOp op) {
    auto agg = std::make_shared<VectorAggregationExpr>();
    agg->op = op;
    ASSIGN_OR_RETURN(agg->grouping, MaybeGrouping());
    RETURN_IF_ERROR(Expect(Tok::kLParen));
    if (Peek().type == Tok::kNumber && Peek(1).type == Tok::kComma) {
      ASSIGN_OR_RETURN(agg->param, NextNumber());
      Next();
    }
    const Token& at = Peek();
    RETURN_IF_ERROR(Enter());
    ASSIGN_OR_RETURN(agg->inner, ParseBinary(0));
    Leave();
    RETURN_IF_ERROR(Expect(Tok::kRParen));
    if (!agg->grouping) {
      ASSIGN_OR_RETURN(agg->grouping, MaybeGrouping());
    }
    if (!agg->inner->is_sample()) {
      return Err(at, "syntax error: unexpected log query in " + fn.text + "(): aggregations need a metric expression");
    }
    const bool needs_k = op == VectorOp::kTopK || op == VectorOp::kBottomK || op == VectorOp::kApproxTopK;
    if (needs_k && !agg->param) return Err(fn, "parameter required for operation " + fn.text);
    if (!needs_k && agg->param) return Err(fn, "unsupported parameter for operation " + fn.text);
    if (needs_k && (*agg->param <= 0 || *agg->param != static_cast<double>(static_cast<int64_t>(*agg->param)))) {
      return Err(fn, fmt::format("invalid parameter (must be greater than 0) {}", *agg->param));
    }
    if ((op == VectorOp::kSort || op == VectorOp::kSortDesc) && agg->grouping && !agg->grouping->labels.empty()) {
      return InvalidArgument("parse error : sort and sort_desc doesn't allow grouping by");
    }
    if (op == VectorOp::kApproxTopK && agg->grouping) {
      return InvalidArgument("parse error : grouping not allowed for approx_topk aggregation");
    }
    return ExprPtr(agg);
  }

  Result<ExprPtr> ParseRangeAggregation(const Token& fn, RangeOp op) {
    auto agg = std::make_shared<RangeAggregationExpr>();
    agg->op = op;
    RETURN_IF_ERROR(Expect(Tok::kLParen));
    if (Peek().type == Tok::kNumber && Peek(1).type == Tok::kComma) {
      ASSIGN_OR_RETURN(agg->param, NextNumber());
      Next();
    }
    RETURN_IF_ERROR(ParseLogRange(agg.get()));
    RETURN_IF_ERROR(Expect(Tok::kRParen));
    ASSIGN_OR_RETURN(agg->grouping, MaybeGrouping());
    return ValidateRange(fn, agg);
  }

  Result<ExprPtr> ValidateRange(const Token& fn, std::shared_ptr<RangeAggregationExpr> agg) {
    const RangeOp op = agg->op;
    const bool unwrap_ops = op == RangeOp::kAvgOverTime || op == RangeOp::kSumOverTime || op == RangeOp::kMinOverTime ||
                            op == RangeOp::kMaxOverTime || op == RangeOp::kStdvarOverTime ||
                            op == RangeOp::kStddevOverTime || op == RangeOp::kQuantileOverTime ||
                            op == RangeOp::kFirstOverTime || op == RangeOp::kLastOverTime ||
                            op == RangeOp::kRateCounter;
    const bool no_unwrap_ops = op == RangeOp::kCountOverTime || op == RangeOp::kBytesOverTime ||
                               op == RangeOp::kBytesRate;  // absent_over_time takes unwrap, as in Loki
    if (unwrap_ops && !agg->unwrap) {
      return Err(fn, "invalid aggregation " + fn.text + " without unwrap");
    }
    if (no_unwrap_ops && agg->unwrap) {
      return Err(fn, "invalid aggregation " + fn.text + " with unwrap");
    }
    if (op == RangeOp::kQuantileOverTime && !agg->param) return Err(fn, "parameter required for operation " + fn.text);
    if (op != RangeOp::kQuantileOverTime && agg->param) return Err(fn, "unsupported parameter for operation " + fn.text);
    if (agg->grouping) {
      // Loki allows grouping only where the unwrapped values are aggregated per group.
      const bool grouping_ok = op == RangeOp::kAvgOverTime || op == RangeOp::kStddevOverTime ||
                               op == RangeOp::kStdvarOverTime || op == RangeOp::kQuantileOverTime ||
                               op == RangeOp::kMinOverTime || op == RangeOp::kMaxOverTime ||
                               op == RangeOp::kFirstOverTime || op == RangeOp::kLastOverTime;
      if (!grouping_ok) return Err(fn, "grouping not allowed for " + fn.text + " aggregation");
    }
    // A zero range is valid in Loki (its windows hold no sample: an empty result).
    if (agg->range_ns < 0) return Err(fn, "invalid range: must not be negative");
    return ExprPtr(agg);
  }

  // Parses the log range inside a range aggregation in any of Loki's placements:
  //   sel [pipe] [unwrap] [r] [offset d]     sel [r] [offset d] [pipe] [unwrap]
  //   (sel [pipe] [unwrap]) [r] [offset d]   (logRange)
  Status ParseLogRange(RangeAggregationExpr* agg) {
    if (Peek().type == Tok::kLParen) {
      Next();
      RETURN_IF_ERROR(Enter());
      ASSIGN_OR_RETURN(agg->log, ParseLogSelectorAndPipeline());
      RETURN_IF_ERROR(MaybeUnwrap(agg));
      if (Peek().type == Tok::kLBracket) {
        RETURN_IF_ERROR(ParseRangeAndOffset(agg));
        RETURN_IF_ERROR(Expect(Tok::kRParen));
        Leave();
        return Status::OK();
      }
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      Leave();
      return ParseRangeAndOffset(agg);
    }
    if (Peek().type != Tok::kLBrace) return Unexpected("{");
    ASSIGN_OR_RETURN(agg->log, ParseLogSelectorAndPipeline());
    RETURN_IF_ERROR(MaybeUnwrap(agg));
    RETURN_IF_ERROR(ParseRangeAndOffset(agg));
    if (agg->log->pipeline.empty() && !agg->unwrap &&
        (Peek().type == Tok::kPipe || Peek().type == Tok::kPipeExact || Peek().type == Tok::kPipeMatch ||
         Peek().type == Tok::kPipePattern || Peek().type == Tok::kNeq || Peek().type == Tok::kNre ||
         Peek().type == Tok::kNpa)) {
      auto log = std::make_shared<LogExpr>(*agg->log);
      RETURN_IF_ERROR(ParsePipeline(log.get()));
      agg->log = log;
      RETURN_IF_ERROR(MaybeUnwrap(agg));
    }
    return Status::OK();
  }

  Status ParseRangeAndOffset(RangeAggregationExpr* agg) {
    if (Peek().type != Tok::kLBracket) return Unexpected("[");
    Next();
    if (Peek().type != Tok::kDuration) return Unexpected("DURATION");
    agg->range_ns = Next().duration;
    RETURN_IF_ERROR(Expect(Tok::kRBracket));
    if (PeekIdent("offset")) {
      Next();
      if (Peek().type != Tok::kDuration) return Unexpected("DURATION");
      agg->offset_ns = Next().duration;
    }
    return Status::OK();
  }

  Status MaybeUnwrap(RangeAggregationExpr* agg) {
    if (!(Peek().type == Tok::kPipe && PeekIdent("unwrap", 1))) return Status::OK();
    if (agg->unwrap) return Err(Peek(), "syntax error: unexpected second unwrap");
    Next();
    Next();
    Unwrap u;
    if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
    const std::string& id = Peek().text;
    if ((id == "bytes" || id == "duration" || id == "duration_seconds") && Peek(1).type == Tok::kLParen) {
      u.conv = id == "bytes" ? ConvOp::kBytes : id == "duration" ? ConvOp::kDuration : ConvOp::kDurationSeconds;
      Next();
      Next();
      if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
      u.label = Next().text;
      RETURN_IF_ERROR(Expect(Tok::kRParen));
    } else {
      u.label = Next().text;
    }
    // Post-unwrap label filters: `| unwrap x | __error__=""`.
    while (Peek().type == Tok::kPipe && Peek(1).type == Tok::kIdent && IsLabelFilterCmp(Peek(2).type)) {
      Next();
      ASSIGN_OR_RETURN(auto f, ParseLabelFilterOr());
      u.post_filters.push_back(std::move(f));
    }
    agg->unwrap = std::move(u);
    return Status::OK();
  }

  // ---- log selector and pipeline ----
  Result<std::shared_ptr<LogExpr>> ParseLogSelectorAndPipeline() {
    auto log = std::make_shared<LogExpr>();
    const Token& open = Peek();
    if (open.type != Tok::kLBrace) return Unexpected("{");
    // Parse matchers token by token (keeps positions exact).
    Next();
    if (!Accept(Tok::kRBrace)) {
      while (true) {
        if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
        const Token name = Next();
        MatchType mt;
        switch (Peek().type) {
          case Tok::kEq: mt = MatchType::kEqual; break;
          case Tok::kNeq: mt = MatchType::kNotEqual; break;
          case Tok::kRe: mt = MatchType::kRegexMatch; break;
          case Tok::kNre: mt = MatchType::kRegexNoMatch; break;
          default: return Unexpected("= or != or =~ or !~");
        }
        Next();
        if (Peek().type != Tok::kString) return Unexpected("STRING");
        const Token value = Next();
        auto m = Matcher::Make(mt, name.text, value.text);
        if (!m.ok()) return Err(value, m.status().message());
        log->matchers.push_back(std::move(m).value());
        if (Accept(Tok::kComma)) {
          if (Accept(Tok::kRBrace)) break;
          continue;
        }
        if (Accept(Tok::kRBrace)) break;
        return Unexpected(", or }");
      }
    }
    bool any = false;
    for (const Matcher& m : log->matchers) any |= !m.MatchesEmpty();
    if (!any && o_.require_non_empty_matcher) return InvalidArgument(std::string(kEmptyMatchersMessage));
    RETURN_IF_ERROR(ParsePipeline(log.get()));
    return log;
  }

  static bool IsLineFilterTok(Tok t) {
    return t == Tok::kPipeExact || t == Tok::kPipeMatch || t == Tok::kPipePattern || t == Tok::kNeq ||
           t == Tok::kNre || t == Tok::kNpa;
  }

  Status ParsePipeline(LogExpr* log) {
    while (true) {
      const Tok t = Peek().type;
      if (IsLineFilterTok(t)) {
        ASSIGN_OR_RETURN(Stage s, ParseLineFilter());
        log->pipeline.push_back(std::move(s));
        continue;
      }
      if (t != Tok::kPipe) return Status::OK();
      if (PeekIdent("unwrap", 1)) return Status::OK();  // belongs to the range aggregation
      Next();
      ASSIGN_OR_RETURN(Stage s, ParseStage());
      log->pipeline.push_back(std::move(s));
    }
  }

  Result<LineFilterValue> ParseLineFilterValue() {
    LineFilterValue v;
    // `ip(...)` parses after any line filter operator, as in Loki; building the pipeline
    // rejects it after |~ !~ |> !> with "ip: invalid operation".
    if (PeekIdent("ip") && Peek(1).type == Tok::kLParen) {
      Next();
      Next();
      if (Peek().type != Tok::kString) return Unexpected("STRING");
      v.ip = true;
      v.value = Next().text;
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      return v;
    }
    if (Peek().type != Tok::kString) return Unexpected("STRING");
    const Token s = Next();
    // Like Loki, a line filter's regexp is compiled when the pipeline is built, not here
    // (a bad one fails the query with `parse error : stage '|~ "..."' : error parsing regexp`).
    v.value = s.text;
    return v;
  }

  Result<Stage> ParseLineFilter() {
    Stage s;
    s.kind = Stage::Kind::kLineFilter;
    switch (Next().type) {
      case Tok::kPipeExact: s.line_filter.op = LineFilterOp::kContains; break;
      case Tok::kNeq: s.line_filter.op = LineFilterOp::kNotContains; break;
      case Tok::kPipeMatch: s.line_filter.op = LineFilterOp::kRegex; break;
      case Tok::kNre: s.line_filter.op = LineFilterOp::kNotRegex; break;
      case Tok::kPipePattern: s.line_filter.op = LineFilterOp::kPattern; break;
      default: s.line_filter.op = LineFilterOp::kNotPattern; break;
    }
    ASSIGN_OR_RETURN(auto v, ParseLineFilterValue());
    s.line_filter.alternatives.push_back(std::move(v));
    while (PeekIdent("or") && (Peek(1).type == Tok::kString || PeekIdent("ip", 1))) {
      Next();
      ASSIGN_OR_RETURN(auto alt, ParseLineFilterValue());
      s.line_filter.alternatives.push_back(std::move(alt));
    }
    return s;
  }

  Result<std::vector<LabelExtraction>> ParseExtractions() {
    std::vector<LabelExtraction> out;
    while (Peek().type == Tok::kIdent && !(IsLabelFilterCmp(Peek(1).type) && Peek(1).type != Tok::kEq)) {
      LabelExtraction e;
      e.label = Next().text;
      if (Accept(Tok::kEq)) {
        if (Peek().type != Tok::kString) return Unexpected("STRING");
        e.expression = Next().text;
      } else {
        e.expression = e.label;
      }
      out.push_back(std::move(e));
      if (!(Peek().type == Tok::kComma && Peek(1).type == Tok::kIdent)) break;
      Next();
    }
    return out;
  }

  Result<std::vector<LabelSelectItem>> ParseLabelSelectItems() {
    std::vector<LabelSelectItem> out;
    while (true) {
      if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
      LabelSelectItem it;
      it.name = Next().text;
      const Tok t = Peek().type;
      if (t == Tok::kEq || t == Tok::kNeq || t == Tok::kRe || t == Tok::kNre) {
        Next();
        if (Peek().type != Tok::kString) return Unexpected("STRING");
        const Token v = Next();
        MatchType mt = t == Tok::kEq ? MatchType::kEqual : t == Tok::kNeq ? MatchType::kNotEqual
                       : t == Tok::kRe ? MatchType::kRegexMatch : MatchType::kRegexNoMatch;
        auto m = Matcher::Make(mt, it.name, v.text);
        if (!m.ok()) return Err(v, m.status().message());
        it.matcher = std::move(m).value();
      }
      out.push_back(std::move(it));
      if (!Accept(Tok::kComma)) return out;
    }
  }

  Result<Stage> ParseStage() {
    Stage s;
    const Token& t = Peek();
    if (t.type == Tok::kIdent) {
      const std::string& w = t.text;
      const bool followed_by_cmp = IsLabelFilterCmp(Peek(1).type);
      if (!followed_by_cmp || w == "label_format" || w == "drop" || w == "keep" || w == "json" || w == "logfmt") {
        if (w == "json") {
          Next();
          s.kind = Stage::Kind::kParser;
          s.parser.kind = ParserKind::kJson;
          ASSIGN_OR_RETURN(s.parser.params, ParseExtractions());
          return s;
        }
        if (w == "logfmt") {
          Next();
          s.kind = Stage::Kind::kParser;
          s.parser.kind = ParserKind::kLogfmt;
          while (Peek().type == Tok::kParserFlag) {
            const Token f = Next();
            if (f.text == "--strict") s.parser.strict = true;
            else if (f.text == "--keep-empty") s.parser.keep_empty = true;
            else return Err(f, "invalid logfmt parser flag: " + f.text);
          }
          ASSIGN_OR_RETURN(s.parser.params, ParseExtractions());
          return s;
        }
        if (w == "regexp" || w == "pattern") {
          Next();
          s.kind = Stage::Kind::kParser;
          s.parser.kind = w == "regexp" ? ParserKind::kRegexp : ParserKind::kPattern;
          if (Peek().type != Tok::kString) return Unexpected("STRING");
          const Token arg = Next();
          s.parser.argument = arg.text;
          // Loki checks these arguments while parsing, with messages that carry no position
          // (`parse error : invalid regexp parser: ...`); the pipeline builder checks the rest
          // (label names, pattern structure) with the same prefixes.
          if (s.parser.kind == ParserKind::kRegexp) {
            // Go's regexp accepts a repeated group name (RE2 does not); Loki's regexp parser
            // then rejects it.
            if (auto dup = DuplicateCaptureName(arg.text)) {
              return InvalidArgument("parse error : invalid regexp parser: duplicate extracted label name '" + *dup +
                                     "'");
            }
            auto m = Matcher::Make(MatchType::kRegexMatch, "x", arg.text);
            if (!m.ok()) return InvalidArgument("parse error : invalid regexp parser: " + m.status().message());
            if (arg.text.find("(?P<") == std::string::npos && arg.text.find("(?<") == std::string::npos) {
              return InvalidArgument("parse error : invalid regexp parser: at least one named capture must be supplied");
            }
          } else if (arg.text.find('<') == std::string::npos) {
            return InvalidArgument("parse error : invalid pattern parser: at least one capture is required");
          }
          return s;
        }
        if (w == "unpack") {
          Next();
          s.kind = Stage::Kind::kParser;
          s.parser.kind = ParserKind::kUnpack;
          return s;
        }
        if (w == "line_format") {
          Next();
          s.kind = Stage::Kind::kLineFormat;
          if (Peek().type != Tok::kString) return Unexpected("STRING");
          s.line_format.tmpl = Next().text;
          return s;
        }
        if (w == "decolorize") {
          Next();
          s.kind = Stage::Kind::kDecolorize;
          return s;
        }
        if (w == "label_format") {
          Next();
          s.kind = Stage::Kind::kLabelFormat;
          while (true) {
            if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
            LabelFormatItem it;
            it.dst = Next().text;
            RETURN_IF_ERROR(Expect(Tok::kEq));
            if (Peek().type == Tok::kIdent) {
              it.rename = true;
              it.value = Next().text;
            } else if (Peek().type == Tok::kString) {
              it.value = Next().text;
            } else {
              return Unexpected("IDENTIFIER or STRING");
            }
            s.label_format.items.push_back(std::move(it));
            if (!Accept(Tok::kComma)) break;
          }
          return s;
        }
        if (w == "drop" || w == "keep") {
          Next();
          ASSIGN_OR_RETURN(auto items, ParseLabelSelectItems());
          if (w == "drop") {
            s.kind = Stage::Kind::kDrop;
            s.drop.items = std::move(items);
          } else {
            s.kind = Stage::Kind::kKeep;
            s.keep.items = std::move(items);
          }
          return s;
        }
      }
    }
    if (t.type == Tok::kIdent || t.type == Tok::kLParen) {
      s.kind = Stage::Kind::kLabelFilter;
      ASSIGN_OR_RETURN(s.label_filter.filter, ParseLabelFilterOr());
      return s;
    }
    return Unexpected();
  }

  // ---- label filters ----
  Result<std::shared_ptr<const LabelFilterExpr>> ParseLabelFilterOr() {
    RETURN_IF_ERROR(Enter());
    ASSIGN_OR_RETURN(auto lhs, ParseLabelFilterAnd());
    int chained = 0;
    while (PeekIdent("or")) {
      RETURN_IF_ERROR(Enter());
      ++chained;
      Next();
      ASSIGN_OR_RETURN(auto rhs, ParseLabelFilterAnd());
      auto n = std::make_shared<LabelFilterExpr>();
      n->kind = LabelFilterExpr::Kind::kOr;
      n->left = std::move(lhs);
      n->right = std::move(rhs);
      lhs = std::move(n);
    }
    depth_ -= chained;
    Leave();
    return lhs;
  }

  bool StartsLabelFilter(size_t ahead) const {
    const Token& t = Peek(ahead);
    if (t.type == Tok::kLParen) return true;
    return t.type == Tok::kIdent && t.text != "or" && t.text != "and" && t.text != "offset" &&
           t.text != "by" && t.text != "without" && IsLabelFilterCmp(Peek(ahead + 1).type);
  }

  // After `,` a label named like a keyword (`by`, `without`, `offset`) followed by a comparison
  // is a label filter, as after `and`: the printer writes `and` as `,`, so `a>1 and by>=0`
  // must read back (found by the logql fuzz target).
  bool KeywordLabelFilter(size_t ahead) const {
    const Token& t = Peek(ahead);
    return t.type == Tok::kIdent && (t.text == "by" || t.text == "without" || t.text == "offset") &&
           IsLabelFilterCmp(Peek(ahead + 1).type);
  }

  Result<std::shared_ptr<const LabelFilterExpr>> ParseLabelFilterAnd() {
    ASSIGN_OR_RETURN(auto lhs, ParseLabelFilterPrimary());
    int chained = 0;
    while (true) {
      if (PeekIdent("and")) {
        Next();
      } else if (Peek().type == Tok::kComma && (StartsLabelFilter(1) || KeywordLabelFilter(1))) {
        Next();
      } else if (!StartsLabelFilter(0) || Peek().type == Tok::kLParen) {
        break;
      }
      RETURN_IF_ERROR(Enter());
      ++chained;
      ASSIGN_OR_RETURN(auto rhs, ParseLabelFilterPrimary());
      auto n = std::make_shared<LabelFilterExpr>();
      n->kind = LabelFilterExpr::Kind::kAnd;
      n->left = std::move(lhs);
      n->right = std::move(rhs);
      lhs = std::move(n);
    }
    depth_ -= chained;
    return lhs;
  }

  Result<std::shared_ptr<const LabelFilterExpr>> ParseLabelFilterPrimary() {
    if (Accept(Tok::kLParen)) {
      ASSIGN_OR_RETURN(auto inner, ParseLabelFilterOr());
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      return inner;
    }
    if (Peek().type != Tok::kIdent) return Unexpected("IDENTIFIER");
    auto f = std::make_shared<LabelFilterExpr>();
    f->name = Next().text;
    const Token op = Next();
    switch (op.type) {
      case Tok::kEq: f->op = CmpOp::kEq; break;
      case Tok::kCmpEq: f->op = CmpOp::kEq; break;
      case Tok::kNeq: f->op = CmpOp::kNe; break;
      case Tok::kGt: f->op = CmpOp::kGt; break;
      case Tok::kGte: f->op = CmpOp::kGe; break;
      case Tok::kLt: f->op = CmpOp::kLt; break;
      case Tok::kLte: f->op = CmpOp::kLe; break;
      case Tok::kRe:
      case Tok::kNre: break;
      default: return Err(op, "syntax error: unexpected " + TokenName(op) + ", expecting a comparison operator");
    }
    const bool string_op = op.type == Tok::kEq || op.type == Tok::kNeq || op.type == Tok::kRe || op.type == Tok::kNre;
    if (string_op && Peek().type == Tok::kString) {
      const Token v = Next();
      MatchType mt = op.type == Tok::kEq ? MatchType::kEqual : op.type == Tok::kNeq ? MatchType::kNotEqual
                     : op.type == Tok::kRe ? MatchType::kRegexMatch : MatchType::kRegexNoMatch;
      auto m = Matcher::Make(mt, f->name, v.text);
      if (!m.ok()) return Err(v, m.status().message());
      f->kind = LabelFilterExpr::Kind::kString;
      f->matcher = std::move(m).value();
      return std::shared_ptr<const LabelFilterExpr>(f);
    }
    if (PeekIdent("ip") && Peek(1).type == Tok::kLParen && op.type != Tok::kEq && op.type != Tok::kNeq) {
      return Unexpected();  // Loki: ip() only after = and != ("syntax error: unexpected ip")
    }
    if ((op.type == Tok::kEq || op.type == Tok::kNeq) && PeekIdent("ip") && Peek(1).type == Tok::kLParen) {
      Next();
      Next();
      if (Peek().type != Tok::kString) return Unexpected("STRING");
      f->kind = LabelFilterExpr::Kind::kIp;
      f->ip = Next().text;
      RETURN_IF_ERROR(Expect(Tok::kRParen));
      return std::shared_ptr<const LabelFilterExpr>(f);
    }
    if (op.type == Tok::kRe || op.type == Tok::kNre) return Unexpected("STRING");
    bool neg = false;
    size_t start = Peek().pos;
    if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) {
      neg = Next().type == Tok::kSub;
      if (Peek().type != Tok::kNumber) return Unexpected("NUMBER");
    }
    const Token v = Next();
    f->literal = std::string(q_.substr(start, v.pos + v.text.size() - start));
    switch (v.type) {
      case Tok::kNumber:
        if (!v.number_error.empty()) {
          return InvalidArgument("parse error : unable to parse literal as a float: " + v.number_error);
        }
        f->kind = LabelFilterExpr::Kind::kNumber;
        f->number = neg ? -v.number : v.number;
        break;
      case Tok::kDuration:
        f->kind = LabelFilterExpr::Kind::kDuration;
        f->duration_ns = v.duration;
        break;
      case Tok::kBytes:
        f->kind = LabelFilterExpr::Kind::kBytes;
        f->bytes = v.bytes;
        break;
      default:
        pos_--;
        return Unexpected(string_op ? "STRING, NUMBER, DURATION or BYTES" : "NUMBER, DURATION or BYTES");
    }
    return std::shared_ptr<const LabelFilterExpr>(f);
  }

  std::string_view q_;
  std::vector<Token> toks_;
  ParseOptions o_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view query, const ParseOptions& options) {
  if (query.size() > options.max_query_bytes) {
    return InvalidArgument(fmt::format("parse error : input size too long ({} > {})", query.size(), options.max_query_bytes));
  }
  ASSIGN_OR_RETURN(auto toks, Lex(query));
  if (toks.size() == 1) return ParseErrorAt(query, 0, "syntax error: unexpected end of input");
  Parser p(query, std::move(toks), options);
  return p.ParseTop();
}

Result<std::shared_ptr<const LogExpr>> ParseLogExpr(std::string_view query, const ParseOptions& options) {
  ASSIGN_OR_RETURN(ExprPtr e, ParseExpr(query, options));
  if (e->kind != Expr::Kind::kLog) return InvalidArgument("parse error : a log query is required here, not a metric query");
  return std::static_pointer_cast<const LogExpr>(e);
}

}  // namespace logq::logql
