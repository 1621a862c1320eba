// Retention against the real logq-store binary: a compactor pass killed with SIGKILL in
// the middle (slowed by the test-only compactor.test_only_stream_delay) leaves the store
// consistent; the pass after the restart deletes exactly the expired entries, and a further
// pass deletes nothing more. Also the delete API on the wire.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <set>
#include <string>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

constexpr int kStreams = 40;

std::string Config() {
  return R"(
limits_config:
  reject_old_samples: false
  retention_period: 48h
  ingestion_rate_mb: 100
  ingestion_burst_size_mb: 100
compactor:
  retention_enabled: true
  compaction_interval: 1h
  test_only_stream_delay: 50ms
)";
}

double Metric(TestHttpClient& c, const std::string& series) { return MetricValue(c.Get("/metrics").body, series); }

// Every stream's timestamps over [start, end).
std::map<std::string, std::set<int64_t>> All(TestHttpClient& c, int64_t start, int64_t end) {
  std::map<std::string, std::set<int64_t>> out;
  QueryResult q = QueryRange(c, R"({app=~"s.+"})", start, end, 5000, "forward");
  EXPECT_TRUE(q.ok()) << q.Describe();
  for (const auto& [labels, entries] : q.streams) {
    for (const auto& e : entries) out[labels].insert(e.first);
  }
  return out;
}

TEST(RetentionE2ETest, KillDashNineDuringAPassThenTheNextPassesFinishAndDeleteNothingMore) {
  StoreOptions opts;
  opts.config_yaml = Config();
  auto started = StoreProcess::Start(opts);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto store = std::move(started).value();
  TestHttpClient client(store->base_url());

  const int64_t now = NowNs();
  std::map<std::string, std::set<int64_t>> want;
  size_t expired = 0;
  for (int phase = 0; phase < 2; ++phase) {  // phase 0 ends in chunks, phase 1 stays in heads
    std::vector<api::PushStream> streams;
    for (int i = 0; i < kStreams; ++i) {
      std::vector<api::PushEntry> es;
      for (int k = 0; k < 30; ++k) {
        // Expired: 72h..71h ago; kept: 24h ago and the last hour.
        for (int64_t base : {now - 72 * kHour, now - 24 * kHour, now - kHour}) {
          int64_t ts = base + (phase * 30 + k) * kMinute / 60 + i;
          es.push_back(Entry(ts, fmt::format("stream {} entry {} phase {}", i, k, phase)));
          const std::string key = fmt::format(R"({{app="s{}"}})", i);
          if (base == now - 72 * kHour) {
            ++expired;
          } else {
            want[key].insert(ts);
          }
        }
      }
      streams.push_back(Stream(fmt::format(R"({{app="s{}"}})", i), std::move(es)));
    }
    HttpReply r = PushProto(client, Request(std::move(streams)));
    ASSERT_EQ(r.status, 204) << r.Describe();
    if (phase == 0) {
      ASSERT_EQ(client.Post("/flush", "").status, 204);
    }
  }
  QueryResult before = QueryRange(client, R"({app="s0"})", now - 100 * kHour, now + kHour, 5000, "forward");
  ASSERT_TRUE(before.ok()) << before.Describe();
  ASSERT_EQ(before.total, 180u);

  // The restart runs a pass at startup; kill it once it has deleted something.
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  client.set_base_url(store->base_url());
  ASSERT_TRUE(PollUntil(
      [&] { return Metric(client, R"(logq_retention_deleted_entries_total{reason="retention",tenant="fake"})") > 0; },
      std::chrono::seconds(30)))
      << store->LogTail();
  store->Kill();
  ASSERT_TRUE(NotContains(store->Log(), "compactor pass done")) << "the pass finished before the kill";

  // After the crash: the startup pass completes and deletes exactly the expired entries.
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  client.set_base_url(store->base_url());
  ASSERT_TRUE(PollUntil([&] { return Metric(client, R"(logq_compactor_runs_total{status="success"})") >= 1; },
                        std::chrono::seconds(60)))
      << store->LogTail();
  EXPECT_EQ(All(client, now - 100 * kHour, now + kHour), want);
  const double deleted_after_crash =
      Metric(client, R"(logq_retention_deleted_entries_total{reason="retention",tenant="fake"})");
  EXPECT_GT(deleted_after_crash, 0);
  // The killed pass's deletions were not yet durable (they are persisted per tenant), so the
  // pass after the crash may redo all of them, but never more.
  EXPECT_LE(deleted_after_crash, static_cast<double>(expired));

  // One more pass (after a clean restart) deletes nothing more.
  auto code = store->Terminate();
  ASSERT_TRUE(code.ok() && *code == 0) << store->LogTail();
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  client.set_base_url(store->base_url());
  ASSERT_TRUE(PollUntil([&] { return Metric(client, R"(logq_compactor_runs_total{status="success"})") >= 1; },
                        std::chrono::seconds(60)))
      << store->LogTail();
  EXPECT_LE(Metric(client, R"(logq_retention_deleted_entries_total{reason="retention",tenant="fake"})"), 0);
  EXPECT_EQ(Metric(client, "logq_compactor_chunks_rewritten_total"), 0);
  EXPECT_EQ(All(client, now - 100 * kHour, now + kHour), want);
  EXPECT_GT(Metric(client, R"(logq_tenant_disk_bytes{tenant="fake"})"), 0);
}

TEST(RetentionE2ETest, DeleteApiOnTheWire) {
  StoreOptions opts;
  opts.config_yaml = "limits_config:\n  reject_old_samples: false\n";
  auto started = StoreProcess::Start(opts);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto store = std::move(started).value();
  TestHttpClient client(store->base_url());
  const int64_t now_s = NowNs() / kSecond;
  HttpReply r = client.Post(
      testing::PathWithQuery("/loki/api/v1/delete", {{"query", R"({app="a"} |= "secret")"},
                                                     {"start", std::to_string(now_s - 3600)}}),
      "");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = client.Get("/loki/api/v1/delete");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type").rfind("application/json", 0), 0u);
  auto j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["status"], "received");
  r = client.Request("DELETE", testing::PathWithQuery("/loki/api/v1/delete", {{"request_id", j[0]["request_id"]}}),
                     "", {});
  EXPECT_EQ(r.status, 204) << r.Describe();
  EXPECT_EQ(Trimmed(client.Get("/loki/api/v1/delete").body), "[]");
  r = client.Post(testing::PathWithQuery("/loki/api/v1/delete", {{"query", R"({app="a"})"}, {"start", "x"}}), "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Trimmed(r.body), "invalid start time: require unix seconds or RFC3339 format");
}

}  // namespace
}  // namespace logq::e2e
