// Template: Go text/template execution over a parsed tree (text/template/exec.go semantics:
// argument conversion, field chains, variables, if/with/range/break/continue, template
// calls, printing) with Loki's data model: `.` is the map of label values, missing labels
// read as "" (Loki's missingkey=zero on a map[string]string).
#include "query/pipeline/template.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/pipeline/template_funcs.h"
#include "query/pipeline/template_parse.h"
#include "query/pipeline/template_value.h"

namespace logq::pipeline {
namespace {

using tmpl::FuncDef;
using tmpl::Kind;
using tmpl::Node;
using tmpl::NodeType;
using tmpl::Param;
using tmpl::Value;

constexpr size_t kMaxOutput = 1 << 20;         // bytes one function result may have
constexpr int kMaxExecDepth = 300;             // nested blocks, parentheses, template calls
constexpr int64_t kMaxRangeIterations = 1 << 20;  // per execution

// ---- time.Time methods ---------------------------------------------------------------

#define METHOD(name) bool name(tmpl::CallEnv& env, const Value* a, size_t n, Value* out)
#define UNUSED (void)env, (void)n

METHOD(TimeUnix) {
  UNUSED;
  *out = Value::Int(a[0].i, tmpl::IntType::kInt64);
  return true;
}
METHOD(TimeUnixMilli) {
  UNUSED;
  *out = Value::Int(a[0].i * 1000 + a[0].nsec / 1000000, tmpl::IntType::kInt64);
  return true;
}
METHOD(TimeUnixMicro) {
  UNUSED;
  *out = Value::Int(a[0].i * 1000000 + a[0].nsec / 1000, tmpl::IntType::kInt64);
  return true;
}
METHOD(TimeUnixNano) {
  UNUSED;
  *out = Value::Int(static_cast<int64_t>(static_cast<uint64_t>(a[0].i) * 1000000000u +
                                         static_cast<uint64_t>(a[0].nsec)),
                    tmpl::IntType::kInt64);
  return true;
}
METHOD(TimeYear) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).year);
  return true;
}
METHOD(TimeYearDay) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).yday);
  return true;
}
METHOD(TimeDay) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).day);
  return true;
}
METHOD(TimeHour) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).hour);
  return true;
}
METHOD(TimeMinute) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).minute);
  return true;
}
METHOD(TimeSecond) {
  UNUSED;
  *out = Value::Int(tmpl::TimeCivil(a[0]).second);
  return true;
}
METHOD(TimeNanosecond) {
  UNUSED;
  *out = Value::Int(a[0].nsec);
  return true;
}
METHOD(TimeFormat) {
  UNUSED;
  std::string s;
  tmpl::FormatTime(a[0], a[1].s, &s);
  if (s.size() > kMaxOutput) {
    *env.err = "result exceeds " + std::to_string(kMaxOutput) + " bytes";
    return false;
  }
  *out = Value::OwnedString(std::move(s));
  return true;
}
METHOD(TimeString) {
  UNUSED;
  std::string s;
  tmpl::AppendTimeString(a[0], &s);
  *out = Value::OwnedString(std::move(s));
  return true;
}
METHOD(TimeUTCMethod) {
  UNUSED;
  *out = tmpl::TimeUTC(a[0].i, a[0].nsec);
  return true;
}
METHOD(TimeIsZero) {
  UNUSED;
  Value zero = tmpl::ZeroTime();
  *out = Value::Bool(a[0].i == zero.i && a[0].nsec == 0);
  return true;
}

#undef METHOD
#undef UNUSED

FuncDef Method(std::string_view name, FuncDef::Special, tmpl::FuncImpl impl, bool has_string_arg) {
  FuncDef d;
  d.name = name;
  d.params[0] = Param::kTime;
  d.nparams = 1;
  if (has_string_arg) {
    d.params[1] = Param::kString;
    d.nparams = 2;
  }
  d.impl = impl;
  return d;
}

const FuncDef* FindTimeMethod(std::string_view name) {
  static const std::vector<FuncDef> methods = {
      Method("Day", {}, TimeDay, false),
      Method("Format", {}, TimeFormat, true),
      Method("Hour", {}, TimeHour, false),
      Method("IsZero", {}, TimeIsZero, false),
      Method("Local", {}, TimeUTCMethod, false),
      Method("Minute", {}, TimeMinute, false),
      Method("Nanosecond", {}, TimeNanosecond, false),
      Method("Second", {}, TimeSecond, false),
      Method("String", {}, TimeString, false),
      Method("UTC", {}, TimeUTCMethod, false),
      Method("Unix", {}, TimeUnix, false),
      Method("UnixMicro", {}, TimeUnixMicro, false),
      Method("UnixMilli", {}, TimeUnixMilli, false),
      Method("UnixNano", {}, TimeUnixNano, false),
      Method("Year", {}, TimeYear, false),
      Method("YearDay", {}, TimeYearDay, false),
  };
  for (const FuncDef& m : methods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

// ---- executor ------------------------------------------------------------------------

struct NodeSpan {
  const std::unique_ptr<Node>* p = nullptr;
  size_t n = 0;
};

class Exec {
 public:
  Exec(const tmpl::TemplateSet& set, const TemplateContext& ctx, std::string* out)
      : set_(set), ctx_(ctx), out_(out) {
    if (ctx_.for_each_label) {
      labels_.self = &ctx_;
      labels_.each = [](const void* self, tmpl::LabelVisitor visit, void* arg) {
        static_cast<const TemplateContext*>(self)->for_each_label(
            [&](std::string_view name, std::string_view value) { visit(arg, name, value); });
      };
    }
  }

  Status Run() {
    const tmpl::ParsedTree& tree = set_.main;
    Value small[8];
    std::vector<Value> big;
    Value* vars = small;
    if (tree.num_slots > 8) {
      big.resize(static_cast<size_t>(tree.num_slots));
      vars = big.data();
    }
    vars_ = vars;
    vars_[0] = Value::Labels();
    tmpl_name_ = set_.name;
    Flow f = Walk(vars_[0], *tree.root);
    if (f == Flow::kError) return InvalidArgument(std::move(err_));
    return Status::OK();
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue, kError };

  bool Errorf(std::string msg) {
    if (at_ == nullptr) {
      err_ = "template: " + set_.name + ": " + msg;
      return false;
    }
    int line = 1;
    size_t last_nl = std::string::npos;
    const size_t pos = std::min(static_cast<size_t>(at_->pos), set_.source.size());
    for (size_t k = 0; k < pos; ++k) {
      if (set_.source[k] == '\n') {
        ++line;
        last_nl = k;
      }
    }
    size_t col = last_nl == std::string::npos ? pos : pos - last_nl - 1;
    err_ = "template: " + set_.name + ":" + std::to_string(line) + ":" + std::to_string(col) +
           ": executing \"" + std::string(tmpl_name_) + "\" at <" + at_->String() + ">: " + msg;
    return false;
  }

  bool CheckOutput() {
    if (out_->size() > ctx_.max_output_bytes) {
      return Errorf("template output exceeds " + std::to_string(ctx_.max_output_bytes) +
                    " bytes (limits_config.max_template_output_size)");
    }
    return true;
  }

  bool Enter() {
    if (++depth_ > kMaxExecDepth) {
      return Errorf("exceeded maximum template depth (" + std::to_string(kMaxExecDepth) + ")");
    }
    return true;
  }

  // ---- walking ----

  Flow Walk(const Value& dot, const Node& node) {
    at_ = &node;
    switch (node.type) {
      case NodeType::kList:
        for (const auto& n : node.nodes) {
          Flow f = Walk(dot, *n);
          if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
      case NodeType::kText:
        out_->append(node.text);
        return CheckOutput() ? Flow::kNormal : Flow::kError;
      case NodeType::kAction: {
        Value v;
        if (!EvalPipeline(dot, *node.pipe, &v)) return Flow::kError;
        if (node.pipe->decl.empty()) {
          at_ = &node;
          if (v.kind == Kind::kInvalid) {
            out_->append("<no value>");
          } else if (v.kind == Kind::kString) {
            out_->append(v.s);
          } else {
            tmpl::AppendPrint(v, labels_, out_);
          }
          if (!CheckOutput()) return Flow::kError;
        }
        return Flow::kNormal;
      }
      case NodeType::kIf:
      case NodeType::kWith: {
        if (!Enter()) return Flow::kError;
        Value v;
        if (!EvalPipeline(dot, *node.pipe, &v)) return Flow::kError;
        Flow f = Flow::kNormal;
        if (Truth(v)) {
          f = Walk(node.type == NodeType::kWith ? v : dot, *node.list);
        } else if (node.else_list) {
          f = Walk(dot, *node.else_list);
        }
        --depth_;
        return f;
      }
      case NodeType::kRange: {
        if (!Enter()) return Flow::kError;
        Flow f = WalkRange(dot, node);
        --depth_;
        return f;
      }
      case NodeType::kBreak:
        return Flow::kBreak;
      case NodeType::kContinue:
        return Flow::kContinue;
      case NodeType::kTemplate:
        return WalkTemplate(dot, node);
      default:
        Errorf("unknown node: " + node.String());
        return Flow::kError;
    }
  }

  bool Truth(const Value& v) const {
    if (v.kind == Kind::kLabels) return LabelCount() > 0;
    return tmpl::Truth(v);
  }

  size_t LabelCount() const {
    if (!ctx_.for_each_label) return 0;
    size_t n = 0;
    ctx_.for_each_label([&](std::string_view, std::string_view) { ++n; });
    return n;
  }

  // Runs one iteration; returns false to stop the loop (break or error in *flow).
  bool Iteration(const Node& r, const Value& index, const Value& elem, Flow* flow) {
    if (++iterations_ > kMaxRangeIterations) {
      Errorf("range iteration limit exceeded (" + std::to_string(kMaxRangeIterations) + ")");
      *flow = Flow::kError;
      return false;
    }
    const auto& decl = r.pipe->decl;
    if (!decl.empty()) {
      if (decl.size() > 1) {
        if (!SetVar(*decl[0], index) || !SetVar(*decl[1], elem)) {
          *flow = Flow::kError;
          return false;
        }
      } else if (!SetVar(*decl[0], elem)) {
        *flow = Flow::kError;
        return false;
      }
    }
    Flow f = Walk(elem, *r.list);
    if (f == Flow::kError || f == Flow::kBreak) {
      *flow = f == Flow::kError ? Flow::kError : Flow::kNormal;
      return false;
    }
    return true;
  }

  Flow WalkRange(const Value& dot, const Node& r) {
    at_ = &r;
    Value val;
    if (!EvalPipeline(dot, *r.pipe, &val)) return Flow::kError;
    Flow flow = Flow::kNormal;
    bool ran = false;
    switch (val.kind) {
      case Kind::kList: {
        const auto& list = val.list();
        for (size_t i = 0; i < list.size(); ++i) {
          ran = true;
          if (!Iteration(r, Value::Int(static_cast<int64_t>(i)), list[i], &flow)) break;
        }
        break;
      }
      case Kind::kMap:
        for (const auto& [k, v] : val.map()) {
          ran = true;
          if (!Iteration(r, Value::StringView(k), v, &flow)) break;
        }
        break;
      case Kind::kLabels: {
        std::vector<std::pair<std::string, std::string>> labels;
        if (ctx_.for_each_label) {
          ctx_.for_each_label([&](std::string_view k, std::string_view v) {
            labels.emplace_back(std::string(k), std::string(v));
          });
        }
        for (const auto& [k, v] : labels) {
          ran = true;
          if (!Iteration(r, Value::StringView(k), Value::StringView(v), &flow)) break;
        }
        break;
      }
      case Kind::kInt:
        if (r.pipe->decl.size() > 1) {
          std::string s;
          tmpl::AppendPrint(val, labels_, &s);
          Errorf("can't use " + s + " to iterate over more than one variable");
          return Flow::kError;
        }
        for (int64_t i = 0; i < val.i; ++i) {
          ran = true;
          Value v = Value::Int(i, val.itype);
          if (!Iteration(r, v, v, &flow)) break;
        }
        break;
      case Kind::kInvalid:
      case Kind::kNil:
        break;
      default: {
        std::string s;
        tmpl::AppendPrint(val, labels_, &s);
        Errorf("range can't iterate over " + s);
        return Flow::kError;
      }
    }
    if (flow == Flow::kError) return flow;
    if (!ran && r.else_list) return Walk(dot, *r.else_list);
    return Flow::kNormal;
  }

  Flow WalkTemplate(const Value& dot, const Node& t) {
    at_ = &t;
    auto it = set_.defined.find(t.text);
    if (it == set_.defined.end()) {
      std::string q;
      tmpl::AppendQuoted(t.text, false, &q);
      Errorf("template: no template " + q + " associated with template \"" + set_.name +
             "\"");
      return Flow::kError;
    }
    if (!Enter()) return Flow::kError;
    Value new_dot;
    if (t.pipe && !EvalPipeline(dot, *t.pipe, &new_dot)) return Flow::kError;
    const tmpl::ParsedTree& tree = it->second;
    std::vector<Value> vars(static_cast<size_t>(tree.num_slots));
    vars[0] = new_dot;
    Value* saved_vars = vars_;
    std::string_view saved_name = tmpl_name_;
    vars_ = vars.data();
    tmpl_name_ = it->first;
    Flow f = Walk(new_dot, *tree.root);
    vars_ = saved_vars;
    tmpl_name_ = saved_name;
    --depth_;
    return f == Flow::kError ? f : Flow::kNormal;
  }

  bool SetVar(const Node& var, const Value& v) {
    if (var.slot < 0) {
      at_ = &var;
      return Errorf("undefined variable: " + var.idents[0]);
    }
    vars_[var.slot] = v;
    return true;
  }

  // ---- evaluation ----

  bool EvalPipeline(const Value& dot, const Node& pipe, Value* out) {
    at_ = &pipe;
    Value value;
    bool have = false;
    for (const auto& cmd : pipe.nodes) {
      Value next;
      if (!EvalCommand(dot, *cmd, have ? &value : nullptr, &next)) return false;
      if (next.kind == Kind::kNil) next = Value::Invalid();  // dig into interface{}
      value = std::move(next);
      have = true;
    }
    for (const auto& var : pipe.decl) {
      if (!SetVar(*var, value)) return false;
    }
    *out = std::move(value);
    return true;
  }

  bool NotAFunction(NodeSpan args, const Value* final) {
    if (args.n > 1 || final != nullptr) {
      return Errorf("can't give argument to non-function " + args.p[0]->String());
    }
    return true;
  }

  bool EvalCommand(const Value& dot, const Node& cmd, const Value* final, Value* out) {
    const Node& first = *cmd.nodes[0];
    NodeSpan args{cmd.nodes.data(), cmd.nodes.size()};
    switch (first.type) {
      case NodeType::kField:
        return EvalFieldNode(dot, first, args, final, out);
      case NodeType::kChain:
        return EvalChainNode(dot, first, args, final, out);
      case NodeType::kIdentifier:
        return EvalFunction(dot, first, cmd, args, final, cmd.regex.get(), out);
      case NodeType::kPipe:
        if (!NotAFunction(args, final)) return false;
        if (!Enter()) return false;
        if (!EvalPipeline(dot, first, out)) return false;
        --depth_;
        return true;
      case NodeType::kVariable:
        return EvalVariableNode(dot, first, args, final, out);
      default:
        break;
    }
    at_ = &first;
    if (!NotAFunction(args, final)) return false;
    switch (first.type) {
      case NodeType::kBool:
      case NodeType::kNumber:
      case NodeType::kString:
        *out = first.constant;
        return true;
      case NodeType::kDot:
        *out = dot;
        return true;
      case NodeType::kNil:
        return Errorf("nil is not a command");
      default:
        return Errorf("can't evaluate command " + first.String());
    }
  }

  bool EvalFunction(const Value& dot, const Node& ident, const Node& cmd, NodeSpan args,
                    const Value* final, const re2::RE2* regex, Value* out) {
    at_ = &ident;
    NodeSpan rest{args.n > 1 ? args.p + 1 : nullptr, args.n > 0 ? args.n - 1 : 0};
    return EvalCall(dot, *ident.func, cmd, ident.text, rest, final, nullptr, regex, out);
  }

  bool EvalFieldNode(const Value& dot, const Node& field, NodeSpan args, const Value* final,
                     Value* out) {
    at_ = &field;
    return EvalFieldChain(dot, dot, field, 0, args, final, out);
  }

  bool EvalChainNode(const Value& dot, const Node& chain, NodeSpan args, const Value* final,
                     Value* out) {
    at_ = &chain;
    if (chain.pipe->type == NodeType::kNil) {
      return Errorf("indirection through explicit nil in " + chain.String());
    }
    Value base;
    if (!EvalArg(dot, Param::kReflect, *chain.pipe, &base)) return false;
    return EvalFieldChain(dot, base, chain, 0, args, final, out);
  }

  bool EvalVariableNode(const Value& dot, const Node& var, NodeSpan args, const Value* final,
                        Value* out) {
    at_ = &var;
    if (var.slot < 0) return Errorf("undefined variable: " + var.idents[0]);
    const Value& value = vars_[var.slot];
    if (var.idents.size() == 1) {
      if (!NotAFunction(args, final)) return false;
      *out = value;
      return true;
    }
    Value receiver = value;
    return EvalFieldChain(dot, receiver, var, 1, args, final, out);
  }

  bool EvalFieldChain(const Value& dot, Value receiver, const Node& node, size_t first,
                      NodeSpan args, const Value* final, Value* out) {
    const auto& idents = node.idents;
    for (size_t i = first; i + 1 < idents.size(); ++i) {
      Value next;
      if (!EvalField(dot, idents[i], node, NodeSpan{}, nullptr, receiver, &next)) return false;
      receiver = std::move(next);
    }
    return EvalField(dot, idents.back(), node, args, final, receiver, out);
  }

  bool EvalField(const Value& dot, const std::string& name, const Node& node, NodeSpan args,
                 const Value* final, const Value& receiver, Value* out) {
    switch (receiver.kind) {
      case Kind::kInvalid:
        *out = Value::Invalid();
        return true;
      case Kind::kNil:
        return Errorf("nil pointer evaluating interface {}." + name);
      case Kind::kTime: {
        const FuncDef* m = FindTimeMethod(name);
        if (m == nullptr) return Errorf("can't evaluate field " + name + " in type time.Time");
        NodeSpan rest{args.n > 1 ? args.p + 1 : nullptr, args.n > 0 ? args.n - 1 : 0};
        return EvalCall(dot, *m, node, name, rest, final, &receiver, nullptr, out);
      }
      default:
        break;
    }
    const bool has_args = args.n > 1 || final != nullptr;
    if (receiver.kind == Kind::kLabels) {
      if (has_args) return Errorf(name + " is not a method but has arguments");
      const std::string* v = ctx_.label ? ctx_.label(name) : nullptr;
      *out = Value::StringView(v != nullptr ? std::string_view(*v) : std::string_view());
      return true;
    }
    if (receiver.kind == Kind::kMap) {
      if (has_args) return Errorf(name + " is not a method but has arguments");
      const auto& m = receiver.map();
      auto it = std::lower_bound(m.begin(), m.end(), name,
                                 [](const auto& kv, const std::string& k) { return kv.first < k; });
      if (it != m.end() && it->first == name) {
        *out = it->second;
      } else {
        *out = Value::Nil();
      }
      return true;
    }
    return Errorf("can't evaluate field " + name + " in type " +
                  std::string(tmpl::TypeName(receiver)));
  }

  // Go's validateType.
  bool ValidateType(const Value& v, Param typ, Value* out) {
    if (typ == Param::kAny || typ == Param::kReflect) {
      *out = v;
      return true;
    }
    if (v.kind == Kind::kInvalid) {
      return Errorf("invalid value; expected " + std::string(tmpl::ParamTypeName(typ)));
    }
    bool ok = false;
    switch (typ) {
      case Param::kString: ok = v.kind == Kind::kString; break;
      case Param::kInt: ok = v.kind == Kind::kInt && v.itype == tmpl::IntType::kInt; break;
      case Param::kFloat: ok = v.kind == Kind::kFloat; break;
      case Param::kBool: ok = v.kind == Kind::kBool; break;
      case Param::kTime: ok = v.kind == Kind::kTime; break;
      default: break;
    }
    if (!ok) {
      return Errorf("wrong type for value; expected " + std::string(tmpl::ParamTypeName(typ)) +
                    "; got " + std::string(tmpl::TypeName(v)));
    }
    *out = v;
    return true;
  }

  // Go's evalArg.
  bool EvalArg(const Value& dot, Param typ, const Node& n, Value* out) {
    at_ = &n;
    Value v;
    switch (n.type) {
      case NodeType::kDot:
        return ValidateType(dot, typ, out);
      case NodeType::kNil:
        if (typ == Param::kAny || typ == Param::kReflect) {
          *out = Value::Invalid();
          return true;
        }
        return Errorf("cannot assign nil to " + std::string(tmpl::ParamTypeName(typ)));
      case NodeType::kField: {
        if (!EvalFieldChain(dot, dot, n, 0, NodeSpan{nullptr, 1}, nullptr, &v)) return false;
        return ValidateType(v, typ, out);
      }
      case NodeType::kVariable:
        if (!EvalVariableNode(dot, n, NodeSpan{}, nullptr, &v)) return false;
        return ValidateType(v, typ, out);
      case NodeType::kPipe:
        if (!Enter()) return false;
        if (!EvalPipeline(dot, n, &v)) return false;
        --depth_;
        return ValidateType(v, typ, out);
      case NodeType::kIdentifier:
        if (!EvalFunction(dot, n, n, NodeSpan{}, nullptr, nullptr, &v)) return false;
        return ValidateType(v, typ, out);
      case NodeType::kChain:
        if (!EvalChainNode(dot, n, NodeSpan{}, nullptr, &v)) return false;
        return ValidateType(v, typ, out);
      default:
        break;
    }
    switch (typ) {
      case Param::kBool:
        if (n.type == NodeType::kBool) {
          *out = n.constant;
          return true;
        }
        return Errorf("expected bool; found " + n.String());
      case Param::kFloat:
        if (n.type == NodeType::kNumber && n.is_float) {
          *out = Value::Float(n.fval);
          return true;
        }
        return Errorf("expected float; found " + n.String());
      case Param::kInt:
        if (n.type == NodeType::kNumber && n.is_int) {
          *out = Value::Int(n.ival);
          return true;
        }
        return Errorf("expected integer; found " + n.String());
      case Param::kString:
        if (n.type == NodeType::kString) {
          *out = n.constant;
          return true;
        }
        return Errorf("expected string; found " + n.String());
      case Param::kAny:
      case Param::kReflect:
        *out = n.constant;
        return true;
      case Param::kTime:
        return Errorf("can't handle " + n.String() + " for arg of type time.Time");
    }
    return Errorf("can't handle " + n.String());
  }

  // Go's evalCall. `args` excludes the function's own node; `receiver` is set for methods.
  bool EvalCall(const Value& dot, const FuncDef& fn, const Node& node, std::string_view name,
                NodeSpan args, const Value* final, const Value* receiver, const re2::RE2* regex,
                Value* out) {
    const size_t r = receiver != nullptr ? 1 : 0;
    const size_t np = fn.nparams - r;
    const size_t num_in = args.n + (final != nullptr ? 1 : 0);
    size_t num_fixed = args.n;
    if (fn.variadic) {
      num_fixed = np - 1;
      if (num_in < num_fixed) {
        return Errorf("wrong number of args for " + std::string(name) + ": want at least " +
                      std::to_string(np - 1) + " got " + std::to_string(args.n));
      }
    } else if (num_in != np) {
      return Errorf("wrong number of args for " + std::string(name) + ": want " +
                    std::to_string(np) + " got " + std::to_string(num_in));
    }

    if (fn.special != FuncDef::Special::kNone) {
      const bool is_or = fn.special == FuncDef::Special::kOr;
      Value v;
      for (size_t i = 0; i < args.n; ++i) {
        if (!EvalArg(dot, Param::kReflect, *args.p[i], &v)) return false;
        if (Truth(v) == is_or) {
          *out = std::move(v);
          return true;
        }
      }
      if (final != nullptr) v = *final;
      *out = std::move(v);
      return true;
    }

    Value small[8];
    std::vector<Value> big;
    Value* argv = small;
    if (num_in + r > 8) {
      big.resize(num_in + r);
      argv = big.data();
    }
    if (r != 0) argv[0] = *receiver;
    size_t i = 0;
    for (; i < num_fixed && i < args.n; ++i) {
      if (!EvalArg(dot, fn.params[r + i], *args.p[i], &argv[r + i])) return false;
    }
    const Param var_type = fn.nparams > 0 ? fn.params[fn.nparams - 1] : Param::kAny;
    if (fn.variadic) {
      for (; i < args.n; ++i) {
        if (!EvalArg(dot, var_type, *args.p[i], &argv[r + i])) return false;
      }
    }
    if (final != nullptr) {
      Param t = var_type;
      if (fn.variadic) t = num_in - 1 < num_fixed ? fn.params[r + num_in - 1] : var_type;
      if (!ValidateType(*final, t, &argv[r + i])) return false;
    }
    std::string err;
    tmpl::CallEnv env;
    env.ctx = &ctx_;
    env.regex = regex;
    env.labels = labels_;
    env.err = &err;
    if (!fn.impl(env, argv, num_in + r, out)) {
      at_ = &node;
      return Errorf("error calling " + std::string(name) + ": " + err);
    }
    if (out->kind == Kind::kString && out->s.size() > kMaxOutput) {
      at_ = &node;
      return Errorf("error calling " + std::string(name) + ": result exceeds " +
                    std::to_string(kMaxOutput) + " bytes");
    }
    return true;
  }

  const tmpl::TemplateSet& set_;
  const TemplateContext& ctx_;
  std::string* out_;
  tmpl::LabelEnumerator labels_;
  Value* vars_ = nullptr;
  const Node* at_ = nullptr;
  std::string_view tmpl_name_;
  std::string err_;
  int depth_ = 0;
  int64_t iterations_ = 0;
};

class TemplateImpl final : public Template {
 public:
  explicit TemplateImpl(tmpl::TemplateSet set) : set_(std::move(set)) { PlanSimple(); }

  Status Execute(const TemplateContext& ctx, std::string* out) const override {
    out->clear();
    if (simple_) {
      // Text and `{{ .label }}` only (the common line_format shapes): no evaluation needed.
      for (const auto& node : set_.main.root->nodes) {
        const Node* n = node.get();
        if (n->type == NodeType::kText) {
          out->append(n->text);
        } else {
          const std::string* v = ctx.label ? ctx.label(n->pipe->nodes[0]->nodes[0]->idents[0])
                                           : nullptr;
          if (v != nullptr) out->append(*v);
        }
      }
      if (out->size() <= ctx.max_output_bytes) return Status::OK();
      out->clear();  // let the general path produce the error with its context
    }
    Exec exec(set_, ctx, out);
    return exec.Run();
  }

 private:
  // Marks templates made only of text and single-label field actions.
  void PlanSimple() {
    for (const auto& n : set_.main.root->nodes) {
      if (n->type == NodeType::kText) continue;
      if (n->type != NodeType::kAction) return;
      const Node& pipe = *n->pipe;
      if (!pipe.decl.empty() || pipe.nodes.size() != 1) return;
      const Node& cmd = *pipe.nodes[0];
      if (cmd.nodes.size() != 1 || cmd.nodes[0]->type != NodeType::kField ||
          cmd.nodes[0]->idents.size() != 1) {
        return;
      }
    }
    simple_ = true;
  }

  tmpl::TemplateSet set_;
  bool simple_ = false;
};

}  // namespace

Result<std::unique_ptr<Template>> Template::Parse(std::string_view source, std::string_view name) {
  tmpl::TemplateSet set;
  std::string err;
  if (!tmpl::ParseTemplate(name, source, &set, &err)) return InvalidArgument(std::move(err));
  return std::unique_ptr<Template>(std::make_unique<TemplateImpl>(std::move(set)));
}

}  // namespace logq::pipeline
