// Hostile network input against a running logq-store (issue 12): oversized and malformed
// headers, repeated X-Scope-OrgID, compression bombs (alone and concurrent). Every case gets
// a 4xx naming the limit and its key, the process stays up and ready, and its peak RSS stays
// far below what inflating the bombs would cost.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/e2e/e2e_util.h"

namespace logq::e2e {
namespace {

// Sends `request` on a fresh connection and returns everything the server wrote until it
// closed (or 10 s passed).
std::string RawExchange(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[8192];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// Peak resident set of a process, in bytes (VmHWM).
int64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// A valid raw snappy block declaring `n` bytes (n >= 2): one literal byte, then copies of
// 64 bytes at offset 1. About 3 bytes per 64 declared: 1 GiB takes ~48 MiB.
std::string SnappyRunOfA(uint32_t n) {
  std::string s;
  uint32_t v = n;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
  s += '\0';  // literal of length 1
  s += 'a';
  uint32_t left = n - 1;
  s.reserve(s.size() + left / 64 * 3 + 6);
  while (left > 0) {
    uint32_t len = std::min<uint32_t>(left, 64);
    if (len < 4) len = left;  // copies of 1..3 with a 2-byte offset are valid too
    s += static_cast<char>(((len - 1) << 2) | 2);
    s += '\x01';
    s += '\0';
    left -= len;
  }
  return s;
}

class HostileNetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = StoreProcess::Start({.flags = {"-auth-enabled=true"}});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value().release();
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
  }

  void TearDown() override {
    ASSERT_TRUE(store_->Running()) << store_->LogTail();
    TestHttpClient c(store_->base_url());
    EXPECT_EQ(c.Get("/ready").status, 200) << store_->LogTail();
  }

  static StoreProcess* store_;
};

StoreProcess* HostileNetTest::store_ = nullptr;

// Old code: `terminate called ... field value too large`, the store died.
TEST_F(HostileNetTest, HeaderValueOf64KiBDoesNotKillTheStore) {
  TestHttpClient c(store_->base_url());
  for (size_t n : {size_t{65534}, size_t{300000}}) {
    HttpReply r = c.Get("/ready", {{"X-A", std::string(n, 'a')}});
    EXPECT_EQ(r.status, 200) << n << " " << r.Describe();
  }
  std::string r = RawExchange(store_->port(), "GET /ready HTTP/1.1\r\nHost: x\r\nX-A: " +
                                                 std::string(2 << 20, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 431") << r.substr(0, 300);
  EXPECT_NE(r.find("1048576 bytes (server.http_server_max_header_bytes)"), std::string::npos)
      << r.substr(0, 300);
}

// Old code: the connection was closed without an answer.
TEST_F(HostileNetTest, ControlByteInHeaderGets400) {
  std::string r = RawExchange(store_->port(),
                              std::string("GET /ready HTTP/1.1\r\nHost: x\r\nX-A: a\x7f") + "\r\n\r\n");
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 400") << r;
  EXPECT_NE(r.find("malformed HTTP request"), std::string::npos) << r;
}

// Old code: the last header won and the push went to tenant "b".
TEST_F(HostileNetTest, TwoOrgIdHeadersGet400) {
  TestHttpClient c(store_->base_url());
  api::PushRequest req;
  req.streams.push_back({"{job=\"x\"}", {Entry(NowNs(), "hello")}});
  const std::string body = api::EncodePushJson(req);
  HttpReply r = c.Post("/loki/api/v1/push", body,
                       With(JsonHeaders(), {{"X-Scope-OrgID", "a"}, {"X-Scope-OrgID", "b"}}));
  EXPECT_EQ(r.status, 400) << r.Describe();
  EXPECT_NE(r.body.find("more than one X-Scope-OrgID header"), std::string::npos) << r.Describe();
  HttpReply q = c.Get("/loki/api/v1/labels", {{"X-Scope-OrgID", "a"}, {"X-Scope-OrgID", "b"}});
  EXPECT_EQ(q.status, 400) << q.Describe();
  EXPECT_EQ(c.Post("/loki/api/v1/push", body, With(JsonHeaders(), {{"X-Scope-OrgID", "a"}})).status, 204);
}

// Old code: each bomb inflated to 1 GiB (2.1 GB RSS, 9 s); four at once took 7.4 GB and a
// normal push waited 38 s. Now each stops at 100 MiB or at the shared decode budget.
TEST_F(HostileNetTest, CompressionBombsFailFastWithinTheMemoryBudget) {
  std::string member = api::GzipCompress(std::string(16 << 20, '\0'));
  std::string gzip_bomb;
  for (int i = 0; i < 64; ++i) gzip_bomb += member;  // ~1 MiB on the wire, 1 GiB inflated
  const std::string snappy_bomb = SnappyRunOfA(1u << 30);  // ~48 MiB declaring 1 GiB

  TestHttpClient c(store_->base_url());
  HttpReply single = c.Post("/loki/api/v1/push", snappy_bomb,
                            With(ProtoHeaders(), {{"X-Scope-OrgID", "bomb"}}));
  EXPECT_EQ(single.status, 413) << single.Describe();
  EXPECT_NE(single.body.find("(distributor.max_decompressed_size)"), std::string::npos)
      << single.Describe();

  std::atomic<int> bad{0};
  std::vector<std::thread> bombers;
  for (int i = 0; i < 4; ++i) {
    bombers.emplace_back([&] {
      TestHttpClient bc(store_->base_url());
      HttpReply r = bc.Post("/loki/api/v1/push", gzip_bomb,
                            With(ProtoHeaders(), {{"X-Scope-OrgID", "bomb"}, {"Content-Encoding", "gzip"}}));
      const bool named = r.body.find("(distributor.max_decompressed_size)") != std::string::npos ||
                         r.body.find("(distributor.max_decompressed_inflight_bytes)") != std::string::npos;
      if ((r.status != 413 && r.status != 429) || !named) {
        ++bad;
        ADD_FAILURE() << r.Describe();
      }
    });
  }
  // A normal push while the bombs are in flight: it gets through (retrying a 429 like
  // Promtail would) within a few seconds.
  api::PushRequest req;
  req.streams.push_back({"{job=\"normal\"}", {Entry(NowNs(), "still here")}});
  const std::string body = api::GzipCompress(api::SnappyCompress(api::EncodePushProtobuf(req)));
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
    status = c.Post("/loki/api/v1/push", body,
                    With(ProtoHeaders(), {{"X-Scope-OrgID", "normal"}, {"Content-Encoding", "gzip"}}))
                 .status;
    if (status != 429) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 204);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  for (auto& t : bombers) t.join();
  EXPECT_EQ(bad.load(), 0);

  // 256 MiB of decode budget plus the bodies and the store itself; the old code peaked at
  // several GB here.
  const int64_t peak = PeakRss(store_->pid());
  ASSERT_GT(peak, 0);
#if !defined(__SANITIZE_ADDRESS__)
  // Not under ASan: its shadow memory and 256 MiB free quarantine add to the peak (838 MiB
  // measured with storage engine v2), which says nothing about logq's own budget.
  EXPECT_LT(peak, int64_t{800} << 20) << "peak RSS " << (peak >> 20) << " MiB";
#endif
}

}  // namespace
}  // namespace logq::e2e
