// Retention and deletion: rule precedence (Loki's table), config validation, the exactness
// of a compactor pass at the cut-off for many streams matching several rules, idempotence,
// stream removal, runtime overrides reload, and delete requests end to end through HTTP.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/logql/selector.h"
#include "store/index/db.h"
#include "store/index/registry.h"
#include "store/ingest/ingester.h"
#include "store/querier/querier.h"
#include "store/retention/compactor.h"
#include "store/retention/delete_api.h"
#include "store/retention/delete_requests.h"
#include "store/retention/rules.h"
#include "store/retention/runtime_config.h"
#include "store/server/config.h"
#include "store/server/store_server.h"
#include "tests/testing/temp_dir.h"

namespace logq::retention {
namespace {

constexpr int64_t kNow = 1'800'000'000LL * kNanosPerSecond;
constexpr int64_t kH = kNanosPerHour;
constexpr int64_t kD = kNanosPerDay;

ingest::Limits GlobalLimits(const std::string& yaml) {
  auto c = server::ParseStoreConfig(yaml, "test.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->limits_config : ingest::Limits{};
}

Labels L(const std::string& text) {
  auto l = ParseLabels(text);
  EXPECT_TRUE(l.ok()) << text;
  Labels out = *l;
  out.Sort();
  return out;
}

// Loki's documented example (operations/storage/retention.md), plus ties and 0s.
TEST(RetentionRulesTest, PrecedenceTable) {
  ingest::Limits global = GlobalLimits(R"(
limits_config:
  retention_period: 744h
  retention_stream:
  - selector: '{namespace="dev"}'
    priority: 1
    period: 24h
  - selector: '{team="a"}'
    priority: 1
    period: 48h
  - selector: '{team="a", tier="x"}'
    priority: 1
    period: 36h
)");
  auto overrides = server::ParseRuntimeOverrides(R"(
overrides:
  "29":
    retention_period: 168h
    retention_stream:
    - selector: '{namespace="prod"}'
      priority: 2
      period: 336h
    - selector: '{container="loki"}'
      priority: 1
      period: 72h
  "30":
    retention_stream:
    - selector: '{container="nginx"}'
      priority: 1
      period: 24h
  "31":
    retention_period: 0s
  "32":
    retention_period: 48h
)",
                                                 "overrides.yaml", global);
  ASSERT_TRUE(overrides.ok()) << overrides.status().ToString();
  auto limits = [&](const std::string& t) {
    auto it = overrides->find(t);
    return it == overrides->end() ? global : it->second;
  };
  struct Case {
    std::string tenant, labels;
    int64_t want;
  };
  const Case cases[] = {
      // Default tenant: global rules, then the global period.
      {"other", R"({namespace="dev"})", 24 * kH},
      {"other", R"({namespace="prod"})", 744 * kH},
      // Equal priority: the shortest period wins, whatever the order of the rules.
      {"other", R"({team="a", tier="x"})", 36 * kH},
      {"other", R"({team="a", namespace="dev"})", 24 * kH},
      // Tenant 29: its own rules replace the global ones; highest priority wins.
      {"29", R"({namespace="prod", container="loki"})", 336 * kH},
      {"29", R"({namespace="dev", container="loki"})", 72 * kH},
      {"29", R"({namespace="dev"})", 168 * kH},  // global dev rule not inherited
      {"29", R"({app="x"})", 168 * kH},
      // Tenant 30: own rules, inherited global period.
      {"30", R"({container="nginx"})", 24 * kH},
      {"30", R"({namespace="dev"})", 744 * kH},
      // Tenant 31: 0s keeps forever; global stream rules still apply (inherited list).
      {"31", R"({app="x"})", 0},
      {"31", R"({namespace="dev"})", 24 * kH},
      // Tenant 32: tenant period after the (inherited) global rules.
      {"32", R"({app="x"})", 48 * kH},
      {"32", R"({team="a"})", 48 * kH},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RetentionPeriodFor(limits(c.tenant), L(c.labels)), c.want) << c.tenant << " " << c.labels;
  }
  // Without any configuration everything is kept.
  EXPECT_EQ(RetentionPeriodFor(ingest::Limits{}, L(R"({a="b"})")), 0);
}

TEST(RetentionConfigTest, RejectsInvalidRulesNamingTheKey) {
  struct Case {
    std::string yaml, want;
  };
  const Case cases[] = {
      {"limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"}'\n    period: 12h\n",
       "key \"limits_config.retention_stream\": [0]: retention period must be >= 24h was 12h"},
      {"limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"'\n    period: 48h\n",
       "key \"limits_config.retention_stream\": [0]: invalid labels matchers: parse error"},
      {"limits_config:\n  retention_stream:\n  - selector: '{a=~\".*\"}'\n    period: 48h\n",
       "[0]: invalid labels matchers: parse error : queries require at least one regexp"},
      {"limits_config:\n  retention_stream:\n  - period: 48h\n", "[0]: selector is required"},
      {"limits_config:\n  retention_stream:\n  - selector: '{a=\"b\"}'\n    period: 48h\n    prio: 1\n",
       "[0]: unknown key \"prio\""},
      {"limits_config:\n  retention_period: forever\n", "key \"limits_config.retention_period\""},
      {"limits_config:\n  deletion_mode: all\n", "key \"limits_config.deletion_mode\": must be one of disabled"},
      {"compactor:\n  retention_enabeld: true\n", "unknown key \"compactor.retention_enabeld\""},
      {"compactor:\n  compaction_interval: 0s\n", "compactor.compaction_interval must be positive"},
  };
  for (const Case& c : cases) {
    auto r = server::ParseStoreConfig(c.yaml, "store.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
  auto o = server::ParseRuntimeOverrides(
      "overrides:\n  t1:\n    retention_stream:\n    - selector: '{a=\"b\"}'\n      period: 1h\n", "rt.yaml", {});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("key \"overrides.t1.retention_stream\": [0]: retention period must be >= 24h"),
            std::string::npos)
      << o.status().message();
  o = server::ParseRuntimeOverrides("overridez: {}\n", "rt.yaml", {});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("unknown key \"overridez\""), std::string::npos);
}

TEST(RetentionConfigTest, PrintedConfigParsesBackAndFlagsKeepRules) {
  auto c = server::ParseStoreConfig(R"(
limits_config:
  retention_period: 720h
  retention_stream:
  - selector: '{namespace="dev", app=~"a\\.b"}'
    priority: 3
    period: 48h
compactor:
  retention_enabled: true
runtime_config:
  file: /etc/logq/overrides.yaml
)",
                                    "x.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(server::ApplyStoreFlag(&*c, "compactor.compaction-interval", "1m").ok());
  auto back = server::ParseStoreConfig(server::StoreConfigToYaml(*c), "printed");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << server::StoreConfigToYaml(*c);
  ASSERT_EQ(back->limits_config.retention_stream->size(), 1u);
  EXPECT_EQ((*back->limits_config.retention_stream)[0].selector, R"({namespace="dev", app=~"a\\.b"})");
  EXPECT_EQ((*back->limits_config.retention_stream)[0].priority, 3);
  EXPECT_EQ(back->limits_config.retention_period, 720 * kH);
  EXPECT_TRUE(back->compactor.retention_enabled);
  EXPECT_EQ(back->compactor.compaction_interval, kNanosPerMinute);
  EXPECT_EQ(back->runtime_config.file, "/etc/logq/overrides.yaml");
}

// Compares stored and expected timestamps stream by stream, reporting only differences.
void ExpectSame(const std::map<std::string, std::set<int64_t>>& got,
                const std::map<std::string, std::set<int64_t>>& want) {
  std::set<std::string> names;
  for (const auto& [k, _] : got) names.insert(k);
  for (const auto& [k, _] : want) names.insert(k);
  for (const auto& n : names) {
    auto g = got.count(n) ? got.at(n) : std::set<int64_t>{};
    auto w = want.count(n) ? want.at(n) : std::set<int64_t>{};
    if (g == w) continue;
    std::vector<int64_t> extra, missing;
    std::set_difference(g.begin(), g.end(), w.begin(), w.end(), std::back_inserter(extra));
    std::set_difference(w.begin(), w.end(), g.begin(), g.end(), std::back_inserter(missing));
    ADD_FAILURE() << n << ": " << extra.size() << " unexpected (first " << (extra.empty() ? 0 : extra[0]) << "), "
                  << missing.size() << " missing (first " << (missing.empty() ? 0 : missing[0]) << ")";
  }
}

// A store with a compactor on a fake clock.
class CompactorTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    index::DbOptions o;
    o.path = dir_.path() + "/db";
    auto db = index::Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    registry_ = std::make_unique<index::Registry>();
    ASSERT_TRUE(registry_->Load(db_.get()).ok());
    ingest::IngesterOptions io;
    io.chunk_target_size = 2000;  // small chunks: many straddle the cut-offs
    io.wal_dir = dir_.path() + "/wal";
    auto limits_for = [this](std::string_view t) {
      auto it = tenant_limits_.find(std::string(t));
      return it == tenant_limits_.end() ? limits_ : it->second;
    };
    ingester_ = std::make_unique<ingest::Ingester>(db_.get(), registry_.get(), limits_for, &clock_, &metrics_, io);
    Status open = ingester_->Open();
    ASSERT_TRUE(open.ok()) << open.ToString();
    requests_ = std::make_unique<DeleteRequestStore>(db_.get());
    CompactorOptions co;
    co.retention_enabled = true;
    co.chunk.target_block_raw = 500;
    compactor_ = std::make_unique<Compactor>(db_.get(), registry_.get(), ingester_.get(), requests_.get(), limits_for,
                                             &clock_, &metrics_, co);
    querier_ = std::make_unique<querier::StoreQuerier>(db_.get(), registry_.get(), ingester_.get());
  }

  void Reopen() {
    querier_.reset();
    compactor_.reset();
    requests_.reset();
    ingester_.reset();
    registry_.reset();
    db_.reset();
    Open();
  }

  void Push(const std::string& tenant, const std::string& labels, const std::vector<std::pair<int64_t, std::string>>& es) {
    api::PushRequest r;
    api::PushStream s;
    s.labels = labels;
    for (const auto& [ts, line] : es) s.entries.push_back({ts, line, {}});
    r.streams.push_back(std::move(s));
    Status st = ingester_->Push(tenant, std::move(r));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Every stored (labels text → timestamps) of a tenant, over all time.
  std::map<std::string, std::set<int64_t>> Stored(const std::string& tenant) {
    querier::SelectParams p;
    p.start = INT64_MIN / 2;
    p.end = INT64_MAX / 2;
    p.forward = true;
    p.limit = 100'000'000;
    auto r = querier_->SelectLogs(tenant, p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::map<std::string, std::set<int64_t>> out;
    if (!r.ok()) return out;
    for (auto& s : *r) {
      for (auto& e : s.entries) out[s.labels->ToString()].insert(e.ts);
    }
    return out;
  }

  testing::TempDir dir_;
  FakeClock clock_{kNow};
  MetricsRegistry metrics_;
  ingest::Limits limits_;
  std::map<std::string, ingest::Limits> tenant_limits_;
  std::unique_ptr<index::Db> db_;
  std::unique_ptr<index::Registry> registry_;
  std::unique_ptr<ingest::Ingester> ingester_;
  std::unique_ptr<DeleteRequestStore> requests_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<querier::StoreQuerier> querier_;
};

TEST_F(CompactorTest, DeletesExactlyWhatIsOlderThanEachStreamsPeriod) {
  limits_ = GlobalLimits(R"(
limits_config:
  reject_old_samples: false
  retention_period: 6d
  retention_stream:
  - selector: '{env="dev"}'
    priority: 1
    period: 2d
  - selector: '{env="dev", team="x"}'
    priority: 1
    period: 3d
  - selector: '{app=~"api.*"}'
    priority: 2
    period: 4d
  - selector: '{app="gone"}'
    priority: 9
    period: 1d
)");
  tenant_limits_["other"] = limits_;
  tenant_limits_["other"].retention_period = 0;  // keeps its streams forever
  tenant_limits_["other"].retention_stream = std::make_shared<const std::vector<ingest::StreamRetention>>();

  // 48 streams over the combinations of the selectors, each with an entry every 37 minutes
  // over 8 days, plus entries exactly at and 1ns before each stream's cut-off.
  const int64_t T = kNow + 3 * kH;  // time of the pass
  const std::vector<std::string> envs = {"dev", "prod", "stage"};
  const std::vector<std::string> teams = {"x", "y"};
  const std::vector<std::string> apps = {"api-gw", "web", "gone", "db"};
  std::vector<std::string> streams;
  for (const auto& e : envs)
    for (const auto& t : teams)
      for (const auto& a : apps)
        for (int i : {0, 1}) streams.push_back(fmt::format(R"({{env="{}", team="{}", app="{}", i="{}"}})", e, t, a, i));
  std::map<std::string, int64_t> period;
  for (const auto& s : streams) period[s] = RetentionPeriodFor(limits_, L(s));
  EXPECT_EQ(period[R"({env="dev", team="x", app="web", i="0"})"], 2 * kD);   // tie → shortest
  EXPECT_EQ(period[R"({env="dev", team="x", app="api-gw", i="0"})"], 4 * kD);  // priority 2
  EXPECT_EQ(period[R"({env="prod", team="y", app="db", i="1"})"], 6 * kD);   // global

  std::map<std::string, std::set<int64_t>> all;
  for (size_t n = 0; n < streams.size(); ++n) {
    const std::string& s = streams[n];
    std::vector<std::pair<int64_t, std::string>> es;
    if (s.find(R"(app="gone")") != std::string::npos) {
      // Only old data: the stream must disappear entirely.
      for (int64_t ts = kNow - 8 * kD; ts < kNow - 2 * kD; ts += 37 * kNanosPerMinute) es.push_back({ts, "old"});
    } else {
      for (int64_t ts = kNow - 8 * kD + static_cast<int64_t>(n); ts < kNow; ts += 37 * kNanosPerMinute) {
        es.push_back({ts, fmt::format("line {} {}", n, ts)});
      }
      const int64_t cut = T - period[s];
      es.push_back({cut, "at the cut-off"});
      es.push_back({cut - 1, "1ns before the cut-off"});
    }
    for (const auto& [ts, _] : es) all[L(s).ToString()].insert(ts);
    // Half of every stream in chunks, the rest in the head.
    Push("fake", s, std::vector<std::pair<int64_t, std::string>>(es.begin(), es.begin() + es.size() / 2));
  }
  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  // The second halves (re-pushing the same (ts, line) would dedup; push them as stored).
  for (size_t n = 0; n < streams.size(); ++n) {
    const std::string& s = streams[n];
    std::vector<std::pair<int64_t, std::string>> es;
    if (s.find(R"(app="gone")") != std::string::npos) {
      for (int64_t ts = kNow - 8 * kD; ts < kNow - 2 * kD; ts += 37 * kNanosPerMinute) es.push_back({ts, "old"});
    } else {
      for (int64_t ts = kNow - 8 * kD + static_cast<int64_t>(n); ts < kNow; ts += 37 * kNanosPerMinute) {
        es.push_back({ts, fmt::format("line {} {}", n, ts)});
      }
      const int64_t cut = T - period[s];
      es.push_back({cut, "at the cut-off"});
      es.push_back({cut - 1, "1ns before the cut-off"});
    }
    Push("fake", s, std::vector<std::pair<int64_t, std::string>>(es.begin() + es.size() / 2, es.end()));
  }
  Push("other", R"({env="dev"})", {{kNow - 7 * kD, "kept forever"}});
  ExpectSame(Stored("fake"), all);
  ASSERT_FALSE(HasFailure());

  clock_.SetNow(T);
  auto pass = compactor_->RunPass();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_GT(pass->chunks_rewritten, 0u);
  EXPECT_GT(pass->chunks_deleted, 0u);
  EXPECT_GT(pass->heads_cut, 0u);
  EXPECT_EQ(pass->streams_removed, 12u);  // every app="gone" stream

  std::map<std::string, std::set<int64_t>> want;
  uint64_t deleted = 0;
  for (const auto& s : streams) {
    for (int64_t ts : all[L(s).ToString()]) {
      if (ts >= T - period[s]) want[L(s).ToString()].insert(ts);
      else ++deleted;
    }
  }
  ExpectSame(Stored("fake"), want);
  EXPECT_EQ(pass->retention_entries, deleted);
  EXPECT_EQ(Stored("other").size(), 1u);

  // Gone streams left the index: labels/series no longer list them, over any range.
  auto series = querier_->Series("fake", {*logql::ParseSelector(R"({app="gone"})")}, 0, INT64_MAX / 2);
  EXPECT_TRUE(series.empty());
  auto values = querier_->LabelValues("fake", "app", {}, 0, INT64_MAX / 2);
  EXPECT_EQ(values, (std::vector<std::string>{"api-gw", "db", "web"}));
  // Days before a stream's oldest remaining entry are no longer posted.
  auto old_series = querier_->Series("fake", {*logql::ParseSelector(R"({env="dev", app="web"})")}, kNow - 8 * kD,
                                     T - 3 * kD - kH);
  EXPECT_TRUE(old_series.empty());

  // Idempotent: a second pass at the same T deletes nothing; so does one after a restart.
  auto again = compactor_->RunPass();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->retention_entries, 0u);
  EXPECT_EQ(again->chunks_rewritten + again->chunks_deleted + again->heads_cut, 0u);
  Reopen();
  ExpectSame(Stored("fake"), want);
  EXPECT_EQ(registry_->NumStreams("fake"), streams.size() - 12);
  auto after_restart = compactor_->RunPass();
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(after_restart->retention_entries, 0u);
  EXPECT_GT(metrics_.GetGauge("logq_compactor_last_successful_run_timestamp_seconds", "")->Value(), 0);

  // A stream that receives data again after removal comes back.
  Push("fake", R"({env="prod", team="x", app="gone", i="0"})", {{T, "back"}});
  EXPECT_EQ(Stored("fake")[R"({app="gone", env="prod", i="0", team="x"})"], (std::set<int64_t>{T}));
}

TEST_F(CompactorTest, RetentionDisabledOrZeroKeepsEverything) {
  limits_.reject_old_samples = false;
  Push("fake", R"({a="1"})", {{kNow - 400 * kD, "very old"}, {kNow, "new"}});
  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  auto pass = compactor_->RunPass();  // retention_period 0s: keep forever
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->retention_entries, 0u);
  EXPECT_EQ(Stored("fake").begin()->second.size(), 2u);
}

TEST_F(CompactorTest, DeleteRequestsDeleteMatchingLinesInTheirRangeOnly) {
  limits_.reject_old_samples = false;
  std::vector<std::pair<int64_t, std::string>> es;
  for (int i = 0; i < 200; ++i) es.push_back({kNow - kD + i * kNanosPerMinute, i % 3 == 0 ? "secret=1 x" : "ok"});
  Push("fake", R"({app="a"})", es);
  Push("fake", R"({app="b"})", es);
  ASSERT_TRUE(ingester_->CutChunks(true).ok());
  Push("fake", R"({app="a"})", {{kNow - kD + 1000 * kNanosPerMinute, "secret=1 late"}});
  const int64_t start_ms = (kNow - kD + 50 * kNanosPerMinute) / 1'000'000;
  const int64_t end_ms = (kNow - kD + 150 * kNanosPerMinute) / 1'000'000;
  auto added = requests_->Add("fake", R"({app="a"} |= "secret")", start_ms, end_ms, kNow / 1'000'000);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  // Still within the cancel period (24h by default): nothing happens.
  auto p1 = compactor_->RunPass();
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->request_entries, 0u);
  clock_.Advance(24 * kH);
  auto p2 = compactor_->RunPass();
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->requests_processed, 1u);
  auto stored = Stored("fake");
  size_t expect_deleted = 0;
  for (const auto& [ts, line] : es) {
    bool del = line.rfind("secret", 0) == 0 && ts >= start_ms * 1'000'000 && ts <= end_ms * 1'000'000;
    expect_deleted += del;
    EXPECT_EQ(stored[R"({app="a"})"].count(ts), del ? 0u : 1u) << ts;
    EXPECT_EQ(stored[R"({app="b"})"].count(ts), 1u);
  }
  EXPECT_EQ(p2->request_entries, expect_deleted);
  EXPECT_EQ(stored[R"({app="a"})"].count(kNow - kD + 1000 * kNanosPerMinute), 1u);  // outside the range
  auto list = requests_->List("fake");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].status, "processed");
  auto p3 = compactor_->RunPass();
  ASSERT_TRUE(p3.ok());
  EXPECT_EQ(p3->request_entries + p3->requests_processed, 0u);
}

TEST(RuntimeConfigTest, ReloadChangesATenantsPeriodAndKeepsTheLastGoodFile) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/overrides.yaml";
  auto write = [&](const std::string& text) {
    std::ofstream(file, std::ios::trunc) << text;
  };
  ingest::Limits defaults;
  defaults.retention_period = 744 * kH;
  MetricsRegistry metrics;
  RuntimeConfig rc(defaults, file, server::ParseRuntimeOverrides, &metrics);
  write("overrides:\n  t1:\n    retention_period: 48h\n");
  ASSERT_TRUE(rc.Reload().ok());
  EXPECT_EQ(rc.LimitsFor("t1").retention_period, 48 * kH);
  EXPECT_EQ(rc.LimitsFor("t2").retention_period, 744 * kH);
  write("overrides:\n  t1:\n    retention_period: 72h\n    max_line_size: 1KB\n  t2:\n    retention_period: 24h\n");
  ASSERT_TRUE(rc.Reload().ok());
  EXPECT_EQ(rc.LimitsFor("t1").retention_period, 72 * kH);
  EXPECT_EQ(rc.LimitsFor("t1").max_line_size, 1000);
  EXPECT_EQ(rc.LimitsFor("t2").retention_period, 24 * kH);
  write("overrides:\n  t1:\n    retention_period: soon\n");
  Status bad = rc.Reload();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("overrides.t1.retention_period"), std::string::npos) << bad.message();
  EXPECT_EQ(rc.LimitsFor("t1").retention_period, 72 * kH);  // previous overrides stay
  EXPECT_EQ(metrics.GetGauge("logq_runtime_config_last_reload_successful", "")->Value(), 0);
}

TEST_F(CompactorTest, RuntimeOverrideReloadAppliesOnTheNextPass) {
  const std::string file = dir_.path() + "/overrides.yaml";
  std::ofstream(file) << "overrides:\n  t1:\n    retention_period: 96h\n";
  ingest::Limits defaults;
  defaults.reject_old_samples = false;
  RuntimeConfig rc(defaults, file, server::ParseRuntimeOverrides, &metrics_);
  ASSERT_TRUE(rc.Reload().ok());
  for (const auto& t : {"t1", "t2"}) tenant_limits_[t] = rc.LimitsFor(t);
  Push("t1", R"({a="1"})", {{kNow - 3 * kD, "3d"}, {kNow - 5 * kD, "5d"}});
  auto p = compactor_->RunPass();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Stored("t1").begin()->second, (std::set<int64_t>{kNow - 3 * kD}));
  std::ofstream(file, std::ios::trunc) << "overrides:\n  t1:\n    retention_period: 48h\n";
  ASSERT_TRUE(rc.Reload().ok());
  tenant_limits_["t1"] = rc.LimitsFor("t1");
  p = compactor_->RunPass();
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(Stored("t1").empty());
  EXPECT_EQ(registry_->NumStreams("t1"), 0u);
}

// Delete requests through the HTTP API of an in-process store on a fake clock.
TEST(DeleteApiTest, CreateListCancelProcess) {
  testing::TempDir dir;
  FakeClock clock(kNow);
  server::StoreConfig cfg;
  cfg.server.http_listen_address = "127.0.0.1";
  cfg.server.http_listen_port = 0;
  cfg.storage.path = dir.path() + "/data";
  cfg.limits_config.reject_old_samples = false;
  server::StoreServer srv(cfg, &clock);
  ASSERT_TRUE(srv.Start().ok());
  auto call = [&](const std::string& method, const std::string& path, std::multimap<std::string, std::string> params,
                  std::string body = "") {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.params = std::move(params);
    r.body = std::move(body);
    if (!r.body.empty()) r.headers["Content-Type"] = "application/json";
    return srv.Handle(r);
  };
  const int64_t t0 = kNow - 2 * kH;
  std::string push = R"({"streams":[{"stream":{"app":"a"},"values":[)";
  for (int i = 0; i < 10; ++i) {
    push += fmt::format(R"({}["{}","{}"])", i ? "," : "", t0 + i * kNanosPerMinute, i % 2 ? "password=hunter2" : "fine");
  }
  push += "]}]}";
  ASSERT_EQ(call("POST", "/loki/api/v1/push", {}, push).status, 204);
  const std::string start = std::to_string(t0 / kNanosPerSecond);
  const std::string end = std::to_string((t0 + 5 * kNanosPerMinute) / kNanosPerSecond);
  const std::string query = R"({app="a"} |= "password")";

  // Validation as Loki.
  EXPECT_EQ(call("POST", "/loki/api/v1/delete", {{"start", start}}).body, "query not set\n");
  EXPECT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}}).body, "start time not set\n");
  EXPECT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}, {"start", "yesterday"}}).body,
            "invalid start time: require unix seconds or RFC3339 format\n");
  EXPECT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}, {"start", start}, {"end", "4000000000"}}).body,
            "deletes in the future are not allowed\n");
  EXPECT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}, {"start", end}, {"end", start}}).body,
            "start time can't be greater than end time\n");
  auto bad = call("POST", "/loki/api/v1/delete", {{"query", "{app=}"}, {"start", start}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.rfind("invalid query expression: parse error", 0), 0u) << bad.body;

  // Create, list, cancel within the window.
  ASSERT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}, {"start", start}, {"end", end}}).status, 204);
  auto list = call("GET", "/loki/api/v1/delete", {});
  ASSERT_EQ(list.status, 200);
  auto j = nlohmann::json::parse(list.body);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["status"], "received");
  EXPECT_EQ(j[0]["query"], query);
  EXPECT_EQ(j[0]["start_time"].get<int64_t>(), t0 / kNanosPerSecond);
  EXPECT_EQ(j[0]["created_at"].get<int64_t>(), kNow / kNanosPerSecond);
  const std::string id = j[0]["request_id"];
  EXPECT_EQ(id.size(), 8u);
  EXPECT_EQ(call("DELETE", "/loki/api/v1/delete", {{"request_id", "00000000"}}).status, 404);
  EXPECT_EQ(call("DELETE", "/loki/api/v1/delete", {{"request_id", id}}).status, 204);
  EXPECT_EQ(call("GET", "/loki/api/v1/delete", {}).body, "[]\n");
  clock.Advance(25 * kH);
  ASSERT_TRUE(srv.RunCompaction().ok());
  auto q = call("GET", "/loki/api/v1/query_range",
                {{"query", R"({app="a"})"}, {"start", std::to_string(t0)}, {"end", std::to_string(kNow)}, {"limit", "100"}});
  EXPECT_EQ(nlohmann::json::parse(q.body)["data"]["result"][0]["values"].size(), 10u);  // cancelled: nothing deleted

  // Create again; processed once the cancel period is over.
  ASSERT_EQ(call("POST", "/loki/api/v1/delete", {{"query", query}, {"start", start}, {"end", end}}).status, 204);
  clock.Advance(kH);
  ASSERT_TRUE(srv.RunCompaction().ok());
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/loki/api/v1/delete", {}).body)[0]["status"], "received");
  clock.Advance(24 * kH);
  ASSERT_TRUE(srv.RunCompaction().ok());
  j = nlohmann::json::parse(call("GET", "/loki/api/v1/delete", {}).body);
  EXPECT_EQ(j[0]["status"], "processed");
  EXPECT_EQ(call("DELETE", "/loki/api/v1/delete", {{"request_id", j[0]["request_id"]}}).body,
            "deletion of request which is in process or already processed is not allowed\n");
  q = call("GET", "/loki/api/v1/query_range",
           {{"query", R"({app="a"})"}, {"start", std::to_string(t0)}, {"end", std::to_string(kNow)}, {"limit", "100"}});
  auto values = nlohmann::json::parse(q.body)["data"]["result"][0]["values"];
  std::set<std::string> lines;
  for (const auto& v : values) lines.insert(v[1].get<std::string>() + "@" + v[0].get<std::string>());
  EXPECT_EQ(values.size(), 7u) << q.body;  // minutes 1, 3, 5 deleted; 7 and 9 are after `end`
  for (int i : {1, 3, 5}) EXPECT_EQ(lines.count("password=hunter2@" + std::to_string(t0 + i * kNanosPerMinute)), 0u);
  for (int i : {7, 9}) EXPECT_EQ(lines.count("password=hunter2@" + std::to_string(t0 + i * kNanosPerMinute)), 1u);
  auto gen = call("GET", "/loki/api/v1/cache/generation_numbers", {});
  EXPECT_EQ(gen.status, 200);
  EXPECT_EQ(gen.body.front(), '"');
  srv.Stop();
}

TEST(DeleteApiTest, FormatsTimesAsLoki) {
  EXPECT_EQ(GoDurationString(24 * kH), "24h0m0s");
  EXPECT_EQ(GoDurationString(90 * kNanosPerSecond), "1m30s");
  EXPECT_EQ(GoDurationString(1500 * kNanosPerMilli), "1.5s");
  EXPECT_EQ(GoDurationString(500 * kNanosPerMilli), "500ms");
  DeleteRequest r;
  r.request_id = "0badf00d";
  r.start_ms = 1711380000000;
  r.end_ms = 1711725636412;
  r.created_at_ms = 1711725636500;
  r.query = R"({a="b"})";
  EXPECT_EQ(DeleteRequestsToJson({r}),
            R"([{"request_id":"0badf00d","start_time":1711380000,"end_time":1711725636.412,"query":"{a=\"b\"}",)"
            R"("status":"received","created_at":1711725636.5}])"
            "\n");
  EXPECT_EQ(*ParseDeleteTime("1711380000", 0), 1711380000000);
  EXPECT_EQ(*ParseDeleteTime("2024-03-25T15:20:00.5Z", 0), 1711380000500);
  EXPECT_FALSE(ParseDeleteTime("17113800001", 0).ok());
}

}  // namespace
}  // namespace logq::retention
