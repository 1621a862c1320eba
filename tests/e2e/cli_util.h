// Helpers of the `logq` CLI end-to-end tests: run the real binary with a clean environment
// (TZ=UTC, no LOGQ_*/LOKI_* variables unless given), capture stdout, stderr and the exit
// code; start it in the background (tail); pick a free port.
// Header-only and test-only; used from the test's main thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {

inline std::string LogqBinary() {
  const char* b = std::getenv("LOGQ_CLI_BINARY");
  return b != nullptr ? b : std::string(LOGQ_BINARY_DIR) + "/query/cli/logq";
}

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// "env -i TZ=UTC <env...> <logq> <args...>" as one shell command line.
inline std::string CliCommandLine(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::string cmd = "env -i PATH=/usr/bin:/bin TZ=UTC";
  for (const auto& e : env) cmd += " " + ShellQuote(e);
  cmd += " " + ShellQuote(LogqBinary());
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  return cmd;
}

struct CliRun {
  int code = -1;
  std::string out, err;
  std::string Describe() const { return "exit=" + std::to_string(code) + "\nstdout:\n" + out + "\nstderr:\n" + err; }
};

// Runs `logq args...` to completion (30 s deadline).
inline CliRun RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  static testing::TempDir dir;
  static int n = 0;
  const std::string out = dir.path() + "/out" + std::to_string(++n), err = dir.path() + "/err" + std::to_string(n);
  CliRun r;
  auto p = testing::Process::Start("/bin/sh", {"-c", "exec " + CliCommandLine(args, env) + " 2>" + ShellQuote(err)}, out);
  if (!p.ok()) {
    r.err = p.status().ToString();
    return r;
  }
  auto code = (*p)->Wait(std::chrono::seconds(30));
  r.code = code.ok() ? *code : -1000;
  r.out = testing::ReadFileOrEmpty(out);
  r.err = testing::ReadFileOrEmpty(err);
  return r;
}

// Runs `logq args...` under a pseudo-terminal (`script`), so stdout is a TTY.
inline CliRun RunCliOnTty(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  static testing::TempDir dir;
  static int n = 0;
  const std::string out = dir.path() + "/tty" + std::to_string(++n);
  CliRun r;
  auto p = testing::Process::Start("/usr/bin/script", {"-qec", CliCommandLine(args, env), "/dev/null"}, out);
  if (!p.ok()) {
    r.err = p.status().ToString();
    return r;
  }
  auto code = (*p)->Wait(std::chrono::seconds(30));
  r.code = code.ok() ? *code : -1000;
  r.out = testing::ReadFileOrEmpty(out);
  return r;
}

// A `logq` running in the background (tail): stdout to `out_path`, stderr to `err_path`.
struct BackgroundCli {
  std::unique_ptr<testing::Process> process;
  std::string out_path, err_path;
  std::string Out() const { return testing::ReadFileOrEmpty(out_path); }
  std::string Err() const { return testing::ReadFileOrEmpty(err_path); }
};

inline BackgroundCli StartCli(const std::string& dir, const std::string& name, const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
  BackgroundCli b;
  b.out_path = dir + "/" + name + ".out";
  b.err_path = dir + "/" + name + ".err";
  auto p = testing::Process::Start("/bin/sh", {"-c", "exec " + CliCommandLine(args, env) + " 2>" + ShellQuote(b.err_path)},
                                   b.out_path);
  if (p.ok()) b.process = std::move(p).value();
  return b;
}

// A TCP port that was free a moment ago (for a store that must keep its port on restart).
inline uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace logq::e2e
