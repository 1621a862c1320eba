#include "shipper/discovery/glob.h"

#include <gtest/gtest.h>

namespace logq::shipper {
namespace {

PathGlob G(const std::string& p) {
  auto g = PathGlob::Parse(p);
  EXPECT_TRUE(g.ok()) << p << ": " << g.status().ToString();
  return g.ok() ? std::move(g).value() : PathGlob();
}

TEST(PathGlobTest, ComponentWildcardsDoNotCrossSlashes) {
  PathGlob g = G("/var/log/*.log");
  EXPECT_TRUE(g.Matches("/var/log/syslog.log"));
  EXPECT_TRUE(g.Matches("/var/log/.log"));
  EXPECT_FALSE(g.Matches("/var/log/sub/x.log"));
  EXPECT_FALSE(g.Matches("/var/log/x.log.1"));
  EXPECT_TRUE(G("/a/?.log").Matches("/a/x.log"));
  EXPECT_FALSE(G("/a/?.log").Matches("/a/xy.log"));
  EXPECT_TRUE(G("/a/*/*/*.log").Matches("/a/ns_pod_uid/c/0.log"));
  EXPECT_FALSE(G("/a/*/*/*.log").Matches("/a/ns_pod_uid/0.log"));
}

TEST(PathGlobTest, ClassesBracesAndEscapes) {
  EXPECT_TRUE(G("/a/app-[0-9].log").Matches("/a/app-7.log"));
  EXPECT_FALSE(G("/a/app-[0-9].log").Matches("/a/app-x.log"));
  EXPECT_TRUE(G("/a/app-[^0-9].log").Matches("/a/app-x.log"));
  EXPECT_TRUE(G("/a/app-[!0-9].log").Matches("/a/app-x.log"));
  EXPECT_FALSE(G("/a/app-[!0-9].log").Matches("/a/app-1.log"));
  PathGlob b = G("/var/log/{syslog,auth.log,nginx/*.log}");
  EXPECT_TRUE(b.Matches("/var/log/syslog"));
  EXPECT_TRUE(b.Matches("/var/log/auth.log"));
  EXPECT_TRUE(b.Matches("/var/log/nginx/access.log"));
  EXPECT_FALSE(b.Matches("/var/log/kern.log"));
  EXPECT_TRUE(G("/a/{x,{y,z}}.log").Matches("/a/z.log"));
  EXPECT_TRUE(G("/a/\\*.log").Matches("/a/*.log"));
  EXPECT_FALSE(G("/a/\\*.log").Matches("/a/x.log"));
  EXPECT_FALSE(PathGlob::Parse("/a/[x.log").ok());
  EXPECT_FALSE(PathGlob::Parse("/a/{x.log").ok());
  EXPECT_FALSE(PathGlob::Parse("relative/*.log").ok());
  // 3^6 = 729 alternatives: over the cap.
  EXPECT_FALSE(PathGlob::Parse("/{a,b,c}{a,b,c}{a,b,c}{a,b,c}{a,b,c}{a,b,c}").ok());
}

TEST(PathGlobTest, DoubleStarIsAnyNumberOfDirectories) {
  PathGlob g = G("/data/**/*.log");
  EXPECT_TRUE(g.Matches("/data/a.log"));
  EXPECT_TRUE(g.Matches("/data/x/a.log"));
  EXPECT_TRUE(g.Matches("/data/x/y/z/a.log"));
  EXPECT_FALSE(g.Matches("/data/x/a.txt"));
  EXPECT_FALSE(g.Matches("/other/a.log"));
  PathGlob all = G("/data/**");
  EXPECT_TRUE(all.Matches("/data/x"));
  EXPECT_TRUE(all.Matches("/data/x/y"));
  // "**" inside a component is "*" (doublestar v1).
  PathGlob inner = G("/data/a**/x.log");
  EXPECT_TRUE(inner.Matches("/data/abc/x.log"));
  EXPECT_FALSE(inner.Matches("/data/abc/d/x.log"));
  PathGlob mid = G("/data/**/logs/**/app.log");
  EXPECT_TRUE(mid.Matches("/data/logs/app.log"));
  EXPECT_TRUE(mid.Matches("/data/a/b/logs/c/app.log"));
  EXPECT_FALSE(mid.Matches("/data/a/b/c/app.log"));
}

TEST(PathGlobTest, DirectoriesToWatch) {
  PathGlob g = G("/var/log/pods/*/*/*.log");
  EXPECT_EQ(g.Roots(), std::vector<std::string>{"/var/log/pods"});
  EXPECT_FALSE(g.MayHaveFilesIn("/var/log/pods"));
  EXPECT_TRUE(g.MayDescend("/var/log/pods"));
  EXPECT_TRUE(g.MayDescend("/var/log/pods/ns_p_u"));
  EXPECT_TRUE(g.MayHaveFilesIn("/var/log/pods/ns_p_u/c"));
  EXPECT_FALSE(g.MayDescend("/var/log/pods/ns_p_u/c"));
  EXPECT_FALSE(g.MayHaveFilesIn("/var/log/other"));
  PathGlob d = G("/data/**/*.log");
  EXPECT_EQ(d.Roots(), std::vector<std::string>{"/data"});
  EXPECT_TRUE(d.MayHaveFilesIn("/data"));
  EXPECT_TRUE(d.MayHaveFilesIn("/data/a/b"));
  EXPECT_TRUE(d.MayDescend("/data/a/b"));
  EXPECT_EQ(G("/var/log/syslog").Roots(), std::vector<std::string>{"/var/log"});
  EXPECT_TRUE(G("/var/log/syslog").MayHaveFilesIn("/var/log"));
  EXPECT_EQ(G("/*.log").Roots(), std::vector<std::string>{"/"});
  // Alternatives below another alternative's root are reached from it.
  PathGlob b = G("/a/{*.log,b/c/*.log}");
  EXPECT_EQ(b.Roots(), std::vector<std::string>{"/a"});
  EXPECT_TRUE(b.MayDescend("/a"));
  EXPECT_TRUE(b.MayDescend("/a/b"));
  EXPECT_FALSE(b.MayDescend("/a/x"));
  EXPECT_TRUE(b.MayHaveFilesIn("/a/b/c"));
}

}  // namespace
}  // namespace logq::shipper
