// A small Prometheus metrics registry: counters, gauges and histograms with labels,
// rendered in the Prometheus text exposition format (version 0.0.4) for /metrics.
//
// Thread-safety: the registry and every metric are safe to use from any thread. Metric
// pointers returned by the registry live as long as the registry; hot paths look a metric
// up once and keep the pointer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logq {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double v = 1) {
    double cur = v_.load(std::memory_order_relaxed);
    while (!v_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d) {
    double cur = v_.load(std::memory_order_relaxed);
    while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Copies out cumulative bucket counts (same length as bounds), count and sum.
  void Snapshot(std::vector<uint64_t>* buckets, uint64_t* count, double* sum) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Default latency buckets in seconds (Prometheus client defaults).
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  Counter* GetCounter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge* GetGauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram* GetHistogram(std::string_view name, std::string_view help, const MetricLabels& labels,
                          const std::vector<double>& bounds = DefaultLatencyBuckets());

  // Removes one series (any type) of family `name`; false if it does not exist. Pointers
  // returned for it dangle afterwards: call only when no one uses them any more (e.g. the
  // shipper's per-file series once the file is gone).
  bool RemoveSeries(std::string_view name, const MetricLabels& labels);

  // A callback run at render time to refresh gauges computed on demand (disk bytes, ...).
  void AddCollector(std::function<void()> refresh);

  // Renders every family in name order.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family* FamilyFor(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Renders labels as {a="b",c="d"} with Prometheus escaping; "" when empty.
std::string RenderMetricLabels(const MetricLabels& labels);

}  // namespace logq
