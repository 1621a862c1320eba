#include "shipper/kube/pod_metadata.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/fake_kube_api.h"
#include "tests/testing/temp_dir.h"

namespace logq::shipper {
namespace {

std::string ReadTestData(const std::string& name) {
  std::ifstream f(logq::testing::TestDataPath("kube/" + name));
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
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

using logq::testing::FakeApiServer;

constexpr const char* kWebUid = "3f1c2a9e-8b7d-4e2f-9a31-5c6d7e8f9a0b";
constexpr const char* kEtcdUid = "9b0e6c2d-5f1a-4c1a-8d1e-1234567890ab";
constexpr const char* kAgentUid = "c4d5e6f7-0819-4a2b-9c3d-4e5f60718293";
constexpr const char* kApiUid = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";

// Polls `cond` until true or 10 s pass.
bool Eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class PodMetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = dir_.path() + "/token";
    std::ofstream(token_file_) << "eyJhbGciOiJSUzI1NiJ9.test-token\n";
  }
  std::unique_ptr<PodMetadata> Start() {
    KubeClientConfig cfg;
    cfg.api_server = server_.url();
    cfg.token_file = token_file_;
    cfg.node_name = "node-1";
    auto r = PodMetadata::Start(cfg, *SystemClock::Default());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  static FakeApiServer::Reply Body(int code, std::string body) {
    FakeApiServer::Reply r;
    r.code = code;
    r.lines = {std::move(body)};
    return r;
  }

  logq::testing::TempDir dir_;
  std::string token_file_;
  FakeApiServer server_;
};

TEST_F(PodMetadataTest, ListGivesPrometheusPodLabels) {
  server_.SetList(Body(200, ReadTestData("pod_list.json")));
  auto md = Start();
  ASSERT_TRUE(Eventually([&] { return md->Healthy(); }));
  auto web = md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", kWebUid, "nginx");
  ASSERT_TRUE(web.has_value());
  auto& l = *web;
  EXPECT_EQ(l["__meta_kubernetes_namespace"], "shop");
  EXPECT_EQ(l["__meta_kubernetes_pod_name"], "web-7d4b9c6f5d-x2x9k");
  EXPECT_EQ(l["__meta_kubernetes_pod_uid"], kWebUid);
  EXPECT_EQ(l["__meta_kubernetes_pod_node_name"], "node-1");
  EXPECT_EQ(l["__meta_kubernetes_pod_ip"], "10.244.1.23");
  EXPECT_EQ(l["__meta_kubernetes_pod_host_ip"], "10.0.3.17");
  EXPECT_EQ(l["__meta_kubernetes_pod_phase"], "Running");
  EXPECT_EQ(l["__meta_kubernetes_pod_ready"], "true");
  EXPECT_EQ(l["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "web");
  EXPECT_EQ(l["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"], "true");
  EXPECT_EQ(l["__meta_kubernetes_pod_label_pod_template_hash"], "7d4b9c6f5d");
  EXPECT_EQ(l["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "true");
  EXPECT_EQ(l["__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt"], "true");
  EXPECT_EQ(l["__meta_kubernetes_pod_controller_kind"], "ReplicaSet");
  EXPECT_EQ(l["__meta_kubernetes_pod_controller_name"], "web-7d4b9c6f5d");
  EXPECT_EQ(l["__meta_kubernetes_pod_container_name"], "nginx");
  EXPECT_EQ(l["__meta_kubernetes_pod_container_image"], "nginx:1.25.4");
  EXPECT_EQ(l["__meta_kubernetes_pod_container_id"],
            "containerd://b7f3c2a1d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2");
  EXPECT_EQ(l["__meta_kubernetes_pod_container_init"], "false");

  // Static pod: the config hash annotation the helm chart's __path__ rule uses.
  auto etcd = md->Lookup("kube-system", "etcd-node-1", "", "etcd");
  ASSERT_TRUE(etcd.has_value());
  EXPECT_EQ((*etcd)["__meta_kubernetes_pod_annotation_kubernetes_io_config_hash"], "5a1b0c3d9e8f7a6b5c4d3e2f1a0b9c8d");
  EXPECT_EQ((*etcd)["__meta_kubernetes_pod_controller_kind"], "Node");
  EXPECT_EQ((*etcd)["__meta_kubernetes_pod_uid"], kEtcdUid);

  // Init container of a pending DaemonSet pod; pod not ready.
  auto agent = md->Lookup("logging", "fluent-agent-q8vzn", kAgentUid, "init-config");
  ASSERT_TRUE(agent.has_value());
  EXPECT_EQ((*agent)["__meta_kubernetes_pod_container_init"], "true");
  EXPECT_EQ((*agent)["__meta_kubernetes_pod_ready"], "false");
  EXPECT_EQ((*agent)["__meta_kubernetes_pod_controller_kind"], "DaemonSet");
  // No container given: pod labels only.
  auto pod_only = md->Lookup("logging", "fluent-agent-q8vzn", "", "");
  ASSERT_TRUE(pod_only.has_value());
  EXPECT_EQ(pod_only->count("__meta_kubernetes_pod_container_name"), 0u);

  EXPECT_FALSE(md->Lookup("shop", "nope", "", "c").has_value());
  EXPECT_FALSE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", "other-uid", "nginx").has_value());

  auto reqs = server_.Requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0], "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1");
  EXPECT_EQ(server_.LastAuthorization(), "Bearer eyJhbGciOiJSUzI1NiJ9.test-token");
}

TEST_F(PodMetadataTest, WatchAppliesEventsAndKeepsDeletedPodsUntilReleased) {
  server_.SetList(Body(200, ReadTestData("pod_list.json")));
  FakeApiServer::Reply first;
  first.hold_open = true;
  server_.PushWatch(first);
  auto md = Start();
  ASSERT_TRUE(Eventually([&] { return server_.LiveWatchers() == 1; }));
  auto reqs = server_.Requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_NE(reqs[1].find("watch=1"), std::string::npos) << reqs[1];
  EXPECT_NE(reqs[1].find("resourceVersion=184523"), std::string::npos) << reqs[1];

  auto events = Lines(ReadTestData("watch_events.jsonl"));
  ASSERT_EQ(events.size(), 4u);
  server_.Live(events[0]);  // ADDED api pod
  ASSERT_TRUE(Eventually([&] { return md->Lookup("shop", "api-5f6d7c8b9-k7m2p", kApiUid, "api").has_value(); }));
  EXPECT_EQ((*md->Lookup("shop", "api-5f6d7c8b9-k7m2p", "", "api"))["__meta_kubernetes_pod_label_app"], "api");
  server_.Live(events[1]);  // MODIFIED web: tier=edge
  ASSERT_TRUE(Eventually([&] {
    auto l = md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", kWebUid, "nginx");
    return l && (*l)["__meta_kubernetes_pod_label_tier"] == "edge";
  }));
  server_.Live(events[2]);  // DELETED agent
  server_.Live(events[3]);  // BOOKMARK
  // The deleted pod stays known (its files may still be draining) until Release.
  server_.EndLive();
  ASSERT_TRUE(Eventually([&] {
    for (const auto& r : server_.Requests()) {
      if (r.find("resourceVersion=184600") != std::string::npos) return true;
    }
    return false;
  })) << "the next watch resumes from the bookmark";
  EXPECT_TRUE(md->Lookup("logging", "fluent-agent-q8vzn", kAgentUid, "agent").has_value());
  md->Release(kAgentUid);
  EXPECT_FALSE(md->Lookup("logging", "fluent-agent-q8vzn", kAgentUid, "agent").has_value());
  // Releasing a live pod keeps it.
  md->Release(kWebUid);
  EXPECT_TRUE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", kWebUid, "nginx").has_value());
  EXPECT_TRUE(md->Healthy());
}

TEST_F(PodMetadataTest, GoneRelistsAndTombstonesPodsThatDisappeared) {
  server_.SetList(Body(200, ReadTestData("pod_list.json")));
  FakeApiServer::Reply live;
  live.hold_open = true;
  server_.PushWatch(live);
  auto md = Start();
  ASSERT_TRUE(Eventually([&] { return server_.LiveWatchers() == 1; }));
  // From now on the list has lost the web pod and gained the api pod; the watch reports
  // that its resourceVersion expired (an ERROR event with code 410), and the next watch
  // gets an HTTP 410.
  server_.SetList(Body(200, ReadTestData("pod_list_relist.json")));
  server_.PushWatch(Body(410, ReadTestData("status_gone.json")));
  server_.Live(Lines(ReadTestData("watch_expired.jsonl"))[0]);
  ASSERT_TRUE(Eventually([&] {
    int lists = 0;
    for (const auto& r : server_.Requests()) lists += r.find("watch=1") == std::string::npos;
    return lists >= 3;  // first list, relist after the ERROR event, relist after HTTP 410
  }));
  ASSERT_TRUE(Eventually([&] { return md->Lookup("shop", "api-5f6d7c8b9-k7m2p", kApiUid, "").has_value(); }));
  // Web vanished from the list: a tombstone, released when its files are drained.
  EXPECT_TRUE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", kWebUid, "nginx").has_value());
  md->Release(kWebUid);
  EXPECT_FALSE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", kWebUid, "nginx").has_value());
  ASSERT_TRUE(Eventually([&] {
    for (const auto& r : server_.Requests()) {
      if (r.find("resourceVersion=190001") != std::string::npos) return true;
    }
    return false;
  }));
  EXPECT_TRUE(md->Healthy());
}

TEST_F(PodMetadataTest, ErrorsBackOffAndRecover) {
  server_.SetList(Body(500, R"({"kind":"Status","status":"Failure","message":"etcdserver: request timed out","code":500})"));
  auto md = Start();
  ASSERT_TRUE(Eventually([&] { return server_.Requests().size() >= 2; })) << "retried after the error";
  EXPECT_FALSE(md->Healthy());
  EXPECT_FALSE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", "", "").has_value());
  server_.SetList(Body(200, ReadTestData("pod_list.json")));
  ASSERT_TRUE(Eventually([&] { return md->Healthy(); }));
  EXPECT_TRUE(md->Lookup("shop", "web-7d4b9c6f5d-x2x9k", "", "").has_value());
}

TEST_F(PodMetadataTest, MalformedListIsAnErrorNotACrash) {
  server_.SetList(Body(200, R"({"kind":"PodList","items":[)"));
  auto md = Start();
  ASSERT_TRUE(Eventually([&] { return server_.Requests().size() >= 2; }));
  EXPECT_FALSE(md->Healthy());
}

TEST_F(PodMetadataTest, StopsPromptlyWhileWatching) {
  server_.SetList(Body(200, ReadTestData("pod_list.json")));
  auto md = Start();  // no watch scripted: the watch hangs open
  ASSERT_TRUE(Eventually([&] { return server_.Requests().size() >= 2; }));
  auto t0 = std::chrono::steady_clock::now();
  md.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(PodMetadataTest, StartValidatesConfig) {
  KubeClientConfig cfg;
  cfg.node_name = "n";
  EXPECT_FALSE(PodMetadata::Start(cfg, *SystemClock::Default()).ok());
  cfg.api_server = "10.0.0.1:443";
  auto r = PodMetadata::Start(cfg, *SystemClock::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("must start with http:// or https://"), std::string::npos);
}

TEST(InClusterConfigTest, NeedsTheServiceEnvironment) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  if (host != nullptr) GTEST_SKIP() << "running inside a cluster";
  auto r = InClusterConfig("node-1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto r2 = InClusterConfig("node-1");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  if (r2.ok()) {
    EXPECT_EQ(r2->api_server, "https://10.96.0.1:443");
    EXPECT_EQ(r2->ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  } else {
    EXPECT_NE(r2.status().message().find("/var/run/secrets/kubernetes.io/serviceaccount/token"), std::string::npos);
  }
}

}  // namespace
}  // namespace logq::shipper
