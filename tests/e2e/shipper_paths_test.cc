// logq-shipper with a plain Promtail config (issue 14): __path__ globs decide what is tailed,
// in any directory, end to end with the real store and real files.
//  * kubelet-layout files under a temp dir through "<dir>/*/*/*.log" with `cri: {}`: the CRI
//    prefix is decoded, labels are Promtail's (static labels + filename, no pod labels);
//  * plain files through "**" with __path_exclude__: lines sent as written (no decoding);
//  * files and directories created after the start are picked up; every line exactly once;
//  * a scrape config whose __path__ matches nothing is named in a warning and in /targets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "query/base/units.h"
#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

void AppendCri(const std::string& path, const std::string& msg) {
  std::ofstream(path, std::ios::app) << FormatRFC3339Nano(NowNs()) << " stdout F " << msg << "\n";
}
void AppendLine(const std::string& path, const std::string& msg) { std::ofstream(path, std::ios::app) << msg << "\n"; }

// Lines of the one stream `selector` selects (empty on error, with the error in *err).
std::vector<std::string> Lines(TestHttpClient& c, const std::string& selector, std::string* err) {
  Entries entries;
  std::vector<std::string> out;
  if (!QueryAll(c, selector, NowNs() - 10 * kMinute, NowNs() + kMinute, 5000, &entries, err)) return out;
  for (auto& [ts, line] : entries) out.push_back(line);
  return out;
}

TEST(ShipperPathsTest, PromtailStaticConfigGlobsExcludesAndNewFiles) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string k8s = tmp.path() + "/k8s", app = tmp.path() + "/app";
  std::string web = k8s + "/shop_web-1_u1/nginx";
  std::filesystem::create_directories(web);
  std::filesystem::create_directories(app + "/sub/deep");
  for (int i = 0; i < 5; ++i) AppendCri(web + "/0.log", "pod line " + std::to_string(i));
  AppendLine(app + "/a.log", "2026-12-07 plain a 1 stdout F not cri");
  AppendLine(app + "/sub/deep/c.log", "plain c 1");
  AppendLine(app + "/sub/skip.log", "excluded 1");
  AppendLine(app + "/notes.txt", "not matched 1");
  std::string config =
      "server:\n  http_listen_port: 0\n"
      "positions:\n  filename: " + tmp.path() + "/positions.yaml\n  sync_period: 100ms\n"
      "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n    batchwait: 100ms\n"
      "scrape_configs:\n"
      "  - job_name: pods\n"
      "    pipeline_stages:\n      - cri: {}\n"
      "    static_configs:\n      - targets: [localhost]\n        labels:\n          job: podlogs\n"
      "          __path__: " + k8s + "/*/*/*.log\n"
      "  - job_name: apps\n"
      "    static_configs:\n      - targets: [localhost]\n        labels:\n          job: apps\n"
      "          __path__: " + app + "/**/*.log\n"
      "          __path_exclude__: " + app + "/**/skip*.log\n"
      "  - job_name: nothing-here\n"
      "    static_configs:\n      - targets: [localhost]\n        labels:\n          job: none\n"
      "          __path__: " + tmp.path() + "/missing/{a,b}/*.log\n"
      "shipper:\n  fallback_poll_interval: 200ms\n";
  ShipperProcess shipper(tmp.path(), config);
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  const int64_t end = NowNs() + 10 * kMinute;
  std::string sel_web = "{job=\"podlogs\", filename=\"" + web + "/0.log\"}";
  ASSERT_TRUE(PollUntil([&] { return CountInStore(c, sel_web, 0, end) == 5; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  std::string err;
  auto web_lines = Lines(c, sel_web, &err);
  ASSERT_EQ(web_lines.size(), 5u) << err;
  EXPECT_EQ(web_lines[0], "pod line 0");  // CRI prefix decoded by the cri stage
  std::string sel_a = "{job=\"apps\", filename=\"" + app + "/a.log\"}";
  ASSERT_TRUE(PollUntil([&] { return CountInStore(c, sel_a, 0, end) == 1; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  auto a_lines = Lines(c, sel_a, &err);
  ASSERT_EQ(a_lines.size(), 1u) << err;
  EXPECT_EQ(a_lines[0], "2026-12-07 plain a 1 stdout F not cri");  // sent as written
  std::string sel_c = "{job=\"apps\", filename=\"" + app + "/sub/deep/c.log\"}";
  ASSERT_TRUE(PollUntil([&] { return CountInStore(c, sel_c, 0, end) == 1; }, std::chrono::seconds(20)))
      << shipper.AllLogs();

  // Created after the start: a new pod directory, a new directory under "**", a new file.
  std::string api = k8s + "/shop_api-2_u2/api";
  std::filesystem::create_directories(api);
  AppendCri(api + "/0.log", "api line 0");
  std::filesystem::create_directories(app + "/sub/new/deeper");
  AppendLine(app + "/sub/new/deeper/d.log", "plain d 1");
  AppendLine(app + "/b.log", "plain b 1");
  AppendLine(app + "/sub/skip-2.log", "excluded 2");
  for (int i = 5; i < 10; ++i) AppendCri(web + "/0.log", "pod line " + std::to_string(i));
  AppendLine(app + "/a.log", "plain a 2");
  std::string sel_api = "{job=\"podlogs\", filename=\"" + api + "/0.log\"}";
  std::string sel_d = "{job=\"apps\", filename=\"" + app + "/sub/new/deeper/d.log\"}";
  std::string sel_b = "{job=\"apps\", filename=\"" + app + "/b.log\"}";
  ASSERT_TRUE(PollUntil(
      [&] {
        return CountInStore(c, sel_api, 0, end) == 1 && CountInStore(c, sel_d, 0, end) == 1 &&
               CountInStore(c, sel_b, 0, end) == 1 && CountInStore(c, sel_web, 0, end) == 10 &&
               CountInStore(c, sel_a, 0, end) == 2;
      },
      std::chrono::seconds(20)))
      << shipper.AllLogs();
  // Exactly once, and nothing from excluded or unmatched files; no pod labels for static configs.
  EXPECT_EQ(CountInStore(c, "{job=\"apps\"}", 0, end), 5);
  EXPECT_EQ(CountInStore(c, "{job=\"podlogs\"}", 0, end), 11);
  EXPECT_EQ(CountInStore(c, "{job=~\".+\"} |= \"excluded\"", 0, end), 0);
  EXPECT_EQ(CountInStore(c, "{job=~\".+\"} |= \"not matched\"", 0, end), 0);
  EXPECT_EQ(CountInStore(c, "{namespace=~\".+\"}", 0, end), 0);
  web_lines = Lines(c, sel_web, &err);
  ASSERT_EQ(web_lines.size(), 10u) << err;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(web_lines[i], "pod line " + std::to_string(i));

  // The empty scrape config is named in a warning and in /targets.
  EXPECT_TRUE(Contains(shipper.Log(), "scrape config \"nothing-here\": __path__")) << shipper.Log();
  std::string targets;
  ASSERT_TRUE(PollUntil(
      [&] {
        targets = shipper.Get("/targets");
        return Contains(targets, app + "/b.log");
      },
      std::chrono::seconds(10)))
      << targets;
  auto j = nlohmann::json::parse(targets, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << targets;
  ASSERT_EQ(j["scrape_configs"].size(), 3u) << targets;
  EXPECT_EQ(j["scrape_configs"][0]["job_name"], "pods");
  EXPECT_EQ(j["scrape_configs"][0]["files"], 2);
  EXPECT_EQ(j["scrape_configs"][1]["files"], 4);
  EXPECT_EQ(j["scrape_configs"][1]["path_excludes"][0], app + "/**/skip*.log");
  EXPECT_EQ(j["scrape_configs"][2]["job_name"], "nothing-here");
  EXPECT_EQ(j["scrape_configs"][2]["files"], 0);

  // The directory of the empty config appears later: picked up by polling its root.
  std::filesystem::create_directories(tmp.path() + "/missing/b");
  AppendLine(tmp.path() + "/missing/b/late.log", "late 1");
  ASSERT_TRUE(PollUntil([&] { return CountInStore(c, "{job=\"none\"}", 0, end) == 1; }, std::chrono::seconds(20)))
      << shipper.AllLogs();
  auto st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
}

// Every line of the one stream `selector` selects: seq in [0, n) of writer stream `id` exactly once.
StreamCheck CheckSelector(TestHttpClient& c, const std::string& selector, const std::string& id, int64_t n,
                          int64_t start) {
  StreamCheck r;
  r.expected = n;
  Entries entries;
  std::string err;
  if (!QueryAll(c, selector, start, NowNs() + kMinute, 5000, &entries, &err)) {
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
    if (++seen[seq] == 2 && r.first_problem.empty()) r.first_problem = "duplicate seq " + std::to_string(seq);
    if (seen[seq] == 2) ++r.duplicated;
  }
  for (int64_t s = 0; s < n; ++s) {
    if (!seen.count(s)) {
      ++r.lost;
      if (r.first_problem.empty()) r.first_problem = "lost seq " + std::to_string(s);
    }
  }
  return r;
}

// The target: a Promtail config (static __path__ into a kubelet-style tree, `cri: {}`)
// with kubelet rename + gzip rotation and three kill -9: nothing lost, nothing duplicated.
TEST(ShipperPathsTest, PromtailConfigOnKubeletRotationSurvivesThreeKill9) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::filesystem::create_directories(pods + "/e2e_web-0_uid-0");
  std::filesystem::create_directories(pods + "/e2e_db-0_uid-1");
  int64_t start = NowNs() - kMinute;
  ContainerWriter app(pods + "/e2e_web-0_uid-0/app", "app", RotateMode::kKubelet, 150, 120);
  ContainerWriter db(pods + "/e2e_db-0_uid-1/db", "db", RotateMode::kKubelet, 120, 100);
  std::string config =
      "server:\n  http_listen_port: 0\n"
      "positions:\n  filename: " + tmp.path() + "/positions.yaml\n  sync_period: 200ms\n"
      "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n    batchwait: 200ms\n"
      "scrape_configs:\n  - job_name: pods\n    pipeline_stages:\n      - cri: {}\n"
      "    static_configs:\n      - targets: [localhost]\n        labels:\n          job: podlogs\n"
      "          __path__: " + pods + "/*/*/*.log\n";
  ShipperProcess shipper(tmp.path(), config);
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  app.Start();
  db.Start();
  const int schedule_ms[][2] = {{1500, 700}, {1300, 1500}, {1700, 400}};
  for (const auto& s : schedule_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(s[0]));  // schedule, not a wait
    shipper.Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(s[1]));
    ASSERT_TRUE(shipper.Start().ok()) << shipper.AllLogs();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  app.Stop();
  db.Stop();
  EXPECT_GE(app.rotations(), 4);
  TestHttpClient c((*store)->base_url());
  int64_t total = 0;
  for (auto* w : {&app, &db}) total += w->written("stdout") + w->written("stderr");
  EXPECT_TRUE(PollUntil([&] { return CountInStore(c, "{job=\"podlogs\"}", start, NowNs() + kMinute) >= total; },
                        std::chrono::seconds(30)))
      << CountInStore(c, "{job=\"podlogs\"}", start, NowNs() + kMinute) << " of " << total << "\n"
      << shipper.AllLogs();
  for (auto* w : {&app, &db}) {
    std::string file = pods + (w == &app ? "/e2e_web-0_uid-0/app" : "/e2e_db-0_uid-1/db") + "/0.log";
    for (const std::string stream : {"stdout", "stderr"}) {
      SCOPED_TRACE(w->id() + "/" + stream);
      StreamCheck r = CheckSelector(c, "{job=\"podlogs\", filename=\"" + file + "\", stream=\"" + stream + "\"}",
                                    w->id() + "/" + stream, w->written(stream), start);
      EXPECT_GT(r.expected, 0);
      EXPECT_EQ(r.lost, 0) << r.first_problem << "\n" << shipper.AllLogs();
      EXPECT_EQ(r.duplicated, 0) << r.first_problem;
      EXPECT_EQ(r.corrupt, 0) << r.first_problem;
    }
  }
  EXPECT_EQ(MetricValue(shipper.Metrics(), "logq_shipper_unread_bytes_total"), 0);
  auto st = shipper.Terminate();
  ASSERT_TRUE(st.ok() && *st == 0) << shipper.AllLogs();
}

}  // namespace
}  // namespace logq::e2e
