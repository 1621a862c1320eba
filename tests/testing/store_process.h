// Test helper: runs the real logq-store binary on 127.0.0.1 with an OS-chosen port and a
// private temporary storage directory, for end-to-end tests.
//
// Start() launches `logq-store -server.http-listen-address=127.0.0.1
// -server.http-listen-port=0 -storage.path=<tmp>/data [-config.file=<tmp>/config.yaml]
// <flags...>`, learns the bound port from the log line `listening on 127.0.0.1:<port>`, then
// polls GET /ready until 200. Both waits poll with short pauses under one deadline (default
// 20 s); on failure the error carries the tail of the server log.
//
// Restart() starts the binary again on the same storage directory (after Kill() or
// Terminate(), or kills a running one first); the port changes. Each start logs to its own
// file (store-<n>.log) so port discovery never reads a previous run's line.
//
// Ownership: owns the temp directory (removed on destruction) and the process (SIGKILLed on
// destruction). Thread-safety: none; drive it from the test's main thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "query/base/status.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace logq::testing {

struct StoreOptions {
  // Extra command-line flags, e.g. "-auth-enabled=true" or "-limits-config.max-line-size=1KB".
  std::vector<std::string> flags;
  // When non-empty, written to <tmp>/config.yaml and passed as -config.file (flags still
  // override it).
  std::string config_yaml;
  // Deadline for "port known and /ready is 200" on every (re)start.
  std::chrono::milliseconds start_deadline = std::chrono::seconds(20);
  // The binary; default $LOGQ_STORE_BINARY, else <build dir>/store/server/logq-store.
  std::string binary;
};

class StoreProcess {
 public:
  static Result<std::unique_ptr<StoreProcess>> Start(StoreOptions options = {});
  ~StoreProcess();
  StoreProcess(const StoreProcess&) = delete;
  StoreProcess& operator=(const StoreProcess&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>".
  std::string base_url() const;
  const std::string& storage_dir() const { return storage_dir_; }
  const std::string& temp_dir() const { return dir_.path(); }

  // SIGKILL (kill -9) and reap. The storage directory is left as the crash left it.
  void Kill();
  // SIGTERM and wait for the exit; see Process::Terminate.
  Result<int> Terminate(std::chrono::milliseconds deadline = std::chrono::seconds(15));
  // Starts again on the same storage directory and waits until ready. Kills a running
  // process first.
  Status Restart();

  bool Running() { return process_ && process_->Running(); }
  // The current run's process id (-1 before the first start).
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Log of the current (latest) run.
  std::string Log() const;
  // The last `max_bytes` of the current log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;
  int starts() const { return starts_; }

 private:
  explicit StoreProcess(StoreOptions options);
  Status Launch();

  StoreOptions options_;
  TempDir dir_;
  std::string storage_dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
  int starts_ = 0;
};

// The logq-store binary used by default (see StoreOptions::binary).
std::string DefaultStoreBinary();

}  // namespace logq::testing
