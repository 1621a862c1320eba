// The rendered Kustomize manifests (deploy/kubernetes: base and every overlay) have the
// properties an operator relies on: the shipper reads the host read-only, probes hit the
// endpoints the binaries really serve on the ports their configs really use, RBAC is
// read-only on pods, the Grafana datasource and the shipper point at the store Service,
// images are pinned, and every container has resources.
//
// Needs kubectl (with its built-in kustomize); skipped with a message without it.
#include <gtest/gtest.h>

#include <set>

#include "tests/deploy/deploy_util.h"

namespace logq::deploy_test {
namespace {

constexpr const char* kNamespace = "logq";

class ManifestTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string missing = KubectlMissingReason();
    if (!missing.empty()) GTEST_SKIP() << missing;
    const Rendering& r = Render(GetParam());
    ASSERT_EQ(r.command.exit_code, 0) << "kubectl kustomize " << GetParam() << ": " << r.command.Describe();
    ASSERT_TRUE(r.parse_error.empty()) << GetParam() << ": rendered output is not YAML: " << r.parse_error;
    objects_ = &r.objects;
  }
  const std::vector<YAML::Node>& objects() const { return *objects_; }

  Workload Store() const {
    auto w = FindWorkload(objects(), "StatefulSet", "logq-store");
    EXPECT_TRUE(w.has_value()) << GetParam() << ": no StatefulSet logq-store";
    return w.value_or(Workload{});
  }
  Workload Shipper() const {
    auto w = FindWorkload(objects(), "DaemonSet", "logq-shipper");
    EXPECT_TRUE(w.has_value()) << GetParam() << ": no DaemonSet logq-shipper";
    return w.value_or(Workload{});
  }

  // The shipper's configuration file as the DaemonSet mounts it (-config.file).
  YAML::Node ShipperConfig() const {
    Workload w = Shipper();
    YAML::Node c = FindContainer(w.pod_spec, "logq-shipper");
    auto file = FlagValue(c, "config.file");
    EXPECT_TRUE(file.has_value()) << "logq-shipper has no -config.file argument";
    if (!file) return YAML::Node();
    auto text = ConfigMapFileAt(objects(), w.pod_spec, c, *file);
    EXPECT_TRUE(text.has_value()) << *file << " is not provided by a mounted ConfigMap";
    return text ? YAML::Load(*text) : YAML::Node();
  }

  // The store's effective configuration: its ConfigMap file and container flags, as the real
  // logq-store prints it (-print-config).
  YAML::Node StoreEffectiveConfig() const {
    Workload w = Store();
    YAML::Node c = FindContainer(w.pod_spec, "logq-store");
    auto file = FlagValue(c, "config.file");
    EXPECT_TRUE(file.has_value()) << "logq-store has no -config.file argument";
    if (!file) return YAML::Node();
    auto text = ConfigMapFileAt(objects(), w.pod_spec, c, *file);
    EXPECT_TRUE(text.has_value()) << *file << " is not provided by a mounted ConfigMap";
    if (!text) return YAML::Node();
    TempFile tmp("store.yaml", *text);
    std::vector<std::string> argv = {StoreBinary()};
    for (const auto& a : c["args"]) {
      std::string s = a.as<std::string>();
      argv.push_back(s.find("config.file=") != std::string::npos ? "-config.file=" + tmp.path() : s);
    }
    argv.push_back("-print-config");
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << "logq-store -print-config with the " << GetParam() << " config: " << r.Describe();
    return r.exit_code == 0 ? YAML::Load(r.out) : YAML::Node();
  }

  // The store Service that selects the store pods (not the headless one).
  YAML::Node StoreService() const {
    Workload w = Store();
    YAML::Node found;
    for (const auto& s : OfKind(objects(), "Service")) {
      if (s["spec"]["clusterIP"].as<std::string>("") == "None") continue;
      if (SelectorMatches(s["spec"]["selector"], w.pod_labels)) {
        EXPECT_FALSE(Present(found)) << "two Services select the store pods";
        found.reset(s);
      }
    }
    EXPECT_TRUE(Present(found)) << GetParam() << ": no (non-headless) Service selects the logq-store pods";
    return found;
  }

  // "http://<service>.<namespace>.svc.cluster.local:<port>" of the store Service, checking
  // that its port leads to the port the store listens on.
  std::string StoreServiceUrl() const {
    YAML::Node svc = StoreService();
    if (!Present(svc)) return "";
    Workload w = Store();
    YAML::Node c = FindContainer(w.pod_spec, "logq-store");
    int listen = StoreEffectiveConfig()["server"]["http_listen_port"].as<int>(-1);
    EXPECT_EQ(svc["spec"]["ports"].size(), 1u);
    YAML::Node port = svc["spec"]["ports"][0];
    YAML::Node target = port["targetPort"] ? port["targetPort"] : port["port"];
    auto container_port = ResolveContainerPort(c, target);
    EXPECT_TRUE(container_port.has_value()) << "store Service targetPort " << target.as<std::string>("")
                                            << " is not a port of the logq-store container";
    EXPECT_EQ(container_port.value_or(-1), listen)
        << "the store Service sends traffic to a port the store does not listen on";
    return "http://" + svc["metadata"]["name"].as<std::string>() + "." +
           svc["metadata"]["namespace"].as<std::string>("default") + ".svc.cluster.local:" +
           std::to_string(port["port"].as<int>());
  }

 private:
  const std::vector<YAML::Node>* objects_ = nullptr;
};

TEST_P(ManifestTest, RendersTheWholeStackInOneNamespace) {
  static const std::set<std::string> kClusterScoped = {"Namespace", "ClusterRole", "ClusterRoleBinding",
                                                       "PriorityClass"};
  EXPECT_TRUE(Present(Find(objects(), "Namespace", kNamespace))) << "no Namespace " << kNamespace;
  for (const auto& o : objects()) {
    std::string kind = o["kind"].as<std::string>("");
    std::string name = o["metadata"]["name"].as<std::string>("");
    ASSERT_FALSE(kind.empty() || name.empty()) << "an object without kind or name";
    if (!kClusterScoped.count(kind)) {
      EXPECT_EQ(o["metadata"]["namespace"].as<std::string>(""), kNamespace) << kind << "/" << name;
    }
  }
  Store();
  Shipper();
}

TEST_P(ManifestTest, ShipperMountsHostLogsReadOnlyAndOnlyPositionsWritable) {
  Workload w = Shipper();
  YAML::Node c = FindContainer(w.pod_spec, "logq-shipper");
  ASSERT_TRUE(Present(c)) << "no container logq-shipper";
  std::string positions = ShipperConfig()["positions"]["filename"].as<std::string>("");
  ASSERT_FALSE(positions.empty()) << "the shipper config sets no positions.filename";

  // The positions file is on a writable hostPath (it must outlive the pod).
  MountAt pos = FindMountContaining(w.pod_spec, c, positions);
  ASSERT_TRUE(Present(pos.mount)) << "positions file " << positions << " is on no volume (lost on restart)";
  ASSERT_TRUE(pos.volume["hostPath"]) << "positions volume " << pos.volume["name"] << " is not a hostPath";
  EXPECT_FALSE(pos.mount["readOnly"].as<bool>(false)) << "positions volume mounted read-only";

  // /var/log/pods is read through a read-only hostPath of the same host directory.
  MountAt pods = FindMountContaining(w.pod_spec, c, "/var/log/pods");
  ASSERT_TRUE(Present(pods.mount) && pods.volume["hostPath"]) << "/var/log/pods is not mounted from the host";
  EXPECT_TRUE(pods.mount["readOnly"].as<bool>(false)) << "/var/log/pods mounted writable";
  std::string host = pods.volume["hostPath"]["path"].as<std::string>("");
  std::string in_container = pods.mount["mountPath"].as<std::string>("");
  EXPECT_EQ(host, in_container) << "host " << host << " mounted at " << in_container
                                << ": paths in positions and labels would not be the host's";

  // Every other hostPath is read-only.
  int writable = 0;
  for (const auto& v : w.pod_spec["volumes"]) {
    if (!v["hostPath"]) continue;
    for (const auto& container : Containers(w.pod_spec)) {
      for (const auto& m : container["volumeMounts"]) {
        if (m["name"].as<std::string>("") != v["name"].as<std::string>("")) continue;
        if (!m["readOnly"].as<bool>(false)) {
          ++writable;
          EXPECT_EQ(m["name"].as<std::string>(""), pos.mount["name"].as<std::string>(""))
              << "hostPath " << v["hostPath"]["path"] << " is writable but holds no positions";
        }
      }
    }
  }
  EXPECT_EQ(writable, 1);

  // The node name comes from the downward API; the pods run on every node.
  bool node_name = false;
  for (const auto& e : c["env"]) {
    if (e["name"].as<std::string>("") == "NODE_NAME") {
      node_name = e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>("") == "spec.nodeName";
    }
  }
  EXPECT_TRUE(node_name) << "NODE_NAME is not set from fieldRef spec.nodeName";
  bool tolerates_all = false;
  for (const auto& t : w.pod_spec["tolerations"]) {
    if (t["operator"].as<std::string>("") == "Exists" && !t["key"] && !t["effect"]) tolerates_all = true;
  }
  EXPECT_TRUE(tolerates_all) << "the DaemonSet does not tolerate every taint (some nodes get no shipper)";
  EXPECT_FALSE(w.pod_spec["nodeSelector"]) << "a nodeSelector keeps the shipper off some nodes";
}

TEST_P(ManifestTest, ProbesHitEndpointsTheBinariesServeOnTheirConfiguredPorts) {
  int store_port = StoreEffectiveConfig()["server"]["http_listen_port"].as<int>(-1);
  int shipper_port = ShipperConfig()["server"]["http_listen_port"].as<int>(9080);
  struct Expect {
    int port;
    std::set<std::string> readiness, liveness;
  };
  std::map<std::string, Expect> expected = {
      // /ready: 200 once storage is open (503 while the WAL replays).
      {"logq-store", {store_port, {"/ready"}, {"/ready"}}},
      // Liveness on /metrics: /ready follows the store, and a restart would not help.
      {"logq-shipper", {shipper_port, {"/ready"}, {"/metrics", "/ready"}}},
      {"grafana", {3000, {"/api/health"}, {"/api/health"}}},
  };
  int checked = 0;
  for (const auto& w : Workloads(objects())) {
    for (const auto& c : Containers(w.pod_spec)) {
      std::string name = c["name"].as<std::string>("");
      SCOPED_TRACE(w.kind + "/" + w.name + " container " + name);
      auto it = expected.find(name);
      ASSERT_NE(it, expected.end()) << "a container the test does not know: add its probes here";
      for (const char* probe : {"readinessProbe", "livenessProbe", "startupProbe"}) {
        YAML::Node p = c[probe];
        if (!p && std::string(probe) == "startupProbe") continue;
        ASSERT_TRUE(p) << "no " << probe;
        ASSERT_TRUE(p["httpGet"]) << probe << " is not an HTTP check";
        std::string path = p["httpGet"]["path"].as<std::string>("");
        const auto& allowed = std::string(probe) == "livenessProbe" ? it->second.liveness : it->second.readiness;
        EXPECT_TRUE(allowed.count(path)) << probe << " path " << path << " is not an endpoint " << name << " serves for that";
        auto port = ResolveContainerPort(c, p["httpGet"]["port"]);
        ASSERT_TRUE(port.has_value()) << probe << " port " << p["httpGet"]["port"] << " is no container port";
        EXPECT_EQ(*port, it->second.port) << probe << " hits a port " << name << " does not listen on";
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 4);
}

TEST_P(ManifestTest, ShipperRbacIsExactlyGetListWatchOnPods) {
  Workload w = Shipper();
  std::string sa = w.pod_spec["serviceAccountName"].as<std::string>("");
  ASSERT_FALSE(sa.empty()) << "the shipper runs under the default ServiceAccount";
  EXPECT_TRUE(Present(Find(objects(), "ServiceAccount", sa))) << "ServiceAccount " << sa << " is not deployed";
  EXPECT_TRUE(OfKind(objects(), "Role").empty());
  EXPECT_TRUE(OfKind(objects(), "RoleBinding").empty());

  auto bindings = OfKind(objects(), "ClusterRoleBinding");
  ASSERT_EQ(bindings.size(), 1u);
  YAML::Node b = bindings[0];
  ASSERT_EQ(b["subjects"].size(), 1u);
  EXPECT_EQ(b["subjects"][0]["kind"].as<std::string>(""), "ServiceAccount");
  EXPECT_EQ(b["subjects"][0]["name"].as<std::string>(""), sa);
  EXPECT_EQ(b["subjects"][0]["namespace"].as<std::string>(""), w.namespace_)
      << "the binding names the ServiceAccount in another namespace than the DaemonSet's";
  EXPECT_EQ(b["roleRef"]["kind"].as<std::string>(""), "ClusterRole");

  auto roles = OfKind(objects(), "ClusterRole");
  ASSERT_EQ(roles.size(), 1u);
  YAML::Node role = roles[0];
  EXPECT_EQ(b["roleRef"]["name"].as<std::string>(""), role["metadata"]["name"].as<std::string>(""));
  EXPECT_FALSE(role["aggregationRule"]);
  ASSERT_EQ(role["rules"].size(), 1u) << "the shipper may only read pods";
  YAML::Node rule = role["rules"][0];
  auto strings = [](const YAML::Node& seq) {
    std::multiset<std::string> s;
    for (const auto& v : seq) s.insert(v.as<std::string>());
    return s;
  };
  EXPECT_EQ(strings(rule["apiGroups"]), (std::multiset<std::string>{""}));
  EXPECT_EQ(strings(rule["resources"]), (std::multiset<std::string>{"pods"}));
  EXPECT_EQ(strings(rule["verbs"]), (std::multiset<std::string>{"get", "list", "watch"}));
  EXPECT_FALSE(rule["resourceNames"]);
  EXPECT_FALSE(rule["nonResourceURLs"]);

  // Only the shipper talks to the API server.
  for (const auto& other : Workloads(objects())) {
    if (other.name == w.name) continue;
    EXPECT_FALSE(other.pod_spec["automountServiceAccountToken"].as<bool>(true))
        << other.kind << "/" << other.name << " mounts a ServiceAccount token it does not need";
  }
}

TEST_P(ManifestTest, GrafanaDatasourceAndShipperPointAtTheStoreService) {
  std::string url = StoreServiceUrl();
  ASSERT_FALSE(url.empty());

  int datasources = 0, dashboards = 0;
  for (const auto& cm : OfKind(objects(), "ConfigMap")) {
    std::string name = cm["metadata"]["name"].as<std::string>();
    YAML::Node labels = cm["metadata"]["labels"];
    bool is_ds = labels.IsMap() && labels["grafana_datasource"].as<std::string>("") == "1";
    bool is_dash = labels.IsMap() && labels["grafana_dashboard"].as<std::string>("") == "1";
    if (is_ds || is_dash) {
      // A hashed name would leave the old copy behind on `kubectl apply`, and the sidecar
      // would load both (duplicate datasource names make Grafana refuse the provisioning).
      EXPECT_TRUE(name == "logq-grafana-datasource" || name == "logq-grafana-dashboards") << name;
    }
    if (is_ds) {
      ++datasources;
      ASSERT_EQ(cm["data"].size(), 1u);
      YAML::Node file = YAML::Load(cm["data"].begin()->second.as<std::string>());
      ASSERT_EQ(file["datasources"].size(), 1u);
      YAML::Node ds = file["datasources"][0];
      EXPECT_EQ(ds["type"].as<std::string>(""), "loki");
      EXPECT_EQ(ds["access"].as<std::string>("proxy"), "proxy");
      EXPECT_EQ(ds["url"].as<std::string>(""), url) << "the datasource does not point at the store Service";
      EXPECT_EQ(ds["uid"].as<std::string>(""), "logq") << "the dashboard refers to datasource uid logq";
    }
    if (is_dash) {
      ++dashboards;
      EXPECT_GE(cm["data"].size(), 1u);
    }
  }
  EXPECT_EQ(datasources, 1);
  EXPECT_EQ(dashboards, 1);

  YAML::Node clients = ShipperConfig()["clients"];
  ASSERT_GE(clients.size(), 1u);
  for (const auto& client : clients) {
    EXPECT_EQ(client["url"].as<std::string>(""), url + "/loki/api/v1/push");
  }
}

TEST_P(ManifestTest, ImagesArePinned) {
  std::string version = ProjectVersion();
  int ours = 0;
  for (const auto& w : Workloads(objects())) {
    for (const auto& c : Containers(w.pod_spec)) {
      std::string image = c["image"].as<std::string>("");
      SCOPED_TRACE(w.name + ": " + image);
      if (image.find("@sha256:") != std::string::npos) continue;
      size_t slash = image.rfind('/');
      size_t colon = image.rfind(':');
      ASSERT_TRUE(colon != std::string::npos && (slash == std::string::npos || colon > slash)) << "no tag";
      std::string repo = image.substr(0, colon), tag = image.substr(colon + 1);
      EXPECT_FALSE(tag.empty() || tag == "latest" || tag == "main" || tag == "master") << "unpinned tag";
      if (repo.find("logq/logq") != std::string::npos) {
        ++ours;
        EXPECT_EQ(tag, version) << "logq's images carry the release version (CMakeLists.txt)";
      }
    }
  }
  EXPECT_GE(ours, 2);
}

TEST_P(ManifestTest, EveryContainerHasResourceRequestsAndAMemoryLimit) {
  for (const auto& w : Workloads(objects())) {
    for (const auto& c : Containers(w.pod_spec)) {
      SCOPED_TRACE(w.kind + "/" + w.name + " container " + c["name"].as<std::string>(""));
      YAML::Node r = c["resources"];
      EXPECT_FALSE(r["requests"]["cpu"].as<std::string>("").empty()) << "no cpu request";
      EXPECT_FALSE(r["requests"]["memory"].as<std::string>("").empty()) << "no memory request";
      EXPECT_FALSE(r["limits"]["memory"].as<std::string>("").empty()) << "no memory limit";
    }
  }
}

TEST_P(ManifestTest, StoreKeepsItsDataOnItsPersistentVolume) {
  Workload w = Store();
  YAML::Node c = FindContainer(w.pod_spec, "logq-store");
  YAML::Node effective = StoreEffectiveConfig();
  // -print-config shows the effective path in a comment when storage.path is derived.
  std::string path = effective["storage"]["path"].as<std::string>("");
  if (path.empty()) {
    std::string prefix = effective["common"]["path_prefix"].as<std::string>("");
    ASSERT_FALSE(prefix.empty()) << "storage path is the working directory (./logq-data)";
    path = prefix + "/data";
  }
  MountAt at = FindMountContaining(w.pod_spec, c, path);
  ASSERT_TRUE(Present(at.mount)) << "the store's data directory " << path << " is on the container's root file system";
  EXPECT_FALSE(at.mount["readOnly"].as<bool>(false));
  EXPECT_FALSE(Present(at.volume)) << "data volume must come from volumeClaimTemplates, not a pod volume";
  bool claimed = false;
  for (const auto& t : w.object["spec"]["volumeClaimTemplates"]) {
    if (t["metadata"]["name"].as<std::string>("") == at.mount["name"].as<std::string>("")) {
      claimed = true;
      EXPECT_FALSE(t["spec"]["resources"]["requests"]["storage"].as<std::string>("").empty());
    }
  }
  EXPECT_TRUE(claimed) << "no volumeClaimTemplate named " << at.mount["name"];
  EXPECT_EQ(w.object["spec"]["replicas"].as<int>(1), 1) << "replicas would be separate stores on separate disks";
  EXPECT_EQ(w.pod_spec["securityContext"]["runAsNonRoot"].as<bool>(false), true);
  // Without fsGroup the volume's root directory is not writable for the non-root user.
  EXPECT_TRUE(w.pod_spec["securityContext"]["fsGroup"]) << "no fsGroup: the data volume is root-owned";
}

TEST_P(ManifestTest, ShipperRunsWithNoCapabilitiesAndAReadOnlyRootFs) {
  YAML::Node c = FindContainer(Shipper().pod_spec, "logq-shipper");
  YAML::Node sc = c["securityContext"];
  EXPECT_FALSE(sc["privileged"].as<bool>(false));
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>(true));
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>(false));
  bool drops_all = false;
  for (const auto& cap : sc["capabilities"]["drop"]) drops_all |= cap.as<std::string>() == "ALL";
  EXPECT_TRUE(drops_all);
  EXPECT_FALSE(sc["capabilities"]["add"]) << "document why a capability is needed before adding it";
}

std::string TargetName(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param.substr(info.param.rfind('/') + 1);
  for (char& ch : s) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(Kustomize, ManifestTest, ::testing::ValuesIn(KustomizeTargets()), TargetName);

TEST(KustomizeTargetsTest, BaseAndTheDevAndProdOverlaysExist) {
  auto targets = KustomizeTargets();
  for (const char* t : {"deploy/kubernetes/base", "deploy/kubernetes/overlays/dev", "deploy/kubernetes/overlays/prod"}) {
    EXPECT_NE(std::find(targets.begin(), targets.end(), t), targets.end()) << t;
  }
}

TEST(KustomizeTargetsTest, DevIsSmallerThanProd) {
  std::string missing = KubectlMissingReason();
  if (!missing.empty()) GTEST_SKIP() << missing;
  auto storage = [](const std::string& dir) {
    auto w = FindWorkload(Render(dir).objects, "StatefulSet", "logq-store");
    return w ? w->object["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"].as<std::string>("")
             : std::string();
  };
  EXPECT_EQ(storage("deploy/kubernetes/overlays/dev"), "2Gi");
  EXPECT_EQ(storage("deploy/kubernetes/overlays/prod"), "200Gi");
}

}  // namespace
}  // namespace logq::deploy_test
