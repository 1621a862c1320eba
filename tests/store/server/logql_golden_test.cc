// Runs every testdata/logql/*.test case (format: testdata/logql/README.md) against a real
// store through StoreServer::Handle.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "query/base/clock.h"
#include "query/base/units.h"
#include "store/server/config.h"
#include "store/server/store_server.h"
#include "tests/testing/temp_dir.h"

namespace logq::server {
namespace {

using json = nlohmann::json;

struct GoldenRequest {
  int line = 0;
  std::string path;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;
  int expect_status = 200;
  std::string expect_body;
};

struct GoldenCase {
  std::string name;
  std::string push_body;  // JSON push request
  bool flush = false;
  std::vector<std::pair<std::string, std::string>> config;  // flag name, value
  std::vector<GoldenRequest> requests;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

GoldenCase Load(const std::filesystem::path& file) {
  GoldenCase c;
  c.name = file.stem().string();
  std::ifstream in(file);
  std::string line;
  enum { kNone, kConfig, kStreams, kRequest, kExpect } section = kNone;
  json streams = json::array();
  json* cur_stream = nullptr;
  json pending_meta;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("-- ", 0) == 0) {
      std::string head = Trim(line.substr(3));
      if (head == "config") {
        section = kConfig;
      } else if (head == "streams") {
        section = kStreams;
      } else if (head == "flush") {
        c.flush = true;
        section = kNone;
      } else if (head == "request") {
        section = kRequest;
        c.requests.push_back({});
        c.requests.back().line = lineno;
      } else if (head.rfind("expect", 0) == 0) {
        section = kExpect;
        c.requests.back().expect_status = std::stoi(Trim(head.substr(6)));
      } else {
        ADD_FAILURE() << file << ":" << lineno << ": unknown section " << head;
      }
      continue;
    }
    if (section != kExpect && (Trim(line).empty() || Trim(line)[0] == '#')) continue;
    switch (section) {
      case kConfig: {
        std::string t = Trim(line);
        size_t colon = t.find(':');
        c.config.emplace_back(Trim(t.substr(0, colon)), Trim(t.substr(colon + 1)));
        break;
      }
      case kStreams: {
        std::string t = Trim(line);
        if (t[0] == '{') {
          // Labels text → JSON object via a tiny parse of name="value" pairs.
          json labels = json::object();
          std::string inner = t.substr(1, t.rfind('}') - 1);
          std::stringstream ss(inner);
          std::string kv;
          while (std::getline(ss, kv, ',')) {
            kv = Trim(kv);
            size_t eq = kv.find('=');
            std::string v = Trim(kv.substr(eq + 1));
            labels[Trim(kv.substr(0, eq))] = v.substr(1, v.size() - 2);
          }
          streams.push_back({{"stream", labels}, {"values", json::array()}});
          cur_stream = &streams.back();
        } else if (t.rfind("@meta ", 0) == 0) {
          pending_meta = json::object();
          std::string inner = Trim(t.substr(6));
          inner = inner.substr(1, inner.size() - 2);
          std::stringstream ss(inner);
          std::string kv;
          while (std::getline(ss, kv, ',')) {
            size_t eq = kv.find('=');
            std::string v = Trim(kv.substr(eq + 1));
            pending_meta[Trim(kv.substr(0, eq))] = v.substr(1, v.size() - 2);
          }
        } else {
          size_t sp = line.find(' ');
          std::string ts = line.substr(0, sp);
          std::string text = sp == std::string::npos ? "" : line.substr(sp + 1);
          if (text.rfind("json:", 0) == 0) text = json::parse(text.substr(5)).get<std::string>();
          auto parsed = ParseTimestampParam(ts, 0, "ts");
          EXPECT_TRUE(parsed.ok()) << file << ":" << lineno;
          json v = json::array({std::to_string(*parsed), text});
          if (!pending_meta.is_null()) {
            v.push_back(pending_meta);
            pending_meta = json();
          }
          (*cur_stream)["values"].push_back(v);
        }
        break;
      }
      case kRequest: {
        std::string t = Trim(line);
        size_t colon = t.find(':');
        std::string key = Trim(t.substr(0, colon)), value = Trim(t.substr(colon + 1));
        if (key == "path") c.requests.back().path = value;
        else if (key == "header") {
          size_t hc = value.find(':');
          c.requests.back().headers.emplace_back(Trim(value.substr(0, hc)), Trim(value.substr(hc + 1)));
        } else c.requests.back().params.emplace_back(key, value);
        break;
      }
      case kExpect:
        c.requests.back().expect_body += line + "\n";
        break;
      case kNone: break;
    }
  }
  c.push_body = json{{"streams", streams}}.dump();
  return c;
}

std::vector<std::filesystem::path> Files() {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::directory_iterator(testing::TestDataPath("logql"))) {
    if (e.path().extension() == ".test") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class LogqlGoldenTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(LogqlGoldenTest, MatchesExpectedResponses) {
  GoldenCase c = Load(GetParam());
  testing::TempDir dir;
  StoreConfig cfg;
  cfg.server.http_listen_address = "127.0.0.1";
  cfg.server.http_listen_port = 0;
  cfg.storage.path = dir.path() + "/data";
  cfg.limits_config.reject_old_samples = false;
  cfg.limits_config.max_query_length = 0;
  cfg.limits_config.ingestion_rate_mb = 1000;
  cfg.limits_config.ingestion_burst_size_mb = 1000;
  for (const auto& [name, value] : c.config) {
    Status st = ApplyStoreFlag(&cfg, name, value);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  StoreServer server(cfg, SystemClock::Default());
  ASSERT_TRUE(server.Start().ok());

  HttpRequest push;
  push.method = "POST";
  push.path = "/loki/api/v1/push";
  push.headers["Content-Type"] = "application/json";
  push.body = c.push_body;
  HttpResponse pr = server.Handle(push);
  ASSERT_EQ(pr.status, 204) << pr.body;
  if (c.flush) {
    ASSERT_TRUE(server.CutAllChunks().ok());
  }

  for (const GoldenRequest& r : c.requests) {
    SCOPED_TRACE(GetParam().string() + ":" + std::to_string(r.line));
    HttpRequest req;
    req.method = "GET";
    req.path = r.path;
    for (const auto& [k, v] : r.params) req.params.emplace(k, v);
    for (const auto& [k, v] : r.headers) req.headers[k] = v;
    HttpResponse resp = server.Handle(req);
    ASSERT_EQ(resp.status, r.expect_status) << resp.body;
    std::string want = Trim(r.expect_body);
    if (r.expect_status == 200 && !want.empty() && (want[0] == '{' || want[0] == '[')) {
      json got = json::parse(resp.body, nullptr, false);
      json exp = json::parse(want, nullptr, false);
      ASSERT_FALSE(exp.is_discarded()) << "expected body is not JSON";
      ASSERT_FALSE(got.is_discarded()) << resp.body;
      // `stats` is not compared, and the order of stream objects is free (LOKI-API.md §3.2).
      for (json* j : {&got, &exp}) {
        if (!j->contains("data") || !(*j)["data"].is_object()) continue;
        (*j)["data"].erase("stats");
        json& data = (*j)["data"];
        if (data.value("resultType", "") == "streams" && data["result"].is_array()) {
          std::sort(data["result"].begin(), data["result"].end(),
                    [](const json& a, const json& b) { return a.dump() < b.dump(); });
        }
      }
      EXPECT_EQ(got, exp) << "got:  " << got.dump() << "\nwant: " << exp.dump();
    } else {
      EXPECT_NE(resp.body.find(want), std::string::npos) << "body: " << resp.body << "\nwant substring: " << want;
    }
  }
  server.Stop();
}

INSTANTIATE_TEST_SUITE_P(Files, LogqlGoldenTest, ::testing::ValuesIn(Files()),
                         [](const ::testing::TestParamInfo<std::filesystem::path>& info) {
                           std::string n = info.param.stem().string();
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace logq::server
