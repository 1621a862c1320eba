// LokiClient: the `logq` CLI's HTTP client (libcurl). GET requests like logcli's, with the
// tenant header, basic or bearer auth and TLS options from the command line.
//
// Errors: a non-2xx answer is HttpError (the server's message and the status, exit code 1);
// a transport failure (refused, DNS, TLS, timeout) is Unavailable (exit code 3).
// Thread-safety: one client per thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "query/base/status.h"
#include "query/cli/flags.h"

namespace logq::cli {

using Params = std::vector<std::pair<std::string, std::string>>;

class LokiClient {
 public:
  // InvalidArgument when --bearer-token-file cannot be read.
  static Result<std::unique_ptr<LokiClient>> Make(const Options& options);
  ~LokiClient();

  // GET <addr><path>?<params>; returns the body of a 2xx answer.
  Result<std::string> Get(const std::string& path, const Params& params);
  // The full URL of a request (printed to stderr unless --quiet, as logcli does).
  std::string Url(const std::string& path, const Params& params) const;
  // Headers the WebSocket tail must send too (tenant, auth).
  std::vector<std::pair<std::string, std::string>> AuthHeaders() const;

 private:
  explicit LokiClient(const Options& options) : options_(options) {}
  Options options_;
  std::string bearer_;
  void* curl_ = nullptr;  // CURL*
};

// Percent-encodes everything but unreserved characters.
std::string UrlEncode(std::string_view s);

}  // namespace logq::cli
