// logq-store: a Loki-compatible log store. See --help and docs/configuration.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "query/base/clock.h"
#include "store/server/config.h"
#include "store/server/store_server.h"

namespace {

constexpr const char* kUsage = R"(logq-store: a Loki-compatible log store on RocksDB.

Usage:
  logq-store [-config.file=FILE] [-config.check] [-print-config] [-<section>.<key>=VALUE ...]

Flags:
  -config.file=FILE     YAML configuration (Loki key names; every key optional).
                        Without it the embedded defaults are used.
  -config.check         Validate the configuration (file and flags), print "config OK"
                        and exit 0; exit 1 with the error otherwise. Touches no storage.
  -print-config         Print the effective configuration as YAML and exit.
  -version              Print the version and exit.
  -help                 This text.
  -<section>.<key>=V    Override one configuration key, e.g.
                          -server.http-listen-port=3100
                          -storage.path=/var/lib/logq
                          -storage.sync-writes=true
                          -auth-enabled=true
                          -limits-config.ingestion-rate-mb=16

Endpoints: POST /loki/api/v1/push; GET /loki/api/v1/{query,query_range,labels,label/<name>/values,series,
index/stats,index/volume,detected_labels,detected_fields,format_query,status/buildinfo};
WebSocket GET /loki/api/v1/tail (live tail; querier.tail-max-duration, limits max_concurrent_tail_requests);
/ready; /metrics; /config;
POST|GET|DELETE /loki/api/v1/delete, GET /loki/api/v1/cache/generation_numbers (log deletion);
POST /flush (cut every stream head into chunks now).
Retention (compactor.retention_enabled, limits_config.retention_period/retention_stream,
runtime_config.file for per-tenant overrides): docs/operations/retention.md.
Reference: docs/configuration.md, docs/api.md.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  bool print_config = false;
  bool check_config = false;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) a = a.substr(1);
    if (a == "-help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "-version") {
      std::printf("logq-store %s (revision %s)\n", LOGQ_VERSION, LOGQ_REVISION);
      return 0;
    }
    if (a == "-print-config") {
      print_config = true;
      continue;
    }
    if (a == "-config.check" || a == "-config.check=true") {
      check_config = true;
      continue;
    }
    if (a.rfind('-', 0) != 0 || a.size() < 2) {
      std::fprintf(stderr, "logq-store: unexpected argument \"%s\" (see -help)\n", argv[i]);
      return 2;
    }
    size_t eq = a.find('=');
    std::string name = a.substr(1, eq == std::string::npos ? std::string::npos : eq - 1);
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < argc && argv[i + 1][0] != '-') {
      value = argv[++i];
    } else {
      value = "true";
    }
    if (name == "config.file") config_file = value;
    else overrides.emplace_back(name, value);
  }

  logq::server::StoreConfig config;
  if (!config_file.empty()) {
    auto loaded = logq::server::LoadStoreConfigFile(config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "logq-store: %s\n", loaded.status().message().c_str());
      return 1;
    }
    config = std::move(loaded).value();
  }
  for (const auto& [name, value] : overrides) {
    auto st = logq::server::ApplyStoreFlag(&config, name, value);
    if (!st.ok()) {
      std::fprintf(stderr, "logq-store: %s\n", st.message().c_str());
      return check_config ? 1 : 2;
    }
  }
  if (check_config) {
    std::string source = config_file.empty() ? "embedded defaults" : config_file;
    std::printf("logq-store: config OK (%s)\n", source.c_str());
    return 0;
  }
  if (print_config) {
    std::fputs(logq::server::StoreConfigToYaml(config).c_str(), stdout);
    return 0;
  }

  spdlog::set_level(spdlog::level::from_str(config.server.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);

  // Block termination signals in every thread; main waits for them below.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  logq::server::StoreServer server(config, logq::SystemClock::Default());
  auto st = server.Start();
  if (!st.ok()) {
    spdlog::error("startup failed: {}", st.ToString());
    server.Stop();
    return 1;
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.Stop();
  return 0;
}
