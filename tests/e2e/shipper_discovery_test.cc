// logq-shipper discovery against hostile directory trees, end to end with the real store:
//  * a symlink to the pods root inside it (a loop) and a symlink aliasing a pod are not
//    followed; a pod created afterwards is found and shipped, nothing is shipped twice;
//  * unreadable container directories and files (the shipper runs as uid 65534 via setpriv,
//    since root bypasses permissions): reported in the log and logq_shipper_unreadable_dirs
//    while unreadable, shipped once readable; a directory that becomes unreadable while
//    tailed keeps its files (no re-read from 0, no loss).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

std::string Config(const std::string& tmp, const std::string& pods, uint16_t port) {
  return "positions:\n  filename: " + tmp + "/positions.yaml\n  sync_period: 100ms\n"
         "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n"
         "    batchwait: 100ms\n"
         "shipper:\n  pods_root: " + pods + "\n  node_name: e2e-node\n  fallback_poll_interval: 200ms\n";
}

int64_t Count(TestHttpClient& c, const std::string& filter) {
  return CountInStore(c, "{namespace=\"disc\"} |= \"" + filter + "\"", 0, NowNs() + kMinute);
}

TEST(ShipperDiscoveryTest, SymlinkToThePodsRootDoesNotStopDiscovery) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::string a = pods + "/disc_a_u1/app";
  std::filesystem::create_directories(a);
  AppendCri(a + "/0.log", "pod a line");
  ASSERT_EQ(symlink(pods.c_str(), (pods + "/loop").c_str()), 0);
  ASSERT_EQ(symlink((pods + "/disc_a_u1").c_str(), (pods + "/disc_alias_u9").c_str()), 0);
  ShipperProcess shipper(tmp.path(), Config(tmp.path(), pods, port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  ASSERT_TRUE(PollUntil([&] { return Count(c, "pod a line") == 1; }, std::chrono::seconds(20))) << shipper.AllLogs();
  std::string b = pods + "/disc_b_u2/app";
  std::filesystem::create_directories(b);
  AppendCri(b + "/0.log", "pod b line");
  ASSERT_TRUE(PollUntil([&] { return Count(c, "pod b line") == 1; }, std::chrono::seconds(20)))
      << "a pod created after the symlink was not shipped\n" << shipper.AllLogs();
  std::string m = shipper.Metrics();
  EXPECT_EQ(MetricValue(m, "logq_shipper_tracked_files"), 2) << m;
  EXPECT_EQ(MetricValue(m, "logq_shipper_read_lines_total{path=\"" + a + "/0.log\",stream=\"stdout\"}"), 1) << m;
  EXPECT_TRUE(Contains(shipper.Log(), "is a symlink: not followed"));
}

TEST(ShipperDiscoveryTest, UnreadableDirectoriesAndFilesAreShippedOnceReadable) {
  testing::TempDir tmp;
  chmod(tmp.path().c_str(), 0777);  // the shipper (uid 65534) writes its positions file here
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::string locked_dir = pods + "/disc_a_u1/locked";    // unreadable directory at start
  std::string locked_file = pods + "/disc_a_u1/file";     // readable directory, unreadable file
  std::string later = pods + "/disc_a_u1/later";          // becomes unreadable while tailed
  for (const auto& d : {locked_dir, locked_file, later}) std::filesystem::create_directories(d);
  AppendCri(locked_dir + "/0.log", "locked dir 1");
  AppendCri(locked_file + "/0.log", "locked file 1");
  AppendCri(later + "/0.log", "later 1");
  chmod(locked_dir.c_str(), 0);
  chmod((locked_file + "/0.log").c_str(), 0);
  ShipperProcess shipper(tmp.path(), Config(tmp.path(), pods, port));
  shipper.SetWrapper({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  ASSERT_TRUE(PollUntil([&] { return Count(c, "later 1") == 1; }, std::chrono::seconds(20))) << shipper.AllLogs();
  EXPECT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_unreadable_dirs") == 2; },
                        std::chrono::seconds(20)))
      << shipper.Metrics();
  EXPECT_TRUE(Contains(shipper.Log(), locked_dir + ": cannot watch: Permission denied"));
  EXPECT_TRUE(Contains(shipper.Log(), locked_file + "/0.log: cannot open: Permission denied"));
  EXPECT_EQ(Count(c, "locked"), 0);

  // A tailed directory becomes unreadable (a new entry makes the shipper list it): its file is
  // still read through the open fd, and not read again from 0 once readable.
  chmod(later.c_str(), 0);
  std::ofstream(later + "/junk.txt") << "x";
  AppendCri(later + "/0.log", "later 2");
  ASSERT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_unreadable_dirs") == 3; },
                        std::chrono::seconds(20)))
      << shipper.Metrics() << shipper.AllLogs();
  EXPECT_TRUE(PollUntil([&] { return Count(c, "later 2") == 1; }, std::chrono::seconds(20))) << shipper.AllLogs();

  chmod(locked_dir.c_str(), 0755);
  chmod((locked_file + "/0.log").c_str(), 0644);
  chmod(later.c_str(), 0755);
  AppendCri(later + "/0.log", "later 3");
  ASSERT_TRUE(PollUntil([&] {
    return Count(c, "locked dir 1") == 1 && Count(c, "locked file 1") == 1 && Count(c, "later 3") == 1;
  }, std::chrono::seconds(20))) << shipper.AllLogs();
  EXPECT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_unreadable_dirs") == 0; },
                        std::chrono::seconds(20)));
  // Exactly once: the counters see re-reads the store's dedup would hide.
  std::string m = shipper.Metrics();
  EXPECT_EQ(MetricValue(m, "logq_shipper_read_lines_total{path=\"" + later + "/0.log\",stream=\"stdout\"}"), 3) << m;
  EXPECT_EQ(Count(c, "later"), 3);
  auto code = shipper.Terminate();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << shipper.Log();
}

}  // namespace
}  // namespace logq::e2e
