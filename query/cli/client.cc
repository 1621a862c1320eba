#include "query/cli/client.h"

#include <curl/curl.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace logq::cli {
namespace {

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

const char* Reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

// The server's message on one line: JSON {"error": ...} or {"message": ...} bodies are
// unwrapped, whitespace runs collapsed, long bodies cut.
std::string OneLine(const std::string& body) {
  std::string s = body;
  for (const char* key : {"\"error\":\"", "\"message\":\""}) {
    size_t p = s.find(key);
    if (!s.empty() && s[0] == '{' && p != std::string::npos) {
      size_t b = p + std::strlen(key), e = b;
      while (e < s.size() && !(s[e] == '"' && s[e - 1] != '\\')) ++e;
      s = s.substr(b, e - b);
      break;
    }
  }
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > 1000) out = out.substr(0, 1000) + "...";
  return out;
}

}  // namespace

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::unique_ptr<LokiClient>> LokiClient::Make(const Options& options) {
  std::unique_ptr<LokiClient> c(new LokiClient(options));
  c->bearer_ = options.bearer_token;
  if (!options.bearer_token_file.empty()) {
    std::ifstream in(options.bearer_token_file);
    if (!in) return InvalidArgument("--bearer-token-file: cannot read " + options.bearer_token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    c->bearer_ = ss.str();
    while (!c->bearer_.empty() && std::isspace(static_cast<unsigned char>(c->bearer_.back()))) c->bearer_.pop_back();
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  c->curl_ = curl_easy_init();
  if (c->curl_ == nullptr) return Internal("cannot initialize libcurl");
  return c;
}

LokiClient::~LokiClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string LokiClient::Url(const std::string& path, const Params& params) const {
  std::string url = options_.addr + path;
  for (size_t i = 0; i < params.size(); ++i) {
    url += i == 0 ? '?' : '&';
    url += UrlEncode(params[i].first) + "=" + UrlEncode(params[i].second);
  }
  return url;
}

std::vector<std::pair<std::string, std::string>> LokiClient::AuthHeaders() const {
  std::vector<std::pair<std::string, std::string>> h;
  if (!options_.org_id.empty()) h.emplace_back("X-Scope-OrgID", options_.org_id);
  if (!bearer_.empty()) h.emplace_back("Authorization", "Bearer " + bearer_);
  if (!options_.username.empty() || !options_.password.empty()) {
    // Basic auth, base64 of user:pass.
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = options_.username + ":" + options_.password, out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t v = static_cast<unsigned char>(in[i]) << 16;
      if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
      if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
      out += kB64[(v >> 18) & 63];
      out += kB64[(v >> 12) & 63];
      out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
      out += i + 2 < in.size() ? kB64[v & 63] : '=';
    }
    h.emplace_back("Authorization", "Basic " + out);
  }
  return h;
}

Result<std::string> LokiClient::Get(const std::string& path, const Params& params) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  const std::string url = Url(path, params);
  std::string body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "logq");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  if (options_.timeout_ns > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ns / 1'000'000));
  if (!options_.ca_cert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_cert.c_str());
  if (!options_.cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, options_.cert.c_str());
  if (!options_.key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, options_.key.c_str());
  if (options_.tls_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  struct curl_slist* headers = nullptr;
  for (const auto& [k, v] : AuthHeaders()) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return Unavailable("cannot reach " + options_.addr + ": " + curl_easy_strerror(rc));
  }
  if (status < 200 || status >= 300) {
    std::string msg = OneLine(body);
    std::string reason = Reason(status);
    return Status(StatusCode::kFailedPrecondition,
                  (msg.empty() ? std::string("request failed") : msg) + " (HTTP " + std::to_string(status) +
                      (reason.empty() ? "" : " " + reason) + ")");
  }
  return body;
}

}  // namespace logq::cli
