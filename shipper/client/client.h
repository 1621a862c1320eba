// Push client: one sender thread per configured `clients[]` entry, fed complete batches by
// the event loop, delivering them to a Loki push endpoint (protobuf + snappy over libcurl).
//
// Delivery: 2xx → acknowledged; 429 / 5xx / no response → retried with capped, jittered
// exponential backoff honouring Retry-After, without limit by default (the log files hold
// the data while we wait); any other status → dropped, counted by reason, logged once per
// (reason, stream). Every batch ends as exactly one BatchResult, which the event loop uses to
// advance positions. A batch abandoned at shutdown produces no result (it is re-read later).
//
// Thread-safety: Enqueue/TakeResults/Stop from the event-loop thread; the sender thread is
// internal. The HttpSender is used only by the sender thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "query/base/clock.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "shipper/client/backoff.h"
#include "shipper/client/batch.h"

namespace logq::shipper {

struct TlsConfig {
  std::string ca_file, cert_file, key_file, server_name;
  bool insecure_skip_verify = false;  // default false
};

struct ClientConfig {
  std::string url;                       // required, e.g. http://loki:3100/loki/api/v1/push
  std::string tenant_id;                 // X-Scope-OrgID; default none
  int64_t batch_wait_ns = 1'000'000'000; // default 1s
  size_t batch_size_bytes = 1 << 20;     // encoded bytes; default 1 MiB
  int64_t timeout_ns = 10'000'000'000;   // per request; default 10s
  BackoffConfig backoff;
  std::map<std::string, std::string> external_labels;
  std::string basic_auth_username, basic_auth_password, basic_auth_password_file;
  std::string bearer_token, bearer_token_file;
  TlsConfig tls;
  std::string proxy_url;
  std::map<std::string, std::string> headers;  // extra HTTP headers
};

struct HttpResult {
  int status = 0;             // 0: no response (see error)
  std::string body;           // first bytes of the response body
  std::string error;          // transport error text when status == 0
  int64_t retry_after_ns = -1;
};

// The HTTP seam: the real one is libcurl; tests may fake faults.
class HttpSender {
 public:
  virtual ~HttpSender() = default;
  // POSTs a snappy protobuf push body with the tenant header (when non-empty).
  virtual HttpResult Post(const std::string& body, const std::string& tenant) = 0;
};
std::unique_ptr<HttpSender> NewCurlHttpSender(const ClientConfig& config);

struct BatchResult {
  int client = 0;
  bool delivered = false;            // acked; else dropped
  std::string reason;                // drop reason
  std::vector<EntryRef> refs;
};

class Client {
 public:
  // `notify` is called (from the sender thread) after a result is queued.
  Client(int index, ClientConfig config, std::unique_ptr<HttpSender> sender, const Clock& clock,
         MetricsRegistry& metrics, std::function<void()> notify);
  ~Client();

  void Start();
  void Enqueue(std::unique_ptr<Batch> batch);
  void TakeResults(std::vector<BatchResult>* out);
  // Batches queued or being sent.
  size_t queued() const;
  // Lets the thread finish what is queued until `deadline_mono`, then abandons the rest
  // (no result: the data was not acknowledged) and joins.
  void Stop(int64_t deadline_mono);
  const ClientConfig& config() const { return config_; }
  // Wall time (ns) of the oldest batch not yet resolved, 0 if none.
  int64_t oldest_pending_mono() const;
  bool healthy() const;  // last request reached the server, or nothing to send

 private:
  void Run();
  // Sends with retries; false when abandoned because of Stop.
  bool Deliver(Batch& batch, BatchResult* result);

  int index_;
  ClientConfig config_;
  std::unique_ptr<HttpSender> sender_;
  const Clock& clock_;
  std::function<void()> notify_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Batch>> queue_;
  std::vector<BatchResult> results_;
  bool stopping_ = false;
  int64_t deadline_mono_ = 0;
  std::atomic<int64_t> in_flight_since_{0};
  std::atomic<bool> busy_{false};
  std::atomic<bool> last_ok_{true};
  std::thread thread_;
  std::set<std::pair<std::string, std::string>> logged_drops_;  // (reason, stream), bounded

  Counter* requests_ok_;
  Counter* retries_;
  Histogram* request_seconds_;
  MetricsRegistry& metrics_;
};

}  // namespace logq::shipper
