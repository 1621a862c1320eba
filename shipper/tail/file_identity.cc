#include "shipper/tail/file_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace logq::shipper {

uint64_t HashHead(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

namespace {

// Reads up to `len` bytes at offset 0; returns the count or -1.
ssize_t PreadHead(int fd, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

Status IdentifyFd(int fd, FileIdentity* id) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Internal(std::string("fstat: ") + std::strerror(errno));
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  char buf[kFingerprintBytes];
  ssize_t n = PreadHead(fd, buf, sizeof(buf));
  if (n < 0) return Internal(std::string("read: ") + std::strerror(errno));
  id->fp_len = static_cast<uint32_t>(n);
  id->fp_hash = n > 0 ? HashHead(std::string_view(buf, n)) : 0;
  return Status::OK();
}

bool HashPrefixFd(int fd, uint32_t len, uint64_t* hash) {
  if (len > kFingerprintBytes) return false;
  char buf[kFingerprintBytes];
  ssize_t n = PreadHead(fd, buf, len);
  if (n != static_cast<ssize_t>(len)) return false;
  *hash = HashHead(std::string_view(buf, len));
  return true;
}

bool HashPrefixGzip(const std::string& path, uint32_t len, uint64_t* hash) {
  if (len > kFingerprintBytes) return false;
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return false;
  char buf[kFingerprintBytes];
  int n = gzread(gz, buf, len);
  gzclose(gz);
  if (n != static_cast<int>(len)) return false;
  *hash = HashHead(std::string_view(buf, len));
  return true;
}

Result<FileIdentity> IdentifyPath(const std::string& path, bool gzip, int64_t* gz_size) {
  FileIdentity id;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return Internal(path + ": " + std::strerror(errno));
  }
  if (!gzip) {
    Status st = IdentifyFd(fd, &id);
    close(fd);
    if (!st.ok()) return st.WithPrefix(path);
    return id;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Internal(path + ": fstat failed");
  }
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  gzFile gz = gzdopen(fd, "rb");  // takes the fd
  if (!gz) {
    close(fd);
    return Internal(path + ": gzdopen failed");
  }
  char buf[64 << 10];
  int n = gzread(gz, buf, kFingerprintBytes);
  if (n < 0) {
    gzclose(gz);
    return DataLoss(path + ": corrupt gzip");
  }
  id.fp_len = static_cast<uint32_t>(n);
  id.fp_hash = n > 0 ? HashHead(std::string_view(buf, n)) : 0;
  if (gz_size) {
    int64_t total = n;
    while (true) {
      int m = gzread(gz, buf, sizeof(buf));
      if (m < 0) {
        gzclose(gz);
        return DataLoss(path + ": corrupt gzip");
      }
      if (m == 0) break;
      total += m;
    }
    *gz_size = total;
  }
  gzclose(gz);
  return id;
}

}  // namespace logq::shipper
