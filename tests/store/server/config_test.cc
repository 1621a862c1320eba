#include "store/server/config.h"

#include <gtest/gtest.h>

#include "query/base/clock.h"
#include "store/server/tenant.h"

namespace logq::server {
namespace {

TEST(ConfigTest, EmptyYamlGivesLokiDefaults) {
  auto c = ParseStoreConfig("", "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.http_listen_port, 3100);
  EXPECT_EQ(c->server.http_listen_address, "0.0.0.0");
  EXPECT_FALSE(c->auth_enabled);
  EXPECT_EQ(c->limits_config.max_line_size, 256 * 1024);
  EXPECT_EQ(c->limits_config.reject_old_samples_max_age, 168 * kNanosPerHour);
  EXPECT_EQ(c->StoragePath(), "./logq-data");
}

TEST(ConfigTest, ParsesLokiKeys) {
  auto c = ParseStoreConfig(R"(
auth_enabled: true
server:
  http_listen_port: 9000
  grpc_listen_port: 9095
common:
  path_prefix: /var/lib/logq
storage:
  sync_writes: true
limits_config:
  max_line_size: 1MB
  ingestion_rate_mb: 16
  reject_old_samples_max_age: 24h
)", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->auth_enabled);
  EXPECT_EQ(c->server.http_listen_port, 9000);
  EXPECT_TRUE(c->storage.sync_writes);
  EXPECT_EQ(c->StoragePath(), "/var/lib/logq/data");
  EXPECT_EQ(c->limits_config.max_line_size, 1000000);
  EXPECT_EQ(c->limits_config.ingestion_rate_mb, 16);
  EXPECT_EQ(c->limits_config.reject_old_samples_max_age, 24 * kNanosPerHour);
}

TEST(ConfigTest, UnknownKeyNamesKeyAndLine) {
  auto c = ParseStoreConfig("server:\n  http_listen_port: 1\n  htp_port: 2\n", "my.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "config error at my.yaml:3:3: unknown key \"server.htp_port\"");
  auto top = ParseStoreConfig("bogus: 1\n", "my.yaml");
  EXPECT_EQ(top.status().message(), "config error at my.yaml:1:1: unknown key \"bogus\"");
}

TEST(ConfigTest, BadValuesNameTheKey) {
  auto c = ParseStoreConfig("limits_config:\n  max_line_size: lots\n", "x.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("x.yaml:2:18"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("limits_config.max_line_size"), std::string::npos);
  EXPECT_FALSE(ParseStoreConfig("server:\n  http_listen_port: 70000\n", "x").ok());
  EXPECT_FALSE(ParseStoreConfig("auth_enabled: maybe\n", "x").ok());
  EXPECT_FALSE(ParseStoreConfig("server: [1, 2]\n", "x").ok());
  EXPECT_FALSE(ParseStoreConfig("server:\n  log_level: loud\n", "x").ok());
  EXPECT_FALSE(ParseStoreConfig(": : :\n", "x").ok());
}

TEST(ConfigTest, FlagsOverrideAndNameTheFlag) {
  StoreConfig c;
  ASSERT_TRUE(ApplyStoreFlag(&c, "server.http-listen-port", "1234").ok());
  ASSERT_TRUE(ApplyStoreFlag(&c, "storage.path", "/tmp/x").ok());
  ASSERT_TRUE(ApplyStoreFlag(&c, "auth-enabled", "true").ok());
  ASSERT_TRUE(ApplyStoreFlag(&c, "limits_config.max-line-size", "2KiB").ok());
  EXPECT_EQ(c.server.http_listen_port, 1234);
  EXPECT_EQ(c.storage.path, "/tmp/x");
  EXPECT_TRUE(c.auth_enabled);
  EXPECT_EQ(c.limits_config.max_line_size, 2048);
  Status bad = ApplyStoreFlag(&c, "server.nope", "1");
  EXPECT_EQ(bad.message(), "unknown flag -server.nope");
  bad = ApplyStoreFlag(&c, "server.http-listen-port", "x");
  EXPECT_NE(bad.message().find("invalid value for flag -server.http-listen-port"), std::string::npos);
  EXPECT_EQ(c.server.http_listen_port, 1234);  // unchanged by the failed flag
}

// Network limits (issue 12): defaults sized for 512Mi-4Gi pods, every key parsed and
// printed, non-positive values refused naming the key.
TEST(ConfigTest, NetworkLimitsHaveSafeDefaultsAndParse) {
  auto d = ParseStoreConfig("", "d.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->distributor.max_decompressed_size, 100LL << 20);
  EXPECT_EQ(d->distributor.max_decompressed_inflight_bytes, 256LL << 20);
  EXPECT_EQ(d->server.http_server_max_header_bytes, 1LL << 20);
  EXPECT_EQ(d->server.http_server_write_timeout, 30 * kNanosPerSecond);
  EXPECT_EQ(d->querier.tail_max_buffered_bytes, 1LL << 20);
  auto c = ParseStoreConfig(R"(
server:
  http_server_write_timeout: 5s
  http_server_max_header_bytes: 64KiB
distributor:
  max_decompressed_size: 10MiB
  max_decompressed_inflight_bytes: 50MiB
querier:
  tail_max_buffered_bytes: 2MiB
)", "n.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.http_server_write_timeout, 5 * kNanosPerSecond);
  EXPECT_EQ(c->server.http_server_max_header_bytes, 64 << 10);
  EXPECT_EQ(c->distributor.max_decompressed_size, 10 << 20);
  EXPECT_EQ(c->distributor.max_decompressed_inflight_bytes, 50 << 20);
  EXPECT_EQ(c->querier.tail_max_buffered_bytes, 2 << 20);
  auto back = ParseStoreConfig(StoreConfigToYaml(*c), "printed");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StoreConfigToYaml(*back), StoreConfigToYaml(*c));
  auto bad = ParseStoreConfig("distributor:\n  max_decompressed_inflight_bytes: 0\n", "b.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("distributor.max_decompressed_inflight_bytes"), std::string::npos);
}

TEST(ConfigTest, IngesterHeadsAndWalKeys) {
  auto d = ParseStoreConfig("common:\n  path_prefix: /var/lib/logq\n", "t.yaml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->WalDir(), "/var/lib/logq/data/wal");
  EXPECT_EQ(d->ingester.head_memory_limit, 512LL << 20);
  EXPECT_EQ(d->ingester.chunk_block_size, 256 << 10);
  EXPECT_EQ(d->ingester.wal.checkpoint_duration, 5 * kNanosPerMinute);
  auto c = ParseStoreConfig(R"(
ingester:
  chunk_block_size: 64KiB
  head_memory_limit: 1GiB
  wal:
    enabled: true
    dir: /wal
    checkpoint_duration: 1m
    checkpoint_size: 64MiB
    segment_size: 8MiB
    flush_on_shutdown: true
)", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ingester.chunk_block_size, 64 << 10);
  EXPECT_EQ(c->ingester.head_memory_limit, 1LL << 30);
  EXPECT_EQ(c->WalDir(), "/wal");
  EXPECT_EQ(c->ingester.wal.checkpoint_duration, kNanosPerMinute);
  EXPECT_EQ(c->ingester.wal.checkpoint_size, 64 << 20);
  EXPECT_EQ(c->ingester.wal.segment_size, 8 << 20);
  EXPECT_TRUE(c->ingester.wal.flush_on_shutdown);
  auto back = ParseStoreConfig(StoreConfigToYaml(*c), "printed");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StoreConfigToYaml(*back), StoreConfigToYaml(*c));

  auto off = ParseStoreConfig("ingester:\n  wal:\n    enabled: false\n", "t.yaml");
  ASSERT_FALSE(off.ok());
  EXPECT_NE(off.status().message().find("ingester.wal.enabled"), std::string::npos) << off.status().message();
  auto typo = ParseStoreConfig("ingester:\n  wal:\n    dirr: /x\n", "t.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key \"ingester.wal.dirr\""), std::string::npos)
      << typo.status().message();
  for (const char* bad : {"ingester:\n  chunk_block_size: 65MiB\n", "ingester:\n  head_memory_limit: 1KiB\n",
                          "ingester:\n  wal:\n    segment_size: 1KiB\n",
                          "ingester:\n  wal:\n    checkpoint_duration: 0s\n"}) {
    auto r = ParseStoreConfig(bad, "t.yaml");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("ingester."), std::string::npos) << r.status().message();
  }
}

TEST(ConfigTest, PrintedConfigParsesBackToTheSameValues) {
  StoreConfig c;
  c.auth_enabled = true;
  c.storage.path = "/data";
  c.limits_config.max_line_size = 12345;
  c.ingester.max_chunk_age = 90 * kNanosPerMinute;
  auto back = ParseStoreConfig(StoreConfigToYaml(c), "printed");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StoreConfigToYaml(*back), StoreConfigToYaml(c));
}

TEST(ConfigTest, QueryResourceLimits) {
  auto d = ParseStoreConfig("", "t.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->limits_config.max_query_memory_size, 64LL << 20);
  EXPECT_EQ(d->limits_config.max_json_depth, 128);
  EXPECT_EQ(d->limits_config.max_template_output_size, 1 << 20);
  auto c = ParseStoreConfig(R"(
limits_config:
  max_query_memory_size: 10MiB
  max_json_depth: 20
  max_template_output_size: 4KiB
)", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->limits_config.max_query_memory_size, 10LL << 20);
  EXPECT_EQ(c->limits_config.max_json_depth, 20);
  EXPECT_EQ(c->limits_config.max_template_output_size, 4096);
  auto printed = ParseStoreConfig(StoreConfigToYaml(*c), "printed.yaml");
  ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  EXPECT_EQ(printed->limits_config.max_json_depth, 20);
  EXPECT_EQ(printed->limits_config.max_query_memory_size, 10LL << 20);
  // The JSON depth is a stack bound: out of range is refused, naming the key.
  auto bad = ParseStoreConfig("limits_config:\n  max_json_depth: 100000\n", "t.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("max_json_depth"), std::string::npos) << bad.status().message();
}

TEST(TenantTest, ValidatesLikeDskit) {
  EXPECT_TRUE(ValidateTenantId("team-a_1.prod").ok());
  EXPECT_TRUE(ValidateTenantId(std::string(150, 'a')).ok());
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string(151, 'a'), std::string("a b"), std::string("a\0b", 3), std::string("%2e%2e")}) {
    EXPECT_FALSE(ValidateTenantId(bad).ok()) << bad;
  }
}

TEST(TenantTest, ResolvesPerAuthMode) {
  EXPECT_EQ(*ResolveTenant(false, "ignored", false), "fake");
  EXPECT_EQ(*ResolveTenant(false, "", false), "fake");
  auto missing = ResolveTenant(true, "", false);
  EXPECT_EQ(missing.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(missing.status().message(), "no org id");
  EXPECT_EQ(*ResolveTenant(true, "team", false), "team");
  EXPECT_EQ(ResolveTenant(true, "a|b", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ResolveTenant(true, "a|b", true), "a|b");
  EXPECT_FALSE(ResolveTenant(true, "a|..", true).ok());
}

}  // namespace
}  // namespace logq::server
