// logq-shipper on plain files outside the kubelet layout (issue 14 B): logrotate's schemes with
// lines written around each rotation, checked line by line by sequence number in the real
// store, also across a shipper restart (SIGTERM) with a rotation while it is stopped:
//  * rename (`create`): the program keeps writing to the renamed file until it reopens;
//    numbered (x.log.1), compressed (x.log.2.gz) and dated (x.log-20261207) generations;
//  * copytruncate: the copy holds the lines written between the shipper's last read and the
//    truncation; they are read from the copy, nothing is duplicated.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "query/base/units.h"
#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

// A program writing its log with O_APPEND through one fd (reopened on "HUP").
class AppLog {
 public:
  explicit AppLog(std::string path) : path_(std::move(path)) { Reopen(); }
  ~AppLog() {
    if (fd_ >= 0) close(fd_);
  }
  void Reopen() {
    if (fd_ >= 0) close(fd_);
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd_, 0);
  }
  // Lines [from, to) of stream `id`.
  void Write(const std::string& id, int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i) s += Message(id, i) + "\n";
    ASSERT_EQ(write(fd_, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void GzipAndRemove(const std::string& from, const std::string& to) {
  std::string data = ReadAll(from);
  gzFile gz = gzopen(to.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
  gzclose(gz);
  ASSERT_EQ(unlink(from.c_str()), 0);
}

// logrotate's copytruncate: copy, then truncate the original in place.
void CopyTruncate(const std::string& path, const std::string& copy) {
  std::string data = ReadAll(path);
  std::ofstream(copy, std::ios::binary) << data;
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
}

// Every line of {job="rot", filename=file}: seq in [0, n) exactly once with the exact message.
StreamCheck CheckFile(TestHttpClient& c, const std::string& file, const std::string& id, int64_t n) {
  StreamCheck r;
  r.expected = n;
  Entries entries;
  std::string err;
  std::string sel = "{job=\"rot\", filename=\"" + file + "\"}";
  if (!QueryAll(c, sel, NowNs() - 30 * kMinute, NowNs() + kMinute, 5000, &entries, &err)) {
    r.first_problem = err;
    r.lost = n;
    return r;
  }
  std::map<int64_t, int> seen;
  for (const auto& [ts, line] : entries) {
    ++r.received;
    int64_t seq = line.rfind("seq=", 0) == 0 ? std::atoll(line.c_str() + 4) : -1;
    if (seq < 0 || line != Message(id, seq)) {
      ++r.corrupt;
      if (r.first_problem.empty()) r.first_problem = "corrupt line: " + line.substr(0, 200);
      continue;
    }
    if (++seen[seq] == 2) {
      ++r.duplicated;
      if (r.first_problem.empty()) r.first_problem = "duplicate seq " + std::to_string(seq);
    }
  }
  for (int64_t s = 0; s < n; ++s) {
    if (!seen.count(s)) {
      ++r.lost;
      if (r.first_problem.empty()) r.first_problem = "lost seq " + std::to_string(s);
    }
  }
  return r;
}

std::string Config(const std::string& tmp, const std::string& app, uint16_t port) {
  return "server:\n  http_listen_port: 0\n"
         "positions:\n  filename: " + tmp + "/positions.yaml\n  sync_period: 100ms\n"
         "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n    batchwait: 100ms\n"
         "scrape_configs:\n  - job_name: rot\n"
         "    static_configs:\n      - targets: [localhost]\n        labels:\n          job: rot\n"
         "          __path__: " + app + "/*.log\n"
         "shipper:\n  fallback_poll_interval: 200ms\n";
}

// Waits until exactly `n` lines arrived (or the deadline), then checks them one by one.
void ExpectExactlyOnce(TestHttpClient& c, ShipperProcess& shipper, const std::string& file, const std::string& id,
                       int64_t n) {
  StreamCheck r;
  bool ok = PollUntil(
      [&] {
        r = CheckFile(c, file, id, n);
        return r.received >= n;
      },
      std::chrono::seconds(30));
  // A moment more for late duplicates: poll until the positions settled (nothing in flight).
  PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_pending_bytes") == 0; },
            std::chrono::seconds(10));
  r = CheckFile(c, file, id, n);
  EXPECT_TRUE(ok) << "received " << r.received << " of " << n;
  EXPECT_EQ(r.lost, 0) << r.first_problem << "\n" << shipper.AllLogs();
  EXPECT_EQ(r.duplicated, 0) << r.first_problem << "\n" << shipper.AllLogs();
  EXPECT_EQ(r.corrupt, 0) << r.first_problem;
}

TEST(ShipperRotationTest, RenameRotationNumberedGzipAndDatedAcrossARestart) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string app = tmp.path() + "/app";
  std::filesystem::create_directories(app);
  std::string x = app + "/x.log";
  AppLog log(x);
  log.Write("x", 0, 100);
  ShipperProcess shipper(tmp.path(), Config(tmp.path(), app, port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());

  ExpectExactlyOnce(c, shipper, x, "x", 100);
  // create: rename, the program writes on until it reopens, then a new x.log. The shipper is
  // frozen (SIGSTOP) meanwhile, so the renamed file surely holds lines it has not read.
  ASSERT_EQ(kill(shipper.pid(), SIGSTOP), 0);
  log.Write("x", 100, 200);
  ASSERT_EQ(rename(x.c_str(), (app + "/x.log.1").c_str()), 0);
  log.Write("x", 200, 250);
  log.Reopen();
  log.Write("x", 250, 400);
  ASSERT_EQ(kill(shipper.pid(), SIGCONT), 0);
  ExpectExactlyOnce(c, shipper, x, "x", 400);

  // The next rotation compresses the older generation (x.log.1 → x.log.2.gz).
  ASSERT_EQ(kill(shipper.pid(), SIGSTOP), 0);
  GzipAndRemove(app + "/x.log.1", app + "/x.log.2.gz");
  ASSERT_EQ(rename(x.c_str(), (app + "/x.log.1").c_str()), 0);
  log.Write("x", 400, 450);
  log.Reopen();
  log.Write("x", 450, 500);
  ASSERT_EQ(kill(shipper.pid(), SIGCONT), 0);
  ExpectExactlyOnce(c, shipper, x, "x", 500);

  // Stopped: lines written, a dated rotation, more lines; the restart catches up.
  auto st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
  log.Write("x", 500, 550);
  ASSERT_EQ(rename(x.c_str(), (app + "/x.log-20261207").c_str()), 0);
  log.Write("x", 550, 560);
  log.Reopen();
  log.Write("x", 560, 600);
  ASSERT_TRUE(shipper.Start().ok()) << shipper.AllLogs();
  ExpectExactlyOnce(c, shipper, x, "x", 600);
  log.Write("x", 600, 650);
  ExpectExactlyOnce(c, shipper, x, "x", 650);
  st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
}

TEST(ShipperRotationTest, CopytruncateLinesAroundTheTruncationAndAcrossARestart) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string app = tmp.path() + "/app";
  std::filesystem::create_directories(app);
  std::string y = app + "/y.log";
  AppLog log(y);
  log.Write("y", 0, 10);
  ShipperProcess shipper(tmp.path(), Config(tmp.path(), app, port));
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  ExpectExactlyOnce(c, shipper, y, "y", 10);

  // Lines right before the copy and right after the truncation, while the shipper is frozen
  // (SIGSTOP): lines 10..99 are then only in the copy.
  ASSERT_EQ(kill(shipper.pid(), SIGSTOP), 0);
  log.Write("y", 10, 100);
  CopyTruncate(y, app + "/y.log.1");
  log.Write("y", 100, 200);
  ASSERT_EQ(kill(shipper.pid(), SIGCONT), 0);
  ExpectExactlyOnce(c, shipper, y, "y", 200);
  EXPECT_GE(MetricValue(shipper.Metrics(), "logq_shipper_file_truncations_total"), 1);

  // Stopped: lines, then logrotate's next copytruncate (y.log.1 → y.log.2, copy, truncate).
  auto st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
  log.Write("y", 200, 250);
  ASSERT_EQ(rename((app + "/y.log.1").c_str(), (app + "/y.log.2").c_str()), 0);
  CopyTruncate(y, app + "/y.log.1");
  log.Write("y", 250, 300);
  ASSERT_TRUE(shipper.Start().ok()) << shipper.AllLogs();
  ExpectExactlyOnce(c, shipper, y, "y", 300);
  st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
}

}  // namespace
}  // namespace logq::e2e
