// Internal to the template engine: Go text/template's lexer and parser, producing an
// immutable tree. Variables are resolved to stack slots at parse time, function names to
// their definitions, literals to precomputed values and literal regular expressions to
// compiled RE2 objects, so executing does no lookups by name.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/pipeline/template_value.h"

namespace re2 {
class RE2;
}

namespace logq::pipeline::tmpl {

struct FuncDef;

enum class NodeType : uint8_t {
  kList,
  kText,
  kAction,
  kIf,
  kRange,
  kWith,
  kBreak,
  kContinue,
  kTemplate,
  kPipe,
  kCommand,
  kField,
  kVariable,
  kIdentifier,
  kDot,
  kNil,
  kBool,
  kNumber,
  kString,
  kChain,
  kElse,
  kEnd,
};

struct Node {
  explicit Node(NodeType t, int p) : type(t), pos(p) {}

  NodeType type;
  int pos;  // byte offset in the source
  // kText: the text; kString: the unquoted value; kIdentifier: the name;
  // kNumber: the literal; kTemplate: the template name.
  std::string text;
  std::string quoted;               // kString: as written
  std::vector<std::string> idents;  // kField: names; kVariable: "$x" then fields; kChain: fields
  std::vector<std::unique_ptr<Node>> nodes;  // kList: items; kPipe: commands; kCommand: args
  std::vector<std::unique_ptr<Node>> decl;   // kPipe: declared/assigned variables
  std::unique_ptr<Node> pipe;       // kAction/kIf/kRange/kWith/kTemplate; kChain: the operand
  std::unique_ptr<Node> list;       // kIf/kRange/kWith
  std::unique_ptr<Node> else_list;  // kIf/kRange/kWith, may be null
  bool is_assign = false;           // kPipe: `=` rather than `:=`
  bool bval = false;                // kBool
  bool is_int = false, is_float = false;  // kNumber
  int64_t ival = 0;
  double fval = 0;
  int slot = -1;  // kVariable and declarations: the variable's stack slot (-1: undefined)
  const FuncDef* func = nullptr;  // kIdentifier
  Value constant;  // kBool/kNumber/kString: the value as an interface{} argument
  std::shared_ptr<const re2::RE2> regex;  // kCommand: compiled literal first argument

  // Go's Node.String(), used in error contexts ("at <.foo>").
  void AppendString(std::string* out) const;
  std::string String() const {
    std::string s;
    AppendString(&s);
    return s;
  }
};

struct ParsedTree {
  std::unique_ptr<Node> root;  // kList
  int num_slots = 1;           // variable slots; slot 0 is `$`
};

struct TemplateSet {
  std::string name;    // used in messages: `template: NAME:1:2: ...`
  std::string source;  // for line/column of execution errors
  ParsedTree main;
  std::map<std::string, ParsedTree, std::less<>> defined;  // {{define}} / {{block}}
};

// Parses `text`. On failure returns false with Go's message in *err
// (`template: line:1: unexpected "}" in operand`).
bool ParseTemplate(std::string_view name, std::string_view text, TemplateSet* out,
                   std::string* err);

// Limits that keep a hostile template from exhausting the stack.
inline constexpr int kMaxParseDepth = 100;

}  // namespace logq::pipeline::tmpl
