// logq-shipper's first start and per-path metrics, end to end against the real store:
//  * a container directory found by the first scan without a position reads its current
//    0.log only (rotated generations are history, as Promtail's *.log glob would skip them);
//    a directory that appears later is read completely, rotated generations included; a
//    rotation after the start is followed;
//  * the per-path metric series of a pod disappear once its directory is deleted and drained.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "query/base/units.h"
#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

void AppendCri(const std::string& path, const std::string& msg) {
  std::ofstream(path, std::ios::app) << FormatRFC3339Nano(NowNs()) << " stdout F " << msg << "\n";
}

void WriteGz(const std::string& path, const std::string& msg) {
  std::string data = FormatRFC3339Nano(NowNs()) + " stdout F " + msg + "\n";
  gzFile gz = gzopen(path.c_str(), "wb");
  gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
  gzclose(gz);
}

int64_t Count(TestHttpClient& c, const std::string& filter) {
  return CountInStore(c, "{namespace=\"e2e\"} |= \"" + filter + "\"", 0, NowNs() + kMinute);
}

TEST(ShipperFirstStartTest, RotatedHistoryIsSkippedOnlyForDirectoriesFoundAtTheFirstScan) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::string old_dir = pods + "/e2e_old-1_u1/app";
  std::filesystem::create_directories(old_dir);
  WriteGz(old_dir + "/0.log.20261120-100000.gz", "history gz");
  AppendCri(old_dir + "/0.log.20261121-100000", "history plain");
  AppendCri(old_dir + "/0.log", "current 1");

  ShipperProcess shipper(tmp.path(),
      "positions:\n  filename: " + tmp.path() + "/positions.yaml\n  sync_period: 100ms\n"
      "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n"
      "    batchwait: 100ms\n"
      "shipper:\n  pods_root: " + pods + "\n  node_name: e2e-node\n");
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  ASSERT_TRUE(PollUntil([&] { return Count(c, "current 1") == 1; }, std::chrono::seconds(20))) << shipper.AllLogs();

  // A rotation while running is followed (the renamed file is drained, the new one read).
  AppendCri(old_dir + "/0.log", "current 2");
  std::filesystem::rename(old_dir + "/0.log", old_dir + "/0.log.20261122-100000");
  AppendCri(old_dir + "/0.log", "after rotation");
  // A pod that appears now: everything is new, rotated generations included.
  std::string new_dir = pods + "/e2e_new-1_u2/app";
  std::filesystem::create_directories(new_dir);
  AppendCri(new_dir + "/0.log.20261122-090000", "new pod rotated");
  AppendCri(new_dir + "/0.log", "new pod current");
  ASSERT_TRUE(PollUntil([&] {
    return Count(c, "current 2") == 1 && Count(c, "after rotation") == 1 && Count(c, "new pod rotated") == 1 &&
           Count(c, "new pod current") == 1;
  }, std::chrono::seconds(20))) << shipper.AllLogs();
  EXPECT_EQ(Count(c, "history"), 0) << "rotated generations found at the first start are not read";
  EXPECT_NE(shipper.Log().find("not read (as Promtail)"), std::string::npos);

  // Per-path series exist while the pod's files exist, and are removed once its directory is
  // deleted and drained.
  std::string new_path = new_dir + "/0.log";
  auto series = [&] {
    return "logq_shipper_read_lines_total{path=\"" + new_path + "\",stream=\"stdout\"}";
  };
  EXPECT_EQ(MetricValue(shipper.Metrics(), series()), 2) << shipper.Metrics();
  std::filesystem::remove_all(pods + "/e2e_new-1_u2");
  ASSERT_TRUE(PollUntil([&] { return shipper.Metrics().find(new_path) == std::string::npos; },
                        std::chrono::seconds(20)))
      << shipper.Metrics();
  EXPECT_NE(shipper.Metrics().find("path=\"" + old_dir + "/0.log\""), std::string::npos);

  // After a restart the positions file knows the old directory: a generation rotated while the
  // shipper was down is caught up.
  auto code = shipper.Terminate();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << shipper.Log();
  AppendCri(old_dir + "/0.log", "while down");
  std::filesystem::rename(old_dir + "/0.log", old_dir + "/0.log.20261122-110000");
  AppendCri(old_dir + "/0.log", "after restart");
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  ASSERT_TRUE(PollUntil([&] { return Count(c, "while down") == 1 && Count(c, "after restart") == 1; },
                        std::chrono::seconds(20)))
      << shipper.AllLogs();
  EXPECT_EQ(Count(c, "history"), 0);
  EXPECT_EQ(Count(c, "current 1"), 1);
}

}  // namespace
}  // namespace logq::e2e
