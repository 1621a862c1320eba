#include "store/retention/runtime_config.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <fstream>
#include <sstream>

namespace logq::retention {

RuntimeConfig::RuntimeConfig(ingest::Limits defaults, std::string file, OverridesParser parse,
                             MetricsRegistry* metrics)
    : defaults_(std::move(defaults)),
      file_(std::move(file)),
      parse_(std::move(parse)),
      metrics_(metrics),
      overrides_(std::make_shared<const TenantLimits>()) {}

RuntimeConfig::~RuntimeConfig() { Stop(); }

Status RuntimeConfig::Reload() {
  if (file_.empty()) return Status::OK();
  auto fail = [&](Status s) {
    metrics_->GetGauge("logq_runtime_config_last_reload_successful",
                       "1 if the last reload of the runtime overrides file succeeded.")
        ->Set(0);
    metrics_->GetCounter("logq_runtime_config_reload_failures_total",
                         "Failed reloads of the runtime overrides file.")
        ->Inc();
    return s;
  };
  std::ifstream in(file_);
  if (!in) return fail(InvalidArgument("cannot read runtime config file " + file_));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const uint64_t hash = XXH3_64bits(text.data(), text.size());
  {
    std::lock_guard<std::mutex> l(mu_);
    if (loaded_ && hash == content_hash_) return Status::OK();
  }
  auto parsed = parse_(text, file_, defaults_);
  if (!parsed.ok()) return fail(parsed.status());
  auto next = std::make_shared<const TenantLimits>(std::move(parsed).value());
  size_t tenants = next->size();
  {
    std::lock_guard<std::mutex> l(mu_);
    overrides_ = std::move(next);
    content_hash_ = hash;
    loaded_ = true;
  }
  metrics_->GetGauge("logq_runtime_config_last_reload_successful",
                     "1 if the last reload of the runtime overrides file succeeded.")
      ->Set(1);
  metrics_->GetGauge("logq_runtime_config_hash", "XXH3 of the loaded runtime overrides file (low 52 bits).")
      ->Set(static_cast<double>(hash & ((1ULL << 52) - 1)));
  spdlog::info("runtime config {} loaded: overrides for {} tenants", file_, tenants);
  return Status::OK();
}

ingest::Limits RuntimeConfig::LimitsFor(std::string_view tenant) const {
  std::shared_ptr<const TenantLimits> o;
  {
    std::lock_guard<std::mutex> l(mu_);
    o = overrides_;
  }
  auto it = o->find(tenant);
  return it == o->end() ? defaults_ : it->second;
}

std::vector<std::string> RuntimeConfig::OverriddenTenants() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [t, _] : *overrides_) out.push_back(t);
  return out;
}

void RuntimeConfig::Start(int64_t period_ns) {
  if (file_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this, period_ns] {
    std::unique_lock<std::mutex> l(loop_mu_);
    while (!stopping_) {
      loop_cv_.wait_for(l, std::chrono::nanoseconds(period_ns));
      if (stopping_) break;
      l.unlock();
      Status s = Reload();
      if (!s.ok()) spdlog::error("reloading runtime config failed, keeping the previous overrides: {}", s.message());
      l.lock();
    }
  });
}

void RuntimeConfig::Stop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace logq::retention
