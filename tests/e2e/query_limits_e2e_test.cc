// Query-side limits answer with Loki's status codes and messages (RELIABILITY.md §2.2).
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

// Pushes `n` lines spread over `streams` streams in the last few minutes.
void Fill(TestHttpClient& c, int streams, int n, int64_t now) {
  std::vector<api::PushStream> s;
  for (int k = 0; k < streams; ++k) {
    std::vector<api::PushEntry> entries;
    for (int i = k; i < n; i += streams) {
      entries.push_back(Entry(now - 5 * kMinute + i * 1000, "line " + std::to_string(i) + " some payload text"));
    }
    s.push_back(Stream("{app=\"a\", shard=\"" + std::to_string(k) + "\"}", std::move(entries)));
  }
  HttpReply r = PushProto(c, Request(std::move(s)));
  ASSERT_EQ(r.status, 204) << r.Describe();
}

TEST(QueryLimitsTest, TimeoutIs504WithLokisMessage) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.query-timeout=1ns",
                                                  "-limits-config.ingestion-rate-mb=1000",
                                                  "-limits-config.ingestion-burst-size-mb=1000"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  Fill(c, 1, 40000, now);
  HttpReply r = c.Get(testing::PathWithQuery(
      "/loki/api/v1/query",
      {{"query", R"(count_over_time({app="a"} |= "payload" [1h]))"}, {"time", std::to_string(now)}}));
  EXPECT_EQ(r.status, 504) << r.Describe();
  EXPECT_CONTAINS(r.body, "Request timed out, decrease the duration of the request");
  EXPECT_EQ(c.Get("/ready").status, 200);
}

TEST(QueryLimitsTest, SeriesLengthAndEntryLimits) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.max-query-series=3",
                                                  "-limits-config.max-query-length=2h",
                                                  "-limits-config.max-entries-limit-per-query=10"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  Fill(c, 5, 50, now);
  HttpReply r = c.Get(testing::PathWithQuery(
      "/loki/api/v1/query", {{"query", R"(count_over_time({app="a"}[1h]))"}, {"time", std::to_string(now)}}));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "maximum of series (3) reached for a single query");
  // Aggregated below the cap it works.
  r = c.Get(testing::PathWithQuery(
      "/loki/api/v1/query", {{"query", R"(sum(count_over_time({app="a"}[1h])))"}, {"time", std::to_string(now)}}));
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_CONTAINS(r.body, R"("value":[)");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                   {{"query", R"({app="a"})"}, {"start", std::to_string(now - 3 * kHour)},
                                    {"end", std::to_string(now)}}));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "the query time range exceeds the limit (query length: 3h, limit: 2h)");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range", {{"query", R"({app="a"})"}, {"limit", "11"}}));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "max entries limit per query exceeded, limit > max_entries_limit (11 > 10)");
}

TEST(QueryLimitsTest, PipelineErrorInMetricQueryIs400UnlessFiltered) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  HttpReply r = PushProto(c, Request({Stream(R"({app="u"})", {Entry(now - kMinute, "latency=12ms"),
                                                              Entry(now - kMinute + 1, "latency=fast")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  auto q = [&](const std::string& query) {
    return c.Get(testing::PathWithQuery("/loki/api/v1/query", {{"query", query}, {"time", std::to_string(now)}}));
  };
  r = q(R"(sum(sum_over_time({app="u"} | logfmt | unwrap latency [5m])))");
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "pipeline error: 'SampleExtractionErr'");
  r = q(R"(sum(sum_over_time({app="u"} | logfmt | unwrap duration_seconds(latency) | __error__="" [5m])))");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_CONTAINS(r.body, R"("0.012")");
}

}  // namespace
}  // namespace logq::e2e
