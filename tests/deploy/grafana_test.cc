// Grafana provisioning (deploy/grafana): the starter dashboard's structure, that the local and
// Kubernetes provisioning agree, and — end to end — that the deployed store and shipper
// configurations carry pod logs into results for every dashboard query: the real logq-store
// and logq-shipper run with the ConfigMaps of each Kustomize target on a temporary
// /var/log/pods tree, and each panel's LogQL (with Grafana's variables substituted) is asked
// of the store.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "tests/deploy/deploy_util.h"
#include "tests/testing/http_client.h"
#include "tests/testing/process.h"
#include "tests/testing/store_process.h"
#include "tests/testing/temp_dir.h"

namespace logq::deploy_test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

json Dashboard() {
  std::string text = ReadFileOrDie(SourcePath("deploy/grafana/dashboards/logq-overview.json"));
  json d = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(d.is_discarded()) << "logq-overview.json is not JSON";
  return d;
}

struct PanelQuery {
  std::string panel;
  std::string type;  // timeseries, stat, logs
  std::string expr;
  bool instant = false;
};

std::vector<PanelQuery> Queries(const json& dash) {
  std::vector<PanelQuery> out;
  for (const auto& p : dash.value("panels", json::array())) {
    for (const auto& t : p.value("targets", json::array())) {
      out.push_back({p.value("title", ""), p.value("type", ""), t.value("expr", ""),
                     t.value("queryType", "range") == "instant"});
    }
  }
  return out;
}

// Grafana's substitution of the dashboard's variables.
std::string Substitute(std::string expr, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars) {
    for (const std::string& form : {"${" + name + "}", "$" + name}) {
      for (size_t pos = expr.find(form); pos != std::string::npos; pos = expr.find(form, pos + value.size())) {
        expr.replace(pos, form.size(), value);
      }
    }
  }
  return expr;
}

TEST(GrafanaDashboardTest, VariablesDriveEveryQueryAndThePanelsCoverVolumeLevelsErrorsAndLogs) {
  json d = Dashboard();
  ASSERT_FALSE(d.is_discarded());
  EXPECT_EQ(d.value("uid", ""), "logq-overview");
  std::map<std::string, json> vars;
  for (const auto& v : d["templating"]["list"]) vars[v.value("name", "")] = v;
  ASSERT_TRUE(vars.count("namespace") && vars.count("app") && vars.count("datasource"));
  EXPECT_EQ(vars["namespace"].value("query", ""), "label_values(namespace)");
  EXPECT_TRUE(std::regex_match(vars["app"].value("query", ""),
                               std::regex(R"(label_values\(\{namespace=~"\$namespace"\}, *app\))")))
      << "app values must follow the chosen namespace: " << vars["app"].value("query", "");
  for (const char* name : {"namespace", "app"}) {
    EXPECT_EQ(vars[name].value("allValue", ""), ".+") << name << ": All must be a regex for =~";
    EXPECT_TRUE(vars[name].value("multi", false));
  }
  // The datasource variable defaults to the provisioned datasource (uid logq).
  EXPECT_EQ(vars["datasource"].value("query", ""), "loki");
  EXPECT_EQ(vars["datasource"]["current"].value("value", ""), "logq");

  std::set<std::string> types;
  auto queries = Queries(d);
  ASSERT_GE(queries.size(), 4u);
  for (const auto& q : queries) {
    types.insert(q.type);
    EXPECT_NE(q.expr.find("namespace=~\"$namespace\""), std::string::npos) << q.panel << ": " << q.expr;
    EXPECT_NE(q.expr.find("app=~\"$app\""), std::string::npos) << q.panel << ": " << q.expr;
  }
  for (const auto& p : d["panels"]) {
    EXPECT_EQ(p["datasource"].value("uid", ""), "${datasource}") << p.value("title", "");
  }
  EXPECT_TRUE(types.count("logs") && types.count("timeseries")) << "a logs panel and time series";
}

TEST(GrafanaProvisioningTest, LocalAndKubernetesProvisioningAgree) {
  YAML::Node local = YAML::LoadFile(SourcePath("deploy/grafana/provisioning/datasources/logq.yaml"));
  YAML::Node k8s = YAML::LoadFile(SourcePath("deploy/grafana/kubernetes/datasource.yaml"));
  for (const YAML::Node& f : {local, k8s}) {
    ASSERT_EQ(f["datasources"].size(), 1u);
    EXPECT_EQ(f["datasources"][0]["type"].as<std::string>(""), "loki");
    EXPECT_EQ(f["datasources"][0]["uid"].as<std::string>(""), "logq");
  }
  EXPECT_EQ(local["datasources"][0]["url"].as<std::string>(""), "${LOGQ_URL}");

  // One dashboard provider, the same for docker compose and the bundled Grafana, reading the
  // directory both mount the dashboards into.
  YAML::Node provider = YAML::LoadFile(SourcePath("deploy/grafana/provisioning/dashboards/logq.yaml"));
  YAML::Node bundled = YAML::LoadFile(SourcePath("deploy/kubernetes/grafana/dashboard-provider.yaml"));
  EXPECT_EQ(YAML::Dump(provider), YAML::Dump(bundled));
  std::string dir = provider["providers"][0]["options"]["path"].as<std::string>("");
  ASSERT_FALSE(dir.empty());

  YAML::Node compose = YAML::LoadFile(SourcePath("deploy/grafana/docker-compose.yaml"));
  YAML::Node grafana = compose["services"]["grafana"];
  std::set<std::string> mounts;
  for (const auto& v : grafana["volumes"]) mounts.insert(v.as<std::string>());
  EXPECT_TRUE(mounts.count("./dashboards:" + dir + ":ro")) << "compose does not mount the dashboards at " << dir;
  EXPECT_TRUE(mounts.count("./provisioning:/etc/grafana/provisioning:ro"));
  EXPECT_EQ(grafana["environment"]["LOGQ_URL"].as<std::string>(""), "${LOGQ_URL:-http://logq-store:3100}");
  for (const auto& [name, svc] : std::map<std::string, YAML::Node>{{"grafana", grafana}, {"logq-store", compose["services"]["logq-store"]}}) {
    std::string image = svc["image"].as<std::string>("");
    EXPECT_TRUE(image.find(':') != std::string::npos && image.substr(image.rfind(':')) != ":latest") << name << " " << image;
  }
  EXPECT_EQ(compose["services"]["logq-store"]["image"].as<std::string>(""), "logq/logq-store:" + ProjectVersion());

  std::string missing = KubectlMissingReason();
  if (!missing.empty()) GTEST_SKIP() << missing;
  auto w = FindWorkload(Render("deploy/kubernetes/overlays/dev").objects, "Deployment", "grafana");
  ASSERT_TRUE(w.has_value()) << "the dev overlay has no Grafana";
  YAML::Node c = FindContainer(w->pod_spec, "grafana");
  MountAt at = FindMountContaining(w->pod_spec, c, dir + "/logq-overview.json");
  ASSERT_TRUE(Present(at.mount) && Present(at.volume)) << "the bundled Grafana does not mount the dashboards at " << dir;
  EXPECT_EQ(at.volume["configMap"]["name"].as<std::string>(""), "logq-grafana-dashboards");
  EXPECT_EQ(c["image"].as<std::string>(""), grafana["image"].as<std::string>("")) << "one Grafana version";
}

// ---- end to end: deployed configs → shipper → store → every dashboard query --------------

std::string Rfc3339Nano(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%09lldZ", buf, static_cast<long long>(ns % 1'000'000'000));
  return out;
}

// A /var/log/pods tree with two pods: 8 lines, 2 of them errors; levels info 5, error 2, warn 1.
void WritePodLogs(const std::string& root, std::chrono::system_clock::time_point now) {
  struct File {
    std::string dir;
    std::vector<std::pair<std::string, std::string>> lines;  // stream, message
  };
  std::vector<File> files = {
      {"shop_checkout-7d9f8b6c4-x2v9q_6f1c2a3e-1b2c-4d5e-8f90-0a1b2c3d4e5f/checkout",
       {{"stdout", R"({"level":"info","msg":"order placed","order_id":"A-1"})"},
        {"stdout", R"({"level":"info","msg":"payment authorized","order_id":"A-1"})"},
        {"stderr", R"({"level":"error","msg":"inventory timeout","order_id":"A-2"})"},
        {"stdout", R"({"level":"warn","msg":"slow request","path":"/api/cart"})"},
        {"stdout", R"({"level":"info","msg":"order placed","order_id":"A-3"})"}}},
      {"kube-system_coredns-787d4945fb-l9k2m_9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d/coredns",
       {{"stdout", R"([INFO] 10.244.0.5:53211 - 4312 "A IN checkout.shop.svc.cluster.local. udp 50")"},
        {"stdout", R"([ERROR] plugin/forward: no upstream host)"},
        {"stdout", R"([INFO] plugin/reload: Running configuration SHA512)"}}},
  };
  int i = 0;
  for (const auto& f : files) {
    fs::create_directories(root + "/" + f.dir);
    std::ofstream out(root + "/" + f.dir + "/0.log");
    for (const auto& [stream, msg] : f.lines) {
      out << Rfc3339Nano(now - std::chrono::seconds(120) + std::chrono::seconds(++i)) << " " << stream << " F " << msg
          << "\n";
    }
  }
}

uint16_t ListeningPort(const testing::Process& p) {
  static const std::regex re(R"(listening on 127\.0\.0\.1:([0-9]+))");
  std::smatch m;
  std::string log = p.ReadLog();
  return std::regex_search(log, m, re) ? static_cast<uint16_t>(std::stoi(m[1].str())) : 0;
}

class DeployedPipelineTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DeployedPipelineTest, PodLogsReachEveryDashboardQuery) {
  std::string missing = KubectlMissingReason();
  if (!missing.empty()) GTEST_SKIP() << missing;
  std::string shipper_bin = ShipperBinary();
  if (shipper_bin.empty()) GTEST_SKIP() << "logq-shipper is not built in this tree: the pipeline was not run";
  const Rendering& r = Render(GetParam());
  ASSERT_EQ(r.command.exit_code, 0) << r.command.Describe();

  // The store with the deployed config and flags (only address, port and data path changed).
  auto store_w = FindWorkload(r.objects, "StatefulSet", "logq-store");
  ASSERT_TRUE(store_w.has_value());
  YAML::Node store_c = FindContainer(store_w->pod_spec, "logq-store");
  testing::StoreOptions so;
  so.config_yaml = ConfigMapFileAt(r.objects, store_w->pod_spec, store_c, *FlagValue(store_c, "config.file")).value_or("");
  ASSERT_FALSE(so.config_yaml.empty());
  for (const auto& a : store_c["args"]) {
    if (a.as<std::string>().find("config.file=") == std::string::npos) so.flags.push_back(a.as<std::string>());
  }
  auto store = testing::StoreProcess::Start(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  // The shipper with the deployed config; pods root, positions, port and push URL redirected
  // into the test. Not in a cluster: labels come from the log paths.
  auto ship_w = FindWorkload(r.objects, "DaemonSet", "logq-shipper");
  ASSERT_TRUE(ship_w.has_value());
  YAML::Node ship_c = FindContainer(ship_w->pod_spec, "logq-shipper");
  testing::TempDir dir;
  auto now = std::chrono::system_clock::now();
  WritePodLogs(dir.path() + "/pods", now);
  // The push URL is redirected in the file: `-client.url` would add a second client, as in
  // Promtail, and the in-cluster one would never be reached.
  YAML::Node ship_config = YAML::Load(
      ConfigMapFileAt(r.objects, ship_w->pod_spec, ship_c, *FlagValue(ship_c, "config.file")).value_or(""));
  ASSERT_TRUE(ship_config["clients"].IsSequence() && ship_config["clients"].size() > 0);
  for (auto c : ship_config["clients"]) c["url"] = (*store)->base_url() + "/loki/api/v1/push";
  YAML::Emitter emitted;
  emitted << ship_config;
  TempFile config("shipper.yaml", emitted.c_str());
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  auto shipper = testing::Process::Start(
      shipper_bin,
      {"-config.file=" + config.path(), "-shipper.pods-root=" + dir.path() + "/pods",
       "-positions.file=" + dir.path() + "/positions.yaml", "-server.http-listen-address=127.0.0.1",
       "-server.http-listen-port=0", "-shipper.node-name=test-node"},
      dir.path() + "/shipper.log");
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();

  // The shipper's probe endpoints answer (readiness /ready, liveness /metrics).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint16_t shipper_port = 0;
  while (!(shipper_port = ListeningPort(**shipper)) && std::chrono::steady_clock::now() < deadline &&
         (*shipper)->Running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_NE(shipper_port, 0) << "shipper did not start: " << (*shipper)->ReadLog();
  testing::TestHttpClient shipper_http("http://127.0.0.1:" + std::to_string(shipper_port));
  EXPECT_EQ(shipper_http.Get("/metrics").status, 200);

  // All 8 lines arrive.
  testing::TestHttpClient http((*store)->base_url());
  auto s = [](auto tp) { return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count()); };
  std::string start = s(now - std::chrono::minutes(10)), end = s(now + std::chrono::minutes(1));
  auto range = [&](const std::string& q) {
    auto reply = http.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                                 {{"query", q}, {"start", start}, {"end", end}, {"step", "60"}, {"limit", "1000"}}));
    json j = json::parse(reply.body, nullptr, false);
    EXPECT_EQ(reply.status, 200) << q << ": " << reply.Describe();
    return j;
  };
  auto count_lines = [&]() {
    json j = range(R"({namespace=~".+"})");
    size_t n = 0;
    if (!j.is_discarded()) {
      for (const auto& st : j["data"]["result"]) n += st["values"].size();
    }
    return n;
  };
  size_t lines = 0;
  while ((lines = count_lines()) < 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(lines, 8u) << "shipper log:\n" << (*shipper)->ReadLog();
  EXPECT_EQ(shipper_http.Get("/ready").status, 200) << "shipper not ready while shipping";

  // Grafana's variable queries.
  auto values = [&](const std::string& path) {
    json j = json::parse(http.Get(path).body, nullptr, false);
    std::set<std::string> out;
    if (!j.is_discarded()) {
      for (const auto& v : j["data"]) out.insert(v.get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(values(testing::PathWithQuery("/loki/api/v1/label/namespace/values", {{"start", start}, {"end", end}})),
            (std::set<std::string>{"kube-system", "shop"}));
  std::set<std::string> apps = values(testing::PathWithQuery(
      "/loki/api/v1/label/app/values", {{"query", R"({namespace=~"shop"})"}, {"start", start}, {"end", end}}));
  EXPECT_EQ(apps, (std::set<std::string>{"checkout-7d9f8b6c4-x2v9q"})) << "app falls back to the pod name";

  // Every panel query, with "All" selected.
  std::map<std::string, std::string> vars = {{"namespace", ".+"}, {"app", ".+"}, {"search", ""},
                                             {"__interval", "1m"}, {"__range", "11m"}};
  auto sum_by = [](const json& j, const std::string& label) {
    std::map<std::string, double> out;
    for (const auto& series : j["data"]["result"]) {
      std::string key = series["metric"].value(label, "");
      for (const auto& v : series["values"]) out[key] += std::stod(v[1].get<std::string>());
    }
    return out;
  };
  int checked = 0;
  for (const auto& q : Queries(Dashboard())) {
    std::string expr = Substitute(q.expr, vars);
    SCOPED_TRACE(q.panel + ": " + expr);
    ASSERT_EQ(expr.find('$'), std::string::npos) << "a variable the test does not substitute";
    if (q.instant) {
      auto reply = http.Get(testing::PathWithQuery("/loki/api/v1/query", {{"query", expr}, {"time", end}}));
      ASSERT_EQ(reply.status, 200) << reply.Describe();
      json j = json::parse(reply.body, nullptr, false);
      ASSERT_EQ(j["data"]["result"].size(), 1u) << reply.body;
      EXPECT_DOUBLE_EQ(std::stod(j["data"]["result"][0]["value"][1].get<std::string>()), 0.25) << "2 of 8 lines are errors";
      ++checked;
      continue;
    }
    json j = range(expr);
    ASSERT_FALSE(j.is_discarded());
    if (q.type == "logs") {
      size_t n = 0;
      for (const auto& st : j["data"]["result"]) n += st["values"].size();
      EXPECT_EQ(n, 8u);
    } else if (expr.find("by (namespace)") != std::string::npos) {
      EXPECT_EQ(sum_by(j, "namespace"), (std::map<std::string, double>{{"kube-system", 3}, {"shop", 5}}));
    } else if (expr.find("by (level)") != std::string::npos) {
      EXPECT_EQ(sum_by(j, "level"), (std::map<std::string, double>{{"error", 2}, {"info", 5}, {"warn", 1}}));
    } else if (expr.find("rate(") != std::string::npos) {
      auto per_ns = sum_by(j, "namespace");
      EXPECT_EQ(per_ns.size(), 2u) << "an error in each namespace: " << j.dump();
    } else {
      ADD_FAILURE() << "a panel the test does not know: add its expectation here";
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(Queries(Dashboard()).size()));

  auto exit_code = (*shipper)->Terminate();
  ASSERT_TRUE(exit_code.ok());
  EXPECT_EQ(*exit_code, 0) << (*shipper)->ReadLog();
}

INSTANTIATE_TEST_SUITE_P(Kustomize, DeployedPipelineTest, ::testing::ValuesIn(KustomizeTargets()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(info.param.rfind('/') + 1);
                         });

}  // namespace
}  // namespace logq::deploy_test
