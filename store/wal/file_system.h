// FileSystem: the few file operations the write-ahead log needs, behind an interface so tests
// can inject faults (ENOSPC, EIO, short writes) without a special disk. PosixFileSystem is the
// real implementation; tests wrap it (tests/store/wal/fault_file_system.h).
//
// Errors: every method returns a Status whose message names the operation and errno text but
// never the path (Status messages may reach HTTP bodies); callers log paths themselves. ENOSPC
// and EDQUOT map to Unavailable with "no space left on device" in the message; other errno
// values map to Unavailable as well (the disk may come back; a retry is the right answer for a
// client). NotFound is returned for a missing file where documented.
//
// Thread-safety: a FileSystem is safe to use from any thread. A WritableFile or SequentialFile
// is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq::wal {

// A file opened for appending. Writes go to the OS (no user-space buffer): after Append
// returns OK the bytes survive a crash of the process (not of the machine; Sync for that).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` at the end of the file (loops over short writes). On error some
  // prefix of `data` may have been written; Size() is then unknown until Truncate succeeds.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: data and the size are durable when this returns OK.
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes; later Appends continue there.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Close() = 0;
};

// A file read from the start, front to back.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to `n` bytes into `buf`; *read == 0 means end of file.
  virtual Status Read(size_t n, char* buf, size_t* read) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens `path` for appending, creating it if missing; `truncate` empties an existing file.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                bool truncate) = 0;
  // NotFound if `path` does not exist.
  virtual Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;
  // Names (not paths) of the directory's entries, without "." and "..", unordered.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Creates `dir` and missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // NotFound if `path` does not exist.
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes a file; OK if it did not exist.
  virtual Status Remove(const std::string& path) = 0;
  // fsync of the directory itself, so created, renamed and removed names are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
};

// The process-wide POSIX implementation (never destroyed).
FileSystem* DefaultFileSystem();

// Maps an errno of operation `op` ("write", "fdatasync", ...) to a Status (see above).
Status ErrnoStatus(std::string_view op, int err);

}  // namespace logq::wal
