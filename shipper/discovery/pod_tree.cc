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
                              IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
constexpr uint32_t kContainerMask = kDirMask | IN_MODIFY;

// Why a directory could not be listed: 0 (listed), or errno of opendir.
// Subdirectory names of `path`; symlinks are reported in *links and never followed.
int ListDirs(const std::string& path, std::vector<std::string>* out, std::vector<std::string>* links) {
  DIR* d = opendir(path.c_str());
  if (!d) return errno;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (lstat((path + "/" + n).c_str(), &st) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
    }
    if (type == DT_LNK) links->push_back(std::move(n));
    else if (type == DT_DIR) out->push_back(std::move(n));
  }
  closedir(d);
  return 0;
}

// The root may be a symlink (configured); everything below it is checked with lstat.
bool IsDir(const std::string& p, bool follow, struct stat* st) {
  return (follow ? stat(p.c_str(), st) : lstat(p.c_str(), st)) == 0 && S_ISDIR(st->st_mode);
}
bool IsDir(const std::string& p, bool follow) {
  struct stat st;
  return IsDir(p, follow, &st);
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

bool PodTree::Track(const std::string& path, Kind kind) {
  auto it = dirs_.find(path);
  if (it != dirs_.end()) return true;
  Dir d;
  d.kind = kind;
  struct stat st;
  if (!IsDir(path, kind == Kind::kRoot, &st)) return false;  // gone, or not a directory
  d.dev = st.st_dev;
  d.ino = st.st_ino;
  bool limited = options_.max_watches > 0 && static_cast<int>(wd_to_dir_.size()) >= options_.max_watches;
  if (!limited) {
    uint32_t mask = kind == Kind::kContainer ? kContainerMask : kDirMask;
    if (kind == Kind::kRoot) mask &= ~static_cast<uint32_t>(IN_DONT_FOLLOW);
    int wd = inotify_add_watch(inotify_fd_, path.c_str(), mask);
    if (wd >= 0) {
      auto other = wd_to_dir_.find(wd);
      if (other != wd_to_dir_.end() && other->second != path) {
        auto od = dirs_.find(other->second);
        if (od != dirs_.end() && od->second.dev == d.dev && od->second.ino == d.ino) {
          // The same directory under a second path (a bind mount): tracking it twice would
          // ship every container twice.
          spdlog::warn("{} is the same directory as {}; not tracked twice", path, other->second);
          return false;
        }
        // The kernel freed this wd (its directory was deleted) and reused it: the old
        // directory has no watch any more; poll it until its parent's rescan drops it. The
        // IN_IGNORED of the freed watch is still queued: it must not kill the new mapping.
        if (od != dirs_.end()) {
          od->second.wd = -1;
          od->second.lost_watch = true;
          polled_.insert(od->first);
        }
        ++pending_ignored_[wd];
      }
      d.wd = wd;
      wd_to_dir_[wd] = path;
    } else if (errno == EACCES || errno == EPERM) {
      if (unreadable_.insert(path).second) {
        spdlog::warn("{}: cannot watch: {}; polling it until it can be read (logq_shipper_unreadable_dirs)", path,
                     std::strerror(errno));
      }
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
  return true;
}

bool PodTree::ListSubdirs(const std::string& path, std::vector<std::string>* dirs) {
  std::vector<std::string>& out = *dirs;
  std::vector<std::string> links;
  int err = ListDirs(path, &out, &links);
  ReportListing(path, err, "");
  for (const std::string& l : links) {
    std::string p = path + "/" + l;
    if (symlinks_seen_.size() < 10000 && symlinks_seen_.insert(p).second) {
      spdlog::info("{} is a symlink: not followed (discovery never follows symlinks)", p);
    }
  }
  return err == 0;
}

void PodTree::Untrack(const std::string& path) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) return;
  if (it->second.wd >= 0) {
    // Removed by us, or already by the kernel (directory deleted): either way one IN_IGNORED
    // for this wd is still to be read.
    inotify_rm_watch(inotify_fd_, it->second.wd);
    wd_to_dir_.erase(it->second.wd);
    ++pending_ignored_[it->second.wd];
  }
  polled_.erase(path);
  unreadable_.erase(path);
  failed_.erase(path);
  dirs_.erase(it);
}

void PodTree::Scan() {
  ScanRoot();
  for (const auto& [path, c] : containers_) listener_->OnContainerChanged(path);
}

void PodTree::ScanRoot() {
  const std::string& root = options_.root;
  if (!IsDir(root, true)) {
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
  } else if (dirs_[root].wd < 0) {
    RetryWatch(root);
  }
  std::set<std::string> seen;
  std::vector<std::string> names;
  // Not listable (EACCES): keep what is known; the root is polled until it can be read.
  if (!ListSubdirs(root, &names)) return;
  for (const std::string& n : names) {
    std::string p = root + "/" + n;
    auto known = dirs_.find(p);
    struct stat st;
    if (known != dirs_.end() && IsDir(p, false, &st) &&
        (known->second.lost_watch || static_cast<uint64_t>(st.st_dev) != known->second.dev ||
         static_cast<uint64_t>(st.st_ino) != known->second.ino)) {
      RemovePod(p);  // deleted and created again under the same name: a new pod directory
    }
    bool fresh = !dirs_.count(p);
    if (fresh && !Track(p, Kind::kPod)) continue;
    seen.insert(p);
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
  std::vector<std::string> names;
  // Not listable: keep its containers (a failed listing is not an empty directory).
  if (!ListSubdirs(pod_path, &names)) return;
  for (const std::string& n : names) {
    std::string p = pod_path + "/" + n;
    if (containers_.count(p)) {
      auto d = dirs_.find(p);
      struct stat st;
      if (d == dirs_.end() || !IsDir(p, false, &st) ||
          (!d->second.lost_watch && static_cast<uint64_t>(st.st_dev) == d->second.dev &&
           static_cast<uint64_t>(st.st_ino) == d->second.ino)) {
        seen.insert(p);
        continue;
      }
      // Deleted and created again under the same name: a new directory (the old watch died
      // with the old one). Report the old one removed, then track the new one.
      Untrack(p);
      containers_.erase(p);
      listener_->OnContainerRemoved(p);
    }
    if (!Track(p, Kind::kContainer)) continue;
    seen.insert(p);
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
      if (ev->mask & IN_IGNORED) {
        HandleIgnored(ev->wd, &rescan_pods, &rescan_root);
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
    pending_ignored_.clear();  // events were lost; a stray IN_IGNORED only re-tracks a directory
    spdlog::warn("inotify queue overflow: rescanning {}", options_.root);
    Scan();
    return;
  }
  if (rescan_root) {
    ScanRoot();
  } else {
    for (const auto& p : rescan_pods) {
      if (IsDir(p, false)) ScanPod(p);
      else RemovePod(p);
    }
  }
  for (const auto& c : changed) {
    if (containers_.count(c)) listener_->OnContainerChanged(c);
  }
}

void PodTree::HandleIgnored(int wd, std::set<std::string>* rescan_pods, bool* rescan_root) {
  // The kernel dropped watch `wd`. Expected after our own inotify_rm_watch, or for a wd we
  // already saw handed out again (pending_ignored_). Otherwise the directory it watched was
  // deleted (or unmounted): it has no watch any more, and its parent's rescan decides whether
  // a directory of that name exists again (tracked anew: see ScanPod / ScanRoot).
  auto p = pending_ignored_.find(wd);
  if (p != pending_ignored_.end()) {
    if (--p->second == 0) pending_ignored_.erase(p);
    return;
  }
  auto it = wd_to_dir_.find(wd);
  if (it == wd_to_dir_.end()) return;
  std::string path = it->second;
  wd_to_dir_.erase(it);
  auto d = dirs_.find(path);
  if (d == dirs_.end()) return;
  d->second.wd = -1;
  d->second.lost_watch = true;
  polled_.insert(path);
  if (d->second.kind == Kind::kContainer) rescan_pods->insert(Parent(path));
  else *rescan_root = true;
}

bool PodTree::RetryWatch(const std::string& path) {
  auto d = dirs_.find(path);
  if (d == dirs_.end()) return false;
  if (d->second.wd >= 0) return true;
  if (options_.max_watches > 0 && static_cast<int>(wd_to_dir_.size()) >= options_.max_watches) return false;
  struct stat st;
  if (!IsDir(path, d->second.kind == Kind::kRoot, &st) || static_cast<uint64_t>(st.st_dev) != d->second.dev ||
      static_cast<uint64_t>(st.st_ino) != d->second.ino) {
    return false;
  }
  uint32_t mask = d->second.kind == Kind::kContainer ? kContainerMask : kDirMask;
  if (d->second.kind == Kind::kRoot) mask &= ~static_cast<uint32_t>(IN_DONT_FOLLOW);
  int wd = inotify_add_watch(inotify_fd_, path.c_str(), mask);
  if (wd < 0) return false;
  auto other = wd_to_dir_.find(wd);
  if (other != wd_to_dir_.end() && other->second != path) {
    auto od = dirs_.find(other->second);
    if (od != dirs_.end()) {
      od->second.wd = -1;
      od->second.lost_watch = true;
      polled_.insert(od->first);
    }
    ++pending_ignored_[wd];
  }
  wd_to_dir_[wd] = path;
  d->second.wd = wd;
  if (!unreadable_.count(path)) polled_.erase(path);
  return true;
}

void PodTree::ReportListing(const std::string& path, int err, const std::string& what) {
  if (!dirs_.count(path)) return;
  if (err == EACCES || err == EPERM) {
    if (unreadable_.insert(path).second) {
      spdlog::warn("{}: {}: {}; polling it until it can be read (logq_shipper_unreadable_dirs)",
                   what.empty() ? path : what, what.empty() ? "cannot list" : "cannot open",
                   std::strerror(err));
    }
    polled_.insert(path);
  } else if (err == EMFILE || err == ENFILE) {
    // Out of file descriptors: listed again every poll until it works.
    failed_.insert(path);
    polled_.insert(path);
    listener_->OnListError(path, err);
  } else if (err == 0) {
    bool was_unreadable = unreadable_.erase(path) > 0;
    bool was_failed = failed_.erase(path) > 0;
    if ((was_unreadable || was_failed) && RetryWatch(path)) polled_.erase(path);
    if (was_unreadable) spdlog::info("{} can be read again", path);
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
    // A watch that failed (EACCES, or its wd was reused) is retried on every poll.
    if (d->second.wd < 0 && unreadable_.count(p)) RetryWatch(p);
    if (d->second.kind == Kind::kPod) {
      if (IsDir(p, false)) ScanPod(p);
      else RemovePod(p);
    } else if (d->second.kind == Kind::kContainer) {
      if (containers_.count(p)) listener_->OnContainerChanged(p);
    } else {
      ScanRoot();
    }
  }
}

}  // namespace logq::shipper
