#include "tests/bench/log_generator.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <iterator>
#include <string_view>

namespace logq::bench {
namespace {

// splitmix64: tiny, fast, good enough for synthetic data, identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo + 1)));
  }
  // Uniform in [0, 1).
  double Real() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Real() < p; }
  // Index in [0, n) biased towards 0 (popular items first): floor(n * u^2).
  size_t Skewed(size_t n) {
    double u = Real();
    return std::min(n - 1, static_cast<size_t>(static_cast<double>(n) * u * u));
  }
  template <typename T, size_t N>
  const T& Pick(const T (&a)[N]) {
    return a[Uniform(N)];
  }
  template <typename T, size_t N>
  const T& PickSkewed(const T (&a)[N]) {
    return a[Skewed(N)];
  }

 private:
  uint64_t s_;
};

using Out = std::back_insert_iterator<std::string>;

void AppendHex(std::string* out, Rng& rng, int chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (chars > 0) {
    uint64_t v = rng.Next();
    for (int i = 0; i < 16 && chars > 0; ++i, --chars, v >>= 4) out->push_back(kHex[v & 15]);
  }
}

void AppendAlnum(std::string* out, Rng& rng, int chars) {
  static constexpr char kChars[] = "bcdfghjklmnpqrstvwxz2456789";  // Kubernetes' pod-name alphabet
  for (int i = 0; i < chars; ++i) out->push_back(kChars[rng.Uniform(sizeof(kChars) - 1)]);
}

void AppendUuid(std::string* out, Rng& rng) {
  AppendHex(out, rng, 8);
  out->push_back('-');
  AppendHex(out, rng, 4);
  out->append("-4");
  AppendHex(out, rng, 3);
  out->push_back('-');
  out->push_back("89ab"[rng.Uniform(4)]);
  AppendHex(out, rng, 3);
  out->push_back('-');
  AppendHex(out, rng, 12);
}

enum class TimeStyle {
  kIso,    // 2026-11-21T23:53:24.123Z
  kNginx,  // 21/Nov/2026:23:53:24 +0000
  kSpace,  // 2026-11-21 23:53:24.123
  kComma,  // 2026-11-21 23:53:24,123
  kRedis,  // 21 Nov 2026 23:53:24.123
  kSlash,  // 2026/11/21 23:53:24
};

void AppendTime(std::string* out, int64_t ts_ns, TimeStyle style) {
  static constexpr const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t secs = static_cast<time_t>(ts_ns / 1'000'000'000);
  int ms = static_cast<int>((ts_ns / 1'000'000) % 1000);
  struct tm t;
  gmtime_r(&secs, &t);
  Out o(*out);
  switch (style) {
    case TimeStyle::kIso:
      fmt::format_to(o, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
      break;
    case TimeStyle::kNginx:
      fmt::format_to(o, "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", t.tm_mday, kMon[t.tm_mon],
                     t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
      break;
    case TimeStyle::kSpace:
    case TimeStyle::kComma:
      fmt::format_to(o, "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}{:03}", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                     style == TimeStyle::kComma ? ',' : '.', ms);
      break;
    case TimeStyle::kRedis:
      fmt::format_to(o, "{:02} {} {:04} {:02}:{:02}:{:02}.{:03}", t.tm_mday, kMon[t.tm_mon],
                     t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec, ms);
      break;
    case TimeStyle::kSlash:
      fmt::format_to(o, "{:04}/{:02}/{:02} {:02}:{:02}:{:02}", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
      break;
  }
}

// ---- vocabularies ---------------------------------------------------------------------

constexpr const char* kBrowserAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 "
    "Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "kube-probe/1.28",
    "Prometheus/2.48.0",
};

constexpr const char* kInternalAgents[] = {
    "Go-http-client/1.1", "okhttp/4.12.0",  "python-requests/2.31.0",
    "axios/1.6.2",        "grpc-go/1.59.0", "Apache-HttpClient/5.2.1 (Java/17.0.9)"};

constexpr const char* kSearchWords[] = {
    "shoes",
    "running+shoes",
    "jacket",
    "wireless+headphones",
    "coffee",
    "laptop+stand",
    "desk+lamp",
    "yoga+mat",
    "backpack",
    "water+bottle",
    "sunglasses",
    "usb-c+cable",
    "keyboard",
    "monitor",
    "tent",
    "socks",
    "espresso+machine",
    "gift+card",
    "winter+coat",
    "phone+case",
    "charger",
    "notebook",
};

constexpr const char* kSkus[] = {"SKU", "PRD", "ITM"};

struct HttpStatus {
  int code;
  double p;
};
constexpr HttpStatus kStatuses[] = {{200, 0.84},  {201, 0.03},  {204, 0.02},  {304, 0.03},
                                    {301, 0.01},  {400, 0.02},  {401, 0.01},  {404, 0.025},
                                    {499, 0.002}, {500, 0.004}, {502, 0.002}, {503, 0.002}};

int PickStatus(Rng& rng) {
  double u = rng.Real(), acc = 0;
  for (const auto& s : kStatuses) {
    acc += s.p;
    if (u < acc) return s.code;
  }
  return 200;
}

const char* PickMethod(Rng& rng) {
  double u = rng.Real();
  if (u < 0.80) return "GET";
  if (u < 0.95) return "POST";
  if (u < 0.98) return "PUT";
  return "DELETE";
}

// Appends a plausible request path.
void AppendPath(std::string* out, Rng& rng) {
  Out o(*out);
  switch (rng.Skewed(14)) {
    case 0:
      fmt::format_to(o, "/api/v1/products/{}", rng.Between(1000, 99999));
      break;
    case 1:
      fmt::format_to(o, "/api/v1/products?category={}&page={}", rng.Between(1, 400),
                     rng.Between(1, 20));
      break;
    case 2:
      out->append("/healthz");
      break;
    case 3:
      fmt::format_to(o, "/api/v1/cart/{}/items", rng.Between(100000, 9999999));
      break;
    case 4:
      fmt::format_to(o, "/api/v1/search?q={}&limit=24", rng.PickSkewed(kSearchWords));
      break;
    case 5:
      out->append("/static/js/main.");
      AppendHex(out, rng, 8);
      out->append(".js");
      break;
    case 6:
      fmt::format_to(o, "/images/products/{}/{}.webp", rng.Between(1000, 99999), rng.Between(1, 8));
      break;
    case 7:
      fmt::format_to(o, "/api/v1/orders/{}", rng.Between(10000000, 99999999));
      break;
    case 8:
      out->append("/api/v1/orders");
      break;
    case 9:
      fmt::format_to(o, "/api/v1/users/{}/profile", rng.Between(100000, 9999999));
      break;
    case 10:
      out->append("/metrics");
      break;
    case 11:
      out->append("/api/v1/auth/token");
      break;
    case 12:
      fmt::format_to(o, "/api/v1/payments/{}/capture", rng.Between(10000000, 99999999));
      break;
    default:
      out->append("/static/css/app.");
      AppendHex(out, rng, 8);
      out->append(".css");
      break;
  }
}

void AppendDuration(std::string* out, Rng& rng, bool with_unit) {
  // Log-normal-ish request latency in ms: mostly 1-50 ms, a tail to seconds.
  double u = rng.Real();
  double ms = 0.4 + 3 * u + (rng.Chance(0.3) ? 40 * rng.Real() : 0) +
              (rng.Chance(0.02) ? 2000 * rng.Real() : 0);
  if (with_unit) {
    fmt::format_to(Out(*out), "{:.3f}ms", ms);
  } else {
    fmt::format_to(Out(*out), "{:.1f}", ms);
  }
}

// ---- stream catalog --------------------------------------------------------------------

enum class Profile {
  kIngressNginx,  // ingress-nginx controller access log (+ error log lines)
  kWebNginx,      // nginx serving static assets, combined format
  kCoreDns,       // CoreDNS query log
  kPino,          // Node.js pino JSON
  kStructlog,     // Python structlog JSON
  kGoLogfmt,      // Go service, logfmt
  kPrometheus,    // Prometheus server, logfmt
  kSpring,        // Spring Boot text + stack traces
  kKafka,         // Kafka broker log4j
  kPostgres,      // Postgres server log
  kRedis,         // Redis server log
  kEnvoy,         // Istio sidecar access log
  kPythonPlain,   // Python logging text
};

struct AppTemplate {
  const char* ns;
  const char* app;
  const char* container;
  Profile profile;
  int replicas;
  bool sidecar;   // adds an istio-proxy container per pod
  bool stateful;  // pod names app-0, app-1, ...
  double weight;  // relative lines per pod
};

constexpr AppTemplate kApps[] = {
    {"ingress-nginx", "ingress-nginx", "controller", Profile::kIngressNginx, 3, false, false, 2.5},
    {"kube-system", "coredns", "coredns", Profile::kCoreDns, 2, false, false, 4.0},
    {"shop", "frontend", "frontend", Profile::kPino, 4, true, false, 3.5},
    {"shop", "checkout", "checkout", Profile::kGoLogfmt, 3, true, false, 3.0},
    {"shop", "cart", "cart", Profile::kGoLogfmt, 3, true, false, 3.0},
    {"shop", "catalog", "catalog", Profile::kSpring, 3, true, false, 4.0},
    {"shop", "web", "nginx", Profile::kWebNginx, 2, false, false, 1.5},
    {"payments", "payments-api", "api", Profile::kGoLogfmt, 3, true, false, 2.5},
    {"payments", "fraud-detector", "worker", Profile::kStructlog, 2, false, false, 3.0},
    {"payments", "ledger", "ledger", Profile::kSpring, 2, true, false, 3.0},
    {"identity", "auth", "auth", Profile::kGoLogfmt, 3, true, false, 3.0},
    {"identity", "user-profile", "app", Profile::kPino, 2, true, false, 2.5},
    {"search", "search-api", "api", Profile::kSpring, 3, false, false, 4.0},
    {"search", "indexer", "indexer", Profile::kGoLogfmt, 2, false, false, 2.5},
    {"data", "postgres", "postgres", Profile::kPostgres, 2, false, true, 2.0},
    {"data", "redis", "redis", Profile::kRedis, 3, false, true, 0.5},
    {"data", "kafka", "kafka", Profile::kKafka, 3, false, true, 1.5},
    {"observability", "prometheus", "prometheus", Profile::kPrometheus, 2, false, true, 0.7},
    {"messaging", "notifications", "worker", Profile::kStructlog, 2, false, false, 2.5},
    {"batch", "report-generator", "job", Profile::kPythonPlain, 2, false, false, 2.0},
};
constexpr int kMaxBaseReplicas = 4;
constexpr double kSidecarWeight = 0.15;  // istio-proxy lines relative to its app container

struct StreamState {
  Profile profile;
  const AppTemplate* app;
  std::string pod;
  std::string pod_ip;
  std::string service;  // e.g. catalog.shop.svc.cluster.local
  std::vector<std::string> client_ips;
  std::deque<std::string> pending;  // continuation lines (stack traces), emitted next
  int64_t counter = 0;              // per-stream monotonic counter (offsets, request numbers)
  int pid = 1;
};

std::string RandomIp(Rng& rng, bool internal) {
  if (internal) return fmt::format("10.244.{}.{}", rng.Between(0, 15), rng.Between(2, 254));
  return fmt::format("{}.{}.{}.{}", rng.Between(23, 213), rng.Between(0, 255), rng.Between(0, 255),
                     rng.Between(1, 254));
}

// ---- line formatters -------------------------------------------------------------------

const std::string& PickClient(Rng& rng, const StreamState& s) {
  return s.client_ips[rng.Skewed(s.client_ips.size())];
}

LineKind IngressNginx(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  if (rng.Chance(0.01)) {
    AppendTime(out, ts, TimeStyle::kSlash);
    fmt::format_to(o,
                   " [error] {}#{}: *{} upstream timed out (110: Connection timed out) while "
                   "reading response header "
                   "from upstream, client: {}, server: shop.example.com, request: \"GET ",
                   rng.Between(20, 40), rng.Between(20, 40), ++s.counter, PickClient(rng, s));
    size_t p = out->size();
    AppendPath(out, rng);
    std::string path = out->substr(p);
    fmt::format_to(
        o, " HTTP/1.1\", upstream: \"http://10.244.{}.{}:8080{}\", host: \"shop.example.com\"",
        rng.Between(0, 15), rng.Between(2, 254), path);
    return LineKind::kPlain;
  }
  const int status = PickStatus(rng);
  const char* method = PickMethod(rng);
  fmt::format_to(o, "{} - - [", PickClient(rng, s));
  AppendTime(out, ts, TimeStyle::kNginx);
  fmt::format_to(o, "] \"{} ", method);
  AppendPath(out, rng);
  const int64_t bytes = status == 204 || status == 304 ? 0 : rng.Between(120, 60000);
  fmt::format_to(o, " HTTP/{}\" {} {} \"", rng.Chance(0.7) ? "2.0" : "1.1", status, bytes);
  if (rng.Chance(0.4)) {
    out->append("https://shop.example.com/");
    if (rng.Chance(0.5)) AppendPath(out, rng);
  } else {
    out->push_back('-');
  }
  const char* upstream =
      rng.Chance(0.6) ? "shop-frontend-80"
                      : (rng.Chance(0.5) ? "shop-catalog-8080" : "payments-payments-api-8080");
  fmt::format_to(o, "\" \"{}\" {} {:.3f} [{}] [] 10.244.{}.{}:8080 {} {:.3f} {} ",
                 rng.PickSkewed(kBrowserAgents), rng.Between(200, 900),
                 0.001 + 0.2 * rng.Real() * rng.Real(), upstream, rng.Between(0, 15),
                 rng.Between(2, 254), bytes, 0.001 + 0.2 * rng.Real() * rng.Real(), status);
  AppendHex(out, rng, 32);
  return LineKind::kNginx;
}

LineKind WebNginx(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  fmt::format_to(o, "{} - - [", PickClient(rng, s));
  AppendTime(out, ts, TimeStyle::kNginx);
  out->append("] \"GET ");
  switch (rng.Skewed(5)) {
    case 0:
      out->append("/static/js/main.");
      AppendHex(out, rng, 8);
      out->append(".js");
      break;
    case 1:
      fmt::format_to(o, "/images/products/{}/{}.webp", rng.Between(1000, 99999), rng.Between(1, 8));
      break;
    case 2:
      out->append("/static/css/app.");
      AppendHex(out, rng, 8);
      out->append(".css");
      break;
    case 3:
      out->append("/");
      break;
    default:
      out->append("/favicon.ico");
      break;
  }
  const int status = rng.Chance(0.9) ? 200 : (rng.Chance(0.7) ? 304 : 404);
  fmt::format_to(o, " HTTP/1.1\" {} {} \"https://shop.example.com/\" \"{}\" \"{}\"", status,
                 status == 200 ? rng.Between(400, 250000) : 0, rng.PickSkewed(kBrowserAgents),
                 RandomIp(rng, false));
  return LineKind::kNginx;
}

LineKind CoreDns(Rng& rng, StreamState& s, int64_t, std::string* out) {
  static constexpr const char* kNames[] = {"catalog.shop.svc.cluster.local.",
                                           "postgres.data.svc.cluster.local.",
                                           "redis.data.svc.cluster.local.",
                                           "kafka.data.svc.cluster.local.",
                                           "auth.identity.svc.cluster.local.",
                                           "cart.shop.svc.cluster.local.",
                                           "api.stripe.com.",
                                           "payments-api.payments.svc.cluster.local.",
                                           "checkout.shop.svc.cluster.local.",
                                           "sts.amazonaws.com.",
                                           "search-api.search.svc.cluster.local."};
  const char* name = rng.PickSkewed(kNames);
  bool nx = rng.Chance(0.25);
  fmt::format_to(Out(*out), "[INFO] {}:{} - {} \"{} IN {} udp {} false 512\" {} qr,{}rd {} {:.9f}s",
                 PickClient(rng, s), rng.Between(32768, 60999), rng.Between(1, 65535),
                 rng.Chance(0.5) ? "A" : "AAAA", name, rng.Between(40, 90),
                 nx ? "NXDOMAIN" : "NOERROR", nx ? "" : "aa,", rng.Between(80, 200),
                 0.00005 + 0.002 * rng.Real() * rng.Real());
  return LineKind::kPlain;
}

LineKind Pino(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  const int64_t ms = ts / 1'000'000;
  double u = rng.Real();
  if (u < 0.03) {
    fmt::format_to(o,
                   "(node:{}) Warning: Possible EventEmitter memory leak detected. {} close "
                   "listeners added to "
                   "[TLSSocket]. Use emitter.setMaxListeners() to increase limit",
                   s.pid, rng.Between(11, 30));
    return LineKind::kPlain;
  }
  if (u < 0.75) {
    const int status = PickStatus(rng);
    fmt::format_to(o,
                   "{{\"level\":{},\"time\":{},\"pid\":{},\"hostname\":\"{}\",\"reqId\":\"req-{}\","
                   "\"req\":{{\"method\":\"{}\",\"url\":\"",
                   status >= 500 ? 50 : 30, ms, s.pid, s.pod, ++s.counter, PickMethod(rng));
    AppendPath(out, rng);
    fmt::format_to(
        o, "\"}},\"res\":{{\"statusCode\":{}}},\"responseTime\":{},\"msg\":\"request completed\"}}",
        status, rng.Between(1, 80));
    return LineKind::kJson;
  }
  if (u < 0.90) {
    fmt::format_to(o,
                   "{{\"level\":30,\"time\":{},\"pid\":{},\"hostname\":\"{}\",\"module\":\"cache\","
                   "\"key\":\"session:",
                   ms, s.pid, s.pod);
    AppendHex(out, rng, 16);
    fmt::format_to(o, "\",\"hit\":{},\"msg\":\"session lookup\"}}",
                   rng.Chance(0.8) ? "true" : "false");
    return LineKind::kJson;
  }
  fmt::format_to(o,
                 "{{\"level\":40,\"time\":{},\"pid\":{},\"hostname\":\"{}\",\"upstream\":\"catalog."
                 "shop.svc.cluster.local:8080\","
                 "\"attempt\":{},\"err\":{{\"type\":\"FetchError\",\"message\":\"request to "
                 "http://catalog.shop.svc.cluster.local:8080/api/v1/products/{} failed, reason: "
                 "socket hang up\"}},\"msg\":\"retrying upstream request\"}}",
                 ms, s.pid, s.pod, rng.Between(1, 3), rng.Between(1000, 99999));
  return LineKind::kJson;
}

LineKind Structlog(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  double u = rng.Real();
  const bool fraud = std::string_view(s.app->app) == "fraud-detector";
  out->append("{\"event\": ");
  if (u < 0.7) {
    out->append(fraud ? "\"transaction scored\"" : "\"notification sent\"");
  } else if (u < 0.95) {
    out->append("\"message received\"");
  } else {
    out->append("\"retrying after error\"");
  }
  fmt::format_to(o, ", \"level\": \"{}\", \"timestamp\": \"", u < 0.95 ? "info" : "warning");
  AppendTime(out, ts, TimeStyle::kIso);
  out->push_back('"');
  if (fraud) {
    fmt::format_to(o,
                   ", \"transaction_id\": \"tx_{}\", \"amount\": {}.{:02}, \"currency\": \"{}\", "
                   "\"score\": {:.4f}, "
                   "\"model\": \"gbt-v{}\", \"elapsed_ms\": {:.2f}}}",
                   rng.Between(10000000, 99999999), rng.Between(1, 2000), rng.Between(0, 99),
                   rng.Chance(0.7) ? "EUR" : "USD", rng.Real() * rng.Real(), 12,
                   1 + 30 * rng.Real());
  } else {
    static constexpr const char* kChannels[] = {"email", "push", "sms"};
    out->append(", \"message_id\": \"");
    AppendUuid(out, rng);
    fmt::format_to(
        o,
        "\", \"channel\": \"{}\", \"template\": \"order_{}\", \"user_id\": {}, \"attempt\": {}, "
        "\"elapsed_ms\": {:.2f}}}",
        rng.PickSkewed(kChannels), rng.Chance(0.5) ? "shipped" : "confirmation",
        rng.Between(100000, 9999999), u < 0.95 ? 1 : rng.Between(2, 5),
        1 + 200 * rng.Real() * rng.Real());
  }
  return LineKind::kJson;
}

LineKind GoLogfmt(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  out->append("ts=");
  AppendTime(out, ts, TimeStyle::kIso);
  double u = rng.Real();
  if (u < 0.62) {
    const int status = PickStatus(rng);
    fmt::format_to(o,
                   " level={} caller=http/server.go:{} msg=\"request completed\" method={} path=",
                   status >= 500 ? "error" : "info", rng.Chance(0.9) ? 142 : 97, PickMethod(rng));
    AppendPath(out, rng);
    fmt::format_to(o, " status={} duration=", status);
    AppendDuration(out, rng, true);
    fmt::format_to(o, " bytes={}", rng.Between(0, 20000));
    if (rng.Chance(0.5)) {
      out->append(" trace_id=");
      AppendHex(out, rng, 32);
    }
    return LineKind::kLogfmt;
  }
  if (u < 0.75) {
    fmt::format_to(o, " level=debug caller=store/cache.go:58 msg=\"cache lookup\" key={}:{} hit={}",
                   s.app->app, rng.Between(100000, 9999999), rng.Chance(0.85) ? "true" : "false");
    return LineKind::kLogfmt;
  }
  if (u < 0.87) {
    fmt::format_to(
        o, " level=info caller=store/postgres.go:211 msg=\"query done\" table={} rows={} duration=",
        rng.Chance(0.5) ? "orders" : "line_items", rng.Between(0, 200));
    AppendDuration(out, rng, true);
    return LineKind::kLogfmt;
  }
  if (u < 0.95) {
    fmt::format_to(o,
                   " level=info caller=events/producer.go:77 msg=\"published event\" topic={}.{} "
                   "partition={} offset={}",
                   s.app->app, rng.Chance(0.5) ? "created" : "updated", rng.Between(0, 11),
                   4'000'000 + ++s.counter);
    return LineKind::kLogfmt;
  }
  if (u < 0.985) {
    fmt::format_to(o,
                   " level=warn caller=client/retry.go:43 msg=\"upstream slow, retrying\" "
                   "upstream={} attempt={} "
                   "backoff={}ms",
                   rng.Chance(0.5) ? "postgres.data.svc:5432" : "redis.data.svc:6379",
                   rng.Between(1, 3), rng.Between(50, 800));
    return LineKind::kLogfmt;
  }
  fmt::format_to(o,
                 " level=error caller=http/server.go:160 msg=\"request failed\" err=\"rpc error: "
                 "code = Unavailable "
                 "desc = connection error: desc = \\\"transport: Error while dialing: dial tcp "
                 "10.96.{}.{}:{}: "
                 "connect: connection refused\\\"\" trace_id=",
                 rng.Between(0, 255), rng.Between(1, 254), rng.Chance(0.5) ? 5432 : 8080);
  AppendHex(out, rng, 32);
  return LineKind::kLogfmt;
}

LineKind Prometheus(Rng& rng, StreamState&, int64_t ts, std::string* out) {
  Out o(*out);
  out->append("ts=");
  AppendTime(out, ts, TimeStyle::kIso);
  double u = rng.Real();
  if (u < 0.5) {
    fmt::format_to(o,
                   " caller=compact.go:519 level=info component=tsdb msg=\"write block\" mint={} "
                   "maxt={} ulid=01H",
                   ts / 1'000'000 - 7'200'000, ts / 1'000'000);
    AppendAlnum(out, rng, 23);
    fmt::format_to(o, " duration={}ms", rng.Between(200, 4000));
  } else if (u < 0.8) {
    fmt::format_to(o,
                   " caller=head.go:1312 level=info component=tsdb msg=\"Head GC completed\" "
                   "caller=truncateMemory "
                   "duration={}ms",
                   rng.Between(10, 900));
  } else {
    fmt::format_to(
        o,
        " caller=scrape.go:1351 level=warn component=\"scrape manager\" "
        "scrape_pool=kubernetes-pods "
        "target=http://10.244.{}.{}:9090/metrics msg=\"Append failed\" err=\"out of bounds\"",
        rng.Between(0, 15), rng.Between(2, 254));
  }
  return LineKind::kLogfmt;
}

void QueueStackTrace(Rng& rng, StreamState& s) {
  static constexpr const char* kExceptions[] = {
      "org.springframework.dao.DataAccessResourceFailureException: Unable to acquire JDBC "
      "Connection",
      "java.lang.IllegalStateException: Inventory reservation failed",
      "java.util.concurrent.TimeoutException: Did not observe any item or terminal signal within "
      "5000ms",
      "java.lang.NullPointerException: Cannot invoke \"com.example.model.Price.getAmount()\" "
      "because \"price\" is null",
  };
  static constexpr const char* kFramework[] = {
      "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1011)",
      "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1081)",
      "org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:974)",
      "org.springframework.web.servlet.FrameworkServlet.doGet(FrameworkServlet.java:903)",
      "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:564)",
      "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
      "org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain."
      "java:205)",
      "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:149)",
      "org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)",
      "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
      "org.apache.catalina.core.StandardContextValve.invoke(StandardContextValve.java:90)",
      "org.apache.catalina.connector.CoyoteAdapter.service(CoyoteAdapter.java:340)",
      "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:391)",
      "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1744)",
      "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
      "java.base/java.lang.Thread.run(Thread.java:833)",
  };
  static constexpr const char* kAppClasses[] = {
      "service.ProductService", "service.InventoryClient", "web.ProductController",
      "repository.PriceRepository", "service.PricingService"};
  static constexpr const char* kMethods[] = {"findById", "reserve", "getProduct", "loadPrices",
                                             "handle"};
  s.pending.push_back(rng.Pick(kExceptions));
  const int app_frames = static_cast<int>(rng.Between(2, 5));
  for (int i = 0; i < app_frames; ++i) {
    const char* cls = rng.Pick(kAppClasses);
    const char* simple = std::strrchr(cls, '.') + 1;
    s.pending.push_back(fmt::format("\tat com.example.{}.{}.{}({}.java:{})", s.app->ns, cls,
                                    rng.Pick(kMethods), simple, rng.Between(40, 400)));
  }
  const size_t start = rng.Uniform(4);
  const size_t n = static_cast<size_t>(rng.Between(6, 14));
  for (size_t i = start; i < std::size(kFramework) && i < start + n; ++i) {
    s.pending.push_back(std::string("\tat ") + kFramework[i]);
  }
  if (rng.Chance(0.4)) {
    s.pending.push_back("Caused by: java.net.SocketTimeoutException: Read timed out");
    s.pending.push_back(
        "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)");
    s.pending.push_back("\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:314)");
    s.pending.push_back(fmt::format("\t... {} common frames omitted", rng.Between(20, 60)));
  }
}

LineKind Spring(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  AppendTime(out, ts, TimeStyle::kSpace);
  double u = rng.Real();
  const char* level = u < 0.93 ? " INFO" : (u < 0.975 ? " WARN" : "ERROR");
  std::string thread = rng.Chance(0.9) ? fmt::format("nio-8080-exec-{}", rng.Between(1, 200))
                                       : fmt::format("scheduling-{}", rng.Between(1, 2));
  fmt::format_to(o, " {} {} --- [{:>15}] ", level, s.pid, thread);
  if (u < 0.6) {
    fmt::format_to(o, "{:<40} : Loaded {} products for category {} in {} ms",
                   fmt::format("c.e.{}.service.ProductService", s.app->ns), rng.Between(0, 48),
                   rng.Between(1, 400), rng.Between(1, 120));
  } else if (u < 0.8) {
    fmt::format_to(o, "{:<40} : Cache {} for key product:{}",
                   fmt::format("c.e.{}.cache.ProductCache", s.app->ns),
                   rng.Chance(0.8) ? "hit" : "miss", rng.Between(1000, 99999));
  } else if (u < 0.93) {
    fmt::format_to(
        o, "{:<40} : Price update applied: sku={}-{} old={}.{:02} new={}.{:02} source=feed-{}",
        fmt::format("c.e.{}.service.PricingService", s.app->ns), rng.Pick(kSkus),
        rng.Between(100000, 999999), rng.Between(1, 500), rng.Between(0, 99), rng.Between(1, 500),
        rng.Between(0, 99), rng.Between(1, 9));
  } else if (u < 0.975) {
    fmt::format_to(
        o,
        "{:<40} : HikariPool-1 - Connection is not available, request timed out after {}ms "
        "(total={}, active={}, idle=0, waiting={})",
        "com.zaxxer.hikari.pool.HikariPool", rng.Between(2000, 30000), 10, 10, rng.Between(1, 40));
  } else {
    fmt::format_to(
        o,
        "{:<40} : Servlet.service() for servlet [dispatcherServlet] in context with path [] threw "
        "exception [Request processing failed]",
        "o.a.c.c.C.[.[.[/].[dispatcherServlet]");
    QueueStackTrace(rng, s);
  }
  return LineKind::kPlain;
}

LineKind Kafka(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  out->push_back('[');
  AppendTime(out, ts, TimeStyle::kComma);
  static constexpr const char* kTopics[] = {"orders", "payments", "notifications", "cart-events",
                                            "search-index"};
  double u = rng.Real();
  if (u < 0.5) {
    fmt::format_to(o,
                   "] INFO [LocalLog partition={}-{}, dir=/var/lib/kafka/data] Rolled new log "
                   "segment at offset {} "
                   "in {} ms. (kafka.log.LocalLog)",
                   rng.Pick(kTopics), rng.Between(0, 11),
                   4'000'000 + (s.counter += rng.Between(100, 5000)), rng.Between(0, 9));
  } else if (u < 0.8) {
    fmt::format_to(o,
                   "] INFO [ProducerStateManager partition={}-{}] Wrote producer snapshot at "
                   "offset {} with {} "
                   "producer ids in {} ms. (kafka.log.ProducerStateManager)",
                   rng.Pick(kTopics), rng.Between(0, 11),
                   4'000'000 + (s.counter += rng.Between(100, 5000)), rng.Between(0, 3),
                   rng.Between(0, 9));
  } else {
    fmt::format_to(o, "] INFO [GroupCoordinator {}]: Member consumer-{}-{}-", rng.Between(0, 2),
                   rng.Pick(kTopics), rng.Between(1, 3));
    AppendUuid(out, rng);
    fmt::format_to(o,
                   " in group {} has failed, removing it from the group "
                   "(kafka.coordinator.group.GroupCoordinator)",
                   rng.Pick(kTopics));
  }
  return LineKind::kPlain;
}

LineKind Postgres(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  AppendTime(out, ts, TimeStyle::kSpace);
  const int pid = static_cast<int>(rng.Between(100, 9999));
  double u = rng.Real();
  if (u < 0.6) {
    fmt::format_to(
        o,
        " UTC [{}] LOG:  duration: {:.3f} ms  statement: SELECT o.id, o.status, o.total_cents, "
        "o.created_at FROM orders o WHERE o.customer_id = {} ORDER BY o.created_at DESC LIMIT {}",
        pid, 1 + 500 * rng.Real() * rng.Real(), rng.Between(100000, 9999999),
        rng.Chance(0.5) ? 20 : 50);
  } else if (u < 0.85) {
    fmt::format_to(
        o, " UTC [{}] LOG:  connection authorized: user={} database=shop application_name={}", pid,
        rng.Chance(0.5) ? "checkout" : "catalog",
        rng.Chance(0.5) ? "checkout" : "PostgreSQL JDBC Driver");
  } else if (u < 0.95) {
    fmt::format_to(
        o,
        " UTC [{}] LOG:  checkpoint complete: wrote {} buffers ({:.1f}%); 0 WAL file(s) added, 0 "
        "removed, {} recycled; write={:.3f} s, sync={:.3f} s, total={:.3f} s",
        pid, rng.Between(100, 9000), 10 * rng.Real(), rng.Between(0, 5), 30 * rng.Real(),
        rng.Real(), 30 * rng.Real());
  } else {
    const int64_t id = rng.Between(10000000, 99999999);
    fmt::format_to(
        o, " UTC [{}] ERROR:  duplicate key value violates unique constraint \"orders_pkey\"", pid);
    s.pending.push_back("");
    AppendTime(&s.pending.back(), ts, TimeStyle::kSpace);
    fmt::format_to(Out(s.pending.back()), " UTC [{}] DETAIL:  Key (id)=({}) already exists.", pid,
                   id);
  }
  return LineKind::kPlain;
}

LineKind Redis(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  double u = rng.Real();
  fmt::format_to(o, "{}:{} ", u < 0.5 ? 1 : s.pid, u < 0.5 ? 'M' : 'C');
  AppendTime(out, ts, TimeStyle::kRedis);
  if (u < 0.25) {
    fmt::format_to(o, " * {} changes in 60 seconds. Saving...", rng.Between(10000, 90000));
  } else if (u < 0.5) {
    fmt::format_to(o, " * Background saving started by pid {}",
                   s.pid = static_cast<int>(rng.Between(100, 30000)));
  } else if (u < 0.75) {
    out->append(" * DB saved on disk");
  } else {
    fmt::format_to(o, " * Fork CoW for RDB: current {} MB, peak {} MB, average {} MB",
                   rng.Between(1, 20), rng.Between(1, 20), rng.Between(1, 20));
  }
  return LineKind::kPlain;
}

LineKind Envoy(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  Out o(*out);
  out->push_back('[');
  AppendTime(out, ts, TimeStyle::kIso);
  const int status = PickStatus(rng);
  fmt::format_to(o, "] \"{} ", PickMethod(rng));
  AppendPath(out, rng);
  fmt::format_to(o, " HTTP/1.1\" {} - via_upstream - \"-\" {} {} {} {} \"-\" \"{}\" \"", status,
                 rng.Between(0, 900), rng.Between(0, 20000), rng.Between(1, 90), rng.Between(1, 90),
                 rng.PickSkewed(kInternalAgents));
  AppendUuid(out, rng);
  fmt::format_to(o,
                 "\" \"{}:8080\" \"{}:8080\" inbound|8080|| 127.0.0.6:{} {}:8080 {}:{} "
                 "outbound_.8080_._.{} default",
                 s.service, s.pod_ip, rng.Between(32768, 60999), s.pod_ip, PickClient(rng, s),
                 rng.Between(32768, 60999), s.service);
  return LineKind::kNginx;
}

LineKind PythonPlain(Rng& rng, StreamState&, int64_t ts, std::string* out) {
  Out o(*out);
  AppendTime(out, ts, TimeStyle::kComma);
  double u = rng.Real();
  static constexpr const char* kTenants[] = {"acme-corp", "globex", "initech",
                                             "umbrella",  "hooli",  "stark-ind"};
  if (u < 0.7) {
    fmt::format_to(o, " INFO [report.builder] Rendering page {}/{} of report {} for tenant {}",
                   rng.Between(1, 48), 48, rng.Between(1000, 9999), rng.Pick(kTenants));
  } else if (u < 0.95) {
    fmt::format_to(o, " INFO [report.query] Fetched {} rows from warehouse in {:.2f}s",
                   rng.Between(0, 100000), 10 * rng.Real() * rng.Real());
  } else {
    fmt::format_to(
        o, " WARNING [report.storage] Upload of s3://reports-prod/{}/{}.pdf took {:.1f}s, retrying",
        rng.Pick(kTenants), rng.Between(1000, 9999), 5 + 20 * rng.Real());
  }
  return LineKind::kPlain;
}

LineKind Format(Rng& rng, StreamState& s, int64_t ts, std::string* out) {
  switch (s.profile) {
    case Profile::kIngressNginx:
      return IngressNginx(rng, s, ts, out);
    case Profile::kWebNginx:
      return WebNginx(rng, s, ts, out);
    case Profile::kCoreDns:
      return CoreDns(rng, s, ts, out);
    case Profile::kPino:
      return Pino(rng, s, ts, out);
    case Profile::kStructlog:
      return Structlog(rng, s, ts, out);
    case Profile::kGoLogfmt:
      return GoLogfmt(rng, s, ts, out);
    case Profile::kPrometheus:
      return Prometheus(rng, s, ts, out);
    case Profile::kSpring:
      return Spring(rng, s, ts, out);
    case Profile::kKafka:
      return Kafka(rng, s, ts, out);
    case Profile::kPostgres:
      return Postgres(rng, s, ts, out);
    case Profile::kRedis:
      return Redis(rng, s, ts, out);
    case Profile::kEnvoy:
      return Envoy(rng, s, ts, out);
    case Profile::kPythonPlain:
      return PythonPlain(rng, s, ts, out);
  }
  return LineKind::kPlain;
}

std::string LabelText(std::string_view app, std::string_view container, std::string_view ns,
                      std::string_view pod) {
  return fmt::format("{{app=\"{}\", container=\"{}\", namespace=\"{}\", pod=\"{}\"}}", app,
                     container, ns, pod);
}

}  // namespace

const char* LineKindName(LineKind kind) {
  switch (kind) {
    case LineKind::kJson:
      return "json";
    case LineKind::kLogfmt:
      return "logfmt";
    case LineKind::kNginx:
      return "nginx";
    case LineKind::kPlain:
      return "plain";
  }
  return "?";
}

struct LogGenerator::Impl {
  GeneratorOptions options;
  Rng rng;
  std::vector<StreamInfo> infos;
  std::vector<StreamState> states;
  std::vector<double> cumulative;  // cumulative weights, last == 1
  int64_t produced = 0;
  int64_t start_ns = 0;
  int64_t step_ns = 0;

  explicit Impl(const GeneratorOptions& o) : options(o), rng(o.seed) {
    std::vector<std::string> rs_hash(std::size(kApps));
    for (auto& h : rs_hash) AppendAlnum(&h, rng, 10);
    std::vector<int> pod_index(std::size(kApps), 0);
    // Round k adds pod k of every app that has one (all apps once k >= kMaxBaseReplicas),
    // its app container and then its sidecar, until `streams` streams exist.
    for (int k = 0; static_cast<int>(infos.size()) < o.streams; ++k) {
      for (size_t a = 0; a < std::size(kApps) && static_cast<int>(infos.size()) < o.streams; ++a) {
        const AppTemplate& t = kApps[a];
        if (k >= t.replicas && k < kMaxBaseReplicas) continue;
        std::string pod = t.stateful ? fmt::format("{}-{}", t.app, pod_index[a])
                                     : std::string(t.app) + "-" + rs_hash[a] + "-";
        if (!t.stateful) AppendAlnum(&pod, rng, 5);
        ++pod_index[a];
        const double jitter = 0.5 + rng.Real();
        AddStream(t, t.container, t.profile, pod, t.weight * jitter);
        if (t.sidecar && static_cast<int>(infos.size()) < o.streams) {
          AddStream(t, "istio-proxy", Profile::kEnvoy, pod, t.weight * jitter * kSidecarWeight);
        }
      }
    }
    double total = 0;
    for (const auto& i : infos) total += i.weight;
    double acc = 0;
    for (auto& i : infos) {
      i.weight /= total;
      acc += i.weight;
      cumulative.push_back(acc);
    }
    cumulative.back() = 1.0;
    start_ns = o.end_ns - o.span_ns;
    step_ns = o.lines > 0 ? o.span_ns / o.lines : 0;
  }

  void AddStream(const AppTemplate& t, const char* container, Profile profile,
                 const std::string& pod, double weight) {
    StreamInfo info;
    info.labels = LabelText(t.app, container, t.ns, pod);
    info.app = t.app;
    info.weight = weight;
    infos.push_back(std::move(info));
    StreamState st;
    st.profile = profile;
    st.app = &t;
    st.pod = pod;
    st.pod_ip = RandomIp(rng, true);
    st.service = fmt::format("{}.{}.svc.cluster.local", t.app, t.ns);
    const bool external = profile == Profile::kIngressNginx || profile == Profile::kWebNginx;
    const int pool = external ? 200 : 24;
    for (int i = 0; i < pool; ++i) st.client_ips.push_back(RandomIp(rng, !external));
    st.pid = static_cast<int>(rng.Between(1, 64));
    states.push_back(std::move(st));
  }

  bool Next(GeneratedEntry* e) {
    if (produced >= options.lines) return false;
    const double u = rng.Real();
    const int s = static_cast<int>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                   cumulative.begin());
    e->stream = std::min(s, static_cast<int>(cumulative.size()) - 1);
    const int64_t base =
        start_ns +
        static_cast<int64_t>((static_cast<__int128>(produced) * options.span_ns) / options.lines);
    e->timestamp_ns =
        base +
        (step_ns > 1 ? static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(step_ns))) : 0);
    e->line.clear();
    StreamState& st = states[static_cast<size_t>(e->stream)];
    if (!st.pending.empty()) {
      e->line = std::move(st.pending.front());
      st.pending.pop_front();
      e->kind = LineKind::kPlain;
    } else {
      e->kind = Format(rng, st, e->timestamp_ns, &e->line);
    }
    ++produced;
    return true;
  }
};

LogGenerator::LogGenerator(const GeneratorOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
LogGenerator::~LogGenerator() = default;
const std::vector<StreamInfo>& LogGenerator::streams() const { return impl_->infos; }
bool LogGenerator::Next(GeneratedEntry* out) { return impl_->Next(out); }
int64_t LogGenerator::produced() const { return impl_->produced; }

}  // namespace logq::bench
