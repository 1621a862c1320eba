// Kubernetes pod log paths: /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log and
// the kubelet's rotated generations <n>.log.<YYYYMMDD-HHMMSS> and <n>.log.<ts>.gz.
// Pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace logq::shipper {

enum class Generation { kCurrent, kRotated, kGzip };

struct PodDirName {
  std::string ns, pod, uid;
};
// "<namespace>_<pod>_<uid>" (none of the three may contain '_'); nullopt otherwise.
std::optional<PodDirName> ParsePodDirName(std::string_view name);

struct LogFileName {
  Generation generation = Generation::kCurrent;
  std::string base;       // "0.log": the current file this generation belongs to
  std::string rotated_at; // "20261122-101500" for rotated generations; "" for the current
  // Classified by a __path__ glob (any directory, logrotate's names) rather than the kubelet
  // layout; rotated_at is then the zero-padded mtime in nanoseconds (older sorts first).
  bool plain = false;
};
// "0.log", "0.log.20261122-101500", "0.log.20261122-101500.gz"; nullopt for anything else
// (kubelet's *.tmp while compressing, editor droppings, ...).
std::optional<LogFileName> ParseLogFileName(std::string_view name);

// Sort key: older generations first, the current file last.
std::string GenerationOrderKey(const LogFileName& f);

using LabelMap = std::map<std::string, std::string, std::less<>>;

// Target labels of a file: default stream labels (namespace, pod, container, node_name,
// filename) plus Kubernetes-SD-style meta labels (__meta_kubernetes_namespace,
// __meta_kubernetes_pod_name, __meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name,
// __meta_kubernetes_pod_node_name) and __path__. `filename` is the path of the CURRENT file
// (a rotated or gzipped generation keeps the stream of the file it was written as).
LabelMap TargetLabels(const PodDirName& pod, std::string_view container, std::string_view canonical_path,
                      std::string_view node_name);

}  // namespace logq::shipper
