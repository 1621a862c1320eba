#include "query/logql/lexer.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

#include "query/base/units.h"
#include "query/model/labels.h"

namespace logq::logql {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// Bytes that may continue a duration after its number (Loki's isDurationRune: n u µ m s h
// d w y; µ is two bytes in UTF-8, both accepted here and checked by ParseDuration).
bool IsDurationByte(char c) {
  switch (c) {
    case 'n': case 'u': case 'm': case 's': case 'h': case 'd': case 'w': case 'y':
    case '\xc2': case '\xb5': case '\xce': case '\xbc':
      return true;
    default:
      return false;
  }
}

// Loki's isBytesSizeRune: units are case-sensitive at the lexer (1MB, 1KiB, 1kB; not 1mb).
bool IsBytesUnitChar(char c) {
  switch (c) {
    case 'B': case 'i': case 'k': case 'K': case 'M': case 'G': case 'T': case 'P':
      return true;
    default:
      return false;
  }
}

// End of the Go number literal starting at q[i] (text/scanner's scanNumber with floats):
// 0x/0o/0b prefixes, '_' separators, a fraction, and an e/p exponent with a sign.
size_t ScanGoNumber(std::string_view q, size_t i) {
  size_t j = i;
  bool hex = false;
  if (q[j] == '0' && j + 1 < q.size()) {
    const char p = static_cast<char>(q[j + 1] | 0x20);
    if (p == 'x' || p == 'o' || p == 'b') {
      hex = p == 'x';
      j += 2;
    }
  }
  auto digits = [&] {
    while (j < q.size() && (q[j] == '_' || (hex ? IsHexDigit(q[j]) : IsDigit(q[j])))) ++j;
  };
  digits();
  if (j < q.size() && q[j] == '.') {
    ++j;
    digits();
  }
  if (j < q.size()) {
    const char e = static_cast<char>(q[j] | 0x20);
    // An exponent only when digits follow (with an optional sign); `1e` stays a number
    // followed by an identifier, and `5m`/`1d` are durations.
    if (e == 'e' || e == 'p') {
      size_t k = j + 1;
      if (k < q.size() && (q[k] == '+' || q[k] == '-')) ++k;
      if (k < q.size() && IsDigit(q[k])) {
        j = k;
        while (j < q.size() && (IsDigit(q[j]) || q[j] == '_')) ++j;
      }
    }
  }
  return j;
}

// humanize.ParseBytes as Loki uses it: digits, '.', ',' then a case-insensitive unit.
Result<int64_t> ParseHumanizeBytes(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && (IsDigit(s[n]) || s[n] == '.' || s[n] == ',')) ++n;
  std::string num;
  for (char ch : s.substr(0, n)) {
    if (ch != ',') num += ch;
  }
  std::string unit;
  for (char ch : s.substr(n)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::pair<std::string_view, double> kUnits[] = {
      {"", 1},          {"b", 1},           {"k", 1e3},         {"kb", 1e3},        {"ki", 1024.0},
      {"kib", 1024.0},  {"m", 1e6},         {"mb", 1e6},        {"mi", 1048576.0},  {"mib", 1048576.0},
      {"g", 1e9},       {"gb", 1e9},        {"gi", 1073741824.0}, {"gib", 1073741824.0},
      {"t", 1e12},      {"tb", 1e12},       {"ti", 1099511627776.0}, {"tib", 1099511627776.0},
      {"p", 1e15},      {"pb", 1e15},       {"pi", 1125899906842624.0}, {"pib", 1125899906842624.0}};
  auto f = ParseGoFloat(num);
  if (!f.ok()) return f.status();
  for (const auto& [u, mult] : kUnits) {
    if (u != unit) continue;
    const double v = *f * mult;
    if (!(v < 9.2e18)) return InvalidArgument("too large");
    return static_cast<int64_t>(v);
  }
  return InvalidArgument("unhandled size name: " + unit);
}

}  // namespace

Result<double> ParseGoFloat(std::string_view text) {
  const std::string quoted = "strconv.ParseFloat: parsing \"" + std::string(text) + "\": ";
  std::string s(text);
  const bool hex = s.size() > 1 && s[0] == '0' && (s[1] | 0x20) == 'x';
  if (s.find('_') != std::string::npos) {
    // Go: underscores only with a base prefix, each between digits.
    if (!hex) return InvalidArgument(quoted + "invalid syntax");
    std::string t;
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] != '_') {
        t += s[k];
        continue;
      }
      const bool ok = k + 1 < s.size() && IsHexDigit(s[k + 1]) && (k == 2 || IsHexDigit(s[k - 1]));
      if (!ok) return InvalidArgument(quoted + "invalid syntax");
    }
    s = std::move(t);
  }
  if (s.empty()) return InvalidArgument(quoted + "invalid syntax");
  // Go accepts decimal and hex floats (the latter need a p exponent); no 0o/0b forms.
  if (hex && s.find_first_of("pP") == std::string::npos) return InvalidArgument(quoted + "invalid syntax");
  for (char ch : s) {
    if (!(IsHexDigit(ch) || ch == '.' || ch == 'x' || ch == 'X' || ch == 'p' || ch == 'P' || ch == '+' ||
          ch == '-')) {
      return InvalidArgument(quoted + "invalid syntax");
    }
  }
  if (!hex && s.find_first_of("xXpPabcdfABCDF") != std::string::npos) {
    return InvalidArgument(quoted + "invalid syntax");
  }
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return InvalidArgument(quoted + "invalid syntax");
  if (std::isinf(v)) return InvalidArgument(quoted + "value out of range");
  return v;
}

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
      // As Loki's lexer: a Go number literal, then (without spaces) either the rest of a
      // duration or the rest of a byte size; otherwise a NUMBER whose text must parse as a
      // Go float where it is used (0x10 and 0b1010 do not; 0x1p3 does).
      const size_t num_end = ScanGoNumber(q, i);
      Token t;
      t.pos = start;
      auto suffix_end = [&](bool (*allowed)(char)) {
        size_t k = num_end;
        while (k < q.size() && (IsDigit(q[k]) || q[k] == '.' || allowed(q[k]))) ++k;
        return k;
      };
      const size_t dur_end = suffix_end(IsDurationByte);
      const size_t bytes_end = suffix_end(IsBytesUnitChar);
      if (dur_end > num_end) {
        if (auto d = ParseDuration(q.substr(i, dur_end - i)); d.ok()) {
          t.type = Tok::kDuration;
          t.duration = *d;
          t.text = std::string(q.substr(i, dur_end - i));
          out.push_back(std::move(t));
          i = dur_end;
          continue;
        }
      }
      if (bytes_end > num_end) {
        if (auto b = ParseHumanizeBytes(q.substr(i, bytes_end - i)); b.ok()) {
          t.type = Tok::kBytes;
          t.bytes = *b;
          t.text = std::string(q.substr(i, bytes_end - i));
          out.push_back(std::move(t));
          i = bytes_end;
          continue;
        }
      }
      t.type = Tok::kNumber;
      t.text = std::string(q.substr(i, num_end - i));
      auto v = ParseGoFloat(t.text);
      if (v.ok()) {
        t.number = *v;
      } else {
        t.number_error = v.status().message();
      }
      out.push_back(std::move(t));
      i = num_end;
      continue;
    }
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < q.size() && IsIdentChar(q[j])) ++j;
      push(Tok::kIdent, i, j - i);
      continue;
    }
    if (c == '-' && i + 1 < q.size() && q[i + 1] == '-') {
      // Only the known flags are PARSER_FLAG tokens (Loki's tryScanFlag): otherwise `--`
      // is two minus signs, so `1+1--1` is 3.
      size_t j = i + 2;
      while (j < q.size() && (IsIdentStart(q[j]) || q[j] == '-')) ++j;
      const std::string_view flag = q.substr(i, j - i);
      if (flag == "--strict" || flag == "--keep-empty") {
        push(Tok::kParserFlag, i, j - i);
        continue;
      }
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
