// logq-shipper end to end: real files written like a container runtime, rotated like
// kubelet (rename, gzip, delete) or logrotate (copytruncate), the real shipper killed with
// SIGKILL and restarted, the real store stopped and restarted or rate limiting; the store's
// content is then checked line by line against the writers' sequence numbers.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

using std::chrono::milliseconds;

std::string ShipperConfig(const std::string& dir, uint16_t store_port, const std::string& extra_client = "") {
  return "positions:\n  filename: " + dir + "/positions.yaml\n  sync_period: 200ms\n"
         "clients:\n  - url: http://127.0.0.1:" + std::to_string(store_port) + "/loki/api/v1/push\n"
         "    batchwait: 200ms\n"
         "    backoff_config: {min_period: 50ms, max_period: 500ms}\n" + extra_client +
         "shipper:\n  pods_root: " + dir + "/pods\n  node_name: e2e-node\n";
}

struct Fixture {
  testing::TempDir tmp;
  std::unique_ptr<StoreProcess> store;
  uint16_t port = 0;
  void StartStore(std::vector<std::string> flags) {
    port = FreePort();
    StoreOptions so;
    so.flags = std::move(flags);
    so.flags.push_back("-server.http-listen-port=" + std::to_string(port));
    auto s = StoreProcess::Start(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(s).value();
    ASSERT_EQ(store->port(), port);
    mkdir((tmp.path() + "/pods").c_str(), 0755);
  }
  std::string Container(const std::string& pod_dir, const std::string& container) {
    std::string p = tmp.path() + "/pods/" + pod_dir;
    mkdir(p.c_str(), 0755);
    return p + "/" + container;
  }
};

// Waits until the store holds `expected` entries for every (container, stream), then checks
// each stream by sequence number.
void ExpectAllDelivered(Fixture& f, std::vector<ContainerWriter*> writers, ShipperProcess& shipper,
                        int64_t start, bool allow_loss_pct = false) {
  TestHttpClient c(f.store->base_url());
  int64_t total = 0;
  for (auto* w : writers) total += w->written("stdout") + w->written("stderr");
  bool complete = PollUntil([&] {
    int64_t n = CountInStore(c, "{namespace=\"e2e\"}", start, NowNs() + kMinute);
    return n >= total;
  }, allow_loss_pct ? std::chrono::seconds(4) : std::chrono::seconds(30));
  if (!allow_loss_pct) {
    EXPECT_TRUE(complete) << "store has " << CountInStore(c, "{namespace=\"e2e\"}", start, NowNs() + kMinute)
                          << " of " << total << " lines; shipper log:\n" << shipper.AllLogs();
  }
  for (auto* w : writers) {
    for (const std::string stream : {"stdout", "stderr"}) {
      StreamCheck r = CheckStream(c, "e2e", w->id(), stream, w->id(), w->written(stream), start - kMinute,
                                  NowNs() + kMinute);
      SCOPED_TRACE(w->id() + "/" + stream);
      EXPECT_EQ(r.duplicated, 0) << r.first_problem;
      EXPECT_EQ(r.corrupt, 0) << r.first_problem;
      if (allow_loss_pct) {
        EXPECT_LE(r.lost * 100, r.expected * 5) << r.first_problem;  // copytruncate: inherent, small
      } else {
        EXPECT_EQ(r.lost, 0) << r.first_problem << "\n" << shipper.AllLogs();
      }
      EXPECT_GT(r.expected, 0);
    }
  }
}

TEST(ShipperLossTest, RenameRotationWithKillsAndAStoreOutageLosesAndDuplicatesNothing) {
  Fixture f;
  f.StartStore({"-limits-config.ingestion-rate-mb=64", "-limits-config.ingestion-burst-size-mb=128"});
  int64_t start = NowNs();
  // Three containers in two pods; each rotates (kubelet-style) about every 0.8 s.
  ContainerWriter app(f.Container("e2e_web-0_uid-0", "app"), "app", RotateMode::kKubelet, 150, 120);
  ContainerWriter side(f.Container("e2e_web-0_uid-0", "sidecar"), "sidecar", RotateMode::kKubelet, 100, 90);
  ContainerWriter db(f.Container("e2e_db-0_uid-1", "db"), "db", RotateMode::kKubelet, 150, 120);
  ShipperProcess shipper(f.tmp.path(), ShipperConfig(f.tmp.path(), f.port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  app.Start();
  side.Start();
  db.Start();
  // kill -9 and restart, with down times long enough for rotations (and gzip) to happen
  // while the shipper is away; the store goes away for a while in the middle.
  const int schedule_ms[][2] = {{1500, 600}, {1200, 1500}, {1800, 300}, {1000, 2200}};
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(milliseconds(schedule_ms[i][0]));  // schedule, not a wait
    shipper.Kill();
    std::this_thread::sleep_for(milliseconds(schedule_ms[i][1]));
    ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
    if (i == 1) {
      f.store->Kill();
      std::this_thread::sleep_for(milliseconds(2500));
      ASSERT_TRUE(f.store->Restart().ok()) << f.store->LogTail();
    }
  }
  std::this_thread::sleep_for(milliseconds(1000));
  app.Stop();
  side.Stop();
  db.Stop();
  EXPECT_GE(app.rotations(), 8);
  ExpectAllDelivered(f, {&app, &side, &db}, shipper, start);
  std::string m = shipper.Metrics();
  EXPECT_EQ(MetricValue(m, "logq_shipper_unread_bytes_total"), 0) << m;
  EXPECT_EQ(shipper.ReadyStatus(), 200);
  auto rc = shipper.Terminate();
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << shipper.Log();
}

TEST(ShipperLossTest, RateLimited429sAreRetriedUntilEverythingIsStored) {
  Fixture f;
  // 0.05 MiB/s: the burst written below takes several seconds to be accepted.
  f.StartStore({"-limits-config.ingestion-rate-mb=0.05", "-limits-config.ingestion-burst-size-mb=0.05"});
  int64_t start = NowNs();
  ContainerWriter burst(f.Container("e2e_burst-0_uid-2", "burst"), "burst", RotateMode::kNone, 0, 0);
  burst.WriteBurst(1500);
  ShipperProcess shipper(f.tmp.path(), ShipperConfig(f.tmp.path(), f.port, "    batchsize: 16KiB\n"));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  ExpectAllDelivered(f, {&burst}, shipper, start);
  std::string m = shipper.Metrics();
  std::string url = "http://127.0.0.1:" + std::to_string(f.port) + "/loki/api/v1/push";
  EXPECT_GT(MetricValue(m, "logq_shipper_retries_total{url=\"" + url + "\"}"), 0) << m;
  EXPECT_EQ(MetricValue(m, "logq_shipper_dropped_entries_total{reason=\"rate_limited\"}"), -1) << m;
  auto rc = shipper.Terminate();
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0);
}

TEST(ShipperLossTest, CopytruncateIsDetectedAndNeverDuplicates) {
  Fixture f;
  f.StartStore({});
  int64_t start = NowNs();
  ContainerWriter ct(f.Container("e2e_legacy-0_uid-3", "legacy"), "legacy", RotateMode::kCopyTruncate, 200, 150);
  ShipperProcess shipper(f.tmp.path(), ShipperConfig(f.tmp.path(), f.port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  ct.Start();
  std::this_thread::sleep_for(milliseconds(3500));
  ct.Stop();
  ExpectAllDelivered(f, {&ct}, shipper, start, /*allow_loss_pct=*/true);
  std::string m = shipper.Metrics();
  EXPECT_GE(MetricValue(m, "logq_shipper_file_truncations_total"), ct.rotations() - 1) << m;
  auto rc = shipper.Terminate();
  ASSERT_TRUE(rc.ok());
}

}  // namespace
}  // namespace logq::e2e
