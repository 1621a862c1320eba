// Go's time.Time formatting and parsing with reference-time layouts ("2006-01-02T15:04:05Z07:00")
// for the template engine. Zones are fixed offsets; the server's local zone is UTC.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "query/pipeline/template_value.h"

namespace logq::pipeline::tmpl {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
// Seconds from 0001-01-01 to 1970-01-01 (Go's zero time in Unix seconds).
constexpr int64_t kZeroTimeUnix = -62135596800;

constexpr std::array<std::string_view, 12> kLongMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 12> kShortMonths = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 7> kShortDays = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t mp = (m + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
  int hour, min, sec;
  int yday;     // 1..366
  int weekday;  // 0 = Sunday
};

Civil CivilFromUnix(int64_t unix_sec) {
  Civil c{};
  int64_t days = FloorDiv(unix_sec, kSecondsPerDay);
  int64_t rem = unix_sec - days * kSecondsPerDay;
  c.hour = static_cast<int>(rem / 3600);
  c.min = static_cast<int>(rem % 3600 / 60);
  c.sec = static_cast<int>(rem % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  int64_t z = days + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  c.yday = static_cast<int>(days - DaysFromCivil(c.year, 1, 1)) + 1;
  return c;
}

bool IsLeap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysIn(int month, int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

// Layout chunk codes (Go's std* constants).
enum Std : int {
  kNone = 0,
  kLongMonth,
  kMonth,
  kNumMonth,
  kZeroMonth,
  kLongWeekDay,
  kWeekDay,
  kDay,
  kUnderDay,
  kZeroDay,
  kUnderYearDay,
  kZeroYearDay,
  kHour,
  kHour12,
  kZeroHour12,
  kMinute,
  kZeroMinute,
  kSecond,
  kZeroSecond,
  kLongYear,
  kYear,
  kPM,
  kpm,
  kTZ,
  kISO8601TZ,
  kISO8601SecondsTZ,
  kISO8601ShortTZ,
  kISO8601ColonTZ,
  kISO8601ColonSecondsTZ,
  kNumTZ,
  kNumSecondsTz,
  kNumShortTZ,
  kNumColonTZ,
  kNumColonSecondsTZ,
  kFracSecond0,
  kFracSecond9,
};

struct Chunk {
  std::string_view prefix;
  Std std = kNone;
  int frac_digits = 0;
  char frac_sep = '.';
  std::string_view suffix;
};

bool StartsWithLower(std::string_view s) { return !s.empty() && s[0] >= 'a' && s[0] <= 'z'; }
bool IsDigitAt(std::string_view s, size_t i) {
  return i < s.size() && s[i] >= '0' && s[i] <= '9';
}

// Go's nextStdChunk: the literal prefix, the first layout token and the rest.
Chunk NextChunk(std::string_view layout) {
  auto make = [&](size_t i, Std std, size_t len) {
    Chunk c;
    c.prefix = layout.substr(0, i);
    c.std = std;
    c.suffix = layout.substr(i + len);
    return c;
  };
  for (size_t i = 0; i < layout.size(); ++i) {
    std::string_view rest = layout.substr(i);
    switch (layout[i]) {
      case 'J':
        if (rest.substr(0, 3) == "Jan") {
          if (rest.substr(0, 7) == "January") return make(i, kLongMonth, 7);
          if (!StartsWithLower(rest.substr(3))) return make(i, kMonth, 3);
        }
        break;
      case 'M':
        if (rest.size() >= 3) {
          if (rest.substr(0, 3) == "Mon") {
            if (rest.substr(0, 6) == "Monday") return make(i, kLongWeekDay, 6);
            if (!StartsWithLower(rest.substr(3))) return make(i, kWeekDay, 3);
          }
          if (rest.substr(0, 3) == "MST") return make(i, kTZ, 3);
        }
        break;
      case '0':
        if (rest.size() >= 2 && rest[1] >= '1' && rest[1] <= '6') {
          static constexpr Std k0x[] = {kZeroMonth, kZeroDay, kZeroHour12,
                                        kZeroMinute, kZeroSecond, kYear};
          return make(i, k0x[rest[1] - '1'], 2);
        }
        if (rest.size() >= 3 && rest[1] == '0' && rest[2] == '2') return make(i, kZeroYearDay, 3);
        break;
      case '1':
        if (rest.size() >= 2 && rest[1] == '5') return make(i, kHour, 2);
        return make(i, kNumMonth, 1);
      case '2':
        if (rest.substr(0, 4) == "2006") return make(i, kLongYear, 4);
        return make(i, kDay, 1);
      case '_':
        if (rest.size() >= 2 && rest[1] == '2') {
          if (rest.substr(1, 4) == "2006") {
            // "_2006" is a literal '_' followed by the long year.
            Chunk c;
            c.prefix = layout.substr(0, i + 1);
            c.std = kLongYear;
            c.suffix = layout.substr(i + 5);
            return c;
          }
          return make(i, kUnderDay, 2);
        }
        if (rest.size() >= 3 && rest[1] == '_' && rest[2] == '2') return make(i, kUnderYearDay, 3);
        break;
      case '3':
        return make(i, kHour12, 1);
      case '4':
        return make(i, kMinute, 1);
      case '5':
        return make(i, kSecond, 1);
      case 'P':
        if (rest.size() >= 2 && rest[1] == 'M') return make(i, kPM, 2);
        break;
      case 'p':
        if (rest.size() >= 2 && rest[1] == 'm') return make(i, kpm, 2);
        break;
      case '-':
        if (rest.substr(0, 7) == "-070000") return make(i, kNumSecondsTz, 7);
        if (rest.substr(0, 9) == "-07:00:00") return make(i, kNumColonSecondsTZ, 9);
        if (rest.substr(0, 5) == "-0700") return make(i, kNumTZ, 5);
        if (rest.substr(0, 6) == "-07:00") return make(i, kNumColonTZ, 6);
        if (rest.substr(0, 3) == "-07") return make(i, kNumShortTZ, 3);
        break;
      case 'Z':
        if (rest.substr(0, 7) == "Z070000") return make(i, kISO8601SecondsTZ, 7);
        if (rest.substr(0, 9) == "Z07:00:00") return make(i, kISO8601ColonSecondsTZ, 9);
        if (rest.substr(0, 5) == "Z0700") return make(i, kISO8601TZ, 5);
        if (rest.substr(0, 6) == "Z07:00") return make(i, kISO8601ColonTZ, 6);
        if (rest.substr(0, 3) == "Z07") return make(i, kISO8601ShortTZ, 3);
        break;
      case '.':
      case ',':
        if (rest.size() >= 2 && (rest[1] == '0' || rest[1] == '9')) {
          char ch = rest[1];
          size_t j = 1;
          while (j < rest.size() && rest[j] == ch) ++j;
          if (!IsDigitAt(rest, j)) {
            Chunk c = make(i, ch == '0' ? kFracSecond0 : kFracSecond9, j);
            c.frac_digits = static_cast<int>(j - 1);
            c.frac_sep = layout[i];
            return c;
          }
        }
        break;
      default:
        break;
    }
  }
  Chunk c;
  c.prefix = layout;
  return c;
}

void AppendInt(std::string* out, int64_t x, int width) {
  uint64_t u = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
  if (x < 0) out->push_back('-');
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  for (int k = n; k < width; ++k) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

void AppendOffset(std::string* out, int32_t offset, bool colon, bool seconds, bool short_form) {
  int zone = offset / 60;
  int abs_off = offset;
  if (zone < 0 || offset < 0) {
    out->push_back('-');
    zone = -zone;
    abs_off = -offset;
  } else {
    out->push_back('+');
  }
  AppendInt(out, zone / 60, 2);
  if (!short_form) {
    if (colon) out->push_back(':');
    AppendInt(out, zone % 60, 2);
  }
  if (seconds) {
    if (colon) out->push_back(':');
    AppendInt(out, abs_off % 60, 2);
  }
}

}  // namespace

Value MakeTime(int64_t unix_sec, int32_t nsec, int32_t offset, std::string_view zone,
               std::shared_ptr<const void> zone_hold) {
  Value v;
  v.kind = Kind::kTime;
  v.i = unix_sec;
  v.nsec = nsec;
  v.offset = offset;
  v.s = zone;
  v.hold = std::move(zone_hold);
  return v;
}

CivilTime TimeCivil(const Value& t) {
  Civil c = CivilFromUnix(t.i + t.offset);
  return CivilTime{c.year, c.month, c.day, c.hour, c.min, c.sec, c.yday, c.weekday};
}

Value TimeUTC(int64_t unix_sec, int32_t nsec) { return MakeTime(unix_sec, nsec, 0, "UTC"); }

Value TimeFromUnixNanos(int64_t ns) {
  int64_t sec = FloorDiv(ns, 1000000000);
  return TimeUTC(sec, static_cast<int32_t>(ns - sec * 1000000000));
}

Value ZeroTime() { return TimeUTC(kZeroTimeUnix, 0); }

void FormatTime(const Value& t, std::string_view layout, std::string* out) {
  const Civil c = CivilFromUnix(t.i + t.offset);
  while (!layout.empty()) {
    Chunk ch = NextChunk(layout);
    out->append(ch.prefix);
    if (ch.std == kNone) break;
    layout = ch.suffix;
    switch (ch.std) {
      case kYear: {
        int64_t y = c.year < 0 ? -c.year : c.year;
        AppendInt(out, y % 100, 2);
        break;
      }
      case kLongYear:
        AppendInt(out, c.year, 4);
        break;
      case kMonth:
        out->append(kShortMonths[c.month - 1]);
        break;
      case kLongMonth:
        out->append(kLongMonths[c.month - 1]);
        break;
      case kNumMonth:
        AppendInt(out, c.month, 0);
        break;
      case kZeroMonth:
        AppendInt(out, c.month, 2);
        break;
      case kWeekDay:
        out->append(kShortDays[c.weekday]);
        break;
      case kLongWeekDay:
        out->append(kLongDays[c.weekday]);
        break;
      case kDay:
        AppendInt(out, c.day, 0);
        break;
      case kUnderDay:
        if (c.day < 10) out->push_back(' ');
        AppendInt(out, c.day, 0);
        break;
      case kZeroDay:
        AppendInt(out, c.day, 2);
        break;
      case kUnderYearDay:
        if (c.yday < 100) {
          out->push_back(' ');
          if (c.yday < 10) out->push_back(' ');
        }
        AppendInt(out, c.yday, 0);
        break;
      case kZeroYearDay:
        AppendInt(out, c.yday, 3);
        break;
      case kHour:
        AppendInt(out, c.hour, 2);
        break;
      case kHour12:
      case kZeroHour12: {
        int hr = c.hour % 12;
        if (hr == 0) hr = 12;
        AppendInt(out, hr, ch.std == kZeroHour12 ? 2 : 0);
        break;
      }
      case kMinute:
        AppendInt(out, c.min, 0);
        break;
      case kZeroMinute:
        AppendInt(out, c.min, 2);
        break;
      case kSecond:
        AppendInt(out, c.sec, 0);
        break;
      case kZeroSecond:
        AppendInt(out, c.sec, 2);
        break;
      case kPM:
        out->append(c.hour >= 12 ? "PM" : "AM");
        break;
      case kpm:
        out->append(c.hour >= 12 ? "pm" : "am");
        break;
      case kISO8601TZ:
      case kISO8601ColonTZ:
      case kISO8601SecondsTZ:
      case kISO8601ShortTZ:
      case kISO8601ColonSecondsTZ:
      case kNumTZ:
      case kNumColonTZ:
      case kNumSecondsTz:
      case kNumShortTZ:
      case kNumColonSecondsTZ: {
        bool iso = ch.std == kISO8601TZ || ch.std == kISO8601ColonTZ ||
                   ch.std == kISO8601SecondsTZ || ch.std == kISO8601ShortTZ ||
                   ch.std == kISO8601ColonSecondsTZ;
        if (iso && t.offset == 0) {
          out->push_back('Z');
          break;
        }
        bool colon = ch.std == kISO8601ColonTZ || ch.std == kNumColonTZ ||
                     ch.std == kISO8601ColonSecondsTZ || ch.std == kNumColonSecondsTZ;
        bool secs = ch.std == kISO8601SecondsTZ || ch.std == kNumSecondsTz ||
                    ch.std == kISO8601ColonSecondsTZ || ch.std == kNumColonSecondsTZ;
        bool shrt = ch.std == kISO8601ShortTZ || ch.std == kNumShortTZ;
        AppendOffset(out, t.offset, colon, secs, shrt);
        break;
      }
      case kTZ:
        if (!t.s.empty()) {
          out->append(t.s);
        } else {
          AppendOffset(out, t.offset, false, false, false);
        }
        break;
      case kFracSecond0: {
        out->push_back(ch.frac_sep);
        std::string digits;
        AppendInt(&digits, t.nsec, 9);
        out->append(digits.substr(0, static_cast<size_t>(ch.frac_digits)));
        break;
      }
      case kFracSecond9: {
        if (t.nsec == 0) break;
        std::string digits;
        AppendInt(&digits, t.nsec, 9);
        size_t n = static_cast<size_t>(ch.frac_digits);
        if (n > 9) n = 9;
        digits.resize(n);
        while (!digits.empty() && digits.back() == '0') digits.pop_back();
        if (!digits.empty()) {
          out->push_back(ch.frac_sep);
          out->append(digits);
        }
        break;
      }
      case kNone:
        break;
    }
  }
}

void AppendTimeString(const Value& t, std::string* out) {
  FormatTime(t, "2006-01-02 15:04:05.999999999 -0700 MST", out);
}

namespace {

// Go's getnum: one or two digits (exactly two when `fixed`).
bool GetNum(std::string_view* s, bool fixed, int* out) {
  if (!IsDigitAt(*s, 0)) return false;
  if (!IsDigitAt(*s, 1)) {
    if (fixed) return false;
    *out = (*s)[0] - '0';
    s->remove_prefix(1);
    return true;
  }
  *out = ((*s)[0] - '0') * 10 + ((*s)[1] - '0');
  s->remove_prefix(2);
  return true;
}

bool GetNum3(std::string_view* s, bool fixed, int* out) {
  int n = 0;
  size_t i = 0;
  for (; i < 3 && IsDigitAt(*s, i); ++i) n = n * 10 + ((*s)[i] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  *out = n;
  s->remove_prefix(i);
  return true;
}

bool Atoi(std::string_view s, int* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 9) return false;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = neg ? -n : n;
  return true;
}

bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

template <size_t N>
bool Lookup(const std::array<std::string_view, N>& tab, std::string_view* val, int* idx) {
  for (size_t i = 0; i < N; ++i) {
    if (val->size() >= tab[i].size() && EqualFold(val->substr(0, tab[i].size()), tab[i])) {
      *idx = static_cast<int>(i);
      val->remove_prefix(tab[i].size());
      return true;
    }
  }
  return false;
}

bool Skip(std::string_view* value, std::string_view prefix) {
  auto cutspace = [](std::string_view s) {
    while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
    return s;
  };
  while (!prefix.empty()) {
    if (prefix[0] == ' ') {
      if (!value->empty() && (*value)[0] != ' ') return false;
      prefix = cutspace(prefix);
      *value = cutspace(*value);
      continue;
    }
    if (value->empty() || (*value)[0] != prefix[0]) return false;
    prefix.remove_prefix(1);
    value->remove_prefix(1);
  }
  return true;
}

bool ParseNanoseconds(std::string_view value, size_t nbytes, int* ns) {
  if (value.empty() || (value[0] != '.' && value[0] != ',')) return false;
  if (nbytes > 10) nbytes = 10;
  int n = 0;
  for (size_t i = 1; i < nbytes; ++i) {
    if (value[i] < '0' || value[i] > '9') return false;
    n = n * 10 + (value[i] - '0');
  }
  for (size_t i = nbytes; i < 10; ++i) n *= 10;
  *ns = n;
  return true;
}

size_t ParseSignedOffset(std::string_view value) {
  if (value.empty() || (value[0] != '+' && value[0] != '-')) return 0;
  size_t i = 1;
  int x = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9' && i < 4) {
    x = x * 10 + (value[i] - '0');
    ++i;
  }
  if (i == 1 || x > 23) return 0;
  return i;
}

size_t ParseGMT(std::string_view value) {
  value.remove_prefix(3);
  if (value.empty()) return 3;
  return 3 + ParseSignedOffset(value);
}

bool ParseTimeZone(std::string_view value, size_t* len) {
  if (value.size() < 3) return false;
  if (value.size() >= 4 && (value.substr(0, 4) == "ChST" || value.substr(0, 4) == "MeST")) {
    *len = 4;
    return true;
  }
  if (value.substr(0, 3) == "GMT") {
    *len = ParseGMT(value);
    return true;
  }
  if (value[0] == '+' || value[0] == '-') {
    *len = ParseSignedOffset(value);
    return *len > 0;
  }
  size_t n = 0;
  for (; n < 6 && n < value.size(); ++n) {
    if (value[n] < 'A' || value[n] > 'Z') break;
  }
  switch (n) {
    case 5:
      if (value[4] == 'T') {
        *len = 5;
        return true;
      }
      return false;
    case 4:
      if (value[3] == 'T' || value.substr(0, 4) == "WITA") {
        *len = 4;
        return true;
      }
      return false;
    case 3:
      *len = 3;
      return true;
    default:
      return false;
  }
}

std::string QuoteForTime(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

std::string ParseError(std::string_view layout, std::string_view value, std::string_view elem,
                       std::string_view value_elem, std::string_view msg) {
  if (!msg.empty()) {
    return "parsing time " + QuoteForTime(value) + std::string(msg);
  }
  return "parsing time " + QuoteForTime(value) + " as " + QuoteForTime(layout) +
         ": cannot parse " + QuoteForTime(value_elem) + " as " + QuoteForTime(elem);
}

}  // namespace

bool ParseTime(std::string_view layout, std::string_view value, std::string_view zone_name,
               int32_t zone_offset, Value* out, std::string* err) {
  const std::string_view alayout = layout, avalue = value;
  std::string_view range_err;
  bool am = false, pm = false;
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0, nsec = 0;
  bool utc = false;
  bool have_offset = false;
  int offset = 0;
  std::string_view tz_name;

  for (;;) {
    Chunk ch = NextChunk(layout);
    std::string_view stdstr = layout.substr(
        ch.prefix.size(), layout.size() - ch.prefix.size() - ch.suffix.size());
    if (!Skip(&value, ch.prefix)) {
      *err = ParseError(alayout, avalue, ch.prefix, value, "");
      return false;
    }
    if (ch.std == kNone) {
      if (!value.empty()) {
        *err = ParseError(alayout, avalue, "", value, ": extra text: " + QuoteForTime(value));
        return false;
      }
      break;
    }
    layout = ch.suffix;
    std::string_view hold = value;
    bool ok = true;
    switch (ch.std) {
      case kYear: {
        int y = 0;
        if (value.size() < 2 || !Atoi(value.substr(0, 2), &y)) {
          ok = false;
          break;
        }
        value.remove_prefix(2);
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case kLongYear: {
        int y = 0;
        if (value.size() < 4 || !IsDigitAt(value, 0) || !Atoi(value.substr(0, 4), &y)) {
          ok = false;
          break;
        }
        value.remove_prefix(4);
        year = y;
        break;
      }
      case kMonth:
        ok = Lookup(kShortMonths, &value, &month);
        ++month;
        break;
      case kLongMonth:
        ok = Lookup(kLongMonths, &value, &month);
        ++month;
        break;
      case kNumMonth:
      case kZeroMonth:
        ok = GetNum(&value, ch.std == kZeroMonth, &month);
        if (ok && (month <= 0 || month > 12)) range_err = "month";
        break;
      case kWeekDay: {
        int ignored;
        ok = Lookup(kShortDays, &value, &ignored);
        break;
      }
      case kLongWeekDay: {
        int ignored;
        ok = Lookup(kLongDays, &value, &ignored);
        break;
      }
      case kDay:
      case kUnderDay:
      case kZeroDay:
        if (ch.std == kUnderDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        ok = GetNum(&value, ch.std == kZeroDay, &day);
        break;
      case kUnderYearDay:
      case kZeroYearDay:
        for (int k = 0; k < 2; ++k) {
          if (ch.std == kUnderYearDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        }
        ok = GetNum3(&value, ch.std == kZeroYearDay, &yday);
        break;
      case kHour:
        ok = GetNum(&value, false, &hour);
        if (hour < 0 || hour >= 24) range_err = "hour";
        break;
      case kHour12:
      case kZeroHour12:
        ok = GetNum(&value, ch.std == kZeroHour12, &hour);
        if (hour < 0 || hour > 12) range_err = "hour";
        break;
      case kMinute:
      case kZeroMinute:
        ok = GetNum(&value, ch.std == kZeroMinute, &min);
        if (min < 0 || min >= 60) range_err = "minute";
        break;
      case kSecond:
      case kZeroSecond: {
        ok = GetNum(&value, ch.std == kZeroSecond, &sec);
        if (!ok) break;
        if (sec < 0 || sec >= 60) {
          range_err = "second";
          break;
        }
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && IsDigitAt(value, 1)) {
          Chunk next = NextChunk(layout);
          if (next.std == kFracSecond0 || next.std == kFracSecond9) break;
          size_t n = 2;
          while (n < value.size() && IsDigitAt(value, n)) ++n;
          ok = ParseNanoseconds(value, n, &nsec);
          value.remove_prefix(n);
        }
        break;
      }
      case kPM:
      case kpm: {
        if (value.size() < 2) {
          ok = false;
          break;
        }
        std::string_view p = value.substr(0, 2);
        value.remove_prefix(2);
        bool upper = ch.std == kPM;
        if (p == (upper ? "PM" : "pm")) {
          pm = true;
        } else if (p == (upper ? "AM" : "am")) {
          am = true;
        } else {
          ok = false;
        }
        break;
      }
      case kISO8601TZ:
      case kISO8601ShortTZ:
      case kISO8601ColonTZ:
      case kISO8601SecondsTZ:
      case kISO8601ColonSecondsTZ:
        if (!value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          utc = true;
          break;
        }
        [[fallthrough]];
      case kNumTZ:
      case kNumShortTZ:
      case kNumColonTZ:
      case kNumSecondsTz:
      case kNumColonSecondsTZ: {
        std::string_view sign, hh, mm, ss = "00";
        Std s = ch.std;
        if (s == kISO8601ColonTZ || s == kNumColonTZ) {
          if (value.size() < 6 || value[3] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2);
          value.remove_prefix(6);
        } else if (s == kNumShortTZ || s == kISO8601ShortTZ) {
          if (value.size() < 3) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = "00";
          value.remove_prefix(3);
        } else if (s == kISO8601ColonSecondsTZ || s == kNumColonSecondsTZ) {
          if (value.size() < 9 || value[3] != ':' || value[6] != ':') {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(4, 2),
          ss = value.substr(7, 2);
          value.remove_prefix(9);
        } else if (s == kISO8601SecondsTZ || s == kNumSecondsTz) {
          if (value.size() < 7) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2),
          ss = value.substr(5, 2);
          value.remove_prefix(7);
        } else {
          if (value.size() < 5) {
            ok = false;
            break;
          }
          sign = value.substr(0, 1), hh = value.substr(1, 2), mm = value.substr(3, 2);
          value.remove_prefix(5);
        }
        int h = 0, m = 0, sc = 0;
        ok = GetNum(&hh, true, &h) && GetNum(&mm, true, &m) && GetNum(&ss, true, &sc);
        if (h > 24) range_err = "time zone offset hour";
        if (m > 60) range_err = "time zone offset minute";
        if (sc > 60) range_err = "time zone offset second";
        offset = (h * 60 + m) * 60 + sc;
        have_offset = true;
        if (sign[0] == '-') {
          offset = -offset;
        } else if (sign[0] != '+') {
          ok = false;
        }
        break;
      }
      case kTZ: {
        if (value.size() >= 3 && value.substr(0, 3) == "UTC") {
          utc = true;
          value.remove_prefix(3);
          break;
        }
        size_t n = 0;
        if (!ParseTimeZone(value, &n)) {
          ok = false;
          break;
        }
        tz_name = value.substr(0, n);
        value.remove_prefix(n);
        break;
      }
      case kFracSecond0: {
        size_t ndigit = 1 + static_cast<size_t>(ch.frac_digits);
        if (value.size() < ndigit) {
          ok = false;
          break;
        }
        ok = ParseNanoseconds(value, ndigit, &nsec);
        value.remove_prefix(ndigit);
        break;
      }
      case kFracSecond9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || value[1] < '0' ||
            value[1] > '9') {
          break;
        }
        size_t i = 0;
        while (i + 1 < value.size() && value[i + 1] >= '0' && value[i + 1] <= '9') ++i;
        ok = ParseNanoseconds(value, 1 + i, &nsec);
        value.remove_prefix(1 + i);
        break;
      }
      case kNone:
        break;
    }
    if (!range_err.empty()) {
      *err = ParseError(alayout, avalue, stdstr, value,
                        ": " + std::string(range_err) + " out of range");
      return false;
    }
    if (!ok) {
      *err = ParseError(alayout, avalue, stdstr, hold, "");
      return false;
    }
  }
  if (pm && hour < 12) {
    hour += 12;
  } else if (am && hour == 12) {
    hour = 0;
  }
  if (yday >= 0) {
    int d = 0, m = 0;
    if (IsLeap(year)) {
      if (yday == 31 + 29) {
        m = 2, d = 29;
      } else if (yday > 31 + 29) {
        --yday;
      }
    }
    if (yday < 1 || yday > 365) {
      *err = ParseError(alayout, avalue, "", value, ": day-of-year out of range");
      return false;
    }
    if (m == 0) {
      m = (yday - 1) / 31 + 1;
      static constexpr int kDaysBefore[] = {0,   31,  59,  90,  120, 151, 181,
                                            212, 243, 273, 304, 334, 365};
      if (kDaysBefore[m] < yday) ++m;
      d = yday - kDaysBefore[m - 1];
    }
    if (month >= 0 && month != m) {
      *err = ParseError(alayout, avalue, "", value, ": day-of-year does not match month");
      return false;
    }
    month = m;
    if (day >= 0 && day != d) {
      *err = ParseError(alayout, avalue, "", value, ": day-of-year does not match day");
      return false;
    }
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > DaysIn(month, year)) {
    *err = ParseError(alayout, avalue, "", value, ": day out of range");
    return false;
  }
  int64_t local = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + min * 60 + sec;
  if (utc) {
    *out = TimeUTC(local, nsec);
    return true;
  }
  if (have_offset) {
    if (offset == 0) {
      *out = TimeUTC(local, nsec);  // the local zone (UTC) has this offset
    } else {
      *out = MakeTime(local - offset, nsec, offset, "");
    }
    return true;
  }
  if (!tz_name.empty()) {
    int off = 0;
    if (tz_name.size() > 3 && tz_name.substr(0, 3) == "GMT") {
      int h = 0;
      if (Atoi(tz_name.substr(3), &h)) off = h * 3600;
    }
    auto name = std::make_shared<const std::string>(tz_name);
    std::string_view nv = *name;
    *out = MakeTime(local - off, nsec, off, nv, std::move(name));
    return true;
  }
  *out = MakeTime(local - zone_offset, nsec, zone_offset, zone_name);
  return true;
}

}  // namespace logq::pipeline::tmpl
