// logq-shipper with kubernetes_sd_configs end to end: the real shipper reads pod metadata
// from a fake Kubernetes API server (recorded pod JSON from testdata/kube), applies the
// promtail helm chart's `kubernetes-pods` relabel_configs and pushes to the real logq-store;
// the stored streams must carry the relabeled labels (app, instance, job, ...). A pod deleted
// from the API keeps its metadata while its files are still read, and loses it only once its
// directory is gone and drained.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "query/base/units.h"
#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/fake_kube_api.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

using logq::testing::FakeApiServer;

constexpr const char* kWebPodDir = "shop_web-7d4b9c6f5d-x2x9k_3f1c2a9e-8b7d-4e2f-9a31-5c6d7e8f9a0b";
constexpr const char* kAgentPodDir = "logging_fluent-agent-q8vzn_c4d5e6f7-0819-4a2b-9c3d-4e5f60718293";

// The `kubernetes-pods` job of grafana/helm-charts' promtail chart (default scrapeConfigs
// plus the `common` snippet), as in tests/shipper/relabel/relabel_test.cc.
constexpr const char* kHelmRelabelConfigs = R"(    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_controller_name]
        regex: ([0-9a-z-.]+?)(-[0-9a-f]{8,10})?
        action: replace
        target_label: __tmp_controller_name
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name, __meta_kubernetes_pod_label_app, __tmp_controller_name, __meta_kubernetes_pod_name]
        regex: ^;*([^;]+)(;.*)?$
        action: replace
        target_label: app
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance, __meta_kubernetes_pod_label_instance]
        regex: ^;*([^;]+)(;.*)?$
        action: replace
        target_label: instance
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component, __meta_kubernetes_pod_label_component]
        regex: ^;*([^;]+)(;.*)?$
        action: replace
        target_label: component
      - action: replace
        source_labels: [__meta_kubernetes_pod_node_name]
        target_label: node_name
      - action: replace
        source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - action: replace
        replacement: $1
        separator: /
        source_labels: [namespace, app]
        target_label: job
      - action: replace
        source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - action: replace
        source_labels: [__meta_kubernetes_pod_container_name]
        target_label: container
      - action: replace
        replacement: /var/log/pods/*$1/*.log
        separator: /
        source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
        target_label: __path__
      - action: replace
        replacement: /var/log/pods/*$1/*.log
        regex: true/(.*)
        separator: /
        source_labels: [__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash, __meta_kubernetes_pod_annotation_kubernetes_io_config_hash, __meta_kubernetes_pod_container_name]
        target_label: __path__
)";

std::string ReadTestData(const std::string& name) {
  std::ifstream f(testing::TestDataPath("kube/" + name));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

void AppendCri(const std::string& path, const std::string& msg) {
  std::ofstream(path, std::ios::app) << FormatRFC3339Nano(NowNs()) << " stdout F " << msg << "\n";
}

// The label sets of the streams holding `line` (one query over the whole namespace).
std::vector<std::string> StreamsWithLine(TestHttpClient& c, const std::string& ns, const std::string& line) {
  QueryResult q = QueryRange(c, "{namespace=\"" + ns + "\"} |= \"" + line + "\"", NowNs() - kMinute * 10,
                             NowNs() + kMinute, 100, "forward");
  std::vector<std::string> out;
  for (const auto& [labels, entries] : q.streams) {
    for (const auto& e : entries) {
      if (e.second == line) out.push_back(labels);
    }
  }
  return out;
}

std::string WaitForStream(TestHttpClient& c, const std::string& ns, const std::string& line,
                          ShipperProcess& shipper) {
  std::vector<std::string> got;
  bool ok = PollUntil([&] {
    got = StreamsWithLine(c, ns, line);
    return !got.empty();
  }, std::chrono::seconds(30));
  EXPECT_TRUE(ok) << "line \"" << line << "\" never reached the store; shipper log:\n" << shipper.AllLogs();
  EXPECT_LE(got.size(), 1u);
  return got.empty() ? "" : got[0];
}

TEST(ShipperKubeTest, PodMetadataFromTheApiBecomesStreamLabelsAndOutlivesThePodUntilDrained) {
  testing::TempDir tmp;
  FakeApiServer api;
  FakeApiServer::Reply list;
  list.lines = {ReadTestData("pod_list.json")};
  api.SetList(list);
  FakeApiServer::Reply watch;
  watch.hold_open = true;
  api.PushWatch(watch);
  std::ofstream(tmp.path() + "/token") << "test-token\n";

  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::string web = pods + "/" + kWebPodDir + "/nginx";
  std::string agent = pods + "/" + kAgentPodDir + "/agent";
  std::filesystem::create_directories(web);
  std::filesystem::create_directories(agent);
  AppendCri(web + "/0.log", "web line 1");
  AppendCri(agent + "/0.log", "agent line 1");

  ShipperProcess shipper(tmp.path(),
      "positions:\n  filename: " + tmp.path() + "/positions.yaml\n  sync_period: 200ms\n"
      "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n"
      "    batchwait: 100ms\n"
      "scrape_configs:\n  - job_name: kubernetes-pods\n"
      "    kubernetes_sd_configs:\n      - role: pod\n        api_server: " + api.url() + "\n"
      "        bearer_token_file: " + tmp.path() + "/token\n" + kHelmRelabelConfigs +
      "shipper:\n  pods_root: " + pods + "\n  node_name: node-1\n");
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());

  // Pod labels → stream labels through the helm chart's rules.
  std::string fn_web = web + "/0.log";
  EXPECT_EQ(WaitForStream(c, "shop", "web line 1", shipper),
            "{app=\"web\", container=\"nginx\", filename=\"" + fn_web +
                "\", instance=\"web-prod\", job=\"shop/web\", namespace=\"shop\", node_name=\"node-1\", "
                "pod=\"web-7d4b9c6f5d-x2x9k\", stream=\"stdout\"}");
  std::string fn_agent = agent + "/0.log";
  std::string agent_labels = "{app=\"fluent-agent\", container=\"agent\", filename=\"" + fn_agent +
                             "\", job=\"logging/fluent-agent\", namespace=\"logging\", node_name=\"node-1\", "
                             "pod=\"fluent-agent-q8vzn\", stream=\"stdout\"}";
  EXPECT_EQ(WaitForStream(c, "logging", "agent line 1", shipper), agent_labels);
  auto reqs = api.Requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_NE(reqs[0].find("fieldSelector=spec.nodeName%3Dnode-1"), std::string::npos) << reqs[0];
  EXPECT_EQ(api.LastAuthorization(), "Bearer test-token");

  // The agent pod is deleted from the API (DELETED, then a bookmark; the watch ends and the
  // shipper re-watches from the bookmark, so it has applied both events).
  auto events = Lines(ReadTestData("watch_events.jsonl"));
  ASSERT_EQ(events.size(), 4u);
  ASSERT_NE(events[2].find("\"DELETED\""), std::string::npos);
  ASSERT_TRUE(PollUntil([&] { return api.LiveWatchers() == 1; }, std::chrono::seconds(10)));
  api.Live(events[2]);
  api.Live(events[3]);
  api.EndLive();
  ASSERT_TRUE(PollUntil([&] {
    for (const auto& r : api.Requests()) {
      if (r.find("resourceVersion=184600") != std::string::npos) return true;
    }
    return false;
  }, std::chrono::seconds(10))) << "no re-watch from the bookmark";

  // Its directory is still there (files being drained, a restarted container's new file):
  // the tombstoned metadata still labels them.
  AppendCri(agent + "/0.log", "agent line 2");
  AppendCri(agent + "/1.log", "agent restarted line 1");
  EXPECT_EQ(WaitForStream(c, "logging", "agent line 2", shipper), agent_labels);
  std::string restarted = agent_labels;
  restarted.replace(restarted.find("/0.log"), 6, "/1.log");
  EXPECT_EQ(WaitForStream(c, "logging", "agent restarted line 1", shipper), restarted);

  // kubelet removes the pod directory: once its files are drained and acknowledged the
  // metadata is released. A directory that reappears with the same uid no longer finds it
  // (after the 10 s wait for metadata it is tailed with the labels of its path only: the
  // helm rules then fall back to the pod name for `app`).
  std::filesystem::remove_all(pods + "/" + kAgentPodDir);
  ASSERT_TRUE(PollUntil([&] {
    return MetricValue(shipper.Metrics(), "logq_shipper_tracked_files") == 1;  // web's 0.log only
  }, std::chrono::seconds(20))) << shipper.Metrics();
  std::filesystem::create_directories(agent);
  AppendCri(agent + "/0.log", "agent after release");
  EXPECT_EQ(WaitForStream(c, "logging", "agent after release", shipper),
            "{app=\"fluent-agent-q8vzn\", container=\"agent\", filename=\"" + fn_agent +
                "\", job=\"logging/fluent-agent-q8vzn\", namespace=\"logging\", node_name=\"node-1\", "
                "pod=\"fluent-agent-q8vzn\", stream=\"stdout\"}");
  EXPECT_NE(shipper.Log().find("no pod metadata for"), std::string::npos) << shipper.Log();

  // The live pod is untouched, and the shipper is healthy.
  AppendCri(web + "/0.log", "web line 2");
  EXPECT_NE(WaitForStream(c, "shop", "web line 2", shipper).find("app=\"web\""), std::string::npos);
  EXPECT_EQ(shipper.ReadyStatus(), 200);
  auto code = shipper.Terminate();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << shipper.Log();
}

}  // namespace
}  // namespace logq::e2e
