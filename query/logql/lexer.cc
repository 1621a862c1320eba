#include "query/logql/lexer.h"

#include <cmath>
#include <fmt/format.h>

#include "query/base/units.h"
#include "query/model/labels.h"

namespace logq::logql {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Status ParseErrorAt(std::string_view query, size_t pos, const std::string& msg) {
  int line = 1, col = 1;
  for (size_t i = 0; i < pos && i < query.size(); ++i) {
    if (query[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return InvalidArgument(fmt::format("parse error at line {}, col {}: {}", line, col, msg));
}

std::string TokenName(const Token& t) {
  switch (t.type) {
    case Tok::kEof: return "end of input";
    case Tok::kIdent: return "IDENTIFIER";
    case Tok::kString: return "STRING";
    case Tok::kNumber: return "NUMBER";
    case Tok::kDuration: return "DURATION";
    case Tok::kBytes: return "BYTES";
    case Tok::kParserFlag: return "PARSER_FLAG";
    case Tok::kLBrace: return "{";
    case Tok::kRBrace: return "}";
    case Tok::kLParen: return "(";
    case Tok::kRParen: return ")";
    case Tok::kLBracket: return "[";
    case Tok::kRBracket: return "]";
    case Tok::kComma: return ",";
    case Tok::kDot: return ".";
    case Tok::kEq: return "=";
    case Tok::kCmpEq: return "==";
    case Tok::kNeq: return "!=";
    case Tok::kRe: return "=~";
    case Tok::kNre: return "!~";
    case Tok::kNpa: return "!>";
    case Tok::kPipeExact: return "|=";
    case Tok::kPipeMatch: return "|~";
    case Tok::kPipePattern: return "|>";
    case Tok::kPipe: return "|";
    case Tok::kGt: return ">";
    case Tok::kGte: return ">=";
    case Tok::kLt: return "<";
    case Tok::kLte: return "<=";
    case Tok::kAdd: return "+";
    case Tok::kSub: return "-";
    case Tok::kMul: return "*";
    case Tok::kDiv: return "/";
    case Tok::kMod: return "%";
    case Tok::kPow: return "^";
  }
  return "?";
}

Result<std::vector<Token>> Lex(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  auto push = [&](Tok t, size_t pos, size_t len) {
    Token tok;
    tok.type = t;
    tok.pos = pos;
    tok.text = std::string(q.substr(pos, len));
    out.push_back(std::move(tok));
    i = pos + len;
  };
  while (i < q.size()) {
    char c = q[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {  // comment to end of line
      while (i < q.size() && q[i] != '\n') ++i;
      continue;
    }
    const size_t start = i;
    if (c == '"') {
      size_t j = i + 1;
      while (j < q.size() && q[j] != '"') {
        if (q[j] == '\\') ++j;
        ++j;
      }
      if (j >= q.size()) return ParseErrorAt(q, start, "literal not terminated");
      auto s = UnquoteGoString(q.substr(i + 1, j - i - 1));
      if (!s.ok()) return ParseErrorAt(q, start, s.status().message());
      Token t;
      t.type = Tok::kString;
      t.pos = start;
      t.text = std::move(s).value();
      out.push_back(std::move(t));
      i = j + 1;
      continue;
    }
    if (c == '`') {
      size_t j = q.find('`', i + 1);
      if (j == std::string_view::npos) return ParseErrorAt(q, start, "literal not terminated");
      Token t;
      t.type = Tok::kString;
      t.pos = start;
      t.text = std::string(q.substr(i + 1, j - i - 1));
      out.push_back(std::move(t));
      i = j + 1;
      continue;
    }
    if (IsDigit(c) || (c == '.' && i + 1 < q.size() && IsDigit(q[i + 1]))) {
      size_t j = i;
      while (j < q.size() && (IsIdentChar(q[j]) || q[j] == '.' ||
                              (static_cast<unsigned char>(q[j]) >= 0x80))) {
        // exponent sign: 1e-3
        ++j;
        if (j < q.size() && (q[j] == '-' || q[j] == '+') && (q[j - 1] == 'e' || q[j - 1] == 'E') &&
            j + 1 < q.size() && IsDigit(q[j + 1]) && j - 1 > i && IsDigit(q[j - 2])) {
          ++j;
        }
      }
      std::string text(q.substr(i, j - i));
      Token t;
      t.pos = start;
      t.text = text;
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (end == text.c_str() + text.size() && text.find_first_of("xX") == std::string::npos) {
        // Like Go's strconv.ParseFloat (Loki's literal parsing), a finite literal too large for
        // a double is an error, not +Inf (which the printer could not write back as LogQL).
        if (std::isinf(v)) {
          return ParseErrorAt(q, start,
                              fmt::format("unable to parse literal as a float: strconv.ParseFloat: "
                                          "parsing \"{}\": value out of range",
                                          text));
        }
        t.type = Tok::kNumber;
        t.number = v;
      } else if (auto d = ParseDuration(text); d.ok()) {
        t.type = Tok::kDuration;
        t.duration = *d;
      } else if (auto b = ParseBytes(text); b.ok()) {
        t.type = Tok::kBytes;
        t.bytes = *b;
      } else {
        return ParseErrorAt(q, start, "syntax error: unexpected \"" + text + "\": not a number, duration or byte size");
      }
      out.push_back(std::move(t));
      i = j;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < q.size() && IsIdentChar(q[j])) ++j;
      push(Tok::kIdent, i, j - i);
      continue;
    }
    if (c == '-' && i + 1 < q.size() && q[i + 1] == '-') {  // --strict, --keep-empty
      size_t j = i + 2;
      while (j < q.size() && (IsIdentChar(q[j]) || q[j] == '-')) ++j;
      push(Tok::kParserFlag, i, j - i);
      continue;
    }
    auto two = q.substr(i, 2);
    struct Op {
      std::string_view s;
      Tok t;
    };
    static const Op kTwo[] = {{"|=", Tok::kPipeExact}, {"|~", Tok::kPipeMatch}, {"|>", Tok::kPipePattern},
                              {"!=", Tok::kNeq},       {"!~", Tok::kNre},       {"!>", Tok::kNpa},
                              {"=~", Tok::kRe},        {"==", Tok::kCmpEq},     {">=", Tok::kGte},
                              {"<=", Tok::kLte}};
    bool matched = false;
    for (const Op& op : kTwo) {
      if (two == op.s) {
        push(op.t, i, 2);
        matched = true;
        break;
      }
    }
    if (matched) continue;
    Tok t;
    switch (c) {
      case '{': t = Tok::kLBrace; break;
      case '}': t = Tok::kRBrace; break;
      case '(': t = Tok::kLParen; break;
      case ')': t = Tok::kRParen; break;
      case '[': t = Tok::kLBracket; break;
      case ']': t = Tok::kRBracket; break;
      case ',': t = Tok::kComma; break;
      case '.': t = Tok::kDot; break;
      case '=': t = Tok::kEq; break;
      case '|': t = Tok::kPipe; break;
      case '>': t = Tok::kGt; break;
      case '<': t = Tok::kLt; break;
      case '+': t = Tok::kAdd; break;
      case '-': t = Tok::kSub; break;
      case '*': t = Tok::kMul; break;
      case '/': t = Tok::kDiv; break;
      case '%': t = Tok::kMod; break;
      case '^': t = Tok::kPow; break;
      default: {
        std::string shown = (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
                                ? std::string(1, c)
                                : fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        return ParseErrorAt(q, start, "syntax error: unexpected character '" + shown + "'");
      }
    }
    push(t, i, 1);
  }
  Token eof;
  eof.type = Tok::kEof;
  eof.pos = q.size();
  out.push_back(eof);
  return out;
}

}  // namespace logq::logql
