// The configuration files the deployment ships are accepted by the real binaries'
// validators (`-config.check`), with the container's own flags; the endpoints the probes and
// the image HEALTHCHECK use answer on a real logq-store.
#include <gtest/gtest.h>

#include "tests/deploy/deploy_util.h"
#include "tests/testing/http_client.h"
#include "tests/testing/store_process.h"

namespace logq::deploy_test {
namespace {

// The file a workload's container reads as -config.file, from the rendered ConfigMaps, and
// the container's other arguments.
struct ContainerConfig {
  std::string file_text;
  std::vector<std::string> other_args;
};

ContainerConfig ConfigOf(const std::string& target, const std::string& kind, const std::string& name) {
  ContainerConfig out;
  const Rendering& r = Render(target);
  auto w = FindWorkload(r.objects, kind, name);
  EXPECT_TRUE(w.has_value()) << target << ": no " << kind << " " << name;
  if (!w) return out;
  YAML::Node c = FindContainer(w->pod_spec, name);
  auto file = FlagValue(c, "config.file");
  EXPECT_TRUE(file.has_value()) << name << " has no -config.file argument";
  if (!file) return out;
  auto text = ConfigMapFileAt(r.objects, w->pod_spec, c, *file);
  EXPECT_TRUE(text.has_value()) << name << ": " << *file << " is not in a mounted ConfigMap";
  out.file_text = text.value_or("");
  for (const auto& a : c["args"]) {
    std::string s = a.as<std::string>();
    if (s.find("config.file=") == std::string::npos) out.other_args.push_back(s);
  }
  return out;
}

class EmbeddedConfigTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string missing = KubectlMissingReason();
    if (!missing.empty()) GTEST_SKIP() << missing;
    ASSERT_EQ(Render(GetParam()).command.exit_code, 0) << Render(GetParam()).command.Describe();
  }
};

TEST_P(EmbeddedConfigTest, StoreConfigMapPassesLogqStoreConfigCheck) {
  ContainerConfig cfg = ConfigOf(GetParam(), "StatefulSet", "logq-store");
  ASSERT_FALSE(cfg.file_text.empty());
  TempFile file("store.yaml", cfg.file_text);
  std::vector<std::string> argv = {StoreBinary(), "-config.file=" + file.path()};
  argv.insert(argv.end(), cfg.other_args.begin(), cfg.other_args.end());
  argv.push_back("-config.check");
  CommandResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << GetParam() << " store config rejected by logq-store: " << r.Describe();
  EXPECT_NE(r.out.find("config OK"), std::string::npos) << r.out;
}

TEST_P(EmbeddedConfigTest, StoreConfigMapEnablesRetention) {
  ContainerConfig cfg = ConfigOf(GetParam(), "StatefulSet", "logq-store");
  TempFile file("store.yaml", cfg.file_text);
  CommandResult r = RunCommand({StoreBinary(), "-config.file=" + file.path(), "-print-config"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  YAML::Node effective = YAML::Load(r.out);
  EXPECT_TRUE(effective["compactor"]["retention_enabled"].as<bool>(false))
      << GetParam() << ": retention is off, the volume fills up";
  std::string period = effective["limits_config"]["retention_period"].as<std::string>("");
  EXPECT_FALSE(period.empty() || period == "0s") << GetParam() << ": retention_period keeps logs forever";
}

TEST_P(EmbeddedConfigTest, ShipperConfigMapPassesLogqShipperConfigCheck) {
  std::string shipper = ShipperBinary();
  if (shipper.empty()) GTEST_SKIP() << "logq-shipper is not built in this tree: its config was not validated";
  ContainerConfig cfg = ConfigOf(GetParam(), "DaemonSet", "logq-shipper");
  ASSERT_FALSE(cfg.file_text.empty());
  TempFile file("shipper.yaml", cfg.file_text);
  std::vector<std::string> argv = {shipper, "-config.file=" + file.path()};
  argv.insert(argv.end(), cfg.other_args.begin(), cfg.other_args.end());
  argv.push_back("-config.check");
  CommandResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << GetParam() << " shipper config rejected by logq-shipper: " << r.Describe();
}

INSTANTIATE_TEST_SUITE_P(Kustomize, EmbeddedConfigTest, ::testing::ValuesIn(KustomizeTargets()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(info.param.rfind('/') + 1);
                         });

// The validators these tests rely on do reject bad files (a check that cannot fail proves nothing).
TEST(ConfigCheckTest, ValidatorsRejectAnUnknownKey) {
  TempFile bad("bad.yaml", "server:\n  http_listen_prot: 3100\n");
  CommandResult store = RunCommand({StoreBinary(), "-config.file=" + bad.path(), "-config.check"});
  EXPECT_EQ(store.exit_code, 1) << store.Describe();
  EXPECT_NE(store.err.find("http_listen_prot"), std::string::npos) << store.err;
  std::string shipper = ShipperBinary();
  if (shipper.empty()) GTEST_SKIP() << "logq-shipper is not built in this tree";
  CommandResult s = RunCommand({shipper, "-config.file=" + bad.path(), "-config.check"});
  EXPECT_NE(s.exit_code, 0) << s.Describe();
  EXPECT_NE((s.err + s.out).find("http_listen_prot"), std::string::npos) << s.Describe();
}

TEST(ConfigCheckTest, ImageDefaultStoreConfigPasses) {
  CommandResult r = RunCommand({StoreBinary(), "-config.file=" + SourcePath("deploy/docker/store.yaml"), "-config.check"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  CommandResult p = RunCommand({StoreBinary(), "-config.file=" + SourcePath("deploy/docker/store.yaml"), "-print-config"});
  ASSERT_EQ(p.exit_code, 0) << p.Describe();
  // The image declares VOLUME /var/lib/logq and EXPOSE 3100.
  YAML::Node effective = YAML::Load(p.out);
  EXPECT_EQ(effective["common"]["path_prefix"].as<std::string>(""), "/var/lib/logq");
  EXPECT_EQ(effective["server"]["http_listen_port"].as<int>(0), 3100);
}

// The probe paths of the store container and the image's HEALTHCHECK script, against a real
// logq-store: 200 where healthy, failure where not.
TEST(ProbeEndpointTest, StoreAnswersProbePathsAndTheHealthcheckScriptTellsHealthyFromNot) {
  auto store = testing::StoreProcess::Start();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  testing::TestHttpClient http((*store)->base_url());
  for (const char* path : {"/ready", "/metrics"}) {
    auto reply = http.Get(path);
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.Describe();
  }
  std::string script = SourcePath("deploy/docker/healthcheck.sh");
  std::string port = std::to_string((*store)->port());
  CommandResult ok = RunCommand({"bash", script, port, "/ready"});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  CommandResult missing = RunCommand({"bash", script, port, "/no-such-endpoint"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_NE(missing.err.find("404"), std::string::npos) << missing.err;
  CommandResult usage = RunCommand({"bash", script});
  EXPECT_EQ(usage.exit_code, 2) << usage.Describe();
  (*store)->Kill();
  CommandResult down = RunCommand({"bash", script, port, "/ready"});
  EXPECT_EQ(down.exit_code, 1) << down.Describe();
}

}  // namespace
}  // namespace logq::deploy_test
