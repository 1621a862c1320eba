#include "tests/testing/store_process.h"

#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/testing/http_client.h"

namespace logq::testing {
namespace {

constexpr std::string_view kListening = "listening on 127.0.0.1:";

// The port from the first `listening on 127.0.0.1:<port>` line, or 0.
uint16_t FindPort(const std::string& log) {
  size_t p = log.find(kListening);
  if (p == std::string::npos) return 0;
  p += kListening.size();
  uint32_t port = 0;
  size_t digits = 0;
  while (p < log.size() && log[p] >= '0' && log[p] <= '9' && digits < 6) {
    port = port * 10 + static_cast<uint32_t>(log[p] - '0');
    ++p;
    ++digits;
  }
  // Only a complete line counts (the number may still be being written).
  if (digits == 0 || p >= log.size() || log[p] != '\n' || port == 0 || port > 65535) return 0;
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string DefaultStoreBinary() {
  const char* env = std::getenv("LOGQ_STORE_BINARY");
  if (env != nullptr && *env != '\0') return env;
  return std::string(LOGQ_BINARY_DIR) + "/store/server/logq-store";
}

StoreProcess::StoreProcess(StoreOptions options) : options_(std::move(options)) {
  if (options_.binary.empty()) options_.binary = DefaultStoreBinary();
  storage_dir_ = dir_.path() + "/data";
}

StoreProcess::~StoreProcess() {
  if (process_) process_->Kill(SIGKILL);
}

Result<std::unique_ptr<StoreProcess>> StoreProcess::Start(StoreOptions options) {
  std::unique_ptr<StoreProcess> s(new StoreProcess(std::move(options)));
  if (!s->options_.config_yaml.empty()) {
    s->config_path_ = s->dir_.path() + "/config.yaml";
    std::ofstream out(s->config_path_);
    out << s->options_.config_yaml;
    if (!out) return Internal("cannot write " + s->config_path_);
  }
  RETURN_IF_ERROR(s->Launch());
  return s;
}

std::string StoreProcess::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

Status StoreProcess::Launch() {
  std::vector<std::string> args = {
      "-server.http-listen-address=127.0.0.1",
      "-server.http-listen-port=0",
      "-storage.path=" + storage_dir_,
  };
  if (!config_path_.empty()) args.push_back("-config.file=" + config_path_);
  for (const auto& f : options_.flags) args.push_back(f);

  const std::string log_path = dir_.path() + "/store-" + std::to_string(starts_++) + ".log";
  ASSIGN_OR_RETURN(process_, Process::Start(options_.binary, args, log_path));
  port_ = 0;

  const auto until = std::chrono::steady_clock::now() + options_.start_deadline;
  auto failed = [&](const std::string& what) {
    return Unavailable("logq-store " + what + "; log tail:\n" + LogTail());
  };
  // 1. The bound port, from the log.
  while (port_ == 0) {
    if (!process_->Running())
      return failed("exited during startup (code " + std::to_string(process_->exit_code()) + ")");
    port_ = FindPort(process_->ReadLog());
    if (port_ != 0) break;
    if (std::chrono::steady_clock::now() >= until) return failed("did not log its port in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // 2. GET /ready until 200 (503 while the WAL is replayed and heads are recovered).
  TestHttpClient client(base_url(), std::chrono::seconds(2));
  for (;;) {
    HttpReply r = client.Get("/ready");
    if (r.status == 200) return Status::OK();
    if (!process_->Running())
      return failed("exited before becoming ready (code " + std::to_string(process_->exit_code()) +
                    ")");
    if (std::chrono::steady_clock::now() >= until) {
      return failed("not ready in time (last /ready: " + r.Describe() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void StoreProcess::Kill() {
  if (process_) process_->Kill(SIGKILL);
}

Result<int> StoreProcess::Terminate(std::chrono::milliseconds deadline) {
  if (!process_) return Status(StatusCode::kFailedPrecondition, "not started");
  return process_->Terminate(deadline);
}

Status StoreProcess::Restart() {
  if (process_) process_->Kill(SIGKILL);
  return Launch();
}

std::string StoreProcess::Log() const { return process_ ? process_->ReadLog() : std::string(); }

std::string StoreProcess::LogTail(size_t max_bytes) const {
  std::string log = Log();
  if (log.size() > max_bytes) log = "..." + log.substr(log.size() - max_bytes);
  return log;
}

}  // namespace logq::testing
