#include "shipper/client/client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

namespace logq::shipper {
namespace {

std::string ReadSecretFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class CurlHttpSender final : public HttpSender {
 public:
  explicit CurlHttpSender(const ClientConfig& c) : c_(c) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
  }
  ~CurlHttpSender() override { curl_easy_cleanup(curl_); }

  HttpResult Post(const std::string& body, const std::string& tenant) override {
    HttpResult r;
    CURL* h = curl_;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, c_.url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(c_.timeout_ns / 1'000'000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(c_.timeout_ns / 1'000'000, 5000)));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "logq-shipper/" LOGQ_VERSION);
    struct curl_slist* hdrs = nullptr;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-protobuf");
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (!tenant.empty()) hdrs = curl_slist_append(hdrs, ("X-Scope-OrgID: " + tenant).c_str());
    std::string token = c_.bearer_token;
    if (!c_.bearer_token_file.empty()) token = ReadSecretFile(c_.bearer_token_file);
    if (!token.empty()) hdrs = curl_slist_append(hdrs, ("Authorization: Bearer " + token).c_str());
    for (const auto& [k, v] : c_.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    std::string password = c_.basic_auth_password;
    if (!c_.basic_auth_password_file.empty()) password = ReadSecretFile(c_.basic_auth_password_file);
    if (!c_.basic_auth_username.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(h, CURLOPT_USERNAME, c_.basic_auth_username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
    }
    if (!c_.tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c_.tls.ca_file.c_str());
    if (!c_.tls.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, c_.tls.cert_file.c_str());
    if (!c_.tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, c_.tls.key_file.c_str());
    if (c_.tls.insecure_skip_verify) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist* resolve = nullptr;
    if (!c_.tls.server_name.empty()) {
      // SNI / verification name: ask curl to check the certificate against server_name.
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c_.tls.insecure_skip_verify ? 0L : 2L);
    }
    if (!c_.proxy_url.empty()) curl_easy_setopt(h, CURLOPT_PROXY, c_.proxy_url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) -> size_t {
      auto* out = static_cast<std::string*>(ud);
      if (out->size() < 64 * 1024) out->append(p, std::min(s * n, 64 * 1024 - out->size()));
      return s * n;
    });
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    std::string retry_after;
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, +[](char* p, size_t s, size_t n, void* ud) -> size_t {
      std::string_view line(p, s * n);
      constexpr std::string_view kName = "retry-after:";
      if (line.size() > kName.size()) {
        bool match = true;
        for (size_t i = 0; i < kName.size(); ++i) {
          if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) {
            match = false;
            break;
          }
        }
        if (match) *static_cast<std::string*>(ud) = std::string(line.substr(kName.size()));
      }
      return s * n;
    });
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &retry_after);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      r.status = 0;
      r.error = curl_easy_strerror(rc);
    } else {
      long code = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
      r.status = static_cast<int>(code);
      if (!retry_after.empty()) {
        r.retry_after_ns = ParseRetryAfter(retry_after,
            std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count());
      }
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    return r;
  }

 private:
  ClientConfig c_;
  CURL* curl_;
};

}  // namespace

std::unique_ptr<HttpSender> NewCurlHttpSender(const ClientConfig& config) {
  return std::make_unique<CurlHttpSender>(config);
}

Client::Client(int index, ClientConfig config, std::unique_ptr<HttpSender> sender, const Clock& clock,
               MetricsRegistry& metrics, std::function<void()> notify)
    : index_(index),
      config_(std::move(config)),
      sender_(std::move(sender)),
      clock_(clock),
      notify_(std::move(notify)),
      metrics_(metrics) {
  MetricLabels l = {{"url", config_.url}};
  requests_ok_ = metrics.GetCounter("logq_shipper_requests_succeeded_total",
                                    "Push requests acknowledged by the store.", l);
  retries_ = metrics.GetCounter("logq_shipper_retries_total",
                                "Push requests retried (429, 5xx, connection errors).", l);
  request_seconds_ = metrics.GetHistogram("logq_shipper_request_duration_seconds",
                                          "Push request latency.", l);
}

Client::~Client() {
  if (thread_.joinable()) Stop(clock_.MonotonicNanos());
}

void Client::Start() { thread_ = std::thread([this] { Run(); }); }

void Client::Enqueue(std::unique_ptr<Batch> batch) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

void Client::TakeResults(std::vector<BatchResult>* out) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& r : results_) out->push_back(std::move(r));
  results_.clear();
}

size_t Client::queued() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

int64_t Client::oldest_pending_mono() const {
  if (busy_) return in_flight_since_.load();
  std::lock_guard<std::mutex> l(mu_);
  return queue_.empty() ? 0 : queue_.front()->created_mono();
}

bool Client::healthy() const { return last_ok_.load(); }

void Client::Stop(int64_t deadline_mono) {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    deadline_mono_ = deadline_mono;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Client::Run() {
  while (true) {
    std::unique_ptr<Batch> b;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (stopping_ && clock_.MonotonicNanos() >= deadline_mono_) return;
      b = std::move(queue_.front());
      queue_.pop_front();
      in_flight_since_ = b->created_mono();
      busy_ = true;
    }
    BatchResult result;
    bool done = Deliver(*b, &result);
    {
      std::lock_guard<std::mutex> l(mu_);
      busy_ = false;
      if (done) results_.push_back(std::move(result));
    }
    if (done && notify_) notify_();
    if (!done) return;  // abandoned at shutdown
  }
}

bool Client::Deliver(Batch& batch, BatchResult* result) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  auto streams = batch.StreamCounts();
  size_t entries = batch.entries();
  std::string tenant = batch.tenant().empty() ? config_.tenant_id : batch.tenant();
  std::string body = batch.EncodeAndRelease();
  result->client = index_;
  result->refs = batch.TakeRefs();
  for (int attempt = 0;; ++attempt) {
    int64_t t0 = clock_.MonotonicNanos();
    HttpResult r = sender_->Post(body, tenant);
    request_seconds_->Observe(static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9);
    PushOutcome o = ClassifyStatus(r.status);
    if (o == PushOutcome::kAck) {
      requests_ok_->Inc();
      last_ok_ = true;
      result->delivered = true;
      return true;
    }
    if (o == PushOutcome::kDrop ||
        (config_.backoff.max_retries > 0 && attempt >= config_.backoff.max_retries)) {
      last_ok_ = r.status != 0;
      result->delivered = false;
      result->reason = o == PushOutcome::kDrop ? DropReason(r.status, r.body) : "max_retries";
      for (const auto& [labels, n] : streams) {
        if (logged_drops_.size() < 10000 && logged_drops_.insert({result->reason, labels}).second) {
          spdlog::warn("dropped {} entries of stream {} (reason {}): HTTP {}: {}", n, labels, result->reason,
                       r.status, r.status ? r.body.substr(0, 512) : r.error);
        }
      }
      (void)entries;
      return true;
    }
    last_ok_ = r.status != 0;
    retries_->Inc();
    int64_t delay = BackoffDelay(config_.backoff, attempt, r.retry_after_ns, uni(rng));
    if (attempt == 0 || attempt % 10 == 0) {
      spdlog::warn("push to {} failed ({}), retry {} in {} ms", config_.url,
                   r.status ? "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200) : r.error,
                   attempt + 1, delay / 1'000'000);
    }
    std::unique_lock<std::mutex> l(mu_);
    int64_t until = clock_.MonotonicNanos() + delay;
    while (true) {
      int64_t now = clock_.MonotonicNanos();
      if (stopping_ && now >= deadline_mono_) return false;
      if (now >= until) break;
      int64_t wait = until - now;
      if (stopping_) wait = std::min(wait, deadline_mono_ - now);
      cv_.wait_for(l, std::chrono::nanoseconds(wait));
    }
  }
}

}  // namespace logq::shipper
