#include "shipper/stages/stages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logq::shipper {
namespace {

using Labels = std::map<std::string, std::string, std::less<>>;

class CollectSink : public EntrySink {
 public:
  void Emit(LogEntry&& e) override { emitted.push_back(std::move(e)); }
  void Dropped(const LogEntry& e, std::string_view reason) override {
    dropped.emplace_back(e, std::string(reason));
  }
  std::vector<LogEntry> emitted;
  std::vector<std::pair<LogEntry, std::string>> dropped;
};

constexpr int64_t kT0 = 1'700'000'000LL * kNanosPerSecond;  // 2023-11-14T22:13:20Z

class StagesTest : public ::testing::Test {
 protected:
  std::unique_ptr<StagePipeline> Make(const std::string& yaml) {
    auto p = StagePipeline::Make(YAML::Load(yaml), clock_);
    EXPECT_TRUE(p.ok()) << p.status().ToString() << "\n" << yaml;
    return p.ok() ? std::move(p).value() : nullptr;
  }
  std::string MakeError(const std::string& yaml) {
    auto p = StagePipeline::Make(YAML::Load(yaml), clock_);
    EXPECT_FALSE(p.ok()) << yaml;
    return p.ok() ? "" : p.status().message();
  }
  static LogEntry Entry(std::string line, Labels labels = {{"job", "test"}}, uint64_t offset = 0,
                        uint64_t file = 1) {
    LogEntry e;
    e.timestamp_ns = kT0;
    e.line = std::move(line);
    e.labels = std::move(labels);
    e.cursor = {file, offset};
    return e;
  }
  // Runs one line through and returns the single emitted entry.
  LogEntry One(StagePipeline& p, LogEntry e) {
    CollectSink sink;
    p.Process(std::move(e), sink);
    EXPECT_EQ(sink.emitted.size(), 1u);
    EXPECT_TRUE(sink.dropped.empty());
    return sink.emitted.empty() ? LogEntry{} : sink.emitted[0];
  }

  FakeClock clock_{kT0};
};

TEST_F(StagesTest, EmptyAndNoopStagesPassThrough) {
  for (const char* y : {"", "[]", "- cri: {}\n- docker: {}\n",
                        "- cri:\n    max_partial_lines: 100\n"}) {
    auto p = Make(y);
    ASSERT_TRUE(p);
    LogEntry e = One(*p, Entry("hello"));
    EXPECT_EQ(e.line, "hello");
    EXPECT_EQ(e.labels, (Labels{{"job", "test"}}));
    EXPECT_EQ(e.timestamp_ns, kT0);
  }
}

// Promtail docs, json stage: the docker-style line, then a second json stage on `extra`.
TEST_F(StagesTest, JsonPromtailDocsExample) {
  auto p = Make(R"(
- json:
    expressions:
      output: log
      stream: stream
      timestamp: time
      extra:
- json:
    expressions:
      user:
    source: extra
- labels:
    stream:
    user:
- output:
    source: output
- timestamp:
    source: timestamp
    format: RFC3339Nano
)");
  LogEntry e = One(*p, Entry(R"({"log":"log message\n","stream":"stderr","time":"2019-04-30T02:12:41.8443515Z","extra":"{\"user\":\"marco\"}"})"));
  EXPECT_EQ(e.line, "log message\n");
  EXPECT_EQ(e.labels, (Labels{{"job", "test"}, {"stream", "stderr"}, {"user", "marco"}}));
  EXPECT_EQ(e.timestamp_ns, 1556590361844351500LL);
}

TEST_F(StagesTest, JsonValueTypesPathsAndMissing) {
  auto p = Make(R"(
- json:
    expressions:
      n: duration
      f: ratio
      b: ok
      nul: gone
      arr: component
      second: component[1]
      obj: nested
      child: nested.child
      dotted: '"app.kubernetes.io/name"'
      deep: 'items[0].name'
      html: h
      missing: no.such.path
- template:
    source: all
    template: '{{ .n }}|{{ .f }}|{{ .b }}|{{ .arr }}|{{ .second }}|{{ .obj }}|{{ .child }}|{{ .dotted }}|{{ .deep }}|{{ .html }}'
- output:
    source: all
)");
  LogEntry e = One(*p, Entry(R"({"duration":125,"ratio":1.50,"ok":true,"gone":null,"component":["parser","type"],)"
                             R"("nested":{"z":1,"child":"value","a":[1,2]},"app.kubernetes.io/name":"web",)"
                             R"("items":[{"name":"first"},{"name":"second"}],"h":{"x":"<a&b>"}})"));
  EXPECT_EQ(e.line,
            "125|1.5|true|[\"parser\",\"type\"]|type|{\"a\":[1,2],\"child\":\"value\",\"z\":1}|value|web|"
            "first|{\"x\":\"\\u003ca\\u0026b\\u003e\"}");
}

TEST_F(StagesTest, JsonMissingPathIsNilAndOutputKeepsTheLine) {
  // Promtail stores nil for a missing path; getString(nil) fails, so output and labels skip it.
  auto p = Make("- json:\n    expressions:\n      msg: message\n      lvl: level\n"
                "- labels:\n    lvl:\n- output:\n    source: msg\n");
  LogEntry e = One(*p, Entry(R"({"other":1})"));
  EXPECT_EQ(e.line, R"({"other":1})");
  EXPECT_EQ(e.labels.count("lvl"), 0u);
}

TEST_F(StagesTest, JsonMalformedKeptOrDropped) {
  auto keep = Make("- json:\n    expressions:\n      a: a\n- labels:\n    a:\n");
  for (const char* bad : {"not json", R"({"a":"x")", R"(["a"])", R"({"a":"x"} trailing)", R"({"a":01})",
                          "{\"a\":\"ctl\x01\"}", R"({"a":1,})", R"({"a" 1})", R"({"a":tru})", R"({"a":"\q"})",
                          R"({"a":1.})", R"({"a":-})", R"({"a":[1,]})", R"({"a":"\u12"})"}) {
    LogEntry e = One(*keep, Entry(bad));
    EXPECT_EQ(e.line, bad);
    EXPECT_EQ(e.labels.count("a"), 0u) << bad;
  }
  for (const char* good : {R"( {"a" : "x"} )", R"({"a":"x","n":[1,-0.5e+3,{"b":null}],"t":true,"u":"\u00e9\n"})",
                           "{\"a\":\"x\",\"bad_utf8\":\"\xff\"}"}) {
    EXPECT_EQ(One(*keep, Entry(good)).labels["a"], "x") << good;
  }
  auto drop = Make("- json:\n    expressions:\n      a: a\n    drop_malformed: true\n");
  CollectSink sink;
  drop->Process(Entry("{broken", {{"job", "x"}}, 42), sink);
  drop->Process(Entry(R"({"a":1})", {{"job", "x"}}, 50), sink);
  ASSERT_EQ(sink.dropped.size(), 1u);
  EXPECT_EQ(sink.dropped[0].first.cursor.end_offset, 42u);
  ASSERT_EQ(sink.emitted.size(), 1u);
}

TEST_F(StagesTest, JsonConfigErrors) {
  EXPECT_NE(MakeError("- json:\n    expressions:\n      a: 'foo[?x==`1`]'\n")
                .find("pipeline_stages[0].json: expressions.a: unsupported JMESPath expression"),
            std::string::npos);
  EXPECT_NE(MakeError("- json:\n    expresions:\n      a: a\n").find("pipeline_stages[0].json: unknown key \"expresions\""),
            std::string::npos);
  EXPECT_NE(MakeError("- json:\n    expressions: {}\n").find("JMES expression is required"), std::string::npos);
  EXPECT_NE(MakeError("- json:\n    expressions:\n      a: a\n    source: ''\n").find("empty source"),
            std::string::npos);
}

// Promtail docs, logfmt stage.
TEST_F(StagesTest, LogfmtPromtailDocsExample) {
  auto p = Make(R"(
- logfmt:
    mapping:
      timestamp: time
      app:
      duration:
      unknown:
      extra:
- logfmt:
    mapping:
      user:
    source: extra
- labels:
    app:
    user:
    unknown:
- template:
    source: d
    template: '{{ .duration }}/{{ .timestamp }}'
- output:
    source: d
)");
  LogEntry e = One(*p, Entry(R"(time=2012-11-01T22:08:41+00:00 app=loki level=WARN duration=125 message="this is a log line" extra="user=foo")"));
  EXPECT_EQ(e.labels, (Labels{{"app", "loki"}, {"job", "test"}, {"user", "foo"}}));
  EXPECT_EQ(e.line, "125/2012-11-01T22:08:41+00:00");
}

// Promtail docs, regex stage (the CRI line example) and a regex on an extracted source.
TEST_F(StagesTest, RegexPromtailDocsExample) {
  auto p = Make(R"(
- regex:
    expression: '^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr) (?P<flags>\S+?) (?P<content>.*)$'
- regex:
    source: content
    expression: '(?<word>\w+)!$'
- labels:
    stream:
    flags:
    word:
- output:
    source: content
)");
  LogEntry e = One(*p, Entry("2019-01-01T01:00:00.000000001Z stderr P i'm a log message!"));
  EXPECT_EQ(e.line, "i'm a log message!");
  EXPECT_EQ(e.labels, (Labels{{"flags", "P"}, {"job", "test"}, {"stream", "stderr"}, {"word", "message"}}));
  // No match: nothing extracted, the line is unchanged.
  LogEntry n = One(*p, Entry("no match here"));
  EXPECT_EQ(n.line, "no match here");
  EXPECT_EQ(n.labels, (Labels{{"job", "test"}}));
  EXPECT_NE(MakeError("- regex:\n    expression: '(unclosed'\n").find("pipeline_stages[0].regex: expression: invalid regular expression"),
            std::string::npos);
  EXPECT_NE(MakeError("- regex:\n    source: x\n").find("expression is required"), std::string::npos);
}

TEST_F(StagesTest, ExtractedMapStartsWithTheEntryLabels) {
  auto p = Make("- regex:\n    source: filename\n    expression: '/var/log/pods/(?P<ns>[^_]+)_'\n"
                "- labels:\n    namespace: ns\n");
  LogEntry e = One(*p, Entry("x", {{"filename", "/var/log/pods/shop_web-1_uid/c/0.log"}}));
  EXPECT_EQ(e.labels["namespace"], "shop");
}

TEST_F(StagesTest, LabelStages) {
  auto p = Make(R"(
- static_labels:
    env: prod
    empty: ''
- labeldrop:
    - job
- regex:
    expression: 'level=(?P<level>\w+)'
- labels:
    level:
)");
  LogEntry e = One(*p, Entry("level=info msg=x", {{"job", "a"}, {"pod", "p"}}));
  EXPECT_EQ(e.labels, (Labels{{"env", "prod"}, {"level", "info"}, {"pod", "p"}}));
  auto allow = Make("- labelallow:\n    - pod\n    - missing\n");
  LogEntry a = One(*allow, Entry("x", {{"job", "a"}, {"pod", "p"}, {"ns", "n"}}));
  EXPECT_EQ(a.labels, (Labels{{"pod", "p"}}));
  EXPECT_NE(MakeError("- labels:\n    bad-name: x\n").find("invalid label name: bad-name"), std::string::npos);
  EXPECT_NE(MakeError("- labeldrop: []\n").find("labeldrop stage config cannot be empty"), std::string::npos);
  EXPECT_NE(MakeError("- static_labels:\n    1x: y\n").find("invalid label name"), std::string::npos);
}

TEST_F(StagesTest, StructuredMetadataFromExtractedAndFromLabels) {
  auto p = Make(R"(
- logfmt:
    mapping:
      trace_id:
- structured_metadata:
    trace_id:
    pod:
)");
  LogEntry e = One(*p, Entry("trace_id=abc123 msg=hi", {{"job", "j"}, {"pod", "web-1"}}));
  EXPECT_EQ(e.labels, (Labels{{"job", "j"}}));
  std::vector<std::pair<std::string, std::string>> want = {{"trace_id", "abc123"}, {"pod", "web-1"}};
  EXPECT_EQ(e.structured_metadata, want);
}

TEST_F(StagesTest, TimestampFormats) {
  struct Case {
    std::string format;
    std::string value;
    int64_t want;
    std::string extra = "";
  };
  const Case cases[] = {
      {"RFC3339", "2019-04-30T02:12:41+02:00", 1556583161LL * kNanosPerSecond},
      {"RFC3339Nano", "2019-04-30T02:12:41.8443515Z", 1556590361844351500LL},
      {"Unix", "1562708916", 1562708916LL * kNanosPerSecond},
      {"Unix", "1562708916.414123", 1562708916414123000LL},
      {"UnixMs", "1562708916414", 1562708916414000000LL},
      {"UnixUs", "1562708916414123", 1562708916414123000LL},
      {"UnixNs", "1562708916000000123", 1562708916000000123LL},
      {"2006-01-02 15:04:05.000", "2019-07-09 21:48:36.123", 1562708916123000000LL},
      {"RFC1123Z", "Tue, 09 Jul 2019 21:48:36 +0000", 1562708916LL * kNanosPerSecond},
      // Wall clock in America/New_York (EDT, UTC-4).
      {"2006-01-02 15:04:05", "2019-07-09 17:48:36", 1562708916LL * kNanosPerSecond,
       "    location: America/New_York\n"},
      // An explicit offset wins over the location.
      {"2006-01-02 15:04:05 -0700", "2019-07-09 21:48:36 +0000", 1562708916LL * kNanosPerSecond,
       "    location: America/New_York\n"},
      // Winter time in New York is UTC-5.
      {"2006-01-02 15:04:05", "2019-01-09 16:48:36", 1547070516LL * kNanosPerSecond,
       "    location: America/New_York\n"},
  };
  for (const Case& c : cases) {
    auto p = Make("- regex:\n    expression: '^(?P<ts>.*)$'\n- timestamp:\n    source: ts\n    format: '" +
                  c.format + "'\n" + c.extra);
    ASSERT_TRUE(p);
    LogEntry e = One(*p, Entry(c.value));
    EXPECT_EQ(e.timestamp_ns, c.want) << c.format << " " << c.value;
  }
}

TEST_F(StagesTest, TimestampWithoutYearUsesTheClocksYear) {
  clock_.SetNow(1704067200LL * kNanosPerSecond + 3600LL * kNanosPerSecond);  // 2024-01-01T01:00Z
  auto p = Make("- regex:\n    expression: '^(?P<ts>\\w+ +\\d+ [\\d:]+)'\n"
                "- timestamp:\n    source: ts\n    format: 'Jan _2 15:04:05'\n");
  // December read in January belongs to the previous year.
  EXPECT_EQ(One(*p, Entry("Dec 31 23:59:59 host x")).timestamp_ns, 1704067199LL * kNanosPerSecond);
  EXPECT_EQ(One(*p, Entry("Jan  1 00:30:00 host x")).timestamp_ns, 1704069000LL * kNanosPerSecond);
}

TEST_F(StagesTest, TimestampFallbackFudgeAndSkip) {
  auto p = Make(R"(
- regex:
    expression: '^(?P<ts>\S+)'
- timestamp:
    source: ts
    format: RFC3339
    fallback_formats: [UnixMs]
)");
  EXPECT_EQ(One(*p, Entry("1562708916414 a")).timestamp_ns, 1562708916414000000LL);
  // A failure after a success: the last known timestamp of these labels + 1ns (fudge).
  EXPECT_EQ(One(*p, Entry("garbage b")).timestamp_ns, 1562708916414000001LL);
  EXPECT_EQ(One(*p, Entry("garbage c")).timestamp_ns, 1562708916414000002LL);
  // Other labels: nothing known, the entry keeps its own time.
  EXPECT_EQ(One(*p, Entry("garbage", {{"job", "other"}})).timestamp_ns, kT0);
  auto skip = Make("- regex:\n    expression: '^(?P<ts>\\S+)'\n- timestamp:\n    source: ts\n"
                   "    format: RFC3339\n    action_on_failure: skip\n");
  EXPECT_EQ(One(*skip, Entry("2019-04-30T02:12:41Z ok")).timestamp_ns, 1556590361LL * kNanosPerSecond);
  EXPECT_EQ(One(*skip, Entry("garbage")).timestamp_ns, kT0);
  EXPECT_NE(MakeError("- timestamp:\n    source: ts\n    format: RFC3339\n    location: Mars/Olympus\n")
                .find("pipeline_stages[0].timestamp: location: invalid location specified"),
            std::string::npos);
  EXPECT_NE(MakeError("- timestamp:\n    source: ts\n    format: RFC3339\n    action_on_failure: retry\n")
                .find("action_on_failure"),
            std::string::npos);
  EXPECT_NE(MakeError("- timestamp:\n    format: RFC3339\n").find("timestamp source value is required"),
            std::string::npos);
}

TEST_F(StagesTest, OutputAndTemplate) {
  auto p = Make(R"(
- json:
    expressions:
      level:
      msg:
- template:
    source: level
    template: '{{ ToUpper .Value }}'
- template:
    source: line
    template: '[{{ .level }}] {{ .msg }}'
- output:
    source: line
)");
  EXPECT_EQ(One(*p, Entry(R"({"level":"warn","msg":"disk almost full"})")).line, "[WARN] disk almost full");
  // An empty result removes the key; output then leaves the line alone.
  auto empty = Make("- template:\n    source: line\n    template: ''\n- output:\n    source: line\n");
  EXPECT_EQ(One(*empty, Entry("kept")).line, "kept");
  // Functions outside the library fail at load time, naming the stage.
  EXPECT_NE(MakeError("- template:\n    source: a\n    template: '{{ Hash .Value \"salt\" }}'\n")
                .find("pipeline_stages[0].template: template"),
            std::string::npos);
}

TEST_F(StagesTest, DropConditions) {
  auto p = Make(R"(
- regex:
    expression: 'level=(?P<level>\w+)'
- drop:
    source: level
    value: debug
- drop:
    expression: 'healthz'
    drop_counter_reason: health_checks
- drop:
    longer_than: 20B
- drop:
    older_than: 1h
)");
  CollectSink sink;
  p->Process(Entry("level=debug x", {{"job", "a"}}, 1), sink);
  p->Process(Entry("GET /healthz 200", {{"job", "a"}}, 2), sink);
  p->Process(Entry("level=info this line is long", {{"job", "a"}}, 3), sink);
  LogEntry old = Entry("level=info old", {{"job", "a"}}, 4);
  old.timestamp_ns = kT0 - 2 * kNanosPerHour;
  p->Process(std::move(old), sink);
  p->Process(Entry("level=info ok", {{"job", "a"}}, 5), sink);
  ASSERT_EQ(sink.dropped.size(), 4u);
  EXPECT_EQ(sink.dropped[0].second, "drop_stage");
  EXPECT_EQ(sink.dropped[1].second, "health_checks");
  EXPECT_EQ(sink.dropped[2].first.cursor.end_offset, 3u);
  EXPECT_EQ(sink.dropped[3].first.cursor.end_offset, 4u);
  ASSERT_EQ(sink.emitted.size(), 1u);
  EXPECT_EQ(sink.emitted[0].line, "level=info ok");
}

TEST_F(StagesTest, DropAllConditionsMustHoldAndListSources) {
  // expression on a source AND longer_than: both needed.
  auto p = Make("- logfmt:\n    mapping:\n      app:\n      env:\n"
                "- drop:\n    source: [app, env]\n    separator: '/'\n    value: web/dev\n"
                "- drop:\n    source: app\n    expression: '^db'\n    longer_than: 10\n");
  CollectSink sink;
  p->Process(Entry("app=web env=dev"), sink);            // dropped by the list source
  p->Process(Entry("app=web env=prod"), sink);           // kept
  p->Process(Entry("app=db"), sink);                     // short: kept
  p->Process(Entry("app=db and a long line"), sink);     // dropped
  p->Process(Entry("env=dev"), sink);                    // app missing: kept
  EXPECT_EQ(sink.dropped.size(), 2u);
  EXPECT_EQ(sink.emitted.size(), 3u);
  EXPECT_NE(MakeError("- drop:\n    value: x\n").find("must contain at least one of"), std::string::npos);
  EXPECT_NE(MakeError("- drop:\n    source: a\n    value: x\n    expression: y\n").find("cannot both be defined"),
            std::string::npos);
  EXPECT_NE(MakeError("- drop:\n    older_than: 5 minutes\n").find("older_than"), std::string::npos);
}

TEST_F(StagesTest, MatchKeepRunsNestedStagesOnMatchingEntries) {
  auto p = Make(R"(
- match:
    selector: '{app="loki"} |= "error"'
    stages:
      - regex:
          expression: 'code=(?P<code>\d+)'
      - labels:
          code:
- match:
    selector: '{app=~".*"} != "keepme"'
    action: drop
    drop_counter_reason: noise
)");
  CollectSink sink;
  p->Process(Entry("error code=500 keepme", {{"app", "loki"}}), sink);
  p->Process(Entry("info code=200 keepme", {{"app", "loki"}}), sink);
  p->Process(Entry("error code=501 keepme", {{"app", "other"}}), sink);
  p->Process(Entry("noise", {{"app", "x"}}), sink);
  ASSERT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(sink.emitted[0].labels, (Labels{{"app", "loki"}, {"code", "500"}}));
  EXPECT_EQ(sink.emitted[1].labels, (Labels{{"app", "loki"}}));
  EXPECT_EQ(sink.emitted[2].labels, (Labels{{"app", "other"}}));
  ASSERT_EQ(sink.dropped.size(), 1u);
  EXPECT_EQ(sink.dropped[0].second, "noise");
}

TEST_F(StagesTest, MatchSelectorWithParserRewritesLabelsAndLine) {
  auto p = Make(R"(
- match:
    selector: '{job="test"} | logfmt | level="error" | line_format "{{.msg}}"'
    pipeline_name: errors
    stages:
      - static_labels:
          severity: high
)");
  LogEntry e = One(*p, Entry("level=error msg=boom"));
  EXPECT_EQ(e.line, "boom");
  EXPECT_EQ(e.labels, (Labels{{"job", "test"}, {"level", "error"}, {"msg", "boom"}, {"severity", "high"}}));
  LogEntry n = One(*p, Entry("level=info msg=fine"));
  EXPECT_EQ(n.line, "level=info msg=fine");
  EXPECT_EQ(n.labels, (Labels{{"job", "test"}}));
}

TEST_F(StagesTest, MatchConfigErrorsNameTheNestedPath) {
  EXPECT_NE(MakeError("- match:\n    selector: '{app=\"a\"}'\n    stages:\n      - json:\n          bogus: 1\n")
                .find("pipeline_stages[0].match.stages[0].json: unknown key \"bogus\""),
            std::string::npos);
  EXPECT_NE(MakeError("- match:\n    selector: '{app=\"a\"}'\n").find("requires at least one additional stage"),
            std::string::npos);
  EXPECT_NE(MakeError("- match:\n    selector: '{app=\"a\"}'\n    action: drop\n    stages:\n      - cri: {}\n")
                .find("cannot contains stages"),
            std::string::npos);
  EXPECT_NE(MakeError("- match:\n    selector: 'app=a'\n    action: drop\n").find("pipeline_stages[0].match: selector"),
            std::string::npos);
  EXPECT_NE(MakeError("- match:\n    selector: '{a=\"b\"}'\n    action: maybe\n").find("'keep' or 'drop'"),
            std::string::npos);
}

// Promtail docs, multiline stage: blocks start with a bracketed timestamp.
TEST_F(StagesTest, MultilineMergesBlocksAndFlushesOnTimeoutAndMaxLines) {
  auto p = Make(R"(
- multiline:
    firstline: '^\[\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}:\d{2}\]'
    max_wait_time: 3s
    max_lines: 4
)");
  CollectSink sink;
  auto at = [](std::string line, uint64_t off) {
    LogEntry e = Entry(std::move(line), {{"job", "app"}}, off);
    return e;
  };
  LogEntry first = at("[2023-01-18 17:41:21] foo.ERROR: exception", 10);
  first.timestamp_ns = kT0 + 5;
  p->Process(std::move(first), sink);
  p->Process(at("#0 /app/a.php(10): x", 20), sink);
  p->Process(at("#1 {main}", 30), sink);
  EXPECT_TRUE(sink.emitted.empty());
  EXPECT_EQ(p->Held(), 3u);
  p->Process(at("[2023-01-18 17:42:00] foo.INFO: next", 40), sink);
  ASSERT_EQ(sink.emitted.size(), 1u);
  EXPECT_EQ(sink.emitted[0].line, "[2023-01-18 17:41:21] foo.ERROR: exception\n#0 /app/a.php(10): x\n#1 {main}");
  EXPECT_EQ(sink.emitted[0].cursor.end_offset, 30u);
  EXPECT_EQ(sink.emitted[0].timestamp_ns, kT0 + 5);
  // The second block is released by the timeout, not before.
  clock_.Advance(2 * kNanosPerSecond);
  p->Flush(false, sink);
  EXPECT_EQ(sink.emitted.size(), 1u);
  clock_.Advance(1 * kNanosPerSecond);
  p->Flush(false, sink);
  ASSERT_EQ(sink.emitted.size(), 2u);
  EXPECT_EQ(sink.emitted[1].line, "[2023-01-18 17:42:00] foo.INFO: next");
  EXPECT_EQ(sink.emitted[1].cursor.end_offset, 40u);
  EXPECT_EQ(p->Held(), 0u);
  // max_lines cuts a long block.
  for (int i = 0; i < 5; ++i) p->Process(at("line" + std::to_string(i), 100 + i), sink);
  ASSERT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(sink.emitted[2].line, "line0\nline1\nline2\nline3");
  EXPECT_EQ(sink.emitted[2].cursor.end_offset, 103u);
  p->Flush(true, sink);
  ASSERT_EQ(sink.emitted.size(), 4u);
  EXPECT_EQ(sink.emitted[3].line, "line4");
  EXPECT_TRUE(sink.dropped.empty());
}

TEST_F(StagesTest, MultilineKeepsFilesAndStreamsApart) {
  auto p = Make("- multiline:\n    firstline: '^START'\n");
  CollectSink sink;
  p->Process(Entry("START a", {{"stream", "stdout"}}, 1, 1), sink);
  p->Process(Entry("START b", {{"stream", "stderr"}}, 2, 1), sink);
  p->Process(Entry("START c", {{"stream", "stdout"}}, 1, 2), sink);
  p->Process(Entry("  a2", {{"stream", "stdout"}}, 3, 1), sink);
  p->Process(Entry("  b2", {{"stream", "stderr"}}, 4, 1), sink);
  p->Process(Entry("  c2", {{"stream", "stdout"}}, 5, 2), sink);
  EXPECT_TRUE(sink.emitted.empty());
  p->Flush(true, sink);
  ASSERT_EQ(sink.emitted.size(), 3u);
  std::vector<std::string> lines;
  for (const auto& e : sink.emitted) lines.push_back(e.line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"START a\n  a2", "START b\n  b2", "START c\n  c2"}));
}

// A file that reaches its end releases its own blocks only (also inside match).
TEST_F(StagesTest, FlushFileReleasesOnlyThatFilesBlocks) {
  auto p = Make("- match:\n    selector: '{stream=~\".+\"}'\n    stages:\n      - multiline:\n          firstline: '^START'\n");
  CollectSink sink;
  p->Process(Entry("START a", {{"stream", "stdout"}}, 1, 1), sink);
  p->Process(Entry("START b", {{"stream", "stderr"}}, 2, 1), sink);
  p->Process(Entry("START c", {{"stream", "stdout"}}, 1, 2), sink);
  p->Process(Entry("  c2", {{"stream", "stdout"}}, 5, 2), sink);
  p->FlushFile(1, sink);
  ASSERT_EQ(sink.emitted.size(), 2u);
  for (const auto& e : sink.emitted) EXPECT_EQ(e.cursor.file_id, 1u);
  p->Process(Entry("  c3", {{"stream", "stdout"}}, 6, 2), sink);
  p->FlushFile(2, sink);
  ASSERT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(sink.emitted[2].line, "START c\n  c2\n  c3");
  p->FlushFile(3, sink);  // nothing held
  EXPECT_EQ(sink.emitted.size(), 3u);
}

TEST_F(StagesTest, MultilineThenLaterStagesSeeTheMergedEntry) {
  auto p = Make("- multiline:\n    firstline: '^\\S'\n- regex:\n    expression: '(?s)^(?P<head>\\S+).*\\n  (?P<tail>\\w+)$'\n"
                "- labels:\n    tail:\n");
  CollectSink sink;
  p->Process(Entry("Exception"), sink);
  p->Process(Entry("  cause"), sink);
  p->Flush(true, sink);
  ASSERT_EQ(sink.emitted.size(), 1u);
  EXPECT_EQ(sink.emitted[0].labels["tail"], "cause");
}

TEST_F(StagesTest, Tenant) {
  auto value = Make("- tenant:\n    value: team-a\n");
  EXPECT_EQ(One(*value, Entry("x")).tenant, "team-a");
  auto source = Make("- json:\n    expressions:\n      customer_id:\n- tenant:\n    source: customer_id\n");
  EXPECT_EQ(One(*source, Entry(R"({"customer_id":"c42"})")).tenant, "c42");
  EXPECT_EQ(One(*source, Entry(R"({"other":1})")).tenant, "");
  auto label = Make("- tenant:\n    label: namespace\n");
  EXPECT_EQ(One(*label, Entry("x", {{"namespace", "ns1"}})).tenant, "ns1");
  // Promtail's reserved label works too, and does not become a stream label.
  auto reserved = Make("- static_labels:\n    __tenant_id__: t9\n");
  LogEntry e = One(*reserved, Entry("x"));
  EXPECT_EQ(e.tenant, "t9");
  EXPECT_EQ(e.labels.count("__tenant_id__"), 0u);
  EXPECT_NE(MakeError("- tenant:\n    value: a\n    label: b\n").find("mutually exclusive"), std::string::npos);
  EXPECT_NE(MakeError("- tenant: {}\n").find("label, source or value config are required"), std::string::npos);
}

TEST_F(StagesTest, LimitDropAndByLabel) {
  auto p = Make("- limit:\n    rate: 1\n    burst: 2\n    drop: true\n");
  CollectSink sink;
  for (int i = 0; i < 3; ++i) p->Process(Entry("x"), sink);
  EXPECT_EQ(sink.emitted.size(), 2u);
  ASSERT_EQ(sink.dropped.size(), 1u);
  EXPECT_EQ(sink.dropped[0].second, "ratelimit_drop_stage");
  clock_.Advance(kNanosPerSecond);
  p->Process(Entry("x"), sink);
  p->Process(Entry("x"), sink);
  EXPECT_EQ(sink.emitted.size(), 3u);
  EXPECT_EQ(sink.dropped.size(), 2u);

  auto by = Make("- limit:\n    rate: 1\n    burst: 1\n    drop: true\n    by_label_name: app\n");
  CollectSink s2;
  by->Process(Entry("x", {{"app", "a"}}), s2);
  by->Process(Entry("x", {{"app", "a"}}), s2);
  by->Process(Entry("x", {{"app", "b"}}), s2);
  by->Process(Entry("x", {{"other", "z"}}), s2);
  by->Process(Entry("x", {{"other", "z"}}), s2);
  EXPECT_EQ(s2.emitted.size(), 4u);
  EXPECT_EQ(s2.dropped.size(), 1u);
  EXPECT_NE(MakeError("- limit:\n    rate: 1\n    burst: 1\n    by_label_name: app\n").find("drop must be true"),
            std::string::npos);
  EXPECT_NE(MakeError("- limit:\n    rate: 0\n    burst: 1\n").find("rate"), std::string::npos);
}

TEST_F(StagesTest, LimitWithoutDropDelaysInOrder) {
  auto p = Make("- limit:\n    rate: 2\n    burst: 1\n");
  CollectSink sink;
  for (int i = 0; i < 4; ++i) p->Process(Entry("l" + std::to_string(i), {{"job", "a"}}, i), sink);
  ASSERT_EQ(sink.emitted.size(), 1u);
  EXPECT_EQ(p->Held(), 3u);
  clock_.Advance(kNanosPerSecond / 2);
  p->Flush(false, sink);
  ASSERT_EQ(sink.emitted.size(), 2u);
  EXPECT_EQ(sink.emitted[1].line, "l1");
  p->Flush(true, sink);  // shutdown: everything goes, nothing is lost
  ASSERT_EQ(sink.emitted.size(), 4u);
  EXPECT_EQ(sink.emitted[3].line, "l3");
  EXPECT_TRUE(sink.dropped.empty());
}

TEST_F(StagesTest, UnknownStagesAndMalformedLists) {
  EXPECT_NE(MakeError("- cri: {}\n- metrics:\n    x: {}\n").find("pipeline_stages[1]: unknown stage \"metrics\""),
            std::string::npos);
  EXPECT_NE(MakeError("- json: {}\n  labels: {}\n").find("pipeline_stages[0]: a pipeline stage must be a mapping with exactly one key"),
            std::string::npos);
  EXPECT_NE(MakeError("json: {}\n").find("pipeline_stages: expected a list of stages"), std::string::npos);
  EXPECT_NE(MakeError("- docker:\n    foo: 1\n").find("pipeline_stages[0].docker: unknown key \"foo\""),
            std::string::npos);
  EXPECT_NE(MakeError("- multiline:\n    max_wait_time: 1s\n").find("firstline"), std::string::npos);
  EXPECT_NE(MakeError("- output: {}\n").find("output source value is required"), std::string::npos);
}

// The extracted map is reused between entries: values of one entry never leak into the next.
TEST_F(StagesTest, NoExtractedDataLeaksBetweenEntries) {
  auto p = Make("- regex:\n    expression: 'user=(?P<user>\\w+)'\n- labels:\n    user:\n");
  EXPECT_EQ(One(*p, Entry("user=alice")).labels["user"], "alice");
  EXPECT_EQ(One(*p, Entry("no user")).labels.count("user"), 0u);
}

}  // namespace
}  // namespace logq::shipper
