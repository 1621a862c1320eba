// PodMetadata: Kubernetes pod metadata for the pods on this node, as Promtail's
// kubernetes_sd_configs (role: pod) exposes it (`__meta_kubernetes_pod_*` labels).
//
// Implementation: LIST /api/v1/pods?fieldSelector=spec.nodeName=<node>, then WATCH from the
// list's resourceVersion (ADDED/MODIFIED/DELETED; 410 Gone → relist), with capped backoff on
// errors, on its own thread. A pod's metadata is kept after DELETED until Release(uid), so
// lines read from a deleted pod's files are still labelled.
//
// Thread-safety: Lookup/Release/Healthy may be called from any thread. The destructor stops
// the thread (it interrupts a pending watch).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "query/base/clock.h"
#include "query/base/status.h"

namespace logq::shipper {

struct KubeClientConfig {
  std::string api_server;  // "https://10.0.0.1:443" or, for tests, "http://127.0.0.1:port"
  std::string token_file;  // bearer token file; empty = no Authorization header
  std::string ca_file;     // CA bundle for HTTPS; empty = system CAs
  std::string node_name;   // only pods with spec.nodeName == node_name are listed
  bool insecure_skip_verify = false;
};

// In-cluster defaults: KUBERNETES_SERVICE_HOST/PORT, /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}.
Result<KubeClientConfig> InClusterConfig(std::string node_name);

class PodMetadata {  // list + watch pods with fieldSelector spec.nodeName=<node>, on its own thread
 public:
  // Starts the background thread; returns once the thread is running (the first list may
  // still be in flight: Lookup returns nullopt until it completes). `clock` must outlive it.
  static Result<std::unique_ptr<PodMetadata>> Start(const KubeClientConfig& config,
                                                    const Clock& clock);
  virtual ~PodMetadata() = default;
  // __meta_kubernetes_pod_* labels (name, uid, namespace, node_name, ip, label_<x>,
  // labelpresent_<x>, annotation_<x>, annotationpresent_<x>, controller_kind/name,
  // container_name, container_image, container_id, ...) for a pod, if known. `uid` may be
  // empty (then ns/pod decide); `container` may be empty (then no container labels).
  virtual std::optional<std::map<std::string, std::string, std::less<>>> Lookup(
      std::string_view ns, std::string_view pod, std::string_view uid,
      std::string_view container) = 0;
  virtual void Release(std::string_view uid) = 0;  // the pod's files are drained
  // True once a list succeeded and the last list/watch attempt did not fail.
  virtual bool Healthy() const = 0;
};

}  // namespace logq::shipper
