// Test helper: a blocking HTTP/1.1 client on libcurl for end-to-end tests.
//
// What the caller passes is what is sent: no `Expect: 100-continue` (an empty `Expect:` is
// always set), and no default Content-Type on POST (curl would add
// application/x-www-form-urlencoded; it is suppressed unless the caller sets one). The
// connection is kept alive between requests of one client.
//
// Thread-safety: one TestHttpClient per thread (it owns one curl easy handle). Transport
// failures (refused, reset, timeout) are not errors: they come back as status 0 with
// `error` set, because tests that kill servers need to observe them.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logq::testing {

struct HeaderNameLess {
  bool operator()(std::string_view a, std::string_view b) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;  // HTTP status; 0 when no response was received (see `error`)
  std::string body;
  std::multimap<std::string, std::string, HeaderNameLess> headers;
  std::string error;  // curl's message when status == 0

  // First value of a header (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // "status=204 body=..." for assertion messages (body cut at 2000 bytes).
  std::string Describe() const;
};

class TestHttpClient {
 public:
  // `base_url` like "http://127.0.0.1:3100"; request paths are appended to it.
  explicit TestHttpClient(std::string base_url,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~TestHttpClient();
  TestHttpClient(const TestHttpClient&) = delete;
  TestHttpClient& operator=(const TestHttpClient&) = delete;

  // Changes the base URL (e.g. after a server restart on another port); drops the
  // kept-alive connection.
  void set_base_url(std::string base_url);
  const std::string& base_url() const { return base_url_; }

  HttpReply Get(const std::string& path_and_query, const HttpHeaders& headers = {});
  HttpReply Post(const std::string& path, std::string_view body, const HttpHeaders& headers = {});
  // Any method; `body` is sent when non-empty or when the method is POST/PUT.
  HttpReply Request(const std::string& method, const std::string& path_and_query,
                    std::string_view body, const HttpHeaders& headers);

 private:
  void* curl_;  // CURL*
  std::string base_url_;
  std::chrono::milliseconds timeout_;
};

// Percent-encodes everything except unreserved characters (RFC 3986).
std::string UrlEncode(std::string_view s);

// Builds "path?k1=v1&k2=v2" with encoded keys and values; repeated keys are allowed.
std::string PathWithQuery(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace logq::testing
