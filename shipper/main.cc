// logq-shipper: the DaemonSet agent that tails /var/log/pods and pushes to a Loki-API store.
// See --help and docs/shipper.md.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include "query/base/clock.h"
#include "query/base/http_server.h"
#include "query/base/metrics.h"
#include "shipper/agent.h"
#include "shipper/config.h"

namespace {

constexpr const char* kUsage = R"(logq-shipper: ships Kubernetes pod logs (/var/log/pods) to logq-store or Loki.

Usage:
  logq-shipper -config.file=FILE [flags]
  logq-shipper -config.file=FILE -config.check
  logq-shipper [-config.file=FILE] -dry-run FILE...

Flags:
  -config.file=FILE               Promtail-style YAML configuration (docs/shipper.md).
  -config.expand-env=true         Replace ${VAR} and ${VAR:-default} in the file first.
  -config.check                   Validate the configuration, print the error if any, exit 0/1.
  -dry-run FILE...                Print what would be sent for the files (nothing is sent,
                                  positions are not touched), then exit.
  -client.url=URL                 Push URL of one more client, added to clients[] (as Promtail;
                                  the -client.* flags below configure that client).
  -client.tenant-id=ID            X-Scope-OrgID of the -client.url client.
  -client.batch-wait=DUR          Default 1s.
  -client.batch-size-bytes=SIZE   Default 1MiB (encoded size).
  -client.timeout=DUR             Default 10s.
  -client.external-labels=k=v,..  Labels added to every stream of EVERY client (a client's
                                  own external_labels win).
  -positions.file=PATH            Default /var/log/positions.yaml.
  -positions.sync-period=DUR      Default 1s.
  -server.http-listen-address=A   Default 0.0.0.0.
  -server.http-listen-port=N      /metrics and /ready; default 9080, 0 = any free port.
  -shipper.pods-root=DIR          Default /var/log/pods.
  -shipper.node-name=NAME         node_name label; default $NODE_NAME or the hostname.
  -log.level=LEVEL                debug|info|warn|error.
  -version, -help
Flags override the file.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config_file;
  bool check = false, dry_run = false, expand_env = false;
  std::vector<std::string> dry_files;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (dry_run && !a.empty() && a[0] != '-') {
      dry_files.push_back(a);
      continue;
    }
    if (a.rfind("--", 0) == 0) a = a.substr(1);
    if (a == "-help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "-version") {
      std::printf("logq-shipper %s (revision %s)\n", LOGQ_VERSION, LOGQ_REVISION);
      return 0;
    }
    if (a.rfind('-', 0) != 0 || a.size() < 2) {
      std::fprintf(stderr, "logq-shipper: unexpected argument \"%s\" (see -help)\n", argv[i]);
      return 2;
    }
    size_t eq = a.find('=');
    std::string name = a.substr(1, eq == std::string::npos ? std::string::npos : eq - 1);
    bool boolean = name == "config.check" || name == "dry-run" || name == "config.expand-env";
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (!boolean && i + 1 < argc && argv[i + 1][0] != '-') {
      value = argv[++i];
    } else {
      value = "true";
    }
    if (name == "config.file") config_file = value;
    else if (name == "config.check") check = value == "true";
    else if (name == "dry-run") dry_run = value == "true";
    else if (name == "config.expand-env") expand_env = value == "true";
    else overrides.emplace_back(name, value);
  }

  logq::shipper::ShipperConfig config;
  if (!config_file.empty()) {
    auto loaded = logq::shipper::LoadShipperConfigFile(config_file, expand_env);
    if (!loaded.ok()) {
      std::fprintf(stderr, "logq-shipper: %s\n", loaded.status().message().c_str());
      return 1;
    }
    config = std::move(loaded).value();
  } else {
    auto empty = logq::shipper::ParseShipperConfig("", "(defaults)", false);
    config = std::move(empty).value();
  }
  for (const auto& [name, value] : overrides) {
    auto st = logq::shipper::ApplyShipperFlag(&config, name, value);
    if (!st.ok()) {
      std::fprintf(stderr, "logq-shipper: %s\n", st.message().c_str());
      return 2;
    }
  }
  logq::shipper::FinishShipperConfig(&config);
  spdlog::set_level(spdlog::level::from_str(config.server.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);

  if (dry_run) {
    if (dry_files.empty()) {
      std::fprintf(stderr, "logq-shipper: -dry-run needs at least one file\n");
      return 2;
    }
    auto st = logq::shipper::DryRun(config, dry_files, std::cout);
    std::cout.flush();
    if (!st.ok()) {
      std::fprintf(stderr, "logq-shipper: %s\n", st.message().c_str());
      return 1;
    }
    return 0;
  }
  if (check) {
    auto st = logq::shipper::ValidateShipperConfig(config);
    if (st.ok()) {
      // Building the pipelines and relabel rules validates them too.
      logq::shipper::ShipperConfig probe = config;
      probe.server.disable = true;
      std::ostringstream sink;
      st = logq::shipper::DryRun(probe, {}, sink);
    }
    if (!st.ok()) {
      std::fprintf(stderr, "logq-shipper: invalid configuration: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("logq-shipper: configuration is valid\n");
    return 0;
  }

  // Block termination signals in every thread; the agent's event loop reads them (signalfd).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // One fd per tailed generation: lift the soft limit to the hard one.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rlim_t before = rl.rlim_cur;
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        spdlog::info("raised the RLIMIT_NOFILE soft limit from {} to the hard limit {}",
                     static_cast<uint64_t>(before), static_cast<uint64_t>(rl.rlim_max));
      } else {
        spdlog::warn("could not raise the RLIMIT_NOFILE soft limit from {} to {}: {}",
                     static_cast<uint64_t>(before), static_cast<uint64_t>(rl.rlim_max), std::strerror(errno));
      }
    } else {
      spdlog::info("RLIMIT_NOFILE: {} (soft = hard)", static_cast<uint64_t>(rl.rlim_cur));
    }
  }

  logq::MetricsRegistry metrics;
  auto agent = logq::shipper::Agent::Create(config, *logq::SystemClock::Default(), metrics);
  if (!agent.ok()) {
    spdlog::error("startup failed: {}", agent.status().message());
    return 1;
  }
  std::unique_ptr<logq::HttpServer> http;
  if (!config.server.disable) {
    logq::HttpServerOptions ho;
    ho.address = config.server.http_listen_address;
    ho.port = static_cast<uint16_t>(config.server.http_listen_port);
    ho.io_threads = 1;
    ho.worker_threads = 1;
    ho.max_body_bytes = 1 << 20;
    logq::shipper::Agent* a = agent->get();
    auto srv = logq::HttpServer::Start(ho, [a, &metrics](logq::HttpRequest& req) {
      if (req.path == "/metrics") {
        logq::HttpResponse r = logq::HttpResponse::Text(200, metrics.Render());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return r;
      }
      if (req.path == "/ready") {
        std::string why = a->Readiness();
        return why == "ok" ? logq::HttpResponse::Text(200, "ready\n")
                           : logq::HttpResponse::Text(503, "not ready: " + why + "\n");
      }
      if (req.path == "/targets") {
        logq::HttpResponse r = logq::HttpResponse::Text(200, a->TargetsJson());
        r.content_type = "application/json";
        return r;
      }
      return logq::HttpResponse::Text(404, "not found; try /metrics, /ready or /targets\n");
    });
    if (!srv.ok()) {
      spdlog::error("startup failed: HTTP server on {}:{}: {}", ho.address, ho.port, srv.status().message());
      return 1;
    }
    http = std::move(srv).value();
    spdlog::info("listening on {}:{}", config.server.http_listen_address, http->port());
  }
  auto st = (*agent)->Run();
  if (http) http->Stop();
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  return 0;
}
