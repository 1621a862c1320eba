// End-to-end tests of `logq tail` against the real store: lines pushed after the tail
// started arrive; a store restart is survived (reconnect, resume, no duplicates, nothing
// pushed while connected lost); Ctrl-C ends it with 0; the concurrent-tail limit gives a
// one-line error.
#include <gtest/gtest.h>

#include <csignal>
#include <map>

#include "tests/e2e/cli_util.h"
#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

double ActiveTails(TestHttpClient& http) {
  return MetricValue(http.Get("/metrics").body, "logq_tail_active{tenant=\"fake\"}");
}

void PushLines(TestHttpClient& http, const std::string& prefix, int from, int to, int64_t ts0) {
  std::vector<api::PushEntry> e;
  for (int i = from; i < to; ++i) e.push_back(Entry(ts0 + i, prefix + std::to_string(i)));
  ASSERT_EQ(PushProto(http, Request({Stream("{app=\"tailcli\"}", e)})).status, 204);
}

TEST(TailCliE2ETest, ReceivesLinesPushedAfterItStartedAndStopsOnCtrlC) {
  LOGQ_ASSERT_START(store);
  testing::TempDir dir;
  TestHttpClient http(store->base_url());
  auto tail = StartCli(dir.path(), "tail", {"tail", "--addr=" + store->base_url(), "-o", "raw", "{app=\"tailcli\"}"});
  ASSERT_TRUE(tail.process);
  ASSERT_TRUE(PollUntil([&] { return ActiveTails(http) == 1; }, std::chrono::seconds(10))) << tail.Err();
  const int64_t ts0 = NowNs() - kSecond;
  PushLines(http, "line ", 0, 20, ts0);
  std::string want;
  for (int i = 0; i < 20; ++i) want += "line " + std::to_string(i) + "\n";
  ASSERT_TRUE(PollUntil([&] { return tail.Out() == want; }, std::chrono::seconds(10))) << tail.Out() << tail.Err();

  tail.process->Kill(SIGINT);
  auto code = tail.process->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0) << tail.Err();
  EXPECT_TRUE(PollUntil([&] { return ActiveTails(http) == 0; }, std::chrono::seconds(10)));
}

TEST(TailCliE2ETest, ReconnectsAfterAStoreRestartWithoutDuplicatesOrLoss) {
  const uint16_t port = FreePort();
  LOGQ_ASSERT_START(store, {.flags = {"-server.http-listen-port=" + std::to_string(port)}});
  ASSERT_EQ(store->port(), port);
  testing::TempDir dir;
  TestHttpClient http(store->base_url());
  auto tail = StartCli(dir.path(), "tail", {"tail", "--addr=" + store->base_url(), "-o", "raw", "{app=\"tailcli\"}"});
  ASSERT_TRUE(tail.process);
  ASSERT_TRUE(PollUntil([&] { return ActiveTails(http) == 1; }, std::chrono::seconds(10))) << tail.Err();

  const int64_t ts0 = NowNs() - 5 * kSecond;
  PushLines(http, "a", 0, 50, ts0);  // while connected
  ASSERT_TRUE(PollUntil([&] { return SplitLines(tail.Out()).size() == 50; }, std::chrono::seconds(10))) << tail.Err();

  store->Kill();  // kill -9: the tail's connection breaks
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  ASSERT_EQ(store->port(), port);
  http.set_base_url(store->base_url());
  PushLines(http, "b", 50, 80, ts0);  // possibly before the tail reconnected: comes as history
  ASSERT_TRUE(PollUntil([&] { return ActiveTails(http) == 1; }, std::chrono::seconds(20))) << tail.Err();
  PushLines(http, "c", 80, 120, ts0);  // after it reconnected

  ASSERT_TRUE(PollUntil([&] { return SplitLines(tail.Out()).size() >= 120; }, std::chrono::seconds(20)))
      << tail.Out() << tail.Err();
  auto lines = SplitLines(tail.Out());
  std::vector<std::string> want;
  for (int i = 0; i < 120; ++i) want.push_back((i < 50 ? "a" : i < 80 ? "b" : "c") + std::to_string(i));
  EXPECT_EQ(lines, want) << tail.Err();
  EXPECT_CONTAINS(tail.Err(), "reconnected");
  tail.process->Kill(SIGINT);
  auto code = tail.process->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(code.ok() && *code == 0);
}

TEST(TailCliE2ETest, TooManyTailsIsAOneLineError) {
  LOGQ_ASSERT_START(store, {.flags = {"-limits-config.max-concurrent-tail-requests=1"}});
  testing::TempDir dir;
  TestHttpClient http(store->base_url());
  auto first = StartCli(dir.path(), "first", {"tail", "-q", "--addr=" + store->base_url(), "{app=\"x\"}"});
  ASSERT_TRUE(PollUntil([&] { return ActiveTails(http) == 1; }, std::chrono::seconds(10))) << first.Err();
  CliRun second = RunCli({"tail", "-q", "--addr=" + store->base_url(), "{app=\"x\"}"});
  EXPECT_EQ(second.code, 1) << second.Describe();
  EXPECT_EQ(second.err,
            "logq: max concurrent tail requests limit exceeded, count > limit (2 > 1) (HTTP 400)\n");
  CliRun bad = RunCli({"query", "--tail", "-q", "--addr=" + store->base_url(), "{app=\"x\""});
  EXPECT_EQ(bad.code, 1) << bad.Describe();
  EXPECT_CONTAINS(bad.err, "parse error");
  first.process->Kill(SIGTERM);
  auto code = first.process->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(code.ok() && *code == 0);
}

}  // namespace
}  // namespace logq::e2e
