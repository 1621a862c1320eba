// End-to-end tests of the `logq` CLI against a running logq-store: output modes, paging
// across batches (every line exactly once), labels/series/stats/volume/instant/fmt, error
// messages and exit codes, and terminal behaviour (colors on a TTY, plain when piped).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "tests/e2e/cli_util.h"
#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

class CliE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = StoreProcess::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value().release();
    TestHttpClient http(store_->base_url());
    // Two streams in the last minute; 3 entries at distinct times.
    t0_ = (NowNs() / kSecond - 50) * kSecond;  // whole seconds: RFC3339 output is exact
    ASSERT_EQ(PushProto(http, Request({Stream("{app=\"api\", env=\"prod\"}", {Entry(t0_, "GET /a 200"), Entry(t0_ + 2 * kSecond, "GET /b 500")}),
                                       Stream("{app=\"web\", env=\"prod\"}", {Entry(t0_ + kSecond, "render ok")})}))
                  .status,
              204);
    // 250 entries for paging: many share a timestamp (within a stream and across streams).
    std::vector<api::PushEntry> p1, p2;
    for (int i = 0; i < 150; ++i) p1.push_back(Entry(t0_ + (i / 3) * 1000, "p1 line " + std::to_string(i)));
    for (int i = 0; i < 100; ++i) p2.push_back(Entry(t0_ + (i / 2) * 1000, "p2 line " + std::to_string(i)));
    ASSERT_EQ(PushProto(http, Request({Stream("{job=\"page\", n=\"1\"}", p1), Stream("{job=\"page\", n=\"2\"}", p2)})).status,
              204);
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
  }

  std::vector<std::string> Addr() const { return {"--addr=" + store_->base_url()}; }
  CliRun Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), "--addr=" + store_->base_url());
    return RunCli(args, env);
  }

  static StoreProcess* store_;
  static int64_t t0_;
};
StoreProcess* CliE2ETest::store_ = nullptr;
int64_t CliE2ETest::t0_ = 0;

std::string Rfc3339(int64_t ns) {
  char buf[64];
  std::time_t t = ns / kSecond;
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST_F(CliE2ETest, DefaultOutputHasTimeLabelsAndLineNewestFirst) {
  CliRun r = Run({"query", "{env=\"prod\"}"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.Describe();
  // The common label env="prod" is printed once to stderr, not on every line.
  EXPECT_EQ(lines[0], Rfc3339(t0_ + 2 * kSecond) + " {app=\"api\"} GET /b 500");
  EXPECT_EQ(lines[1], Rfc3339(t0_ + kSecond) + " {app=\"web\"} render ok");
  EXPECT_EQ(lines[2], Rfc3339(t0_) + " {app=\"api\"} GET /a 200");
  EXPECT_CONTAINS(r.err, "Common labels: {env=\"prod\"}");
  EXPECT_CONTAINS(r.err, "/loki/api/v1/query_range?");
  EXPECT_NOT_CONTAINS(r.out, "\x1b[");  // piped: no colors
}

TEST_F(CliE2ETest, RawJsonlAndLabelSelection) {
  CliRun raw = Run({"query", "-q", "--forward", "-o", "raw", "{env=\"prod\"}"});
  ASSERT_EQ(raw.code, 0) << raw.Describe();
  EXPECT_EQ(raw.out, "GET /a 200\nrender ok\nGET /b 500\n");
  EXPECT_EQ(raw.err, "");  // --quiet

  CliRun jl = Run({"query", "-q", "--output=jsonl", "--limit=1", "{app=\"web\"}"});
  ASSERT_EQ(jl.code, 0) << jl.Describe();
  auto j = nlohmann::json::parse(SplitLines(jl.out).at(0));
  EXPECT_EQ(j["line"], "render ok");
  EXPECT_EQ(j["labels"], nlohmann::json({{"app", "web"}, {"env", "prod"}}));
  EXPECT_EQ(j["timestamp"], Rfc3339(t0_ + kSecond));

  CliRun nl = Run({"query", "-q", "--no-labels", "--limit=1", "{app=\"web\"}"});
  EXPECT_EQ(nl.out, Rfc3339(t0_ + kSecond) + " render ok\n") << nl.Describe();
  CliRun inc = Run({"query", "-q", "--include-label=env", "--limit=1", "{app=\"web\"}"});
  EXPECT_EQ(inc.out, Rfc3339(t0_ + kSecond) + " {env=\"prod\"} render ok\n") << inc.Describe();
  CliRun exc = Run({"query", "-q", "--exclude-label=app", "--limit=1", "{app=\"web\"}"});
  EXPECT_EQ(exc.out, Rfc3339(t0_ + kSecond) + " {env=\"prod\"} render ok\n") << exc.Describe();
  CliRun tz = Run({"query", "-q", "--no-labels", "--limit=1", "{app=\"web\"}"}, {"TZ=Asia/Kolkata"});
  EXPECT_CONTAINS(tz.out, "+05:30 render ok");
  CliRun utc = Run({"query", "-q", "--no-labels", "--timezone=UTC", "--limit=1", "{app=\"web\"}"}, {"TZ=Asia/Kolkata"});
  EXPECT_EQ(utc.out, Rfc3339(t0_ + kSecond) + " render ok\n") << utc.Describe();
}

TEST_F(CliE2ETest, PagingAcrossBatchesReturnsEveryLineOnce) {
  for (const char* dir : {"--forward", "--forward=false"}) {
    CliRun r = Run({"query", "-q", "-o", "jsonl", "--limit=0", "--batch=7", dir, "{job=\"page\"}"});
    ASSERT_EQ(r.code, 0) << r.Describe();
    auto lines = SplitLines(r.out);
    std::multiset<std::string> seen;
    std::vector<std::string> ts;
    for (const auto& l : lines) {
      auto j = nlohmann::json::parse(l);
      seen.insert(j["line"].get<std::string>());
      // RFC3339Nano trims trailing zeros: pad the fraction to 9 digits so strings sort as times.
      std::string t = j["timestamp"].get<std::string>();
      t.pop_back();  // 'Z'
      size_t dot = t.find('.');
      std::string frac = dot == std::string::npos ? "" : t.substr(dot + 1);
      ts.push_back(t.substr(0, dot) + "." + frac + std::string(9 - frac.size(), '0'));
    }
    EXPECT_EQ(lines.size(), 250u) << dir;
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), 250u) << dir;
    for (int i = 0; i < 150; ++i) EXPECT_EQ(seen.count("p1 line " + std::to_string(i)), 1u) << dir << " " << i;
    for (int i = 0; i < 100; ++i) EXPECT_EQ(seen.count("p2 line " + std::to_string(i)), 1u) << dir << " " << i;
    // Ordered in the direction asked.
    if (std::string(dir) == "--forward") EXPECT_TRUE(std::is_sorted(ts.begin(), ts.end()));
    else EXPECT_TRUE(std::is_sorted(ts.rbegin(), ts.rend()));
  }
  // A limit that is not a multiple of the batch: exactly that many, the newest.
  CliRun r = Run({"query", "-q", "-o", "raw", "--limit=100", "--batch=7", "{job=\"page\"}"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto lines = SplitLines(r.out);
  EXPECT_EQ(lines.size(), 100u);
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), 100u);
  EXPECT_TRUE(std::count(lines.begin(), lines.end(), "p1 line 149"));
}

TEST_F(CliE2ETest, LabelsSeriesStatsVolumeInstantAndFmt) {
  CliRun names = Run({"labels", "-q"});
  ASSERT_EQ(names.code, 0) << names.Describe();
  EXPECT_EQ(names.out, "app\nenv\njob\nn\n");
  CliRun values = Run({"labels", "app", "-q"});
  EXPECT_EQ(values.out, "api\nweb\n") << values.Describe();
  CliRun series = Run({"series", "-q", "{env=\"prod\"}"});
  EXPECT_EQ(series.out, "{app=\"api\", env=\"prod\"}\n{app=\"web\", env=\"prod\"}\n") << series.Describe();
  CliRun all = Run({"series", "-q"});
  EXPECT_EQ(SplitLines(all.out).size(), 4u) << all.Describe();
  CliRun stats = Run({"stats", "-q", "{env=\"prod\"}"});
  EXPECT_CONTAINS(stats.out, "streams: 2");
  EXPECT_CONTAINS(stats.out, "entries: 3");
  CliRun vol = Run({"volume", "-q", "{env=\"prod\"}"});
  ASSERT_EQ(vol.code, 0) << vol.Describe();
  EXPECT_CONTAINS(vol.out, "{env=\"prod\"}");
  CliRun inst = Run({"instant-query", "-q", "sum(count_over_time({env=\"prod\"}[5m]))"});
  ASSERT_EQ(inst.code, 0) << inst.Describe();
  auto j = nlohmann::json::parse(inst.out);
  EXPECT_EQ(j[0]["value"][1], "3");
  CliRun table = Run({"instant-query", "-q", "-o", "table", "sum by (app) (count_over_time({env=\"prod\"}[5m]))"});
  ASSERT_EQ(table.code, 0) << table.Describe();
  EXPECT_EQ(table.out, "APP  VALUE\napi  2\nweb  1\n") << table.Describe();
  CliRun unlabeled = Run({"instant-query", "-q", "-o", "table", "vector(2) * 3"});
  EXPECT_EQ(unlabeled.out, "VALUE\n6\n") << unlabeled.Describe();
  CliRun scalar = Run({"instant-query", "-q", "-o", "table", "2 * 3"});
  EXPECT_EQ(scalar.out, "6\n") << scalar.Describe();
  CliRun metric = Run({"query", "-q", "sum(count_over_time({env=\"prod\"}[5m]))", "--step=60s"});
  ASSERT_EQ(metric.code, 0) << metric.Describe();
  EXPECT_TRUE(nlohmann::json::parse(metric.out).is_array());
  CliRun fmt = RunCli({"fmt", "{app=\"a\"}|=\"x\"|json|level=\"error\""});
  EXPECT_EQ(fmt.out, "{app=\"a\"} |= \"x\" | json | level=\"error\"\n") << fmt.Describe();
}

// Issue 13.16 (b): `logcli labels app` asks for the last hour; as Loki's ingesters answer from
// every stream they hold in memory whatever its entries' times, a value whose only entries
// are older than the hour but not yet cut into a chunk is listed.
TEST(CliLabelsTest, LabelValuesOfTheLastHourIncludeStreamsStillInMemory) {
  auto s = StoreProcess::Start();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::unique_ptr<StoreProcess> store = std::move(s).value();
  TestHttpClient http(store->base_url());
  const int64_t now = NowNs();
  ASSERT_EQ(PushProto(http, Request({Stream("{app=\"recent\"}", {Entry(now - 60 * kSecond, "new")}),
                                     Stream("{app=\"earlier\"}", {Entry(now - 3 * 3600 * kSecond, "old")})}))
                .status,
            204);
  CliRun values = RunCli({"--addr=" + store->base_url(), "labels", "app", "-q"});
  ASSERT_EQ(values.code, 0) << values.Describe();
  EXPECT_EQ(values.out, "earlier\nrecent\n") << values.Describe();
  CliRun names = RunCli({"--addr=" + store->base_url(), "labels", "-q", "--since=10m"});
  EXPECT_EQ(names.out, "app\n") << names.Describe();
}

TEST_F(CliE2ETest, ErrorsAreOneLineWithDocumentedExitCodes) {
  CliRun bad = Run({"query", "-q", "{app=\"api\""});
  EXPECT_EQ(bad.code, 1) << bad.Describe();
  EXPECT_EQ(SplitLines(bad.err).size(), 1u) << bad.Describe();
  EXPECT_CONTAINS(bad.err, "logq: parse error at line 1");
  EXPECT_CONTAINS(bad.err, "(HTTP 400 Bad Request)");

  CliRun limit = Run({"query", "-q", "--limit=6000", "--batch=6000", "{app=\"api\"}"});
  EXPECT_EQ(limit.code, 1) << limit.Describe();
  EXPECT_CONTAINS(limit.err, "max entries limit per query exceeded");

  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"query", "--limit=abc", "{a=\"b\"}"}, "logq: --limit: must be a non-negative integer, got \"abc\"\n"},
      {{"query", "--bogus", "{a=\"b\"}"}, "logq: unknown flag --bogus (see logq --help)\n"},
      {{"query", "--from=yesterday", "{a=\"b\"}"}, "--from: expected RFC3339"},
      {{"query", "-o", "xml", "{a=\"b\"}"}, "logq: --output: must be default, raw, jsonl or table, got \"xml\"\n"},
      {{"query"}, "logq: query: missing the LogQL query (see logq query --help)\n"},
      {{"query", "{a=\"b\"}", "extra"}, "unexpected argument \"extra\""},
      {{"frobnicate"}, "logq: unknown command \"frobnicate\""},
      {{"tail", "--delay-for=9", "{a=\"b\"}"}, "logq: --delay-for: at most 5 seconds"},
      {{"fmt", "{a="}, "logq: parse error at line 1"},
  };
  for (const auto& c : cases) {
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, 2) << r.Describe();
    EXPECT_EQ(SplitLines(r.err).size(), 1u) << r.Describe();
    EXPECT_CONTAINS(r.err, c.message);
  }
  CliRun down = RunCli({"labels", "-q", "--addr=http://127.0.0.1:1"});
  EXPECT_EQ(down.code, 3) << down.Describe();
  EXPECT_CONTAINS(down.err, "logq: cannot reach http://127.0.0.1:1");
  CliRun help = RunCli({"query", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_CONTAINS(help.out, "Examples:");
  EXPECT_CONTAINS(help.out, "--batch");
}

TEST_F(CliE2ETest, EnvironmentVariablesAsLogcli) {
  CliRun logq_env = RunCli({"labels", "-q"}, {"LOGQ_ADDR=" + store_->base_url()});
  EXPECT_EQ(logq_env.code, 0) << logq_env.Describe();
  CliRun loki_env = RunCli({"labels", "-q"}, {"LOKI_ADDR=" + store_->base_url()});
  EXPECT_EQ(loki_env.code, 0) << loki_env.Describe();
  EXPECT_EQ(logq_env.out, loki_env.out);
  // The flag wins over the environment.
  CliRun flag = RunCli({"labels", "-q", "--addr=" + store_->base_url()}, {"LOGQ_ADDR=http://127.0.0.1:1"});
  EXPECT_EQ(flag.code, 0) << flag.Describe();
}

TEST_F(CliE2ETest, ColorsOnATerminalPlainWhenPipedOrNoColor) {
  CliRun tty = RunCliOnTty({"query", "-q", "--addr=" + store_->base_url(), "{env=\"prod\"}"});
  ASSERT_EQ(tty.code, 0) << tty.Describe();
  EXPECT_CONTAINS(tty.out, "\x1b[");
  EXPECT_CONTAINS(tty.out, "{app=\"api\"}\x1b[0m");
  CliRun no_color = RunCliOnTty({"query", "-q", "--addr=" + store_->base_url(), "{env=\"prod\"}"}, {"NO_COLOR=1"});
  ASSERT_EQ(no_color.code, 0) << no_color.Describe();
  EXPECT_NOT_CONTAINS(no_color.out, "\x1b[");
  EXPECT_CONTAINS(no_color.out, "{app=\"api\"} GET /b 500");
  CliRun piped = Run({"query", "-q", "{env=\"prod\"}"});
  EXPECT_NOT_CONTAINS(piped.out, "\x1b[");
  CliRun forced = Run({"query", "-q", "--color=always", "{env=\"prod\"}"});
  EXPECT_CONTAINS(forced.out, "\x1b[");
}

}  // namespace
}  // namespace logq::e2e
