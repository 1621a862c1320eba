// PodMetadata over libcurl: LIST then WATCH /api/v1/pods for one node, on its own thread.
#include "shipper/kube/pod_metadata.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace logq::shipper {
namespace {

using LabelMap = std::map<std::string, std::string, std::less<>>;
using json = nlohmann::json;

constexpr std::string_view kMeta = "__meta_kubernetes_";

// Prometheus' strutil.SanitizeLabelName: every byte outside [a-zA-Z0-9_] becomes '_'.
std::string Sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

std::string Str(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& Obj(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

struct ContainerInfo {
  std::string image;
  std::string id;  // "containerd://..." from the status, when known
  bool init = false;
};

// What we keep of one pod.
struct Pod {
  std::string uid, ns, name;
  LabelMap labels;  // pod-level __meta_kubernetes_* labels
  std::map<std::string, ContainerInfo, std::less<>> containers;
  bool deleted = false;   // DELETED seen (or missing from a relist): a tombstone
  bool released = false;  // Release() called: erase as soon as it is deleted
};

// Builds the pod from its JSON (a v1.Pod). Returns false if it has no uid.
bool PodFromJson(const json& j, Pod* pod) {
  const json& md = Obj(j, "metadata");
  const json& spec = Obj(j, "spec");
  const json& status = Obj(j, "status");
  pod->uid = Str(md, "uid");
  pod->ns = Str(md, "namespace");
  pod->name = Str(md, "name");
  if (pod->uid.empty()) return false;
  LabelMap& l = pod->labels;
  auto set = [&l](std::string_view name, std::string value) {
    l[fmt::format("{}{}", kMeta, name)] = std::move(value);
  };
  set("namespace", pod->ns);
  set("pod_name", pod->name);
  set("pod_uid", pod->uid);
  set("pod_ip", Str(status, "podIP"));
  set("pod_host_ip", Str(status, "hostIP"));
  set("pod_node_name", Str(spec, "nodeName"));
  set("pod_phase", Str(status, "phase"));
  std::string ready = "unknown";
  if (const json& conds = Obj(status, "conditions"); conds.is_array()) {
    for (const json& c : conds) {
      if (Str(c, "type") == "Ready") {
        std::string s = Str(c, "status");
        ready = s == "True" ? "true" : s == "False" ? "false" : "unknown";
      }
    }
  }
  set("pod_ready", ready);
  if (const json& labels = Obj(md, "labels"); labels.is_object()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      std::string n = Sanitize(it.key());
      set("pod_label_" + n, it->is_string() ? it->get<std::string>() : it->dump());
      set("pod_labelpresent_" + n, "true");
    }
  }
  if (const json& ann = Obj(md, "annotations"); ann.is_object()) {
    for (auto it = ann.begin(); it != ann.end(); ++it) {
      std::string n = Sanitize(it.key());
      set("pod_annotation_" + n, it->is_string() ? it->get<std::string>() : it->dump());
      set("pod_annotationpresent_" + n, "true");
    }
  }
  if (const json& owners = Obj(md, "ownerReferences"); owners.is_array()) {
    for (const json& o : owners) {
      const json& ctrl = Obj(o, "controller");
      if (ctrl.is_boolean() && ctrl.get<bool>()) {
        set("pod_controller_kind", Str(o, "kind"));
        set("pod_controller_name", Str(o, "name"));
        break;
      }
    }
  }
  auto containers = [&](const char* key, bool init) {
    if (const json& cs = Obj(spec, key); cs.is_array()) {
      for (const json& c : cs) {
        ContainerInfo& ci = pod->containers[Str(c, "name")];
        ci.image = Str(c, "image");
        ci.init = init;
      }
    }
  };
  containers("containers", false);
  containers("initContainers", true);
  for (const char* key : {"containerStatuses", "initContainerStatuses"}) {
    if (const json& cs = Obj(status, key); cs.is_array()) {
      for (const json& c : cs) {
        auto it = pod->containers.find(Str(c, "name"));
        if (it != pod->containers.end()) it->second.id = Str(c, "containerID");
      }
    }
  }
  // Drop empty values (Prometheus drops empty labels too).
  for (auto it = l.begin(); it != l.end();) it = it->second.empty() ? l.erase(it) : std::next(it);
  return true;
}

std::string UrlEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

class CurlPodMetadata final : public PodMetadata {
 public:
  CurlPodMetadata(KubeClientConfig config, const Clock& clock)
      : config_(std::move(config)), clock_(clock), multi_(curl_multi_init()) {
    while (!config_.api_server.empty() && config_.api_server.back() == '/') config_.api_server.pop_back();
  }

  ~CurlPodMetadata() override {
    {
      std::lock_guard<std::mutex> lk(wake_mu_);
      stop_ = true;
    }
    wake_cv_.notify_all();
    curl_multi_wakeup(multi_);
    if (thread_.joinable()) thread_.join();
    curl_multi_cleanup(multi_);
  }

  void StartThread() { thread_ = std::thread([this] { Run(); }); }

  std::optional<LabelMap> Lookup(std::string_view ns, std::string_view pod, std::string_view uid,
                                 std::string_view container) override {
    std::lock_guard<std::mutex> lk(mu_);
    Pod* p = nullptr;
    if (!uid.empty()) {
      auto it = by_uid_.find(std::string(uid));
      if (it != by_uid_.end()) p = &it->second;
    } else {
      auto it = by_name_.find(NameKey(ns, pod));
      if (it != by_name_.end()) {
        auto u = by_uid_.find(it->second);
        if (u != by_uid_.end()) p = &u->second;
      }
    }
    if (p == nullptr) return std::nullopt;
    p->released = false;  // in use again
    LabelMap out = p->labels;
    if (!container.empty()) {
      out[fmt::format("{}pod_container_name", kMeta)] = std::string(container);
      auto c = p->containers.find(container);
      if (c != p->containers.end()) {
        if (!c->second.image.empty()) out[fmt::format("{}pod_container_image", kMeta)] = c->second.image;
        if (!c->second.id.empty()) out[fmt::format("{}pod_container_id", kMeta)] = c->second.id;
        out[fmt::format("{}pod_container_init", kMeta)] = c->second.init ? "true" : "false";
      }
    }
    return out;
  }

  void Release(std::string_view uid) override {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = by_uid_.find(std::string(uid));
    if (it == by_uid_.end()) return;
    if (it->second.deleted) {
      Erase(it);
    } else {
      it->second.released = true;
    }
  }

  bool Healthy() const override { return healthy_.load(); }

 private:
  static std::string NameKey(std::string_view ns, std::string_view pod) {
    std::string k(ns);
    k.push_back('/');
    k.append(pod);
    return k;
  }

  // Requires mu_.
  void Erase(std::unordered_map<std::string, Pod>::iterator it) {
    auto n = by_name_.find(NameKey(it->second.ns, it->second.name));
    if (n != by_name_.end() && n->second == it->first) by_name_.erase(n);
    by_uid_.erase(it);
  }

  // Requires mu_.
  void Upsert(Pod pod) {
    auto it = by_uid_.find(pod.uid);
    if (it != by_uid_.end()) pod.released = it->second.released;
    by_name_[NameKey(pod.ns, pod.name)] = pod.uid;
    std::string uid = pod.uid;
    by_uid_[uid] = std::move(pod);
  }

  // Requires mu_.
  void MarkDeleted(const std::string& uid) {
    auto it = by_uid_.find(uid);
    if (it == by_uid_.end()) return;
    if (it->second.released) {
      Erase(it);
    } else {
      it->second.deleted = true;
    }
  }

  // ---- HTTP ----

  struct Response {
    long code = 0;
    std::string body;  // whole body (list, errors); watch lines are consumed as they come
    std::string partial;  // watch: bytes of an unfinished line
    bool watch = false;
    CurlPodMetadata* self = nullptr;
    Status line_error;
  };

  static size_t OnData(char* data, size_t size, size_t n, void* arg) {
    auto* r = static_cast<Response*>(arg);
    size_t len = size * n;
    if (!r->watch) {
      r->body.append(data, len);
      return len;
    }
    if (r->code == 0) curl_easy_getinfo(r->self->easy_, CURLINFO_RESPONSE_CODE, &r->code);
    if (r->code != 200) {
      r->body.append(data, len);
      return len;
    }
    r->partial.append(data, len);
    size_t start = 0;
    for (size_t nl; (nl = r->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(r->partial.data() + start, nl - start);
      if (!line.empty() && !r->self->HandleEvent(line, &r->line_error)) {
        r->partial.clear();
        return 0;  // abort the transfer: relist or back off
      }
    }
    r->partial.erase(0, start);
    return len;
  }

  // Performs one request; returns false when stopping. Sets *st to a transport error.
  bool Perform(const std::string& url, Response* resp, bool watch, Status* st) {
    resp->self = this;
    resp->watch = watch;
    easy_ = curl_easy_init();
    if (easy_ == nullptr) {
      *st = Internal("curl_easy_init failed");
      return true;
    }
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!config_.token_file.empty()) {
      std::ifstream f(config_.token_file);
      std::string token((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
      if (!f.good() && token.empty()) {
        *st = Unauthenticated(fmt::format("cannot read the service account token {}", config_.token_file));
      } else {
        headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
      }
    }
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &CurlPodMetadata::OnData);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, "logq-shipper");
    curl_easy_setopt(easy_, CURLOPT_ACCEPT_ENCODING, "");
    if (!watch) curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, 60000L);
    // A watch ends server-side after timeoutSeconds; the client allows a margin on top.
    if (watch) curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, (kWatchTimeoutSeconds + 30) * 1000L);
    if (!config_.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (config_.insecure_skip_verify) {
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_multi_add_handle(multi_, easy_);
    bool stopped = false;
    CURLcode result = CURLE_OK;
    for (;;) {
      int running = 0;
      curl_multi_perform(multi_, &running);
      int msgs = 0;
      bool done = false;
      while (CURLMsg* m = curl_multi_info_read(multi_, &msgs)) {
        if (m->msg == CURLMSG_DONE) {
          result = m->data.result;
          done = true;
        }
      }
      if (done || running == 0) break;
      if (stop_.load()) {
        stopped = true;
        break;
      }
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
      if (stop_.load()) {
        stopped = true;
        break;
      }
    }
    if (resp->code == 0) curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &resp->code);
    curl_multi_remove_handle(multi_, easy_);
    curl_easy_cleanup(easy_);
    easy_ = nullptr;
    curl_slist_free_all(headers);
    if (stopped) return false;
    if (st->ok() && result != CURLE_OK && result != CURLE_WRITE_ERROR) {
      *st = Unavailable(fmt::format("{}: {}", url, errbuf[0] ? errbuf : curl_easy_strerror(result)));
    }
    return true;
  }

  // One watch event line. Returns false to end the watch (410 → relist, or a bad event).
  bool HandleEvent(std::string_view line, Status* err) {
    json ev = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (ev.is_discarded() || !ev.is_object()) {
      *err = DataLoss(fmt::format("watch: malformed event: {}", line.substr(0, 200)));
      return false;
    }
    std::string type = Str(ev, "type");
    const json& obj = Obj(ev, "object");
    if (type == "ERROR") {
      const json& code = Obj(obj, "code");
      if (code.is_number() && code.get<int>() == 410) {
        relist_ = true;  // our resourceVersion is too old
      } else {
        *err = Unavailable(fmt::format("watch error: {}", Str(obj, "message")));
      }
      return false;
    }
    std::string rv = Str(Obj(obj, "metadata"), "resourceVersion");
    if (type == "BOOKMARK") {
      if (!rv.empty()) resource_version_ = rv;
      return true;
    }
    Pod pod;
    if (!PodFromJson(obj, &pod)) return true;  // not a pod we can key
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (type == "ADDED" || type == "MODIFIED") {
        Upsert(std::move(pod));
      } else if (type == "DELETED") {
        MarkDeleted(pod.uid);
      }
    }
    if (!rv.empty()) resource_version_ = rv;
    return true;
  }

  std::string PodsUrl() const {
    return fmt::format("{}/api/v1/pods?fieldSelector={}", config_.api_server,
                       UrlEscape("spec.nodeName=" + config_.node_name));
  }

  // LIST: replaces the pod set; pods gone since become tombstones.
  Status List() {
    Response resp;
    Status st;
    if (!Perform(PodsUrl(), &resp, false, &st)) return Cancelled("stopping");
    if (!st.ok()) return st;
    if (resp.code != 200) {
      return Unavailable(fmt::format("list pods: HTTP {}: {}", resp.code, resp.body.substr(0, 300)));
    }
    json j = json::parse(resp.body, nullptr, false);
    if (j.is_discarded() || !Obj(j, "items").is_array()) {
      return DataLoss("list pods: the response is not a PodList");
    }
    std::vector<Pod> pods;
    for (const json& item : Obj(j, "items")) {
      Pod p;
      if (PodFromJson(item, &p)) pods.push_back(std::move(p));
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      std::unordered_map<std::string, bool> present;
      for (const Pod& p : pods) present[p.uid] = true;
      std::vector<std::string> gone;
      for (const auto& [uid, p] : by_uid_) {
        if (!present.count(uid)) gone.push_back(uid);
      }
      for (const auto& uid : gone) MarkDeleted(uid);
      for (Pod& p : pods) Upsert(std::move(p));
    }
    resource_version_ = Str(Obj(j, "metadata"), "resourceVersion");
    return Status::OK();
  }

  // WATCH from resource_version_ until the server ends it. OK: ended normally (re-watch).
  Status Watch() {
    std::string url = fmt::format("{}&watch=1&allowWatchBookmarks=true&timeoutSeconds={}&resourceVersion={}",
                                  PodsUrl(), kWatchTimeoutSeconds, UrlEscape(resource_version_));
    Response resp;
    Status st;
    if (!Perform(url, &resp, true, &st)) return Cancelled("stopping");
    if (!resp.line_error.ok()) return resp.line_error;
    if (resp.code == 410) relist_ = true;
    if (relist_) return Status::OK();
    if (!st.ok()) return st;
    if (resp.code != 200) {
      return Unavailable(fmt::format("watch pods: HTTP {}: {}", resp.code, resp.body.substr(0, 300)));
    }
    return Status::OK();
  }

  // Sleeps `ms` or until stopped; false when stopped.
  bool Sleep(int64_t ms) {
    std::unique_lock<std::mutex> lk(wake_mu_);
    return !wake_cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  }

  void Run() {
    std::mt19937_64 rng(static_cast<uint64_t>(clock_.MonotonicNanos()));
    int64_t backoff_ms = kMinBackoffMs;
    relist_ = true;
    while (!stop_.load()) {
      const bool listing = relist_;
      const int64_t started = clock_.MonotonicNanos();
      Status st = listing ? List() : Watch();
      if (stop_.load()) break;
      if (st.ok()) {
        if (listing) relist_ = false;
        healthy_ = true;
        backoff_ms = kMinBackoffMs;
        // A watch the server ends at once (a proxy closing idle streams): do not spin.
        if (!listing && clock_.MonotonicNanos() - started < kNanosPerSecond && !Sleep(kMinBackoffMs)) break;
        continue;
      }
      healthy_ = false;
      {
        std::lock_guard<std::mutex> lk(mu_);
        last_error_ = st.ToString();
      }
      // Capped exponential backoff with full jitter; after an error, list again (the watch
      // may have missed events while it was down only if its resourceVersion expired, which
      // the server reports with 410, so a failed watch resumes from the same version).
      std::uniform_int_distribution<int64_t> d(backoff_ms / 2, backoff_ms);
      if (!Sleep(d(rng))) break;
      backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
    }
  }

  static constexpr int kWatchTimeoutSeconds = 300;
  static constexpr int64_t kMinBackoffMs = 200;
  static constexpr int64_t kMaxBackoffMs = 30000;

  KubeClientConfig config_;
  const Clock& clock_;
  CURLM* multi_;
  CURL* easy_ = nullptr;  // the request in flight (background thread only)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::atomic<bool> healthy_{false};

  // Background thread only.
  std::string resource_version_;
  bool relist_ = true;
  std::string last_error_;  // guarded by mu_

  mutable std::mutex mu_;
  std::unordered_map<std::string, Pod> by_uid_;       // guarded by mu_
  std::unordered_map<std::string, std::string> by_name_;  // "ns/pod" → uid; guarded by mu_
};

}  // namespace

Result<KubeClientConfig> InClusterConfig(std::string node_name) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return Unavailable(
        "not running in a Kubernetes cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  if (node_name.empty()) {
    return InvalidArgument("kubernetes metadata needs the node name (set HOSTNAME or NODE_NAME from spec.nodeName)");
  }
  KubeClientConfig c;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  c.api_server = fmt::format("https://{}:{}", h, port);
  const std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  c.token_file = dir + "/token";
  c.ca_file = dir + "/ca.crt";
  c.node_name = std::move(node_name);
  if (!std::ifstream(c.token_file).good()) {
    return Unauthenticated(fmt::format("cannot read the service account token {}", c.token_file));
  }
  return c;
}

Result<std::unique_ptr<PodMetadata>> PodMetadata::Start(const KubeClientConfig& config,
                                                        const Clock& clock) {
  if (config.api_server.empty()) return InvalidArgument("kubernetes api_server is empty");
  if (config.node_name.empty()) return InvalidArgument("kubernetes node_name is empty");
  if (config.api_server.rfind("http://", 0) != 0 && config.api_server.rfind("https://", 0) != 0) {
    return InvalidArgument(fmt::format("kubernetes api_server {:?} must start with http:// or https://",
                                       config.api_server));
  }
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  auto p = std::make_unique<CurlPodMetadata>(config, clock);
  p->StartThread();
  return std::unique_ptr<PodMetadata>(std::move(p));
}

}  // namespace logq::shipper
