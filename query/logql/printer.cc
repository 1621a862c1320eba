#include <fmt/format.h>

#include <cmath>

#include "query/base/clock.h"
#include "query/base/units.h"
#include "query/logql/ast.h"
#include "query/model/labels.h"

namespace logq::logql {
namespace {

std::string Quote(std::string_view s) {
  std::string out;
  AppendGoQuoted(s, &out);
  return out;
}

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

std::string Dur(int64_t ns) {
  // Prometheus model.Duration style: largest exact units.
  if (ns == 0) return "0s";
  if (ns % kNanosPerMilli != 0) return FormatDuration(ns);
  int64_t ms = ns / kNanosPerMilli;
  std::string out;
  struct U {
    int64_t ms;
    const char* n;
  } units[] = {{365LL * 86400000, "y"}, {7LL * 86400000, "w"}, {86400000, "d"}, {3600000, "h"},
               {60000, "m"},            {1000, "s"},           {1, "ms"}};
  for (const U& u : units) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.n;
      ms %= u.ms;
    }
  }
  return out;
}

std::string CmpName(CmpOp op, bool numeric) {
  switch (op) {
    case CmpOp::kEq: return numeric ? "==" : "=";
    case CmpOp::kNe: return "!=";
    case CmpOp::kGt: return ">";
    case CmpOp::kGe: return ">=";
    case CmpOp::kLt: return "<";
    case CmpOp::kLe: return "<=";
  }
  return "?";
}

std::string LabelList(const std::vector<std::string>& v) {
  std::string out = "(";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out + ")";
}

std::string GroupingStr(const Grouping& g) { return std::string(g.without ? " without " : " by ") + LabelList(g.labels); }

std::string Selector(const std::vector<Matcher>& ms) {
  std::string out = "{";
  for (size_t i = 0; i < ms.size(); ++i) out += (i ? ", " : "") + ms[i].ToString();
  return out + "}";
}

std::string LogStr(const LogExpr& e) {
  std::string out = Selector(e.matchers);
  for (const Stage& s : e.pipeline) out += " " + ToString(s);
  return out;
}

std::string LineFilterOpStr(LineFilterOp op) {
  switch (op) {
    case LineFilterOp::kContains: return "|=";
    case LineFilterOp::kNotContains: return "!=";
    case LineFilterOp::kRegex: return "|~";
    case LineFilterOp::kNotRegex: return "!~";
    case LineFilterOp::kPattern: return "|>";
    case LineFilterOp::kNotPattern: return "!>";
  }
  return "?";
}

std::string Items(const std::vector<LabelSelectItem>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? "," : "";
    out += items[i].matcher ? items[i].matcher->ToString() : items[i].name;
  }
  return out;
}

}  // namespace

std::string_view RangeOpName(RangeOp op) {
  switch (op) {
    case RangeOp::kCountOverTime: return "count_over_time";
    case RangeOp::kRate: return "rate";
    case RangeOp::kRateCounter: return "rate_counter";
    case RangeOp::kBytesOverTime: return "bytes_over_time";
    case RangeOp::kBytesRate: return "bytes_rate";
    case RangeOp::kAvgOverTime: return "avg_over_time";
    case RangeOp::kSumOverTime: return "sum_over_time";
    case RangeOp::kMinOverTime: return "min_over_time";
    case RangeOp::kMaxOverTime: return "max_over_time";
    case RangeOp::kStdvarOverTime: return "stdvar_over_time";
    case RangeOp::kStddevOverTime: return "stddev_over_time";
    case RangeOp::kQuantileOverTime: return "quantile_over_time";
    case RangeOp::kFirstOverTime: return "first_over_time";
    case RangeOp::kLastOverTime: return "last_over_time";
    case RangeOp::kAbsentOverTime: return "absent_over_time";
  }
  return "?";
}

std::string_view VectorOpName(VectorOp op) {
  switch (op) {
    case VectorOp::kSum: return "sum";
    case VectorOp::kAvg: return "avg";
    case VectorOp::kCount: return "count";
    case VectorOp::kMax: return "max";
    case VectorOp::kMin: return "min";
    case VectorOp::kStddev: return "stddev";
    case VectorOp::kStdvar: return "stdvar";
    case VectorOp::kBottomK: return "bottomk";
    case VectorOp::kTopK: return "topk";
    case VectorOp::kSort: return "sort";
    case VectorOp::kSortDesc: return "sort_desc";
    case VectorOp::kApproxTopK: return "approx_topk";
  }
  return "?";
}

std::string_view BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kOr: return "or";
    case BinOp::kAnd: return "and";
    case BinOp::kUnless: return "unless";
    case BinOp::kAdd: return "+";
    case BinOp::kSub: return "-";
    case BinOp::kMul: return "*";
    case BinOp::kDiv: return "/";
    case BinOp::kMod: return "%";
    case BinOp::kPow: return "^";
    case BinOp::kEq: return "==";
    case BinOp::kNe: return "!=";
    case BinOp::kGt: return ">";
    case BinOp::kGe: return ">=";
    case BinOp::kLt: return "<";
    case BinOp::kLe: return "<=";
  }
  return "?";
}

std::string ToString(const LabelFilterExpr& f) {
  using K = LabelFilterExpr::Kind;
  switch (f.kind) {
    case K::kString: return f.matcher->ToString();
    case K::kNumber: return f.name + CmpName(f.op, true) + Num(f.number);
    case K::kDuration: return f.name + CmpName(f.op, true) + Dur(f.duration_ns);
    case K::kBytes: return f.name + CmpName(f.op, true) + (f.literal.empty() ? FormatBytes(f.bytes) : f.literal);
    case K::kIp: return f.name + CmpName(f.op, false) + "ip(" + Quote(f.ip) + ")";
    case K::kAnd: {
      auto side = [](const LabelFilterExpr& x) {
        return x.kind == K::kOr ? "(" + ToString(x) + ")" : ToString(x);
      };
      return side(*f.left) + ", " + side(*f.right);
    }
    case K::kOr: return ToString(*f.left) + " or " + ToString(*f.right);
  }
  return "?";
}

std::string ToString(const Stage& s) {
  switch (s.kind) {
    case Stage::Kind::kLineFilter: {
      std::string out = LineFilterOpStr(s.line_filter.op) + " ";
      for (size_t i = 0; i < s.line_filter.alternatives.size(); ++i) {
        const auto& a = s.line_filter.alternatives[i];
        if (i) out += " or ";
        out += a.ip ? "ip(" + Quote(a.value) + ")" : Quote(a.value);
      }
      return out;
    }
    case Stage::Kind::kParser: {
      const ParserStage& p = s.parser;
      std::string out;
      switch (p.kind) {
        case ParserKind::kJson: out = "| json"; break;
        case ParserKind::kLogfmt:
          out = "| logfmt";
          if (p.strict) out += " --strict";
          if (p.keep_empty) out += " --keep-empty";
          break;
        case ParserKind::kRegexp: return "| regexp " + Quote(p.argument);
        case ParserKind::kPattern: return "| pattern " + Quote(p.argument);
        case ParserKind::kUnpack: return "| unpack";
      }
      for (size_t i = 0; i < p.params.size(); ++i) {
        out += i ? ", " : " ";
        out += p.params[i].label + "=" + Quote(p.params[i].expression);
      }
      return out;
    }
    case Stage::Kind::kLabelFilter: return "| " + ToString(*s.label_filter.filter);
    case Stage::Kind::kLineFormat: return "| line_format " + Quote(s.line_format.tmpl);
    case Stage::Kind::kLabelFormat: {
      std::string out = "| label_format ";
      for (size_t i = 0; i < s.label_format.items.size(); ++i) {
        const auto& it = s.label_format.items[i];
        out += (i ? "," : "") + it.dst + "=" + (it.rename ? it.value : Quote(it.value));
      }
      return out;
    }
    case Stage::Kind::kDrop: return "| drop " + Items(s.drop.items);
    case Stage::Kind::kKeep: return "| keep " + Items(s.keep.items);
    case Stage::Kind::kDecolorize: return "| decolorize";
  }
  return "?";
}

std::string ToString(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLog: return LogStr(static_cast<const LogExpr&>(e));
    case Expr::Kind::kRangeAggregation: {
      const auto& r = static_cast<const RangeAggregationExpr&>(e);
      std::string out(RangeOpName(r.op));
      out += "(";
      if (r.param) out += Num(*r.param) + ",";
      out += LogStr(*r.log);
      if (r.unwrap) {
        out += " | unwrap ";
        switch (r.unwrap->conv) {
          case ConvOp::kNone: out += r.unwrap->label; break;
          case ConvOp::kBytes: out += "bytes(" + r.unwrap->label + ")"; break;
          case ConvOp::kDuration: out += "duration(" + r.unwrap->label + ")"; break;
          case ConvOp::kDurationSeconds: out += "duration_seconds(" + r.unwrap->label + ")"; break;
        }
        for (const auto& f : r.unwrap->post_filters) out += " | " + ToString(*f);
      }
      out += "[" + Dur(r.range_ns) + "]";
      if (r.offset_ns) out += " offset " + Dur(r.offset_ns);
      out += ")";
      if (r.grouping) out += GroupingStr(*r.grouping);
      return out;
    }
    case Expr::Kind::kVectorAggregation: {
      const auto& v = static_cast<const VectorAggregationExpr&>(e);
      std::string out(VectorOpName(v.op));
      if (v.grouping) out += GroupingStr(*v.grouping);
      out += "(";
      if (v.param) out += Num(*v.param) + ",";
      out += ToString(*v.inner) + ")";
      return out;
    }
    case Expr::Kind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      std::string op(BinOpName(b.op));
      if (b.return_bool) op += " bool";
      if (b.matching.has_matching) {
        op += (b.matching.on ? " on" : " ignoring") + LabelList(b.matching.matching);
        if (b.matching.card != VectorMatching::Card::kOneToOne) {
          op += b.matching.card == VectorMatching::Card::kManyToOne ? " group_left" : " group_right";
          if (!b.matching.include.empty()) op += LabelList(b.matching.include);
        }
      }
      return "(" + ToString(*b.lhs) + " " + op + " " + ToString(*b.rhs) + ")";
    }
    case Expr::Kind::kLiteral: return Num(static_cast<const LiteralExpr&>(e).value);
    case Expr::Kind::kVector: return "vector(" + Num(static_cast<const VectorExpr&>(e).value) + ")";
    case Expr::Kind::kLabelReplace: {
      const auto& l = static_cast<const LabelReplaceExpr&>(e);
      return "label_replace(" + ToString(*l.inner) + "," + Quote(l.dst) + "," + Quote(l.replacement) + "," +
             Quote(l.src) + "," + Quote(l.regex) + ")";
    }
  }
  return "?";
}

}  // namespace logq::logql
