#include "tests/deploy/deploy_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

extern char** environ;

namespace logq::deploy_test {
namespace fs = std::filesystem;

std::string CommandResult::Describe() const {
  std::string s = "exit " + std::to_string(exit_code);
  std::string e = err.size() > 3000 ? err.substr(err.size() - 3000) : err;
  if (!e.empty()) s += ", stderr: " + e;
  if (err.empty() && !out.empty()) s += ", stdout: " + out.substr(0, 3000);
  return s;
}

std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult r;
  if (argv.empty()) return r;
  std::string binary = FindInPath(argv[0]);
  if (binary.empty()) {
    r.exit_code = 127;
    r.err = argv[0] + ": not found";
    return r;
  }
  char dir_tmpl[] = "/tmp/logq-deploy-cmd-XXXXXX";
  if (mkdtemp(dir_tmpl) == nullptr) {
    r.err = "mkdtemp failed";
    return r;
  }
  std::string dir = dir_tmpl;
  std::string out_path = dir + "/out", err_path = dir + "/err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    r.exit_code = 127;
    r.err = "posix_spawn " + binary + " failed: " + std::strerror(rc);
  } else {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::ifstream o(out_path), e(err_path);
    std::stringstream os, es;
    os << o.rdbuf();
    es << e.rdbuf();
    r.out = os.str();
    r.err = es.str();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

std::string SourcePath(const std::string& relative) { return std::string(LOGQ_SOURCE_DIR) + "/" + relative; }

bool FileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ProjectVersion() {
  std::string text = ReadFileOrDie(SourcePath("CMakeLists.txt"));
  std::smatch m;
  static const std::regex re(R"(project\(\s*logq\s+VERSION\s+([0-9][0-9.]*))");
  if (!std::regex_search(text, m, re)) {
    ADD_FAILURE() << "no `project(logq VERSION x.y.z` in CMakeLists.txt";
    return "";
  }
  return m[1].str();
}

std::string KubectlMissingReason() {
  if (FindInPath("kubectl").empty()) {
    return "kubectl is not installed (not in PATH): the Kustomize manifests in deploy/kubernetes "
           "were NOT rendered or checked. Install kubectl (with its built-in kustomize) to run these "
           "checks; CI has it.";
  }
  return "";
}

std::vector<std::string> KustomizeTargets() {
  std::vector<std::string> targets = {"deploy/kubernetes/base"};
  std::vector<std::string> overlays;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(SourcePath("deploy/kubernetes/overlays"), ec)) {
    if (e.is_directory() && fs::exists(e.path() / "kustomization.yaml")) {
      overlays.push_back("deploy/kubernetes/overlays/" + e.path().filename().string());
    }
  }
  std::sort(overlays.begin(), overlays.end());
  targets.insert(targets.end(), overlays.begin(), overlays.end());
  return targets;
}

const Rendering& Render(const std::string& dir) {
  static std::map<std::string, Rendering> cache;
  auto it = cache.find(dir);
  if (it != cache.end()) return it->second;
  Rendering r;
  r.command = RunCommand({"kubectl", "kustomize", SourcePath(dir)});
  if (r.command.exit_code == 0) {
    try {
      for (const auto& doc : YAML::LoadAll(r.command.out)) {
        if (doc && !doc.IsNull()) r.objects.push_back(doc);
      }
    } catch (const YAML::Exception& e) {
      r.parse_error = e.what();
    }
  }
  return cache.emplace(dir, std::move(r)).first->second;
}

std::vector<YAML::Node> OfKind(const std::vector<YAML::Node>& objects, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& o : objects) {
    if (o["kind"] && o["kind"].as<std::string>() == kind) out.push_back(o);
  }
  return out;
}

YAML::Node Find(const std::vector<YAML::Node>& objects, const std::string& kind, const std::string& name) {
  for (const auto& o : OfKind(objects, kind)) {
    if (o["metadata"]["name"].as<std::string>("") == name) return o;
  }
  return YAML::Node();
}

std::vector<Workload> Workloads(const std::vector<YAML::Node>& objects) {
  std::vector<Workload> out;
  for (const auto& o : objects) {
    std::string kind = o["kind"].as<std::string>("");
    if (kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet") continue;
    Workload w;
    w.kind = kind;
    w.name = o["metadata"]["name"].as<std::string>("");
    w.namespace_ = o["metadata"]["namespace"].as<std::string>("");
    w.object = o;
    w.pod_spec = o["spec"]["template"]["spec"];
    for (const auto& kv : o["spec"]["template"]["metadata"]["labels"]) {
      w.pod_labels[kv.first.as<std::string>()] = kv.second.as<std::string>("");
    }
    out.push_back(std::move(w));
  }
  return out;
}

std::optional<Workload> FindWorkload(const std::vector<YAML::Node>& objects, const std::string& kind,
                                     const std::string& name) {
  for (auto& w : Workloads(objects)) {
    if (w.kind == kind && w.name == name) return w;
  }
  return std::nullopt;
}

std::vector<YAML::Node> Containers(const YAML::Node& pod_spec) {
  std::vector<YAML::Node> out;
  for (const char* key : {"initContainers", "containers"}) {
    for (const auto& c : pod_spec[key]) out.push_back(c);
  }
  return out;
}

YAML::Node FindContainer(const YAML::Node& pod_spec, const std::string& name) {
  for (const auto& c : Containers(pod_spec)) {
    if (c["name"].as<std::string>("") == name) return c;
  }
  return YAML::Node();
}

std::optional<std::string> FlagValue(const YAML::Node& container, const std::string& name) {
  for (const char* key : {"command", "args"}) {
    for (const auto& a : container[key]) {
      std::string s = a.as<std::string>("");
      for (const std::string& prefix : {"-" + name + "=", "--" + name + "="}) {
        if (s.rfind(prefix, 0) == 0) return s.substr(prefix.size());
      }
    }
  }
  return std::nullopt;
}

std::optional<int> ResolveContainerPort(const YAML::Node& container, const YAML::Node& port) {
  if (!port || !port.IsScalar()) return std::nullopt;
  std::string p = port.Scalar();
  bool numeric = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
  for (const auto& cp : container["ports"]) {
    int number = cp["containerPort"].as<int>(0);
    if (numeric ? number == std::stoi(p) : cp["name"].as<std::string>("") == p) return number;
  }
  return std::nullopt;
}

MountAt FindMountContaining(const YAML::Node& pod_spec, const YAML::Node& container, const std::string& path) {
  MountAt best;
  size_t best_len = 0;
  for (const auto& m : container["volumeMounts"]) {
    std::string mp = m["mountPath"].as<std::string>("");
    while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
    bool contains = path == mp || (path.rfind(mp + "/", 0) == 0) || mp == "/";
    if (!contains || mp.size() < best_len) continue;
    best_len = mp.size();
    // reset(), not operator=: assigning to a Node that refers to a document node would
    // overwrite that node in the document.
    best.mount.reset(m);
    best.volume.reset();
    for (const auto& v : pod_spec["volumes"]) {
      if (v["name"].as<std::string>("") == m["name"].as<std::string>("")) best.volume.reset(v);
    }
  }
  return best;
}

std::optional<std::string> ConfigMapFileAt(const std::vector<YAML::Node>& objects, const YAML::Node& pod_spec,
                                           const YAML::Node& container, const std::string& path) {
  MountAt at = FindMountContaining(pod_spec, container, path);
  if (!Present(at.mount) || !Present(at.volume) || !at.volume["configMap"]) return std::nullopt;
  std::string mount_path = at.mount["mountPath"].as<std::string>();
  while (mount_path.size() > 1 && mount_path.back() == '/') mount_path.pop_back();
  std::string rel = path.substr(std::min(path.size(), mount_path.size() + 1));
  if (at.mount["subPath"]) rel = at.mount["subPath"].as<std::string>() + (rel.empty() ? "" : "/" + rel);
  std::string key = rel;
  if (at.volume["configMap"]["items"]) {
    key.clear();
    for (const auto& item : at.volume["configMap"]["items"]) {
      if (item["path"].as<std::string>("") == rel) key = item["key"].as<std::string>("");
    }
  }
  YAML::Node cm = Find(objects, "ConfigMap", at.volume["configMap"]["name"].as<std::string>(""));
  if (!Present(cm) || key.empty() || !cm["data"][key]) return std::nullopt;
  return cm["data"][key].as<std::string>();
}

bool SelectorMatches(const YAML::Node& selector, const std::map<std::string, std::string>& labels) {
  if (!selector || !selector.IsMap() || selector.size() == 0) return false;
  for (const auto& kv : selector) {
    auto it = labels.find(kv.first.as<std::string>());
    if (it == labels.end() || it->second != kv.second.as<std::string>("")) return false;
  }
  return true;
}

TempFile::TempFile(const std::string& name, const std::string& content) {
  char tmpl[] = "/tmp/logq-deploy-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  path_ = dir_ + "/" + name;
  std::ofstream(path_, std::ios::binary) << content;
}

TempFile::~TempFile() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

namespace {
std::string ExistingOrEmpty(const char* path) {
  std::string p = path;
  return !p.empty() && FileExists(p) ? p : "";
}
}  // namespace

std::string StoreBinary() { return LOGQ_STORE_BIN; }
std::string ShipperBinary() { return ExistingOrEmpty(LOGQ_SHIPPER_BIN); }
std::string CliBinary() { return ExistingOrEmpty(LOGQ_CLI_BIN); }

}  // namespace logq::deploy_test
