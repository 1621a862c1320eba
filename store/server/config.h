// logq-store configuration: YAML with Loki's key names where they exist. Every key is
// optional; unknown keys are errors naming the key path and line. Reference with defaults:
// docs/configuration.md. Value type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "store/ingest/limits.h"

namespace logq::server {

struct StoreConfig {
  bool auth_enabled = false;  // require X-Scope-OrgID; otherwise tenant "fake". Default false.

  struct Server {
    std::string http_listen_address = "0.0.0.0";
    int http_listen_port = 3100;
    int64_t http_server_read_timeout = 30LL * 1'000'000'000;   // ns; default 30s
    int64_t http_server_idle_timeout = 120LL * 1'000'000'000;  // ns; default 120s
    // Writing one response, counted from its first byte; default 30s (Loki's default).
    int64_t http_server_write_timeout = 30LL * 1'000'000'000;
    // Request line + headers → 431; default 1MiB (Go's DefaultMaxHeaderBytes).
    int64_t http_server_max_header_bytes = 1LL << 20;
    std::string log_level = "info";                            // debug|info|warn|error
    int io_threads = 2;                                        // default 2
    int worker_threads = 4;                                    // default 4
  } server;

  struct Common {
    std::string path_prefix;  // storage.path defaults to <path_prefix>/data when set
  } common;

  struct Storage {
    std::string path;            // default "<common.path_prefix>/data", else "./logq-data"
    bool sync_writes = false;    // fsync the WAL (group commit) before acknowledging a push
    int64_t block_cache_size = 32 << 20;  // default 32MiB
    int64_t write_buffer_size = 16 << 20; // chunks memtable; default 16MiB
  } storage;

  struct Ingester {
    int64_t chunk_target_size = 1536 << 10;                 // raw bytes; default 1.5MiB
    int64_t max_chunk_age = 2LL * 3600 * 1'000'000'000;     // default 2h
    int64_t chunk_idle_period = 30LL * 60 * 1'000'000'000;  // default 30m
    int64_t flush_check_period = 10LL * 1'000'000'000;      // default 10s
    int chunk_compression_level = 3;                        // zstd level; default 3
    int64_t chunk_block_size = 256 << 10;                   // raw bytes per block; default 256KiB
    int64_t head_memory_limit = 512LL << 20;                // heads in memory → 429; default 512MiB
    struct Wal {
      std::string dir;                                      // default <storage path>/wal
      int64_t checkpoint_duration = 5LL * 60 * 1'000'000'000;  // default 5m
      int64_t checkpoint_size = 64LL << 20;                 // log bytes → checkpoint; default 64MiB
      int64_t segment_size = 128LL << 20;                   // default 128MiB
      bool flush_on_shutdown = false;                       // cut every head at shutdown; default false
    } wal;
  } ingester;

  struct Distributor {
    int64_t max_recv_msg_size = 100LL << 20;         // compressed body; default 100MiB → 413
    int64_t max_decompressed_size = 100LL << 20;     // per request; default 100MiB → 413
    // Decompressed bytes held by all pushes being decoded at once → 429; default 256MiB.
    int64_t max_decompressed_inflight_bytes = 256LL << 20;
  } distributor;

  // Retention and deletion (Loki's compactor block). Reference: docs/operations/retention.md.
  struct Compactor {
    bool retention_enabled = false;                                  // default false
    int64_t compaction_interval = 10LL * 60 * 1'000'000'000;          // pass period; default 10m
    int64_t apply_retention_interval = 0;                            // 0 = compaction_interval
    int64_t retention_delete_delay = 2LL * 3600 * 1'000'000'000;      // accepted; see docs; 2h
    int64_t delete_request_cancel_period = 24LL * 3600 * 1'000'000'000;  // default 24h
    int64_t delete_max_interval = 24LL * 3600 * 1'000'000'000;       // default 24h; 0 = none
    // Test only (e2e crash tests): pause this long after each stream of a pass. Default 0.
    int64_t test_only_stream_delay = 0;
  } compactor;

  // Per-tenant overrides file (Loki's runtime config), reloaded while running.
  struct RuntimeConfig {
    std::string file;                          // default "" (no overrides)
    int64_t period = 10LL * 1'000'000'000;     // reload check period; default 10s
  } runtime_config;

  struct Querier {
    int64_t tail_max_duration = 3600LL * 1'000'000'000;  // a live tail is closed after this; 1h
    // Unsent bytes per tail connection before entries are dropped; default 1MiB.
    int64_t tail_max_buffered_bytes = 1LL << 20;
  } querier;

  // Step alignment of metric query_range requests (log queries and instant queries are
  // never aligned). Reference: docs/api.md "Step alignment".
  struct QueryRange {
    // Round start down and end up to a multiple of step (Loki's query frontend does this
    // when it splits a metric query by interval, i.e. by default). Default true.
    bool align_metric_queries_to_step = true;
    // Loki's key: also round end down first (Loki's step-align middleware; the Helm chart
    // sets it). Applied before the alignment above, as in Loki. Default false.
    bool align_queries_with_step = false;
  } query_range;

  ingest::Limits limits_config;

  // The directory RocksDB lives in, after defaults.
  std::string StoragePath() const;
  std::string WalDir() const;  // ingester.wal.dir or <StoragePath()>/wal
};

// Parses YAML text. `source` names the file in errors.
Result<StoreConfig> ParseStoreConfig(std::string_view yaml, std::string_view source);
Result<StoreConfig> LoadStoreConfigFile(const std::string& path);

// Parses a runtime overrides file (`overrides: {<tenant>: {<limits_config keys>}}`); each
// tenant starts from `defaults`. `configs` and `multi_kv_config` are accepted and ignored.
Result<std::map<std::string, ingest::Limits, std::less<>>> ParseRuntimeOverrides(
    std::string_view yaml, std::string_view source, const ingest::Limits& defaults);

// Applies one command-line override (`name` without the leading dashes, e.g.
// "server.http-listen-port" or "storage.path"). InvalidArgument names the flag.
Status ApplyStoreFlag(StoreConfig* config, std::string_view name, std::string_view value);

// The effective configuration as YAML (for -print-config and /config).
std::string StoreConfigToYaml(const StoreConfig& config);

}  // namespace logq::server
