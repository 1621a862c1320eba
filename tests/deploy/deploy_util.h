// Helpers of the deploy tests (tests/deploy): run a command and capture its output, render a
// Kustomize directory with `kubectl kustomize`, and look things up in the rendered manifests
// the way Kubernetes resolves them (a volume's configMap name, a probe's named port).
//
// Test-only; use from the test's main thread. Renderings are cached per process (rendering
// is the slow part, ~0.2 s each) and never change during a run.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace logq::deploy_test {

struct CommandResult {
  int exit_code = -1;  // 0..255; 128+N when killed by signal N; 127 when it could not start
  std::string out;     // stdout
  std::string err;     // stderr
  // "exit 1, stderr: ..." for assertion messages.
  std::string Describe() const;
};

// Runs argv (argv[0] is looked up in PATH when it has no '/'), without a shell, with stdin
// from /dev/null and stdout/stderr captured through temporary files.
CommandResult RunCommand(const std::vector<std::string>& argv);

// Absolute path of `name` in PATH, or "" when absent.
std::string FindInPath(const std::string& name);

// Absolute path of a file in the source tree, e.g. SourcePath("deploy/Tiltfile").
std::string SourcePath(const std::string& relative);
std::string ReadFileOrDie(const std::string& path);  // ADD_FAILURE and "" when unreadable
bool FileExists(const std::string& path);

// The version in the top-level CMakeLists.txt (`project(logq VERSION x.y.z`): the tag of
// logq's own images.
std::string ProjectVersion();

// Why deploy checks that need kubectl are skipped, or "" when kubectl is present.
std::string KubectlMissingReason();

// Kustomization directories that must build: deploy/kubernetes/base and every
// deploy/kubernetes/overlays/<name> (relative to the source root, sorted).
std::vector<std::string> KustomizeTargets();

struct Rendering {
  CommandResult command;            // the kubectl run
  std::vector<YAML::Node> objects;  // one per YAML document, nulls dropped
  std::string parse_error;          // non-empty when the output is not YAML
};
// `kubectl kustomize <SourcePath(dir)>`, cached.
const Rendering& Render(const std::string& dir);

// False for an undefined node (a missing map key) and for a null node (what Find,
// FindContainer and MountAt return when nothing was found).
inline bool Present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// Objects of a kind; the one of a kind and name (null node when absent).
std::vector<YAML::Node> OfKind(const std::vector<YAML::Node>& objects, const std::string& kind);
YAML::Node Find(const std::vector<YAML::Node>& objects, const std::string& kind,
                const std::string& name);

// A workload (Deployment, StatefulSet, DaemonSet) with its pod spec.
struct Workload {
  std::string kind;
  std::string name;
  std::string namespace_;
  YAML::Node object;
  YAML::Node pod_spec;  // spec.template.spec
  std::map<std::string, std::string> pod_labels;
};
std::vector<Workload> Workloads(const std::vector<YAML::Node>& objects);
std::optional<Workload> FindWorkload(const std::vector<YAML::Node>& objects,
                                     const std::string& kind, const std::string& name);

// Every container and init container of a pod spec.
std::vector<YAML::Node> Containers(const YAML::Node& pod_spec);
YAML::Node FindContainer(const YAML::Node& pod_spec, const std::string& name);

// The value of a flag "-name=value" (or "--name=value") in a container's args/command.
std::optional<std::string> FlagValue(const YAML::Node& container, const std::string& name);

// A container port by name or number (as a probe's `port` refers to it): the containerPort,
// or nullopt when the container declares no such port.
std::optional<int> ResolveContainerPort(const YAML::Node& container, const YAML::Node& port);

// The content of the file a container reads at `path` when `path` lies in a mounted
// ConfigMap volume: the ConfigMap (found by the volume's configMap.name, with `items`
// honoured) and key. nullopt when no ConfigMap volume of the pod spec provides it.
std::optional<std::string> ConfigMapFileAt(const std::vector<YAML::Node>& objects,
                                           const YAML::Node& pod_spec,
                                           const YAML::Node& container, const std::string& path);

// The volume mount of `container` whose mountPath contains `path` (longest match), and the
// pod volume it mounts. Null nodes (see Present) when none.
struct MountAt {
  YAML::Node mount;
  YAML::Node volume;
};
MountAt FindMountContaining(const YAML::Node& pod_spec, const YAML::Node& container,
                            const std::string& path);

// True when every key=value of `selector` is in `labels`.
bool SelectorMatches(const YAML::Node& selector, const std::map<std::string, std::string>& labels);

// A temporary file holding `content`, removed on destruction.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// Built binaries: logq-store always; logq-shipper and logq when their targets exist in this
// build ("" otherwise, or when the file is missing).
std::string StoreBinary();
std::string ShipperBinary();
std::string CliBinary();

}  // namespace logq::deploy_test
