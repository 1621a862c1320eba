#include "query/base/websocket_client.h"

#include "query/base/asio.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <optional>

namespace logq {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct ParsedUrl {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string target;
};

Result<ParsedUrl> ParseWsUrl(const std::string& url) {
  ParsedUrl u;
  std::string rest;
  auto strip = [&](std::string_view scheme) {
    if (url.rfind(scheme, 0) == 0) {
      rest = url.substr(scheme.size());
      return true;
    }
    return false;
  };
  if (strip("ws://") || strip("http://")) {
    u.tls = false;
  } else if (strip("wss://") || strip("https://")) {
    u.tls = true;
  } else {
    return InvalidArgument("unsupported URL \"" + url + "\": expected ws://, wss://, http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);  // credentials go in headers
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return InvalidArgument("invalid host in URL \"" + url + "\"");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return InvalidArgument("missing host in URL \"" + url + "\"");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

Status StatusForHttp(int status, const std::string& body) {
  std::string b = body;
  while (!b.empty() && (b.back() == '\n' || b.back() == '\r' || b.back() == ' ')) b.pop_back();
  std::string msg = "HTTP " + std::to_string(status) + (b.empty() ? "" : ": " + b);
  if (status == 401 || status == 403) return Status(StatusCode::kUnauthenticated, msg);
  if (status >= 400 && status < 500 && status != 429) return InvalidArgument(msg);
  return Unavailable(msg);
}

template <class Stream>
class BeastWsClient final : public WebSocketClient {
 public:
  template <class... Args>
  BeastWsClient(const WebSocketClientOptions& o, Args&&... args) : options_(o), ws_(std::forward<Args>(args)...) {}

  ~BeastWsClient() override { Close(); }

  // Runs the io_context until `task` finished; returns its status.
  Status RunTask(asio::awaitable<Status> task, int64_t timeout_ms = 0) {
    std::optional<Status> result;
    asio::co_spawn(ioc(), std::move(task), [&](std::exception_ptr e, Status s) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          result = Internal(ex.what());
        }
      } else {
        result = std::move(s);
      }
    });
    ioc().restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool timed_out = false;
    while (!result) {
      if (timeout_ms > 0 && !timed_out) {
        if (ioc().run_one_until(deadline) == 0 && !result && std::chrono::steady_clock::now() >= deadline) {
          timed_out = true;
          boost::system::error_code ignored;
          beast::get_lowest_layer(ws_).socket().close(ignored);
        } else if (ioc().stopped()) {
          break;
        }
        continue;
      }
      if (ioc().run_one() == 0) break;
    }
    if (timed_out) return DeadlineExceeded("no message within " + std::to_string(timeout_ms) + "ms");
    if (!result) return Internal("websocket event loop stopped");
    return *result;
  }

  asio::io_context& ioc() { return static_cast<asio::io_context&>(ws_.get_executor().context()); }

  asio::awaitable<Status> DoConnect(ParsedUrl u) {
    boost::system::error_code ec;
    tcp::resolver resolver(ws_.get_executor());
    auto& lowest = beast::get_lowest_layer(ws_);
    lowest.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    auto results = co_await resolver.async_resolve(u.host, u.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Unavailable("cannot resolve " + u.host + ": " + ec.message());
    co_await lowest.async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Unavailable("cannot connect to " + u.host + ":" + u.port + ": " + ec.message());
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      if (!SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), u.host.c_str())) {
        co_return Unavailable("TLS: cannot set SNI host name");
      }
      ws_.next_layer().set_verify_callback(ssl::host_name_verification(u.host));
      co_await ws_.next_layer().async_handshake(ssl::stream_base::client,
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Unavailable("TLS handshake with " + u.host + " failed: " + ec.message());
    }
    lowest.expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::milliseconds(options_.connect_timeout_ms);
    t.idle_timeout = std::chrono::milliseconds(options_.idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(64u << 20);
    auto headers = options_.headers;
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      req.set(http::field::user_agent, "logq");
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    std::string host = u.host;
    if ((u.tls && u.port != "443") || (!u.tls && u.port != "80")) host += ":" + u.port;
    websocket::response_type res;
    co_await ws_.async_handshake(res, host, u.target, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (res.result_int() != 0 && res.result_int() != 101) co_return StatusForHttp(res.result_int(), res.body());
      co_return Unavailable("websocket handshake failed: " + ec.message());
    }
    co_return Status::OK();
  }

  Result<std::string> Read(int64_t timeout_ms) override {
    if (closed_) return Status(StatusCode::kNotFound, "closed");
    std::string out;
    Status st = RunTask(DoRead(&out), timeout_ms);
    if (!st.ok()) {
      closed_ = true;
      return st;
    }
    return out;
  }

  asio::awaitable<Status> DoRead(std::string* out) {
    boost::system::error_code ec;
    beast::flat_buffer buf;
    co_await ws_.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
    if (interrupted_) co_return Status(StatusCode::kCancelled, "interrupted");
    if (ec == websocket::error::closed) {
      const auto& r = ws_.reason();
      if (r.code == websocket::close_code::normal || r.code == 0) co_return Status(StatusCode::kNotFound, "closed");
      std::string reason(r.reason.c_str());
      co_return Unavailable("connection closed by the server (code " + std::to_string(r.code) + ")" +
                            (reason.empty() ? "" : ": " + reason));
    }
    if (ec) co_return Unavailable("connection lost: " + ec.message());
    *out = beast::buffers_to_string(buf.data());
    co_return Status::OK();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    (void)RunTask(DoClose());
  }

  asio::awaitable<Status> DoClose() {
    boost::system::error_code ec;
    if (ws_.is_open()) {
      co_await ws_.async_close(websocket::close_code::normal, asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return Status::OK();
  }

  void Interrupt() override {
    asio::post(ioc(), [this] {
      if (interrupted_.exchange(true)) return;
      if (ws_.is_open()) {
        ws_.async_close(websocket::close_code::normal, [](boost::system::error_code) {});
      }
    });
  }

 private:
  WebSocketClientOptions options_;
  websocket::stream<Stream> ws_;
  std::atomic<bool> interrupted_{false};
  bool closed_ = false;
};

// Owns the io_context (and TLS context) the client's stream lives on; destroyed after it.
template <class Stream>
class OwningClient final : public WebSocketClient {
 public:
  Result<std::string> Read(int64_t timeout_ms) override { return client_->Read(timeout_ms); }
  void Close() override { client_->Close(); }
  void Interrupt() override { client_->Interrupt(); }

  std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>(1);
  std::unique_ptr<ssl::context> tls_;
  std::unique_ptr<BeastWsClient<Stream>> client_;
};

}  // namespace

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(const std::string& url,
                                                                 const WebSocketClientOptions& options) {
  ASSIGN_OR_RETURN(ParsedUrl u, ParseWsUrl(url));
  if (!u.tls) {
    auto c = std::make_unique<OwningClient<beast::tcp_stream>>();
    c->client_ = std::make_unique<BeastWsClient<beast::tcp_stream>>(options, *c->ioc_);
    RETURN_IF_ERROR(c->client_->RunTask(c->client_->DoConnect(u)));
    return std::unique_ptr<WebSocketClient>(std::move(c));
  }
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  auto c = std::make_unique<OwningClient<TlsStream>>();
  c->tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  c->tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (options.insecure_skip_verify) {
    c->tls_->set_verify_mode(ssl::verify_none);
  } else {
    c->tls_->set_verify_mode(ssl::verify_peer);
    if (!options.ca_file.empty()) {
      c->tls_->load_verify_file(options.ca_file, ec);
      if (ec) return InvalidArgument("--ca-cert " + options.ca_file + ": " + ec.message());
    } else {
      c->tls_->set_default_verify_paths(ec);
    }
  }
  if (!options.cert_file.empty()) {
    c->tls_->use_certificate_chain_file(options.cert_file, ec);
    if (ec) return InvalidArgument("--cert " + options.cert_file + ": " + ec.message());
  }
  if (!options.key_file.empty()) {
    c->tls_->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) return InvalidArgument("--key " + options.key_file + ": " + ec.message());
  }
  c->client_ = std::make_unique<BeastWsClient<TlsStream>>(options, *c->ioc_, *c->tls_);
  RETURN_IF_ERROR(c->client_->RunTask(c->client_->DoConnect(u)));
  return std::unique_ptr<WebSocketClient>(std::move(c));
}

}  // namespace logq
