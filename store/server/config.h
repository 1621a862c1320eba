// logq-store configuration: YAML with Loki's key names where they exist. Every key is
// optional; unknown keys are errors naming the key path and line. Reference with defaults:
// docs/configuration.md. Value type.
#pragma once

#include <cstdint>
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
    int64_t write_buffer_size = 32 << 20; // head memtable; default 32MiB
  } storage;

  struct Ingester {
    int64_t chunk_target_size = 1536 << 10;                 // raw bytes; default 1.5MiB
    int64_t max_chunk_age = 2LL * 3600 * 1'000'000'000;     // default 2h
    int64_t chunk_idle_period = 30LL * 60 * 1'000'000'000;  // default 30m
    int64_t flush_check_period = 10LL * 1'000'000'000;      // default 10s
    int chunk_compression_level = 3;                        // zstd level; default 3
  } ingester;

  struct Distributor {
    int64_t max_recv_msg_size = 100LL << 20;         // compressed body; default 100MiB → 413
    int64_t max_decompressed_size = 5000LL << 20;    // default 5000MiB → 413
  } distributor;

  ingest::Limits limits_config;

  // The directory RocksDB lives in, after defaults.
  std::string StoragePath() const;
};

// Parses YAML text. `source` names the file in errors.
Result<StoreConfig> ParseStoreConfig(std::string_view yaml, std::string_view source);
Result<StoreConfig> LoadStoreConfigFile(const std::string& path);

// Applies one command-line override (`name` without the leading dashes, e.g.
// "server.http-listen-port" or "storage.path"). InvalidArgument names the flag.
Status ApplyStoreFlag(StoreConfig* config, std::string_view name, std::string_view value);

// The effective configuration as YAML (for -print-config and /config).
std::string StoreConfigToYaml(const StoreConfig& config);

}  // namespace logq::server
