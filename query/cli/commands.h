// The `logq` subcommands. Each runs against the Loki HTTP API only (so it works with
// logq-store and with Loki itself), prints results to `out`, messages to `err`, and
// returns the process exit code:
//   0 ok; 1 the server answered with an error; 2 bad flags/arguments (or an invalid query
//   for fmt); 3 the server could not be reached; 130 interrupted.
//
// Paging (query --batch, as logcli): requests of at most --batch entries; each next
// request starts at the last timestamp seen (backward: end = last + 1ns, forward: start =
// last) and entries already printed at that timestamp are skipped, so every line is
// printed once.
//
// Tail: WebSocket /loki/api/v1/tail; on a broken connection it reconnects with capped
// backoff and resumes at the newest timestamp printed, skipping the entries already
// printed at that timestamp. SIGINT/SIGTERM end it cleanly (exit 0).
#pragma once

#include <cstdio>

#include "query/base/status.h"
#include "query/cli/flags.h"

namespace logq::cli {

struct Io {
  std::FILE* out = stdout;
  std::FILE* err = stderr;
  bool out_is_tty = false;
  const char* no_color = nullptr;  // $NO_COLOR
};

int RunCommand(const Options& options, const Io& io);

// The exit code for a failed Status (see above).
int ExitCodeFor(const Status& s);

}  // namespace logq::cli
