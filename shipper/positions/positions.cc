#include "shipper/positions/positions.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace logq::shipper {
namespace {

bool ParseU64(std::string_view s, uint64_t* v, int base = 10) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v, base);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseIdentityValue(std::string_view v, FileIdentity* id, int64_t* size) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t c = v.find(':', pos);
    parts.push_back(v.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (parts.size() != 5) return false;
  uint64_t len, sz;
  if (!ParseU64(parts[0], &id->dev) || !ParseU64(parts[1], &id->ino) || !ParseU64(parts[2], &len) ||
      len > kFingerprintBytes || !ParseU64(parts[3], &id->fp_hash, 16) || !ParseU64(parts[4], &sz)) {
    return false;
  }
  id->fp_len = static_cast<uint32_t>(len);
  *size = static_cast<int64_t>(sz);
  return true;
}

// YAML double-quoted scalar.
std::string Quote(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) o += fmt::format("\\x{:02x}", c);
        else o.push_back(static_cast<char>(c));
    }
  }
  o += '"';
  return o;
}

}  // namespace

Result<PositionsData> ParsePositions(std::string_view yaml) {
  PositionsData d;
  if (yaml.find('\0') != std::string_view::npos) {
    return DataLoss("contains NUL bytes (torn or zero-filled write)");
  }
  bool blank = true;
  for (char c : yaml) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
      blank = false;
      break;
    }
  }
  if (blank) return d;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("invalid YAML at line {}, column {}: {}", e.mark.line + 1,
                                       e.mark.column + 1, e.msg));
  }
  if (root.IsNull()) return d;
  if (!root.IsMap()) return InvalidArgument("top level is not a mapping with a \"positions\" key");
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.Scalar();
    if (k != "positions") return InvalidArgument("unknown key \"" + k + "\" (expected \"positions\")");
  }
  YAML::Node pos = root["positions"];
  if (!pos || pos.IsNull()) return d;
  if (!pos.IsMap()) return InvalidArgument("\"positions\" is not a mapping of path to offset");
  std::map<std::string, std::pair<FileIdentity, int64_t>> ids;
  for (auto it = pos.begin(); it != pos.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      return InvalidArgument("positions: every entry must be \"path: offset\"");
    }
    std::string key = it->first.Scalar();
    std::string val = it->second.Scalar();
    if (key.rfind(kIdentityKeyPrefix, 0) == 0) {
      FileIdentity id;
      int64_t size;
      if (!ParseIdentityValue(val, &id, &size)) {
        return InvalidArgument("positions: bad identity \"" + val + "\" for \"" + key + "\"");
      }
      ids[key.substr(kIdentityKeyPrefix.size())] = {id, size};
      continue;
    }
    if (key.rfind("journal-", 0) == 0 || key.rfind("cursor-", 0) == 0) {
      d.other[key] = val;
      continue;
    }
    uint64_t off;
    if (!ParseU64(val, &off)) {
      return InvalidArgument("positions: offset \"" + val + "\" of \"" + key + "\" is not a non-negative integer");
    }
    d.files[key].offset = off;
  }
  for (auto& [path, v] : ids) {
    auto it = d.files.find(path);
    if (it == d.files.end()) continue;  // identity without offset: ignore
    it->second.identity = v.first;
    it->second.size = v.second;
  }
  return d;
}

std::string FormatPositions(const PositionsData& data) {
  std::string o = "positions:\n";
  if (data.files.empty() && data.other.empty()) return "positions: {}\n";
  for (const auto& [path, e] : data.files) {
    o += "  " + Quote(path) + ": \"" + std::to_string(e.offset) + "\"\n";
    if (e.identity) {
      const FileIdentity& id = *e.identity;
      o += "  " + Quote(std::string(kIdentityKeyPrefix) + path) +
           fmt::format(": \"{}:{}:{}:{:x}:{}\"\n", id.dev, id.ino, id.fp_len, id.fp_hash,
                       e.size < 0 ? 0 : e.size);
    }
  }
  for (const auto& [k, v] : data.other) o += "  " + Quote(k) + ": " + Quote(v) + "\n";
  return o;
}

Result<PositionsData> LoadPositionsFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": does not exist");
    return Internal(path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[64 << 10];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return Internal(path + ": read: " + std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto r = ParsePositions(text);
  if (!r.ok()) return Status(r.status().code(), "positions file " + path + ": " + r.status().message());
  return r;
}

Status SavePositionsFile(const std::string& path, const PositionsData& data) {
  std::string dir = ".";
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  mkdir(dir.c_str(), 0755);  // best effort; errors surface at open
  std::string tmp = path + ".tmp";
  std::string text = FormatPositions(data);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal(tmp + ": open: " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return Internal(tmp + ": write: " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return Internal(tmp + ": fsync: " + std::strerror(e));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Internal(path + ": rename: " + std::strerror(e));
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Internal(dir + ": open: " + std::strerror(errno));
  int rc = fsync(dfd);
  int e = errno;
  close(dfd);
  if (rc != 0) return Internal(dir + ": fsync: " + std::strerror(e));
  return Status::OK();
}

}  // namespace logq::shipper
