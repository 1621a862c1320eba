// The LogQL abstract syntax tree. Produced by the parser (parser.h), printed back in
// canonical form by ToString (printer.cc), consumed by the pipeline builder and the engine.
// Plans are immutable: nothing mutates an Expr after parsing, so one tree may be shared by
// any number of concurrent executions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "query/model/matcher.h"

namespace logq::logql {

// ---- log pipeline stages --------------------------------------------------------------

enum class LineFilterOp { kContains, kNotContains, kRegex, kNotRegex, kPattern, kNotPattern };

struct LineFilterValue {
  bool ip = false;    // ip("...") filter
  std::string value;  // literal, regex or pattern text (unquoted)
};

// `|= "a" or "b"`: a line passes a positive filter if any alternative matches; a negative
// filter (`!= "a" or "b"`) if none does.
struct LineFilterStage {
  LineFilterOp op = LineFilterOp::kContains;
  std::vector<LineFilterValue> alternatives;  // at least one
};

enum class ParserKind { kJson, kLogfmt, kRegexp, kPattern, kUnpack };

// `| json a="b.c", d` / `| logfmt a="x"`: label a from expression b.c; `d` means d="d".
struct LabelExtraction {
  std::string label;
  std::string expression;
};

struct ParserStage {
  ParserKind kind = ParserKind::kJson;
  std::string argument;                 // regexp / pattern text
  std::vector<LabelExtraction> params;  // json / logfmt parameters
  bool strict = false;                  // logfmt --strict
  bool keep_empty = false;              // logfmt --keep-empty
};

enum class CmpOp { kEq, kNe, kGt, kGe, kLt, kLe };

// A label filter: a leaf comparison or an and/or of two filters.
struct LabelFilterExpr {
  enum class Kind { kString, kNumber, kDuration, kBytes, kIp, kAnd, kOr };
  Kind kind = Kind::kString;
  std::string name;                 // label (leaves)
  std::optional<Matcher> matcher;   // kString
  CmpOp op = CmpOp::kEq;            // kNumber/kDuration/kBytes; kIp uses kEq/kNe
  double number = 0;                // kNumber
  int64_t duration_ns = 0;          // kDuration
  int64_t bytes = 0;                // kBytes
  std::string ip;                   // kIp pattern
  std::string literal;              // source text of the number/duration/bytes, for printing
  std::shared_ptr<const LabelFilterExpr> left, right;  // kAnd/kOr
};

struct LabelFilterStage {
  std::shared_ptr<const LabelFilterExpr> filter;
};

struct LineFormatStage {
  std::string tmpl;  // Go text/template source
};

struct LabelFormatItem {
  std::string dst;
  bool rename = false;  // dst=src (identifier): rename; dst="tmpl": template
  std::string value;    // src label or template source
};

struct LabelFormatStage {
  std::vector<LabelFormatItem> items;
};

// `| drop a, b="x"` / `| keep a, b=~"y"`: a bare name, or a matcher on the label's value.
struct LabelSelectItem {
  std::string name;
  std::optional<Matcher> matcher;
};

struct DropStage {
  std::vector<LabelSelectItem> items;
};

struct KeepStage {
  std::vector<LabelSelectItem> items;
};

struct DecolorizeStage {};

struct Stage {
  enum class Kind { kLineFilter, kParser, kLabelFilter, kLineFormat, kLabelFormat, kDrop, kKeep, kDecolorize };
  Kind kind;
  LineFilterStage line_filter;
  ParserStage parser;
  LabelFilterStage label_filter;
  LineFormatStage line_format;
  LabelFormatStage label_format;
  DropStage drop;
  KeepStage keep;
};

// ---- expressions ----------------------------------------------------------------------

struct Expr {
  enum class Kind { kLog, kRangeAggregation, kVectorAggregation, kBinary, kLiteral, kVector, kLabelReplace };
  explicit Expr(Kind k) : kind(k) {}
  virtual ~Expr() = default;
  const Kind kind;
  bool is_sample() const { return kind != Kind::kLog; }
};

using ExprPtr = std::shared_ptr<const Expr>;

// `{app="a"} |= "x" | json`
struct LogExpr final : Expr {
  LogExpr() : Expr(Kind::kLog) {}
  std::vector<Matcher> matchers;
  std::vector<Stage> pipeline;
};

enum class ConvOp { kNone, kBytes, kDuration, kDurationSeconds };

struct Unwrap {
  std::string label;
  ConvOp conv = ConvOp::kNone;
  std::vector<std::shared_ptr<const LabelFilterExpr>> post_filters;  // `| unwrap x | __error__=""`
};

enum class RangeOp {
  kCountOverTime, kRate, kRateCounter, kBytesOverTime, kBytesRate, kAvgOverTime, kSumOverTime,
  kMinOverTime, kMaxOverTime, kStdvarOverTime, kStddevOverTime, kQuantileOverTime,
  kFirstOverTime, kLastOverTime, kAbsentOverTime
};

struct Grouping {
  bool without = false;
  std::vector<std::string> labels;
};

// `count_over_time({app="a"} | json [5m] offset 1h)`, `quantile_over_time(0.99, ... | unwrap x [1m]) by (a)`
struct RangeAggregationExpr final : Expr {
  RangeAggregationExpr() : Expr(Kind::kRangeAggregation) {}
  RangeOp op = RangeOp::kCountOverTime;
  std::shared_ptr<const LogExpr> log;
  int64_t range_ns = 0;
  int64_t offset_ns = 0;
  std::optional<Unwrap> unwrap;
  std::optional<double> param;  // quantile
  std::optional<Grouping> grouping;
};

// kApproxTopK: Loki's approx_topk(k, v), instant queries only, no grouping; evaluated
// exactly (as topk), which is within the approximation Loki promises.
enum class VectorOp { kSum, kAvg, kCount, kMax, kMin, kStddev, kStdvar, kBottomK, kTopK, kSort, kSortDesc, kApproxTopK };

struct VectorAggregationExpr final : Expr {
  VectorAggregationExpr() : Expr(Kind::kVectorAggregation) {}
  VectorOp op = VectorOp::kSum;
  ExprPtr inner;
  std::optional<Grouping> grouping;
  std::optional<double> param;  // topk/bottomk k
};

enum class BinOp { kOr, kAnd, kUnless, kAdd, kSub, kMul, kDiv, kMod, kPow, kEq, kNe, kGt, kGe, kLt, kLe };

struct VectorMatching {
  enum class Card { kOneToOne, kManyToOne, kOneToMany };
  bool on = false;                     // on(...) vs ignoring(...)
  bool has_matching = false;           // an on/ignoring clause was given
  std::vector<std::string> matching;
  Card card = Card::kOneToOne;
  std::vector<std::string> include;    // group_left(...)/group_right(...) labels
};

struct BinaryExpr final : Expr {
  BinaryExpr() : Expr(Kind::kBinary) {}
  BinOp op = BinOp::kAdd;
  bool return_bool = false;
  VectorMatching matching;
  ExprPtr lhs, rhs;
};

struct LiteralExpr final : Expr {
  LiteralExpr() : Expr(Kind::kLiteral) {}
  double value = 0;
};

struct VectorExpr final : Expr {
  VectorExpr() : Expr(Kind::kVector) {}
  double value = 0;
};

struct LabelReplaceExpr final : Expr {
  LabelReplaceExpr() : Expr(Kind::kLabelReplace) {}
  ExprPtr inner;
  std::string dst, replacement, src, regex;
};

// Canonical LogQL text of an expression (Loki's String() form); parse(ToString(e)) == e.
std::string ToString(const Expr& e);
std::string ToString(const Stage& s);
std::string ToString(const LabelFilterExpr& f);

std::string_view RangeOpName(RangeOp op);
std::string_view VectorOpName(VectorOp op);
std::string_view BinOpName(BinOp op);

}  // namespace logq::logql
