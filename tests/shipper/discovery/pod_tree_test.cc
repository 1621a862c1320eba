#include "shipper/discovery/pod_tree.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>

#include "tests/testing/temp_dir.h"

namespace logq::shipper {
namespace {

TEST(PodPathTest, ParsesPodDirAndGenerations) {
  auto p = ParsePodDirName("kube-system_coredns-787d4945fb-l9k2m_9a8b7c6d-5e4f");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ns, "kube-system");
  EXPECT_EQ(p->pod, "coredns-787d4945fb-l9k2m");
  EXPECT_EQ(p->uid, "9a8b7c6d-5e4f");
  EXPECT_FALSE(ParsePodDirName("no-underscores"));
  EXPECT_FALSE(ParsePodDirName("a_b_c_d"));
  auto cur = ParseLogFileName("0.log");
  ASSERT_TRUE(cur);
  EXPECT_EQ(cur->generation, Generation::kCurrent);
  auto rot = ParseLogFileName("12.log.20261121-101500");
  ASSERT_TRUE(rot);
  EXPECT_EQ(rot->generation, Generation::kRotated);
  EXPECT_EQ(rot->base, "12.log");
  auto gz = ParseLogFileName("0.log.20261121-101500.gz");
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->generation, Generation::kGzip);
  EXPECT_FALSE(ParseLogFileName("0.log.20261121-101500.tmp"));
  EXPECT_FALSE(ParseLogFileName("0.log.bak"));
  EXPECT_FALSE(ParseLogFileName("notes.txt"));
  EXPECT_LT(GenerationOrderKey(*gz), GenerationOrderKey(*ParseLogFileName("0.log.20261121-101500")));
  EXPECT_LT(GenerationOrderKey(*ParseLogFileName("0.log.20261121-101500")), GenerationOrderKey(*cur));
}

TEST(PodPathTest, TargetLabelsCarryDefaultsAndMeta) {
  auto l = TargetLabels(PodDirName{"shop", "web-1", "u-1"}, "nginx", "/var/log/pods/shop_web-1_u-1/nginx/0.log", "node-a");
  EXPECT_EQ(l.at("namespace"), "shop");
  EXPECT_EQ(l.at("pod"), "web-1");
  EXPECT_EQ(l.at("container"), "nginx");
  EXPECT_EQ(l.at("node_name"), "node-a");
  EXPECT_EQ(l.at("filename"), "/var/log/pods/shop_web-1_u-1/nginx/0.log");
  EXPECT_EQ(l.at("__meta_kubernetes_pod_uid"), "u-1");
  EXPECT_EQ(l.at("__meta_kubernetes_pod_container_name"), "nginx");
  EXPECT_EQ(l.at("__path__"), "/var/log/pods/shop_web-1_u-1/nginx/0.log");
}

class Recorder : public PodTreeListener {
 public:
  void OnContainerAdded(const ContainerDir& d) override { added.insert(d.path); }
  void OnContainerRemoved(const std::string& p) override { removed.insert(p); }
  void OnContainerChanged(const std::string& p) override { changed.insert(p); }
  void OnFileModified(const std::string& d, const std::string& n) override { modified.insert(d + "/" + n); }
  std::set<std::string> added, removed, changed, modified;
};

// Pumps inotify events until `cond` holds (bounded).
template <typename F>
bool PumpUntil(PodTree& t, F cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    struct pollfd p = {t.fd(), POLLIN, 0};
    poll(&p, 1, 50);
    t.HandleEvents();
  }
  return cond();
}

TEST(PodTreeTest, WatchesDirectoriesOnlyAndFollowsPodsAndFiles) {
  testing::TempDir dir;
  std::string root = dir.path() + "/pods";
  Recorder rec;
  auto t = PodTree::Create(PodTreeOptions{root, 0}, &rec);
  ASSERT_TRUE(t.ok());
  (*t)->Scan();  // root missing: polled
  EXPECT_EQ((*t)->polled_dirs(), 1u);
  mkdir(root.c_str(), 0755);
  std::string pod = root + "/ns_pod-a_uid-1";
  mkdir(pod.c_str(), 0755);
  std::string c = pod + "/app";
  mkdir(c.c_str(), 0755);
  (*t)->Poll();
  EXPECT_TRUE(rec.added.count(c));
  EXPECT_EQ((*t)->polled_dirs(), 0u);
  EXPECT_EQ((*t)->watches(), 3u);  // root, pod, container: no per-file watch
  { std::ofstream f(c + "/0.log"); }
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.changed.count(c) > 0; }));
  { std::ofstream f(c + "/0.log", std::ios::app); f << "x\n"; }
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.modified.count(c + "/0.log") > 0; }));
  EXPECT_EQ((*t)->watches(), 3u);
  // A new pod appears, then the first one is deleted.
  std::string pod2 = root + "/ns_pod-b_uid-2";
  mkdir(pod2.c_str(), 0755);
  mkdir((pod2 + "/side").c_str(), 0755);
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.added.count(pod2 + "/side") > 0; }));
  unlink((c + "/0.log").c_str());
  rmdir(c.c_str());
  rmdir(pod.c_str());
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.removed.count(c) > 0; }));
  EXPECT_EQ((*t)->containers(), 1u);
}

TEST(PodTreeTest, FallsBackToPollingPastTheWatchLimit) {
  testing::TempDir dir;
  std::string root = dir.path() + "/pods";
  mkdir(root.c_str(), 0755);
  std::string pod = root + "/ns_p_u";
  mkdir(pod.c_str(), 0755);
  mkdir((pod + "/c").c_str(), 0755);
  Recorder rec;
  auto t = PodTree::Create(PodTreeOptions{root, 2}, &rec);  // root + pod dir only
  ASSERT_TRUE(t.ok());
  (*t)->Scan();
  EXPECT_EQ((*t)->watches(), 2u);
  EXPECT_EQ((*t)->polled_dirs(), 1u);
  EXPECT_TRUE(rec.added.count(pod + "/c"));
  rec.changed.clear();
  (*t)->Poll();  // a polled container dir is rescanned on every poll
  EXPECT_TRUE(rec.changed.count(pod + "/c"));
}

// A symlink to the root (a loop) and one to a pod inside the root are not followed: the
// root's watch stays the root's, and a pod created afterwards is discovered. (Following the
// link used to re-map the root's watch descriptor to the link, so new pods were never seen.)
TEST(PodTreeTest, SymlinksAreNotFollowedAndNewPodsAreStillFound) {
  testing::TempDir dir;
  std::string root = dir.path() + "/pods";
  mkdir(root.c_str(), 0755);
  std::string pod = root + "/ns_p_u";
  mkdir(pod.c_str(), 0755);
  mkdir((pod + "/c").c_str(), 0755);
  ASSERT_EQ(symlink(root.c_str(), (root + "/loop").c_str()), 0);
  ASSERT_EQ(symlink(pod.c_str(), (root + "/ns_alias_u2").c_str()), 0);
  ASSERT_EQ(symlink((pod + "/c").c_str(), (pod + "/c-link").c_str()), 0);
  Recorder rec;
  auto t = PodTree::Create(PodTreeOptions{root, 0}, &rec);
  ASSERT_TRUE(t.ok());
  (*t)->Scan();
  EXPECT_EQ(rec.added, std::set<std::string>{pod + "/c"});
  EXPECT_EQ((*t)->watches(), 3u);
  EXPECT_EQ((*t)->symlinks_skipped(), 3u);
  std::string pod2 = root + "/ns_q_u3";
  mkdir(pod2.c_str(), 0755);
  mkdir((pod2 + "/d").c_str(), 0755);
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.added.count(pod2 + "/d") > 0; }));
  { std::ofstream f(pod2 + "/d/0.log"); }
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.changed.count(pod2 + "/d") > 0; }));
  EXPECT_EQ(rec.added.size(), 2u);
}

// A container directory deleted and created again under the same name (the kernel dropped
// the old watch descriptor): the new directory gets its own watch, so its files are seen.
TEST(PodTreeTest, ReplacedDirectoryGetsANewWatch) {
  testing::TempDir dir;
  std::string root = dir.path() + "/pods";
  mkdir(root.c_str(), 0755);
  std::string pod = root + "/ns_p_u";
  mkdir(pod.c_str(), 0755);
  std::string c = pod + "/c";
  mkdir(c.c_str(), 0755);
  Recorder rec;
  auto t = PodTree::Create(PodTreeOptions{root, 0}, &rec);
  ASSERT_TRUE(t.ok());
  (*t)->Scan();
  ASSERT_TRUE(rec.added.count(c));
  // Replaced before the loop reads the events.
  rmdir(c.c_str());
  mkdir(c.c_str(), 0755);
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.removed.count(c) > 0; })) << "replacement not noticed";
  EXPECT_TRUE(PumpUntil(**t, [&] { return (*t)->polled_dirs() == 0 && (*t)->watches() == 3; }))
      << "polled " << (*t)->polled_dirs() << " watches " << (*t)->watches();
  rec.modified.clear();
  rec.changed.clear();
  { std::ofstream f(c + "/0.log"); }
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.changed.count(c) > 0; }));
  { std::ofstream f(c + "/0.log", std::ios::app); f << "x\n"; }
  EXPECT_TRUE(PumpUntil(**t, [&] { return rec.modified.count(c + "/0.log") > 0; }));
  EXPECT_EQ((*t)->containers(), 1u);
}

}  // namespace
}  // namespace logq::shipper
