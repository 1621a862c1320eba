// FakeApiServer: a fake Kubernetes API server on 127.0.0.1 for tests of the shipper's pod
// metadata (unit tests of shipper/kube and the logq-shipper end-to-end tests). It serves the
// pod LIST from a settable body and answers each WATCH with the next scripted reply; a watch
// reply streams its lines as HTTP chunks and then either ends or stays open for lines pushed
// with Live() until EndLive(). One thread per connection; every method is thread-safe.
// Header-only, test-only.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace logq::testing {

class FakeApiServer {
 public:
  struct Reply {
    int code = 200;
    std::vector<std::string> lines;  // watch: event lines; otherwise the body is lines[0]
    bool hold_open = false;          // watch: keep streaming Live() lines
  };

  FakeApiServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeApiServer() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    accept_thread_.join();
    for (auto& t : conn_threads_) t.join();
    ::close(fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void SetList(Reply r) {
    std::lock_guard<std::mutex> lk(mu_);
    list_ = std::move(r);
  }
  void PushWatch(Reply r) {
    std::lock_guard<std::mutex> lk(mu_);
    watches_.push_back(std::move(r));
  }
  void Live(std::string line) {
    std::lock_guard<std::mutex> lk(mu_);
    live_.push_back(std::move(line));
    cv_.notify_all();
  }
  void EndLive() {
    std::lock_guard<std::mutex> lk(mu_);
    end_live_ = true;
    cv_.notify_all();
  }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }
  std::string LastAuthorization() {
    std::lock_guard<std::mutex> lk(mu_);
    return last_auth_;
  }
  int LiveWatchers() {
    std::lock_guard<std::mutex> lk(mu_);
    return live_watchers_;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_) return;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lk(mu_);
      conn_threads_.emplace_back([this, c] { Serve(c); });
    }
  }

  static bool WriteAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  static std::string Chunk(const std::string& data) {
    std::ostringstream o;
    o << std::hex << data.size() << "\r\n" << data << "\r\n";
    return o.str();
  }
  static std::string StatusLine(int code) {
    return "HTTP/1.1 " + std::to_string(code) + (code == 200 ? " OK" : " Error") + "\r\n";
  }

  void Serve(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    std::string target;
    {
      size_t sp1 = req.find(' ');
      size_t sp2 = req.find(' ', sp1 + 1);
      if (sp1 != std::string::npos && sp2 != std::string::npos) target = req.substr(sp1 + 1, sp2 - sp1 - 1);
    }
    std::string auth;
    if (size_t a = req.find("Authorization: "); a != std::string::npos) {
      auth = req.substr(a + 15, req.find("\r\n", a) - a - 15);
    }
    bool watch = target.find("watch=1") != std::string::npos;
    Reply reply;
    bool have = true;
    {
      std::lock_guard<std::mutex> lk(mu_);
      requests_.push_back(target);
      last_auth_ = auth;
      if (watch) {
        if (watches_.empty()) {
          have = false;
        } else {
          reply = watches_.front();
          watches_.pop_front();
        }
      } else {
        reply = list_;
      }
    }
    if (!watch || !have || reply.code != 200) {
      if (!have) {
        // No script: hold the watch open silently until the server stops.
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [this] { return stop_; });
        ::close(c);
        return;
      }
      std::string body = reply.lines.empty() ? "" : reply.lines[0];
      WriteAll(c, StatusLine(reply.code) + "Content-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      ::close(c);
      return;
    }
    WriteAll(c, StatusLine(200) +
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for (const auto& l : reply.lines) WriteAll(c, Chunk(l + "\n"));
    if (reply.hold_open) {
      std::unique_lock<std::mutex> lk(mu_);
      ++live_watchers_;
      end_live_ = false;
      for (;;) {
        cv_.wait(lk, [this] { return stop_ || end_live_ || !live_.empty(); });
        while (!live_.empty()) {
          std::string l = live_.front();
          live_.pop_front();
          lk.unlock();
          WriteAll(c, Chunk(l + "\n"));
          lk.lock();
        }
        if (stop_ || end_live_) break;
      }
      --live_watchers_;
    }
    WriteAll(c, "0\r\n\r\n");
    ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::thread> conn_threads_;
  Reply list_;
  std::deque<Reply> watches_;
  std::deque<std::string> live_;
  bool end_live_ = false;
  int live_watchers_ = 0;
  std::vector<std::string> requests_;
  std::string last_auth_;
};

}  // namespace logq::testing
