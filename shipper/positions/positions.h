// Positions: the shipper's durable checkpoint, in Promtail's positions YAML format.
//
//   positions:
//     /var/log/pods/ns_pod_uid/c/0.log: "12345"
//     logq-id:/var/log/pods/ns_pod_uid/c/0.log: "2049:131074:1024:9f3c...e1:20480"
//
// `path: "offset"` entries are exactly Promtail's, so a Promtail positions file can be
// adopted and Promtail can read ours. The file identity that logq needs to survive renames,
// inode reuse and truncation is kept in extra entries under the key `logq-id:<path>` with
// value "<dev>:<inode>:<fingerprint length>:<fingerprint hex>:<size at save>". Promtail
// ignores them (it drops entries whose path does not exist). Other keys (Promtail's
// `journal-`/`cursor-` entries) are preserved as they are.
//
// Writes are atomic and durable: temp file in the same directory, fsync, rename, fsync of
// the directory.
//
// Thread-safety: the functions are pure or touch only the named files; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "query/base/status.h"
#include "shipper/tail/file_identity.h"

namespace logq::shipper {

inline constexpr std::string_view kIdentityKeyPrefix = "logq-id:";

struct PositionEntry {
  uint64_t offset = 0;
  std::optional<FileIdentity> identity;  // absent in a Promtail-written file
  int64_t size = -1;                     // file size when saved; -1 unknown
  bool operator==(const PositionEntry&) const = default;
};

struct PositionsData {
  std::map<std::string, PositionEntry> files;     // by path
  std::map<std::string, std::string> other;       // keys logq does not manage, verbatim
  bool operator==(const PositionsData&) const = default;
};

// Parses the YAML text. Empty text is an empty map. Errors (InvalidArgument/DataLoss) say
// what is wrong: not YAML, no `positions` mapping, an offset that is not an integer, ...
Result<PositionsData> ParsePositions(std::string_view yaml);
std::string FormatPositions(const PositionsData& data);

// Reads `path`. NotFound when it does not exist (a fresh start); other errors as above,
// prefixed with the path.
Result<PositionsData> LoadPositionsFile(const std::string& path);

// Writes `data` to `path` atomically and durably (temp + fsync + rename + fsync dir).
// Creates the parent directory if missing.
Status SavePositionsFile(const std::string& path, const PositionsData& data);

}  // namespace logq::shipper
