// Test helpers: temporary directories removed on destruction.
#pragma once

#include <string>

namespace logq::testing {

// Creates a fresh directory under $TMPDIR (or /tmp); removes it recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Absolute path of a file under testdata/.
std::string TestDataPath(const std::string& relative);

}  // namespace logq::testing
