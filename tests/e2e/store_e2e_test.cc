// End-to-end tests of logq-store through its HTTP API, as Promtail, Grafana and logcli use
// it: the real binary on 127.0.0.1 with a free port and a temp storage directory per test.
//
// Covered here: push formats (protobuf+snappy, JSON with 2- and 3-element values, gzip
// JSON) and the read API's exact JSON (labels, label values, series, query_range); retry
// deduplication (also across POST /flush); Loki's partial acceptance; boundary values of
// the ingest limits (RELIABILITY §4.2 E2); tenancy (§3.3); graceful shutdown; /metrics,
// /ready and buildinfo. The kill -9 test is crash_e2e_test.cc, the malformed-input corpus
// malformed_input_e2e_test.cc.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

// ---------------------------------------------------------------------------------------
// Read API over data pushed in every supported format.

class ReadApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOGQ_ASSERT_START(store, StoreOptions{});
    store_ = std::move(store);
    client_ = std::make_unique<TestHttpClient>(store_->base_url());
    base_ = (NowNs() / kSecond - 30 * 60) * kSecond;  // 30 minutes ago, on a whole second

    // Promtail: protobuf + raw snappy, Content-Type application/x-protobuf.
    std::vector<api::PushEntry> api_entries;
    for (int i = 0; i < 5; ++i)
      api_entries.push_back(Entry(At(i, 0), "api-prod line " + std::to_string(i)));
    HttpReply r = PushProto(*client_, Request({Stream(R"({env="prod", app="api"})", api_entries)}));
    ASSERT_EQ(r.status, 204) << r.Describe();
    EXPECT_EQ(r.body, "");

    // JSON: one stream with 2-element values, one with 3-element values (structured metadata).
    std::string json = R"({"streams":[{"stream":{"app":"web","env":"dev"},"values":[)";
    for (int i = 0; i < 5; ++i) {
      json += (i ? "," : "") + std::string("[\"") + std::to_string(At(i, 250)) +
              "\",\"web-dev line " + std::to_string(i) + "\"]";
    }
    json += R"(]},{"stream":{"team":"x","app":"web","env":"prod"},"values":[)";
    for (int i = 0; i < 5; ++i) {
      json += (i ? "," : "") + std::string("[\"") + std::to_string(At(i, 500)) +
              "\",\"web-prod line " + std::to_string(i) + "\",{\"trace_id\":\"t" +
              std::to_string(i) + "\"}]";
    }
    json += "]}]}";
    r = PushJson(*client_, json);
    ASSERT_EQ(r.status, 204) << r.Describe();

    // gzip-compressed JSON (Content-Encoding: gzip).
    std::vector<api::PushEntry> db_entries;
    for (int i = 0; i < 5; ++i)
      db_entries.push_back(Entry(At(i, 750), "db-prod line " + std::to_string(i)));
    std::string gz = api::GzipCompress(
        api::EncodePushJson(Request({Stream(R"({app="db", env="prod"})", db_entries)})));
    r = client_->Post("/loki/api/v1/push", gz, With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
    ASSERT_EQ(r.status, 204) << r.Describe();
  }

  // base + i seconds + ms milliseconds.
  int64_t At(int i, int ms) const { return base_ + i * kSecond + ms * 1'000'000LL; }

  std::string Get(const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& params = {}) {
    HttpReply r = client_->Get(testing::PathWithQuery(path, params));
    EXPECT_EQ(r.status, 200) << path << ": " << r.Describe();
    EXPECT_CONTAINS(r.Header("Content-Type"), "application/json") << path;
    return Trimmed(r.body);
  }

  std::unique_ptr<StoreProcess> store_;
  std::unique_ptr<TestHttpClient> client_;
  int64_t base_ = 0;
};

TEST_F(ReadApiTest, LabelsAndLabelValuesAreExactSortedJson) {
  EXPECT_EQ(Get("/loki/api/v1/labels"), R"({"status":"success","data":["app","env","team"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/app/values"),
            R"({"status":"success","data":["api","db","web"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/env/values"), R"({"status":"success","data":["dev","prod"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/team/values"), R"({"status":"success","data":["x"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/nope/values"), R"({"status":"success","data":[]})");
  // With a `query=` selector only matching streams count.
  EXPECT_EQ(Get("/loki/api/v1/label/app/values", {{"query", R"({env="dev"})"}}),
            R"({"status":"success","data":["web"]})");
  EXPECT_EQ(Get("/loki/api/v1/label/app/values", {{"query", R"({env="prod", app=~"a.*|d.*"})"}}),
            R"({"status":"success","data":["api","db"]})");
  EXPECT_EQ(Get("/loki/api/v1/labels", {{"query", R"({app="api"})"}}),
            R"({"status":"success","data":["app","env"]})");
  EXPECT_EQ(Get("/loki/api/v1/labels", {{"query", R"({app="web"})"}}),
            R"({"status":"success","data":["app","env","team"]})");
  // Explicit bounds covering the data, and bounds three days earlier (no data that day).
  // The entries are still in their heads (not cut), and like Loki's ingester, labels come
  // from every stream held in memory whatever the range; series needs the head's time span
  // to overlap it (docs/api.md).
  const std::string s = std::to_string(base_ - kMinute), e = std::to_string(base_ + kMinute);
  EXPECT_EQ(Get("/loki/api/v1/labels", {{"start", s}, {"end", e}}),
            R"({"status":"success","data":["app","env","team"]})");
  const std::string s3 = std::to_string(base_ - 3 * kDay - kHour), e3 = std::to_string(base_ - 3 * kDay);
  EXPECT_EQ(Get("/loki/api/v1/labels", {{"start", s3}, {"end", e3}}),
            R"({"status":"success","data":["app","env","team"]})");
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match[]", "{}"}, {"start", s3}, {"end", e3}}),
            R"({"status":"success","data":[]})");
}

TEST_F(ReadApiTest, SeriesAcceptsMatchBracketsMatchAndEmptySelector) {
  const std::string web =
      R"({"status":"success","data":[{"app":"web","env":"dev"},{"app":"web","env":"prod","team":"x"}]})";
  const std::string all =
      R"({"status":"success","data":[{"app":"api","env":"prod"},{"app":"db","env":"prod"},)"
      R"({"app":"web","env":"dev"},{"app":"web","env":"prod","team":"x"}]})";
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match[]", R"({app="web"})"}}), web);  // Grafana
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match", R"({app="web"})"}}), web);    // logcli
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match[]", "{}"}}), all);
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match[]", "{ }"}}), all);
  EXPECT_EQ(Get("/loki/api/v1/series"), all);
  // Several matchers: the union, each series once, sorted.
  EXPECT_EQ(
      Get("/loki/api/v1/series", {{"match[]", R"({app="db"})"},
                                  {"match", R"({app="api"})"},
                                  {"match[]", R"({env="prod", app=~"a.+"})"}}),
      R"({"status":"success","data":[{"app":"api","env":"prod"},{"app":"db","env":"prod"}]})");
  EXPECT_EQ(Get("/loki/api/v1/series", {{"match[]", R"({app="nope"})"}}),
            R"({"status":"success","data":[]})");
}

TEST_F(ReadApiTest, QueryRangeIsStartInclusiveEndExclusiveInBothDirections) {
  const std::string api = R"({app="api", env="prod"})";
  // [base+1s, base+3s): lines 1 and 2; line 3 sits exactly on the exclusive end.
  QueryResult q = QueryRange(*client_, R"({app="api"})", At(1, 0), At(3, 0), 100, "forward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams, (std::map<std::string, Entries>{
                           {api, {{At(1, 0), "api-prod line 1"}, {At(2, 0), "api-prod line 2"}}}}));

  q = QueryRange(*client_, R"({app="api"})", At(1, 0), At(3, 0), 100, "backward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams, (std::map<std::string, Entries>{
                           {api, {{At(2, 0), "api-prod line 2"}, {At(1, 0), "api-prod line 1"}}}}));

  // No direction: backward (newest first) is the default; upper case works (logcli).
  q = QueryRange(*client_, R"({app="api"})", At(0, 0), At(9, 0), 100, "");
  ASSERT_TRUE(q.ok()) << q.Describe();
  ASSERT_EQ(q.total, 5u);
  EXPECT_EQ(q.streams[api].front().second, "api-prod line 4");
  EXPECT_EQ(q.streams[api].back().second, "api-prod line 0");
  q = QueryRange(*client_, R"({app="api"})", At(0, 0), At(9, 0), 100, "FORWARD");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams[api].front().second, "api-prod line 0");

  // Every format's lines come back byte-exact (gzip JSON and 3-element JSON included).
  q = QueryRange(*client_, R"({app=~".+"})", At(0, 0), At(9, 0), 1000, "forward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.total, 20u);
  // Loki 3 without categorize-labels merges structured metadata into the stream labels, so
  // each trace_id is its own stream object.
  EXPECT_EQ(q.streams[R"({app="web", env="prod", team="x", trace_id="t3"})"].at(0),
            (std::pair<int64_t, std::string>{At(3, 500), "web-prod line 3"}));
  EXPECT_EQ(q.streams[R"({app="db", env="prod"})"].at(4),
            (std::pair<int64_t, std::string>{At(4, 750), "db-prod line 4"}));
  EXPECT_EQ(q.streams[R"({app="web", env="dev"})"].at(0),
            (std::pair<int64_t, std::string>{At(0, 250), "web-dev line 0"}));
}

TEST_F(ReadApiTest, QueryRangeLimitIsGlobalAcrossStreams) {
  // {env="prod"} has api at +0ms, web-prod at +500ms, db at +750ms of each second. The 5
  // newest overall: db 4.75, web 4.5, api 4.0, db 3.75, web 3.5.
  QueryResult q = QueryRange(*client_, R"({env="prod"})", At(0, 0), At(9, 0), 5, "backward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams, (std::map<std::string, Entries>{
                           {R"({app="db", env="prod"})",
                            {{At(4, 750), "db-prod line 4"}, {At(3, 750), "db-prod line 3"}}},
                           {R"({app="web", env="prod", team="x", trace_id="t4"})",
                            {{At(4, 500), "web-prod line 4"}}},
                           {R"({app="web", env="prod", team="x", trace_id="t3"})",
                            {{At(3, 500), "web-prod line 3"}}},
                           {R"({app="api", env="prod"})", {{At(4, 0), "api-prod line 4"}}}}));
  // Forward, 4 oldest: api 0.0, web 0.5, db 0.75, api 1.0.
  q = QueryRange(*client_, R"({env="prod"})", At(0, 0), At(9, 0), 4, "forward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams,
            (std::map<std::string, Entries>{
                {R"({app="api", env="prod"})",
                 {{At(0, 0), "api-prod line 0"}, {At(1, 0), "api-prod line 1"}}},
                {R"({app="web", env="prod", team="x", trace_id="t0"})", {{At(0, 500), "web-prod line 0"}}},
                {R"({app="db", env="prod"})", {{At(0, 750), "db-prod line 0"}}}}));
  // limit=1 across all four streams: only the newest line of all.
  q = QueryRange(*client_, R"({app=~".+"})", At(0, 0), At(9, 0), 1, "backward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams, (std::map<std::string, Entries>{
                           {R"({app="db", env="prod"})", {{At(4, 750), "db-prod line 4"}}}}));
}

// ---------------------------------------------------------------------------------------
// Retries never duplicate: the key is (stream, ts, line).

TEST(DedupTest, RetriedPushIsStoredOnceAlsoAfterFlush) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t base = NowNs() - 20 * kMinute;
  std::vector<api::PushEntry> a, b;
  for (int i = 0; i < 10; ++i) {
    a.push_back(Entry(base + i * kSecond, "a line " + std::to_string(i)));
    b.push_back(
        Entry(base + i * kSecond, "b line " + std::to_string(i)));  // same ts as a, other stream
  }
  // Same timestamp, different line: both are kept.
  a.push_back(Entry(base + 3 * kSecond, "a line 3 twin"));
  const api::PushRequest req =
      Request({Stream(R"({job="dedup", s="a"})", a), Stream(R"({job="dedup", s="b"})", b)});
  const size_t want = a.size() + b.size();

  auto count = [&] {
    QueryResult q =
        QueryRange(c, R"({job="dedup"})", base - kMinute, base + kMinute, 1000, "forward");
    EXPECT_TRUE(q.ok()) << q.Describe();
    return q.total;
  };
  auto metric = [&](const std::string& series) {
    return MetricValue(c.Get("/metrics").body, series);
  };

  ASSERT_EQ(PushProto(c, req).status, 204);
  ASSERT_EQ(PushProto(c, req).status, 204);                      // a retry after a lost 204
  ASSERT_EQ(PushJson(c, api::EncodePushJson(req)).status, 204);  // the same entries as JSON
  EXPECT_EQ(count(), want);
  // Identical (ts, line) pairs inside one request collapse into one entry.
  api::PushRequest doubled = req;
  for (auto& s : doubled.streams) {
    auto copy = s.entries;
    s.entries.insert(s.entries.end(), copy.begin(), copy.end());
  }
  ASSERT_EQ(PushProto(c, doubled).status, 204);
  EXPECT_EQ(count(), want);

  // POST /flush cuts every head into chunks; the same push again lands in the heads while
  // the chunks hold the first copy. Queries still return each entry once.
  HttpReply f = c.Post("/flush", "");
  ASSERT_EQ(f.status, 204) << f.Describe();
  EXPECT_EQ(metric("logq_head_entries"), 0);
  EXPECT_GE(metric("logq_chunks_cut_total"), 2);
  EXPECT_EQ(count(), want);
  ASSERT_EQ(PushProto(c, req).status, 204);
  EXPECT_EQ(metric("logq_head_entries"), static_cast<double>(want));
  EXPECT_EQ(count(), want);
  // Flushed twice: two chunks per stream hold the same entries.
  ASSERT_EQ(c.Post("/flush", "").status, 204);
  EXPECT_EQ(count(), want);
  QueryResult q =
      QueryRange(c, R"({job="dedup", s="a"})", base - kMinute, base + kMinute, 1000, "forward");
  ASSERT_TRUE(q.ok());
  Entries expected;
  for (int i = 0; i < 10; ++i) {
    expected.emplace_back(base + i * kSecond, "a line " + std::to_string(i));
    if (i == 3) expected.emplace_back(base + 3 * kSecond, "a line 3 twin");
  }
  EXPECT_EQ(q.streams[R"({job="dedup", s="a"})"], expected);

  // And after a restart (heads recovered from the WAL, chunks from disk).
  ASSERT_EQ(PushProto(c, req).status, 204);
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  c.set_base_url(store->base_url());
  EXPECT_EQ(count(), want);
}

// ---------------------------------------------------------------------------------------
// Partial acceptance (RELIABILITY §0.6, C5): valid entries are stored, the 400 says why.

TEST(PartialAcceptanceTest, NineValidOneTooOldStoresNineAndRetryAddsNothing) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  std::vector<api::PushEntry> entries;
  Entries want;
  for (int i = 0; i < 10; ++i) {
    if (i == 6) {
      entries.push_back(Entry(now - 8 * kDay, "too old"));
      continue;
    }
    const int64_t ts = now - 10 * kMinute + i * kSecond;
    entries.push_back(Entry(ts, "ok " + std::to_string(i)));
    want.emplace_back(ts, "ok " + std::to_string(i));
  }
  const api::PushRequest req =
      Request({Stream(R"({job="partial"})", entries),
               Stream(R"({job="partial-other"})", {Entry(now - kMinute, "x")})});

  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpReply r = PushProto(c, req);
    ASSERT_EQ(r.status, 400) << r.Describe();
    EXPECT_CONTAINS(r.body, R"(entry for stream '{job="partial"}' has timestamp too old)");
    EXPECT_CONTAINS(r.body, "oldest acceptable timestamp is");
    EXPECT_CONTAINS(r.body, "total ignored: 1 out of 11 entries; the other 10 entries were stored");
    EXPECT_NOT_CONTAINS(r.body, "partial-other");
    EXPECT_LE(r.body.size(), 4096u);

    QueryResult q =
        QueryRange(c, R"({job="partial"})", now - kHour, now + kMinute, 1000, "forward");
    ASSERT_TRUE(q.ok()) << q.Describe();
    EXPECT_EQ(q.streams[R"({job="partial"})"], want) << "attempt " << attempt;
    EXPECT_EQ(q.total, 9u);
  }
}

// ---------------------------------------------------------------------------------------
// Boundary values (RELIABILITY §4.2 E2): the limit is accepted, limit+1 rejected.

class BoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // max_line_size is lowered so that bodies stay small; every other limit is the default.
    LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.max-line-size=1000"}});
    store_ = std::move(store);
    client_ = std::make_unique<TestHttpClient>(store_->base_url());
  }
  HttpReply Push(const std::string& labels, int64_t ts, const std::string& line) {
    return PushProto(*client_, Request({Stream(labels, {Entry(ts, line)})}));
  }
  std::unique_ptr<StoreProcess> store_;
  std::unique_ptr<TestHttpClient> client_;
};

TEST_F(BoundaryTest, LineSizeLimitIsInclusive) {
  const int64_t now = NowNs();
  HttpReply r = Push(R"({job="b"})", now - kMinute, std::string(1000, 'x'));
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push(R"({job="b"})", now - kMinute + 1, std::string(1001, 'y'));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body,
                  R"(Max entry size '1000' bytes exceeded for stream '{job="b"}' while adding an )"
                  R"(entry with length '1001' bytes)");
  QueryResult q = QueryRange(*client_, R"({job="b"})", now - kHour, now + kMinute, 100, "forward");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.streams[R"({job="b"})"], (Entries{{now - kMinute, std::string(1000, 'x')}}));
}

TEST_F(BoundaryTest, LabelNameLength1024AcceptedAnd1025Rejected) {
  const int64_t now = NowNs();
  const std::string n1024 = "n" + std::string(1023, 'a'), n1025 = "n" + std::string(1024, 'a');
  HttpReply r = Push("{" + n1024 + R"(="v"})", now - kMinute, "ok");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push("{" + n1025 + R"(="v"})", now - kMinute, "too long");
  EXPECT_EQ(r.status, 400) << r.Describe();
  // Long names are clipped to 160 bytes in messages, with the full length.
  EXPECT_CONTAINS(r.body, "has label name too long: '" + n1025.substr(0, 160) + "...(1025 bytes)'");
}

TEST_F(BoundaryTest, LabelValueLength2048AcceptedAnd2049Rejected) {
  const int64_t now = NowNs();
  HttpReply r = Push(R"({v=")" + std::string(2048, 'v') + R"("})", now - kMinute, "ok");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push(R"({v=")" + std::string(2049, 'w') + R"("})", now - kMinute, "too long");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "has label value too long: '" + std::string(160, 'w') + "...(2049 bytes)'");
}

TEST_F(BoundaryTest, FifteenLabelNamesAcceptedSixteenRejected) {
  const int64_t now = NowNs();
  auto labels = [](int n) {
    std::string s = "{";
    for (int i = 0; i < n; ++i)
      s += (i ? ", " : "") + std::string("l") + std::to_string(i + 10) + "=\"v\"";
    return s + "}";
  };
  HttpReply r = Push(labels(15), now - kMinute, "ok");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push(labels(16), now - kMinute, "too many");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "has 16 label names; limit 15");
}

// The server reads its clock after the test does, so "now" moves forward between the two by
// the request latency. The side of each window that the server's later clock makes harder
// gets 5 s of slack (accepted at now-7d+5s; rejected at now+10m+5s); the other side is exact
// to the second (now-7d-1s is rejected and now+10m-1s accepted whatever the latency).
TEST_F(BoundaryTest, OldestAcceptedTimestampIsSevenDaysAgo) {
  const int64_t now = NowNs();
  HttpReply r = Push(R"({job="old"})", now - 7 * kDay + 5 * kSecond, "just inside");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push(R"({job="old"})", now - 7 * kDay - kSecond, "just outside");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, R"(entry for stream '{job="old"}' has timestamp too old)");
}

TEST_F(BoundaryTest, NewestAcceptedTimestampIsTenMinutesAhead) {
  const int64_t now = NowNs();
  HttpReply r = Push(R"({job="new"})", now + 10 * kMinute - kSecond, "just inside");
  EXPECT_EQ(r.status, 204) << r.Describe();
  r = Push(R"({job="new"})", now + 10 * kMinute + 5 * kSecond, "just outside");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, R"(entry for stream '{job="new"}' has timestamp too new)");
  QueryResult q = QueryRange(*client_, R"({job="new"})", now, now + kHour, 100, "forward");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.streams[R"({job="new"})"], (Entries{{now + 10 * kMinute - kSecond, "just inside"}}));
}

TEST(LineTruncationTest, OverlongLineIsStoredTruncatedWhenConfigured) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.max-line-size=100",
                                                  "-limits-config.max-line-size-truncate=true"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  std::string line;
  for (int i = 0; i < 15; ++i) line += "0123456789";  // 150 bytes
  HttpReply r = PushProto(
      c, Request({Stream(R"({job="trunc"})",
                         {Entry(now - kMinute, line), Entry(now - kMinute + 1, "short")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  QueryResult q = QueryRange(c, R"({job="trunc"})", now - kHour, now, 100, "forward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams[R"({job="trunc"})"],
            (Entries{{now - kMinute, line.substr(0, 100)}, {now - kMinute + 1, "short"}}));
  EXPECT_EQ(MetricValue(c.Get("/metrics").body, R"(logq_truncated_lines_total{tenant="fake"})"), 1);
}

// ---------------------------------------------------------------------------------------
// Tenancy (RELIABILITY §3.3.1, I1/I2).

class TenancyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-auth-enabled=true"}});
    store_ = std::move(store);
    client_ = std::make_unique<TestHttpClient>(store_->base_url());
  }
  HttpReply PushAs(const std::string& tenant, const api::PushRequest& req) {
    return PushProto(*client_, req, {{"X-Scope-OrgID", tenant}});
  }
  std::unique_ptr<StoreProcess> store_;
  std::unique_ptr<TestHttpClient> client_;
};

TEST_F(TenancyTest, MissingOrgIdIs401AndInvalidTenantIdsAre400) {
  const int64_t now = NowNs();
  const api::PushRequest req = Request({Stream(R"({job="t"})", {Entry(now - kMinute, "line")})});
  HttpReply r = PushProto(*client_, req);
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_CONTAINS(r.body, "no org id");
  r = client_->Get("/loki/api/v1/labels");
  EXPECT_EQ(r.status, 401) << r.Describe();
  EXPECT_CONTAINS(r.body, "no org id");
  r = client_->Get(testing::PathWithQuery("/loki/api/v1/query_range", {{"query", R"({job="t"})"}}));
  EXPECT_EQ(r.status, 401) << r.Describe();

  for (const std::string& bad : std::vector<std::string>{"..", ".", "a/b", std::string(151, 'x'),
                                                         "a|b", "a b", "../../etc"}) {
    r = PushAs(bad, req);
    EXPECT_EQ(r.status, 400) << "tenant '" << bad << "': " << r.Describe();
    EXPECT_FALSE(r.body.empty());
    EXPECT_NOT_CONTAINS(r.body, store_->temp_dir());
  }
  // 150 characters of the allowed set is the longest valid id.
  const std::string longest = std::string(144, 'x') + "!-_.*'";
  ASSERT_EQ(longest.size(), 150u);
  r = PushAs(longest, req);
  EXPECT_EQ(r.status, 204) << r.Describe();
  EXPECT_TRUE(std::filesystem::exists(store_->storage_dir()));
}

TEST_F(TenancyTest, TenantsNeverSeeEachOthersLabelsSeriesOrLines) {
  const int64_t now = NowNs();
  ASSERT_EQ(
      PushAs("tenant-a",
             Request({Stream(R"({app="a-only", shared="x"})", {Entry(now - kMinute, "A secret")})}))
          .status,
      204);
  ASSERT_EQ(PushAs("tenant-b", Request({Stream(R"({app="b-only", shared="x", bonly="1"})",
                                               {Entry(now - kMinute, "B secret")})}))
                .status,
            204);
  struct View {
    std::string tenant, app, labels, series, line;
  };
  for (const View& v : {View{"tenant-a", "a-only", R"(["app","shared"])",
                             R"([{"app":"a-only","shared":"x"}])", "A secret"},
                        View{"tenant-b", "b-only", R"(["app","bonly","shared"])",
                             R"([{"app":"b-only","bonly":"1","shared":"x"}])", "B secret"}}) {
    const HttpHeaders h = {{"X-Scope-OrgID", v.tenant}};
    HttpReply r = client_->Get("/loki/api/v1/labels", h);
    EXPECT_EQ(Trimmed(r.body), R"({"status":"success","data":)" + v.labels + "}") << v.tenant;
    r = client_->Get("/loki/api/v1/label/app/values", h);
    EXPECT_EQ(Trimmed(r.body), R"({"status":"success","data":[")" + v.app + "\"]}") << v.tenant;
    r = client_->Get(
        testing::PathWithQuery("/loki/api/v1/series", {{"match[]", R"({shared="x"})"}}), h);
    EXPECT_EQ(Trimmed(r.body), R"({"status":"success","data":)" + v.series + "}") << v.tenant;
    QueryResult q = QueryRange(*client_, R"({shared="x"})", now - kHour, now, 100, "backward", h);
    ASSERT_TRUE(q.ok()) << q.Describe();
    ASSERT_EQ(q.total, 1u) << v.tenant;
    EXPECT_EQ(q.streams.begin()->second.at(0).second, v.line);
    // The other tenant's selector matches nothing here.
    const std::string other = v.app == "a-only" ? R"({app="b-only"})" : R"({app="a-only"})";
    q = QueryRange(*client_, other, now - kHour, now, 100, "backward", h);
    ASSERT_TRUE(q.ok()) << q.Describe();
    EXPECT_EQ(q.total, 0u) << v.tenant;
  }
  // An unknown tenant sees nothing at all.
  HttpReply r = client_->Get("/loki/api/v1/labels", {{"X-Scope-OrgID", "tenant-c"}});
  EXPECT_EQ(Trimmed(r.body), R"({"status":"success","data":[]})");
}

// ---------------------------------------------------------------------------------------
// Lifecycle and observability.

TEST(LifecycleTest, SigtermExitsZeroAndDataSurvivesRestart) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  std::vector<api::PushEntry> entries;
  for (int i = 0; i < 50; ++i)
    entries.push_back(Entry(now - kMinute + i, "line " + std::to_string(i)));
  ASSERT_EQ(PushProto(c, Request({Stream(R"({job="life"})", entries)})).status, 204);

  auto exit_code = store->Terminate(std::chrono::seconds(10));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status().message() << "\n" << store->LogTail();
  EXPECT_EQ(*exit_code, 0) << store->LogTail();
  EXPECT_CONTAINS(store->Log(), "storage closed");

  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  c.set_base_url(store->base_url());
  QueryResult q = QueryRange(c, R"({job="life"})", now - kHour, now, 1000, "forward");
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.total, 50u);
  EXPECT_EQ(Trimmed(c.Get("/loki/api/v1/labels").body), R"({"status":"success","data":["job"]})");
}

TEST(ObservabilityTest, MetricsReadyAndBuildInfo) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());

  HttpReply r = c.Get("/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Trimmed(r.body), "ready");

  r = c.Get("/loki/api/v1/status/buildinfo");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_CONTAINS(r.Header("Content-Type"), "application/json");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  ASSERT_TRUE(j.contains("version") && j["version"].is_string()) << r.body;
  EXPECT_FALSE(j["version"].get<std::string>().empty());
  EXPECT_TRUE(j.contains("revision")) << r.body;

  const int64_t now = NowNs();
  std::vector<api::PushEntry> entries;
  for (int i = 0; i < 7; ++i) entries.push_back(Entry(now - kMinute + i, "m" + std::to_string(i)));
  ASSERT_EQ(PushProto(c, Request({Stream(R"({job="metrics"})", entries)})).status, 204);
  r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(MetricValue(r.body, R"(logq_received_lines_total{tenant="fake"})"), 7) << r.body;
  EXPECT_EQ(
      MetricValue(
          r.body,
          R"(logq_discarded_lines_total{reason="greater_than_max_sample_age",tenant="fake"})"),
      -1);

  ASSERT_EQ(
      PushProto(c, Request({Stream(R"({job="metrics"})", {Entry(now - 30 * kDay, "ancient")})}))
          .status,
      400);
  r = c.Get("/metrics");
  EXPECT_EQ(MetricValue(r.body, R"(logq_received_lines_total{tenant="fake"})"), 7) << r.body;
  EXPECT_EQ(
      MetricValue(
          r.body,
          R"(logq_discarded_lines_total{reason="greater_than_max_sample_age",tenant="fake"})"),
      1)
      << r.body;
  EXPECT_EQ(MetricValue(r.body, "logq_streams"), 1) << r.body;

  // Unknown routes are 404 with Go's text; the server stays ready.
  r = c.Get("/loki/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_CONTAINS(r.body, "404 page not found");
  EXPECT_EQ(c.Get("/ready").status, 200);
}

// A bad flag or config key makes the binary exit at once with a message naming it; the
// harness reports that instead of waiting for its deadline.
TEST(StartupTest, UnknownFlagOrConfigKeyFailsFastWithTheName) {
  const auto t0 = std::chrono::steady_clock::now();
  auto bad_flag = StoreProcess::Start({.flags = {"-limits-config.no-such-limit=1"}});
  ASSERT_FALSE(bad_flag.ok());
  EXPECT_CONTAINS(bad_flag.status().message(), "unknown flag -limits-config.no-such-limit");
  auto bad_key =
      StoreProcess::Start({.config_yaml = "limits_config:\n  max_line_size: 1KB\n  nope: 3\n"});
  ASSERT_FALSE(bad_key.ok());
  EXPECT_CONTAINS(bad_key.status().message(), R"(unknown key "limits_config.nope")");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

}  // namespace
}  // namespace logq::e2e
