// PodTree: discovers container log directories under the pods root
// (<root>/<namespace>_<pod>_<uid>/<container>/) with ONE inotify instance watching
// directories only (root, pod dirs, container dirs; never one watch per file).
//
//  * IN_Q_OVERFLOW (events lost) → full rescan, and every container is reported changed.
//  * A directory whose watch cannot be added (ENOSPC: fs.inotify.max_user_watches reached, or
//    the configured max_watches) is polled instead: Poll() rescans it, every
//    poll interval (the caller's timer). polled_dirs() is exported as a metric.
//  * The root may not exist yet; it is polled until it does.
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
  // Rescans every polled directory.
  void Poll();

  size_t watches() const { return wd_to_dir_.size(); }
  size_t polled_dirs() const { return polled_.size(); }
  size_t containers() const { return containers_.size(); }
  uint64_t overflows() const { return overflows_; }

 private:
  enum class Kind { kRoot, kPod, kContainer };
  struct Dir {
    Kind kind;
    int wd = -1;  // -1: polled
  };
  PodTree(PodTreeOptions options, PodTreeListener* listener) : options_(std::move(options)), listener_(listener) {}
  void Track(const std::string& path, Kind kind);
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
};

}  // namespace logq::shipper
