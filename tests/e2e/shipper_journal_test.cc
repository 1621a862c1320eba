// logq-shipper's `journal` scrape config (issue 14 C) against real journal files the test
// writes with systemd-journal-remote from the export format (no journald needed):
//  * MESSAGE becomes the line, the entry's realtime the timestamp; __journal_* fields (and
//    __journal_priority_keyword) feed relabel_configs; static labels; max_age skips old entries;
//  * journal files added while running are read;
//  * the cursor is saved in the positions file ("cursor-<job>") only for acknowledged entries:
//    entries read while the store is unreachable are sent after a restart, and a restart after
//    acknowledgement sends nothing twice.
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

constexpr const char* kJournalRemote = "/lib/systemd/systemd-journal-remote";

// Writes `out` (must end in .journal) from entries (message, priority, age in seconds).
void WriteJournal(const std::string& dir, const std::string& out,
                  const std::vector<std::tuple<std::string, int, int>>& entries) {
  std::string exp = dir + "/" + out + ".export";
  {
    std::ofstream f(exp);
    int64_t now_us = NowNs() / 1000;
    // One boot: sd-journal orders entries of one boot ID by their monotonic time, so it must
    // grow across the files as a real journal's does.
    int64_t mono = now_us;
    for (const auto& [msg, prio, age] : entries) {
      f << "__REALTIME_TIMESTAMP=" << now_us - static_cast<int64_t>(age) * 1'000'000 << "\n"
        << "__MONOTONIC_TIMESTAMP=" << mono - static_cast<int64_t>(age) * 1'000'000 << "\n"
        << "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=e2e-host\n"
        << "_SYSTEMD_UNIT=app.service\nSYSLOG_IDENTIFIER=app\n"
        << "PRIORITY=" << prio << "\nMESSAGE=" << msg << "\n\n";
      ++now_us;
      ++mono;
    }
  }
  std::string tmp = dir + "/" + out + ".tmp.journal";
  std::string cmd = std::string(kJournalRemote) + " --output=" + tmp + " " + exp + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  // Appear whole in the watched directory.
  ASSERT_EQ(rename(tmp.c_str(), (dir + "/journal/" + out).c_str()), 0);
  unlink(exp.c_str());
}

std::string Config(const std::string& tmp, uint16_t port) {
  return "server:\n  http_listen_port: 0\n"
         "positions:\n  filename: " + tmp + "/positions.yaml\n  sync_period: 100ms\n"
         "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n"
         "    batchwait: 100ms\n    backoff_config: {min_period: 100ms, max_period: 200ms}\n"
         "scrape_configs:\n  - job_name: systemd\n"
         "    journal:\n      path: " + tmp + "/journal\n      max_age: 1h\n"
         "      labels: {job: systemd-journal}\n"
         "    relabel_configs:\n"
         "      - source_labels: [__journal__systemd_unit]\n        target_label: unit\n"
         "      - source_labels: [__journal_priority_keyword]\n        target_label: level\n"
         "shipper:\n  shutdown_timeout: 1s\n";
}

int64_t Count(TestHttpClient& c, const std::string& q) { return CountInStore(c, q, 0, NowNs() + kMinute); }

TEST(ShipperJournalTest, JournalEntriesWithCursorAdvancedOnlyAfterAck) {
  if (access(kJournalRemote, X_OK) != 0) GTEST_SKIP() << kJournalRemote << " missing (scripts/deps.sh installs it)";
  testing::TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/journal");
  WriteJournal(tmp.path(), "a.journal",
               {{"too old", 6, 7200}, {"first error", 3, 10}, {"first info", 6, 5}, {"second info", 6, 1}});
  uint16_t port = FreePort();
  // 1) The store is not there yet: entries are read ("too old" is before max_age: skipped),
  // nothing is acknowledged, no cursor saved.
  ShipperProcess shipper(tmp.path(), Config(tmp.path(), port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  ASSERT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_journal_entries_total") == 3; },
                        std::chrono::seconds(20)))
      << shipper.Metrics() << shipper.AllLogs();
  auto st = shipper.Terminate();
  ASSERT_TRUE(st.ok()) << shipper.AllLogs();
  EXPECT_FALSE(Contains(testing::ReadFileOrEmpty(tmp.path() + "/positions.yaml"), "cursor-systemd"))
      << testing::ReadFileOrEmpty(tmp.path() + "/positions.yaml");

  // 2) With the store: everything within max_age arrives once, labelled by relabeling.
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  TestHttpClient c((*store)->base_url());
  ASSERT_TRUE(shipper.Start().ok()) << shipper.AllLogs();
  ASSERT_TRUE(PollUntil([&] { return Count(c, "{job=\"systemd-journal\"}") == 3; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  EXPECT_EQ(Count(c, "{job=\"systemd-journal\", unit=\"app.service\", level=\"error\"} |= \"first error\""), 1);
  EXPECT_EQ(Count(c, "{job=\"systemd-journal\", level=\"info\"}"), 2);
  EXPECT_EQ(Count(c, "{job=\"systemd-journal\"} |= \"too old\""), 0);

  // 3) A journal file added while running is read.
  WriteJournal(tmp.path(), "b.journal", {{"third warning", 4, 0}});
  ASSERT_TRUE(PollUntil([&] { return Count(c, "{job=\"systemd-journal\"}") == 4; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  EXPECT_EQ(Count(c, "{job=\"systemd-journal\", level=\"warning\"} |= \"third warning\""), 1);
  ASSERT_TRUE(PollUntil(
      [&] { return Contains(testing::ReadFileOrEmpty(tmp.path() + "/positions.yaml"), "cursor-systemd"); },
      std::chrono::seconds(10)));
  st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();

  // 4) Restart from the saved cursor: new entries only, nothing twice.
  WriteJournal(tmp.path(), "c.journal", {{"fourth info", 6, 0}});
  ASSERT_TRUE(shipper.Start().ok()) << shipper.AllLogs();
  ASSERT_TRUE(PollUntil([&] { return Count(c, "{job=\"systemd-journal\"}") >= 5; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  ASSERT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_pending_bytes") == 0; },
                        std::chrono::seconds(10)));
  EXPECT_EQ(Count(c, "{job=\"systemd-journal\"}"), 5) << shipper.AllLogs();
  EXPECT_EQ(MetricValue(shipper.Metrics(), "logq_shipper_journal_entries_total"), 1) << shipper.Metrics();
  st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
}

}  // namespace
}  // namespace logq::e2e
