#include "tests/testing/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace logq::testing {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (e.g. after an interim 1xx): start over.
    reply->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    reply->headers.emplace(std::string(name), std::string(value));
  }
  return size * n;
}

bool HasHeader(const HttpHeaders& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() &&
           strncasecmp(h.first.data(), name.data(), name.size()) == 0;
  });
}

}  // namespace

bool HeaderNameLess::operator()(std::string_view a, std::string_view b) const {
  size_t n = std::min(a.size(), b.size());
  int c = strncasecmp(a.data(), b.data(), n);
  if (c != 0) return c < 0;
  return a.size() < b.size();
}

std::string HttpReply::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpReply::Describe() const {
  std::string out = "status=" + std::to_string(status);
  if (!error.empty()) out += " error=\"" + error + "\"";
  out += " body=\"" + body.substr(0, 2000) + (body.size() > 2000 ? "...\"" : "\"");
  return out;
}

TestHttpClient::TestHttpClient(std::string base_url, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), timeout_(timeout) {
  GlobalInit();
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

TestHttpClient::~TestHttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

void TestHttpClient::set_base_url(std::string base_url) {
  base_url_ = std::move(base_url);
  // A fresh handle: no connection to the old server is reused.
  curl_easy_cleanup(static_cast<CURL*>(curl_));
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpReply TestHttpClient::Get(const std::string& path_and_query, const HttpHeaders& headers) {
  return Request("GET", path_and_query, {}, headers);
}

HttpReply TestHttpClient::Post(const std::string& path, std::string_view body,
                               const HttpHeaders& headers) {
  return Request("POST", path, body, headers);
}

HttpReply TestHttpClient::Request(const std::string& method, const std::string& path_and_query,
                                  std::string_view body, const HttpHeaders& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // keeps the connection cache
  HttpReply reply;
  const std::string url = base_url_ + path_and_query;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // loopback only: never an environment proxy
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply);

  const bool with_body = !body.empty() || method == "POST" || method == "PUT";
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (with_body) {
    // Never NULL: curl would then read the body from stdin.
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data() != nullptr ? body.data() : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }

  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");
  if (with_body && !HasHeader(headers, "Content-Type"))
    list = curl_slist_append(list, "Content-Type:");
  for (const auto& [k, v] : headers) {
    // "Name:" removes a header curl would add; "Name;" sends it with an empty value.
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    list = curl_slist_append(list, line.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    reply.status = 0;
    reply.error = curl_easy_strerror(rc);
    return reply;
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  reply.status = static_cast<int>(code);
  return reply;
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PathWithQuery(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = path;
  char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    out += sep;
    out += UrlEncode(k);
    out += '=';
    out += UrlEncode(v);
    sep = '&';
  }
  return out;
}

}  // namespace logq::testing
