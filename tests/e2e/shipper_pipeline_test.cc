// logq-shipper's pipeline_stages end to end: the real shipper runs cri (no-op), json +
// labels + timestamp + output inside a match, drop, and multiline, and pushes to the real
// logq-store. The store must hold exactly the transformed entries (labels, timestamps, lines),
// the positions file must advance past processed and dropped lines but stay before a record
// that multiline still holds, and a SIGKILL while a record is held must not lose any of its
// lines: after the restart the record is read again from its first line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "query/base/units.h"
#include "tests/e2e/shipper_e2e_util.h"
#include "tests/testing/temp_dir.h"

namespace logq::e2e {
namespace {

constexpr const char* kStages = R"(    pipeline_stages:
      - cri: {}
      - match:
          selector: '{container="app"}'
          stages:
            - json:
                expressions:
                  level: level
                  msg: msg
                  ts: ts
            - labels:
                level:
            - timestamp:
                source: ts
                format: RFC3339Nano
            - output:
                source: msg
      - drop:
          expression: healthz
      - match:
          selector: '{container="java"}'
          stages:
            - multiline:
                firstline: '^\d{4}-\d{2}-\d{2} '
                max_wait_time: 10m
)";

void AppendCri(const std::string& path, const std::string& msg) {
  std::ofstream(path, std::ios::app) << FormatRFC3339Nano(NowNs()) << " stdout F " << msg << "\n";
}

std::string JavaFirstLine(int i) { return "2024-05-02 10:00:00 ERROR request failed seq=" + std::to_string(i); }
std::vector<std::string> JavaRecord(int i) {
  std::vector<std::string> r = {JavaFirstLine(i)};
  for (int f = 0; f < 1 + i % 4; ++f) {
    r.push_back("    at com.example.Frame" + std::to_string(f) + ".call(Frame.java:" + std::to_string(i) + ")");
  }
  return r;
}
std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}

// The offset the positions file holds for `path` (-1 if absent).
int64_t PositionOf(const std::string& positions_file, const std::string& path) {
  std::string text = testing::ReadFileOrEmpty(positions_file);
  std::string key = "\"" + path + "\": \"";
  size_t p = text.find(key);
  if (p == std::string::npos) return -1;
  return std::atoll(text.c_str() + p + key.size());
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST(ShipperPipelineTest, StagesRunInTheShipperAndMultilineSurvivesKill9) {
  testing::TempDir tmp;
  uint16_t port = FreePort();
  auto store = StartStoreOnPort(port);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string pods = tmp.path() + "/pods";
  std::string app = pods + "/e2e_app-1_u1/app";
  std::string java = pods + "/e2e_java-1_u2/java";
  std::filesystem::create_directories(app);
  std::filesystem::create_directories(java);
  std::string positions = tmp.path() + "/positions.yaml";

  // app: JSON lines; their own timestamps are 20 minutes in the past (not the CRI time).
  const int64_t base = (NowNs() - 1200 * kSecond) / kSecond * kSecond;
  const int kApp = 300;
  int healthz = 0;
  for (int i = 0; i < kApp; ++i) {
    std::string ts = FormatRFC3339Nano(base + i * 1000000LL);
    if (i % 10 == 9) {
      AppendCri(app + "/0.log", R"({"level":"debug","msg":"GET /healthz 200","ts":")" + ts + "\"}");
      ++healthz;
    } else {
      AppendCri(app + "/0.log", std::string(R"({"level":")") + (i % 3 == 0 ? "warn" : "info") +
                                    R"(","msg":"app seq=)" + std::to_string(i) + R"(","ts":")" + ts + "\"}");
    }
  }
  // java: multiline records; the last one written is held by the multiline stage.
  int java_records = 0;
  auto write_record = [&](int i) {
    for (const auto& l : JavaRecord(i)) AppendCri(java + "/0.log", l);
  };
  for (; java_records < 20; ++java_records) write_record(java_records);

  ShipperProcess shipper(tmp.path(),
      "positions:\n  filename: " + positions + "\n  sync_period: 100ms\n"
      "clients:\n  - url: http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push\n"
      "    batchwait: 100ms\n"
      "scrape_configs:\n  - job_name: pods\n" + kStages +
      "shipper:\n  pods_root: " + pods + "\n  node_name: e2e-node\n");
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  TestHttpClient c((*store)->base_url());
  const int64_t qs = base - kMinute, qe = NowNs() + 5 * kMinute;

  // json + labels + timestamp + output, and drop.
  auto app_count = [&] {
    return CountInStore(c, "{namespace=\"e2e\", container=\"app\", level=\"info\"}", qs, qe + kMinute) +
           CountInStore(c, "{namespace=\"e2e\", container=\"app\", level=\"warn\"}", qs, qe + kMinute);
  };
  ASSERT_TRUE(PollUntil([&] { return app_count() == kApp - healthz; }, std::chrono::seconds(30)))
      << app_count() << " of " << kApp - healthz << "\n" << shipper.AllLogs();
  for (const std::string level : {"info", "warn"}) {
    Entries got;
    std::string err;
    ASSERT_TRUE(QueryAll(c, "{namespace=\"e2e\", container=\"app\", level=\"" + level + "\"}", qs, qe, 1000, &got, &err))
        << err;
    for (const auto& [ts, line] : got) {
      ASSERT_EQ(line.rfind("app seq=", 0), 0u) << line;
      int i = std::atoi(line.c_str() + 8);
      EXPECT_EQ(ts, base + i * 1000000LL) << "timestamp from the JSON field, line " << i;
      EXPECT_EQ(level, i % 3 == 0 ? "warn" : "info") << i;
    }
  }
  EXPECT_EQ(CountInStore(c, "{namespace=\"e2e\", container=\"app\"} |= \"healthz\"", qs, qe + kMinute), 0);
  EXPECT_EQ(MetricValue(shipper.Metrics(), "logq_shipper_pipeline_dropped_entries_total{reason=\"drop_stage\"}"),
            healthz);
  // Dropped lines count as processed: the whole app file is committed.
  ASSERT_TRUE(PollUntil([&] { return PositionOf(positions, app + "/0.log") == FileSize(app + "/0.log"); },
                        std::chrono::seconds(10)))
      << testing::ReadFileOrEmpty(positions);

  // multiline: records 0..18 are complete (19 is held until the next first line).
  auto java_entries = [&](Entries* got) {
    std::string err;
    bool ok = QueryAll(c, "{namespace=\"e2e\", container=\"java\"}", NowNs() - 10 * kMinute, qe, 1000, got, &err);
    EXPECT_TRUE(ok) << err;
  };
  Entries got;
  ASSERT_TRUE(PollUntil([&] {
    java_entries(&got);
    return got.size() == 19;
  }, std::chrono::seconds(30))) << got.size() << "\n" << shipper.AllLogs();
  for (int i = 0; i < 19; ++i) EXPECT_EQ(got[i].second, Joined(JavaRecord(i))) << i;
  // The position stays at the start of the held record 19.
  int64_t held_start = 0;
  {
    std::string text = testing::ReadFileOrEmpty(java + "/0.log");
    size_t p = text.find(JavaFirstLine(19));
    ASSERT_NE(p, std::string::npos);
    held_start = static_cast<int64_t>(text.rfind('\n', p) + 1);
  }
  ASSERT_TRUE(PollUntil([&] { return PositionOf(positions, java + "/0.log") == held_start; },
                        std::chrono::seconds(10)))
      << "expected " << held_start << ":\n" << testing::ReadFileOrEmpty(positions);

  // Start record 20 (flushes 19), add part of 21's stack trace, then SIGKILL while 20 and the
  // first lines of 21 are held.
  write_record(20);
  std::vector<std::string> r21 = JavaRecord(21);
  AppendCri(java + "/0.log", r21[0]);
  ASSERT_TRUE(PollUntil([&] {
    java_entries(&got);
    return got.size() == 21;
  }, std::chrono::seconds(30))) << got.size() << "\n" << shipper.AllLogs();
  // Another file of the same scrape config ends (its pod is deleted): only ITS held entries
  // are released, record 21's block stays whole.
  std::filesystem::remove_all(pods + "/e2e_app-1_u1");
  ASSERT_TRUE(PollUntil([&] { return MetricValue(shipper.Metrics(), "logq_shipper_tracked_files") == 1; },
                        std::chrono::seconds(20)))
      << shipper.Metrics();
  java_entries(&got);
  ASSERT_EQ(got.size(), 21u) << "a held block was released by another file's end";
  shipper.Kill();
  for (size_t k = 1; k < r21.size(); ++k) AppendCri(java + "/0.log", r21[k]);
  write_record(22);
  write_record(23);  // 23 stays held at the end
  ASSERT_TRUE(shipper.Start().ok()) << shipper.Log();
  ASSERT_TRUE(PollUntil([&] {
    java_entries(&got);
    return got.size() >= 23;
  }, std::chrono::seconds(30))) << got.size() << "\n" << shipper.AllLogs();
  ASSERT_EQ(got.size(), 23u);
  for (int i = 0; i < 23; ++i) EXPECT_EQ(got[i].second, Joined(JavaRecord(i))) << "record " << i;

  // SIGTERM keeps record 23 held: its position is before it, and it is read after a restart.
  auto code = shipper.Terminate();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << shipper.Log();
  std::string text = testing::ReadFileOrEmpty(java + "/0.log");
  size_t p = text.find(JavaFirstLine(23));
  ASSERT_NE(p, std::string::npos);
  EXPECT_EQ(PositionOf(positions, java + "/0.log"), static_cast<int64_t>(text.rfind('\n', p) + 1))
      << testing::ReadFileOrEmpty(positions);
  EXPECT_EQ(PositionOf(positions, app + "/0.log"), -1) << "the deleted file's entry is gone";
  EXPECT_EQ(app_count(), kApp - healthz) << "nothing re-sent or lost on the app file";
}

}  // namespace
}  // namespace logq::e2e
