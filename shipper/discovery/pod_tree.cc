#include "shipper/discovery/pod_tree.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace logq::shipper {
namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                              IN_MOVE_SELF | IN_ONLYDIR;
constexpr uint32_t kContainerMask = kDirMask | IN_MODIFY;

// Names of subdirectories (or, with files=true, entries of any type) of `path`.
std::vector<std::string> ListDir(const std::string& path, bool dirs_only) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (dirs_only) {
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
        struct stat st;
        is_dir = stat((path + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      if (!is_dir) continue;
    }
    out.push_back(std::move(n));
  }
  closedir(d);
  return out;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Parent(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? "" : p.substr(0, s);
}

}  // namespace

Result<std::unique_ptr<PodTree>> PodTree::Create(const PodTreeOptions& options, PodTreeListener* listener) {
  std::unique_ptr<PodTree> t(new PodTree(options, listener));
  while (t->options_.root.size() > 1 && t->options_.root.back() == '/') t->options_.root.pop_back();
  t->inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (t->inotify_fd_ < 0) {
    return Unavailable(std::string("inotify_init1: ") + std::strerror(errno) +
                       " (fs.inotify.max_user_instances reached?)");
  }
  return t;
}

PodTree::~PodTree() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

void PodTree::Track(const std::string& path, Kind kind) {
  auto it = dirs_.find(path);
  if (it != dirs_.end()) return;
  Dir d;
  d.kind = kind;
  bool limited = options_.max_watches > 0 && static_cast<int>(wd_to_dir_.size()) >= options_.max_watches;
  if (!limited) {
    int wd = inotify_add_watch(inotify_fd_, path.c_str(), kind == Kind::kContainer ? kContainerMask : kDirMask);
    if (wd >= 0) {
      d.wd = wd;
      wd_to_dir_[wd] = path;
    } else if (errno != ENOSPC) {
      spdlog::warn("inotify_add_watch {}: {}; polling it", path, std::strerror(errno));
    } else {
      limited = true;
    }
  }
  if (d.wd < 0) {
    if (limited && polled_.empty()) {
      spdlog::warn("inotify watch limit reached at {} watches; polling {} and further directories "
                   "(raise fs.inotify.max_user_watches)", wd_to_dir_.size(), path);
    }
    polled_.insert(path);
  }
  dirs_[path] = d;
}

void PodTree::Untrack(const std::string& path) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) return;
  if (it->second.wd >= 0) {
    inotify_rm_watch(inotify_fd_, it->second.wd);
    wd_to_dir_.erase(it->second.wd);
  }
  polled_.erase(path);
  dirs_.erase(it);
}

void PodTree::Scan() {
  ScanRoot();
  for (const auto& [path, c] : containers_) listener_->OnContainerChanged(path);
}

void PodTree::ScanRoot() {
  const std::string& root = options_.root;
  if (!IsDir(root)) {
    // Not there (yet): poll for it; forget what was under it.
    std::vector<std::string> pods;
    for (const auto& [p, d] : dirs_) {
      if (d.kind == Kind::kPod) pods.push_back(p);
    }
    for (const auto& p : pods) RemovePod(p);
    Untrack(root);
    polled_.insert(root);
    return;
  }
  if (!dirs_.count(root)) {
    polled_.erase(root);
    Track(root, Kind::kRoot);
  }
  std::set<std::string> seen;
  for (const std::string& n : ListDir(root, true)) {
    std::string p = root + "/" + n;
    seen.insert(p);
    bool fresh = !dirs_.count(p);
    if (fresh) Track(p, Kind::kPod);
    ScanPod(p);
  }
  std::vector<std::string> gone;
  for (const auto& [p, d] : dirs_) {
    if (d.kind == Kind::kPod && !seen.count(p)) gone.push_back(p);
  }
  for (const auto& p : gone) RemovePod(p);
}

void PodTree::ScanPod(const std::string& pod_path) {
  std::string pod_name = pod_path.substr(pod_path.rfind('/') + 1);
  auto pod = ParsePodDirName(pod_name);
  std::set<std::string> seen;
  for (const std::string& n : ListDir(pod_path, true)) {
    std::string p = pod_path + "/" + n;
    seen.insert(p);
    if (containers_.count(p)) continue;
    Track(p, Kind::kContainer);
    ContainerDir c;
    c.path = p;
    c.pod = pod.value_or(PodDirName{"", pod_name, ""});
    c.container = n;
    containers_[p] = c;
    listener_->OnContainerAdded(c);
  }
  std::vector<std::string> gone;
  for (auto it = containers_.lower_bound(pod_path + "/"); it != containers_.end(); ++it) {
    if (it->first.compare(0, pod_path.size() + 1, pod_path + "/") != 0) break;
    if (!seen.count(it->first)) gone.push_back(it->first);
  }
  for (const auto& p : gone) {
    Untrack(p);
    containers_.erase(p);
    listener_->OnContainerRemoved(p);
  }
}

void PodTree::RemovePod(const std::string& pod_path) {
  std::vector<std::string> gone;
  for (auto it = containers_.lower_bound(pod_path + "/"); it != containers_.end(); ++it) {
    if (it->first.compare(0, pod_path.size() + 1, pod_path + "/") != 0) break;
    gone.push_back(it->first);
  }
  for (const auto& p : gone) {
    Untrack(p);
    containers_.erase(p);
    listener_->OnContainerRemoved(p);
  }
  Untrack(pod_path);
}

void PodTree::HandleEvents() {
  alignas(struct inotify_event) char buf[64 * 1024];
  std::set<std::string> rescan_pods;
  bool rescan_root = false;
  std::set<std::string> changed;
  bool overflow = false;
  while (true) {
    ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
        continue;
      }
      auto it = wd_to_dir_.find(ev->wd);
      if (it == wd_to_dir_.end()) continue;
      const std::string& dir = it->second;
      auto d = dirs_.find(dir);
      if (d == dirs_.end()) continue;
      std::string name = ev->len ? std::string(ev->name) : std::string();
      switch (d->second.kind) {
        case Kind::kRoot:
          rescan_root = true;
          break;
        case Kind::kPod:
          if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) rescan_root = true;
          else rescan_pods.insert(dir);
          break;
        case Kind::kContainer:
          if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
            rescan_pods.insert(Parent(dir));
          } else if (ev->mask & IN_MODIFY) {
            if (!changed.count(dir)) listener_->OnFileModified(dir, name);
          } else {
            changed.insert(dir);
          }
          break;
      }
    }
  }
  if (overflow) {
    ++overflows_;
    spdlog::warn("inotify queue overflow: rescanning {}", options_.root);
    Scan();
    return;
  }
  if (rescan_root) {
    ScanRoot();
  } else {
    for (const auto& p : rescan_pods) {
      if (IsDir(p)) ScanPod(p);
      else RemovePod(p);
    }
  }
  for (const auto& c : changed) {
    if (containers_.count(c)) listener_->OnContainerChanged(c);
  }
}

void PodTree::Poll() {
  if (polled_.empty()) return;
  std::vector<std::string> polled(polled_.begin(), polled_.end());
  for (const auto& p : polled) {
    if (p == options_.root) {
      ScanRoot();
      continue;
    }
    auto d = dirs_.find(p);
    if (d == dirs_.end()) continue;
    if (d->second.kind == Kind::kPod) {
      if (IsDir(p)) ScanPod(p);
      else RemovePod(p);
    } else if (d->second.kind == Kind::kContainer) {
      if (containers_.count(p)) listener_->OnContainerChanged(p);
    } else {
      ScanRoot();
    }
  }
}

}  // namespace logq::shipper
