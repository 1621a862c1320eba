// FaultFileSystem: the real POSIX file system with injectable faults for the WAL tests: a write
// budget after which writes are short and fail with ENOSPC, failing fdatasync (EIO), ftruncate,
// file creation and rename. Thread-safe.
#pragma once

#include <errno.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "store/wal/file_system.h"

namespace logq::wal::testing {

class FaultFileSystem final : public FileSystem {
 public:
  // Bytes that may still be written by Append before it fails with ENOSPC (after writing the
  // part that fits: a short write). Negative: unlimited.
  std::atomic<int64_t> write_budget{-1};
  std::atomic<bool> fail_sync{false};      // fdatasync fails with EIO
  std::atomic<bool> fail_truncate{false};  // ftruncate fails with EIO
  std::atomic<bool> fail_create{false};    // NewWritableFile with truncate=true fails (ENOSPC)
  std::atomic<bool> fail_rename{false};    // rename fails with EIO
  std::atomic<int> syncs{0};

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        bool truncate) override {
    if (truncate && fail_create) return ErrnoStatus("open for writing", ENOSPC);
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, base_->NewWritableFile(path, truncate));
    return std::unique_ptr<WritableFile>(new File(this, std::move(f)));
  }
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    return base_->NewSequentialFile(path);
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    if (fail_rename) return ErrnoStatus("rename", EIO);
    return base_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }

 private:
  class File final : public WritableFile {
   public:
    File(FaultFileSystem* fs, std::unique_ptr<WritableFile> f) : fs_(fs), f_(std::move(f)) {}
    Status Append(std::string_view data) override {
      int64_t budget = fs_->write_budget.load();
      if (budget >= 0 && static_cast<int64_t>(data.size()) > budget) {
        fs_->write_budget = 0;
        RETURN_IF_ERROR(f_->Append(data.substr(0, static_cast<size_t>(budget))));
        return ErrnoStatus("write", ENOSPC);
      }
      if (budget >= 0) fs_->write_budget -= static_cast<int64_t>(data.size());
      return f_->Append(data);
    }
    Status Sync() override {
      ++fs_->syncs;
      if (fs_->fail_sync) return ErrnoStatus("fdatasync", EIO);
      return f_->Sync();
    }
    Status Truncate(uint64_t size) override {
      if (fs_->fail_truncate) return ErrnoStatus("ftruncate", EIO);
      return f_->Truncate(size);
    }
    Status Close() override { return f_->Close(); }

   private:
    FaultFileSystem* fs_;
    std::unique_ptr<WritableFile> f_;
  };

  FileSystem* base_ = DefaultFileSystem();
};

}  // namespace logq::wal::testing
