#include "shipper/client/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "query/base/http_server.h"
#include "store/api/push.h"

namespace logq::shipper {
namespace {

constexpr int64_t kMs = 1'000'000;

// A push endpoint that answers from a script, then 204.
struct ScriptedServer {
  std::vector<HttpResponse> script;
  std::atomic<int> requests{0};
  std::atomic<int> decoded_entries{0};
  std::string tenant;
  std::unique_ptr<HttpServer> server;

  void Start() {
    HttpServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.io_threads = 1;
    o.worker_threads = 1;
    auto s = HttpServer::Start(o, [this](HttpRequest& req) {
      int n = requests++;
      tenant = req.Header("X-Scope-OrgID");
      auto body = api::DecodePushRequest(req.body, req.Header("Content-Type"), req.Header("Content-Encoding"));
      if (body.ok()) {
        for (auto& s : body->streams) decoded_entries += static_cast<int>(s.entries.size());
      }
      if (n < static_cast<int>(script.size())) return script[n];
      return HttpResponse::NoContent();
    });
    ASSERT_TRUE(s.ok());
    server = std::move(s).value();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()) + "/loki/api/v1/push"; }
};

std::unique_ptr<Batch> OneEntryBatch() {
  auto b = std::make_unique<Batch>("", 0);
  b->Add("{a=\"b\"}", 1795255200LL * 1'000'000'000, "hello", {}, EntryRef{7, 42, 5, 0});
  return b;
}

bool WaitResults(Client& c, std::vector<BatchResult>* out, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out->size() < n && std::chrono::steady_clock::now() < deadline) {
    c.TakeResults(out);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return out->size() >= n;
}

ClientConfig FastConfig(const std::string& url) {
  ClientConfig c;
  c.url = url;
  c.tenant_id = "team-a";
  c.backoff.min_period_ns = 5 * kMs;
  c.backoff.max_period_ns = 20 * kMs;
  c.timeout_ns = 2000 * kMs;
  return c;
}

TEST(ClientTest, RetriesServerErrorsAndRateLimitsThenAcks) {
  ScriptedServer srv;
  HttpResponse busy = HttpResponse::Text(503, "ingester not ready");
  HttpResponse limited = HttpResponse::Text(429, "Ingestion rate limit exceeded");
  limited.headers.push_back({"Retry-After", "0"});
  srv.script = {busy, limited};
  srv.Start();
  MetricsRegistry m;
  Client c(0, FastConfig(srv.url()), NewCurlHttpSender(FastConfig(srv.url())), *SystemClock::Default(), m, nullptr);
  c.Start();
  c.Enqueue(OneEntryBatch());
  std::vector<BatchResult> results;
  ASSERT_TRUE(WaitResults(c, &results, 1));
  c.Stop(SystemClock::Default()->MonotonicNanos());
  EXPECT_TRUE(results[0].delivered);
  ASSERT_EQ(results[0].refs.size(), 1u);
  EXPECT_EQ(results[0].refs[0].file_id, 7u);
  EXPECT_EQ(results[0].refs[0].end_offset, 42u);
  EXPECT_EQ(srv.requests.load(), 3);
  EXPECT_EQ(srv.decoded_entries.load(), 3);  // the same body each time
  EXPECT_EQ(srv.tenant, "team-a");
  EXPECT_NE(m.Render().find("logq_shipper_retries_total{url=\"" + srv.url() + "\"} 2"), std::string::npos) << m.Render();
  srv.server->Stop();
}

TEST(ClientTest, DropsOtherClientErrorsWithoutRetryAndNamesTheReason) {
  ScriptedServer srv;
  srv.script = {HttpResponse::Text(400, "entry for stream '{a=\"b\"}' has timestamp too old")};
  srv.Start();
  MetricsRegistry m;
  Client c(0, FastConfig(srv.url()), NewCurlHttpSender(FastConfig(srv.url())), *SystemClock::Default(), m, nullptr);
  c.Start();
  c.Enqueue(OneEntryBatch());
  std::vector<BatchResult> results;
  ASSERT_TRUE(WaitResults(c, &results, 1));
  c.Stop(SystemClock::Default()->MonotonicNanos());
  EXPECT_FALSE(results[0].delivered);
  EXPECT_EQ(results[0].reason, "too_old");
  EXPECT_EQ(srv.requests.load(), 1);
  srv.server->Stop();
}

TEST(ClientTest, KeepsRetryingWhileTheStoreIsUnreachableAndAbandonsAtStop) {
  // A port nobody listens on: take one from a server and stop it.
  ScriptedServer srv;
  srv.Start();
  std::string url = srv.url();
  srv.server->Stop();
  MetricsRegistry m;
  Client c(0, FastConfig(url), NewCurlHttpSender(FastConfig(url)), *SystemClock::Default(), m, nullptr);
  c.Start();
  c.Enqueue(OneEntryBatch());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.Render().find("logq_shipper_retries_total{url=\"" + url + "\"} 3") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(c.healthy());
  EXPECT_EQ(c.queued(), 1u);
  c.Stop(SystemClock::Default()->MonotonicNanos());
  std::vector<BatchResult> results;
  c.TakeResults(&results);
  EXPECT_TRUE(results.empty());  // not acknowledged: positions must not move
}

}  // namespace
}  // namespace logq::shipper
