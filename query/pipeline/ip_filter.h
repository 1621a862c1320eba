// The `ip("...")` matcher of line filters and label filters, with Go's net/netip parsing
// rules (strict dotted quads, no leading zeros, RFC 4291 IPv6 text incl. embedded IPv4 and
// zones) and Loki's way of finding IP-looking tokens in a line. Patterns: one address
// ("192.168.0.1", "::1"), a CIDR prefix ("10.0.0.0/8") or an inclusive range
// ("192.168.0.1-192.168.0.23"). Immutable after Make; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/base/status.h"

namespace logq::pipeline {

// A parsed IP address as netip.Addr: IPv4 (32 bits, stored in bytes 12..15) or IPv6.
struct IpAddr {
  int bits = 0;  // 32 or 128; 0 = invalid
  uint8_t b[16] = {};
  std::string zone;
  // netip.Addr.Compare: by bit length, then address, then zone.
  int Compare(const IpAddr& o) const;
};

// netip.ParseAddr.
bool ParseIpAddr(std::string_view s, IpAddr* out);

class IpMatcher {
 public:
  // InvalidArgument `ip: invalid pattern: "<pattern>"` when the pattern is none of the forms.
  static Result<IpMatcher> Make(std::string_view pattern);

  bool Contains(const IpAddr& ip) const;
  // Loki's ipFilter.filter: true if some IPv4/IPv6-looking token of `text` parses as an
  // address and is contained in the pattern. Note Loki's scan needs at least 4 (IPv4) or
  // 5 (IPv6) bytes after a token's start, so a bare "::1" is never found.
  bool MatchesIn(std::string_view text) const;

 private:
  enum class Kind { kAddr, kPrefix, kRange };
  Kind kind_ = Kind::kAddr;
  IpAddr a_, b_;  // addr; prefix address; range from/to
  int prefix_bits_ = 0;
};

}  // namespace logq::pipeline
