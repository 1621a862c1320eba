// Go text/template's lexer and parser (text/template/parse), reproducing its grammar, trim
// markers, comments and error messages.
#include "query/pipeline/template_parse.h"

#include <re2/re2.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/pipeline/template_funcs.h"

namespace logq::pipeline::tmpl {
namespace {

// ---- lexer ---------------------------------------------------------------------------

enum class Item : uint8_t {
  kError,
  kBool,
  kChar,
  kCharConstant,
  kComment,
  kComplex,
  kAssign,
  kDeclare,
  kEOF,
  kField,
  kIdentifier,
  kLeftDelim,
  kLeftParen,
  kNumber,
  kPipe,
  kRawString,
  kRightDelim,
  kRightParen,
  kSpace,
  kString,
  kText,
  kVariable,
  kKeyword,  // keywords follow
  kBlock,
  kBreak,
  kContinue,
  kDot,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kNil,
  kRange,
  kTemplate,
  kWith,
};

struct Token {
  Item typ = Item::kEOF;
  int pos = 0;
  std::string val;
  int line = 1;
};

constexpr std::string_view kLeftDelim = "{{";
constexpr std::string_view kRightDelim = "}}";
constexpr std::string_view kLeftComment = "/*";
constexpr std::string_view kRightComment = "*/";
constexpr int kTrimMarkerLen = 2;
constexpr int kEof = -1;

bool IsSpaceRune(int r) { return r == ' ' || r == '\t' || r == '\r' || r == '\n'; }
bool IsAlphaNumeric(int r) {
  return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
         r >= 0x80;
}
bool HasLeftTrimMarker(std::string_view s) {
  return s.size() >= 2 && s[0] == '-' && IsSpaceRune(s[1]);
}
bool HasRightTrimMarker(std::string_view s) {
  return s.size() >= 2 && IsSpaceRune(s[0]) && s[1] == '-';
}
size_t RightTrimLength(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsSpaceRune(s[s.size() - 1 - n])) ++n;
  return n;
}
size_t LeftTrimLength(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsSpaceRune(s[n])) ++n;
  return n;
}

std::string FormatRune(int r) {  // Go's %#U
  char buf[32];
  std::snprintf(buf, sizeof(buf), "U+%04X", r);
  std::string s = buf;
  if (r >= 0x20 && r != 0x7F) {
    s += " '";
    AppendRune(static_cast<uint32_t>(r), &s);
    s += "'";
  }
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  std::vector<Token> Run() {
    State st = State::kText;
    while (st != State::kDone) st = Step(st);
    return std::move(items_);
  }

 private:
  enum class State {
    kDone,
    kText,
    kLeftDelim,
    kComment,
    kRightDelim,
    kInsideAction,
    kSpace,
    kIdentifier,
    kField,
    kVariable,
    kChar,
    kNumber,
    kQuote,
    kRawQuote,
  };

  std::string_view Rest(size_t p) const { return p <= input_.size() ? input_.substr(p) : ""; }

  int Next() {
    if (pos_ >= input_.size()) {
      at_eof_ = true;
      return kEof;
    }
    uint32_t r;
    int w = DecodeRune(input_, pos_, &r);
    last_width_ = w;
    pos_ += static_cast<size_t>(w);
    if (r == '\n') ++line_;
    return static_cast<int>(r);
  }
  void Backup() {
    if (!at_eof_ && pos_ > 0) {
      pos_ -= static_cast<size_t>(last_width_);
      if (input_[pos_] == '\n') --line_;
    }
    at_eof_ = false;
  }
  int Peek() {
    int r = Next();
    Backup();
    return r;
  }
  void Emit(Item t) {
    items_.push_back(
        Token{t, static_cast<int>(start_), std::string(input_.substr(start_, pos_ - start_)),
              start_line_});
    start_ = pos_;
    start_line_ = line_;
  }
  void Ignore() {
    for (size_t k = start_; k < pos_; ++k) {
      if (input_[k] == '\n') ++line_;
    }
    start_ = pos_;
    start_line_ = line_;
  }
  bool Accept(std::string_view valid) {
    int r = Next();
    if (r != kEof && r < 0x80 && valid.find(static_cast<char>(r)) != std::string_view::npos) {
      return true;
    }
    Backup();
    return false;
  }
  void AcceptRun(std::string_view valid) {
    for (;;) {
      int r = Next();
      if (r == kEof || r >= 0x80 || valid.find(static_cast<char>(r)) == std::string_view::npos) {
        break;
      }
    }
    Backup();
  }
  State Errorf(std::string msg) {
    items_.push_back(Token{Item::kError, static_cast<int>(start_), std::move(msg), start_line_});
    return State::kDone;
  }
  bool AtRightDelim(bool* trim) {
    std::string_view r = Rest(pos_);
    if (HasRightTrimMarker(r) && Rest(pos_ + kTrimMarkerLen).substr(0, 2) == kRightDelim) {
      *trim = true;
      return true;
    }
    *trim = false;
    return r.substr(0, 2) == kRightDelim;
  }
  bool AtTerminator() {
    int r = Peek();
    if (IsSpaceRune(r)) return true;
    switch (r) {
      case kEof:
      case '.':
      case ',':
      case '|':
      case ':':
      case ')':
      case '(':
        return true;
      default:
        break;
    }
    return Rest(pos_).substr(0, 2) == kRightDelim;
  }

  State Step(State st) {
    switch (st) {
      case State::kText:
        return LexText();
      case State::kLeftDelim:
        return LexLeftDelim();
      case State::kComment:
        return LexComment();
      case State::kRightDelim:
        return LexRightDelim();
      case State::kInsideAction:
        return LexInsideAction();
      case State::kSpace:
        return LexSpace();
      case State::kIdentifier:
        return LexIdentifier();
      case State::kField:
        return LexFieldOrVariable(Item::kField);
      case State::kVariable:
        if (AtTerminator()) {
          Emit(Item::kVariable);
          return State::kInsideAction;
        }
        return LexFieldOrVariable(Item::kVariable);
      case State::kChar:
        return LexChar();
      case State::kNumber:
        return LexNumber();
      case State::kQuote:
        return LexQuote();
      case State::kRawQuote:
        return LexRawQuote();
      case State::kDone:
        break;
    }
    return State::kDone;
  }

  State LexText() {
    size_t x = input_.find(kLeftDelim, pos_);
    if (x != std::string_view::npos) {
      if (x > pos_) {
        pos_ = x;
        size_t trim = 0;
        if (HasLeftTrimMarker(Rest(pos_ + kLeftDelim.size()))) {
          trim = RightTrimLength(input_.substr(start_, pos_ - start_));
        }
        pos_ -= trim;
        for (size_t k = start_; k < pos_; ++k) {
          if (input_[k] == '\n') ++line_;
        }
        Token t{Item::kText, static_cast<int>(start_),
                std::string(input_.substr(start_, pos_ - start_)), start_line_};
        start_ = pos_;
        start_line_ = line_;
        pos_ += trim;
        Ignore();
        if (!t.val.empty()) items_.push_back(std::move(t));
      }
      return State::kLeftDelim;
    }
    pos_ = input_.size();
    if (pos_ > start_) {
      for (size_t k = start_; k < pos_; ++k) {
        if (input_[k] == '\n') ++line_;
      }
      Emit(Item::kText);
    }
    items_.push_back(Token{Item::kEOF, static_cast<int>(pos_), "", start_line_});
    return State::kDone;
  }

  State LexLeftDelim() {
    pos_ += kLeftDelim.size();
    bool trim = HasLeftTrimMarker(Rest(pos_));
    size_t after = trim ? kTrimMarkerLen : 0;
    if (Rest(pos_ + after).substr(0, 2) == kLeftComment) {
      pos_ += after;
      Ignore();
      return State::kComment;
    }
    Token t{Item::kLeftDelim, static_cast<int>(start_),
            std::string(input_.substr(start_, pos_ - start_)), start_line_};
    start_ = pos_;
    start_line_ = line_;
    pos_ += after;
    Ignore();
    paren_depth_ = 0;
    items_.push_back(std::move(t));
    return State::kInsideAction;
  }

  State LexComment() {
    pos_ += kLeftComment.size();
    size_t x = input_.find(kRightComment, pos_);
    if (x == std::string_view::npos) return Errorf("unclosed comment");
    pos_ = x + kRightComment.size();
    bool trim;
    if (!AtRightDelim(&trim)) return Errorf("comment ends before closing delimiter");
    Ignore();
    if (trim) pos_ += kTrimMarkerLen;
    pos_ += kRightDelim.size();
    if (trim) pos_ += LeftTrimLength(Rest(pos_));
    Ignore();
    return State::kText;
  }

  State LexRightDelim() {
    bool trim;
    AtRightDelim(&trim);
    if (trim) {
      pos_ += kTrimMarkerLen;
      Ignore();
    }
    pos_ += kRightDelim.size();
    Emit(Item::kRightDelim);
    if (trim) {
      pos_ += LeftTrimLength(Rest(pos_));
      Ignore();
    }
    return State::kText;
  }

  State LexInsideAction() {
    bool trim;
    if (AtRightDelim(&trim)) {
      if (paren_depth_ == 0) return State::kRightDelim;
      return Errorf("unclosed left paren");
    }
    int r = Next();
    if (r == kEof) return Errorf("unclosed action");
    if (IsSpaceRune(r)) {
      Backup();
      return State::kSpace;
    }
    switch (r) {
      case '=':
        Emit(Item::kAssign);
        return State::kInsideAction;
      case ':':
        if (Next() != '=') return Errorf("expected :=");
        Emit(Item::kDeclare);
        return State::kInsideAction;
      case '|':
        Emit(Item::kPipe);
        return State::kInsideAction;
      case '"':
        return State::kQuote;
      case '`':
        return State::kRawQuote;
      case '$':
        return State::kVariable;
      case '\'':
        return State::kChar;
      case '(':
        Emit(Item::kLeftParen);
        ++paren_depth_;
        return State::kInsideAction;
      case ')':
        --paren_depth_;
        if (paren_depth_ < 0) return Errorf("unexpected right paren");
        Emit(Item::kRightParen);
        return State::kInsideAction;
      default:
        break;
    }
    if (r == '.') {
      if (pos_ < input_.size()) {
        char c = input_[pos_];
        if (c < '0' || c > '9') return State::kField;
      }
      Backup();
      return State::kNumber;
    }
    if (r == '+' || r == '-' || (r >= '0' && r <= '9')) {
      Backup();
      return State::kNumber;
    }
    if (IsAlphaNumeric(r)) {
      Backup();
      return State::kIdentifier;
    }
    if (r < 0x80 && r >= 0x20 && r != 0x7F) {
      Emit(Item::kChar);
      return State::kInsideAction;
    }
    return Errorf("unrecognized character in action: " + FormatRune(r));
  }

  State LexSpace() {
    int spaces = 0;
    while (IsSpaceRune(Peek())) {
      Next();
      ++spaces;
    }
    if (HasRightTrimMarker(Rest(pos_ - 1)) &&
        Rest(pos_ - 1 + kTrimMarkerLen).substr(0, 2) == kRightDelim) {
      last_width_ = 1;
      Backup();
      if (spaces == 1) return State::kInsideAction;
    }
    Emit(Item::kSpace);
    return State::kInsideAction;
  }

  State LexIdentifier() {
    for (;;) {
      int r = Next();
      if (IsAlphaNumeric(r)) continue;
      Backup();
      std::string_view word = input_.substr(start_, pos_ - start_);
      if (!AtTerminator()) return Errorf("bad character " + FormatRune(r));
      static const std::pair<std::string_view, Item> kKeywords[] = {
          {".", Item::kDot},         {"block", Item::kBlock}, {"break", Item::kBreak},
          {"continue", Item::kContinue}, {"define", Item::kDefine}, {"else", Item::kElse},
          {"end", Item::kEnd},       {"if", Item::kIf},       {"range", Item::kRange},
          {"nil", Item::kNil},       {"template", Item::kTemplate}, {"with", Item::kWith},
      };
      for (const auto& [kw, item] : kKeywords) {
        if (word == kw) {
          Emit(item);
          return State::kInsideAction;
        }
      }
      if (word[0] == '.') {
        Emit(Item::kField);
      } else if (word == "true" || word == "false") {
        Emit(Item::kBool);
      } else {
        Emit(Item::kIdentifier);
      }
      return State::kInsideAction;
    }
  }

  State LexFieldOrVariable(Item typ) {
    if (AtTerminator()) {
      Emit(typ == Item::kVariable ? Item::kVariable : Item::kDot);
      return State::kInsideAction;
    }
    int r;
    for (;;) {
      r = Next();
      if (!IsAlphaNumeric(r)) {
        Backup();
        break;
      }
    }
    if (!AtTerminator()) return Errorf("bad character " + FormatRune(r));
    Emit(typ);
    return State::kInsideAction;
  }

  State LexChar() {
    for (;;) {
      int r = Next();
      if (r == '\\') {
        r = Next();
        if (r != kEof && r != '\n') continue;
      }
      if (r == kEof || r == '\n') return Errorf("unterminated character constant");
      if (r == '\'') break;
    }
    Emit(Item::kCharConstant);
    return State::kInsideAction;
  }

  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (digits.size() == 10 + 1 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 16 + 6 + 1 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    if (IsAlphaNumeric(Peek())) {
      Next();
      return false;
    }
    return true;
  }

  State LexNumber() {
    if (!ScanNumber()) return BadNumber();
    int sign = Peek();
    if (sign == '+' || sign == '-') {
      if (!ScanNumber() || input_[pos_ - 1] != 'i') return BadNumber();
      Emit(Item::kComplex);
    } else {
      Emit(Item::kNumber);
    }
    return State::kInsideAction;
  }
  State BadNumber() {
    std::string q;
    AppendQuoted(input_.substr(start_, pos_ - start_), false, &q);
    return Errorf("bad number syntax: " + q);
  }

  State LexQuote() {
    for (;;) {
      int r = Next();
      if (r == '\\') {
        r = Next();
        if (r != kEof && r != '\n') continue;
      }
      if (r == kEof || r == '\n') return Errorf("unterminated quoted string");
      if (r == '"') break;
    }
    Emit(Item::kString);
    return State::kInsideAction;
  }

  State LexRawQuote() {
    for (;;) {
      int r = Next();
      if (r == kEof) return Errorf("unterminated raw quoted string");
      if (r == '`') break;
    }
    Emit(Item::kRawString);
    return State::kInsideAction;
  }

  std::string_view input_;
  size_t pos_ = 0, start_ = 0;
  int line_ = 1, start_line_ = 1;
  int last_width_ = 1;
  bool at_eof_ = false;
  int paren_depth_ = 0;
  std::vector<Token> items_;
};

// ---- strconv.Unquote / UnquoteChar ---------------------------------------------------

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

// Decodes one (possibly escaped) character of a quoted literal. Returns false on bad syntax.
bool UnquoteChar(std::string_view* s, char quote, std::string* out) {
  char c = (*s)[0];
  if (c == quote && (quote == '\'' || quote == '"')) return false;
  if (static_cast<unsigned char>(c) >= 0x80) {
    uint32_t r;
    int w = DecodeRune(*s, 0, &r);
    out->append(s->substr(0, static_cast<size_t>(w)));
    s->remove_prefix(static_cast<size_t>(w));
    return true;
  }
  if (c != '\\') {
    out->push_back(c);
    s->remove_prefix(1);
    return true;
  }
  if (s->size() <= 1) return false;
  char e = (*s)[1];
  s->remove_prefix(2);
  switch (e) {
    case 'a': out->push_back('\a'); return true;
    case 'b': out->push_back('\b'); return true;
    case 'f': out->push_back('\f'); return true;
    case 'n': out->push_back('\n'); return true;
    case 'r': out->push_back('\r'); return true;
    case 't': out->push_back('\t'); return true;
    case 'v': out->push_back('\v'); return true;
    case '\\': out->push_back('\\'); return true;
    case '\'':
    case '"':
      if (e != quote) return false;
      out->push_back(e);
      return true;
    case 'x':
    case 'u':
    case 'U': {
      size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      if (s->size() < n) return false;
      uint32_t v = 0;
      for (size_t k = 0; k < n; ++k) {
        int h = HexVal((*s)[k]);
        if (h < 0) return false;
        v = v << 4 | static_cast<uint32_t>(h);
      }
      s->remove_prefix(n);
      if (e == 'x') {
        out->push_back(static_cast<char>(v));
        return true;
      }
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
      AppendRune(v, out);
      return true;
    }
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
      int v = e - '0';
      if (s->size() < 2) return false;
      for (int k = 0; k < 2; ++k) {
        char d = (*s)[static_cast<size_t>(k)];
        if (d < '0' || d > '7') return false;
        v = v * 8 + (d - '0');
      }
      if (v > 255) return false;
      s->remove_prefix(2);
      out->push_back(static_cast<char>(v));
      return true;
    }
    default:
      return false;
  }
}

bool Unquote(std::string_view s, std::string* out) {
  if (s.size() < 2) return false;
  char q = s[0];
  if (q != s.back()) return false;
  s = s.substr(1, s.size() - 2);
  if (q == '`') {
    if (s.find('`') != std::string_view::npos) return false;
    for (char c : s) {
      if (c != '\r') out->push_back(c);
    }
    return true;
  }
  if (q != '"' && q != '\'') return false;
  if (s.find('\n') != std::string_view::npos) return false;
  while (!s.empty()) {
    if (!UnquoteChar(&s, q, out)) return false;
    if (q == '\'' && !s.empty()) return false;
  }
  return true;
}

// ---- parser --------------------------------------------------------------------------

struct ParseError {
  std::string msg;
};

using NodePtr = std::unique_ptr<Node>;

class Parser {
 public:
  Parser(std::string_view name, std::vector<Token> tokens, TemplateSet* set)
      : name_(name), tokens_(std::move(tokens)), set_(set) {}

  void Parse() {
    ParsedTree& tree = set_->main;
    StartTree();
    tree.root = NewNode(NodeType::kList, Peek().pos);
    while (Peek().typ != Item::kEOF) {
      if (Peek().typ == Item::kLeftDelim) {
        Token delim = NextTok();
        if (NextNonSpace().typ == Item::kDefine) {
          ParseDefinition();
          continue;
        }
        Backup2(delim);
      }
      NodePtr n = TextOrAction();
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        Errorf("unexpected " + n->String());
      }
      tree.root->nodes.push_back(std::move(n));
    }
    tree.num_slots = max_slots_;
  }

 private:
  // Lookahead (Go's token[3] / peekCount).
  Token NextTok() {
    if (peek_count_ > 0) {
      --peek_count_;
    } else {
      token_[0] = Lex();
    }
    return token_[peek_count_];
  }
  void Backup() { ++peek_count_; }
  void Backup2(Token t1) {
    token_[1] = std::move(t1);
    peek_count_ = 2;
  }
  void Backup3(Token t2, Token t1) {
    token_[1] = std::move(t1);
    token_[2] = std::move(t2);
    peek_count_ = 3;
  }
  const Token& Peek() {
    if (peek_count_ > 0) return token_[peek_count_ - 1];
    peek_count_ = 1;
    token_[0] = Lex();
    return token_[0];
  }
  Token NextNonSpace() {
    Token t;
    do {
      t = NextTok();
    } while (t.typ == Item::kSpace);
    return t;
  }
  Token PeekNonSpace() {
    Token t = NextNonSpace();
    Backup();
    return t;
  }
  Token Lex() {
    if (next_ < tokens_.size()) return tokens_[next_++];
    Token eof = tokens_.empty() ? Token{} : tokens_.back();
    eof.typ = Item::kEOF;
    eof.val.clear();
    return eof;
  }

  [[noreturn]] void Errorf(const std::string& msg) {
    throw ParseError{"template: " + name_ + ":" + std::to_string(token_[0].line) + ": " + msg};
  }

  static std::string TokenString(const Token& t) {
    if (t.typ == Item::kEOF) return "EOF";
    if (t.typ == Item::kError) return t.val;
    if (t.typ > Item::kKeyword) return "<" + t.val + ">";
    std::string s;
    if (RuneLen(t.val) > 10) {
      std::string_view v = t.val;
      size_t i = 0;
      for (int n = 0; n < 10 && i < v.size(); ++n) {
        uint32_t r;
        i += static_cast<size_t>(DecodeRune(v, i, &r));
      }
      AppendQuoted(v.substr(0, i), false, &s);
      s += "...";
      return s;
    }
    AppendQuoted(t.val, false, &s);
    return s;
  }
  static size_t RuneLen(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++n) {
      uint32_t r;
      i += static_cast<size_t>(DecodeRune(s, i, &r));
    }
    return n;
  }

  [[noreturn]] void Unexpected(const Token& t, std::string_view context) {
    if (t.typ == Item::kError) {
      std::string extra;
      if (action_line_ != 0 && action_line_ != t.line) {
        extra = " in action started at " + name_ + ":" + std::to_string(action_line_);
        if (t.val.size() >= 7 && t.val.compare(t.val.size() - 7, 7, " action") == 0) {
          extra = extra.substr(std::strlen(" in action"));
        }
      }
      Errorf(t.val + extra);
    }
    Errorf("unexpected " + TokenString(t) + " in " + std::string(context));
  }

  Token Expect(Item expected, std::string_view context) {
    Token t = NextNonSpace();
    if (t.typ != expected) Unexpected(t, context);
    return t;
  }

  NodePtr NewNode(NodeType t, int pos) { return std::make_unique<Node>(t, pos); }

  void StartTree() {
    vars_.assign(1, {"$", 0});
    next_slot_ = 1;
    max_slots_ = 1;
  }

  void EnterNesting() {
    if (++depth_ > kMaxParseDepth) Errorf("max expression depth exceeded");
  }

  void ParseDefinition() {
    Token name = NextNonSpace();
    if (name.typ != Item::kString && name.typ != Item::kRawString) {
      Unexpected(name, "define clause");
    }
    std::string tname;
    if (!Unquote(name.val, &tname)) Errorf("invalid syntax");
    Expect(Item::kRightDelim, "define clause");
    auto saved_vars = std::move(vars_);
    int saved_next = next_slot_, saved_max = max_slots_;
    StartTree();
    ParsedTree tree;
    auto [list, end] = ItemList();
    if (end->type != NodeType::kEnd) Errorf("unexpected " + end->String() + " in define clause");
    tree.root = std::move(list);
    tree.num_slots = max_slots_;
    set_->defined[tname] = std::move(tree);
    vars_ = std::move(saved_vars);
    next_slot_ = saved_next;
    max_slots_ = saved_max;
  }

  std::pair<NodePtr, NodePtr> ItemList() {
    NodePtr list = NewNode(NodeType::kList, PeekNonSpace().pos);
    while (PeekNonSpace().typ != Item::kEOF) {
      NodePtr n = TextOrAction();
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        return {std::move(list), std::move(n)};
      }
      list->nodes.push_back(std::move(n));
    }
    Errorf("unexpected EOF");
  }

  NodePtr TextOrAction() {
    Token t = NextNonSpace();
    switch (t.typ) {
      case Item::kText: {
        NodePtr n = NewNode(NodeType::kText, t.pos);
        n->text = t.val;
        return n;
      }
      case Item::kLeftDelim: {
        int saved = action_line_;
        action_line_ = t.line;
        NodePtr n = Action();
        action_line_ = saved;
        return n;
      }
      default:
        Unexpected(t, "input");
    }
  }

  NodePtr Action() {
    Token t = NextNonSpace();
    switch (t.typ) {
      case Item::kBlock:
        return BlockControl();
      case Item::kBreak:
      case Item::kContinue: {
        bool is_break = t.typ == Item::kBreak;
        Token n = NextNonSpace();
        if (n.typ != Item::kRightDelim) Unexpected(n, is_break ? "{{break}}" : "{{continue}}");
        if (range_depth_ == 0) {
          Errorf(is_break ? "{{break}} outside {{range}}" : "{{continue}} outside {{range}}");
        }
        return NewNode(is_break ? NodeType::kBreak : NodeType::kContinue, t.pos);
      }
      case Item::kElse:
        return ElseControl();
      case Item::kEnd:
        return NewNode(NodeType::kEnd, Expect(Item::kRightDelim, "end").pos);
      case Item::kIf:
        return Control(NodeType::kIf, "if");
      case Item::kRange:
        return Control(NodeType::kRange, "range");
      case Item::kTemplate:
        return TemplateControl();
      case Item::kWith:
        return Control(NodeType::kWith, "with");
      default:
        break;
    }
    Backup();
    int pos = Peek().pos;
    NodePtr n = NewNode(NodeType::kAction, pos);
    n->pipe = Pipeline("command", Item::kRightDelim);
    return n;
  }

  NodePtr ElseControl() {
    Token peek = PeekNonSpace();
    if (peek.typ == Item::kIf || peek.typ == Item::kWith) {
      NodePtr n = NewNode(NodeType::kElse, peek.pos);
      n->text = peek.typ == Item::kIf ? "if" : "with";
      return n;
    }
    Token t = Expect(Item::kRightDelim, "else");
    return NewNode(NodeType::kElse, t.pos);
  }

  NodePtr Control(NodeType type, std::string_view context) {
    EnterNesting();
    const size_t saved_vars = vars_.size();
    const int saved_next = next_slot_;
    NodePtr n = NewNode(type, 0);
    n->pipe = Pipeline(context, Item::kRightDelim);
    n->pos = n->pipe->pos;
    if (type == NodeType::kRange) ++range_depth_;
    auto [list, next] = ItemList();
    if (type == NodeType::kRange) --range_depth_;
    n->list = std::move(list);
    if (next->type == NodeType::kElse) {
      if (type == NodeType::kIf && Peek().typ == Item::kIf) {
        NextTok();
        n->else_list = NewNode(NodeType::kList, next->pos);
        n->else_list->nodes.push_back(Control(NodeType::kIf, "if"));
      } else if (type == NodeType::kWith && Peek().typ == Item::kWith) {
        NextTok();
        n->else_list = NewNode(NodeType::kList, next->pos);
        n->else_list->nodes.push_back(Control(NodeType::kWith, "with"));
      } else {
        auto [else_list, end] = ItemList();
        if (end->type != NodeType::kEnd) Errorf("expected end; found " + end->String());
        n->else_list = std::move(else_list);
      }
    }
    vars_.resize(saved_vars);
    next_slot_ = saved_next;
    --depth_;
    return n;
  }

  std::string TemplateName(const Token& t, std::string_view context) {
    if (t.typ != Item::kString && t.typ != Item::kRawString) Unexpected(t, context);
    std::string s;
    if (!Unquote(t.val, &s)) Errorf("invalid syntax");
    return s;
  }

  NodePtr TemplateControl() {
    Token t = NextNonSpace();
    NodePtr n = NewNode(NodeType::kTemplate, t.pos);
    n->text = TemplateName(t, "template clause");
    if (NextNonSpace().typ != Item::kRightDelim) {
      Backup();
      n->pipe = Pipeline("template clause", Item::kRightDelim);
    }
    return n;
  }

  NodePtr BlockControl() {
    Token t = NextNonSpace();
    NodePtr n = NewNode(NodeType::kTemplate, t.pos);
    n->text = TemplateName(t, "block clause");
    n->pipe = Pipeline("block clause", Item::kRightDelim);
    auto saved_vars = std::move(vars_);
    int saved_next = next_slot_, saved_max = max_slots_;
    StartTree();
    EnterNesting();
    auto [list, end] = ItemList();
    --depth_;
    if (end->type != NodeType::kEnd) Errorf("unexpected " + end->String() + " in block clause");
    ParsedTree tree;
    tree.root = std::move(list);
    tree.num_slots = max_slots_;
    set_->defined[n->text] = std::move(tree);
    vars_ = std::move(saved_vars);
    next_slot_ = saved_next;
    max_slots_ = saved_max;
    return n;
  }

  void Declare(NodePtr& pipe, const Token& v, bool assign) {
    NodePtr var = NewNode(NodeType::kVariable, v.pos);
    var->idents.push_back(v.val);
    if (assign) {
      var->slot = LookupVar(v.val);
      vars_.emplace_back(v.val, var->slot);
    } else {
      var->slot = next_slot_++;
      if (next_slot_ > max_slots_) max_slots_ = next_slot_;
      vars_.emplace_back(v.val, var->slot);
    }
    pipe->decl.push_back(std::move(var));
  }

  int LookupVar(std::string_view name) const {
    for (size_t k = vars_.size(); k-- > 0;) {
      if (vars_[k].first == name) return vars_[k].second;
    }
    return -1;
  }

  NodePtr Pipeline(std::string_view context, Item end) {
    Token first = PeekNonSpace();
    NodePtr pipe = NewNode(NodeType::kPipe, first.pos);
  decls:
    if (Token v = PeekNonSpace(); v.typ == Item::kVariable) {
      NextTok();
      Token after = Peek();
      Token next = PeekNonSpace();
      if (next.typ == Item::kAssign || next.typ == Item::kDeclare) {
        pipe->is_assign = next.typ == Item::kAssign;
        NextNonSpace();
        Declare(pipe, v, pipe->is_assign);
      } else if (next.typ == Item::kChar && next.val == ",") {
        NextNonSpace();
        Declare(pipe, v, false);
        if (context == "range" && pipe->decl.size() < 2) {
          Item t = PeekNonSpace().typ;
          if (t == Item::kVariable || t == Item::kRightDelim || t == Item::kRightParen) {
            goto decls;
          }
          Errorf("range can only initialize variables");
        }
        Errorf("too many declarations in " + std::string(context));
      } else if (after.typ == Item::kSpace) {
        Backup3(v, after);
      } else {
        Backup2(v);
      }
    }
    for (;;) {
      Token t = NextNonSpace();
      if (t.typ == end) {
        CheckPipeline(*pipe, context);
        return pipe;
      }
      switch (t.typ) {
        case Item::kBool:
        case Item::kCharConstant:
        case Item::kComplex:
        case Item::kDot:
        case Item::kField:
        case Item::kIdentifier:
        case Item::kNumber:
        case Item::kNil:
        case Item::kRawString:
        case Item::kString:
        case Item::kVariable:
        case Item::kLeftParen:
          Backup();
          pipe->nodes.push_back(Command());
          break;
        default:
          Unexpected(t, context);
      }
    }
  }

  void CheckPipeline(const Node& pipe, std::string_view context) {
    if (pipe.nodes.empty()) Errorf("missing value for " + std::string(context));
    for (size_t i = 1; i < pipe.nodes.size(); ++i) {
      switch (pipe.nodes[i]->nodes[0]->type) {
        case NodeType::kBool:
        case NodeType::kDot:
        case NodeType::kNil:
        case NodeType::kNumber:
        case NodeType::kString:
          Errorf("non executable command in pipeline stage " + std::to_string(i + 1));
        default:
          break;
      }
    }
  }

  NodePtr Command() {
    NodePtr cmd = NewNode(NodeType::kCommand, PeekNonSpace().pos);
    for (;;) {
      PeekNonSpace();
      NodePtr operand = Operand();
      if (operand) cmd->nodes.push_back(std::move(operand));
      Token t = NextTok();
      if (t.typ == Item::kSpace) continue;
      if (t.typ == Item::kRightDelim || t.typ == Item::kRightParen) {
        Backup();
      } else if (t.typ != Item::kPipe) {
        Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->nodes.empty()) Errorf("empty command");
    const Node& first = *cmd->nodes[0];
    if (first.type == NodeType::kIdentifier && first.func->regex_first && cmd->nodes.size() >= 2 &&
        cmd->nodes[1]->type == NodeType::kString) {
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_shared<const RE2>(cmd->nodes[1]->text, opts);
      if (re->ok()) cmd->regex = std::move(re);
    }
    return cmd;
  }

  NodePtr Operand() {
    NodePtr node = Term();
    if (!node) return nullptr;
    if (Peek().typ == Item::kField) {
      int pos = Peek().pos;
      std::vector<std::string> fields;
      while (Peek().typ == Item::kField) {
        Token f = NextTok();
        SplitFields(f.val, &fields);
      }
      switch (node->type) {
        case NodeType::kField:
        case NodeType::kVariable:
          for (auto& f : fields) node->idents.push_back(std::move(f));
          node->pos = pos;
          return node;
        case NodeType::kBool:
        case NodeType::kString:
        case NodeType::kNumber:
        case NodeType::kNil:
        case NodeType::kDot: {
          std::string q;
          AppendQuoted(node->String(), false, &q);
          Errorf("unexpected . after term " + q);
        }
        default: {
          NodePtr chain = NewNode(NodeType::kChain, pos);
          chain->pipe = std::move(node);
          chain->idents = std::move(fields);
          return chain;
        }
      }
    }
    return node;
  }

  static void SplitFields(std::string_view text, std::vector<std::string>* out) {
    // ".a.b" -> "a", "b"
    size_t i = 1;
    while (i <= text.size()) {
      size_t j = text.find('.', i);
      if (j == std::string_view::npos) j = text.size();
      out->emplace_back(text.substr(i, j - i));
      i = j + 1;
    }
  }

  NodePtr Term() {
    Token t = NextNonSpace();
    switch (t.typ) {
      case Item::kIdentifier: {
        const FuncDef* f = FindFunc(t.val);
        if (f == nullptr) {
          std::string q;
          AppendQuoted(t.val, false, &q);
          Errorf("function " + q + " not defined");
        }
        NodePtr n = NewNode(NodeType::kIdentifier, t.pos);
        n->text = t.val;
        n->func = f;
        return n;
      }
      case Item::kDot:
        return NewNode(NodeType::kDot, t.pos);
      case Item::kNil:
        return NewNode(NodeType::kNil, t.pos);
      case Item::kVariable: {
        NodePtr n = NewNode(NodeType::kVariable, t.pos);
        SplitVariable(t.val, &n->idents);
        n->slot = -2;
        for (size_t k = vars_.size(); k-- > 0;) {
          if (vars_[k].first == n->idents[0]) {
            n->slot = vars_[k].second;
            break;
          }
        }
        if (n->slot == -2) {
          std::string q;
          AppendQuoted(n->idents[0], false, &q);
          Errorf("undefined variable " + q);
        }
        return n;
      }
      case Item::kField: {
        NodePtr n = NewNode(NodeType::kField, t.pos);
        SplitFields(t.val, &n->idents);
        return n;
      }
      case Item::kBool: {
        NodePtr n = NewNode(NodeType::kBool, t.pos);
        n->bval = t.val == "true";
        n->constant = Value::Bool(n->bval);
        return n;
      }
      case Item::kCharConstant:
      case Item::kComplex:
      case Item::kNumber:
        return NewNumber(t);
      case Item::kLeftParen: {
        EnterNesting();
        NodePtr p = Pipeline("parenthesized pipeline", Item::kRightParen);
        --depth_;
        return p;
      }
      case Item::kString:
      case Item::kRawString: {
        NodePtr n = NewNode(NodeType::kString, t.pos);
        if (!Unquote(t.val, &n->text)) Errorf("invalid syntax");
        n->quoted = t.val;
        n->constant = Value::StringView(n->text);
        return n;
      }
      default:
        Backup();
        return nullptr;
    }
  }

  static void SplitVariable(std::string_view text, std::vector<std::string>* out) {
    size_t j = text.find('.');
    out->emplace_back(text.substr(0, j));
    if (j != std::string_view::npos) SplitFields(text.substr(j), out);
  }

  NodePtr NewNumber(const Token& t) {
    NodePtr n = NewNode(NodeType::kNumber, t.pos);
    n->text = t.val;
    std::string_view text = t.val;
    if (t.typ == Item::kCharConstant) {
      std::string decoded;
      std::string_view body = text.substr(1);
      if (body.empty()) Errorf("malformed character constant: " + t.val);
      uint32_t r;
      if (body[0] == '\\') {
        std::string_view rest = body;
        if (!UnquoteChar(&rest, '\'', &decoded)) Errorf("invalid syntax");
        if (rest != "'") Errorf("malformed character constant: " + t.val);
        if (body[1] == 'x' || (body[1] >= '0' && body[1] <= '7')) {
          r = static_cast<unsigned char>(decoded[0]);
        } else {
          DecodeRune(decoded, 0, &r);
        }
      } else {
        int w = DecodeRune(body, 0, &r);
        if (body.substr(static_cast<size_t>(w)) != "'") {
          Errorf("malformed character constant: " + t.val);
        }
      }
      n->is_int = n->is_float = true;
      n->ival = r;
      n->fval = r;
      n->constant = Value::Int(r);
      return n;
    }
    if (t.typ == Item::kComplex || (!text.empty() && text.back() == 'i')) {
      Errorf("complex numbers are not supported: " + t.val);
    }
    uint64_t u;
    bool is_uint = GoParseUint(text, &u);
    int64_t i;
    if (GoParseInt(text, &i)) {
      n->is_int = true;
      n->ival = i;
    }
    if (n->is_int) {
      n->is_float = true;
      n->fval = static_cast<double>(n->ival);
    } else if (is_uint) {
      n->is_float = true;
      n->fval = static_cast<double>(u);
    } else {
      double f;
      if (GoParseFloat(text, &f)) {
        if (text.find_first_of(".eEpP") == std::string_view::npos) {
          std::string q;
          AppendQuoted(text, false, &q);
          Errorf("integer overflow: " + q);
        }
        n->is_float = true;
        n->fval = f;
        if (f >= -9.2233720368547758e18 && f < 9.2233720368547758e18 &&
            static_cast<double>(static_cast<int64_t>(f)) == f) {
          n->is_int = true;
          n->ival = static_cast<int64_t>(f);
        }
      }
    }
    if (!n->is_int && !n->is_float) {
      if (is_uint) {
        // Go accepts it as an unsigned constant but it overflows int everywhere we use it.
        Errorf(t.val + " overflows int");
      }
      std::string q;
      AppendQuoted(text, false, &q);
      Errorf("illegal number syntax: " + q);
    }
    // The interface{} value (Go's idealConstant).
    bool hex_int = text.size() > 2 && text[0] == '0' && (text[1] | 0x20) == 'x' &&
                   text.find_first_of("pP") == std::string_view::npos;
    if (n->is_float && !hex_int && text.find_first_of(".eEpP") != std::string_view::npos) {
      n->constant = Value::Float(n->fval);
    } else if (n->is_int) {
      n->constant = Value::Int(n->ival);
    } else {
      n->constant = Value::Float(n->fval);
    }
    return n;
  }

  std::string name_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  Token token_[3];
  int peek_count_ = 0;
  TemplateSet* set_;
  std::vector<std::pair<std::string, int>> vars_;
  int next_slot_ = 1;
  int max_slots_ = 1;
  int action_line_ = 0;
  int range_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

void Node::AppendString(std::string* out) const {
  auto join_idents = [&](bool leading_dot) {
    for (size_t i = 0; i < idents.size(); ++i) {
      if (leading_dot || i > 0) out->push_back('.');
      out->append(idents[i]);
    }
  };
  switch (type) {
    case NodeType::kList:
      for (const auto& n : nodes) n->AppendString(out);
      return;
    case NodeType::kText:
      out->append(text);
      return;
    case NodeType::kAction:
      out->append("{{");
      pipe->AppendString(out);
      out->append("}}");
      return;
    case NodeType::kIf:
    case NodeType::kRange:
    case NodeType::kWith:
      out->append(type == NodeType::kIf ? "{{if " : type == NodeType::kRange ? "{{range " : "{{with ");
      pipe->AppendString(out);
      out->append("}}");
      list->AppendString(out);
      if (else_list) {
        out->append("{{else}}");
        else_list->AppendString(out);
      }
      out->append("{{end}}");
      return;
    case NodeType::kBreak:
      out->append("{{break}}");
      return;
    case NodeType::kContinue:
      out->append("{{continue}}");
      return;
    case NodeType::kTemplate:
      out->append("{{template ");
      AppendQuoted(text, false, out);
      if (pipe) {
        out->push_back(' ');
        pipe->AppendString(out);
      }
      out->append("}}");
      return;
    case NodeType::kPipe:
      if (!decl.empty()) {
        for (size_t i = 0; i < decl.size(); ++i) {
          if (i > 0) out->append(", ");
          decl[i]->AppendString(out);
        }
        out->append(is_assign ? " = " : " := ");
      }
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (i > 0) out->append(" | ");
        nodes[i]->AppendString(out);
      }
      return;
    case NodeType::kCommand:
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (i > 0) out->push_back(' ');
        if (nodes[i]->type == NodeType::kPipe) {
          out->push_back('(');
          nodes[i]->AppendString(out);
          out->push_back(')');
        } else {
          nodes[i]->AppendString(out);
        }
      }
      return;
    case NodeType::kField:
      join_idents(true);
      return;
    case NodeType::kVariable:
      join_idents(false);
      return;
    case NodeType::kIdentifier:
    case NodeType::kNumber:
      out->append(text);
      return;
    case NodeType::kDot:
      out->push_back('.');
      return;
    case NodeType::kNil:
      out->append("nil");
      return;
    case NodeType::kBool:
      out->append(bval ? "true" : "false");
      return;
    case NodeType::kString:
      out->append(quoted);
      return;
    case NodeType::kChain:
      if (pipe->type == NodeType::kPipe) {
        out->push_back('(');
        pipe->AppendString(out);
        out->push_back(')');
      } else {
        pipe->AppendString(out);
      }
      join_idents(true);
      return;
    case NodeType::kElse:
      out->append("{{else}}");
      return;
    case NodeType::kEnd:
      out->append("{{end}}");
      return;
  }
}

bool ParseTemplate(std::string_view name, std::string_view text, TemplateSet* out,
                   std::string* err) {
  out->name = std::string(name);
  out->source = std::string(text);
  Lexer lexer(out->source);
  Parser parser(name, lexer.Run(), out);
  try {
    parser.Parse();
  } catch (const ParseError& e) {
    *err = e.msg;
    return false;
  } catch (const std::bad_alloc&) {
    *err = "template: " + std::string(name) + ": out of memory";
    return false;
  }
  return true;
}

}  // namespace logq::pipeline::tmpl
