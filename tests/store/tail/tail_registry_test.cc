// TailRegistry with a fake WebSocket: slow clients get dropped_entries (bounded), frames
// hold at most 100 entries, the push path is skipped when nobody tails, sessions release
// their slot when the last handle goes.
#include "store/tail/tail_registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "query/logql/parser.h"

namespace logq::tail {
namespace {

class FakeSocket final : public WebSocket {
 public:
  bool SendText(std::string message) override {
    std::lock_guard<std::mutex> l(mu_);
    if (never_reads_) {  // everything sent stays queued, as with a client that never reads
      ++queued_;
      queued_bytes_ += message.size();
    }
    sent_.push_back(std::move(message));
    return true;
  }
  size_t QueuedMessages() const override { return queued_.load(); }
  size_t QueuedBytes() const override { return queued_bytes_.load(); }
  void Close(int code, std::string reason) override {
    std::lock_guard<std::mutex> l(mu_);
    close_code_ = code;
    close_reason_ = std::move(reason);
  }
  bool IsOpen() const override { return true; }

  std::vector<std::string> Sent() {
    std::lock_guard<std::mutex> l(mu_);
    return sent_;
  }
  std::atomic<size_t> queued_{0};
  std::atomic<size_t> queued_bytes_{0};
  bool never_reads_ = false;  // set before Attach

 private:
  std::mutex mu_;
  std::vector<std::string> sent_;
  int close_code_ = 0;
  std::string close_reason_;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool PollUntil(const std::function<bool()>& f) {
  for (int i = 0; i < 2000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class TailRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = TailRegistry::Create(
        SystemClock::Default(), &metrics_,
        [](const TailRequest&, int64_t) -> Result<engine::QueryResult> { return engine::QueryResult{}; }, {});
  }

  TailRequest Request(const std::string& q) {
    TailRequest r;
    r.tenant = "t";
    r.query = q;
    auto e = logql::ParseLogExpr(q);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    r.expr = *e;
    return r;
  }

  void Push(int n, int64_t ts0, const std::string& app = "a") {
    ingest::PushedStream s;
    s.labels.Add("app", app);
    s.fp = std::hash<std::string>()(app);
    for (int i = 0; i < n; ++i) s.entries.push_back({ts0 + i, "line " + std::to_string(i), {}});
    std::vector<ingest::PushedStream> v;
    v.push_back(std::move(s));
    registry_->OnPushed("t", std::move(v));
  }

  static std::pair<size_t, size_t> Count(const std::vector<std::string>& frames) {
    size_t entries = 0, dropped = 0;
    for (const auto& f : frames) {
      auto j = nlohmann::json::parse(f);
      for (const auto& s : j["streams"]) entries += s["values"].size();
      if (j.contains("dropped_entries")) dropped += j["dropped_entries"].size();
    }
    return {entries, dropped};
  }

  MetricsRegistry metrics_;
  std::shared_ptr<TailRegistry> registry_;
};

TEST_F(TailRegistryTest, NobodyTailingMeansNothingIsQueued) {
  EXPECT_FALSE(registry_->Wants("t"));
  auto h = registry_->Open(Request("{app=\"a\"}"), 10);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(registry_->Wants("t"));
  EXPECT_FALSE(registry_->Wants("other"));
  h->reset();
  EXPECT_FALSE(registry_->Wants("t"));
  EXPECT_EQ(registry_->ActiveTails("t"), 0u);
}

TEST_F(TailRegistryTest, FramesHoldAtMostOneHundredEntries) {
  auto h = registry_->Open(Request("{app=\"a\"}"), 10);
  ASSERT_TRUE(h.ok());
  auto sock = std::make_shared<FakeSocket>();
  registry_->Attach((*h)->id(), sock);
  Push(250, NowNs() - 1'000'000'000);
  ASSERT_TRUE(PollUntil([&] { return Count(sock->Sent()).first == 250; }));
  auto frames = sock->Sent();
  ASSERT_EQ(frames.size(), 3u);
  for (const auto& f : frames) EXPECT_LE(Count({f}).first, 100u);
}

TEST_F(TailRegistryTest, SlowClientGetsBoundedDroppedEntries) {
  auto h = registry_->Open(Request("{app=\"a\"}"), 10);
  ASSERT_TRUE(h.ok());
  auto sock = std::make_shared<FakeSocket>();
  sock->queued_ = 10;  // the client's connection already holds 10 unsent frames
  registry_->Attach((*h)->id(), sock);
  Push(1500, NowNs() - 1'000'000'000);
  ASSERT_TRUE(PollUntil([&] {
    return metrics_.Render().find("logq_tail_dropped_entries_total{tenant=\"t\",reason=\"slow_client\"} 1500") !=
           std::string::npos;
  })) << metrics_.Render();
  EXPECT_TRUE(sock->Sent().empty());
  sock->queued_ = 0;  // the client caught up
  Push(1, NowNs() - 1'000'000);
  ASSERT_TRUE(PollUntil([&] { return !sock->Sent().empty(); }));
  auto [entries, dropped] = Count(sock->Sent());
  EXPECT_EQ(entries, 1u);
  EXPECT_EQ(dropped, 1000u);  // Loki keeps at most 1000 dropped entries per frame
  auto j = nlohmann::json::parse(sock->Sent()[0]);
  EXPECT_EQ(j["dropped_entries"][0]["labels"], nlohmann::json({{"app", "a"}}));
  EXPECT_TRUE(j["dropped_entries"][0]["timestamp"].is_string());
}

// Old code: only frames were counted, so a client that never reads held up to 10 frames of
// 100 entries whatever their size (about 12 MB per client with real lines).
TEST_F(TailRegistryTest, ClientThatNeverReadsHoldsAtMostMaxBufferedBytesPlusOneFrame) {
  TailOptions o;
  o.max_buffered_bytes = 64 << 10;
  auto reg = TailRegistry::Create(
      SystemClock::Default(), &metrics_,
      [](const TailRequest&, int64_t) -> Result<engine::QueryResult> { return engine::QueryResult{}; }, o);
  auto h = reg->Open(Request("{app=\"a\"}"), 10);
  ASSERT_TRUE(h.ok());
  auto sock = std::make_shared<FakeSocket>();
  sock->never_reads_ = true;
  reg->Attach((*h)->id(), sock);
  ingest::PushedStream st;
  st.labels.Add("app", "a");
  st.fp = 1;
  const int64_t t0 = NowNs() - 1'000'000'000;
  for (int i = 0; i < 500; ++i) st.entries.push_back({t0 + i, std::string(4096, 'x'), {}});
  std::vector<ingest::PushedStream> v;
  v.push_back(std::move(st));
  reg->OnPushed("t", std::move(v));
  ASSERT_TRUE(PollUntil([&] {
    return metrics_.Render().find("logq_tail_dropped_entries_total{tenant=\"t\",reason=\"slow_client\"} 400") !=
           std::string::npos;
  })) << metrics_.Render();
  // One frame of 100 entries went (the queue was empty); the other 400 entries were dropped.
  EXPECT_EQ(sock->queued_.load(), 1u);
  EXPECT_LT(sock->queued_bytes_.load(), size_t{100} * 4096 + (8 << 10));
  EXPECT_EQ(Count(sock->Sent()).first, 100u);
  reg->Stop();
}

TEST_F(TailRegistryTest, LimitCountsOpenSessionsPerTenant) {
  auto a = registry_->Open(Request("{app=\"a\"}"), 1);
  ASSERT_TRUE(a.ok());
  auto b = registry_->Open(Request("{app=\"a\"}"), 1);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "max concurrent tail requests limit exceeded, count > limit (2 > 1)");
  a->reset();
  EXPECT_TRUE(registry_->Open(Request("{app=\"a\"}"), 1).ok());
}

}  // namespace
}  // namespace logq::tail
