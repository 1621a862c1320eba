#include "query/cli/flags.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

#include "query/base/units.h"

namespace logq::cli {
namespace {

constexpr int64_t kHour = 3600LL * 1'000'000'000;

struct CommandInfo {
  Command command;
  const char* name;
};
constexpr CommandInfo kCommands[] = {
    {Command::kQuery, "query"},   {Command::kInstantQuery, "instant-query"}, {Command::kLabels, "labels"},
    {Command::kSeries, "series"}, {Command::kTail, "tail"},                   {Command::kStats, "stats"},
    {Command::kVolume, "volume"}, {Command::kFmt, "fmt"},                     {Command::kHelp, "help"},
    {Command::kVersion, "version"},
};

enum class Kind { kBool, kValue };
struct FlagSpec {
  const char* name;
  Kind kind;
  char short_name;
};
constexpr FlagSpec kFlags[] = {
    {"addr", Kind::kValue, 0},          {"org-id", Kind::kValue, 0},
    {"username", Kind::kValue, 0},      {"password", Kind::kValue, 0},
    {"bearer-token", Kind::kValue, 0},  {"bearer-token-file", Kind::kValue, 0},
    {"ca-cert", Kind::kValue, 0},       {"cert", Kind::kValue, 0},
    {"key", Kind::kValue, 0},           {"tls-skip-verify", Kind::kBool, 0},
    {"timeout", Kind::kValue, 0},       {"since", Kind::kValue, 0},
    {"from", Kind::kValue, 0},          {"to", Kind::kValue, 0},
    {"now", Kind::kValue, 0},           {"limit", Kind::kValue, 0},
    {"batch", Kind::kValue, 0},         {"forward", Kind::kBool, 0},
    {"step", Kind::kValue, 0},          {"tail", Kind::kBool, 't'},
    {"follow", Kind::kBool, 'f'},       {"delay-for", Kind::kValue, 0},
    {"output", Kind::kValue, 'o'},      {"no-labels", Kind::kBool, 0},
    {"include-label", Kind::kValue, 0}, {"exclude-label", Kind::kValue, 0},
    {"quiet", Kind::kBool, 'q'},        {"stats", Kind::kBool, 0},
    {"timezone", Kind::kValue, 'z'},    {"color", Kind::kValue, 0},
    {"help", Kind::kBool, 'h'},
};

const FlagSpec* FindFlag(std::string_view name) {
  for (const auto& f : kFlags) {
    if (name == f.name || (name.size() == 1 && name[0] == f.short_name && f.short_name != 0)) return &f;
  }
  return nullptr;
}

Result<int> PositiveInt(std::string_view flag, const std::string& v, bool allow_zero) {
  char* e = nullptr;
  long n = std::strtol(v.c_str(), &e, 10);
  if (v.empty() || *e || n < (allow_zero ? 0 : 1) || n > 100'000'000) {
    return InvalidArgument(fmt::format("--{}: must be a{} integer, got \"{}\"", flag,
                                       allow_zero ? " non-negative" : " positive", v));
  }
  return static_cast<int>(n);
}

Result<bool> BoolValue(std::string_view flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return InvalidArgument(fmt::format("--{}: must be true or false, got \"{}\"", flag, v));
}

}  // namespace

std::string_view CommandName(Command c) {
  for (const auto& x : kCommands) {
    if (x.command == c) return x.name;
  }
  return "";
}

Result<int64_t> ParseTimeArg(std::string_view v, int64_t now) {
  if (v == "now") return now;
  auto relative = [&](std::string_view d) -> Result<int64_t> {
    auto n = ParseDuration(d);
    if (!n.ok()) return n.status();
    return now - *n;
  };
  if (v.rfind("now-", 0) == 0) return relative(v.substr(4));
  if (!v.empty() && v[0] == '-') return relative(v.substr(1));
  bool digits = !v.empty();
  for (char c : v) digits &= (c >= '0' && c <= '9');
  if (digits) {
    int64_t n = std::strtoll(std::string(v).c_str(), nullptr, 10);
    return v.size() <= 10 ? n * 1'000'000'000 : n;
  }
  auto t = ParseRFC3339(v);
  if (!t.ok()) {
    return InvalidArgument("expected RFC3339 (2024-05-01T10:00:00Z), now, now-5m, -5m or a Unix timestamp, got \"" +
                           std::string(v) + "\"");
  }
  return *t;
}

Result<Options> ParseArgs(const std::vector<std::string>& argv, const EnvFn& env, int64_t now) {
  Options o;
  o.now = now;
  auto envs = [&](const char* a, const char* b) -> std::optional<std::string> {
    for (const char* n : {a, b}) {
      const char* v = env(n);
      if (v != nullptr && *v != '\0') return std::string(v);
    }
    return std::nullopt;
  };
  if (auto v = envs("LOGQ_ADDR", "LOKI_ADDR")) o.addr = *v;
  if (auto v = envs("LOGQ_ORG_ID", "LOKI_ORG_ID")) o.org_id = *v;
  if (auto v = envs("LOGQ_USERNAME", "LOKI_USERNAME")) o.username = *v;
  if (auto v = envs("LOGQ_PASSWORD", "LOKI_PASSWORD")) o.password = *v;
  if (auto v = envs("LOGQ_BEARER_TOKEN", "LOKI_BEARER_TOKEN")) o.bearer_token = *v;
  if (auto v = envs("LOGQ_BEARER_TOKEN_FILE", "LOKI_BEARER_TOKEN_FILE")) o.bearer_token_file = *v;
  if (auto v = envs("LOGQ_CA_CERT_PATH", "LOKI_CA_CERT_PATH")) o.ca_cert = *v;
  if (auto v = envs("LOGQ_CLIENT_CERT_PATH", "LOKI_CLIENT_CERT_PATH")) o.cert = *v;
  if (auto v = envs("LOGQ_CLIENT_KEY_PATH", "LOKI_CLIENT_KEY_PATH")) o.key = *v;
  if (auto v = envs("LOGQ_TLS_SKIP_VERIFY", "LOKI_TLS_SKIP_VERIFY")) {
    auto b = BoolValue("tls-skip-verify (from the environment)", *v);
    if (!b.ok()) return b.status();
    o.tls_skip_verify = *b;
  }

  std::map<std::string, std::vector<std::string>> values;  // flag → values in order
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!flags_done && a == "--") {
      flags_done = true;
      continue;
    }
    if (flags_done || a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      if (o.command == Command::kNone) {
        bool found = false;
        for (const auto& c : kCommands) {
          if (a == c.name) {
            o.command = c.command;
            found = true;
          }
        }
        if (!found) {
          return InvalidArgument("unknown command \"" + a +
                                 "\" (commands: query, instant-query, labels, series, tail, stats, volume, fmt; "
                                 "see logq --help)");
        }
        continue;
      }
      o.args.push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) return InvalidArgument("unknown flag " + a.substr(0, a.find('=')) + " (see logq --help)");
    if (spec->kind == Kind::kBool) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argv.size()) return InvalidArgument(std::string("--") + spec->name + ": missing value");
      value = argv[++i];
    }
    values[spec->name].push_back(value);
  }

  auto last = [&](const char* n) -> const std::string* {
    auto it = values.find(n);
    return it == values.end() ? nullptr : &it->second.back();
  };
  auto boolean = [&](const char* n, bool* out) -> Status {
    if (const std::string* v = last(n)) {
      auto b = BoolValue(n, *v);
      if (!b.ok()) return b.status();
      *out = *b;
    }
    return Status::OK();
  };
  RETURN_IF_ERROR(boolean("help", &o.help));
  if (o.command == Command::kHelp) {
    o.help = true;
    if (!o.args.empty()) {
      for (const auto& c : kCommands) {
        if (o.args[0] == c.name) o.command = c.command;
      }
    }
  }
  if (const std::string* v = last("addr")) o.addr = *v;
  if (o.addr.find("://") == std::string::npos) {
    return InvalidArgument("--addr: must be a URL like http://localhost:3100, got \"" + o.addr + "\"");
  }
  while (!o.addr.empty() && o.addr.back() == '/') o.addr.pop_back();
  if (const std::string* v = last("org-id")) o.org_id = *v;
  if (const std::string* v = last("username")) o.username = *v;
  if (const std::string* v = last("password")) o.password = *v;
  if (const std::string* v = last("bearer-token")) o.bearer_token = *v;
  if (const std::string* v = last("bearer-token-file")) o.bearer_token_file = *v;
  if (const std::string* v = last("ca-cert")) o.ca_cert = *v;
  if (const std::string* v = last("cert")) o.cert = *v;
  if (const std::string* v = last("key")) o.key = *v;
  RETURN_IF_ERROR(boolean("tls-skip-verify", &o.tls_skip_verify));
  if (const std::string* v = last("timeout")) {
    auto d = ParseDuration(*v);
    if (!d.ok()) return InvalidArgument("--timeout: " + d.status().message());
    o.timeout_ns = *d;
  }
  if (!o.bearer_token.empty() && !o.bearer_token_file.empty()) {
    return InvalidArgument("--bearer-token and --bearer-token-file are mutually exclusive");
  }
  if ((!o.bearer_token.empty() || !o.bearer_token_file.empty()) && !o.username.empty()) {
    return InvalidArgument("--username/--password and --bearer-token are mutually exclusive");
  }

  int64_t since = kHour;
  if (const std::string* v = last("since")) {
    auto d = ParseDuration(*v);
    if (!d.ok() || *d <= 0) return InvalidArgument("--since: expected a positive duration like 1h or 30m, got \"" + *v + "\"");
    since = *d;
  }
  o.end = now;
  if (const std::string* v = last("to")) {
    auto t = ParseTimeArg(*v, now);
    if (!t.ok()) return InvalidArgument("--to: " + t.status().message());
    o.end = *t;
  }
  o.start = o.end - since;
  if (const std::string* v = last("from")) {
    auto t = ParseTimeArg(*v, now);
    if (!t.ok()) return InvalidArgument("--from: " + t.status().message());
    o.start = *t;
  }
  if (o.start > o.end) return InvalidArgument("--from must not be after --to");
  o.instant = now;
  if (const std::string* v = last("now")) {
    auto t = ParseTimeArg(*v, now);
    if (!t.ok()) return InvalidArgument("--now: " + t.status().message());
    o.instant = *t;
  }
  if (const std::string* v = last("limit")) {
    ASSIGN_OR_RETURN(o.limit, PositiveInt("limit", *v, /*allow_zero=*/true));
    o.limit_set = true;
  }
  if (const std::string* v = last("batch")) {
    ASSIGN_OR_RETURN(o.batch, PositiveInt("batch", *v, /*allow_zero=*/false));
  }
  RETURN_IF_ERROR(boolean("forward", &o.forward));
  if (const std::string* v = last("step")) {
    char* e = nullptr;
    double secs = std::strtod(v->c_str(), &e);
    if (!v->empty() && *e == 0 && secs > 0) {
      o.step_ns = static_cast<int64_t>(secs * 1e9);
    } else {
      auto d = ParseDuration(*v);
      if (!d.ok() || *d <= 0) return InvalidArgument("--step: expected a positive duration like 30s or 1m, got \"" + *v + "\"");
      o.step_ns = *d;
    }
  }
  RETURN_IF_ERROR(boolean("tail", &o.tail));
  bool follow = false;
  RETURN_IF_ERROR(boolean("follow", &follow));
  o.tail |= follow;
  if (const std::string* v = last("delay-for")) {
    ASSIGN_OR_RETURN(o.delay_for, PositiveInt("delay-for", *v, /*allow_zero=*/true));
    if (o.delay_for > 5) return InvalidArgument("--delay-for: at most 5 seconds (the server's limit), got " + *v);
  }
  if (const std::string* v = last("output")) {
    if (*v == "default") o.output = OutputMode::kDefault;
    else if (*v == "raw") o.output = OutputMode::kRaw;
    else if (*v == "jsonl") o.output = OutputMode::kJsonl;
    else if (*v == "table") o.output = OutputMode::kTable;
    else return InvalidArgument("--output: must be default, raw, jsonl or table, got \"" + *v + "\"");
  }
  RETURN_IF_ERROR(boolean("no-labels", &o.no_labels));
  if (values.count("include-label")) o.include_labels = values["include-label"];
  if (values.count("exclude-label")) o.exclude_labels = values["exclude-label"];
  RETURN_IF_ERROR(boolean("quiet", &o.quiet));
  RETURN_IF_ERROR(boolean("stats", &o.stats));
  if (const std::string* v = last("timezone")) {
    std::string z;
    for (char c : *v) z += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (z == "utc") o.utc = true;
    else if (z == "local") o.utc = false;
    else return InvalidArgument("--timezone: must be local or UTC, got \"" + *v + "\"");
  }
  if (const std::string* v = last("color")) {
    if (*v != "auto" && *v != "always" && *v != "never") {
      return InvalidArgument("--color: must be auto, always or never, got \"" + *v + "\"");
    }
    o.color = *v;
  }
  if (o.command == Command::kQuery && o.tail) o.command = Command::kTail;
  if (o.help || o.command == Command::kNone || o.command == Command::kVersion) return o;

  // Positional arguments.
  auto want = [&](size_t min, size_t max, const char* what) -> Status {
    if (o.args.size() < min) {
      return InvalidArgument(fmt::format("{}: missing {} (see logq {} --help)", CommandName(o.command), what,
                                         CommandName(o.command)));
    }
    if (o.args.size() > max) {
      return InvalidArgument(fmt::format("{}: unexpected argument \"{}\" (quote the whole query: logq {} '{{app=\"x\"}}')",
                                         CommandName(o.command), o.args[max], CommandName(o.command)));
    }
    return Status::OK();
  };
  switch (o.command) {
    case Command::kLabels: RETURN_IF_ERROR(want(0, 1, "label name")); break;
    case Command::kSeries: RETURN_IF_ERROR(want(0, 1, "series selector")); break;
    default: RETURN_IF_ERROR(want(1, 1, "the LogQL query")); break;
  }
  return o;
}

std::string HelpText(Command c) {
  static const char* kCommon = R"(
Connection flags (all subcommands):
  --addr=URL                 server address; env LOGQ_ADDR, LOKI_ADDR (default http://localhost:3100)
  --org-id=ID                tenant (X-Scope-OrgID); env LOGQ_ORG_ID, LOKI_ORG_ID
  --username=U --password=P  basic auth; env LOGQ_USERNAME/LOGQ_PASSWORD (or LOKI_*)
  --bearer-token=T           bearer auth; env LOGQ_BEARER_TOKEN (or LOKI_*)
  --bearer-token-file=F      read the bearer token from F; env LOGQ_BEARER_TOKEN_FILE
  --ca-cert=F --cert=F --key=F   TLS CA bundle, client certificate and key (PEM)
  --tls-skip-verify          do not verify the server's certificate
  --timeout=60s              per-request timeout (0 = none)
  -q, --quiet                no query metadata on stderr
  -h, --help                 help
)";
  static const char* kTime = R"(
Time range:
  --since=1h                 look back this far from --to (default 1h)
  --from=T --to=T            RFC3339 (2024-05-01T10:00:00Z), now, now-5m, -5m or Unix seconds/ns
)";
  static const char* kOutput = R"(
Output:
  -o, --output=default|raw|jsonl|table   default: time, labels, line; raw: the line only; jsonl: one JSON object per entry;
                                   table: metric results as aligned columns (log lines as default)
  --no-labels                      hide labels (default output)
  --include-label=NAME             show only these labels (repeatable)
  --exclude-label=NAME             hide these labels (repeatable)
  -z, --timezone=local|UTC         timestamps in local time (default) or UTC
  --color=auto|always|never        colored label prefixes; auto = on a terminal unless NO_COLOR is set
)";
  switch (c) {
    case Command::kQuery:
      return std::string(R"(Usage: logq query [flags] '<LogQL>'

Runs a range query (/loki/api/v1/query_range). Log queries print entries, newest first
(--forward: oldest first), up to --limit; metric queries print the result series as JSON.

Flags:
  --limit=30                 entries to print (0 = all in the range)
  --batch=1000               entries per request; larger results are fetched page by page
                             (by time, the boundary entries deduplicated: each line once)
  --forward                  oldest first
  --step=DURATION            metric query resolution (e.g. 30s)
  -t, --tail                 follow instead of querying (same as logq tail)
  --delay-for=N              with --tail: hold entries N seconds (0-5) to order late ones
  --stats                    print query statistics to stderr
)") + kTime + kOutput + kCommon +
             R"(
Examples:
  logq query '{app="api"}'
  logq query --since=15m --limit=200 '{namespace="prod"} |= "error"'
  logq query --from=2024-05-01T10:00:00Z --to=2024-05-01T11:00:00Z --limit=0 -o raw '{app="api"}' > api.log
  logq query 'sum by (level) (count_over_time({app="api"} | logfmt [5m]))' --step=1m
)";
    case Command::kInstantQuery:
      return std::string(R"(Usage: logq instant-query [flags] '<LogQL>'

Evaluates a query at one instant (/loki/api/v1/query): metric queries print a vector or
scalar as JSON.

Flags:
  --now=T                    evaluation time (default now)
  --limit=30                 entries for a log query
  --forward                  oldest first (log queries)
)") + kOutput + kCommon + R"(
Examples:
  logq instant-query 'sum(rate({app="api"}[5m]))'
  logq instant-query --now=2024-05-01T10:00:00Z 'count_over_time({app="api"}[1h])'
)";
    case Command::kLabels:
      return std::string(R"(Usage: logq labels [flags] [NAME]

Without NAME, prints the label names; with NAME, the values of that label (one per line).
)") + kTime + kCommon + R"(
Examples:
  logq labels
  logq labels namespace --since=24h
)";
    case Command::kSeries:
      return std::string(R"(Usage: logq series [flags] ['<selector>']

Prints the label sets of the streams that match the selector (all streams without one).
)") + kTime + kCommon + R"(
Examples:
  logq series '{namespace="prod"}'
  logq series --since=24h '{app=~"api|web"}'
)";
    case Command::kTail:
      return std::string(R"(Usage: logq tail [flags] '<LogQL>'

Follows the logs live over a WebSocket (/loki/api/v1/tail): first the last --limit entries
since --since, then new entries as they arrive. When the connection breaks, logq reconnects
by itself and resumes after the last entry it printed (no duplicates). Ctrl-C stops.

Flags:
  --limit=30                 entries of history to print first
  --since=1h                 how far back the history reaches
  --delay-for=N              hold entries N seconds (0-5) so late ones are ordered
)") + kOutput + kCommon + R"(
Examples:
  logq tail '{namespace="prod", app="api"}'
  logq tail --limit=0 -o raw '{app="api"} |= "error" | logfmt | level="error"'
)";
    case Command::kStats:
      return std::string(R"(Usage: logq stats [flags] '<selector>'

Prints how much data the selector covers in the range (/loki/api/v1/index/stats):
streams, chunks, entries and bytes.
)") + kTime + kCommon + R"(
Examples:
  logq stats '{namespace="prod"}' --since=24h
)";
    case Command::kVolume:
      return std::string(R"(Usage: logq volume [flags] '<selector>'

Prints the bytes ingested per stream group in the range (/loki/api/v1/index/volume), largest
first; with --step, per step (/loki/api/v1/index/volume_range). -o jsonl prints the series
as JSON lines.

Flags:
  --limit=100                at most this many groups (the server's default 100)
  --step=DURATION            per-step volumes
)") + kTime + kCommon + R"(
Examples:
  logq volume '{namespace=~".+"}' --since=24h
)";
    case Command::kFmt:
      return R"(Usage: logq fmt '<LogQL>'

Prints the query in LogQL's canonical form (locally; no server needed). An invalid query
prints the parse error with line and column and exits with 2.

Examples:
  logq fmt '{app="api"}|="error"|json|level="error"'
)";
    default:
      break;
  }
  return std::string(R"(logq: query and follow logs in logq-store or any Loki.

Usage: logq <command> [flags] [args]

Commands:
  query '<LogQL>'           range query: log lines or metric series
  instant-query '<LogQL>'   instant query
  labels [NAME]             label names, or the values of one label
  series ['<selector>']     label sets of matching streams
  tail '<LogQL>'            follow live (also: logq query --tail)
  stats '<selector>'        streams, chunks, entries and bytes of a selector
  volume '<selector>'       bytes per stream group
  fmt '<LogQL>'             format a query (locally)
  version                   print the version

Run 'logq <command> --help' for the flags of a command. Flags may come before or after
arguments; logcli's flag names and LOKI_* environment variables work too.

Exit codes: 0 ok; 1 the server answered with an error (bad query, limit, auth);
2 bad flags or arguments (or an invalid query for fmt); 3 the server could not be
reached (connection, TLS, timeout); 130 interrupted (Ctrl-C during a query; Ctrl-C ends
a tail with 0).
)") + kCommon;
}

}  // namespace logq::cli
