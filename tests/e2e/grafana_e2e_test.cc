// The requests Grafana's Loki datasource, Logs Drilldown and logcli send
// (shared/LOKI-API.md Appendix A), against the real logq-store binary.
#include <gtest/gtest.h>

#include <set>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

using json = nlohmann::json;

class GrafanaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = StoreProcess::Start(StoreOptions{});
    ASSERT_TRUE(started.ok()) << started.status().message();
    store_ = std::move(started).value();
    client_ = std::make_unique<TestHttpClient>(store_->base_url());
    now_ = NowNs();
    base_ = now_ - 10 * kMinute;
    std::vector<api::PushEntry> api_entries, web_entries;
    for (int i = 0; i < 60; ++i) {
      std::string level = i % 10 == 0 ? "error" : "info";
      api_entries.push_back(Entry(base_ + i * kSecond, "{\"level\":\"" + level + "\",\"msg\":\"request " +
                                                           std::to_string(i) + "\",\"status\":" +
                                                           std::to_string(i % 10 == 0 ? 500 : 200) + "}"));
      web_entries.push_back(Entry(base_ + i * kSecond + 500'000'000, "level=" + level + " path=/p" +
                                                                         std::to_string(i % 3) + " latency=" +
                                                                         std::to_string(i) + "ms"));
    }
    HttpReply r = PushProto(*client_, Request({Stream(R"({app="api", env="prod"})", api_entries),
                                               Stream(R"({app="web", env="prod"})", web_entries)}));
    ASSERT_EQ(r.status, 204) << r.Describe();
  }

  HttpReply Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
                const HttpHeaders& headers = {}) {
    return client_->Get(testing::PathWithQuery(path, params), headers);
  }
  json GetJson(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params,
               const HttpHeaders& headers = {}) {
    HttpReply r = Get(path, params, headers);
    EXPECT_EQ(r.status, 200) << r.Describe();
    json j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  std::string S(int64_t ns) { return std::to_string(ns); }

  std::unique_ptr<StoreProcess> store_;
  std::unique_ptr<TestHttpClient> client_;
  int64_t now_ = 0, base_ = 0;
};

TEST_F(GrafanaTest, SaveAndTestHealthCheckAnswersTwo) {
  json j = GetJson("/loki/api/v1/query",
                   {{"direction", "backward"}, {"query", "vector(1)+vector(1)"}, {"time", "4000000000"}},
                   {{"X-Loki-Response-Encoding-Flags", "categorize-labels"}});
  ASSERT_EQ(j["data"]["resultType"], "vector");
  ASSERT_EQ(j["data"]["result"].size(), 1u);
  EXPECT_EQ(j["data"]["result"][0]["metric"], json::object());
  EXPECT_EQ(j["data"]["result"][0]["value"][1], "2");
  EXPECT_TRUE(j["data"]["result"][0]["value"][0].is_number());
}

TEST_F(GrafanaTest, ExploreLogPanelWithCategorizeLabels) {
  // A.1: Grafana 12 always sends the encoding flag; values must be 3-tuples and
  // encodingFlags must precede result in the raw body.
  HttpReply r = Get("/loki/api/v1/query_range",
                    {{"direction", "backward"}, {"end", S(now_)}, {"limit", "1000"},
                     {"query", R"({app="api"} |= "error")"}, {"start", S(now_ - kHour)}, {"step", "2000ms"}},
                    {{"X-Loki-Response-Encoding-Flags", "categorize-labels"}, {"X-Query-Tags", "Source=grafana"}});
  ASSERT_EQ(r.status, 200) << r.Describe();
  ASSERT_LT(r.body.find("\"encodingFlags\""), r.body.find("\"result\""));
  json j = json::parse(r.body);
  EXPECT_EQ(j["status"], "success");
  ASSERT_EQ(j["data"]["result"].size(), 1u);
  const json& values = j["data"]["result"][0]["values"];
  ASSERT_EQ(values.size(), 6u);
  for (const json& v : values) {
    ASSERT_EQ(v.size(), 3u);
    EXPECT_TRUE(v[0].is_string());
    EXPECT_TRUE(v[2].is_object());
  }
  EXPECT_GT(std::stoll(values[0][0].get<std::string>()), std::stoll(values[1][0].get<std::string>()));
  EXPECT_TRUE(j["data"]["stats"]["summary"]["execTime"].is_number());
}

TEST_F(GrafanaTest, ParsedLabelsAreCategorizedAndMergedWithoutTheFlag) {
  auto params = std::vector<std::pair<std::string, std::string>>{
      {"direction", "backward"}, {"end", S(now_)}, {"limit", "5"},
      {"query", R"({app="api"} | json | level="error")"}, {"start", S(now_ - kHour)}};
  json cat = GetJson("/loki/api/v1/query_range", params, {{"X-Loki-Response-Encoding-Flags", "categorize-labels"}});
  ASSERT_EQ(cat["data"]["result"].size(), 1u);
  EXPECT_EQ(cat["data"]["result"][0]["stream"], (json{{"app", "api"}, {"env", "prod"}}));
  EXPECT_EQ(cat["data"]["result"][0]["values"][0][2]["parsed"]["level"], "error");
  json plain = GetJson("/loki/api/v1/query_range", params);
  ASSERT_FALSE(plain["data"]["result"].empty());
  EXPECT_EQ(plain["data"]["result"][0]["stream"]["level"], "error");
  EXPECT_EQ(plain["data"]["result"][0]["values"][0].size(), 2u);
}

TEST_F(GrafanaTest, LogsVolumeHistogramGroupsByLevel) {
  // A.2 in its Grafana 11 form (detected_level and a drop stage).
  json j = GetJson("/loki/api/v1/query_range",
                   {{"direction", "backward"}, {"end", S(now_)}, {"limit", "1000"},
                    {"query", R"(sum by (level, detected_level) (count_over_time({app="web"} | logfmt | drop __error__[10s])))"},
                    {"start", S(base_)}, {"step", "10000ms"}},
                   {{"X-Query-Tags", "Source=logvolhist"}});
  ASSERT_EQ(j["data"]["resultType"], "matrix");
  double errors = 0, infos = 0;
  for (const json& s : j["data"]["result"]) {
    for (const json& v : s["values"]) {
      (s["metric"]["level"] == "error" ? errors : infos) += std::stod(v[1].get<std::string>());
    }
  }
  EXPECT_EQ(errors, 6);
  EXPECT_EQ(infos, 54);
}

TEST_F(GrafanaTest, MetricPanelPointsAreOnTheStepGridAsInLoki) {
  // Issue 13 item 15: Loki's query frontend rounds a metric query_range's start down and its
  // end up to a multiple of step, so a panel's points sit at multiples of step whatever the
  // dashboard's time range. The request is Grafana's (ns bounds, step in ms), with a start
  // 7s past a minute so that an unaligned evaluation would be visible.
  const int64_t start = base_ / kMinute * kMinute + 7 * kSecond;
  json j = GetJson("/loki/api/v1/query_range",
                   {{"direction", "backward"}, {"end", S(now_)}, {"limit", "1000"},
                    {"query", R"(sum by (env) (count_over_time({app="api"}[1m])))"}, {"start", S(start)},
                    {"step", "60000ms"}},
                   {{"X-Query-Tags", "Source=grafana"}});
  ASSERT_EQ(j["data"]["resultType"], "matrix");
  ASSERT_EQ(j["data"]["result"].size(), 1u);
  double total = 0;
  for (const json& v : j["data"]["result"][0]["values"]) {
    const int64_t t = v[0].get<int64_t>();
    EXPECT_EQ(t % 60, 0) << t;
    EXPECT_GE(t, start / kSecond - 60);
    EXPECT_LE(t, now_ / kSecond + 60);
    total += std::stod(v[1].get<std::string>());
  }
  // The 1m windows tile the grid back to a minute before its first point: all 60 api entries.
  EXPECT_EQ(total, 60);
}

TEST_F(GrafanaTest, InstantStatPanelAndMetadataCalls) {
  json inst = GetJson("/loki/api/v1/query", {{"direction", "backward"}, {"limit", "1000"},
                                             {"query", R"(sum(count_over_time({env="prod"}[1h])))"},
                                             {"time", S(now_)}});
  EXPECT_EQ(inst["data"]["result"][0]["value"][1], "120");

  // A.4: label browser, values with a selector, series, stats hint.
  json labels = GetJson("/loki/api/v1/labels", {{"start", S(now_ - kHour)}, {"end", S(now_)}});
  EXPECT_EQ(labels, (json{{"status", "success"}, {"data", {"app", "env"}}}));
  json values = GetJson("/loki/api/v1/label/app/values",
                        {{"start", S(now_ - kHour)}, {"end", S(now_)}, {"query", R"({env="prod"})"}});
  EXPECT_EQ(values["data"], (json{"api", "web"}));
  json series = GetJson("/loki/api/v1/series", {{"match[]", R"({app="api"})"}, {"start", S(now_ - kHour)},
                                                {"end", S(now_)}});
  EXPECT_EQ(series["data"], (json::array({{{"app", "api"}, {"env", "prod"}}})));
  json stats = GetJson("/loki/api/v1/index/stats", {{"query", R"({app="api"})"}, {"start", S(now_ - kHour)},
                                                    {"end", S(now_)}});
  EXPECT_EQ(stats["streams"], 1);
  EXPECT_EQ(stats["entries"], 60);
}

TEST_F(GrafanaTest, SaveAndTestLabelsListDataOlderThanItsTenMinutes) {
  // Grafana 9.x-10.1 "Save & test" asks labels for the last 10 minutes and fails with "no
  // labels" on an empty answer. Loki's ingester answers from every stream it holds whatever
  // the entries' times, so data pushed with 30-minute-old timestamps still gives labels.
  HttpReply r = PushProto(*client_, Request({Stream(R"({job="nightly"})",
                                                    {Entry(now_ - 30 * kMinute, "batch done")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  const int64_t now = NowNs();
  json labels = GetJson("/loki/api/v1/labels", {{"start", S(now - 10 * kMinute)}, {"end", S(now)}});
  EXPECT_EQ(labels, (json{{"status", "success"}, {"data", {"app", "env", "job"}}}));
  json values = GetJson("/loki/api/v1/label/job/values", {{"start", S(now - 10 * kMinute)}, {"end", S(now)}});
  EXPECT_EQ(values["data"], (json{"nightly"}));
}

TEST_F(GrafanaTest, LogsDrilldownCalls) {
  const std::string start = "2000-01-01T00:00:00.000Z";
  // A.6: RFC3339 times; volume over the selector's label names.
  json vol = GetJson("/loki/api/v1/index/volume", {{"query", R"({app=~".+"})"}, {"start", start},
                                                   {"end", S(now_)}, {"limit", "5000"}},
                     {{"X-Query-Tags", "Source=grafana-lokiexplore-app"}});
  ASSERT_EQ(vol["data"]["resultType"], "vector");
  ASSERT_EQ(vol["data"]["result"].size(), 2u);
  std::set<std::string> apps;
  for (const json& s : vol["data"]["result"]) {
    apps.insert(s["metric"]["app"].get<std::string>());
    EXPECT_GT(std::stod(s["value"][1].get<std::string>()), 0);
  }
  EXPECT_EQ(apps, (std::set<std::string>{"api", "web"}));
  json dl = GetJson("/loki/api/v1/detected_labels", {{"query", ""}, {"start", start}, {"end", S(now_)}});
  EXPECT_EQ(dl["detectedLabels"].size(), 2u);
  json df = GetJson("/loki/api/v1/detected_fields",
                    {{"query", R"({app="web"} | logfmt | drop __error__, __error_details__)"}, {"start", start},
                     {"end", S(now_)}});
  bool latency = false;
  for (const json& f : df["fields"]) {
    if (f["label"] == "latency") {
      latency = true;
      EXPECT_EQ(f["type"], "duration");
      EXPECT_EQ(f["parsers"], (json{"logfmt"}));
    }
  }
  EXPECT_TRUE(latency) << df.dump();
  json dv = GetJson("/loki/api/v1/detected_field/path/values",
                    {{"query", R"({app="web"})"}, {"start", start}, {"end", S(now_)}});
  EXPECT_EQ(dv["values"], (json{"/p0", "/p1", "/p2"}));
  EXPECT_EQ(GetJson("/loki/api/v1/patterns", {{"query", R"({app="web"})"}})["data"], json::array());
  EXPECT_EQ(GetJson("/loki/api/v1/drilldown-limits", {})["pattern_ingester_enabled"], false);
}

TEST_F(GrafanaTest, LogcliBatchPagingReturnsEveryLineOnce) {
  // Conformance vector 17: `logcli query --limit 50 --batch 20` pages with end = lastTs + 1ns
  // and drops entries it already printed.
  std::set<std::string> seen;
  int64_t end = now_;
  int requests = 0;
  while (seen.size() < 50 && requests < 10) {
    // logcli asks for one extra line after the first batch: the boundary line repeats.
    const size_t want = std::min<size_t>(20, 50 - seen.size() + (requests > 0 ? 1 : 0));
    json j = GetJson("/loki/api/v1/query_range",
                     {{"direction", "BACKWARD"}, {"end", S(end)}, {"limit", std::to_string(want)},
                      {"query", R"({app="api"})"}, {"start", S(now_ - kHour)}});
    ++requests;
    int64_t oldest = INT64_MAX;
    size_t fresh = 0;
    for (const json& s : j["data"]["result"]) {
      for (const json& v : s["values"]) {
        const int64_t ts = std::stoll(v[0].get<std::string>());
        oldest = std::min(oldest, ts);
        fresh += seen.insert(v[0].get<std::string>() + v[1].get<std::string>()).second;
      }
    }
    if (fresh == 0) break;
    end = oldest + 1;
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(requests, 3);
}

TEST_F(GrafanaTest, FormatQueryAndErrorsAreText) {
  json f = GetJson("/loki/api/v1/format_query", {{"query", R"({app="api"}|="x")"}});
  EXPECT_EQ(f["data"], R"({app="api"} |= "x")");
  HttpReply bad = Get("/loki/api/v1/query_range", {{"query", R"({app="api")"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.rfind("parse error at line 1, col", 0), 0u) << bad.body;
  EXPECT_EQ(bad.Header("Content-Type").rfind("text/plain", 0), 0u);
}

}  // namespace
}  // namespace logq::e2e
