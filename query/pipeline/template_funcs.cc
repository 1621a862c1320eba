// The template function table: Go's text/template builtins and Loki's line_format /
// label_format library (strings, sprig's math and dates, regexes, encodings). Each function
// reproduces the Go implementation Loki registers, including its argument conversions and
// error texts.
#include "query/pipeline/template_funcs.h"

#include "query/pipeline/go_compat.h"

#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <clocale>
#include <cmath>
#include <cstring>
#include <cwctype>
#include <limits>
#include <locale.h>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/base/clock.h"

namespace logq::pipeline::tmpl {
namespace {

constexpr size_t kMaxResult = 1 << 20;  // same as the executor's output cap

using Args = const Value*;

bool Fail(CallEnv& env, std::string msg) {
  *env.err = std::move(msg);
  return false;
}

bool ResultTooLarge(CallEnv& env, size_t n) {
  if (n > kMaxResult) {
    Fail(env, "result exceeds " + std::to_string(kMaxResult) + " bytes");
    return true;
  }
  return false;
}

Value Str(std::string s) { return Value::OwnedString(std::move(s)); }

// ---- Unicode case mapping -------------------------------------------------------------

locale_t Utf8Locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (l == static_cast<locale_t>(0)) l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

uint32_t MapCase(uint32_t r, bool upper) {
  if (r < 0x80) {
    if (upper && r >= 'a' && r <= 'z') return r - 32;
    if (!upper && r >= 'A' && r <= 'Z') return r + 32;
    return r;
  }
  locale_t loc = Utf8Locale();
  if (loc == static_cast<locale_t>(0)) return r;
  auto w = static_cast<wint_t>(r);
  return static_cast<uint32_t>(upper ? towupper_l(w, loc) : towlower_l(w, loc));
}

bool IsLetterOrDigit(uint32_t r) {
  if (r < 0x80) {
    return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9');
  }
  locale_t loc = Utf8Locale();
  if (loc == static_cast<locale_t>(0)) return true;
  return iswalnum_l(static_cast<wint_t>(r), loc) != 0;
}

std::string CaseMap(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    i += static_cast<size_t>(DecodeRune(s, i, &r));
    AppendRune(MapCase(r, upper), &out);
  }
  return out;
}

std::string Title(std::string_view s) {
  auto is_separator = [](uint32_t r) {
    if (r <= 0x7F) {
      if ((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '_') {
        return false;
      }
      return true;
    }
    if (IsLetterOrDigit(r)) return false;
    return IsGoSpace(r);
  };
  std::string out;
  uint32_t prev = ' ';
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    i += static_cast<size_t>(DecodeRune(s, i, &r));
    AppendRune(is_separator(prev) ? MapCase(r, true) : r, &out);
    prev = r;
  }
  return out;
}

// ---- strings package ------------------------------------------------------------------

std::string_view TrimSpace(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    uint32_t r;
    int w = DecodeRune(s, b, &r);
    if (!IsGoSpace(r)) break;
    b += static_cast<size_t>(w);
  }
  size_t e = s.size();
  while (e > b) {
    size_t st = e - 1;
    while (st > b && (static_cast<unsigned char>(s[st]) & 0xC0) == 0x80) --st;
    uint32_t r;
    DecodeRune(s, st, &r);
    if (!IsGoSpace(r)) break;
    e = st;
  }
  return s.substr(b, e - b);
}

bool InCutset(uint32_t r, std::string_view cutset) {
  for (size_t i = 0; i < cutset.size();) {
    uint32_t c;
    i += static_cast<size_t>(DecodeRune(cutset, i, &c));
    if (c == r) return true;
  }
  return false;
}

std::string_view TrimLeft(std::string_view s, std::string_view cutset) {
  while (!s.empty()) {
    uint32_t r;
    int w = DecodeRune(s, 0, &r);
    if (!InCutset(r, cutset)) break;
    s.remove_prefix(static_cast<size_t>(w));
  }
  return s;
}

std::string_view TrimRight(std::string_view s, std::string_view cutset) {
  while (!s.empty()) {
    size_t st = s.size() - 1;
    while (st > 0 && (static_cast<unsigned char>(s[st]) & 0xC0) == 0x80 && s.size() - st < 4) --st;
    uint32_t r;
    int w = DecodeRune(s, st, &r);
    if (st + static_cast<size_t>(w) != s.size()) {
      st = s.size() - 1;
      r = 0xFFFD;
    }
    if (!InCutset(r, cutset)) break;
    s = s.substr(0, st);
  }
  return s;
}

bool StringsReplace(CallEnv& env, std::string_view s, std::string_view old_s,
                    std::string_view new_s, int64_t n, Value* out) {
  if (old_s == new_s || n == 0) {
    *out = Value::StringView(s);
    return true;
  }
  // Count matches.
  int64_t m = 0;
  if (old_s.empty()) {
    size_t runes = 0;
    for (size_t i = 0; i < s.size(); ++runes) {
      uint32_t r;
      i += static_cast<size_t>(DecodeRune(s, i, &r));
    }
    m = static_cast<int64_t>(runes) + 1;
  } else {
    for (size_t p = s.find(old_s); p != std::string_view::npos; p = s.find(old_s, p + old_s.size())) ++m;
  }
  if (m == 0) {
    *out = Value::StringView(s);
    return true;
  }
  if (n < 0 || m < n) n = m;
  size_t bound = s.size() + static_cast<size_t>(n) * new_s.size();
  if (ResultTooLarge(env, bound)) return false;
  std::string r;
  r.reserve(bound);
  size_t start = 0;
  for (int64_t k = 0; k < n; ++k) {
    size_t j = start;
    if (old_s.empty()) {
      if (k > 0) {
        uint32_t rr;
        j += static_cast<size_t>(DecodeRune(s, start, &rr));
      }
    } else {
      j = s.find(old_s, start);
    }
    r.append(s.substr(start, j - start));
    r.append(new_s);
    start = j + old_s.size();
  }
  r.append(s.substr(start));
  *out = Str(std::move(r));
  return true;
}

bool Repeat(CallEnv& env, std::string_view s, int64_t count, std::string* out) {
  if (count < 0) return Fail(env, "strings: negative Repeat count");
  if (s.empty() || count == 0) return true;
  if (static_cast<uint64_t>(count) > kMaxResult / s.size() + 1 ||
      s.size() * static_cast<size_t>(count) > kMaxResult) {
    return Fail(env, "result exceeds " + std::to_string(kMaxResult) + " bytes");
  }
  out->reserve(s.size() * static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) out->append(s);
  return true;
}

std::vector<uint32_t> Runes(std::string_view s) {
  std::vector<uint32_t> r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t c;
    i += static_cast<size_t>(DecodeRune(s, i, &c));
    r.push_back(c);
  }
  return r;
}

std::string FromRunes(const std::vector<uint32_t>& r, size_t b, size_t e) {
  std::string out;
  for (size_t k = b; k < e; ++k) AppendRune(r[k], &out);
  return out;
}

// ---- cast / sprig conversions -----------------------------------------------------------

std::string_view TrimZeroDecimal(std::string_view s) {
  bool found_zero = false;
  for (size_t i = s.size(); i > 0; --i) {
    switch (s[i - 1]) {
      case '.':
        if (found_zero) return s.substr(0, i - 1);
        break;
      case '0':
        found_zero = true;
        break;
      default:
        return s;
    }
  }
  return s;
}

int64_t FloatToInt64(double f) {
  if (std::isnan(f) || f >= 9.2233720368547758e18 || f < -9.2233720368547758e18) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

int64_t ToInt64(const Value& v) {
  switch (v.kind) {
    case Kind::kInt:
      return v.i;
    case Kind::kFloat:
      return FloatToInt64(v.f);
    case Kind::kBool:
      return v.b ? 1 : 0;
    case Kind::kString: {
      int64_t x;
      if (GoParseInt(TrimZeroDecimal(v.s), &x)) return x;
      return 0;
    }
    default:
      return 0;
  }
}

double ToFloat64(const Value& v) {
  switch (v.kind) {
    case Kind::kInt:
      return v.itype == IntType::kUint8 ? static_cast<double>(static_cast<uint8_t>(v.i))
                                        : static_cast<double>(v.i);
    case Kind::kFloat:
      return v.f;
    case Kind::kBool:
      return v.b ? 1 : 0;
    case Kind::kString: {
      double x;
      if (GoParseFloat(v.s, &x)) return x;
      return 0;
    }
    default:
      return 0;
  }
}

int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// A decimal number mant * 10^exp, the way shopspring/decimal (sprig's addf...) computes.
struct Dec {
  __int128 mant = 0;
  int exp = 0;
};

bool DecFromFloat(CallEnv& env, double f, Dec* out) {
  if (std::isnan(f) || std::isinf(f)) {
    std::string s = "Cannot create a Decimal from ";
    AppendFloatV(f, &s);
    return Fail(env, s);
  }
  if (f == 0) {
    *out = Dec{};
    return true;
  }
  std::string s;
  AppendFloatV(std::fabs(f), &s);  // shortest round-trip digits
  // Convert "d.ddde±x" / "ddd.ddd" to mantissa and exponent.
  __int128 m = 0;
  int exp = 0;
  size_t e = s.find('e');
  std::string_view mant = std::string_view(s).substr(0, e);
  bool after_dot = false;
  for (char c : mant) {
    if (c == '.') {
      after_dot = true;
      continue;
    }
    m = m * 10 + (c - '0');
    if (after_dot) --exp;
  }
  if (e != std::string::npos) exp += std::atoi(s.c_str() + e + 1);
  out->mant = f < 0 ? -m : m;
  out->exp = exp;
  return true;
}

constexpr __int128 kDecLimit = static_cast<__int128>(1000000000000000000LL) * 1000000000000000000LL;

void DecNormalize(Dec* d) {
  while (d->mant != 0 && d->mant % 10 == 0) {
    d->mant /= 10;
    ++d->exp;
  }
}

// Aligns to the smaller exponent; false when that would overflow.
bool DecAlign(Dec* a, Dec* b) {
  Dec* hi = a->exp > b->exp ? a : b;
  const Dec* lo = hi == a ? b : a;
  while (hi->exp > lo->exp) {
    if (hi->mant > kDecLimit || hi->mant < -kDecLimit) return false;
    hi->mant *= 10;
    --hi->exp;
  }
  return true;
}

double DecToDouble(const Dec& d) {
  if (d.mant == 0) return 0;
  __int128 m = d.mant < 0 ? -d.mant : d.mant;
  std::string digits;
  while (m > 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  }
  std::reverse(digits.begin(), digits.end());
  std::string s = digits + "e" + std::to_string(d.exp);
  double v = 0;
  GoParseFloat(s, &v);
  return d.mant < 0 ? -v : v;
}

enum class DecOp { kAdd, kSub, kMul, kDiv };

// sprig's execDecimalOp: folds the arguments with exact decimal arithmetic, falling back to
// binary floating point where the decimal would not fit 128 bits.
bool DecimalFold(CallEnv& env, const Value& first, Args rest, size_t n, DecOp op, double* out) {
  Dec acc;
  if (!DecFromFloat(env, ToFloat64(first), &acc)) return false;
  double approx = ToFloat64(first);
  bool exact = true;
  for (size_t k = 0; k < n; ++k) {
    double x = ToFloat64(rest[k]);
    Dec d;
    if (!DecFromFloat(env, x, &d)) return false;
    switch (op) {
      case DecOp::kAdd:
        approx += x;
        break;
      case DecOp::kSub:
        approx -= x;
        break;
      case DecOp::kMul:
        approx *= x;
        break;
      case DecOp::kDiv:
        if (d.mant == 0) return Fail(env, "decimal division by 0");
        approx /= x;
        break;
    }
    if (!exact) continue;
    if (op == DecOp::kAdd || op == DecOp::kSub) {
      if (!DecAlign(&acc, &d)) {
        exact = false;
        continue;
      }
      acc.mant = op == DecOp::kAdd ? acc.mant + d.mant : acc.mant - d.mant;
    } else if (op == DecOp::kMul) {
      __int128 am = acc.mant < 0 ? -acc.mant : acc.mant;
      __int128 dm = d.mant < 0 ? -d.mant : d.mant;
      if (am != 0 && dm > kDecLimit / am) {
        exact = false;
        continue;
      }
      acc.mant *= d.mant;
      acc.exp += d.exp;
    } else {
      // DivRound(d, 16): the quotient rounded half away from zero at 16 decimal places.
      int shift = acc.exp - d.exp + 16;
      __int128 num = acc.mant;
      __int128 den = d.mant;
      bool ok = true;
      while (shift > 0 && ok) {
        if (num > kDecLimit || num < -kDecLimit) ok = false;
        num *= 10;
        --shift;
      }
      while (shift < 0 && ok) {
        if (den > kDecLimit || den < -kDecLimit) ok = false;
        den *= 10;
        ++shift;
      }
      if (!ok) {
        exact = false;
        continue;
      }
      bool neg = (num < 0) != (den < 0);
      __int128 an = num < 0 ? -num : num, ad = den < 0 ? -den : den;
      __int128 q = an / ad, r = an % ad;
      if (2 * r >= ad) ++q;
      acc.mant = neg ? -q : q;
      acc.exp = -16;
    }
    DecNormalize(&acc);
  }
  *out = exact ? DecToDouble(acc) : approx;
  return true;
}

// ---- regexes ----------------------------------------------------------------------------

std::string_view GoRegexCode(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape: return "invalid escape sequence";
    case RE2::ErrorBadCharClass: return "invalid character class";
    case RE2::ErrorBadCharRange: return "invalid character class range";
    case RE2::ErrorMissingBracket: return "missing closing ]";
    case RE2::ErrorMissingParen: return "missing closing )";
    case RE2::ErrorUnexpectedParen: return "unexpected )";
    case RE2::ErrorTrailingBackslash: return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument: return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize: return "invalid repeat count";
    case RE2::ErrorRepeatOp: return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp: return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8: return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture: return "invalid named capture";
    case RE2::ErrorPatternTooLarge: return "expression too large";
    default: return "regexp/syntax: internal error";
  }
}

// The regex for a call: the one compiled at parse time, or compiled now into *holder.
const RE2* GetRegex(CallEnv& env, std::string_view pattern, std::unique_ptr<RE2>* holder,
                    std::string* err) {
  if (env.regex != nullptr) return env.regex;
  RE2::Options opts;
  opts.set_log_errors(false);
  *holder = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!(*holder)->ok()) {
    *err = "error parsing regexp: " + std::string(GoRegexCode((*holder)->error_code())) + ": `" +
           (*holder)->error_arg() + "`";
    return nullptr;
  }
  return holder->get();
}

// Go's FindAll iteration: non-overlapping matches; an empty match right after a previous
// match is skipped. Calls fn(match_begin, match_end, groups) for each.
template <typename Fn>
void ForEachMatch(const RE2& re, std::string_view s, int limit, Fn fn) {
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  re2::StringPiece text(s.data(), s.size());
  size_t pos = 0;
  size_t prev_end = std::string_view::npos;
  int n = 0;
  while (pos <= s.size() && (limit < 0 || n < limit)) {
    if (!re.Match(text, pos, s.size(), RE2::UNANCHORED, groups.data(), ngroups)) break;
    size_t b = static_cast<size_t>(groups[0].data() - s.data());
    size_t e = b + groups[0].size();
    bool accept = true;
    if (e == b && b == prev_end) accept = false;
    if (accept) {
      fn(b, e, groups);
      ++n;
    }
    prev_end = e;
    if (e > pos) {
      pos = e;
    } else {
      uint32_t r;
      pos += pos < s.size() ? static_cast<size_t>(DecodeRune(s, pos, &r)) : 1;
    }
  }
}

// Go's Regexp.Expand template syntax: $1, ${1}, $name, ${name}, $$.
void Expand(const RE2& re, std::string_view tmpl, std::string_view src,
            const std::vector<re2::StringPiece>& groups, std::string* out) {
  const auto& names = re.CapturingGroupNames();  // index -> name
  while (!tmpl.empty()) {
    size_t d = tmpl.find('$');
    if (d == std::string_view::npos) break;
    out->append(tmpl.substr(0, d));
    tmpl.remove_prefix(d + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out->push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    // extract
    std::string_view str = tmpl;
    bool brace = false;
    if (!str.empty() && str[0] == '{') {
      brace = true;
      str.remove_prefix(1);
    }
    size_t i = 0;
    while (i < str.size()) {
      uint32_t r;
      int w = DecodeRune(str, i, &r);
      if (!(r == '_' || IsLetterOrDigit(r))) break;
      i += static_cast<size_t>(w);
    }
    bool ok = i > 0;
    std::string_view name = str.substr(0, i);
    if (ok && brace) {
      if (i >= str.size() || str[i] != '}') {
        ok = false;
      } else {
        ++i;
      }
    }
    if (!ok) {
      out->push_back('$');
      continue;
    }
    tmpl = str.substr(i);
    int num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name[0] == '0' && name.size() > 1) num = -1;
    auto append_group = [&](int g) {
      if (g >= 0 && static_cast<size_t>(g) < groups.size() && groups[static_cast<size_t>(g)].data() != nullptr) {
        out->append(groups[static_cast<size_t>(g)].data(), groups[static_cast<size_t>(g)].size());
      }
    };
    if (num >= 0) {
      append_group(num);
    } else {
      for (const auto& [idx, nm] : names) {
        if (nm == name) {
          append_group(idx);
          break;
        }
      }
    }
  }
  out->append(tmpl);
  (void)src;
}

bool RegexReplace(CallEnv& env, Args a, bool literal, Value* out) {
  std::unique_ptr<RE2> holder;
  std::string err;
  const RE2* re = GetRegex(env, a[0].s, &holder, &err);
  if (re == nullptr) return Fail(env, err);
  std::string_view s = a[1].s, repl = a[2].s;
  std::string r;
  size_t last = 0;
  bool too_large = false;
  ForEachMatch(*re, s, -1, [&](size_t b, size_t e, const std::vector<re2::StringPiece>& g) {
    if (too_large) return;
    r.append(s.substr(last, b - last));
    if (literal) {
      r.append(repl);
    } else {
      Expand(*re, repl, s, g, &r);
    }
    last = e;
    if (r.size() > kMaxResult) too_large = true;
  });
  if (too_large) return Fail(env, "result exceeds " + std::to_string(kMaxResult) + " bytes");
  r.append(s.substr(last));
  *out = Str(std::move(r));
  return true;
}

// ---- encodings --------------------------------------------------------------------------

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string B64Encode(std::string_view s) {
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16 |
                 static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8 |
                 static_cast<unsigned char>(s[i + 2]);
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (i < s.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (i + 1 < s.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int B64Val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// encoding/base64 StdEncoding.DecodeString; on error returns false with the byte offset.
bool B64Decode(std::string_view src, std::string* out, size_t* bad) {
  size_t si = 0;
  for (;;) {
    int dbuf[4] = {0, 0, 0, 0};
    int dlen = 4;
    bool end = false;
    for (int j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return true;
        *bad = si - static_cast<size_t>(j);
        return false;
      }
      char in = src[si++];
      int v = B64Val(in);
      if (v >= 0) {
        dbuf[j] = v;
        continue;
      }
      if (in == '\n' || in == '\r') {
        --j;
        continue;
      }
      if (in != '=') {
        *bad = si - 1;
        return false;
      }
      switch (j) {
        case 0:
        case 1:
          *bad = si - 1;
          return false;
        case 2:
          while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
          if (si == src.size()) {
            *bad = src.size();
            return false;
          }
          if (src[si] != '=') {
            *bad = si - 1;
            return false;
          }
          ++si;
          break;
        default:
          break;
      }
      while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) ++si;
      if (si < src.size()) {
        *bad = si;
        return false;
      }
      dlen = j;
      end = true;
      break;
    }
    uint32_t v = static_cast<uint32_t>(dbuf[0]) << 18 | static_cast<uint32_t>(dbuf[1]) << 12 |
                 static_cast<uint32_t>(dbuf[2]) << 6 | static_cast<uint32_t>(dbuf[3]);
    if (dlen >= 2) out->push_back(static_cast<char>(v >> 16));
    if (dlen >= 3) out->push_back(static_cast<char>((v >> 8) & 0xFF));
    if (dlen >= 4) out->push_back(static_cast<char>(v & 0xFF));
    if (end) return true;
  }
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

bool QueryUnescape(std::string_view s, std::string* out, std::string* err) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() + 0 || HexDigit(s[i + 1]) < 0 || HexDigit(s[i + 2]) < 0) {
        std::string_view bad = s.substr(i, 3);
        std::string q;
        AppendQuoted(bad, false, &q);
        *err = "invalid URL escape " + q;
        return false;
      }
      out->push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out->push_back(' ');
    } else {
      out->push_back(s[i]);
    }
  }
  return true;
}

// SHA-256 (FIPS 180-4).
std::string Sha256Hex(std::string_view data) {
  static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::string msg(data);
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int s = 56; s >= 0; s -= 8) msg.push_back(static_cast<char>((bits >> s) & 0xFF));
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * t);
      w[t] = static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
             static_cast<uint32_t>(p[2]) << 8 | p[3];
    }
    for (int t = 16; t < 64; ++t) {
      uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; ++t) {
      uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + s1 + ch + k[t] + w[t];
      uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = s0 + maj;
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint32_t x : h) {
    for (int s = 28; s >= 0; s -= 4) out.push_back(kHex[(x >> s) & 15]);
  }
  return out;
}

// ---- time helpers -----------------------------------------------------------------------

Value Now(const CallEnv& env) {
  const Clock* clock = env.ctx->clock != nullptr ? env.ctx->clock : SystemClock::Default();
  return TimeFromUnixNanos(clock->NowNanos());
}

Value InUTC(const Value& t) { return TimeUTC(t.i, t.nsec); }

// time.LoadLocation for the zones we know; others fall back to UTC as Loki does on error.
void ZoneFor(std::string_view name, std::string_view* abbrev) {
  if (name == "GMT" || name == "Etc/GMT" || name == "Etc/Greenwich" || name == "Greenwich" ||
      name == "GMT0" || name == "Etc/GMT0" || name == "GMT+0" || name == "GMT-0") {
    *abbrev = "GMT";
  } else {
    *abbrev = "UTC";
  }
}

// ---- comparisons (text/template funcs.go) -------------------------------------------------

enum class BasicKind { kInvalid, kBool, kInt, kUint, kFloat, kString };

BasicKind KindOf(const Value& v) {
  switch (v.kind) {
    case Kind::kBool: return BasicKind::kBool;
    case Kind::kInt: return v.itype == IntType::kUint8 ? BasicKind::kUint : BasicKind::kInt;
    case Kind::kFloat: return BasicKind::kFloat;
    case Kind::kString: return BasicKind::kString;
    default: return BasicKind::kInvalid;
  }
}

bool IsNilish(const Value& v) { return v.kind == Kind::kInvalid || v.kind == Kind::kNil; }

bool Eq2(CallEnv& env, const Value& a, const Value& b, bool* truth) {
  BasicKind k1 = KindOf(a), k2 = KindOf(b);
  *truth = false;
  if (k1 != k2) {
    if ((k1 == BasicKind::kInt && k2 == BasicKind::kUint) ||
        (k1 == BasicKind::kUint && k2 == BasicKind::kInt)) {
      *truth = a.i == b.i;
      return true;
    }
    if (!IsNilish(a) && !IsNilish(b)) return Fail(env, "incompatible types for comparison");
    return true;
  }
  switch (k1) {
    case BasicKind::kBool: *truth = a.b == b.b; return true;
    case BasicKind::kInt:
    case BasicKind::kUint: *truth = a.i == b.i; return true;
    case BasicKind::kFloat: *truth = a.f == b.f; return true;
    case BasicKind::kString: *truth = a.s == b.s; return true;
    case BasicKind::kInvalid: break;
  }
  if (IsNilish(a) || IsNilish(b)) {
    *truth = IsNilish(a) && IsNilish(b);
    return true;
  }
  if (a.kind == Kind::kTime && b.kind == Kind::kTime) {
    *truth = a.i == b.i && a.nsec == b.nsec && a.offset == b.offset && a.s == b.s;
    return true;
  }
  if (a.kind != b.kind) {
    return Fail(env, "incompatible types for comparison");
  }
  return Fail(env, "non-comparable type " + std::string(TypeName(a)));
}

bool Lt2(CallEnv& env, const Value& a, const Value& b, bool* truth) {
  BasicKind k1 = KindOf(a), k2 = KindOf(b);
  *truth = false;
  if (k1 == BasicKind::kInvalid || k2 == BasicKind::kInvalid) {
    return Fail(env, "invalid type for comparison");
  }
  if (k1 != k2) {
    if ((k1 == BasicKind::kInt && k2 == BasicKind::kUint) ||
        (k1 == BasicKind::kUint && k2 == BasicKind::kInt)) {
      *truth = a.i < b.i;
      return true;
    }
    return Fail(env, "incompatible types for comparison");
  }
  switch (k1) {
    case BasicKind::kBool: return Fail(env, "invalid type for comparison");
    case BasicKind::kInt:
    case BasicKind::kUint: *truth = a.i < b.i; return true;
    case BasicKind::kFloat: *truth = a.f < b.f; return true;
    case BasicKind::kString: *truth = a.s < b.s; return true;
    case BasicKind::kInvalid: break;
  }
  return Fail(env, "invalid type for comparison");
}

size_t LabelCount(const CallEnv& env) {
  if (env.labels.each == nullptr) return 0;
  size_t n = 0;
  env.labels.each(
      env.labels.self, [](void* arg, std::string_view, std::string_view) { ++*static_cast<size_t*>(arg); },
      &n);
  return n;
}

// ---- implementations --------------------------------------------------------------------

#define FN(name) bool name(CallEnv& env, Args a, size_t n, Value* out)
#define UNUSED_ARGS (void)env, (void)a, (void)n, (void)out

FN(FnNot) {
  UNUSED_ARGS;
  *out = Value::Bool(!Truth(a[0]));
  return true;
}
FN(FnEq) {
  if (n < 2) return Fail(env, "missing argument for comparison");
  for (size_t k = 1; k < n; ++k) {
    bool t;
    if (!Eq2(env, a[0], a[k], &t)) return false;
    if (t) {
      *out = Value::Bool(true);
      return true;
    }
  }
  *out = Value::Bool(false);
  return true;
}
FN(FnNe) {
  UNUSED_ARGS;
  bool t;
  if (!Eq2(env, a[0], a[1], &t)) return false;
  *out = Value::Bool(!t);
  return true;
}
FN(FnLt) {
  UNUSED_ARGS;
  bool t;
  if (!Lt2(env, a[0], a[1], &t)) return false;
  *out = Value::Bool(t);
  return true;
}
FN(FnLe) {
  UNUSED_ARGS;
  bool t;
  if (!Lt2(env, a[0], a[1], &t)) return false;
  if (!t && !Eq2(env, a[0], a[1], &t)) return false;
  *out = Value::Bool(t);
  return true;
}
FN(FnGt) {
  Value le;
  if (!FnLe(env, a, n, &le)) return false;
  *out = Value::Bool(!le.b);
  return true;
}
FN(FnGe) {
  UNUSED_ARGS;
  bool t;
  if (!Lt2(env, a[0], a[1], &t)) return false;
  *out = Value::Bool(!t);
  return true;
}
FN(FnLen) {
  UNUSED_ARGS;
  const Value& v = a[0];
  switch (v.kind) {
    case Kind::kString: *out = Value::Int(static_cast<int64_t>(v.s.size())); return true;
    case Kind::kMap: *out = Value::Int(static_cast<int64_t>(v.map().size())); return true;
    case Kind::kList: *out = Value::Int(static_cast<int64_t>(v.list().size())); return true;
    case Kind::kLabels: *out = Value::Int(static_cast<int64_t>(LabelCount(env))); return true;
    case Kind::kNil: return Fail(env, "len of nil pointer");
    case Kind::kInvalid: return Fail(env, "reflect: call of reflect.Value.Type on zero Value");
    default: return Fail(env, "len of type " + std::string(TypeName(v)));
  }
}

bool IndexArg(CallEnv& env, const Value& idx, size_t cap, bool inclusive, size_t* x) {
  if (idx.kind == Kind::kInvalid || idx.kind == Kind::kNil) {
    return Fail(env, "cannot index slice/array with nil");
  }
  if (idx.kind != Kind::kInt) {
    return Fail(env, "cannot index slice/array with type " + std::string(TypeName(idx)));
  }
  if (idx.i < 0 || static_cast<uint64_t>(idx.i) > cap ||
      (!inclusive && static_cast<uint64_t>(idx.i) == cap)) {
    return Fail(env, "index out of range: " + std::to_string(idx.i));
  }
  *x = static_cast<size_t>(idx.i);
  return true;
}

FN(FnIndex) {
  Value item = a[0];
  if (item.kind == Kind::kInvalid) return Fail(env, "index of untyped nil");
  for (size_t k = 1; k < n; ++k) {
    const Value& idx = a[k];
    if (item.kind == Kind::kNil) return Fail(env, "index of nil pointer");
    size_t x;
    switch (item.kind) {
      case Kind::kList: {
        if (!IndexArg(env, idx, item.list().size(), false, &x)) return false;
        Value next = item.list()[x];
        if (!next.hold) next.hold = item.hold;
        item = std::move(next);
        break;
      }
      case Kind::kString: {
        if (!IndexArg(env, idx, item.s.size(), false, &x)) return false;
        item = Value::Int(static_cast<unsigned char>(item.s[x]), IntType::kUint8);
        break;
      }
      case Kind::kMap:
      case Kind::kLabels: {
        if (idx.kind != Kind::kString) {
          if (IsNilish(idx)) return Fail(env, "value is nil; should be of type string");
          return Fail(env, "value has type " + std::string(TypeName(idx)) + "; should be string");
        }
        if (item.kind == Kind::kLabels) {
          const std::string* v = env.ctx->label ? env.ctx->label(idx.s) : nullptr;
          item = Value::StringView(v != nullptr ? std::string_view(*v) : std::string_view());
          break;
        }
        const ValueMap& m = item.map();
        auto it = std::lower_bound(m.begin(), m.end(), idx.s,
                                   [](const auto& kv, std::string_view key) { return kv.first < key; });
        if (it != m.end() && it->first == idx.s) {
          Value next = it->second;
          if (!next.hold) next.hold = item.hold;
          item = std::move(next);
        } else {
          item = Value::Nil();
        }
        break;
      }
      default:
        return Fail(env, "can't index item of type " + std::string(TypeName(item)));
    }
  }
  *out = std::move(item);
  return true;
}

FN(FnSlice) {
  const Value& item = a[0];
  if (IsNilish(item)) return Fail(env, "slice of untyped nil");
  if (n - 1 > 3) return Fail(env, "too many slice indexes: " + std::to_string(n - 1));
  size_t len;
  if (item.kind == Kind::kString) {
    if (n - 1 == 3) return Fail(env, "cannot 3-index slice a string");
    len = item.s.size();
  } else if (item.kind == Kind::kList) {
    len = item.list().size();
  } else {
    return Fail(env, "can't slice item of type " + std::string(TypeName(item)));
  }
  size_t idx[3] = {0, len, len};
  for (size_t k = 1; k < n; ++k) {
    if (!IndexArg(env, a[k], len, true, &idx[k - 1])) return false;
  }
  if (idx[0] > idx[1]) {
    return Fail(env, "invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]));
  }
  if (n - 1 == 3 && idx[1] > idx[2]) {
    return Fail(env, "invalid slice index: " + std::to_string(idx[1]) + " > " + std::to_string(idx[2]));
  }
  if (item.kind == Kind::kString) {
    Value v = item;
    v.s = item.s.substr(idx[0], idx[1] - idx[0]);
    *out = std::move(v);
    return true;
  }
  auto list = std::make_shared<ValueList>(item.list().begin() + static_cast<std::ptrdiff_t>(idx[0]),
                                          item.list().begin() + static_cast<std::ptrdiff_t>(idx[1]));
  *out = Value::List(std::move(list), item.b);
  return true;
}

FN(FnPrint) {
  std::string s;
  AppendSprint(a, n, false, env.labels, &s);
  *out = Str(std::move(s));
  return true;
}
FN(FnPrintln) {
  std::string s;
  AppendSprint(a, n, true, env.labels, &s);
  *out = Str(std::move(s));
  return true;
}
FN(FnPrintf) {
  std::string s;
  AppendPrintf(a[0].s, a + 1, n - 1, env.labels, &s);
  if (ResultTooLarge(env, s.size())) return false;
  *out = Str(std::move(s));
  return true;
}

std::string EvalArgsString(const CallEnv& env, Args a, size_t n) {
  if (n == 1 && a[0].kind == Kind::kString) return std::string(a[0].s);
  std::string s;
  AppendSprint(a, n, false, env.labels, &s);
  return s;
}

FN(FnHtml) {
  std::string s = EvalArgsString(env, a, n), r;
  for (char c : s) {
    switch (c) {
      case '"': r += "&#34;"; break;
      case '\'': r += "&#39;"; break;
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '\0': r += "\xEF\xBF\xBD"; break;
      default: r.push_back(c);
    }
  }
  *out = Str(std::move(r));
  return true;
}
FN(FnJs) {
  std::string s = EvalArgsString(env, a, n), r;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.size();) {
    uint32_t c;
    int w = DecodeRune(s, i, &c);
    switch (c) {
      case '\\': r += "\\\\"; break;
      case '\'': r += "\\'"; break;
      case '"': r += "\\\""; break;
      case '<': r += "\\u003C"; break;
      case '>': r += "\\u003E"; break;
      case '&': r += "\\u0026"; break;
      case '=': r += "\\u003D"; break;
      default:
        if (c < ' ') {
          r += "\\u00";
          r.push_back(kHex[c >> 4]);
          r.push_back(kHex[c & 15]);
        } else {
          r.append(s, i, static_cast<size_t>(w));
        }
    }
    i += static_cast<size_t>(w);
  }
  *out = Str(std::move(r));
  return true;
}
FN(FnUrlquery) {
  *out = Str(QueryEscape(EvalArgsString(env, a, n)));
  return true;
}

// strings.* (Loki's deprecated capitalised names).
FN(FnToLower) {
  UNUSED_ARGS;
  *out = Str(CaseMap(a[0].s, false));
  return true;
}
FN(FnToUpper) {
  UNUSED_ARGS;
  *out = Str(CaseMap(a[0].s, true));
  return true;
}
FN(FnReplaceN) {
  UNUSED_ARGS;
  return StringsReplace(env, a[0].s, a[1].s, a[2].s, a[3].i, out);
}
FN(FnTrimCut) {
  UNUSED_ARGS;
  Value v = a[0];
  v.s = TrimRight(TrimLeft(a[0].s, a[1].s), a[1].s);
  *out = std::move(v);
  return true;
}
FN(FnTrimLeftCut) {
  UNUSED_ARGS;
  Value v = a[0];
  v.s = TrimLeft(a[0].s, a[1].s);
  *out = std::move(v);
  return true;
}
FN(FnTrimRightCut) {
  UNUSED_ARGS;
  Value v = a[0];
  v.s = TrimRight(a[0].s, a[1].s);
  *out = std::move(v);
  return true;
}
// TrimPrefix(s, prefix) / TrimSuffix(s, suffix)
FN(FnTrimPrefixGo) {
  UNUSED_ARGS;
  Value v = a[0];
  if (v.s.substr(0, a[1].s.size()) == a[1].s) v.s.remove_prefix(a[1].s.size());
  *out = std::move(v);
  return true;
}
FN(FnTrimSuffixGo) {
  UNUSED_ARGS;
  Value v = a[0];
  if (v.s.size() >= a[1].s.size() && v.s.substr(v.s.size() - a[1].s.size()) == a[1].s) {
    v.s.remove_suffix(a[1].s.size());
  }
  *out = std::move(v);
  return true;
}
FN(FnTrimSpace) {
  UNUSED_ARGS;
  Value v = a[0];
  v.s = TrimSpace(a[0].s);
  *out = std::move(v);
  return true;
}

// sprig string functions (argument order: the source string last).
FN(FnTitle) {
  UNUSED_ARGS;
  *out = Str(Title(a[0].s));
  return true;
}
FN(FnTrunc) {
  UNUSED_ARGS;
  int64_t c = a[0].i;
  auto r = Runes(a[1].s);
  int64_t l = static_cast<int64_t>(r.size());
  if (c < 0 && l + c > 0) {
    *out = Str(FromRunes(r, static_cast<size_t>(l + c), r.size()));
  } else if (c >= 0 && l > c) {
    *out = Str(FromRunes(r, 0, static_cast<size_t>(c)));
  } else {
    *out = a[1];
  }
  return true;
}
FN(FnSubstr) {
  UNUSED_ARGS;
  int64_t start = a[0].i, end = a[1].i;
  auto r = Runes(a[2].s);
  int64_t l = static_cast<int64_t>(r.size());
  if (end > l) end = l;
  if (start > l) start = l;
  if (start < 0) {
    *out = end < 0 ? Value::StringView("") : Str(FromRunes(r, 0, static_cast<size_t>(end)));
    return true;
  }
  if (end < 0) {
    *out = Str(FromRunes(r, static_cast<size_t>(start), r.size()));
    return true;
  }
  if (start > end) {
    *out = Value::StringView("");
    return true;
  }
  *out = Str(FromRunes(r, static_cast<size_t>(start), static_cast<size_t>(end)));
  return true;
}
FN(FnContains) {
  UNUSED_ARGS;
  *out = Value::Bool(a[1].s.find(a[0].s) != std::string_view::npos);
  return true;
}
FN(FnHasPrefix) {
  UNUSED_ARGS;
  *out = Value::Bool(a[1].s.substr(0, a[0].s.size()) == a[0].s);
  return true;
}
FN(FnHasSuffix) {
  UNUSED_ARGS;
  *out = Value::Bool(a[1].s.size() >= a[0].s.size() &&
                     a[1].s.substr(a[1].s.size() - a[0].s.size()) == a[0].s);
  return true;
}
bool Indent(CallEnv& env, int64_t spaces, std::string_view v, bool leading_newline, Value* out) {
  std::string pad;
  if (!Repeat(env, " ", spaces, &pad)) return false;
  size_t lines = static_cast<size_t>(std::count(v.begin(), v.end(), '\n')) + 1;
  if (ResultTooLarge(env, v.size() + lines * pad.size() + 1)) return false;
  std::string r;
  if (leading_newline) r.push_back('\n');
  r += pad;
  for (char c : v) {
    r.push_back(c);
    if (c == '\n') r += pad;
  }
  *out = Str(std::move(r));
  return true;
}
FN(FnIndent) {
  UNUSED_ARGS;
  return Indent(env, a[0].i, a[1].s, false, out);
}
FN(FnNindent) {
  UNUSED_ARGS;
  return Indent(env, a[0].i, a[1].s, true, out);
}
FN(FnReplace) {
  UNUSED_ARGS;
  return StringsReplace(env, a[2].s, a[0].s, a[1].s, -1, out);
}
FN(FnRepeat) {
  UNUSED_ARGS;
  std::string r;
  if (!Repeat(env, a[1].s, a[0].i, &r)) return false;
  *out = Str(std::move(r));
  return true;
}
FN(FnTrimAll) {
  UNUSED_ARGS;
  Value v = a[1];
  v.s = TrimRight(TrimLeft(a[1].s, a[0].s), a[0].s);
  *out = std::move(v);
  return true;
}
FN(FnTrimPrefixSprig) {
  Value args[2] = {a[1], a[0]};
  return FnTrimPrefixGo(env, args, n, out);
}
FN(FnTrimSuffixSprig) {
  Value args[2] = {a[1], a[0]};
  return FnTrimSuffixGo(env, args, n, out);
}
FN(FnAlignLeft) {
  UNUSED_ARGS;
  int64_t count = a[0].i;
  auto r = Runes(a[1].s);
  int64_t l = static_cast<int64_t>(r.size());
  if (count < 0 || count == l) {
    *out = a[1];
    return true;
  }
  if (count > l) {
    if (ResultTooLarge(env, a[1].s.size() + static_cast<size_t>(count - l))) return false;
    std::string s(a[1].s);
    s.append(static_cast<size_t>(count - l), ' ');
    *out = Str(std::move(s));
    return true;
  }
  *out = Str(FromRunes(r, 0, static_cast<size_t>(count)));
  return true;
}
FN(FnAlignRight) {
  UNUSED_ARGS;
  int64_t count = a[0].i;
  auto r = Runes(a[1].s);
  int64_t l = static_cast<int64_t>(r.size());
  if (count < 0 || count == l) {
    *out = a[1];
    return true;
  }
  if (count > l) {
    if (ResultTooLarge(env, a[1].s.size() + static_cast<size_t>(count - l))) return false;
    std::string s(static_cast<size_t>(count - l), ' ');
    s.append(a[1].s);
    *out = Str(std::move(s));
    return true;
  }
  *out = Str(FromRunes(r, static_cast<size_t>(l - count), r.size()));
  return true;
}

// Regexes.
FN(FnRegexReplaceAll) {
  UNUSED_ARGS;
  return RegexReplace(env, a, false, out);
}
FN(FnRegexReplaceAllLiteral) {
  UNUSED_ARGS;
  return RegexReplace(env, a, true, out);
}
FN(FnCount) {
  UNUSED_ARGS;
  std::unique_ptr<RE2> holder;
  std::string err;
  const RE2* re = GetRegex(env, a[0].s, &holder, &err);
  if (re == nullptr) return Fail(env, err);
  int64_t c = 0;
  ForEachMatch(*re, a[1].s, -1, [&](size_t, size_t, const std::vector<re2::StringPiece>&) { ++c; });
  *out = Value::Int(c);
  return true;
}
FN(FnRegexMatch) {
  UNUSED_ARGS;
  std::unique_ptr<RE2> holder;
  std::string err;
  const RE2* re = GetRegex(env, a[0].s, &holder, &err);
  *out = Value::Bool(re != nullptr &&
                     RE2::PartialMatch(re2::StringPiece(a[1].s.data(), a[1].s.size()), *re));
  return true;
}
FN(FnRegexFind) {
  UNUSED_ARGS;
  std::unique_ptr<RE2> holder;
  std::string err;
  const RE2* re = GetRegex(env, a[0].s, &holder, &err);
  if (re == nullptr) return Fail(env, "regexp: Compile(`" + std::string(a[0].s) + "`): " + err);
  Value v = a[1];
  v.s = std::string_view();
  ForEachMatch(*re, a[1].s, 1, [&](size_t b, size_t e, const std::vector<re2::StringPiece>&) {
    v.s = a[1].s.substr(b, e - b);
  });
  *out = std::move(v);
  return true;
}
FN(FnRegexFindAll) {
  UNUSED_ARGS;
  std::unique_ptr<RE2> holder;
  std::string err;
  const RE2* re = GetRegex(env, a[0].s, &holder, &err);
  if (re == nullptr) return Fail(env, "regexp: Compile(`" + std::string(a[0].s) + "`): " + err);
  auto list = std::make_shared<ValueList>();
  auto src = std::make_shared<const std::string>(a[1].s);
  std::string_view sv = *src;
  int limit = a[2].i < 0 ? -1 : static_cast<int>(std::min<int64_t>(a[2].i, 1 << 30));
  ForEachMatch(*re, sv, limit, [&](size_t b, size_t e, const std::vector<re2::StringPiece>&) {
    Value s = Value::StringView(sv.substr(b, e - b));
    s.hold = src;
    list->push_back(std::move(s));
  });
  *out = Value::List(std::move(list), /*strings=*/true);
  return true;
}

// Conversions and math (sprig).
FN(FnInt) {
  UNUSED_ARGS;
  *out = Value::Int(ToInt64(a[0]));
  return true;
}
FN(FnFloat64) {
  UNUSED_ARGS;
  *out = Value::Float(ToFloat64(a[0]));
  return true;
}
FN(FnAdd) {
  UNUSED_ARGS;
  int64_t s = 0;
  for (size_t k = 0; k < n; ++k) s = WrapAdd(s, ToInt64(a[k]));
  *out = Value::Int(s, IntType::kInt64);
  return true;
}
FN(FnSub) {
  UNUSED_ARGS;
  *out = Value::Int(WrapSub(ToInt64(a[0]), ToInt64(a[1])), IntType::kInt64);
  return true;
}
FN(FnMul) {
  UNUSED_ARGS;
  int64_t p = ToInt64(a[0]);
  for (size_t k = 1; k < n; ++k) p = WrapMul(p, ToInt64(a[k]));
  *out = Value::Int(p, IntType::kInt64);
  return true;
}
FN(FnDiv) {
  UNUSED_ARGS;
  int64_t x = ToInt64(a[0]), y = ToInt64(a[1]);
  if (y == 0) return Fail(env, "runtime error: integer divide by zero");
  *out = Value::Int(y == -1 ? WrapSub(0, x) : x / y, IntType::kInt64);
  return true;
}
FN(FnMod) {
  UNUSED_ARGS;
  int64_t x = ToInt64(a[0]), y = ToInt64(a[1]);
  if (y == 0) return Fail(env, "runtime error: integer divide by zero");
  *out = Value::Int(y == -1 ? 0 : x % y, IntType::kInt64);
  return true;
}
FN(FnMax) {
  UNUSED_ARGS;
  int64_t m = ToInt64(a[0]);
  for (size_t k = 1; k < n; ++k) m = std::max(m, ToInt64(a[k]));
  *out = Value::Int(m, IntType::kInt64);
  return true;
}
FN(FnMin) {
  UNUSED_ARGS;
  int64_t m = ToInt64(a[0]);
  for (size_t k = 1; k < n; ++k) m = std::min(m, ToInt64(a[k]));
  *out = Value::Int(m, IntType::kInt64);
  return true;
}
FN(FnAddf) {
  double r;
  Value zero = Value::Float(0);
  if (!DecimalFold(env, zero, a, n, DecOp::kAdd, &r)) return false;
  *out = Value::Float(r);
  return true;
}
FN(FnSubf) {
  double r;
  if (!DecimalFold(env, a[0], a + 1, n - 1, DecOp::kSub, &r)) return false;
  *out = Value::Float(r);
  return true;
}
FN(FnMulf) {
  double r;
  if (!DecimalFold(env, a[0], a + 1, n - 1, DecOp::kMul, &r)) return false;
  *out = Value::Float(r);
  return true;
}
FN(FnDivf) {
  double r;
  if (!DecimalFold(env, a[0], a + 1, n - 1, DecOp::kDiv, &r)) return false;
  *out = Value::Float(r);
  return true;
}
FN(FnMaxf) {
  UNUSED_ARGS;
  double m = ToFloat64(a[0]);
  for (size_t k = 1; k < n; ++k) m = std::fmax(m, ToFloat64(a[k]));
  *out = Value::Float(m);
  return true;
}
FN(FnMinf) {
  UNUSED_ARGS;
  double m = ToFloat64(a[0]);
  for (size_t k = 1; k < n; ++k) m = std::fmin(m, ToFloat64(a[k]));
  *out = Value::Float(m);
  return true;
}
FN(FnCeil) {
  UNUSED_ARGS;
  *out = Value::Float(std::ceil(ToFloat64(a[0])));
  return true;
}
FN(FnFloor) {
  UNUSED_ARGS;
  *out = Value::Float(std::floor(ToFloat64(a[0])));
  return true;
}
FN(FnRound) {
  UNUSED_ARGS;
  double round_on = n > 2 ? a[2].f : 0.5;
  double val = ToFloat64(a[0]);
  double pow = std::pow(10.0, static_cast<double>(a[1].i));
  double digit = pow * val;
  double intpart;
  double frac = std::modf(digit, &intpart);
  double r = frac >= round_on ? std::ceil(digit) : std::floor(digit);
  *out = Value::Float(r / pow);
  return true;
}

// Encodings.
FN(FnB64enc) {
  UNUSED_ARGS;
  *out = Str(B64Encode(a[0].s));
  return true;
}
FN(FnB64dec) {
  UNUSED_ARGS;
  std::string r;
  size_t bad = 0;
  if (!B64Decode(a[0].s, &r, &bad)) {
    // sprig returns the error text as the value.
    *out = Str("illegal base64 data at input byte " + std::to_string(bad));
    return true;
  }
  *out = Str(std::move(r));
  return true;
}
FN(FnUrlencode) {
  UNUSED_ARGS;
  *out = Str(QueryEscape(a[0].s));
  return true;
}
FN(FnUrldecode) {
  UNUSED_ARGS;
  std::string r, err;
  if (!QueryUnescape(a[0].s, &r, &err)) return Fail(env, err);
  *out = Str(std::move(r));
  return true;
}
FN(FnSha256) {
  UNUSED_ARGS;
  *out = Str(Sha256Hex(a[0].s));
  return true;
}
FN(FnFromJson) {
  UNUSED_ARGS;
  *out = ParseJson(a[0].s);
  return true;
}
FN(FnDefault) {
  UNUSED_ARGS;
  if (n < 2 || !Truth(a[1])) {
    *out = a[0];
  } else {
    *out = a[1];
  }
  return true;
}

// Loki's humanized conversions.
FN(FnBytes) {
  UNUSED_ARGS;
  std::string_view s = a[0].s;
  size_t last = 0;
  bool comma = false;
  while (last < s.size()) {
    uint32_t r;
    int w = DecodeRune(s, last, &r);
    if (!((r >= '0' && r <= '9') || r == '.' || r == ',')) break;
    if (r == ',') comma = true;
    last += static_cast<size_t>(w);
  }
  std::string num(s.substr(0, last));
  if (comma) num.erase(std::remove(num.begin(), num.end(), ','), num.end());
  double f;
  if (!GoParseFloat(num, &f)) {
    std::string q;
    AppendQuoted(num, false, &q);
    return Fail(env, "strconv.ParseFloat: parsing " + q + ": invalid syntax");
  }
  std::string extra(TrimSpace(s.substr(last)));
  for (char& c : extra) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  static const std::pair<std::string_view, double> kTable[] = {
      {"b", 1},          {"", 1},           {"kib", 0x1p10},   {"ki", 0x1p10},
      {"kb", 1e3},       {"k", 1e3},        {"mib", 0x1p20},   {"mi", 0x1p20},
      {"mb", 1e6},       {"m", 1e6},        {"gib", 0x1p30},   {"gi", 0x1p30},
      {"gb", 1e9},       {"g", 1e9},        {"tib", 0x1p40},   {"ti", 0x1p40},
      {"tb", 1e12},      {"t", 1e12},       {"pib", 0x1p50},   {"pi", 0x1p50},
      {"pb", 1e15},      {"p", 1e15},       {"eib", 0x1p60},   {"ei", 0x1p60},
      {"eb", 1e18},      {"e", 1e18},
  };
  for (const auto& [unit, mult] : kTable) {
    if (extra == unit) {
      f *= mult;
      if (f >= 18446744073709551615.0) return Fail(env, "too large: " + std::string(s));
      *out = Value::Float(static_cast<double>(static_cast<uint64_t>(f)));
      return true;
    }
  }
  return Fail(env, "unhandled size name: " + extra);
}



FN(FnDuration) {
  UNUSED_ARGS;
  int64_t ns = 0;
  std::string err;
  if (!gocompat::ParseDuration(a[0].s, &ns, &err)) return Fail(env, err);
  int64_t sec = ns / 1000000000, nsec = ns % 1000000000;
  *out = Value::Float(static_cast<double>(sec) + static_cast<double>(nsec) / 1e9);
  return true;
}

// Dates.
FN(FnLine) {
  UNUSED_ARGS;
  *out = Value::StringView(env.ctx->line);
  return true;
}
FN(FnTimestamp) {
  UNUSED_ARGS;
  *out = TimeFromUnixNanos(env.ctx->timestamp_ns);
  return true;
}
FN(FnNow) {
  UNUSED_ARGS;
  *out = Now(env);
  return true;
}
FN(FnDate) {
  UNUSED_ARGS;
  Value t;
  const Value& d = a[1];
  if (d.kind == Kind::kTime) {
    t = d;
  } else if (d.kind == Kind::kInt && d.itype != IntType::kUint8) {
    t = TimeUTC(d.i, 0);
  } else {
    t = Now(env);
  }
  std::string s;
  FormatTime(InUTC(t), a[0].s, &s);
  if (ResultTooLarge(env, s.size())) return false;
  *out = Str(std::move(s));
  return true;
}
FN(FnToDate) {
  UNUSED_ARGS;
  std::string err;
  if (!ParseTime(a[0].s, a[1].s, "UTC", 0, out, &err)) *out = ZeroTime();
  return true;
}
FN(FnToDateInZone) {
  UNUSED_ARGS;
  std::string_view abbrev;
  ZoneFor(a[1].s, &abbrev);
  std::string err;
  if (!ParseTime(a[0].s, a[2].s, abbrev, 0, out, &err)) *out = ZeroTime();
  return true;
}
FN(FnUnixEpoch) {
  UNUSED_ARGS;
  *out = Str(std::to_string(a[0].i));
  return true;
}
FN(FnUnixEpochMillis) {
  UNUSED_ARGS;
  *out = Str(std::to_string(WrapAdd(WrapMul(a[0].i, 1000), a[0].nsec / 1000000)));
  return true;
}
FN(FnUnixEpochNanos) {
  UNUSED_ARGS;
  *out = Str(std::to_string(WrapAdd(WrapMul(a[0].i, 1000000000), a[0].nsec)));
  return true;
}
FN(FnUnixToTime) {
  UNUSED_ARGS;
  std::string_view epoch = a[0].s;
  int64_t v = 0;
  bool ok = !epoch.empty();
  {
    std::string_view d = epoch;
    bool neg = false;
    if (!d.empty() && (d[0] == '-' || d[0] == '+')) {
      neg = d[0] == '-';
      d.remove_prefix(1);
    }
    if (d.empty()) ok = false;
    uint64_t u = 0;
    for (char c : d) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      if (u > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
        ok = false;
        break;
      }
      u = u * 10 + static_cast<uint64_t>(c - '0');
    }
    if (ok && (neg ? u > (uint64_t{1} << 63) : u >= (uint64_t{1} << 63))) ok = false;
    if (ok) v = neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u);
  }
  std::string q;
  AppendQuoted(epoch, false, &q);
  if (!ok) {
    return Fail(env, "unable to parse time '" + std::string(epoch) +
                         "': strconv.ParseInt: parsing " + q + ": invalid syntax");
  }
  switch (epoch.size()) {
    case 5: *out = TimeUTC(WrapMul(v, 86400), 0); return true;
    case 10: *out = TimeUTC(v, 0); return true;
    case 13: *out = TimeFromUnixNanos(WrapMul(v, 1000000)); return true;
    case 16: *out = TimeFromUnixNanos(WrapMul(v, 1000)); return true;
    case 19: *out = TimeFromUnixNanos(v); return true;
    default:
      return Fail(env, "unable to parse time '" + std::string(epoch) + "': %!w(<nil>)");
  }
}

#undef FN
#undef UNUSED_ARGS

constexpr Param S = Param::kString;
constexpr Param I = Param::kInt;
constexpr Param F = Param::kFloat;
constexpr Param T = Param::kTime;
constexpr Param A = Param::kAny;
constexpr Param R = Param::kReflect;

FuncDef Def(std::string_view name, std::initializer_list<Param> params, FuncImpl impl,
            bool variadic = false) {
  FuncDef d;
  d.name = name;
  size_t k = 0;
  for (Param p : params) d.params[k++] = p;
  d.nparams = static_cast<uint8_t>(k);
  d.variadic = variadic;
  d.impl = impl;
  return d;
}

FuncDef Regex(FuncDef d) {
  d.regex_first = true;
  return d;
}

FuncDef Special(FuncDef d, FuncDef::Special s) {
  d.special = s;
  return d;
}

const std::vector<FuncDef>& Table() {
  static const std::vector<FuncDef> table = [] {
    std::vector<FuncDef> t = {
        // Go builtins.
        Special(Def("and", {R, R}, nullptr, true), FuncDef::Special::kAnd),
        Special(Def("or", {R, R}, nullptr, true), FuncDef::Special::kOr),
        Def("not", {R}, FnNot),
        Def("eq", {R, R}, FnEq, true),
        Def("ne", {R, R}, FnNe),
        Def("lt", {R, R}, FnLt),
        Def("le", {R, R}, FnLe),
        Def("gt", {R, R}, FnGt),
        Def("ge", {R, R}, FnGe),
        Def("len", {R}, FnLen),
        Def("index", {R, R}, FnIndex, true),
        Def("slice", {R, R}, FnSlice, true),
        Def("print", {A}, FnPrint, true),
        Def("println", {A}, FnPrintln, true),
        Def("printf", {S, A}, FnPrintf, true),
        Def("html", {A}, FnHtml, true),
        Def("js", {A}, FnJs, true),
        Def("urlquery", {A}, FnUrlquery, true),
        // Loki: line and timestamp of the entry.
        Def("__line__", {}, FnLine),
        Def("__timestamp__", {}, FnTimestamp),
        // Loki: Go strings functions (deprecated names).
        Def("ToLower", {S}, FnToLower),
        Def("ToUpper", {S}, FnToUpper),
        Def("Replace", {S, S, S, I}, FnReplaceN),
        Def("Trim", {S, S}, FnTrimCut),
        Def("TrimLeft", {S, S}, FnTrimLeftCut),
        Def("TrimRight", {S, S}, FnTrimRightCut),
        Def("TrimPrefix", {S, S}, FnTrimPrefixGo),
        Def("TrimSuffix", {S, S}, FnTrimSuffixGo),
        Def("TrimSpace", {S}, FnTrimSpace),
        // Loki: regexes, URLs, conversions, dates.
        Regex(Def("regexReplaceAll", {S, S, S}, FnRegexReplaceAll)),
        Regex(Def("regexReplaceAllLiteral", {S, S, S}, FnRegexReplaceAllLiteral)),
        Regex(Def("count", {S, S}, FnCount)),
        Regex(Def("regexMatch", {S, S}, FnRegexMatch)),
        Regex(Def("regexFind", {S, S}, FnRegexFind)),
        Regex(Def("regexFindAll", {S, S, I}, FnRegexFindAll)),
        Def("urldecode", {S}, FnUrldecode),
        Def("urlencode", {S}, FnUrlencode),
        Def("bytes", {S}, FnBytes),
        Def("duration", {S}, FnDuration),
        Def("duration_seconds", {S}, FnDuration),
        Def("unixEpochMillis", {T}, FnUnixEpochMillis),
        Def("unixEpochNanos", {T}, FnUnixEpochNanos),
        Def("toDateInZone", {S, S, S}, FnToDateInZone),
        Def("unixToTime", {S}, FnUnixToTime),
        Def("alignLeft", {I, S}, FnAlignLeft),
        Def("alignRight", {I, S}, FnAlignRight),
        Def("sha256", {S}, FnSha256),
        // sprig functions Loki exposes.
        Def("b64enc", {S}, FnB64enc),
        Def("b64dec", {S}, FnB64dec),
        Def("lower", {S}, FnToLower),
        Def("upper", {S}, FnToUpper),
        Def("title", {S}, FnTitle),
        Def("trunc", {I, S}, FnTrunc),
        Def("substr", {I, I, S}, FnSubstr),
        Def("contains", {S, S}, FnContains),
        Def("hasPrefix", {S, S}, FnHasPrefix),
        Def("hasSuffix", {S, S}, FnHasSuffix),
        Def("indent", {I, S}, FnIndent),
        Def("nindent", {I, S}, FnNindent),
        Def("replace", {S, S, S}, FnReplace),
        Def("repeat", {I, S}, FnRepeat),
        Def("trim", {S}, FnTrimSpace),
        Def("trimAll", {S, S}, FnTrimAll),
        Def("trimSuffix", {S, S}, FnTrimSuffixSprig),
        Def("trimPrefix", {S, S}, FnTrimPrefixSprig),
        Def("int", {A}, FnInt),
        Def("float64", {A}, FnFloat64),
        Def("add", {A}, FnAdd, true),
        Def("sub", {A, A}, FnSub),
        Def("mul", {A, A}, FnMul, true),
        Def("div", {A, A}, FnDiv),
        Def("mod", {A, A}, FnMod),
        Def("addf", {A}, FnAddf, true),
        Def("subf", {A, A}, FnSubf, true),
        Def("mulf", {A, A}, FnMulf, true),
        Def("divf", {A, A}, FnDivf, true),
        Def("max", {A, A}, FnMax, true),
        Def("min", {A, A}, FnMin, true),
        Def("maxf", {A, A}, FnMaxf, true),
        Def("minf", {A, A}, FnMinf, true),
        Def("ceil", {A}, FnCeil),
        Def("floor", {A}, FnFloor),
        Def("round", {A, I, F}, FnRound, true),
        Def("fromJson", {S}, FnFromJson),
        Def("date", {S, A}, FnDate),
        Def("toDate", {S, S}, FnToDate),
        Def("now", {}, FnNow),
        Def("unixEpoch", {T}, FnUnixEpoch),
        Def("default", {A, A}, FnDefault, true),
    };
    std::sort(t.begin(), t.end(), [](const FuncDef& x, const FuncDef& y) { return x.name < y.name; });
    return t;
  }();
  return table;
}

}  // namespace

std::string_view ParamTypeName(Param p) {
  switch (p) {
    case Param::kString: return "string";
    case Param::kInt: return "int";
    case Param::kFloat: return "float64";
    case Param::kBool: return "bool";
    case Param::kTime: return "time.Time";
    case Param::kAny: return "interface {}";
    case Param::kReflect: return "reflect.Value";
  }
  return "?";
}

const FuncDef* FindFunc(std::string_view name) {
  const auto& t = Table();
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const FuncDef& d, std::string_view n) { return d.name < n; });
  if (it == t.end() || it->name != name) return nullptr;
  return &*it;
}

bool Truth(const Value& v) {
  switch (v.kind) {
    case Kind::kInvalid:
    case Kind::kNil:
      return false;
    case Kind::kBool:
      return v.b;
    case Kind::kInt:
      return v.i != 0;
    case Kind::kFloat:
      return v.f != 0;
    case Kind::kString:
      return !v.s.empty();
    case Kind::kTime:
      return true;
    case Kind::kMap:
      return !v.map().empty();
    case Kind::kList:
      return !v.list().empty();
    case Kind::kLabels:
      return true;
  }
  return false;
}

}  // namespace logq::pipeline::tmpl
