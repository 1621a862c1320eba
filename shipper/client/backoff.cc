#include "shipper/client/backoff.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace logq::shipper {

int64_t BackoffDelay(const BackoffConfig& c, int attempt, int64_t retry_after_ns, double rand01) {
  int64_t base = std::max<int64_t>(c.min_period_ns, 1);
  int64_t cap = std::max(c.max_period_ns, base);
  int64_t d = base;
  for (int i = 0; i < attempt && d < cap; ++i) d = d > cap / 2 ? cap : d * 2;
  d = std::min(d, cap);
  rand01 = std::clamp(rand01, 0.0, 1.0);
  int64_t jittered = d / 2 + static_cast<int64_t>(static_cast<double>(d - d / 2) * rand01);
  if (retry_after_ns >= 0) jittered = std::max(jittered, std::min(retry_after_ns, cap));
  return jittered;
}

PushOutcome ClassifyStatus(int s) {
  if (s >= 200 && s < 300) return PushOutcome::kAck;
  if (s == 0 || s == 429 || s >= 500) return PushOutcome::kRetry;
  return PushOutcome::kDrop;
}

std::string DropReason(int status, std::string_view body) {
  if (status == 413) return "too_large";
  if (status == 401 || status == 403) return "unauthorized";
  std::string b(body.substr(0, 4096));
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto has = [&](std::string_view s) { return b.find(s) != std::string::npos; };
  if (has("too old")) return "too_old";
  if (has("too new") || has("too far in the future")) return "too_new";
  if (has("max entry size") || has("line too long") || has("line_too_long")) return "line_too_long";
  if (has("too far behind") || has("out of order")) return "out_of_order";
  if (has("stream limit") || has("streams limit")) return "stream_limit";
  if (has("rate limit")) return "rate_limited";
  if (has("label")) return "invalid_labels";
  return "http_" + std::to_string(status);
}

int64_t ParseRetryAfter(std::string_view v, int64_t now_wall_ns) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  if (v.empty()) return -1;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return -1;
    return std::stoll(std::string(v)) * 1'000'000'000;
  }
  time_t t = curl_getdate(std::string(v).c_str(), nullptr);
  if (t < 0) return -1;
  int64_t d = static_cast<int64_t>(t) * 1'000'000'000 - now_wall_ns;
  return d < 0 ? 0 : d;
}

}  // namespace logq::shipper
