// HttpConnection: a minimal blocking HTTP/1.1 client for one keep-alive connection to a
// server on this machine, for benchmarks. Headers and the caller's body go out in one
// writev (the body is never copied), so the client costs almost nothing next to the server.
// Understands Content-Length and chunked replies; reconnects when the server closed the
// previous connection.
//
// Thread-safety: one connection per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/base/status.h"

namespace logq::bench {

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  // `timeout_ms` bounds each send and each wait for reply bytes.
  HttpConnection(std::string host, uint16_t port, int timeout_ms);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends one request and reads the whole reply. `content_type` "" sends no Content-Type
  // (and no body header when `body` is empty). Unavailable on connection errors (the
  // connection is then closed and the next call reconnects), DeadlineExceeded on timeout.
  Result<HttpReply> Do(std::string_view method, std::string_view target,
                       std::string_view content_type, std::string_view body);

 private:
  Status Connect();
  void Close();
  // Reads until `buf_` holds at least `n` bytes.
  Status Fill(size_t n);
  // Reads a line ending in CRLF from buf_ (consuming it) into `line`.
  Status ReadLine(std::string* line);

  std::string host_;
  uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;  // bytes received and not yet consumed
};

}  // namespace logq::bench
