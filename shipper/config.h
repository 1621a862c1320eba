// logq-shipper configuration: a Promtail-compatible subset (server, positions, clients,
// scrape_configs with static_configs / kubernetes_sd_configs, relabel_configs,
// pipeline_stages, limits_config) plus a `shipper:` section for what Promtail has no key for
// (the pods root, node name, partial-line timeout, ...). Unknown keys are errors that name
// the key; every key has a default (docs/shipper.md lists them).
//
// Pure value types; parsing is thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "shipper/client/client.h"

namespace logq::shipper {

struct ServerSection {
  std::string http_listen_address = "0.0.0.0";  // default 0.0.0.0
  int http_listen_port = 9080;                  // default 9080 (Promtail's); 0 = pick a free port
  std::string log_level = "info";               // debug|info|warn|error; default info
  bool disable = false;                         // no HTTP server at all; default false
};

struct PositionsSection {
  std::string filename = "/var/log/positions.yaml";  // default /var/log/positions.yaml
  int64_t sync_period_ns = 1'000'000'000;            // default 1s (Promtail: 10s)
  bool ignore_invalid_yaml = false;                  // default false: refuse to start
};

struct StaticConfig {
  std::vector<std::string> targets;
  std::map<std::string, std::string> labels;  // may include __path__ (a glob)
};

// The connection part of one kubernetes_sd_configs entry (Prometheus' keys). An empty
// api_server means in-cluster (KUBERNETES_SERVICE_HOST/PORT and the service account).
struct KubeSdConfig {
  std::string api_server;
  std::string bearer_token_file;
  std::string ca_file;                // tls_config.ca_file
  bool insecure_skip_verify = false;  // tls_config.insecure_skip_verify
};

// Promtail's `journal` scrape config (the systemd journal through sd-journal).
struct JournalConfig {
  bool enabled = false;                         // a `journal:` section is present
  bool json = false;                            // the line is every field as JSON; default false
  int64_t max_age_ns = 7LL * 3600 * 1'000'000'000;  // no (or an older) cursor: start here; default 7h
  std::string path;                             // journal directory; default "": the local journal
  std::map<std::string, std::string> labels;    // static labels
};

struct ScrapeConfig {
  std::string job_name;
  JournalConfig journal;
  std::vector<StaticConfig> static_configs;
  bool kubernetes_sd = false;        // kubernetes_sd_configs present (role: pod)
  YAML::Node kubernetes_sd_configs;  // as written
  std::vector<KubeSdConfig> kube_sd;  // parsed connection settings, one per entry
  YAML::Node relabel_configs;        // Prometheus relabel_config list (may be null)
  YAML::Node pipeline_stages;        // Promtail pipeline stages (may be null)
};

struct TailSection {
  std::string pods_root = "/var/log/pods";     // default /var/log/pods
  std::string node_name;                       // default $NODE_NAME, else the hostname
  int64_t max_line_size = 256 << 10;           // default 256KiB; 0 = no cap (64 MiB hard cap)
  bool max_line_size_truncate = true;          // default true: truncate with "...[truncated]"
  int64_t partial_line_timeout_ns = 5'000'000'000;  // unfinished CRI P records; default 5s
  int64_t max_pending_bytes = 4 << 20;         // read but unacknowledged bytes; default 4MiB
  int64_t shutdown_timeout_ns = 10'000'000'000;  // SIGTERM: time to flush in flight; default 10s
  int64_t fallback_poll_interval_ns = 1'000'000'000;  // polled (unwatched) dirs; default 1s
  int64_t rescan_interval_ns = 10'000'000'000; // safety rescan of open files; default 10s
  int max_watches = 0;                         // own inotify watch cap; 0 = kernel's
  // File descriptors for log files: idle files beyond this are closed (and reopened by path +
  // identity when they grow). 0 = auto: the soft RLIMIT_NOFILE minus a reserve (1/8, at
  // least 64) for sockets, the positions file and transient opens. Default 0.
  int max_open_files = 0;
  // A plain file with no growth and nothing in flight for this long is closed. Default 1m.
  int64_t idle_file_timeout_ns = 60'000'000'000;
};

struct ShipperConfig {
  ServerSection server;
  PositionsSection positions;
  std::vector<ClientConfig> clients;
  // Promtail's single `client:` section and the -client.* flags. As in Promtail
  // (Config.Setup), FinishShipperConfig appends it to `clients` when it has a url, and merges
  // its external_labels into every client (a client's own labels win).
  ClientConfig single_client;
  std::vector<ScrapeConfig> scrape_configs;
  TailSection tail;
};

// Parses YAML text (`source` names it in errors: "config error at <source>:<line>:<col>:
// ..."). With `expand_env`, ${VAR} and ${VAR:-default} are replaced first (Promtail's
// -config.expand-env).
Result<ShipperConfig> ParseShipperConfig(std::string_view yaml, std::string_view source, bool expand_env);
Result<ShipperConfig> LoadShipperConfigFile(const std::string& path, bool expand_env);

// Applies a command-line flag (name without the leading '-'): client.url, client.tenant-id,
// client.batch-wait, client.batch-size-bytes, client.timeout, client.external-labels,
// positions.file, positions.sync-period, server.http-listen-port,
// server.http-listen-address, log.level, shipper.pods-root, shipper.node-name.
// Client flags set the single client (Promtail's `client:`), which FinishShipperConfig adds
// to `clients`; client.external-labels then applies to every client.
Status ApplyShipperFlag(ShipperConfig* config, std::string_view name, std::string_view value);

// Applies the single client (see ShipperConfig::single_client) and clears it; idempotent.
// Call after the flags and before ValidateShipperConfig (Agent::Create calls it too).
void FinishShipperConfig(ShipperConfig* config);

// Checks what only makes sense on the whole config (at least one client with a url, ...).
Status ValidateShipperConfig(const ShipperConfig& config);

std::string ExpandEnv(std::string_view text);

}  // namespace logq::shipper
