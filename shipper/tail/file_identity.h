// FileIdentity: what makes a log file "the same file" across renames, restarts, inode reuse
// and truncation: (dev, inode) plus a fingerprint (xxh3 hash) of its first bytes.
//
// The fingerprint covers min(size, kFingerprintBytes) bytes and records that length, so a
// young file's fingerprint grows with it; two identities match when the shorter fingerprint
// is a prefix-hash of the longer file. For a .gz generation the fingerprint is computed on
// the decompressed head, so a compressed generation matches the plain file it came from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/base/status.h"

namespace logq::shipper {

inline constexpr uint32_t kFingerprintBytes = 1024;

struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint32_t fp_len = 0;   // bytes hashed (0: empty file, no content identity yet)
  uint64_t fp_hash = 0;  // xxh3-64 of the first fp_len bytes
  bool operator==(const FileIdentity&) const = default;
};

uint64_t HashHead(std::string_view bytes);

// Reads the head of an open plain file (pread, does not move the offset) and fills
// fp_len/fp_hash; dev/ino from fstat. Internal error on I/O failure.
Status IdentifyFd(int fd, FileIdentity* id);

// Identity of a file by path; `gzip` hashes the decompressed head instead, and then also
// reports the decompressed length in *gz_size when non-null (reads the whole file).
Result<FileIdentity> IdentifyPath(const std::string& path, bool gzip, int64_t* gz_size = nullptr);

// Hash of the first `len` bytes of the open plain file at `fd`, or of the decompressed
// head of a gzip file at `path` (fd ignored); false when shorter or unreadable.
bool HashPrefixFd(int fd, uint32_t len, uint64_t* hash);
bool HashPrefixGzip(const std::string& path, uint32_t len, uint64_t* hash);

// True when `head` (a stored identity, possibly from before a rename or compression) has
// the same content head as a file whose first bytes hash to `hash_at_len` over head.fp_len
// bytes. An empty fingerprint (fp_len == 0) matches only by (dev, ino).
inline bool SameContentHead(const FileIdentity& stored, uint64_t hash_at_len) {
  return stored.fp_len > 0 && stored.fp_hash == hash_at_len;
}

}  // namespace logq::shipper
