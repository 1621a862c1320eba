// HttpServer: a small HTTP/1.1 server on Boost.Beast for logq's servers (the store's Loki
// API, the shipper's /metrics and /ready). Connections are coroutines on an io_context run
// by `io_threads`; every handler runs on a separate worker pool, never on an I/O thread.
//
// Protections: request bodies over `max_body_bytes` get 413 before the body is read; idle
// or slow clients are cut after `read_timeout`; `Expect: 100-continue` is answered; a
// handler that throws yields 500 and the server keeps running.
//
// Thread-safety: Start/Stop from one thread; the handler is called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/base/status.h"

namespace logq {

struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/loki/api/v1/labels?start=1"
  std::string path;    // percent-decoded path without the query string
  // Query parameters, plus the body's parameters for POST application/x-www-form-urlencoded,
  // percent-decoded; repeated keys keep every value in order.
  std::multimap<std::string, std::string> params;
  std::map<std::string, std::string, CaseInsensitiveLess> headers;
  std::string body;
  std::string remote;  // peer address

  // First value of `name`, or "" if absent.
  std::string Param(std::string_view name) const;
  bool HasParam(std::string_view name) const { return params.count(std::string(name)) > 0; }
  std::vector<std::string> Params(std::string_view name) const;
  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(std::string body, int status = 200);
  static HttpResponse Text(int status, std::string body);
  static HttpResponse NoContent();
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "0.0.0.0";    // default 0.0.0.0
  uint16_t port = 3100;                // 0 picks a free port (see HttpServer::port())
  int io_threads = 2;                  // default 2
  int worker_threads = 4;              // handler pool; default 4
  int64_t max_body_bytes = 100LL << 20;  // 413 above this; default 100 MiB
  int64_t read_timeout_ms = 30'000;    // per request read; default 30s
  int64_t idle_timeout_ms = 120'000;   // keep-alive idle; default 120s
};

class HttpServer {
 public:
  // Binds and listens; Unavailable if the address is taken.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpHandler handler);
  virtual ~HttpServer() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections, joins all threads. Idempotent.
  virtual void Stop() = 0;
};

// Percent-decodes; '+' becomes ' ' when `plus_is_space`.
std::string UrlDecode(std::string_view s, bool plus_is_space);
// Parses "a=1&b=2" into `out`.
void ParseUrlEncoded(std::string_view s, std::multimap<std::string, std::string>* out);

}  // namespace logq
