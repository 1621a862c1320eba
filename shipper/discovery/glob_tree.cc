#include "shipper/discovery/glob_tree.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace logq::shipper {
namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                              IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
constexpr uint32_t kLeafMask = kDirMask | IN_MODIFY;

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string Parent(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return "";
  return s == 0 ? "/" : p.substr(0, s);
}

bool IsDirAt(const std::string& p, bool follow, struct stat* st) {
  return (follow ? stat(p.c_str(), st) : lstat(p.c_str(), st)) == 0 && S_ISDIR(st->st_mode);
}

// 0 or errno of opendir; subdirectories in *out, symlinks in *links (never followed).
int ListDirs(const std::string& path, std::vector<std::string>* out, std::vector<std::string>* links) {
  DIR* d = opendir(path.c_str());
  if (!d) return errno;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (lstat(Join(path, n).c_str(), &st) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
    }
    if (type == DT_LNK) links->push_back(std::move(n));
    else if (type == DT_DIR) out->push_back(std::move(n));
  }
  closedir(d);
  return 0;
}

}  // namespace

Result<std::unique_ptr<GlobTree>> GlobTree::Create(GlobTreeOptions options, PodTreeListener* listener) {
  std::unique_ptr<GlobTree> t(new GlobTree(std::move(options), listener));
  std::set<std::string> all;
  for (const PathGlob& g : t->options_.globs) {
    for (std::string& r : g.Roots()) all.insert(std::move(r));
  }
  for (const std::string& r : all) {
    bool nested = false;
    for (const std::string& o : t->roots_) {
      if (o == "/" || (r.size() > o.size() && r.compare(0, o.size(), o) == 0 && r[o.size()] == '/')) nested = true;
    }
    if (!nested) t->roots_.push_back(r);
  }
  t->inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (t->inotify_fd_ < 0) {
    return Unavailable(std::string("inotify_init1: ") + std::strerror(errno) +
                       " (fs.inotify.max_user_instances reached?)");
  }
  return t;
}

GlobTree::~GlobTree() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

bool GlobTree::IsRoot(const std::string& p) const {
  for (const auto& r : roots_) {
    if (r == p) return true;
  }
  return false;
}

bool GlobTree::Wanted(const std::string& path, bool* leaf) const {
  bool files = false, descend = false;
  for (const PathGlob& g : options_.globs) {
    files = files || g.MayHaveFilesIn(path);
    descend = descend || g.MayDescend(path);
  }
  *leaf = files;
  return files || descend;
}

bool GlobTree::AddWatch(const std::string& path, Dir& d) {
  if (options_.max_watches > 0 && static_cast<int>(wd_to_dir_.size()) >= options_.max_watches) return false;
  uint32_t mask = d.leaf ? kLeafMask : kDirMask;
  if (d.root) mask &= ~static_cast<uint32_t>(IN_DONT_FOLLOW);
  int wd = inotify_add_watch(inotify_fd_, path.c_str(), mask);
  if (wd < 0) {
    if (errno == EACCES || errno == EPERM) {
      if (unreadable_.insert(path).second) {
        spdlog::warn("{}: cannot watch: {}; polling it until it can be read (logq_shipper_unreadable_dirs)", path,
                     std::strerror(errno));
      }
    } else if (errno != ENOSPC) {
      spdlog::warn("inotify_add_watch {}: {}; polling it", path, std::strerror(errno));
    }
    return false;
  }
  auto other = wd_to_dir_.find(wd);
  if (other != wd_to_dir_.end() && other->second != path) {
    auto od = dirs_.find(other->second);
    if (od != dirs_.end() && od->second.dev == d.dev && od->second.ino == d.ino) {
      // The same directory under a second path (bind mount): tracked once.
      spdlog::warn("{} is the same directory as {}; not tracked twice", path, other->second);
      d.wd = -2;
      return false;
    }
    // A wd the kernel freed and reused: the old directory has no watch any more.
    if (od != dirs_.end()) {
      od->second.wd = -1;
      od->second.lost_watch = true;
      polled_.insert(od->first);
    }
    ++pending_ignored_[wd];
  }
  d.wd = wd;
  wd_to_dir_[wd] = path;
  return true;
}

bool GlobTree::Track(const std::string& path, bool root, int depth) {
  if (dirs_.count(path)) return true;
  Dir d;
  d.root = root;
  d.depth = depth;
  struct stat st;
  if (!IsDirAt(path, root, &st)) return false;
  d.dev = st.st_dev;
  d.ino = st.st_ino;
  bool leaf = false;
  Wanted(path, &leaf);
  d.leaf = leaf;
  if (!AddWatch(path, d)) {
    if (d.wd == -2) return false;  // alias of a tracked directory
    if (!warned_limit_ && unreadable_.count(path) == 0) {
      warned_limit_ = true;
      spdlog::warn("inotify watch limit reached at {} watches; polling {} and further directories "
                   "(raise fs.inotify.max_user_watches)", wd_to_dir_.size(), path);
    }
    polled_.insert(path);
  }
  dirs_[path] = d;
  if (d.leaf) {
    ++leaves_;
    ContainerDir c;
    c.path = path;
    c.from_glob = true;
    listener_->OnContainerAdded(c);
  }
  return true;
}

void GlobTree::Untrack(const std::string& path) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) return;
  if (it->second.wd >= 0) {
    inotify_rm_watch(inotify_fd_, it->second.wd);
    wd_to_dir_.erase(it->second.wd);
    ++pending_ignored_[it->second.wd];
  }
  bool leaf = it->second.leaf;
  polled_.erase(path);
  unreadable_.erase(path);
  failed_.erase(path);
  dirs_.erase(it);
  if (leaf) {
    --leaves_;
    listener_->OnContainerRemoved(path);
  }
}

void GlobTree::RemoveSubtree(const std::string& path) {
  std::vector<std::string> gone;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = dirs_.lower_bound(prefix); it != dirs_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    gone.push_back(it->first);
  }
  // Deepest first, then the directory itself.
  for (auto it = gone.rbegin(); it != gone.rend(); ++it) Untrack(*it);
  Untrack(path);
}

void GlobTree::Scan() {
  for (const std::string& r : roots_) ScanRoot(r);
  for (const auto& [p, d] : dirs_) {
    if (d.leaf) listener_->OnContainerChanged(p);
  }
}

void GlobTree::ScanRoot(const std::string& root) {
  struct stat st;
  if (!IsDirAt(root, true, &st)) {
    RemoveSubtree(root);
    polled_.insert(root);  // not there (yet): polled until it is
    return;
  }
  auto it = dirs_.find(root);
  if (it != dirs_.end() && (it->second.lost_watch || it->second.dev != static_cast<uint64_t>(st.st_dev) ||
                            it->second.ino != static_cast<uint64_t>(st.st_ino))) {
    RemoveSubtree(root);  // replaced: a new directory under the same name
    it = dirs_.end();
  }
  if (it == dirs_.end()) {
    polled_.erase(root);
    if (!Track(root, true, 0)) return;
  } else if (it->second.wd < 0) {
    RetryWatch(root);
  }
  ScanDir(root);
}

void GlobTree::ScanDir(const std::string& path) {
  auto self = dirs_.find(path);
  if (self == dirs_.end()) return;
  int depth = self->second.depth;
  std::vector<std::string> names, links;
  int err = ListDirs(path, &names, &links);
  ReportListing(path, err, "");
  if (err != 0) return;  // a failed listing is not an empty directory: keep what is known
  for (const std::string& l : links) {
    std::string p = Join(path, l);
    bool leaf = false;
    if (Wanted(p, &leaf) && symlinks_seen_.size() < 10000 && symlinks_seen_.insert(p).second) {
      spdlog::info("{} is a symlink: not followed (discovery never follows directory symlinks)", p);
    }
  }
  std::set<std::string> seen;
  for (const std::string& n : names) {
    std::string p = Join(path, n);
    bool leaf = false;
    if (!Wanted(p, &leaf)) continue;
    if (depth + 1 > kMaxGlobDepth) {
      spdlog::warn("{}: deeper than {} directories below a __path__ root; not tracked", p, kMaxGlobDepth);
      continue;
    }
    auto known = dirs_.find(p);
    struct stat st;
    if (known != dirs_.end() && IsDirAt(p, false, &st) &&
        (known->second.lost_watch || static_cast<uint64_t>(st.st_dev) != known->second.dev ||
         static_cast<uint64_t>(st.st_ino) != known->second.ino)) {
      RemoveSubtree(p);  // deleted and created again under the same name
    }
    if (!dirs_.count(p) && !Track(p, false, depth + 1)) continue;
    seen.insert(p);
    ScanDir(p);
  }
  // Tracked children that are gone.
  std::vector<std::string> gone;
  std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = dirs_.lower_bound(prefix); it != dirs_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    if (it->first.find('/', prefix.size()) != std::string::npos) continue;  // deeper
    if (!seen.count(it->first) && !IsRoot(it->first)) gone.push_back(it->first);
  }
  for (const auto& p : gone) RemoveSubtree(p);
}

void GlobTree::HandleEvents() {
  alignas(struct inotify_event) char buf[64 * 1024];
  std::set<std::string> rescan, changed;
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
        HandleIgnored(ev->wd, &rescan);
        continue;
      }
      auto it = wd_to_dir_.find(ev->wd);
      if (it == wd_to_dir_.end()) continue;
      const std::string& dir = it->second;
      auto d = dirs_.find(dir);
      if (d == dirs_.end()) continue;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        rescan.insert(d->second.root ? dir : Parent(dir));
      } else if (ev->mask & IN_MODIFY) {
        if (d->second.leaf && !changed.count(dir)) {
          listener_->OnFileModified(dir, ev->len ? std::string(ev->name) : std::string());
        }
      } else if (ev->mask & IN_ISDIR) {
        rescan.insert(dir);
        if (d->second.leaf) changed.insert(dir);
      } else if (d->second.leaf) {
        changed.insert(dir);
      }
    }
  }
  if (overflow) {
    ++overflows_;
    pending_ignored_.clear();
    spdlog::warn("inotify queue overflow: rescanning the __path__ roots");
    Scan();
    return;
  }
  for (const auto& p : rescan) {
    if (IsRoot(p)) {
      ScanRoot(p);
      continue;
    }
    if (!dirs_.count(p)) continue;
    struct stat st;
    if (IsDirAt(p, false, &st)) ScanDir(p);
    else RemoveSubtree(p);
  }
  for (const auto& c : changed) {
    auto d = dirs_.find(c);
    if (d != dirs_.end() && d->second.leaf) listener_->OnContainerChanged(c);
  }
}

void GlobTree::HandleIgnored(int wd, std::set<std::string>* rescan) {
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
  rescan->insert(d->second.root ? path : Parent(path));
}

bool GlobTree::RetryWatch(const std::string& path) {
  auto d = dirs_.find(path);
  if (d == dirs_.end()) return false;
  if (d->second.wd >= 0) return true;
  struct stat st;
  if (!IsDirAt(path, d->second.root, &st) || static_cast<uint64_t>(st.st_dev) != d->second.dev ||
      static_cast<uint64_t>(st.st_ino) != d->second.ino) {
    return false;
  }
  if (!AddWatch(path, d->second)) {
    if (d->second.wd == -2) d->second.wd = -1;
    return false;
  }
  if (!unreadable_.count(path)) polled_.erase(path);
  return true;
}

void GlobTree::ReportListing(const std::string& path, int err, const std::string& what) {
  if (!dirs_.count(path)) return;
  if (err == EACCES || err == EPERM) {
    if (unreadable_.insert(path).second) {
      spdlog::warn("{}: {}: {}; polling it until it can be read (logq_shipper_unreadable_dirs)",
                   what.empty() ? path : what, what.empty() ? "cannot list" : "cannot open", std::strerror(err));
    }
    polled_.insert(path);
  } else if (err == EMFILE || err == ENFILE) {
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

void GlobTree::Poll() {
  if (polled_.empty()) return;
  std::vector<std::string> polled(polled_.begin(), polled_.end());
  for (const auto& p : polled) {
    if (IsRoot(p)) {
      ScanRoot(p);
      auto d = dirs_.find(p);
      if (d != dirs_.end() && d->second.leaf) listener_->OnContainerChanged(p);
      continue;
    }
    auto d = dirs_.find(p);
    if (d == dirs_.end()) {
      polled_.erase(p);
      continue;
    }
    if (d->second.lost_watch) {
      // Its watch died with the directory (or the wd was reused): the parent's scan tells
      // whether a directory of that name exists again (tracked anew).
      std::string parent = Parent(p);
      if (dirs_.count(parent)) ScanDir(parent);
      else RemoveSubtree(p);
      continue;
    }
    if (d->second.wd < 0 && unreadable_.count(p)) RetryWatch(p);
    struct stat st;
    if (!IsDirAt(p, false, &st)) {
      RemoveSubtree(p);
      continue;
    }
    ScanDir(p);
    d = dirs_.find(p);
    if (d != dirs_.end() && d->second.leaf) listener_->OnContainerChanged(p);
  }
}

}  // namespace logq::shipper
