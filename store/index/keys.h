// Key encodings of the RocksDB column families (see docs/architecture.md, "RocksDB layout").
// Every key starts with the tenant as `u8 length · bytes`, so no scan can cross tenants
// and no tenant is a prefix of another. Integers are big-endian so byte order = numeric
// order; timestamps are stored as `ts XOR 2^63` so negative times sort first.
// Internal to store/index and its tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logq::index::keys {

inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void PutU32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline uint64_t GetU64(std::string_view s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}
inline uint32_t GetU32(std::string_view s, size_t pos) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}
inline uint64_t EncodeTs(int64_t ts) { return static_cast<uint64_t>(ts) ^ (1ULL << 63); }
inline int64_t DecodeTs(uint64_t v) { return static_cast<int64_t>(v ^ (1ULL << 63)); }

inline std::string TenantPrefix(std::string_view tenant) {
  std::string k;
  k.push_back(static_cast<char>(tenant.size()));
  k.append(tenant);
  return k;
}

// streams:  tenant · fp(8)
inline std::string StreamKey(std::string_view tenant, uint64_t fp) {
  std::string k = TenantPrefix(tenant);
  PutU64(&k, fp);
  return k;
}

// postings: tenant · day(4) · fp(8)   — "stream fp had entries on this UTC day"
inline std::string PostingKey(std::string_view tenant, uint32_t day, uint64_t fp) {
  std::string k = TenantPrefix(tenant);
  PutU32(&k, day);
  PutU64(&k, fp);
  return k;
}

// head:     tenant · fp(8) · ts(8) · hash(line)(8)
inline std::string StreamPrefix(std::string_view tenant, uint64_t fp) { return StreamKey(tenant, fp); }
inline std::string HeadKey(std::string_view tenant, uint64_t fp, int64_t ts, uint64_t line_hash) {
  std::string k = StreamKey(tenant, fp);
  PutU64(&k, EncodeTs(ts));
  PutU64(&k, line_hash);
  return k;
}

// chunks / chunk_refs: tenant · fp(8) · min_ts(8) · max_ts(8) · content hash(8)
inline std::string ChunkKey(std::string_view tenant, uint64_t fp, int64_t min_ts, int64_t max_ts,
                            uint64_t content_hash) {
  std::string k = StreamKey(tenant, fp);
  PutU64(&k, EncodeTs(min_ts));
  PutU64(&k, EncodeTs(max_ts));
  PutU64(&k, content_hash);
  return k;
}

// Splits the tenant prefix off a key; returns false if malformed.
inline bool SplitTenant(std::string_view key, std::string_view* tenant, std::string_view* rest) {
  if (key.empty()) return false;
  size_t n = static_cast<unsigned char>(key[0]);
  if (key.size() < 1 + n) return false;
  *tenant = key.substr(1, n);
  *rest = key.substr(1 + n);
  return true;
}

}  // namespace logq::index::keys
