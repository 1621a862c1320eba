#include "query/base/units.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>

namespace logq {
namespace {

constexpr int64_t kNanosPerSecondLocal() { return 1'000'000'000; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

bool ParseFixedInt(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::string FormatRFC3339Impl(int64_t nanos, bool with_nanos) {
  int64_t secs = nanos / kNanosPerSecondLocal();
  int64_t frac = nanos % kNanosPerSecondLocal();
  if (frac < 0) {
    frac += kNanosPerSecondLocal();
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", y, m, d, rem / 3600,
                                (rem / 60) % 60, rem % 60);
  if (with_nanos && frac != 0) {
    std::string f = fmt::format("{:09d}", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += '.';
    out += f;
  }
  out += 'Z';
  return out;
}

}  // namespace



Result<int64_t> ParseDuration(std::string_view s) {
  const std::string orig(s);
  if (s.empty()) return InvalidArgument("invalid duration \"\"");
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return InvalidArgument("invalid duration \"" + orig + "\"");
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
    if (i == 0) return InvalidArgument("invalid duration \"" + orig + "\"");
    std::string num(s.substr(0, i));
    char* end = nullptr;
    long double v = std::strtold(num.c_str(), &end);
    if (end != num.c_str() + num.size()) return InvalidArgument("invalid duration \"" + orig + "\"");
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !IsDigit(s[j]) && s[j] != '.') ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") mult = 1e3;
    else if (unit == "ms") mult = 1e6;
    else if (unit == "s") mult = 1e9;
    else if (unit == "m") mult = 60e9;
    else if (unit == "h") mult = 3600e9;
    else if (unit == "d") mult = 86400e9;
    else if (unit == "w") mult = 7 * 86400e9;
    else if (unit == "y") mult = 365 * 86400e9;
    else if (unit.empty()) return InvalidArgument("missing unit in duration \"" + orig + "\"");
    else return InvalidArgument("unknown unit \"" + std::string(unit) + "\" in duration \"" + orig + "\"");
    total += v * mult;
  }
  if (total > 9.2e18L) return InvalidArgument("invalid duration \"" + orig + "\": too large");
  int64_t r = static_cast<int64_t>(std::llroundl(total));
  return neg ? -r : r;
}

std::string FormatDuration(int64_t nanos) {
  if (nanos == 0) return "0s";
  std::string out;
  if (nanos < 0) {
    out = "-";
    nanos = -nanos;
  }
  if (nanos % kNanosPerSecondLocal() != 0) {
    if (nanos % 1'000'000 == 0 && nanos < 60 * kNanosPerSecondLocal()) {
      return out + std::to_string(nanos / 1'000'000) + "ms";
    }
    if (nanos < 1'000'000) return out + std::to_string(nanos) + "ns";
  }
  int64_t secs = nanos / kNanosPerSecondLocal();
  int64_t sub = nanos % kNanosPerSecondLocal();
  int64_t h = secs / 3600, m = (secs / 60) % 60, sec = secs % 60;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (sec || sub) {
    out += std::to_string(sec);
    if (sub) {
      std::string f = fmt::format("{:09d}", sub);
      while (f.back() == '0') f.pop_back();
      out += "." + f;
    }
    out += "s";
  }
  return out;
}

Result<int64_t> ParseBytes(std::string_view s) {
  const std::string orig(s);
  size_t i = 0;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '.')) ++i;
  if (i == 0) return InvalidArgument("invalid byte size \"" + orig + "\"");
  std::string num(s.substr(0, i));
  char* end = nullptr;
  long double v = std::strtold(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return InvalidArgument("invalid byte size \"" + orig + "\"");
  std::string_view rest = s.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::string unit;
  for (char c : rest) unit += Lower(c);
  long double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb" || unit == "k") mult = 1e3;
  else if (unit == "kib" || unit == "ki") mult = 1024.0L;
  else if (unit == "mb" || unit == "m") mult = 1e6;
  else if (unit == "mib" || unit == "mi") mult = 1024.0L * 1024;
  else if (unit == "gb" || unit == "g") mult = 1e9;
  else if (unit == "gib" || unit == "gi") mult = 1024.0L * 1024 * 1024;
  else if (unit == "tb" || unit == "t") mult = 1e12;
  else if (unit == "tib" || unit == "ti") mult = 1024.0L * 1024 * 1024 * 1024;
  else return InvalidArgument("unknown unit \"" + std::string(rest) + "\" in byte size \"" + orig + "\"");
  long double total = v * mult;
  if (total > 9.2e18L) return InvalidArgument("byte size \"" + orig + "\" is too large");
  return static_cast<int64_t>(std::llroundl(total));
}

std::string FormatBytes(int64_t bytes) {
  struct U { int64_t mult; const char* name; };
  static const U kUnits[] = {{1LL << 40, "TiB"}, {1LL << 30, "GiB"}, {1LL << 20, "MiB"},
                             {1LL << 10, "KiB"}, {1'000'000'000'000, "TB"},
                             {1'000'000'000, "GB"}, {1'000'000, "MB"}, {1000, "KB"}};
  if (bytes == 0) return "0B";
  for (const U& u : kUnits) {
    if (bytes % u.mult == 0) return std::to_string(bytes / u.mult) + u.name;
  }
  return std::to_string(bytes) + "B";
}

Result<int64_t> ParseRFC3339(std::string_view s) {
  auto bad = [&] { return InvalidArgument("cannot parse \"" + std::string(s) + "\" as RFC3339 time"); };
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !ParseFixedInt(s, 0, 4, &y) || s[4] != '-' || !ParseFixedInt(s, 5, 2, &mo) ||
      s[7] != '-' || !ParseFixedInt(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !ParseFixedInt(s, 11, 2, &h) || s[13] != ':' || !ParseFixedInt(s, 14, 2, &mi) || s[16] != ':' ||
      !ParseFixedInt(s, 17, 2, &sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t p = 19;
  int64_t frac = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t start = p;
    int digits = 0;
    while (p < s.size() && IsDigit(s[p])) {
      if (digits < 9) {
        frac = frac * 10 + (s[p] - '0');
        ++digits;
      }
      ++p;
    }
    if (p == start) return bad();
    for (; digits < 9; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!ParseFixedInt(s, p + 1, 2, &oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
        !ParseFixedInt(s, p + 4, 2, &om)) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
    p += 6;
  } else {
    return bad();
  }
  if (p != s.size()) return bad();
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  // int64 nanoseconds cover 1677-09-21 .. 2262-04-11.
  constexpr int64_t kMaxSecs = INT64_MAX / 1'000'000'000 - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) {
    return InvalidArgument("time \"" + std::string(s) + "\" is out of the representable range (1678-2262)");
  }
  return secs * kNanosPerSecondLocal() + frac;
}

std::string FormatRFC3339(int64_t nanos) { return FormatRFC3339Impl(nanos, false); }
std::string FormatRFC3339Nano(int64_t nanos) { return FormatRFC3339Impl(nanos, true); }

Result<int64_t> ParseTimestampParam(std::string_view value, int64_t def, std::string_view param) {
  if (value.empty()) return def;
  std::string v(value);
  if (v.find('.') != std::string::npos) {
    char* end = nullptr;
    double f = std::strtod(v.c_str(), &end);
    if (end == v.c_str() + v.size() && std::isfinite(f)) {
      double secs = std::floor(f);
      double frac = std::round((f - secs) * 1000.0) / 1000.0;
      return static_cast<int64_t>(secs) * kNanosPerSecondLocal() +
             static_cast<int64_t>(std::llround(frac * 1e9));
    }
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc() && ptr == v.data() + v.size()) {
    if (v.size() <= 10) return n * kNanosPerSecondLocal();
    return n;
  }
  auto t = ParseRFC3339(v);
  if (t.ok()) return t;
  return InvalidArgument("could not parse '" + std::string(param) + "' parameter: cannot parse \"" +
                         v + "\" to a valid timestamp");
}

}  // namespace logq
