#include "shipper/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace logq::shipper {
namespace {

TEST(ShipperConfigTest, DefaultsAndPromtailKeys) {
  auto c = ParseShipperConfig(R"(
server:
  http_listen_port: 9081
  grpc_listen_port: 0
positions:
  filename: /tmp/p.yaml
clients:
  - url: http://loki:3100/loki/api/v1/push
    tenant_id: t1
    batchwait: 2s
    batchsize: 512KiB
    backoff_config: {min_period: 100ms, max_period: 10s, max_retries: 0}
    external_labels: {cluster: c1}
    basic_auth: {username: u, password: p}
    tls_config: {insecure_skip_verify: true}
scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs: [{role: pod}]
    static_configs: [{targets: [localhost], labels: {job: pods}}]
)", "test.yaml", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.http_listen_port, 9081);
  EXPECT_EQ(c->positions.sync_period_ns, 1'000'000'000);
  ASSERT_EQ(c->clients.size(), 1u);
  EXPECT_EQ(c->clients[0].batch_wait_ns, 2'000'000'000);
  EXPECT_EQ(c->clients[0].batch_size_bytes, 512u << 10);
  EXPECT_EQ(c->clients[0].backoff.min_period_ns, 100'000'000);
  EXPECT_EQ(c->clients[0].external_labels.at("cluster"), "c1");
  EXPECT_TRUE(c->clients[0].tls.insecure_skip_verify);
  ASSERT_EQ(c->scrape_configs.size(), 1u);
  EXPECT_TRUE(c->scrape_configs[0].kubernetes_sd);
  EXPECT_EQ(c->scrape_configs[0].static_configs[0].labels.at("job"), "pods");
  EXPECT_EQ(c->tail.pods_root, "/var/log/pods");
  EXPECT_TRUE(ValidateShipperConfig(*c).ok());
}

TEST(ShipperConfigTest, UnknownKeysAreErrorsNamingTheKey) {
  auto c = ParseShipperConfig("clients:\n  - url: http://x\n    bachwait: 1s\n", "cfg.yaml", false);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("clients[0].bachwait"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("cfg.yaml:3"), std::string::npos) << c.status().message();
  auto d = ParseShipperConfig("positions:\n  sync_period: soon\n", "cfg.yaml", false);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("positions.sync_period"), std::string::npos);
  auto e = ParseShipperConfig("scrape_configs:\n  - job_name: j\n    syslog: {}\n", "cfg.yaml", false);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("scrape_configs[0].syslog"), std::string::npos);
  auto f = ParseShipperConfig("scrape_configs:\n  - kubernetes_sd_configs: [{role: node}]\n", "cfg.yaml", false);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("role"), std::string::npos);
}

TEST(ShipperConfigTest, FlagsOverrideAndValidation) {
  auto c = ParseShipperConfig("", "x", false);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(ValidateShipperConfig(*c).ok());  // no client
  ASSERT_TRUE(ApplyShipperFlag(&*c, "client.url", "http://127.0.0.1:3100/loki/api/v1/push").ok());
  ASSERT_TRUE(ApplyShipperFlag(&*c, "positions.file", "/tmp/x.yaml").ok());
  ASSERT_TRUE(ApplyShipperFlag(&*c, "server.http-listen-port", "0").ok());
  ASSERT_TRUE(ApplyShipperFlag(&*c, "client.external-labels", "a=1,b=2").ok());
  FinishShipperConfig(&*c);
  ASSERT_EQ(c->clients.size(), 1u);
  EXPECT_EQ(c->clients[0].external_labels.size(), 2u);
  EXPECT_TRUE(ValidateShipperConfig(*c).ok());
  EXPECT_FALSE(ApplyShipperFlag(&*c, "client.nope", "1").ok());
  EXPECT_FALSE(ApplyShipperFlag(&*c, "server.http-listen-port", "70000").ok());
  c->clients[0].url = "loki:3100";
  EXPECT_FALSE(ValidateShipperConfig(*c).ok());
}

// Promtail's Config.Setup: -client.url (or the deprecated `client:` section) ADDS a client to
// `clients`; -client.external-labels apply to every client, a client's own labels winning.
TEST(ShipperConfigTest, ClientUrlFlagAddsAClientAsPromtailDoes) {
  auto c = ParseShipperConfig(
      "clients:\n  - url: http://a:3100/loki/api/v1/push\n    external_labels: {cluster: yaml}\n"
      "  - url: http://b:3100/loki/api/v1/push\n",
      "x", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(ApplyShipperFlag(&*c, "client.url", "http://c:3100/loki/api/v1/push").ok());
  ASSERT_TRUE(ApplyShipperFlag(&*c, "client.tenant-id", "t1").ok());
  ASSERT_TRUE(ApplyShipperFlag(&*c, "client.external-labels", "cluster=flag,env=prod").ok());
  FinishShipperConfig(&*c);
  FinishShipperConfig(&*c);  // idempotent
  ASSERT_EQ(c->clients.size(), 3u);
  EXPECT_EQ(c->clients[0].url, "http://a:3100/loki/api/v1/push");
  EXPECT_EQ(c->clients[0].tenant_id, "");
  EXPECT_EQ(c->clients[0].external_labels.at("cluster"), "yaml");
  EXPECT_EQ(c->clients[0].external_labels.at("env"), "prod");
  EXPECT_EQ(c->clients[1].external_labels.at("cluster"), "flag");
  EXPECT_EQ(c->clients[2].url, "http://c:3100/loki/api/v1/push");
  EXPECT_EQ(c->clients[2].tenant_id, "t1");
  EXPECT_EQ(c->clients[2].external_labels.at("cluster"), "flag");
  EXPECT_TRUE(ValidateShipperConfig(*c).ok());

  // The deprecated single `client:` section is appended too; flags override its keys.
  auto d = ParseShipperConfig("client:\n  url: http://old:3100/loki/api/v1/push\n  tenant_id: y\n", "x", false);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(ApplyShipperFlag(&*d, "client.tenant-id", "z").ok());
  FinishShipperConfig(&*d);
  ASSERT_EQ(d->clients.size(), 1u);
  EXPECT_EQ(d->clients[0].url, "http://old:3100/loki/api/v1/push");
  EXPECT_EQ(d->clients[0].tenant_id, "z");

  // Client flags without -client.url add nothing (Promtail ignores them too).
  auto e = ParseShipperConfig("", "x", false);
  ASSERT_TRUE(ApplyShipperFlag(&*e, "client.tenant-id", "z").ok());
  FinishShipperConfig(&*e);
  EXPECT_TRUE(e->clients.empty());
}

TEST(ShipperConfigTest, KubernetesSdConnectionSettings) {
  auto c = ParseShipperConfig(
      "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n"
      "      - role: pod\n        api_server: http://127.0.0.1:6443\n        bearer_token_file: /t\n"
      "        tls_config: {ca_file: /ca.crt, insecure_skip_verify: true}\n        namespaces: {names: [a]}\n",
      "x", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->scrape_configs[0].kube_sd.size(), 1u);
  const KubeSdConfig& k = c->scrape_configs[0].kube_sd[0];
  EXPECT_EQ(k.api_server, "http://127.0.0.1:6443");
  EXPECT_EQ(k.bearer_token_file, "/t");
  EXPECT_EQ(k.ca_file, "/ca.crt");
  EXPECT_TRUE(k.insecure_skip_verify);
  auto bad = ParseShipperConfig(
      "scrape_configs:\n  - kubernetes_sd_configs:\n      - role: pod\n        tls_config: {ca_fil: x}\n", "x", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("scrape_configs[0].kubernetes_sd_configs[0].tls_config.ca_fil"),
            std::string::npos)
      << bad.status().message();
}

TEST(ShipperConfigTest, ExpandsEnvironment) {
  setenv("LOGQ_TEST_NODE", "node-7", 1);
  auto c = ParseShipperConfig("shipper:\n  node_name: ${LOGQ_TEST_NODE}\n  pods_root: ${LOGQ_UNSET_X:-/data/pods}\n",
                              "x", true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tail.node_name, "node-7");
  EXPECT_EQ(c->tail.pods_root, "/data/pods");
}

}  // namespace
}  // namespace logq::shipper

namespace logq::shipper {
namespace {

TEST(ShipperConfigTest, JournalScrapeConfig) {
  auto c = ParseShipperConfig(R"(
clients: [{url: http://loki:3100/loki/api/v1/push}]
scrape_configs:
  - job_name: journal
    journal: {max_age: 12h, path: /var/log/journal, json: true, labels: {job: systemd-journal}}
  - job_name: defaults
    journal: {}
)", "test.yaml", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->scrape_configs.size(), 2u);
  const JournalConfig& j = c->scrape_configs[0].journal;
  EXPECT_TRUE(j.enabled);
  EXPECT_TRUE(j.json);
  EXPECT_EQ(j.max_age_ns, 12LL * 3600 * 1'000'000'000);
  EXPECT_EQ(j.path, "/var/log/journal");
  EXPECT_EQ(j.labels.at("job"), "systemd-journal");
  EXPECT_TRUE(c->scrape_configs[1].journal.enabled);
  EXPECT_EQ(c->scrape_configs[1].journal.max_age_ns, 7LL * 3600 * 1'000'000'000);
  EXPECT_FALSE(c->scrape_configs[1].journal.json);
  auto bad = ParseShipperConfig("scrape_configs:\n  - job_name: j\n    journal: {maxage: 1h}\n", "t.yaml", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("scrape_configs[0].journal.maxage"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace logq::shipper
