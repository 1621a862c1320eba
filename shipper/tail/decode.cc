#include "shipper/tail/decode.h"

#include <cstring>

namespace logq::shipper {
namespace {

inline bool Digits(const char* p, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    unsigned d = static_cast<unsigned char>(p[i]) - '0';
    if (d > 9) return false;
    v = v * 10 + static_cast<int>(d);
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
inline int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Parses a JSON string starting after the opening quote at `*p`; appends the unescaped
// value to `out` (when non-null) and leaves `*p` after the closing quote.
bool ParseJsonString(const char** p, const char* end, std::string* out) {
  const char* s = *p;
  while (s < end) {
    const char* q = s;
    while (q < end && *q != '"' && *q != '\\') ++q;
    if (out) out->append(s, q);
    if (q >= end) return false;
    if (*q == '"') {
      *p = q + 1;
      return true;
    }
    // Escape.
    if (q + 1 >= end) return false;
    char c = q[1];
    s = q + 2;
    char lit = 0;
    switch (c) {
      case '"': lit = '"'; break;
      case '\\': lit = '\\'; break;
      case '/': lit = '/'; break;
      case 'b': lit = '\b'; break;
      case 'f': lit = '\f'; break;
      case 'n': lit = '\n'; break;
      case 'r': lit = '\r'; break;
      case 't': lit = '\t'; break;
      case 'u': {
        auto hex4 = [&](const char* h, uint32_t* v) {
          if (end - h < 4) return false;
          uint32_t r = 0;
          for (int i = 0; i < 4; ++i) {
            char x = h[i];
            r <<= 4;
            if (x >= '0' && x <= '9') r |= x - '0';
            else if (x >= 'a' && x <= 'f') r |= x - 'a' + 10;
            else if (x >= 'A' && x <= 'F') r |= x - 'A' + 10;
            else return false;
          }
          *v = r;
          return true;
        };
        uint32_t cp;
        if (!hex4(s, &cp)) return false;
        s += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
          uint32_t lo;
          if (hex4(s + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            s += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // lone surrogate, as Go does
        if (out) {
          if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else if (cp < 0x10000) {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
        }
        continue;
      }
      default:
        return false;
    }
    if (out) out->push_back(lit);
  }
  return false;
}

inline void SkipSpace(const char** p, const char* end) {
  while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')) ++*p;
}

// Skips any JSON value (for fields the decoder does not use, e.g. "attrs").
bool SkipJsonValue(const char** p, const char* end, int depth = 0) {
  if (depth > 32) return false;
  SkipSpace(p, end);
  if (*p >= end) return false;
  char c = **p;
  if (c == '"') {
    ++*p;
    return ParseJsonString(p, end, nullptr);
  }
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    ++*p;
    SkipSpace(p, end);
    if (*p < end && **p == close) {
      ++*p;
      return true;
    }
    while (true) {
      if (c == '{') {
        SkipSpace(p, end);
        if (*p >= end || **p != '"') return false;
        ++*p;
        if (!ParseJsonString(p, end, nullptr)) return false;
        SkipSpace(p, end);
        if (*p >= end || **p != ':') return false;
        ++*p;
      }
      if (!SkipJsonValue(p, end, depth + 1)) return false;
      SkipSpace(p, end);
      if (*p >= end) return false;
      if (**p == ',') {
        ++*p;
        continue;
      }
      if (**p == close) {
        ++*p;
        return true;
      }
      return false;
    }
  }
  // Literal: number, true, false, null.
  const char* s = *p;
  while (*p < end && **p != ',' && **p != '}' && **p != ']' && **p != ' ') ++*p;
  return *p > s;
}

}  // namespace

std::string_view StreamName(StreamIndex s) { return s == kStderr ? "stderr" : "stdout"; }

bool ParseLogTimestamp(std::string_view s, int64_t* ns) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)
  if (s.size() < 20) return false;
  const char* p = s.data();
  int y, mo, d, h, mi, se;
  if (!Digits(p, 4, &y) || p[4] != '-' || !Digits(p + 5, 2, &mo) || p[7] != '-' ||
      !Digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
      !Digits(p + 11, 2, &h) || p[13] != ':' || !Digits(p + 14, 2, &mi) || p[16] != ':' ||
      !Digits(p + 17, 2, &se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) return false;
    for (; n < 9; ++n) frac *= 10;
  }
  if (i >= s.size()) return false;
  int64_t offset_s = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (s.size() - i < 6 || !Digits(s.data() + i + 1, 2, &oh) || s[i + 3] != ':' ||
        !Digits(s.data() + i + 4, 2, &om)) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
  // Outside int64 nanoseconds (before 1677-09-21 or after 2262-04-11): not a timestamp we
  // can carry (was signed overflow, found by tests/fuzz/decode_fuzz.cc).
  if (secs < 0 && frac > 0) {  // keep secs * 1e9 in range down to INT64_MIN
    secs += 1;
    frac -= 1'000'000'000;
  }
  int64_t out;
  if (__builtin_mul_overflow(secs, int64_t{1'000'000'000}, &out) ||
      __builtin_add_overflow(out, frac, &out)) {
    return false;
  }
  *ns = out;
  return true;
}

bool DecodeCri(std::string_view line, DecodedLine* out) {
  const char* b = line.data();
  const char* e = b + line.size();
  const char* sp1 = static_cast<const char*>(std::memchr(b, ' ', line.size()));
  if (!sp1) return false;
  if (!ParseLogTimestamp(std::string_view(b, sp1 - b), &out->timestamp_ns)) return false;
  const char* s = sp1 + 1;
  if (e - s >= 7 && std::memcmp(s, "stdout ", 7) == 0) {
    out->stream = kStdout;
  } else if (e - s >= 7 && std::memcmp(s, "stderr ", 7) == 0) {
    out->stream = kStderr;
  } else {
    return false;
  }
  s += 7;
  // Tag: "P" or "F", optionally followed by ":<more tags>" (CRI allows a tag list).
  if (s >= e || (*s != 'P' && *s != 'F')) return false;
  out->partial = *s == 'P';
  ++s;
  if (s < e && *s == ':') {
    while (s < e && *s != ' ') ++s;
  } else if (s < e && *s != ' ') {
    return false;
  }
  if (s < e) ++s;  // the separating space; a line may end right after the tag (empty message)
  out->content = std::string_view(s, e - s);
  return true;
}

bool DecodeDocker(std::string_view line, std::string* scratch, DecodedLine* out) {
  const char* p = line.data();
  const char* e = p + line.size();
  SkipSpace(&p, e);
  if (p >= e || *p != '{') return false;
  ++p;
  bool have_log = false, have_time = false;
  out->stream = kStdout;
  scratch->clear();
  std::string key;
  std::string value;
  while (true) {
    SkipSpace(&p, e);
    if (p < e && *p == '}') {
      ++p;
      break;
    }
    if (p >= e || *p != '"') return false;
    ++p;
    key.clear();
    if (!ParseJsonString(&p, e, &key)) return false;
    SkipSpace(&p, e);
    if (p >= e || *p != ':') return false;
    ++p;
    SkipSpace(&p, e);
    if (key == "log" || key == "stream" || key == "time") {
      if (p >= e || *p != '"') return false;
      ++p;
      if (key == "log") {
        if (!ParseJsonString(&p, e, scratch)) return false;
        have_log = true;
      } else {
        value.clear();
        if (!ParseJsonString(&p, e, &value)) return false;
        if (key == "stream") {
          out->stream = value == "stderr" ? kStderr : kStdout;
        } else {
          if (!ParseLogTimestamp(value, &out->timestamp_ns)) return false;
          have_time = true;
        }
      }
    } else if (!SkipJsonValue(&p, e)) {
      return false;
    }
    SkipSpace(&p, e);
    if (p < e && *p == ',') {
      ++p;
      continue;
    }
    if (p < e && *p == '}') {
      ++p;
      break;
    }
    return false;
  }
  if (!have_log || !have_time) return false;
  out->partial = scratch->empty() || scratch->back() != '\n';
  std::string_view c(*scratch);
  if (!out->partial) c.remove_suffix(1);
  out->content = c;
  return true;
}

LogFormat DecodeLine(std::string_view line, LogFormat* format, std::string* scratch,
                     DecodedLine* out) {
  auto raw = [&] {
    out->timestamp_ns = 0;
    out->stream = kStdout;
    out->partial = false;
    std::string_view c = line;
    if (!c.empty() && c.back() == '\r') c.remove_suffix(1);
    out->content = c;
    return LogFormat::kRaw;
  };
  switch (*format) {
    case LogFormat::kCri:
      if (DecodeCri(line, out)) return LogFormat::kCri;
      if (DecodeDocker(line, scratch, out)) return LogFormat::kDocker;
      return raw();
    case LogFormat::kDocker:
      if (DecodeDocker(line, scratch, out)) return LogFormat::kDocker;
      if (DecodeCri(line, out)) return LogFormat::kCri;
      return raw();
    case LogFormat::kRaw:
      return raw();
    case LogFormat::kUnknown:
      break;
  }
  if (!line.empty() && line[0] == '{' && DecodeDocker(line, scratch, out)) {
    *format = LogFormat::kDocker;
    return LogFormat::kDocker;
  }
  if (DecodeCri(line, out)) {
    *format = LogFormat::kCri;
    return LogFormat::kCri;
  }
  if (DecodeDocker(line, scratch, out)) {
    *format = LogFormat::kDocker;
    return LogFormat::kDocker;
  }
  return raw();  // the format stays unknown: the next line may tell
}

}  // namespace logq::shipper
