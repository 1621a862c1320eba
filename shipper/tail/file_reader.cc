#include "shipper/tail/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace logq::shipper {
namespace {

size_t LongLineCap(const JoinerOptions& o) {
  size_t cap = (o.truncate && o.max_line_size > 0) ? o.max_line_size : JoinerOptions::kHardCap;
  return cap + 4096;  // room for the CRI/docker framing around the message
}

thread_local int last_open_errno = 0;

}  // namespace

int FileReader::LastOpenErrno() { return last_open_errno; }

FileReader::FileReader(std::string path, bool gzip, const ReaderOptions& options)
    : path_(std::move(path)), gzip_(gzip), options_(options), joiner_(options.joiner) {
  if (options.raw) format_ = LogFormat::kRaw;
}

FileReader::~FileReader() { CloseFd(); }

void FileReader::CloseFd() {
  if (gz_) {
    gzclose(static_cast<gzFile>(gz_));  // closes fd_ too
    gz_ = nullptr;
    fd_ = -1;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

Result<std::unique_ptr<FileReader>> FileReader::Open(const std::string& path, bool gzip,
                                                     uint64_t offset, const ReaderOptions& options) {
  std::unique_ptr<FileReader> r(new FileReader(path, gzip, options));
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  last_open_errno = r->fd_ < 0 ? errno : 0;
  if (r->fd_ < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return Internal(path + ": open: " + std::strerror(errno));
  }
  if (!gzip) {
    Status st = IdentifyFd(r->fd_, &r->id_);
    if (!st.ok()) return st.WithPrefix(path);
    if (!r->Stat()) return Internal(path + ": fstat: " + std::strerror(errno));
    if (offset > r->size_) offset = 0;
    if (offset > 0 && lseek(r->fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
      return Internal(path + ": lseek: " + std::strerror(errno));
    }
  } else {
    struct stat st;
    if (fstat(r->fd_, &st) != 0) return Internal(path + ": fstat failed");
    r->id_.dev = st.st_dev;
    r->id_.ino = st.st_ino;
    gzFile gz = gzdopen(r->fd_, "rb");
    if (!gz) return Internal(path + ": gzdopen failed");
    r->gz_ = gz;
    gzbuffer(gz, 128 << 10);
    char head[kFingerprintBytes];
    int n = gzread(gz, head, sizeof(head));
    if (n < 0) return DataLoss(path + ": corrupt gzip");
    r->id_.fp_len = static_cast<uint32_t>(n);
    r->id_.fp_hash = n > 0 ? HashHead(std::string_view(head, n)) : 0;
    if (gzrewind(gz) != 0) return Internal(path + ": gzrewind failed");
    // Skip to the decompressed offset.
    std::string skip(64 << 10, '\0');
    uint64_t left = offset;
    while (left > 0) {
      int m = gzread(gz, skip.data(), static_cast<unsigned>(std::min<uint64_t>(left, skip.size())));
      if (m < 0) return DataLoss(path + ": corrupt gzip");
      if (m == 0) break;
      left -= static_cast<uint64_t>(m);
    }
    offset -= left;
    r->size_ = offset;
  }
  r->read_pos_ = offset;
  r->consumed_ = offset;
  return r;
}

void FileReader::Suspend() {
  if (gzip_ || fd_ < 0) return;
  CloseFd();
  suspended_ = true;
}

int FileReader::SameFile(const std::string& path, const struct stat& st) const {
  if (static_cast<uint64_t>(st.st_dev) != id_.dev || static_cast<uint64_t>(st.st_ino) != id_.ino) return 0;
  if (id_.fp_len == 0) return 1;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  uint64_t h = 0;
  bool same = HashPrefixFd(fd, id_.fp_len, &h) && h == id_.fp_hash;
  close(fd);
  return same ? 1 : 0;
}

Status FileReader::Resume(const std::string& path) {
  if (!suspended_) return Status::OK();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  last_open_errno = fd < 0 ? errno : 0;
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + ": no such file");
    return Internal(path + ": open: " + std::strerror(errno));
  }
  struct stat st;
  uint64_t h = 0;
  bool same = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_dev) == id_.dev &&
              static_cast<uint64_t>(st.st_ino) == id_.ino &&
              (id_.fp_len == 0 || (HashPrefixFd(fd, id_.fp_len, &h) && h == id_.fp_hash));
  if (!same || lseek(fd, static_cast<off_t>(read_pos_), SEEK_SET) < 0) {
    close(fd);
    return NotFound(path + ": another file now");
  }
  fd_ = fd;
  suspended_ = false;
  path_ = path;
  return Status::OK();
}

bool FileReader::Stat() {
  if (gzip_ || fd_ < 0) return true;
  struct stat st;
  if (fstat(fd_, &st) != 0) return false;
  size_ = static_cast<uint64_t>(st.st_size);
  unlinked_ = st.st_nlink == 0;
  return true;
}

bool FileReader::CheckHead() {
  if (gzip_) return true;
  if (id_.fp_len > 0) {
    uint64_t h;
    if (!HashPrefixFd(fd_, id_.fp_len, &h) || h != id_.fp_hash) return false;
  }
  if (id_.fp_len < kFingerprintBytes && size_ > id_.fp_len) {
    FileIdentity grown;
    if (IdentifyFd(fd_, &grown).ok() && grown.fp_len > id_.fp_len) {
      uint64_t h;
      // Re-check the old prefix on the same read to avoid racing a concurrent truncation.
      if (id_.fp_len == 0 || (HashPrefixFd(fd_, id_.fp_len, &h) && h == id_.fp_hash)) {
        id_.fp_len = grown.fp_len;
        id_.fp_hash = grown.fp_hash;
      }
    }
  }
  return true;
}

ssize_t FileReader::ReadSource(char* buf, size_t n) {
  if (gzip_) return gzread(static_cast<gzFile>(gz_), buf, static_cast<unsigned>(n));
  while (true) {
    ssize_t r = read(fd_, buf, n);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

void FileReader::RestartFromZero() {
  joiner_.Reset();
  carry_.clear();
  skipping_ = false;
  long_head_.clear();
  read_pos_ = 0;
  consumed_ = 0;
  if (!gzip_ && fd_ >= 0) {
    lseek(fd_, 0, SEEK_SET);
    FileIdentity fresh;
    if (IdentifyFd(fd_, &fresh).ok()) id_ = fresh;
  }
}

void FileReader::ProcessLine(std::string_view line, uint64_t start, uint64_t end,
                             int64_t now_wall_ns, int64_t now_mono, std::vector<Record>* out) {
  if (line.empty()) return;  // a bare '\n': no runtime writes these; nothing to send
  DecodedLine d;
  LogFormat f = DecodeLine(line, &format_, &scratch_, &d);
  if (f == LogFormat::kRaw) {
    d.timestamp_ns = last_ts_ != 0 ? last_ts_ : now_wall_ns;
  } else {
    last_ts_ = d.timestamp_ns;
  }
  Record rec;
  if (joiner_.Add(d, start, end, now_mono, &rec)) {
    if (rec.truncated) ++truncated_lines_;
    out->push_back(std::move(rec));
  }
}

ReadStatus FileReader::ReadOnce(std::vector<Record>* out, int64_t now_wall_ns, int64_t now_mono) {
  if (fd_ < 0) return ReadStatus::kEof;
  if (!gzip_) {
    if (!Stat()) {
      error_ = std::string("fstat: ") + std::strerror(errno);
      return ReadStatus::kError;
    }
    if (size_ < read_pos_ || !CheckHead()) return ReadStatus::kTruncated;
    if (size_ == read_pos_) return ReadStatus::kEof;
  }
  size_t chunk = options_.chunk_bytes;
  // One read buffer per thread, shared by all readers (1,000 readers must not hold 1,000
  // chunk buffers); records copy what they keep out of it before the next read.
  static thread_local std::string buf;
  if (buf.size() < chunk) buf.resize(chunk);
  ssize_t n = ReadSource(buf.data(), chunk);
  if (n < 0) {
    error_ = gzip_ ? "corrupt gzip" : std::string("read: ") + std::strerror(errno);
    return ReadStatus::kError;
  }
  if (n == 0) return ReadStatus::kEof;
  read_pos_ += static_cast<uint64_t>(n);
  if (gzip_) size_ = read_pos_;

  std::string_view data(buf.data(), static_cast<size_t>(n));
  uint64_t data_off = read_pos_ - static_cast<uint64_t>(n);  // file offset of data[0]

  if (skipping_) {
    const char* nl = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
    if (!nl) {
      consumed_ = read_pos_;  // discarded bytes of the long line (PendingStart covers it)
      return ReadStatus::kData;
    }
    size_t k = static_cast<size_t>(nl - data.data());
    uint64_t end = data_off + k + 1;
    skipping_ = false;
    std::string head = std::move(long_head_);
    long_head_.clear();
    ProcessLine(head, long_start_, end, now_wall_ns, now_mono, out);
    consumed_ = end;
    data.remove_prefix(k + 1);
    data_off = end;
  }

  // Complete lines: carry_ + data up to the last '\n'.
  const char* last_nl = static_cast<const char*>(memrchr(data.data(), '\n', data.size()));
  if (!last_nl) {
    carry_.append(data);
  } else {
    size_t upto = static_cast<size_t>(last_nl - data.data()) + 1;
    std::string_view lines = data.substr(0, upto);
    size_t pos = 0;
    uint64_t off = consumed_;
    if (!carry_.empty()) {
      const char* nl = static_cast<const char*>(std::memchr(lines.data(), '\n', lines.size()));
      size_t k = static_cast<size_t>(nl - lines.data());
      carry_.append(lines.data(), k);
      uint64_t end = data_off + k + 1;
      ProcessLine(carry_, off, end, now_wall_ns, now_mono, out);
      carry_.clear();
      off = end;
      pos = k + 1;
    }
    while (pos < lines.size()) {
      const char* nl = static_cast<const char*>(std::memchr(lines.data() + pos, '\n', lines.size() - pos));
      size_t k = static_cast<size_t>(nl - lines.data());
      uint64_t end = data_off + k + 1;
      ProcessLine(lines.substr(pos, k - pos), off, end, now_wall_ns, now_mono, out);
      off = end;
      pos = k + 1;
    }
    consumed_ = off;
    carry_.assign(data.substr(upto));
  }
  // A physical line longer than the cap: keep its head, discard the rest until '\n'.
  if (carry_.size() > LongLineCap(options_.joiner)) {
    long_start_ = consumed_;
    long_head_ = carry_.substr(0, LongLineCap(options_.joiner));
    carry_.clear();
    std::string().swap(carry_);
    skipping_ = true;
    consumed_ = read_pos_;
  }
  return ReadStatus::kData;
}

void FileReader::FinishAtEof(std::vector<Record>* out, int64_t now_wall_ns) {
  if (skipping_) {
    skipping_ = false;
    std::string head = std::move(long_head_);
    long_head_.clear();
    ProcessLine(head, long_start_, read_pos_, now_wall_ns, 0, out);
  } else if (!carry_.empty()) {
    ProcessLine(carry_, consumed_, read_pos_, now_wall_ns, 0, out);
    carry_.clear();
  }
  consumed_ = read_pos_;
  joiner_.Flush(true, 0, 0, out);
}

void FileReader::FlushPartials(int64_t now_mono, int64_t timeout_ns, std::vector<Record>* out) {
  joiner_.Flush(false, now_mono, timeout_ns, out);
}

std::optional<uint64_t> FileReader::PendingStart() const {
  std::optional<uint64_t> p = joiner_.PendingStart();
  if (skipping_ && (!p || long_start_ < *p)) p = long_start_;
  return p;
}

}  // namespace logq::shipper
