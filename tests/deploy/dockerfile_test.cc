// deploy/docker/Dockerfile cannot be built here (no Docker daemon on the development and CI
// machines), so its properties are checked statically: Debian 12 bases, a build stage that
// installs scripts/deps.sh and builds with cmake, slim runtime stages with a HEALTHCHECK and a
// non-root user where possible, no build tools in the runtime, every COPY source inside the
// build context, and — against the binaries built here, which link the same Debian 12
// packages — each runtime stage installs exactly the libraries its binary needs.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/deploy/deploy_util.h"

namespace logq::deploy_test {
namespace {

struct Instruction {
  std::string op;    // upper case: FROM, RUN, COPY, ...
  std::string args;  // continuation lines joined
  int line = 0;
};

struct Stage {
  std::string name;
  std::string base;
  std::vector<Instruction> instructions;
  std::vector<std::string> All(const std::string& op) const {
    std::vector<std::string> out;
    for (const auto& i : instructions) {
      if (i.op == op) out.push_back(i.args);
    }
    return out;
  }
  std::string Last(const std::string& op) const {
    auto all = All(op);
    return all.empty() ? "" : all.back();
  }
  // Packages of every `apt-get install` in the stage's RUN instructions.
  std::set<std::string> AptPackages() const {
    std::set<std::string> out;
    for (const auto& run : All("RUN")) {
      static const std::regex install(R"(apt-get\s+install\s+([^&;|]*))");
      for (std::sregex_iterator it(run.begin(), run.end(), install), end; it != end; ++it) {
        std::istringstream words((*it)[1].str());
        std::string w;
        while (words >> w) {
          if (w[0] != '-') out.insert(w);
        }
      }
    }
    return out;
  }
};

std::vector<Stage> ParseDockerfile(const std::string& text) {
  std::vector<Stage> stages;
  std::istringstream in(text);
  std::string line, pending;
  int lineno = 0, start = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string trimmed = line.substr(std::min(line.size(), line.find_first_not_of(" \t")));
    if (pending.empty() && (trimmed.empty() || trimmed[0] == '#')) continue;
    if (!pending.empty() && !trimmed.empty() && trimmed[0] == '#') continue;  // comment inside a continuation
    if (pending.empty()) start = lineno;
    if (!line.empty() && line.back() == '\\') {
      pending += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    pending += line;
    std::istringstream words(pending);
    Instruction ins;
    words >> ins.op;
    std::transform(ins.op.begin(), ins.op.end(), ins.op.begin(), ::toupper);
    std::getline(words, ins.args);
    ins.args = ins.args.substr(std::min(ins.args.size(), ins.args.find_first_not_of(' ')));
    ins.line = start;
    pending.clear();
    if (ins.op == "FROM") {
      Stage s;
      std::istringstream fw(ins.args);
      std::string as;
      fw >> s.base >> as >> s.name;
      stages.push_back(s);
    }
    if (!stages.empty()) stages.back().instructions.push_back(ins);
  }
  return stages;
}

class DockerfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stages_ = ParseDockerfile(ReadFileOrDie(SourcePath("deploy/docker/Dockerfile")));
    for (const auto& s : stages_) by_name_[s.name] = &s;
  }
  const Stage* Get(const std::string& name) {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  std::vector<Stage> stages_;
  std::map<std::string, const Stage*> by_name_;
};

// The runtime stages and the binary each ships.
const std::map<std::string, std::string> kRuntime = {
    {"store", "logq-store"}, {"shipper", "logq-shipper"}, {"cli", "logq"}};

TEST_F(DockerfileTest, StagesAreOnDebian12AndNamed) {
  ASSERT_EQ(stages_.size(), 4u);
  for (const auto& s : stages_) {
    EXPECT_FALSE(s.name.empty()) << "unnamed stage FROM " << s.base;
    EXPECT_TRUE(s.base == "debian:12" || s.base == "debian:12-slim") << s.name << " FROM " << s.base;
  }
  ASSERT_NE(Get("build"), nullptr);
  EXPECT_EQ(Get("build")->base, "debian:12");
  for (const auto& [stage, binary] : kRuntime) {
    ASSERT_NE(Get(stage), nullptr) << "no stage " << stage;
    EXPECT_EQ(Get(stage)->base, "debian:12-slim") << stage;
  }
}

TEST_F(DockerfileTest, BuildStageUsesTheProjectsDependencyScriptAndCmake) {
  const Stage* b = Get("build");
  ASSERT_NE(b, nullptr);
  std::string runs;
  for (const auto& r : b->All("RUN")) runs += r + "\n";
  EXPECT_NE(runs.find("scripts/deps.sh"), std::string::npos) << "packages must come from scripts/deps.sh";
  EXPECT_NE(runs.find("cmake -S . -B"), std::string::npos);
  EXPECT_NE(runs.find("cmake --build"), std::string::npos);
  EXPECT_NE(runs.find("-DLOGQ_BUILD_TESTS=OFF"), std::string::npos);
  for (const auto& [stage, binary] : kRuntime) {
    EXPECT_NE(runs.find(binary), std::string::npos) << "build stage does not collect " << binary;
  }
  // deps.sh is copied before the sources, so editing code does not reinstall packages.
  int deps = 0, sources = 0;
  for (const auto& i : b->instructions) {
    if (i.op == "COPY" && i.args.find("scripts/deps.sh") != std::string::npos && !deps) deps = i.line;
    if (i.op == "COPY" && i.args.rfind("query", 0) == 0) sources = i.line;
  }
  EXPECT_TRUE(deps && sources && deps < sources);
}

TEST_F(DockerfileTest, RuntimeStagesAreSlimWithAHealthcheckAndTheRightUser) {
  for (const auto& [stage, binary] : kRuntime) {
    const Stage* s = Get(stage);
    ASSERT_NE(s, nullptr);
    SCOPED_TRACE(stage);
    for (const auto& pkg : s->AptPackages()) {
      EXPECT_TRUE(pkg.find("-dev") == std::string::npos && pkg != "build-essential" && pkg != "cmake" &&
                  pkg != "g++" && pkg != "ninja-build" && pkg != "curl")
          << "build tool in a runtime image: " << pkg;
    }
    std::string runs;
    for (const auto& r : s->All("RUN")) runs += r;
    EXPECT_NE(runs.find("--no-install-recommends"), std::string::npos);
    EXPECT_NE(runs.find("rm -rf /var/lib/apt/lists/*"), std::string::npos);
    EXPECT_NE(s->Last("COPY").size() + s->All("COPY").size(), 0u);
    bool copies_binary = false;
    for (const auto& c : s->All("COPY")) {
      copies_binary |= c.find("--from=build /out/" + binary + " ") != std::string::npos;
    }
    EXPECT_TRUE(copies_binary) << "does not copy " << binary << " from the build stage";
    EXPECT_NE(s->Last("ENTRYPOINT").find("/usr/local/bin/" + binary + "\""), std::string::npos);

    std::string user = s->Last("USER");
    ASSERT_FALSE(user.empty()) << "no USER: the image runs as root by accident";
    std::string uid = user.substr(0, user.find(':'));
    if (stage == "shipper") {
      EXPECT_EQ(uid, "0") << "the shipper reads root-owned 0640 pod logs; root is explicit";
    } else {
      EXPECT_TRUE(std::all_of(uid.begin(), uid.end(), ::isdigit) && std::stoi(uid) >= 1000)
          << "numeric non-root uid (Kubernetes runAsNonRoot needs a number): " << user;
    }

    std::string health = s->Last("HEALTHCHECK");
    ASSERT_FALSE(health.empty()) << "no HEALTHCHECK";
    if (stage == "cli") {
      EXPECT_EQ(health, "NONE") << "the CLI is no server";
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_search(health, m, std::regex(R"re(CMD \["/usr/local/bin/logq-healthcheck", "([0-9]+)", "(/[a-z]+)"\])re"))) << health;
    EXPECT_EQ(s->Last("EXPOSE"), m[1].str()) << "the health check probes another port than the exposed one";
    EXPECT_EQ(m[2].str(), stage == "store" ? "/ready" : "/metrics");
  }
}

TEST_F(DockerfileTest, EveryCopyFromTheContextIsLetThroughTheDockerignore) {
  std::string ignore = ReadFileOrDie(SourcePath("deploy/docker/Dockerfile.dockerignore"));
  std::vector<std::string> allowed;
  bool excludes_all = false;
  std::istringstream in(ignore);
  for (std::string line; std::getline(in, line);) {
    if (line == "*") excludes_all = true;
    if (!line.empty() && line[0] == '!') allowed.push_back(line.substr(1));
  }
  EXPECT_TRUE(excludes_all) << "the context should be an allow-list (build dirs are gigabytes)";
  int checked = 0;
  for (const auto& s : stages_) {
    for (const auto& c : s.All("COPY")) {
      if (c.rfind("--from=", 0) == 0) continue;
      std::istringstream words(c);
      std::vector<std::string> parts;
      for (std::string w; words >> w;) parts.push_back(w);
      ASSERT_GE(parts.size(), 2u) << c;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        std::string src = parts[i];
        while (src.size() > 1 && src.back() == '/') src.pop_back();
        EXPECT_TRUE(FileExists(SourcePath(src))) << "COPY source " << src << " does not exist";
        bool let_through = std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
          return src == a || src.rfind(a + "/", 0) == 0;
        });
        EXPECT_TRUE(let_through) << "COPY " << src << " is excluded by Dockerfile.dockerignore";
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 8);
}

// The Debian packages that own shared library paths (one dpkg -S for all of them), trying the
// /lib <-> /usr/lib forms (Debian 12 is usrmerged: ldd prints /lib/..., dpkg may know
// /usr/lib/...). Paths no package owns are missing from the result.
std::map<std::string, std::string> OwningPackages(const std::vector<std::string>& paths) {
  std::map<std::string, std::vector<std::string>> candidates;  // path -> its forms
  std::vector<std::string> argv = {"dpkg", "-S"};
  for (const auto& path : paths) {
    std::vector<std::string> forms = {path};
    std::error_code ec;
    std::string real = std::filesystem::canonical(path, ec).string();
    if (!ec && real != path) forms.push_back(real);
    for (size_t i = 0, n = forms.size(); i < n; ++i) {
      if (forms[i].rfind("/lib/", 0) == 0) forms.push_back("/usr" + forms[i]);
      if (forms[i].rfind("/usr/lib/", 0) == 0) forms.push_back(forms[i].substr(4));
    }
    argv.insert(argv.end(), forms.begin(), forms.end());
    candidates[path] = forms;
  }
  CommandResult r = RunCommand(argv);  // exit 1 when some form is unknown; the rest is printed
  std::map<std::string, std::string> owner;  // form -> package
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    size_t sep = line.find(": ");
    if (sep == std::string::npos) continue;
    std::string pkg = line.substr(0, sep);
    pkg = pkg.substr(0, pkg.find(':'));  // drop :amd64
    owner[line.substr(sep + 2)] = pkg;
  }
  std::map<std::string, std::string> out;
  for (const auto& [path, forms] : candidates) {
    for (const auto& f : forms) {
      if (owner.count(f)) {
        out[path] = owner[f];
        break;
      }
    }
  }
  return out;
}

// Packages providing the libraries `binary` links directly (readelf NEEDED, resolved by ldd).
std::set<std::string> DirectLibraryPackages(const std::string& binary) {
  std::set<std::string> out;
  CommandResult needed = RunCommand({"readelf", "-d", binary});
  CommandResult ldd = RunCommand({"ldd", binary});
  EXPECT_EQ(needed.exit_code, 0) << needed.Describe();
  EXPECT_EQ(ldd.exit_code, 0) << ldd.Describe();
  std::map<std::string, std::string> resolved;
  static const std::regex ldd_line(R"(^\s*(\S+) => (/\S+))");
  std::istringstream lin(ldd.out);
  for (std::string line; std::getline(lin, line);) {
    std::smatch m;
    if (std::regex_search(line, m, ldd_line)) resolved[m[1].str()] = m[2].str();
  }
  std::vector<std::string> paths;
  static const std::regex needed_line(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
  std::istringstream nin(needed.out);
  for (std::string line; std::getline(nin, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, needed_line)) continue;
    auto it = resolved.find(m[1].str());
    EXPECT_NE(it, resolved.end()) << binary << " needs " << m[1].str() << " which ldd cannot find";
    if (it != resolved.end()) paths.push_back(it->second);
  }
  auto owners = OwningPackages(paths);
  for (const auto& p : paths) {
    EXPECT_TRUE(owners.count(p)) << p << " belongs to no Debian package: it cannot be installed in the image";
    if (owners.count(p)) out.insert(owners[p]);
  }
  return out;
}

TEST_F(DockerfileTest, RuntimeStagesInstallExactlyTheLibrariesTheirBinaryLinks) {
#if defined(__SANITIZE_ADDRESS__)
  // A LOGQ_SANITIZE build links libasan/libubsan (and libgflags, which only the instrumented
  // link keeps); the images ship the normal build, which this test checks.
  GTEST_SKIP() << "sanitizer build: its binaries link the sanitizer runtimes, not the image's set";
#endif
  for (const char* tool : {"dpkg", "readelf", "ldd"}) {
    if (FindInPath(tool).empty()) GTEST_SKIP() << tool << " not found: the runtime libraries were not checked";
  }
  // In debian:12-slim already; everything else is listed explicitly.
  const std::set<std::string> kInBase = {"libc6"};
  // Not linked, used at run time: TLS roots (https push URLs, the API server), time zones.
  const std::set<std::string> kDataPackages = {"ca-certificates", "tzdata"};
  std::map<std::string, std::string> binaries = {
      {"store", StoreBinary()}, {"shipper", ShipperBinary()}, {"cli", CliBinary()}};
  int checked = 0;
  for (const auto& [stage, binary] : binaries) {
    SCOPED_TRACE(stage + ": " + binary);
    if (binary.empty() || !FileExists(binary)) {
      std::cerr << "[ note ] " << kRuntime.at(stage) << " is not built here: stage " << stage
                << " not checked against it\n";
      continue;
    }
    const Stage* s = Get(stage);
    ASSERT_NE(s, nullptr);
    std::set<std::string> listed = s->AptPackages();
    std::set<std::string> needed = DirectLibraryPackages(binary);
    for (const auto& pkg : needed) {
      if (kInBase.count(pkg)) continue;
      EXPECT_TRUE(listed.count(pkg)) << "stage " << stage << " lacks " << pkg;
    }
    for (const auto& pkg : listed) {
      EXPECT_TRUE(needed.count(pkg) || kDataPackages.count(pkg)) << "stage " << stage << " installs " << pkg
                                                                 << ", which " << kRuntime.at(stage) << " does not link";
    }
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(DockerfileParserTest, JoinsContinuationsAndSkipsComments) {
  auto stages = ParseDockerfile(
      "# c\nFROM debian:12 AS a\nRUN apt-get install -y --no-install-recommends \\\n"
      "  # inner comment\n  x y \\\n  z && rm -rf /var/lib/apt/lists/*\nUSER 1:1\nFROM debian:12-slim AS b\n");
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].name, "a");
  EXPECT_EQ(stages[0].AptPackages(), (std::set<std::string>{"x", "y", "z"}));
  EXPECT_EQ(stages[0].Last("USER"), "1:1");
  EXPECT_EQ(stages[1].base, "debian:12-slim");
}

}  // namespace
}  // namespace logq::deploy_test
