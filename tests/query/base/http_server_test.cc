// HttpServer against hostile clients, over real sockets on 127.0.0.1: oversized and
// malformed headers, repeated headers, slow handlers with big bodies read slowly. The same
// server serves logq-shipper's /metrics and /ready, so these cover the shipper too.
#include "query/base/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace logq {
namespace {

// A blocking client socket with a receive timeout (so a hung server fails the test, never
// hangs it).
class RawClient {
 public:
  explicit RawClient(uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawClient() { close(fd_); }

  bool connected() const { return connected_; }

  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until EOF, an error or the timeout; `chunk` bytes per read, sleeping `pause`
  // between reads (a slow reader).
  std::string ReadAll(size_t chunk = 1 << 16,
                      std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    std::string out;
    std::vector<char> buf(chunk);
    for (;;) {
      ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      out.append(buf.data(), static_cast<size_t>(n));
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

struct Server {
  explicit Server(HttpServerOptions o = {}, HttpHandler h = nullptr) {
    o.address = "127.0.0.1";
    o.port = 0;
    o.log_error = [this](const std::string& m) {
      std::lock_guard<std::mutex> l(mu);
      errors.push_back(m);
    };
    if (!h) {
      h = [](HttpRequest& r) {
        return HttpResponse::Text(200, "x-a=" + std::to_string(r.Header("X-A").size()) +
                                           " org=" + r.Header("X-Scope-OrgID") +
                                           " repeated=" + std::to_string(r.HeaderRepeated("x-scope-orgid")));
      };
    }
    auto s = HttpServer::Start(o, std::move(h));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(s).value();
  }
  uint16_t port() const { return server->port(); }

  // The server still answers a plain request.
  bool Alive() {
    RawClient c(port());
    if (!c.connected() || !c.Send("GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) return false;
    return StatusOf(c.ReadAll()) == 200;
  }

  std::mutex mu;
  std::vector<std::string> errors;
  std::unique_ptr<HttpServer> server;
};

std::string Get(const std::string& extra_headers) {
  return "GET /ready HTTP/1.1\r\nHost: x\r\n" + extra_headers + "Connection: close\r\n\r\n";
}

// Old code: Beast's fields threw std::length_error ("field value too large") out of the I/O
// thread for a value of 65,534 bytes and the process terminated.
TEST(HttpServerHostile, HeaderValueOver64KiBIsServedWithinTheHeaderLimit) {
  Server s;
  for (size_t n : {size_t{65533}, size_t{65534}, size_t{200000}}) {
    RawClient c(s.port());
    ASSERT_TRUE(c.Send(Get("X-A: " + std::string(n, 'a') + "\r\n")));
    std::string r = c.ReadAll();
    EXPECT_EQ(StatusOf(r), 200) << n;
    EXPECT_EQ(BodyOf(r), "x-a=" + std::to_string(n) + " org= repeated=0") << n;
  }
  // A long header *name* too.
  {
    RawClient c(s.port());
    ASSERT_TRUE(c.Send(Get("X-" + std::string(70000, 'n') + ": v\r\n")));
    EXPECT_EQ(StatusOf(c.ReadAll()), 200);
  }
  EXPECT_TRUE(s.Alive());
}

TEST(HttpServerHostile, HeadersOverTheLimitGet431NamingLimitAndKey) {
  HttpServerOptions o;
  o.max_header_bytes = 100 << 10;
  o.max_header_bytes_key = "server.http_server_max_header_bytes";
  Server s(o);
  RawClient c(s.port());
  ASSERT_TRUE(c.Send(Get("X-A: " + std::string(200 << 10, 'a') + "\r\n")));
  std::string r = c.ReadAll();
  EXPECT_EQ(StatusOf(r), 431) << r.substr(0, 200);
  EXPECT_NE(BodyOf(r).find("102400 bytes (server.http_server_max_header_bytes)"), std::string::npos)
      << BodyOf(r);
  EXPECT_TRUE(s.Alive());
}

// Old code: the parse error closed the connection without an answer.
TEST(HttpServerHostile, ControlByteInHeaderValueGets400) {
  Server s;
  RawClient c(s.port());
  ASSERT_TRUE(c.Send(Get(std::string("X-A: a\x7f") + "b\r\n")));
  std::string r = c.ReadAll();
  EXPECT_EQ(StatusOf(r), 400) << r;
  EXPECT_NE(BodyOf(r).find("malformed HTTP request"), std::string::npos) << r;
  EXPECT_TRUE(s.Alive());
}

TEST(HttpServerHostile, GarbageRequestLineGets400) {
  Server s;
  RawClient c(s.port());
  ASSERT_TRUE(c.Send("GET\x01 / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadAll()), 400);
  EXPECT_TRUE(s.Alive());
}

// Old code: the last value won and nothing told the handler there were two.
TEST(HttpServerHostile, RepeatedHeaderKeepsFirstValueAndIsReported) {
  Server s;
  RawClient c(s.port());
  ASSERT_TRUE(c.Send(Get("X-Scope-OrgID: first\r\nx-scope-orgid: second\r\n")));
  std::string r = c.ReadAll();
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(BodyOf(r), "x-a=0 org=first repeated=1");
  RawClient c2(s.port());
  ASSERT_TRUE(c2.Send(Get("X-Scope-OrgID: only\r\n")));
  EXPECT_EQ(BodyOf(c2.ReadAll()), "x-a=0 org=only repeated=0");
}

TEST(HttpServerHostile, ExceptionInHandlerIs500AndServerStaysUp) {
  Server s({}, [](HttpRequest& r) -> HttpResponse {
    if (r.path == "/throw") throw std::length_error("boom");
    return HttpResponse::Text(200, "ok");
  });
  RawClient c(s.port());
  ASSERT_TRUE(c.Send("GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadAll()), 500);
  EXPECT_TRUE(s.Alive());
}

// A response header value too long for Beast's fields throws inside the connection
// coroutine: the connection is closed and logged, the server keeps running.
TEST(HttpServerHostile, ExceptionWhileWritingClosesOnlyThatConnection) {
  Server s({}, [](HttpRequest& r) -> HttpResponse {
    HttpResponse resp = HttpResponse::Text(200, "ok");
    if (r.path == "/bad") resp.headers.emplace_back("X-Big", std::string(70000, 'b'));
    return resp;
  });
  RawClient c(s.port());
  ASSERT_TRUE(c.Send("GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(c.ReadAll(), "");
  EXPECT_TRUE(s.Alive());
  std::lock_guard<std::mutex> l(s.mu);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].find("field value too large"), std::string::npos) << s.errors[0];
}

// Old code: the read deadline armed before the handler ran was still running when the
// response was written, so a handler slower than read_timeout got its response cut (here:
// nothing at all, or a truncated body).
TEST(HttpServerHostile, SlowHandlerBigBodyReadSlowlyArrivesWhole) {
  HttpServerOptions o;
  o.read_timeout_ms = 200;
  o.write_timeout_ms = 20'000;
  constexpr size_t kBody = 4 << 20;
  Server s(o, [](HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // longer than read_timeout
    return HttpResponse::Text(200, std::string(kBody, 'z'));
  });
  RawClient c(s.port(), /*rcvbuf=*/16 << 10);
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto t0 = std::chrono::steady_clock::now();
  // 64 KiB reads with 5 ms pauses: ~64 reads, well over read_timeout in total.
  std::string r = c.ReadAll(64 << 10, std::chrono::milliseconds(5));
  EXPECT_GT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200 + 400));
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(BodyOf(r).size(), kBody);
}

// The write deadline still applies: a client that never reads is cut after write_timeout.
TEST(HttpServerHostile, ClientThatNeverReadsIsCutAfterWriteTimeout) {
  HttpServerOptions o;
  o.write_timeout_ms = 300;
  Server s(o, [](HttpRequest&) { return HttpResponse::Text(200, std::string(64 << 20, 'z')); });
  RawClient c(s.port(), /*rcvbuf=*/4 << 10);
  ASSERT_TRUE(c.Send("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the deadline passes unread
  std::string r = c.ReadAll();
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_LT(BodyOf(r).size(), size_t{64} << 20);
  EXPECT_TRUE(s.Alive());
}

}  // namespace
}  // namespace logq
