// logq CLI flag parsing, time arguments and output formatting (pure functions).
#include "query/cli/flags.h"

#include <gtest/gtest.h>

#include <map>

#include "query/cli/output.h"

namespace logq::cli {
namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000 * kS;

Result<Options> Parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return ParseArgs(args, [env](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  }, kNow);
}

TEST(CliFlagsTest, DefaultsFollowLogcli) {
  auto o = Parse({"query", "{a=\"b\"}"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->command, Command::kQuery);
  EXPECT_EQ(o->addr, "http://localhost:3100");
  EXPECT_EQ(o->limit, 30);
  EXPECT_EQ(o->batch, 1000);
  EXPECT_EQ(o->end, kNow);
  EXPECT_EQ(o->start, kNow - 3600 * kS);
  EXPECT_FALSE(o->forward);
  EXPECT_EQ(o->args, std::vector<std::string>{"{a=\"b\"}"});
}

TEST(CliFlagsTest, EnvironmentPrecedence) {
  auto o = Parse({"labels"}, {{"LOKI_ADDR", "http://loki:3100"}, {"LOKI_ORG_ID", "t1"}});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->addr, "http://loki:3100");
  EXPECT_EQ(o->org_id, "t1");
  o = Parse({"labels"}, {{"LOKI_ADDR", "http://loki:3100"}, {"LOGQ_ADDR", "http://logq:3100/"}});
  EXPECT_EQ(o->addr, "http://logq:3100");  // LOGQ_ wins, trailing slash dropped
  o = Parse({"labels", "--addr", "https://x"}, {{"LOGQ_ADDR", "http://logq:3100"}});
  EXPECT_EQ(o->addr, "https://x");  // the flag wins
}

TEST(CliFlagsTest, FlagSyntaxes) {
  auto o = Parse({"query", "-o", "raw", "--limit=5", "--forward", "-q", "--include-label", "app",
                  "--include-label=env", "{a=\"b\"}", "--step=30s", "-z", "UTC"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->output, OutputMode::kRaw);
  EXPECT_EQ(o->limit, 5);
  EXPECT_TRUE(o->forward);
  EXPECT_TRUE(o->quiet);
  EXPECT_TRUE(o->utc);
  EXPECT_EQ(o->step_ns, 30 * kS);
  EXPECT_EQ(o->include_labels, (std::vector<std::string>{"app", "env"}));
  auto t = Parse({"query", "--tail", "{a=\"b\"}"});
  EXPECT_EQ(t->command, Command::kTail);
}

TEST(CliFlagsTest, TimeArguments) {
  EXPECT_EQ(*ParseTimeArg("now", kNow), kNow);
  EXPECT_EQ(*ParseTimeArg("-5m", kNow), kNow - 300 * kS);
  EXPECT_EQ(*ParseTimeArg("now-1h", kNow), kNow - 3600 * kS);
  EXPECT_EQ(*ParseTimeArg("2023-11-14T22:13:20Z", kNow), kNow);
  EXPECT_EQ(*ParseTimeArg("1700000000", kNow), kNow);
  EXPECT_EQ(*ParseTimeArg("1700000000000000000", kNow), kNow);
  EXPECT_FALSE(ParseTimeArg("yesterday", kNow).ok());
  auto o = Parse({"query", "--from=-2h", "--to=-1h", "{a=\"b\"}"});
  EXPECT_EQ(o->start, kNow - 7200 * kS);
  EXPECT_EQ(o->end, kNow - 3600 * kS);
  o = Parse({"query", "--since=10m", "--to=-1h", "{a=\"b\"}"});
  EXPECT_EQ(o->start, kNow - 4200 * kS);
}

TEST(CliFlagsTest, ErrorsNameTheFlag) {
  struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"query", "--limit=-1", "x"}, "--limit: must be a non-negative integer, got \"-1\""},
      {{"query", "--batch=0", "x"}, "--batch: must be a positive integer, got \"0\""},
      {{"query", "--since=soon", "x"}, "--since: expected a positive duration like 1h or 30m, got \"soon\""},
      {{"query", "--from=-1h", "--to=-2h", "x"}, "--from must not be after --to"},
      {{"query", "--timezone=Mars", "x"}, "--timezone: must be local or UTC, got \"Mars\""},
      {{"query", "--addr=localhost:3100", "x"}, "--addr: must be a URL like http://localhost:3100, got \"localhost:3100\""},
      {{"query", "--limit"}, "--limit: missing value"},
      {{"labels", "a", "b"}, "labels: unexpected argument \"b\""},
      {{"query", "--bearer-token=x", "--bearer-token-file=y", "q"}, "mutually exclusive"},
  };
  for (const auto& c : cases) {
    auto o = Parse(c.args);
    ASSERT_FALSE(o.ok()) << c.message;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.message), std::string::npos) << o.status().message();
  }
}

TEST(CliFlagsTest, HelpForEverySubcommandHasExamples) {
  for (Command c : {Command::kQuery, Command::kInstantQuery, Command::kLabels, Command::kSeries, Command::kTail,
                    Command::kStats, Command::kVolume, Command::kFmt}) {
    EXPECT_NE(HelpText(c).find("Examples:"), std::string::npos) << CommandName(c);
    EXPECT_NE(HelpText(c).find(std::string("logq ") + std::string(CommandName(c))), std::string::npos);
  }
  auto o = Parse({"tail", "--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(HelpText(Command::kNone).find("Exit codes"), std::string::npos);
}

TEST(CliOutputTest, TimeFormatsAndColorChoice) {
  EXPECT_EQ(FormatTime(kNow, true, false), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatTime(kNow + 120'000'000, true, true), "2023-11-14T22:13:20.12Z");
  Options o;
  EXPECT_TRUE(UseColor(o, true, nullptr));
  EXPECT_FALSE(UseColor(o, false, nullptr));
  EXPECT_FALSE(UseColor(o, true, "1"));
  o.color = "always";
  EXPECT_TRUE(UseColor(o, false, nullptr));
}

}  // namespace
}  // namespace logq::cli
