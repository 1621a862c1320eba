// Shared helpers of the logq-store end-to-end tests: push-body builders, a query_range
// client that parses Loki's JSON, /metrics scraping and a bounded poll.
// Header-only and test-only; used from the main test thread or one client per thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/api/push.h"
#include "tests/testing/http_client.h"
#include "tests/testing/store_process.h"

namespace logq::e2e {

using testing::HttpHeaders;
using testing::HttpReply;
using testing::StoreOptions;
using testing::StoreProcess;
using testing::TestHttpClient;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline const HttpHeaders& ProtoHeaders() {
  static const HttpHeaders h = {{"Content-Type", "application/x-protobuf"}};
  return h;
}
inline const HttpHeaders& JsonHeaders() {
  static const HttpHeaders h = {{"Content-Type", "application/json"}};
  return h;
}
inline HttpHeaders With(HttpHeaders h, const HttpHeaders& more) {
  h.insert(h.end(), more.begin(), more.end());
  return h;
}

inline api::PushEntry Entry(int64_t ts, std::string line) {
  api::PushEntry e;
  e.timestamp_ns = ts;
  e.line = std::move(line);
  return e;
}
inline api::PushStream Stream(std::string labels, std::vector<api::PushEntry> entries) {
  api::PushStream s;
  s.labels = std::move(labels);
  s.entries = std::move(entries);
  return s;
}
inline api::PushRequest Request(std::vector<api::PushStream> streams) {
  api::PushRequest r;
  r.streams = std::move(streams);
  return r;
}

// The body Promtail sends: snappy-block-compressed logproto.PushRequest.
inline std::string ProtoBody(const api::PushRequest& r) {
  return api::SnappyCompress(api::EncodePushProtobuf(r));
}

inline HttpReply PushProto(TestHttpClient& c, const api::PushRequest& r,
                           const HttpHeaders& extra = {}) {
  return c.Post("/loki/api/v1/push", ProtoBody(r), With(ProtoHeaders(), extra));
}
inline HttpReply PushJson(TestHttpClient& c, const std::string& body,
                          const HttpHeaders& extra = {}) {
  return c.Post("/loki/api/v1/push", body, With(JsonHeaders(), extra));
}

// Body without trailing whitespace (the server ends JSON bodies with a newline).
inline std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

using Entries = std::vector<std::pair<int64_t, std::string>>;

// A query_range answer: streams keyed by `{a="1", b="2"}` (names sorted, values raw),
// entries in response order.
struct QueryResult {
  HttpReply reply;
  std::string parse_error;  // non-empty when the 200 body was not Loki's streams shape
  std::map<std::string, Entries> streams;
  size_t total = 0;
  bool ok() const { return reply.status == 200 && parse_error.empty(); }
  std::string Describe() const {
    return parse_error.empty() ? reply.Describe() : parse_error + "; " + reply.Describe();
  }
};

inline std::string LabelKey(const nlohmann::json& obj) {
  std::string out = "{";
  bool first = true;
  for (auto it = obj.begin(); it != obj.end(); ++it) {  // nlohmann::json objects iterate sorted
    if (!first) out += ", ";
    first = false;
    out += it.key() + "=\"" +
           (it.value().is_string() ? it.value().get<std::string>() : it.value().dump()) + "\"";
  }
  return out + "}";
}

inline QueryResult QueryRange(TestHttpClient& c, const std::string& query, int64_t start,
                              int64_t end, int limit, const std::string& direction,
                              const HttpHeaders& headers = {}) {
  QueryResult q;
  std::vector<std::pair<std::string, std::string>> params = {{"query", query},
                                                             {"start", std::to_string(start)},
                                                             {"end", std::to_string(end)},
                                                             {"limit", std::to_string(limit)}};
  if (!direction.empty()) params.emplace_back("direction", direction);
  q.reply = c.Get(testing::PathWithQuery("/loki/api/v1/query_range", params), headers);
  if (q.reply.status != 200) return q;
  auto j = nlohmann::json::parse(q.reply.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("status", "") != "success" ||
      !j.contains("data") || !j["data"].is_object() ||
      j["data"].value("resultType", "") != "streams" || !j["data"].contains("result") ||
      !j["data"]["result"].is_array()) {
    q.parse_error = "not a streams query_range body";
    return q;
  }
  for (const auto& s : j["data"]["result"]) {
    if (!s.contains("stream") || !s["stream"].is_object() || !s.contains("values") ||
        !s["values"].is_array()) {
      q.parse_error = "stream without stream/values";
      return q;
    }
    Entries& out = q.streams[LabelKey(s["stream"])];
    for (const auto& v : s["values"]) {
      if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string()) {
        q.parse_error = "value is not [\"<ns>\", \"<line>\"]: " + v.dump();
        return q;
      }
      out.emplace_back(std::stoll(v[0].get<std::string>()), v[1].get<std::string>());
      ++q.total;
    }
  }
  return q;
}

// Every entry of the one stream `selector` matches in [start, end), forward, paging by
// `page` entries (the next page starts at the last timestamp seen; entries at that
// timestamp already returned are skipped). Returns false and sets `error` on failure.
inline bool QueryAll(TestHttpClient& c, const std::string& selector, int64_t start, int64_t end,
                     int page, Entries* out, std::string* error) {
  out->clear();
  std::vector<std::string> boundary;  // lines already returned at timestamp `start`
  for (int pages = 0; pages < 10000; ++pages) {
    QueryResult q = QueryRange(c, selector, start, end, page, "forward");
    if (!q.ok()) {
      *error = "query_range " + selector + ": " + q.Describe();
      return false;
    }
    if (q.streams.size() > 1) {
      *error = "selector " + selector + " matched " + std::to_string(q.streams.size()) + " streams";
      return false;
    }
    if (q.streams.empty()) return true;
    const Entries& got = q.streams.begin()->second;
    int64_t last = start;
    for (const auto& e : got) {
      if (e.first == start &&
          std::find(boundary.begin(), boundary.end(), e.second) != boundary.end())
        continue;
      out->push_back(e);
    }
    if (static_cast<int>(got.size()) < page) return true;
    last = got.back().first;
    if (last == start) {
      *error = "a whole page of " + std::to_string(page) +
               " entries at one timestamp; raise the page size";
      return false;
    }
    boundary.clear();
    for (const auto& e : got) {
      if (e.first == last) boundary.push_back(e.second);
    }
    start = last;
  }
  *error = "too many pages";
  return false;
}

// The value of one exact series line of /metrics (`name{labels}`), or -1 if absent.
inline double MetricValue(const std::string& metrics, const std::string& series) {
  size_t pos = 0;
  while ((pos = metrics.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || metrics[pos - 1] == '\n') {
      size_t eol = metrics.find('\n', pos);
      std::string v = metrics.substr(pos + series.size() + 1, eol == std::string::npos
                                                                  ? std::string::npos
                                                                  : eol - pos - series.size() - 1);
      return std::stod(v);
    }
    pos += series.size();
  }
  return -1;
}

// Polls `done` every few milliseconds until it returns true or `deadline` passes.
inline bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

inline ::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << haystack.substr(0, 3000) << "\"\n  does not contain \"" << needle << "\"";
}
inline ::testing::AssertionResult NotContains(const std::string& haystack,
                                              const std::string& needle) {
  if (haystack.find(needle) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << haystack.substr(0, 3000) << "\"\n  contains \"" << needle << "\"";
}

}  // namespace logq::e2e

#define EXPECT_CONTAINS(haystack, needle) EXPECT_TRUE(::logq::e2e::Contains((haystack), (needle)))
#define EXPECT_NOT_CONTAINS(haystack, needle) \
  EXPECT_TRUE(::logq::e2e::NotContains((haystack), (needle)))

// Starts a store or fails the current test (fatal).
#define LOGQ_ASSERT_START(var, ...)                                    \
  std::unique_ptr<::logq::testing::StoreProcess> var;                  \
  do {                                                                 \
    auto _started = ::logq::testing::StoreProcess::Start(__VA_ARGS__); \
    ASSERT_TRUE(_started.ok()) << _started.status().message();         \
    var = std::move(_started).value();                                 \
  } while (0)
