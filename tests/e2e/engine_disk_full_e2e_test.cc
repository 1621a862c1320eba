// Disk full, end to end (issue 11, "Tests"): the real logq-store runs with a 32 MiB tmpfs as
// its WAL directory (ingester.wal.dir), or as its whole data directory (RocksDB and the WAL).
// After some acknowledged pushes a ballast file fills the file system to the last byte. Then:
//  * pushes are refused with 503 (a 5xx, which Promtail retries) naming "no space left on
//    device", and the store keeps running while its cuts and checkpoints fail too;
//  * after the ballast is removed, pushes succeed again without a restart; the refused batches
//    are pushed again (as Promtail would) and every acknowledged line is served exactly once;
//  * POST /flush cuts every head, /loki/api/v1/index/stats counts each line once, and after a
//    kill -9 and restart the same is served.
// Needs root (mount(2)); skipped with the reason otherwise.
//
// The whole-data-directory variant once aborted logq-store with
// `assert(sync_without_flush_called_)` (rocksdb writable_file_writer.h:312; Debian's
// librocksdb 7.8.3 keeps assertions) when RocksDB's own files got ENOSPC: its info log
// (<data>/LOG) and its write-ahead log. Both are gone: the info log goes to spdlog and the
// store's writes skip RocksDB's log (store/index/db.h, Db::Write).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/e2e/engine_e2e_util.h"

namespace logq::e2e::engine {
namespace {

constexpr uint64_t kSeed = 0xD15CF011;

constexpr const char* kConfig = R"(ingester:
  chunk_target_size: 32KB
  chunk_block_size: 8KB
  flush_check_period: 100ms
  wal:
    checkpoint_duration: 200ms
    segment_size: 1MiB
limits_config:
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 1000
  max_entries_limit_per_query: 1000000
  reject_old_samples_max_age: 24h
)";

// Writes `path` until the file system is full; returns the bytes written.
uint64_t FillUp(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  uint64_t written = 0;
  std::string block(1 << 20, 'x');
  for (size_t size = block.size(); size >= 512; size /= 2) {
    for (int i = 0; i < 1000; ++i) {  // bounded: 1000 MiB at most per size
      const size_t n = std::fwrite(block.data(), 1, size, f);
      written += n;
      if (n < size) break;
    }
    std::clearerr(f);
  }
  std::fclose(f);
  return written;
}

// Unmounts (lazily) on scope exit after killing the store that uses the mount.
struct Unmount {
  testing::StoreProcess* store = nullptr;
  std::string dir;
  ~Unmount() {
    if (store != nullptr) store->Kill();
    if (!dir.empty()) umount2(dir.c_str(), MNT_DETACH);
  }
};

// `whole_data_dir`: the tmpfs is the data directory; else only ingester.wal.dir.
void RunDiskFull(bool whole_data_dir) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a size-limited tmpfs";
  Corpus corpus;
  corpus.seed = kSeed;
  corpus.t0 = NowNs() - 20 * kMinute;
  corpus.job = "diskfull";

  testing::TempDir wal_mount;
  std::string config = kConfig;
  std::string full_dir;  // the mounted tmpfs
  std::unique_ptr<testing::StoreProcess> store;
  Unmount unmount;  // destroyed before `store`
  if (!whole_data_dir) {
    full_dir = wal_mount.path() + "/wal";
    std::filesystem::create_directories(full_dir);
    if (mount("tmpfs", full_dir.c_str(), "tmpfs", 0, "size=32m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs on " << full_dir << ": " << std::strerror(errno);
    }
    unmount.dir = full_dir;
    config.replace(config.find("    segment_size"), 0, "    dir: " + full_dir + "\n");
  }
  {
    auto started = StoreProcess::Start(StoreOptions{.config_yaml = config});
    ASSERT_TRUE(started.ok()) << started.status().message();
    store = std::move(started).value();
  }
  unmount.store = store.get();
  if (whole_data_dir) {
    store->Kill();
    full_dir = store->storage_dir();
    std::filesystem::remove_all(full_dir);
    std::filesystem::create_directories(full_dir);
    if (mount("tmpfs", full_dir.c_str(), "tmpfs", 0, "size=32m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs on " << full_dir << ": " << std::strerror(errno);
    }
    unmount.dir = full_dir;
    ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  }
  TestHttpClient client(store->base_url(), std::chrono::seconds(60));

  std::vector<Expect> expect;
  auto push = [&](int b) {
    HttpReply r = client.Post("/loki/api/v1/push", corpus.Body(b), ProtoHeaders());
    if (r.status == 204) expect[b] = Expect::kPresent;
    return r;
  };
  auto next = [&] {
    expect.push_back(Expect::kMay);
    return static_cast<int>(expect.size()) - 1;
  };
  for (int i = 0; i < 40; ++i) {
    HttpReply r = push(next());
    ASSERT_EQ(r.status, 204) << r.Describe();
  }

  // Fill the file system.
  const std::string ballast = full_dir + "/ballast";
  const uint64_t filled = FillUp(ballast);
  ASSERT_GT(filled, 0u);

  // Pushes are refused with 503 while the cutter and the checkpointer fail in the background;
  // keep pushing (as Promtail retries) until a checkpoint failed too (bounded).
  std::vector<int> refused;
  int refusals = 0;
  bool checkpoint_failed = false;
  for (int i = 0; i < 400 && !checkpoint_failed; ++i) {
    const int b = next();
    HttpReply r = push(b);
    if (r.status == 204) continue;  // a few bytes freed by a cut-back can take a small record
    ASSERT_EQ(r.status, 503) << "a push to a full disk must get a 5xx that Promtail retries: "
                             << r.Describe() << "\n" << store->LogTail();
    EXPECT_CONTAINS(r.body, "no space left on device");
    refused.push_back(b);
    ++refusals;
    checkpoint_failed = store->Log().find("writing a WAL checkpoint failed") != std::string::npos;
  }
  EXPECT_GE(refusals, 5);
  EXPECT_TRUE(checkpoint_failed) << "no checkpoint failed while the disk was full\n"
                                 << store->LogTail();
  ASSERT_TRUE(store->Running()) << store->LogTail();
  EXPECT_EQ(client.Get("/ready").status, 200);

  // Space returns: pushes succeed again (no restart), the refused batches are pushed again.
  std::filesystem::remove(ballast);
  ASSERT_TRUE(PollUntil([&] { return push(refused.front()).status == 204; },
                        std::chrono::seconds(10)))
      << "pushes still fail after space returned\n"
      << store->LogTail();
  for (int b : refused) {
    HttpReply r = push(b);
    ASSERT_EQ(r.status, 204) << "batch " << b << ": " << r.Describe() << "\n" << store->LogTail();
  }
  for (int i = 0; i < 40; ++i) {
    HttpReply r = push(next());
    ASSERT_EQ(r.status, 204) << r.Describe();
  }
  for (size_t b = 0; b < expect.size(); ++b) ASSERT_EQ(expect[b], Expect::kPresent) << b;
  const int batches = static_cast<int>(expect.size());
  const int64_t total = static_cast<int64_t>(batches) * Corpus::kLines;

  CheckResult c = Check(client, corpus, expect);
  EXPECT_TRUE(c.ok()) << "after space returned: " << c.Summary();
  EXPECT_EQ(static_cast<int64_t>(c.present_lines), total);

  // The cut may have to wait until RocksDB cleared its own error (polled every few seconds).
  HttpReply flush;
  EXPECT_TRUE(PollUntil(
      [&] {
        flush = client.Post("/flush", "");
        return flush.status == 204 || flush.status == 200;
      },
      std::chrono::seconds(30)))
      << "/flush after the disk was full: " << flush.Describe() << "\n" << store->LogTail();
  EXPECT_EQ(IndexStatsEntries(client, corpus, batches), total);

  store->Kill();
  ASSERT_TRUE(store->Restart().ok()) << store->LogTail();
  client.set_base_url(store->base_url());
  c = Check(client, corpus, expect);
  EXPECT_TRUE(c.ok()) << "after kill -9 and restart: " << c.Summary() << "\n" << store->LogTail();
  EXPECT_EQ(static_cast<int64_t>(c.present_lines), total);
  HttpReply flush2 = client.Post("/flush", "");
  EXPECT_TRUE(flush2.status == 204 || flush2.status == 200) << flush2.Describe();
  EXPECT_EQ(IndexStatsEntries(client, corpus, batches), total);
}

TEST(EngineDiskFullTest, FullWalDirRefusesWith503LosesNothingAndRecovers) { RunDiskFull(false); }

TEST(EngineDiskFullTest, FullDataDirRefusesWith503LosesNothingAndRecovers) {
  RunDiskFull(true);
}

}  // namespace
}  // namespace logq::e2e::engine
