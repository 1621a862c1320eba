// logq: the command-line client for logq-store and Loki. See docs/cli.md and `logq --help`.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "query/cli/commands.h"
#include "query/cli/flags.h"

#ifndef LOGQ_VERSION
#define LOGQ_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe shows up as a write error, handled quietly
  std::vector<std::string> args(argv + 1, argv + argc);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto options = logq::cli::ParseArgs(args, [](const char* n) { return std::getenv(n); }, now);
  if (!options.ok()) {
    std::fprintf(stderr, "logq: %s\n", options.status().message().c_str());
    return 2;
  }
  if (options->command == logq::cli::Command::kVersion) {
    std::printf("logq %s\n", LOGQ_VERSION);
    return 0;
  }
  if (options->help || options->command == logq::cli::Command::kNone) {
    std::fputs(logq::cli::HelpText(options->command).c_str(), options->help ? stdout : stderr);
    return options->help ? 0 : 2;
  }
  logq::cli::Io io;
  io.out_is_tty = isatty(STDOUT_FILENO) == 1;
  io.no_color = std::getenv("NO_COLOR");
  return logq::cli::RunCommand(*options, io);
}
