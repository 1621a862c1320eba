#include "query/base/http_server.h"

#include "query/base/asio.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <strings.h>
#include <thread>

namespace logq {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Beast's basic_fields stores a field's name and value lengths in 16 bits and throws
// std::length_error ("field value too large") for a name or value of 65,534 bytes or more.
constexpr size_t kMaxBeastFieldBytes = 65535 - 2;

// The request parser: Beast's, except that header fields too long for basic_fields are kept
// on the side instead of throwing out of the I/O thread. Their size is already bounded by
// header_limit, so a single field may use the whole header budget, as with Go's server.
class RequestParser final : public http::parser<true, http::string_body> {
 public:
  // Fields too long for the message, in the order received, values trimmed like Beast's.
  std::vector<std::pair<std::string, std::string>>& long_fields() { return long_fields_; }

 private:
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    ec = {};
    if (name_string.size() > kMaxBeastFieldBytes || value.size() > kMaxBeastFieldBytes) {
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      long_fields_.emplace_back(std::string(name_string), std::string(value));
      return;
    }
    get().insert(name, name_string, value);
  }

  std::vector<std::pair<std::string, std::string>> long_fields_;
};

// A parse error the client should hear about (400), as opposed to a connection that ended,
// timed out or broke (closed silently).
bool IsMalformedRequest(const boost::system::error_code& ec) {
  if (!ec || ec.category() != http::make_error_code(http::error::end_of_stream).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

void LogToStderr(const std::string& message) {
  std::fprintf(stderr, "http server: %s\n", message.c_str());
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One accepted WebSocket. Its coroutines (reader, writer) run on the connection's strand;
// SendText/Close may be called from any thread and only touch the queue under `mu_`, then
// post a wake-up to the strand.
class WsConn final : public WebSocket, public std::enable_shared_from_this<WsConn> {
 public:
  WsConn(beast::tcp_stream&& stream, const HttpServerOptions& options)
      : ws_(std::move(stream)), wake_(ws_.get_executor()), options_(options) {}

  bool SendText(std::string message) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closing_ || !open_) return false;
      queued_bytes_ += message.size();
      queue_.push_back(std::move(message));
    }
    Wake();
    return true;
  }

  size_t QueuedMessages() const override {
    std::lock_guard<std::mutex> l(mu_);
    return queue_.size();
  }

  size_t QueuedBytes() const override {
    std::lock_guard<std::mutex> l(mu_);
    return queued_bytes_;
  }

  void Close(int code, std::string reason) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closing_) return;
      closing_ = true;
      close_code_ = code;
      close_reason_ = std::move(reason);
    }
    Wake();
  }

  bool IsOpen() const override {
    std::lock_guard<std::mutex> l(mu_);
    return open_ && !closing_;
  }

  // Completes the upgrade and serves the connection until it ends. Runs on the strand.
  asio::awaitable<void> Run(http::request<http::string_body> req, WebSocketOpenFn on_open) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::milliseconds(options_.read_timeout_ms);
    t.idle_timeout = std::chrono::milliseconds(options_.websocket_idle_timeout_ms);
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(options_.websocket_max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "logq"); }));
    boost::system::error_code ec;
    co_await ws_.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    ws_.text(true);
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    callbacks_ = on_open(shared_from_this());
    on_open = nullptr;  // release what the handler's function owned
    auto self = shared_from_this();
    asio::co_spawn(ws_.get_executor(), [self]() { return self->WriteLoop(); }, asio::detached);

    beast::flat_buffer buf;
    int code = 1006;
    std::string reason;
    for (;;) {
      co_await ws_.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == websocket::error::closed) {
          code = ws_.reason().code;
          reason = std::string(ws_.reason().reason.c_str());
          if (code == 0) code = 1005;  // no status received
        } else {
          reason = ec.message();
        }
        break;
      }
      if (callbacks_.on_message) {
        std::string msg = beast::buffers_to_string(buf.data());
        callbacks_.on_message(msg);
      }
      buf.consume(buf.size());
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = false;
      if (closing_ && code == 1006) {
        code = close_code_;
        reason = close_reason_;
      }
      queue_.clear();
      queue_.shrink_to_fit();
      queued_bytes_ = 0;
    }
    Wake();
    Notify(code, reason);
  }

  // Calls on_close once (from the reader, or from HttpServer::Stop).
  void Notify(int code, const std::string& reason) {
    if (notified_.exchange(true)) return;
    auto cb = std::move(callbacks_.on_close);
    callbacks_.on_message = nullptr;
    if (cb) cb(code, reason);
  }

 private:
  void Wake() {
    auto self = shared_from_this();
    asio::post(ws_.get_executor(), [self] { self->wake_.cancel(); });
  }

  asio::awaitable<void> WriteLoop() {
    boost::system::error_code ec;
    for (;;) {
      std::string msg;
      bool have = false, close = false;
      int code = 1000;
      std::string reason;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!open_) break;
        if (!queue_.empty()) {
          msg = std::move(queue_.front());
          queue_.pop_front();
          have = true;
        } else if (closing_) {
          close = true;
          code = close_code_;
          reason = close_reason_;
        }
      }
      if (have) {
        co_await ws_.async_write(asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
        {
          std::lock_guard<std::mutex> l(mu_);
          if (open_) queued_bytes_ -= msg.size();  // else the reader already zeroed the count
        }
        if (ec) break;
        continue;
      }
      if (close) {
        websocket::close_reason cr(static_cast<websocket::close_code>(code), reason);
        co_await ws_.async_close(cr, asio::redirect_error(asio::use_awaitable, ec));
        co_return;  // the reader sees the close completing and notifies
      }
      wake_.expires_after(std::chrono::milliseconds(options_.websocket_ping_interval_ms));
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;  // woken up: more to send or closing
      websocket::ping_data ping;
      co_await ws_.async_ping(ping, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    // A failed write: close the socket so the reader ends and reports the connection.
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer wake_;
  const HttpServerOptions options_;
  WebSocketCallbacks callbacks_;  // used on the strand only
  std::atomic<bool> notified_{false};
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;  // queue_ plus the message being written
  bool open_ = false;
  bool closing_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
};

class BeastServer final : public HttpServer {
 public:
  BeastServer(const HttpServerOptions& o, HttpHandler h)
      : options_(o), handler_(std::move(h)), ioc_(o.io_threads), acceptor_(ioc_), pool_(o.worker_threads) {
    if (!options_.log_error) options_.log_error = LogToStderr;
  }

  ~BeastServer() override { Stop(); }

  Status Listen() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(options_.address, ec);
    if (ec) return InvalidArgument("invalid listen address \"" + options_.address + "\": " + ec.message());
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + options_.address + ":" + std::to_string(options_.port) + ": " +
                         ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, Accept(), asio::detached);
    for (int i = 0; i < options_.io_threads; ++i) threads_.emplace_back([this] { RunIo(); });
    return Status::OK();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(ioc_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    pool_.join();
    // Connections that were still open never see their reader finish: tell their owners.
    std::vector<std::weak_ptr<WsConn>> conns;
    {
      std::lock_guard<std::mutex> l(ws_mu_);
      conns.swap(websockets_);
    }
    for (auto& w : conns) {
      if (auto c = w.lock()) c->Notify(1001, "server shutting down");
    }
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      // Each connection gets its own strand: a WebSocket's reader, writer and timers share it.
      auto strand = asio::make_strand(ioc_);
      auto accepted = co_await acceptor_.async_accept(strand, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped_) co_return;
        continue;
      }
      tcp::socket sock(std::move(accepted));
      auto ex = sock.get_executor();
      asio::co_spawn(ex, Session(std::move(sock)), asio::detached);
    }
  }

  // Runs the io_context on this thread. Last line of defence: an exception escaping a
  // completion handler (none is known; connections catch their own) is logged and the
  // thread keeps serving instead of terminating the process.
  void RunIo() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        options_.log_error(std::string("exception escaped an I/O handler: ") + e.what());
      } catch (...) {
        options_.log_error("unknown exception escaped an I/O handler");
      }
    }
  }

  static HttpResponse Invoke(const HttpHandler& handler, HttpRequest& req) {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      return HttpResponse::Text(500, std::string("error while processing request: ") + e.what());
    } catch (...) {
      return HttpResponse::Text(500, "error while processing request");
    }
  }

  // Writes a final error response and half-closes the connection.
  // `body` must outlive the call (GCC 12 miscompiles temporaries inside co_await
  // expressions, so callers pass a named local).
  asio::awaitable<void> Reject(beast::tcp_stream& stream, http::status status, const std::string& body) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = body;
    res.keep_alive(false);
    res.prepare_payload();
    boost::system::error_code ec;
    stream.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    // Read and discard what the client is still sending (bounded in bytes and time): closing
    // with unread data would reset the connection and the client could lose the answer.
    std::vector<char> sink(64 << 10);
    size_t drained = 0;
    stream.expires_after(std::chrono::milliseconds(std::min<int64_t>(options_.read_timeout_ms, 5'000)));
    while (drained < (size_t{16} << 20)) {
      size_t n = co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      drained += n;
    }
  }

  std::string TooLargeMessage() const {
    std::string m = "request body too large: limit is " + std::to_string(options_.max_body_bytes) + " bytes";
    if (!options_.max_body_bytes_key.empty()) m += " (" + options_.max_body_bytes_key + ")";
    return m;
  }

  std::string HeaderTooLargeMessage() const {
    std::string m = "request header fields too large: the request line and headers exceed the limit of " +
                    std::to_string(options_.max_header_bytes) + " bytes";
    if (!options_.max_header_bytes_key.empty()) m += " (" + options_.max_header_bytes_key + ")";
    return m;
  }

  // One connection. Nothing thrown while serving it leaves this function: the error is
  // logged and the connection closed.
  asio::awaitable<void> Session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    std::string error;
    try {
      co_await Serve(stream);
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (!error.empty()) {
      options_.log_error("connection closed after an error while serving it: " + error);
      boost::system::error_code ignored;
      stream.socket().close(ignored);  // a no-op once a WebSocket took the socket
    }
  }

  asio::awaitable<void> Serve(beast::tcp_stream& stream) {
    beast::flat_buffer buf;
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    bool first = true;
    for (;;) {
      boost::system::error_code ec;
      RequestParser parser;
      parser.body_limit(static_cast<uint64_t>(options_.max_body_bytes));
      parser.header_limit(static_cast<uint32_t>(
          std::clamp<int64_t>(options_.max_header_bytes, 1, std::numeric_limits<uint32_t>::max())));
      stream.expires_after(std::chrono::milliseconds(first ? options_.read_timeout_ms : options_.idle_timeout_ms));
      co_await http::async_read_header(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
      // A declared Content-Length over the limit is detected with the header; a chunked body
      // while it is read. Either way the client gets 413 (and the connection is closed
      // because the rest of its body is not read).
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        const bool body = ec == http::error::body_limit;
        const http::status status =
            body ? http::status::payload_too_large : http::status::request_header_fields_too_large;
        const std::string message = body ? TooLargeMessage() : HeaderTooLargeMessage();
        co_await Reject(stream, status, message);
        break;
      }
      if (IsMalformedRequest(ec)) {
        const std::string message = "malformed HTTP request: " + ec.message();
        co_await Reject(stream, http::status::bad_request, message);
        break;
      }
      if (ec) break;
      first = false;
      stream.expires_after(std::chrono::milliseconds(options_.read_timeout_ms));
      auto& hdr = parser.get();
      if (hdr[http::field::expect] == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_, hdr.version()};
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      if (!parser.is_done()) {
        co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec == http::error::body_limit) {
        const std::string message = TooLargeMessage();
        co_await Reject(stream, http::status::payload_too_large, message);
        break;
      }
      if (IsMalformedRequest(ec)) {
        const std::string message = "malformed HTTP request body: " + ec.message();
        co_await Reject(stream, http::status::bad_request, message);
        break;
      }
      if (ec) break;
      auto long_fields = std::move(parser.long_fields());
      auto msg = parser.release();

      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.remote = remote;
      std::string_view target = req.target;
      size_t q = target.find('?');
      req.path = UrlDecode(target.substr(0, q), false);
      if (q != std::string_view::npos) ParseUrlEncoded(target.substr(q + 1), &req.params);
      auto add_header = [&req](std::string name, std::string value) {
        // No structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
        const auto emplaced = req.headers.try_emplace(std::move(name), std::move(value));
        const std::string& key = emplaced.first->first;
        if (!emplaced.second &&
            std::find_if(req.repeated_headers.begin(), req.repeated_headers.end(),
                         [&key](const std::string& r) { return strcasecmp(r.c_str(), key.c_str()) == 0; }) ==
                req.repeated_headers.end()) {
          req.repeated_headers.push_back(key);
        }
      };
      for (const auto& f : msg) add_header(std::string(f.name_string()), std::string(f.value()));
      for (auto& [name, value] : long_fields) add_header(std::move(name), std::move(value));
      req.body = std::move(msg.body());
      if (req.method == "POST") {
        std::string ct = req.Header("Content-Type");
        if (ct.rfind("application/x-www-form-urlencoded", 0) == 0) ParseUrlEncoded(req.body, &req.params);
      }
      req.websocket_upgrade = websocket::is_upgrade(msg);

      stream.expires_never();  // the handler's time counts against neither deadline
      HttpResponse resp = co_await asio::co_spawn(
          pool_, [this, &req]() -> asio::awaitable<HttpResponse> { co_return Invoke(handler_, req); },
          asio::use_awaitable);
      if (resp.websocket) {
        if (!req.websocket_upgrade) {
          resp = HttpResponse::Text(400, "this endpoint needs a WebSocket connection (Connection: Upgrade, "
                                         "Upgrade: websocket)");
        } else {
          auto conn = std::make_shared<WsConn>(std::move(stream), options_);
          {
            std::lock_guard<std::mutex> l(ws_mu_);
            std::erase_if(websockets_, [](const std::weak_ptr<WsConn>& w) { return w.expired(); });
            websockets_.push_back(conn);
          }
          co_await conn->Run(std::move(msg), std::move(resp.websocket));
          co_return;
        }
      }

      http::response<http::string_body> res{static_cast<http::status>(resp.status), msg.version()};
      if (resp.status != 204) res.set(http::field::content_type, resp.content_type);
      for (auto& [k, v] : resp.headers) res.set(k, v);
      if (resp.status >= 400) res.set("X-Content-Type-Options", "nosniff");
      res.body() = std::move(resp.body);
      res.keep_alive(msg.keep_alive());
      res.prepare_payload();
      stream.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::thread_pool pool_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex ws_mu_;
  std::vector<std::weak_ptr<WsConn>> websockets_;  // for Stop's on_close notifications
};

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  size_t n = std::min(a.size(), b.size());
  int c = strncasecmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  return a.size() < b.size();
}

std::string HttpRequest::Param(std::string_view name) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string() : it->second;
}

std::vector<std::string> HttpRequest::Params(std::string_view name) const {
  std::vector<std::string> out;
  auto [b, e] = params.equal_range(std::string(name));
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

bool HttpRequest::HeaderRepeated(std::string_view name) const {
  for (const auto& r : repeated_headers) {
    if (r.size() == name.size() && strncasecmp(r.data(), name.data(), r.size()) == 0) return true;
  }
  return false;
}

HttpResponse HttpResponse::Json(std::string body, int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=UTF-8";
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::AcceptWebSocket(WebSocketOpenFn on_open) {
  HttpResponse r;
  r.status = 101;
  r.websocket = std::move(on_open);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::NoContent() {
  HttpResponse r;
  r.status = 204;
  return r;
}

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int h = HexVal(s[i + 1]);
      int l = HexVal(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

void ParseUrlEncoded(std::string_view s, std::multimap<std::string, std::string>* out) {
  while (!s.empty()) {
    size_t amp = s.find('&');
    std::string_view pair = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view() : s.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = UrlDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : UrlDecode(pair.substr(eq + 1), true);
    out->emplace(std::move(key), std::move(value));
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, HttpHandler handler) {
  auto s = std::make_unique<BeastServer>(options, std::move(handler));
  RETURN_IF_ERROR(s->Listen());
  return std::unique_ptr<HttpServer>(std::move(s));
}

}  // namespace logq
