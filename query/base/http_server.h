// HttpServer: a small HTTP/1.1 server on Boost.Beast for logq's servers (the store's Loki
// API, the shipper's /metrics and /ready). Connections are coroutines on an io_context run
// by `io_threads`; every handler runs on a separate worker pool, never on an I/O thread.
//
// Protections: request bodies over `max_body_bytes` get 413 before the body is read; a
// request line plus headers over `max_header_bytes` get 431 (any single field may use the
// whole budget); a malformed request (bad method, target, header name or value, e.g. a
// control byte) gets 400 naming the parse error; idle or slow clients are cut after
// `read_timeout`; a response must be written within `write_timeout`, counted from the moment
// writing starts (a slow handler does not eat into it); `Expect: 100-continue` is answered;
// a handler that throws yields 500 and the server keeps running. No exception escapes a
// connection: one thrown while serving it is logged through `log_error` and the connection
// is closed, the server keeps running.
//
// WebSockets: a handler accepts an upgrade by returning HttpResponse::AcceptWebSocket(fn).
// The server completes the handshake on its I/O thread and calls `fn` with a WebSocket
// handle (send/close, thread-safe, never blocking) and gets back the callbacks for incoming
// messages and for the end of the connection. Every connection runs on its own strand of
// the io_context; no thread is parked per connection. The server pings each WebSocket every
// `websocket_ping_interval_ms` and drops connections that sent nothing (not even a pong)
// for `websocket_idle_timeout_ms`.
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
  // The first value of each header name (as Go's Header.Get). Names sent more than once are
  // also listed in `repeated_headers` (once each, as first received) so that handlers can
  // refuse ambiguous ones.
  std::map<std::string, std::string, CaseInsensitiveLess> headers;
  std::vector<std::string> repeated_headers;
  std::string body;
  std::string remote;  // peer address
  // True for a GET carrying `Connection: upgrade` + `Upgrade: websocket` (RFC 6455).
  bool websocket_upgrade = false;

  // First value of `name`, or "" if absent.
  std::string Param(std::string_view name) const;
  bool HasParam(std::string_view name) const { return params.count(std::string(name)) > 0; }
  std::vector<std::string> Params(std::string_view name) const;
  std::string Header(std::string_view name) const;
  // True if header `name` (case-insensitive) was sent more than once.
  bool HeaderRepeated(std::string_view name) const;
};

// The server side of one accepted WebSocket connection. Shared by the server and the
// handler's session; the handler must drop its references once on_close has run (at the
// latest when HttpServer::Stop returns), and never keep one past the server's lifetime.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Queues one text message for sending; returns at once. False if the connection is
  // closing or closed (the message is discarded). Thread-safe.
  virtual bool SendText(std::string message) = 0;
  // Messages queued and not yet written to the socket: a growing number means a slow
  // client. Thread-safe.
  virtual size_t QueuedMessages() const = 0;
  // Bytes of the messages queued or being written (a message counts until its write
  // completes); 0 once the connection has ended, whose queue is freed then. Thread-safe.
  virtual size_t QueuedBytes() const = 0;
  // Sends a close frame with `code` and `reason` after the messages already queued, then
  // ends the connection (on_close follows). Idempotent; thread-safe.
  virtual void Close(int code, std::string reason) = 0;
  virtual bool IsOpen() const = 0;
};

struct WebSocketCallbacks {
  // A text or binary message from the client; runs on an I/O thread, must not block.
  std::function<void(std::string_view message)> on_message;
  // Called exactly once when the connection ended: the client's close code (1000 normal),
  // our own Close() code, 1006 for a broken connection or timeout, 1001 on server stop.
  // Runs on an I/O thread (or in Stop); must not block.
  std::function<void(int code, const std::string& reason)> on_close;
};

// Called once the upgrade handshake succeeded (on an I/O thread; must not block). If the
// handshake fails the function is destroyed without being called, so it can own resources
// that are released by its destructor.
using WebSocketOpenFn = std::function<WebSocketCallbacks(std::shared_ptr<WebSocket>)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set by AcceptWebSocket: upgrade the connection instead of answering. A request that
  // is not a WebSocket upgrade gets 400 instead.
  WebSocketOpenFn websocket;

  static HttpResponse Json(std::string body, int status = 200);
  static HttpResponse AcceptWebSocket(WebSocketOpenFn on_open);
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
  // Request line + headers; 431 above this. Default 1 MiB (Go's http.DefaultMaxHeaderBytes).
  int64_t max_header_bytes = 1LL << 20;
  // Config keys named in the 413/431 messages ("" names none).
  std::string max_body_bytes_key;
  std::string max_header_bytes_key;
  int64_t read_timeout_ms = 30'000;    // per request read; default 30s
  // Writing one response, from its first byte to its last; default 30s (Loki's
  // server.http_server_write_timeout). The handler's own run time is not counted.
  int64_t write_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 120'000;   // keep-alive idle; default 120s
  int64_t websocket_ping_interval_ms = 1'000;   // server pings (Loki: 1s); default 1s
  int64_t websocket_idle_timeout_ms = 30'000;   // nothing received (pongs count); default 30s
  size_t websocket_max_message_bytes = 1 << 20;  // largest client message; default 1 MiB
  // Where errors that end a connection unexpectedly go (an exception while serving it);
  // default: one line on stderr. Called on an I/O thread; must not block.
  std::function<void(const std::string&)> log_error;
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
