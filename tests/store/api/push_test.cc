#include "store/api/push.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/api/push_json.h"

namespace logq::api {

// gtest printers (found by ADL, so outside the anonymous namespace).
void PrintTo(const PushEntry& e, std::ostream* os) {
  *os << "{" << e.timestamp_ns << ", \"" << e.line << "\", md=" << e.structured_metadata.size()
      << "}";
}
void PrintTo(const PushStream& s, std::ostream* os) {
  *os << s.labels << " (" << s.entries.size() << " entries)";
}

namespace {

// Substring check with a readable failure (the store tests do not link gmock).
::testing::AssertionResult Contains(const std::string& s, const std::string& sub) {
  if (s.find(sub) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << s << "\" does not contain \"" << sub << "\"";
}

constexpr char kProto[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

std::string TestdataPath(const std::string& name) {
  return std::string(LOGQ_SOURCE_DIR) + "/testdata/push/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A request like Promtail's: two streams, structured metadata on some entries, negative and
// sub-second timestamps, a line with invalid UTF-8 (protobuf carries bytes as they are).
PushRequest SampleRequest() {
  PushRequest req;
  PushStream& a = req.streams.emplace_back();
  a.labels = R"({app="api", env="prod"})";
  a.entries.push_back({1717000000000000000, "GET /health 200", {}});
  a.entries.push_back({1717000000000000001,
                       "with metadata",
                       {{"trace_id", "0242ac120002"}, {"user_id", "superUser123"}}});
  a.entries.push_back({1717000000123456789, "quote \" backslash \\ newline \n tab \t", {}});
  PushStream& b = req.streams.emplace_back();
  b.labels = R"({job="varlogs"})";
  b.entries.push_back({-1500000000, "before the epoch", {}});
  b.entries.push_back({0, "", {{"k", ""}}});
  return req;
}

Result<PushRequest> Decode(std::string_view body, std::string_view type,
                           std::string_view encoding = "", DecodeOptions options = {}) {
  return DecodePushRequest(body, type, encoding, options);
}

// Escapes non-printable bytes for failure messages.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string ErrorOf(const Result<PushRequest>& r) {
  return r.ok() ? std::string("<ok>") : r.status().ToString();
}

// ---------------------------------------------------------------------------------------
// Protobuf + snappy.

TEST(PushProtobufTest, RoundTripsThroughSnappyWithStructuredMetadata) {
  PushRequest req = SampleRequest();
  req.streams[0].entries.push_back({5, std::string("bad \xff\xfe utf8", 12), {}});
  std::string body = SnappyCompress(EncodePushProtobuf(req));
  auto got = Decode(body, kProto);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, req.streams);
}

TEST(PushProtobufTest, DecodesHandEncodedWireBytesPerLokiFieldNumbers) {
  // Independent of our encoder: bytes written by hand from LOKI-API.md §4.2, with the fields
  // a server must ignore (format=2, hash=3, parsed=4) and an unknown field (15).
  std::string metadata = std::string("\x0a\x01k\x12\x01v", 6);  // name=1 value=2
  std::string parsed = std::string("\x0a\x01p\x12\x01q", 6);
  std::string ts = std::string("\x08\x02\x10\x07", 4);                 // seconds=2 nanos=7
  std::string entry = "\x0a" + std::string(1, char(ts.size())) + ts +  // timestamp=1
                      "\x12\x02hi" +                                   // line=2
                      "\x1a" + std::string(1, char(metadata.size())) + metadata +  // sm=3
                      "\x22" + std::string(1, char(parsed.size())) + parsed;       // parsed=4
  std::string labels = R"({a="b"})";
  std::string stream = "\x0a" + std::string(1, char(labels.size())) + labels +  // labels=1
                       "\x12" + std::string(1, char(entry.size())) + entry +    // entries=2
                       std::string("\x18\x2a", 2) +                             // hash=3
                       std::string("\x78\x01", 2);                              // field 15
  std::string proto = "\x0a" + std::string(1, char(stream.size())) + stream +   // streams=1
                      "\x12\x04loki";                                           // format=2
  auto got = Decode(SnappyCompress(proto), kProto);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 1u);
  EXPECT_EQ(got->streams[0].labels, labels);
  ASSERT_EQ(got->streams[0].entries.size(), 1u);
  const PushEntry& e = got->streams[0].entries[0];
  EXPECT_EQ(e.timestamp_ns, 2000000007);
  EXPECT_EQ(e.line, "hi");
  EXPECT_EQ(e.structured_metadata, (std::vector<Label>{{"k", "v"}}));
}

TEST(PushProtobufTest, AbsentTimestampIsEpochAndHugeSecondsSaturate) {
  // Entry without a timestamp; entry with seconds = 2^62 (overflows ns).
  std::string e1 = "\x12\x01x";
  std::string ts = "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x40";  // varint 2^62
  std::string e2 = "\x0a" + std::string(1, char(ts.size())) + ts + "\x12\x01y";
  std::string stream = std::string("\x12") + char(e1.size()) + e1 + "\x12" + char(e2.size()) + e2;
  std::string proto = std::string("\x0a") + char(stream.size()) + stream;
  auto got = Decode(SnappyCompress(proto), kProto);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams[0].entries.size(), 2u);
  EXPECT_EQ(got->streams[0].entries[0].timestamp_ns, 0);
  EXPECT_EQ(got->streams[0].entries[1].timestamp_ns, INT64_MAX);
}

TEST(PushProtobufTest, EmptyRequestDecodesToNoStreams) {
  auto got = Decode(SnappyCompress(EncodePushProtobuf({})), kProto);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->streams.empty());
}

TEST(PushProtobufTest, SnappyContentEncodingIsATolleratedNoOp) {
  std::string body = SnappyCompress(EncodePushProtobuf(SampleRequest()));
  auto got = Decode(body, kProto, "snappy");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, SampleRequest().streams);
}

TEST(PushProtobufTest, AnyNonJsonContentTypeMeansProtobuf) {
  std::string body = SnappyCompress(EncodePushProtobuf(SampleRequest()));
  for (const char* type : {"application/x-protobuf", "application/octet-stream", "text/plain",
                           "protobuf", "application/json-seq"}) {
    auto got = Decode(body, type);
    ASSERT_TRUE(got.ok()) << type << ": " << got.status().ToString();
    EXPECT_EQ(got->streams.size(), 2u) << type;
  }
}

TEST(PushProtobufTest, GoldenPromtailBody) {
  // testdata/push/promtail.pb.snappy: SampleRequest() as Promtail would send it (raw snappy
  // block of the protobuf). Regenerate with LOGQ_UPDATE_GOLDEN=1.
  const std::string path = TestdataPath("promtail.pb.snappy");
  if (std::getenv("LOGQ_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << SnappyCompress(EncodePushProtobuf(SampleRequest()));
  }
  std::string body = ReadFile(path);
  ASSERT_FALSE(body.empty()) << path;
  auto got = Decode(body, kProto);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, SampleRequest().streams);
  auto raw = SnappyUncompress(body, 1 << 20);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw, EncodePushProtobuf(SampleRequest()));  // the encoder's bytes are pinned
}

// ---------------------------------------------------------------------------------------
// JSON v1.

TEST(PushJsonTest, RoundTripsWithStructuredMetadata) {
  PushRequest req = SampleRequest();
  std::string body = EncodePushJson(req);
  EXPECT_TRUE(Contains(body, R"(["1717000000000000000","GET /health 200"])"));
  EXPECT_TRUE(Contains(
      body,
      R"(["1717000000000000001","with metadata",{"trace_id":"0242ac120002","user_id":"superUser123"}])"));
  auto got = Decode(body, kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, req.streams);
}

TEST(PushJsonTest, DecodesTheDocumentedExample) {
  std::string body = ReadFile(TestdataPath("v1_with_metadata.json"));
  ASSERT_FALSE(body.empty());
  auto got = Decode(body, kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 2u);
  const PushStream& s = got->streams[0];
  EXPECT_EQ(s.labels, R"({app="api", env="prod"})");  // sorted from {"env":..,"app":..}
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[0], (PushEntry{1717000000000000000, "plain line", {}}));
  EXPECT_EQ(s.entries[1], (PushEntry{1717000000000000001,
                                     "line with metadata \u00e9\U0001F600",
                                     {{"user_id", "superUser123"}, {"trace_id", "0242ac120002"}}}));
  EXPECT_EQ(got->streams[1].labels, R"({job="x\"y"})");
  EXPECT_EQ(got->streams[1].entries[0].timestamp_ns, -5);
}

TEST(PushJsonTest, ContentTypeIsCaseInsensitiveAndIgnoresParameters) {
  std::string body = R"({"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]})";
  for (const char* type : {"application/json", "Application/JSON", " application/json ",
                           "application/json; charset=utf-8", "application/json;charset"}) {
    auto got = Decode(body, type);
    ASSERT_TRUE(got.ok()) << type << ": " << got.status().ToString();
    EXPECT_EQ(got->streams[0].entries[0].line, "x") << type;
  }
}

TEST(PushJsonTest, BuildsCanonicalLabelText) {
  auto got = Decode(R"({"streams":[
      {"stream":{"z":"1","a":"q\"uote\n"},"values":[["1","x"]]},
      {"stream":{},"values":[["1","x"]]},
      {"values":[["1","x"]]},
      {"stream":null,"values":[["1","x"]]},
      {"stream":{"ok":"1","a=\"x\", b":"y","":"e"},"values":[["1","x"]]}]})",
                    kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 5u);
  EXPECT_EQ(got->streams[0].labels, R"({a="q\"uote\n", z="1"})");
  EXPECT_EQ(got->streams[1].labels, "{}");  // ingest reports the missing labels
  EXPECT_EQ(got->streams[2].labels, "{}");
  EXPECT_EQ(got->streams[3].labels, "{}");
  // Invalid names are quoted, so the text cannot parse as {a="x", b="y", ok="1"}.
  EXPECT_EQ(got->streams[4].labels, R"({""="e", "a=\"x\", b"="y", ok="1"})");
  EXPECT_FALSE(ParseLabels(got->streams[4].labels).ok());
}

TEST(PushJsonTest, SkipsNullsAndUnknownMembers) {
  auto got = Decode(R"({"extra":{"deep":[[[{"streams":1}]]]},"streams":[
      null,
      {"stream":{"a":"b"},"values":null},
      {"stream":{"a":"c"},"junk":[1,{"x":[]}],"values":[null,["7","x",null],null,["8","y",{}]]}
    ],"more":true})",
                    kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 2u);
  EXPECT_TRUE(got->streams[0].entries.empty());
  ASSERT_EQ(got->streams[1].entries.size(), 2u);
  EXPECT_EQ(got->streams[1].entries[0], (PushEntry{7, "x", {}}));
  EXPECT_EQ(got->streams[1].entries[1], (PushEntry{8, "y", {}}));

  auto null_streams = Decode(R"({"streams":null})", kJson);
  ASSERT_TRUE(null_streams.ok()) << null_streams.status().ToString();
  EXPECT_TRUE(null_streams->streams.empty());
}

TEST(PushJsonTest, TimestampsFollowGoParseInt) {
  auto got = Decode(
      R"({"streams":[{"stream":{"a":"b"},"values":[["+12","x"],["-9223372036854775808","y"],["9223372036854775807","z"]]}]})",
      kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams[0].entries[0].timestamp_ns, 12);
  EXPECT_EQ(got->streams[0].entries[1].timestamp_ns, INT64_MIN);
  EXPECT_EQ(got->streams[0].entries[2].timestamp_ns, INT64_MAX);
}

struct BadJsonCase {
  const char* name;
  const char* body;
  const char* message;  // the exact InvalidArgument message
};

void PrintTo(const BadJsonCase& c, std::ostream* os) { *os << c.name; }

class PushJsonRejectsTest : public ::testing::TestWithParam<BadJsonCase> {};

TEST_P(PushJsonRejectsTest, WithAMessageNamingTheField) {
  auto got = Decode(GetParam().body, kJson);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), GetParam().message);
  // The fast reader and nlohmann agree on the verdict and the message.
  auto reference = internal::DecodePushJson(GetParam().body, PushPathVersion::kV1,
                                            internal::JsonReader::kNlohmann);
  EXPECT_EQ(reference.status(), got.status());
}

#define S0 R"({"streams":[{"stream":{"a":"b"},"values":[["1","ok"],)"
INSTANTIATE_TEST_SUITE_P(
    Malformed, PushJsonRejectsTest,
    ::testing::Values(
        BadJsonCase{"BodyIsArray", R"([])", "push body must be a JSON object, got array"},
        BadJsonCase{"BodyIsString", R"("x")", "push body must be a JSON object, got string"},
        BadJsonCase{"EmptyBody", "",
                    "invalid JSON: line 1, column 1: syntax error while parsing value - "
                    "unexpected end of input; expected '[', '{', or a literal"},
        BadJsonCase{"TrailingGarbage", R"({"streams":[]} x)",
                    "invalid JSON: line 1, column 16: syntax error while parsing value - "
                    "invalid literal; last read: '\"streams\":[]} x'; expected end of input"},
        BadJsonCase{"Truncated", R"({"streams":[{"stream":{"a":"b"},"values":[["1","x)",
                    "streams[0].values[0][1]: invalid JSON: line 1, column 50: syntax error "
                    "while parsing value - invalid string: missing closing quote; last read: "
                    "'\"x'"},
        BadJsonCase{"StreamsMissing", R"({"stream":[]})", "streams: required field is missing"},
        BadJsonCase{"StreamsNotArray", R"({"streams":{}})",
                    "streams: must be an array, got object"},
        BadJsonCase{"StreamsDuplicated", R"({"streams":[],"streams":[]})",
                    "streams: duplicate key"},
        BadJsonCase{"StreamNotObject", R"({"streams":[{"stream":{"a":"b"}},"x"]})",
                    "streams[1]: stream must be an object, got string"},
        BadJsonCase{"LabelsNotObject", R"({"streams":[{"stream":["a"]}]})",
                    "streams[0].stream: must be an object of label names to string values, "
                    "got array"},
        BadJsonCase{"LabelValueNumber", R"({"streams":[{"stream":{"a":"b","c":1}}]})",
                    "streams[0].stream.c: label value must be a string, got number"},
        BadJsonCase{"LabelValueNull", R"({"streams":[{"stream":{"a b":null}}]})",
                    "streams[0].stream[\"a b\"]: label value must be a string, got null"},
        BadJsonCase{"ValuesNotArray", R"({"streams":[{"values":"x"}]})",
                    "streams[0].values: must be an array of entries, got string"},
        BadJsonCase{"EntryNotArray", S0 R"({"ts":"1"}]}]})",
                    "streams[0].values[1]: entry must be an array [\"<unix ns>\", \"<line>\"] "
                    "or [\"<unix ns>\", \"<line>\", {<structured metadata>}], got object"},
        BadJsonCase{"EntryEmpty", S0 R"([]]}]})",
                    "streams[0].values[1]: entry must have 2 or 3 elements, got 0"},
        BadJsonCase{"EntryTooShort", S0 R"(["1"]]}]})",
                    "streams[0].values[1]: entry must have 2 or 3 elements, got 1"},
        BadJsonCase{"EntryTooLong", S0 R"(["1","x",{},"y"]]}]})",
                    "streams[0].values[1]: entry must have 2 or 3 elements, got more"},
        BadJsonCase{
            "TimestampNumber",
            R"({"streams":[{"stream":{"a":"b"}},{},{},{"values":[[],[],[],[],[],[],[],[1717000000000000000,"x"]]}]})",
            "streams[3].values[0]: entry must have 2 or 3 elements, got 0"},
        BadJsonCase{"TimestampNumberAtIndex", S0 R"([1717000000000000000,"x"]]}]})",
                    "streams[0].values[1][0]: timestamp must be a string of nanoseconds, "
                    "got number"},
        BadJsonCase{"TimestampFloat", S0 R"([1.5e9,"x"]]}]})",
                    "streams[0].values[1][0]: timestamp must be a string of nanoseconds, "
                    "got number"},
        BadJsonCase{"TimestampNull", S0 R"([null,"x"]]}]})",
                    "streams[0].values[1][0]: timestamp must be a string of nanoseconds, "
                    "got null"},
        BadJsonCase{"TimestampNotInteger", S0 R"(["1.5","x"]]}]})",
                    "streams[0].values[1][0]: invalid timestamp \"1.5\": must be an integer "
                    "number of nanoseconds since the epoch"},
        BadJsonCase{"TimestampRfc3339", S0 R"(["2024-01-01T00:00:00Z","x"]]}]})",
                    "streams[0].values[1][0]: invalid timestamp \"2024-01-01T00:00:00Z\": must "
                    "be an integer number of nanoseconds since the epoch"},
        BadJsonCase{"TimestampEmpty", S0 R"(["","x"]]}]})",
                    "streams[0].values[1][0]: invalid timestamp \"\": must be an integer "
                    "number of nanoseconds since the epoch"},
        BadJsonCase{"TimestampOverflow", S0 R"(["9223372036854775808","x"]]}]})",
                    "streams[0].values[1][0]: invalid timestamp \"9223372036854775808\": must "
                    "be an integer number of nanoseconds since the epoch"},
        BadJsonCase{"LineNumber", S0 R"(["1",42]]}]})",
                    "streams[0].values[1][1]: line must be a string, got number"},
        BadJsonCase{"LineObject", S0 R"(["1",{}]]}]})",
                    "streams[0].values[1][1]: line must be a string, got object"},
        BadJsonCase{"MetadataNotObject", S0 R"(["1","x",["k","v"]]]}]})",
                    "streams[0].values[1][2]: structured metadata must be an object of string "
                    "values, got array"},
        BadJsonCase{"MetadataValueNotString", S0 R"(["1","x",{"k":"v","n":1}]]}]})",
                    "streams[0].values[1][2].n: structured metadata value must be a string, "
                    "got number"},
        BadJsonCase{"MetadataValueNested", S0 R"(["1","x",{"k":{"a":"b"}}]]}]})",
                    "streams[0].values[1][2].k: structured metadata value must be a string, "
                    "got object"},
        BadJsonCase{"InvalidUtf8InLine", S0 "[\"1\",\"a\xff\"]]}]}",
                    "streams[0].values[1][1]: invalid UTF-8 in JSON string at line 1, "
                    "column 61"},
        BadJsonCase{"InvalidUtf8InLabelValue", "{\"streams\":[{\"stream\":{\"a\":\"\xc3\"}}]}",
                    "streams[0].stream.a: invalid UTF-8 in JSON string at line 1, column 30"},
        BadJsonCase{"InvalidUtf8InMetadataKey", S0 "[\"1\",\"x\",{\"\xe2\x82\":\"v\"}]]}]}",
                    "streams[0].values[1][2]: invalid UTF-8 in JSON string at line 1, "
                    "column 67"},
        BadJsonCase{"LoneSurrogateEscape", S0 R"(["1","\ud800"]]}]})",
                    "streams[0].values[1][1]: invalid JSON: line 1, column 66: syntax error "
                    "while parsing value - invalid string: surrogate U+D800..U+DBFF must be "
                    "followed by U+DC00..U+DFFF; last read: '\"\\ud800\"'"},
        BadJsonCase{"ControlCharInString", S0 "[\"1\",\"a\tb\"]]}]}",
                    "streams[0].values[1][1]: invalid JSON: line 1, column 61: syntax error "
                    "while parsing value - invalid string: control character U+0009 (HT) must "
                    "be escaped to \\u0009 or \\t; last read: '\"a<U+0009>'"}),
    [](const ::testing::TestParamInfo<BadJsonCase>& info) { return info.param.name; });
#undef S0

// ---------------------------------------------------------------------------------------
// The fast JSON reader against nlohmann (the reference).

void ExpectSameAsNlohmann(const std::string& body, PushPathVersion version) {
  auto fast = internal::DecodePushJson(body, version, internal::JsonReader::kAuto);
  auto reference = internal::DecodePushJson(body, version, internal::JsonReader::kNlohmann);
  ASSERT_EQ(fast.ok(), reference.ok()) << Printable(body) << "\nauto: " << fast.status().ToString()
                                       << "\nnlohmann: " << reference.status().ToString();
  if (fast.ok()) {
    EXPECT_EQ(fast->streams, reference->streams) << Printable(body);
  } else {
    EXPECT_EQ(fast.status(), reference.status()) << Printable(body);
  }
}

TEST(PushFastJsonTest, HandlesEscapesUnicodeAndSkippedValuesWithoutFallingBack) {
  const std::string body =
      " \t\r\n{ \"streams\" : [ { \"values\" : [ [ \"1\" , "
      R"("esc \" \\ \/ \b \f \n \r \t \u0000 \u00e9 \u20AC \ud83d\ude00 \uD834\uDD1E" ] ,)"
      "[\"2\",\"raw \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\",{\"k\":\"\"}]],"
      R"("unknown": [0, -0, 1.5, -2e10, 3E+2, 4e-1, 123456789012345678901234567890, true, false,)"
      R"( null, {}, [], {"a": [{"b": null}]}], "stream": {"z": "", "a": "\u0041"} } ] } )";
  auto fast = internal::DecodePushJson(body, PushPathVersion::kV1, internal::JsonReader::kFastOnly);
  ASSERT_TRUE(fast.ok()) << fast.status().ToString();
  ASSERT_EQ(fast->streams.size(), 1u);
  const PushStream& st = fast->streams[0];
  EXPECT_EQ(st.labels, R"({a="A", z=""})");
  ASSERT_EQ(st.entries.size(), 2u);
  EXPECT_EQ(st.entries[0].line, std::string("esc \" \\ / \b \f \n \r \t ") + '\0' +
                                    " \u00e9 \u20ac \U0001F600 \U0001D11E");
  EXPECT_EQ(st.entries[1].line, "raw \u00e9 \u20ac \U0001F600 \x7f");
  EXPECT_EQ(st.entries[1].structured_metadata, (std::vector<Label>{{"k", ""}}));
  ExpectSameAsNlohmann(body, PushPathVersion::kV1);
}

TEST(PushFastJsonTest, EncodedBodiesTakeTheFastPath) {
  for (const std::string& body :
       {EncodePushJson(SampleRequest()), ReadFile(TestdataPath("v1_with_metadata.json"))}) {
    auto fast =
        internal::DecodePushJson(body, PushPathVersion::kV1, internal::JsonReader::kFastOnly);
    ASSERT_TRUE(fast.ok()) << fast.status().ToString();
    ExpectSameAsNlohmann(body, PushPathVersion::kV1);
  }
  auto legacy = internal::DecodePushJson(ReadFile(TestdataPath("legacy.json")),
                                         PushPathVersion::kLegacy, internal::JsonReader::kFastOnly);
  EXPECT_TRUE(legacy.ok()) << legacy.status().ToString();
}

TEST(PushFastJsonTest, LeavesWhatItDoesNotAcceptToNlohmann) {
  // A UTF-8 BOM is accepted by nlohmann only; a lone surrogate and raw control characters
  // are rejected by both, with nlohmann's message.
  for (const std::string& body :
       {std::string("\xef\xbb\xbf{\"streams\":[]}"),
        std::string(R"({"streams":[{"values":[["1","\udc00"]]}]})"),
        std::string(R"({"streams":[{"values":[["1","\ud800x"]]}]})"),
        std::string("{\"streams\":[{\"values\":[[\"1\",\"\x01\"]]}]}"),
        std::string("{\"streams\":[{\"values\":[[\"1\",\"\xed\xa0\x80\"]]}]}"),      // surrogate
        std::string("{\"streams\":[{\"values\":[[\"1\",\"\xc0\xaf\"]]}]}"),          // overlong
        std::string("{\"streams\":[{\"values\":[[\"1\",\"\xf4\x90\x80\x80\"]]}]}"),  // > U+10FFFF
        std::string(R"({"streams":[],})"), std::string(R"({"streams":[{},]})"),
        std::string(R"({"x":01,"streams":[]})"), std::string(R"({"streams":[-]})"),
        std::string(R"({"streams":[1.]})"), std::string(R"({"streams":[1e]})"),
        std::string(R"({"streams":[tru]})"), std::string(R"({"streams":[nulll]})"),
        std::string(R"({"a":"\x"})"), std::string(R"({"a":"\u12G4"})"),
        std::string(R"({'streams':[]})"), std::string("{\"streams\":[]}") + '\0'}) {
    auto fast =
        internal::DecodePushJson(body, PushPathVersion::kV1, internal::JsonReader::kFastOnly);
    EXPECT_EQ(fast.status().code(), StatusCode::kUnimplemented) << Printable(body);
    ExpectSameAsNlohmann(body, PushPathVersion::kV1);
  }
  EXPECT_TRUE(Decode("\xef\xbb\xbf{\"streams\":[]}", kJson).ok());
}

TEST(PushFastJsonTest, RandomMutationsDecodeLikeNlohmann) {
  // Byte flips, deletions, insertions of JSON-significant bytes and truncations of valid
  // bodies: whatever the verdict, both readers reach the same one. Deterministic seed.
  const std::vector<std::pair<std::string, PushPathVersion>> seeds = {
      {EncodePushJson(SampleRequest()), PushPathVersion::kV1},
      {ReadFile(TestdataPath("v1_with_metadata.json")), PushPathVersion::kV1},
      {ReadFile(TestdataPath("legacy.json")), PushPathVersion::kLegacy},
  };
  const std::string specials = "{}[],:\"\\ \n0123456789-.eEtfnul\x80\xc3\xe2\xf0\xff";
  std::mt19937 rng(20240501);
  for (int i = 0; i < 6000; ++i) {
    const auto& [seed, version] = seeds[i % seeds.size()];
    std::string body = seed;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0:
          body[at] = specials[rng() % specials.size()];
          break;
        case 1:
          body.erase(at, 1 + rng() % 3);
          break;
        case 2:
          body.insert(at, 1, specials[rng() % specials.size()]);
          break;
        case 3:
          body.resize(at);
          break;
      }
    }
    ExpectSameAsNlohmann(body, version);
    if (HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------
// Legacy JSON (/api/prom/push).

TEST(PushLegacyJsonTest, DecodesLabelsTextAndRfc3339Timestamps) {
  DecodeOptions options;
  options.version = PushPathVersion::kLegacy;
  std::string body = ReadFile(TestdataPath("legacy.json"));
  ASSERT_FALSE(body.empty());
  auto got = Decode(body, kJson, "", options);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 2u);
  EXPECT_EQ(got->streams[0].labels, R"({foo="bar"})");  // as received
  ASSERT_EQ(got->streams[0].entries.size(), 2u);
  // 2018-12-18T08:28:06.801064-04:00 = 2018-12-18T12:28:06.801064Z
  EXPECT_EQ(got->streams[0].entries[0], (PushEntry{1545136086801064000, "baz", {}}));
  EXPECT_EQ(got->streams[0].entries[1], (PushEntry{1545136086000000000, "qux", {}}));
  EXPECT_EQ(got->streams[1].labels, R"({b="2", a="1"})");
  EXPECT_TRUE(got->streams[1].entries.empty());
}

TEST(PushLegacyJsonTest, RejectsWithAMessageNamingTheField) {
  DecodeOptions options;
  options.version = PushPathVersion::kLegacy;
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {R"({"streams":[{"labels":{"a":"b"}}]})",
       "streams[0].labels: must be a string of label text, got object"},
      {R"({"streams":[{"labels":"{}","entries":{}}]})",
       "streams[0].entries: must be an array of entries, got object"},
      {R"({"streams":[{"labels":"{}","entries":[["1","x"]]}]})",
       "streams[0].entries[0]: entry must be an object {\"ts\": \"<RFC3339>\", \"line\": "
       "\"...\"}, got array"},
      {R"({"streams":[{"labels":"{}","entries":[{"ts":1,"line":"x"}]}]})",
       "streams[0].entries[0].ts: must be an RFC3339 timestamp string, got number"},
      {R"({"streams":[{"labels":"{}","entries":[{"ts":"1545136086","line":"x"}]}]})",
       "streams[0].entries[0].ts: cannot parse \"1545136086\" as RFC3339 time"},
      {R"({"streams":[{"labels":"{}","entries":[{"ts":"3018-12-18T08:28:06Z","line":"x"}]}]})",
       "streams[0].entries[0].ts: timestamp \"3018-12-18T08:28:06Z\" is out of range (years "
       "1678 to 2261)"},
      {R"({"streams":[{"labels":"{}","entries":[{"line":"x"}]}]})",
       "streams[0].entries[0].ts: required field is missing"},
      {R"({"streams":[{"labels":"{}","entries":[{"ts":"2018-12-18T08:28:06Z","line":7}]}]})",
       "streams[0].entries[0].line: must be a string, got number"},
  };
  for (const Case& c : cases) {
    auto got = Decode(c.body, kJson, "", options);
    ASSERT_FALSE(got.ok()) << c.body;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(), c.message) << c.body;
  }
}

TEST(PushLegacyJsonTest, V1BodyOnLegacyPathHasNoEntries) {
  // The legacy decoder does not know "stream"/"values" (Loki's neither): ignored members.
  DecodeOptions options;
  options.version = PushPathVersion::kLegacy;
  auto got =
      Decode(R"({"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]})", kJson, "", options);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->streams.size(), 1u);
  EXPECT_TRUE(got->streams[0].entries.empty());
}

// ---------------------------------------------------------------------------------------
// Content-Encoding.

TEST(PushEncodingTest, GzipJsonAndGzipProtobuf) {
  PushRequest req = SampleRequest();
  auto json = Decode(GzipCompress(EncodePushJson(req)), kJson, "gzip");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(json->streams, req.streams);
  // gzip + protobuf means gzip(snappy(proto)).
  auto proto = Decode(GzipCompress(SnappyCompress(EncodePushProtobuf(req))), kProto, "gzip");
  ASSERT_TRUE(proto.ok()) << proto.status().ToString();
  EXPECT_EQ(proto->streams, req.streams);
}

TEST(PushEncodingTest, DeflateIsRawRfc1951) {
  PushRequest req = SampleRequest();
  std::string json = EncodePushJson(req);
  auto got = Decode(DeflateCompress(json), kJson, "deflate");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, req.streams);
  // A zlib-wrapped (RFC 1950) body is not what Loki accepts for "deflate".
  std::string raw = DeflateCompress(json);
  std::string zlib_wrapped = std::string("\x78\x9c", 2) + raw + "\0\0\0\0";
  auto bad = Decode(zlib_wrapped, kJson, "deflate");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status().message(), "flate: "));
}

TEST(PushEncodingTest, EncodingNameIsCaseInsensitive) {
  auto got = Decode(GzipCompress(EncodePushJson(SampleRequest())), kJson, "GZip");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
}

TEST(PushEncodingTest, ConcatenatedGzipMembersAreOneBody) {
  std::string json = EncodePushJson(SampleRequest());
  std::string half1 = json.substr(0, json.size() / 2), half2 = json.substr(json.size() / 2);
  auto got = Decode(GzipCompress(half1) + GzipCompress(half2), kJson, "gzip");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams, SampleRequest().streams);
}

TEST(PushEncodingTest, BodyExactlyAtTheCapIsAccepted) {
  std::string json = EncodePushJson(SampleRequest());
  DecodeOptions options;
  options.max_decompressed_bytes = static_cast<int64_t>(json.size());
  EXPECT_TRUE(Decode(GzipCompress(json), kJson, "gzip", options).ok());
  EXPECT_TRUE(Decode(DeflateCompress(json), kJson, "deflate", options).ok());
  options.max_decompressed_bytes -= 1;
  EXPECT_EQ(Decode(GzipCompress(json), kJson, "gzip", options).status().code(),
            StatusCode::kTooLarge);

  std::string proto = EncodePushProtobuf(SampleRequest());
  options.max_decompressed_bytes = static_cast<int64_t>(proto.size());
  EXPECT_TRUE(Decode(SnappyCompress(proto), kProto, "", options).ok());
  options.max_decompressed_bytes -= 1;
  EXPECT_EQ(Decode(SnappyCompress(proto), kProto, "", options).status().code(),
            StatusCode::kTooLarge);
}

// ---------------------------------------------------------------------------------------
// Decompression bombs.

TEST(PushBombTest, GzipBombStopsAtTheCap) {
  // 64 MiB of zeros in one gzip member (~64 KiB), cap 1 MiB.
  std::string bomb = GzipCompress(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);
  DecodeOptions options;
  options.max_decompressed_bytes = 1 << 20;
  auto got = Decode(bomb, kJson, "gzip", options);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(got.status().message(),
            "request body too large: decompressed size exceeds the limit of 1048576 bytes "
            "(distributor.max_decompressed_size)");
}

TEST(PushBombTest, OneMebibyteGzipExpandingToOneGibibyteStopsAtTheCap) {
  // 64 concatenated members of 16 MiB zeros each: ~1 MiB on the wire, 1 GiB inflated.
  std::string member = GzipCompress(std::string(16 << 20, '\0'));
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += member;
  ASSERT_LT(bomb.size(), 2u << 20);
  DecodeOptions options;
  options.max_decompressed_bytes = 32 << 20;
  auto got = Decode(bomb, kProto, "gzip", options);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge);
  EXPECT_TRUE(Contains(got.status().message(), "request body too large"));
}

TEST(PushBombTest, DeflateBombStopsAtTheCap) {
  std::string bomb = DeflateCompress(std::string(16 << 20, 'a'));
  DecodeOptions options;
  options.max_decompressed_bytes = 100 << 10;
  auto got = Decode(bomb, kJson, "deflate", options);
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge) << ErrorOf(got);
}

TEST(PushBombTest, SnappyDeclaredLengthOverTheCapIsRejectedBeforeDecoding) {
  std::string body = SnappyCompress(std::string(8 << 20, '\0'));
  DecodeOptions options;
  options.max_decompressed_bytes = 1 << 20;
  auto got = Decode(body, kProto, "", options);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(got.status().message(),
            "request body too large: message size too large than max (8388608 vs 1048576) "
            "(distributor.max_decompressed_size)");
  EXPECT_EQ(SnappyUncompress(body, 1 << 20).status().code(), StatusCode::kTooLarge);
}

// Old code: the default cap was 5000 MiB, so 1 MiB of gzip inflated to 1 GiB in full.
TEST(PushBombTest, DefaultCapIs100MiB) {
  EXPECT_EQ(DecodeOptions{}.max_decompressed_bytes, 100LL << 20);
  std::string member = GzipCompress(std::string(16 << 20, '\0'));
  std::string bomb;
  for (int i = 0; i < 8; ++i) bomb += member;  // 128 MiB inflated
  auto got = Decode(bomb, kJson, "gzip");
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge) << ErrorOf(got);
  EXPECT_TRUE(Contains(got.status().message(), "104857600 bytes (distributor.max_decompressed_size)"))
      << ErrorOf(got);
}

TEST(PushBombTest, BudgetInUseByOthersFailsFastWith429AndIsGivenBack) {
  DecodeBudget budget(16 << 20);
  ASSERT_TRUE(budget.TryAcquire(12 << 20));  // other requests being decoded
  std::string body = GzipCompress(std::string(8 << 20, '\0'));
  {
    DecodeReservation r(&budget);
    DecodeOptions options;
    options.reservation = &r;
    auto got = Decode(body, kJson, "gzip", options);
    EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted) << ErrorOf(got);
    EXPECT_TRUE(Contains(got.status().message(), "(distributor.max_decompressed_inflight_bytes)"))
        << ErrorOf(got);
  }
  EXPECT_EQ(budget.in_use(), 12 << 20);  // the failed request's bytes are back
  budget.Release(12 << 20);
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(PushBombTest, ReservationHoldsWhatWasInflatedUntilReleased) {
  DecodeBudget budget(64 << 20);
  PushRequest req;
  req.streams.push_back({"{a=\"b\"}", {{1, std::string(1 << 20, 'x'), {}}}});
  std::string body = GzipCompress(SnappyCompress(EncodePushProtobuf(req)));
  {
    DecodeReservation r(&budget);
    DecodeOptions options;
    options.reservation = &r;
    auto got = Decode(body, kProto, "gzip", options);
    ASSERT_TRUE(got.ok()) << ErrorOf(got);
    EXPECT_EQ(*got, req);
    EXPECT_GT(budget.in_use(), 1 << 20);  // gzip output + snappy output (the 1 MiB line)
    EXPECT_EQ(budget.in_use(), r.bytes());
  }
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(PushBombTest, SnappyDeclaredLengthIsReservedBeforeAllocating) {
  DecodeBudget budget(4 << 20);
  std::string body = SnappyCompress(std::string(8 << 20, '\0'));  // declares 8 MiB
  DecodeReservation r(&budget);
  DecodeOptions options;
  options.reservation = &r;
  auto got = Decode(body, kProto, "", options);
  EXPECT_EQ(got.status().code(), StatusCode::kTooLarge) << ErrorOf(got);  // can never fit
  EXPECT_TRUE(Contains(got.status().message(), "(distributor.max_decompressed_inflight_bytes)"))
      << ErrorOf(got);
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(PushBombTest, SnappyHeaderClaimingMoreThanPossibleIsCorrupt) {
  // A 6-byte body declaring 4 GiB: impossible for snappy, must not allocate 4 GiB.
  std::string body = std::string("\x80\x80\x80\x80\x10", 5) + "x";
  auto got = Decode(body, kProto);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(), "snappy: corrupt input");
}

// ---------------------------------------------------------------------------------------
// Malformed bodies and headers (RELIABILITY §4.3 push rows about decoding).

struct BadBodyCase {
  const char* name;
  std::string body;
  const char* type;
  const char* encoding;
  const char* message;
};

std::vector<BadBodyCase> BadBodies() {
  std::string proto = EncodePushProtobuf(SampleRequest());
  std::string snappy = SnappyCompress(proto);
  std::string gz = GzipCompress(EncodePushJson(SampleRequest()));
  std::string corrupt_gz = gz;
  corrupt_gz[gz.size() / 2] ^= 0x55;
  corrupt_gz[gz.size() / 2 + 1] ^= 0x55;
  std::string bad_crc_gz = gz;
  bad_crc_gz[gz.size() - 6] ^= 1;  // CRC32 in the trailer
  return {
      {"Brotli", snappy, kProto, "br", "Content-Encoding \"br\" not supported"},
      {"Zstd", snappy, kProto, "zstd", "Content-Encoding \"zstd\" not supported"},
      {"MissingContentType", snappy, "", "", "mime: no media type"},
      {"ContentTypeOnlyParameters", snappy, "; charset=utf-8", "", "mime: no media type"},
      {"ContentTypeNoSubtype", snappy, "application/", "", "mime: expected token after slash"},
      {"ContentTypeJunk", snappy, "application/json x", "",
       "mime: unexpected content after media subtype"},
      {"ContentTypeSpace", snappy, "application json", "",
       "mime: expected slash after first token"},
      {"ContentTypeBadSeparator", snappy, "application:json", "",
       "mime: expected slash after first token"},
      {"EmptyProtobufBody", "", kProto, "", "snappy: corrupt input"},
      {"TruncatedSnappy", snappy.substr(0, snappy.size() - 10), kProto, "",
       "snappy: corrupt input"},
      {"FramedSnappy", std::string("\xff\x06\x00\x00sNaPpY", 10) + snappy, kProto, "",
       "snappy: corrupt input"},
      {"UncompressedProtobuf", proto, kProto, "", "snappy: corrupt input"},
      {"TextPlainLogLines", "level=info msg=hello\nlevel=warn msg=bye\n", "text/plain", "",
       "snappy: corrupt input"},
      {"SnappyOfNonProtobuf", SnappyCompress("this is not a protobuf message \xff\xff"), kProto, "",
       "invalid protobuf body: cannot parse logproto.PushRequest"},
      {"ZeroLengthGzip", "", kJson, "gzip", "gzip: unexpected EOF (empty body)"},
      {"ZeroLengthDeflate", "", kJson, "deflate", "flate: unexpected EOF (empty body)"},
      {"NotGzip", "{\"streams\":[]}", kJson, "gzip", "gzip: incorrect header check"},
      {"TruncatedGzip", gz.substr(0, gz.size() / 2), kJson, "gzip", "gzip: unexpected EOF"},
      {"GzipWithoutTrailer", gz.substr(0, gz.size() - 8), kJson, "gzip", "gzip: unexpected EOF"},
      {"CorruptGzip", corrupt_gz, kJson, "gzip", nullptr},
      {"GzipBadChecksum", bad_crc_gz, kJson, "gzip", "gzip: incorrect data check"},
      {"GzipTrailingGarbage", gz + "garbage", kJson, "gzip", "gzip: incorrect header check"},
      {"TruncatedDeflate", DeflateCompress(std::string(1000, 'x') + "yz").substr(0, 5), kJson,
       "deflate", "flate: unexpected EOF"},
      {"DeflateInvalidBlockType", "\x07", kJson, "deflate", "flate: invalid block type"},
  };
}

void PrintTo(const BadBodyCase& c, std::ostream* os) { *os << c.name; }

class PushRejectsBodyTest : public ::testing::TestWithParam<BadBodyCase> {};

TEST_P(PushRejectsBodyTest, AsInvalidArgument) {
  const BadBodyCase& c = GetParam();
  auto got = Decode(c.body, c.type, c.encoding);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << got.status().ToString();
  if (c.message != nullptr) {
    EXPECT_EQ(got.status().message(), c.message);
  } else {
    EXPECT_TRUE(Contains(got.status().message(), "gzip: "));
  }
}

INSTANTIATE_TEST_SUITE_P(Malformed, PushRejectsBodyTest, ::testing::ValuesIn(BadBodies()),
                         [](const ::testing::TestParamInfo<BadBodyCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(PushDecodeTest, EncodingIsCheckedBeforeContentType) {
  EXPECT_EQ(Decode("x", "", "br").status().message(), "Content-Encoding \"br\" not supported");
  EXPECT_EQ(Decode("x", "", "gzip").status().message(), "mime: no media type");
}

// ---------------------------------------------------------------------------------------
// Encoders.

TEST(PushEncodeTest, JsonOmitsEmptyMetadataAndReplacesInvalidUtf8) {
  PushRequest req;
  PushStream& s = req.streams.emplace_back();
  s.labels = R"({b="2", a="1"})";
  s.entries.push_back({-3, std::string("x\xffy", 3), {}});
  std::string body = EncodePushJson(req);
  EXPECT_EQ(body,
            "{\"streams\":[{\"stream\":{\"b\":\"2\",\"a\":\"1\"},\"values\":[[\"-3\","
            "\"x\xef\xbf\xbdy\"]]}]}");
  auto got = Decode(body, kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams[0].labels, R"({a="1", b="2"})");
}

TEST(PushEncodeTest, JsonWithUnparsableLabelsHasNoLabels) {
  PushRequest req;
  req.streams.push_back({"not labels", {{1, "x", {}}}});
  auto got = Decode(EncodePushJson(req), kJson);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->streams[0].labels, "{}");
}

TEST(PushEncodeTest, SnappyRoundTripAndCorruption) {
  std::string data(100000, 'a');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  std::string c = SnappyCompress(data);
  EXPECT_LT(c.size(), data.size());
  auto back = SnappyUncompress(c, 1 << 20);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, data);
  EXPECT_EQ(SnappyUncompress(c.substr(0, c.size() / 2), 1 << 20).status().message(),
            "snappy: corrupt input");
  EXPECT_EQ(SnappyUncompress("", 1 << 20).status().message(), "snappy: corrupt input");
}

TEST(PushEncodeTest, GzipHasTheRfc1952Magic) {
  std::string gz = GzipCompress("hello");
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(gz.substr(0, 3), std::string("\x1f\x8b\x08", 3));
}

}  // namespace
}  // namespace logq::api
