// Internal to the template engine: the function table (Go's builtins plus Loki's
// line_format/label_format library) with Go-style signatures, so the executor can apply
// text/template's argument conversion and type checks before calling an implementation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "query/pipeline/template.h"
#include "query/pipeline/template_value.h"

namespace re2 {
class RE2;
}

namespace logq::pipeline::tmpl {

// A Go parameter type.
enum class Param : uint8_t {
  kString,   // string
  kInt,      // int
  kFloat,    // float64
  kBool,     // bool
  kTime,     // time.Time
  kAny,      // interface{}
  kReflect,  // reflect.Value (Go builtins: accepts anything, even an invalid value)
};

std::string_view ParamTypeName(Param p);

// What an implementation may use besides its arguments.
struct CallEnv {
  const TemplateContext* ctx = nullptr;
  const re2::RE2* regex = nullptr;  // the first argument, compiled at parse time, or null
  LabelEnumerator labels;
  std::string* err = nullptr;  // set with the error text when returning false
};

// Returns false with *env.err set on error ("error calling NAME: <err>").
using FuncImpl = bool (*)(CallEnv& env, const Value* args, size_t nargs, Value* out);

struct FuncDef {
  enum class Special : uint8_t { kNone, kAnd, kOr };
  std::string_view name;
  std::array<Param, 4> params{};
  uint8_t nparams = 0;
  bool variadic = false;  // the last of `params` is `...T`
  FuncImpl impl = nullptr;
  Special special = Special::kNone;
  bool regex_first = false;  // params[0] is a regular expression (compiled once if literal)
};

// Returns null for unknown names.
const FuncDef* FindFunc(std::string_view name);

// Go's truth of a value (isTrue).
bool Truth(const Value& v);

}  // namespace logq::pipeline::tmpl
