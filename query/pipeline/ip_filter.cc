#include "query/pipeline/ip_filter.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace logq::pipeline {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// netip's parseIPv4Fields over s; writes 4 bytes to `fields`.
bool ParseIPv4Fields(std::string_view s, uint8_t* fields) {
  int val = 0, pos = 0, dig_len = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c)) {
      if (dig_len == 1 && val == 0) return false;  // leading zero
      val = val * 10 + (c - '0');
      ++dig_len;
      if (val > 255) return false;
    } else if (c == '.') {
      if (i == 0 || i == s.size() - 1 || s[i - 1] == '.') return false;
      if (pos == 3) return false;  // too long
      fields[pos++] = static_cast<uint8_t>(val);
      val = 0;
      dig_len = 0;
    } else {
      return false;
    }
  }
  if (pos < 3) return false;
  fields[3] = static_cast<uint8_t>(val);
  return true;
}

bool ParseIPv6(std::string_view in, IpAddr* out) {
  std::string_view s = in;
  std::string_view zone;
  if (size_t pct = s.find('%'); pct != std::string_view::npos) {
    zone = s.substr(pct + 1);
    s = s.substr(0, pct);
    if (zone.empty()) return false;
  }
  uint8_t ip[16] = {};
  int ellipsis = -1;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) {
      out->bits = 128;
      std::memset(out->b, 0, 16);
      out->zone = std::string(zone);
      return true;
    }
  }
  int i = 0;
  while (i < 16) {
    size_t off = 0;
    uint32_t acc = 0;
    for (; off < s.size(); ++off) {
      const char c = s[off];
      if (c >= '0' && c <= '9') acc = (acc << 4) + static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') acc = (acc << 4) + static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') acc = (acc << 4) + static_cast<uint32_t>(c - 'A' + 10);
      else break;
      if (off > 3) return false;
      if (acc > 0xFFFF) return false;
    }
    if (off == 0) return false;
    if (off < s.size() && s[off] == '.') {
      if (ellipsis < 0 && i != 12) return false;
      if (i + 4 > 16) return false;
      if (!ParseIPv4Fields(s, ip + i)) return false;
      s = {};
      i += 4;
      break;
    }
    ip[i] = static_cast<uint8_t>(acc >> 8);
    ip[i + 1] = static_cast<uint8_t>(acc);
    i += 2;
    s.remove_prefix(off);
    if (s.empty()) break;
    if (s[0] != ':') return false;
    if (s.size() == 1) return false;
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    const int n = 16 - i;
    for (int j = i - 1; j >= ellipsis; --j) ip[j + n] = ip[j];
    std::memset(ip + ellipsis, 0, static_cast<size_t>(n));
  } else if (ellipsis >= 0) {
    return false;
  }
  out->bits = 128;
  std::memcpy(out->b, ip, 16);
  out->zone = std::string(zone);
  return true;
}

// The charset-delimited span at the start of s.
size_t Span(std::string_view s, bool v6) {
  size_t i = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = v6 ? (IsHexDigit(c) || c == ':' || c == '.') : (IsDigit(c) || c == '.');
    if (!ok) break;
  }
  return i;
}

bool Ipv4Hint(const char* p) { return IsDigit(p[0]) && (p[1] == '.' || p[2] == '.' || p[3] == '.'); }

bool Ipv6Hint(const char* p) {
  const bool h1 = p[0] == ':' && p[1] == ':' && IsHexDigit(p[2]);
  const bool h2 = IsHexDigit(p[0]) && p[1] == ':';
  const bool h3 = IsHexDigit(p[0]) && IsHexDigit(p[1]) && p[2] == ':';
  const bool h4 = IsHexDigit(p[0]) && IsHexDigit(p[1]) && IsHexDigit(p[2]) && p[3] == ':';
  const bool h5 = IsHexDigit(p[0]) && IsHexDigit(p[1]) && IsHexDigit(p[2]) && IsHexDigit(p[3]) && p[4] == ':';
  return h1 || h2 || h3 || h4 || h5;
}

}  // namespace

int IpAddr::Compare(const IpAddr& o) const {
  if (bits != o.bits) return bits < o.bits ? -1 : 1;
  int c = std::memcmp(b, o.b, 16);
  if (c != 0) return c < 0 ? -1 : 1;
  c = zone.compare(o.zone);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool ParseIpAddr(std::string_view s, IpAddr* out) {
  *out = IpAddr();
  for (char c : s) {
    if (c == '.') {
      uint8_t f[4];
      if (!ParseIPv4Fields(s, f)) return false;
      out->bits = 32;
      std::memcpy(out->b + 12, f, 4);
      return true;
    }
    if (c == ':') {
      if (!ParseIPv6(s, out)) {
        *out = IpAddr();
        return false;
      }
      return true;
    }
    if (c == '%') return false;
  }
  return false;
}

Result<IpMatcher> IpMatcher::Make(std::string_view pattern) {
  IpMatcher m;
  if (ParseIpAddr(pattern, &m.a_)) {
    m.kind_ = Kind::kAddr;
    return m;
  }
  // netip.ParsePrefix
  if (size_t slash = pattern.rfind('/'); slash != std::string_view::npos) {
    IpAddr ip;
    std::string_view bits_str = pattern.substr(slash + 1);
    bool ok = ParseIpAddr(pattern.substr(0, slash), &ip) && !(ip.bits == 128 && !ip.zone.empty()) &&
              !bits_str.empty() && !(bits_str.size() > 1 && (bits_str[0] < '1' || bits_str[0] > '9'));
    int bits = 0;
    for (size_t k = 0; ok && k < bits_str.size(); ++k) {
      if (!IsDigit(bits_str[k])) ok = false;
      else if (bits <= 1000) bits = bits * 10 + (bits_str[k] - '0');
    }
    if (ok && bits <= ip.bits) {
      m.kind_ = Kind::kPrefix;
      m.a_ = ip;
      m.prefix_bits_ = bits;
      return m;
    }
  }
  // netipx.ParseIPRange
  if (size_t hyphen = pattern.find('-'); hyphen != std::string_view::npos) {
    IpAddr from, to;
    if (ParseIpAddr(pattern.substr(0, hyphen), &from) && ParseIpAddr(pattern.substr(hyphen + 1), &to) &&
        from.bits == to.bits && from.zone == to.zone && to.Compare(from) >= 0) {
      m.kind_ = Kind::kRange;
      m.a_ = from;
      m.b_ = to;
      return m;
    }
  }
  std::string msg = "ip: invalid pattern: \"";
  msg.append(pattern);
  msg += '"';
  return InvalidArgument(msg);
}

bool IpMatcher::Contains(const IpAddr& ip) const {
  switch (kind_) {
    case Kind::kAddr:
      return a_.Compare(ip) == 0;
    case Kind::kRange:
      return ip.bits != 0 && a_.Compare(ip) <= 0 && b_.Compare(ip) >= 0;
    case Kind::kPrefix: {
      if (!ip.zone.empty() || ip.bits == 0 || ip.bits != a_.bits) return false;
      const int base = ip.bits == 32 ? 12 : 0;
      int remaining = prefix_bits_;
      for (int k = base; k < 16 && remaining > 0; ++k) {
        const int take = remaining >= 8 ? 8 : remaining;
        const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - take));
        if ((ip.b[k] & mask) != (a_.b[k] & mask)) return false;
        remaining -= take;
      }
      return true;
    }
  }
  return false;
}

namespace {

// First '.' or ':' at or after `from`, or npos.
size_t FindSeparator(std::string_view s, size_t from) {
  const char* p = s.data();
  size_t i = from;
#if defined(__SSE2__)
  const __m128i dot = _mm_set1_epi8('.');
  const __m128i colon = _mm_set1_epi8(':');
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(b, dot), _mm_cmpeq_epi8(b, colon)));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < s.size(); ++i) {
    if (p[i] == '.' || p[i] == ':') return i;
  }
  return std::string_view::npos;
}

}  // namespace

bool IpMatcher::MatchesIn(std::string_view line) const {
  const size_t n = line.size();
  if (n == 0) return false;
  IpAddr ip;
  // Returns true on a match; otherwise the span length to skip.
  auto try_at = [&](size_t start, bool v6, size_t* skip) {
    const size_t len = Span(line.substr(start), v6);
    if (ParseIpAddr(line.substr(start, len), &ip) && Contains(ip)) return true;
    *skip = len;
    return false;
  };
  // Loki scans every position; a position can only start a token (both hints) when a '.' or
  // ':' follows within 4 bytes, so jump from separator to separator and scan the 5 positions
  // before each, in order.
  size_t i = 0;
  while (i < n) {
    const size_t sep = FindSeparator(line, i);
    if (sep == std::string_view::npos) return false;
    size_t j = sep >= 4 && sep - 4 > i ? sep - 4 : i;
    for (; j <= sep && j < n; ++j) {
      size_t skip = 0;
      if (j + 3 < n && Ipv4Hint(line.data() + j)) {
        if (try_at(j, false, &skip)) return true;
        j += skip;
        continue;
      }
      if (j + 4 < n && Ipv6Hint(line.data() + j)) {
        if (try_at(j, true, &skip)) return true;
        j += skip;
        continue;
      }
    }
    i = j;
  }
  return false;
}

}  // namespace logq::pipeline
