// WebSocketClient: a small blocking WebSocket client (RFC 6455) on Boost.Beast, for the
// `logq` CLI's live tail. `ws://` and `wss://` URLs (also `http://`/`https://`, mapped to
// the WebSocket schemes); TLS through OpenSSL with an optional CA file, client certificate
// and key, and an opt-out of verification.
//
// The client answers the server's pings, sends its own ping when the server was silent for
// half of `idle_timeout_ms`, and fails a read when nothing arrived for `idle_timeout_ms`.
//
// Errors (Status codes): a declined upgrade keeps the server's HTTP status and body in the
// message ("HTTP 400: <body>") and is InvalidArgument for 4xx, Unauthenticated for 401/403,
// Unavailable for 5xx; connection, DNS, TLS and timeout failures are Unavailable; a close
// frame from the server ends reads with Aborted-like Unavailable("closed by server: <code>
// <reason>") unless the code was 1000 (normal), which is NotFound("closed"). Interrupt()
// makes a blocked Read return Cancelled.
//
// Thread-safety: Connect/Read/Close from one thread; Interrupt from any thread (e.g. a
// signal-watching thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "query/base/status.h"

namespace logq {

struct WebSocketClientOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // extra handshake headers
  std::string ca_file;          // PEM bundle to verify the server; default: system store
  std::string cert_file;        // client certificate (PEM); default none
  std::string key_file;         // client key (PEM); default none
  bool insecure_skip_verify = false;  // do not verify the server certificate; default false
  int64_t connect_timeout_ms = 10'000;  // DNS + TCP + TLS + upgrade; default 10s
  int64_t idle_timeout_ms = 30'000;     // nothing received for this long → error; default 30s
};

class WebSocketClient {
 public:
  // Connects and performs the upgrade. `url` is ws://host[:port]/path?query (or wss://,
  // http://, https://).
  static Result<std::unique_ptr<WebSocketClient>> Connect(const std::string& url,
                                                          const WebSocketClientOptions& options);
  virtual ~WebSocketClient() = default;

  // Blocks until the next text/binary message and returns it. See the header comment for
  // the errors. With `timeout_ms` > 0, DeadlineExceeded when nothing arrived in time (the
  // connection is closed then).
  virtual Result<std::string> Read(int64_t timeout_ms = 0) = 0;
  // Sends a close frame (1000) and waits briefly for the server's answer. Idempotent.
  virtual void Close() = 0;
  // Thread-safe: ends a blocked (or the next) Read with Cancelled and closes normally.
  virtual void Interrupt() = 0;
};

}  // namespace logq
