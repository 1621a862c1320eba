#include "shipper/positions/positions.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/testing/temp_dir.h"

namespace logq::shipper {
namespace {

TEST(PositionsTest, RoundTripWithIdentitiesAndForeignKeys) {
  PositionsData d;
  d.files["/var/log/pods/a_b_c/x/0.log"].offset = 12345;
  PositionEntry e;
  e.offset = 7;
  e.identity = FileIdentity{2049, 131074, 1024, 0x9f3cabcdef0112e1ULL};
  e.size = 4096;
  d.files["/var/log/pods/a_b_c/x/0.log.20261121-100000"] = e;
  d.files["/path with \"quotes\"/0.log"].offset = 1;
  d.other["journal-abc"] = "cursor=s=1";
  auto back = ParsePositions(FormatPositions(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

TEST(PositionsTest, ReadsPromtailFiles) {
  auto d = ParsePositions("positions:\n  /var/log/pods/ns_p_u/c/0.log: \"42\"\n  cursor-xyz: \"abc\"\n");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->files.size(), 1u);
  EXPECT_EQ(d->files.at("/var/log/pods/ns_p_u/c/0.log").offset, 42u);
  EXPECT_FALSE(d->files.at("/var/log/pods/ns_p_u/c/0.log").identity.has_value());
  EXPECT_EQ(d->other.at("cursor-xyz"), "abc");
  EXPECT_TRUE(ParsePositions("").ok());
  EXPECT_TRUE(ParsePositions("positions: {}\n").ok());
}

TEST(PositionsTest, CorruptionIsAClearError) {
  auto nul = ParsePositions(std::string(64, '\0'));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.status().message().find("NUL"), std::string::npos);
  auto torn = ParsePositions("positions:\n  /a/0.log: \"12");
  EXPECT_FALSE(torn.ok());
  auto bad = ParsePositions("positions:\n  /a/0.log: \"twelve\"\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/a/0.log"), std::string::npos);
  EXPECT_FALSE(ParsePositions("- just a list\n").ok());
  EXPECT_FALSE(ParsePositions("posiitons: {}\n").ok());
  auto badid = ParsePositions("positions:\n  /a: \"1\"\n  logq-id:/a: \"1:2:3\"\n");
  EXPECT_FALSE(badid.ok());
}

TEST(PositionsTest, SaveIsAtomicAndLoadable) {
  testing::TempDir dir;
  std::string path = dir.path() + "/sub/positions.yaml";
  PositionsData d;
  d.files["/x/0.log"].offset = 99;
  ASSERT_TRUE(SavePositionsFile(path, d).ok());
  struct stat st;
  EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0);  // no temp file left behind
  auto back = LoadPositionsFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, d);
  EXPECT_EQ(LoadPositionsFile(dir.path() + "/missing.yaml").status().code(), StatusCode::kNotFound);
  {
    std::ofstream f(path, std::ios::trunc);
    f << std::string(10, '\0');
  }
  auto corrupt = LoadPositionsFile(path);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace logq::shipper
