#include "shipper/tail/file_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>

#include "tests/testing/temp_dir.h"

namespace logq::shipper {
namespace {

void Append(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::app | std::ios::binary);
  f << data;
}
std::string Cri(const std::string& msg, const char* stream = "stdout", char tag = 'F') {
  return std::string("2026-11-21T10:00:00.000000001Z ") + stream + " " + tag + " " + msg + "\n";
}

// Reads until EOF; returns the record lines.
std::vector<Record> Drain(FileReader& r, ReadStatus* last = nullptr) {
  std::vector<Record> out;
  for (int i = 0; i < 10000; ++i) {
    ReadStatus s = r.ReadOnce(&out, 1, 0);
    if (s != ReadStatus::kData) {
      if (last) *last = s;
      break;
    }
  }
  return out;
}

TEST(FileReaderTest, ReadsCompleteLinesAndWaitsForTheRest) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  Append(p, Cri("one") + "2026-11-21T10:00:00Z stdout F tw");
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].line, "one");
  EXPECT_EQ((*r)->consumed(), Cri("one").size());
  Append(p, "o\n");
  recs = Drain(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].line, "two");
  EXPECT_EQ(recs[0].start_offset, Cri("one").size());
}

TEST(FileReaderTest, ResumesAtOffsetAndJoinsPartialsAcrossReads) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  std::string first = Cri("skip");
  Append(p, first + Cri("a", "stdout", 'P') + Cri("err", "stderr") + Cri("b"));
  ReaderOptions o;
  o.chunk_bytes = 7;  // force many short reads
  auto r = FileReader::Open(p, false, first.size(), o);
  ASSERT_TRUE(r.ok());
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].line, "err");
  EXPECT_EQ(recs[1].line, "ab");
  EXPECT_EQ(recs[1].start_offset, first.size());
}

TEST(FileReaderTest, LongPhysicalLineIsTruncatedNotSkipped) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  std::string huge(300 << 10, 'x');
  Append(p, Cri(huge) + Cri("after"));
  ReaderOptions o;
  o.joiner.max_line_size = 1024;
  o.chunk_bytes = 4096;
  auto r = FileReader::Open(p, false, 0, o);
  ASSERT_TRUE(r.ok());
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].line.size(), 1024u);
  EXPECT_TRUE(recs[0].truncated);
  EXPECT_EQ(recs[0].end_offset, Cri(huge).size());
  EXPECT_EQ(recs[1].line, "after");
  EXPECT_EQ((*r)->truncated_lines(), 1u);
}

TEST(FileReaderTest, KeepsReadingARenamedAndUnlinkedFileThroughItsFd) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  Append(p, Cri("before"));
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Drain(**r).size(), 1u);
  std::string rotated = p + ".20261121-100000";
  ASSERT_EQ(rename(p.c_str(), rotated.c_str()), 0);
  Append(rotated, Cri("late write"));
  ASSERT_EQ(unlink(rotated.c_str()), 0);
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].line, "late write");
  EXPECT_TRUE((*r)->unlinked());
}

TEST(FileReaderTest, DetectsCopytruncateAndTruncatedThenRegrown) {
  testing::TempDir dir;
  std::string p = dir.path() + "/app.log";
  Append(p, Cri("old content 1") + Cri("old content 2"));
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Drain(**r).size(), 2u);
  ASSERT_EQ(truncate(p.c_str(), 0), 0);
  ReadStatus s;
  Drain(**r, &s);
  EXPECT_EQ(s, ReadStatus::kTruncated);
  (*r)->RestartFromZero();
  Append(p, Cri("new"));
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].line, "new");
  // Truncated and regrown past the old offset between two reads: the head changed.
  ASSERT_EQ(truncate(p.c_str(), 0), 0);
  Append(p, "2026-11-21T11:00:00.000000009Z stdout F " + std::string(200, 'z') + "\n");
  Drain(**r, &s);
  EXPECT_EQ(s, ReadStatus::kTruncated);
}

TEST(FileReaderTest, ReadsGzipGenerationFromADecompressedOffset) {
  testing::TempDir dir;
  std::string plain = Cri("g1") + Cri("g2") + Cri("g3");
  std::string p = dir.path() + "/0.log.20261121-100000.gz";
  gzFile gz = gzopen(p.c_str(), "wb");
  gzwrite(gz, plain.data(), static_cast<unsigned>(plain.size()));
  gzclose(gz);
  auto r = FileReader::Open(p, true, Cri("g1").size(), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].line, "g2");
  EXPECT_EQ(recs[1].end_offset, plain.size());
  // Its fingerprint is the one of the plain content, so it matches the original file.
  std::string q = dir.path() + "/plain.log";
  Append(q, plain);
  auto id = IdentifyPath(q, false);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->fp_hash, (*r)->identity().fp_hash);
  EXPECT_EQ(id->fp_len, (*r)->identity().fp_len);
}

TEST(FileReaderTest, FinishAtEofFlushesUnterminatedLineAndPartials) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  Append(p, Cri("dangling", "stderr", 'P') + "2026-11-21T10:00:00Z stdout F no newline");
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Drain(**r).empty());
  EXPECT_EQ((*r)->PendingStart(), 0u);
  std::vector<Record> out;
  (*r)->FinishAtEof(&out, 1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].line, "no newline");
  EXPECT_EQ(out[1].line, "dangling");
  EXPECT_TRUE(out[1].flushed_incomplete);
}

TEST(FileReaderTest, RawLinesGetThePreviousTimestamp) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  Append(p, "2026-11-21T10:00:00.000000007Z stdout F x\nnot cri at all\r\n\n");
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok());
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 2u);  // the empty line is skipped
  EXPECT_EQ(recs[1].line, "not cri at all");
  EXPECT_EQ(recs[1].timestamp_ns, recs[0].timestamp_ns);
}

// Idle suspension: the fd is closed; Resume continues at the same offset when the path still
// holds the same file, and refuses a different file under that name.
TEST(FileReaderTest, SuspendAndResumeByPathAndIdentity) {
  testing::TempDir dir;
  std::string p = dir.path() + "/0.log";
  Append(p, Cri("one") + Cri("two"));
  auto r = FileReader::Open(p, false, 0, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Drain(**r).size(), 2u);
  (*r)->Suspend();
  EXPECT_FALSE((*r)->open());
  EXPECT_TRUE((*r)->suspended());
  Append(p, Cri("three"));
  // Renamed while closed: found under the new name by (dev, inode) + fingerprint.
  std::string moved = dir.path() + "/0.log.20261207-000000";
  ASSERT_EQ(rename(p.c_str(), moved.c_str()), 0);
  EXPECT_EQ((*r)->Resume(p).code(), StatusCode::kNotFound);
  struct stat st;
  ASSERT_EQ(stat(moved.c_str(), &st), 0);
  EXPECT_EQ((*r)->SameFile(moved, st), 1);
  ASSERT_TRUE((*r)->Resume(moved).ok());
  auto recs = Drain(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].line, "three");
  // A different file under the old name (even one reusing the inode) is not resumed.
  (*r)->Suspend();
  unlink(moved.c_str());
  Append(moved, Cri("another file"));
  ASSERT_EQ(stat(moved.c_str(), &st), 0);
  EXPECT_EQ((*r)->SameFile(moved, st), 0);
  EXPECT_EQ((*r)->Resume(moved).code(), StatusCode::kNotFound);
  EXPECT_TRUE((*r)->suspended());
}

}  // namespace
}  // namespace logq::shipper
