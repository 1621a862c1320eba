#include "query/pipeline/go_compat.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "query/model/labels.h"

namespace logq::pipeline::gocompat {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Length of the common prefix of s and `word`, ignoring ASCII case.
size_t CommonPrefixIgnoreCase(std::string_view s, std::string_view word) {
  size_t n = 0;
  while (n < s.size() && n < word.size() && Lower(s[n]) == word[n]) ++n;
  return n;
}

std::string FloatError(std::string_view s, std::string_view what) {
  std::string e = "strconv.ParseFloat: parsing ";
  AppendGoQuoted(s, &e);
  e += ": ";
  e += what;
  return e;
}

// Syntax check of Go's readFloat for the whole string (no underscores: Go accepts them only
// after a base prefix, which LogQL values never carry). Sets *hex for 0x floats.
bool ValidFloatSyntax(std::string_view s, bool* hex) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  *hex = false;
  if (i + 2 <= s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    *hex = true;
    i += 2;
  }
  bool saw_digits = false, saw_dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (saw_dot) return false;
      saw_dot = true;
    } else if (*hex ? IsHex(c) : IsDigit(c)) {
      saw_digits = true;
    } else {
      break;
    }
  }
  if (!saw_digits) return false;
  const char exp_lo = *hex ? 'p' : 'e';
  if (i < s.size() && Lower(s[i]) == exp_lo) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  } else if (*hex) {
    return false;  // hexadecimal mantissa requires a 'p' exponent
  }
  return i == s.size();
}

}  // namespace

bool ParseFloat(std::string_view s, double* out, std::string* err) {
  *out = 0;
  // Go's special(): [+-]inf, [+-]infinity, nan (any case), consuming the whole string.
  if (!s.empty()) {
    size_t sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    std::string_view rest = s.substr(sign);
    if (!rest.empty() && (rest[0] == 'i' || rest[0] == 'I')) {
      size_t n = CommonPrefixIgnoreCase(rest, "infinity");
      if (n > 3 && n < 8) n = 3;
      if ((n == 3 || n == 8) && sign + n == s.size()) {
        *out = s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
      }
    } else if (sign == 0 && CommonPrefixIgnoreCase(rest, "nan") == 3 && s.size() == 3) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
  }
  bool hex = false;
  if (!ValidFloatSyntax(s, &hex)) {
    if (err) *err = FloatError(s, "invalid syntax");
    return false;
  }
  const bool neg = s[0] == '-';
  std::string_view body = s.substr((s[0] == '+' || s[0] == '-') ? 1 : 0);
  double v = 0;
  std::from_chars_result r;
  if (hex) {
    body.remove_prefix(2);
    r = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::hex);
  } else {
    r = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  }
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow is an error in Go; underflow rounds to zero (or a denormal) silently.
    std::string tmp(hex ? "0x" : "");
    tmp.append(body);
    v = std::strtod(tmp.c_str(), nullptr);
    if (std::isinf(v)) {
      *out = neg ? -v : v;
      if (err) *err = FloatError(s, "value out of range");
      return false;
    }
  } else if (r.ec != std::errc() || r.ptr != body.data() + body.size()) {
    if (err) *err = FloatError(s, "invalid syntax");
    return false;
  }
  *out = neg ? -v : v;
  return true;
}

std::string TimeQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 || c < ' ') {
      // Go escapes the bytes of every non-ASCII or control rune as \xNN.
      size_t width = 1;
      if (c >= 0x80) {
        size_t want = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        bool ok = want > 1 && i + want <= s.size();
        for (size_t k = 1; ok && k < want; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        width = ok ? want : 1;
      }
      for (size_t j = 0; j < width; ++j) {
        unsigned char b = static_cast<unsigned char>(s[i + j]);
        out += "\\x";
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
      i += width;
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<char>(c);
    ++i;
  }
  out += '"';
  return out;
}

namespace {

constexpr uint64_t kNanosecond = 1;
constexpr uint64_t kMicrosecond = 1000 * kNanosecond;
constexpr uint64_t kMillisecond = 1000 * kMicrosecond;
constexpr uint64_t kSecond = 1000 * kMillisecond;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kHour = 60 * kMinute;

bool UnitOf(std::string_view u, uint64_t* unit) {
  if (u == "ns") *unit = kNanosecond;
  else if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") *unit = kMicrosecond;  // µs (U+00B5), μs (U+03BC)
  else if (u == "ms") *unit = kMillisecond;
  else if (u == "s") *unit = kSecond;
  else if (u == "m") *unit = kMinute;
  else if (u == "h") *unit = kHour;
  else return false;
  return true;
}

}  // namespace

bool ParseDuration(std::string_view orig, int64_t* nanos, std::string* err) {
  *nanos = 0;
  auto invalid = [&] {
    if (err) *err = "time: invalid duration " + TimeQuote(orig);
    return false;
  };
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return true;
  if (s.empty()) return invalid();
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return invalid();
    // leadingInt
    size_t i = 0;
    uint64_t v = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (v > kMax / 10) return invalid();  // overflow
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return invalid();
    }
    const bool pre = i != 0;
    s.remove_prefix(i);
    // leadingFraction
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (kMax - 1) / 10) {
          overflow = true;  // further digits are ignored
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kMax) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j != 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) ++u;
    if (u == 0) {
      if (err) *err = "time: missing unit in duration " + TimeQuote(orig);
      return false;
    }
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    if (!UnitOf(unit_name, &unit)) {
      if (err) *err = "time: unknown unit " + TimeQuote(unit_name) + " in duration " + TimeQuote(orig);
      return false;
    }
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    d += v;
    if (d > kMax) return invalid();
  }
  if (neg) {
    *nanos = static_cast<int64_t>(0 - d);  // d <= 2^63: wraps to the right negative value
    return true;
  }
  if (d > kMax - 1) return invalid();
  *nanos = static_cast<int64_t>(d);
  return true;
}

double DurationSeconds(int64_t nanos) {
  const int64_t sec = nanos / 1000000000;
  const int64_t nsec = nanos % 1000000000;
  return static_cast<double>(sec) + static_cast<double>(nsec) / 1e9;
}

bool ParseBytes(std::string_view s, uint64_t* out, std::string* err) {
  *out = 0;
  size_t last_digit = 0;
  bool has_comma = false;
  while (last_digit < s.size()) {
    char c = s[last_digit];
    if (!(IsDigit(c) || c == '.' || c == ',')) break;
    if (c == ',') has_comma = true;
    ++last_digit;
  }
  std::string num(s.substr(0, last_digit));
  if (has_comma) {
    std::string no_commas;
    for (char c : num) {
      if (c != ',') no_commas += c;
    }
    num = std::move(no_commas);
  }
  double f = 0;
  if (!ParseFloat(num, &f, err)) return false;
  std::string_view extra = s.substr(last_digit);
  while (!extra.empty() && (extra.front() == ' ' || extra.front() == '\t' || extra.front() == '\n' ||
                            extra.front() == '\r' || extra.front() == '\v' || extra.front() == '\f')) {
    extra.remove_prefix(1);
  }
  while (!extra.empty() && (extra.back() == ' ' || extra.back() == '\t' || extra.back() == '\n' ||
                            extra.back() == '\r' || extra.back() == '\v' || extra.back() == '\f')) {
    extra.remove_suffix(1);
  }
  std::string unit;
  for (char c : extra) unit += Lower(c);
  static const struct {
    const char* name;
    uint64_t mult;
  } kTable[] = {
      {"b", 1},
      {"kib", uint64_t{1} << 10}, {"kb", 1000ULL},
      {"mib", uint64_t{1} << 20}, {"mb", 1000ULL * 1000},
      {"gib", uint64_t{1} << 30}, {"gb", 1000ULL * 1000 * 1000},
      {"tib", uint64_t{1} << 40}, {"tb", 1000ULL * 1000 * 1000 * 1000},
      {"pib", uint64_t{1} << 50}, {"pb", 1000ULL * 1000 * 1000 * 1000 * 1000},
      {"eib", uint64_t{1} << 60}, {"eb", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
      {"", 1},
      {"ki", uint64_t{1} << 10}, {"k", 1000ULL},
      {"mi", uint64_t{1} << 20}, {"m", 1000ULL * 1000},
      {"gi", uint64_t{1} << 30}, {"g", 1000ULL * 1000 * 1000},
      {"ti", uint64_t{1} << 40}, {"t", 1000ULL * 1000 * 1000 * 1000},
      {"pi", uint64_t{1} << 50}, {"p", 1000ULL * 1000 * 1000 * 1000 * 1000},
      {"ei", uint64_t{1} << 60}, {"e", 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000},
  };
  for (const auto& e : kTable) {
    if (unit == e.name) {
      f *= static_cast<double>(e.mult);
      if (f >= 18446744073709551615.0) {
        if (err) *err = "too large: " + std::string(s);
        return false;
      }
      *out = static_cast<uint64_t>(f);
      return true;
    }
  }
  if (err) *err = "unhandled size name: " + unit;
  return false;
}

}  // namespace logq::pipeline::gocompat
