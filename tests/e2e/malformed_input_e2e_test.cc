// Malformed-input corpus (RELIABILITY §4.2 E1, §4.3) against a running logq-store: every
// case gets its expected status (4xx: 400/401/404/413/429, never 5xx), a non-empty text body
// of at most 4 KiB containing the expected (Loki-worded) substring and no server path; after
// every case the server is still ready and the data accepted before the corpus is intact.
//
// The cases run against a few shared servers ("profiles"), started on first use and seeded
// with three lines; the limits that some cases probe (small line size and body caps, a tiny
// rate limit, a stream limit of 1, auth) each get their own profile so cases stay
// independent of each other and of their order.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <ostream>

#include "query/base/units.h"
#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

enum class Profile { kDefault, kPlain, kAuth, kRateLimited, kStreamLimited };

StoreOptions OptionsFor(Profile p) {
  switch (p) {
    case Profile::kDefault:
      return {.flags = {"-limits-config.max-line-size=1024", "-distributor.max-recv-msg-size=64KiB",
                        "-distributor.max-decompressed-size=256KiB"}};
    case Profile::kPlain:
      return {};  // every limit at its default
    case Profile::kAuth:
      return {.flags = {"-auth-enabled=true"}};
    case Profile::kRateLimited:
      // 10 KiB/s with a 10 KiB burst: a request with more valid bytes can never pass.
      return {.flags = {"-limits-config.ingestion-rate-mb=0.009765625",
                        "-limits-config.ingestion-burst-size-mb=0.009765625"}};
    case Profile::kStreamLimited:
      return {.flags = {"-limits-config.max-global-streams-per-user=1"}};
  }
  return {};
}

const char* kSeedTenant = "seed";
constexpr const char* kCorpusLabels = R"({job="corpus"})";

struct Env {
  int64_t now;  // the test's wall clock when the case starts
};

struct CorpusCase {
  std::string name;
  Profile profile;
  std::function<HttpReply(TestHttpClient&, const Env&)> send;
  int want_status;
  std::string want_substring;
  // E1 wants error bodies of at most 4 KiB.
  size_t max_body = 4096;
};

void PrintTo(const CorpusCase& c, std::ostream* os) { *os << c.name; }

// ---- request builders -------------------------------------------------------------------

HttpReply Push(TestHttpClient& c, std::string_view body, const HttpHeaders& headers) {
  return c.Post("/loki/api/v1/push", body, headers);
}

std::string OneEntryProto(const std::string& labels, int64_t ts, const std::string& line) {
  return ProtoBody(Request({Stream(labels, {Entry(ts, line)})}));
}

std::function<HttpReply(TestHttpClient&, const Env&)> ProtoLabels(std::string labels) {
  return [labels](TestHttpClient& c, const Env& e) {
    return Push(c, OneEntryProto(labels, e.now - kMinute, "line"), ProtoHeaders());
  };
}

std::function<HttpReply(TestHttpClient&, const Env&)> Json(
    std::function<std::string(const Env&)> body, HttpHeaders extra = {}) {
  return [body, extra](TestHttpClient& c, const Env& e) {
    return Push(c, body(e), With(JsonHeaders(), extra));
  };
}

std::function<HttpReply(TestHttpClient&, const Env&)> JsonText(std::string body) {
  return Json([body](const Env&) { return body; });
}

// A v1 JSON body with one stream {job="corpus"} and `values` spliced in verbatim.
std::function<HttpReply(TestHttpClient&, const Env&)> JsonValues(
    std::function<std::string(const Env&)> values) {
  return Json([values](const Env& e) {
    return R"({"streams":[{"stream":{"job":"corpus"},"values":)" + values(e) + "}]}";
  });
}

std::string Ts(int64_t ns) { return "\"" + std::to_string(ns) + "\""; }

std::function<HttpReply(TestHttpClient&, const Env&)> Get(std::string path_and_query,
                                                          HttpHeaders h = {}) {
  return [path_and_query, h](TestHttpClient& c, const Env&) { return c.Get(path_and_query, h); };
}

std::function<HttpReply(TestHttpClient&, const Env&)> QueryRangeWith(
    std::vector<std::pair<std::string, std::string>> params) {
  return [params](TestHttpClient& c, const Env& e) {
    auto p = params;
    bool has_start = false, has_end = false;
    for (const auto& [k, v] : p) {
      has_start |= k == "start";
      has_end |= k == "end";
    }
    if (!has_start) p.emplace_back("start", std::to_string(e.now - kHour));
    if (!has_end) p.emplace_back("end", std::to_string(e.now));
    return c.Get(testing::PathWithQuery("/loki/api/v1/query_range", p));
  };
}

std::function<HttpReply(TestHttpClient&, const Env&)> AsTenant(std::string tenant) {
  return [tenant](TestHttpClient& c, const Env& e) {
    HttpHeaders h = ProtoHeaders();
    if (!tenant.empty()) h.emplace_back("X-Scope-OrgID", tenant);
    return Push(c, OneEntryProto(kCorpusLabels, e.now - kMinute, "line"), h);
  };
}

std::string ValidJson(const Env& e) {
  return R"({"streams":[{"stream":{"job":"corpus"},"values":[[)" + Ts(e.now - kMinute) +
         R"(,"x"]]}]})";
}

std::string Labels16() {
  std::string s = "{";
  for (int i = 0; i < 16; ++i)
    s += (i ? ", " : "") + std::string("l") + std::to_string(i + 10) + "=\"v\"";
  return s + "}";
}

std::vector<CorpusCase> Cases() {
  const Profile D = Profile::kDefault;
  std::vector<CorpusCase> v;
  auto add = [&](std::string name, Profile p,
                 std::function<HttpReply(TestHttpClient&, const Env&)> send, int status,
                 std::string substr) {
    v.push_back({std::move(name), p, std::move(send), status, std::move(substr), 4096});
  };

  // ---- framing: Content-Encoding / Content-Type / compression ---------------------------
  add("ContentEncodingBr", D, Json(ValidJson, {{"Content-Encoding", "br"}}), 400,
      R"(Content-Encoding "br" not supported)");
  add(
      "MissingContentType", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(kCorpusLabels, e.now, "x"), {});
      },
      400, "mime: no media type");
  add(
      "TextPlainGarbage", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, "this is not a protobuf, not snappy, not anything",
                    {{"Content-Type", "text/plain"}});
      },
      400, "snappy: corrupt input");
  add(
      "TruncatedSnappy", D,
      [](TestHttpClient& c, const Env& e) {
        std::string body =
            OneEntryProto(kCorpusLabels, e.now - kMinute, std::string(300, 'z') + "tail");
        return Push(c, body.substr(0, body.size() / 2), ProtoHeaders());
      },
      400, "snappy: corrupt input");
  add(
      "FramedSnappyStream", D,
      [](TestHttpClient& c, const Env& e) {
        // The snappy *framing* format (stream identifier chunk, then a compressed chunk)
        // instead of the raw block format Loki expects.
        std::string block = OneEntryProto(kCorpusLabels, e.now - kMinute, "framed");
        std::string body("\xff\x06\x00\x00sNaPpY", 10);
        const size_t len = block.size() + 4;
        body += '\x00';
        body += static_cast<char>(len & 0xff);
        body += static_cast<char>((len >> 8) & 0xff);
        body += static_cast<char>((len >> 16) & 0xff);
        body += std::string("\x00\x00\x00\x00", 4);  // CRC (not checked before the format fails)
        body += block;
        return Push(c, body, ProtoHeaders());
      },
      400, "snappy: corrupt input");
  add(
      "SnappyOfGarbageProtobuf", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, api::SnappyCompress("\xff\xff\xff\xff\xff garbage \x0a\xff"),
                    ProtoHeaders());
      },
      400, "invalid protobuf body");
  add(
      "CorruptGzip", D,
      [](TestHttpClient& c, const Env& e) {
        std::string gz = api::GzipCompress(ValidJson(e));
        for (size_t i = 12; i < gz.size() - 8; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
        return Push(c, gz, With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
      },
      400, "gzip: ");
  add(
      "TruncatedGzip", D,
      [](TestHttpClient& c, const Env& e) {
        std::string gz = api::GzipCompress(ValidJson(e));
        return Push(c, gz.substr(0, gz.size() - 12),
                    With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
      },
      400, "gzip: unexpected EOF");
  add(
      "ZeroLengthGzip", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, "", With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
      },
      400, "gzip: unexpected EOF");
  add(
      "NotGzipAtAll", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, ValidJson(e), With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
      },
      400, "gzip: ");
  add(
      "CorruptDeflate", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8),
                    With(JsonHeaders(), {{"Content-Encoding", "deflate"}}));
      },
      400, "flate: ");
  // Positive controls: variants Loki accepts must not be caught by the checks above.
  add("EmptyStreamsListIsAccepted", D, JsonText(R"({"streams":[]})"), 204, "");
  add("StreamWithoutEntriesIsAccepted", D,
      JsonText(R"({"streams":[{"stream":{"job":"corpus"},"values":[]}]})"), 204, "");
  add(
      "ContentEncodingSnappyIsTolerated", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(kCorpusLabels, e.now - kMinute, "snappy header"),
                    With(ProtoHeaders(), {{"Content-Encoding", "snappy"}}));
      },
      204, "");
  add(
      "DeflateJsonIsAccepted", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, api::DeflateCompress(ValidJson(e)),
                    With(JsonHeaders(), {{"Content-Encoding", "deflate"}}));
      },
      204, "");
  add(
      "JsonWithCharsetParameterIsAccepted", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, ValidJson(e), {{"Content-Type", "application/json; charset=utf-8"}});
      },
      204, "");
  add(
      "LegacyJsonPushIsAccepted", D,
      [](TestHttpClient& c, const Env& e) {
        return c.Post("/api/prom/push",
                      R"({"streams":[{"labels":"{job=\"corpus\"}","entries":[{"ts":")" +
                          FormatRFC3339Nano(e.now - kMinute) + R"(","line":"legacy"}]}]})",
                      JsonHeaders());
      },
      204, "");

  // ---- JSON shape ------------------------------------------------------------------------
  add("JsonNotAnObject", D, JsonText(R"([{"streams":[]}])"), 400,
      "push body must be a JSON object");
  add("JsonSyntaxError", D, JsonText(R"({"streams":[{"stream":)"), 400, "invalid JSON");
  add("JsonStreamsMissing", D, JsonText(R"({"stream":[]})"), 400,
      "streams: required field is missing");
  add("JsonStreamsNotArray", D, JsonText(R"({"streams":{"stream":{"job":"x"}}})"), 400,
      "streams: must be an array");
  add("JsonTimestampAsNumber", D,
      JsonValues([](const Env& e) { return "[[" + std::to_string(e.now) + ",\"x\"]]"; }), 400,
      "streams[0].values[0][0]: timestamp must be a string of nanoseconds");
  add("JsonTimestampNotInteger", D,
      JsonValues([](const Env&) { return R"([["1700000000.5","x"]])"; }), 400,
      "streams[0].values[0][0]: invalid timestamp \"1700000000.5\"");
  add("JsonEntryOfLengthOne", D, JsonValues([](const Env& e) { return "[[" + Ts(e.now) + "]]"; }),
      400, "streams[0].values[0]: entry must have 2 or 3 elements, got 1");
  add("JsonEntryOfLengthFour", D,
      JsonValues([](const Env& e) { return "[[" + Ts(e.now) + R"(,"x",{},"extra"]])"; }), 400,
      "entry must have 2 or 3 elements, got more");
  add("JsonLineNotUtf8", D,
      JsonValues([](const Env& e) { return "[[" + Ts(e.now) + ",\"bad \xff\xfe byte\"]]"; }), 400,
      "invalid UTF-8");
  add("JsonLabelValueNotString", D, JsonText(R"({"streams":[{"stream":{"job":1},"values":[]}]})"),
      400, "label value must be a string");
  add("JsonMetadataValueNotString", D,
      JsonValues([](const Env& e) { return "[[" + Ts(e.now) + R"(,"x",{"trace":7}]])"; }), 400,
      "structured metadata value must be a string");
  add("JsonEmptyStreamLabels", D, Json([](const Env& e) {
        return R"({"streams":[{"stream":{},"values":[[)" + Ts(e.now - kMinute) + R"(,"x"]]}]})";
      }),
      400, "error at least one label pair is required per stream");

  // ---- stream labels (protobuf carries the label text verbatim) -------------------------
  add("LabelsEmpty", D, ProtoLabels("{}"), 400,
      "error at least one label pair is required per stream");
  add("LabelsMissingValue", D, ProtoLabels("{a=}"), 400, "Error parsing labels '{a=}' with error:");
  add("LabelsNameStartsWithDigit", D, ProtoLabels(R"({1a="x"})"), 400,
      R"(Error parsing labels '{1a="x"}')");
  add("LabelsReservedName", D, ProtoLabels(R"({__x="y"})"), 400, "label name '__x' is reserved");
  add("LabelsDuplicateName", D, ProtoLabels(R"({a="1", a="2"})"), 400,
      "has duplicate label name: 'a'");
  add("LabelsUnterminated", D, ProtoLabels(R"({a="x)"), 400, "Error parsing labels");
  add("LabelsNotLabelText", D, ProtoLabels("job=corpus"), 400, "Error parsing labels 'job=corpus'");
  add("LabelName1025Bytes", D, ProtoLabels("{n" + std::string(1024, 'a') + "=\"v\"}"), 400,
      "has label name too long: 'n" + std::string(159, 'a') + "...(1025 bytes)'");
  add("LabelValue2049Bytes", D, ProtoLabels("{job=\"" + std::string(2049, 'v') + "\"}"), 400,
      "has label value too long:");
  add("SixteenLabelNames", D, ProtoLabels(Labels16()), 400, "has 16 label names; limit 15");

  // ---- entries ---------------------------------------------------------------------------
  add(
      "LineOverMaxLineSize", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(kCorpusLabels, e.now - kMinute, std::string(1025, 'L')),
                    ProtoHeaders());
      },
      400,
      R"(Max entry size '1024' bytes exceeded for stream '{job="corpus"}' while adding an entry with length '1025' bytes)");
  add(
      "TimestampTooOld", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(kCorpusLabels, e.now - 8 * kDay, "old"), ProtoHeaders());
      },
      400, R"(entry for stream '{job="corpus"}' has timestamp too old)");
  add(
      "TimestampZero", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, OneEntryProto(kCorpusLabels, 0, "epoch"), ProtoHeaders());
      },
      400, "has timestamp too old: 1970-01-01T00:00:00");
  add(
      "TimestampTooNew", D,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(kCorpusLabels, e.now + kHour, "future"), ProtoHeaders());
      },
      400, R"(entry for stream '{job="corpus"}' has timestamp too new)");

  // ---- size caps (413) ---------------------------------------------------------------------
  add(
      "ChunkedBodyOverMaxRecvMsgSize", D,
      [](TestHttpClient& c, const Env&) {
        std::string body(100 << 10, 'B');  // 100 KiB > 64 KiB, sent chunked (no Content-Length)
        return Push(c, body, With(ProtoHeaders(), {{"Transfer-Encoding", "chunked"}}));
      },
      413, "request body too large");
  add(
      "GzipBombOverMaxDecompressedSize", D,
      [](TestHttpClient& c, const Env&) {
        std::string gz = api::GzipCompress(std::string(4 << 20, ' '));  // ~4 KiB expanding to 4 MiB
        return Push(c, gz, With(JsonHeaders(), {{"Content-Encoding", "gzip"}}));
      },
      413, "request body too large");
  add(
      "SnappyBombOverMaxDecompressedSize", D,
      [](TestHttpClient& c, const Env&) {
        return Push(c, api::SnappyCompress(std::string(1 << 20, '\0')),
                    ProtoHeaders());  // ~48 KiB → 1 MiB
      },
      413, "request body too large");

  // ---- limits that are retryable (429) ----------------------------------------------------
  add(
      "IngestionRateOverBurst", Profile::kRateLimited,
      [](TestHttpClient& c, const Env& e) {
        std::vector<api::PushEntry> entries;
        for (int i = 0; i < 20; ++i)
          entries.push_back(Entry(e.now - kMinute + i, std::string(1000, 'r')));
        return PushProto(c, Request({Stream(kCorpusLabels, entries)}));
      },
      429, "Ingestion rate limit exceeded for user fake (limit: 10240 bytes/sec)");
  add(
      "StreamLimit", Profile::kStreamLimited,
      [](TestHttpClient& c, const Env& e) {
        return Push(c, OneEntryProto(R"({job="one-too-many"})", e.now - kMinute, "x"),
                    ProtoHeaders());
      },
      429, "Maximum active stream limit exceeded");

  // ---- tenancy (auth enabled) -------------------------------------------------------------
  add("PushWithoutOrgId", Profile::kAuth, AsTenant(""), 401, "no org id");
  add("LabelsWithoutOrgId", Profile::kAuth, Get("/loki/api/v1/labels"), 401, "no org id");
  add("TenantDotDot", Profile::kAuth, AsTenant(".."), 400, "tenant ID is '.' or '..'");
  add("TenantDot", Profile::kAuth, AsTenant("."), 400, "tenant ID is '.' or '..'");
  add("TenantWithSlash", Profile::kAuth, AsTenant("a/b"), 400,
      "tenant ID contains unsupported character '/'");
  add("Tenant151Chars", Profile::kAuth, AsTenant(std::string(151, 't')), 400,
      "tenant ID is too long");
  add("MultiTenantPush", Profile::kAuth, AsTenant("a|b"), 400, "multiple org IDs present");

  // ---- query parameters ---------------------------------------------------------------------
  const std::string sel = R"({job="seed"})";
  add("QueryRangeLimitZero", D, QueryRangeWith({{"query", sel}, {"limit", "0"}}), 400,
      "limit must be a positive value");
  add("QueryRangeLimitNotInteger", D, QueryRangeWith({{"query", sel}, {"limit", "ten"}}), 400,
      R"(strconv.Atoi: parsing "ten": invalid syntax)");
  add("QueryRangeLimitOverMaxEntries", D, QueryRangeWith({{"query", sel}, {"limit", "100000"}}),
      400, "max entries limit per query exceeded, limit > max_entries_limit (100000 > 5000)");
  add("QueryRangeDirectionUp", D, QueryRangeWith({{"query", sel}, {"direction", "up"}}), 400,
      "invalid direction 'up'");
  add("QueryRangeStartAbc", D, QueryRangeWith({{"query", sel}, {"start", "abc"}}), 400,
      "could not parse 'start' parameter");
  add("QueryRangeEndAbc", D, QueryRangeWith({{"query", sel}, {"end", "2024-13-45T99:00:00Z"}}), 400,
      "could not parse 'end' parameter");
  add("QueryRangeStepFloatWithUnit", D, QueryRangeWith({{"query", sel}, {"step", "1.5s"}}), 400,
      R"(cannot parse "1.5s" to a valid duration)");
  add("QueryRangeStepZero", D, QueryRangeWith({{"query", sel}, {"step", "0"}}), 400,
      "zero or negative query resolution step widths are not accepted");
  add("QueryRangeTooManyPoints", D, QueryRangeWith({{"query", sel}, {"step", "1ms"}}), 400,
      "exceeded maximum resolution of 11,000 points per timeseries");
  add(
      "QueryRangeEndBeforeStart", D,
      [sel](TestHttpClient& c, const Env& e) {
        return c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                            {{"query", sel},
                                             {"start", std::to_string(e.now)},
                                             {"end", std::to_string(e.now - kHour)}}));
      },
      400, "end timestamp must not be before or equal to start time");
  add(
      "QueryRangeOver721h", D,
      [sel](TestHttpClient& c, const Env& e) {
        return c.Get(testing::PathWithQuery("/loki/api/v1/query_range",
                                            {{"query", sel},
                                             {"start", std::to_string(e.now - 800 * kHour)},
                                             {"end", std::to_string(e.now)}}));
      },
      400, "the query time range exceeds the limit (query length: ");
  add("QueryRangeUnclosedBrace", D, QueryRangeWith({{"query", "{"}}), 400,
      "parse error at line 1, col ");
  add("QueryRangeEmptyCompatibleMatcher", D, QueryRangeWith({{"query", R"({a=~".*"})"}}), 400,
      "queries require at least one regexp or equality matcher that does not have an "
      "empty-compatible value");
  add(
      "QueryRangeInputTooLongInPostForm", Profile::kPlain,
      [](TestHttpClient& c, const Env& e) {
        // POST with a form body (Loki accepts both). The plain profile keeps the default
        // 100 MiB body cap, and a URL this long would be over the server's 64 KiB header cap.
        std::string form =
            "query=" + testing::UrlEncode("{a=\"" + std::string(140000, 'q') + "\"}") +
            "&start=" + std::to_string(e.now - kHour) + "&end=" + std::to_string(e.now);
        return c.Post("/loki/api/v1/query_range", form,
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
      },
      400, "parse error : input size too long (140006 > 131072)");
  add("LabelsStartAbc", D, Get("/loki/api/v1/labels?start=abc"), 400,
      "could not parse 'start' parameter");
  add("LabelValuesBadQuery", D,
      Get(testing::PathWithQuery("/loki/api/v1/label/job/values", {{"query", R"({job="seed")"}})),
      400, "parse error at line 1, col ");
  add("SeriesBadMatch", D,
      Get(testing::PathWithQuery("/loki/api/v1/series", {{"match[]", R"({job=~"seed)"}})), 400,
      "parse error at line 1, col ");
  add("UnknownRoute", D, Get("/loki/api/v1/does_not_exist"), 404, "404 page not found");
  add("PathTraversalRoute", D, Get("/loki/api/v1/label/..%2F..%2Fetc%2Fpasswd/values%2F..%2Fx"),
      404, "404 page not found");
  return v;
}

// ---- shared servers ---------------------------------------------------------------------

struct SharedStore {
  std::unique_ptr<StoreProcess> store;
  Entries seed;        // the lines pushed before any case ran
  HttpHeaders tenant;  // X-Scope-OrgID for the seed (auth profile)
};

class MalformedInputTest : public ::testing::TestWithParam<CorpusCase> {
 protected:
  static void TearDownTestSuite() { stores().clear(); }

  static std::map<Profile, SharedStore>& stores() {
    static std::map<Profile, SharedStore> m;
    return m;
  }

  // The server for `p`, started and seeded on first use (from the main test thread).
  static SharedStore* StoreFor(Profile p) {
    auto& m = stores();
    auto it = m.find(p);
    if (it != m.end())
      return it->second.store && it->second.store->Running() ? &it->second : nullptr;
    SharedStore& s = m[p];
    auto started = StoreProcess::Start(OptionsFor(p));
    if (!started.ok()) {
      ADD_FAILURE() << started.status().message();
      return nullptr;
    }
    s.store = std::move(started).value();
    if (p == Profile::kAuth) s.tenant = {{"X-Scope-OrgID", kSeedTenant}};
    const int64_t now = NowNs();
    std::vector<api::PushEntry> entries;
    for (int i = 0; i < 3; ++i) {
      entries.push_back(Entry(now - 5 * kMinute + i * kSecond, "seed line " + std::to_string(i)));
      s.seed.emplace_back(now - 5 * kMinute + i * kSecond, "seed line " + std::to_string(i));
    }
    TestHttpClient c(s.store->base_url());
    HttpReply r = PushProto(c, Request({Stream(R"({job="seed"})", entries)}), s.tenant);
    if (r.status != 204) {
      ADD_FAILURE() << "seeding failed: " << r.Describe();
      s.store.reset();
      return nullptr;
    }
    return &s;
  }
};

TEST_P(MalformedInputTest, GetsExpectedStatusAndMessageAndServerStaysHealthy) {
  const CorpusCase& tc = GetParam();
  SharedStore* shared = StoreFor(tc.profile);
  ASSERT_NE(shared, nullptr);
  TestHttpClient c(shared->store->base_url());
  const Env env{NowNs()};

  HttpReply r = tc.send(c, env);
  EXPECT_LT(r.status, 500) << r.Describe();
  ASSERT_EQ(r.status, tc.want_status) << r.Describe();
  if (tc.want_status >= 400) {
    EXPECT_FALSE(r.body.empty());
    EXPECT_LE(r.body.size(), tc.max_body) << r.body.substr(0, 200);
    EXPECT_CONTAINS(r.body, tc.want_substring);
    EXPECT_CONTAINS(r.Header("Content-Type"), "text/plain");
    EXPECT_NOT_CONTAINS(r.body, shared->store->temp_dir());
    EXPECT_NOT_CONTAINS(r.body, ".cc:");
  } else {
    EXPECT_EQ(r.body, "");
  }

  // The server is still ready and the seed data intact (a fresh connection: the case may
  // have left its own closed).
  TestHttpClient after(shared->store->base_url());
  HttpReply ready = after.Get("/ready");
  EXPECT_EQ(ready.status, 200) << ready.Describe() << "\n" << shared->store->LogTail();
  QueryResult q = QueryRange(after, R"({job="seed"})", env.now - kHour, NowNs() + kMinute, 100,
                             "forward", shared->tenant);
  ASSERT_TRUE(q.ok()) << q.Describe();
  EXPECT_EQ(q.streams[R"({job="seed"})"], shared->seed);
  EXPECT_EQ(q.total, shared->seed.size());
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedInputTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<CorpusCase>& info) {
                           return info.param.name;
                         });

// ---- transport limits --------------------------------------------------------------------

// A declared Content-Length above the body limit gets 413 before the body is read.
TEST(TransportLimitsTest, BodyOverMaxRecvMsgSizeWithContentLengthGets413) {
  LOGQ_ASSERT_START(store, StoreOptions{.flags = {"-distributor.max-recv-msg-size=64KiB"}});
  TestHttpClient c(store->base_url());
  HttpReply r = c.Post("/loki/api/v1/push", std::string(100 << 10, 'B'), ProtoHeaders());
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_CONTAINS(r.body, "request body too large");
  EXPECT_EQ(TestHttpClient(store->base_url()).Get("/ready").status, 200);
}

// A 140 KiB LogQL query in the URL reaches the parser (400 "input size too long"); a request
// line over the 1 MiB header limit gets 431 instead of a dropped connection.
TEST(TransportLimitsTest, OverlongQueriesAndUrlsGetClear4xx) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  HttpReply r = c.Get(testing::PathWithQuery(
      "/loki/api/v1/query_range", {{"query", "{a=\"" + std::string(140 << 10, 'q') + "\"}"}}));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "input size too long");
  // libcurl refuses such URLs, so speak HTTP over a raw socket.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(store->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request = "GET /loki/api/v1/labels?query=" + std::string(1100 << 10, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may stop reading once it has answered
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);
  EXPECT_EQ(TestHttpClient(store->base_url()).Get("/ready").status, 200);
}

// Label text quoted in error messages is clipped, so bodies stay ≤ 4 KiB (RELIABILITY E1).
TEST(TransportLimitsTest, ErrorBodyStaysUnder4KiBForAMaximalLabelValue) {
  LOGQ_ASSERT_START(store, StoreOptions{});
  TestHttpClient c(store->base_url());
  std::vector<api::PushStream> streams;
  for (int i = 0; i < 12; ++i) {
    streams.push_back(Stream("{job=\"" + std::string(2049, 'v') + "\", n=\"" + std::to_string(i) + "\"}",
                             {Entry(NowNs() - kMinute, "x")}));
  }
  HttpReply r = PushProto(c, Request(streams));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_CONTAINS(r.body, "has label value too long");
  EXPECT_LE(r.body.size(), 4096u);
}

}  // namespace
}  // namespace logq::e2e
