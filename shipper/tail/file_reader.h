// FileReader: reads one container log file (plain, or a kubelet .gz generation) from an
// offset, splits it into lines, decodes CRI / docker json-file and joins partial records.
//
// It holds the file open by fd, so a renamed or unlinked generation is drained by the same
// reader until EOF. Records only come out at line boundaries, and PendingStart() tells where
// the oldest unfinished record starts, so a checkpoint never lands inside a record.
//
// Plain files are checked on every read for truncation (size below the read offset, or a
// head fingerprint that changed: copytruncate, "truncated and regrown"); the reader then
// reports kTruncated and the owner calls RestartFromZero().
//
// Lines longer than the joiner cap are truncated (never skipped): the head is kept, the rest
// of the physical line is consumed and discarded.
//
// Thread-safety: none; used by the shipper's event-loop thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "query/base/status.h"
#include "shipper/tail/decode.h"
#include "shipper/tail/file_identity.h"
#include "shipper/tail/line_joiner.h"

namespace logq::shipper {

struct ReaderOptions {
  JoinerOptions joiner;                 // record cap and truncation; see JoinerOptions
  size_t chunk_bytes = 256 << 10;       // bytes per read() call; default 256 KiB
  // Plain lines only: no CRI / docker json-file decoding (a file outside the kubelet layout
  // whose scrape config has no cri/docker stage). Default false: detect per file.
  bool raw = false;
};

enum class ReadStatus {
  kData,       // read some bytes; call again
  kEof,        // nothing more for now
  kTruncated,  // the file was truncated or replaced in place: call RestartFromZero()
  kError,      // I/O error (the reader is unusable); see error()
};

class FileReader {
 public:
  // Opens `path` (gzip: a compressed generation) and positions at `offset` (for gzip: the
  // decompressed offset, reached by decompressing). If the plain file is shorter than
  // `offset`, it starts from 0 (truncated while we were away).
  static Result<std::unique_ptr<FileReader>> Open(const std::string& path, bool gzip,
                                                  uint64_t offset, const ReaderOptions& options);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Reads at most one chunk, appends completed records to `out`. `now_wall_ns` stamps raw
  // (undecodable) lines that have no earlier timestamp in this file; `now_mono` drives the
  // partial-record timeout.
  ReadStatus ReadOnce(std::vector<Record>* out, int64_t now_wall_ns, int64_t now_mono);

  // After kTruncated: forget unfinished records and read again from offset 0.
  void RestartFromZero();

  // At the end of a finished file (unlinked and drained, or gzip EOF): the last line without
  // '\n' becomes a record, and every unfinished record is released.
  void FinishAtEof(std::vector<Record>* out, int64_t now_wall_ns);

  // Releases unfinished records older than `timeout_ns`.
  void FlushPartials(int64_t now_mono, int64_t timeout_ns, std::vector<Record>* out);

  // Offset where the oldest unfinished record (partial chunks, or a long line being
  // discarded) starts; nullopt when none.
  std::optional<uint64_t> PendingStart() const;

  // Offset after the last complete line handed to the decoder.
  uint64_t consumed() const { return consumed_; }
  // Bytes read from the source so far (>= consumed()).
  uint64_t read_offset() const { return read_pos_; }
  // File size at the last check (plain files; for gzip the decompressed bytes read).
  uint64_t size() const { return size_; }
  bool unlinked() const { return unlinked_; }
  bool gzip() const { return gzip_; }
  const FileIdentity& identity() const { return id_; }
  LogFormat format() const { return format_; }
  const std::string& error() const { return error_; }
  uint64_t truncated_lines() const { return truncated_lines_; }
  // Refreshes size/unlinked from fstat (plain files). False on error.
  bool Stat();
  // Releases the file descriptor (the reader keeps its offsets for bookkeeping).
  void CloseFd();
  bool open() const { return fd_ >= 0; }

  // Idle-file suspension (plain files only): Suspend() closes the fd but keeps every offset
  // and unfinished record in memory; Resume(path) reopens `path` and continues at
  // read_offset() if it is the same file: same (dev, inode) and the same head fingerprint.
  // Resume errors: NotFound when `path` is gone or is another file (the caller looks for
  // the file under other names, or treats it as deleted); Internal otherwise, with the
  // errno in LastOpenErrno() (EMFILE: out of file descriptors, retry later).
  void Suspend();
  Status Resume(const std::string& path);
  bool suspended() const { return suspended_; }
  // 1 when `st` (a stat of a candidate path) and the head of the file at `path` match this
  // reader's identity, 0 when they do not, -errno when the file could not be opened to tell
  // (EMFILE...). Opens and closes one fd when (dev, inode) match.
  int SameFile(const std::string& path, const struct stat& st) const;
  // errno of the last failed open()/Resume() on this thread (0 when the failure had none).
  static int LastOpenErrno();

 private:
  FileReader(std::string path, bool gzip, const ReaderOptions& options);
  void ProcessLine(std::string_view line, uint64_t start, uint64_t end, int64_t now_wall_ns,
                   int64_t now_mono, std::vector<Record>* out);
  bool CheckHead();  // false: head changed (truncated and regrown)
  ssize_t ReadSource(char* buf, size_t n);

  std::string path_;
  bool gzip_;
  ReaderOptions options_;
  int fd_ = -1;
  void* gz_ = nullptr;  // gzFile
  FileIdentity id_;
  LogFormat format_ = LogFormat::kUnknown;
  LineJoiner joiner_;
  std::string carry_;     // bytes of an incomplete line, starting at consumed_
  std::string scratch_;   // docker unescape buffer
  uint64_t read_pos_ = 0;
  uint64_t consumed_ = 0;
  uint64_t size_ = 0;
  bool unlinked_ = false;
  bool suspended_ = false;
  // A physical line longer than the cap: its head is kept, the rest discarded up to '\n'.
  bool skipping_ = false;
  std::string long_head_;
  uint64_t long_start_ = 0;
  int64_t last_ts_ = 0;
  uint64_t truncated_lines_ = 0;
  std::string error_;
};

}  // namespace logq::shipper
