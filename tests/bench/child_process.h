// ChildProcess: a process started by a benchmark (the store under test, perf), with its
// stdout and stderr appended to a log file. The destructor kills (SIGKILL) and reaps a child
// that is still running, so an early return never leaks a server.
//
// Thread-safety: one owner thread.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "query/base/status.h"

namespace logq::bench {

class ChildProcess {
 public:
  // Starts argv[0] (looked up in PATH if it has no '/') with argv[1..]. Unavailable if the
  // log file cannot be opened or fork fails; a failing exec shows up as exit status 127.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True once the child has exited (reaps it; see exit_status()).
  bool Exited();
  // Wait status as from waitpid, valid once Exited().
  int exit_status() const { return status_; }
  // Resources the child used over its whole life (from wait4), valid once Exited().
  const rusage& usage() const { return usage_; }
  // Sends `signal`, then waits up to `timeout_ms` for the exit. DeadlineExceeded if the
  // child is still running then (it is left running; the destructor kills it).
  Status Stop(int signal, int timeout_ms);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool exited_ = false;
  int status_ = 0;
  rusage usage_{};
};

}  // namespace logq::bench
