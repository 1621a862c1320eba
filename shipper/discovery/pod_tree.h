// PodTree: discovers container log directories under the pods root
// (<root>/<namespace>_<pod>_<uid>/<container>/) with ONE inotify instance watching
// directories only (root, pod dirs, container dirs; never one watch per file).
//
//  * IN_Q_OVERFLOW (events lost) → full rescan, and every container is reported changed.
//  * A directory whose watch cannot be added (ENOSPC: fs.inotify.max_user_watches reached, or
//    the configured max_watches) is polled instead: Poll() rescans it, every
//    poll interval (the caller's timer). polled_dirs() is exported as a metric.
//  * The root may not exist yet; it is polled until it does.
//  * Symlinks below the root are never followed (lstat, IN_DONT_FOLLOW | IN_ONLYDIR): a link
//    to the root or to another pod would alias directories (one inode, one watch descriptor)
//    and loop. The root itself may be a symlink (it is configured, not discovered).
//  * Watch descriptors are checked against the (dev, inode) of the directory they were added
//    for: a wd the kernel freed (directory deleted, IN_IGNORED) and handed out again for
//    another directory re-maps to the new one, and the stale IN_IGNORED still queued for it is
//    expected (not applied to the new directory). A directory whose watch died but whose name
//    exists again (deleted and recreated) is reported removed and tracked anew. A directory
//    reached under a second path (bind mount) is not tracked twice.
//  * A directory that cannot be read (EACCES) is polled and reported by unreadable_dirs();
//    it is picked up on the first poll where it can be read.
//
// Thread-safety: none; the event-loop thread drives it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "query/base/status.h"
#include "shipper/discovery/pod_path.h"

namespace logq::shipper {

struct ContainerDir {
  std::string path;  // <root>/<pod dir>/<container>
  PodDirName pod;
  std::string container;
  bool from_glob = false;  // reported by GlobTree (__path__ globs): no pod, plain file names
};

class PodTreeListener {
 public:
  virtual ~PodTreeListener() = default;
  virtual void OnContainerAdded(const ContainerDir& dir) = 0;
  // The directory is gone (pod deleted); its files may still be open and are drained.
  virtual void OnContainerRemoved(const std::string& path) = 0;
  // Entries were created, renamed or deleted (or events were lost): rescan the files.
  virtual void OnContainerChanged(const std::string& path) = 0;
  // A file in the directory was written.
  virtual void OnFileModified(const std::string& dir, const std::string& name) = 0;
  // Listing `path` failed with EMFILE/ENFILE (out of file descriptors); it is retried every
  // poll until it succeeds.
  virtual void OnListError(const std::string& path, int err) { (void)path, (void)err; }
};

struct PodTreeOptions {
  std::string root = "/var/log/pods";  // default /var/log/pods
  int max_watches = 0;  // 0: no own limit (the kernel's max_user_watches applies)
};

class PodTree {
 public:
  static Result<std::unique_ptr<PodTree>> Create(const PodTreeOptions& options, PodTreeListener* listener);
  ~PodTree();

  int fd() const { return inotify_fd_; }
  // Full scan of the tree (startup, after an overflow).
  void Scan();
  // Reads and dispatches pending inotify events (non-blocking).
  void HandleEvents();
  // Rescans every polled directory (and retries their watches).
  void Poll();
  // The listener's listing of container directory `path` failed with `err` (errno), or
  // succeeded (0). EACCES/EPERM: the directory is reported unreadable and polled (the
  // listener is asked to rescan it every poll) until a listing succeeds.
  // `what` names the entry that failed (empty: the directory's own listing).
  void ReportListing(const std::string& path, int err, const std::string& what);

  size_t watches() const { return wd_to_dir_.size(); }
  size_t polled_dirs() const { return polled_.size(); }
  size_t containers() const { return containers_.size(); }
  uint64_t overflows() const { return overflows_; }
  // Distinct symlinks found (and not followed) where pod or container directories are
  // expected (counted up to 10,000).
  size_t symlinks_skipped() const { return symlinks_seen_.size(); }
  // Tracked directories whose last listing or watch failed with a permission error.
  size_t unreadable_dirs() const { return unreadable_.size(); }

 private:
  enum class Kind { kRoot, kPod, kContainer };
  struct Dir {
    Kind kind;
    int wd = -1;  // -1: polled
    uint64_t dev = 0, ino = 0;  // of the directory when it was tracked
    bool lost_watch = false;    // its wd was dropped by the kernel (deleted): re-track
  };
  PodTree(PodTreeOptions options, PodTreeListener* listener) : options_(std::move(options)), listener_(listener) {}
  // False when `path` is not tracked (an alias of a tracked directory, or gone).
  bool Track(const std::string& path, Kind kind);
  // Lists subdirectories (never symlinks) of a tracked directory; records permission errors.
  // False (and *dirs unusable) when the listing failed.
  bool ListSubdirs(const std::string& path, std::vector<std::string>* dirs);
  bool RetryWatch(const std::string& path);  // true when `path` has a watch afterwards
  void HandleIgnored(int wd, std::set<std::string>* rescan_pods, bool* rescan_root);
  void Untrack(const std::string& path);
  void ScanRoot();
  void ScanPod(const std::string& pod_path);
  void RemovePod(const std::string& pod_path);

  PodTreeOptions options_;
  PodTreeListener* listener_;
  int inotify_fd_ = -1;
  std::map<std::string, Dir> dirs_;          // every tracked directory
  std::map<int, std::string> wd_to_dir_;
  std::set<std::string> polled_;
  std::map<std::string, ContainerDir> containers_;
  uint64_t overflows_ = 0;
  std::set<std::string> symlinks_seen_;  // logged once each (bounded)
  std::set<std::string> unreadable_;
  std::set<std::string> failed_;  // listing failed for lack of fds: polled until it works
  std::map<int, int> pending_ignored_;  // wd → IN_IGNORED events still to come for old watches
};

}  // namespace logq::shipper
