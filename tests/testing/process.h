// Test helper: one child process started with fork/exec, its stdout and stderr appended to
// a log file. Used by end-to-end tests to run the real binaries.
//
// Ownership: a Process owns its child. The destructor SIGKILLs and reaps a child that is
// still running, so a failing test never leaks a server. The child also gets
// PR_SET_PDEATHSIG=SIGKILL: if the thread that started it dies (the test binary crashed),
// the kernel kills the child. Start processes from the test's main thread for that reason.
//
// Thread-safety: none; use a Process from one thread at a time (Kill/Terminate/Wait/Running
// all reap the child).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "query/base/status.h"

namespace logq::testing {

class Process {
 public:
  // Starts `binary` with `args` (argv[1..]; argv[0] is `binary`). stdout and stderr are
  // appended to `log_path` (created if missing). Errors: Internal if the log cannot be
  // opened or fork fails; a failed exec shows as exit status 127 and a line in the log.
  static Result<std::unique_ptr<Process>> Start(const std::string& binary,
                                                const std::vector<std::string>& args,
                                                const std::string& log_path);

  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // True while the child has not exited (reaps it without blocking once it has).
  bool Running();

  // Sends `sig` (default SIGKILL) and, for SIGKILL, reaps the child. No-op once exited.
  void Kill(int sig = SIGKILL);

  // SIGTERM, then waits up to `deadline` for the exit. Returns the exit code (0..255) or
  // -N when killed by signal N. DeadlineExceeded (and the child is SIGKILLed) when it did
  // not exit in time.
  Result<int> Terminate(std::chrono::milliseconds deadline = std::chrono::seconds(15));

  // Waits up to `deadline` for the child to exit on its own; same results as Terminate.
  Result<int> Wait(std::chrono::milliseconds deadline);

  // The exit code (see Terminate) once the child has been reaped.
  bool exited() const { return exited_; }
  int exit_code() const { return exit_code_; }

  // The whole log file so far (empty if unreadable).
  std::string ReadLog() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  // waitpid with or without WNOHANG; true when the child has been reaped.
  bool Reap(bool block);

  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int exit_code_ = 0;
};

// Reads a whole file; empty if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace logq::testing
