// End-to-end tests of the live tail endpoint against the real logq-store binary, with the
// WebSocket client the CLI uses: history then live frames in Loki's shape, pipelines,
// legacy frames, parameter errors before the upgrade, the concurrent-tail limit and the
// release of a slot when a client goes away, max duration, metrics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "query/base/websocket_client.h"
#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

struct Frame {
  std::vector<std::tuple<std::string, int64_t, std::string>> entries;  // labels, ts, line
  size_t dropped = 0;
};

// Parses one v1 tail frame; fails the test on a shape error.
Frame ParseFrame(const std::string& text) {
  Frame f;
  auto j = nlohmann::json::parse(text, nullptr, false);
  EXPECT_TRUE(j.is_object()) << text;
  if (!j.is_object()) return f;
  EXPECT_TRUE(j.contains("streams") && j["streams"].is_array()) << text;
  for (const auto& s : j.value("streams", nlohmann::json::array())) {
    EXPECT_TRUE(s["stream"].is_object()) << text;
    for (const auto& v : s["values"]) {
      EXPECT_TRUE(v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_string()) << text;
      f.entries.emplace_back(LabelKey(s["stream"]), std::stoll(v[0].get<std::string>()), v[1].get<std::string>());
    }
  }
  if (j.contains("dropped_entries")) f.dropped = j["dropped_entries"].size();
  return f;
}

std::string TailUrl(const StoreProcess& store, const std::vector<std::pair<std::string, std::string>>& params,
                    const std::string& path = "/loki/api/v1/tail") {
  return "ws://127.0.0.1:" + std::to_string(store.port()) + testing::PathWithQuery(path, params);
}

// Reads frames until `want` entries arrived (or a 10 s deadline); returns them in order.
std::vector<std::tuple<std::string, int64_t, std::string>> ReadEntries(WebSocketClient& c, size_t want) {
  std::vector<std::tuple<std::string, int64_t, std::string>> out;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.size() < want && std::chrono::steady_clock::now() < until) {
    auto msg = c.Read(10'000);
    if (!msg.ok()) {
      ADD_FAILURE() << "read: " << msg.status().ToString();
      break;
    }
    Frame f = ParseFrame(*msg);
    out.insert(out.end(), f.entries.begin(), f.entries.end());
  }
  return out;
}

TEST(TailE2ETest, SendsHistoryOldestFirstThenLiveLinesOnce) {
  LOGQ_ASSERT_START(store);
  TestHttpClient http(store->base_url());
  const int64_t t0 = NowNs() - 30 * kSecond;
  ASSERT_EQ(PushProto(http, Request({Stream("{app=\"t\"}", {Entry(t0, "h1"), Entry(t0 + 1, "h2"), Entry(t0 + 2, "h3")}),
                                     Stream("{app=\"other\"}", {Entry(t0, "x")})}))
                .status,
            204);
  auto c = WebSocketClient::Connect(
      TailUrl(*store, {{"query", "{app=\"t\"}"}, {"limit", "2"}, {"start", std::to_string(t0 - kSecond)}}), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto hist = ReadEntries(**c, 2);
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(std::get<2>(hist[0]), "h2");  // the last `limit` entries, oldest first
  EXPECT_EQ(std::get<2>(hist[1]), "h3");
  EXPECT_EQ(std::get<0>(hist[0]), "{app=\"t\"}");

  const int64_t t1 = NowNs() - kSecond;
  std::vector<api::PushEntry> live;
  for (int i = 0; i < 250; ++i) live.push_back(Entry(t1 + i, "live " + std::to_string(i)));
  ASSERT_EQ(PushProto(http, Request({Stream("{app=\"t\"}", live), Stream("{app=\"other\"}", {Entry(t1, "no")})})).status,
            204);
  auto got = ReadEntries(**c, 250);
  ASSERT_EQ(got.size(), 250u);
  for (int i = 0; i < 250; ++i) {
    EXPECT_EQ(std::get<1>(got[i]), t1 + i);
    EXPECT_EQ(std::get<2>(got[i]), "live " + std::to_string(i));
  }
  // Nothing else (no duplicates, no other stream) arrives.
  auto extra = (*c)->Read(1500);
  EXPECT_EQ(extra.status().code(), StatusCode::kDeadlineExceeded) << (extra.ok() ? *extra : "");
}

TEST(TailE2ETest, RunsThePipelineAndSendsLegacyFrames) {
  LOGQ_ASSERT_START(store);
  TestHttpClient http(store->base_url());
  auto c = WebSocketClient::Connect(
      TailUrl(*store, {{"query", "{app=\"p\"} |= \"keep\" | logfmt | line_format \"{{.msg}}\""}}), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto legacy = WebSocketClient::Connect(TailUrl(*store, {{"query", "{app=\"p\"}"}}, "/api/prom/tail"), {});
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  const int64_t t = NowNs() - kSecond;
  ASSERT_EQ(PushProto(http, Request({Stream("{app=\"p\"}", {Entry(t, "msg=drop"), Entry(t + 1, "keep msg=yes")})})).status,
            204);
  auto got = ReadEntries(**c, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<2>(got[0]), "yes");
  EXPECT_EQ(std::get<0>(got[0]), "{app=\"p\", msg=\"yes\"}");  // parsed labels are part of the stream

  auto frame = (*legacy)->Read(10'000);
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  auto j = nlohmann::json::parse(*frame);
  ASSERT_TRUE(j["streams"].is_array()) << *frame;
  EXPECT_EQ(j["streams"][0]["labels"], "{app=\"p\"}") << *frame;
  EXPECT_EQ(j["streams"][0]["entries"][0]["line"], "msg=drop") << *frame;
  EXPECT_TRUE(j["streams"][0]["entries"][0]["ts"].is_string()) << *frame;
}

TEST(TailE2ETest, BadRequestsAreAnswered400BeforeTheUpgrade) {
  LOGQ_ASSERT_START(store);
  auto delay = WebSocketClient::Connect(TailUrl(*store, {{"query", "{a=\"b\"}"}, {"delay_for", "6"}}), {});
  ASSERT_FALSE(delay.ok());
  EXPECT_EQ(delay.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(delay.status().message(), "HTTP 400: delay_for can't be greater than 5");
  auto parse = WebSocketClient::Connect(TailUrl(*store, {{"query", "{a=\"b\""}}), {});
  ASSERT_FALSE(parse.ok());
  EXPECT_CONTAINS(parse.status().message(), "HTTP 400: parse error at line 1");
  auto metric = WebSocketClient::Connect(TailUrl(*store, {{"query", "count_over_time({a=\"b\"}[1m])"}}), {});
  ASSERT_FALSE(metric.ok());
  EXPECT_CONTAINS(metric.status().message(), "log queries only");
  TestHttpClient http(store->base_url());
  HttpReply plain = http.Get("/loki/api/v1/tail?query=%7Ba%3D%22b%22%7D");
  EXPECT_EQ(plain.status, 400) << plain.Describe();
  EXPECT_CONTAINS(plain.body, "WebSocket");
}

TEST(TailE2ETest, ConcurrentTailLimitAndSlotsFreedOnDisconnect) {
  LOGQ_ASSERT_START(store, {.flags = {"-limits-config.max-concurrent-tail-requests=2"}});
  const std::string url = TailUrl(*store, {{"query", "{a=\"b\"}"}});
  auto first = WebSocketClient::Connect(url, {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = WebSocketClient::Connect(url, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto third = WebSocketClient::Connect(url, {});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().message(),
            "HTTP 400: max concurrent tail requests limit exceeded, count > limit (3 > 2)");
  TestHttpClient http(store->base_url());
  EXPECT_EQ(MetricValue(http.Get("/metrics").body, "logq_tail_active{tenant=\"fake\"}"), 2);

  (*first)->Close();   // a clean close
  second->reset();     // a dropped connection (no close frame)
  ASSERT_TRUE(PollUntil([&] { return MetricValue(http.Get("/metrics").body, "logq_tail_active{tenant=\"fake\"}") == 0; },
                        std::chrono::seconds(10)));
  auto again = WebSocketClient::Connect(url, {});
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(TailE2ETest, ClosesAfterTheMaximumDuration) {
  LOGQ_ASSERT_START(store, {.flags = {"-querier.tail-max-duration=1s"}});
  auto c = WebSocketClient::Connect(TailUrl(*store, {{"query", "{a=\"b\"}"}}), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = (*c)->Read(10'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_CONTAINS(r.status().message(), "code 1011");
  EXPECT_CONTAINS(r.status().message(), "reached tail max duration limit");
}

}  // namespace
}  // namespace logq::e2e
