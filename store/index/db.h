// Db: logq-store's on-disk state in one RocksDB instance with a column family per kind of
// record (docs/architecture.md "RocksDB layout"):
//
//   streams    tenant·fp                          → canonical label text
//   postings   tenant·day·fp                      → "" (stream had entries that UTC day)
//   head       tenant·fp·ts·hash(line)            → head value (line + structured metadata);
//              written only by releases before the WAL engine: read once at upgrade, then dropped
//   chunks     tenant·fp·min_ts·max_ts·hash       → chunk bytes (store/chunk format)
//   chunk_refs same key as chunks                 → ChunkRef summary (small; scanned by queries)
//   meta       "schema_version", ...              → values
//
// This is the only module that includes RocksDB headers. Thread-safety: all methods are
// safe to call concurrently (RocksDB is); WriteBatch is single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"

namespace logq::index {

struct DbOptions {
  std::string path;                            // directory; created if missing. Required.
  size_t block_cache_bytes = 32 << 20;         // shared LRU block cache; default 32 MiB
  size_t write_buffer_bytes = 16 << 20;        // memtable size of the chunks CF; default 16 MiB
  bool chunk_blob_files = true;                // store chunk bytes in blob files; default on
};

struct ChunkRef {
  uint64_t fp = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint32_t entries = 0;
  uint64_t raw_bytes = 0;
  uint64_t encoded_bytes = 0;
  uint64_t content_hash = 0;
};

// Head values: the line plus its structured metadata.
std::string EncodeHeadValue(std::string_view line, const std::vector<Label>& metadata);
// Decodes into line/metadata; `line` views into `value`. DataLoss if malformed.
Status DecodeHeadValue(std::string_view value, std::string_view* line, std::vector<Label>* metadata);

// A set of writes applied atomically by Db::Write. Created by Db::NewWriteBatch; must not
// outlive the Db. Single-threaded.
class WriteBatch {
 public:
  virtual ~WriteBatch() = default;
  virtual void PutStream(std::string_view tenant, uint64_t fp, std::string_view labels_text) = 0;
  virtual void PutPosting(std::string_view tenant, uint32_t day, uint64_t fp) = 0;
  virtual void PutHead(std::string_view tenant, uint64_t fp, int64_t ts, uint64_t line_hash,
                       std::string_view value) = 0;
  virtual void DeleteHeadKey(std::string_view raw_key) = 0;
  virtual void PutChunk(std::string_view tenant, const ChunkRef& ref, std::string_view bytes) = 0;
  // Deletes a chunk and its ref (retention, deletion). With PutChunk of its rewrite in the
  // same batch, readers see either the old or the new chunk, never both or neither.
  virtual void DeleteChunk(std::string_view tenant, const ChunkRef& ref) = 0;
  virtual void DeleteStream(std::string_view tenant, uint64_t fp) = 0;
  virtual void DeletePosting(std::string_view tenant, uint32_t day, uint64_t fp) = 0;
  // `meta` column family: small records of other modules (delete requests, ...). Keys must
  // not be "schema_version".
  virtual void PutMeta(std::string_view key, std::string_view value) = 0;
  virtual void DeleteMeta(std::string_view key) = 0;
  virtual size_t Count() const = 0;
  virtual size_t ByteSize() const = 0;
};

// One head entry seen during a scan. Views are valid only during the callback.
struct HeadRecord {
  std::string_view tenant;
  uint64_t fp;
  int64_t ts;
  uint64_t line_hash;
  std::string_view raw_key;
  std::string_view value;
};

class DbReader {
 public:
  virtual ~DbReader() = default;
  // Head entries of one stream with from <= ts < through, ascending; fn returns false to stop.
  virtual Status ScanHead(std::string_view tenant, uint64_t fp, int64_t from, int64_t through,
                          const std::function<bool(const HeadRecord&)>& fn) = 0;
  // Chunk refs of one stream with min_ts < through and max_ts >= from, ordered by min_ts.
  virtual Result<std::vector<ChunkRef>> ListChunks(std::string_view tenant, uint64_t fp,
                                                   int64_t from, int64_t through) = 0;
  virtual Result<std::string> GetChunk(std::string_view tenant, const ChunkRef& ref) = 0;
};

class Db {
 public:
  // Opens or creates the database, recovering the WAL (point-in-time: a torn tail is cut,
  // everything before it is served). Checks the schema version.
  static Result<std::unique_ptr<Db>> Open(const DbOptions& options);
  virtual ~Db() = default;

  // Applies the batch atomically, without RocksDB's own log: the write is visible at once
  // and durable at the next Persist() (or memtable flush). sync=true persists before
  // returning. logq-store's WAL covers what the ingester writes until its checkpoint, which
  // calls Persist() before the log it covers is deleted; other writers that acknowledge
  // something (delete requests) use sync=true. Flushes cover all column families at one point
  // (atomic flush), so what survives a crash is a consistent prefix of the writes.
  virtual std::unique_ptr<WriteBatch> NewWriteBatch() = 0;
  virtual Status Write(WriteBatch* batch, bool sync) = 0;

  virtual Status ForEachStream(
      const std::function<void(std::string_view tenant, uint64_t fp, std::string_view labels)>& fn) = 0;
  virtual Status ForEachPosting(
      const std::function<void(std::string_view tenant, uint32_t day, uint64_t fp)>& fn) = 0;
  // Every head entry of every stream, in key order (startup accounting).
  virtual Status ForEachHead(const std::function<void(const HeadRecord&)>& fn) = 0;
  // A consistent point-in-time view (RocksDB snapshot) for reads that combine chunks and
  // head entries: a chunk cut is one atomic batch, so a reader sees each entry exactly once.
  virtual std::unique_ptr<DbReader> NewReader() = 0;

  // Meta records whose key starts with `prefix`, in key order. Views valid during fn.
  virtual Status ForEachMeta(std::string_view prefix,
                             const std::function<void(std::string_view key, std::string_view value)>& fn) = 0;
  // Compacts the head, chunks and chunk_refs key ranges of `tenant` so that deleted entries
  // and chunks leave the disk (tombstones dropped, blob files garbage-collected). Blocking;
  // run off the request path.
  virtual Status CompactTenant(std::string_view tenant) = 0;

  // Approximate bytes of the tenant's records in SST files and memtables, all column
  // families (chunk bytes stored in blob files are not included).
  virtual uint64_t ApproximateTenantBytes(std::string_view tenant) = 0;

  // Approximate bytes on disk (SST + blob + WAL files).
  virtual uint64_t DiskBytes() = 0;
  // Approximate number of stored chunks (RocksDB's key estimate of chunk_refs).
  virtual uint64_t EstimateChunks() = 0;
  // Makes every write that returned so far durable (flushes all memtables, synced).
  virtual Status Persist() = 0;
  // Deletes every record of the `head` column family (the previous engine's heads, once
  // moved into the new heads) and compacts it away.
  virtual Status DropHeads() = 0;
  // Flushes memtables and syncs the WAL (graceful shutdown).
  virtual Status Flush() = 0;
};

}  // namespace logq::index
