// GlobTree: discovers the directories that can hold files matched by __path__ globs
// (static_configs), with ONE inotify instance watching directories only, as PodTree does for
// the kubelet layout.
//
//  * The watched roots are the globs' literal prefixes (PathGlob::Roots): "/var/log/*.log"
//    watches /var/log, "/data/**/app-?.log" watches /data and every directory below it. A
//    subdirectory is tracked only when some glob may match files in it or below it.
//  * Directories that may hold matching files are reported as containers (ContainerDir with
//    from_glob set and no pod); their file events come as OnContainerChanged/OnFileModified.
//  * A root that does not exist (yet) is polled until it does; a directory whose watch cannot
//    be added (ENOSPC, max_watches, EACCES) is polled. IN_Q_OVERFLOW → full rescan.
//  * Symlinked directories below a root are never followed (a link to an ancestor would
//    loop); a root may be a symlink. Symlinked FILES are the listener's business (followed).
//  * Watch descriptors are checked against the (dev, inode) of their directory (a reused wd
//    re-maps; a directory deleted and recreated under the same name is tracked anew); the
//    same directory reached under a second path (bind mount) is tracked once.
//  * Depth below a root is capped at kMaxGlobDepth directories.
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
#include "shipper/discovery/glob.h"
#include "shipper/discovery/pod_tree.h"

namespace logq::shipper {

inline constexpr int kMaxGlobDepth = 64;

struct GlobTreeOptions {
  std::vector<PathGlob> globs;  // every __path__ of every static_config (excludes not needed)
  int max_watches = 0;          // 0: no own limit (the kernel's max_user_watches applies)
};

class GlobTree {
 public:
  static Result<std::unique_ptr<GlobTree>> Create(GlobTreeOptions options, PodTreeListener* listener);
  ~GlobTree();

  int fd() const { return inotify_fd_; }
  void Scan();
  void HandleEvents();
  void Poll();
  // As PodTree::ReportListing, for directories this tree tracks (others are ignored).
  void ReportListing(const std::string& path, int err, const std::string& what);

  const std::vector<std::string>& roots() const { return roots_; }
  size_t watches() const { return wd_to_dir_.size(); }
  size_t polled_dirs() const { return polled_.size(); }
  size_t containers() const { return leaves_; }
  uint64_t overflows() const { return overflows_; }
  size_t unreadable_dirs() const { return unreadable_.size(); }

 private:
  struct Dir {
    int wd = -1;                // -1: polled
    uint64_t dev = 0, ino = 0;  // of the directory when it was tracked
    bool lost_watch = false;
    bool leaf = false;  // may hold matching files: reported to the listener
    bool root = false;
    int depth = 0;
  };
  GlobTree(GlobTreeOptions options, PodTreeListener* listener)
      : options_(std::move(options)), listener_(listener) {}
  bool Wanted(const std::string& path, bool* leaf) const;
  bool Track(const std::string& path, bool root, int depth);
  bool AddWatch(const std::string& path, Dir& d);
  bool RetryWatch(const std::string& path);
  void Untrack(const std::string& path);
  void RemoveSubtree(const std::string& path);
  void ScanRoot(const std::string& root);
  void ScanDir(const std::string& path);
  void HandleIgnored(int wd, std::set<std::string>* rescan);
  bool IsRoot(const std::string& p) const;

  GlobTreeOptions options_;
  PodTreeListener* listener_;
  std::vector<std::string> roots_;
  int inotify_fd_ = -1;
  std::map<std::string, Dir> dirs_;
  std::map<int, std::string> wd_to_dir_;
  std::set<std::string> polled_;
  size_t leaves_ = 0;
  uint64_t overflows_ = 0;
  std::set<std::string> symlinks_seen_;
  std::set<std::string> unreadable_;
  std::set<std::string> failed_;
  std::map<int, int> pending_ignored_;
  bool warned_limit_ = false;
};

}  // namespace logq::shipper
