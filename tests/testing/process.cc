#include "tests/testing/process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace logq::testing {
namespace {

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// Writes a message with write(2) only: usable between fork and exec.
void ChildWrite(int fd, const char* a, const char* b) {
  auto put = [fd](const char* s) {
    size_t n = std::strlen(s);
    while (n > 0) {
      ssize_t w = ::write(fd, s, n);
      if (w <= 0) return;
      s += w;
      n -= static_cast<size_t>(w);
    }
  };
  put(a);
  put(b);
  put("\n");
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<Process>> Process::Start(const std::string& binary,
                                                const std::vector<std::string>& args,
                                                const std::string& log_path) {
  // Everything the child needs is prepared before fork: after fork only async-signal-safe
  // calls are allowed (the test binary has other threads).
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.push_back(binary);
  for (const auto& a : args) storage.push_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Internal("cannot open " + log_path + ": " + std::strerror(errno));
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(log_fd);
    return Internal(std::string("fork failed: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Child.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the new descriptor
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ChildWrite(STDERR_FILENO, "exec failed: ", argv[0]);
    ::_exit(127);
  }
  ::close(log_fd);
  return std::unique_ptr<Process>(new Process(pid, log_path));
}

Process::~Process() {
  if (!exited_) Kill(SIGKILL);
}

bool Process::Reap(bool block) {
  if (exited_) return true;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ = DecodeWaitStatus(status);
      return true;
    }
    if (r == 0) return false;
    if (r < 0 && errno == EINTR) continue;
    // ECHILD: somebody else reaped it; treat it as gone.
    exited_ = true;
    exit_code_ = -1;
    return true;
  }
}

bool Process::Running() { return !Reap(false); }

void Process::Kill(int sig) {
  if (exited_) return;
  ::kill(pid_, sig);
  if (sig == SIGKILL) Reap(true);  // SIGKILL cannot be caught: the wait is bounded
}

Result<int> Process::Wait(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  // Poll the exit with short waits; bounded by the deadline.
  while (!Reap(false)) {
    if (std::chrono::steady_clock::now() >= until) {
      return DeadlineExceeded("process " + std::to_string(pid_) + " did not exit within " +
                              std::to_string(deadline.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

Result<int> Process::Terminate(std::chrono::milliseconds deadline) {
  if (exited_) return exit_code_;
  ::kill(pid_, SIGTERM);
  auto r = Wait(deadline);
  if (!r.ok()) Kill(SIGKILL);
  return r;
}

std::string Process::ReadLog() const { return ReadFileOrEmpty(log_path_); }

}  // namespace logq::testing
