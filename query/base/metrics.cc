#include "query/base/metrics.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace logq {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string WithExtraLabel(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string extra = fmt::format("{}=\"{}\"", name, value);
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string RenderMetricLabels(const MetricLabels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  }
  out += '}';
  return out;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size()) {}

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  if (it != bounds_.end()) counts_[it - bounds_.begin()]++;
  count_++;
  sum_ += v;
}

void Histogram::Snapshot(std::vector<uint64_t>* buckets, uint64_t* count, double* sum) const {
  std::lock_guard<std::mutex> l(mu_);
  buckets->assign(counts_.size(), 0);
  uint64_t cum = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    cum += counts_[i];
    (*buckets)[i] = cum;
  }
  *count = count_;
  *sum = sum_;
}

MetricsRegistry::Family* MetricsRegistry::FamilyFor(std::string_view name, std::string_view help,
                                                    Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}}).first;
  }
  return &it->second;
}

Counter* MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> l(mu_);
  Family* f = FamilyFor(name, help, Type::kCounter);
  auto& slot = f->counters[RenderMetricLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> l(mu_);
  Family* f = FamilyFor(name, help, Type::kGauge);
  auto& slot = f->gauges[RenderMetricLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const MetricLabels& labels,
                                         const std::vector<double>& bounds) {
  std::lock_guard<std::mutex> l(mu_);
  Family* f = FamilyFor(name, help, Type::kHistogram);
  auto& slot = f->histograms[RenderMetricLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

bool MetricsRegistry::RemoveSeries(std::string_view name, const MetricLabels& labels) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return false;
  std::string key = RenderMetricLabels(labels);
  Family& f = it->second;
  return f.counters.erase(key) + f.gauges.erase(key) + f.histograms.erase(key) > 0;
}

void MetricsRegistry::AddCollector(std::function<void()> refresh) {
  std::lock_guard<std::mutex> l(mu_);
  collectors_.push_back(std::move(refresh));
}

std::string MetricsRegistry::Render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> l(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, type);
    for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, labels, FormatValue(c->Value()));
    for (const auto& [labels, g] : f.gauges) out += fmt::format("{}{} {}\n", name, labels, FormatValue(g->Value()));
    for (const auto& [labels, h] : f.histograms) {
      std::vector<uint64_t> buckets;
      uint64_t count;
      double sum;
      h->Snapshot(&buckets, &count, &sum);
      for (size_t i = 0; i < buckets.size(); ++i) {
        out += fmt::format("{}_bucket{} {}\n", name, WithExtraLabel(labels, "le", FormatValue(h->bounds()[i])), buckets[i]);
      }
      out += fmt::format("{}_bucket{} {}\n", name, WithExtraLabel(labels, "le", "+Inf"), count);
      out += fmt::format("{}_sum{} {}\n", name, labels, FormatValue(sum));
      out += fmt::format("{}_count{} {}\n", name, labels, count);
    }
  }
  return out;
}

}  // namespace logq
