// Go's fmt printing (Sprint, Sprintf verbs and flags), the strconv parsers and quoting it
// relies on, and encoding/json decoding into interface{}, as the template engine needs them.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "query/pipeline/template_value.h"

namespace logq::pipeline::tmpl {

// ---- UTF-8 -------------------------------------------------------------------------------

int DecodeRune(std::string_view s, size_t i, uint32_t* r) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) {
    *r = c0;
    return 1;
  }
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  if (c0 >= 0xC2 && c0 <= 0xDF && cont(1)) {
    *r = ((c0 & 0x1Fu) << 6) | (at(1) & 0x3F);
    return 2;
  }
  if (c0 >= 0xE0 && c0 <= 0xEF && cont(1) && cont(2)) {
    uint32_t v = ((c0 & 0x0Fu) << 12) | ((at(1) & 0x3F) << 6) | (at(2) & 0x3F);
    if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) {
      *r = v;
      return 3;
    }
  }
  if (c0 >= 0xF0 && c0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
    uint32_t v = ((c0 & 0x07u) << 18) | ((at(1) & 0x3F) << 12) | ((at(2) & 0x3F) << 6) |
                 (at(3) & 0x3F);
    if (v >= 0x10000 && v <= 0x10FFFF) {
      *r = v;
      return 4;
    }
  }
  *r = 0xFFFD;
  return 1;
}

void AppendRune(uint32_t r, std::string* out) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

bool IsGoSpace(uint32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

namespace {

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    i += static_cast<size_t>(DecodeRune(s, i, &r));
    ++n;
  }
  return n;
}

// An approximation of unicode.IsPrint for non-ASCII runes.
bool IsPrintRune(uint32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  if (r < 0xA0 || r == 0xAD) return false;
  if (r >= 0xD800 && r <= 0xDFFF) return false;
  if (r == 0x2028 || r == 0x2029 || r == 0xFEFF || r == 0xFFFE || r == 0xFFFF) return false;
  if (r >= 0x200B && r <= 0x200F) return false;
  if (r >= 0x202A && r <= 0x202E) return false;
  if (r >= 0x2060 && r <= 0x206F) return false;
  if (r >= 0xE000 && r <= 0xF8FF) return false;  // private use
  if (r >= 0xF0000) return false;
  if (IsGoSpace(r)) return false;
  return r <= 0x10FFFF;
}

constexpr char kLowerHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

void AppendEscapedRune(uint32_t r, char quote, bool ascii_only, std::string* out) {
  if (r == static_cast<uint32_t>(quote) || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (ascii_only ? (r < 0x80 && IsPrintRune(r)) : IsPrintRune(r)) {
    AppendRune(r, out);
    return;
  }
  switch (r) {
    case '\a': out->append("\\a"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    case '\v': out->append("\\v"); return;
    default: break;
  }
  if (r < ' ' || r == 0x7F) {
    out->append("\\x");
    out->push_back(kLowerHex[(r >> 4) & 0xF]);
    out->push_back(kLowerHex[r & 0xF]);
  } else if (r < 0x10000) {
    out->append("\\u");
    for (int sh = 12; sh >= 0; sh -= 4) out->push_back(kLowerHex[(r >> sh) & 0xF]);
  } else {
    out->append("\\U");
    for (int sh = 28; sh >= 0; sh -= 4) out->push_back(kLowerHex[(r >> sh) & 0xF]);
  }
}

}  // namespace

void AppendQuoted(std::string_view s, bool ascii_only, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    int w = DecodeRune(s, i, &r);
    if (w == 1 && r == 0xFFFD) {
      out->append("\\x");
      out->push_back(kLowerHex[static_cast<unsigned char>(s[i]) >> 4]);
      out->push_back(kLowerHex[static_cast<unsigned char>(s[i]) & 0xF]);
    } else {
      AppendEscapedRune(r, '"', ascii_only, out);
    }
    i += static_cast<size_t>(w);
  }
  out->push_back('"');
}

// ---- strconv -----------------------------------------------------------------------------

namespace {

// Go's underscoreOK: underscores only between digits (or after a base prefix).
bool UnderscoreOK(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0') {
    char c = static_cast<char>(s[1] | 0x20);
    if (c == 'b' || c == 'o' || c == 'x') {
      i = 2;
      saw = '0';
      hex = c == 'x';
    }
  }
  for (; i < s.size(); ++i) {
    char c = s[i];
    char lc = static_cast<char>(c | 0x20);
    if ((c >= '0' && c <= '9') || (hex && lc >= 'a' && lc <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// Parses the magnitude of an integer literal with Go's base-0 rules.
bool ParseUintBase0(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  std::string_view s0 = s;
  int base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && (s[1] | 0x20) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && (s[1] | 0x20) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && (s[1] | 0x20) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  uint64_t n = 0;
  bool underscores = false;
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  for (char c : s) {
    int d;
    char lc = static_cast<char>(c | 0x20);
    if (c == '_') {
      underscores = true;
      continue;
    } else if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (lc >= 'a' && lc <= 'z') {
      d = lc - 'a' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (n > (max - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return false;
    n = n * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (underscores && !UnderscoreOK(s0)) return false;
  *out = n;
  return true;
}

}  // namespace

bool GoParseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  return ParseUintBase0(s, out);
}

bool GoParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t u;
  if (!ParseUintBase0(s, &u)) return false;
  const uint64_t cutoff = uint64_t{1} << 63;
  if (!neg && u >= cutoff) return false;
  if (neg && u > cutoff) return false;
  *out = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  return true;
}

bool GoParseFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string_view body = s;
  bool neg = false;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if ((a[i] | 0x20) != b[i]) return false;
    }
    return true;
  };
  if (lower_eq(body, "inf") || lower_eq(body, "infinity")) {
    *out = neg ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (lower_eq(body, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::string clean;
  bool underscores = false;
  for (char c : body) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == 'p' ||
              c == 'P' || c == 'x' || c == 'X' || c == '+' || c == '-' ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
    if (!ok) return false;
    clean.push_back(c);
  }
  if (underscores && !UnderscoreOK(s)) return false;
  if (clean.empty()) return false;
  double v = 0;
  const char* first = clean.data();
  const char* last = clean.data() + clean.size();
  std::from_chars_result res;
  if (clean.size() > 2 && clean[0] == '0' && (clean[1] | 0x20) == 'x') {
    // Go requires a 'p' exponent in hex floats.
    if (clean.find_first_of("pP") == std::string::npos) return false;
    res = std::from_chars(first + 2, last, v, std::chars_format::hex);
  } else {
    if (clean.find_first_of("xXpP") != std::string::npos) return false;
    if (clean[0] == '+' || clean[0] == '-') return false;
    res = std::from_chars(first, last, v, std::chars_format::general);
  }
  if (res.ec == std::errc::result_out_of_range) {
    // Underflow rounds to zero without error in Go; overflow is an error.
    bool big = false;
    size_t e = clean.find_first_of("eEpP");
    if (e != std::string::npos) big = clean[e + 1] != '-';
    else big = true;
    if (big) return false;
    v = 0;
    res.ptr = last;
    res.ec = std::errc();
  }
  if (res.ec != std::errc() || res.ptr != last) return false;
  *out = neg ? -v : v;
  return true;
}

// ---- float formatting --------------------------------------------------------------------

namespace {

// Decimal digits of |f| and the position of the decimal point (Go's decimalSlice):
// value = 0.d1d2d3... * 10^dp. `prec` < 0 selects the shortest representation, otherwise
// `prec` significant digits (trailing zeros removed).
struct Digits {
  char d[40];
  int nd = 0;
  int dp = 0;
};

Digits DecimalDigits(double f, int prec) {
  Digits out;
  f = std::fabs(f);
  if (f == 0) return out;
  char buf[64];
  int len;
  if (prec < 0) {
    auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
    len = static_cast<int>(res.ptr - buf);
  } else {
    if (prec > 30) prec = 30;
    len = std::snprintf(buf, sizeof(buf), "%.*e", prec > 0 ? prec - 1 : 0, f);
  }
  std::string_view s(buf, static_cast<size_t>(len));
  size_t e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  for (char c : mant) {
    if (c >= '0' && c <= '9' && out.nd < 39) out.d[out.nd++] = c;
  }
  while (out.nd > 0 && out.d[out.nd - 1] == '0') --out.nd;
  out.dp = exp + 1;
  return out;
}

void FmtE(const Digits& d, int prec, char e, std::string* out) {
  out->push_back(d.nd > 0 ? d.d[0] : '0');
  if (prec > 0) {
    out->push_back('.');
    int i = 1;
    int m = std::min(d.nd, prec + 1);
    for (; i < m; ++i) out->push_back(d.d[i]);
    for (; i <= prec; ++i) out->push_back('0');
  }
  out->push_back(e);
  int exp = d.nd == 0 ? 0 : d.dp - 1;
  if (exp < 0) {
    out->push_back('-');
    exp = -exp;
  } else {
    out->push_back('+');
  }
  if (exp < 10) {
    out->push_back('0');
    out->push_back(static_cast<char>('0' + exp));
  } else {
    out->append(std::to_string(exp));
  }
}

void FmtF(const Digits& d, int prec, std::string* out) {
  if (d.dp > 0) {
    int m = std::min(d.nd, d.dp);
    out->append(d.d, static_cast<size_t>(m));
    for (; m < d.dp; ++m) out->push_back('0');
  } else {
    out->push_back('0');
  }
  if (prec > 0) {
    out->push_back('.');
    for (int i = 1; i <= prec; ++i) {
      int j = d.dp + i - 1;
      out->push_back(j >= 0 && j < d.nd ? d.d[j] : '0');
    }
  }
}

// strconv.AppendFloat(f, verb, prec, 64) for finite f, without the sign.
void FormatFloatAbs(double f, char verb, int prec, std::string* out) {
  switch (verb) {
    case 'e':
    case 'E': {
      if (prec < 0) {
        Digits d = DecimalDigits(f, -1);
        FmtE(d, std::max(d.nd - 1, 0), verb, out);
      } else {
        char buf[512];
        int p = std::min(prec, 400);
        std::snprintf(buf, sizeof(buf), verb == 'e' ? "%.*e" : "%.*E", p, std::fabs(f));
        out->append(buf);
      }
      return;
    }
    case 'f':
    case 'F': {
      if (prec < 0) {
        Digits d = DecimalDigits(f, -1);
        FmtF(d, std::max(d.nd - d.dp, 0), out);
      } else {
        // At most 309 integer digits, the point and 400 decimals.
        char buf[768];
        int p = std::min(prec, 400);
        int n = std::snprintf(buf, sizeof(buf), "%.*f", p, std::fabs(f));
        out->append(buf, static_cast<size_t>(std::clamp(n, 0, static_cast<int>(sizeof(buf)) - 1)));
      }
      return;
    }
    default: {  // 'g', 'G'
      bool shortest = prec < 0;
      Digits d = DecimalDigits(f, shortest ? -1 : (prec == 0 ? 1 : prec));
      if (shortest) prec = d.nd;
      if (prec == 0) prec = 1;
      int eprec = prec;
      if (eprec > d.nd && d.nd >= d.dp) eprec = d.nd;
      if (shortest) eprec = 6;
      int exp = d.dp - 1;
      if (d.nd == 0) exp = -1 + 0;  // zero: dp = 0
      if (exp < -4 || exp >= eprec) {
        if (prec > d.nd) prec = d.nd;
        FmtE(d, std::max(prec - 1, 0), verb == 'g' ? 'e' : 'E', out);
        return;
      }
      if (prec > d.dp) prec = d.nd;
      FmtF(d, std::max(prec - d.dp, 0), out);
      return;
    }
  }
}

}  // namespace

void AppendFloatV(double f, std::string* out) {
  if (std::isnan(f)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(f)) {
    out->append(f > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (std::signbit(f)) out->push_back('-');
  FormatFloatAbs(f, 'g', -1, out);
}

// ---- type names --------------------------------------------------------------------------

std::string_view TypeName(const Value& v) {
  switch (v.kind) {
    case Kind::kInvalid:
      return "<nil>";
    case Kind::kNil:
      return "interface {}";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      switch (v.itype) {
        case IntType::kInt: return "int";
        case IntType::kInt64: return "int64";
        case IntType::kUint8: return "uint8";
      }
      return "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kTime:
      return "time.Time";
    case Kind::kMap:
      return "map[string]interface {}";
    case Kind::kList:
      return v.b ? "[]string" : "[]interface {}";
    case Kind::kLabels:
      return "map[string]string";
  }
  return "?";
}

// ---- fmt ---------------------------------------------------------------------------------

namespace {

struct Flags {
  bool sharp = false, zero = false, plus = false, minus = false, space = false;
  bool sharp_v = false, plus_v = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

class Printer {
 public:
  Printer(const LabelEnumerator& labels, std::string* out) : labels_(labels), out_(out) {}

  void PrintArg(const Value& v, uint32_t verb, int depth = 0);
  void Printf(std::string_view format, const Value* args, size_t nargs);
  void Print(const Value* args, size_t nargs, bool ln);

  Flags f;

 private:
  void WritePadding(int n) {
    if (n <= 0) return;
    out_->append(static_cast<size_t>(n), f.zero ? '0' : ' ');
  }
  void Pad(std::string_view s) {
    if (!f.wid_present || f.wid == 0) {
      out_->append(s);
      return;
    }
    int width = f.wid - static_cast<int>(RuneCount(s));
    if (!f.minus) {
      WritePadding(width);
      out_->append(s);
    } else {
      out_->append(s);
      WritePadding(width);
    }
  }
  std::string_view Truncate(std::string_view s) const {
    if (!f.prec_present) return s;
    size_t i = 0;
    int n = f.prec;
    while (i < s.size() && n > 0) {
      uint32_t r;
      i += static_cast<size_t>(DecodeRune(s, i, &r));
      --n;
    }
    return s.substr(0, n > 0 ? s.size() : i);
  }
  void BadVerb(const Value& v, uint32_t verb, int depth);
  void FmtInteger(uint64_t u, int base, bool is_signed, uint32_t verb, bool upper);
  void FmtIntVerb(const Value& v, uint32_t verb, int depth);
  void FmtFloat(double x, uint32_t verb, int depth, const Value& v);
  void FmtString(std::string_view s, uint32_t verb, int depth, const Value& v);
  void FmtSx(std::string_view s, bool upper);
  void FmtQ(std::string_view s);

  const LabelEnumerator& labels_;
  std::string* out_;
};

void Printer::BadVerb(const Value& v, uint32_t verb, int depth) {
  out_->append("%!");
  AppendRune(verb, out_);
  out_->push_back('(');
  if (v.kind == Kind::kInvalid) {
    out_->append("<nil>");
  } else {
    out_->append(TypeName(v));
    out_->push_back('=');
    PrintArg(v, 'v', depth);
  }
  out_->push_back(')');
}

void Printer::FmtInteger(uint64_t u, int base, bool is_signed, uint32_t verb, bool upper) {
  const bool negative = is_signed && static_cast<int64_t>(u) < 0;
  if (negative) u = 0 - u;
  const char* digits = upper ? kUpperHex : kLowerHex;
  int prec = 0;
  if (f.prec_present) {
    prec = f.prec;
    if (prec == 0 && u == 0) {
      bool old = f.zero;
      f.zero = false;
      WritePadding(f.wid);
      f.zero = old;
      return;
    }
  } else if (f.zero && !f.minus && f.wid_present) {
    prec = f.wid;
    if (negative || f.plus || f.space) --prec;
  }
  std::string buf;
  do {
    buf.push_back(digits[u % static_cast<uint64_t>(base)]);
    u /= static_cast<uint64_t>(base);
  } while (u != 0);
  while (static_cast<int>(buf.size()) < prec) buf.push_back('0');
  if (f.sharp) {
    if (base == 2) {
      buf.append("b0");
    } else if (base == 8) {
      if (buf.back() != '0') buf.push_back('0');
    } else if (base == 16) {
      buf.push_back(upper ? 'X' : 'x');
      buf.push_back('0');
    }
  }
  if (verb == 'O') buf.append("o0");
  if (negative) {
    buf.push_back('-');
  } else if (f.plus) {
    buf.push_back('+');
  } else if (f.space) {
    buf.push_back(' ');
  }
  std::string s(buf.rbegin(), buf.rend());
  bool old = f.zero;
  f.zero = false;
  Pad(s);
  f.zero = old;
}

void Printer::FmtIntVerb(const Value& v, uint32_t verb, int depth) {
  const bool is_signed = v.itype != IntType::kUint8;
  const uint64_t u = static_cast<uint64_t>(v.i);
  switch (verb) {
    case 'v':
      if (f.sharp_v && !is_signed) {
        bool old = f.sharp;
        f.sharp = true;
        FmtInteger(u, 16, false, verb, false);
        f.sharp = old;
      } else {
        FmtInteger(u, 10, is_signed, verb, false);
      }
      return;
    case 'd':
      FmtInteger(u, 10, is_signed, verb, false);
      return;
    case 'b':
      FmtInteger(u, 2, is_signed, verb, false);
      return;
    case 'o':
    case 'O':
      FmtInteger(u, 8, is_signed, verb, false);
      return;
    case 'x':
      FmtInteger(u, 16, is_signed, verb, false);
      return;
    case 'X':
      FmtInteger(u, 16, is_signed, verb, true);
      return;
    case 'c': {
      std::string s;
      uint32_t r = v.i < 0 || v.i > 0x10FFFF ? 0xFFFD : static_cast<uint32_t>(v.i);
      AppendRune(r, &s);
      Pad(s);
      return;
    }
    case 'q': {
      uint32_t r = v.i < 0 || v.i > 0x10FFFF ? 0xFFFD : static_cast<uint32_t>(v.i);
      std::string s = "'";
      if (f.sharp && IsPrintRune(r)) {
        AppendRune(r, &s);
      } else {
        AppendEscapedRune(r, '\'', f.plus, &s);
      }
      s.push_back('\'');
      Pad(s);
      return;
    }
    case 'U': {
      std::string s = "U+";
      std::string hex;
      uint64_t x = u;
      do {
        hex.push_back(kUpperHex[x % 16]);
        x /= 16;
      } while (x != 0);
      int prec = f.prec_present && f.prec > 4 ? f.prec : 4;
      while (static_cast<int>(hex.size()) < prec) hex.push_back('0');
      s.append(hex.rbegin(), hex.rend());
      if (f.sharp && v.i >= 0 && v.i <= 0x10FFFF && IsPrintRune(static_cast<uint32_t>(v.i))) {
        s.append(" '");
        AppendRune(static_cast<uint32_t>(v.i), &s);
        s.push_back('\'');
      }
      bool old = f.zero;
      f.zero = false;
      Pad(s);
      f.zero = old;
      return;
    }
    default:
      BadVerb(v, verb, depth);
  }
}

void Printer::FmtFloat(double x, uint32_t verb, int depth, const Value& v) {
  char sv;
  int prec;
  switch (verb) {
    case 'v':
      sv = 'g', prec = -1;
      break;
    case 'g':
    case 'G':
      sv = static_cast<char>(verb), prec = -1;
      break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
      sv = static_cast<char>(verb), prec = 6;
      break;
    default:
      BadVerb(v, verb, depth);
      return;
  }
  if (f.prec_present) prec = f.prec;
  std::string num;
  if (std::isnan(x)) {
    num = "+NaN";
  } else if (std::isinf(x)) {
    num = x > 0 ? "+Inf" : "-Inf";
  } else {
    num.push_back(std::signbit(x) ? '-' : '+');
    FormatFloatAbs(x, sv, prec, &num);
  }
  if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
  if (num[1] == 'I' || num[1] == 'N') {
    bool old = f.zero;
    f.zero = false;
    std::string_view s = num;
    if (num[1] == 'N' && !f.space && !f.plus) s.remove_prefix(1);
    Pad(s);
    f.zero = old;
    return;
  }
  if (f.plus || num[0] != '+') {
    if (f.zero && !f.minus && f.wid_present && f.wid > static_cast<int>(num.size())) {
      out_->push_back(num[0]);
      WritePadding(f.wid - static_cast<int>(num.size()));
      out_->append(num, 1);
      return;
    }
    Pad(num);
    return;
  }
  Pad(std::string_view(num).substr(1));
}

void Printer::FmtSx(std::string_view s, bool upper) {
  const char* digits = upper ? kUpperHex : kLowerHex;
  int length = static_cast<int>(s.size());
  if (f.prec_present && f.prec < length) length = f.prec;
  int width = 2 * length;
  if (width > 0) {
    if (f.space) {
      if (f.sharp) width *= 2;
      width += length - 1;
    } else if (f.sharp) {
      width += 2;
    }
  } else {
    if (f.wid_present) WritePadding(f.wid);
    return;
  }
  if (f.wid_present && f.wid > width && !f.minus) WritePadding(f.wid - width);
  if (f.sharp) {
    out_->push_back('0');
    out_->push_back(upper ? 'X' : 'x');
  }
  for (int i = 0; i < length; ++i) {
    if (f.space && i > 0) {
      out_->push_back(' ');
      if (f.sharp) {
        out_->push_back('0');
        out_->push_back(upper ? 'X' : 'x');
      }
    }
    auto c = static_cast<unsigned char>(s[static_cast<size_t>(i)]);
    out_->push_back(digits[c >> 4]);
    out_->push_back(digits[c & 0xF]);
  }
  if (f.wid_present && f.wid > width && f.minus) WritePadding(f.wid - width);
}

void Printer::FmtQ(std::string_view s) {
  s = Truncate(s);
  if (f.sharp && s.find('`') == std::string_view::npos) {
    bool ok = true;
    for (size_t i = 0; i < s.size();) {
      uint32_t r;
      int w = DecodeRune(s, i, &r);
      if ((w == 1 && r == 0xFFFD) || (r < ' ' && r != '\t') || r == 0x7F || r == 0xFEFF) {
        ok = false;
        break;
      }
      i += static_cast<size_t>(w);
    }
    if (ok) {
      std::string q = "`";
      q.append(s);
      q.push_back('`');
      Pad(q);
      return;
    }
  }
  std::string q;
  AppendQuoted(s, f.plus, &q);
  Pad(q);
}

void Printer::FmtString(std::string_view s, uint32_t verb, int depth, const Value& v) {
  switch (verb) {
    case 'v':
      if (f.sharp_v) {
        FmtQ(s);
      } else {
        Pad(Truncate(s));
      }
      return;
    case 's':
      Pad(Truncate(s));
      return;
    case 'x':
      FmtSx(s, false);
      return;
    case 'X':
      FmtSx(s, true);
      return;
    case 'q':
      FmtQ(s);
      return;
    default:
      BadVerb(v, verb, depth);
  }
}

struct LabelPrintCtx {
  Printer* p;
  uint32_t verb;
  int depth;
  bool first;
};

void Printer::PrintArg(const Value& v, uint32_t verb, int depth) {
  if (depth > 64) {
    out_->append("...");
    return;
  }
  if (v.kind == Kind::kInvalid || v.kind == Kind::kNil) {
    if (verb == 'T' || verb == 'v' || depth > 0) {
      Pad("<nil>");
    } else {
      BadVerb(v, verb, depth);
    }
    return;
  }
  if (verb == 'T') {
    Pad(TypeName(v));
    return;
  }
  switch (v.kind) {
    case Kind::kBool:
      if (verb == 't' || verb == 'v') {
        Pad(v.b ? "true" : "false");
      } else {
        BadVerb(v, verb, depth);
      }
      return;
    case Kind::kInt:
      FmtIntVerb(v, verb, depth);
      return;
    case Kind::kFloat:
      FmtFloat(v.f, verb, depth, v);
      return;
    case Kind::kString:
      FmtString(v.s, verb, depth, v);
      return;
    case Kind::kTime: {
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        std::string s;
        AppendTimeString(v, &s);
        FmtString(s, verb, depth, v);
      } else {
        BadVerb(v, verb, depth);
      }
      return;
    }
    case Kind::kMap: {
      out_->append("map[");
      bool first = true;
      for (const auto& [k, val] : v.map()) {
        if (!first) out_->push_back(' ');
        first = false;
        PrintArg(Value::StringView(k), verb, depth + 1);
        out_->push_back(':');
        PrintArg(val, verb, depth + 1);
      }
      out_->push_back(']');
      return;
    }
    case Kind::kList: {
      out_->push_back('[');
      bool first = true;
      for (const Value& e : v.list()) {
        if (!first) out_->push_back(' ');
        first = false;
        PrintArg(e, verb, depth + 1);
      }
      out_->push_back(']');
      return;
    }
    case Kind::kLabels: {
      out_->append("map[");
      if (labels_.each != nullptr) {
        LabelPrintCtx c{this, verb, depth, true};
        labels_.each(
            labels_.self,
            [](void* arg, std::string_view name, std::string_view value) {
              auto* c = static_cast<LabelPrintCtx*>(arg);
              if (!c->first) c->p->out_->push_back(' ');
              c->first = false;
              c->p->PrintArg(Value::StringView(name), c->verb, c->depth + 1);
              c->p->out_->push_back(':');
              c->p->PrintArg(Value::StringView(value), c->verb, c->depth + 1);
            },
            &c);
      }
      out_->push_back(']');
      return;
    }
    case Kind::kInvalid:
    case Kind::kNil:
      return;
  }
}

constexpr int kTooLarge = 1000000;

// Go's parsenum: returns false (and end) when the number is absurdly large.
bool ParseNum(std::string_view s, size_t* i, int* num, bool* present) {
  *num = 0;
  *present = false;
  size_t j = *i;
  while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
    if (*num > kTooLarge) {
      *i = s.size();
      *present = false;
      *num = 0;
      return false;
    }
    *num = *num * 10 + (s[j] - '0');
    *present = true;
    ++j;
  }
  *i = j;
  return true;
}

}  // namespace

void Printer::Print(const Value* args, size_t nargs, bool ln) {
  bool prev_string = false;
  for (size_t k = 0; k < nargs; ++k) {
    bool is_string = args[k].kind == Kind::kString;
    if (k > 0 && (ln || (!is_string && !prev_string))) out_->push_back(' ');
    f = Flags();
    PrintArg(args[k], 'v');
    prev_string = is_string;
  }
  if (ln) out_->push_back('\n');
}

void Printer::Printf(std::string_view format, const Value* args, size_t nargs) {
  const size_t end = format.size();
  size_t arg_num = 0;
  bool after_index = false;
  bool reordered = false;
  auto arg_number = [&](size_t* i, bool* good) {
    if (*i >= end || format[*i] != '[') {
      after_index = false;
      return;
    }
    reordered = true;
    std::string_view rest = format.substr(*i);
    size_t width = 1;
    bool ok = false;
    int index = 0;
    if (rest.size() >= 3) {
      for (size_t k = 1; k < rest.size(); ++k) {
        if (rest[k] == ']') {
          size_t j = 1;
          int n;
          bool present;
          ParseNum(rest, &j, &n, &present);
          if (present && j == k) {
            ok = true;
            index = n - 1;
          }
          width = k + 1;
          break;
        }
      }
    }
    if (ok && index >= 0 && static_cast<size_t>(index) < nargs) {
      arg_num = static_cast<size_t>(index);
      *i += width;
      after_index = true;
      return;
    }
    *good = false;
    *i += width;
    after_index = ok;
  };
  auto int_from_arg = [&](int* num) {
    bool is_int = false;
    *num = 0;
    if (arg_num < nargs) {
      const Value& a = args[arg_num];
      if (a.kind == Kind::kInt) {
        *num = static_cast<int>(a.i);
        is_int = static_cast<int64_t>(*num) == a.i;
      }
      ++arg_num;
      if (*num > kTooLarge || *num < -kTooLarge) {
        *num = 0;
        is_int = false;
      }
    }
    return is_int;
  };

  for (size_t i = 0; i < end;) {
    bool good_arg = true;
    size_t lasti = i;
    while (i < end && format[i] != '%') ++i;
    if (i > lasti) out_->append(format.substr(lasti, i - lasti));
    if (i >= end) break;
    ++i;
    f = Flags();
    for (; i < end; ++i) {
      char c = format[i];
      if (c == '#') {
        f.sharp = true;
      } else if (c == '0') {
        f.zero = !f.minus;
      } else if (c == '+') {
        f.plus = true;
      } else if (c == '-') {
        f.minus = true;
        f.zero = false;
      } else if (c == ' ') {
        f.space = true;
      } else {
        break;
      }
    }
    arg_number(&i, &good_arg);
    if (i < end && format[i] == '*') {
      ++i;
      f.wid_present = int_from_arg(&f.wid);
      if (!f.wid_present) out_->append("%!(BADWIDTH)");
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      after_index = false;
    } else {
      ParseNum(format, &i, &f.wid, &f.wid_present);
      if (after_index && f.wid_present) good_arg = false;
    }
    if (i + 1 < end && format[i] == '.') {
      ++i;
      if (after_index) good_arg = false;
      arg_number(&i, &good_arg);
      if (i < end && format[i] == '*') {
        ++i;
        f.prec_present = int_from_arg(&f.prec);
        if (f.prec < 0) {
          f.prec = 0;
          f.prec_present = false;
        }
        if (!f.prec_present) out_->append("%!(BADPREC)");
        after_index = false;
      } else {
        ParseNum(format, &i, &f.prec, &f.prec_present);
        if (!f.prec_present) {
          f.prec = 0;
          f.prec_present = true;
        }
      }
    }
    if (!after_index) arg_number(&i, &good_arg);
    if (i >= end) {
      out_->append("%!(NOVERB)");
      break;
    }
    uint32_t verb;
    i += static_cast<size_t>(DecodeRune(format, i, &verb));
    if (verb == '%') {
      out_->push_back('%');
    } else if (!good_arg) {
      out_->append("%!");
      AppendRune(verb, out_);
      out_->append("(BADINDEX)");
    } else if (arg_num >= nargs) {
      out_->append("%!");
      AppendRune(verb, out_);
      out_->append("(MISSING)");
    } else {
      if (verb == 'v') {
        f.sharp_v = f.sharp;
        f.sharp = false;
        f.plus_v = f.plus;
        f.plus = false;
      }
      PrintArg(args[arg_num], verb);
      ++arg_num;
    }
  }
  if (!reordered && arg_num < nargs) {
    f = Flags();
    out_->append("%!(EXTRA ");
    for (size_t k = arg_num; k < nargs; ++k) {
      if (k > arg_num) out_->append(", ");
      if (!args[k].valid() || args[k].kind == Kind::kNil) {
        out_->append("<nil>");
      } else {
        out_->append(TypeName(args[k]));
        out_->push_back('=');
        PrintArg(args[k], 'v');
      }
    }
    out_->push_back(')');
  }
}

void AppendPrint(const Value& v, const LabelEnumerator& labels, std::string* out) {
  Printer p(labels, out);
  p.PrintArg(v, 'v');
}

void AppendPrintf(std::string_view format, const Value* args, size_t nargs,
                  const LabelEnumerator& labels, std::string* out) {
  Printer p(labels, out);
  p.Printf(format, args, nargs);
}

void AppendSprint(const Value* args, size_t nargs, bool ln, const LabelEnumerator& labels,
                  std::string* out) {
  Printer p(labels, out);
  p.Print(args, nargs, ln);
}

// ---- encoding/json -----------------------------------------------------------------------

namespace {

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool ParseDocument(Value* out) {
    SkipWs();
    if (!ParseValue(out, 0)) return false;
    SkipWs();
    return pos_ == s_.size();
  }

 private:
  static constexpr int kMaxDepth = 200;

  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  bool ParseValue(Value* out, int depth) {
    if (depth > kMaxDepth || pos_ >= s_.size()) return false;
    char c = s_[pos_];
    switch (c) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"': {
        std::string str;
        if (!ParseString(&str)) return false;
        *out = Value::OwnedString(std::move(str));
        return true;
      }
      case 't':
        if (!Literal("true")) return false;
        *out = Value::Bool(true);
        return true;
      case 'f':
        if (!Literal("false")) return false;
        *out = Value::Bool(false);
        return true;
      case 'n':
        if (!Literal("null")) return false;
        *out = Value::Nil();
        return true;
      default:
        return ParseNumber(out);
    }
  }

  bool ParseNumber(Value* out) {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size()) return false;
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      return false;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == d) return false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == d) return false;
    }
    double v;
    if (!GoParseFloat(s_.substr(start, pos_ - start), &v)) return false;
    *out = Value::Float(v);
    return true;
  }

  bool Hex4(uint32_t* r) {
    if (pos_ + 4 > s_.size()) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        v |= static_cast<uint32_t>((c | 0x20) - 'a' + 10);
      } else {
        return false;
      }
    }
    *r = v;
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) return false;
        char e = s_[pos_++];
        switch (e) {
          case '"': out->push_back('"'); break;
          case '\\': out->push_back('\\'); break;
          case '/': out->push_back('/'); break;
          case 'b': out->push_back('\b'); break;
          case 'f': out->push_back('\f'); break;
          case 'n': out->push_back('\n'); break;
          case 'r': out->push_back('\r'); break;
          case 't': out->push_back('\t'); break;
          case 'u': {
            uint32_t r;
            if (!Hex4(&r)) return false;
            if (r >= 0xD800 && r < 0xDC00) {
              uint32_t r2;
              size_t save = pos_;
              if (s_.substr(pos_, 2) == "\\u") {
                pos_ += 2;
                if (Hex4(&r2) && r2 >= 0xDC00 && r2 < 0xE000) {
                  r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
                } else {
                  pos_ = save;
                  r = 0xFFFD;
                }
              } else {
                r = 0xFFFD;
              }
            } else if (r >= 0xDC00 && r < 0xE000) {
              r = 0xFFFD;
            }
            AppendRune(r, out);
            break;
          }
          default:
            return false;
        }
        continue;
      }
      uint32_t r;
      int w = DecodeRune(s_, pos_, &r);
      if (w == 1 && r == 0xFFFD) {
        AppendRune(0xFFFD, out);
      } else {
        out->append(s_.substr(pos_, static_cast<size_t>(w)));
      }
      pos_ += static_cast<size_t>(w);
    }
    return false;
  }

  bool ParseArray(Value* out, int depth) {
    ++pos_;
    auto list = std::make_shared<ValueList>();
    SkipWs();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      *out = Value::List(std::move(list));
      return true;
    }
    for (;;) {
      SkipWs();
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      list->push_back(std::move(v));
      SkipWs();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        break;
      }
      return false;
    }
    *out = Value::List(std::move(list));
    return true;
  }

  bool ParseObject(Value* out, int depth) {
    ++pos_;
    auto map = std::make_shared<ValueMap>();
    SkipWs();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      *out = Value::Map(std::move(map));
      return true;
    }
    for (;;) {
      SkipWs();
      if (pos_ >= s_.size() || s_[pos_] != '"') return false;
      std::string key;
      if (!ParseString(&key)) return false;
      SkipWs();
      if (pos_ >= s_.size() || s_[pos_] != ':') return false;
      ++pos_;
      SkipWs();
      Value v;
      if (!ParseValue(&v, depth + 1)) return false;
      map->emplace_back(std::move(key), std::move(v));
      SkipWs();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        break;
      }
      return false;
    }
    // Sort by key; a later duplicate wins, as in encoding/json.
    std::stable_sort(map->begin(), map->end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    ValueMap dedup;
    dedup.reserve(map->size());
    for (auto& kv : *map) {
      if (!dedup.empty() && dedup.back().first == kv.first) {
        dedup.back().second = std::move(kv.second);
      } else {
        dedup.push_back(std::move(kv));
      }
    }
    *map = std::move(dedup);
    *out = Value::Map(std::move(map));
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Value ParseJson(std::string_view text) {
  JsonParser p(text);
  Value v;
  if (!p.ParseDocument(&v)) return Value::Invalid();
  if (v.kind == Kind::kNil) return Value::Invalid();
  return v;
}

}  // namespace logq::pipeline::tmpl
