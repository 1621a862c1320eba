// Command-line parsing of the `logq` CLI: subcommands, flags (logcli's names), environment
// variables and their precedence (flag > LOGQ_* > LOKI_* > default), time arguments.
//
// Pure functions: the environment and "now" are passed in, so tests need no process state.
// Errors are InvalidArgument naming the flag or argument at fault (exit code 2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq::cli {

enum class Command { kNone, kQuery, kInstantQuery, kLabels, kSeries, kTail, kStats, kVolume, kFmt, kHelp, kVersion };

enum class OutputMode { kDefault, kRaw, kJsonl, kTable };

struct Options {
  Command command = Command::kNone;
  std::vector<std::string> args;  // positional arguments after the subcommand
  bool help = false;              // --help given (print the subcommand's help)

  // Connection.
  std::string addr = "http://localhost:3100";  // --addr, LOGQ_ADDR, LOKI_ADDR
  std::string org_id;                           // --org-id, LOGQ_ORG_ID, LOKI_ORG_ID
  std::string username, password;               // --username/--password, *_USERNAME/*_PASSWORD
  std::string bearer_token, bearer_token_file;  // --bearer-token(-file), *_BEARER_TOKEN(_FILE)
  std::string ca_cert, cert, key;               // --ca-cert, --cert, --key, *_CA_CERT_PATH ...
  bool tls_skip_verify = false;                 // --tls-skip-verify, *_TLS_SKIP_VERIFY
  int64_t timeout_ns = 60LL * 1'000'000'000;    // --timeout; default 60s (0 = none)

  // Query.
  int64_t now = 0;    // ns; the reference for relative times
  int64_t start = 0;  // ns, resolved from --from or --since (default 1h)
  int64_t end = 0;    // ns, resolved from --to (default now)
  int64_t instant = 0;  // --now for instant-query (default now)
  int limit = 30;     // --limit (logcli: 30); 0 = no limit for query
  bool limit_set = false;  // --limit was given
  int batch = 1000;   // --batch (logcli: 1000)
  bool forward = false;
  int64_t step_ns = 0;  // --step; 0 = server default
  bool tail = false;    // query --tail
  int delay_for = 0;    // --delay-for seconds (tail)

  // Output.
  OutputMode output = OutputMode::kDefault;
  bool no_labels = false;
  std::vector<std::string> include_labels, exclude_labels;
  bool quiet = false;
  bool stats = false;
  bool utc = false;  // --timezone UTC (default local)
  std::string color = "auto";  // --color auto|always|never (NO_COLOR disables auto)
};

using EnvFn = std::function<const char*(const char*)>;

// Parses argv[1..] (without the program name). `now` is wall time in ns.
Result<Options> ParseArgs(const std::vector<std::string>& args, const EnvFn& env, int64_t now);

// A time argument: RFC3339 (`2024-05-01T10:00:00Z`), `now`, `now-5m`, `-5m` (relative to
// now), or Unix seconds / nanoseconds (Loki's rule: ≤ 10 digits = seconds).
Result<int64_t> ParseTimeArg(std::string_view value, int64_t now);

// Help text: the overview for kNone/kHelp, else the subcommand's usage with examples.
std::string HelpText(Command command);

std::string_view CommandName(Command command);

}  // namespace logq::cli
