#include "store/wal/wal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace logq::wal {
namespace {

static_assert(std::endian::native == std::endian::little, "the WAL format is little-endian");

constexpr char kSegmentMagic[4] = {'L', 'Q', 'W', 'L'};
constexpr char kCheckpointMagic[4] = {'L', 'Q', 'C', 'P'};
constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kCheckpointEndType = 128;  // last record of a checkpoint: u64 record count
constexpr std::string_view kSegmentSuffix = ".seg";
constexpr std::string_view kCheckpointPrefix = "checkpoint.";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr size_t kReadChunk = 1 << 20;
constexpr uint64_t kProgressEvery = 16 << 20;

void PutU32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The checksum covers the payload and, through the seed, the first 8 header bytes (length,
// type, reserved).
uint64_t RecordChecksum(const char* header, std::string_view payload) {
  return XXH3_64bits_withSeed(payload.data(), payload.size(), GetU64(header));
}

// Appends header + payload of one record to `out`.
void EncodeRecord(uint8_t type, std::string_view payload, std::string* out) {
  char h[kRecordHeaderBytes] = {};
  PutU32(h, static_cast<uint32_t>(payload.size()));
  h[4] = static_cast<char>(type);
  PutU64(h + 8, RecordChecksum(h, payload));
  out->append(h, sizeof(h));
  out->append(payload);
}

std::string EncodeFileHeader(const char magic[4], uint64_t id) {
  std::string h(kSegmentHeaderBytes, '\0');
  std::memcpy(h.data(), magic, 4);
  h[4] = static_cast<char>(kFormatVersion);
  PutU64(h.data() + 8, id);
  return h;
}

// Parses a name "<digits><suffix>" or "<prefix><digits>"; nullopt if it is not one.
std::optional<uint64_t> ParseId(std::string_view name, std::string_view prefix,
                                std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size()) return std::nullopt;
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  if (name.substr(name.size() - suffix.size()) != suffix) return std::nullopt;
  std::string_view digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Reads records of one segment or checkpoint file front to back, up to `limit` bytes.
class RecordReader {
 public:
  enum Outcome { kRecord, kEnd, kBad, kIoError };

  RecordReader(SequentialFile* file, uint64_t limit) : file_(file), limit_(limit) {}

  // Reads the 16-byte file header. kEnd if the file is shorter than that.
  Outcome ReadHeader(const char** header) {
    Outcome o = Fill(kSegmentHeaderBytes);
    if (o != kRecord) return o;
    *header = buf_.data() + start_;
    start_ += kSegmentHeaderBytes;
    offset_ += kSegmentHeaderBytes;
    return kRecord;
  }

  // Next record into *rec. kEnd: the data ends exactly after the previous record. kBad: the
  // bytes at offset() are not a whole valid record (torn or corrupt).
  Outcome Next(RecordView* rec) {
    Outcome o = Fill(kRecordHeaderBytes);
    if (o == kEnd) return available() == 0 ? kEnd : kBad;
    if (o != kRecord) return o;
    const char* h = buf_.data() + start_;
    uint32_t len = GetU32(h);
    uint8_t type = static_cast<uint8_t>(h[4]);
    if (len > kMaxRecordBytes || type == 0 || h[5] != 0 || h[6] != 0 || h[7] != 0) return kBad;
    o = Fill(kRecordHeaderBytes + len);
    if (o == kEnd) return kBad;
    if (o != kRecord) return o;
    h = buf_.data() + start_;
    std::string_view payload(h + kRecordHeaderBytes, len);
    if (RecordChecksum(h, payload) != GetU64(h + 8)) return kBad;
    rec->position.offset = offset_;
    rec->type = type;
    rec->payload = payload;
    start_ += kRecordHeaderBytes + len;
    offset_ += kRecordHeaderBytes + len;
    return kRecord;
  }

  uint64_t offset() const { return offset_; }
  const Status& io_status() const { return io_status_; }

 private:
  size_t available() const { return end_ - start_; }

  // Makes `need` bytes available from start_: kRecord, kEnd (fewer remain below the limit or
  // before the end of the file; those that do are loaded) or kIoError.
  Outcome Fill(size_t need) {
    if (available() >= need) return kRecord;
    size_t target = need;
    bool capped = false;
    if (offset_ + need > limit_) {
      target = static_cast<size_t>(limit_ - offset_);
      capped = true;
    }
    if (available() < target) {
      if (start_ > 0) {
        std::memmove(buf_.data(), buf_.data() + start_, available());
        end_ -= start_;
        start_ = 0;
      }
      size_t want = std::max(target, kReadChunk);
      if (buf_.size() < want) buf_.resize(want);
      while (end_ < target) {
        uint64_t room = std::min<uint64_t>(buf_.size() - end_, limit_ - offset_ - end_);
        if (room == 0) break;
        size_t got = 0;
        Status st = file_->Read(static_cast<size_t>(room), buf_.data() + end_, &got);
        if (!st.ok()) {
          io_status_ = st;
          return kIoError;
        }
        if (got == 0) break;
        end_ += got;
      }
    }
    return !capped && available() >= need ? kRecord : kEnd;
  }

  SequentialFile* file_;
  uint64_t limit_;
  uint64_t offset_ = 0;  // file offset of buf_[start_]
  std::string buf_;
  size_t start_ = 0;
  size_t end_ = 0;
  Status io_status_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// CheckpointWriter

Status CheckpointWriter::Add(uint8_t type, std::string_view payload) {
  if (type == 0 || type > kMaxUserRecordType) {
    return InvalidArgument(fmt::format("WAL checkpoint record type {} outside 1..{}", type,
                                       kMaxUserRecordType));
  }
  if (payload.size() > kMaxRecordBytes) {
    return InvalidArgument(fmt::format("WAL checkpoint record of {} bytes over the limit of {}",
                                       payload.size(), kMaxRecordBytes));
  }
  EncodeRecord(type, payload, &buf_);
  ++records_;
  if (buf_.size() >= kReadChunk) return Flush();
  return Status::OK();
}

Status CheckpointWriter::Flush() {
  if (buf_.empty()) return Status::OK();
  Status st = file_->Append(buf_);
  buf_.clear();
  return st;
}

// ---------------------------------------------------------------------------------------------
// Wal

std::string Wal::SegmentName(uint64_t id) { return fmt::format("{:08d}.seg", id); }
std::string Wal::CheckpointName(uint64_t covered_before) {
  return fmt::format("checkpoint.{:08d}", covered_before);
}

std::string Wal::PathOf(const std::string& name) const { return options_.dir + "/" + name; }

Wal::Wal(WalOptions options)
    : options_(std::move(options)),
      fs_(options_.fs != nullptr ? options_.fs : DefaultFileSystem()) {
  if (MetricsRegistry* m = options_.metrics) {
    records_appended_ = m->GetCounter("logq_wal_records_appended_total",
                                      "Records appended to the write-ahead log.");
    bytes_appended_ = m->GetCounter("logq_wal_bytes_appended_total",
                                    "Bytes written to WAL segments, framing included.");
    fsyncs_ = m->GetCounter("logq_wal_fsyncs_total", "fdatasync calls on WAL segments.");
    append_failures_ = m->GetCounter("logq_wal_append_failures_total",
                                     "WAL appends that failed (disk full, I/O error).");
    const char* help = "Damaged places found in the WAL, by kind (docs/formats/wal.md).";
    torn_tails_ = m->GetCounter("logq_wal_corruptions_total", help, {{"kind", "torn_tail"}});
    corrupt_segments_ =
        m->GetCounter("logq_wal_corruptions_total", help, {{"kind", "corrupt_segment"}});
    missing_segments_ =
        m->GetCounter("logq_wal_corruptions_total", help, {{"kind", "missing_segment"}});
    const char* dhelp = "Bytes of the WAL dropped because they were torn or corrupt.";
    dropped_tail_bytes_ =
        m->GetCounter("logq_wal_dropped_bytes_total", dhelp, {{"kind", "torn_tail"}});
    dropped_corrupt_bytes_ =
        m->GetCounter("logq_wal_dropped_bytes_total", dhelp, {{"kind", "corrupt_segment"}});
  }
}

Wal::~Wal() {
  std::lock_guard io(io_mu_);
  if (file_ != nullptr) (void)file_->Close();
}

Result<std::unique_ptr<Wal>> Wal::Open(WalOptions options) {
  if (options.dir.empty()) return InvalidArgument("WAL directory is empty");
  if (options.segment_bytes < kSegmentHeaderBytes + kRecordHeaderBytes) {
    return InvalidArgument("WAL segment size too small");
  }
  std::unique_ptr<Wal> wal(new Wal(std::move(options)));
  RETURN_IF_ERROR(wal->Recover());
  return wal;
}

Status Wal::Recover() {
  const std::string& dir = options_.dir;
  RETURN_IF_ERROR(fs_->CreateDirs(dir).WithPrefix("WAL directory"));
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir));
  uint64_t newest_checkpoint = 0;
  for (const std::string& name : names) {
    if (name.size() > kTempSuffix.size() &&
        std::string_view(name).substr(name.size() - kTempSuffix.size()) == kTempSuffix) {
      spdlog::info("wal: removing leftover temp file {}", PathOf(name));
      RETURN_IF_ERROR(fs_->Remove(PathOf(name)));
      ++recovery_.temp_files_removed;
    } else if (auto id = ParseId(name, "", kSegmentSuffix)) {
      segments_.push_back(*id);
    } else if (auto cp = ParseId(name, kCheckpointPrefix, "")) {
      newest_checkpoint = std::max(newest_checkpoint, *cp);
    }
  }
  std::sort(segments_.begin(), segments_.end());

  // The last segment may end in a torn record: cut it at the last good one. A last segment
  // without a whole valid header holds nothing usable (crash while it was created): remove it
  // and check the one before.
  uint64_t last_records = 0;
  uint64_t last_end = 0;
  while (!segments_.empty()) {
    const uint64_t id = segments_.back();
    const std::string path = PathOf(SegmentName(id));
    ASSIGN_OR_RETURN(uint64_t size, fs_->FileSize(path));
    ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> in, fs_->NewSequentialFile(path));
    RecordReader reader(in.get(), size);
    const char* h = nullptr;
    RecordReader::Outcome o = reader.ReadHeader(&h);
    if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL recovery");
    if (o == RecordReader::kRecord && std::memcmp(h, kSegmentMagic, 4) == 0 &&
        static_cast<uint8_t>(h[4]) != kFormatVersion) {
      return Status(StatusCode::kFailedPrecondition,
                    fmt::format("WAL segment {} has format version {}; this build reads {}", id,
                                static_cast<uint8_t>(h[4]), kFormatVersion));
    }
    if (o != RecordReader::kRecord || std::memcmp(h, kSegmentMagic, 4) != 0 ||
        GetU64(h + 8) != id || h[5] != 0 || h[6] != 0 || h[7] != 0) {
      spdlog::warn("wal: last segment {} has no valid header ({} bytes); removing it", path, size);
      RETURN_IF_ERROR(fs_->Remove(path));
      ++recovery_.torn_tails;
      recovery_.dropped_bytes += size;
      if (torn_tails_ != nullptr) {
        torn_tails_->Inc();
        dropped_tail_bytes_->Inc(static_cast<double>(size));
      }
      segments_.pop_back();
      continue;
    }
    RecordView rec;
    while ((o = reader.Next(&rec)) == RecordReader::kRecord) ++last_records;
    if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL recovery");
    last_end = reader.offset();
    if (o == RecordReader::kBad) {
      spdlog::warn("wal: segment {} has a torn or corrupt record at offset {}; cutting {} bytes "
                   "after the last good record ({} records kept)",
                   path, last_end, size - last_end, last_records);
      ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, fs_->NewWritableFile(path, false));
      RETURN_IF_ERROR(f->Truncate(last_end).WithPrefix("WAL recovery"));
      RETURN_IF_ERROR(f->Sync().WithPrefix("WAL recovery"));
      RETURN_IF_ERROR(f->Close());
      ++recovery_.torn_tails;
      recovery_.dropped_bytes += size - last_end;
      if (torn_tails_ != nullptr) {
        torn_tails_->Inc();
        dropped_tail_bytes_->Inc(static_cast<double>(size - last_end));
      }
    }
    break;
  }
  recovery_.segments = segments_.size();

  if (!segments_.empty() && last_records == 0 && segments_.back() >= newest_checkpoint) {
    // Reuse an empty last segment instead of leaving a trail of empty files behind restarts.
    cur_segment_ = segments_.back();
    ASSIGN_OR_RETURN(file_, fs_->NewWritableFile(PathOf(SegmentName(cur_segment_)), false));
    RETURN_IF_ERROR(file_->Truncate(kSegmentHeaderBytes));
    cur_offset_ = kSegmentHeaderBytes;
    return Status::OK();
  }
  // New records must land in a segment no checkpoint claims to cover.
  uint64_t next = std::max<uint64_t>(segments_.empty() ? 1 : segments_.back() + 1,
                                     std::max<uint64_t>(newest_checkpoint, 1));
  cur_segment_ = next - 1;
  return StartNewSegment();
}

Status Wal::StartNewSegment() {
  const uint64_t id = cur_segment_ + 1;
  const std::string path = PathOf(SegmentName(id));
  auto created = [&]() -> Result<std::unique_ptr<WritableFile>> {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, fs_->NewWritableFile(path, true));
    RETURN_IF_ERROR(f->Append(EncodeFileHeader(kSegmentMagic, id)));
    if (options_.sync) {
      RETURN_IF_ERROR(f->Sync());
      RETURN_IF_ERROR(fs_->SyncDir(options_.dir));
    }
    return f;
  }();
  if (!created.ok()) {
    spdlog::error("wal: cannot create segment {}: {}", path, created.status().ToString());
    (void)fs_->Remove(path);
    return created.status().WithPrefix(fmt::format("WAL: creating segment {}", id));
  }
  if (file_ != nullptr) {
    Status st = file_->Close();
    if (!st.ok()) spdlog::warn("wal: closing segment {}: {}", cur_segment_, st.ToString());
  }
  file_ = std::move(created).value();
  segments_.push_back(id);
  cur_segment_ = id;
  cur_offset_ = kSegmentHeaderBytes;
  need_roll_ = false;
  return Status::OK();
}

Result<Position> Wal::Append(uint8_t type, std::string_view payload) {
  if (type == 0 || type > kMaxUserRecordType) {
    return InvalidArgument(
        fmt::format("WAL record type {} outside 1..{}", type, kMaxUserRecordType));
  }
  if (payload.size() > kMaxRecordBytes) {
    return InvalidArgument(fmt::format("WAL record of {} bytes over the limit of {} bytes",
                                       payload.size(), kMaxRecordBytes));
  }
  Writer w{type, payload};
  std::unique_lock lock(mu_);
  queue_.push_back(&w);
  while (!w.done && queue_.front() != &w) w.cv.wait(lock);
  if (w.done) {
    if (!w.status.ok()) return w.status;
    return w.pos;
  }

  // Leader: take a batch from the front of the queue (at least this writer).
  std::vector<Writer*> batch;
  size_t bytes = 0;
  for (Writer* x : queue_) {
    size_t rec = kRecordHeaderBytes + x->payload.size();
    if (!batch.empty() && bytes + rec > options_.max_batch_bytes) break;
    batch.push_back(x);
    bytes += rec;
  }
  lock.unlock();
  {
    std::lock_guard io(io_mu_);
    WriteBatchLocked(batch.data(), batch.size());
  }
  lock.lock();
  for (size_t i = 0; i < batch.size(); ++i) {
    Writer* x = queue_.front();
    queue_.pop_front();
    if (x != &w) {
      x->done = true;
      x->cv.notify_one();
    }
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  if (!w.status.ok()) return w.status;
  return w.pos;
}

void Wal::WriteBatchLocked(Writer* const* batch, size_t n) {
  auto fail = [&](size_t from, const Status& st) {
    for (size_t k = from; k < n; ++k) batch[k]->status = st;
    if (append_failures_ != nullptr) append_failures_->Inc(static_cast<double>(n - from));
  };
  size_t i = 0;
  while (i < n) {
    if (need_roll_ || file_ == nullptr) {
      Status st = StartNewSegment();
      if (!st.ok()) return fail(i, st);
    }
    // The records that fit into the current segment (a segment holding no record takes one
    // record of any size).
    buf_.clear();
    uint64_t offset = cur_offset_;
    size_t j = i;
    for (; j < n; ++j) {
      uint64_t rec = kRecordHeaderBytes + batch[j]->payload.size();
      if (offset + rec > options_.segment_bytes && offset > kSegmentHeaderBytes) break;
      batch[j]->pos = Position{cur_segment_, offset};
      EncodeRecord(batch[j]->type, batch[j]->payload, &buf_);
      offset += rec;
    }
    if (j == i) {
      need_roll_ = true;
      continue;
    }
    Status st = file_->Append(buf_);
    if (st.ok() && options_.sync) {
      st = file_->Sync();
      if (fsyncs_ != nullptr) fsyncs_->Inc();
      // After a failed fdatasync the state of the file's cached pages is unknown: whatever
      // happens below, the next record goes to a new segment.
      if (!st.ok()) need_roll_ = true;
    }
    if (!st.ok()) {
      Status cut = file_->Truncate(cur_offset_);
      if (!cut.ok()) {
        need_roll_ = true;
        spdlog::error("wal: cannot cut segment {} back to {} after a failed write ({}): {}; "
                      "next records go to a new segment",
                      cur_segment_, cur_offset_, st.ToString(), cut.ToString());
      } else {
        spdlog::error("wal: append to segment {} failed: {}", cur_segment_, st.ToString());
      }
      return fail(i, st.WithPrefix("WAL append"));
    }
    if (records_appended_ != nullptr) {
      records_appended_->Inc(static_cast<double>(j - i));
      bytes_appended_->Inc(static_cast<double>(buf_.size()));
    }
    cur_offset_ = offset;
    i = j;
  }
  // Do not keep a huge buffer around after one huge record.
  if (buf_.capacity() > 2 * options_.max_batch_bytes) std::string().swap(buf_);
}

Result<uint64_t> Wal::Roll() {
  std::lock_guard io(io_mu_);
  if (file_ != nullptr && !need_roll_ && cur_offset_ == kSegmentHeaderBytes) return cur_segment_;
  RETURN_IF_ERROR(StartNewSegment());
  return cur_segment_;
}

std::vector<uint64_t> Wal::Segments() const {
  std::lock_guard io(io_mu_);
  return segments_;
}

uint64_t Wal::CurrentSegment() const {
  std::lock_guard io(io_mu_);
  return cur_segment_;
}

Position Wal::End() const {
  std::lock_guard io(io_mu_);
  return Position{cur_segment_, cur_offset_};
}

Result<ReplayStats> Wal::Replay(uint64_t from_segment,
                                const std::function<Status(const RecordView&)>& fn,
                                const ReplayProgress& progress) {
  // The log as it is now: every segment before the current one whole, the current one up to
  // the end of its last written record.
  std::vector<uint64_t> segs;
  Position end;
  {
    std::lock_guard io(io_mu_);
    for (uint64_t id : segments_) {
      if (id >= from_segment) segs.push_back(id);
    }
    end = Position{cur_segment_, cur_offset_};
  }
  std::vector<uint64_t> sizes;
  uint64_t total = 0;
  for (uint64_t id : segs) {
    uint64_t size = end.offset;
    if (id != end.segment) {
      ASSIGN_OR_RETURN(size, fs_->FileSize(PathOf(SegmentName(id))));
    }
    sizes.push_back(size);
    total += size;
  }

  ReplayStats stats;
  uint64_t done = 0;
  uint64_t next_progress = kProgressEvery;
  for (size_t s = 0; s < segs.size(); ++s) {
    const uint64_t id = segs[s];
    const std::string path = PathOf(SegmentName(id));
    if (s > 0 && id != segs[s - 1] + 1) {
      uint64_t missing = id - segs[s - 1] - 1;
      spdlog::error("wal: {} segment(s) missing before {}; their records are lost", missing, path);
      stats.missing_segments += missing;
      if (missing_segments_ != nullptr) missing_segments_->Inc(static_cast<double>(missing));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> in, fs_->NewSequentialFile(path));
    RecordReader reader(in.get(), sizes[s]);
    ++stats.segments;
    const char* h = nullptr;
    RecordReader::Outcome o = reader.ReadHeader(&h);
    bool header_ok = o == RecordReader::kRecord && std::memcmp(h, kSegmentMagic, 4) == 0 &&
                     static_cast<uint8_t>(h[4]) == kFormatVersion && GetU64(h + 8) == id;
    if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL replay");
    if (header_ok) {
      stats.bytes += kSegmentHeaderBytes;
      RecordView rec;
      rec.position.segment = id;
      while ((o = reader.Next(&rec)) == RecordReader::kRecord) {
        ++stats.records;
        stats.bytes += kRecordHeaderBytes + rec.payload.size();
        RETURN_IF_ERROR(fn(rec));
        if (progress && done + reader.offset() >= next_progress) {
          progress(done + reader.offset(), total);
          next_progress = done + reader.offset() + kProgressEvery;
        }
      }
      if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL replay");
    }
    if (!header_ok || o == RecordReader::kBad) {
      uint64_t at = header_ok ? reader.offset() : 0;
      uint64_t dropped = sizes[s] - at;
      spdlog::error("wal: segment {} is corrupt at offset {}; skipping its last {} bytes and "
                    "going on with the next segment",
                    path, at, dropped);
      ++stats.corrupt_segments;
      stats.dropped_bytes += dropped;
      if (corrupt_segments_ != nullptr) {
        corrupt_segments_->Inc();
        dropped_corrupt_bytes_->Inc(static_cast<double>(dropped));
      }
    }
    done += sizes[s];
    if (progress) progress(done, total);
  }
  return stats;
}

Status Wal::WriteCheckpoint(uint64_t covered_before,
                            const std::function<Status(CheckpointWriter*)>& fill) {
  if (covered_before == 0 || covered_before > CurrentSegment()) {
    return InvalidArgument(fmt::format("WAL checkpoint must cover segments before 1..{}, not {}",
                                       CurrentSegment(), covered_before));
  }
  std::lock_guard cp(checkpoint_mu_);
  const std::string final_path = PathOf(CheckpointName(covered_before));
  const std::string tmp_path = final_path + std::string(kTempSuffix);
  Status st = [&]() -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, fs_->NewWritableFile(tmp_path, true));
    RETURN_IF_ERROR(f->Append(EncodeFileHeader(kCheckpointMagic, covered_before)));
    CheckpointWriter writer(f.get());
    RETURN_IF_ERROR(fill(&writer));
    char count[8];
    PutU64(count, writer.records_);
    EncodeRecord(kCheckpointEndType, std::string_view(count, 8), &writer.buf_);
    RETURN_IF_ERROR(writer.Flush());
    RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
    RETURN_IF_ERROR(fs_->Rename(tmp_path, final_path));
    return fs_->SyncDir(options_.dir);
  }();
  if (!st.ok()) {
    spdlog::error("wal: writing checkpoint {} failed: {}", final_path, st.ToString());
    (void)fs_->Remove(tmp_path);
    return st.WithPrefix(fmt::format("WAL checkpoint {}", covered_before));
  }
  return Status::OK();
}

Result<std::optional<uint64_t>> Wal::ReadCheckpoint(
    const std::function<Status(uint8_t type, std::string_view payload)>& fn) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(options_.dir));
  std::optional<uint64_t> newest;
  for (const std::string& name : names) {
    if (auto cp = ParseId(name, kCheckpointPrefix, "")) newest = std::max(newest.value_or(0), *cp);
  }
  if (!newest) return std::optional<uint64_t>();
  const uint64_t id = *newest;
  const std::string path = PathOf(CheckpointName(id));
  ASSIGN_OR_RETURN(uint64_t size, fs_->FileSize(path));
  ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> in, fs_->NewSequentialFile(path));
  RecordReader reader(in.get(), size);
  auto corrupt = [&](std::string_view what) {
    spdlog::error("wal: checkpoint {} is corrupt: {} at offset {}", path, what, reader.offset());
    return DataLoss(fmt::format("WAL checkpoint {} is corrupt: {} at offset {}", id, what,
                                reader.offset()));
  };
  const char* h = nullptr;
  RecordReader::Outcome o = reader.ReadHeader(&h);
  if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL checkpoint");
  if (o != RecordReader::kRecord || std::memcmp(h, kCheckpointMagic, 4) != 0 ||
      static_cast<uint8_t>(h[4]) != kFormatVersion || GetU64(h + 8) != id) {
    return corrupt("bad header");
  }
  uint64_t records = 0;
  RecordView rec;
  while ((o = reader.Next(&rec)) == RecordReader::kRecord) {
    if (rec.type == kCheckpointEndType) {
      if (rec.payload.size() != 8 || GetU64(rec.payload.data()) != records) {
        return corrupt("record count mismatch");
      }
      if (reader.Next(&rec) != RecordReader::kEnd) return corrupt("data after the end record");
      return std::optional<uint64_t>(id);
    }
    if (rec.type > kMaxUserRecordType) return corrupt("unknown record type");
    ++records;
    RETURN_IF_ERROR(fn(rec.type, rec.payload));
  }
  if (o == RecordReader::kIoError) return reader.io_status().WithPrefix("WAL checkpoint");
  return corrupt(o == RecordReader::kEnd ? "no end record" : "bad record");
}

Status Wal::DeleteSegmentsBefore(uint64_t segment) {
  std::vector<uint64_t> doomed;
  {
    std::lock_guard io(io_mu_);
    segment = std::min(segment, cur_segment_);
    auto it = std::lower_bound(segments_.begin(), segments_.end(), segment);
    doomed.assign(segments_.begin(), it);
    segments_.erase(segments_.begin(), it);
  }
  for (uint64_t id : doomed) RETURN_IF_ERROR(fs_->Remove(PathOf(SegmentName(id))));
  return Status::OK();
}

Status Wal::DeleteCheckpointsBefore(uint64_t covered_before) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(options_.dir));
  for (const std::string& name : names) {
    auto cp = ParseId(name, kCheckpointPrefix, "");
    if (cp && *cp < covered_before) RETURN_IF_ERROR(fs_->Remove(PathOf(name)));
  }
  return Status::OK();
}

}  // namespace logq::wal
