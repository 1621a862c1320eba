#include "shipper/discovery/pod_path.h"

namespace logq::shipper {

std::optional<PodDirName> ParsePodDirName(std::string_view name) {
  size_t a = name.find('_');
  if (a == std::string_view::npos || a == 0) return std::nullopt;
  size_t b = name.find('_', a + 1);
  if (b == std::string_view::npos || b == a + 1 || b + 1 >= name.size()) return std::nullopt;
  if (name.find('_', b + 1) != std::string_view::npos) return std::nullopt;
  return PodDirName{std::string(name.substr(0, a)), std::string(name.substr(a + 1, b - a - 1)),
                    std::string(name.substr(b + 1))};
}

std::optional<LogFileName> ParseLogFileName(std::string_view name) {
  size_t pos = name.find(".log");
  while (pos != std::string_view::npos) {
    size_t after = pos + 4;
    std::string_view rest = name.substr(after);
    if (pos > 0) {
      LogFileName f;
      f.base = std::string(name.substr(0, after));
      if (rest.empty()) {
        f.generation = Generation::kCurrent;
        return f;
      }
      if (rest[0] == '.') {
        std::string_view ts = rest.substr(1);
        bool gz = false;
        if (ts.size() > 3 && ts.substr(ts.size() - 3) == ".gz") {
          gz = true;
          ts.remove_suffix(3);
        }
        // 20060102-150405
        bool ok = ts.size() == 15 && ts[8] == '-';
        for (size_t i = 0; ok && i < ts.size(); ++i) {
          if (i != 8 && (ts[i] < '0' || ts[i] > '9')) ok = false;
        }
        if (ok) {
          f.generation = gz ? Generation::kGzip : Generation::kRotated;
          f.rotated_at = std::string(ts);
          return f;
        }
      }
    }
    pos = name.find(".log", pos + 1);
  }
  return std::nullopt;
}

std::string GenerationOrderKey(const LogFileName& f) {
  if (f.generation == Generation::kCurrent) return f.base + "|~";
  return f.base + "|" + f.rotated_at + (f.generation == Generation::kGzip ? "a" : "b");
}

LabelMap TargetLabels(const PodDirName& pod, std::string_view container, std::string_view canonical_path,
                      std::string_view node_name) {
  LabelMap l;
  l["namespace"] = pod.ns;
  l["pod"] = pod.pod;
  l["container"] = std::string(container);
  if (!node_name.empty()) l["node_name"] = std::string(node_name);
  l["filename"] = std::string(canonical_path);
  l["__meta_kubernetes_namespace"] = pod.ns;
  l["__meta_kubernetes_pod_name"] = pod.pod;
  l["__meta_kubernetes_pod_uid"] = pod.uid;
  l["__meta_kubernetes_pod_container_name"] = std::string(container);
  if (!node_name.empty()) l["__meta_kubernetes_pod_node_name"] = std::string(node_name);
  l["__path__"] = std::string(canonical_path);
  return l;
}

}  // namespace logq::shipper
