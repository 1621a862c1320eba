#include "store/index/db.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "store/index/keys.h"

namespace logq::index {
namespace {

// RocksDB's info log goes to the store's log instead of <path>/LOG: one place to read, and a
// full disk cannot make RocksDB's file logger fail (its PosixLogger asserts when a write to LOG
// fails with ENOSPC, which took the whole store down). Info and header lines are debug-level.
class SpdlogRocksLogger final : public rocksdb::Logger {
 public:
  SpdlogRocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    const std::string_view msg(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
    switch (level) {
      case rocksdb::InfoLogLevel::WARN_LEVEL:
        spdlog::warn("rocksdb: {}", msg);
        break;
      case rocksdb::InfoLogLevel::ERROR_LEVEL:
      case rocksdb::InfoLogLevel::FATAL_LEVEL:
        spdlog::error("rocksdb: {}", msg);
        break;
      default:
        spdlog::debug("rocksdb: {}", msg);
    }
  }
};

// Every write of the store skips RocksDB's own log (see Db::Write).
rocksdb::WriteOptions Unlogged() {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return wo;
}

constexpr std::string_view kSchemaVersionKey = "schema_version";
constexpr std::string_view kSchemaVersion = "1";

enum Cf { kDefault = 0, kStreams, kPostings, kHead, kChunks, kChunkRefs, kMeta, kNumCf };
const char* const kCfNames[kNumCf] = {"default", "streams", "postings", "head", "chunks", "chunk_refs", "meta"};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return DataLoss(msg);
  if (s.IsNoSpace() || s.IsIOError() || s.IsBusy() || s.IsTryAgain()) return Unavailable(msg);
  if (s.IsNotFound()) return NotFound(msg);
  return Internal(msg);
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    unsigned char b = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    r |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

bool GetLengthPrefixed(std::string_view* in, std::string_view* out) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

void PutLengthPrefixed(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

std::string EncodeChunkRef(const ChunkRef& r) {
  std::string v;
  v.push_back(1);  // ref encoding version
  PutVarint(&v, r.entries);
  PutVarint(&v, r.raw_bytes);
  PutVarint(&v, r.encoded_bytes);
  return v;
}

bool DecodeChunkRefKey(std::string_view key, ChunkRef* r) {
  std::string_view tenant, rest;
  if (!keys::SplitTenant(key, &tenant, &rest) || rest.size() != 32) return false;
  r->fp = keys::GetU64(rest, 0);
  r->min_ts = keys::DecodeTs(keys::GetU64(rest, 8));
  r->max_ts = keys::DecodeTs(keys::GetU64(rest, 16));
  r->content_hash = keys::GetU64(rest, 24);
  return true;
}

bool DecodeChunkRefValue(std::string_view v, ChunkRef* r) {
  if (v.empty() || v[0] != 1) return false;
  v.remove_prefix(1);
  uint64_t entries;
  if (!GetVarint(&v, &entries) || !GetVarint(&v, &r->raw_bytes) || !GetVarint(&v, &r->encoded_bytes)) {
    return false;
  }
  r->entries = static_cast<uint32_t>(entries);
  return true;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

bool DecodeHeadKey(std::string_view key, HeadRecord* r) {
  std::string_view rest;
  if (!keys::SplitTenant(key, &r->tenant, &rest) || rest.size() != 24) return false;
  r->fp = keys::GetU64(rest, 0);
  r->ts = keys::DecodeTs(keys::GetU64(rest, 8));
  r->line_hash = keys::GetU64(rest, 16);
  r->raw_key = key;
  return true;
}


class RocksReader final : public DbReader {
 public:
  RocksReader(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
      : db_(db), handles_(handles), snap_(db->GetSnapshot()) {}
  ~RocksReader() override { db_->ReleaseSnapshot(snap_); }

  Status ScanHead(std::string_view tenant, uint64_t fp, int64_t from, int64_t through,
                  const std::function<bool(const HeadRecord&)>& fn) override {
    std::string lower = keys::StreamPrefix(tenant, fp);
    keys::PutU64(&lower, keys::EncodeTs(from));
    std::string upper = keys::StreamPrefix(tenant, fp);
    keys::PutU64(&upper, keys::EncodeTs(through));
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kHead]));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      HeadRecord r;
      if (!DecodeHeadKey(ToView(it->key()), &r)) return DataLoss("malformed key in head column family");
      r.value = ToView(it->value());
      if (!fn(r)) break;
    }
    return FromRocks(it->status(), "scanning head");
  }

  Result<std::vector<ChunkRef>> ListChunks(std::string_view tenant, uint64_t fp, int64_t from,
                                           int64_t through) override {
    std::string prefix = keys::StreamPrefix(tenant, fp);
    std::string upper = prefix;
    keys::PutU64(&upper, keys::EncodeTs(through));  // min_ts < through
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kChunkRefs]));
    std::vector<ChunkRef> out;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      ChunkRef r;
      if (!DecodeChunkRefKey(ToView(it->key()), &r) || !DecodeChunkRefValue(ToView(it->value()), &r)) {
        return DataLoss("malformed chunk reference");
      }
      if (r.max_ts >= from) out.push_back(r);
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "listing chunks"));
    return out;
  }

  Result<std::string> GetChunk(std::string_view tenant, const ChunkRef& ref) override {
    std::string v;
    // The chunk format carries its own XXH3 checksums (header+index, and every block when it
    // is decompressed), so RocksDB's software CRC32C over the whole blob would check the
    // same bytes twice: 40 % of a limit-100 query's CPU at rest (docs/benchmarks.md).
    rocksdb::ReadOptions ro = SnapOpts();
    ro.verify_checksums = false;
    auto s = db_->Get(ro, handles_[kChunks],
                      keys::ChunkKey(tenant, ref.fp, ref.min_ts, ref.max_ts, ref.content_hash), &v);
    if (s.IsNotFound()) return DataLoss("chunk referenced by the index is missing");
    RETURN_IF_ERROR(FromRocks(s, "reading chunk"));
    return v;
  }


 private:
  rocksdb::ReadOptions SnapOpts() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    return ro;
  }
  rocksdb::DB* db_;
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles_;
  const rocksdb::Snapshot* snap_;
};

class RocksWriteBatch final : public WriteBatch {
 public:
  explicit RocksWriteBatch(const std::vector<rocksdb::ColumnFamilyHandle*>* h) : h_(h) {}
  void PutStream(std::string_view tenant, uint64_t fp, std::string_view labels) override {
    wb_.Put((*h_)[kStreams], keys::StreamKey(tenant, fp), ToSlice(labels));
  }
  void PutPosting(std::string_view tenant, uint32_t day, uint64_t fp) override {
    wb_.Put((*h_)[kPostings], keys::PostingKey(tenant, day, fp), rocksdb::Slice());
  }
  void PutHead(std::string_view tenant, uint64_t fp, int64_t ts, uint64_t hash,
               std::string_view value) override {
    wb_.Put((*h_)[kHead], keys::HeadKey(tenant, fp, ts, hash), ToSlice(value));
  }
  void DeleteHeadKey(std::string_view raw_key) override { wb_.Delete((*h_)[kHead], ToSlice(raw_key)); }
  void PutChunk(std::string_view tenant, const ChunkRef& ref, std::string_view bytes) override {
    std::string key = keys::ChunkKey(tenant, ref.fp, ref.min_ts, ref.max_ts, ref.content_hash);
    wb_.Put((*h_)[kChunks], key, ToSlice(bytes));
    wb_.Put((*h_)[kChunkRefs], key, EncodeChunkRef(ref));
  }
  void DeleteChunk(std::string_view tenant, const ChunkRef& ref) override {
    std::string key = keys::ChunkKey(tenant, ref.fp, ref.min_ts, ref.max_ts, ref.content_hash);
    wb_.Delete((*h_)[kChunks], key);
    wb_.Delete((*h_)[kChunkRefs], key);
  }
  void DeleteStream(std::string_view tenant, uint64_t fp) override {
    wb_.Delete((*h_)[kStreams], keys::StreamKey(tenant, fp));
  }
  void DeletePosting(std::string_view tenant, uint32_t day, uint64_t fp) override {
    wb_.Delete((*h_)[kPostings], keys::PostingKey(tenant, day, fp));
  }
  void PutMeta(std::string_view key, std::string_view value) override {
    wb_.Put((*h_)[kMeta], ToSlice(key), ToSlice(value));
  }
  void DeleteMeta(std::string_view key) override { wb_.Delete((*h_)[kMeta], ToSlice(key)); }
  size_t Count() const override { return wb_.Count(); }
  size_t ByteSize() const override { return wb_.GetDataSize(); }
  rocksdb::WriteBatch* rep() { return &wb_; }

 private:
  const std::vector<rocksdb::ColumnFamilyHandle*>* h_;
  rocksdb::WriteBatch wb_;
};

class RocksDb final : public Db {
 public:
  ~RocksDb() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }

  Status Init(const DbOptions& o) {
    std::error_code ec;
    std::filesystem::create_directories(o.path, ec);
    if (ec) return Unavailable("cannot create storage directory: " + ec.message());

    cache_ = rocksdb::NewLRUCache(o.block_cache_bytes);
    rocksdb::DBOptions dbo;
    dbo.create_if_missing = true;
    // Writes skip RocksDB's own log (logq-store's WAL covers the data until a checkpoint, which
    // persists the memtables first; see Db::Write). Flushing all column families at one point
    // keeps what survives a crash a consistent prefix of the writes across them.
    dbo.atomic_flush = true;
    dbo.info_log = std::make_shared<SpdlogRocksLogger>();
    dbo.create_missing_column_families = true;
    dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    dbo.max_background_jobs = 2;
    dbo.bytes_per_sync = 1 << 20;
    dbo.keep_log_file_num = 3;
    dbo.max_total_wal_size = 256 << 20;
    dbo.enable_pipelined_write = false;

    auto table = [&](bool bloom) {
      rocksdb::BlockBasedTableOptions t;
      t.block_cache = cache_;
      t.block_size = 16 << 10;
      if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      return rocksdb::NewBlockBasedTableFactory(t);
    };
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (int i = 0; i < kNumCf; ++i) {
      rocksdb::ColumnFamilyOptions co;
      // Chunks are the bulk of what is written: a larger memtable there means fewer flushes,
      // and every flush covers all column families (atomic flush).
      co.write_buffer_size = i == kChunks ? o.write_buffer_bytes : (4 << 20);
      co.max_write_buffer_number = 3;
      co.table_factory.reset(table(i != kHead && i != kChunks));
      co.compression = rocksdb::kZSTD;
      if (i == kHead) {
        co.compression = rocksdb::kLZ4Compression;
        // Cut heads leave runs of tombstones: compact any SST where at least half of a
        // 1024-entry window is deletions, so the space returns soon after a cut.
        co.table_properties_collector_factories.emplace_back(
            rocksdb::NewCompactOnDeletionCollectorFactory(1024, 512, 0.5));
      }
      if (i == kChunks) {
        co.compression = rocksdb::kNoCompression;  // chunks are zstd-compressed already
        if (o.chunk_blob_files) {
          co.enable_blob_files = true;
          co.min_blob_size = 1024;
          co.blob_compression_type = rocksdb::kNoCompression;
          co.enable_blob_garbage_collection = true;
        }
      }
      cfs.emplace_back(kCfNames[i], co);
    }
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(dbo, o.path, cfs, &handles_, &raw);
    if (!s.ok()) return FromRocks(s, "opening RocksDB");
    db_.reset(raw);

    std::string version;
    s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], ToSlice(kSchemaVersionKey), &version);
    if (s.IsNotFound()) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      RETURN_IF_ERROR(FromRocks(db_->Put(wo, handles_[kMeta], ToSlice(kSchemaVersionKey), ToSlice(kSchemaVersion)),
                                "writing schema version"));
    } else if (!s.ok()) {
      return FromRocks(s, "reading schema version");
    } else if (version != kSchemaVersion) {
      return FailedPreconditionStatus("storage schema version " + version + " is not supported (want " +
                                      std::string(kSchemaVersion) + ")");
    }
    return Status::OK();
  }

  std::unique_ptr<WriteBatch> NewWriteBatch() override {
    return std::make_unique<RocksWriteBatch>(&handles_);
  }

  Status Write(WriteBatch* batch, bool sync) override {
    RETURN_IF_ERROR(FromRocks(db_->Write(Unlogged(), static_cast<RocksWriteBatch*>(batch)->rep()), "writing batch"));
    return sync ? Persist() : Status::OK();
  }

  Status ForEachStream(
      const std::function<void(std::string_view, uint64_t, std::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kStreams]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view tenant, rest;
      if (!keys::SplitTenant(ToView(it->key()), &tenant, &rest) || rest.size() != 8) {
        return DataLoss("malformed key in streams column family");
      }
      fn(tenant, keys::GetU64(rest, 0), ToView(it->value()));
    }
    return FromRocks(it->status(), "scanning streams");
  }

  Status ForEachPosting(const std::function<void(std::string_view, uint32_t, uint64_t)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kPostings]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view tenant, rest;
      if (!keys::SplitTenant(ToView(it->key()), &tenant, &rest) || rest.size() != 12) {
        return DataLoss("malformed key in postings column family");
      }
      fn(tenant, keys::GetU32(rest, 0), keys::GetU64(rest, 4));
    }
    return FromRocks(it->status(), "scanning postings");
  }

  Status ForEachHead(const std::function<void(const HeadRecord&)>& fn) override {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kHead]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      HeadRecord r;
      if (!DecodeHeadKey(ToView(it->key()), &r)) return DataLoss("malformed key in head column family");
      r.value = ToView(it->value());
      fn(r);
    }
    return FromRocks(it->status(), "scanning head");
  }

  std::unique_ptr<DbReader> NewReader() override;

  Status ForEachMeta(std::string_view prefix,
                     const std::function<void(std::string_view, std::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kMeta]));
    for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
      fn(ToView(it->key()), ToView(it->value()));
    }
    return FromRocks(it->status(), "scanning meta");
  }

  // [begin, end) of every key of the tenant: its prefix, and the next prefix of the same
  // length (last byte + 1, carrying); end is empty when there is none.
  static std::pair<std::string, std::string> TenantRange(std::string_view tenant) {
    std::string begin = keys::TenantPrefix(tenant);
    std::string end = begin;
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) end.pop_back();
    if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    return {begin, end};
  }

  uint64_t ApproximateTenantBytes(std::string_view tenant) override {
    auto [begin, end] = TenantRange(tenant);
    if (end.empty()) end.assign(begin.size() + 1, '\xFF');
    rocksdb::Range range(begin, end);
    rocksdb::SizeApproximationOptions so;
    so.include_memtables = true;
    so.include_files = true;
    uint64_t total = 0;
    for (int cf : {kStreams, kPostings, kHead, kChunks, kChunkRefs}) {
      uint64_t size = 0;
      if (db_->GetApproximateSizes(so, handles_[cf], &range, 1, &size).ok()) total += size;
    }
    return total;
  }

  Status CompactTenant(std::string_view tenant) override {
    auto [begin, end] = TenantRange(tenant);
    rocksdb::Slice b(begin), e(end);
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (int cf : {kHead, kChunkRefs, kChunks, kPostings, kStreams}) {
      if (cf == kChunks) {
        co.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
        co.blob_garbage_collection_age_cutoff = 1.0;
      }
      RETURN_IF_ERROR(FromRocks(db_->CompactRange(co, handles_[cf], &b, end.empty() ? nullptr : &e),
                                "compacting after deletion"));
    }
    return Status::OK();
  }

  uint64_t DiskBytes() override {
    uint64_t total = 0, v = 0;
    for (int i = 0; i < kNumCf; ++i) {
      if (db_->GetIntProperty(handles_[i], rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
      if (db_->GetIntProperty(handles_[i], rocksdb::DB::Properties::kTotalBlobFileSize, &v)) total += v;
    }
    rocksdb::VectorLogPtr wals;
    if (db_->GetSortedWalFiles(wals).ok()) {
      for (auto& w : wals) total += w->SizeFileBytes();
    }
    return total;
  }

  uint64_t EstimateChunks() override {
    uint64_t v = 0;
    db_->GetIntProperty(handles_[kChunkRefs], rocksdb::DB::Properties::kEstimateNumKeys, &v);
    return v;
  }

  Status Persist() override {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    fo.allow_write_stall = true;
    std::vector<rocksdb::ColumnFamilyHandle*> hs(handles_.begin(), handles_.end());
    rocksdb::Status st = db_->Flush(fo, hs);
    if (!st.ok()) {
      // A failed flush (disk full) stops RocksDB's writes until it recovers; try now, so that
      // the caller's next attempt can succeed once space is back.
      rocksdb::Status r = db_->Resume();
      if (!r.ok()) spdlog::warn("rocksdb: not recovered from a failed flush yet: {}", r.ToString());
    }
    return FromRocks(st, "flushing memtables");
  }

  Status DropHeads() override {
    const std::string begin, end(1, '\xff');  // every key starts with a tenant length < 0xff
    RETURN_IF_ERROR(
        FromRocks(db_->DeleteRange(Unlogged(), handles_[kHead], begin, end), "dropping the head column family"));
    RETURN_IF_ERROR(Persist());
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    return FromRocks(db_->CompactRange(co, handles_[kHead], nullptr, nullptr), "compacting the head column family");
  }

  Status Flush() override { return Persist(); }

 private:
  static Status FailedPreconditionStatus(std::string m) { return Status(StatusCode::kFailedPrecondition, std::move(m)); }

  std::shared_ptr<rocksdb::Cache> cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

std::unique_ptr<DbReader> RocksDb::NewReader() { return std::make_unique<RocksReader>(db_.get(), handles_); }

}  // namespace

std::string EncodeHeadValue(std::string_view line, const std::vector<Label>& metadata) {
  std::string v;
  v.reserve(line.size() + 1);
  if (metadata.empty()) {
    v.push_back(0);
  } else {
    v.push_back(1);
    PutVarint(&v, metadata.size());
    for (const Label& l : metadata) {
      PutLengthPrefixed(&v, l.name);
      PutLengthPrefixed(&v, l.value);
    }
  }
  v.append(line);
  return v;
}

Status DecodeHeadValue(std::string_view value, std::string_view* line, std::vector<Label>* metadata) {
  metadata->clear();
  if (value.empty()) return DataLoss("empty head value");
  char kind = value[0];
  value.remove_prefix(1);
  if (kind == 1) {
    uint64_t n;
    if (!GetVarint(&value, &n) || n > value.size()) return DataLoss("malformed head value");
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view name, val;
      if (!GetLengthPrefixed(&value, &name) || !GetLengthPrefixed(&value, &val)) {
        return DataLoss("malformed head value metadata");
      }
      metadata->push_back({std::string(name), std::string(val)});
    }
  } else if (kind != 0) {
    return DataLoss("unknown head value kind");
  }
  *line = value;
  return Status::OK();
}

Result<std::unique_ptr<Db>> Db::Open(const DbOptions& options) {
  auto db = std::make_unique<RocksDb>();
  RETURN_IF_ERROR(db->Init(options));
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace logq::index
