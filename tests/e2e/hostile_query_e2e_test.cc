// Hostile queries and stored lines against a real logq-store (issue 12, query side): each
// case used to crash the store, run past its timeout or grow its memory without bound. Now
// each is a 4xx naming the limit and its config key, a 504, or a per-line __error__, and
// the store stays up and ready.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

// POSTs a form (long queries do not fit a request line).
HttpReply PostForm(TestHttpClient& c, const std::string& path, const Params& params) {
  std::string body = testing::PathWithQuery("", params);
  if (!body.empty() && body[0] == '?') body.erase(0, 1);
  return c.Post(path, body, {{"Content-Type", "application/x-www-form-urlencoded"}});
}

std::string Chain(std::string_view operand, std::string_view op, int n) {
  std::string q(operand);
  for (int i = 1; i < n; ++i) {
    q += op;
    q += operand;
  }
  return q;
}

std::string NestedObjects(int levels) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "{\"a\":";
  s += "\"x\"";
  for (int i = 0; i < levels; ++i) s += "}";
  return s;
}

// A stored 30,000-level JSON line (180 KB, accepted by the push limits) crashed every
// `| json` query and detected_fields with a stack overflow, again after every restart.
TEST(HostileQueryTest, DeeplyNestedJsonLineIsAParserErrorForEveryReader) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  HttpReply r = PushProto(c, Request({Stream(R"({app="deep"})", {Entry(now - kMinute, NestedObjects(30000)),
                                                                 Entry(now - kMinute + 1, R"({"level":"info"})")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  const Params range = {{"start", std::to_string(now - kHour)}, {"end", std::to_string(now)}};
  auto with = [&](Params p) {
    p.insert(p.end(), range.begin(), range.end());
    return p;
  };
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range", with({{"query", R"({app="deep"} | json)"}})));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 500);
  EXPECT_CONTAINS(r.body, R"("__error__":"JSONParserErr")");
  EXPECT_CONTAINS(r.body, "limits_config.max_json_depth");
  EXPECT_CONTAINS(r.body, R"("level":"info")");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                   with({{"query", R"(sum(count_over_time({app="deep"} | json | __error__="" [1h])))"},
                                         {"step", "60"}})));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 500);
  r = c.Get(testing::PathWithQuery("/loki/api/v1/detected_fields", with({{"query", R"({app="deep"})"}})));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 500);
  EXPECT_CONTAINS(r.body, R"("label":"level")");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                   with({{"query", R"({app="deep"} | unpack)"}})));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 500);
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                   with({{"query", R"({app="deep"} | json x="a.a.a.a")"}})));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 500);
  EXPECT_EQ(c.Get("/ready").status, 200);
}

// 10,000 operands (20 KB) crashed the evaluator; the depth limit counted parentheses only and
// reported "(limit 256)" for 128 of them.
TEST(HostileQueryTest, LongOperatorChainsAre400WithTheLimit) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  HttpReply r = PushProto(c, Request({Stream(R"({app="ops"})", {Entry(now - kMinute, "x=1")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  const std::string t = std::to_string(now);
  for (const std::string& q : {Chain("1", "+", 10000), Chain("vector(1)", " or ", 5000),
                               Chain("vector(1)", "+", 5000), Chain("1", "^", 10000),
                               std::string(10000, '(') + "1" + std::string(10000, ')')}) {
    r = PostForm(c, "/loki/api/v1/query", {{"query", q}, {"time", t}});
    EXPECT_EQ(r.status, 400) << r.Describe().substr(0, 300);
    EXPECT_CONTAINS(r.body, "parse error");
    EXPECT_CONTAINS(r.body, "expression too deep");
    EXPECT_CONTAINS(r.body, "(limit 256)");
  }
  // The biggest accepted expressions evaluate (every recursive walk stays in bounds).
  const Params range = {{"start", std::to_string(now - kHour)}, {"end", t}, {"step", "60"}};
  auto run = [&](const std::string& q) {
    Params p = range;
    p.emplace_back("query", q);
    return PostForm(c, "/loki/api/v1/query_range", p);
  };
  r = run(Chain("vector(1)", "+", 250));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, R"("250")");
  r = run(Chain(R"(count_over_time({app="ops"}[1h]))", " or ", 250));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  r = run(std::string(254, '(') + "vector(2)" + std::string(254, ')'));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  std::string nested = R"(count_over_time({app="ops"}[1h]))";
  for (int i = 0; i < 120; ++i) nested = "sum(" + nested + ")";
  r = run(nested);
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  std::string filters = R"({app="ops"} | logfmt | x="0")";
  for (int i = 1; i < 250; ++i) filters += " or x=\"" + std::to_string(i) + "\"";
  r = run(filters);
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, R"("x=1")");
  EXPECT_EQ(c.Get("/ready").status, 200);
}

// volume_range had no points limit (step=0.001 over 30 days grew to 12 GB); every range
// endpoint now applies Loki's 11,000 points per series.
TEST(HostileQueryTest, RangeEndpointsApplyLokisMaxResolution) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  HttpReply r = PushProto(c, Request({Stream(R"({app="vol"})", {Entry(now - kMinute, "x")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  const Params p = {{"query", R"({app="vol"})"}, {"start", std::to_string(now - 30 * kDay)},
                    {"end", std::to_string(now)}, {"step", "0.001"}};
  for (const char* path : {"/loki/api/v1/index/volume_range", "/loki/api/v1/query_range"}) {
    Params q = p;
    if (std::string(path).find("query_range") != std::string::npos) q[0].second = R"(count_over_time({app="vol"}[1m]))";
    r = c.Get(testing::PathWithQuery(path, q));
    EXPECT_EQ(r.status, 400) << path << ": " << r.Describe().substr(0, 300);
    EXPECT_CONTAINS(r.body, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
                            "resolution (?step=XX)");
  }
  // At the limit it answers.
  r = c.Get(testing::PathWithQuery("/loki/api/v1/index/volume_range",
                                   {{"query", R"({app="vol"})"}, {"start", std::to_string(now - 11000 * kSecond)},
                                    {"end", std::to_string(now)}, {"step", "1"}, {"aggregateBy", "labels"}}));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  EXPECT_EQ(c.Get("/ready").status, 200);
}

// `line_format "{{ repeat 1000000 \"z\" }}"` with limit 5000 grew to 13 GB: the lines a query
// holds are charged to limits_config.max_query_memory_size (default 64MiB).
TEST(HostileQueryTest, QueryMemoryBudgetRefusesHugeResults) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.ingestion-rate-mb=1000",
                                                  "-limits-config.ingestion-burst-size-mb=1000"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  std::vector<api::PushEntry> entries;
  for (int i = 0; i < 100; ++i) entries.push_back(Entry(now - kMinute + i, "line " + std::to_string(i)));
  HttpReply r = PushProto(c, Request({Stream(R"({app="big"})", std::move(entries))}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  const Params range = {{"start", std::to_string(now - kHour)}, {"end", std::to_string(now)}, {"limit", "5000"}};
  Params p = range;
  p.emplace_back("query", R"({app="big"} | line_format "{{ repeat 1000000 \"z\" }}")");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range", p));
  EXPECT_EQ(r.status, 400) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, "limits_config.max_query_memory_size");
  EXPECT_CONTAINS(r.body, "64MiB");
  // Small results are unaffected.
  p = range;
  p.emplace_back("query", R"({app="big"} | line_format "{{ repeat 10 \"z\" }}")");
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range", p));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, "zzzzzzzzzz");
  EXPECT_EQ(c.Get("/ready").status, 200);
}

TEST(HostileQueryTest, TemplateOutputLimitIsConfigurable) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.max-template-output-size=1KB"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  HttpReply r = PushProto(c, Request({Stream(R"({app="tpl"})", {Entry(now - kMinute, "orig")})}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  r = c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                   {{"query", R"({app="tpl"} | line_format "{{ repeat 1001 \"z\" }}")"},
                                    {"start", std::to_string(now - kHour)}, {"end", std::to_string(now)}}));
  EXPECT_EQ(r.status, 200) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, R"("__error__":"TemplateFormatErr")");
  EXPECT_CONTAINS(r.body, "template output exceeds 1000 bytes (limits_config.max_template_output_size)");
  EXPECT_CONTAINS(r.body, R"("orig")");
}

// A regexp with thousands of named groups costs minutes per line (a line cannot be
// interrupted): the regexp parser is capped at 128 groups. Below the cap a line still costs
// milliseconds, and the timeout was checked every 16,384 entries, so such a query ran for many
// times its timeout and answered 200.
TEST(HostileQueryTest, ExpensivePipelinesStopAtTheTimeoutWith504) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-limits-config.query-timeout=1s",
                                                  "-limits-config.ingestion-rate-mb=1000",
                                                  "-limits-config.ingestion-burst-size-mb=1000"}});
  TestHttpClient c(store->base_url());
  const int64_t now = NowNs();
  std::vector<api::PushEntry> entries;
  const std::string payload(2000, 'a');
  for (int i = 0; i < 1000; ++i) entries.push_back(Entry(now - 10 * kMinute + i * 1000, payload + std::to_string(i)));
  HttpReply r = PushProto(c, Request({Stream(R"({app="slow"})", std::move(entries))}));
  ASSERT_EQ(r.status, 204) << r.Describe();
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "(?P<g" + std::to_string(i) + ">a?)";
  r = PostForm(c, "/loki/api/v1/query",
               {{"query", R"(sum(count_over_time({app="slow"} | regexp ")" + huge + R"(" [1h])))"},
                {"time", std::to_string(now)}});
  EXPECT_EQ(r.status, 400) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, "invalid regexp parser: more than 128 capture groups (3000)");
  std::string re;
  for (int i = 0; i < 128; ++i) re += "(?P<g" + std::to_string(i) + ">a?)";
  const std::string query = R"(sum(count_over_time({app="slow"} | regexp ")" + re + R"(" [1h])))";
  const auto t0 = std::chrono::steady_clock::now();
  r = PostForm(c, "/loki/api/v1/query", {{"query", query}, {"time", std::to_string(now)}});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_EQ(r.status, 504) << r.Describe().substr(0, 300);
  EXPECT_CONTAINS(r.body, "Request timed out");
  EXPECT_LT(took.count(), 6000) << "the 1s timeout was not enforced by time";
  // The log query path too.
  r = PostForm(c, "/loki/api/v1/query_range",
               {{"query", R"({app="slow"} | regexp ")" + re + R"(" | g0="b")"},
                {"start", std::to_string(now - kHour)}, {"end", std::to_string(now)}});
  EXPECT_EQ(r.status, 504) << r.Describe().substr(0, 300);
  EXPECT_EQ(c.Get("/ready").status, 200);
}

}  // namespace
}  // namespace logq::e2e
