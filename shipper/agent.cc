#include "shipper/agent.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <dirent.h>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <tuple>
#include <unordered_map>

#include "query/base/units.h"
#include "shipper/client/batch.h"
#include "shipper/client/client.h"
#include "shipper/discovery/glob.h"
#include "shipper/discovery/glob_tree.h"
#include "shipper/discovery/pod_path.h"
#include "shipper/discovery/pod_tree.h"
#include "shipper/journal/journal_reader.h"
#include "shipper/positions/positions.h"
#include "shipper/tail/file_reader.h"
#include "shipper/tail/offset_tracker.h"

#include "shipper/stages/stages.h"
#include "shipper/relabel/relabel.h"
#include "shipper/kube/pod_metadata.h"

namespace logq::shipper {

std::string RenderLabels(const LabelMap& labels) {
  std::string o = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) o += ", ";
    first = false;
    o += k;
    o += "=\"";
    for (char c : v) {
      switch (c) {
        case '\\': o += "\\\\"; break;
        case '"': o += "\\\""; break;
        case '\n': o += "\\n"; break;
        default: o.push_back(c);
      }
    }
    o += '"';
  }
  o += '}';
  return o;
}

namespace {


// One static_configs entry with a __path__ glob.
struct FileGroup {
  PathGlob path;
  std::optional<PathGlob> exclude;  // __path_exclude__
  LabelMap labels;                  // its labels, __path__ and __path_exclude__ included
};

// What one scrape config turns into at runtime. kFiles: static_configs with __path__ (files
// found by GlobTree); kPods: kubernetes_sd_configs, or no __path__ at all (the kubelet layout
// under shipper.pods_root, found by PodTree).
struct Scrape {
  enum Kind { kPods, kFiles, kJournal };
  const ScrapeConfig* config = nullptr;
  Kind kind = kPods;
  std::vector<FileGroup> groups;  // kFiles
  bool decode_container = false;  // kFiles: a cri/docker stage asks for container decoding
  std::vector<RelabelConfig> relabel;
  std::unique_ptr<StagePipeline> pipeline;
  bool has_pipeline = false;
  bool has_relabel = false;
};

// Makes a relative __path__ absolute (Promtail resolves matches against the working directory).
std::string AbsolutePattern(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  std::string cwd = getcwd(buf, sizeof(buf)) ? buf : "/";
  return cwd == "/" ? "/" + p : cwd + "/" + p;
}

bool HasContainerStage(const YAML::Node& stages) {
  if (!stages || !stages.IsSequence()) return false;
  for (const auto& st : stages) {
    if (st.IsMap() && (st["cri"] || st["docker"])) return true;
  }
  return false;
}

Status BuildScrapes(const ShipperConfig& config, const Clock& clock, std::vector<Scrape>* out) {
  static const ScrapeConfig kDefault;
  std::vector<const ScrapeConfig*> cfgs;
  for (const auto& sc : config.scrape_configs) cfgs.push_back(&sc);
  if (cfgs.empty()) cfgs.push_back(&kDefault);
  for (size_t i = 0; i < cfgs.size(); ++i) {
    Scrape s;
    s.config = cfgs[i];
    if (cfgs[i]->journal.enabled) {
      s.kind = Scrape::kJournal;
    } else if (!cfgs[i]->kubernetes_sd) {
      for (size_t g = 0; g < cfgs[i]->static_configs.size(); ++g) {
        const StaticConfig& sc = cfgs[i]->static_configs[g];
        auto path = sc.labels.find("__path__");
        if (path == sc.labels.end()) continue;
        std::string where = "scrape_configs[" + std::to_string(i) + "].static_configs[" + std::to_string(g) + "]";
        FileGroup fg;
        auto glob = PathGlob::Parse(AbsolutePattern(path->second));
        if (!glob.ok()) return glob.status().WithPrefix(where);
        fg.path = std::move(glob).value();
        auto ex = sc.labels.find("__path_exclude__");
        if (ex != sc.labels.end() && !ex->second.empty()) {
          auto eg = PathGlob::Parse(AbsolutePattern(ex->second));
          if (!eg.ok()) return eg.status().WithPrefix(where + " __path_exclude__");
          fg.exclude = std::move(eg).value();
        }
        for (const auto& [k, v] : sc.labels) fg.labels[k] = v;
        if (!sc.targets.empty()) fg.labels["__address__"] = sc.targets[0];
        s.groups.push_back(std::move(fg));
      }
      if (!s.groups.empty()) s.kind = Scrape::kFiles;
    }
    s.decode_container = HasContainerStage(cfgs[i]->pipeline_stages);
    const auto& rc = cfgs[i]->relabel_configs;
    if (rc && rc.IsSequence() && rc.size() > 0) {
      auto r = ParseRelabelConfigs(rc);
      if (!r.ok()) return r.status().WithPrefix("scrape_configs[" + std::to_string(i) + "].relabel_configs");
      s.relabel = std::move(r).value();
      s.has_relabel = true;
    }
    const auto& ps = cfgs[i]->pipeline_stages;
    if (ps && ps.IsSequence() && ps.size() > 0) {
      auto p = StagePipeline::Make(ps, clock);
      if (!p.ok()) return p.status().WithPrefix("scrape_configs[" + std::to_string(i) + "].pipeline_stages");
      s.pipeline = std::move(p).value();
      s.has_pipeline = true;
    }
    out->push_back(std::move(s));
  }
  return Status::OK();
}

// Static labels of a scrape config for `path`; false when its static_configs name paths
// (__path__ globs) and none matches.
bool StaticLabelsFor(const ScrapeConfig& sc, const std::string& path, LabelMap* labels) {
  bool any_path = false, matched = false;
  for (const auto& g : sc.static_configs) {
    auto it = g.labels.find("__path__");
    bool ok = true;
    if (it != g.labels.end()) {
      any_path = true;
      ok = fnmatch(it->second.c_str(), path.c_str(), 0) == 0;
    }
    if (!ok) continue;
    matched = true;
    for (const auto& [k, v] : g.labels) {
      if (k != "__path__") (*labels)[k] = v;
    }
  }
  return !any_path || matched;
}

std::string CanonicalPath(const std::string& dir, const LogFileName& f) { return dir + "/" + f.base; }

// Target labels of the file `canonical` under scrape config `s`, after relabel_configs and
// without internal labels; nullopt when `s` does not take the file. `pod_dir`: the kubelet
// layout directory the file is in (null for files found by __path__ globs only).
std::optional<LabelMap> ScrapeTargetLabels(const Scrape& s, const ContainerDir* pod_dir, const std::string& canonical,
                                           const std::string& node_name, PodMetadata* pods) {
  LabelMap labels;
  if (s.kind == Scrape::kJournal) return std::nullopt;
  if (s.kind == Scrape::kFiles) {
    const FileGroup* group = nullptr;
    for (const FileGroup& g : s.groups) {
      if (g.path.Matches(canonical) && !(g.exclude && g.exclude->Matches(canonical))) {
        group = &g;
        break;
      }
    }
    if (!group) return std::nullopt;
    labels = group->labels;
  } else {
    if (!pod_dir) return std::nullopt;
    labels = TargetLabels(pod_dir->pod, pod_dir->container, canonical, node_name);
    if (!StaticLabelsFor(*s.config, canonical, &labels)) return std::nullopt;
    if (s.config->kubernetes_sd && pods) {
      auto meta = pods->Lookup(pod_dir->pod.ns, pod_dir->pod.pod, pod_dir->pod.uid, pod_dir->container);
      if (meta) {
        for (auto& [k, v] : *meta) labels[k] = v;
      }
    }
  }
  if (s.has_relabel) {
    if (!Relabel(s.relabel, labels)) return std::nullopt;
    RemoveInternalLabels(labels);
  } else {
    for (auto it = labels.begin(); it != labels.end();) {
      it = it->first.rfind("__", 0) == 0 ? labels.erase(it) : std::next(it);
    }
  }
  // As Promtail's file target: `filename` is added after relabeling.
  if (s.kind == Scrape::kFiles) labels["filename"] = canonical;
  return labels;
}

// Metrics of one (path, stream).
struct StreamMetrics {
  Counter* read_lines = nullptr;
  Counter* read_bytes = nullptr;
  Counter* sent_entries = nullptr;
  Counter* sent_bytes = nullptr;
};

struct Target {
  LabelMap labels;   // after relabel, without internal labels
  size_t scrape = 0;
  bool raw = false;  // plain lines: no CRI/docker decoding (kFiles without a cri/docker stage)
  // Rendered stream labels per client and stream (fast path without pipeline stages).
  std::vector<std::array<std::string, kStreamCount>> rendered;
};

struct FileState {
  uint64_t id = 0;
  std::string dir;
  std::string name;
  std::string path;
  LogFileName fname;
  std::unique_ptr<FileReader> reader;
  OffsetTracker tracker;
  std::shared_ptr<Target> target;
  StreamMetrics metrics[kStreamCount];
  Counter* truncated_lines = nullptr;
  uint64_t truncated_seen = 0;
  bool queued = false;
  bool waiting_fd = false;  // in waiting_fd_: needs an fd and the budget is full
  bool drained = false;    // fully read and fd closed (unlinked, or gzip done)
  int64_t last_active_mono = 0;  // last open, resume or read that returned data
  bool in_listing = true;  // seen in the last directory listing
  // Last stream labels rendered for entries from a pipeline (cache).
  LabelMap cache_labels;
  std::vector<std::string> cache_rendered;
};

struct GoneRecord {
  std::string path;
  PositionEntry entry;
  std::string base;  // the current file it was a generation of ("" when unknown)
};

struct DirState {
  ContainerDir info;
  bool from_pods = false;  // reported by PodTree (kubelet layout; info.pod is valid)
  bool from_glob = false;  // reported by GlobTree (__path__ globs)
  bool removed = false;
  bool deferred = false;        // waiting for pod metadata
  // Found by the initial scan with no identity entry in the positions file (first start, or a
  // Promtail positions file): rotated generations that no stored position matches are not
  // read (as Promtail, which tails only *.log), so a first rollout does not re-ship history.
  bool first_start = false;
  int64_t deferred_since = 0;
  std::map<std::string, FileState*> by_name;
  std::set<std::tuple<uint64_t, uint64_t, std::string>> ignored;  // (dev, ino, name): not tailed
  std::deque<GoneRecord> gone;
};

// One `journal` scrape config at runtime. Entries are numbered; entry k is the slot
// [k, k+1) of `tracker`, so the committed sequence maps back to the cursor of the last entry
// every entry up to which is acknowledged (or dropped): only that cursor is saved.
struct JournalState {
  size_t scrape = 0;
  std::string key;  // positions key: "cursor-<job_name>" (Promtail's)
  std::unique_ptr<JournalReader> reader;
  uint64_t id = 0;  // EntryRef::file_id of its entries
  OffsetTracker tracker;
  uint64_t next = 0;
  std::deque<std::pair<uint64_t, std::string>> cursors;  // (end sequence, cursor) not committed
  std::string committed_cursor;
  int64_t last_error_log_mono = 0;
};

class AgentImpl final : public Agent, public PodTreeListener
    , public EntrySink
{
 public:
  AgentImpl(const ShipperConfig& config, const Clock& clock, MetricsRegistry& metrics)
      : config_(config), clock_(clock), metrics_(metrics) {}
  ~AgentImpl() override {
    if (wake_fd_ >= 0) close(wake_fd_);
    for (int fd : reserve_fds_) {
      if (fd >= 0) close(fd);
    }
  }

  Status Init();
  Status Run() override;
  void RequestStop() override {
    stop_requested_ = true;
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
  }
  std::string Readiness() const override;
  std::string TargetsJson() const override {
    std::lock_guard<std::mutex> l(targets_mu_);
    return targets_json_;
  }

  // PodTreeListener (PodTree's; GlobTree reports through glob_listener_)
  void OnContainerAdded(const ContainerDir& dir) override;
  void OnContainerRemoved(const std::string& path) override { OnDirRemoved(path, false); }
  void OnDirRemoved(const std::string& path, bool glob);
  void OnContainerChanged(const std::string& path) override;
  void OnFileModified(const std::string& dir, const std::string& name) override;
  void OnListError(const std::string& path, int err) override { NoteFdExhausted(path, err); }

  // EntrySink
  void Emit(LogEntry&& entry) override { Dispatch(std::move(entry)); }
  void Dropped(const LogEntry& entry, std::string_view reason) override {
    pipeline_drops_[std::string(reason)]->Inc();
    if (OffsetTracker* t = TrackerFor(entry.cursor.file_id)) t->Emitted(entry.cursor.end_offset, 0);
  }

 private:
  void RescanDir(DirState& d);
  // The offset tracker of a file or journal id (null: unknown or retired).
  OffsetTracker* TrackerFor(uint64_t id) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return it->second ? &it->second->tracker : nullptr;
    auto j = journal_by_id_.find(id);
    return j == journal_by_id_.end() ? nullptr : &j->second->tracker;
  }
  // Reads up to 1000 entries per journal; true when a journal may have more right now.
  bool ReadJournals();
  void HandleJournalEntry(JournalState& j, uint64_t seq, JournalEntry& e);
  void AdvanceCursor(JournalState& j);
  // How a directory entry is tailed: the kubelet layout's names in PodTree directories, else
  // a file a __path__ glob matches (current) or a logrotate generation of one: <base>.<x>,
  // <base>-<x>, optionally .gz (rotated; `order` stats it for its mtime). nullopt: not ours.
  std::optional<LogFileName> ClassifyName(const DirState& d, const std::string& name, bool order) const;
  bool GlobTakes(const std::string& path) const;
  // A plain rotated generation `fd` whose inode no position knows: its content head matches a
  // gone file's or a stored position's of the same base (a copytruncate copy) → that offset.
  std::optional<PositionEntry> TakeCopyPosition(DirState& d, const LogFileName& fname, int fd,
                                                const struct stat& st);
  void ReportListing(const std::string& path, int err, const std::string& what) {
    if (tree_) tree_->ReportListing(path, err, what);
    if (glob_tree_) glob_tree_->ReportListing(path, err, what);
  }
  void OpenFile(DirState& d, const std::string& name, const LogFileName& fname, const struct stat& st);
  std::optional<PositionEntry> TakeLoadedPlain(DirState& d, const std::string& path, int fd,
                                               const struct stat& st);
  std::shared_ptr<Target> MakeTarget(DirState& d, const std::string& canonical, bool plain);
  void Enqueue(FileState* f);
  void ReadSome();
  void HandleRecords(FileState& f, std::vector<Record>& recs);
  void Dispatch(LogEntry&& e);
  void AddToBatch(size_t client, const std::string& tenant, const std::string& labels, int64_t ts,
                  std::string line, std::vector<Label> md, const EntryRef& ref);
  void FlushBatches(bool all);
  void ProcessResults();
  void FinishFile(FileState* f);
  void RetireFile(FileState* f);
  void RemovePathMetrics(const std::string& canonical);
  void MaybeSavePositions(bool force);
  void EvictGone(DirState& d, size_t keep);
  void Tick();
  // File descriptor budget (shipper.max_open_files): true when one more log file may be
  // opened, after suspending the least recently active idle file if the budget is full.
  bool MakeRoomForFd();
  bool Suspendable(const FileState& f) const;
  void SuspendFile(FileState* f);
  // A suspended file was queued: reopen it if it grew (false: not read now).
  bool ResumeIfGrown(FileState* f);
  void NoteOpenError(DirState& d, const std::string& path, int err);
  void NoteFdExhausted(const std::string& what, int err);
  void ReleaseReserveFds();
  void TakeReserveFds();
  uint64_t NewId() { return ++next_id_; }
  bool Backpressured() const {
    return pending_bytes_ >= config_.tail.max_pending_bytes * static_cast<int64_t>(clients_.size());
  }
  void UpdateGauges();
  // Rebuilds the /targets snapshot (at most every 2 s unless `now`) and warns once about each
  // __path__ scrape config that matches no file.
  void UpdateTargets(bool now);

  ShipperConfig config_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  std::vector<Scrape> scrapes_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::unique_ptr<PodTree> tree_;        // null without kPods scrape configs
  std::unique_ptr<GlobTree> glob_tree_;  // null without kFiles scrape configs
  struct GlobListener final : PodTreeListener {
    AgentImpl* a = nullptr;
    void OnContainerAdded(const ContainerDir& dir) override { a->OnContainerAdded(dir); }
    void OnContainerRemoved(const std::string& path) override { a->OnDirRemoved(path, true); }
    void OnContainerChanged(const std::string& path) override { a->OnContainerChanged(path); }
    void OnFileModified(const std::string& dir, const std::string& name) override { a->OnFileModified(dir, name); }
    void OnListError(const std::string& path, int err) override { a->NoteFdExhausted(path, err); }
  } glob_listener_;
  std::unique_ptr<PodMetadata> pods_;
  bool need_kube_ = false;
  int wake_fd_ = -1;
  std::atomic<bool> stop_requested_{false};

  ReaderOptions reader_options_;
  std::map<std::string, DirState> dirs_;
  std::unordered_map<uint64_t, FileState*> by_id_;  // nullptr: retired id (truncated epoch)
  std::vector<std::unique_ptr<FileState>> files_;
  std::deque<FileState*> run_queue_;
  uint64_t next_id_ = 0;
  std::map<std::string, PositionEntry> loaded_;  // from the positions file, not yet matched
  bool initial_scan_done_ = false;

  // Batches per client, per tenant.
  std::vector<std::map<std::string, std::unique_ptr<Batch>>> batches_;
  int64_t pending_bytes_ = 0;

  PositionsData last_saved_;
  int64_t last_save_mono_ = 0;
  int64_t last_save_ok_mono_ = 0;
  bool positions_ok_ = true;
  int64_t next_poll_mono_ = 0;
  int64_t next_rescan_mono_ = 0;
  int64_t next_partial_mono_ = 0;
  std::atomic<int64_t> heartbeat_mono_{0};
  std::atomic<bool> ready_scan_{false};
  std::atomic<int64_t> oldest_unacked_ns_{0};

  std::vector<Record> recs_;  // scratch
  std::vector<std::unique_ptr<JournalState>> journals_;
  std::unordered_map<uint64_t, JournalState*> journal_by_id_;
  Counter* journal_entries_ = nullptr;

  // File descriptors (see MakeRoomForFd).
  size_t max_open_files_ = 0;
  size_t open_fds_ = 0;                    // log files holding an fd (recounted every tick)
  std::deque<FileState*> waiting_fd_;      // suspended files that grew, waiting for room
  std::set<std::string> retry_dirs_;       // directories to rescan: an open was deferred
  std::set<std::string> rescan_dirs_;      // directories to rescan: a suspended file moved
  int open_error_ = 0;                     // EACCES of the last RescanDir's opens
  std::string open_error_what_;
  int reserve_fds_[2] = {-1, -1};          // freed for the positions write when fds run out
  int64_t last_fd_log_mono_ = 0;
  mutable std::mutex fd_reason_mu_;
  std::string fd_reason_;                  // guarded by fd_reason_mu_
  std::atomic<int64_t> fd_exhausted_mono_{0};
  std::atomic<bool> fd_starved_{false};    // opens deferred by EMFILE/ENFILE right now

  // Metrics.
  Counter* unread_bytes_;
  Counter* truncations_;
  Counter* positions_writes_;
  Counter* positions_errors_;
  Counter* positions_corrupt_;
  Counter* overflows_;
  Gauge* open_files_;
  Gauge* suspended_files_;
  Gauge* max_open_files_gauge_;
  Gauge* unreadable_dirs_;
  Counter* fd_exhausted_;
  Gauge* tracked_files_;
  Gauge* watches_;
  Gauge* polled_dirs_;
  Gauge* pending_gauge_;
  Gauge* paused_;
  Gauge* checkpoint_lag_bytes_;
  Gauge* checkpoint_age_;
  Gauge* oldest_unacked_;
  std::map<std::string, Counter*> drop_entries_, drop_bytes_;
  std::map<std::string, Counter*, std::less<>> pipeline_drops_cache_;
  struct DropCounterMap {
    MetricsRegistry* m;
    std::map<std::string, Counter*> c;
    Counter* operator[](const std::string& reason) {
      auto it = c.find(reason);
      if (it != c.end()) return it->second;
      return c[reason] = m->GetCounter("logq_shipper_pipeline_dropped_entries_total",
                                       "Entries dropped by pipeline stages, by reason.", {{"reason", reason}});
    }
  } pipeline_drops_{&metrics_, {}};
  uint64_t last_overflows_ = 0;

  mutable std::mutex targets_mu_;
  std::string targets_json_ = "{\"scrape_configs\":[]}";  // guarded by targets_mu_
  int64_t last_targets_mono_ = 0;
  std::vector<bool> warned_empty_;
  bool journal_more_ = false;
};

void AppendJsonString(std::string* out, std::string_view v) {
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) *out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else out->push_back(c);
    }
  }
  out->push_back('"');
}

void AgentImpl::UpdateTargets(bool now) {
  int64_t mono = clock_.MonotonicNanos();
  if (!now && mono - last_targets_mono_ < 2 * kNanosPerSecond) return;
  last_targets_mono_ = mono;
  std::vector<std::vector<FileState*>> per(scrapes_.size());
  for (const auto& f : files_) {
    if (f->target && !f->drained) per[f->target->scrape].push_back(f.get());
  }
  warned_empty_.resize(scrapes_.size(), false);
  std::string o = "{\"scrape_configs\":[";
  for (size_t i = 0; i < scrapes_.size(); ++i) {
    const Scrape& s = scrapes_[i];
    if (s.kind == Scrape::kFiles && per[i].empty() && !warned_empty_[i]) {
      std::string paths;
      for (const auto& g : s.groups) paths += (paths.empty() ? "" : ", ") + g.path.pattern();
      spdlog::warn("scrape config \"{}\": __path__ {} matches no file; watching for new ones", s.config->job_name,
                   paths);
      warned_empty_[i] = true;
    } else if (!per[i].empty() && warned_empty_[i]) {
      spdlog::info("scrape config \"{}\": tailing {} files", s.config->job_name, per[i].size());
      warned_empty_[i] = false;
    }
    if (i) o += ',';
    o += "{\"job_name\":";
    AppendJsonString(&o, s.config->job_name);
    o += ",\"kind\":";
    o += s.kind == Scrape::kFiles ? "\"files\"" : s.kind == Scrape::kJournal ? "\"journal\"" : "\"pods\"";
    o += ",\"paths\":[";
    for (size_t g = 0; g < s.groups.size(); ++g) {
      if (g) o += ',';
      AppendJsonString(&o, s.groups[g].path.pattern());
    }
    o += "],\"path_excludes\":[";
    bool first = true;
    for (const auto& g : s.groups) {
      if (!g.exclude) continue;
      if (!first) o += ',';
      first = false;
      AppendJsonString(&o, g.exclude->pattern());
    }
    o += "],\"files\":" + std::to_string(per[i].size()) + ",\"targets\":[";
    std::sort(per[i].begin(), per[i].end(), [](const FileState* a, const FileState* b) { return a->path < b->path; });
    for (size_t k = 0; k < per[i].size() && k < 1000; ++k) {
      FileState* f = per[i][k];
      if (k) o += ',';
      o += "{\"path\":";
      AppendJsonString(&o, f->path);
      o += ",\"labels\":";
      AppendJsonString(&o, RenderLabels(f->target->labels));
      o += ",\"position\":" + std::to_string(f->tracker.Committed());
      o += ",\"size\":" + std::to_string(f->reader->size()) + "}";
    }
    o += "]}";
  }
  o += "]}";
  std::lock_guard<std::mutex> l(targets_mu_);
  targets_json_ = std::move(o);
}

Status AgentImpl::Init() {
  reader_options_.joiner.max_line_size = static_cast<size_t>(config_.tail.max_line_size);
  reader_options_.joiner.truncate = config_.tail.max_line_size_truncate;
  RETURN_IF_ERROR(BuildScrapes(config_, clock_, &scrapes_));
  for (const auto& s : scrapes_) need_kube_ = need_kube_ || s.config->kubernetes_sd;

  unread_bytes_ = metrics_.GetCounter("logq_shipper_unread_bytes_total",
      "Bytes deleted (by kubelet or others) before the shipper read them: data lost before collection.");
  truncations_ = metrics_.GetCounter("logq_shipper_file_truncations_total",
      "Files truncated or replaced in place (copytruncate) and re-read from offset 0.");
  positions_writes_ = metrics_.GetCounter("logq_shipper_positions_writes_total", "Positions file writes.");
  positions_errors_ = metrics_.GetCounter("logq_shipper_positions_write_errors_total", "Failed positions file writes.");
  positions_corrupt_ = metrics_.GetCounter("logq_shipper_positions_corrupt_total",
      "Invalid positions files ignored at start (positions.ignore_invalid_yaml).");
  overflows_ = metrics_.GetCounter("logq_shipper_inotify_overflows_total", "inotify queue overflows (full rescans).");
  open_files_ = metrics_.GetGauge("logq_shipper_open_files", "Log files held open.");
  suspended_files_ = metrics_.GetGauge("logq_shipper_idle_closed_files",
      "Idle log files closed to save file descriptors (reopened by path and identity when they grow).");
  max_open_files_gauge_ = metrics_.GetGauge("logq_shipper_max_open_files",
      "Budget of log files held open (shipper.max_open_files, or derived from RLIMIT_NOFILE).");
  unreadable_dirs_ = metrics_.GetGauge("logq_shipper_unreadable_dirs",
      "Directories (or files in them) that cannot be read (EACCES); polled until they can.");
  fd_exhausted_ = metrics_.GetCounter("logq_shipper_fd_exhausted_total",
      "Opens that failed with EMFILE/ENFILE (out of file descriptors); retried.");
  tracked_files_ = metrics_.GetGauge("logq_shipper_tracked_files", "Log files tracked (open or awaiting acks).");
  watches_ = metrics_.GetGauge("logq_shipper_watches", "inotify directory watches.");
  polled_dirs_ = metrics_.GetGauge("logq_shipper_polled_dirs",
      "Directories polled by stat because the inotify watch limit was reached.");
  pending_gauge_ = metrics_.GetGauge("logq_shipper_pending_bytes", "Bytes read and not yet acknowledged or dropped.");
  paused_ = metrics_.GetGauge("logq_shipper_reading_paused", "1 while reading is paused by backpressure.");
  checkpoint_lag_bytes_ = metrics_.GetGauge("logq_shipper_checkpoint_lag_bytes",
      "Bytes read from files but not yet committed to the positions file.");
  checkpoint_age_ = metrics_.GetGauge("logq_shipper_checkpoint_lag_seconds",
      "Seconds since the positions file was last written successfully.");
  oldest_unacked_ = metrics_.GetGauge("logq_shipper_oldest_unacked_age_seconds",
      "Age of the oldest batch not yet acknowledged.");

  // Positions.
  auto loaded = LoadPositionsFile(config_.positions.filename);
  if (loaded.ok()) {
    loaded_ = std::move(loaded->files);
    last_saved_.other = loaded->other;
    spdlog::info("positions: {} entries from {}", loaded_.size(), config_.positions.filename);
  } else if (loaded.status().code() != StatusCode::kNotFound) {
    if (!config_.positions.ignore_invalid_yaml) {
      return Status(loaded.status().code(),
                    loaded.status().message() +
                        " (fix or remove it, or set positions.ignore_invalid_yaml: true to start from the beginning of every file)");
    }
    positions_corrupt_->Inc();
    spdlog::error("{}; ignore_invalid_yaml is set: starting without positions", loaded.status().message());
  }

  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Internal("eventfd failed");
  for (size_t i = 0; i < scrapes_.size(); ++i) {
    if (scrapes_[i].kind != Scrape::kJournal) continue;
    const JournalConfig& jc = scrapes_[i].config->journal;
    auto j = std::make_unique<JournalState>();
    j->scrape = i;
    j->key = "cursor-" + scrapes_[i].config->job_name;
    auto saved = last_saved_.other.find(j->key);
    if (saved != last_saved_.other.end()) j->committed_cursor = saved->second;
    auto r = JournalReader::Open(jc.path, j->committed_cursor, jc.max_age_ns, clock_.NowNanos());
    if (!r.ok()) return r.status().WithPrefix("scrape_configs[" + std::to_string(i) + "] (job \"" +
                                              scrapes_[i].config->job_name + "\")");
    j->reader = std::move(r).value();
    spdlog::info("scrape config \"{}\": reading the journal {} {}", scrapes_[i].config->job_name,
                 jc.path.empty() ? std::string("(local)") : jc.path, j->reader->start_note());
    j->id = NewId();
    journal_by_id_[j->id] = j.get();
    journals_.push_back(std::move(j));
  }
  journal_entries_ = metrics_.GetCounter("logq_shipper_journal_entries_total", "Journal entries read.");
  {
    struct rlimit rl;
    uint64_t soft = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<uint64_t>(rl.rlim_cur) : 1024;
    if (soft > (1u << 24)) soft = 1u << 24;  // RLIM_INFINITY
    if (config_.tail.max_open_files > 0) {
      max_open_files_ = static_cast<size_t>(config_.tail.max_open_files);
    } else {
      uint64_t reserve = std::max<uint64_t>(64, soft / 8);
      max_open_files_ = soft > reserve + 16 ? static_cast<size_t>(soft - reserve) : std::max<size_t>(4, soft / 2);
    }
    max_open_files_gauge_->Set(static_cast<double>(max_open_files_));
    spdlog::info("at most {} log files open at once (RLIMIT_NOFILE soft limit {}; shipper.max_open_files{})",
                 max_open_files_, soft, config_.tail.max_open_files > 0 ? "" : " = 0: derived");
    TakeReserveFds();
  }
  batches_.resize(config_.clients.size());
  for (size_t i = 0; i < config_.clients.size(); ++i) {
    int fd = wake_fd_;
    clients_.push_back(std::make_unique<Client>(static_cast<int>(i), config_.clients[i],
        NewCurlHttpSender(config_.clients[i]), clock_, metrics_, [fd] {
          uint64_t one = 1;
          (void)!write(fd, &one, sizeof(one));
        }));
  }
  if (need_kube_) {
    // The first kubernetes_sd_configs entry with an api_server decides where to connect;
    // without one, the in-cluster service (as Prometheus/Promtail do).
    const KubeSdConfig* sd = nullptr;
    for (const auto& s : scrapes_) {
      for (const auto& k : s.config->kube_sd) {
        if (!sd || (sd->api_server.empty() && !k.api_server.empty())) sd = &k;
      }
    }
    Result<KubeClientConfig> kc = InvalidArgument("unset");
    if (sd && !sd->api_server.empty()) {
      KubeClientConfig c;
      c.api_server = sd->api_server;
      c.token_file = sd->bearer_token_file;
      c.ca_file = sd->ca_file;
      c.insecure_skip_verify = sd->insecure_skip_verify;
      c.node_name = config_.tail.node_name;
      kc = std::move(c);
    } else {
      kc = InClusterConfig(config_.tail.node_name);
      if (kc.ok() && sd) {
        if (!sd->bearer_token_file.empty()) kc->token_file = sd->bearer_token_file;
        if (!sd->ca_file.empty()) kc->ca_file = sd->ca_file;
        kc->insecure_skip_verify = sd->insecure_skip_verify;
      }
    }
    if (!kc.ok()) {
      spdlog::warn("kubernetes_sd_configs: {}; continuing with labels from the log paths only", kc.status().message());
    } else {
      auto pm = PodMetadata::Start(*kc, clock_);
      if (!pm.ok()) spdlog::warn("kubernetes_sd_configs: {}; continuing without pod metadata", pm.status().message());
      else pods_ = std::move(pm).value();
    }
  }
  bool any_pods = false;
  GlobTreeOptions go;
  go.max_watches = config_.tail.max_watches;
  for (const auto& s : scrapes_) {
    if (s.kind == Scrape::kPods) any_pods = true;
    for (const auto& g : s.groups) go.globs.push_back(g.path);
  }
  if (any_pods) {
    PodTreeOptions to;
    to.root = config_.tail.pods_root;
    to.max_watches = config_.tail.max_watches;
    ASSIGN_OR_RETURN(tree_, PodTree::Create(to, this));
  }
  if (!go.globs.empty()) {
    glob_listener_.a = this;
    ASSIGN_OR_RETURN(glob_tree_, GlobTree::Create(std::move(go), &glob_listener_));
  }
  return Status::OK();
}

std::string AgentImpl::Readiness() const {
  int64_t now = clock_.MonotonicNanos();
  if (!ready_scan_) return "initial scan of the pods root not finished";
  if (now - heartbeat_mono_.load() > 10 * kNanosPerSecond) return "event loop stalled";
  if (!positions_ok_) return "cannot write the positions file " + config_.positions.filename;
  int64_t fd_ex = fd_exhausted_mono_.load();
  if (fd_starved_.load() || (fd_ex > 0 && now - fd_ex < 5 * kNanosPerSecond)) {
    std::lock_guard<std::mutex> l(fd_reason_mu_);
    return fd_reason_;
  }
  int64_t oldest = oldest_unacked_ns_.load();
  if (oldest > 0 && now - oldest > 60 * kNanosPerSecond) {
    return "a batch has waited more than 60s for the store's acknowledgement";
  }
  return "ok";
}

std::shared_ptr<Target> AgentImpl::MakeTarget(DirState& d, const std::string& canonical, bool plain) {
  for (size_t i = 0; i < scrapes_.size(); ++i) {
    const Scrape& s = scrapes_[i];
    auto labels = ScrapeTargetLabels(s, d.from_pods && !plain ? &d.info : nullptr, canonical,
                                     config_.tail.node_name, pods_.get());
    if (!labels) continue;
    auto t = std::make_shared<Target>();
    t->labels = std::move(*labels);
    t->scrape = i;
    t->raw = s.kind == Scrape::kFiles && !s.decode_container;
    for (const auto& c : config_.clients) {
      std::array<std::string, kStreamCount> r;
      for (int st = 0; st < kStreamCount; ++st) {
        LabelMap l;
        for (const auto& [k, v] : c.external_labels) l[k] = v;
        for (const auto& [k, v] : t->labels) l[k] = v;
        l["stream"] = std::string(StreamName(static_cast<StreamIndex>(st)));
        r[st] = RenderLabels(l);
      }
      t->rendered.push_back(std::move(r));
    }
    return t;
  }
  return nullptr;  // dropped by every scrape config
}

void AgentImpl::OnContainerAdded(const ContainerDir& c) {
  bool known = dirs_.count(c.path) > 0;
  DirState& d = dirs_[c.path];
  if (c.from_glob) {
    d.from_glob = true;
    if (!d.from_pods) d.info = c;
  } else {
    d.from_pods = true;
    d.info = c;
  }
  d.removed = false;
  if (!known && !initial_scan_done_) {
    d.first_start = true;
    for (auto it = loaded_.lower_bound(c.path + "/"); it != loaded_.end() && it->first.rfind(c.path + "/", 0) == 0;
         ++it) {
      if (it->second.identity) d.first_start = false;
    }
  }
  if (d.deferred) return;
  if (!c.from_glob && need_kube_ && pods_ && !pods_->Lookup(c.pod.ns, c.pod.pod, c.pod.uid, c.container)) {
    d.deferred = true;
    d.deferred_since = clock_.MonotonicNanos();
    return;
  }
  RescanDir(d);
}

void AgentImpl::OnDirRemoved(const std::string& path, bool glob) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) return;
  (glob ? it->second.from_glob : it->second.from_pods) = false;
  if (it->second.from_glob || it->second.from_pods) return;  // the other discovery still has it
  it->second.removed = true;
  // The files are unlinked: drain what the open fds still hold. A suspended (idle-closed)
  // file had nothing in flight: if it is gone it is retired with its position (if it is still
  // there, the directory was re-reported and the next rescan finds it again).
  std::vector<FileState*> gone;
  for (auto& [name, f] : it->second.by_name) {
    struct stat st;
    if (f->reader->suspended()) {
      if (stat(f->path.c_str(), &st) != 0 || f->reader->SameFile(f->path, st) == 0) gone.push_back(f);
      continue;
    }
    f->in_listing = false;
    Enqueue(f);
  }
  for (FileState* f : gone) RetireFile(f);
}

void AgentImpl::OnContainerChanged(const std::string& path) {
  auto it = dirs_.find(path);
  if (it == dirs_.end() || it->second.deferred) return;
  RescanDir(it->second);
}

void AgentImpl::OnFileModified(const std::string& dir, const std::string& name) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end()) return;
  auto f = it->second.by_name.find(name);
  if (f != it->second.by_name.end()) {
    Enqueue(f->second);
    return;
  }
  // Writes to files no glob takes (a busy /var/log/syslog beside /var/log/*.log): nothing to do.
  if (!name.empty() && !ClassifyName(it->second, name, false)) return;
  for (auto& [n, fs] : it->second.by_name) Enqueue(fs);  // renamed meanwhile: read them all
}

void AgentImpl::Enqueue(FileState* f) {
  if (f->queued || f->waiting_fd || f->drained || !f->reader) return;
  if (!f->reader->open() && !(f->reader->suspended() && f->in_listing)) return;
  f->queued = true;
  run_queue_.push_back(f);
}

std::optional<LogFileName> AgentImpl::ClassifyName(const DirState& d, const std::string& name, bool order) const {
  if (d.from_pods) {
    if (auto f = ParseLogFileName(name)) return f;
  }
  if (!d.from_glob || name.empty()) return std::nullopt;
  const std::string& dir = d.info.path;
  if (GlobTakes(dir + "/" + name)) {
    LogFileName f;
    f.base = name;
    f.plain = true;
    return f;
  }
  std::string_view rest = name;
  bool gz = rest.size() > 3 && rest.substr(rest.size() - 3) == ".gz";
  if (gz) rest.remove_suffix(3);
  // The longest base first: "x.log.1" is a generation of "x.log" before one of "x".
  for (size_t i = gz ? rest.size() : rest.size() - 1; i >= 1; --i) {
    if (i < rest.size() && rest[i] != '.' && rest[i] != '-') continue;
    std::string base(rest.substr(0, i));
    if (!GlobTakes(dir + "/" + base)) continue;
    LogFileName f;
    f.base = std::move(base);
    f.plain = true;
    f.generation = gz ? Generation::kGzip : Generation::kRotated;
    struct stat st;
    int64_t mtime = order && stat((dir + "/" + name).c_str(), &st) == 0
                        ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec
                        : 0;
    f.rotated_at = fmt::format("{:020d}", mtime);
    return f;
  }
  return std::nullopt;
}

bool AgentImpl::GlobTakes(const std::string& path) const {
  for (const Scrape& s : scrapes_) {
    for (const FileGroup& g : s.groups) {
      if (g.path.Matches(path) && !(g.exclude && g.exclude->Matches(path))) return true;
    }
  }
  return false;
}

std::optional<PositionEntry> AgentImpl::TakeCopyPosition(DirState& d, const LogFileName& fname, int fd,
                                                         const struct stat& st) {
  auto same_head = [&](const PositionEntry& e) {
    if (!e.identity || e.identity->fp_len == 0) return false;
    uint64_t h = 0;
    return HashPrefixFd(fd, e.identity->fp_len, &h) && h == e.identity->fp_hash &&
           static_cast<uint64_t>(st.st_size) >= e.offset;
  };
  for (auto it = d.gone.begin(); it != d.gone.end(); ++it) {
    if (it->base == fname.base && same_head(it->entry)) {
      PositionEntry e = it->entry;
      d.gone.erase(it);
      return e;
    }
  }
  const std::string prefix = d.info.path + "/";
  for (auto it = loaded_.lower_bound(prefix); it != loaded_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    std::string name = it->first.substr(prefix.size());
    if (name.find('/') != std::string::npos) continue;
    auto f = ClassifyName(d, name, false);
    if (!f || f->base != fname.base || !same_head(it->second)) continue;
    if (it->second.identity->ino == static_cast<uint64_t>(st.st_ino)) continue;  // not a copy
    PositionEntry e = it->second;
    loaded_.erase(it);
    return e;
  }
  return std::nullopt;
}

std::optional<PositionEntry> AgentImpl::TakeLoadedPlain(DirState& d, const std::string& path, int fd,
                                                        const struct stat& st) {
  const std::string& dir = d.info.path;
  // 1) By identity (survives renames): same (dev, inode) and the same head.
  for (auto it = loaded_.lower_bound(dir + "/"); it != loaded_.end() && it->first.rfind(dir + "/", 0) == 0; ++it) {
    const PositionEntry& e = it->second;
    if (!e.identity || e.identity->dev != static_cast<uint64_t>(st.st_dev) ||
        e.identity->ino != static_cast<uint64_t>(st.st_ino)) {
      continue;
    }
    uint64_t h = 0;
    bool same = e.identity->fp_len == 0 ||
                (HashPrefixFd(fd, e.identity->fp_len, &h) && h == e.identity->fp_hash);
    PositionEntry r = e;
    std::string old_path = it->first;
    loaded_.erase(it);
    if (!same) {
      // Inode reused by a new file, or truncated and regrown (copytruncate while the shipper
      // was down): read it from 0; a copy of the old content may still turn up.
      GoneRecord g{old_path, r, ""};
      if (auto f = ClassifyName(d, old_path.substr(old_path.rfind('/') + 1), false)) g.base = f->base;
      d.gone.push_back(std::move(g));
      EvictGone(d, 16);
      return std::nullopt;
    }
    return r;
  }
  // 2) A Promtail-written entry (no identity): by path, trusted if the file is long enough.
  auto it = loaded_.find(path);
  if (it != loaded_.end() && !it->second.identity) {
    PositionEntry r = it->second;
    loaded_.erase(it);
    if (static_cast<uint64_t>(st.st_size) >= r.offset) return r;
  }
  return std::nullopt;
}

void AgentImpl::OpenFile(DirState& d, const std::string& name, const LogFileName& fname, const struct stat& st) {
  std::string path = d.info.path + "/" + name;
  if (!MakeRoomForFd()) {
    // Every open file is busy: try again when one goes idle (next poll tick).
    retry_dirs_.insert(d.info.path);
    return;
  }
  std::string canonical = CanonicalPath(d.info.path, fname);
  std::shared_ptr<Target> target;
  // Generations of one file share the target of the current file.
  for (auto& [n, f] : d.by_name) {
    if (f->fname.base == fname.base && f->target) {
      target = f->target;
      break;
    }
  }
  if (!target) target = MakeTarget(d, canonical, fname.plain);
  if (!target) {
    d.ignored.insert({st.st_dev, st.st_ino, name});  // dropped by relabeling: not tailed
    return;
  }
  uint64_t offset = 0;
  bool found_position = false;
  bool gzip = fname.generation == Generation::kGzip;
  if (gzip) {
    auto id = IdentifyPath(path, true);
    if (!id.ok()) return;  // still being written (kubelet writes .tmp then renames) or corrupt
    auto content_match = [&](const FileIdentity& stored) {
      if (stored.fp_len == 0 || stored.fp_len > id->fp_len) return false;
      if (stored.fp_len == id->fp_len) return stored.fp_hash == id->fp_hash;
      uint64_t h;
      return HashPrefixGzip(path, stored.fp_len, &h) && h == stored.fp_hash;
    };
    // A compressed copy of a file we still read: ignore it.
    for (auto& [n, f] : d.by_name) {
      if (f->reader && !f->reader->gzip() && content_match(f->reader->identity())) {
        d.ignored.insert({st.st_dev, st.st_ino, name});
        return;
      }
    }
    found_position = false;
    bool& found = found_position;
    for (auto it = d.gone.begin(); it != d.gone.end(); ++it) {
      if (it->entry.identity && content_match(*it->entry.identity)) {
        offset = it->entry.offset;
        d.gone.erase(it);
        found = true;
        break;
      }
    }
    if (!found) {
      for (auto it = loaded_.lower_bound(d.info.path + "/");
           it != loaded_.end() && it->first.rfind(d.info.path + "/", 0) == 0; ++it) {
        if (it->second.identity && content_match(*it->second.identity)) {
          offset = it->second.offset;
          loaded_.erase(it);
          found = true;
          break;
        }
      }
    }
  }
  std::unique_ptr<FileReader> reader;
  if (!gzip) {
    // Look up the offset with an fd on this very inode.
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      NoteOpenError(d, path, errno);
      return;
    }
    auto e = TakeLoadedPlain(d, path, fd, st);
    if (!e && fname.plain && fname.generation != Generation::kCurrent) {
      e = TakeCopyPosition(d, fname, fd, st);
      // Not decided yet (not opened, not ignored: looked at again at the next scan): an empty
      // rotated file, or one whose head is the head of a file being read, may be a
      // copytruncate copy in progress; once the original's truncation is seen, the copy is
      // read from where the original was (TakeCopyPosition).
      bool maybe_copy = !e && st.st_size == 0;
      for (auto& [n, f] : d.by_name) {
        if (e || maybe_copy) break;
        if (f->fname.base != fname.base || !f->reader || f->reader->gzip()) continue;
        const FileIdentity& id = f->reader->identity();
        uint64_t h = 0;
        maybe_copy = id.fp_len > 0 && HashPrefixFd(fd, id.fp_len, &h) && h == id.fp_hash;
      }
      if (maybe_copy) {
        close(fd);
        return;
      }
    }
    close(fd);
    if (e) offset = e->offset;
    found_position = e.has_value();
  }
  if (d.first_start && fname.generation != Generation::kCurrent && !found_position) {
    // Tracked from its end (not ignored), so the positions file remembers it as read and a
    // restart does not read it either. A gzip reader skips to its decompressed end.
    spdlog::info("{}: rotated before the shipper first saw this container; not read (as Promtail)", path);
    offset = gzip ? UINT64_MAX : static_cast<uint64_t>(st.st_size);
  }
  ReaderOptions ro = reader_options_;
  ro.raw = target->raw;
  auto r = FileReader::Open(path, gzip, offset, ro);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return;
    int err = FileReader::LastOpenErrno();
    if (err != 0) {
      NoteOpenError(d, path, err);
    } else {
      spdlog::warn("cannot open {}: {}", path, r.status().message());
    }
    return;
  }
  reader = std::move(r).value();
  auto fs = std::make_unique<FileState>();
  fs->id = NewId();
  fs->dir = d.info.path;
  fs->name = name;
  fs->path = path;
  fs->fname = fname;
  fs->tracker = OffsetTracker(reader->consumed());
  fs->reader = std::move(reader);
  fs->target = std::move(target);
  for (int s = 0; s < kStreamCount; ++s) {
    MetricLabels ml = {{"path", canonical}, {"stream", std::string(StreamName(static_cast<StreamIndex>(s)))}};
    fs->metrics[s].read_lines = metrics_.GetCounter("logq_shipper_read_lines_total", "Log records read.", ml);
    fs->metrics[s].read_bytes = metrics_.GetCounter("logq_shipper_read_bytes_total", "Bytes of log records read (message bytes).", ml);
    fs->metrics[s].sent_entries = metrics_.GetCounter("logq_shipper_sent_entries_total", "Entries acknowledged by the store.", ml);
    fs->metrics[s].sent_bytes = metrics_.GetCounter("logq_shipper_sent_bytes_total", "Line bytes acknowledged by the store.", ml);
  }
  fs->truncated_lines = metrics_.GetCounter("logq_shipper_truncated_lines_total",
      "Records longer than max_line_size, truncated with a marker.", {{"path", canonical}});
  if (offset > 0) spdlog::debug("resuming {} at offset {}", path, fs->reader->consumed());
  FileState* raw = fs.get();
  raw->last_active_mono = clock_.MonotonicNanos();
  ++open_fds_;
  by_id_[raw->id] = raw;
  d.by_name[name] = raw;
  files_.push_back(std::move(fs));
  Enqueue(raw);
}

void AgentImpl::RescanDir(DirState& d) {
  std::vector<std::pair<std::string, LogFileName>> names;
  DIR* dir = opendir(d.info.path.c_str());
  if (!dir) {
    // A failed listing is not an empty directory: keep every file as it is (open ones are
    // still read through their fds). EACCES: the tree polls the directory until it can be
    // listed and reports it in logq_shipper_unreadable_dirs.
    int err = errno;
    if (err == EMFILE || err == ENFILE) {
      NoteFdExhausted(d.info.path, err);
      retry_dirs_.insert(d.info.path);
      return;
    }
    if (err != ENOENT && err != ENOTDIR) {
      ReportListing(d.info.path, err, "");
      return;
    }
    // Gone: every file is unlinked (drained below through its fd).
  } else {
    while (struct dirent* e = readdir(dir)) {
      auto f = ClassifyName(d, e->d_name, true);
      if (f) names.emplace_back(e->d_name, *f);
    }
    closedir(dir);
  }
  open_error_ = 0;
  open_error_what_.clear();
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
    return GenerationOrderKey(a.second) < GenerationOrderKey(b.second);
  });
  // Suspended (idle-closed) files are found again by (dev, inode) AND head fingerprint under
  // any listed name. One that is not listed any more was deleted (or its inode reused): it
  // had nothing in flight, so it is retired now with its position as a "gone" record, before
  // the .gz generations below are matched against the gone records.
  std::map<FileState*, std::string> suspended_at;  // suspended file → listed name
  {
    std::vector<FileState*> vanished;
    for (auto& [n, f] : d.by_name) {
      if (!f->reader->suspended()) continue;
      bool found = false;
      for (const auto& [name, fname] : names) {
        std::string path = d.info.path + "/" + name;
        struct stat st;
        if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        int same = f->reader->SameFile(path, st);
        if (same < 0) {
          // Cannot tell (out of fds, no permission): leave the directory as it is for now.
          if (-same == EMFILE || -same == ENFILE) NoteFdExhausted(path, -same);
          else ReportListing(d.info.path, -same, path);
          retry_dirs_.insert(d.info.path);
          return;
        }
        if (same == 1) {
          suspended_at[f] = name;
          found = true;
          break;
        }
      }
      if (!found) vanished.push_back(f);
    }
    for (FileState* f : vanished) {
      spdlog::debug("{}: deleted or replaced while closed as idle", f->path);
      RetireFile(f);
    }
    if (!vanished.empty()) d.ignored.clear();  // a .gz copy of it may now be the only copy
  }
  // Index live files by inode.
  // Only files we hold open can be matched by inode: once an fd is closed, the inode number
  // may be reused by a new file (kubelet deletes a generation, the runtime creates 0.log).
  // A finished gzip generation (closed) is matched by inode AND name.
  std::map<std::pair<uint64_t, uint64_t>, FileState*> by_ino;
  std::map<std::string, FileState*> closed_by_name;
  for (auto& [n, f] : d.by_name) {
    f->in_listing = false;
    if (f->reader->open()) by_ino[{f->reader->identity().dev, f->reader->identity().ino}] = f;
    else if (!f->reader->suspended()) closed_by_name[f->name] = f;
  }
  std::map<std::string, FileState*> suspended_by_name;
  for (auto& [f, name] : suspended_at) suspended_by_name[name] = f;
  std::map<std::string, FileState*> by_name;
  std::set<std::tuple<uint64_t, uint64_t, std::string>> ignored_seen;
  for (auto& [name, fname] : names) {
    struct stat st;
    std::string path = d.info.path + "/" + name;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::pair<uint64_t, uint64_t> key{st.st_dev, st.st_ino};
    if (auto sp = suspended_by_name.find(name); sp != suspended_by_name.end()) {
      FileState* f = sp->second;
      if (f->name != name) {  // renamed (rotation) while closed
        f->name = name;
        f->path = path;
        f->fname = fname;
      }
      f->in_listing = true;
      by_name[name] = f;
      Enqueue(f);  // reopened if it grew
      continue;
    }
    auto it = by_ino.find(key);
    if (it == by_ino.end()) {
      auto c = closed_by_name.find(name);
      if (c != closed_by_name.end() && c->second->reader->identity().ino == key.second &&
          c->second->reader->identity().dev == key.first && c->second->reader->gzip()) {
        c->second->in_listing = true;
        by_name[name] = c->second;
        continue;
      }
    }
    if (it != by_ino.end()) {
      FileState* f = it->second;
      if (f->name != name) {  // renamed (rotation)
        f->name = name;
        f->path = path;
        f->fname = fname;
      }
      f->in_listing = true;
      by_name[name] = f;
      Enqueue(f);
      continue;
    }
    std::tuple<uint64_t, uint64_t, std::string> ikey{key.first, key.second, name};
    if (d.ignored.count(ikey)) {
      ignored_seen.insert(ikey);
      continue;
    }
    OpenFile(d, name, fname, st);
    auto nf = d.by_name.find(name);
    if (nf != d.by_name.end() && nf->second->reader &&
        nf->second->reader->identity().ino == st.st_ino) {
      nf->second->in_listing = true;
      by_name[name] = nf->second;
      by_ino[key] = nf->second;
    } else if (d.ignored.count(ikey)) {
      ignored_seen.insert(ikey);
    }
  }
  // Files no longer listed: unlinked (drained through the fd) or finished gzip copies.
  for (auto& [n, f] : d.by_name) {
    if (!f->in_listing) {
      std::string key = "~gone~" + std::to_string(f->id);
      by_name[key] = f;
      Enqueue(f);
    }
  }
  d.by_name = std::move(by_name);
  d.ignored = std::move(ignored_seen);
  // A file that could not be opened for lack of permission makes the directory unreadable
  // for the tree (polled, so the open is retried every poll interval); all opened: readable.
  ReportListing(d.info.path, open_error_ == EACCES || open_error_ == EPERM ? open_error_ : 0,
                       open_error_what_);
}

void AgentImpl::ReadSome() {
  int64_t budget = 8 << 20;
  int64_t now_wall = clock_.NowNanos();
  while (budget > 0 && !run_queue_.empty() && !Backpressured()) {
    FileState* f = run_queue_.front();
    run_queue_.pop_front();
    f->queued = false;
    if (f->drained || !f->reader) continue;
    if (f->reader->suspended() && !ResumeIfGrown(f)) continue;
    if (!f->reader->open()) continue;
    uint64_t before = f->reader->read_offset();
    recs_.clear();
    ReadStatus s = f->reader->ReadOnce(&recs_, now_wall, clock_.MonotonicNanos());
    budget -= static_cast<int64_t>(f->reader->read_offset() - before) + 4096;
    if (s == ReadStatus::kTruncated) {
      truncations_->Inc();
      spdlog::warn("{} was truncated or replaced in place (copytruncate?): reading it again from the start", f->path);
      if (f->fname.plain) {
        // logrotate's copytruncate: the copy (x.log.1, x.log-DATE) holds the lines written
        // between our last read and the truncation. Remember where we were in the old content;
        // the directory's next scan matches the copy by its head and reads it from there.
        auto dit = dirs_.find(f->dir);
        if (dit != dirs_.end()) {
          GoneRecord g;
          g.path = f->path;
          g.base = f->fname.base;
          g.entry.offset = f->reader->consumed();
          g.entry.identity = f->reader->identity();
          g.entry.size = static_cast<int64_t>(f->reader->consumed());  // the old size is unknown
          dit->second.gone.push_back(std::move(g));
          EvictGone(dit->second, 16);
          dit->second.ignored.clear();
          rescan_dirs_.insert(f->dir);
        }
      }
      by_id_[f->id] = nullptr;  // acks of the old content no longer move this file's position
      f->id = NewId();
      by_id_[f->id] = f;
      f->reader->RestartFromZero();
      f->tracker = OffsetTracker(0);
      Enqueue(f);
      continue;
    }
    if (s == ReadStatus::kError) {
      spdlog::error("reading {}: {}", f->path, f->reader->error());
      FinishFile(f);
      continue;
    }
    HandleRecords(*f, recs_);
    if (s == ReadStatus::kData) {
      f->last_active_mono = clock_.MonotonicNanos();
      Enqueue(f);
      continue;
    }
    // EOF: a gzip generation is complete; an unlinked file is complete.
    if (f->reader->gzip() || f->reader->unlinked() || !f->in_listing) FinishFile(f);
  }
  paused_->Set(Backpressured() && !run_queue_.empty() ? 1 : 0);
  journal_more_ = ReadJournals();
}

bool AgentImpl::ReadJournals() {
  bool more = false;
  for (auto& jp : journals_) {
    JournalState& j = *jp;
    int n = 0;
    for (; n < 1000 && !Backpressured(); ++n) {
      JournalEntry e;
      auto r = j.reader->Next(&e);
      if (!r.ok()) {
        int64_t now = clock_.MonotonicNanos();
        if (j.last_error_log_mono == 0 || now - j.last_error_log_mono > 10 * kNanosPerSecond) {
          j.last_error_log_mono = now;
          spdlog::error("scrape config \"{}\": {}", scrapes_[j.scrape].config->job_name, r.status().message());
        }
        break;
      }
      if (!*r) break;
      journal_entries_->Inc();
      uint64_t seq = j.next++;
      j.tracker.Add(seq, seq + 1, 0);
      j.tracker.SetConsumed(j.next);
      j.cursors.emplace_back(seq + 1, std::move(e.cursor));
      HandleJournalEntry(j, seq, e);
    }
    if (n == 1000) more = true;
    AdvanceCursor(j);
  }
  return more;
}

void AgentImpl::HandleJournalEntry(JournalState& j, uint64_t seq, JournalEntry& e) {
  Scrape& sc = scrapes_[j.scrape];
  const JournalConfig& jc = sc.config->journal;
  LabelMap labels;
  std::string message;
  bool has_message = false;
  for (auto& [k, v] : e.fields) {
    std::string lower = k;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (k == "PRIORITY") labels["__journal_priority_keyword"] = JournalPriorityKeyword(v);
    if (k == "MESSAGE" && !jc.json) {
      message = v;
      has_message = true;
    }
    labels["__journal_" + lower] = v;
  }
  if (jc.json) {
    // Every field as a JSON object, keys sorted (as Go's encoding/json writes a map).
    std::map<std::string, std::string> sorted(e.fields.begin(), e.fields.end());
    message = "{";
    bool first = true;
    for (const auto& [k, v] : sorted) {
      if (!first) message += ',';
      first = false;
      AppendJsonString(&message, k);
      message += ':';
      AppendJsonString(&message, v);
    }
    message += '}';
    has_message = true;
  }
  for (const auto& [k, v] : jc.labels) labels[k] = v;
  bool keep = true;
  if (sc.has_relabel) {
    keep = Relabel(sc.relabel, labels);
    if (keep) RemoveInternalLabels(labels);
  } else {
    for (auto it = labels.begin(); it != labels.end();) {
      it = it->first.rfind("__", 0) == 0 ? labels.erase(it) : std::next(it);
    }
  }
  // As Promtail: no MESSAGE (and not json), or no label left → not sent.
  if (!has_message || !keep || labels.empty()) {
    j.tracker.Emitted(seq + 1, 0);
    return;
  }
  if (sc.has_pipeline) {
    LogEntry le;
    le.timestamp_ns = e.realtime_ns;
    le.line = std::move(message);
    le.labels = std::move(labels);
    le.cursor.file_id = j.id;
    le.cursor.end_offset = seq + 1;
    sc.pipeline->Process(std::move(le), *this);
    return;
  }
  EntryRef ref{j.id, seq + 1, static_cast<uint32_t>(message.size()), 0};
  size_t n = clients_.size();
  for (size_t c = 0; c < n; ++c) {
    LabelMap l;
    for (const auto& [k, v] : config_.clients[c].external_labels) l[k] = v;
    for (const auto& [k, v] : labels) l[k] = v;
    std::string line = c + 1 == n ? std::move(message) : message;
    AddToBatch(c, "", RenderLabels(l), e.realtime_ns, std::move(line), {}, ref);
  }
  j.tracker.Emitted(seq + 1, static_cast<int>(n));
}

void AgentImpl::AdvanceCursor(JournalState& j) {
  uint64_t committed = j.tracker.Committed();
  while (!j.cursors.empty() && j.cursors.front().first <= committed) {
    j.committed_cursor = std::move(j.cursors.front().second);
    j.cursors.pop_front();
  }
}

void AgentImpl::FinishFile(FileState* f) {
  recs_.clear();
  f->reader->FinishAtEof(&recs_, clock_.NowNanos());
  HandleRecords(*f, recs_);
  // Only this file's held entries: other files' multiline blocks stay whole.
  if (scrapes_[f->target->scrape].pipeline) scrapes_[f->target->scrape].pipeline->FlushFile(f->id, *this);
  if (f->reader->open() && open_fds_ > 0) --open_fds_;
  f->reader->CloseFd();
  f->drained = true;
}

void AgentImpl::HandleRecords(FileState& f, std::vector<Record>& recs) {
  if (f.reader->truncated_lines() != f.truncated_seen) {
    f.truncated_lines->Inc(static_cast<double>(f.reader->truncated_lines() - f.truncated_seen));
    f.truncated_seen = f.reader->truncated_lines();
  }
  Scrape& sc = scrapes_[f.target->scrape];
  for (Record& r : recs) {
    f.metrics[r.stream].read_lines->Inc();
    f.metrics[r.stream].read_bytes->Inc(static_cast<double>(r.line.size()));
    f.tracker.Add(r.start_offset, r.end_offset, r.stream);
    if (!sc.has_pipeline) {
      // Fast path: labels are fixed per (file, stream).
      EntryRef ref{f.id, r.end_offset, static_cast<uint32_t>(r.line.size()), static_cast<uint8_t>(r.stream)};
      size_t n = clients_.size();
      for (size_t c = 0; c < n; ++c) {
        std::string line = c + 1 == n ? std::move(r.line) : r.line;
        AddToBatch(c, "", f.target->rendered[c][r.stream], r.timestamp_ns, std::move(line), {}, ref);
      }
      f.tracker.Emitted(r.end_offset, static_cast<int>(n));
      continue;
    }
    LogEntry e;
    e.timestamp_ns = r.timestamp_ns;
    e.line = std::move(r.line);
    e.labels = f.target->labels;
    e.labels["stream"] = std::string(StreamName(r.stream));
    e.cursor.file_id = f.id;
    e.cursor.end_offset = r.end_offset;
    sc.pipeline->Process(std::move(e), *this);
  }
  f.tracker.SetConsumed(f.reader->consumed());
  f.tracker.SetPendingStart(f.reader->PendingStart());
}

void AgentImpl::Dispatch(LogEntry&& e) {
  auto it = by_id_.find(e.cursor.file_id);
  FileState* f = it == by_id_.end() ? nullptr : it->second;
  uint8_t stream = 0;
  if (auto s = e.labels.find("stream"); s != e.labels.end() && s->second == "stderr") stream = 1;
  EntryRef ref{e.cursor.file_id, e.cursor.end_offset, static_cast<uint32_t>(e.line.size()), stream};
  std::vector<Label> md;
  for (auto& [k, v] : e.structured_metadata) md.push_back(Label{k, v});
  size_t n = clients_.size();
  for (size_t c = 0; c < n; ++c) {
    std::string rendered;
    if (f && f->cache_labels == e.labels && f->cache_rendered.size() == n) {
      rendered = f->cache_rendered[c];
    } else {
      LabelMap l;
      for (const auto& [k, v] : config_.clients[c].external_labels) l[k] = v;
      for (const auto& [k, v] : e.labels) l[k] = v;
      rendered = RenderLabels(l);
      if (f) {
        if (c == 0) {
          f->cache_labels = e.labels;
          f->cache_rendered.clear();
        }
        f->cache_rendered.push_back(rendered);
      }
    }
    std::string line = c + 1 == n ? std::move(e.line) : e.line;
    AddToBatch(c, e.tenant, rendered, e.timestamp_ns, std::move(line), c + 1 == n ? std::move(md) : md, ref);
  }
  if (f) f->tracker.Emitted(e.cursor.end_offset, static_cast<int>(n));
  else if (OffsetTracker* t = TrackerFor(e.cursor.file_id)) t->Emitted(e.cursor.end_offset, static_cast<int>(n));
}

void AgentImpl::AddToBatch(size_t c, const std::string& tenant, const std::string& labels, int64_t ts,
                           std::string line, std::vector<Label> md, const EntryRef& ref) {
  auto& slot = batches_[c][tenant];
  if (!slot) slot = std::make_unique<Batch>(tenant, clock_.MonotonicNanos());
  size_t add = slot->SizeOf(labels, line, md);
  if (!slot->empty() && slot->encoded_bytes() + add > config_.clients[c].batch_size_bytes) {
    clients_[c]->Enqueue(std::move(slot));
    slot = std::make_unique<Batch>(tenant, clock_.MonotonicNanos());
  }
  pending_bytes_ += static_cast<int64_t>(line.size()) + 64;
  slot->Add(labels, ts, std::move(line), std::move(md), ref);
}

void AgentImpl::FlushBatches(bool all) {
  int64_t now = clock_.MonotonicNanos();
  for (size_t c = 0; c < batches_.size(); ++c) {
    for (auto& [tenant, b] : batches_[c]) {
      if (!b || b->empty()) continue;
      if (all || now - b->created_mono() >= config_.clients[c].batch_wait_ns) {
        clients_[c]->Enqueue(std::move(b));
      }
    }
  }
}

void AgentImpl::ProcessResults() {
  uint64_t v;
  while (read(wake_fd_, &v, sizeof(v)) > 0) {
  }
  std::vector<BatchResult> results;
  for (auto& c : clients_) c->TakeResults(&results);
  FileState* last_touched = nullptr;
  bool journals_touched = false;
  for (BatchResult& r : results) {
    Counter* de = nullptr;
    Counter* db = nullptr;
    if (!r.delivered) {
      auto& e = drop_entries_[r.reason];
      if (!e) {
        e = metrics_.GetCounter("logq_shipper_dropped_entries_total",
                                "Entries dropped (not retried), by reason.", {{"reason", r.reason}});
        drop_bytes_[r.reason] = metrics_.GetCounter("logq_shipper_dropped_bytes_total",
                                                    "Line bytes dropped (not retried), by reason.", {{"reason", r.reason}});
      }
      de = e;
      db = drop_bytes_[r.reason];
    }
    for (const EntryRef& ref : r.refs) {
      pending_bytes_ -= static_cast<int64_t>(ref.bytes) + 64;
      if (de) {
        de->Inc();
        db->Inc(ref.bytes);
      }
      auto it = by_id_.find(ref.file_id);
      if (it == by_id_.end() || !it->second) {
        if (auto j = journal_by_id_.find(ref.file_id); j != journal_by_id_.end()) {
          j->second->tracker.Done(ref.end_offset);
          journals_touched = true;
        }
        continue;
      }
      FileState* f = it->second;
      if (r.delivered) {
        f->metrics[ref.stream].sent_entries->Inc();
        f->metrics[ref.stream].sent_bytes->Inc(ref.bytes);
      }
      f->tracker.Done(ref.end_offset);
      if (f != last_touched) {
        if (last_touched) last_touched->tracker.Committed();  // frees the done slots
        last_touched = f;
      }
    }
  }
  if (last_touched) last_touched->tracker.Committed();
  if (journals_touched) {
    for (auto& j : journals_) AdvanceCursor(*j);
  }
  if (pending_bytes_ < 0) pending_bytes_ = 0;
}

void AgentImpl::EvictGone(DirState& d, size_t keep) {
  while (d.gone.size() > keep) {
    const GoneRecord& g = d.gone.front();
    if (g.entry.size > static_cast<int64_t>(g.entry.offset)) {
      int64_t lost = g.entry.size - static_cast<int64_t>(g.entry.offset);
      unread_bytes_->Inc(static_cast<double>(lost));
      spdlog::warn("{}: {} bytes were deleted before they could be read", g.path, lost);
    }
    d.gone.pop_front();
  }
}

void AgentImpl::RetireFile(FileState* f) {
  auto dit = dirs_.find(f->dir);
  if (dit != dirs_.end()) {
    DirState& d = dit->second;
    if (!f->reader->gzip()) {
      GoneRecord g;
      g.path = f->path;
      g.base = f->fname.base;
      g.entry.offset = f->tracker.Committed();
      g.entry.identity = f->reader->identity();
      g.entry.size = static_cast<int64_t>(f->reader->size());
      d.gone.push_back(std::move(g));
      EvictGone(d, 16);
      if (f->fname.plain) {
        // A .gz (or copy) ignored as a copy of this file while it was read is matched against
        // the gone record now, so it is tracked (at its end) and the positions file knows it.
        d.ignored.clear();
        rescan_dirs_.insert(f->dir);
      }
    }
    for (auto it = d.by_name.begin(); it != d.by_name.end(); ++it) {
      if (it->second == f) {
        d.by_name.erase(it);
        break;
      }
    }
  }
  by_id_.erase(f->id);
  if (f->reader->open() && open_fds_ > 0) --open_fds_;
  for (auto it = run_queue_.begin(); it != run_queue_.end();) it = *it == f ? run_queue_.erase(it) : std::next(it);
  if (f->waiting_fd) {
    waiting_fd_.erase(std::remove(waiting_fd_.begin(), waiting_fd_.end(), f), waiting_fd_.end());
  }
  std::string canonical = CanonicalPath(f->dir, f->fname);
  files_.erase(std::remove_if(files_.begin(), files_.end(), [f](const auto& p) { return p.get() == f; }), files_.end());
  // The per-path series go away with the last generation of a file that no longer exists
  // (pod deleted, container restarted): otherwise every pod ever seen would stay in /metrics.
  bool shared = false;
  for (const auto& o : files_) shared = shared || CanonicalPath(o->dir, o->fname) == canonical;
  struct stat st;
  if (!shared && stat(canonical.c_str(), &st) != 0) RemovePathMetrics(canonical);
}

void AgentImpl::RemovePathMetrics(const std::string& canonical) {
  for (int s = 0; s < kStreamCount; ++s) {
    MetricLabels ml = {{"path", canonical}, {"stream", std::string(StreamName(static_cast<StreamIndex>(s)))}};
    for (const char* name : {"logq_shipper_read_lines_total", "logq_shipper_read_bytes_total",
                             "logq_shipper_sent_entries_total", "logq_shipper_sent_bytes_total"}) {
      metrics_.RemoveSeries(name, ml);
    }
  }
  metrics_.RemoveSeries("logq_shipper_truncated_lines_total", {{"path", canonical}});
}

void AgentImpl::MaybeSavePositions(bool force) {
  int64_t now = clock_.MonotonicNanos();
  if (!force && now - last_save_mono_ < config_.positions.sync_period_ns) return;
  last_save_mono_ = now;
  // Retire drained files whose every record is resolved, and drop directories that are gone.
  std::vector<FileState*> done;
  for (auto& f : files_) {
    f->tracker.SetConsumed(f->reader->consumed());
    f->tracker.SetPendingStart(f->reader->PendingStart());
    if (f->drained && f->tracker.pending_slots() == 0 && f->tracker.Committed() >= f->reader->consumed()) {
      // A finished gzip generation that still exists stays tracked (so it is not re-read).
      if (f->reader->gzip() && f->in_listing) continue;
      done.push_back(f.get());
    }
  }
  for (FileState* f : done) RetireFile(f);
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (it->second.removed && it->second.by_name.empty()) {
      // The pod's metadata is released once none of its container directories is left.
      const std::string& uid = it->second.info.pod.uid;
      bool last = true;
      for (const auto& [p, d] : dirs_) {
        if (&d != &it->second && d.info.pod.uid == uid) last = false;
      }
      if (pods_ && last && !uid.empty()) pods_->Release(uid);
      EvictGone(it->second, 0);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  PositionsData data;
  data.other = last_saved_.other;
  uint64_t lag = 0;
  for (auto& f : files_) {
    PositionEntry e;
    e.offset = f->tracker.Committed();
    e.identity = f->reader->identity();
    e.size = static_cast<int64_t>(f->reader->size());
    lag += f->reader->consumed() > e.offset ? f->reader->consumed() - e.offset : 0;
    data.files[f->path] = e;
  }
  for (auto& [p, d] : dirs_) {
    for (const auto& g : d.gone) {
      // logrotate reuses names (x.log.1): a live file may hold the gone one's path.
      std::string key = g.path;
      if (data.files.count(key) && g.entry.identity) key += "#" + std::to_string(g.entry.identity->ino);
      data.files.emplace(key, g.entry);
    }
  }
  for (auto& j : journals_) {
    AdvanceCursor(*j);
    if (!j->committed_cursor.empty()) data.other[j->key] = j->committed_cursor;
  }
  // Entries of the positions file not matched yet (before the first scan completes, or for
  // directories that no longer exist) are kept.
  for (const auto& [p, e] : loaded_) data.files.emplace(p, e);
  checkpoint_lag_bytes_->Set(static_cast<double>(lag));
  if (data == last_saved_ && positions_ok_) {
    last_save_ok_mono_ = now;
    return;
  }
  // The reserve fds are released for the write, so positions are saved even when the
  // process ran out of file descriptors.
  ReleaseReserveFds();
  Status st = SavePositionsFile(config_.positions.filename, data);
  TakeReserveFds();
  if (st.ok()) {
    positions_writes_->Inc();
    last_saved_ = std::move(data);
    last_save_ok_mono_ = now;
    if (!positions_ok_) spdlog::info("positions file {} written again", config_.positions.filename);
    positions_ok_ = true;
  } else {
    positions_errors_->Inc();
    if (positions_ok_) spdlog::error("writing positions: {}", st.message());
    positions_ok_ = false;
  }
}

bool AgentImpl::Suspendable(const FileState& f) const {
  // Only a plain file at its end with nothing unfinished or unacknowledged: everything it
  // stands for is (identity, offset), so closing it loses nothing even if it is then deleted.
  const FileReader& r = *f.reader;
  return r.open() && !r.gzip() && !f.queued && !f.drained && f.in_listing && !r.unlinked() &&
         r.consumed() == r.read_offset() && r.read_offset() == r.size() && !r.PendingStart() &&
         f.tracker.pending_slots() == 0;
}

void AgentImpl::SuspendFile(FileState* f) {
  f->reader->Suspend();
  if (open_fds_ > 0) --open_fds_;
}

bool AgentImpl::MakeRoomForFd() {
  if (open_fds_ < max_open_files_) return true;
  FileState* victim = nullptr;
  for (auto& f : files_) {
    if (Suspendable(*f) && (!victim || f->last_active_mono < victim->last_active_mono)) victim = f.get();
  }
  if (!victim) return false;
  SuspendFile(victim);
  return true;
}

bool AgentImpl::ResumeIfGrown(FileState* f) {
  struct stat st;
  if (stat(f->path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_ino) != f->reader->identity().ino ||
      static_cast<uint64_t>(st.st_dev) != f->reader->identity().dev) {
    rescan_dirs_.insert(f->dir);  // renamed or deleted while closed: find it by identity
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) == f->reader->read_offset()) return false;  // still idle
  if (!MakeRoomForFd()) {
    f->waiting_fd = true;
    waiting_fd_.push_back(f);
    return false;
  }
  Status r = f->reader->Resume(f->path);
  if (r.ok()) {
    ++open_fds_;
    f->last_active_mono = clock_.MonotonicNanos();
    return true;
  }
  int err = FileReader::LastOpenErrno();
  if (err == EMFILE || err == ENFILE) {
    NoteFdExhausted(f->path, err);
    f->waiting_fd = true;
    waiting_fd_.push_back(f);
  } else if (err == EACCES || err == EPERM) {
    ReportListing(f->dir, err, f->path);
    f->waiting_fd = true;  // retried every poll interval
    waiting_fd_.push_back(f);
  } else {
    rescan_dirs_.insert(f->dir);  // another file under this name now
  }
  return false;
}

void AgentImpl::NoteOpenError(DirState& d, const std::string& path, int err) {
  if (err == EMFILE || err == ENFILE) {
    NoteFdExhausted(path, err);
    retry_dirs_.insert(d.info.path);
  } else if (err == EACCES || err == EPERM) {
    open_error_ = err;
    open_error_what_ = path;
  } else if (err != ENOENT) {
    spdlog::warn("cannot open {}: {}", path, std::strerror(err));
  }
}

void AgentImpl::NoteFdExhausted(const std::string& what, int err) {
  fd_exhausted_->Inc();
  int64_t now = clock_.MonotonicNanos();
  fd_exhausted_mono_ = now;
  fd_starved_ = true;
  struct rlimit rl;
  uint64_t soft = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<uint64_t>(rl.rlim_cur) : 0;
  std::string reason = std::string("out of file descriptors: open ") + what + ": " +
                       (err == ENFILE ? "ENFILE (system-wide file table full)" : "EMFILE (Too many open files)") +
                       " with " + std::to_string(open_fds_) + " log files open, RLIMIT_NOFILE " +
                       std::to_string(soft) + "; raise the limit (ulimit -n) or lower shipper.max_open_files (" +
                       std::to_string(max_open_files_) + ")";
  {
    std::lock_guard<std::mutex> l(fd_reason_mu_);
    fd_reason_ = reason;
  }
  // The budget was too high for this process (other fds, a lower limit than assumed): lower
  // it below what is open now, so idle files are closed before the next opens and sockets and
  // the positions file find fds again.
  size_t lowered = open_fds_ > 32 ? open_fds_ - 16 : std::max<size_t>(4, open_fds_ / 2);
  if (lowered < max_open_files_) {
    spdlog::warn("lowering the open log file budget from {} to {} after {}", max_open_files_, lowered,
                 err == ENFILE ? "ENFILE" : "EMFILE");
    max_open_files_ = lowered;
    max_open_files_gauge_->Set(static_cast<double>(max_open_files_));
  }
  if (last_fd_log_mono_ == 0 || now - last_fd_log_mono_ >= 10 * kNanosPerSecond) {
    last_fd_log_mono_ = now;
    spdlog::error("{}; retrying as files go idle", reason);
  }
}

void AgentImpl::ReleaseReserveFds() {
  for (int& fd : reserve_fds_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

void AgentImpl::TakeReserveFds() {
  for (int& fd : reserve_fds_) {
    if (fd < 0) fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
}

void AgentImpl::UpdateGauges() {
  size_t open = 0, suspended = 0;
  for (auto& f : files_) {
    open += f->reader->open() ? 1 : 0;
    suspended += f->reader->suspended() ? 1 : 0;
  }
  open_fds_ = open;  // the incremental count is only a hint between ticks
  open_files_->Set(static_cast<double>(open));
  suspended_files_->Set(static_cast<double>(suspended));
  size_t unreadable = 0, watches = 0, polled = 0;
  uint64_t overflows = 0;
  if (tree_) {
    unreadable += tree_->unreadable_dirs();
    watches += tree_->watches();
    polled += tree_->polled_dirs();
    overflows += tree_->overflows();
  }
  if (glob_tree_) {
    unreadable += glob_tree_->unreadable_dirs();
    watches += glob_tree_->watches();
    polled += glob_tree_->polled_dirs();
    overflows += glob_tree_->overflows();
  }
  unreadable_dirs_->Set(static_cast<double>(unreadable));
  tracked_files_->Set(static_cast<double>(files_.size()));
  watches_->Set(static_cast<double>(watches));
  polled_dirs_->Set(static_cast<double>(polled));
  if (overflows > last_overflows_) {
    overflows_->Inc(static_cast<double>(overflows - last_overflows_));
    last_overflows_ = overflows;
  }
  pending_gauge_->Set(static_cast<double>(pending_bytes_));
  int64_t now = clock_.MonotonicNanos();
  int64_t oldest = 0;
  for (auto& c : clients_) {
    int64_t o = c->oldest_pending_mono();
    if (o > 0 && (oldest == 0 || o < oldest)) oldest = o;
  }
  for (auto& per_tenant : batches_) {
    for (auto& [t, b] : per_tenant) {
      if (b && !b->empty() && (oldest == 0 || b->created_mono() < oldest)) oldest = b->created_mono();
    }
  }
  oldest_unacked_ns_ = oldest;
  oldest_unacked_->Set(oldest == 0 ? 0 : static_cast<double>(now - oldest) / 1e9);
  checkpoint_age_->Set(last_save_ok_mono_ == 0 ? 0 : static_cast<double>(now - last_save_ok_mono_) / 1e9);
}

void AgentImpl::Tick() {
  int64_t now = clock_.MonotonicNanos();
  heartbeat_mono_ = now;
  FlushBatches(false);
  if (now >= next_partial_mono_) {
    next_partial_mono_ = now + std::min<int64_t>(config_.tail.partial_line_timeout_ns, kNanosPerSecond);
    for (auto& f : files_) {
      if (!f->reader->open() || !f->reader->PendingStart()) continue;
      recs_.clear();
      f->reader->FlushPartials(now, config_.tail.partial_line_timeout_ns, &recs_);
      if (!recs_.empty()) HandleRecords(*f, recs_);
    }
    for (auto& s : scrapes_) {
      if (s.pipeline) s.pipeline->Flush(false, *this);
    }
  }
  if (now >= next_poll_mono_) {
    next_poll_mono_ = now + config_.tail.fallback_poll_interval_ns;
    // Idle files are closed; files that grew while the budget was full, and directories whose
    // opens were deferred, get their fds now if there is room.
    bool was_starved = fd_starved_.exchange(false);  // set again by every open that fails
    int64_t idle = config_.tail.idle_file_timeout_ns;
    for (auto& f : files_) {
      if (idle > 0 && now - f->last_active_mono >= idle && Suspendable(*f)) SuspendFile(f.get());
    }
    while (!waiting_fd_.empty()) {
      FileState* f = waiting_fd_.front();
      waiting_fd_.pop_front();
      f->waiting_fd = false;
      Enqueue(f);
    }
    if (!retry_dirs_.empty()) {
      std::set<std::string> retry;
      retry.swap(retry_dirs_);
      for (const auto& p : retry) {
        auto it = dirs_.find(p);
        if (it != dirs_.end() && !it->second.deferred) RescanDir(it->second);
      }
    }
    if (was_starved && !fd_starved_) spdlog::info("file descriptors available again");
    if (tree_) tree_->Poll();
    if (glob_tree_) glob_tree_->Poll();
    // Directories waiting for pod metadata: retry, or give up after 10s.
    for (auto& [p, d] : dirs_) {
      if (!d.deferred) continue;
      bool known = true;
      known = !pods_ || pods_->Lookup(d.info.pod.ns, d.info.pod.pod, d.info.pod.uid, d.info.container).has_value();
      if (known || now - d.deferred_since > 10 * kNanosPerSecond) {
        if (!known) spdlog::warn("no pod metadata for {} after 10s; tailing with path labels only", p);
        d.deferred = false;
        RescanDir(d);
      }
    }
  }
  if (now >= next_rescan_mono_) {
    next_rescan_mono_ = now + config_.tail.rescan_interval_ns;
    for (auto& f : files_) Enqueue(f.get());  // safety net for missed events
  }
  MaybeSavePositions(false);
  UpdateGauges();
  UpdateTargets(false);
}

Status AgentImpl::Run() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  for (auto& c : clients_) c->Start();
  if (tree_) tree_->Scan();
  if (glob_tree_) glob_tree_->Scan();
  initial_scan_done_ = true;
  // Positions of files that no longer exist: kept for .gz generations, then counted lost.
  for (auto it = loaded_.begin(); it != loaded_.end();) {
    std::string dir = it->first.substr(0, it->first.rfind('/'));
    auto d = dirs_.find(dir);
    if (d != dirs_.end() && it->second.identity) {
      GoneRecord g{it->first, it->second, ""};
      if (auto f = ClassifyName(d->second, it->first.substr(dir.size() + 1), false)) g.base = f->base;
      d->second.gone.push_back(std::move(g));
      it = loaded_.erase(it);
    } else if (d == dirs_.end() && it->second.identity && it->second.size > static_cast<int64_t>(it->second.offset)) {
      unread_bytes_->Inc(static_cast<double>(it->second.size - static_cast<int64_t>(it->second.offset)));
      spdlog::warn("{}: deleted while the shipper was down, {} bytes unread", it->first,
                   it->second.size - static_cast<int64_t>(it->second.offset));
      it = loaded_.erase(it);
    } else {
      it = loaded_.erase(it);
    }
  }
  ready_scan_ = true;
  heartbeat_mono_ = clock_.MonotonicNanos();
  if (tree_) {
    spdlog::info("watching {} ({} containers, {} watches, {} polled dirs)", config_.tail.pods_root,
                 tree_->containers(), tree_->watches(), tree_->polled_dirs());
  }
  if (glob_tree_) {
    std::string roots;
    for (const auto& r : glob_tree_->roots()) roots += (roots.empty() ? "" : ", ") + r;
    spdlog::info("watching __path__ roots {} ({} directories, {} watches, {} polled dirs)", roots,
                 glob_tree_->containers(), glob_tree_->watches(), glob_tree_->polled_dirs());
  }
  spdlog::info("tailing {} files", files_.size());
  UpdateTargets(true);
  bool stopping = false;
  while (!stopping) {
    ProcessResults();
    ReadSome();
    if (!rescan_dirs_.empty()) {
      std::set<std::string> dirs;
      dirs.swap(rescan_dirs_);
      for (const auto& p : dirs) {
        auto it = dirs_.find(p);
        if (it != dirs_.end() && !it->second.deferred) RescanDir(it->second);
      }
    }
    Tick();
    int timeout_ms = 200;
    if ((!run_queue_.empty() || journal_more_) && !Backpressured()) timeout_ms = 0;
    std::vector<struct pollfd> pfds = {{wake_fd_, POLLIN, 0}, {sfd, POLLIN, 0}, {tree_ ? tree_->fd() : -1, POLLIN, 0},
                                       {glob_tree_ ? glob_tree_->fd() : -1, POLLIN, 0}};
    for (auto& j : journals_) pfds.push_back({j->reader->fd(), POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), timeout_ms);
    if (n > 0 && (pfds[2].revents & POLLIN)) tree_->HandleEvents();
    if (n > 0 && (pfds[3].revents & POLLIN)) glob_tree_->HandleEvents();
    for (size_t i = 0; n > 0 && i < journals_.size(); ++i) {
      if (pfds[4 + i].revents & POLLIN) journals_[i]->reader->Process();
    }
    if (sfd >= 0 && n > 0 && (pfds[1].revents & POLLIN)) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        spdlog::info("received {}, shutting down", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        stopping = true;
      }
    }
    if (stop_requested_) stopping = true;
  }
  // Shutdown: stop reading; send what is batched; wait for acks up to the timeout.
  int64_t deadline = clock_.MonotonicNanos() + config_.tail.shutdown_timeout_ns;
  FlushBatches(true);
  while (clock_.MonotonicNanos() < deadline) {
    ProcessResults();
    size_t q = 0;
    for (auto& c : clients_) q += c->queued();
    if (q == 0) break;
    struct pollfd p = {wake_fd_, POLLIN, 0};
    poll(&p, 1, 100);
  }
  for (auto& c : clients_) c->Stop(clock_.MonotonicNanos());
  ProcessResults();
  MaybeSavePositions(true);
  if (sfd >= 0) close(sfd);
  if (positions_ok_) spdlog::info("stopped; positions saved to {}", config_.positions.filename);
  return positions_ok_ ? Status::OK() : Internal("could not save positions to " + config_.positions.filename);
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Create(const ShipperConfig& config, const Clock& clock, MetricsRegistry& metrics) {
  ShipperConfig finished = config;
  FinishShipperConfig(&finished);
  RETURN_IF_ERROR(ValidateShipperConfig(finished));
  auto a = std::make_unique<AgentImpl>(finished, clock, metrics);
  RETURN_IF_ERROR(a->Init());
  return std::unique_ptr<Agent>(std::move(a));
}

namespace {

class PrintSink final : public EntrySink {
 public:
  explicit PrintSink(std::ostream& out) : out_(out) {}
  void Emit(LogEntry&& e) override {
    out_ << FormatRFC3339Nano(e.timestamp_ns) << '\t' << RenderLabels(e.labels) << '\t' << e.line << '\n';
  }
  void Dropped(const LogEntry& e, std::string_view reason) override {
    out_ << "# dropped (" << reason << "): " << e.line << '\n';
  }

 private:
  std::ostream& out_;
};

}  // namespace

Status DryRun(const ShipperConfig& config, const std::vector<std::string>& files, std::ostream& out) {
  std::vector<Scrape> scrapes;
  RETURN_IF_ERROR(BuildScrapes(config, *SystemClock::Default(), &scrapes));
  ReaderOptions ro;
  ro.joiner.max_line_size = static_cast<size_t>(config.tail.max_line_size);
  ro.joiner.truncate = config.tail.max_line_size_truncate;
  for (const std::string& path : files) {
    // Labels as discovery would give them when the path has the pod-log layout.
    std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
    std::string name = path.substr(path.rfind('/') + 1);
    std::string container = dir.substr(dir.rfind('/') + 1);
    std::string poddir = dir.substr(0, dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
    auto pod = ParsePodDirName(poddir.substr(poddir.rfind('/') + 1));
    auto fname = ParseLogFileName(name);
    std::string canonical = fname ? dir + "/" + fname->base : path;
    ContainerDir cd;
    if (pod && fname) {
      cd.path = dir;
      cd.pod = *pod;
      cd.container = container;
    }
    LabelMap labels;
    const Scrape* chosen = nullptr;
    for (const Scrape& s : scrapes) {
      if (s.kind == Scrape::kJournal) continue;
      std::optional<LabelMap> l;
      if (s.kind == Scrape::kFiles || (pod && fname)) {
        // The same labels as the agent gives (minus pod metadata from the API).
        l = ScrapeTargetLabels(s, pod && fname ? &cd : nullptr, s.kind == Scrape::kFiles ? path : canonical,
                               config.tail.node_name, nullptr);
      } else {
        // A file outside the kubelet layout under a pods scrape config: path labels only.
        LabelMap m = {{"filename", canonical}, {"__path__", canonical}};
        if (StaticLabelsFor(*s.config, canonical, &m) && (!s.has_relabel || Relabel(s.relabel, m))) {
          for (auto it = m.begin(); it != m.end();) it = it->first.rfind("__", 0) == 0 ? m.erase(it) : std::next(it);
          l = std::move(m);
        }
      }
      if (!l) continue;
      labels = std::move(*l);
      chosen = &s;
      break;
    }
    if (!chosen) {
      out << "# " << path << ": dropped by relabel_configs (not tailed)\n";
      continue;
    }
    bool gz = chosen->kind == Scrape::kPods && fname && fname->generation == Generation::kGzip;
    ReaderOptions fro = ro;
    fro.raw = chosen->kind == Scrape::kFiles && !chosen->decode_container;
    ASSIGN_OR_RETURN(auto reader, FileReader::Open(path, gz, 0, fro));
    std::vector<Record> recs;
    auto emit = [&](std::vector<Record>& rs) {
      for (Record& r : rs) {
        LabelMap l = labels;
        l["stream"] = std::string(StreamName(r.stream));
        if (chosen->pipeline) {
          PrintSink sink(out);
          LogEntry e;
          e.timestamp_ns = r.timestamp_ns;
          e.line = std::move(r.line);
          e.labels = std::move(l);
          chosen->pipeline->Process(std::move(e), sink);
          continue;
        }
        out << FormatRFC3339Nano(r.timestamp_ns) << '\t' << RenderLabels(l) << '\t' << r.line << '\n';
      }
      rs.clear();
    };
    while (true) {
      ReadStatus s = reader->ReadOnce(&recs, SystemClock::Default()->NowNanos(), 0);
      emit(recs);
      if (s == ReadStatus::kError) return Internal(path + ": " + reader->error());
      if (s != ReadStatus::kData) break;
    }
    reader->FinishAtEof(&recs, SystemClock::Default()->NowNanos());
    emit(recs);
    if (chosen->pipeline) {
      PrintSink sink(out);
      chosen->pipeline->Flush(true, sink);
    }
  }
  return Status::OK();
}

}  // namespace logq::shipper
