// deploy/Tiltfile cannot run here (no tilt, no cluster). Its calls are checked against the
// repository: it refuses non-local contexts, builds images from stages that exist in the
// Dockerfile with a context that holds every COPY source, deploys the dev overlay, and names
// only workloads that overlay has, with Grafana's port forwarded.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "tests/deploy/deploy_util.h"

namespace logq::deploy_test {
namespace {

std::string Tiltfile() { return ReadFileOrDie(SourcePath("deploy/Tiltfile")); }

std::vector<std::string> StringList(const std::string& text, const std::string& variable) {
  std::smatch m;
  std::vector<std::string> out;
  if (!std::regex_search(text, m, std::regex(variable + R"(\s*=\s*\[([^\]]*)\])"))) return out;
  std::string body = m[1].str();
  static const std::regex item(R"('([^']*)')");
  for (std::sregex_iterator it(body.begin(), body.end(), item), end; it != end; ++it) out.push_back((*it)[1].str());
  return out;
}

TEST(TiltfileTest, OnlyLocalContextsAreAllowed) {
  std::string t = Tiltfile();
  // allow_k8s_contexts is called once, with the current context, after the local check.
  std::vector<size_t> calls;
  static const std::regex allow(R"(\ballow_k8s_contexts\(([^)]*)\))");
  for (std::sregex_iterator it(t.begin(), t.end(), allow), end; it != end; ++it) {
    EXPECT_EQ((*it)[1].str(), "context") << "allow_k8s_contexts with something else than the checked context";
    calls.push_back(static_cast<size_t>(it->position()));
  }
  ASSERT_EQ(calls.size(), 1u);
  size_t check = t.find("if not is_local_context(context):");
  ASSERT_NE(check, std::string::npos);
  EXPECT_LT(check, calls[0]);
  EXPECT_NE(t.find("fail(", check), std::string::npos);
  EXPECT_NE(t.find("context = k8s_context()"), std::string::npos);

  const std::set<std::string> kLocalNames = {"minikube", "docker-desktop", "docker-for-desktop", "rancher-desktop",
                                             "orbstack", "colima"};
  auto names = StringList(t, "LOCAL_CONTEXTS");
  auto prefixes = StringList(t, "LOCAL_CONTEXT_PREFIXES");
  ASSERT_FALSE(names.empty());
  for (const auto& n : names) EXPECT_TRUE(kLocalNames.count(n)) << "not a local cluster: " << n;
  EXPECT_EQ(std::set<std::string>(prefixes.begin(), prefixes.end()), (std::set<std::string>{"kind-", "k3d-"}));
}

TEST(TiltfileTest, ImagesBuildFromDockerfileStagesWithAContextHoldingEveryCopySource) {
  std::string t = Tiltfile();
  std::string dockerfile = ReadFileOrDie(SourcePath("deploy/docker/Dockerfile"));
  std::set<std::string> stages;
  static const std::regex from(R"(\nFROM \S+ AS (\S+))");
  for (std::sregex_iterator it(dockerfile.begin(), dockerfile.end(), from), end; it != end; ++it) stages.insert((*it)[1].str());

  auto only = StringList(t, "DOCKER_CONTEXT_ONLY");
  ASSERT_FALSE(only.empty());
  for (const auto& o : only) EXPECT_TRUE(FileExists(SourcePath(o))) << "DOCKER_CONTEXT_ONLY: no " << o;
  // Every context COPY of the Dockerfile is inside `only`.
  static const std::regex copy(R"(\nCOPY (?!--from)([^\n]*))");
  for (std::sregex_iterator it(dockerfile.begin(), dockerfile.end(), copy), end; it != end; ++it) {
    std::string src = (*it)[1].str().substr(0, (*it)[1].str().find(' '));
    bool inside = std::any_of(only.begin(), only.end(),
                              [&](const std::string& o) { return src == o || src.rfind(o + "/", 0) == 0; });
    EXPECT_TRUE(inside) << "COPY " << src << " is outside the Tilt build context";
  }

  static const std::regex build(
      R"re(docker_build\('([^']+)', REPO_ROOT, dockerfile='([^']+)', target='([^']+)',)re");
  std::map<std::string, std::string> images;  // repo -> stage
  for (std::sregex_iterator it(t.begin(), t.end(), build), end; it != end; ++it) {
    EXPECT_EQ((*it)[2].str(), "docker/Dockerfile");
    EXPECT_TRUE(stages.count((*it)[3].str())) << "no Dockerfile stage " << (*it)[3].str();
    images[(*it)[1].str()] = (*it)[3].str();
  }
  EXPECT_NE(t.find("REPO_ROOT = '..'"), std::string::npos);
  EXPECT_EQ(images, (std::map<std::string, std::string>{{"logq/logq-store", "store"}, {"logq/logq-shipper", "shipper"}}));

  // Tilt swaps these images in the manifests it deploys: they must be the images used there.
  std::string missing = KubectlMissingReason();
  if (!missing.empty()) GTEST_SKIP() << missing;
  std::set<std::string> used;
  for (const auto& w : Workloads(Render("deploy/kubernetes/overlays/dev").objects)) {
    for (const auto& c : Containers(w.pod_spec)) {
      std::string image = c["image"].as<std::string>("");
      used.insert(image.substr(0, image.rfind(':')));
    }
  }
  for (const auto& [repo, stage] : images) EXPECT_TRUE(used.count(repo)) << repo << " is not used by overlays/dev";
}

TEST(TiltfileTest, DeploysTheDevOverlayAndForwardsGrafana) {
  std::string t = Tiltfile();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(t, m, std::regex(R"(k8s_yaml\(kustomize\('([^']+)'\)\))")));
  EXPECT_EQ(m[1].str(), "kubernetes/overlays/dev") << "tilt up must run what `kubectl apply -k overlays/dev` runs";

  std::string missing = KubectlMissingReason();
  if (!missing.empty()) GTEST_SKIP() << missing;
  const Rendering& r = Render("deploy/kubernetes/overlays/dev");
  ASSERT_EQ(r.command.exit_code, 0) << r.command.Describe();
  std::map<std::string, Workload> workloads;
  for (auto& w : Workloads(r.objects)) workloads[w.name] = w;

  static const std::regex resource(R"(k8s_resource\('([^']+)'([^\n]*(?:\n {13,}[^\n]*)*)\))");
  std::set<std::string> named;
  for (std::sregex_iterator it(t.begin(), t.end(), resource), end; it != end; ++it) {
    std::string name = (*it)[1].str(), rest = (*it)[2].str();
    named.insert(name);
    ASSERT_TRUE(workloads.count(name)) << "k8s_resource('" << name << "'): no such workload in overlays/dev";
    std::smatch pf;
    if (std::regex_search(rest, pf, std::regex(R"(port_forwards=\['([0-9]+):([0-9]+)'\])"))) {
      int container_port = std::stoi(pf[2].str());
      bool found = false;
      for (const auto& c : Containers(workloads[name].pod_spec)) {
        for (const auto& p : c["ports"]) found |= p["containerPort"].as<int>(0) == container_port;
      }
      EXPECT_TRUE(found) << name << " forwards to port " << container_port << " which it does not expose";
    }
  }
  for (const char* n : {"logq-store", "logq-shipper", "grafana"}) EXPECT_TRUE(named.count(n)) << n;
  EXPECT_NE(t.find("k8s_resource('grafana', port_forwards=['3000:3000']"), std::string::npos);
}

}  // namespace
}  // namespace logq::deploy_test
